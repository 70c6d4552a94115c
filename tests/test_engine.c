/*
 * test_engine.c — the forward pass and model loading, on tiny models made
 * with janc's own GGUF writer (random weights, 2 layers, n_embd 32, 4 heads
 * / 2 KV heads, a 64-token SentencePiece-style vocabulary). Proves:
 *   - a prompt as one batch and token by token give the same logits
 *     (llama F32, qwen2 F32 with biases and NeoX rope, llama Q8_0 weights);
 *   - micro-batch splitting, rewinds and two sequences in one batch change
 *     nothing (each sequence alone gives the same logits);
 *   - the f16 KV cache stays close to the f32 one;
 *   - logits equal an independent double-precision reference written from
 *     the definitions (llama: NORM rope with rope_freqs, GQA; qwen2: biases,
 *     NeoX rope, tied embeddings);
 *   - embeddings are unit length and pool the same however tokens came;
 *   - two contexts of one model decoding at once in two threads give the
 *     logits of one alone;
 *   - bad models (missing tensor or key, wrong shape, unsupported arch or
 *     type) and bad batches (token/seq/position out of range, gaps, a
 *     prompt longer than the context, a cache bigger than the machine)
 *     are clear errors that change nothing.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "engine/llm.h"
#include "gguf/gguf.h"
#include "harness.h"
#include "quant/quant.h"

enum { TV = 64 }; /* vocabulary size of the test models */

typedef struct tm_opts {
    const char *arch;      /* "llama" (default) or "qwen2" or anything */
    uint32_t wtype;        /* type of the 2-D weights (F32 default) */
    const char *skip;      /* a tensor to leave out */
    const char *bad_shape; /* a tensor written with one row too many */
    const char *skip_key;  /* a key (without the arch prefix) to leave out */
    const char *odd_type;  /* a tensor written as I8 */
    bool tied;             /* no output.weight */
    int pooling;           /* pooling_type, 0: absent */
    bool rope_freqs;       /* write rope_freqs.weight (Llama 3.1 style factors in [1, 4]) */
    int experts;           /* expert_count, 0: absent */
} tm_opts;

static uint64_t rng_state;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) * (1.0 / (1ull << 24))) * 2.0f - 1.0f;
}

typedef struct tm_build {
    gguf_writer *w;
    void *bufs[64];
    int nbufs;
    char names[64][48];
    const tm_opts *o;
} tm_build;

/* Adds a tensor [ne0, ne1] of random values (scale), converted to type, honouring the opts. */
static void add_t(tm_build *b, const char *name, int64_t ne0, int64_t ne1, float scale, float offset, bool matrix)
{
    const tm_opts *o = b->o;
    if (o->skip && !strcmp(o->skip, name))
        return;
    if (o->bad_shape && !strcmp(o->bad_shape, name))
        ne1 += 1;
    uint32_t type = matrix && o->wtype ? o->wtype : GGML_TYPE_F32;
    if (o->odd_type && !strcmp(o->odd_type, name))
        type = GGML_TYPE_I8;
    float *f = malloc((size_t)(ne0 * ne1) * sizeof *f);
    for (int64_t i = 0; i < ne0 * ne1; i++)
        f[i] = offset + scale * frand();
    uint64_t rb = 0;
    ggml_row_size(type, (uint64_t)ne0, &rb);
    void *data = f;
    if (type == GGML_TYPE_I8) {
        data = calloc((size_t)(rb * ne1), 1);
        free(f);
    } else if (type != GGML_TYPE_F32) {
        data = malloc((size_t)(rb * ne1));
        for (int64_t r = 0; r < ne1; r++)
            q_quantize_row(type, f + r * ne0, (uint8_t *)data + r * rb, ne0);
        free(f);
    }
    b->bufs[b->nbufs] = data;
    snprintf(b->names[b->nbufs], sizeof b->names[0], "%s", name);
    int64_t ne[2] = {ne0, ne1};
    jc_err err = {0};
    if (gguf_writer_add_tensor(b->w, b->names[b->nbufs], type, ne1 == 1 ? 1 : 2, ne, data, rb * (uint64_t)ne1, &err))
        fprintf(stderr, "add_tensor %s: %s\n", name, err.msg);
    b->nbufs++;
}

static void set_u32(tm_build *b, const char *arch, const char *key, uint32_t v)
{
    if (b->o->skip_key && !strcmp(b->o->skip_key, key))
        return;
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    gguf_writer_set_u32(b->w, full, v);
}

