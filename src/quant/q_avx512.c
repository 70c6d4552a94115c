/*
 * q_avx512.c — the AVX-512 (F/BW/VL/VNNI/DQ) kernels of q_gemm and the
 * SIMD activation quantizers. Every function here is compiled for that ISA
 * by a target attribute (the build has no -march), and only runs when
 * q_gemm.c chose this path from cpuid.
 *
 * The path needs AVX-512 F/BW/VL/DQ/VNNI/VBMI and GFNI (Ice Lake, Zen 4 and
 * later; Skylake-X runs the AVX2 path). Structure:
 *   - decode (1-2 tokens): each row's blocks are decoded into registers and
 *     used at once, 4 rows per tile, prefetching the rows ahead (a stream
 *     from memory); each token's activations are permuted for the tile
 *     once per call. K-quants: vpdpbusd per 64 weights, two chunks' 32-bit
 *     sums packed to 16 bits and scaled by one vpmaddwd/vpdpwssd (or
 *     vpmaddubs + vpdpwssd; IQ4_XS: converted and scaled in float);
 *     32-element types: four blocks per step ("quads", see qdec), two
 *     vpdpbusd and one float multiply-add per 128 weights and output;
 *   - prompts (more tokens): 16 rows per tile, one per 32-bit lane. A chunk
 *     of blocks of the 16 rows is decoded once into an interleaved buffer
 *     (4 consecutive levels of each row per vector) and every vpdpbusd
 *     multiplies it by 4 activations of one token broadcast from memory, so
 *     each lane sums one row's sub-block with no shuffles; per sub-block
 *     and token one float multiply-add applies 16 rows' scales (gemm_kt,
 *     gemm_qt);
 *   - unsigned levels are the format's levels plus an offset (Q4_0: +8,
 *     Q8_0/IQ4: +128, Q6_K: +32, ...); the offset (or the min) times the
 *     activation sums (Q8_K's bsums, or the sums after a Q8_0 row) is
 *     subtracted.
 * Float weights (F32/F16/BF16) use an FMA tile of 4 rows × 4 tokens.
 * Output partial sums accumulate in out[] across chunks of blocks.
 */
#include "quant/q_int.h"

#include <immintrin.h>
#include <stddef.h>

#define Q512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,avx512vbmi,gfni,avx2,fma,f16c")))

/*
 * Release builds inline and unroll the tile code into one specialised copy
 * per type and token count. Under a sanitizer that multiplies the
 * instrumented code enough to make compiling this file take minutes, so
 * sanitizer builds run the same code as plain functions with loops.
 */
#if defined(__SANITIZE_ADDRESS__)
#define Q_SANITIZE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define Q_SANITIZE 1
#endif
#endif
#ifdef Q_SANITIZE
#define Q512I Q512 static __attribute__((noinline))
#define UNROLL
#else
#define Q512I Q512 static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")
#endif

/* (UNROLL: full unrolling of the small tile loops keeps the accumulators in registers.) */

#define RT 4     /* rows per tile */
#define TT 4     /* tokens per tile */
#define PCH 64   /* 64-element block pairs decoded per chunk (32-element types) */
#ifndef PF_BYTES
#define PF_BYTES (8 << 10)
#endif

/*
 * Decode (1-2 tokens) is a stream of weights from memory. The kernels
 * prefetch, into L2, the same position of a row tile about PF_BYTES ahead
 * (into L1 or one tile ahead the loads still wait on memory: measured 9-10
 * GB/s per core against 17-19 with this). Returns the byte offset from the
 * tile at r0 to the tile to prefetch, or 0 (the tile itself, a no-op) where
 * that would pass the last row given to this call.
 */
static inline size_t pf_offset(int64_t r0, int64_t rows, size_t wrb)
{
    const size_t tile = RT * wrb;
    const int64_t k = (int64_t)((PF_BYTES + tile - 1) / tile);
    return r0 + k * RT < rows ? (size_t)k * tile : 0;
}

/* Bytes per block of a weight type: a constant where type is one (the prefetch loop unrolls). */
static inline __attribute__((always_inline)) size_t blk_bytes(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_Q2_K: return sizeof(block_q2_K);
    case GGML_TYPE_Q3_K: return sizeof(block_q3_K);
    case GGML_TYPE_Q4_K: return sizeof(block_q4_K);
    case GGML_TYPE_Q5_K: return sizeof(block_q5_K);
    case GGML_TYPE_Q6_K: return sizeof(block_q6_K);
    case GGML_TYPE_IQ4_XS: return sizeof(block_iq4_xs);
    case GGML_TYPE_Q8_0: return sizeof(block_q8_0);
    case GGML_TYPE_Q4_0: return sizeof(block_q4_0);
    case GGML_TYPE_Q4_1: return sizeof(block_q4_1);
    case GGML_TYPE_Q5_0: return sizeof(block_q5_0);
    case GGML_TYPE_Q5_1: return sizeof(block_q5_1);
    case GGML_TYPE_IQ4_NL: return sizeof(block_iq4_nl);
    default: return q_traits_get(type)->size;
    }
}

/* Prefetches into L2 every cache line of p[0..bytes) (bytes is a constant in each caller). */
static inline __attribute__((always_inline)) void pf_span(const uint8_t *p, size_t bytes)
{
    UNROLL
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)p + o, _MM_HINT_T1);
    _mm_prefetch((const char *)p + bytes - 1, _MM_HINT_T1);
}

/*
 * Prefetches into L2 the lines of p[0..bytes) for a contiguous stream of
 * such spans: one address per 64 bytes (the next span's first address
 * covers the line of this one's last bytes).
 */
static inline __attribute__((always_inline)) void pf_stream(const uint8_t *p, size_t bytes)
{
    UNROLL
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch((const char *)p + o, _MM_HINT_T1);
}

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
    __m512i sc[4]; /* scales per 16-bit lane of maddubs */
    __m512 dminm;  /* per 16-element sub-block: dmin * m (the offset times the activation sum) */
    float d;
} kdec;

/*
 * idxp[p][i]: the per-16 scale of 16-bit lane i of packs_epi32(P0, P1), where
 * P0 = dpbusd(u[2p], x), P1 = dpbusd(u[2p+1], x): in each 128-bit lane L,
 * words 0-3 are P0's dwords 4L..4L+3 (elements 64*2p + 16L ..), words 4-7
 * P1's (elements 64*(2p+1) + 16L ..), so scale 8p + L or 8p + 4 + L.
 */
static const int16_t idxp[2][32] __attribute__((aligned(64))) = {
    {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5, 2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7},
    {8, 8, 8, 8, 12, 12, 12, 12, 9, 9, 9, 9, 13, 13, 13, 13, 10, 10, 10, 10, 14, 14, 14, 14, 11, 11, 11, 11, 15, 15, 15, 15},
};

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

/*
 * The high nibble of every byte, as 0..15: one GF(2) affine transform
 * (vgf2p8affineqb) whose matrix moves bits 4-7 to 0-3 (row i, the byte
 * 7 - i of the qword, selects input bit i + 4), instead of a shift and a mask.
 */
Q512I __m512i hi_nibbles(__m512i v)
{
    return _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64(0x1020408000000000LL), 0);
}

Q512I __m512i cat256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/*
 * The 12 scale bytes of two Q4_K/Q5_K blocks (one per 128-bit lane) as 32
 * words: block a's 8 scales and 8 mins (6 bits each), then block b's.
 */
Q512I __m512i q4k_scales_mins2(const uint8_t *a, const uint8_t *b)
{
    /* per lane, as 32-bit lanes u0 u1 u2 (SIMD, to avoid a store-forwarding stall):
       sc0-3 = u0 & 0x3f..; sc4-7 = (u2 & 0x0f..) | ((u0 >> 6) & 0x03..) << 4;
       m0-3 = u1 & 0x3f..;  m4-7 = ((u2 >> 4) & 0x0f..) | ((u1 >> 6) & 0x03..) << 4 */
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                              _mm_loadu_si128((const __m128i *)b), 1); /* 4 bytes past: inside the block */
    const __m256i A = _mm256_srlv_epi32(_mm256_shuffle_epi32(v, _MM_SHUFFLE(2, 1, 2, 0)), _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4));
    const __m256i B = _mm256_shuffle_epi32(v, _MM_SHUFFLE(1, 1, 0, 0));
    const __m256i slo = _mm256_and_si256(A, _mm256_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f,
                                                              0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m256i shi = _mm256_and_si256(
        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(B, 6), _mm256_set1_epi32(0x03030303)), 4),
        _mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    /* dwords per lane: sc0-3, sc4-7, m0-3, m4-7 */
    return _mm512_cvtepu8_epi16(_mm256_or_si256(slo, shi));
}

/* One block's scales and mins as 16 words (q4k_scales_mins2). */
Q512I __m256i q4k_scales_mins(const uint8_t *scales)
{
    return _mm512_castsi512_si256(q4k_scales_mins2(scales, scales));
}

/* Q4_K/Q5_K levels (qh: Q5_K's fifth bits, or NULL) in element order, 64 per register. */
Q512I void q4k_levels(const uint8_t *qs, const uint8_t *qh, __m512i u[4])
{
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
        u[c] = cat256(lo, hi);
    }
}

/*
 * The activations of one Q8_K block in the order of k4_direct_tile's levels:
 * xv[2h] = elements 128h+0..31 and 128h+64..95 (the low nibbles of
 * qs[64h..64h+63]), xv[2h+1] = 128h+32..63 and 128h+96..127 (their high
 * nibbles).
 */
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

/*
 * Q6_K's levels q + 32 (0..63) in element order, 64 per register, and its
 * 16 scales as words. Half h: ql[64h..] holds the low 4 bits of elements
 * 128h + 0..63 (low nibbles) and 128h + 64..127 (high nibbles); byte j of
 * qh[32h..] holds the high 2 bits of elements 128h + j, + 32, + 64, + 96 in
 * bits 0-1, 2-3, 4-5, 6-7. With qh in both 256-bit halves of a register,
 * one variable word shift per output puts the right pair at bits 4-5 (a
 * word shift moves no kept bit across bytes: the mask keeps bits 4-5 of
 * each byte) and one vpternlog merges them with the nibble.
 */
