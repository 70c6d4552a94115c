/*
 * cli.c — small helpers shared by the subcommands (see cli.h).
 */
#include "cli/cli.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_model_path(const cmd_ctx *ctx, const char *model, jc_err *err)
{
    if (access(model, F_OK) == 0)
        return jc_xstrdup(model);
    jc_err serr = {0};
    store *s = store_open(ctx->data_dir, &serr);
    if (!s) {
        jc_errf(err, "%s: no such file, and the models folder cannot be read: %s", model, serr.msg);
        return NULL;
    }
    char *path = NULL;
    if (store_model_path(s, model, &path, &serr) != STORE_OK) {
        jc_errf(err, "%s: no such file or model id (%s)", model, serr.msg);
        path = NULL;
    }
    store_close(s);
    return path;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("janc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool cli_parse_int(const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max) {
        cli_fail("%s expects a whole number from %ld to %ld, got '%s'", opt, min, max, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || v != v) {
        cli_fail("%s expects a number, got '%s'", opt, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}