/* Writes a tiny model to path. Returns 0 on success. */
static int tm_write(const char *path, const tm_opts *o)
{
    const char *arch = o->arch ? o->arch : "llama";
    bool qwen = !strcmp(arch, "qwen2");
    const int E = 32, L = 2, H = 4, HKV = 2, HD = 8, FF = 64;
    tm_build b = {.w = gguf_writer_new(3), .o = o};
    rng_state = 12345;
    gguf_writer_set_str(b.w, "general.architecture", arch);
    set_u32(&b, arch, "embedding_length", E);
    set_u32(&b, arch, "block_count", L);
    set_u32(&b, arch, "feed_forward_length", FF);
    set_u32(&b, arch, "attention.head_count", H);
    set_u32(&b, arch, "attention.head_count_kv", HKV);
    set_u32(&b, arch, "context_length", 128);
    set_u32(&b, arch, "rope.dimension_count", HD);
    if (o->pooling)
        set_u32(&b, arch, "pooling_type", (uint32_t)o->pooling);
    if (o->experts)
        set_u32(&b, arch, "expert_count", (uint32_t)o->experts);
    char key[96];
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    gguf_writer_set_f32(b.w, key, 1e-5f);
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    gguf_writer_set_f32(b.w, key, 10000.0f);
    /* a SentencePiece vocabulary: <unk>, <s>, </s>, then plain pieces */
    const char *toks[TV];
    char tokbuf[TV][8];
    float scores[TV];
    int32_t types[TV];
    for (int i = 0; i < TV; i++) {
        if (i == 0)
            snprintf(tokbuf[i], sizeof tokbuf[i], "<unk>");
        else if (i == 1)
            snprintf(tokbuf[i], sizeof tokbuf[i], "<s>");
        else if (i == 2)
            snprintf(tokbuf[i], sizeof tokbuf[i], "</s>");
        else
            snprintf(tokbuf[i], sizeof tokbuf[i], "%c%c", 'a' + i % 26, 'a' + i / 26);
        toks[i] = tokbuf[i];
        scores[i] = -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    gguf_writer_set_str(b.w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(b.w, "tokenizer.ggml.tokens", toks, TV);
    gguf_writer_set_arr(b.w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, TV);
    gguf_writer_set_arr(b.w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, TV);
    gguf_writer_set_u32(b.w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(b.w, "tokenizer.ggml.eos_token_id", 2);

    add_t(&b, "token_embd.weight", E, TV, 1.0f, 0, true);
    add_t(&b, "output_norm.weight", E, 1, 0.1f, 1.0f, false);
    if (o->rope_freqs)
        add_t(&b, "rope_freqs.weight", HD / 2, 1, 1.5f, 2.5f, false);
    if (!o->tied)
        add_t(&b, "output.weight", E, TV, 0.3f, 0, true);
    for (int il = 0; il < L; il++) {
        char n[64];
#define N(s) (snprintf(n, sizeof n, "blk.%d.%s", il, s), n)
        add_t(&b, N("attn_norm.weight"), E, 1, 0.1f, 1.0f, false);
        add_t(&b, N("attn_q.weight"), E, H * HD, 0.5f, 0, true);
        add_t(&b, N("attn_k.weight"), E, HKV * HD, 0.5f, 0, true);
        add_t(&b, N("attn_v.weight"), E, HKV * HD, 0.3f, 0, true);
        if (qwen) {
            add_t(&b, N("attn_q.bias"), H * HD, 1, 0.2f, 0, false);
            add_t(&b, N("attn_k.bias"), HKV * HD, 1, 0.2f, 0, false);
            add_t(&b, N("attn_v.bias"), HKV * HD, 1, 0.2f, 0, false);
        }
        add_t(&b, N("attn_output.weight"), H * HD, E, 0.3f, 0, true);
        add_t(&b, N("ffn_norm.weight"), E, 1, 0.1f, 1.0f, false);
        add_t(&b, N("ffn_gate.weight"), E, FF, 0.3f, 0, true);
        add_t(&b, N("ffn_up.weight"), E, FF, 0.3f, 0, true);
        add_t(&b, N("ffn_down.weight"), FF, E, 0.2f, 0, true);
#undef N
    }
    jc_err err = {0};
    int rc = gguf_writer_write(b.w, path, &err);
    if (rc)
        fprintf(stderr, "write %s: %s\n", path, err.msg);
    gguf_writer_free(b.w);
    for (int i = 0; i < b.nbufs; i++)
        free(b.bufs[i]);
    return rc;
}

static char *tmp_dir;

static char *tm_path(const char *name)
{
    if (!tmp_dir)
        tmp_dir = test_tmpdir();
    char *p = malloc(strlen(tmp_dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", tmp_dir, name);
    return p;
}

/* Loads a model written with opts; NULL (and err) on failure. */
static llm_model *tm_load(const tm_opts *o, const char *name, jc_err *err)
{
    char *p = tm_path(name);
    llm_model *m = NULL;
    if (tm_write(p, o) == 0)
        m = llm_model_load(p, err);
    unlink(p);
    free(p);
    return m;
}

static llm_ctx *tm_ctx(llm_model *m, int n_seq, int n_ubatch, bool kv_f32, bool emb)
{
    llm_ctx_params p = llm_ctx_default_params();
    p.n_ctx = 64;
    p.n_seq = n_seq;
    p.n_threads = 2;
    p.n_ubatch = n_ubatch;
    p.kv_f32 = kv_f32;
    p.embeddings = emb;
    /* the tiny models are below the default serial threshold: full-batch contexts force
       every step through the pool, micro-batched ones (n_ubatch < 512) keep the default,
       so both paths are compared against each other */
    p.serial_below = n_ubatch == 512 ? -1 : 0;
    jc_err err = {0};
    llm_ctx *c = llm_ctx_new(m, &p, &err);
    if (!c)
        fprintf(stderr, "llm_ctx_new: %s\n", err.msg);
    return c;
}

static const int32_t prompt[12] = {1, 5, 17, 33, 8, 60, 42, 3, 9, 27, 14, 50};

/* Largest |a-b| relative to the largest |b| over n values. */
static double rel_diff(const float *a, const float *b, int n)
{
    double d = 0, mx = 1e-30;
    for (int i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mx = fmax(mx, fabs((double)b[i]));
    }
    return d / mx;
}

/* Runs prompt[0..n) as one batch with all logits into out[n][TV]; 0 on success. */
static int run_batch(llm_ctx *c, int n, int seq, float *out)
{
    int32_t pos[12], sq[12];
    bool want[12];
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        sq[i] = seq;
        want[i] = true;
    }
    llm_batch b = {.n = n, .tokens = prompt, .pos = pos, .seq = sq, .want_logits = want};
    jc_err err = {0};
    if (llm_decode(c, &b, &err)) {
        fprintf(stderr, "decode: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < n; i++)
        memcpy(out + i * TV, llm_logits(c, i), TV * sizeof(float));
    return 0;
}

/* Runs prompt[from..n) one token at a time (positions from..n-1). */
static int run_single(llm_ctx *c, int from, int n, float *out)
{
    jc_err err = {0};
    for (int i = from; i < n; i++) {
        int32_t pos = i;
        llm_batch b = {.n = 1, .tokens = prompt + i, .pos = &pos};
        if (llm_decode(c, &b, &err)) {
            fprintf(stderr, "decode: %s\n", err.msg);
            return -1;
        }
        const float *l = llm_logits(c, 0);
        if (!l)
            return -1;
        memcpy(out + i * TV, l, TV * sizeof(float));
    }
    return 0;
}

static void check_batch_vs_single(const tm_opts *o, const char *name)
{
    jc_err err = {0};
    llm_model *m = tm_load(o, name, &err);
    REQUIRE(m);
    CHECK_EQ_INT(llm_model_n_vocab(m), TV);
    float a[12 * TV], b[12 * TV];
    llm_ctx *c1 = tm_ctx(m, 1, 512, true, false), *c2 = tm_ctx(m, 1, 512, true, false);
    REQUIRE(c1 && c2);
    CHECK(run_batch(c1, 12, 0, a) == 0);
    CHECK(run_single(c2, 0, 12, b) == 0);
    double d = rel_diff(a, b, 12 * TV);
    CHECKF(d < 1e-4, "%s: batch vs single relative diff %g", name, d);
    /* logits must vary with the position: not all rows equal */
    CHECK(rel_diff(a, a + TV, TV) > 1e-3);
    llm_ctx_free(c1);
    llm_ctx_free(c2);
    llm_model_free(m);
}

TEST(batch_equals_single_llama_f32)
{
    tm_opts o = {0};
    check_batch_vs_single(&o, "llama.gguf");
}

TEST(batch_equals_single_qwen2_f32)
{
    tm_opts o = {.arch = "qwen2", .tied = true};
    check_batch_vs_single(&o, "qwen2.gguf");
}

TEST(batch_equals_single_llama_q8_0)
{
    tm_opts o = {.wtype = GGML_TYPE_Q8_0};
    check_batch_vs_single(&o, "q8.gguf");
}

/* Micro-batches of 5, a rewind and the f16 cache. */
TEST(ubatch_rewind_and_f16_cache)
{
    tm_opts o = {0};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "u.gguf", &err);
    REQUIRE(m);
    float a[12 * TV], b[12 * TV], h[12 * TV];
    llm_ctx *c1 = tm_ctx(m, 1, 512, true, false), *c2 = tm_ctx(m, 1, 5, true, false),
            *c3 = tm_ctx(m, 1, 512, false, false);
    REQUIRE(c1 && c2 && c3);
    CHECK(run_batch(c1, 12, 0, a) == 0);
    CHECK(run_batch(c2, 12, 0, b) == 0);
    CHECKF(rel_diff(b, a, 12 * TV) < 1e-5, "ubatch split diff %g", rel_diff(b, a, 12 * TV));
    /* rewind to 6 and redo the rest one by one */
    llm_seq_truncate(c2, 0, 6);
    CHECK_EQ_INT(llm_seq_len(c2, 0), 6);
    memset(b, 0, sizeof b);
    CHECK(run_single(c2, 6, 12, b) == 0);
    CHECKF(rel_diff(b + 6 * TV, a + 6 * TV, 6 * TV) < 1e-4, "rewind diff %g", rel_diff(b + 6 * TV, a + 6 * TV, 6 * TV));
    CHECK_EQ_INT(llm_seq_len(c2, 0), 12);
    CHECK(run_batch(c3, 12, 0, h) == 0);
    double d = rel_diff(h, a, 12 * TV);
    CHECKF(d < 1e-2 && d > 0, "f16 cache diff %g", d);
    llm_ctx_free(c1);
    llm_ctx_free(c2);
    llm_ctx_free(c3);
    llm_model_free(m);
}

/* Two sequences interleaved in one batch equal each alone; then one step of each together. */
TEST(two_sequences_in_one_batch)
{
    tm_opts o = {0};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "s.gguf", &err);
    REQUIRE(m);
    const int n0 = 7, n1 = 5; /* seq 0: prompt[0..7); seq 1: prompt[3..8) */
    float alone0[12 * TV], alone1[12 * TV];
    llm_ctx *ca = tm_ctx(m, 1, 512, true, false), *cb = tm_ctx(m, 1, 512, true, false),
            *cm = tm_ctx(m, 2, 512, true, false);
    REQUIRE(ca && cb && cm);
    CHECK(run_batch(ca, n0, 0, alone0) == 0);
    int32_t tk[12], pos[12], sq[12];
    bool want[12];
    for (int i = 0; i < n1; i++) {
        tk[i] = prompt[3 + i];
        pos[i] = i;
    }
    llm_batch b1 = {.n = n1, .tokens = tk, .pos = pos};
    bool all[12] = {true, true, true, true, true, true, true, true, true, true, true, true};
    b1.want_logits = all;
    CHECK(llm_decode(cb, &b1, &err) == 0);
    for (int i = 0; i < n1; i++)
        memcpy(alone1 + i * TV, llm_logits(cb, i), TV * sizeof(float));
    /* interleave: s0 t0, s1 t0, s0 t1, s1 t1, ... */
    int n = 0, i0 = 0, i1 = 0, where0[12], where1[12];
    while (i0 < n0 || i1 < n1) {
        if (i0 < n0) {
            where0[i0] = n;
            tk[n] = prompt[i0];
            pos[n] = i0++;
            sq[n] = 0;
            want[n++] = true;
        }
        if (i1 < n1) {
            where1[i1] = n;
            tk[n] = prompt[3 + i1];
            pos[n] = i1++;
            sq[n] = 1;
            want[n++] = true;
        }
    }
    llm_batch bm = {.n = n, .tokens = tk, .pos = pos, .seq = sq, .want_logits = want};
    REQUIRE(llm_decode(cm, &bm, &err) == 0);
    double d = 0;
    for (int i = 0; i < n0; i++)
        d = fmax(d, rel_diff(llm_logits(cm, where0[i]), alone0 + i * TV, TV));
    for (int i = 0; i < n1; i++)
        d = fmax(d, rel_diff(llm_logits(cm, where1[i]), alone1 + i * TV, TV));
    CHECKF(d < 1e-4, "mixed batch vs alone diff %g", d);
    CHECK_EQ_INT(llm_seq_len(cm, 0), n0);
    CHECK_EQ_INT(llm_seq_len(cm, 1), n1);
    /* one more token for each, in one batch, vs alone */
    int32_t t2[2] = {prompt[n0], prompt[3 + n1]}, p2[2] = {n0, n1}, s2[2] = {0, 1};
    bool w2[2] = {true, true};
    llm_batch step = {.n = 2, .tokens = t2, .pos = p2, .seq = s2, .want_logits = w2};
    REQUIRE(llm_decode(cm, &step, &err) == 0);
    llm_batch sa = {.n = 1, .tokens = &t2[0], .pos = &p2[0]}, sb = {.n = 1, .tokens = &t2[1], .pos = &p2[1]};
    REQUIRE(llm_decode(ca, &sa, &err) == 0 && llm_decode(cb, &sb, &err) == 0);
    d = fmax(rel_diff(llm_logits(cm, 0), llm_logits(ca, 0), TV), rel_diff(llm_logits(cm, 1), llm_logits(cb, 0), TV));
    CHECKF(d < 1e-4, "mixed step diff %g", d);
    /* clearing seq 1 leaves seq 0 alone */
    llm_seq_clear(cm, 1);
    CHECK_EQ_INT(llm_seq_len(cm, 1), 0);
    CHECK_EQ_INT(llm_seq_len(cm, 0), n0 + 1);
    llm_ctx_free(ca);
    llm_ctx_free(cb);
    llm_ctx_free(cm);
    llm_model_free(m);
}

TEST(embeddings_unit_length)
{
    tm_opts o = {0};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "e.gguf", &err);
    REQUIRE(m);
    CHECK_EQ_INT(llm_model_pooling(m), LLM_POOL_MEAN);
    llm_ctx *c1 = tm_ctx(m, 2, 512, true, true), *c2 = tm_ctx(m, 1, 3, true, true);
    REQUIRE(c1 && c2);
    float tmp[12 * TV];
    CHECK(run_batch(c1, 8, 0, tmp) == 0);
    CHECK(run_batch(c1, 4, 1, tmp) == 0);
    CHECK(run_single(c2, 0, 8, tmp) == 0);
    const int E = llm_model_n_embd(m);
    float e0[64], e1[64];
    const float *p = llm_embedding(c1, 0, &err);
    REQUIRE(p);
    memcpy(e0, p, (size_t)E * sizeof(float));
    p = llm_embedding(c1, 1, &err);
    REQUIRE(p);
    memcpy(e1, p, (size_t)E * sizeof(float));
    double n0 = 0, n1 = 0, dot = 0;
    for (int i = 0; i < E; i++) {
        n0 += e0[i] * e0[i];
        n1 += e1[i] * e1[i];
        dot += e0[i] * e1[i];
    }
    CHECKF(fabs(n0 - 1) < 1e-5 && fabs(n1 - 1) < 1e-5, "norms %g %g", n0, n1);
    CHECK(dot < 0.9999); /* different texts, different vectors */
    p = llm_embedding(c2, 0, &err); /* same 8 tokens, one at a time in micro-batches of 3 */
    REQUIRE(p);
    CHECKF(rel_diff(p, e0, E) < 1e-4, "pooled diff %g", rel_diff(p, e0, E));
    /* errors: empty sequence, context without embeddings */
    llm_seq_clear(c2, 0);
    CHECK(llm_embedding(c2, 0, &err) == NULL);
    llm_ctx *c3 = tm_ctx(m, 1, 512, true, false);
    CHECK(llm_embedding(c3, 0, &err) == NULL);
    CHECK(strstr(err.msg, "embeddings") != NULL);
    llm_ctx_free(c1);
    llm_ctx_free(c2);
    llm_ctx_free(c3);
    llm_model_free(m);
}

static void expect_load_error(const tm_opts *o, const char *name, const char *needle1, const char *needle2)
{
    jc_err err = {0};
    llm_model *m = tm_load(o, name, &err);
    CHECKF(m == NULL, "%s loaded", name);
    CHECKF(strstr(err.msg, needle1) && (!needle2 || strstr(err.msg, needle2)), "%s: message '%s' lacks '%s'/'%s'",
           name, err.msg, needle1, needle2 ? needle2 : "");
    llm_model_free(m);
}

TEST(bad_models_are_errors)
{
    tm_opts o1 = {.skip = "blk.1.ffn_up.weight"};
    expect_load_error(&o1, "b1.gguf", "blk.1.ffn_up.weight", "missing");
    tm_opts o2 = {.bad_shape = "blk.0.attn_k.weight"};
    expect_load_error(&o2, "b2.gguf", "blk.0.attn_k.weight", "shape");
    tm_opts o3 = {.arch = "gpt2"};
    expect_load_error(&o3, "b3.gguf", "gpt2", "not supported");
    tm_opts o4 = {.odd_type = "blk.0.attn_q.weight"};
    expect_load_error(&o4, "b4.gguf", "blk.0.attn_q.weight", "I8");
    tm_opts o5 = {.skip_key = "embedding_length"};
    expect_load_error(&o5, "b5.gguf", "llama.embedding_length", "missing");
    tm_opts o6 = {.arch = "qwen2", .skip = "blk.0.attn_k.bias"};
    expect_load_error(&o6, "b6.gguf", "blk.0.attn_k.bias", "missing");
    tm_opts o8 = {.experts = 8};
    expect_load_error(&o8, "b8.gguf", "expert_count", "not supported");
    tm_opts o7 = {.bad_shape = "token_embd.weight"}; /* 65 rows, but output.weight has 64 */
    expect_load_error(&o7, "b7.gguf", "output.weight", "shape");
    jc_err err = {0};
    CHECK(llm_model_load("/nonexistent/x.gguf", &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.gguf") != NULL);
}

/* A batch error changes nothing, and names what was wrong. */
static void expect_decode_error(llm_ctx *c, const llm_batch *b, const char *needle)
{
    jc_err err = {0};
    int before0 = llm_seq_len(c, 0), before1 = llm_seq_len(c, 1);
    CHECK(llm_decode(c, b, &err) == -1);
    CHECKF(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    CHECK_EQ_INT(llm_seq_len(c, 0), before0);
    CHECK_EQ_INT(llm_seq_len(c, 1), before1);
}

TEST(bad_batches_are_errors)
{
    tm_opts o = {0};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "bb.gguf", &err);
    REQUIRE(m);
    llm_ctx *c = tm_ctx(m, 2, 512, true, false);
    REQUIRE(c);
    int32_t tk[4] = {1, 5, 7, 9}, pos[4] = {0, 1, 2, 3}, sq[4] = {0, 0, 0, 0};
    llm_batch ok = {.n = 4, .tokens = tk, .pos = pos, .seq = sq};
    REQUIRE(llm_decode(c, &ok, &err) == 0);
    int32_t bad_tok[1] = {TV}, neg_tok[1] = {-1}, p4[1] = {4}, p9[1] = {9}, p64[1] = {64}, s2[1] = {2}, s1[1] = {1};
    llm_batch b1 = {.n = 1, .tokens = bad_tok, .pos = p4};
    expect_decode_error(c, &b1, "token id 64");
    llm_batch b2 = {.n = 1, .tokens = neg_tok, .pos = p4};
    expect_decode_error(c, &b2, "token id -1");
    llm_batch b3 = {.n = 1, .tokens = tk, .pos = p9};
    expect_decode_error(c, &b3, "gap");
    llm_batch b4 = {.n = 1, .tokens = tk, .pos = p64};
    expect_decode_error(c, &b4, "outside the context");
    llm_batch b5 = {.n = 1, .tokens = tk, .pos = p4, .seq = s2};
    expect_decode_error(c, &b5, "sequence 2");
    llm_batch b6 = {.n = 1, .tokens = tk, .pos = p4, .seq = s1};
    expect_decode_error(c, &b6, "gap"); /* seq 1 is empty: position 4 leaves a gap */
    int32_t pj[2] = {4, 6};
    llm_batch b7 = {.n = 2, .tokens = tk, .pos = pj};
    expect_decode_error(c, &b7, "does not follow");
    llm_batch b8 = {.n = 0, .tokens = tk, .pos = pos};
    expect_decode_error(c, &b8, "empty");
    /* a prompt longer than the context: 65 tokens into 64 positions */
    int32_t longt[65], longp[65];
    for (int i = 0; i < 65; i++) {
        longt[i] = 3 + i % 60;
        longp[i] = i;
    }
    llm_seq_clear(c, 0);
    llm_batch b9 = {.n = 65, .tokens = longt, .pos = longp};
    expect_decode_error(c, &b9, "outside the context");
    /* a batch over n_batch */
    llm_ctx_params p = llm_ctx_default_params();
    p.n_ctx = 64;
    p.n_batch = 2;
    p.n_threads = 1;
    llm_ctx *small = llm_ctx_new(m, &p, &err);
    REQUIRE(small);
    llm_batch b10 = {.n = 3, .tokens = tk, .pos = pos};
    expect_decode_error(small, &b10, "n_batch");
    llm_ctx_free(small);
    /* a KV cache bigger than the machine is a clear error, not a crash */
    p = llm_ctx_default_params();
    p.n_ctx = 1 << 22;
    p.n_seq = 4000;
    p.n_threads = 1;
    CHECK(llm_ctx_new(m, &p, &err) == NULL);
    CHECKF(strstr(err.msg, "KV cache") != NULL, "message: %s", err.msg);
    llm_ctx_free(c);
    llm_model_free(m);
}

TEST(model_info)
{
    tm_opts o = {.pooling = 3};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "i.gguf", &err);
    REQUIRE(m);
    CHECK_STR(llm_model_arch(m), "llama");
    CHECK_EQ_INT(llm_model_n_embd(m), 32);
    CHECK_EQ_INT(llm_model_n_layer(m), 2);
    CHECK_EQ_INT(llm_model_n_ctx_train(m), 128);
    CHECK_EQ_INT(llm_model_pooling(m), LLM_POOL_LAST);
    CHECK(llm_model_chat_template(m) == NULL);
    CHECK(tok_bos(llm_model_vocab(m)) == 1);
    /* 2 layers x (3 attention + 1 output + 3 FFN matrices + 2 norms) + embeddings + output + its norm */
    uint64_t want = 2 * (32 * 32 + 2 * 32 * 16 + 32 * 32 + 3 * 32 * 64 + 2 * 32) + 2 * 32 * TV + 32;
    CHECK_EQ_INT(llm_model_n_params(m), want);
    CHECK(strstr(llm_model_desc(m), "F32") != NULL);
    llm_model_free(m);
    llm_model_free(NULL);
    llm_ctx_free(NULL);
}

/* ---- an independent reference forward pass (double precision, no cache) ---- */

static const float *ref_t(gguf_file *f, const char *name)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    return t && t->type == GGML_TYPE_F32 ? t->data : NULL;
}

/* y[out] = W[out][in] x[in] (+ b) */
static void ref_mv(const float *W, const float *b, const double *x, int in, int out, double *y)
{
    for (int r = 0; r < out; r++) {
        double s = b ? b[r] : 0;
        for (int i = 0; i < in; i++)
            s += (double)W[(size_t)r * in + i] * x[i];
        y[r] = s;
    }
}

static void ref_norm(const double *x, const float *w, int n, double *y)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * sc * w[i];
}

/* Rotates one head vector v[hd] at position pos: NeoX pairs (i, i+hd/2), else (2i, 2i+1). */
static void ref_rope(double *v, int hd, int pos, bool neox, const float *ff)
{
    for (int i = 0; i < hd / 2; i++) {
        double ang = pos * pow(10000.0, -2.0 * i / hd) / (ff ? ff[i] : 1.0);
        int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
        double x0 = v[a], x1 = v[b];
        v[a] = x0 * cos(ang) - x1 * sin(ang);
        v[b] = x0 * sin(ang) + x1 * cos(ang);
    }
}

/* Logits [n][TV] of the tiny F32 model at path for toks[0..n), straight from the file. */
static int ref_forward(const char *path, const int32_t *toks, int n, bool neox, double *logits)
{
    enum { E = 32, L = 2, H = 4, HKV = 2, HD = 8, FF = 64, NMAX = 12 };
    jc_err err = {0};
    gguf_file *f = gguf_open(path, &err);
    if (!f)
        return -1;
    static double x[NMAX][E], xn[NMAX][E], q[NMAX][H * HD], k[NMAX][HKV * HD], v[NMAX][HKV * HD], att[NMAX][H * HD],
        tmp[NMAX][FF], g[NMAX][FF], u[NMAX][FF];
    const float *emb = ref_t(f, "token_embd.weight"), *ff = ref_t(f, "rope_freqs.weight");
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++)
            x[t][i] = emb[(size_t)toks[t] * E + i];
    for (int il = 0; il < L; il++) {
        char nm[64];
#define W(s) (snprintf(nm, sizeof nm, "blk.%d.%s", il, s), ref_t(f, nm))
        for (int t = 0; t < n; t++) {
            ref_norm(x[t], W("attn_norm.weight"), E, xn[t]);
            ref_mv(W("attn_q.weight"), W("attn_q.bias"), xn[t], E, H * HD, q[t]);
            ref_mv(W("attn_k.weight"), W("attn_k.bias"), xn[t], E, HKV * HD, k[t]);
            ref_mv(W("attn_v.weight"), W("attn_v.bias"), xn[t], E, HKV * HD, v[t]);
            for (int h = 0; h < H; h++)
                ref_rope(q[t] + h * HD, HD, t, neox, ff);
            for (int h = 0; h < HKV; h++)
                ref_rope(k[t] + h * HD, HD, t, neox, ff);
        }
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                int kh = h / (H / HKV);
                double sc[NMAX], mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += q[t][h * HD + i] * k[j][kh * HD + i];
                    sc[j] = d / sqrt((double)HD);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= t; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int j = 0; j <= t; j++)
                        a += sc[j] / sum * v[j][kh * HD + i];
                    att[t][h * HD + i] = a;
                }
            }
        for (int t = 0; t < n; t++) {
            ref_mv(W("attn_output.weight"), NULL, att[t], H * HD, E, tmp[t]);
            for (int i = 0; i < E; i++)
                x[t][i] += tmp[t][i];
            ref_norm(x[t], W("ffn_norm.weight"), E, xn[t]);
            ref_mv(W("ffn_gate.weight"), NULL, xn[t], E, FF, g[t]);
            ref_mv(W("ffn_up.weight"), NULL, xn[t], E, FF, u[t]);
            for (int i = 0; i < FF; i++)
                g[t][i] = g[t][i] / (1 + exp(-g[t][i])) * u[t][i];
            ref_mv(W("ffn_down.weight"), NULL, g[t], FF, E, tmp[t]);
            for (int i = 0; i < E; i++)
                x[t][i] += tmp[t][i];
        }