Q512I __m256i q6k_levels(const block_q6_K *b, __m512i u[4])
{
    const __m512i m4 = _mm512_set1_epi8(0xF), m30 = _mm512_set1_epi8(0x30);
    /* per 256-bit half: elements j (<< 4: bits 0-1 to 4-5) and j + 32 (<< 2); j + 64 (>> 0) and j + 96 (>> 2) */
    const __m512i sl = cat256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i sr = cat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    UNROLL
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        const __m512i h0 = _mm512_and_si512(_mm512_sllv_epi16(qh, sl), m30);
        const __m512i h1 = _mm512_and_si512(_mm512_srlv_epi16(qh, sr), m30);
        /* 0xCA: bitwise m4 ? second : third */
        u[2 * h] = _mm512_ternarylogic_epi32(m4, ql, h0, 0xCA);
        u[2 * h + 1] = _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(ql, 4), h1, 0xCA);
    }
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
}

/* Q3_K's levels q + 4 (0..7) in element order, 64 per register, and its 16 scales as words. */
Q512I __m256i q3k_levels(const block_q3_K *b, __m512i u[4])
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
    const __m256i m3 = _mm256_set1_epi8(3);
    /* the third bit: hmask bit j for elements 32j..32j+31, set by a byte test mask */
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    UNROLL
    for (int c = 0; c < 4; c++) {
        const int h = c / 2, k0 = 2 * (c % 2), j = 4 * h + k0;
        const __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        const __m512i lo2 = cat256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k0), m3),
                                   _mm256_and_si256(_mm256_srli_epi16(q, 2 * k0 + 2), m3));
        const __m512i bits = cat256(_mm256_set1_epi8((char)(1 << j)), _mm256_set1_epi8((char)(1 << (j + 1))));
        u[c] = _mm512_mask_add_epi8(lo2, _mm512_test_epi8_mask(hm, bits), lo2, _mm512_set1_epi8(4));
    }
    return _mm256_cvtepi8_epi16(s8v);
}

/* Q2_K's levels (0..3) in element order, 64 per register, and its 16 scale bytes as words. */
Q512I __m256i q2k_levels(const block_q2_K *b, __m512i u[4])
{
    const __m256i m3 = _mm256_set1_epi8(3);
    UNROLL
    for (int c = 0; c < 4; c++) {
        int h = c / 2, k0 = 2 * (c % 2);
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        u[c] = cat256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k0), m3),
                      _mm256_and_si256(_mm256_srli_epi16(q, 2 * k0 + 2), m3));
    }
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
}

Q512I void dec_q2_K(const block_q2_K *b, kdec *o)
{
    const __m256i sm = q2k_levels(b, o->u);
    o->d = h2f(b->d);
    kdec_scales(o, _mm256_and_si256(sm, _mm256_set1_epi16(0xF)), _mm256_srli_epi16(sm, 4), h2f(b->dmin));
}

/* IQ4_XS's 8 sub-block scales (-32..31) as words. */
Q512I __m128i iq4xs_scales(const block_iq4_xs *b)
{
    /* scale ib = (nibble ib of scales_l | 2-bit field ib of scales_h << 4) - 32, in SIMD */
    uint32_t sl;
    memcpy(&sl, b->scales_l, 4);
    const __m128i slv = _mm_cvtsi32_si128((int)sl);
    const __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(slv, _mm_set1_epi8(0xF)),
                                          _mm_and_si128(_mm_srli_epi16(slv, 4), _mm_set1_epi8(0xF)));
    const __m128i hi = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16((short)b->scales_h), _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                     _mm_set1_epi16(3));
    return _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(nib), _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32));
}

/* IQ4_XS's levels kvalues + 128 (1..241) in element order, 64 per register, and its 8 scales (-32..31) as words. */
Q512I __m128i iq4xs_levels(const block_iq4_xs *b, __m512i u[4])
{
    static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut));
    const __m256i m4 = _mm256_set1_epi8(0xF);
    UNROLL
    for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * c));
        __m512i v = cat256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
        v = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0)); /* lo0 hi0 lo1 hi1 */
        u[c] = _mm512_shuffle_epi8(tbl, v);
    }
    return iq4xs_scales(b);
}

/*
 * Q2_K decode (the other K-quants have tiles of their own): each row's
 * block is decoded into registers and used at once, with no stores.
 */
Q512I void kdirect_tile(const uint8_t *const *wr, size_t wnext, int64_t nbt, const block_q8_K *const *xt, const int nt,
                        float res[RT][TT])
{
    const size_t bsz = sizeof(block_q2_K);
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nbt; b++) {
        __m512 bs[TT];
        UNROLL
        for (int t = 0; t < nt; t++)
            bs[t] = _mm512_mul_ps(
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)xt[t][b].bsums))),
                _mm512_set1_ps(xt[t][b].d));
        UNROLL
        for (int r = 0; r < RT; r++) {
            kdec k;
            pf_span(wr[r] + wnext + (size_t)b * bsz, bsz);
            dec_q2_K((const block_q2_K *)(wr[r] + (size_t)b * bsz), &k);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const block_q8_K *x = xt[t] + b;
                __m512i is = _mm512_setzero_si512();
                UNROLL
                for (int c = 0; c < 4; c++) {
                    is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(k.u[c], _mm512_loadu_si512(x->qs + 64 * c)), k.sc[c]);
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

/*
 * Q4_K and Q5_K decode, leaner than kdirect_tile (Q4_K is most of a Q4_K_M model):
 * per 64 weights one vpdpbusd on the levels in xperm_q4k's order; the sums
 * of two such chunks packed to 16 bits (exact: |4 products| <= 4 * 15 * 128)
 * and scaled by one vpmaddwd or vpdpwssd with the 6-bit scales; the min
 * term as one 128-bit vpmaddwd of the 8 mins with the activations' 32-element
 * sums; d and dmin converted together.
 */
/*
 * sum over 256 weights of scale * level * x, for levels u[c] (64 each, < 64)
 * and their activations x[c] in the same order, where sp0/sp1 hold the
 * scale of each 16-bit lane of packs(dpbusd(u[0]), dpbusd(u[1])) and
 * packs(dpbusd(u[2]), dpbusd(u[3])): the sums of 4 products fit 16 bits
 * exactly (|sum| <= 4 * 63 * 128), so one vpmaddwd and one vpdpwssd apply
 * the scales of two chunks each.
 */
Q512I __m512i kpack_dot(const __m512i u[4], const __m512i x[4], __m512i sp0, __m512i sp1)
{
    __m512i P[4];
    UNROLL
    for (int c = 0; c < 4; c++)
        P[c] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[c], x[c]);
    return _mm512_dpwssd_epi32(_mm512_madd_epi16(_mm512_packs_epi32(P[0], P[1]), sp0), _mm512_packs_epi32(P[2], P[3]),
                               sp1);
}

/* One token's activations of one super-block as k4_direct_tile reads them (prepared once per call). */
typedef struct {
    __m512i xv[4]; /* the levels in xperm_q4k's order */
    __m512i bsm;   /* the sums per 32-element sub-block as words 8-15 and 24-31 (against a row pair's mins), 0 elsewhere */
    __m128 dx;     /* the block's scale, in every lane */
} k4x;

Q512I void k4x_prep(const block_q8_K *x, k4x *o)
{
    xperm_q4k(x->qs, o->xv);
    /* sums of the activations per 32-element sub-block (|sum| <= 32 * 128: 16 bits) */
    const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), _mm256_set1_epi16(1));
    const __m128i bs8 = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    o->bsm = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_setzero_si512(), bs8, 1), bs8, 3);
    o->dx = _mm_set1_ps(x->d);
}

/*
 * Super-blocks b0 .. b1 of the rows; xq[t][b - b0]: token t's activations
 * of block b. Rows go in pairs: the scales and mins of two rows are
 * decoded in one 256-bit pass (q4k_scales_mins2), their d and dmin
 * converted together, and the min terms of both are one vpmaddwd of the
 * pair's 32 scale words with the activation sums (bsm).
 */
Q512I void k4_direct_tile(const bool five, const uint8_t *const *wr, size_t wnext, int64_t b0, int64_t b1,
                          const k4x *const *xq, const int nt, float res[RT][TT])
{
    /* Q5_K: the same with a fifth bit from qh, bit j for elements 32j..32j+31: qhbits[c] selects,
       per 256-bit half of u[c], the bit of its sub-block (see xperm_q4k for the order) */
    const size_t bsz = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const size_t qs_at = five ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
    __m512i qhbits[4];
    UNROLL
    for (int c = 0; c < 4; c++) {
        const int a = (c >> 1) * 4 + (c & 1); /* c = 0..3: bits 0/2, 1/3, 4/6, 5/7 */
        qhbits[c] = cat256(_mm256_set1_epi8((char)(1 << a)), _mm256_set1_epi8((char)(1 << (a + 2))));
    }
    /* spi[i][p]: the scale word (of q4k_scales_mins2) of 16-bit lane i of packs(dpbusd(u[2p]),
       dpbusd(u[2p+1])) for the pair's first row (i = 0) and second (i = 1; see xperm_q4k) */
    static const int16_t spi[2][2][32] __attribute__((aligned(64))) = {
        {{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3},
         {4, 4, 4, 4, 5, 5, 5, 5, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 6, 6, 6, 6, 7, 7, 7, 7}},
        {{16, 16, 16, 16, 17, 17, 17, 17, 16, 16, 16, 16, 17, 17, 17, 17,
          18, 18, 18, 18, 19, 19, 19, 19, 18, 18, 18, 18, 19, 19, 19, 19},
         {20, 20, 20, 20, 21, 21, 21, 21, 20, 20, 20, 20, 21, 21, 21, 21,
          22, 22, 22, 22, 23, 23, 23, 23, 22, 22, 22, 22, 23, 23, 23, 23}}};
    __m512i si[2][2];
    UNROLL
    for (int i = 0; i < 2; i++)
        UNROLL
        for (int p = 0; p < 2; p++)
            si[i][p] = _mm512_load_si512(spi[i][p]);
    const __m512i m4 = _mm512_set1_epi8(0xF);
    /* of f = (d, dmin) of both rows times dx: the second row's d, and each row's dmin against its mins' lanes */
    const __m512i pick_d1 = _mm512_set1_epi32(2), pick_dmin = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 3, 3, 3, 3);
    __m512 acc[RT][TT], accm[RT / 2][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    UNROLL
    for (int q = 0; q < RT / 2; q++)
        UNROLL
        for (int t = 0; t < nt; t++)
            accm[q][t] = _mm512_setzero_ps();
    for (int64_t b = b0; b < b1; b++) {
        UNROLL
        for (int q = 0; q < RT / 2; q++) {
            /* d, dmin, scales[12] at the same places in both types */
            const uint8_t *k[2] = {wr[2 * q] + (size_t)b * bsz, wr[2 * q + 1] + (size_t)b * bsz};
            pf_stream(k[0] + wnext, bsz);
            pf_stream(k[1] + wnext, bsz);
            const __m512i sm = q4k_scales_mins2(k[0] + offsetof(block_q4_K, scales), k[1] + offsetof(block_q4_K, scales));
            uint32_t dd[2];
            memcpy(&dd[0], k[0], 4), memcpy(&dd[1], k[1], 4);
            const __m128 dm = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)((uint64_t)dd[0] | (uint64_t)dd[1] << 32)));
            __m512i u[2][4], sp[2][2];
            UNROLL
            for (int i = 0; i < 2; i++) {
                sp[i][0] = _mm512_permutexvar_epi16(si[i][0], sm);
                sp[i][1] = _mm512_permutexvar_epi16(si[i][1], sm);
                const __m512i q0 = _mm512_loadu_si512(k[i] + qs_at), q1 = _mm512_loadu_si512(k[i] + qs_at + 64);
                u[i][0] = _mm512_and_si512(q0, m4), u[i][1] = hi_nibbles(q0);
                u[i][2] = _mm512_and_si512(q1, m4), u[i][3] = hi_nibbles(q1);
                if (five) {
                    const __m512i h =
                        _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(k[i] + offsetof(block_q5_K, qh))));
                    UNROLL
                    for (int c = 0; c < 4; c++)
                        u[i][c] = _mm512_mask_add_epi8(u[i][c], _mm512_test_epi8_mask(h, qhbits[c]), u[i][c],
                                                       _mm512_set1_epi8(0x10));
                }
            }
            UNROLL
            for (int t = 0; t < nt; t++) {
                const k4x *x = &xq[t][b - b0];
                const __m512 f = _mm512_castps128_ps512(_mm_mul_ps(dm, x->dx)); /* d0, dmin0, d1, dmin1 (* dx) */
                const __m512i is0 = kpack_dot(u[0], x->xv, sp[0][0], sp[0][1]);
                const __m512i is1 = kpack_dot(u[1], x->xv, sp[1][0], sp[1][1]);
                acc[2 * q][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is0), _mm512_broadcastss_ps(_mm512_castps512_ps128(f)),
                                                acc[2 * q][t]);
                acc[2 * q + 1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is1), _mm512_permutexvar_ps(pick_d1, f),
                                                    acc[2 * q + 1][t]);
                accm[q][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(sm, x->bsm)),
                                             _mm512_permutexvar_ps(pick_dmin, f), accm[q][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]) -
                        _mm512_mask_reduce_add_ps(r % 2 ? 0xFF00 : 0x00FF, accm[r / 2][t]);
}

