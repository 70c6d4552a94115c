/*
 * qblock.h — the byte layout of every block format the quant layer knows
 * (private to src/quant/ and its tests). Layouts are ggml's (ggml-common.h);
 * the dequantizers in q_ref.c define what every bit means. All multi-byte
 * fields are little-endian; fp16 fields are IEEE half (uint16_t here).
 *
 * 32-element blocks:
 *   Q4_0   d | qs[16]: x[j] = (lo(qs[j]) - 8) d, x[j+16] = (hi(qs[j]) - 8) d
 *   Q4_1   d m | qs[16]: x = q d + m
 *   Q5_0   d | qh[4] | qs[16]: 5th bit of element j is bit j of qh; x = (q - 16) d
 *   Q5_1   d m | qh[4] | qs[16]: x = q d + m
 *   Q8_0   d | qs[32] int8: x = q d
 *   Q8_1   d s | qs[32] int8: s = d * sum(qs) (activation format)
 *   IQ4_NL d | qs[16]: x = d * kvalues_iq4nl[nibble]
 * 256-element super-blocks (QK_K):
 *   Q2_K   scales[16] (lo: scale, hi: min, 4 bits each) | qs[64] 2-bit | d dmin
 *   Q3_K   hmask[32] | qs[64] 2-bit | scales[12] 16 x 6-bit | d
 *   Q4_K   d dmin | scales[12] 8 x (6-bit scale, 6-bit min) | qs[128] 4-bit
 *   Q5_K   d dmin | scales[12] | qh[32] | qs[128]
 *   Q6_K   ql[128] | qh[64] | scales[16] int8 | d
 *   IQ4_XS d | scales_h u16 | scales_l[4] | qs[128]
 *   Q8_K   d float | qs[256] int8 | bsums[16] int16 (activation format)
 */
#ifndef QUANT_QBLOCK_H
#define QUANT_QBLOCK_H

#include <stdint.h>

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block size");

typedef struct {
    uint16_t d, m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 block size");

typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 block size");

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 block size");

typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block size");

typedef struct {
    uint16_t d, s;
    int8_t qs[QK8_1];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 block size");

typedef struct {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
} block_iq4_nl;
_Static_assert(sizeof(block_iq4_nl) == 18, "iq4_nl block size");

typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "q2_K block size");

typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "q3_K block size");

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block size");

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "q5_K block size");

typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block size");

typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 136, "iq4_xs block size");

typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 292, "q8_K block size");

/* The 16 non-linear levels of IQ4_NL and IQ4_XS. */
static const int8_t q_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};

/* 6-bit scale and min j (0..7) of a Q4_K/Q5_K scales[12] array. */
static inline void q_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* The 16 signed 6-bit scales (-32..31) of a Q3_K block. */
static inline void q_q3k_scales(const uint8_t *s12, int8_t out[16])
{
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? (s12[j] & 0xF) : (s12[j - 8] >> 4);
        int hi = (s12[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* The 8 signed scales (-32..31) of an IQ4_XS block. */
static inline void q_iq4xs_scales(const block_iq4_xs *b, int8_t out[8])
{
    for (int ib = 0; ib < 8; ib++) {
        int ls = ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((b->scales_h >> 2 * ib) & 3) << 4);
        out[ib] = (int8_t)(ls - 32);
    }
}

#endif
