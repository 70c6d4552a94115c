/*
 * fuzz_tmpl_chat.c — libFuzzer target for the chat layer (src/tmpl/chat.c):
 * the input is JSON, used as the messages (and, when it is an object with
 * "messages"/"tools", as both) of a request, applied through a Jan-style
 * prompt_template, ChatML, and Jinja templates that need the system-message,
 * typed-content and tool-argument adaptations. Errors are expected; crashes,
 * sanitizer reports and leaks are bugs.
 * Seeds: fuzz/corpus/tmpl_chat/.
 */
#include <stdlib.h>
#include <string.h>

#include "tmpl/chat.h"

static const char *const JINJA[] = {
    /* cannot show a system message */
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system') }}{% endif %}"
    "[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
    /* needs typed content and object arguments */
    "{% for m in messages %}{% for p in m.content %}{{ p.text }}{% endfor %}{% for tc in m.tool_calls or [] %}"
    "{{ tc.function.arguments|tojson }}{% endfor %}{% endfor %}{{ tools|tojson if tools }}",
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static chat_tmpl *cts[4];
    if (!cts[0]) {
        jc_err err = {0};
        chat_template_src jan = {.prompt_template = "SYS {system_message} USER {prompt} AI"};
        chat_template_src chatml = {0};
        cts[0] = chat_tmpl_new(&jan, &err);
        cts[1] = chat_tmpl_new(&chatml, &err);
        for (int i = 0; i < 2; i++) {
            chat_template_src j = {.jinja = JINJA[i], .bos_token = "<s>", .eos_token = "</s>"};
            cts[2 + i] = chat_tmpl_new(&j, &err);
        }
    }
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!in)
        return 0;
    const json_t *messages = json_is_object(in) ? json_object_get(in, "messages") : in;
    const json_t *tools = json_is_object(in) ? json_object_get(in, "tools") : NULL;
    for (int i = 0; i < 4; i++) {
        jc_err err = {0};
        char *out = cts[i] ? chat_tmpl_apply(cts[i], messages, tools, size & 1, &err) : NULL;
        free(out);
    }
    json_decref(in);
    return 0;
}
