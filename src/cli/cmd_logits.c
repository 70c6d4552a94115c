/*
 * cmd_logits.c — `janc logits MODEL --tokens F --out OUT.f32 [--prompt-len N] [-t T]`:
 * evaluates the whitespace-separated token ids in F, the first N (default:
 * all) as one batch and the rest one at a time against the KV cache (f32),
 * and writes the logits of every token as little-endian float32
 * [n_tokens][n_vocab]. The reference checks (tools/check_logits.py) use it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "cli/cli.h"
#include "engine/llm.h"

static const char usage[] =
    "usage: janc logits MODEL --tokens FILE --out OUT.f32 [--prompt-len N] [-t THREADS]\n"
    "Evaluates the token ids in FILE (whitespace-separated): the first N (default: all)\n"
    "as one batch, the rest one at a time, and writes their logits as little-endian\n"
    "float32 [n_tokens][n_vocab] to OUT.f32. The KV cache is f32.\n";

/* Parses whitespace-separated ids; returns a new array (caller frees) or NULL after printing an error. */
static int32_t *parse_tokens(const char *path, size_t *n_out)
{
    jc_err err = {0};
    size_t len;
    char *text = jc_read_file(path, (size_t)1 << 28, &len, &err);
    if (!text) {
        cli_fail("%s", err.msg);
        return NULL;
    }
    size_t cap = 256, n = 0;
    int32_t *ids = jc_xmalloc(cap * sizeof *ids);
    char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX ||
            (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
            cli_fail("%s: byte %zu: expected a token id", path, (size_t)(p - text));
            free(ids);
            free(text);
            return NULL;
        }
        if (n == cap)
            ids = jc_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(text);
    if (n == 0) {
        cli_fail("%s: no token ids", path);
        free(ids);
        return NULL;
    }
    *n_out = n;
    return ids;
}

int cmd_logits(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *model = NULL, *tokens = NULL, *out = NULL;
    long prompt_len = -1, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--tokens") && has)
            tokens = argv[++i];
        else if (!strcmp(a, "--out") && has)
            out = argv[++i];
        else if (!strcmp(a, "--prompt-len") && has) {
            if (!cli_parse_int(a, argv[++i], 0, INT32_MAX, &prompt_len))
                return 1;
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && has) {
            if (!cli_parse_int(a, argv[++i], 1, 256, &threads))
                return 1;
        } else if (a[0] == '-' && a[1])
            return cli_fail("logits: unknown option or missing value '%s' (see --help)", a);
        else if (!model)
            model = a;
        else
            return cli_fail("logits: unexpected argument '%s'", a);
    }
    if (!model || !tokens || !out)
        return cli_fail("logits: needs MODEL, --tokens FILE and --out FILE (see --help)");

    int rc = 1;
    jc_err err = {0};
    llm_model *m = NULL;
    llm_ctx *c = NULL;
    FILE *f = NULL;
    int32_t *pos = NULL;
    size_t n = 0;
    int32_t *ids = parse_tokens(tokens, &n);
    if (!ids)
        return 1;
    if (prompt_len < 0 || (size_t)prompt_len > n)
        prompt_len = (long)n;
    if (prompt_len == 0)
        prompt_len = 1;
    char *path = cli_model_path(ctx, model, &err);
    if (path)
        m = llm_model_load(path, &err);
    free(path);
    if (!m) {
        cli_fail("%s", err.msg);
        goto out;
    }
    int V = llm_model_n_vocab(m);
    if (n > (size_t)INT32_MAX / 2) {
        cli_fail("%s: too many tokens", tokens);
        goto out;
    }
    llm_ctx_params cp = llm_ctx_default_params();
    cp.n_ctx = (int)n;
    cp.n_batch = (int)prompt_len;
    cp.n_ubatch = JC_MIN((int)prompt_len, 512);
    cp.n_threads = (int)threads;
    cp.kv_f32 = true;
    if (!(c = llm_ctx_new(m, &cp, &err))) {
        cli_fail("%s", err.msg);
        goto out;
    }
    pos = jc_xmalloc(n * sizeof *pos);
    for (size_t i = 0; i < n; i++)
        pos[i] = (int32_t)i;
    bool *want = jc_xmalloc((size_t)prompt_len * sizeof *want);
    for (long i = 0; i < prompt_len; i++)
        want[i] = true;
    if (!(f = fopen(out, "wb"))) {
        cli_fail("%s: cannot create: %s", out, strerror(errno));
        free(want);
        goto out;
    }
    llm_batch b = {.n = (int)prompt_len, .tokens = ids, .pos = pos, .want_logits = want};
    int dr = llm_decode(c, &b, &err);
    free(want);
    if (dr) {
        cli_fail("%s", err.msg);
        goto out;
    }
    for (long i = 0; i < prompt_len; i++)
        if (fwrite(llm_logits(c, (int)i), sizeof(float), (size_t)V, f) != (size_t)V) {
            cli_fail("%s: write failed", out);
            goto out;
        }
    for (size_t i = (size_t)prompt_len; i < n; i++) {
        llm_batch one = {.n = 1, .tokens = ids + i, .pos = pos + i};
        if (llm_decode(c, &one, &err)) {
            cli_fail("token %zu: %s", i, err.msg);
            goto out;
        }
        if (fwrite(llm_logits(c, 0), sizeof(float), (size_t)V, f) != (size_t)V) {
            cli_fail("%s: write failed", out);
            goto out;
        }
    }
    if (fclose(f)) {
        f = NULL;
        cli_fail("%s: write failed", out);
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    llm_ctx_free(c);
    llm_model_free(m);
    free(ids);
    free(pos);
    return rc;
}
