/*
 * cmd_tokenize.c — `janc tokenize [--add-special] [--parse-special] MODEL (TEXT | --file F)`:
 * prints the token ids of TEXT (or of F's raw bytes, nothing stripped) on one
 * line, separated by single spaces, then a newline. Defaults: no BOS/EOS
 * added, special-token text not parsed. MODEL is a .gguf path, or the id of
 * a model in the models folder (looked up through the store).
 */
#include "base/fs.h"
#include "cli/cli.h"
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOKENIZE_MAX_FILE ((size_t)512 << 20)

static const char usage[] =
    "usage: janc tokenize [--add-special] [--parse-special] MODEL (TEXT | --file F)\n"
    "  Prints the token ids of TEXT, or of the raw bytes of file F, on one line.\n"
    "  MODEL            a .gguf file (its tokenizer.ggml.* keys are used), or a model id\n"
    "  --add-special    add BOS/EOS (CLS/SEP) as the model's metadata says\n"
    "  --parse-special  text of special tokens (e.g. <|im_start|>) becomes their id\n"
    "  --file F         read the text from F instead of the command line\n";

int cmd_tokenize(const cmd_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    bool add_special = false, parse_special = false;
    const char *file = NULL, *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--add-special")) {
            add_special = true;
        } else if (!strcmp(a, "--parse-special")) {
            parse_special = true;
        } else if (!strcmp(a, "--file")) {
            if (i + 1 >= argc)
                return cli_fail("tokenize: --file needs a path");
            file = argv[++i];
        } else if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) {
                if (npos >= 2)
                    return cli_fail("tokenize: unexpected argument '%s'", argv[i]);
                pos[npos++] = argv[i];
            }
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_fail("tokenize: unknown option '%s' (see janc tokenize --help)", a);
        } else {
            if (npos >= 2)
                return cli_fail("tokenize: unexpected argument '%s'", a);
            pos[npos++] = a;
        }
    }
    if (npos == 0)
        return cli_fail("tokenize: no MODEL given (see janc tokenize --help)");
    if (file && npos > 1)
        return cli_fail("tokenize: give TEXT or --file, not both");
    if (!file && npos < 2)
        return cli_fail("tokenize: no TEXT given (or use --file F)");

    int rc = 1;
    jc_err err = {{0}};
    char *data = NULL;
    int32_t *ids = NULL;
    tok_vocab *v = NULL;
    size_t len = 0, n = 0;
    if (file) {
        data = jc_read_file(file, TOKENIZE_MAX_FILE, &len, &err);
        if (!data) {
            cli_fail("tokenize: %s", err.msg);
            goto out;
        }
    }
    char *path = cli_model_path(ctx, pos[0], &err);
    if (path)
        v = tok_load_path(path, &err);
    free(path);
    if (!v) {
        cli_fail("tokenize: %s", err.msg);
        goto out;
    }
    const char *text = file ? data : pos[1];
    if (!file)
        len = strlen(text);
    ids = tok_encode_alloc(v, text, len, add_special, parse_special, &n, &err);
    if (!ids) {
        cli_fail("tokenize: %s", err.msg);
        goto out;
    }
    jc_buf b;
    jc_buf_init(&b, (size_t)-1);
    for (size_t i = 0; i < n; i++)
        jc_buf_printf(&b, i ? " %d" : "%d", (int)ids[i]);
    jc_buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    jc_buf_free(&b);
    if (fflush(stdout) != 0) {
        cli_fail("tokenize: cannot write the output");
        goto out;
    }
    rc = 0;
out:
    free(ids);
    free(data);
    tok_free(v);
    return rc;
}
