/*
 * test_quant.c — unit tests of the quant layer: fp16/bf16 conversions,
 * hand-built blocks whose values the layout defines, quantize→dequantize
 * error bounds for every type, and every CPU path of q_gemm against a
 * double-precision reference, for several shapes; q_quantize_file errors
 * and conversions from quantized input (no shared data needed).
 */
#include "harness.h"

#include "base/jc.h"
#include "gguf/gguf.h"
#include "quant/q_file.h"
#include "quant/q_int.h"
#include "quant/quant.h"

#include <stdint.h>

/* xorshift64* — deterministic test data. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng_u64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static float rng_uniform(void) /* [-1, 1) */
{
    return (float)((rng_u64() >> 40) * (2.0 / 16777216.0) - 1.0);
}
static float rng_gauss(void) /* approximately N(0,1): sum of 4 uniforms, scaled */
{
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += rng_uniform();
    return s * 0.8660254f; /* var of U(-1,1) is 1/3; 4/3 * 0.75 = 1 */
}

static const uint32_t all_types[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q8_0,   GGML_TYPE_Q4_0,
    GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q2_K,   GGML_TYPE_Q3_K,
    GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS,
};

/* The table agrees with gguf's type table (block size and bytes) for every type janc runs. */
TEST(traits_match_gguf)
{
    for (size_t i = 0; i < JC_ARRAY_LEN(all_types); i++) {
        uint32_t t = all_types[i];
        const ggml_type_info *gi = ggml_type_get(t);
        REQUIRE(gi);
        CHECK(q_type_supported(t));
        CHECK_EQ_INT(q_block_elems(t), gi->blck_size);
        CHECK_EQ_INT(q_row_bytes(t, 256 * 3), 256 * 3 / gi->blck_size * gi->type_size);
    }
    CHECK(!q_type_supported(GGML_TYPE_IQ2_XXS));
    CHECK(!q_type_supported(GGML_TYPE_Q8_K)); /* an activation format, not a weight type */
    CHECK(!q_type_supported(999));
    CHECK_EQ_INT(q_row_bytes(GGML_TYPE_Q4_K, 100), 0); /* not a multiple of 256 */
    CHECK_EQ_INT(q_row_bytes(GGML_TYPE_Q8_K, 256), 292);
    float y[32];
    CHECK(q_dequant_row(GGML_TYPE_Q4_0, NULL, y, 31) == -1);
    CHECK(q_dequant_row(GGML_TYPE_IQ2_XXS, NULL, y, 256) == -1);
}

