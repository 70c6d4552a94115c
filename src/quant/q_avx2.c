/*
 * q_avx2.c — the AVX2 + FMA + F16C kernels of q_gemm, for x86-64 CPUs
 * without AVX-512 VNNI. Compiled for that ISA by target attributes; runs
 * only when q_gemm.c chose this path.
 *
 * Same plan as q_avx512.c with 256-bit vectors: a tile of 2 weight rows ×
 * up to 4 tokens; per block, the rows are decoded into 8-bit levels (SIMD
 * for Q4_K, Q5_K, Q6_K, Q8_0 and Q4_0; the scalar unpackers of q_dot.c for
 * the other types) and multiplied with vpmaddubsw: unsigned levels
 * directly, signed levels with the sign trick (|w| times x with w's sign).
 * 16-bit products are scaled and widened with vpmaddwd.
 */
#include "quant/q_int.h"

#include <immintrin.h>

#define Q256 __attribute__((target("avx2,fma,f16c")))
/* Sanitizer builds: plain functions with loops (see q_avx512.c). */
#if defined(__SANITIZE_ADDRESS__)
#define Q_SANITIZE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define Q_SANITIZE 1
#endif
#endif
#ifdef Q_SANITIZE
#define Q256I Q256 static __attribute__((noinline))
#define UNROLL
#else
#define Q256I Q256 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define RT2 2 /* rows per tile */
#define TT2 4 /* tokens per tile */

Q256I float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

Q256I float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* ---------------- float weights ---------------- */

Q256I __m256 load8(uint32_t type, const uint8_t *p, int64_t k)
{
    switch (type) {
    case GGML_TYPE_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * k)));
    case GGML_TYPE_BF16:
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * k))), 16));
    default:
        return _mm256_loadu_ps((const float *)(p + 4 * k));
    }
}

static inline float load1(uint32_t type, const uint8_t *p, int64_t k)
{
    uint16_t h;
    float f;
    switch (type) {
    case GGML_TYPE_F16:
        memcpy(&h, p + 2 * k, 2);
        return q_f16_to_f32(h);
    case GGML_TYPE_BF16:
        memcpy(&h, p + 2 * k, 2);
        return q_bf16_to_f32(h);
    default:
        memcpy(&f, p + 4 * k, 4);
        return f;
    }
}

Q256I void ftile2(const uint32_t type, const uint8_t *const *wr, const float *const *xt, const int nt, int64_t n,
                  float res[RT2][TT2])
{
    __m256 acc[RT2][TT2];
    UNROLL
    for (int r = 0; r < RT2; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 w[RT2];
        UNROLL
        for (int r = 0; r < RT2; r++)
            w[r] = load8(type, wr[r], k);
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m256 x = _mm256_loadu_ps(xt[t] + k);
            UNROLL
            for (int r = 0; r < RT2; r++)
                acc[r][t] = _mm256_fmadd_ps(w[r], x, acc[r][t]);
        }
    }
    for (int r = 0; r < RT2; r++)
        for (int t = 0; t < nt; t++) {
            float s = hsum8(acc[r][t]);
            for (int64_t i = k; i < n; i++)
                s += load1(type, wr[r], i) * xt[t][i];
            res[r][t] = s;
        }
}

/* ---------------- decoded blocks ---------------- */

/* A 256-element block: w = d * sc * lvl - dminm (per 16); lvl unsigned, or signed when sgn. */
typedef struct {
    __m256i q[8];
    __m256i sc[8]; /* per 16-bit lane of maddubs */
    __m256 dm[2];  /* dmin * m for the 16 sub-blocks */
    float d;
    bool sgn;
} kdec2;

Q256I void k_scales(kdec2 *o, const int16_t *s16, const int16_t *m16, float dmin)
{
    UNROLL
    for (int j = 0; j < 8; j++)
        o->sc[j] = _mm256_setr_m128i(_mm_set1_epi16(s16[2 * j]), _mm_set1_epi16(s16[2 * j + 1]));
    __m256 dmv = _mm256_set1_ps(dmin);
    o->dm[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)m16))), dmv);
    o->dm[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(m16 + 8)))), dmv);
}

