/*
 * cmd_bench.c — `janc bench MODEL [-p 512] [-n 128] [-t T] [-r REPS] [--json]`:
 * prompt-processing and generation speed, like llama-bench. One row per
 * test, labelled pp<N> (N prompt tokens in batches of 512 on an empty
 * context) or tg<N> (N tokens one at a time on an empty context), the first
 * number after the label being tokens/s (mean ± standard deviation over the
 * repetitions), then the peak resident memory (VmHWM). --json prints the
 * same as one JSON object.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/pool.h"
#include "cli/cli.h"
#include "engine/llm.h"

static const char usage[] =
    "usage: janc bench MODEL [-p N] [-n N] [-t THREADS] [-r REPS] [--json]\n"
    "Measures prompt processing (pp: N prompt tokens as batches of 512, default 512)\n"
    "and generation (tg: N tokens one at a time, default 128) in tokens/s, mean ± sd\n"
    "over REPS repetitions (default 5), and the peak resident memory.\n"
    "-p 0 or -n 0 leaves that test out. MODEL is a .gguf file or a model id.\n";

/* Peak resident memory of this process in bytes (VmHWM), 0 if unknown. */
static uint64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

/*
 * One run: n tokens on an empty sequence 0, as batches of up to nb (pp) or
 * one at a time (tg). Returns tokens/s, or -1 after printing an error.
 */
static double run_once(llm_ctx *c, int n, int nb, int n_vocab, uint32_t seed, int32_t *tok, int32_t *pos)
{
    llm_seq_clear(c, 0);
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        tok[i] = (int32_t)((seed >> 8) % (uint32_t)n_vocab);
        pos[i] = i;
    }
    jc_err err = {0};
    double t0 = jc_now();
    for (int i = 0; i < n; i += nb) {
        llm_batch b = {.n = JC_MIN(nb, n - i), .tokens = tok + i, .pos = pos + i};
        if (llm_decode(c, &b, &err)) {
            cli_fail("%s", err.msg);
            return -1;
        }
    }
    double dt = jc_now() - t0;
    return dt > 0 ? n / dt : 0;
}

typedef struct test_result {
    char label[32];
    int n_prompt, n_gen;
    double mean, sd;
    double *samples;
} test_result;

