/*
 * bench_tok.c — tokenizer speed: loading a vocabulary (GGUF parse and
 * tok_load, separately) and encoding 1 MB of English-like text, with the
 * Llama 3 (128k byte-level BPE) and Llama 2 (32k SentencePiece) vocabularies
 * from ../shared/testdata/vocab, plus detokenizing the result. One thread;
 * medians of a few runs. Targets (issue 4): encode 1 MB in < 0.2 s (Llama 3)
 * and < 0.3 s (SPM 32k), load a 128k vocabulary in < 50 ms.
 *
 *   bench_tok [VOCAB_DIR] [RUNS]
 */
#include "gguf/gguf.h"
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of this thread: on a shared machine, closer to what the code costs than wall time. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char paragraph[] =
    "The old lighthouse keeper climbed the winding stairs every evening, counting each of the 137 steps "
    "as he went. He'd done it for twenty-three years, ever since the storm of 1998 took the previous "
    "keeper's boat. \"You can't trust the sea,\" he often said to visitors, who rarely listened. "
    "From the lamp room, the coast stretched north toward the fishing villages; to the south, cliffs "
    "fell away into fog. On clear nights he could see the lights of ships - cargo vessels, ferries, "
    "the occasional yacht - moving slowly along the horizon.\n\n"
    "In the morning he wrote up the log: wind speed, visibility, barometric pressure (1013 hPa), and any "
    "vessels sighted. It wasn't required anymore; the automated systems recorded everything. But he "
    "believed that a record kept by hand was a record someone had actually looked at.\n";

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return t[n / 2];
}

static int bench_vocab(const char *path, const char *text, size_t len, int runs)
{
    jc_err err = {{0}};
    double t_open[16], t_load[16], t_enc[16], t_dec[16], c_load[16], c_enc[16];
    tok_vocab *v = NULL;
    size_t n_ids = 0;
    if (runs > 16)
        runs = 16;
    for (int r = 0; r < runs; r++) {
        double t0 = jc_now();
        gguf_file *f = gguf_open(path, &err);
        if (!f) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        double t1 = jc_now(), c1 = cpu_now();
        tok_vocab *vv = tok_load(f, &err);
        double t2 = jc_now();
        c_load[r] = cpu_now() - c1;
        gguf_close(f);
        if (!vv) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        t_open[r] = t1 - t0;
        t_load[r] = t2 - t1;
        if (v)
            tok_free(vv);
        else
            v = vv;
    }
    for (int r = 0; r < runs; r++) {
        double t0 = jc_now(), c0 = cpu_now();
        int32_t *ids = tok_encode_alloc(v, text, len, false, false, &n_ids, &err);
        t_enc[r] = jc_now() - t0;
        c_enc[r] = cpu_now() - c0;
        if (!ids) {
            fprintf(stderr, "%s\n", err.msg);
            tok_free(v);
            return -1;
        }
        jc_buf out;
        jc_buf_init(&out, len * 2 + 16);
        t0 = jc_now();
        int rc = tok_decode(v, ids, n_ids, TOK_DETOK_STRIP_FIRST, &out, &err);
        t_dec[r] = jc_now() - t0;
        if (rc < 0 ||
            (tok_model_kind(v) != TOK_MODEL_WPM && (out.len != len || memcmp(out.data, text, len) != 0)))
            fprintf(stderr, "warning: decode(encode(text)) differs from the text (rc %d)\n", rc);
        jc_buf_free(&out);
        free(ids);
    }
    double mb = (double)len / 1e6;
    double enc = median(t_enc, runs), dec = median(t_dec, runs);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("%-30s n_vocab %6d | gguf_open %5.1f ms | tok_load %5.1f ms (cpu %5.1f) | encode %.2f MB %6.1f ms "
           "(cpu %6.1f, %5.1f MB/s, %zu tokens) | decode %5.1f ms\n",
           name, (int)tok_n_vocab(v), median(t_open, runs) * 1e3, median(t_load, runs) * 1e3,
           median(c_load, runs) * 1e3, mb, enc * 1e3, median(c_enc, runs) * 1e3, mb / enc, n_ids, dec * 1e3);
    tok_free(v);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    char def[4096];
    if (!dir) {
        const char *s = getenv("JANC_SHARED");
        snprintf(def, sizeof def, "%s/testdata/vocab", s ? s : "../shared");
        dir = def;
    }
    if (runs < 1)
        runs = 1;
    size_t len = 1000000, plen = strlen(paragraph);
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        text[i] = paragraph[i % plen];
    text[len] = 0;
    static const char *const vocabs[] = {"ggml-vocab-llama-bpe.gguf", "ggml-vocab-llama-spm.gguf",
                                         "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-llm.gguf",
                                         "ggml-vocab-bert-bge.gguf"};
    int rc = 0;
    for (size_t i = 0; i < JC_ARRAY_LEN(vocabs); i++) {
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, vocabs[i]);
        if (bench_vocab(path, text, len, runs) < 0)
            rc = 1;
    }
    free(text);
    return rc;
}
