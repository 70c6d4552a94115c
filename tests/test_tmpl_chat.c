/*
 * test_tmpl_chat.c — the chat layer (src/tmpl/chat.c): every case of
 * ../shared/testdata/templates/chat-template-cases.json rendered through
 * chat_apply() equals llama.cpp's expected_output_jinja_effective (which
 * includes the system-message polyfill); Jan-style prompt_template and the
 * ChatML fallback give the exact prompts documented in chat.h; bad messages
 * are errors, not crashes.
 */
#include <pthread.h>

#include "harness.h"
#include "tmpl/chat.h"

static json_t *conv(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "bad JSON in test: %s\n", e.text);
    return j;
}

/* Proves: the whole shared case file passes, the polyfilled ones included. */
TEST(shared_cases)
{
    const char *dir = test_shared();
    if (!dir)
        exit(77);
    char path[4200];
    snprintf(path, sizeof path, "%s/templates/chat-template-cases.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    REQUIRE(root);
    json_t *conversation = json_object_get(root, "conversation");
    bool add_gen = json_is_true(json_object_get(root, "add_generation_prompt"));
    json_t *cases = json_object_get(root, "cases");
    REQUIRE(json_is_array(cases) && json_array_size(cases) > 30);
    size_t i, ran = 0, passed = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        if (!json_is_true(json_object_get(c, "supported_with_jinja")))
            continue; /* llama.cpp runs these through its built-in templates only */
        json_t *msgs = json_copy(conversation);
        size_t k;
        json_t *extra;
        json_array_foreach(json_object_get(c, "extra_conversation"), k, extra)
            json_array_append_new(msgs, json_pack("{s:O, s:O}", "role", json_array_get(extra, 0), "content",
                                                  json_array_get(extra, 1)));
        chat_template_src src = {
            .jinja = json_string_value(json_object_get(c, "template")),
            .bos_token = json_string_value(json_object_get(c, "bos_token")),
            .eos_token = json_string_value(json_object_get(c, "eos_token")),
        };
        jc_err err = {0};
        char *out = chat_apply(&src, msgs, NULL, add_gen, &err);
        const char *want = json_string_value(json_object_get(c, "expected_output_jinja_effective"));
        ran++;
        if (out && want && !strcmp(out, want))
            passed++;
        else
            CHECKF(0, "case %s: got %s%s%s, want %s", json_string_value(json_object_get(c, "name")),
                   out ? "\"" : "error: ", out ? out : err.msg, out ? "\"" : "", want);
        free(out);
        json_decref(msgs);
    }
    fprintf(stderr, "  chat-template-cases: %zu of %zu passed\n", passed, ran);
    CHECK(ran >= 35);
    json_decref(root);
}

