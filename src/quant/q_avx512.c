/*
 * q_avx512.c — the AVX-512 (F/BW/VL/VNNI/DQ) kernels of q_gemm. Every
 * function here is compiled for that ISA by a target attribute (the build
 * has no -march), and only runs when q_gemm.c chose this path from cpuid.
 *
 * Structure, for every weight type:
 *   - weights are decoded a tile of 4 rows × a chunk of blocks at a time
 *     into a stack buffer of unsigned 8-bit levels plus scales (once per
 *     row and block, whatever the number of tokens);
 *   - each 4-row × up-to-4-token tile then runs integer dot products:
 *     vpdpbusd (u8 weights × s8 activations, 32-element block types) or
 *     vpmaddubsw + vpdpwssd (K-quants: the 16-bit products are multiplied by
 *     the sub-block scales and summed into 32 bits in one instruction), and
 *     one float multiply-add per block and output;
 *   - unsigned levels are the format's levels plus an offset (Q4_0: +8,
 *     Q8_0/IQ4: +128, Q6_K: +32, ...); the offset times the activation sums
 *     (from Q8_K's bsums, or computed per block for Q8_0) is subtracted.
 * Float weights (F32/F16/BF16) use an FMA tile of 4 rows × 4 tokens.
 * Output partial sums accumulate in out[] across chunks of blocks.
 */
#include "quant/q_int.h"

#include <immintrin.h>

#define Q512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,avx2,fma,f16c")))
#define Q512I Q512 static inline __attribute__((always_inline))

/* Full unrolling of the small tile loops keeps the accumulators in registers. */
#define UNROLL _Pragma("GCC unroll 16")

#define RT 4     /* rows per tile */
#define TT 4     /* tokens per tile */
#define KCH 16   /* 256-element blocks decoded per chunk */
#define PCH 64   /* 64-element block pairs decoded per chunk (32-element types) */

Q512I float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* ---------------- float weights ---------------- */

Q512I __m512 load_wf(uint32_t type, const uint8_t *p, int64_t k, __mmask16 m)
{
    switch (type) {
    case GGML_TYPE_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * k));
    case GGML_TYPE_BF16:
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p + 2 * k)), 16));
    default:
        return _mm512_maskz_loadu_ps(m, p + 4 * k);
    }
}

Q512I void ftile(uint32_t type, const uint8_t *const *wr, const float *const *xt, const int nt, int64_t n,
                 float res[RT][TT])
{
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - k)) - 1);
        __m512 w[RT];
        UNROLL
        for (int r = 0; r < RT; r++)
            w[r] = load_wf(type, wr[r], k, m);
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m512 x = _mm512_maskz_loadu_ps(m, xt[t] + k);
            UNROLL
            for (int r = 0; r < RT; r++)
                acc[r][t] = _mm512_fmadd_ps(w[r], x, acc[r][t]);
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

Q512I void gemm_f(uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                  size_t arb, int64_t ntok, float *out, size_t os)
{
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int rr = (int)q_min64(RT, rows - r0);
        const uint8_t *wr[RT];
        UNROLL
        for (int r = 0; r < RT; r++)
            wr[r] = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
        for (int64_t t0 = 0; t0 < ntok; t0 += TT) {
            const int tt = (int)q_min64(TT, ntok - t0);
            const float *xt[TT];
            UNROLL
            for (int t = 0; t < TT; t++)
                xt[t] = (const float *)(X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb);
            float res[RT][TT];
            switch (tt) {
            case 1: ftile(type, wr, xt, 1, n, res); break;
            case 2: ftile(type, wr, xt, 2, n, res); break;
            case 3: ftile(type, wr, xt, 3, n, res); break;
            default: ftile(type, wr, xt, 4, n, res); break;
            }
            for (int t = 0; t < tt; t++)
                for (int r = 0; r < rr; r++)
                    out[(size_t)(t0 + t) * os + (size_t)(r0 + r)] = res[r][t];
        }
    }
}

/* ---------------- 256-element K-quants with Q8_K activations ---------------- */

/* One decoded super-block: w[i] = d * S[i/16] * u[i] - dminm[i/16]-ish (see kdot). */
typedef struct {
    __m512i u[4];  /* unsigned levels, element order */
    __m512i sc[4]; /* scales per 16-bit lane of maddubs (or per 32-bit lane of dpbusd, IQ4_XS) */
    __m512 dminm;  /* per 16-element sub-block: dmin * m (the offset times the activation sum) */
    float d;
    float pad[15];
} kdec;

/* idx16[c][i] = 4c + i/8: the per-16 scale of maddubs lane i of chunk c. */
static const int16_t idx16[4][32] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
     14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

