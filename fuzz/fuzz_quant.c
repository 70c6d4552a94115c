/*
 * fuzz_quant.c — libFuzzer target for the quant layer. The input picks a
 * weight type, a shape (rows, blocks per row, tokens) and supplies raw
 * weight blocks (any bits: NaN/inf scales included) and activation floats.
 * Weights and activations sit in buffers of exactly their size, so ASan
 * catches any SIMD read past a row. Every CPU path of q_gemm must agree with
 * the scalar path where the results are finite; dequantization and the
 * reference quantizers must accept anything.
 */
#include "quant/quant.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t types[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q8_0,   GGML_TYPE_Q4_0,
    GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q2_K,   GGML_TYPE_Q3_K,
    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS,
};

/*
 * Types whose blocks carry a min (w = d*s*q - dmin*m): where the min of each
 * block's f16 dmin sits. The kernels sum the two terms apart, so their
 * rounding follows the terms, not the (maybe cancelled) weights: the
 * tolerance below also dequantizes the row with dmin negated, which gives
 * d*s*q + dmin*m, and |a| + |b| <= |a - b| + |a + b| bounds both terms.
 */
static const struct { uint32_t type; uint32_t block, dmin_at; } with_min[] = {
    {GGML_TYPE_Q4_1, 20, 2}, {GGML_TYPE_Q5_1, 24, 2}, {GGML_TYPE_Q2_K, 84, 82},
    {GGML_TYPE_Q4_K, 144, 2}, {GGML_TYPE_Q5_K, 176, 2},
};

/* Dequantizes row (wrb bytes) with every block's dmin negated into out; false if type has no min. */
static bool dequant_min_flipped(uint32_t type, const uint8_t *row, size_t wrb, int64_t n, float *out)
{
    for (size_t k = 0; k < sizeof with_min / sizeof with_min[0]; k++) {
        if (with_min[k].type != type)
            continue;
        uint8_t *c = malloc(wrb);
        memcpy(c, row, wrb);
        for (size_t b = 0; b + with_min[k].block <= wrb; b += with_min[k].block)
            c[b + with_min[k].dmin_at + 1] ^= 0x80; /* the f16's sign bit */
        q_dequant_row(type, c, out, n);
        free(c);
        return true;
    }
    return false;
}

/*
 * Types whose levels carry an offset (Q6_K: q - 32, Q3_K: q - 4, IQ4_XS as
 * kvalue + 128 in the AVX-512 kernels) that some kernels apply as a separate
 * float term, d*s*(q + off)*x - d*s*off*x: with levels at the offset the
 * weights cancel but the terms need not. Zeroing the level bits gives
 * w0 = d*s*(-off) (IQ4_XS: d*s*(-127)) per element, and 3*|w0| bounds
 * the extra magnitude of both terms.
 */
static const struct { uint32_t type; uint32_t block, levels_at, levels_len; } with_offset[] = {
    {GGML_TYPE_Q6_K, 210, 0, 192}, {GGML_TYPE_Q3_K, 110, 0, 96}, {GGML_TYPE_IQ4_XS, 136, 8, 128},
};