/* Proves: a Jan-style template reproduces itself for system + user, and turns follow Jan's engine. */
TEST(jan_prompt_template)
{
    const char *t = "<|im_start|>system\n{system_message}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n"
                    "<|im_start|>assistant";
    chat_template_src src = {.prompt_template = t, .jinja = "{{ 'jinja must not be used' }}"};
    jc_err err = {0};
    json_t *m = conv("[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}]");
    char *out = chat_apply(&src, m, NULL, true, &err);
    CHECK_STR(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant");
    free(out);
    json_decref(m);

    m = conv("[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]");
    out = chat_apply(&src, m, NULL, false, &err);
    CHECK_STR(out, "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant"
                   "Hello<|im_end|>\n<|im_start|>user\na\nb");
    free(out);
    json_decref(m);

    chat_tmpl *ct = chat_tmpl_new(&src, &err);
    REQUIRE(ct);
    CHECK_STR(chat_kind_name(chat_tmpl_kind(ct)), "prompt_template");
    chat_tmpl_free(ct);
}

/* Proves: with no template at all, ChatML is used. */
TEST(chatml_fallback)
{
    chat_template_src src = {0};
    jc_err err = {0};
    json_t *m = conv("[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\"U\"}]");
    char *out = chat_apply(&src, m, NULL, true, &err);
    CHECK_STR(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    json_decref(m);
}

/* Proves: Jinja templates get tools, bos/eos and extra variables; typed content is flattened for string templates. */
TEST(jinja_vars_and_flattening)
{
    chat_template_src src = {
        .jinja = "{{ bos_token }}{% if tools %}[{{ tools|length }} tools]{% endif %}"
                 "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                 "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}{{ flag }}",
        .bos_token = "<s>",
        .eos_token = "</s>",
    };
    json_t *extra = conv("{\"flag\":\"!\",\"messages\":\"ignored\"}");
    src.extra_vars = extra;
    jc_err err = {0};
    json_t *m = conv("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image_url\"}]}]");
    json_t *tools = conv("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]");
    char *out = chat_apply(&src, m, tools, true, &err);
    CHECK_STR(out, "<s>[1 tools]<user>x<assistant></s>!");
    free(out);
    json_decref(m);
    json_decref(tools);
    json_decref(extra);
}

/* Proves: string tool-call arguments become objects only for templates that show arguments only as objects. */
TEST(tool_call_arguments)
{
    json_t *m = conv("[{\"role\":\"user\",\"content\":\"w?\"},{\"role\":\"assistant\",\"content\":null,"
                     "\"tool_calls\":[{\"id\":\"1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                     "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]}]");
    REQUIRE(m);
    jc_err err = {0};
    /* Qwen 2.5 style: arguments|tojson needs an object */
    chat_template_src obj = {.jinja = "{% for m in messages %}{% for tc in m.tool_calls %}"
                                      "{{ {'name': tc.function.name, 'arguments': tc.function.arguments}|tojson }}"
                                      "{% endfor %}{% endfor %}"};
    char *out = chat_apply(&obj, m, NULL, false, &err);
    CHECK_STR(out, "{\"name\": \"f\", \"arguments\": {\"city\": \"Paris\"}}");
    free(out);
    /* string concatenation wants the string as sent */
    chat_template_src str = {.jinja = "{% for m in messages %}{% for tc in m.tool_calls %}"
                                      "{{ tc.function.name + '(' + tc.function.arguments + ')' }}{% endfor %}{% endfor %}"};
    out = chat_apply(&str, m, NULL, false, &err);
    CHECK_STR(out, "f({\"city\": \"Paris\"})");
    free(out);
    json_decref(m);
}

typedef struct apply_job {
    const chat_tmpl *ct;
    const json_t *msgs;
    const char *want;
    int mismatches;
} apply_job;

static void *apply_many(void *arg)
{
    apply_job *j = arg;
    for (int i = 0; i < 200; i++) {
        jc_err err = {0};
        char *out = chat_tmpl_apply(j->ct, j->msgs, NULL, true, &err);
        if (!out || strcmp(out, j->want))
            j->mismatches++;
        free(out);
    }
    return NULL;
}

/* Proves: one prepared template applied from several threads at once gives the same prompt every time. */
TEST(threads_share_a_template)
{
    chat_template_src src = {
        .jinja = "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                 "<{{ m.role|upper }}>{{ m.content|trim }}{% endfor %}{{ ns.n }}{{ extra }}",
        .extra_vars = NULL,
    };
    json_t *extra = conv("{\"extra\":[1,{\"a\":\"b\"}]}");
    src.extra_vars = extra;
    jc_err err = {0};
    chat_tmpl *ct = chat_tmpl_new(&src, &err);
    REQUIRE(ct);
    json_t *m = conv("[{\"role\":\"system\",\"content\":\" s \"},{\"role\":\"user\",\"content\":\"u\"}]");
    apply_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (apply_job){ct, m, "<SYSTEM>s<USER>u2[1, {'a': 'b'}]", 0};
        REQUIRE(pthread_create(&th[i], NULL, apply_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(jobs[i].mismatches, 0);
    }
    json_decref(m);
    json_decref(extra);
    chat_tmpl_free(ct);
}

/* Proves: malformed messages and template errors come back as errors with a message. */
TEST(errors)
{
    chat_template_src src = {.jinja = "{{ raise_exception('no system role') if messages[0].role == 'system' }}ok"};
    jc_err err = {0};
    json_t *m = conv("[{\"role\":\"user\",\"content\":\"U\"}, {\"content\":\"no role\"}]");
    char *out = chat_apply(&src, m, NULL, true, &err);
    CHECK(out == NULL);
    CHECKF(strstr(err.msg, "messages[1].role") != NULL, "%s", err.msg);
    json_decref(m);

    chat_template_src bad = {.jinja = "{% if %}"};
    m = conv("[]");
    out = chat_apply(&bad, m, NULL, true, &err);
    CHECK(out == NULL);
    CHECKF(strstr(err.msg, "line 1") != NULL, "%s", err.msg);
    json_decref(m);
}

TESTS(T(shared_cases), T(jan_prompt_template), T(chatml_fallback), T(jinja_vars_and_flattening), T(tool_call_arguments), T(threads_share_a_template), T(errors));
TEST_MAIN()