/* Fills sc[] from 16 per-16 scales and dminm from 16 per-16 offsets (int16) times dmin. */
Q512I void kdec_scales(kdec *o, __m256i S16, __m256i M16, float dmin)
{
    __m512i s = _mm512_castsi256_si512(S16);
    UNROLL
    for (int c = 0; c < 4; c++)
        o->sc[c] = _mm512_permutexvar_epi16(_mm512_load_si512(idx16[c]), s);
    o->dminm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(M16)), _mm512_set1_ps(dmin));
}

Q512I __m512i cat256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

Q512I void dec_q4_K(const void *blk, kdec *o, bool five)
{
    const uint8_t *scales, *qs, *qh = NULL;
    float d, dmin;
    if (!five) {
        const block_q4_K *b = blk;
        d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs;
    } else {
        const block_q5_K *b = blk;
        d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs, qh = b->qh;
    }
    /* the 12 scale bytes as 32-bit lanes u0 u1 u2 (SIMD, to avoid a store-forwarding stall):
       sc0-3 = u0 & 0x3f..; sc4-7 = (u2 & 0x0f..) | ((u0 >> 6) & 0x03..) << 4;
       m0-3 = u1 & 0x3f..;  m4-7 = ((u2 >> 4) & 0x0f..) | ((u1 >> 6) & 0x03..) << 4 */
    const __m128i v = _mm_loadu_si128((const __m128i *)scales); /* 4 bytes past: inside the block */
    const __m128i A = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0));
    const __m128i B = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
    const __m128i slo = _mm_and_si128(A, _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
    const __m128i shi = _mm_and_si128(_mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(B, 6), _mm_set1_epi32(0x03030303)), 4),
                                      _mm_set_epi32(-1, 0, -1, 0));
    /* lanes: sc0-3, sc4-7, m0-3, m4-7 */
    __m256i sm = _mm256_cvtepu8_epi16(_mm_or_si128(slo, shi));
    static const int16_t dup[16] __attribute__((aligned(32))) = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
    static const int16_t dupm[16] __attribute__((aligned(32))) = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};
    __m256i S16 = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)dup), sm);
    __m256i M16 = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)dupm), sm);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256i h = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    const __m256i one = _mm256_set1_epi8(1);
    UNROLL
    for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
            h = _mm256_srli_epi16(h, 2);
        }
        o->u[c] = cat256(lo, hi);
    }
    o->d = d;
    kdec_scales(o, S16, M16, dmin);
}

/*
 * Q4_K for the few-token kernel, in a cheaper order: u[2h] = low nibbles of
 * qs[64h..64h+63] (elements 128h+0..31 and 128h+64..95), u[2h+1] = their high
 * nibbles (128h+32..63, 128h+96..127); the activations are permuted to match
 * (xperm_q4k). Scales and the offset term as dec_q4_K.
 */
Q512I void dec_q4_K_perm(const block_q4_K *b, kdec *o)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)b->scales);
    const __m128i A = _mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm_set_epi32(4, 0, 0, 0));
    const __m128i B = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
    const __m128i slo = _mm_and_si128(A, _mm_set_epi32(0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f));
    const __m128i shi = _mm_and_si128(_mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(B, 6), _mm_set1_epi32(0x03030303)), 4),
                                      _mm_set_epi32(-1, 0, -1, 0));
    const __m512i sm = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_or_si128(slo, shi)));
    static const int16_t pidx[4][32] __attribute__((aligned(64))) = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
        {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6},
        {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}};
    static const int16_t dupm[16] __attribute__((aligned(32))) = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};
    const __m512i m4 = _mm512_set1_epi8(0xF);
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_loadu_si512(b->qs + 64 * h);
        o->u[2 * h] = _mm512_and_si512(q, m4);
        o->u[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    }
    UNROLL
    for (int c = 0; c < 4; c++)
        o->sc[c] = _mm512_permutexvar_epi16(_mm512_load_si512(pidx[c]), sm);
    const __m256i M16 = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)dupm), _mm512_castsi512_si256(sm));
    o->d = h2f(b->d);
    o->dminm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(M16)), _mm512_set1_ps(h2f(b->dmin)));
}

/* The activations of one Q8_K block in dec_q4_K_perm's order. */
Q512I void xperm_q4k(const int8_t *qs, __m512i xv[4])
{
    const __m512i lo = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11), hi = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m512i a = _mm512_loadu_si512(qs + 128 * h), b = _mm512_loadu_si512(qs + 128 * h + 64);
        xv[2 * h] = _mm512_permutex2var_epi64(a, lo, b);
        xv[2 * h + 1] = _mm512_permutex2var_epi64(a, hi, b);
    }
}