#undef W
    }
    const float *out = ref_t(f, "output.weight");
    for (int t = 0; t < n; t++) {
        ref_norm(x[t], ref_t(f, "output_norm.weight"), E, xn[t]);
        ref_mv(out ? out : emb, NULL, xn[t], E, TV, logits + (size_t)t * TV);
    }
    gguf_close(f);
    return 0;
}

static void check_against_reference(const tm_opts *o, const char *name, bool neox)
{
    char *p = tm_path(name);
    REQUIRE(tm_write(p, o) == 0);
    jc_err err = {0};
    llm_model *m = llm_model_load(p, &err);
    double want[12 * TV];
    int rr = ref_forward(p, prompt, 12, neox, want);
    unlink(p);
    free(p);
    REQUIRE(m && rr == 0);
    llm_ctx *c = tm_ctx(m, 1, 512, true, false);
    REQUIRE(c);
    float got[12 * TV];
    CHECK(run_batch(c, 12, 0, got) == 0);
    double d = 0, mx = 0;
    for (int i = 0; i < 12 * TV; i++) {
        d = fmax(d, fabs(got[i] - want[i]));
        mx = fmax(mx, fabs(want[i]));
    }
    CHECKF(d / mx < 1e-4, "%s: max |janc - reference| %g (largest logit %g)", name, d, mx);
    llm_ctx_free(c);
    llm_model_free(m);
}