/* fp16/bf16: exact values, rounding to nearest even, subnormals, inf/NaN. */
TEST(half_conversions)
{
    CHECK_EQ_INT(q_f32_to_f16(1.0f), 0x3C00);
    CHECK_EQ_INT(q_f32_to_f16(-2.0f), 0xC000);
    CHECK_EQ_INT(q_f32_to_f16(65504.0f), 0x7BFF);
    CHECK_EQ_INT(q_f32_to_f16(65520.0f), 0x7C00); /* halfway to 65536 rounds to even: inf */
    CHECK_EQ_INT(q_f32_to_f16(65519.0f), 0x7BFF);
    CHECK_EQ_INT(q_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(q_f32_to_f16(2.9802322e-8f), 0x0000); /* half of it: ties to even (0) */
    CHECK_EQ_INT(q_f32_to_f16(1.0f + 1.0f / 2048), 0x3C00); /* tie, even stays */
    CHECK_EQ_INT(q_f32_to_f16(1.0f + 3.0f / 2048), 0x3C02); /* tie, odd rounds up */
    CHECK_EQ_INT(q_f32_to_f16(INFINITY), 0x7C00);
    CHECK((q_f32_to_f16(NAN) & 0x7C00) == 0x7C00 && (q_f32_to_f16(NAN) & 0x3FF));
    CHECK(q_f16_to_f32(0x3555) == 0.333251953125f);
    CHECK(q_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    CHECK(q_f16_to_f32(0x8400) == -6.103515625e-05f);
    CHECK(isinf(q_f16_to_f32(0xFC00)) && q_f16_to_f32(0xFC00) < 0);
    /* every finite half survives a round trip */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++)
        if ((h & 0x7C00) != 0x7C00 && q_f32_to_f16(q_f16_to_f32((uint16_t)h)) != h)
            bad++;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(q_f32_to_bf16(1.0f), 0x3F80);
    CHECK_EQ_INT(q_f32_to_bf16(1.00390625f), 0x3F80); /* tie to even */
    CHECK_EQ_INT(q_f32_to_bf16(1.01171875f), 0x3F82); /* tie, odd rounds up */
    CHECK(q_bf16_to_f32(0xC040) == -3.0f);
}

/* Hand-built 32-element blocks give the values their layouts define. */
TEST(dequant_hand_blocks_32)
{
    float y[32];
    block_q4_0 b40 = {.d = q_f32_to_f16(0.5f)};
    for (int j = 0; j < 16; j++)
        b40.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    REQUIRE(q_dequant_row(GGML_TYPE_Q4_0, &b40, y, 32) == 0);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == (j - 8) * 0.5f);
        CHECK(y[j + 16] == (7 - j) * 0.5f);
    }
    block_q4_1 b41 = {.d = q_f32_to_f16(0.25f), .m = q_f32_to_f16(-1.0f)};
    for (int j = 0; j < 16; j++)
        b41.qs[j] = (uint8_t)(j | (3 << 4));
    q_dequant_row(GGML_TYPE_Q4_1, &b41, y, 32);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == j * 0.25f - 1.0f);
        CHECK(y[j + 16] == 3 * 0.25f - 1.0f);
    }
    /* Q5_0: element j's 5th bit is bit j of qh (little-endian u32) */
    block_q5_0 b50 = {.d = q_f32_to_f16(2.0f), .qh = {0x55, 0x00, 0x00, 0x80}};
    for (int j = 0; j < 16; j++)
        b50.qs[j] = (uint8_t)(j | (1 << 4));
    q_dequant_row(GGML_TYPE_Q5_0, &b50, y, 32);
    for (int j = 0; j < 8; j++)
        CHECK(y[j] == 2.0f * ((j | ((j % 2 == 0) ? 16 : 0)) - 16));
    CHECK(y[16] == 2.0f * (1 - 16));
    CHECK(y[31] == 2.0f * (1 + 16 - 16));
    block_q5_1 b51 = {.d = q_f32_to_f16(1.0f), .m = q_f32_to_f16(0.5f), .qh = {0, 0, 0x01, 0}};
    q_dequant_row(GGML_TYPE_Q5_1, &b51, y, 32);
    CHECK(y[16] == 16.5f && y[0] == 0.5f && y[17] == 0.5f);
    block_q8_0 b80 = {.d = q_f32_to_f16(-0.125f)};
    for (int j = 0; j < 32; j++)
        b80.qs[j] = (int8_t)(j * 8 - 128);
    q_dequant_row(GGML_TYPE_Q8_0, &b80, y, 32);
    for (int j = 0; j < 32; j++)
        CHECK(y[j] == (j * 8 - 128) * -0.125f);
    block_iq4_nl bnl = {.d = q_f32_to_f16(1.0f)};
    for (int j = 0; j < 16; j++)
        bnl.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    q_dequant_row(GGML_TYPE_IQ4_NL, &bnl, y, 32);
    CHECK(y[0] == -127 && y[15] == 113 && y[16] == 113 && y[31] == -127 && y[8] == 1);
}