Q512I void dec_q6_K(const block_q6_K *b, kdec *o)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
        __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        __m512i hb0 = cat256(_mm256_and_si256(qh, m3), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m3));
        __m512i hb1 = cat256(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 6), m3));
        o->u[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(hb0, 4));
        o->u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(hb1, 4));
    }
    __m256i S16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    o->d = h2f(b->d);
    kdec_scales(o, S16, _mm256_slli_epi16(S16, 5), o->d); /* levels u - 32 */
}

Q512I void dec_q3_K(const block_q3_K *b, kdec *o)
{
    /* 16 6-bit scales from 12 bytes u0 u1 u2 (32-bit lanes): low nibbles from u0/u1
       (>> 0 then >> 4), high 2 bits from u2 >> 0, 2, 4, 6; minus 32 */
    const __m128i v = _mm_maskz_loadu_epi8(0x0FFF, b->scales); /* masked: the block may end the buffer */
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0)), _mm_set_epi32(4, 4, 0, 0)),
                                     _mm_set1_epi32(0x0f0f0f0f));
    const __m128i hi = _mm_slli_epi32(
        _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2)), _mm_set_epi32(6, 4, 2, 0)),
                      _mm_set1_epi32(0x03030303)),
        4);
    const __m128i s8v = _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256i hm = _mm256_loadu_si256((const __m256i *)b->hmask);
    UNROLL
    for (int c = 0; c < 4; c++) {
        int h = c / 2, k0 = 2 * (c % 2);
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        __m256i a = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k0), m3);
        __m256i bb = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k0 + 2), m3);
        __m256i ha = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k0), one);
        __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k0 + 1), one);
        a = _mm256_or_si256(a, _mm256_slli_epi16(ha, 2));
        bb = _mm256_or_si256(bb, _mm256_slli_epi16(hb, 2));
        o->u[c] = cat256(a, bb);
    }
    __m256i S16 = _mm256_cvtepi8_epi16(s8v);
    o->d = h2f(b->d);
    kdec_scales(o, S16, _mm256_slli_epi16(S16, 2), o->d); /* levels u - 4 */
}

Q512I void dec_q2_K(const block_q2_K *b, kdec *o)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    UNROLL
    for (int c = 0; c < 4; c++) {
        int h = c / 2, k0 = 2 * (c % 2);
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        o->u[c] = cat256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k0), m3),
                         _mm256_and_si256(_mm256_srli_epi16(q, 2 * k0 + 2), m3));
    }
    __m256i sm = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    o->d = h2f(b->d);
    kdec_scales(o, _mm256_and_si256(sm, _mm256_set1_epi16(0xF)), _mm256_srli_epi16(sm, 4), h2f(b->dmin));
}

/* IQ4_XS: levels kvalues + 128 (up to 241, too big for maddubs): sc holds 32-bit lane scales for dpbusd. */
Q512I void dec_iq4_xs(const block_iq4_xs *b, kdec *o)
{
    static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut));
    const __m256i m4 = _mm256_set1_epi8(0xF);
    UNROLL
    for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * c));
        __m512i v = cat256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
        v = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0)); /* lo0 hi0 lo1 hi1 */
        o->u[c] = _mm512_shuffle_epi8(tbl, v);
    }
    /* scale ib = (nibble ib of scales_l | 2-bit field ib of scales_h << 4) - 32, in SIMD */
    uint32_t sl;
    memcpy(&sl, b->scales_l, 4);
    const __m128i slv = _mm_cvtsi32_si128((int)sl);
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(slv, _mm_set1_epi8(0xF)),
                                          _mm_and_si128(_mm_srli_epi16(slv, 4), _mm_set1_epi8(0xF)));
    const __m128i hi = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16((short)b->scales_h), _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                     _mm_set1_epi16(3));
    const __m128i s16 = _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(nib), _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32));
    const __m512i s32 = _mm512_castsi256_si512(_mm256_cvtepi16_epi32(s16));
    static const int32_t idx32[4][16] __attribute__((aligned(64))) = {
        {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
        {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5}, {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};
    for (int c = 0; c < 4; c++)
        o->sc[c] = _mm512_permutexvar_epi32(_mm512_load_si512(idx32[c]), s32);
    static const int16_t dup8[16] __attribute__((aligned(32))) = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
    const __m256i m16 = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)dup8),
                                                 _mm256_castsi128_si256(_mm_slli_epi16(s16, 7)));
    o->d = h2f(b->d);
    o->dminm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(m16)), _mm512_set1_ps(o->d));
}

Q512I void kdecode(uint32_t type, const uint8_t *blk, kdec *o)
{
    switch (type) {
    case GGML_TYPE_Q2_K: dec_q2_K((const block_q2_K *)blk, o); break;
    case GGML_TYPE_Q3_K: dec_q3_K((const block_q3_K *)blk, o); break;
    case GGML_TYPE_Q4_K: dec_q4_K(blk, o, false); break;
    case GGML_TYPE_Q5_K: dec_q4_K(blk, o, true); break;
    case GGML_TYPE_Q6_K: dec_q6_K((const block_q6_K *)blk, o); break;
    default: dec_iq4_xs((const block_iq4_xs *)blk, o); break;
    }
}