Q256I void kdecode2(uint32_t type, const uint8_t *blk, kdec2 *o)
{
    int16_t s16[16], m16[16];
    if (type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q5_K) {
        const uint8_t *scales, *qs, *qhp = NULL;
        float dmin;
        if (type == GGML_TYPE_Q4_K) {
            const block_q4_K *b = (const block_q4_K *)blk;
            o->d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs;
        } else {
            const block_q5_K *b = (const block_q5_K *)blk;
            o->d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs, qhp = b->qh;
        }
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            q_get_scale_min_k4(j, scales, &sc, &m);
            s16[2 * j] = s16[2 * j + 1] = sc;
            m16[2 * j] = m16[2 * j + 1] = m;
        }
        const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
        __m256i h = qhp ? _mm256_loadu_si256((const __m256i *)qhp) : _mm256_setzero_si256();
        UNROLL
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (qhp) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
                h = _mm256_srli_epi16(h, 2);
            }
            o->q[2 * c] = lo;
            o->q[2 * c + 1] = hi;
        }
        o->sgn = false;
        k_scales(o, s16, m16, dmin);
    } else if (type == GGML_TYPE_Q6_K) {
        const block_q6_K *b = (const block_q6_K *)blk;
        const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
            o->q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
            o->q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
            o->q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
            o->q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
        }
        for (int s = 0; s < 16; s++) {
            s16[s] = b->scales[s];
            m16[s] = (int16_t)(32 * b->scales[s]); /* levels are u - 32 */
        }
        o->d = h2f(b->d);
        o->sgn = false;
        k_scales(o, s16, m16, o->d);
    } else { /* Q2_K, Q3_K, IQ4_XS: the scalar unpacker, signed levels */
        q_kunpacked u;
        q_unpack_k(type, blk, &u);
        for (int j = 0; j < 8; j++)
            o->q[j] = _mm256_loadu_si256((const __m256i *)(u.q + 32 * j));
        for (int s = 0; s < 16; s++) {
            s16[s] = u.sc[s];
            m16[s] = u.m[s];
        }
        o->d = u.d;
        o->sgn = true;
        k_scales(o, s16, m16, u.dmin);
    }
}

/* 32 signed levels, scale and min of a 32-element block. */
typedef struct {
    __m256i q;
    float d, m;
} pdec2;

Q256I void pdecode2(uint32_t type, const uint8_t *blk, pdec2 *o)
{
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)blk;
        o->q = _mm256_loadu_si256((const __m256i *)b->qs);
        o->d = h2f(b->d), o->m = 0;
    } else if (type == GGML_TYPE_Q4_0) {
        const block_q4_0 *b = (const block_q4_0 *)blk;
        __m128i q = _mm_loadu_si128((const __m128i *)b->qs);
        __m256i v = _mm256_setr_m128i(q, _mm_srli_epi16(q, 4));
        o->q = _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(0xF)), _mm256_set1_epi8(8));
        o->d = h2f(b->d), o->m = 0;
    } else {
        q_unpacked32 u;
        q_unpack_32(type, blk, &u);
        o->q = _mm256_loadu_si256((const __m256i *)u.q);
        o->d = u.d, o->m = u.m;
    }
}

/* ---------------- tiles ---------------- */

/*
 * Decode streams the weights from memory: with 1-2 tokens the tiles
 * prefetch, into L2, each block of the row tile about 16 KB ahead (pf bytes
 * past the block; 0 past the rows of the call). See q_avx512.c's pf_offset.
 */
static inline size_t pf_offset2(int64_t r0, int64_t rows, size_t wrb, int64_t ntok)
{
    const size_t tile = RT2 * wrb;
    const int64_t k = (int64_t)(((16 << 10) + tile - 1) / tile);
    return ntok <= 2 && r0 + k * RT2 < rows ? (size_t)k * tile : 0;
}

Q256I void pf_block(const uint8_t *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)p + o, _MM_HINT_T1);
    _mm_prefetch((const char *)p + bytes - 1, _MM_HINT_T1);
}

Q256I void ktile2(const uint32_t type, const uint8_t *const *wr, size_t pf, size_t bsz, int64_t nbt,
                  const block_q8_K *const *xt, const int nt, float res[RT2][TT2])
{
    __m256 acc[RT2][TT2];
    UNROLL
    for (int r = 0; r < RT2; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nbt; b++) {
        kdec2 k[RT2];
        UNROLL
        for (int r = 0; r < RT2; r++) {
            if (pf)
                pf_block(wr[r] + pf + (size_t)b * bsz, bsz);
            kdecode2(type, wr[r] + (size_t)b * bsz, &k[r]);
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *x = xt[t] + b;
            const __m256 dxv = _mm256_set1_ps(x->d);
            const __m128i bs0 = _mm_loadu_si128((const __m128i *)x->bsums);
            const __m128i bs1 = _mm_loadu_si128((const __m128i *)(x->bsums + 8));
            const __m256 b0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(bs0)), dxv);
            const __m256 b1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(bs1)), dxv);
            UNROLL
            for (int r = 0; r < RT2; r++) {
                __m256i is = _mm256_setzero_si256();
                UNROLL
                for (int j = 0; j < 8; j++) {
                    __m256i xv = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
                    __m256i p = k[r].sgn ? _mm256_maddubs_epi16(_mm256_sign_epi8(k[r].q[j], k[r].q[j]),
                                                                _mm256_sign_epi8(xv, k[r].q[j]))
                                         : _mm256_maddubs_epi16(k[r].q[j], xv);
                    is = _mm256_add_epi32(is, _mm256_madd_epi16(p, k[r].sc[j]));
                }
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(k[r].d * x->d), acc[r][t]);
                acc[r][t] = _mm256_fnmadd_ps(k[r].dm[0], b0, acc[r][t]);
                acc[r][t] = _mm256_fnmadd_ps(k[r].dm[1], b1, acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT2; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = hsum8(acc[r][t]);
}

