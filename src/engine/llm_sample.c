/*
 * llm_sample.c — the sampler (see llm_sample.h).
 *
 * Steps, as llama.cpp's default chain orders them: repetition / presence /
 * frequency penalties over the last penalty_last_n accepted tokens; then,
 * when temperature <= 0, the argmax; else top-k, top-p and min-p computed at
 * temperature 1, then the temperature, then a draw from the softmax of what
 * is left with xoshiro256** seeded by splitmix64(seed).
 */
#include "engine/llm_sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/jc.h"

enum { HIST_MAX = 4096 };

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct llm_sampler {
    llm_sampler_params p;
    int n_vocab;
    uint64_t rng[4];
    cand *c;          /* [n_vocab] */
    int n_c;          /* candidates after the last sample */
    int32_t *ids;     /* [n_vocab] result view for llm_sampler_candidates */
    float *probs;     /* [n_vocab] */
    int32_t *count;   /* [n_vocab], zero between calls */
    int32_t hist[HIST_MAX];
    int hist_n, hist_head;
};

llm_sampler_params llm_sampler_default_params(void)
{
    return (llm_sampler_params){.temperature = 0.8f, .top_p = 0.95f, .min_p = 0.05f, .top_k = 40,
                                .repeat_penalty = 1.0f, .presence_penalty = 0, .frequency_penalty = 0,
                                .penalty_last_n = 64, .seed = 0};
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform01(uint64_t *s)
{
    return (double)(xoshiro_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

void llm_sampler_reset(llm_sampler *s)
{
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
    s->hist_n = s->hist_head = 0;
    s->n_c = 0;
}

llm_sampler *llm_sampler_new(const llm_sampler_params *p, int n_vocab)
{
    if (n_vocab < 1 || !p)
        return NULL;
    llm_sampler *s = jc_xcalloc(1, sizeof *s);
    s->p = *p;
    s->n_vocab = n_vocab;
    s->c = jc_xcalloc((size_t)n_vocab, sizeof *s->c);
    s->ids = jc_xcalloc((size_t)n_vocab, sizeof *s->ids);
    s->probs = jc_xcalloc((size_t)n_vocab, sizeof *s->probs);
    s->count = jc_xcalloc((size_t)n_vocab, sizeof *s->count);
    llm_sampler_reset(s);
    return s;
}

void llm_sampler_free(llm_sampler *s)
{
    if (!s)
        return;
    free(s->c);
    free(s->ids);
    free(s->probs);
    free(s->count);
    free(s);
}

void llm_sampler_accept(llm_sampler *s, int32_t tok)
{
    if (tok < 0 || tok >= s->n_vocab)
        return;
    s->hist[s->hist_head] = tok;
    s->hist_head = (s->hist_head + 1) % HIST_MAX;
    if (s->hist_n < HIST_MAX)
        s->hist_n++;
}

static int window(const llm_sampler *s)
{
    int n = s->p.penalty_last_n;
    if (n < 0 || n > HIST_MAX)
        n = HIST_MAX;
    return JC_MIN(n, s->hist_n);
}

static int32_t hist_at(const llm_sampler *s, int back) /* back = 1: the latest */
{
    return s->hist[(s->hist_head - back + HIST_MAX) % HIST_MAX];
}

static void apply_penalties(llm_sampler *s)
{
    const llm_sampler_params *p = &s->p;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0 && p->frequency_penalty == 0)
        return;
    int n = window(s);
    for (int i = 1; i <= n; i++)
        s->count[hist_at(s, i)]++;
    for (int i = 1; i <= n; i++) {
        int32_t id = hist_at(s, i);
        int cnt = s->count[id];
        if (cnt == 0) /* already applied */
            continue;
        float *l = &s->c[id].logit;
        if (p->repeat_penalty > 0 && p->repeat_penalty != 1.0f)
            *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)cnt * p->frequency_penalty + p->presence_penalty;
        s->count[id] = 0;
    }
}

static int cmp_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Moves the k largest of c[0..n) to the front (unordered). */
static void select_top(cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        cand pivot = c[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cmp_desc(&c[i], &pivot) < 0)
                i++;
            while (cmp_desc(&c[j], &pivot) > 0)
                j--;
            if (i <= j) {
                cand t = c[i];
                c[i] = c[j];
                c[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* probs of c[0..n) (sorted, descending) at temperature t; returns nothing. */
static void softmax_cands(llm_sampler *s, int n, float t)
{
    float mx = s->c[0].logit;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float e = expf((s->c[i].logit - mx) / t);
        s->probs[i] = e;
        sum += e;
    }
    for (int i = 0; i < n; i++) {
        s->probs[i] = (float)(s->probs[i] / sum);
        s->ids[i] = s->c[i].id;
    }
}

int32_t llm_sampler_sample(llm_sampler *s, const float *logits)
{
    const llm_sampler_params *p = &s->p;
    int V = s->n_vocab, n = 0;
    for (int i = 0; i < V; i++) {
        s->c[i].id = i;
        s->c[i].logit = logits[i];
    }
    apply_penalties(s);
    /* non-finite logits (NaN, +inf) are out; -inf stays in but never wins a draw */
    for (int i = 0; i < V; i++)
        if (!isnan(s->c[i].logit) && s->c[i].logit != INFINITY)
            s->c[n++] = s->c[i];
    if (n == 0) { /* nothing usable: token 0, deterministically */
        s->n_c = 1;
        s->ids[0] = 0;
        s->probs[0] = 1;
        return 0;
    }
    if (p->temperature <= 0 || p->top_k == 1) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (s->c[i].logit > s->c[best].logit)
                best = i;
        s->n_c = 1;
        s->ids[0] = s->c[best].id;
        s->probs[0] = 1;
        return s->c[best].id;
    }
    if (p->top_k > 0 && p->top_k < n) {
        select_top(s->c, n, p->top_k);
        n = p->top_k;
    }
    qsort(s->c, (size_t)n, sizeof *s->c, cmp_desc);
    if (s->c[0].logit == -INFINITY) {
        s->n_c = 1;
        s->ids[0] = s->c[0].id;
        s->probs[0] = 1;
        return s->c[0].id;
    }
    softmax_cands(s, n, 1.0f);
    if (p->top_p < 1.0f) {
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += s->probs[i];
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0) {
        float thr = s->probs[0] * p->min_p;
        int keep = 1;
        while (keep < n && s->probs[keep] >= thr)
            keep++;
        n = keep;
    }
    softmax_cands(s, n, p->temperature);
    s->n_c = n;
    double u = uniform01(s->rng), cum = 0;
    for (int i = 0; i < n; i++) {
        cum += s->probs[i];
        if (u < cum)
            return s->ids[i];
    }
    return s->ids[n - 1];
}

void llm_sampler_candidates(const llm_sampler *s, const int32_t **ids, const float **probs, int *n)
{
    *ids = s->ids;
    *probs = s->probs;
    *n = s->n_c;
}
