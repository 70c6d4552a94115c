/*
 * fuzz_tmpl.c — libFuzzer target for the Jinja engine (src/tmpl): the input
 * is parsed as a template and rendered with a fixed chat (system, user,
 * assistant with a tool call, tool result, tools, bos/eos), under small
 * limits so that every input finishes fast. Any crash, sanitizer report,
 * hang or leak is a bug; template errors are expected.
 * Seeds: fuzz/corpus/tmpl/ (chat-template-like snippets), dictionary fuzz/tmpl.dict.
 */
#include <stdlib.h>
#include <string.h>

#include "tmpl/chat.h"
#include "tmpl/tmpl.h"

static const char VARS[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi \\u00e9\"},"
    "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get\",\"arguments\":{\"city\":\"Paris\",\"n\":2.5}}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\","
    "\"content\":\"{\\\"t\\\": 21}\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"more\"}]}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get\",\"description\":\"d\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
    "\"add_generation_prompt\":true,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"n\":[1,2,3],\"s\":\"a,b\"}";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static json_t *vars;
    if (!vars)
        vars = json_loads(VARS, 0, NULL);
    if (size > 64 * 1024)
        return 0;
    jc_err err = {0};
    tmpl_limits lim = {.max_output = 1 << 16, .max_steps = 20000, .max_depth = 30};
    tmpl *t = tmpl_parse((const char *)data, size, &err);
    if (!t)
        return 0;
    size_t len = 0;
    char *out = tmpl_render(t, vars, &lim, &len, &err);
    free(out);
    tmpl_free(t);
    /* the chat layer on NUL-free inputs: probes and polyfills over the same template */
    if (size < 4096 && !memchr(data, 0, size)) {
        char *src = malloc(size + 1);
        memcpy(src, data, size);
        src[size] = 0;
        chat_template_src cs = {.jinja = src, .bos_token = "<s>", .eos_token = "</s>"};
        out = chat_apply(&cs, json_object_get(vars, "messages"), json_object_get(vars, "tools"), true, &err);
        free(out);
        free(src);
    }
    return 0;
}
