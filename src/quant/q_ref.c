/*
 * q_ref.c — scalar reference code of the quant layer: fp16/bf16
 * conversions, the dequantizer of every block format (bit-exact to ggml's
 * dequantize_row_*: same operations in the same order, no FMA contraction
 * since the build is ISO C), the reference quantizers of the 32-element
 * formats, and the traits table that ties each type to its functions.
 * The K-quant and IQ4 quantizers are in q_kquant.c; kernels in q_dot.c and
 * the per-ISA files.
 */
#include "quant/q_int.h"

#include "base/jc.h"

#include <math.h>

/* ---- fp16 / bf16 ---- */

float q_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    float f;
    if (exp == 0) {
        f = (float)mant * (1.0f / 16777216.0f); /* exact: mant * 2^-24 */
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7F800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t q_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) /* NaN: keep it quiet */
        return sign | 0x7E00 | (uint16_t)((u >> 13) & 0x3FF);
    if (u >= 0x47800000u) /* >= 65536 or inf */
        return sign | 0x7C00;
    if (u < 0x38800000u) { /* below 2^-14: subnormal half, mant = round(|f| * 2^24) */
        float a;
        memcpy(&a, &u, sizeof a);
        return sign | (uint16_t)rintf(a * 16777216.0f);
    }
    uint32_t mant = u & 0x7FFFFF;
    uint32_t h = (((u >> 23) - 112) << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, up to inf: correct */
    return sign | (uint16_t)h;
}

float q_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t q_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7FFFu + ((u >> 16) & 1))) >> 16);
}

#define F16(x) q_f16_to_f32(x)

/* 1/d, or 0 when d is 0 or so small that 1/d overflows. */
static inline float safe_inv(float d)
{
    float id = d ? 1.0f / d : 0.0f;
    return isfinite(id) ? id : 0.0f;
}

/*
 * A level from v = (x - min) * id + 0.5: truncated into [0, hi] as ggml's
 * MIN(hi, (int8_t)v) for the v a finite block gives; NaN (a block whose
 * range overflows a float: inf * 0) and values past hi stay defined.
 */
static inline uint8_t level_up_to(float v, int hi)
{
    return (uint8_t)(v >= 1.0f ? (v < (float)hi ? (int)v : hi) : 0);
}

/* ---- dequantizers (nb blocks each) ---- */

static void dq_f32(const void *src, float *y, int64_t nb)
{
    memcpy(y, src, (size_t)nb * sizeof(float));
}

static void dq_f16(const void *src, float *y, int64_t nb)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        y[i] = q_f16_to_f32(h);
    }
}

static void dq_bf16(const void *src, float *y, int64_t nb)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < nb; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        y[i] = q_bf16_to_f32(h);
    }
}

static void dq_q4_0(const void *src, float *y, int64_t nb)
{
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d);
        for (int j = 0; j < 16; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[j] = x0 * d;
            y[j + 16] = x1 * d;
        }
    }
}

static void dq_q4_1(const void *src, float *y, int64_t nb)
{
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d), m = F16(x[i].m);
        for (int j = 0; j < 16; j++) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[j] = x0 * d + m;
            y[j + 16] = x1 * d + m;
        }
    }
}

static void dq_q5_0(const void *src, float *y, int64_t nb)
{
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < 16; j++) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int32_t x0 = ((x[i].qs[j] & 0x0F) | xh_0) - 16;
            const int32_t x1 = ((x[i].qs[j] >> 4) | xh_1) - 16;
            y[j] = x0 * d;
            y[j + 16] = x1 * d;
        }
    }
}

static void dq_q5_1(const void *src, float *y, int64_t nb)
{
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d), m = F16(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < 16; j++) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            const int x0 = (x[i].qs[j] & 0x0F) | xh_0;
            const int x1 = (x[i].qs[j] >> 4) | xh_1;
            y[j] = x0 * d + m;
            y[j + 16] = x1 * d + m;
        }
    }
}

static void dq_q8_0(const void *src, float *y, int64_t nb)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = x[i].qs[j] * d;
    }
}

static void dq_q8_1(const void *src, float *y, int64_t nb)
{
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = x[i].qs[j] * d;
    }
}