/* Hand-built super-blocks: the scale/min packing and bit positions of each K layout. */
TEST(dequant_hand_blocks_k)
{
    float y[256];
    /* Q4_K: sub-block j has scale j+1 and min j (6-bit packed); all nibbles 3 → d*(j+1)*3 - dmin*j */
    block_q4_K b4 = {.d = q_f32_to_f16(1.0f), .dmin = q_f32_to_f16(0.5f)};
    for (int j = 0; j < 8; j++) {
        int sc = j + 1 + (j >= 4 ? 40 : 0), m = j + (j >= 6 ? 50 : 0); /* some with high bits */
        if (j < 4) {
            b4.scales[j] = (uint8_t)sc;
            b4.scales[j + 4] = (uint8_t)m;
        } else {
            b4.scales[j + 4] = (uint8_t)((sc & 0xF) | ((m & 0xF) << 4));
            b4.scales[j - 4] |= (uint8_t)((sc >> 4) << 6);
            b4.scales[j] |= (uint8_t)((m >> 4) << 6);
        }
    }
    memset(b4.qs, 0x33, sizeof b4.qs);
    q_dequant_row(GGML_TYPE_Q4_K, &b4, y, 256);
    for (int j = 0; j < 8; j++) {
        int sc = j + 1 + (j >= 4 ? 40 : 0), m = j + (j >= 6 ? 50 : 0);
        CHECKF(y[32 * j + 5] == sc * 3.0f - 0.5f * m, "q4_K sub %d: %g", j, y[32 * j + 5]);
    }
    /* Q6_K: ql/qh split; element 0 = ql[0] low | qh[0] bits 0-1; element 64 = ql[0] high | qh bits 4-5 */
    block_q6_K b6 = {.d = q_f32_to_f16(0.5f)};
    for (int s = 0; s < 16; s++)
        b6.scales[s] = (int8_t)(s - 8);
    b6.ql[0] = 0x5A;  /* elem 0: low 0xA, elem 64: high 0x5 */
    b6.qh[0] = 0x31;  /* elem 0: bits 0-1 = 1, elem 32: bits 2-3 = 0, elem 64: bits 4-5 = 3 */
    b6.ql[32] = 0x07; /* elem 32: low 7 */
    q_dequant_row(GGML_TYPE_Q6_K, &b6, y, 256);
    CHECK(y[0] == 0.5f * (0 - 8) * ((0xA | 16) - 32));
    CHECK(y[64] == 0.5f * (4 - 8) * ((0x5 | 48) - 32));
    CHECK(y[32] == 0.5f * (2 - 8) * (7 - 32));
    CHECK(y[1] == 0.5f * (0 - 8) * -32);
    CHECK(y[128] == 0.5f * (8 - 8) * -32);
    /* Q3_K: element 0 = qs[0] bits 0-1, minus 4 unless hmask[0] bit 0; scale 6-bit - 32 */
    block_q3_K b3 = {.d = q_f32_to_f16(1.0f)};
    memset(b3.scales, 0, sizeof b3.scales);
    b3.scales[0] = 0x1;         /* scale 0 low nibble 1, scale 8 low nibble 0 */
    b3.scales[8] = 0x2 | 0x10;  /* scale 0 high bits 2 → 33-32 = 1... and scale 8 high bits (bits 4-5) 1 */
    b3.qs[0] = 0x3 | (0x2 << 2);  /* elem 0: 3, elem 32: 2 */
    b3.hmask[0] = 0x01;          /* elem 0 has its high bit; elem 32 (bit 1) does not */
    q_dequant_row(GGML_TYPE_Q3_K, &b3, y, 256);
    CHECK(y[0] == (float)((1 | (2 << 4)) - 32) * 3);
    CHECK(y[32] == (float)(0 - 32) * (2 - 4)); /* scale 2: low 0, high (scales[10]) 0 → -32 */
    CHECK(y[128] == (float)((0 | (1 << 4)) - 32) * (0 - 4)); /* scale 8 */
    /* Q2_K: scales[s] = scale | min << 4; element 16 uses scale 1 and qs[16] bits 0-1 */
    block_q2_K b2 = {.d = q_f32_to_f16(2.0f), .dmin = q_f32_to_f16(1.0f)};
    b2.scales[0] = 0x21;
    b2.scales[1] = 0x13;
    b2.qs[0] = 0x02 | (0x3 << 6); /* elem 0: 2; elem 96: 3 */
    b2.qs[16] = 0x01;
    b2.scales[6] = 0x05;
    q_dequant_row(GGML_TYPE_Q2_K, &b2, y, 256);
    CHECK(y[0] == 2.0f * 1 * 2 - 1.0f * 2);
    CHECK(y[16] == 2.0f * 3 * 1 - 1.0f * 1);
    CHECK(y[96] == 2.0f * 5 * 3 - 0.0f);
    /* Q5_K: like Q4_K plus qh: element 32*c... bit 2c of qh[l] for low, 2c+1 for high nibble */
    block_q5_K b5 = {.d = q_f32_to_f16(1.0f), .dmin = q_f32_to_f16(0.0f)};
    b5.scales[0] = 1;
    b5.scales[1] = 1;
    b5.qh[0] = 0x02; /* elem 32 (high nibble of chunk 0) gets +16 */
    b5.qs[0] = 0x21;
    q_dequant_row(GGML_TYPE_Q5_K, &b5, y, 256);
    CHECK(y[0] == 1.0f && y[32] == 18.0f);
    /* IQ4_XS: sub-block scale = (scales_l nibble | scales_h 2 bits << 4) - 32 */
    block_iq4_xs bx = {.d = q_f32_to_f16(0.5f), .scales_h = 0x2 << 2, .scales_l = {0x3 | (0x4 << 4)}};
    memset(bx.qs, 0x8F, sizeof bx.qs);
    q_dequant_row(GGML_TYPE_IQ4_XS, &bx, y, 256);
    CHECK(y[0] == 0.5f * (3 - 32) * 113);
    CHECK(y[16] == 0.5f * (3 - 32) * 1);
    CHECK(y[32] == 0.5f * ((4 | (2 << 4)) - 32) * 113);
}

