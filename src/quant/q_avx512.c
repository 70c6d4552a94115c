/*
 * q_avx512.c — the avx512 kernels of q_gemm. Kernels are being written; until a
 * type has one here, q_gemm falls back to the next slower path.
 */
#include "quant/q_int.h"

bool q_gemm_avx512(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
                 const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
    return false;
}