/*
 * One tile over a chunk of nb decoded blocks: res[r][t] += sum over blocks of
 * d*dx*sum(S*u*x) - dx*sum(dminm*bsum).
 */
Q512I void ktile(const kdec *dec, int64_t nb, const block_q8_K *const *xt, const int nt, const bool dp,
                 float res[RT][TT])
{
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        /* rows outer, tokens inner: a row's levels and scales stay in registers, the activations
           are memory operands (fewer loads than the other way round) */
        __m512 bs[TT];
        UNROLL
        for (int t = 0; t < nt; t++)
            bs[t] = _mm512_mul_ps(
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)xt[t][b].bsums))),
                _mm512_set1_ps(xt[t][b].d));
        UNROLL
        for (int r = 0; r < RT; r++) {
            const kdec *k = &dec[(size_t)r * KCH + (size_t)b];
            __m512i u[4], sc[4];
            UNROLL
            for (int c = 0; c < 4; c++) {
                u[c] = k->u[c];
                sc[c] = k->sc[c];
            }
            const __m512 dv = _mm512_set1_ps(k->d);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const block_q8_K *x = xt[t] + b;
                __m512i is = _mm512_setzero_si512();
                UNROLL
                for (int c = 0; c < 4; c++) {
                    const __m512i xv = _mm512_loadu_si512(x->qs + 64 * c);
                    if (dp)
                        is = _mm512_add_epi32(is, _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u[c], xv),
                                                                    sc[c]));
                    else
                        is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(u[c], xv), sc[c]);
                }
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dv, _mm512_set1_ps(x->d)), acc[r][t]);
                acc[r][t] = _mm512_fnmadd_ps(k->dminm, bs[t], acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

/*
 * Few tokens (decode): each row's block is decoded into registers and used
 * at once, with no stores; type is a constant in every instantiation.
 */
Q512I void kdirect_tile(const uint32_t type, const uint8_t *const *wr, size_t wnext, size_t bsz, int64_t nbt,
                        const block_q8_K *const *xt, const int nt, float res[RT][TT])
{
    const bool dp = type == GGML_TYPE_IQ4_XS;
    const bool perm = type == GGML_TYPE_Q4_K && nt <= 2; /* permuted activations stay in registers */
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nbt; b++) {
        __m512i xp[2][4];
        if (perm) {
            UNROLL
            for (int t = 0; t < nt; t++)
                xperm_q4k(xt[t][b].qs, xp[t]);
        }
        __m512 bs[TT];
        UNROLL
        for (int t = 0; t < nt; t++)
            bs[t] = _mm512_mul_ps(
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)xt[t][b].bsums))),
                _mm512_set1_ps(xt[t][b].d));
        UNROLL
        for (int r = 0; r < RT; r++) {
            kdec k;
            /* the same block of the next row tile: one linear stream, a tile ahead (hints never fault) */
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)b * bsz), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)b * bsz + 64), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)b * bsz + 128), _MM_HINT_T0);
            if (perm)
                dec_q4_K_perm((const block_q4_K *)(wr[r] + (size_t)b * bsz), &k);
            else
                kdecode(type, wr[r] + (size_t)b * bsz, &k);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const block_q8_K *x = xt[t] + b;
                __m512i is = _mm512_setzero_si512();
                UNROLL
                for (int c = 0; c < 4; c++) {
                    __m512i xv = perm ? xp[t < 2 ? t : 0][c] : _mm512_loadu_si512(x->qs + 64 * c);
                    if (dp)
                        is = _mm512_add_epi32(
                            is, _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), k.u[c], xv), k.sc[c]));
                    else
                        is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(k.u[c], xv), k.sc[c]);
                }
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(k.d * x->d), acc[r][t]);
                acc[r][t] = _mm512_fnmadd_ps(k.dminm, bs[t], acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

Q512I void gemm_k_direct(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n,
                         const uint8_t *X, size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = q_traits_get(type)->size;
    const int64_t nbt = n / QK_K;
    const int tt = (int)ntok; /* <= TT */
    const block_q8_K *xt[TT];
    UNROLL
    for (int t = 0; t < TT; t++)
        xt[t] = (const block_q8_K *)(X + (size_t)(t < tt ? t : tt - 1) * arb);
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int rr = (int)q_min64(RT, rows - r0);
        const uint8_t *wr[RT];
        UNROLL
        for (int r = 0; r < RT; r++)
            wr[r] = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
        float res[RT][TT];
        switch (tt) {
        case 1: kdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 1, res); break;
        case 2: kdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 2, res); break;
        case 3: kdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 3, res); break;
        default: kdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 4, res); break;
        }
        for (int t = 0; t < tt; t++)
            for (int r = 0; r < rr; r++)
                out[(size_t)t * os + (size_t)(r0 + r)] = res[r][t];
    }
}