/*
 * Round trips of Gaussian data: RMS error / RMS of data stays under the
 * bound of the format. Bounds: a uniform quantizer with step s has error
 * s/sqrt(12); e.g. Q8_0 s = amax/127 (amax of 32 Gaussians ~2.2): ~0.005;
 * 4-bit ~0.1, 5-bit ~0.05, 2-bit ~0.35 (K-quants' searched scales do better).
 * The bounds below are those estimates with ~25% headroom, measured values
 * being lower.
 */
TEST(round_trip_error)
{
    static const struct {
        uint32_t type;
        double bound;
    } cases[] = {
        {GGML_TYPE_F32, 0.0},      {GGML_TYPE_F16, 0.0006},  {GGML_TYPE_BF16, 0.005},
        {GGML_TYPE_Q8_0, 0.0065},  {GGML_TYPE_Q4_0, 0.13},   {GGML_TYPE_Q4_1, 0.12},
        {GGML_TYPE_Q5_0, 0.065},   {GGML_TYPE_Q5_1, 0.06},   {GGML_TYPE_Q2_K, 0.40},
        {GGML_TYPE_Q3_K, 0.21},    {GGML_TYPE_Q4_K, 0.11},   {GGML_TYPE_Q5_K, 0.055},
        {GGML_TYPE_Q6_K, 0.028},   {GGML_TYPE_IQ4_NL, 0.12}, {GGML_TYPE_IQ4_XS, 0.12},
    };
    enum { N = 256 * 16 };
    static float x[N], y[N];
    static uint8_t buf[N * 4];
    for (int i = 0; i < N; i++)
        x[i] = rng_gauss();
    for (size_t c = 0; c < JC_ARRAY_LEN(cases); c++) {
        uint32_t t = cases[c].type;
        REQUIRE(q_quantize_row(t, x, buf, N) == 0);
        REQUIRE(q_dequant_row(t, buf, y, N) == 0);
        double se = 0, sx = 0;
        for (int i = 0; i < N; i++) {
            se += (double)(x[i] - y[i]) * (x[i] - y[i]);
            sx += (double)x[i] * x[i];
        }
        double rel = sqrt(se / sx);
        fprintf(stderr, "    %-7s rel rms error %.5f (bound %.4f)\n", ggml_type_name(t), rel, cases[c].bound);
        CHECKF(rel <= cases[c].bound, "%s: %g > %g", ggml_type_name(t), rel, cases[c].bound);
    }
    /* Zeros, constants and non-finite values quantize without trouble */
    for (int i = 0; i < 256; i++)
        x[i] = i == 7 ? NAN : i == 9 ? INFINITY : 0.0f;
    for (size_t c = 0; c < JC_ARRAY_LEN(cases); c++) {
        uint32_t t = cases[c].type;
        if (t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16)
            continue;
        REQUIRE(q_quantize_row(t, x, buf, 256) == 0);
        q_dequant_row(t, buf, y, 256);
        int nz = 0;
        for (int i = 0; i < 256; i++)
            nz += y[i] != 0.0f;
        CHECKF(nz == 0, "%s: %d nonzero values from zero input", ggml_type_name(t), nz);
    }
    /* Finite values whose range overflows a float (max - min = inf): what the formats make of
       them is garbage, but quantizing them stays defined behaviour (the sanitizer build of this
       test failed on Q4_1, Q5_1 and Q2_K: a NaN level converted to an integer, a negative min
       shifted) and every other block of the row is unharmed */
    for (int i = 0; i < 512; i++)
        x[i] = i < 256 ? (i % 2 ? 3e38f : -3e38f) * ((float)(1 + i % 5) / 5) : 0.25f;
    for (size_t c = 0; c < JC_ARRAY_LEN(cases); c++) {
        uint32_t t = cases[c].type;
        REQUIRE(q_quantize_row(t, x, buf, 512) == 0);
        q_dequant_row(t, buf, y, 512);
        int bad = 0;
        for (int i = 256; i < 512; i++)
            bad += !(fabsf(y[i] - 0.25f) <= 0.01f);
        CHECKF(bad == 0, "%s: %d values of a constant block next to an overflowing one are wrong",
               ggml_type_name(t), bad);
    }
}

