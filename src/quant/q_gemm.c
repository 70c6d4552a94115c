/*
 * q_gemm.c — the CPU path choice and q_gemm's dispatch to the kernels of
 * the chosen path (q_avx512.c, q_avx2.c, q_dot.c), falling back to the next
 * slower path when one has no kernel for a type.
 */
#include "quant/q_int.h"

#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/*
 * The process-wide CPU path: the one piece of mutable global state in this
 * layer. -1 until first use; then set once from cpuid/$JANC_CPU, and changed
 * only by q_set_path (tests and benchmarks).
 */
static _Atomic int g_path = -1;

/* CPU features from cpuid, with the OS's register-state support from xgetbv. */
static unsigned cpu_features(void)
{
    enum { F_AVX2 = 1, F_AVX512 = 2 };
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!osxsave || !avx)
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0x6) != 0x6) /* SSE and AVX state */
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    if ((b & (1u << 5)) && fma && f16c)
        f |= F_AVX2;
    const unsigned need512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F, DQ, BW, VL */
    if ((f & F_AVX2) && (b & need512) == need512 && (c & (1u << 11)) /* VNNI */ &&
        (c & (1u << 1)) /* VBMI */ && (c & (1u << 8)) /* GFNI */ && (xlo & 0xE6) == 0xE6)
        f |= F_AVX512;
    return f;
}

bool q_path_available(enum q_path p)
{
    switch (p) {
    case Q_PATH_SCALAR:
        return true;
    case Q_PATH_AVX2:
        return cpu_features() & 1;
    case Q_PATH_AVX512:
        return cpu_features() & 2;
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
    if (rows <= 0 || ntok <= 0 || n <= 0 || !q_type_supported(wtype) || n % q_block_elems(wtype))
        return; /* nothing to do, or a shape the caller should have refused (see quant.h) */
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