Q512 static void gemm_k(uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                        size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = q_traits_get(type)->size;
    const int64_t nbt = n / QK_K;
    const bool dp = type == GGML_TYPE_IQ4_XS;
    kdec dec[RT * KCH] __attribute__((aligned(64)));
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int rr = (int)q_min64(RT, rows - r0);
        for (int64_t b0 = 0; b0 < nbt; b0 += KCH) {
            const int64_t nb = q_min64(KCH, nbt - b0);
            UNROLL
            for (int r = 0; r < RT; r++) {
                const uint8_t *w = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb + (size_t)b0 * bsz;
                for (int64_t b = 0; b < nb; b++)
                    kdecode(type, w + (size_t)b * bsz, &dec[(size_t)r * KCH + (size_t)b]);
            }
            for (int64_t t0 = 0; t0 < ntok; t0 += TT) {
                const int tt = (int)q_min64(TT, ntok - t0);
                const block_q8_K *xt[TT];
                UNROLL
                for (int t = 0; t < TT; t++)
                    xt[t] = (const block_q8_K *)(X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb) + b0;
                float res[RT][TT];
                switch (tt * 2 + dp) {
                case 2: ktile(dec, nb, xt, 1, false, res); break;
                case 3: ktile(dec, nb, xt, 1, true, res); break;
                case 4: ktile(dec, nb, xt, 2, false, res); break;
                case 5: ktile(dec, nb, xt, 2, true, res); break;
                case 6: ktile(dec, nb, xt, 3, false, res); break;
                case 7: ktile(dec, nb, xt, 3, true, res); break;
                case 8: ktile(dec, nb, xt, 4, false, res); break;
                default: ktile(dec, nb, xt, 4, true, res); break;
                }
                for (int t = 0; t < tt; t++)
                    for (int r = 0; r < rr; r++) {
                        float *o = &out[(size_t)(t0 + t) * os + (size_t)(r0 + r)];
                        *o = b0 ? *o + res[r][t] : res[r][t];
                    }
            }
        }
    }
}

/* ---------------- 32-element block types with Q8_0 activations ---------------- */

/* Two decoded blocks (64 elements): w = d * u + m per lane (lanes 0-7 block A, 8-15 block B). */
typedef struct {
    __m512i u;
    __m512 d;
    __m512 m; /* Q4_1/Q5_1 only */
} pdec;

Q512I __m512 pair_ps(float a, float b)
{
    return _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

/* Unsigned nibbles of two 16-byte qs arrays in element order: A lo, A hi, B lo, B hi. */
Q512I __m512i nib2(const uint8_t *qa, const uint8_t *qb)
{
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qa)),
                                        _mm_loadu_si128((const __m128i *)qb), 1);
    __m512i v = cat256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
    return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}

/* Decodes blocks a and b (b may equal a; then its lanes are ignored via a zero activation). */
Q512I void pdecode(uint32_t type, const uint8_t *a, const uint8_t *b, pdec *o)
{
    switch (type) {
    case GGML_TYPE_Q8_0: {
        const block_q8_0 *A = (const block_q8_0 *)a, *B = (const block_q8_0 *)b;
        __m512i v = cat256(_mm256_loadu_si256((const __m256i *)A->qs), _mm256_loadu_si256((const __m256i *)B->qs));
        o->u = _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
        o->d = pair_ps(h2f(A->d), h2f(B->d));
        break;
    }
    case GGML_TYPE_Q4_0: {
        const block_q4_0 *A = (const block_q4_0 *)a, *B = (const block_q4_0 *)b;
        o->u = nib2(A->qs, B->qs);
        o->d = pair_ps(h2f(A->d), h2f(B->d));
        break;
    }
    case GGML_TYPE_Q4_1: {
        const block_q4_1 *A = (const block_q4_1 *)a, *B = (const block_q4_1 *)b;
        o->u = nib2(A->qs, B->qs);
        o->d = pair_ps(h2f(A->d), h2f(B->d));
        o->m = pair_ps(h2f(A->m), h2f(B->m));
        break;
    }
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1: {
        uint32_t ha, hb;
        if (type == GGML_TYPE_Q5_0) {
            const block_q5_0 *A = (const block_q5_0 *)a, *B = (const block_q5_0 *)b;
            o->u = nib2(A->qs, B->qs);
            o->d = pair_ps(h2f(A->d), h2f(B->d));
            memcpy(&ha, A->qh, 4), memcpy(&hb, B->qh, 4);
        } else {
            const block_q5_1 *A = (const block_q5_1 *)a, *B = (const block_q5_1 *)b;
            o->u = nib2(A->qs, B->qs);
            o->d = pair_ps(h2f(A->d), h2f(B->d));
            o->m = pair_ps(h2f(A->m), h2f(B->m));
            memcpy(&ha, A->qh, 4), memcpy(&hb, B->qh, 4);
        }
        __m512i hbits = _mm512_movm_epi8((__mmask64)ha | ((__mmask64)hb << 32));
        o->u = _mm512_or_si512(o->u, _mm512_and_si512(hbits, _mm512_set1_epi8(0x10)));
        break;
    }
    default: { /* IQ4_NL */
        static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
        const block_iq4_nl *A = (const block_iq4_nl *)a, *B = (const block_iq4_nl *)b;
        o->u = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut)), nib2(A->qs, B->qs));
        o->d = pair_ps(h2f(A->d), h2f(B->d));
        break;
    }
    }
}