/* Q8_0 and Q8_K activation quantization: the integer sums the kernels rely on. */
TEST(activation_formats)
{
    float x[256], y[256];
    for (int i = 0; i < 256; i++)
        x[i] = rng_gauss() * 3;
    block_q8_K k;
    q_quantize_row(GGML_TYPE_Q8_K, x, &k, 256);
    for (int s = 0; s < 16; s++) {
        int sum = 0;
        for (int l = 0; l < 16; l++)
            sum += k.qs[16 * s + l];
        CHECK_EQ_INT(k.bsums[s], sum);
    }
    q_dequant_row(GGML_TYPE_Q8_K, &k, y, 256);
    for (int i = 0; i < 256; i++)
        CHECK(fabsf(x[i] - y[i]) <= fabsf(k.d) * 0.5001f);
    block_q8_1 b1;
    q_quantize_row(GGML_TYPE_Q8_1, x, &b1, 32);
    int sum = 0;
    for (int j = 0; j < 32; j++)
        sum += b1.qs[j];
    CHECK(fabsf(q_f16_to_f32(b1.s) - sum * q_f16_to_f32(b1.d)) <= 1e-3f * fabsf(sum * q_f16_to_f32(b1.d)) + 1e-3f);
    CHECK_EQ_INT(q_act_type(GGML_TYPE_Q4_K), GGML_TYPE_Q8_K);
    CHECK_EQ_INT(q_act_type(GGML_TYPE_Q4_0), GGML_TYPE_Q8_0);
    CHECK_EQ_INT(q_act_type(GGML_TYPE_F16), GGML_TYPE_F32);
    CHECK_EQ_INT(q_act_row_bytes(GGML_TYPE_Q6_K, 512), 2 * 292);
    CHECK_EQ_INT(q_act_row_bytes(GGML_TYPE_BF16, 10), 40);
}