Q256I void ptile2(const uint32_t type, const uint8_t *const *wr, size_t pf, size_t bsz, int64_t nbt,
                  const block_q8_0 *const *xt, const int nt, float res[RT2][TT2])
{
    __m256 acc[RT2][TT2];
    UNROLL
    for (int r = 0; r < RT2; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nbt; b++) {
        pdec2 k[RT2];
        __m256i aq[RT2];
        UNROLL
        for (int r = 0; r < RT2; r++) {
            if (pf)
                pf_block(wr[r] + pf + (size_t)b * bsz, bsz);
            pdecode2(type, wr[r] + (size_t)b * bsz, &k[r]);
            aq[r] = _mm256_sign_epi8(k[r].q, k[r].q);
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *x = xt[t] + b;
            const __m256i xv = _mm256_loadu_si256((const __m256i *)x->qs);
            const float dx = h2f(x->d);
            __m256 xs = _mm256_setzero_ps();
            if (type == GGML_TYPE_Q4_1 || type == GGML_TYPE_Q5_1)
                xs = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xv), ones16));
            UNROLL
            for (int r = 0; r < RT2; r++) {
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aq[r], _mm256_sign_epi8(xv, k[r].q)), ones16);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(k[r].d * dx), acc[r][t]);
                if (type == GGML_TYPE_Q4_1 || type == GGML_TYPE_Q5_1)
                    acc[r][t] = _mm256_fmadd_ps(xs, _mm256_set1_ps(k[r].m * dx), acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT2; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = hsum8(acc[r][t]);
}

/* ---------------- drivers ---------------- */

#define TILE_SWITCH(call)                                                                                     \
    switch (tt) {                                                                                             \
    case 1: call(1); break;                                                                                   \
    case 2: call(2); break;                                                                                   \
    case 3: call(3); break;                                                                                   \
    default: call(4); break;                                                                                  \
    }

Q256I void gemm2(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                 size_t arb, int64_t ntok, float *out, size_t os)
{
    const q_traits *tr = q_traits_get(type);
    const size_t bsz = tr->size;
    const int64_t nbt = n / tr->blck;
    /* the family as a constant of the (constant) type, so each instantiation has one tile kind */
    const int fam = (type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16) ? 0
                    : (type == GGML_TYPE_Q2_K || type == GGML_TYPE_Q3_K || type == GGML_TYPE_Q4_K ||
                       type == GGML_TYPE_Q5_K || type == GGML_TYPE_Q6_K || type == GGML_TYPE_IQ4_XS)
                        ? 1
                        : 2;
    for (int64_t r0 = 0; r0 < rows; r0 += RT2) {
        const int rr = (int)q_min64(RT2, rows - r0);
        const uint8_t *wr[RT2];
        for (int r = 0; r < RT2; r++)
            wr[r] = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
        const size_t pf = pf_offset2(r0, rows, wrb, ntok);
        for (int64_t t0 = 0; t0 < ntok; t0 += TT2) {
            const int tt = (int)q_min64(TT2, ntok - t0);
            const uint8_t *xt[TT2];
            for (int t = 0; t < TT2; t++)
                xt[t] = X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb;
            float res[RT2][TT2];
            if (fam == 0) {
#define CALL(k) ftile2(type, wr, (const float *const *)xt, k, n, res)
                TILE_SWITCH(CALL)
#undef CALL
            } else if (fam == 1) {
#define CALL(k) ktile2(type, wr, pf, bsz, nbt, (const block_q8_K *const *)xt, k, res)
                TILE_SWITCH(CALL)
#undef CALL
            } else {
#define CALL(k) ptile2(type, wr, pf, bsz, nbt, (const block_q8_0 *const *)xt, k, res)
                TILE_SWITCH(CALL)
#undef CALL
            }
            for (int t = 0; t < tt; t++)
                for (int r = 0; r < rr; r++)
                    out[(size_t)(t0 + t) * os + (size_t)(r0 + r)] = res[r][t];
        }
    }
}

Q256 bool q_gemm_avx2(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n, const void *xq,
                      size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
#define CASE(T)                                                                                               \
    case T:                                                                                                   \
        gemm2(T, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);                          \
        return true;
    switch (wtype) {
        CASE(GGML_TYPE_F32)
        CASE(GGML_TYPE_F16)
        CASE(GGML_TYPE_BF16)
        CASE(GGML_TYPE_Q8_0)
        CASE(GGML_TYPE_Q4_0)
        CASE(GGML_TYPE_Q4_1)
        CASE(GGML_TYPE_Q5_0)
        CASE(GGML_TYPE_Q5_1)
        CASE(GGML_TYPE_IQ4_NL)
        CASE(GGML_TYPE_Q2_K)
        CASE(GGML_TYPE_Q3_K)
        CASE(GGML_TYPE_Q4_K)
        CASE(GGML_TYPE_Q5_K)
        CASE(GGML_TYPE_Q6_K)
        CASE(GGML_TYPE_IQ4_XS)
    default:
        return false;
    }
#undef CASE
}