/* log2 of the level offset of a symmetric 32-element type; -1 for Q4_1/Q5_1 (a float min instead). */
static inline int p_offset_shift(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_Q4_0: return 3;
    case GGML_TYPE_Q5_0: return 4;
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_1: return -1;
    default: return 7; /* Q8_0, IQ4_NL: +128 */
    }
}

/*
 * One tile over a chunk of np block pairs. nbt is the total number of
 * 32-element blocks in the row and p0 the first pair; an odd last block
 * gets a zero activation in its B half.
 */
Q512I void ptile(const pdec *dec, int64_t p0, int64_t np, int64_t nbt, const block_q8_0 *const *xt, const int nt,
                 const int sh, float res[RT][TT])
{
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t p = 0; p < np; p++) {
        const int64_t ia = 2 * (p0 + p);
        const bool has_b = ia + 1 < nbt;
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *xa = xt[t] + ia, *xb = has_b ? xa + 1 : xa;
            __m512i x = cat256(_mm256_loadu_si256((const __m256i *)xa->qs),
                               has_b ? _mm256_loadu_si256((const __m256i *)xb->qs) : _mm256_setzero_si256());
            const __m512 dx = pair_ps(h2f(xa->d), has_b ? h2f(xb->d) : 0.0f);
            const __m512i s4 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, x);
            __m512i init = _mm512_setzero_si512();
            __m512 xsf = _mm512_setzero_ps();
            if (sh >= 0)
                init = _mm512_sub_epi32(init, _mm512_sllv_epi32(s4, _mm512_set1_epi32(sh)));
            else
                xsf = _mm512_mul_ps(_mm512_cvtepi32_ps(s4), dx);
            UNROLL
            for (int r = 0; r < RT; r++) {
                const pdec *k = &dec[(size_t)r * PCH + (size_t)p];
                __m512i v = _mm512_dpbusd_epi32(init, k->u, x);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(k->d, dx), acc[r][t]);
                if (sh < 0)
                    acc[r][t] = _mm512_fmadd_ps(k->m, xsf, acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

/* Few tokens: decode into registers and use at once (see kdirect_tile). */
Q512I void pdirect_tile(const uint32_t type, const uint8_t *const *wr, size_t wnext, size_t bsz, int64_t nbt,
                        const block_q8_0 *const *xt, const int nt, float res[RT][TT])
{
    const int sh = p_offset_shift(type);
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t ia = 0; ia < nbt; ia += 2) {
        const bool has_b = ia + 1 < nbt;
        const int64_t ib = has_b ? ia + 1 : ia;
        __m512i x[TT], init[TT];
        __m512 dx[TT], xsf[TT];
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *xa = xt[t] + ia, *xb = xt[t] + ib;
            x[t] = cat256(_mm256_loadu_si256((const __m256i *)xa->qs),
                          has_b ? _mm256_loadu_si256((const __m256i *)xb->qs) : _mm256_setzero_si256());
            dx[t] = pair_ps(h2f(xa->d), has_b ? h2f(xb->d) : 0.0f);
            const __m512i s4 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, x[t]);
            if (sh >= 0) {
                init[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_sllv_epi32(s4, _mm512_set1_epi32(sh)));
                xsf[t] = _mm512_setzero_ps();
            } else {
                init[t] = _mm512_setzero_si512();
                xsf[t] = _mm512_mul_ps(_mm512_cvtepi32_ps(s4), dx[t]);
            }
        }
        UNROLL
        for (int r = 0; r < RT; r++) {
            pdec k;
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)ia * bsz), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)ia * bsz + 64), _MM_HINT_T0);
            pdecode(type, wr[r] + (size_t)ia * bsz, wr[r] + (size_t)ib * bsz, &k);
            UNROLL
            for (int t = 0; t < nt; t++) {
                __m512i v = _mm512_dpbusd_epi32(init[t], k.u, x[t]);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(k.d, dx[t]), acc[r][t]);
                if (sh < 0)
                    acc[r][t] = _mm512_fmadd_ps(k.m, xsf[t], acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

/*
 * Few tokens, Q4_0 and IQ4_NL: four blocks per step. The 16-byte nibble
 * arrays of 4 blocks fill one register; low nibbles (elements 0-15 of each
 * block) and high nibbles (16-31) meet activations permuted to match, and
 * both products land in the block's 4 lanes, so one scale multiply serves
 * 128 weights. A missing block at the end gets zero activations.
 */
Q512I __m512 quad_scales(uint16_t a, uint16_t b, uint16_t c, uint16_t d)
{
    static const int32_t idx[16] __attribute__((aligned(64))) = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    const uint64_t h = (uint64_t)a | ((uint64_t)b << 16) | ((uint64_t)c << 32) | ((uint64_t)d << 48);
    return _mm512_permutexvar_ps(_mm512_load_si512(idx), _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)h))));
}