/* The SIMD activation quantizers make the reference's bytes (ties, NaN/inf, zero blocks included). */
TEST(activation_simd_matches_reference)
{
    enum { N = 256 * 6 };
    static float x[N];
    static uint8_t a[N * 2] __attribute__((aligned(8))), b[N * 2]; /* room for the largest activation row */
    for (int i = 0; i < N; i++)
        x[i] = rng_gauss() * (i < 512 ? 1.0f : 300.0f);
    for (int i = 512; i < 768; i++)
        x[i] = (float)((i % 9) - 4) * 0.5f; /* exact halves: rounding ties */
    for (int i = 768; i < 1024; i++)
        x[i] = 0.0f;
    x[1030] = NAN, x[1100] = INFINITY, x[1200] = -INFINITY;
    x[1300] = -5000.0f, x[1301] = 5000.0f; /* equal magnitudes: the first gives the sign */
    static const uint32_t w[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q4_0};
    enum q_path saved = q_get_path();
    if (!q_set_path(Q_PATH_AVX512)) {
        fprintf(stderr, "    SKIP: no avx512 path on this CPU\n");
        return;
    }
    for (size_t k = 0; k < JC_ARRAY_LEN(w); k++) {
        size_t rb = q_row_bytes(q_act_type(w[k]), N);
        memset(a, 0x55, sizeof a), memset(b, 0xAA, sizeof b);
        q_act_quantize(w[k], x, a, N);
        q_quantize_row(q_act_type(w[k]), x, b, N);
        CHECKF(!memcmp(a, b, rb), "%s activations differ from the reference", ggml_type_name(q_act_type(w[k])));
    }
    /* Q8_0 rows end with each block's scale and negated level sum */
    CHECK_EQ_INT(q_act_row_bytes(GGML_TYPE_Q4_0, N), q8_0_tail_at(N) + N / 32 * sizeof(q8_0_tail));
    CHECK(q8_0_tail_at(N) >= q_row_bytes(GGML_TYPE_Q8_0, N) && q8_0_tail_at(N) % 8 == 0);
    const block_q8_0 *blk = (const block_q8_0 *)a;
    const q8_0_tail *tail = (const q8_0_tail *)(a + q8_0_tail_at(N));
    int bad = 0;
    for (int i = 0; i < N / 32; i++) {
        int sum = 0;
        for (int e = 0; e < 32; e++)
            sum += blk[i].qs[e];
        bad += tail[i].d != q_f16_to_f32(blk[i].d) || tail[i].nsum != -sum;
    }
    CHECK_EQ_INT(bad, 0);
    q_set_path(saved);
}

/*
 * One gemm case: rows x n weights of type t from random data, ntok
 * activation rows; every available path must agree with the reference
 * sum over dequant(W) * dequant(quantized x) in double precision, within
 * 2e-5 of sum |w x| (float rounding of scale products and accumulation).
 */
static void gemm_case(uint32_t t, int64_t rows, int64_t n, int64_t ntok, const char *why)
{
    size_t wrb = q_row_bytes(t, n), arb = q_act_row_bytes(t, n);
    uint8_t *W = malloc(wrb * (size_t)rows + 64);
    uint8_t *X = malloc(arb * (size_t)ntok + 64);
    float *tmp = malloc(sizeof(float) * (size_t)n);
    float *wd = malloc(sizeof(float) * (size_t)(n * rows)), *xd = malloc(sizeof(float) * (size_t)(n * ntok));
    double *ref = malloc(sizeof(double) * (size_t)(rows * ntok)), *mag = malloc(sizeof(double) * (size_t)(rows * ntok));
    float *out = malloc(sizeof(float) * (size_t)(rows * ntok + 8));
    for (int64_t r = 0; r < rows; r++) {
        float scale = 0.05f + (float)(r % 7) * 0.3f;
        for (int64_t i = 0; i < n; i++)
            tmp[i] = rng_gauss() * scale + (r % 3 == 1 ? 0.1f : 0.0f);
        q_quantize_row(t, tmp, W + (size_t)r * wrb, n);
        q_dequant_row(t, W + (size_t)r * wrb, wd + r * n, n);
    }
    uint32_t at = q_act_type(t);
    for (int64_t k = 0; k < ntok; k++) {
        for (int64_t i = 0; i < n; i++)
            tmp[i] = rng_gauss() * (1.0f + (float)k);
        q_act_quantize(t, tmp, X + (size_t)k * arb, n);
        q_dequant_row(at, X + (size_t)k * arb, xd + k * n, n);
    }
    for (int64_t k = 0; k < ntok; k++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0, m = 0;
            for (int64_t i = 0; i < n; i++) {
                s += (double)wd[r * n + i] * xd[k * n + i];
                m += fabs((double)wd[r * n + i] * xd[k * n + i]);
            }
            ref[k * rows + r] = s;
            mag[k * rows + r] = m;
        }
    enum q_path saved = q_get_path();
    for (int p = 0; p < Q_PATH_COUNT; p++) {
        if (!q_set_path((enum q_path)p)) {
            static int said[Q_PATH_COUNT];
            if (!said[p]++)
                fprintf(stderr, "    SKIP path %s: this CPU lacks it\n", q_path_name((enum q_path)p));
            continue;
        }
        /* out_stride rows + 1 and a guard value prove the stride and bounds are honoured */
        size_t stride = (size_t)rows + 1;
        float *o2 = malloc(sizeof(float) * (stride * (size_t)ntok));
        for (size_t i = 0; i < stride * (size_t)ntok; i++)
            o2[i] = 12345.0f;
        q_gemm(t, W, wrb, rows, n, X, arb, ntok, o2, stride);
        int bad = 0;
        for (int64_t k = 0; k < ntok; k++) {
            for (int64_t r = 0; r < rows; r++) {
                double got = o2[(size_t)k * stride + (size_t)r], want = ref[k * rows + r];
                double tol = 2e-5 * mag[k * rows + r] + 1e-6;
                if (!(fabs(got - want) <= tol) && bad++ < 3)
                    fprintf(stderr, "  %s %s %s rows=%lld n=%lld ntok=%lld: out[%lld][%lld] = %.7g, want %.7g (tol %.3g)\n",
                            q_path_name((enum q_path)p), ggml_type_name(t), why, (long long)rows, (long long)n,
                            (long long)ntok, (long long)k, (long long)r, got, want, tol);
            }
            if (o2[(size_t)k * stride + (size_t)rows] != 12345.0f)
                bad++;
        }
        CHECKF(bad == 0, "%s path, %s, %s: %d wrong outputs", q_path_name((enum q_path)p), ggml_type_name(t), why, bad);
        free(o2);
    }
    q_set_path(saved);
    free(W), free(X), free(tmp), free(wd), free(xd), free(ref), free(mag), free(out);
}