int cmd_bench(const cmd_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *model = NULL;
    long n_pp = 512, n_tg = 128, threads = 0, reps = 5;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-p") && val) {
            if (!cli_parse_int(a, argv[++i], 0, 1 << 20, &n_pp))
                return 1;
        } else if (!strcmp(a, "-n") && val) {
            if (!cli_parse_int(a, argv[++i], 0, 1 << 20, &n_tg))
                return 1;
        } else if (!strcmp(a, "-t") && val) {
            if (!cli_parse_int(a, argv[++i], 1, 256, &threads))
                return 1;
        } else if (!strcmp(a, "-r") && val) {
            if (!cli_parse_int(a, argv[++i], 1, 1000, &reps))
                return 1;
        } else if (!strcmp(a, "--json"))
            as_json = true;
        else if (a[0] == '-' && a[1])
            return cli_fail("bench: unknown option or missing value '%s' (see --help)", a);
        else if (!model)
            model = a;
        else
            return cli_fail("bench: unexpected argument '%s'", a);
    }
    if (!model)
        return cli_fail("bench: needs a MODEL (see --help)");
    if (n_pp == 0 && n_tg == 0)
        return cli_fail("bench: -p 0 and -n 0 leave nothing to measure");

    int rc = 1;
    jc_err err = {0};
    llm_model *m = NULL;
    llm_ctx *c = NULL;
    int32_t *tok = NULL, *pos = NULL;
    test_result res[2] = {0};
    int n_res = 0;
    char *path = cli_model_path(ctx, model, &err);
    if (!path)
        return cli_fail("%s", err.msg);
    if (!(m = llm_model_load(path, &err))) {
        cli_fail("%s", err.msg);
        goto out;
    }
    int n_max = (int)JC_MAX(n_pp, n_tg);
    llm_ctx_params cp = llm_ctx_default_params();
    cp.n_ctx = n_max;
    cp.n_threads = (int)threads;
    if (!(c = llm_ctx_new(m, &cp, &err))) {
        cli_fail("%s", err.msg);
        goto out;
    }
    tok = jc_xmalloc((size_t)n_max * sizeof *tok);
    pos = jc_xmalloc((size_t)n_max * sizeof *pos);
    int V = llm_model_n_vocab(m), nb = llm_ctx_n_batch(c);
    /* warm-up: touches the weights and wakes the threads */
    if (run_once(c, JC_MIN(n_max, 16), nb, V, 1, tok, pos) < 0)
        goto out;
    long ns[2] = {n_pp, n_tg};
    for (int k = 0; k < 2; k++) {
        if (ns[k] == 0)
            continue;
        test_result *r = &res[n_res++];
        snprintf(r->label, sizeof r->label, "%s%ld", k == 0 ? "pp" : "tg", ns[k]);
        r->n_prompt = k == 0 ? (int)ns[k] : 0;
        r->n_gen = k == 1 ? (int)ns[k] : 0;
        r->samples = jc_xcalloc((size_t)reps, sizeof(double));
        double sum = 0, sq = 0;
        for (long i = 0; i < reps; i++) {
            double ts = run_once(c, (int)ns[k], k == 0 ? nb : 1, V, (uint32_t)(i + 2), tok, pos);
            if (ts < 0)
                goto out;
            r->samples[i] = ts;
            sum += ts;
        }
        r->mean = sum / (double)reps;
        for (long i = 0; i < reps; i++)
            sq += (r->samples[i] - r->mean) * (r->samples[i] - r->mean);
        r->sd = reps > 1 ? sqrt(sq / (double)(reps - 1)) : 0;
    }
    uint64_t hwm = peak_rss();
    int nth = threads > 0 ? (int)threads : jc_cpu_count_physical();
    if (as_json) {
        json_t *tests = json_array();
        for (int k = 0; k < n_res; k++) {
            json_t *samples = json_array();
            for (long i = 0; i < reps; i++)
                json_array_append_new(samples, json_real(res[k].samples[i]));
            /* tps/tps_sd as bench/tinyllama.sh reads them; avg_ts/stddev_ts as llama-bench names them */
            json_array_append_new(tests, json_pack("{s:s,s:i,s:i,s:f,s:f,s:f,s:f,s:o}", "test", res[k].label,
                                                   "n_prompt", res[k].n_prompt, "n_gen", res[k].n_gen, "tps",
                                                   res[k].mean, "tps_sd", res[k].sd, "avg_ts", res[k].mean,
                                                   "stddev_ts", res[k].sd, "samples_ts", samples));
        }
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:o,s:I}", "model", llm_model_desc(m), "file", path,
                              "size", (json_int_t)llm_model_size(m), "params", (json_int_t)llm_model_n_params(m),
                              "threads", nth, "repetitions", (int)reps, "results", tests, "peak_rss_bytes",
                              (json_int_t)hwm);
        char *s = json_dumps(o, JSON_INDENT(2));
        puts(s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        printf("| %-24s | %10s | %8s | %7s | %8s | %20s |\n", "model", "size", "params", "threads", "test", "t/s");
        printf("| %.24s | %.10s | %.8s | %.7s | %.8s | %.20s |\n", "------------------------", "----------",
               "--------", "-------", "--------", "--------------------");
        for (int k = 0; k < n_res; k++)
            printf("| %-24s | %6.2f MiB | %6.2f M | %7d | %8s | %10.2f ± %7.2f |\n", llm_model_desc(m),
                   (double)llm_model_size(m) / (1 << 20), (double)llm_model_n_params(m) / 1e6, nth, res[k].label,
                   res[k].mean, res[k].sd);
        printf("\npeak resident memory: %.1f MiB (VmHWM)\n", (double)hwm / (1 << 20));
    }
    rc = 0;
out:
    for (int k = 0; k < 2; k++)
        free(res[k].samples);
    free(tok);
    free(pos);
    llm_ctx_free(c);
    llm_model_free(m);
    free(path);
    return rc;
}