Q512I void qdirect_tile(const uint32_t type, const uint8_t *const *wr, size_t wnext, int64_t nbt,
                        const block_q8_0 *const *xt, const int nt, float res[RT][TT])
{
    const int sh = type == GGML_TYPE_Q4_0 ? 3 : 7;
    static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut));
    const __m512i m4 = _mm512_set1_epi8(0xF), ones = _mm512_set1_epi8(1);
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t i0 = 0; i0 < nbt; i0 += 4) {
        int64_t ib[4];
        bool have[4];
        UNROLL
        for (int k = 0; k < 4; k++) {
            have[k] = i0 + k < nbt;
            ib[k] = have[k] ? i0 + k : i0;
        }
        __m512i xlo[TT], xhi[TT], init[TT];
        __m512 dx[TT];
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *x = xt[t];
            __m256i xa = _mm256_loadu_si256((const __m256i *)x[ib[0]].qs);
            __m256i xb = have[1] ? _mm256_loadu_si256((const __m256i *)x[ib[1]].qs) : _mm256_setzero_si256();
            __m256i xc = have[2] ? _mm256_loadu_si256((const __m256i *)x[ib[2]].qs) : _mm256_setzero_si256();
            __m256i xd = have[3] ? _mm256_loadu_si256((const __m256i *)x[ib[3]].qs) : _mm256_setzero_si256();
            __m512i t0 = cat256(xa, xb), t1 = cat256(xc, xd);
            xlo[t] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
            xhi[t] = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
            dx[t] = quad_scales(x[ib[0]].d, have[1] ? x[ib[1]].d : 0, have[2] ? x[ib[2]].d : 0, have[3] ? x[ib[3]].d : 0);
            __m512i s4 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, xlo[t]), ones, xhi[t]);
            init[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_sllv_epi32(s4, _mm512_set1_epi32(sh)));
        }
        UNROLL
        for (int r = 0; r < RT; r++) {
            const block_q4_0 *w = (const block_q4_0 *)wr[r]; /* IQ4_NL has the same 18-byte layout */
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)i0 * 18), _MM_HINT_T0);
            _mm_prefetch((const char *)(wr[r] + wnext + (size_t)i0 * 18 + 64), _MM_HINT_T0);
            __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)w[ib[0]].qs));
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)w[ib[1]].qs), 1);
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)w[ib[2]].qs), 2);
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)w[ib[3]].qs), 3);
            __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            if (type != GGML_TYPE_Q4_0) {
                lo = _mm512_shuffle_epi8(tbl, lo);
                hi = _mm512_shuffle_epi8(tbl, hi);
            }
            const __m512 dw = quad_scales(w[ib[0]].d, w[ib[1]].d, w[ib[2]].d, w[ib[3]].d);
            UNROLL
            for (int t = 0; t < nt; t++) {
                __m512i v = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init[t], lo, xlo[t]), hi, xhi[t]);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(dw, dx[t]), acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