/* Every path agrees with the reference: decode (ntok 1-2), small and odd batches, odd row counts. */
TEST(gemm_all_paths)
{
    static const int64_t ntoks[] = {1, 3, 8, 17};
    for (size_t i = 0; i < JC_ARRAY_LEN(all_types); i++) {
        uint32_t t = all_types[i];
        int64_t blk = q_block_elems(t) < 32 ? 32 : q_block_elems(t);
        for (size_t k = 0; k < JC_ARRAY_LEN(ntoks); k++)
            gemm_case(t, 13, blk * 3, ntoks[k], "odd rows");
        gemm_case(t, 5, blk, 2, "n = one block");
        gemm_case(t, 32, blk * 2, 9, "rows multiple of tiles");
        gemm_case(t, 1, blk * 5, 1, "one row");
        /* decode kernels: whole quads of blocks, then a partial one */
        gemm_case(t, 9, blk * 14, 1, "decode, 14 blocks");
        gemm_case(t, 9, blk * 14, 2, "decode, 2 tokens, 14 blocks");
        gemm_case(t, 37, 768, 5, "FFN-sized row"); /* 24 blocks: several quads */
        gemm_case(t, 9, blk * 6, 101, "prompt: tokens in several activation blocks");
        gemm_case(t, 6, 4608, 5, "row longer than a decode chunk"); /* 18 super-blocks, 36 quads */
        /* decode prepares activations in segments (64 quads, 32 super-blocks): two of them, a partial quad */
        const int64_t nseg = blk == 32 ? 32 * 261 : blk * 35;
        gemm_case(t, 5, nseg, 1, "decode, row longer than a segment");
        gemm_case(t, 5, nseg, 2, "decode, 2 tokens, row longer than a segment");
    }
    /* float types with n not a multiple of 16/32 */
    gemm_case(GGML_TYPE_F32, 7, 37, 5, "odd n");
    gemm_case(GGML_TYPE_F16, 7, 19, 4, "odd n");
    gemm_case(GGML_TYPE_BF16, 3, 45, 3, "odd n");
}