/*
 * Q6_K and Q3_K decode, the same way: levels u = q + off in element order
 * (off 32 and 4), 16 signed scales per 16 elements; the offset term off *
 * sum(scale * activation sums) is one 256-bit vpmaddwd with Q8_K's
 * 16-element sums, subtracted in integers before the one conversion per block.
 */
Q512I void k16_direct_tile(const uint32_t type, const uint8_t *const *wr, size_t wnext, int64_t nbt,
                           const block_q8_K *const *xt, const int nt, float res[RT][TT])
{
    const bool six = type == GGML_TYPE_Q6_K;
    const size_t bsz = six ? sizeof(block_q6_K) : sizeof(block_q3_K);
    const int off_shift = six ? 5 : 2; /* log2 of the level offset */
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    const __m512i i0 = _mm512_load_si512(idxp[0]), i1 = _mm512_load_si512(idxp[1]);
    for (int64_t b = 0; b < nbt; b++) {
        __m512i xv[2][4];
        __m256i bs[2];
        UNROLL
        for (int t = 0; t < nt; t++) {
            UNROLL
            for (int c = 0; c < 4; c++)
                xv[t][c] = _mm512_loadu_si512(xt[t][b].qs + 64 * c);
            bs[t] = _mm256_loadu_si256((const __m256i *)xt[t][b].bsums);
        }
        UNROLL
        for (int r = 0; r < RT; r++) {
            const uint8_t *k = wr[r] + (size_t)b * bsz;
            pf_span(wr[r] + wnext + (size_t)b * bsz, bsz);
            __m512i u[4];
            const __m256i S16 = six ? q6k_levels((const block_q6_K *)k, u) : q3k_levels((const block_q3_K *)k, u);
            const __m512i sp0 = _mm512_permutexvar_epi16(i0, _mm512_castsi256_si512(S16));
            const __m512i sp1 = _mm512_permutexvar_epi16(i1, _mm512_castsi256_si512(S16));
            const float d = h2f(six ? ((const block_q6_K *)k)->d : ((const block_q3_K *)k)->d);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const __m256i off = _mm256_sllv_epi32(_mm256_madd_epi16(S16, bs[t]), _mm256_set1_epi32(off_shift));
                const __m512i is = _mm512_sub_epi32(kpack_dot(u, xv[t], sp0, sp1), _mm512_castsi256_si512(off));
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(d * xt[t][b].d), acc[r][t]);
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
 * IQ4_XS decode. qs byte 16i + l of a super-block holds elements 32i + l
 * (low nibble) and 32i + 16 + l (high); each token's activations are
 * permuted once per call to the same places (iqx), so one vpdpbusd per 64
 * weights on the table levels (kvalues + 128) leaves 4 lanes per 32-element
 * sub-block, starting from -128 x the lane's activation sum. The sums are
 * at most 8 * 127 * 128 in size, exact in float: one conversion and one FMA
 * with the sub-block scales (d * scale * dx, 4 lanes each) per 128 weights.
 */
typedef struct {
    __m512i lo[2], hi[2]; /* the activations against the low / high nibbles of qs[64c..64c+63] */
    __m512i init[2];      /* -128 x each lane's 8 activations */
    float d;
} iqx;

Q512I void iqx_prep(const block_q8_K *x, iqx *o)
{
    static const uint8_t ilo[64] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 32, 33, 34, 35, 36, 37,
        38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75,
        76, 77, 78, 79, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111};
    const __m512i il = _mm512_loadu_si512(ilo), ih = _mm512_add_epi8(il, _mm512_set1_epi8(16));
    const __m512i ones = _mm512_set1_epi8(1);
    for (int c = 0; c < 2; c++) {
        const __m512i a = _mm512_loadu_si512(x->qs + 128 * c), b = _mm512_loadu_si512(x->qs + 128 * c + 64);
        o->lo[c] = _mm512_permutex2var_epi8(a, il, b);
        o->hi[c] = _mm512_permutex2var_epi8(a, ih, b);
        const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, o->lo[c]), ones, o->hi[c]);
        o->init[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(s, 7));
    }
    o->d = x->d;
}

Q512I void iq4_direct_tile(const uint8_t *const *wr, size_t wnext, int64_t b0, int64_t b1, const iqx *const *xq,
                           const int nt, float res[RT][TT])
{
    static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
    const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut)), m4 = _mm512_set1_epi8(0xF);
    const __m512i rep0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i rep1 = _mm512_add_epi32(rep0, _mm512_set1_epi32(4));
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = b0; b < b1; b++) {
        UNROLL
        for (int r = 0; r < RT; r++) {
            const block_iq4_xs *k = (const block_iq4_xs *)(wr[r] + (size_t)b * sizeof(block_iq4_xs));
            pf_stream((const uint8_t *)k + wnext, sizeof(block_iq4_xs));
            /* the 8 sub-block scales times d, as floats in the low 8 lanes */
            const __m512 sd = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(iq4xs_scales(k))),
                                                                   _mm256_set1_ps(h2f(k->d))));
            __m512i u[2][2];
            UNROLL
            for (int c = 0; c < 2; c++) {
                const __m512i q = _mm512_loadu_si512(k->qs + 64 * c);
                u[c][0] = _mm512_shuffle_epi8(tbl, _mm512_and_si512(q, m4));
                u[c][1] = _mm512_shuffle_epi8(tbl, hi_nibbles(q));
            }
            const __m512 s0 = _mm512_permutexvar_ps(rep0, sd), s1 = _mm512_permutexvar_ps(rep1, sd);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const iqx *x = &xq[t][b - b0];
                const __m512i P0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->init[0], u[0][0], x->lo[0]), u[0][1], x->hi[0]);
                const __m512i P1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->init[1], u[1][0], x->lo[1]), u[1][1], x->hi[1]);
                const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(P1), s1, _mm512_mul_ps(_mm512_cvtepi32_ps(P0), s0));
                acc[r][t] = _mm512_fmadd_ps(f, _mm512_set1_ps(x->d), acc[r][t]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]);
}

/* The RT row pointers of the decode tile at row r0 (a short last tile repeats its last row); returns how many exist. */
static inline int tile_rows(const uint8_t *W, size_t wrb, int64_t r0, int64_t rows, const uint8_t *wr[RT])
{
    const int rr = (int)q_min64(RT, rows - r0);
    for (int r = 0; r < RT; r++)
        wr[r] = W + (size_t)(r0 + (r < rr ? r : rr - 1)) * wrb;
    return rr;
}

/* Stores (or adds, for a later segment of the rows) a decode tile's results for tt tokens. */
static inline void tile_out(float *out, size_t os, int64_t r0, int rr, int tt, bool add, const float res[RT][TT])
{
    for (int t = 0; t < tt; t++)
        for (int r = 0; r < rr; r++) {
            float *o = &out[(size_t)t * os + (size_t)(r0 + r)];
            *o = add ? *o + res[r][t] : res[r][t];
        }
}

#define KSEG 32 /* super-blocks of activations prepared at a time in decode (n <= 8192: one segment) */

/*
 * Q4_K, Q5_K and IQ4_XS decode: each token's activations are permuted for
 * the tile (k4x, iqx) once per segment of KSEG super-blocks; type is a
 * constant in every instantiation.
 */