Q512I void gemm_p_direct(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n,
                         const uint8_t *X, size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = q_traits_get(type)->size;
    const int64_t nbt = n / 32;
    const int tt = (int)ntok; /* <= TT */
    const block_q8_0 *xt[TT];
    UNROLL
    for (int t = 0; t < TT; t++)
        xt[t] = (const block_q8_0 *)(X + (size_t)(t < tt ? t : tt - 1) * arb);
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int rr = (int)q_min64(RT, rows - r0);
        const uint8_t *wr[RT];
        UNROLL
        for (int r = 0; r < RT; r++)
            wr[r] = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
        float res[RT][TT];
        if ((type == GGML_TYPE_Q4_0 || type == GGML_TYPE_IQ4_NL) && tt <= 2) {
            if (tt == 1)
                qdirect_tile(type, wr, RT * wrb, nbt, xt, 1, res);
            else
                qdirect_tile(type, wr, RT * wrb, nbt, xt, 2, res);
        } else
        switch (tt) {
        case 1: pdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 1, res); break;
        case 2: pdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 2, res); break;
        case 3: pdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 3, res); break;
        default: pdirect_tile(type, wr, RT * wrb, bsz, nbt, xt, 4, res); break;
        }
        for (int t = 0; t < tt; t++)
            for (int r = 0; r < rr; r++)
                out[(size_t)t * os + (size_t)(r0 + r)] = res[r][t];
    }
}

Q512 static void gemm_p(uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                        size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = q_traits_get(type)->size;
    const int64_t nbt = n / 32, npt = (nbt + 1) / 2;
    const int sh = p_offset_shift(type);
    pdec dec[RT * PCH] __attribute__((aligned(64)));
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int rr = (int)q_min64(RT, rows - r0);
        for (int64_t p0 = 0; p0 < npt; p0 += PCH) {
            const int64_t np = q_min64(PCH, npt - p0);
            UNROLL
            for (int r = 0; r < RT; r++) {
                const uint8_t *w = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
                for (int64_t p = 0; p < np; p++) {
                    int64_t ia = 2 * (p0 + p), ib = ia + 1 < nbt ? ia + 1 : ia;
                    pdecode(type, w + (size_t)ia * bsz, w + (size_t)ib * bsz, &dec[(size_t)r * PCH + (size_t)p]);
                }
            }
            for (int64_t t0 = 0; t0 < ntok; t0 += TT) {
                const int tt = (int)q_min64(TT, ntok - t0);
                const block_q8_0 *xt[TT];
                UNROLL
                for (int t = 0; t < TT; t++)
                    xt[t] = (const block_q8_0 *)(X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb);
                float res[RT][TT];
                switch (tt) {
                case 1: ptile(dec, p0, np, nbt, xt, 1, sh, res); break;
                case 2: ptile(dec, p0, np, nbt, xt, 2, sh, res); break;
                case 3: ptile(dec, p0, np, nbt, xt, 3, sh, res); break;
                default: ptile(dec, p0, np, nbt, xt, 4, sh, res); break;
                }
                for (int t = 0; t < tt; t++)
                    for (int r = 0; r < rr; r++) {
                        float *o = &out[(size_t)(t0 + t) * os + (size_t)(r0 + r)];
                        *o = p0 ? *o + res[r][t] : res[r][t];
                    }
            }
        }
    }
}

Q512 bool q_gemm_avx512(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n, const void *xq,
                        size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
    switch (wtype) {
    case GGML_TYPE_F32:
        gemm_f(GGML_TYPE_F32, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    case GGML_TYPE_F16:
        gemm_f(GGML_TYPE_F16, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    case GGML_TYPE_BF16:
        gemm_f(GGML_TYPE_BF16, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    default:
        break;
    }
    if (ntok <= TT) { /* decode and small batches: weights decoded in registers */
#define DIRECT(T, fn)                                                                                    \
    case T:                                                                                            \
        fn(T, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);                       \
        return true;
        switch (wtype) {
            DIRECT(GGML_TYPE_Q2_K, gemm_k_direct)
            DIRECT(GGML_TYPE_Q3_K, gemm_k_direct)
            DIRECT(GGML_TYPE_Q4_K, gemm_k_direct)
            DIRECT(GGML_TYPE_Q5_K, gemm_k_direct)
            DIRECT(GGML_TYPE_Q6_K, gemm_k_direct)
            DIRECT(GGML_TYPE_IQ4_XS, gemm_k_direct)
            DIRECT(GGML_TYPE_Q8_0, gemm_p_direct)
            DIRECT(GGML_TYPE_Q4_0, gemm_p_direct)
            DIRECT(GGML_TYPE_Q4_1, gemm_p_direct)
            DIRECT(GGML_TYPE_Q5_0, gemm_p_direct)
            DIRECT(GGML_TYPE_Q5_1, gemm_p_direct)
            DIRECT(GGML_TYPE_IQ4_NL, gemm_p_direct)
        default:
            return false;
        }
#undef DIRECT
    }
    switch (wtype) {
    case GGML_TYPE_Q2_K:
    case GGML_TYPE_Q3_K:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K:
    case GGML_TYPE_IQ4_XS:
        gemm_k(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1:
    case GGML_TYPE_IQ4_NL:
        gemm_p(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    default:
        return false;
    }
}