/* Bad input: an unknown type name, a file that is not GGUF, a missing file: errors, no output. */
TEST(quantize_file_errors)
{
    CHECK(q_ftype_find("Q4_K")->ftype == 15);
    CHECK(q_ftype_find("q8_0") != NULL);
    CHECK(q_ftype_find("Q9_9") == NULL);
    CHECK(q_ftype_find("IQ2_XXS") == NULL);
    char *tmp = test_tmpdir();
    char bad[4200], out[4200];
    snprintf(bad, sizeof bad, "%s/bad.gguf", tmp);
    snprintf(out, sizeof out, "%s/out.gguf", tmp);
    FILE *fp = fopen(bad, "wb");
    REQUIRE(fp);
    fputs("GGUF but not really", fp);
    fclose(fp);
    jc_err err = {{0}};
    CHECK(q_quantize_file(bad, out, q_ftype_find("Q8_0"), 1, NULL, &err) == -1);
    CHECKF(strstr(err.msg, "bad.gguf") != NULL, "error names the file: %s", err.msg);
    CHECK(access(out, F_OK) != 0);
    CHECK(q_quantize_file("/nonexistent/x.gguf", out, q_ftype_find("Q8_0"), 1, NULL, &err) == -1);
    unlink(bad);
    rmdir(tmp);
    free(tmp);
}

/*
 * Conversions from quantized input: Q8_0 -> F32 gives exactly the Q8_0
 * dequantized values (1-D tensors untouched); a tensor of a type janc
 * cannot run is an error naming the tensor and its type.
 */
TEST(quantize_file_from_quantized)
{
    char *tmp = test_tmpdir();
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/in.gguf", tmp);
    snprintf(out, sizeof out, "%s/out.gguf", tmp);
    enum { N = 64, R = 3 };
    float x[N * R], norm[N];
    for (int i = 0; i < N * R; i++)
        x[i] = sinf((float)i * 0.37f) * 2.0f;
    for (int i = 0; i < N; i++)
        norm[i] = 1.0f + (float)i / N;
    uint8_t q8[R * (N / 32) * 34];
    REQUIRE(q_quantize_row(GGML_TYPE_Q8_0, x, q8, N * R) == 0);
    jc_err err = {{0}};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    int64_t ne2[2] = {N, R}, ne1[1] = {N};
    CHECK(gguf_writer_add_tensor(w, "blk.0.attn_q.weight", GGML_TYPE_Q8_0, 2, ne2, q8, sizeof q8, &err) == 0);
    CHECK(gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", GGML_TYPE_F32, 1, ne1, norm, sizeof norm, &err) == 0);
    REQUIRE(gguf_writer_write(w, in, &err) == 0);
    gguf_writer_free(w);
    REQUIRE(q_quantize_file(in, out, q_ftype_find("F32"), 2, NULL, &err) == 0);
    gguf_file *f = gguf_open(out, &err);
    REQUIRE(f);
    const gguf_tensor *t = gguf_find_tensor(f, "blk.0.attn_q.weight");
    REQUIRE(t && t->type == GGML_TYPE_F32);
    float want[N * R];
    q_dequant_row(GGML_TYPE_Q8_0, q8, want, N * R);
    CHECK(!memcmp(t->data, want, sizeof want));
    const gguf_tensor *nt = gguf_find_tensor(f, "blk.0.attn_norm.weight");
    CHECK(nt && nt->type == GGML_TYPE_F32 && !memcmp(nt->data, norm, sizeof norm));
    uint64_t ft = 99;
    CHECK(gguf_get_u64(f, "general.file_type", &ft) && ft == 0);
    gguf_close(f);
    unlink(out);

    /* a 2-D weight of a type janc cannot convert */
    uint8_t junk[66 * R] = {0};
    int64_t ne3[2] = {256, R};
    w = gguf_writer_new(3);
    CHECK(gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", GGML_TYPE_IQ2_XXS, 2, ne3, junk, sizeof junk, &err) == 0);
    REQUIRE(gguf_writer_write(w, in, &err) == 0);
    gguf_writer_free(w);
    CHECK(q_quantize_file(in, out, q_ftype_find("Q8_0"), 1, NULL, &err) == -1);
    CHECKF(strstr(err.msg, "blk.0.ffn_up.weight") && strstr(err.msg, "IQ2_XXS"), "error: %s", err.msg);
    CHECK(access(out, F_OK) != 0);
    unlink(in);
    rmdir(tmp);
    free(tmp);
}

TESTS(T(traits_match_gguf), T(half_conversions), T(dequant_hand_blocks_32), T(dequant_hand_blocks_k),
      T(round_trip_error), T(activation_formats), T(activation_simd_matches_reference), T(gemm_all_paths), T(quantize_file_errors),
      T(quantize_file_from_quantized));
TEST_MAIN()