Q512I void gemm_kseg_direct(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n,
                            const uint8_t *X, size_t arb, int64_t ntok, float *out, size_t os)
{
    const bool iq = type == GGML_TYPE_IQ4_XS, five = type == GGML_TYPE_Q5_K;
    const int64_t nbt = n / QK_K;
    const int tt = (int)ntok; /* <= 2 (q_gemm_avx512 sends more tokens to gemm_kt) */
    union {
        k4x k4[TT / 2][KSEG];
        iqx iq[TT / 2][KSEG];
    } xs __attribute__((aligned(64)));
    const k4x *x4[TT / 2] = {xs.k4[0], xs.k4[tt - 1]};
    const iqx *xi[TT / 2] = {xs.iq[0], xs.iq[tt - 1]};
    for (int64_t s0 = 0; s0 < nbt; s0 += KSEG) {
        const int64_t s1 = q_min64(nbt, s0 + KSEG);
        for (int t = 0; t < tt; t++)
            for (int64_t b = s0; b < s1; b++) {
                const block_q8_K *x = (const block_q8_K *)(X + (size_t)t * arb) + b;
                if (iq)
                    iqx_prep(x, &xs.iq[t][b - s0]);
                else
                    k4x_prep(x, &xs.k4[t][b - s0]);
            }
        for (int64_t r0 = 0; r0 < rows; r0 += RT) {
            const uint8_t *wr[RT];
            const int rr = tile_rows(W, wrb, r0, rows, wr);
            const size_t pf = pf_offset(r0, rows, wrb);
            float res[RT][TT];
            if (iq && tt == 1)
                iq4_direct_tile(wr, pf, s0, s1, xi, 1, res);
            else if (iq)
                iq4_direct_tile(wr, pf, s0, s1, xi, 2, res);
            else if (tt == 1)
                k4_direct_tile(five, wr, pf, s0, s1, x4, 1, res);
            else
                k4_direct_tile(five, wr, pf, s0, s1, x4, 2, res);
            tile_out(out, os, r0, rr, tt, s0 > 0, res);
        }
    }
}

Q512I void gemm_k_direct(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n,
                         const uint8_t *X, size_t arb, int64_t ntok, float *out, size_t os)
{
    if (type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q5_K || type == GGML_TYPE_IQ4_XS) {
        gemm_kseg_direct(type, W, wrb, rows, n, X, arb, ntok, out, os);
        return;
    }
    const int64_t nbt = n / QK_K;
    const int tt = (int)ntok; /* <= 2 */
    const block_q8_K *xt[TT];
    UNROLL
    for (int t = 0; t < TT; t++)
        xt[t] = (const block_q8_K *)(X + (size_t)(t < tt ? t : tt - 1) * arb);
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const uint8_t *wr[RT];
        const int rr = tile_rows(W, wrb, r0, rows, wr);
        float res[RT][TT];
        const size_t pf = pf_offset(r0, rows, wrb);
        if (type == GGML_TYPE_Q6_K || type == GGML_TYPE_Q3_K) {
            if (tt == 1)
                k16_direct_tile(type, wr, pf, nbt, xt, 1, res);
            else
                k16_direct_tile(type, wr, pf, nbt, xt, 2, res);
        } else if (tt == 1) { /* Q2_K */
            kdirect_tile(wr, pf, nbt, xt, 1, res);
        } else {
            kdirect_tile(wr, pf, nbt, xt, 2, res);
        }
        tile_out(out, os, r0, rr, tt, false, res);
    }
}

/*
 * Prompts (more than 2 tokens): 16 rows at a time, one per 32-bit lane. A
 * chunk of the 16 rows' super-blocks is decoded once into ktdec's
 * row-interleaved form (u[g] holds elements 4g..4g+3 of every row), and
 * each vpdpbusd multiplies those 64 levels by one token's 4 activations,
 * broadcast from memory: lane r accumulates row r's sum over a sub-block
 * (16 or 32 elements) with no shuffles and no packing. One float
 * multiply-add per sub-block applies the 16 rows' scales; the offset term
 * is 8 vpdpwssd per super-block on Q8_K's 16-element sums; each token's
 * result is a vector of 16 consecutive outputs. Per 256 weights, row and
 * token: 4 vpdpbusd and about 1.3 other vector operations (the previous
 * 4-row tiles needed 7: packs, vpmaddwd/vpdpwssd, a scale multiply).
 */
#define KR 16 /* rows per prompt tile: one per 32-bit lane */
#define KT 8  /* tokens per prompt tile */
#define KB 8  /* super-blocks decoded per chunk */

/*
 * One row's super-block as levels u (unsigned, element order) and, per 16
 * elements i, a float scale sf[i] and an integer offset coefficient c[i]
 * with a float factor f: w = sf[i] * u - f * c[i]. Q4_K/Q5_K/Q2_K: sf = d *
 * scale, c = min, f = dmin; the symmetric types (levels = q + off): sf = d *
 * scale, c = off * scale, f = d.
 */
typedef struct {
    __m512i u[4];
    __m512 sf;
    __m512i c; /* 16 words in the low half, zeros above */
    float f;
} krow;

/* 16 rows' super-blocks of one chunk, interleaved: row r is 32-bit lane r of every vector. */
typedef struct {
    __m512i u[64]; /* u[g]: levels of elements 4g..4g+3 */
    __m512 sf[16]; /* sf[i]: the scale of elements 16i..16i+15 */
    __m512i c[8];  /* c[p]: words c[2p], c[2p+1] (pairs, as vpdpwssd takes Q8_K's bsums[2p], bsums[2p+1]) */
    __m512 f;
} ktdec;

Q512I void krow_decode(uint32_t type, const uint8_t *blk, krow *o)
{
    static const int16_t dup[16] __attribute__((aligned(32))) = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7};
    __m256i S16, C16;
    float d, f;
    switch (type) {
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: {
        const bool five = type == GGML_TYPE_Q5_K;
        const __m256i sm = q4k_scales_mins(blk + offsetof(block_q4_K, scales)); /* 8 scales, 8 mins */
        const __m256i di = _mm256_load_si256((const __m256i *)dup);
        S16 = _mm256_permutexvar_epi16(di, sm);
        C16 = _mm256_permutexvar_epi16(_mm256_add_epi16(di, _mm256_set1_epi16(8)), sm);
        uint32_t dd;
        memcpy(&dd, blk, sizeof dd); /* d, dmin: first in both types */
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dd));
        d = _mm_cvtss_f32(dm), f = _mm_cvtss_f32(_mm_movehdup_ps(dm));
        if (five)
            q4k_levels(((const block_q5_K *)blk)->qs, ((const block_q5_K *)blk)->qh, o->u);
        else
            q4k_levels(((const block_q4_K *)blk)->qs, NULL, o->u);
        break;
    }
    case GGML_TYPE_Q6_K:
        S16 = q6k_levels((const block_q6_K *)blk, o->u);
        C16 = _mm256_slli_epi16(S16, 5);
        d = f = h2f(((const block_q6_K *)blk)->d);
        break;
    case GGML_TYPE_Q3_K:
        S16 = q3k_levels((const block_q3_K *)blk, o->u);
        C16 = _mm256_slli_epi16(S16, 2);
        d = f = h2f(((const block_q3_K *)blk)->d);
        break;
    case GGML_TYPE_Q2_K: {
        const block_q2_K *b = (const block_q2_K *)blk;
        const __m256i sm = q2k_levels(b, o->u);
        S16 = _mm256_and_si256(sm, _mm256_set1_epi16(0xF));
        C16 = _mm256_srli_epi16(sm, 4);
        d = h2f(b->d), f = h2f(b->dmin);
        break;
    }
    default: { /* IQ4_XS: levels kvalues + 128 */
        const block_iq4_xs *b = (const block_iq4_xs *)blk;
        S16 = _mm256_permutexvar_epi16(_mm256_load_si256((const __m256i *)dup),
                                       _mm256_castsi128_si256(iq4xs_levels(b, o->u)));
        C16 = _mm256_slli_epi16(S16, 7);
        d = f = h2f(b->d);
        break;
    }
    }
    o->sf = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(S16)), _mm512_set1_ps(d));
    o->c = _mm512_zextsi256_si512(C16);
    o->f = f;
}

/* The 16x16 transpose of 32-bit elements: lane j of out[i] is lane i of in[j]. */
Q512I void tr16(const __m512i in[16], __m512i out[16])
{
    __m512i s1[16], s2[16];
    UNROLL
    for (int i = 0; i < 8; i++) {
        s1[2 * i] = _mm512_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        s1[2 * i + 1] = _mm512_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    /* s2[4i + m], 128-bit lane L: element 4L + m of rows 4i..4i+3 */
    UNROLL
    for (int i = 0; i < 4; i++) {
        s2[4 * i + 0] = _mm512_unpacklo_epi64(s1[4 * i], s1[4 * i + 2]);
        s2[4 * i + 1] = _mm512_unpackhi_epi64(s1[4 * i], s1[4 * i + 2]);
        s2[4 * i + 2] = _mm512_unpacklo_epi64(s1[4 * i + 1], s1[4 * i + 3]);
        s2[4 * i + 3] = _mm512_unpackhi_epi64(s1[4 * i + 1], s1[4 * i + 3]);
    }
    /* then a 4x4 transpose of 128-bit lanes for each m */
    UNROLL
    for (int m = 0; m < 4; m++) {
        const __m512i p0 = _mm512_shuffle_i32x4(s2[m], s2[4 + m], 0x88), p1 = _mm512_shuffle_i32x4(s2[m], s2[4 + m], 0xDD);
        const __m512i q0 = _mm512_shuffle_i32x4(s2[8 + m], s2[12 + m], 0x88);
        const __m512i q1 = _mm512_shuffle_i32x4(s2[8 + m], s2[12 + m], 0xDD);
        out[m] = _mm512_shuffle_i32x4(p0, q0, 0x88);
        out[4 + m] = _mm512_shuffle_i32x4(p1, q1, 0x88);
        out[8 + m] = _mm512_shuffle_i32x4(p0, q0, 0xDD);
        out[12 + m] = _mm512_shuffle_i32x4(p1, q1, 0xDD);
    }
}

/* Decodes and interleaves one super-block of rows blk, blk + wrb, ... (rr of them; the last repeats). */
Q512 static void kt_decode(uint32_t type, const uint8_t *blk, size_t wrb, int rr, ktdec *o)
{
    krow row[KR];
    for (int r = 0; r < KR; r++)
        krow_decode(type, blk + (size_t)(r < rr ? r : rr - 1) * wrb, &row[r]);
    __m512i in[KR], t[16];
    for (int c = 0; c < 4; c++) {
        for (int r = 0; r < KR; r++)
            in[r] = row[r].u[c];
        tr16(in, o->u + 16 * c);
    }
    for (int r = 0; r < KR; r++)
        in[r] = _mm512_castps_si512(row[r].sf);
    tr16(in, t);
    for (int i = 0; i < 16; i++)
        o->sf[i] = _mm512_castsi512_ps(t[i]);
    for (int r = 0; r < KR; r++)
        in[r] = row[r].c;
    tr16(in, t);
    for (int p = 0; p < 8; p++)
        o->c[p] = t[p];
    float f[KR];
    for (int r = 0; r < KR; r++)
        f[r] = row[r].f;
    o->f = _mm512_loadu_ps(f);
}

Q512I __m512i bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* Stores (or adds, for later chunks) the 16-row results of tt tokens at o, o + os, ...; m: the rows that exist. */
Q512I void t16_store(float *o, size_t os, int tt, __mmask16 m, bool add, const __m512 acc[KT])
{
    for (int t = 0; t < tt; t++, o += os)
        _mm512_mask_storeu_ps(o, m, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), acc[t]) : acc[t]);
}

