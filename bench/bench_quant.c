/*
 * bench_quant.c — speed of the quant kernels (built, not run by the tests).
 *
 *   bench_quant [TYPE...]      (default: the main weight types)
 *
 * Prints, per weight type and CPU path:
 *   pp  — prompt-shaped q_gemm (2048 x 2048 weights, 64 tokens), GFLOP/s on
 *         1 thread (per CPU-second of that thread, so a busy machine does not
 *         hide the kernel's speed) and 2 threads (wall clock), next to a naive baseline (dequantize each row to
 *         f32, then a plain f32 dot per token) on 1 thread;
 *   tg  — decode-shaped q_gemm (one token, ~96 MiB of weights so they come
 *         from memory), GB/s of weights streamed on 2 threads, next to the
 *         read and memcpy bandwidth measured in the same run.
 * Every figure is the median of several repetitions. $JANC_BENCH_PATH=avx512
 * (or avx2, scalar) runs one path only.
 */
#include "base/jc.h"
#include "quant/quant.h"

#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

typedef struct job {
    uint32_t type;
    const uint8_t *W;
    size_t wrb;
    int64_t r0, r1, n;
    const void *X;
    size_t arb;
    int64_t ntok;
    float *out;
    size_t os;
} job;

static void *run_job(void *p)
{
    job *j = p;
    q_gemm(j->type, j->W + (size_t)j->r0 * j->wrb, j->wrb, j->r1 - j->r0, j->n, j->X, j->arb, j->ntok, j->out + j->r0,
           j->os);
    return NULL;
}

/* CPU seconds used by this thread: on a shared machine, time actually spent running. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* q_gemm over rows split across nth threads; returns seconds (CPU seconds when nth is 1). */
static double timed_gemm(int nth, uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const void *X,
                         size_t arb, int64_t ntok, float *out)
{
    job jobs[2];
    pthread_t th[2];
    double t0 = nth == 1 ? thread_cpu() : jc_now();
    for (int i = 0; i < nth; i++) {
        /* split on multiples of 16 rows */
        int64_t per = ((rows / nth) + 15) / 16 * 16;
        int64_t r0 = JC_MIN(rows, per * i), r1 = i == nth - 1 ? rows : JC_MIN(rows, per * (i + 1));
        jobs[i] = (job){type, W, wrb, r0, r1, n, X, arb, ntok, out, (size_t)rows};
        if (i)
            pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    run_job(&jobs[0]);
    for (int i = 1; i < nth; i++)
        pthread_join(th[i], NULL);
    return nth == 1 ? thread_cpu() - t0 : jc_now() - t0;
}

typedef struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bw_job;

static void *bw_read(void *p)
{
    bw_job *j = p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) {
        s0 += j->p[i], s1 += j->p[i + 1], s2 += j->p[i + 2], s3 += j->p[i + 3];
    }
    j->sum = s0 + s1 + s2 + s3;
    return NULL;
}

/* Read bandwidth over size bytes on nth threads, GB/s (median of 5). */
static double read_bw(const uint8_t *buf, size_t size, int nth)
{
    double v[5];
    for (int r = 0; r < 5; r++) {
        bw_job jobs[2];
        pthread_t th[2];
        double t0 = jc_now();
        for (int i = 0; i < nth; i++) {
            jobs[i] = (bw_job){(const uint64_t *)(buf + size / (size_t)nth * (size_t)i), size / (size_t)nth / 8, 0};
            if (i)
                pthread_create(&th[i], NULL, bw_read, &jobs[i]);
        }
        bw_read(&jobs[0]);
        for (int i = 1; i < nth; i++)
            pthread_join(th[i], NULL);
        v[r] = (double)size / (jc_now() - t0) / 1e9;
        if (jobs[0].sum == 42)
            fputc(' ', stderr); /* keeps the loop from being optimised out */
    }
    return median(v, 5);
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) * (2.0 / 16777216.0) - 1.0);
}