static void dq_iq4_nl(const void *src, float *y, int64_t nb)
{
    const block_iq4_nl *x = src;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = F16(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * q_kvalues_iq4nl[x[i].qs[j] & 0xF];
            y[j + 16] = d * q_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

static void dq_q2_K(const void *src, float *y, int64_t nb)
{
    const block_q2_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const float d = F16(x[i].d), min = F16(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                uint8_t sc = x[i].scales[is++];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
                sc = x[i].scales[is++];
                dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
                shift += 2;
            }
            q += 32;
        }
    }
}

static void dq_q3_K(const void *src, float *y, int64_t nb)
{
    const block_q3_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = F16(x[i].d);
        int8_t scales[16];
        q_q3k_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                float dl = d_all * scales[is++];
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
                dl = d_all * scales[is++];
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
    }
}

static void dq_q4_K(const void *src, float *y, int64_t nb)
{
    const block_q4_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = F16(x[i].d), min = F16(x[i].dmin);
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < QK_K; j += 64) {
            q_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            q_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

static void dq_q5_K(const void *src, float *y, int64_t nb)
{
    const block_q5_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = F16(x[i].d), min = F16(x[i].dmin);
        int is = 0;
        uint8_t sc, m, u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            q_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            q_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

static void dq_q6_K(const void *src, float *y, int64_t nb)
{
    const block_q6_K *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const float d = F16(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; ++l) {
                int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

static void dq_iq4_xs(const void *src, float *y, int64_t nb)
{
    const block_iq4_xs *x = src;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *qs = x[i].qs;
        const float d = F16(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * q_kvalues_iq4nl[qs[j] & 0xf];
                y[j + 16] = dl * q_kvalues_iq4nl[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
    }
}

static void dq_q8_K(const void *src, float *y, int64_t nb)
{
    const block_q8_K *x = src;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; j++)
            *y++ = x[i].d * x[i].qs[j];
}

/* ---- reference quantizers of the 32-element formats (one block each) ---- */

static void qb_q4_0(const float *x, void *dst)
{
    block_q4_0 *y = dst;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8;
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = (uint8_t)JC_MIN(15, (int8_t)(x[j] * id + 8.5f));
        const uint8_t xi1 = (uint8_t)JC_MIN(15, (int8_t)(x[16 + j] * id + 8.5f));
        y->qs[j] = xi0 | (uint8_t)(xi1 << 4);
    }
}

static void qb_q4_1(const float *x, void *dst)
{
    block_q4_1 *y = dst;
    float min = INFINITY, max = -INFINITY;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
    const float d = (max - min) / 15;
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    y->m = q_f32_to_f16(min);
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = level_up_to((x[j] - min) * id + 0.5f, 15);
        const uint8_t xi1 = level_up_to((x[16 + j] - min) * id + 0.5f, 15);
        y->qs[j] = xi0 | (uint8_t)(xi1 << 4);
    }
}

static void qb_q5_0(const float *x, void *dst)
{
    block_q5_0 *y = dst;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    const float d = max / -16;
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = (uint8_t)JC_MIN(31, (int8_t)(x[j] * id + 16.5f));
        const uint8_t xi1 = (uint8_t)JC_MIN(31, (int8_t)(x[16 + j] * id + 16.5f));
        y->qs[j] = (xi0 & 0x0F) | (uint8_t)((xi1 & 0x0F) << 4);
        qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
        qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(y->qh, &qh, sizeof qh);
}

static void qb_q5_1(const float *x, void *dst)
{
    block_q5_1 *y = dst;
    float min = INFINITY, max = -INFINITY;
    for (int j = 0; j < 32; j++) {
        if (x[j] < min)
            min = x[j];
        if (x[j] > max)
            max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    y->m = q_f32_to_f16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const uint8_t xi0 = level_up_to((x[j] - min) * id + 0.5f, 31);
        const uint8_t xi1 = level_up_to((x[16 + j] - min) * id + 0.5f, 31);
        y->qs[j] = (xi0 & 0x0F) | (uint8_t)((xi1 & 0x0F) << 4);
        qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
        qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(y->qh, &qh, sizeof qh);
}

static void qb_q8_0(const float *x, void *dst)
{
    block_q8_0 *y = dst;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = JC_MAX(amax, fabsf(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    for (int j = 0; j < 32; ++j)
        y->qs[j] = (int8_t)roundf(x[j] * id);
}

static void qb_q8_1(const float *x, void *dst)
{
    block_q8_1 *y = dst;
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = JC_MAX(amax, fabsf(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = safe_inv(d);
    y->d = q_f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
        y->qs[j] = (int8_t)roundf(x[j] * id);
        sum += y->qs[j];
    }
    y->s = q_f32_to_f16(sum * d);
}

/* ---- the traits table ---- */

static const q_traits traits[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = {1, 4, true, GGML_TYPE_F32, dq_f32, NULL},
    [GGML_TYPE_F16] = {1, 2, true, GGML_TYPE_F32, dq_f16, NULL},
    [GGML_TYPE_BF16] = {1, 2, true, GGML_TYPE_F32, dq_bf16, NULL},
    [GGML_TYPE_Q4_0] = {32, 18, true, GGML_TYPE_Q8_0, dq_q4_0, qb_q4_0},
    [GGML_TYPE_Q4_1] = {32, 20, true, GGML_TYPE_Q8_0, dq_q4_1, qb_q4_1},
    [GGML_TYPE_Q5_0] = {32, 22, true, GGML_TYPE_Q8_0, dq_q5_0, qb_q5_0},
    [GGML_TYPE_Q5_1] = {32, 24, true, GGML_TYPE_Q8_0, dq_q5_1, qb_q5_1},
    [GGML_TYPE_Q8_0] = {32, 34, true, GGML_TYPE_Q8_0, dq_q8_0, qb_q8_0},
    [GGML_TYPE_Q8_1] = {32, 36, false, 0, dq_q8_1, qb_q8_1},
    [GGML_TYPE_IQ4_NL] = {32, 18, true, GGML_TYPE_Q8_0, dq_iq4_nl, q_quant_block_iq4_nl},
    [GGML_TYPE_Q2_K] = {256, 84, true, GGML_TYPE_Q8_K, dq_q2_K, q_quant_block_q2_K},
    [GGML_TYPE_Q3_K] = {256, 110, true, GGML_TYPE_Q8_K, dq_q3_K, q_quant_block_q3_K},
    [GGML_TYPE_Q4_K] = {256, 144, true, GGML_TYPE_Q8_K, dq_q4_K, q_quant_block_q4_K},
    [GGML_TYPE_Q5_K] = {256, 176, true, GGML_TYPE_Q8_K, dq_q5_K, q_quant_block_q5_K},
    [GGML_TYPE_Q6_K] = {256, 210, true, GGML_TYPE_Q8_K, dq_q6_K, q_quant_block_q6_K},
    [GGML_TYPE_IQ4_XS] = {256, 136, true, GGML_TYPE_Q8_K, dq_iq4_xs, q_quant_block_iq4_xs},
    [GGML_TYPE_Q8_K] = {256, 292, false, 0, dq_q8_K, q_quant_block_q8_K},
};

const q_traits *q_traits_get(uint32_t type)
{
    if (type >= GGML_TYPE_COUNT || !traits[type].dequant)
        return NULL;
    return &traits[type];
}

bool q_type_supported(uint32_t type)
{
    const q_traits *t = q_traits_get(type);
    return t && t->weight;
}

int64_t q_block_elems(uint32_t type)
{
    const q_traits *t = q_traits_get(type);
    return t ? t->blck : 0;
}

size_t q_row_bytes(uint32_t type, int64_t n)
{
    const q_traits *t = q_traits_get(type);
    if (!t || n < 0 || n % t->blck)
        return 0;
    return (size_t)(n / t->blck) * t->size;
}

int q_dequant_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const q_traits *t = q_traits_get(type);
    if (!t || n < 0 || n % t->blck)
        return -1;
    t->dequant(src, dst, n / t->blck);
    return 0;
}

int q_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    const q_traits *t = q_traits_get(type);
    if (!t || n < 0 || n % t->blck)
        return -1;
    if (type == GGML_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return 0;
    }
    if (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) {
        uint8_t *p = dst;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = type == GGML_TYPE_F16 ? q_f32_to_f16(src[i]) : q_f32_to_bf16(src[i]);
            memcpy(p + 2 * i, &h, 2);
        }
        return 0;
    }
    float buf[QK_K];
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / t->blck; b++) {
        const float *x = src + b * t->blck;
        for (uint32_t j = 0; j < t->blck; j++) /* non-finite values quantize as 0 */
            buf[j] = isfinite(x[j]) ? x[j] : 0.0f;
        t->quant(buf, out + b * t->size);
    }
    return 0;
}