/*
 * acc[t] = the 16 rows' products with token t over nb decoded super-blocks;
 * L: elements per sub-block (16 or 32), the span of one integer sum.
 */
Q512I void kt_tile(const ktdec *dec, int64_t nb, const block_q8_K *const *xt, const int nt, const int L, __m512 acc[KT])
{
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const ktdec *k = &dec[b];
        __m512 a[KT];
        UNROLL
        for (int t = 0; t < nt; t++)
            a[t] = _mm512_setzero_ps();
        for (int j = 0; j < QK_K / L; j++) {
            __m512i S[KT];
            UNROLL
            for (int t = 0; t < nt; t++)
                S[t] = _mm512_setzero_si512();
            UNROLL
            for (int g = 0; g < L / 4; g++) {
                const int e = j * L + 4 * g;
                const __m512i w = k->u[e / 4];
                UNROLL
                for (int t = 0; t < nt; t++)
                    S[t] = _mm512_dpbusd_epi32(S[t], w, bcast32(xt[t][b].qs + e));
            }
            const __m512 sf = k->sf[j * L / 16];
            UNROLL
            for (int t = 0; t < nt; t++)
                a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[t]), sf, a[t]);
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m512i O = _mm512_setzero_si512();
            UNROLL
            for (int p = 0; p < 8; p++)
                O = _mm512_dpwssd_epi32(O, k->c[p], bcast32(xt[t][b].bsums + 2 * p));
            a[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(O), k->f, a[t]);
            acc[t] = _mm512_fmadd_ps(a[t], _mm512_set1_ps(xt[t][b].d), acc[t]);
        }
    }
}

Q512 static void gemm_kt(uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                         size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = blk_bytes(type);
    const int64_t nbt = n / QK_K;
    const bool l16 = type == GGML_TYPE_Q6_K || type == GGML_TYPE_Q3_K || type == GGML_TYPE_Q2_K;
    ktdec dec[KB] __attribute__((aligned(64)));
    for (int64_t r0 = 0; r0 < rows; r0 += KR) {
        const int rr = (int)q_min64(KR, rows - r0);
        const __mmask16 m = (__mmask16)((1u << rr) - 1);
        for (int64_t b0 = 0; b0 < nbt; b0 += KB) {
            const int64_t nb = q_min64(KB, nbt - b0);
            for (int64_t b = 0; b < nb; b++)
                kt_decode(type, W + (size_t)r0 * wrb + (size_t)(b0 + b) * bsz, wrb, rr, &dec[b]);
            for (int64_t t0 = 0; t0 < ntok; t0 += KT) {
                const int tt = (int)q_min64(KT, ntok - t0);
                const block_q8_K *xt[KT];
                UNROLL
                for (int t = 0; t < KT; t++)
                    xt[t] = (const block_q8_K *)(X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb) + b0;
                __m512 acc[KT];
                /* an odd last tile repeats its last token */
                switch ((tt + 1) / 2 * 2 + l16) {
                case 2: kt_tile(dec, nb, xt, 2, 32, acc); break;
                case 3: kt_tile(dec, nb, xt, 2, 16, acc); break;
                case 4: kt_tile(dec, nb, xt, 4, 32, acc); break;
                case 5: kt_tile(dec, nb, xt, 4, 16, acc); break;
                case 6: kt_tile(dec, nb, xt, 6, 32, acc); break;
                case 7: kt_tile(dec, nb, xt, 6, 16, acc); break;
                case 8: kt_tile(dec, nb, xt, 8, 32, acc); break;
                default: kt_tile(dec, nb, xt, 8, 16, acc); break;
                }
                t16_store(out + (size_t)t0 * os + (size_t)r0, os, tt, m, b0 > 0, acc);
            }
        }
    }
}

/* ---------------- 32-element block types with Q8_0 activations ---------------- */

/*
 * Four blocks ("a quad", 128 weights) per step. Register lo holds elements
 * 0-15 of blocks A, B, C, D and hi elements 16-31, as unsigned levels; the
 * activations are permuted the same way, so vpdpbusd leaves each block's
 * sums in its 4 lanes and one scale multiply per 128 weights follows.
 * w = d * level + m per lane (m only for Q4_1/Q5_1; the symmetric types
 * subtract offset * sum(x) instead). A missing block at the end of a row
 * repeats an existing one and meets zero activations.
 */
typedef struct {
    __m512i lo, hi;
    __m512 d, m;
} qdec;

Q512I __m512 quad_scales(uint16_t a, uint16_t b, uint16_t c, uint16_t d)
{
    static const int32_t idx[16] __attribute__((aligned(64))) = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    const uint64_t h = (uint64_t)a | ((uint64_t)b << 16) | ((uint64_t)c << 32) | ((uint64_t)d << 48);
    return _mm512_permutexvar_ps(_mm512_load_si512(idx), _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)h))));
}

/* 32-byte arrays of four blocks split into halves: lo = first 16 bytes of each, hi = last 16. */
Q512I void split32(const int8_t *a, const int8_t *b, const int8_t *c, const int8_t *d, __m512i *lo, __m512i *hi)
{
    __m512i t0 = cat256(_mm256_loadu_si256((const __m256i *)a), _mm256_loadu_si256((const __m256i *)b));
    __m512i t1 = cat256(_mm256_loadu_si256((const __m256i *)c), _mm256_loadu_si256((const __m256i *)d));
    *lo = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
    *hi = _mm512_shuffle_i64x2(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
}

/* Nibbles of four 16-byte qs arrays: lo = low nibbles (elements 0-15), hi = high (16-31). */
Q512I void nib4(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d, __m512i *lo, __m512i *hi)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)a));
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)b), 1);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)c), 2);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)d), 3);
    *lo = _mm512_and_si512(q, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
}

/* The 5th bits of four Q5 blocks (qh words) into lo/hi as 0x10. */
Q512I void hbits4(uint32_t a, uint32_t b, uint32_t c, uint32_t d, __m512i *lo, __m512i *hi)
{
    const uint64_t ml = (uint64_t)(a & 0xFFFF) | ((uint64_t)(b & 0xFFFF) << 16) | ((uint64_t)(c & 0xFFFF) << 32) |
                        ((uint64_t)(d & 0xFFFF) << 48);
    const uint64_t mh = (uint64_t)(a >> 16) | ((uint64_t)(b >> 16) << 16) | ((uint64_t)(c >> 16) << 32) |
                        ((uint64_t)(d >> 16) << 48);
    const __m512i bit = _mm512_set1_epi8(0x10);
    *lo = _mm512_mask_add_epi8(*lo, (__mmask64)ml, *lo, bit);
    *hi = _mm512_mask_add_epi8(*hi, (__mmask64)mh, *hi, bit);
}

/* Decodes blocks ib[0..3] of row w. */
Q512I void qdecode(const uint32_t type, const uint8_t *w, const int64_t *ib, qdec *o)
{
    switch (type) {
    case GGML_TYPE_Q8_0: {
        const block_q8_0 *B = (const block_q8_0 *)w;
        split32(B[ib[0]].qs, B[ib[1]].qs, B[ib[2]].qs, B[ib[3]].qs, &o->lo, &o->hi);
        const __m512i x80 = _mm512_set1_epi8((char)0x80);
        o->lo = _mm512_xor_si512(o->lo, x80);
        o->hi = _mm512_xor_si512(o->hi, x80);
        o->d = quad_scales(B[ib[0]].d, B[ib[1]].d, B[ib[2]].d, B[ib[3]].d);
        break;
    }
    case GGML_TYPE_Q4_1: {
        const block_q4_1 *B = (const block_q4_1 *)w;
        nib4(B[ib[0]].qs, B[ib[1]].qs, B[ib[2]].qs, B[ib[3]].qs, &o->lo, &o->hi);
        o->d = quad_scales(B[ib[0]].d, B[ib[1]].d, B[ib[2]].d, B[ib[3]].d);
        o->m = quad_scales(B[ib[0]].m, B[ib[1]].m, B[ib[2]].m, B[ib[3]].m);
        break;
    }
    case GGML_TYPE_Q5_0: {
        const block_q5_0 *B = (const block_q5_0 *)w;
        uint32_t h[4];
        UNROLL
        for (int k = 0; k < 4; k++)
            memcpy(&h[k], B[ib[k]].qh, 4);
        nib4(B[ib[0]].qs, B[ib[1]].qs, B[ib[2]].qs, B[ib[3]].qs, &o->lo, &o->hi);
        hbits4(h[0], h[1], h[2], h[3], &o->lo, &o->hi);
        o->d = quad_scales(B[ib[0]].d, B[ib[1]].d, B[ib[2]].d, B[ib[3]].d);
        break;
    }
    case GGML_TYPE_Q5_1: {
        const block_q5_1 *B = (const block_q5_1 *)w;
        uint32_t h[4];
        UNROLL
        for (int k = 0; k < 4; k++)
            memcpy(&h[k], B[ib[k]].qh, 4);
        nib4(B[ib[0]].qs, B[ib[1]].qs, B[ib[2]].qs, B[ib[3]].qs, &o->lo, &o->hi);
        hbits4(h[0], h[1], h[2], h[3], &o->lo, &o->hi);
        o->d = quad_scales(B[ib[0]].d, B[ib[1]].d, B[ib[2]].d, B[ib[3]].d);
        o->m = quad_scales(B[ib[0]].m, B[ib[1]].m, B[ib[2]].m, B[ib[3]].m);
        break;
    }
    default: { /* Q4_0, IQ4_NL: same 18-byte layout */
        const block_q4_0 *B = (const block_q4_0 *)w;
        nib4(B[ib[0]].qs, B[ib[1]].qs, B[ib[2]].qs, B[ib[3]].qs, &o->lo, &o->hi);
        if (type == GGML_TYPE_IQ4_NL) {
            static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
            const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut));
            o->lo = _mm512_shuffle_epi8(tbl, o->lo);
            o->hi = _mm512_shuffle_epi8(tbl, o->hi);
        }
        o->d = quad_scales(B[ib[0]].d, B[ib[1]].d, B[ib[2]].d, B[ib[3]].d);
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

/* The block indices of quad g (clamped to the row) and which exist. */
static inline __attribute__((always_inline)) void quad_index(int64_t g, int64_t nbt, int64_t ib[4], bool have[4])
{
    UNROLL
    for (int k = 0; k < 4; k++) {
        have[k] = 4 * g + k < nbt;
        ib[k] = have[k] ? 4 * g + k : 4 * g;
    }
}

/* One token's activations of quad g, with the offset correction (init) or the sum term (xsf). */
typedef struct {
    __m512i lo, hi, init;
    __m512 dx, xsf;
} qx;

/* From a quad's activations (lo, hi, dx): the offset correction (init) or the sum term (xsf) of qdot. */
Q512I void qx_sums(int sh, qx *o)
{
    const __m512i ones = _mm512_set1_epi8(1);
    const __m512i s4 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, o->lo), ones, o->hi);
    if (sh >= 0) {
        o->init = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_sllv_epi32(s4, _mm512_set1_epi32(sh)));
        o->xsf = _mm512_setzero_ps();
    } else {
        o->init = _mm512_setzero_si512();
        o->xsf = _mm512_mul_ps(_mm512_cvtepi32_ps(s4), o->dx);
    }
}

