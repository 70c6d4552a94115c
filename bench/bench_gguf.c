/*
 * bench_gguf.c — how long opening a big GGUF model takes: writes a ~1.2 GB
 * TinyLlama-shaped model (32000-token vocabulary, 22 layers, Q8_0 matrices)
 * with janc's writer as a sparse file (tensor data are holes, so it costs no
 * disk and no write time), then times gguf_open + gguf_close over repetitions
 * and prints the median; with --janc PATH it also times `PATH inspect FILE`
 * and `PATH inspect FILE --json` as whole processes. Only the header is
 * parsed, so this measures what `janc inspect` of a 1 GB model costs.
 *
 *   bench_gguf [--janc build/janc] [--reps N] [--dir /tmp] [--keep]
 *   bench_gguf --seeds fuzz/corpus/gguf   (writes the fuzz seed files instead)
 */
#include "gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Adds tensor name of type with ne0 x ne1 (ne1 0: one dimension), data as holes. */
static int add(gguf_writer *w, const char *name, uint32_t type, int64_t ne0, int64_t ne1, uint64_t *total)
{
    int64_t ne[2] = {ne0, ne1};
    uint64_t row;
    jc_err err = {{0}};
    ggml_row_size(type, (uint64_t)ne0, &row);
    uint64_t size = row * (uint64_t)(ne1 ? ne1 : 1);
    *total += size;
    if (gguf_writer_add_tensor(w, name, type, ne1 ? 2 : 1, ne, NULL, size, &err)) {
        fprintf(stderr, "bench_gguf: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int write_big(const char *path, uint64_t *bytes)
{
    enum { N_VOCAB = 32000, N_EMBD = 2048, N_FF = 5632, N_LAYER = 22, N_KV = 256 };
    int rc = -1;
    gguf_writer *w = gguf_writer_new(3);
    char **toks = calloc(N_VOCAB, sizeof *toks);
    float *scores = calloc(N_VOCAB, sizeof *scores);
    int32_t *types = calloc(N_VOCAB, sizeof *types);
    for (int i = 0; i < N_VOCAB; i++) {
        toks[i] = jc_xasprintf("\xe2\x96\x81tok%d", i);
        scores[i] = -(float)i;
        types[i] = i < 3 ? 3 : 1;
    }
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "bench-1b");
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    gguf_writer_set_u32(w, "llama.embedding_length", N_EMBD);
    gguf_writer_set_u32(w, "llama.feed_forward_length", N_FF);
    gguf_writer_set_u32(w, "llama.block_count", N_LAYER);
    gguf_writer_set_u32(w, "llama.attention.head_count", 32);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 4);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, N_VOCAB);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, N_VOCAB);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, N_VOCAB);
    uint64_t total = 0;
    int bad = add(w, "token_embd.weight", GGML_TYPE_Q8_0, N_EMBD, N_VOCAB, &total);
    for (int l = 0; l < N_LAYER && !bad; l++) {
        char n[64];
        static const struct {
            const char *name;
            int64_t ne0, ne1;
        } shapes[] = {{"attn_q", N_EMBD, N_EMBD},  {"attn_k", N_EMBD, N_KV},   {"attn_v", N_EMBD, N_KV},
                      {"attn_output", N_EMBD, N_EMBD}, {"ffn_gate", N_EMBD, N_FF}, {"ffn_down", N_FF, N_EMBD},
                      {"ffn_up", N_EMBD, N_FF}};
        for (size_t k = 0; k < JC_ARRAY_LEN(shapes) && !bad; k++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, shapes[k].name);
            bad = add(w, n, GGML_TYPE_Q8_0, shapes[k].ne0, shapes[k].ne1, &total);
        }
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l);
        bad = bad || add(w, n, GGML_TYPE_F32, N_EMBD, 0, &total);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", l);
        bad = bad || add(w, n, GGML_TYPE_F32, N_EMBD, 0, &total);
    }
    bad = bad || add(w, "output_norm.weight", GGML_TYPE_F32, N_EMBD, 0, &total);
    bad = bad || add(w, "output.weight", GGML_TYPE_Q8_0, N_EMBD, N_VOCAB, &total);
    jc_err err = {{0}};
    if (!bad && gguf_writer_write(w, path, &err))
        fprintf(stderr, "bench_gguf: %s\n", err.msg);
    else if (!bad)
        rc = 0;
    *bytes = total;
    for (int i = 0; i < N_VOCAB; i++)
        free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    gguf_writer_free(w);
    return rc;
}

