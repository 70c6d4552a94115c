/*
 * bench_tmpl.c — how fast chat templates render: each template given on the
 * command line (default: every .jinja in ../shared/testdata/templates/jinja) is
 * parsed once and rendered many times over a 10-message conversation with a
 * tool; prints parse and render time per template and the chat layer's
 * preparation time (its probe renders).
 *   build/bench_tmpl [FILE.jinja ...]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "tmpl/chat.h"
#include "tmpl/tmpl.h"

static json_t *conversation(void)
{
    json_t *msgs = json_array();
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", "You are a helpful assistant."));
    for (int i = 0; i < 4; i++) {
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content",
                                              "Explain how a transformer attends to earlier tokens, briefly."));
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "assistant", "content",
                                              "Each token's query is compared with the keys of earlier tokens; "
                                              "the softmax of those scores weights their values."));
    }
    json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", "And the KV cache?"));
    return msgs;
}

static void bench_one(const char *path, json_t *vars, json_t *msgs)
{
    jc_err err = {0};
    size_t len = 0;
    char *src = jc_read_file(path, 16 << 20, &len, &err);
    if (!src) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    double t0 = jc_now();
    tmpl *t = tmpl_parse(src, len, &err);
    double parse_ms = (jc_now() - t0) * 1e3;
    if (!t) {
        printf("%-55s parse error: %s\n", path, err.msg);
        free(src);
        return;
    }
    int reps = 200, ok = 0;
    size_t out_len = 0;
    t0 = jc_now();
    for (int i = 0; i < reps; i++) {
        char *out = tmpl_render(t, vars, NULL, &out_len, &err);
        ok += out != NULL;
        free(out);
    }
    double render_us = (jc_now() - t0) * 1e6 / reps;
    chat_template_src cs = {.jinja = src, .bos_token = "<s>", .eos_token = "</s>"};
    t0 = jc_now();
    chat_tmpl *ct = chat_tmpl_new(&cs, &err);
    double prep_us = (jc_now() - t0) * 1e6;
    char *p = ct ? chat_tmpl_apply(ct, msgs, NULL, true, &err) : NULL;
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("%-55s parse %6.2f ms  render %7.1f us  %6zu bytes  chat prep %7.1f us%s\n", name, parse_ms, render_us,
           ok ? out_len : 0, prep_us, ok ? "" : "  (template error)");
    free(p);
    chat_tmpl_free(ct);
    tmpl_free(t);
    free(src);
}

int main(int argc, char **argv)
{
    json_t *msgs = conversation();
    json_t *vars = json_pack("{s:O, s:b, s:s, s:s, s:[{s:s, s:{s:s, s:s, s:{s:s}}}]}", "messages", msgs,
                             "add_generation_prompt", 1, "bos_token", "<s>", "eos_token", "</s>", "tools", "type",
                             "function", "function", "name", "get_weather", "description", "Weather of a city",
                             "parameters", "type", "object");
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            bench_one(argv[i], vars, msgs);
    } else {
        const char *shared = getenv("JANC_SHARED");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/testdata/templates/jinja", shared ? shared : "../shared");
        DIR *d = opendir(dir);
        if (!d) {
            fprintf(stderr, "usage: bench_tmpl [FILE.jinja ...] (default: %s, absent)\n", dir);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            if (n > 6 && !strcmp(e->d_name + n - 6, ".jinja")) {
                char path[4400];
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                bench_one(path, vars, msgs);
            }
        }
        closedir(d);
    }
    json_decref(vars);
    json_decref(msgs);
    return 0;
}
