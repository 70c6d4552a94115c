/*
 * cmd_template.c — `janc template (MODEL | --template FILE) --vars VARS.json`:
 * renders a Jinja chat template (src/tmpl) with exactly the variables of
 * VARS.json and writes the exact bytes to stdout, no newline added. MODEL is
 * a .gguf file whose tokenizer.chat_template is used, or the id of a model
 * in the models folder. A template error exits 1 with its message, which
 * names the template line. strftime_now() honours $SOURCE_DATE_EPOCH.
 */
#include "base/fs.h"
#include "cli/cli.h"
#include "gguf/gguf.h"
#include "tmpl/tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TEMPLATE_FILE ((size_t)16 << 20)

static void usage(FILE *out)
{
    fprintf(out, "usage: janc template (MODEL | --template FILE) --vars VARS.json\n"
                 "Renders a chat template with the variables of VARS.json (a JSON object:\n"
                 "messages, add_generation_prompt, tools, bos_token, eos_token, ...) and\n"
                 "prints the exact bytes. MODEL is a .gguf file (its tokenizer.chat_template)\n"
                 "or a model id. strftime_now() uses $SOURCE_DATE_EPOCH when set (UTC).\n");
}

/* The chat template of a GGUF file, or NULL with err set. Caller frees. */
static char *template_of_gguf(const char *path, jc_err *err)
{
    gguf_file *g = gguf_open(path, err);
    if (!g)
        return NULL;
    char *s = gguf_get_strdup(g, "tokenizer.chat_template");
    if (!s)
        jc_errf(err, "%s has no tokenizer.chat_template", path);
    gguf_close(g);
    return s;
}

int cmd_template(const cmd_ctx *ctx, int argc, char **argv)
{
    const char *tfile = NULL, *vfile = NULL, *model = NULL;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--template") && i + 1 < argc)
            tfile = argv[++i];
        else if (!strcmp(argv[i], "--vars") && i + 1 < argc)
            vfile = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_fail("template: unknown or incomplete option '%s' (try --help)", argv[i]);
        else if (!model)
            model = argv[i];
        else
            return cli_fail("template: unexpected argument '%s'", argv[i]);
    }
    if (!vfile)
        return cli_fail("template: --vars VARS.json is required");
    if (!!tfile == !!model)
        return cli_fail("template: give either MODEL or --template FILE");

    int rc = 1;
    char *src = NULL, *out = NULL;
    size_t src_len = 0;
    json_t *vars = NULL;
    jc_err err = {0};
    if (tfile) {
        src = jc_read_file(tfile, MAX_TEMPLATE_FILE, &src_len, &err);
        if (!src) {
            cli_fail("template: %s", err.msg);
            goto out;
        }
    } else {
        char *path = cli_model_path(ctx, model, &err);
        if (path)
            src = template_of_gguf(path, &err);
        free(path);
        if (!src) {
            cli_fail("template: %s", err.msg);
            goto out;
        }
    }
    json_error_t jerr;
    vars = json_load_file(vfile, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!vars) {
        cli_fail("template: %s:%d:%d: %s", vfile, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(vars)) {
        cli_fail("template: %s must hold a JSON object of variables", vfile);
        goto out;
    }
    size_t len = 0;
    if (!tfile)
        src_len = strlen(src);
    out = tmpl_render_src(src, src_len, vars, NULL, &len, &err);
    if (!out) {
        cli_fail("%s", err.msg);
        goto out;
    }
    if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_fail("template: cannot write the output");
        goto out;
    }
    rc = 0;
out:
    free(src);
    free(out);
    json_decref(vars);
    return rc;
}