/* Writes small valid files (each < 4 KB) into dir as fuzz seeds. */
static int write_seeds(const char *dir)
{
    jc_err err = {{0}};
    int rc = 0;
    char path[4096];
    static const float f[64] = {1, -2, 3.5f};
    static const uint8_t q[2 * 34] = {1, 2, 3};
    const char *toks[4] = {"<unk>", "<s>", "\xe2\x96\x81hi", ""};
    int32_t tt[4] = {2, 3, 1, 1};
    int64_t ne_a[2] = {8, 2}, ne_b[1] = {64}, ne_c[2] = {32, 2};
    for (int s = 0; s < 6; s++) {
        gguf_writer *w = gguf_writer_new(s == 1 ? 2 : 3);
        if (s >= 1) {
            gguf_writer_set_str(w, "general.architecture", "llama");
            gguf_writer_set_u8(w, "a.u8", 1);
            gguf_writer_set_i8(w, "a.i8", -1);
            gguf_writer_set_u16(w, "a.u16", 2);
            gguf_writer_set_i16(w, "a.i16", -2);
            gguf_writer_set_u32(w, "a.u32", 3);
            gguf_writer_set_i32(w, "a.i32", -3);
            gguf_writer_set_u64(w, "a.u64", 4);
            gguf_writer_set_i64(w, "a.i64", -4);
            gguf_writer_set_f32(w, "a.f32", 0.5f);
            gguf_writer_set_f64(w, "a.f64", 0.25);
            gguf_writer_set_bool(w, "a.bool", true);
        }
        if (s >= 2) {
            gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
            gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, f, 4);
            gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, tt, 4);
            uint8_t r1[2] = {1, 2};
            gguf_value inner[2] = {{.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_UINT8, .n = 2, .raw = r1}},
                                   {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_STRING, .n = 0}}};
            gguf_value nested = {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_ARRAY, .n = 2, .vals = inner}};
            gguf_writer_set_value(w, "a.nested", &nested);
        }
        if (s >= 3) {
            rc |= gguf_writer_add_tensor(w, "token_embd.weight", GGML_TYPE_F32, 2, ne_a, f, 64, &err);
            rc |= gguf_writer_add_tensor(w, "output_norm.weight", GGML_TYPE_Q8_0, 1, ne_b, q, 68, &err);
        }
        if (s == 4) {
            gguf_writer_set_alignment(w, 64);
            rc |= gguf_writer_add_tensor(w, "blk.0.attn_q.weight", GGML_TYPE_Q4_0, 2, ne_c, q, 36, &err);
        }
        if (s == 5) {
            gguf_writer_set_u16(w, "split.no", 0);
            gguf_writer_set_u16(w, "split.count", 1);
            gguf_writer_set_alignment(w, 8);
        }
        snprintf(path, sizeof path, "%s/seed%d.gguf", dir, s);
        if (rc || gguf_writer_write(w, path, &err)) {
            fprintf(stderr, "bench_gguf: %s: %s\n", path, err.msg);
            rc = -1;
        }
        gguf_writer_free(w);
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *janc = NULL, *dir = "/tmp";
    int reps = 21;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            return write_seeds(argv[i + 1]) ? 1 : 0;
        else if (!strcmp(argv[i], "--janc") && i + 1 < argc)
            janc = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gguf [--janc PATH] [--reps N] [--dir DIR] [--keep] | --seeds DIR\n");
            return 1;
        }
    }
    if (reps < 1 || reps > 1000)
        reps = 21;
    char *path = jc_xasprintf("%s/bench-gguf-%ld.gguf", dir, (long)getpid());
    uint64_t bytes = 0;
    double t0 = jc_now();
    if (write_big(path, &bytes))
        return 1;
    printf("wrote %s: %.2f GB of tensor data (sparse) in %.2f s\n", path, (double)bytes / 1e9, jc_now() - t0);
    double *t = calloc((size_t)reps, sizeof *t);
    int rc = 0;
    for (int i = 0; i < reps; i++) {
        jc_err err = {{0}};
        double a = jc_now();
        gguf_file *f = gguf_open(path, &err);
        if (!f) {
            fprintf(stderr, "bench_gguf: %s\n", err.msg);
            rc = 1;
            break;
        }
        gguf_close(f);
        t[i] = jc_now() - a;
    }
    if (!rc)
        printf("gguf_open+gguf_close: median %.3f ms over %d runs\n", median(t, reps) * 1e3, reps);
    for (int mode = 0; janc && !rc && mode < 2; mode++) {
        char *cmd = jc_xasprintf("'%s' inspect '%s'%s >/dev/null", janc, path, mode ? " --json" : "");
        for (int i = 0; i < reps; i++) {
            double a = jc_now();
            if (system(cmd) != 0) {
                fprintf(stderr, "bench_gguf: '%s' failed\n", cmd);
                rc = 1;
                break;
            }
            t[i] = jc_now() - a;
        }
        if (!rc)
            printf("janc inspect%s (whole process): median %.2f ms over %d runs\n", mode ? " --json" : "",
                   median(t, reps) * 1e3, reps);
        free(cmd);
    }
    if (keep)
        printf("kept %s\n", path);
    else
        unlink(path);
    free(path);
    free(t);
    return rc;
}