/* Dequantizes row with every level zeroed into out; false if type has no offset term. */
static bool dequant_levels_zeroed(uint32_t type, const uint8_t *row, size_t wrb, int64_t n, float *out)
{
    for (size_t k = 0; k < sizeof with_offset / sizeof with_offset[0]; k++) {
        if (with_offset[k].type != type)
            continue;
        uint8_t *c = malloc(wrb);
        memcpy(c, row, wrb);
        for (size_t b = 0; b + with_offset[k].block <= wrb; b += with_offset[k].block)
            memset(c + b + with_offset[k].levels_at, 0, with_offset[k].levels_len);
        q_dequant_row(type, c, out, n);
        free(c);
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint32_t type = types[data[0] % (sizeof types / sizeof types[0])];
    const int64_t rows = 1 + data[1] % 9, nblk = 1 + data[2] % 5, ntok = 1 + data[3] % 7;
    data += 4, size -= 4;
    const int64_t blk = q_block_elems(type) > 1 ? q_block_elems(type) : 16 + (int64_t)(size % 17);
    const int64_t n = blk * nblk;
    const size_t wrb = q_row_bytes(type, n), arb = q_act_row_bytes(type, n);
    uint8_t *W = malloc(wrb * (size_t)rows), *X = malloc(arb * (size_t)ntok);
    float *x = malloc(sizeof(float) * (size_t)n), *deq = malloc(sizeof(float) * (size_t)n);
    float *ref = malloc(sizeof(float) * (size_t)(rows * ntok)), *got = malloc(sizeof(float) * (size_t)(rows * ntok));
    /* weights: the input bytes, repeated */
    for (size_t i = 0; i < wrb * (size_t)rows; i++)
        W[i] = size ? data[i % size] : 0;
    /* activations: floats from the input, NaN/inf included */
    for (int64_t t = 0; t < ntok; t++) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = 0;
            for (int k = 0; k < 4; k++)
                u = (u << 8) | (size ? data[((size_t)(t * n + i) * 4 + (size_t)k) % size] : 0);
            u = size ? u ^ (uint32_t)data[(size_t)(i + t) % size] : u;
            memcpy(&x[i], &u, 4);
            if (!(t & 1) && !isfinite(x[i]))
                x[i] = 0.5f; /* every other token finite, so comparisons happen */
        }
        q_act_quantize(type, x, X + (size_t)t * arb, n);
    }
    /* the reference quantizer takes anything; its blocks dequantize */
    uint8_t *qb = malloc(wrb);
    q_quantize_row(type, x, qb, n);
    q_dequant_row(type, qb, deq, n);
    for (int64_t r = 0; r < rows; r++)
        q_dequant_row(type, W + (size_t)r * wrb, deq, n);

    enum q_path saved = q_get_path();
    q_set_path(Q_PATH_SCALAR);
    q_gemm(type, W, wrb, rows, n, X, arb, ntok, ref, (size_t)rows);
    for (int p = Q_PATH_AVX2; p < Q_PATH_COUNT; p++) {
        if (!q_set_path((enum q_path)p))
            continue;
        q_gemm(type, W, wrb, rows, n, X, arb, ntok, got, (size_t)rows);
        for (int64_t i = 0; i < rows * ntok; i++) {
            if (!isfinite(ref[i]) || !isfinite(got[i]) || fabsf(ref[i]) > 1e30f)
                continue;
            /* the paths sum in different orders: allow float rounding of large sums */
            float tol = 1e-3f * fabsf(ref[i]) + 1e-2f;
            if (!(fabsf(ref[i] - got[i]) <= tol)) {
                /* a relative check alone cannot bound cancellation: recompute magnitude */
                double mag = 0;
                const int64_t r = i % rows, t = i / rows;
                float *wd = malloc(sizeof(float) * (size_t)n), *xd = malloc(sizeof(float) * (size_t)n);
                float *wf = malloc(sizeof(float) * (size_t)n), *w0 = malloc(sizeof(float) * (size_t)n);
                q_dequant_row(type, W + (size_t)r * wrb, wd, n);
                q_dequant_row(q_act_type(type), X + (size_t)t * arb, xd, n);
                bool has_min = dequant_min_flipped(type, W + (size_t)r * wrb, wrb, n, wf);
                bool has_off = dequant_levels_zeroed(type, W + (size_t)r * wrb, wrb, n, w0);
                for (int64_t k = 0; k < n; k++)
                    mag += (fabs((double)wd[k]) + (has_min ? fabs((double)wf[k]) : 0) +
                            (has_off ? 3 * fabs((double)w0[k]) : 0)) *
                           fabs((double)xd[k]);
                free(wd);
                free(wf);
                free(w0);
                free(xd);
                if (isfinite(mag) && mag < 1e30 && fabs((double)ref[i] - got[i]) > 1e-4 * mag + 1e-3)
                    abort();
            }
        }
    }
    q_set_path(saved);
    free(W), free(X), free(x), free(deq), free(ref), free(got), free(qb);
    return 0;
}