Q512I void qprep(const block_q8_0 *x, const int64_t *ib, const bool *have, int sh, qx *o)
{
    static const int8_t zero[32];
    split32(x[ib[0]].qs, have[1] ? x[ib[1]].qs : zero, have[2] ? x[ib[2]].qs : zero, have[3] ? x[ib[3]].qs : zero,
            &o->lo, &o->hi);
    o->dx = quad_scales(x[ib[0]].d, have[1] ? x[ib[1]].d : 0, have[2] ? x[ib[2]].d : 0, have[3] ? x[ib[3]].d : 0);
    qx_sums(sh, o);
}

Q512I __m512 qdot(const qdec *k, const qx *x, int sh, __m512 acc)
{
    __m512i v = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->init, k->lo, x->lo), k->hi, x->hi);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(k->d, x->dx), acc);
    if (sh < 0)
        acc = _mm512_fmadd_ps(k->m, x->xsf, acc);
    return acc;
}

/*
 * Full quads in decode. Four consecutive blocks are 72-136 contiguous bytes:
 * they are loaded as whole vectors, one byte permute (VBMI) picks out the
 * levels in qdecode's order and one word permute the four scales, each
 * repeated for its block's four lanes. This replaces qdecode/qprep's
 * block-by-block loads and scalar packing of the scales, which made the
 * one-token kernels compute-bound; those still serve a row's partial last
 * quad and the prompt kernels. Types: those with fq_type().
 */
typedef struct {
    __m512i lo, hi; /* byte indices of the levels: lo into (p, p+64); hi too, or into (p+8, p+72) for Q8_0 */
    __m512i d, m;   /* word indices of the scales and mins (low 16 words used) */
} fq_ix;

static inline bool fq_type(uint32_t type)
{
    return type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0 || type == GGML_TYPE_IQ4_NL || type == GGML_TYPE_Q4_1;
}

/* Byte i of the result is byte off + bsz * (i / 16) + i % 16 of a quad of blocks of bsz bytes (minus base). */
Q512I __m512i fq_bytes(int bsz, int off)
{
    static const uint8_t iota[64] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                     22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
                                     44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
    const __m512i i = _mm512_loadu_si512(iota);
    const __m512i k = _mm512_and_si512(_mm512_srli_epi16(i, 4), _mm512_set1_epi8(3));
    const int e = bsz - 16; /* i already counts 16 per block */
    const __m512i ek = _mm512_shuffle_epi8(_mm512_set4_epi32(0, 0, 0, (3 * e) << 24 | (2 * e) << 16 | e << 8), k);
    return _mm512_add_epi8(_mm512_add_epi8(i, ek), _mm512_set1_epi8((char)off));
}

/* Word w of the result is word off + (bsz / 2) * (w / 4): a field of block w / 4, for its 4 lanes. */
Q512I __m512i fq_words(int bsz, int off)
{
    const __m512i w = _mm512_setr_epi32(0, 0, 0x00010001, 0x00010001, 0x00020002, 0x00020002, 0x00030003, 0x00030003,
                                        0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_add_epi16(_mm512_mullo_epi16(w, _mm512_set1_epi16((short)(bsz / 2))), _mm512_set1_epi16((short)off));
}

Q512I fq_ix fq_indices(uint32_t type)
{
    fq_ix ix;
    switch (type) {
    case GGML_TYPE_Q8_0: /* d, qs[32] */
        ix.lo = fq_bytes(34, 2), ix.hi = fq_bytes(34, 18 - 8), ix.d = fq_words(34, 0), ix.m = ix.d;
        break;
    case GGML_TYPE_Q4_1: /* d, m, qs[16] */
        ix.lo = fq_bytes(20, 4), ix.hi = ix.lo, ix.d = fq_words(20, 0), ix.m = fq_words(20, 1);
        break;
    default: /* Q4_0, IQ4_NL: d, qs[16] */
        ix.lo = fq_bytes(18, 2), ix.hi = ix.lo, ix.d = fq_words(18, 0), ix.m = ix.d;
        break;
    }
    return ix;
}

Q512I __m512 fq_half(__m512i words)
{
    return _mm512_cvtph_ps(_mm512_castsi512_si256(words));
}

/* The levels and scales of the full quad at p (four blocks of a type with fq_type), as qdecode. */
Q512I void fq_decode(const uint32_t type, const uint8_t *p, const fq_ix *ix, qdec *o)
{
    const __m512i v0 = _mm512_loadu_si512(p);
    if (type == GGML_TYPE_Q8_0) {
        const __m512i v1 = _mm512_loadu_si512(p + 64), x80 = _mm512_set1_epi8((char)0x80);
        o->lo = _mm512_xor_si512(_mm512_permutex2var_epi8(v0, ix->lo, v1), x80);
        o->hi = _mm512_xor_si512(
            _mm512_permutex2var_epi8(_mm512_loadu_si512(p + 8), ix->hi, _mm512_loadu_si512(p + 72)), x80);
        o->d = fq_half(_mm512_permutex2var_epi16(v0, ix->d, v1));
        return;
    }
    /* the quad's bytes past 64 (8 or 16): nothing read past the quad (the permute reads only those) */
    const __m512i v1 = _mm512_castsi128_si512(type == GGML_TYPE_Q4_1 ? _mm_loadu_si128((const __m128i *)(p + 64))
                                                                     : _mm_loadl_epi64((const __m128i *)(p + 64)));
    const __m512i q = _mm512_permutex2var_epi8(v0, ix->lo, v1), m4 = _mm512_set1_epi8(0xF);
    o->lo = _mm512_and_si512(q, m4);
    o->hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    if (type == GGML_TYPE_IQ4_NL) {
        static const uint8_t lut[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};
        const __m512i tbl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)lut));
        o->lo = _mm512_shuffle_epi8(tbl, o->lo);
        o->hi = _mm512_shuffle_epi8(tbl, o->hi);
    }
    o->d = fq_half(_mm512_permutexvar_epi16(ix->d, v0));
    if (type == GGML_TYPE_Q4_1)
        o->m = fq_half(_mm512_permutexvar_epi16(ix->m, v0));
}

/* One token's activations of the full quad at x (four Q8_0 blocks), as qprep; ix: fq_indices(Q8_0). */
Q512I void fq_prep(const block_q8_0 *x, const fq_ix *ix, int sh, qx *o)
{
    const uint8_t *p = (const uint8_t *)x;
    const __m512i v0 = _mm512_loadu_si512(p), v1 = _mm512_loadu_si512(p + 64);
    o->lo = _mm512_permutex2var_epi8(v0, ix->lo, v1);
    o->hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(p + 8), ix->hi, _mm512_loadu_si512(p + 72));
    o->dx = fq_half(_mm512_permutex2var_epi16(v0, ix->d, v1));
    qx_sums(sh, o);
}

/*
 * Q4_0's full quads g0 .. g1 at one or two tokens, rows in pairs. Each
 * row's quad sums (16 lanes, 4 per block: sums of 8 products (level - 8) x,
 * |sum| <= 8 * 8 * 127, so 16 bits hold them exactly) are packed with its
 * pair's by vpackssdw and added in adjacent twos by vpmaddwd, leaving in
 * 128-bit lane L two lanes of block L of the first row, then two of the
 * second. So one word permute gathers the pair's 8 scales, and one
 * conversion, one multiply and one FMA scale both rows: per 4 blocks and
 * row 2.5 vector operations on scales instead of 5. accp[q][t]: row 2q in
 * lanes 4L + 0, 1 (mask 0x3333), row 2q + 1 in lanes 4L + 2, 3 (0xCCCC).
 */
Q512I void q40_pairs(const uint8_t *const *wr, size_t wnext, int64_t g0, int64_t g1, const qx *const *xq, const int nt,
                     __m512 accp[RT / 2][TT])
{
    /* pidx word i < 16: the scale word of lane i (block L = i / 4 of row a: word 9L; of row b: 32 + 9L) */
    static const int16_t pidx[32] __attribute__((aligned(64))) = {
        0, 0, 32, 32, 9, 9, 41, 41, 18, 18, 50, 50, 27, 27, 59, 59, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const fq_ix wix = fq_indices(GGML_TYPE_Q4_0);
    const __m512i m4 = _mm512_set1_epi8(0xF), ones = _mm512_set1_epi16(1), pi = _mm512_load_si512(pidx);
    const size_t quad = 4 * sizeof(block_q4_0);
    const uint8_t *w[RT];
    UNROLL
    for (int r = 0; r < RT; r++)
        w[r] = wr[r] + (size_t)g0 * quad;
    for (int64_t g = g0; g < g1; g++) {
        UNROLL
        for (int q = 0; q < RT / 2; q++) {
            __m512i v0[2], lo[2], hi[2];
            UNROLL
            for (int i = 0; i < 2; i++) {
                const uint8_t *p = w[2 * q + i];
                pf_stream(p + wnext, quad);
                v0[i] = _mm512_loadu_si512(p);
                /* the quad's last 8 bytes: nothing read past the quad */
                const __m512i tail = _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)(p + 64)));
                const __m512i qb = _mm512_permutex2var_epi8(v0[i], wix.lo, tail);
                lo[i] = _mm512_and_si512(qb, m4);
                hi[i] = hi_nibbles(qb);
            }
            const __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(v0[0], pi, v0[1])));
            UNROLL
            for (int t = 0; t < nt; t++) {
                const qx *x = &xq[t][g - g0];
                const __m512i va = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->init, lo[0], x->lo), hi[0], x->hi);
                const __m512i vb = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->init, lo[1], x->lo), hi[1], x->hi);
                const __m512i s2 = _mm512_madd_epi16(_mm512_packs_epi32(va, vb), ones);
                accp[q][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s2), _mm512_mul_ps(d, x->dx), accp[q][t]);
            }
        }
        UNROLL
        for (int r = 0; r < RT; r++)
            w[r] += quad;
    }
}

