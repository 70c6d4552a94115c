/*
 * test_engine_sample.c — the sampler, the stop-string matcher and the
 * thread pool. Proves: greedy is the argmax (first on ties) and top_k = 1
 * is greedy at any temperature; the same seed gives the same tokens and
 * another seed other ones; repeat / presence / frequency penalties move
 * logits by exactly their definitions; top-p and min-p keep the right
 * candidates; draws follow the softmax; stop strings cut the text and hold
 * back possible prefixes only; the pool covers every index exactly once,
 * job after job; the SIMD vector kernels (softmax and SwiGLU with their own
 * exp, f16 conversions, dot, axpy) agree with the portable C ones.
 */
#include <math.h>
#include <stdatomic.h>

#include "base/pool.h"
#include "engine/llm.h"
#include "engine/llm_ops.h"
#include "harness.h"
#include "quant/quant.h"

static llm_sampler_params greedy_params(void)
{
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 0;
    return p;
}

TEST(greedy_is_argmax)
{
    float l[6] = {0.5f, 2.0f, -1.0f, 2.0f, NAN, 1.9f};
    llm_sampler_params p = greedy_params();
    llm_sampler *s = llm_sampler_new(&p, 6);
    REQUIRE(s);
    CHECK_EQ_INT(llm_sampler_sample(s, l), 1); /* first of the tied maxima; NaN ignored */
    l[3] = 2.5f;
    CHECK_EQ_INT(llm_sampler_sample(s, l), 3);
    llm_sampler_free(s);
    /* top_k = 1 at temperature 1.5 is greedy */
    p = llm_sampler_default_params();
    p.temperature = 1.5f;
    p.top_k = 1;
    s = llm_sampler_new(&p, 6);
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(llm_sampler_sample(s, l), 3);
    llm_sampler_free(s);
    CHECK(llm_sampler_new(&p, 0) == NULL);
}

static void draw(uint64_t seed, int32_t *out, int n)
{
    float l[100];
    for (int i = 0; i < 100; i++)
        l[i] = sinf((float)i * 0.37f) * 2.0f;
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0;
    p.seed = seed;
    llm_sampler *s = llm_sampler_new(&p, 100);
    for (int i = 0; i < n; i++) {
        out[i] = llm_sampler_sample(s, l);
        llm_sampler_accept(s, out[i]);
    }
    llm_sampler_free(s);
}

TEST(same_seed_same_tokens)
{
    int32_t a[64], b[64], c[64];
    draw(42, a, 64);
    draw(42, b, 64);
    draw(43, c, 64);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    int distinct = 0;
    for (int i = 1; i < 64; i++)
        distinct += a[i] != a[0];
    CHECK(distinct > 10); /* really random, not stuck */
}

/* Greedy with penalties after accepting `hist`: which token wins. */
static int32_t pick(const float *l, int n, const int32_t *hist, int nh, float rep, float pres, float freq)
{
    llm_sampler_params p = greedy_params();
    p.repeat_penalty = rep;
    p.presence_penalty = pres;
    p.frequency_penalty = freq;
    p.penalty_last_n = 64;
    llm_sampler *s = llm_sampler_new(&p, n);
    for (int i = 0; i < nh; i++)
        llm_sampler_accept(s, hist[i]);
    int32_t t = llm_sampler_sample(s, l);
    llm_sampler_free(s);
    return t;
}

TEST(penalties_as_defined)
{
    float l[3] = {3.0f, 2.5f, 1.0f};
    int32_t h2[2] = {0, 0};
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1, 0, 0), 0);
    /* frequency: 3 - 2*0.3 = 2.4 < 2.5; 3 - 2*0.2 = 2.6 > 2.5 */
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1, 0, 0.3f), 1);
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1, 0, 0.2f), 0);
    /* presence counts once: 3 - 0.6 = 2.4; 3 - 0.4 = 2.6 */
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1, 0.6f, 0), 1);
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1, 0.4f, 0), 0);
    /* repeat divides a positive logit once: 3 / 1.25 = 2.4; 3 / 1.1 = 2.73 */
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1.25f, 0, 0), 1);
    CHECK_EQ_INT(pick(l, 3, h2, 2, 1.1f, 0, 0), 0);
    /* and multiplies a negative one: -1 * 1.25 = -1.25 < -1.1 */
    float n[3] = {-1.0f, -1.1f, -5.0f};
    int32_t h1[1] = {0};
    CHECK_EQ_INT(pick(n, 3, h1, 1, 1.25f, 0, 0), 1);
    /* outside the window (last 64) no penalty applies */
    int32_t hist[65];
    hist[0] = 0;
    for (int i = 1; i < 65; i++)
        hist[i] = 2;
    CHECK_EQ_INT(pick(l, 3, hist, 65, 1, 0.6f, 0), 0);
}

