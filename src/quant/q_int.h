/*
 * q_int.h — internals shared by the files of the quant layer: the per-type
 * traits table, the block-level reference quantizers and the kernel entry
 * points of each CPU path. Not for other layers (they use quant.h).
 */
#ifndef QUANT_Q_INT_H
#define QUANT_Q_INT_H

#include "quant/qblock.h"
#include "quant/quant.h"

#include <string.h>

/* Dequantizes nb blocks of a type. */
typedef void (*q_dequant_fn)(const void *src, float *dst, int64_t nb);
/* Quantizes one block from finite floats (x has the block's elements). */
typedef void (*q_quant_block_fn)(const float *x, void *dst);

typedef struct q_traits {
    uint32_t blck;             /* elements per block */
    uint32_t size;             /* bytes per block */
    bool weight;               /* a weight type janc runs (else an activation format) */
    uint32_t act;              /* activation format of a weight type (GGML_TYPE_F32/Q8_0/Q8_K) */
    q_dequant_fn dequant;
    q_quant_block_fn quant;    /* NULL for F32/F16/BF16 (handled directly) */
} q_traits;

/* The traits of a type janc knows (weights and activation formats), or NULL. */
const q_traits *q_traits_get(uint32_t type);

static inline int64_t q_min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static inline int64_t q_max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Round to nearest, ties to even, for |f| < 2^22 (ggml's nearest_int). */
static inline int q_nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* Block quantizers of the K-quants and IQ4 formats (q_kquant.c). */
void q_quant_block_q2_K(const float *x, void *dst);
void q_quant_block_q3_K(const float *x, void *dst);
void q_quant_block_q4_K(const float *x, void *dst);
void q_quant_block_q5_K(const float *x, void *dst);
void q_quant_block_q6_K(const float *x, void *dst);
void q_quant_block_iq4_nl(const float *x, void *dst);
void q_quant_block_iq4_xs(const float *x, void *dst);
void q_quant_block_q8_K(const float *x, void *dst);

/*
 * The gemm kernels of each path: same contract as q_gemm, for one weight
 * type. They return false if the path has no kernel for the type (q_gemm
 * then falls back to the next slower path).
 */
bool q_gemm_scalar(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
                   const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride);
bool q_gemm_avx2(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
                 const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride);
bool q_gemm_avx512(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
                   const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride);

/*
 * A K-quant or IQ4_XS block as integers: w[i] = d * sc[i/16] * q[i] -
 * dmin * m[i/16] (sub-blocks of 32 repeat their scale in two entries).
 */
typedef struct q_kunpacked {
    float d, dmin;
    int8_t sc[16], m[16];
    int8_t q[QK_K];
} q_kunpacked;
void q_unpack_k(uint32_t type, const void *blk, q_kunpacked *u);

/* A 32-element block as integers: w[i] = d * q[i] + m. */
typedef struct q_unpacked32 {
    float d, m;
    int8_t q[32];
} q_unpacked32;
void q_unpack_32(uint32_t type, const void *blk, q_unpacked32 *u);

/*
 * A Q8_0 activation row of n elements: the blocks, then from byte
 * q8_0_tail_at(n) (8-aligned) one q8_0_tail per block.
 */
typedef struct {
    float d;      /* the block's scale */
    int32_t nsum; /* minus the sum of its levels */
} q8_0_tail;

static inline size_t q8_0_tail_at(int64_t n)
{
    return ((size_t)(n / QK8_0) * sizeof(block_q8_0) + 7) & ~(size_t)7;
}

/* SIMD activation quantization into act (Q8_0 or Q8_K), same results as the reference; false if not handled. */
bool q_act_quantize_avx512(uint32_t act, const float *x, void *xq, int64_t n);

/* Scalar dot of one weight row with one activation row (q_dot.c). */
float q_vec_dot_scalar(uint32_t wtype, const void *w, const void *xq, int64_t n);

#endif