/*
 * Few tokens (nt <= 2): decode in registers, prefetching the next row tile.
 * Quads g0 .. g1 of the rows; xq[t][g - g0]: token t's activations of quad
 * g, prepared once per call (gemm_q_direct) and read from L1 by every tile.
 */
Q512I void qdirect_tile(const uint32_t type, const uint8_t *const *wr, size_t wnext, size_t bsz, int64_t g0,
                        int64_t g1, int64_t nbt, const qx *const *xq, const int nt, float res[RT][TT])
{
    const int sh = p_offset_shift(type);
    __m512 acc[RT][TT];
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm512_setzero_ps();
    const int64_t gf = fq_type(type) ? q_max64(g0, q_min64(g1, nbt / 4)) : g0; /* full quads end */
    __m512 accp[RT / 2][TT]; /* Q4_0's row pairs (q40_pairs) */
    UNROLL
    for (int q = 0; q < RT / 2; q++)
        UNROLL
        for (int t = 0; t < nt; t++)
            accp[q][t] = _mm512_setzero_ps();
    if (type == GGML_TYPE_Q4_0 && gf > g0) {
        q40_pairs(wr, wnext, g0, gf, xq, nt, accp);
    } else if (gf > g0) { /* full quads: whole-vector loads */
        const fq_ix wix = fq_indices(type);
        const uint8_t *w[RT];
        UNROLL
        for (int r = 0; r < RT; r++)
            w[r] = wr[r] + (size_t)(4 * g0) * bsz;
        for (int64_t g = g0; g < gf; g++) {
            UNROLL
            for (int r = 0; r < RT; r++) {
                pf_stream(w[r] + wnext, 4 * bsz);
                qdec k;
                fq_decode(type, w[r], &wix, &k);
                w[r] += 4 * bsz;
                UNROLL
                for (int t = 0; t < nt; t++)
                    acc[r][t] = qdot(&k, &xq[t][g - g0], sh, acc[r][t]);
            }
        }
    }
    for (int64_t g = gf; g < g1; g++) { /* block by block: other types, a partial last quad */
        int64_t ib[4];
        bool have[4];
        quad_index(g, nbt, ib, have);
        UNROLL
        for (int r = 0; r < RT; r++) {
            pf_span(wr[r] + wnext + (size_t)(4 * g) * bsz, 4 * bsz);
            qdec k;
            qdecode(type, wr[r], ib, &k);
            UNROLL
            for (int t = 0; t < nt; t++)
                acc[r][t] = qdot(&k, &xq[t][g - g0], sh, acc[r][t]);
        }
    }
    UNROLL
    for (int r = 0; r < RT; r++)
        UNROLL
        for (int t = 0; t < nt; t++)
            res[r][t] = _mm512_reduce_add_ps(acc[r][t]) +
                        _mm512_mask_reduce_add_ps(r % 2 ? 0xCCCC : 0x3333, accp[r / 2][t]);
}

#define QSEG 64 /* quads of activations prepared at a time in decode (n <= 8192: one segment) */

/*
 * Decode (1-2 tokens): row tiles decoded in registers (qdirect_tile). Each
 * token's activations are permuted into qdot's order (and their sums
 * taken) once per segment of QSEG quads, not once per row tile.
 */
Q512I void gemm_q_direct(const uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n,
                         const uint8_t *X, size_t arb, int64_t ntok, float *out, size_t os)
{
    const size_t bsz = blk_bytes(type);
    const int64_t nbt = n / 32, ng = (nbt + 3) / 4;
    const int tt = (int)ntok, sh = p_offset_shift(type);
    const fq_ix xix = fq_indices(GGML_TYPE_Q8_0);
    qx xs[TT / 2][QSEG] __attribute__((aligned(64)));
    const qx *xq[TT / 2] = {xs[0], xs[tt - 1]};
    for (int64_t s0 = 0; s0 < ng; s0 += QSEG) {
        const int64_t s1 = q_min64(ng, s0 + QSEG);
        for (int t = 0; t < tt; t++) {
            const block_q8_0 *x = (const block_q8_0 *)(X + (size_t)t * arb);
            for (int64_t g = s0; g < s1; g++) {
                if (4 * g + 4 <= nbt) {
                    fq_prep(x + 4 * g, &xix, sh, &xs[t][g - s0]);
                } else {
                    int64_t ib[4];
                    bool have[4];
                    quad_index(g, nbt, ib, have);
                    qprep(x, ib, have, sh, &xs[t][g - s0]);
                }
            }
        }
        for (int64_t r0 = 0; r0 < rows; r0 += RT) {
            const uint8_t *wr[RT];
            const int rr = tile_rows(W, wrb, r0, rows, wr);
            float res[RT][TT];
            if (tt == 1)
                qdirect_tile(type, wr, pf_offset(r0, rows, wrb), bsz, s0, s1, nbt, xq, 1, res);
            else
                qdirect_tile(type, wr, pf_offset(r0, rows, wrb), bsz, s0, s1, nbt, xq, 2, res);
            tile_out(out, os, r0, rr, tt, s0 > 0, res);
        }
    }
}

/*
 * Prompts (more than 2 tokens), the same way as the K-quants' (gemm_kt): 16
 * rows, one per 32-bit lane, decoded a chunk of QB blocks at a time into
 * qtdec's interleaved form; per block and token, 8 vpdpbusd on activations
 * broadcast from memory and one float multiply-add with the rows' scales
 * times the token's. The symmetric types' offset (w = d * (u - off)) is
 * subtracted in integers first, as the token's level sum (from the tail of
 * its activation row, q_act_row_bytes) times off; Q4_1/Q5_1's min term
 * (w = d * u + m) is one more multiply-add per block and token.
 */
#define QB 32 /* blocks decoded per prompt chunk (a multiple of 16) */

typedef struct {
    __m512i u[8 * QB]; /* u[8b + g]: levels of elements 4g..4g+3 of block b of each row */
    __m512 d[QB];      /* each row's scale of block b */
    __m512 m[QB];      /* each row's min of block b (Q4_1/Q5_1) */
} qtdec;

/* Decodes and interleaves blocks b0 .. b0+nb (b0 a multiple of 16) of rows W, W + wrb, ... (rr; the last repeats). */
Q512 static void qt_decode(uint32_t type, const uint8_t *W, size_t wrb, int rr, int64_t b0, int64_t nb, int64_t nbt,
                          qtdec *o)
{
    const bool mins = p_offset_shift(type) < 0;
    const __m512i e0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), e1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    for (int64_t s0 = 0; s0 < nb; s0 += 16) {
        __m512i lv[8][KR];
        float dr[KR][16], mr[KR][16];
        for (int r = 0; r < KR; r++) {
            const uint8_t *w = W + (size_t)(r < rr ? r : rr - 1) * wrb;
            for (int q = 0; q < 4; q++) {
                const int64_t g = (b0 + s0) / 4 + q;
                if (4 * g >= nbt) { /* past the row: never read by the tile */
                    lv[2 * q][r] = lv[2 * q + 1][r] = _mm512_setzero_si512();
                    memset(&dr[r][4 * q], 0, 4 * sizeof(float)), memset(&mr[r][4 * q], 0, 4 * sizeof(float));
                    continue;
                }
                int64_t ib[4];
                bool have[4];
                quad_index(g, nbt, ib, have);
                qdec k;
                k.m = _mm512_setzero_ps(); /* set by qdecode for Q4_1/Q5_1 only */
                qdecode(type, w, ib, &k);
                /* element order: blocks A, B in lv[2q], C, D in lv[2q + 1] */
                lv[2 * q][r] = _mm512_permutex2var_epi64(k.lo, e0, k.hi);
                lv[2 * q + 1][r] = _mm512_permutex2var_epi64(k.lo, e1, k.hi);
                _mm_storeu_ps(&dr[r][4 * q], _mm512_castps512_ps128(_mm512_permutexvar_ps(first, k.d)));
                _mm_storeu_ps(&mr[r][4 * q], _mm512_castps512_ps128(_mm512_permutexvar_ps(first, k.m)));
            }
        }
        for (int c = 0; c < 8; c++)
            tr16(lv[c], o->u + 8 * (s0 + 2 * c));
        __m512i in[KR], t[16];
        for (int r = 0; r < KR; r++)
            in[r] = _mm512_castps_si512(_mm512_loadu_ps(dr[r]));
        tr16(in, t);
        for (int i = 0; i < 16; i++)
            o->d[s0 + i] = _mm512_castsi512_ps(t[i]);
        if (!mins)
            continue;
        for (int r = 0; r < KR; r++)
            in[r] = _mm512_castps_si512(_mm512_loadu_ps(mr[r]));
        tr16(in, t);
        for (int i = 0; i < 16; i++)
            o->m[s0 + i] = _mm512_castsi512_ps(t[i]);
    }
}

/*
 * acc[t] = the 16 rows' products with token t over nb decoded blocks; xs[t]:
 * its blocks' scales and negated level sums; sh: log2 of the level offset
 * (symmetric types), or mins for Q4_1/Q5_1.
 */
Q512I void qt_tile(const qtdec *dec, int64_t nb, const block_q8_0 *const *xq, const q8_0_tail *const *xs, const int nt,
                   const bool mins, const __m128i sh, __m512 acc[KT])
{
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i S[KT];
        UNROLL
        for (int t = 0; t < nt; t++)
            S[t] = mins ? _mm512_setzero_si512() : _mm512_sll_epi32(bcast32(&xs[t][b].nsum), sh); /* -off * sum */
        UNROLL
        for (int g = 0; g < 8; g++) {
            const __m512i w = dec->u[8 * b + g];
            UNROLL
            for (int t = 0; t < nt; t++)
                S[t] = _mm512_dpbusd_epi32(S[t], w, bcast32(xq[t][b].qs + 4 * g));
        }
        const __m512 d = dec->d[b];
        UNROLL
        for (int t = 0; t < nt; t++) {
            const __m512 dx = _mm512_set1_ps(xs[t][b].d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[t]), _mm512_mul_ps(d, dx), acc[t]);
            if (mins) /* + m * dx * sum */
                acc[t] = _mm512_fnmadd_ps(dec->m[b], _mm512_mul_ps(_mm512_cvtepi32_ps(bcast32(&xs[t][b].nsum)), dx),
                                          acc[t]);
        }
    }
}