static void bench_type(uint32_t type, const uint8_t *big, size_t big_size, double bw2)
{
    const int64_t n = 2048, rows_pp = 2048, ntok = 64;
    uint64_t seed = 1;
    size_t wrb = q_row_bytes(type, n), arb = q_act_row_bytes(type, n);
    float *row = malloc(sizeof(float) * (size_t)n);
    uint8_t *W = malloc(wrb * (size_t)rows_pp);
    for (int64_t r = 0; r < rows_pp; r++) {
        for (int64_t i = 0; i < n; i++)
            row[i] = frand(&seed);
        q_quantize_row(type, row, W + (size_t)r * wrb, n);
    }
    float *xf = malloc(sizeof(float) * (size_t)(n * ntok));
    uint8_t *X = malloc(arb * (size_t)ntok);
    for (int64_t t = 0; t < ntok; t++) {
        for (int64_t i = 0; i < n; i++)
            xf[t * n + i] = frand(&seed);
        q_act_quantize(type, xf + t * n, X + (size_t)t * arb, n);
    }
    float *out = malloc(sizeof(float) * (size_t)(rows_pp * ntok));
    const double flop = 2.0 * (double)n * (double)rows_pp * (double)ntok;

    /* naive baseline: dequantize each row once, f32 dot per token (1 thread) */
    double v[5];
    for (int k = 0; k < 3; k++) {
        double t0 = thread_cpu();
        for (int64_t r = 0; r < rows_pp; r++) {
            q_dequant_row(type, W + (size_t)r * wrb, row, n);
            for (int64_t t = 0; t < ntok; t++) {
                float s = 0;
                for (int64_t i = 0; i < n; i++)
                    s += row[i] * xf[t * n + i];
                out[t * rows_pp + r] = s;
            }
        }
        v[k] = thread_cpu() - t0;
    }
    double naive = flop / median(v, 3) / 1e9;

    /* decode-shaped: W big enough to come from memory */
    int64_t rows_tg = (int64_t)(big_size / wrb);
    size_t tg_bytes = (size_t)rows_tg * wrb;
    float *out_tg = malloc(sizeof(float) * (size_t)rows_tg);

    for (int p = 0; p < Q_PATH_COUNT; p++) {
        const char *only = getenv("JANC_BENCH_PATH");
        if ((only && strcmp(only, q_path_name((enum q_path)p))) || !q_set_path((enum q_path)p))
            continue;
        double pp1, pp2, tg;
        for (int k = 0; k < 3; k++)
            v[k] = timed_gemm(1, type, W, wrb, rows_pp, n, X, arb, ntok, out);
        pp1 = flop / median(v, 3) / 1e9;
        for (int k = 0; k < 3; k++)
            v[k] = timed_gemm(2, type, W, wrb, rows_pp, n, X, arb, ntok, out);
        pp2 = flop / median(v, 3) / 1e9;
        /* big holds random bytes: fine for timing (no NaN traps in integer/FMA code) */
        for (int k = 0; k < 5; k++)
            v[k] = timed_gemm(2, type, big, wrb, rows_tg, n, X, arb, 1, out_tg);
        tg = (double)tg_bytes / median(v, 5) / 1e9;
        for (int k = 0; k < 3; k++)
            v[k] = timed_gemm(1, type, big, wrb, rows_tg, n, X, arb, 1, out_tg);
        double tg1 = (double)tg_bytes / median(v, 3) / 1e9;
        /* the same with weights in cache (256 rows): the kernel's own speed at one token */
        for (int k = 0; k < 5; k++) {
            double t0 = thread_cpu();
            for (int rep = 0; rep < 20; rep++)
                q_gemm(type, W, wrb, 256, n, X, arb, 1, out, 256);
            v[k] = (thread_cpu() - t0) / 20;
        }
        double tgc = (double)(256 * wrb) / median(v, 5) / 1e9;
        printf("%-7s %-7s pp64: %7.1f GFLOP/s 1 thr, %7.1f 2 thr (naive %5.1f, x%.1f) | tg: %5.1f GB/s 1 thr cpu (%5.1f in cache), %5.1f GB/s 2 thr (%3.0f%% of read bw)\n",
               ggml_type_name(type), q_path_name((enum q_path)p), pp1, pp2, naive, pp1 / naive, tg1, tgc, tg, 100.0 * tg / bw2);
        fflush(stdout);
    }
    free(row), free(W), free(xf), free(X), free(out), free(out_tg);
}

int main(int argc, char **argv)
{
    const size_t big_size = (size_t)96 << 20;
    uint8_t *big = malloc(big_size);
    if (!big)
        return 1;
    for (size_t i = 0; i < big_size; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13);
    double bw1 = read_bw(big, big_size, 1), bw2 = read_bw(big, big_size, 2);
    double mc[5];
    uint8_t *dst = malloc(big_size);
    for (int r = 0; r < 5; r++) {
        double t0 = jc_now();
        memcpy(dst, big, big_size);
        mc[r] = (double)big_size / (jc_now() - t0) / 1e9;
    }
    printf("memory: read %.1f GB/s 1 thr, %.1f GB/s 2 thr; memcpy %.1f GB/s (1 thr, bytes copied)\n", bw1, bw2,
           median(mc, 5));
    free(dst);
    static const uint32_t def[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K, GGML_TYPE_Q5_K,
                                   GGML_TYPE_Q3_K, GGML_TYPE_Q2_K, GGML_TYPE_IQ4_XS, GGML_TYPE_F16};
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            int t = ggml_type_from_name(argv[i]);
            if (t < 0 || !q_type_supported((uint32_t)t)) {
                fprintf(stderr, "bench_quant: unknown or unsupported type %s\n", argv[i]);
                return 1;
            }
            bench_type((uint32_t)t, big, big_size, bw2);
        }
    } else {
        for (size_t i = 0; i < JC_ARRAY_LEN(def); i++)
            bench_type(def[i], big, big_size, bw2);
    }
    free(big);
    return 0;
}