/* llama: NORM rope with Llama 3.1 rope_freqs factors, GQA, separate output matrix. */
TEST(llama_matches_reference)
{
    tm_opts o = {.rope_freqs = true};
    check_against_reference(&o, "ref-llama.gguf", false);
}

/* qwen2: Q/K/V biases, NeoX rope, tied embeddings. */
TEST(qwen2_matches_reference)
{
    tm_opts o = {.arch = "qwen2", .tied = true};
    check_against_reference(&o, "ref-qwen2.gguf", true);
}

typedef struct conc_arg {
    llm_model *m;
    float out[12 * TV];
    int rc;
} conc_arg;

static void *conc_main(void *v)
{
    conc_arg *a = v;
    llm_ctx *c = tm_ctx(a->m, 1, 512, false, false);
    a->rc = c ? run_batch(c, 12, 0, a->out) : -1;
    llm_ctx_free(c);
    return NULL;
}

/* Two contexts of one model decoding at the same time in two threads (as a server's
   models do) give exactly the logits of one context alone. */
TEST(concurrent_contexts_share_a_model)
{
    tm_opts o = {0};
    jc_err err = {0};
    llm_model *m = tm_load(&o, "cc.gguf", &err);
    REQUIRE(m);
    conc_arg solo = {.m = m};
    conc_main(&solo);
    REQUIRE(solo.rc == 0);
    conc_arg a = {.m = m}, b = {.m = m};
    pthread_t ta, tb;
    REQUIRE(pthread_create(&ta, NULL, conc_main, &a) == 0);
    REQUIRE(pthread_create(&tb, NULL, conc_main, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.rc == 0 && b.rc == 0);
    CHECK(memcmp(a.out, solo.out, sizeof a.out) == 0);
    CHECK(memcmp(b.out, solo.out, sizeof b.out) == 0);
    llm_model_free(m);
}

TESTS(T(batch_equals_single_llama_f32), T(batch_equals_single_qwen2_f32), T(batch_equals_single_llama_q8_0),
      T(ubatch_rewind_and_f16_cache), T(two_sequences_in_one_batch), T(embeddings_unit_length),
      T(bad_models_are_errors), T(bad_batches_are_errors), T(model_info), T(llama_matches_reference),
      T(qwen2_matches_reference), T(concurrent_contexts_share_a_model));
TEST_MAIN()
