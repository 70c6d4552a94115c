/*
 * q_gemm.c — the CPU path choice and q_gemm's dispatch to the kernels of
 * the chosen path (q_avx512.c, q_avx2.c, q_dot.c), falling back to the next
 * slower path when one has no kernel for a type.
 */
#include "quant/q_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/*
 * The process-wide CPU path: the one piece of mutable global state in this
 * layer. -1 until first use; then set once from cpuid/$JANC_CPU, and changed
 * only by q_set_path (tests and benchmarks).
 */
static _Atomic int g_path = -1;

bool q_path_available(enum q_path p)
{
    switch (p) {
    case Q_PATH_SCALAR:
        return true;
    case Q_PATH_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case Q_PATH_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
               q_path_available(Q_PATH_AVX2);
    default:
        return false;
    }
}

const char *q_path_name(enum q_path p)
{
    switch (p) {
    case Q_PATH_SCALAR:
        return "scalar";
    case Q_PATH_AVX2:
        return "avx2";
    case Q_PATH_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

static enum q_path detect(void)
{
    enum q_path best = q_path_available(Q_PATH_AVX512) ? Q_PATH_AVX512
                       : q_path_available(Q_PATH_AVX2) ? Q_PATH_AVX2
                                                       : Q_PATH_SCALAR;
    const char *env = getenv("JANC_CPU");
    if (env && *env) {
        for (int p = 0; p < Q_PATH_COUNT; p++)
            if (!strcmp(env, q_path_name((enum q_path)p)) && q_path_available((enum q_path)p) &&
                p <= (int)best)
                return (enum q_path)p;
    }
    return best;
}

enum q_path q_get_path(void)
{
    int p = atomic_load_explicit(&g_path, memory_order_relaxed);
    if (p < 0) {
        p = (int)detect();
        atomic_store_explicit(&g_path, p, memory_order_relaxed);
    }
    return (enum q_path)p;
}

bool q_set_path(enum q_path p)
{
    if ((int)p < 0 || p >= Q_PATH_COUNT || !q_path_available(p))
        return false;
    atomic_store_explicit(&g_path, (int)p, memory_order_relaxed);
    return true;
}

void q_gemm(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
            const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
    if (rows <= 0 || ntok <= 0 || n <= 0 || !q_type_supported(wtype))
        return;
    switch (q_get_path()) {
    case Q_PATH_AVX512:
        if (q_gemm_avx512(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride))
            return;
        /* fall through */
    case Q_PATH_AVX2:
        if (q_gemm_avx2(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride))
            return;
        /* fall through */
    default:
        q_gemm_scalar(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
    }
}
