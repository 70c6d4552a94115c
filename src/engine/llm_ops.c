/*
 * llm_ops.c — vector kernels of the forward pass (see llm_ops.h). The
 * AVX2 variants are compiled with target attributes so the program still
 * runs on any x86-64; llm_ops_init picks them from cpuid.
 */
#include "engine/llm_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LLM_X86 1
#endif

static float dot_f32_c(const float *a, const float *b, int n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void axpy_f32_c(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void to_f16_c(uint16_t *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = q_f32_to_f16(src[i]);
}

static void to_f32_c(float *dst, const uint16_t *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = q_f16_to_f32(src[i]);
}

static void attn_qk_c(float *S, int lds, const float *const *q, int nq, const float *Kt, int kc, int hd, float scale)
{
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < kc; j++) {
            float s = 0;
            for (int d = 0; d < hd; d++)
                s += q[i][d] * Kt[(size_t)d * kc + j];
            S[(size_t)i * lds + j] = s * scale;
        }
}

static void attn_pv_c(float *const *o, const float *P, int ldp, int nq, const float *V, int kc, int hdv)
{
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < kc; j++)
            axpy_f32_c(o[i], P[(size_t)i * ldp + j], V + (size_t)j * hdv, hdv);
}

#ifdef LLM_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2I AVX2 static inline __attribute__((always_inline))

AVX2 static float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

AVX2 static float dot_f32_avx2(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

AVX2 static void axpy_f32_avx2(float *y, float a, const float *x, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

AVX2 static void to_f16_avx2(uint16_t *dst, const float *src, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = q_f32_to_f16(src[i]);
}

AVX2 static void to_f32_avx2(float *dst, const uint16_t *src, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(src[i]);
}

/*
 * e^x for 8 floats: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two parts
 * for accuracy), e^r by a degree-6 polynomial, 2^n through the exponent
 * bits. Relative error about 2e-7 over [-87, 88]; below -87 the result is 0.
 */
AVX2 static __m256 exp8(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}

/*
 * R query rows x 16 keys per step: two key vectors per dimension, each
 * query's element broadcast; the 2R accumulators stay in registers.
 */
AVX2I void qk_rows(float *S, int lds, const float *const *q, const int R, const float *Kt, int kc, int hd, float scale)
{
    for (int j = 0; j < kc; j += 16) {
        __m256 a[4][2];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            a[r][0] = a[r][1] = _mm256_setzero_ps();
        for (int d = 0; d < hd; d++) {
            const float *k = Kt + (size_t)d * kc + j;
            const __m256 k0 = _mm256_loadu_ps(k), k1 = _mm256_loadu_ps(k + 8);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const __m256 b = _mm256_broadcast_ss(q[r] + d);
                a[r][0] = _mm256_fmadd_ps(b, k0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(b, k1, a[r][1]);
            }
        }
        const __m256 vs = _mm256_set1_ps(scale);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            _mm256_storeu_ps(S + (size_t)r * lds + j, _mm256_mul_ps(a[r][0], vs));
            _mm256_storeu_ps(S + (size_t)r * lds + j + 8, _mm256_mul_ps(a[r][1], vs));
        }
    }
}

AVX2 static void attn_qk_avx2(float *S, int lds, const float *const *q, int nq, const float *Kt, int kc, int hd,
                              float scale)
{
    int i = 0;
    for (; i + 4 <= nq; i += 4)
        qk_rows(S + (size_t)i * lds, lds, q + i, 4, Kt, kc, hd, scale);
    for (; i < nq; i++)
        qk_rows(S + (size_t)i * lds, lds, q + i, 1, Kt, kc, hd, scale);
}

/* R query rows x 32 output dimensions per step: four value vectors per key, each weight broadcast. */
AVX2I void pv_rows(float *const *o, const float *P, int ldp, const int R, const float *V, int kc, int hdv)
{
    int d = 0;
    for (; d + 32 <= hdv; d += 32) {
        __m256 a[2][4];
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
            a[r][0] = a[r][1] = a[r][2] = a[r][3] = _mm256_setzero_ps();
        for (int j = 0; j < kc; j++) {
            const float *v = V + (size_t)j * hdv + d;
            const __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8), v2 = _mm256_loadu_ps(v + 16),
                         v3 = _mm256_loadu_ps(v + 24);
#pragma GCC unroll 2
            for (int r = 0; r < R; r++) {
                const __m256 p = _mm256_broadcast_ss(P + (size_t)r * ldp + j);
                a[r][0] = _mm256_fmadd_ps(p, v0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(p, v1, a[r][1]);
                a[r][2] = _mm256_fmadd_ps(p, v2, a[r][2]);
                a[r][3] = _mm256_fmadd_ps(p, v3, a[r][3]);
            }
        }
#pragma GCC unroll 2
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int m = 0; m < 4; m++)
                _mm256_storeu_ps(o[r] + d + 8 * m, _mm256_add_ps(_mm256_loadu_ps(o[r] + d + 8 * m), a[r][m]));
    }
    for (; d < hdv; d++) /* head sizes that are not a multiple of 32 */
        for (int r = 0; r < R; r++) {
            float s = 0;
            for (int j = 0; j < kc; j++)
                s += P[(size_t)r * ldp + j] * V[(size_t)j * hdv + d];
            o[r][d] += s;
        }
}

AVX2 static void attn_pv_avx2(float *const *o, const float *P, int ldp, int nq, const float *V, int kc, int hdv)
{
    int i = 0;
    for (; i + 2 <= nq; i += 2)
        pv_rows(o + i, P + (size_t)i * ldp, ldp, 2, V, kc, hdv);
    for (; i < nq; i++)
        pv_rows(o + i, P + (size_t)i * ldp, ldp, 1, V, kc, hdv);
}

AVX2 static void softmax_avx2(float *x, int n)
{
    float mx = x[0];
    int i = 0;
    if (n >= 8) {
        __m256 m8 = _mm256_loadu_ps(x);
        for (i = 8; i + 8 <= n; i += 8)
            m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        mx = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    }
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    double sum = hsum256(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= (float)(1.0 / sum);
}

AVX2 static void swiglu_avx2(float *a, const float *b, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(a + i);
        __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_storeu_ps(a + i, _mm256_mul_ps(s, _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++)
        a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}
#endif

void llm_ops_init(llm_ops *o)
{
    *o = (llm_ops){dot_f32_c, axpy_f32_c, to_f16_c, to_f32_c, llm_softmax, llm_swiglu, attn_qk_c, attn_pv_c, false};
#ifdef LLM_X86
    /* quant's AVX2 path needs AVX2+FMA+F16C, checked with cpuid/xgetbv, and honours $JANC_CPU */
    if (q_get_path() != Q_PATH_SCALAR)
        *o = (llm_ops){dot_f32_avx2,  axpy_f32_avx2, to_f16_avx2,  to_f32_avx2, softmax_avx2,
                       swiglu_avx2,   attn_qk_avx2,  attn_pv_avx2, true};
#endif
}

void llm_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    /* the sum of squares in double, as 8 independent partial sums (one running sum was a
       chain of dependent adds: 2% of a prompt) */
    double p[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            p[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++)
        p[0] += (double)x[i] * x[i];
    const double ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void llm_swiglu(float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++) {
        float g = a[i];
        a[i] = g / (1.0f + expf(-g)) * b[i];
    }
}

void llm_softmax(float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float e = expf(x[i] - mx);
        x[i] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}