TEST(top_p_min_p_and_distribution)
{
    float l[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.min_p = 0;
    p.top_p = 0.6f; /* 0.5 < 0.6 <= 0.8: two candidates */
    llm_sampler *s = llm_sampler_new(&p, 4);
    const int32_t *ids;
    const float *probs;
    int n;
    for (int i = 0; i < 50; i++) {
        int32_t t = llm_sampler_sample(s, l);
        CHECK(t == 0 || t == 1);
    }
    llm_sampler_candidates(s, &ids, &probs, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(ids[0] == 0 && fabsf(probs[0] - 0.625f) < 1e-5f);
    llm_sampler_free(s);
    p.top_p = 1.0f;
    p.min_p = 0.29f; /* keep p >= 0.145: three candidates */
    s = llm_sampler_new(&p, 4);
    llm_sampler_sample(s, l);
    llm_sampler_candidates(s, &ids, &probs, &n);
    CHECK_EQ_INT(n, 3);
    llm_sampler_free(s);
    /* no filters: frequencies follow the softmax */
    p.min_p = 0;
    p.seed = 7;
    s = llm_sampler_new(&p, 4);
    int cnt[4] = {0};
    const int N = 20000;
    for (int i = 0; i < N; i++)
        cnt[llm_sampler_sample(s, l)]++;
    const double want[4] = {0.5, 0.3, 0.15, 0.05};
    for (int i = 0; i < 4; i++)
        CHECKF(fabs((double)cnt[i] / N - want[i]) < 0.015, "token %d: %g vs %g", i, (double)cnt[i] / N, want[i]);
    llm_sampler_free(s);
    /* temperature sharpens: at 0.25, p ~ p^4, token 0 has 0.0625 / 0.07111 = 0.879 */
    p.temperature = 0.25f;
    s = llm_sampler_new(&p, 4);
    int zero = 0;
    for (int i = 0; i < 2000; i++)
        zero += llm_sampler_sample(s, l) == 0;
    CHECKF(zero > 1700 && zero < 1815, "token 0 drawn %d of 2000 times (expected 1758 +- 15)", zero);
    llm_sampler_free(s);
}

static int feed_str(llm_stop *st, const char *s, jc_buf *out)
{
    return llm_stop_feed(st, s, strlen(s), out);
}

TEST(stop_strings)
{
    const char *stops[] = {"STOP", "", "<|end|>"};
    llm_stop *st = llm_stop_new(stops, 3);
    jc_buf out;
    jc_buf_init(&out, 1 << 20);
    CHECK_EQ_INT(feed_str(st, "Hello S", &out), 0);
    CHECK_STR(out.data, "Hello "); /* "S" held back */
    CHECK_EQ_INT(feed_str(st, "TAY <|e", &out), 0);
    CHECK_STR(out.data, "Hello STAY "); /* "STA" was no stop; "<|e" held */
    CHECK_EQ_INT(feed_str(st, "nd|> after", &out), 1);
    CHECK_STR(out.data, "Hello STAY ");
    llm_stop_free(st);
    /* the earliest stop wins, in one piece */
    jc_buf_reset(&out);
    st = llm_stop_new(stops, 3);
    CHECK_EQ_INT(feed_str(st, "a<|end|>bSTOP", &out), 1);
    CHECK_STR(out.data, "a");
    llm_stop_free(st);
    /* flush releases a held prefix at the end; no stops: all passes */
    jc_buf_reset(&out);
    st = llm_stop_new(stops, 3);
    CHECK_EQ_INT(feed_str(st, "xST", &out), 0);
    CHECK_EQ_INT(llm_stop_flush(st, &out), 0);
    CHECK_STR(out.data, "xST");
    llm_stop_free(st);
    jc_buf_reset(&out);
    st = llm_stop_new(NULL, 0);
    CHECK_EQ_INT(feed_str(st, "STOP", &out), 0);
    CHECK_STR(out.data, "STOP");
    llm_stop_free(st);
    jc_buf_free(&out);
}

typedef struct cover {
    atomic_int *hits;
    atomic_int calls;
} cover;

static void cover_fn(void *arg, int64_t i0, int64_t i1, int ith)
{
    cover *c = arg;
    (void)ith;
    for (int64_t i = i0; i < i1; i++)
        atomic_fetch_add(&c->hits[i], 1);
    atomic_fetch_add(&c->calls, 1);
}

static void who_fn(void *arg, int ith, int nth)
{
    atomic_int *seen = arg;
    if (ith >= 0 && ith < nth)
        atomic_fetch_add(&seen[ith], 1);
}

TEST(pool_covers_each_index_once)
{
    jc_err err = {0};
    jc_pool *p = jc_pool_new(3, &err);
    REQUIRE(p);
    CHECK_EQ_INT(jc_pool_n_threads(p), 3);
    enum { N = 1000 };
    static atomic_int hits[N];
    cover c = {.hits = hits};
    int bad = 0;
    /* read-ahead hints between jobs (idle workers prefetch them) change nothing a job does */
    enum { HINT = 4 << 20 };
    uint8_t *ahead = malloc(HINT);
    REQUIRE(ahead);
    for (int job = 0; job < 300; job++) {
        if (job % 3 == 0)
            jc_pool_hint(p, ahead + (job * 4096) % HINT, HINT - (size_t)(job * 4096) % HINT);
        for (int i = 0; i < N; i++)
            atomic_store(&hits[i], 0);
        int64_t n = 1 + (job * 37) % N, grain = 1 + job % 50;
        jc_pool_for(p, n, grain, cover_fn, &c);
        for (int64_t i = 0; i < N; i++)
            bad += atomic_load(&hits[i]) != (i < n ? 1 : 0);
    }
    CHECK_EQ_INT(bad, 0);
    jc_pool_hint(p, NULL, 0);
    free(ahead);
    atomic_int seen[3] = {0};
    for (int i = 0; i < 100; i++)
        jc_pool_run(p, who_fn, seen);
    CHECK(seen[0] == 100 && seen[1] == 100 && seen[2] == 100);
    jc_pool_free(p);
    jc_pool_free(NULL);
    CHECK(jc_cpu_count() >= 1);
    CHECK(jc_cpu_count_physical() >= 1 && jc_cpu_count_physical() <= jc_cpu_count());
}

TEST(simd_ops_match_scalar)
{
    llm_ops o;
    llm_ops_init(&o);
    if (!o.simd) {
        fprintf(stderr, "  (no SIMD kernels on this CPU: nothing to compare)\n");
        return;
    }
    enum { N = 203 };
    float a[N], b[N], x1[N], x2[N], y1[N], y2[N];
    uint16_t h[N];
    for (int i = 0; i < N; i++) {
        a[i] = -120.0f + 140.0f * (float)((i * 7919) % N) / N; /* [-120, 20]: exp underflows at the low end */
        b[i] = sinf((float)i);
    }
    memcpy(x1, a, sizeof a);
    memcpy(x2, a, sizeof a);
    llm_softmax(x1, N);
    o.softmax(x2, N);
    double worst = 0;
    int tiny = 0;
    for (int i = 0; i < N; i++) {
        if (x1[i] > 1e-30f)
            worst = fmax(worst, fabs(x1[i] - x2[i]) / x1[i]);
        else
            tiny += x2[i] > 1e-30f; /* underflowed in C: must be (almost) zero here too */
    }
    CHECKF(worst < 2e-6, "softmax relative error %g", worst);
    CHECK_EQ_INT(tiny, 0);
    double mxd = 0;
    for (int i = 0; i < N; i++)
        mxd = fmax(mxd, fabs(x1[i] - x2[i]));
    CHECKF(mxd < 1e-7, "softmax abs error %g", mxd);
    for (int i = 0; i < N; i++) {
        x1[i] = x2[i] = (a[i] + 50.0f) * 1.5f; /* [-105, 105] */
    }
    llm_swiglu(x1, b, N);
    o.swiglu(x2, b, N);
    worst = 0;
    for (int i = 0; i < N; i++)
        worst = fmax(worst, fabs(x1[i] - x2[i]) / (fabs(x1[i]) + 1e-6));
    CHECKF(worst < 2e-6, "swiglu relative error %g", worst);
    o.to_f16(h, b, N);
    o.to_f32(y1, h, N);
    int mism = 0;
    for (int i = 0; i < N; i++)
        mism += h[i] != q_f32_to_f16(b[i]) || y1[i] != q_f16_to_f32(h[i]);
    CHECK_EQ_INT(mism, 0);
    memset(y1, 0, sizeof y1);
    memset(y2, 0, sizeof y2);
    for (int i = 0; i < N; i++)
        y1[i] += 0.5f * b[i];
    o.axpy_f32(y2, 0.5f, b, N);
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    double d = 0;
    for (int i = 0; i < N; i++)
        d += (double)b[i] * b[i];
    CHECKF(fabs(o.dot_f32(b, b, N) - d) < 1e-4 * d, "dot %g vs %g", o.dot_f32(b, b, N), d);
}

/* The attention chunk products agree with a double-precision reference, with ragged sizes (tails of every loop). */
TEST(attention_ops_match_reference)
{
    llm_ops o;
    llm_ops_init(&o);
    enum { NQ = 7, KC = 48, HD = 72, LDS = 64 };
    static float q[NQ][HD], kt[HD * KC], v[KC * HD], S[NQ * LDS], out[NQ][HD];
    const float *qp[NQ];
    float *op[NQ];
    for (int i = 0; i < NQ; i++) {
        qp[i] = q[i], op[i] = out[i];
        for (int d = 0; d < HD; d++)
            q[i][d] = sinf((float)(i * HD + d) * 0.37f);
    }
    for (int i = 0; i < HD * KC; i++)
        kt[i] = cosf((float)i * 0.11f), v[i] = sinf((float)i * 0.23f + 1.0f);
    for (int nq = 1; nq <= NQ; nq += 3) {
        o.attn_qk(S, LDS, qp, nq, kt, KC, HD, 0.125f);
        double worst = 0;
        for (int i = 0; i < nq; i++)
            for (int j = 0; j < KC; j++) {
                double r = 0;
                for (int d = 0; d < HD; d++)
                    r += (double)q[i][d] * kt[d * KC + j];
                worst = fmax(worst, fabs(S[i * LDS + j] - 0.125 * r));
            }
        CHECKF(worst < 1e-5, "attn_qk, %d queries: error %g", nq, worst);
        for (int hdv = 64; hdv <= HD; hdv += 8) { /* 64: whole 32-wide steps; 72: a tail */
            for (int i = 0; i < nq; i++)
                for (int d = 0; d < HD; d++)
                    out[i][d] = (float)d;
            o.attn_pv(op, S, LDS, nq, v, KC, hdv);
            worst = 0;
            for (int i = 0; i < nq; i++)
                for (int d = 0; d < HD; d++) {
                    double r = d;
                    if (d < hdv)
                        for (int j = 0; j < KC; j++)
                            r += (double)S[i * LDS + j] * v[j * hdv + d];
                    worst = fmax(worst, fabs(out[i][d] - r));
                }
            CHECKF(worst < 1e-4, "attn_pv, %d queries, %d dims: error %g", nq, hdv, worst);
        }
    }
}

TESTS(T(greedy_is_argmax), T(same_seed_same_tokens), T(penalties_as_defined), T(top_p_min_p_and_distribution),
      T(stop_strings), T(pool_covers_each_index_once), T(simd_ops_match_scalar),
      T(attention_ops_match_reference));
TEST_MAIN()
