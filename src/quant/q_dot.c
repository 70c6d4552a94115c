/*
 * q_dot.c — the scalar path: activation quantization, block unpacking into
 * integer levels, and the scalar dot/gemm kernels every SIMD path is tested
 * against (and falls back to for shapes or types it does not cover).
 *
 * Arithmetic follows ggml's vec_dot_*: integer dot products per block (or
 * sub-block) of weight levels with int8 activations, scaled in float by
 * the weight and activation scales. The int8 activation quantization is
 * the only approximation beyond the weight format itself.
 */
#include "quant/q_int.h"

#include "base/jc.h"

uint32_t q_act_type(uint32_t wtype)
{
    const q_traits *t = q_traits_get(wtype);
    return t && t->weight ? t->act : 0;
}

size_t q_act_row_bytes(uint32_t wtype, int64_t n)
{
    const q_traits *t = q_traits_get(wtype);
    if (!t || !t->weight)
        return 0;
    const size_t rb = q_row_bytes(t->act, n);
    /* Q8_0 rows carry each block's scale and level sum after the blocks (see quant.h) */
    return t->act == GGML_TYPE_Q8_0 && rb ? q8_0_tail_at(n) + (size_t)(n / QK8_0) * sizeof(q8_0_tail) : rb;
}

/* The tail of a Q8_0 activation row: per block, its scale and its negated level sum. */
static void q8_0_sums(void *xq, int64_t n)
{
    const block_q8_0 *b = xq;
    q8_0_tail *tail = (q8_0_tail *)((uint8_t *)xq + q8_0_tail_at(n));
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int32_t sum = 0;
        for (int k = 0; k < QK8_0; k++)
            sum += b[i].qs[k];
        tail[i].d = q_f16_to_f32(b[i].d);
        tail[i].nsum = -sum;
    }
}

void q_act_quantize(uint32_t wtype, const float *x, void *xq, int64_t n)
{
    if (!q_type_supported(wtype))
        return;
    const uint32_t act = q_act_type(wtype);
    const bool simd = act != GGML_TYPE_F32 && q_get_path() == Q_PATH_AVX512 && n > 0 &&
                      n % q_block_elems(act) == 0 && q_act_quantize_avx512(act, x, xq, n);
    if (simd) /* (the SIMD quantizers make the reference's bytes, and the Q8_0 tail: tested) */
        return;
    q_quantize_row(act, x, xq, n);
    if (act == GGML_TYPE_Q8_0 && n > 0 && n % QK8_0 == 0)
        q8_0_sums(xq, n);
}

void q_unpack_k(uint32_t type, const void *blk, q_kunpacked *u)
{
    switch (type) {
    case GGML_TYPE_Q2_K: {
        const block_q2_K *b = blk;
        u->d = q_f16_to_f32(b->d);
        u->dmin = q_f16_to_f32(b->dmin);
        for (int s = 0; s < 16; s++) {
            u->sc[s] = b->scales[s] & 0xF;
            u->m[s] = b->scales[s] >> 4;
        }
        /* element 128*h + 32*k + l (l < 32) is bits 2k.. of qs[32h + l] */
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++)
                    u->q[128 * h + 32 * k + l] = (int8_t)((b->qs[32 * h + l] >> (2 * k)) & 3);
        break;
    }
    case GGML_TYPE_Q3_K: {
        const block_q3_K *b = blk;
        u->d = q_f16_to_f32(b->d);
        u->dmin = 0;
        q_q3k_scales(b->scales, u->sc);
        memset(u->m, 0, sizeof u->m);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + 32 * k + l;
                    int lo = (b->qs[32 * h + l] >> (2 * k)) & 3;
                    int hi = (b->hmask[l] >> (4 * h + k)) & 1;
                    u->q[e] = (int8_t)(lo - (hi ? 0 : 4));
                }
        break;
    }
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: {
        const uint8_t *scales, *qs, *qh = NULL;
        uint16_t d, dmin;
        if (type == GGML_TYPE_Q4_K) {
            const block_q4_K *b = blk;
            d = b->d, dmin = b->dmin, scales = b->scales, qs = b->qs;
        } else {
            const block_q5_K *b = blk;
            d = b->d, dmin = b->dmin, scales = b->scales, qs = b->qs, qh = b->qh;
        }
        u->d = q_f16_to_f32(d);
        u->dmin = q_f16_to_f32(dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            q_get_scale_min_k4(j, scales, &sc, &m);
            u->sc[2 * j] = u->sc[2 * j + 1] = (int8_t)sc;
            u->m[2 * j] = u->m[2 * j + 1] = (int8_t)m;
        }
        for (int c = 0; c < 4; c++) /* 64-element chunks: low nibbles, then high */
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
                if (qh) {
                    lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                    hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                u->q[64 * c + l] = (int8_t)lo;
                u->q[64 * c + 32 + l] = (int8_t)hi;
            }
        break;
    }
    case GGML_TYPE_Q6_K: {
        const block_q6_K *b = blk;
        u->d = q_f16_to_f32(b->d);
        u->dmin = 0;
        memcpy(u->sc, b->scales, 16);
        memset(u->m, 0, sizeof u->m);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
            int8_t *q = u->q + 128 * h;
            for (int l = 0; l < 32; l++) {
                q[l + 0] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                q[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                q[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        break;
    }
    case GGML_TYPE_IQ4_XS: {
        const block_iq4_xs *b = blk;
        int8_t s8[8];
        u->d = q_f16_to_f32(b->d);
        u->dmin = 0;
        q_iq4xs_scales(b, s8);
        for (int j = 0; j < 8; j++)
            u->sc[2 * j] = u->sc[2 * j + 1] = s8[j];
        memset(u->m, 0, sizeof u->m);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 16; l++) {
                u->q[32 * j + l] = q_kvalues_iq4nl[b->qs[16 * j + l] & 0xF];
                u->q[32 * j + 16 + l] = q_kvalues_iq4nl[b->qs[16 * j + l] >> 4];
            }
        break;
    }
    default:
        memset(u, 0, sizeof *u);
    }
}