Q512 static void gemm_qt(uint32_t type, const uint8_t *W, size_t wrb, int64_t rows, int64_t n, const uint8_t *X,
                         size_t arb, int64_t ntok, float *out, size_t os)
{
    const int64_t nbt = n / QK8_0;
    const bool mins = p_offset_shift(type) < 0;
    const __m128i sh = _mm_cvtsi32_si128(mins ? 0 : p_offset_shift(type));
    qtdec dec __attribute__((aligned(64)));
    for (int64_t r0 = 0; r0 < rows; r0 += KR) {
        const int rr = (int)q_min64(KR, rows - r0);
        const __mmask16 m = (__mmask16)((1u << rr) - 1);
        for (int64_t b0 = 0; b0 < nbt; b0 += QB) {
            const int64_t nb = q_min64(QB, nbt - b0);
            qt_decode(type, W + (size_t)r0 * wrb, wrb, rr, b0, nb, nbt, &dec);
            for (int64_t t0 = 0; t0 < ntok; t0 += KT) {
                const int tt = (int)q_min64(KT, ntok - t0);
                const block_q8_0 *xq[KT];
                const q8_0_tail *xs[KT];
                UNROLL
                for (int t = 0; t < KT; t++) {
                    xq[t] = (const block_q8_0 *)(X + (size_t)(t0 + (t < tt ? t : tt - 1)) * arb);
                    xs[t] = (const q8_0_tail *)((const uint8_t *)xq[t] + q8_0_tail_at(n)) + b0;
                    xq[t] += b0;
                }
                __m512 acc[KT];
                switch ((tt + 1) / 2 * 2 + mins) { /* an odd last tile repeats its last token */
                case 2: qt_tile(&dec, nb, xq, xs, 2, false, sh, acc); break;
                case 3: qt_tile(&dec, nb, xq, xs, 2, true, sh, acc); break;
                case 4: qt_tile(&dec, nb, xq, xs, 4, false, sh, acc); break;
                case 5: qt_tile(&dec, nb, xq, xs, 4, true, sh, acc); break;
                case 6: qt_tile(&dec, nb, xq, xs, 6, false, sh, acc); break;
                case 7: qt_tile(&dec, nb, xq, xs, 6, true, sh, acc); break;
                case 8: qt_tile(&dec, nb, xq, xs, 8, false, sh, acc); break;
                default: qt_tile(&dec, nb, xq, xs, 8, true, sh, acc); break;
                }
                t16_store(out + (size_t)t0 * os + (size_t)r0, os, tt, m, b0 > 0, acc);
            }
        }
    }
}

/*
 * The decode kernels, one function per type (not inlined into the dispatch
 * below: in a function of their own their loop state stays in registers).
 */
#define DIRECT(T, fn)                                                                                       \
    Q512 static __attribute__((noinline)) void fn##_##T(const uint8_t *W, size_t wrb, int64_t rows, int64_t n, \
                                                       const uint8_t *X, size_t arb, int64_t ntok, float *out,    \
                                                       size_t os)                                               \
    {                                                                                                           \
        fn(GGML_TYPE_##T, W, wrb, rows, n, X, arb, ntok, out, os);                                              \
    }
DIRECT(Q8_0, gemm_q_direct)
DIRECT(Q4_0, gemm_q_direct)
DIRECT(Q4_1, gemm_q_direct)
DIRECT(Q5_0, gemm_q_direct)
DIRECT(Q5_1, gemm_q_direct)
DIRECT(IQ4_NL, gemm_q_direct)
DIRECT(Q2_K, gemm_k_direct)
DIRECT(Q3_K, gemm_k_direct)
DIRECT(Q4_K, gemm_k_direct)
DIRECT(Q5_K, gemm_k_direct)
DIRECT(Q6_K, gemm_k_direct)
DIRECT(IQ4_XS, gemm_k_direct)
#undef DIRECT

Q512 bool q_gemm_avx512(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n, const void *xq,
                        size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride)
{
    if (ntok <= 2) { /* decode: weights decoded in registers */
#define CALL(T, fn)                                                                                       \
    case GGML_TYPE_##T:                                                                                 \
        fn##_##T(W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);                     \
        return true;
        switch (wtype) {
            CALL(Q8_0, gemm_q_direct)
            CALL(Q4_0, gemm_q_direct)
            CALL(Q4_1, gemm_q_direct)
            CALL(Q5_0, gemm_q_direct)
            CALL(Q5_1, gemm_q_direct)
            CALL(IQ4_NL, gemm_q_direct)
            CALL(Q2_K, gemm_k_direct)
            CALL(Q3_K, gemm_k_direct)
            CALL(Q4_K, gemm_k_direct)
            CALL(Q5_K, gemm_k_direct)
            CALL(Q6_K, gemm_k_direct)
            CALL(IQ4_XS, gemm_k_direct)
        default:
            break;
        }
#undef CALL
    }
    /* each case instantiates its kernel with the type as a constant */
#define CALL(T, fn)                                                                                       \
    case T:                                                                                             \
        fn(T, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);                        \
        return true;
    switch (wtype) {
        CALL(GGML_TYPE_F32, gemm_f)
        CALL(GGML_TYPE_F16, gemm_f)
        CALL(GGML_TYPE_BF16, gemm_f)
    default:
        break;
    }
#undef CALL
    switch (wtype) {
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q5_1:
    case GGML_TYPE_IQ4_NL:
        gemm_qt(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    case GGML_TYPE_Q2_K:
    case GGML_TYPE_Q3_K:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K:
    case GGML_TYPE_IQ4_XS:
        gemm_kt(wtype, W, w_row_bytes, rows, n, xq, act_row_bytes, ntok, out, out_stride);
        return true;
    default:
        return false;
    }
}

/* ---------------- activation quantization ---------------- */

/*
 * Q8_0 and Q8_K rows as the reference quantizers make them (q_kquant.c,
 * q_ref.c), 16 floats at a time: Q8_K's iscale is -127 / (the first element
 * of largest magnitude) and levels round to nearest even; Q8_0 rounds half
 * away from zero like roundf. Non-finite inputs count as 0, as in
 * q_quantize_row. Returns false for other formats.
 */
Q512I __m512 finite_or_zero(__m512 v)
{
    /* exponent all ones: inf or NaN */
    const __m512i e = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_mov_ps(v, _mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(0x7F800000)), _mm512_setzero_ps());
}

Q512 bool q_act_quantize_avx512(uint32_t act, const float *x, void *xq, int64_t n)
{
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    if (act == GGML_TYPE_Q8_K) {
        block_q8_K *y = xq;
        for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
            __m512 v[16], amaxv = _mm512_setzero_ps();
            for (int j = 0; j < 16; j++) {
                v[j] = finite_or_zero(_mm512_loadu_ps(x + 16 * j));
                amaxv = _mm512_max_ps(amaxv, _mm512_andnot_ps(sign, v[j]));
            }
            const float amax = _mm512_reduce_max_ps(amaxv);
            if (!amax) {
                memset(&y[b], 0, sizeof y[b]);
                continue;
            }
            float max = 0;
            for (int j = 0; j < 16; j++) { /* the first element with |x| == amax gives the sign */
                __mmask16 m = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, v[j]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
                if (m) {
                    float tmp[16];
                    _mm512_storeu_ps(tmp, v[j]);
                    max = tmp[__builtin_ctz(m)];
                    break;
                }
            }
            const float iscale = -127.f / max;
            const __m512 is = _mm512_set1_ps(iscale);
            for (int j = 0; j < 16; j++) {
                __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(is, v[j])); /* nearest even */
                q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
                _mm_storeu_si128((__m128i *)(y[b].qs + 16 * j), _mm512_cvtsepi32_epi8(q));
            }
            /* the 16-element sums: vpsadbw sums 8 levels + 128 per 64-bit lane, adjacent lanes added */
            __m128i s4[4];
            for (int k = 0; k < 4; k++) {
                const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(y[b].qs + 64 * k), _mm512_set1_epi8((char)0x80));
                s4[k] = _mm_madd_epi16(_mm512_cvtepi64_epi16(_mm512_sad_epu8(u, _mm512_setzero_si512())), _mm_set1_epi16(1));
            }
            const __m128i bias = _mm_set1_epi16(16 * 128);
            _mm_storeu_si128((__m128i *)y[b].bsums, _mm_sub_epi16(_mm_packs_epi32(s4[0], s4[1]), bias));
            _mm_storeu_si128((__m128i *)(y[b].bsums + 8), _mm_sub_epi16(_mm_packs_epi32(s4[2], s4[3]), bias));
            y[b].d = 1 / iscale;
        }
        return true;
    }
    if (act == GGML_TYPE_Q8_0) {
        /* also the row's tail (q8_0_tail): each block's scale as the half rounds it, and its negated level sum */
        block_q8_0 *y = xq;
        q8_0_tail *tail = (q8_0_tail *)((uint8_t *)xq + q8_0_tail_at(n));
        const __m512 half = _mm512_set1_ps(0.5f);
        for (int64_t b = 0; b < n / 32; b++, x += 32) {
            __m512 v0 = finite_or_zero(_mm512_loadu_ps(x)), v1 = finite_or_zero(_mm512_loadu_ps(x + 16));
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
            const float d = amax / 127;
            float id = d ? 1.0f / d : 0.0f;
            if (!(id <= 3.4e38f))
                id = 0.0f;
            y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT); /* as q_f32_to_f16 (d is finite) */
            tail[b].d = _cvtsh_ss(y[b].d);
            const __m512 idv = _mm512_set1_ps(id);
            __m512 a = _mm512_mul_ps(v0, idv), c = _mm512_mul_ps(v1, idv);
            /* roundf: truncate |a| + 0.5 and restore the sign (exact: |a| <= 127) */
            a = _mm512_or_ps(_mm512_roundscale_ps(_mm512_add_ps(_mm512_andnot_ps(sign, a), half), _MM_FROUND_TO_ZERO),
                             _mm512_and_ps(sign, a));
            c = _mm512_or_ps(_mm512_roundscale_ps(_mm512_add_ps(_mm512_andnot_ps(sign, c), half), _MM_FROUND_TO_ZERO),
                             _mm512_and_ps(sign, c));
            const __m512i qa = _mm512_cvttps_epi32(a), qc = _mm512_cvttps_epi32(c); /* |level| <= 127 */
            _mm_storeu_si128((__m128i *)y[b].qs, _mm512_cvtepi32_epi8(qa));
            _mm_storeu_si128((__m128i *)(y[b].qs + 16), _mm512_cvtepi32_epi8(qc));
            tail[b].nsum = -_mm512_reduce_add_epi32(_mm512_add_epi32(qa, qc));
        }
        return true;
    }
    return false;
}