void q_unpack_32(uint32_t type, const void *blk, q_unpacked32 *u)
{
    u->m = 0;
    switch (type) {
    case GGML_TYPE_Q4_0: {
        const block_q4_0 *b = blk;
        u->d = q_f16_to_f32(b->d);
        for (int j = 0; j < 16; j++) {
            u->q[j] = (int8_t)((b->qs[j] & 0xF) - 8);
            u->q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
        }
        break;
    }
    case GGML_TYPE_Q4_1: {
        const block_q4_1 *b = blk;
        u->d = q_f16_to_f32(b->d);
        u->m = q_f16_to_f32(b->m);
        for (int j = 0; j < 16; j++) {
            u->q[j] = (int8_t)(b->qs[j] & 0xF);
            u->q[j + 16] = (int8_t)(b->qs[j] >> 4);
        }
        break;
    }
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1: {
        const uint8_t *qs, *qhp;
        int off = 16;
        if (type == GGML_TYPE_Q5_0) {
            const block_q5_0 *b = blk;
            u->d = q_f16_to_f32(b->d);
            qs = b->qs, qhp = b->qh;
        } else {
            const block_q5_1 *b = blk;
            u->d = q_f16_to_f32(b->d);
            u->m = q_f16_to_f32(b->m);
            qs = b->qs, qhp = b->qh, off = 0;
        }
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        for (int j = 0; j < 16; j++) {
            u->q[j] = (int8_t)(((qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - off);
            u->q[j + 16] = (int8_t)(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - off);
        }
        break;
    }
    case GGML_TYPE_Q8_0: {
        const block_q8_0 *b = blk;
        u->d = q_f16_to_f32(b->d);
        memcpy(u->q, b->qs, 32);
        break;
    }
    case GGML_TYPE_IQ4_NL: {
        const block_iq4_nl *b = blk;
        u->d = q_f16_to_f32(b->d);
        for (int j = 0; j < 16; j++) {
            u->q[j] = q_kvalues_iq4nl[b->qs[j] & 0xF];
            u->q[j + 16] = q_kvalues_iq4nl[b->qs[j] >> 4];
        }
        break;
    }
    default:
        memset(u, 0, sizeof *u);
    }
}

/* Reads the i-th float weight of a F32/F16/BF16 row. */
static inline float wf(uint32_t type, const uint8_t *w, int64_t i)
{
    uint16_t h;
    switch (type) {
    case GGML_TYPE_F16:
        memcpy(&h, w + 2 * i, 2);
        return q_f16_to_f32(h);
    case GGML_TYPE_BF16:
        memcpy(&h, w + 2 * i, 2);
        return q_bf16_to_f32(h);
    default: {
        float f;
        memcpy(&f, w + 4 * i, 4);
        return f;
    }
    }
}

float q_vec_dot_scalar(uint32_t wtype, const void *w, const void *xq, int64_t n)
{
    const q_traits *t = q_traits_get(wtype);
    if (!t || !t->weight)
        return 0.0f;
    if (t->act == GGML_TYPE_F32) {
        const float *x = xq;
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++)
            sum += wf(wtype, w, i) * x[i];
        return sum;
    }
    const uint8_t *wb = w;
    const int64_t nb = n / t->blck;
    float sum = 0.0f;
    if (t->act == GGML_TYPE_Q8_0) {
        const block_q8_0 *x = xq;
        q_unpacked32 u;
        for (int64_t b = 0; b < nb; b++) {
            q_unpack_32(wtype, wb + b * t->size, &u);
            int isum = 0, xsum = 0;
            for (int j = 0; j < 32; j++) {
                isum += u.q[j] * x[b].qs[j];
                xsum += x[b].qs[j];
            }
            const float dx = q_f16_to_f32(x[b].d);
            sum += (u.d * dx) * (float)isum + (u.m * dx) * (float)xsum;
        }
        return sum;
    }
    const block_q8_K *x = xq;
    q_kunpacked u;
    for (int64_t b = 0; b < nb; b++) {
        q_unpack_k(wtype, wb + b * t->size, &u);
        int isum = 0, msum = 0;
        for (int s = 0; s < 16; s++) {
            int ss = 0;
            for (int l = 0; l < 16; l++)
                ss += u.q[16 * s + l] * x[b].qs[16 * s + l];
            isum += u.sc[s] * ss;
            msum += u.m[s] * x[b].bsums[s];
        }
        sum += x[b].d * (u.d * (float)isum - u.dmin * (float)msum);
    }
    return sum;
}

bool q_gemm_scalar(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
                   const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
    const uint8_t *wp = W, *xp = xq;
    for (int64_t t = 0; t < ntok; t++)
        for (int64_t r = 0; r < rows; r++)
            out[(size_t)t * out_stride + (size_t)r] =
                q_vec_dot_scalar(wtype, wp + (size_t)r * w_row_bytes, xp + (size_t)t * act_row_bytes, n);
    return true;
}
