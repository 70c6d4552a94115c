/*
 * llm_model.c — loading a model: a GGUF file's hyper-parameters and tensor
 * table become an llm_model with weight views into the mapping (see llm.h,
 * llm_int.h). Everything read from the file is checked before use: the
 * architecture, each key's range, each tensor's presence, type and shape
 * against the hyper-parameters. Errors name the file and the key or tensor.
 */
#include "engine/llm_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

/* Upper bounds that keep every derived size far from overflow. */
enum {
    MAX_EMBD = 1 << 16,
    MAX_LAYER = 1024,
    MAX_HEAD = 1024,
    MAX_HEAD_DIM = 1024,
    MAX_FF = 1 << 20,
    MAX_VOCAB = 1 << 22,
    MAX_CTX = 1 << 24,
};

struct loader {
    llm_model *m;
    const char *path;
    char arch[32];
    size_t owned_used, owned_cap;
};

/* Reads "<arch>.<key>" as an integer in [lo, hi]; def < 0 means required. */
static int get_int(struct loader *L, const char *key, int64_t lo, int64_t hi, int64_t def, int *out, jc_err *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    int64_t v;
    if (!gguf_get_i64(L->m->f, full, &v)) {
        if (gguf_get(L->m->f, full))
            return jc_errf(err, "%s: key %s: expected an integer", L->path, full);
        if (def < 0)
            return jc_errf(err, "%s: key %s is missing", L->path, full);
        v = def;
    }
    if (v < lo || v > hi)
        return jc_errf(err, "%s: key %s = %lld is out of range [%lld, %lld]", L->path, full, (long long)v,
                       (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

static int get_float(struct loader *L, const char *key, double def, double lo, double hi, float *out, jc_err *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    double v;
    if (!gguf_get_f64(L->m->f, full, &v)) {
        if (gguf_get(L->m->f, full))
            return jc_errf(err, "%s: key %s: expected a number", L->path, full);
        v = def;
    }
    if (!(v >= lo && v <= hi))
        return jc_errf(err, "%s: key %s = %g is out of range [%g, %g]", L->path, full, v, lo, hi);
    *out = (float)v;
    return 0;
}

/*
 * Finds tensor name with shape [ne0, ne1] (ne1 = 1 for vectors). Absent:
 * *w zeroed, and an error only when required. Checks type support, the
 * shape, and that the data covers the rows.
 */
static int get_w(struct loader *L, const char *name, int64_t ne0, int64_t ne1, bool required, llm_w *w, jc_err *err)
{
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = gguf_find_tensor(L->m->f, name);
    if (!t) {
        if (required)
            return jc_errf(err, "%s: tensor %s is missing", L->path, name);
        return 0;
    }
    if (!q_type_supported(t->type))
        return jc_errf(err, "%s: tensor %s has type %s, which janc cannot run", L->path, name,
                       ggml_type_name(t->type));
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return jc_errf(err, "%s: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld] from the hyper-parameters",
                       L->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    size_t rb = q_row_bytes(t->type, ne0);
    uint64_t need;
    if (rb == 0)
        return jc_errf(err, "%s: tensor %s: row of %lld elements is not a whole number of %s blocks", L->path, name,
                       (long long)ne0, ggml_type_name(t->type));
    if (!jc_mul_ok(rb, (uint64_t)ne1, &need) || need > t->size || !t->data)
        return jc_errf(err, "%s: tensor %s: data is shorter than its shape needs", L->path, name);
    w->data = t->data;
    w->type = t->type;
    w->ne0 = ne0;
    w->ne1 = ne1;
    w->row_bytes = rb;
    L->m->n_params += (uint64_t)ne0 * (uint64_t)ne1;
    L->m->size += need;
    return 0;
}

/* A vector tensor [n] as an f32 copy in m->owned; NULL (no error) when absent and optional. */
static int get_vec(struct loader *L, const char *name, int64_t n, bool required, const float **out, jc_err *err)
{
    llm_w w;
    *out = NULL;
    if (get_w(L, name, n, 1, required, &w, err))
        return -1;
    if (!w.data)
        return 0;
    if (L->owned_used + (size_t)n > L->owned_cap)
        return jc_errf(err, "%s: internal: vector space exhausted at %s", L->path, name);
    float *dst = L->m->owned + L->owned_used;
    if (q_dequant_row(w.type, w.data, dst, n) != 0)
        return jc_errf(err, "%s: tensor %s: cannot convert type %s", L->path, name, ggml_type_name(w.type));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return jc_errf(err, "%s: tensor %s: element %lld is not finite", L->path, name, (long long)i);
    L->owned_used += (size_t)n;
    *out = dst;
    return 0;
}

static int load_hparams(struct loader *L, jc_err *err)
{
    llm_model *m = L->m;
    llm_hparams *hp = &m->hp;
    if (get_int(L, "embedding_length", 1, MAX_EMBD, -1, &hp->n_embd, err) ||
        get_int(L, "block_count", 1, MAX_LAYER, -1, &hp->n_layer, err) ||
        get_int(L, "attention.head_count", 1, MAX_HEAD, -1, &hp->n_head, err) ||
        get_int(L, "attention.head_count_kv", 1, MAX_HEAD, hp->n_head, &hp->n_head_kv, err) ||
        get_int(L, "context_length", 1, MAX_CTX, 2048, &hp->n_ctx_train, err))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return jc_errf(err, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d", L->path, L->arch,
                       hp->n_head, hp->n_head_kv);
    if (get_int(L, "attention.key_length", 2, MAX_HEAD_DIM, hp->n_embd / hp->n_head, &hp->head_dim, err) ||
        get_int(L, "attention.value_length", 1, MAX_HEAD_DIM, hp->head_dim, &hp->head_dim_v, err) ||
        get_int(L, "rope.dimension_count", 2, hp->head_dim, hp->head_dim, &hp->n_rot, err))
        return -1;
    if (hp->head_dim < 2 || hp->head_dim % 2 || hp->n_rot % 2)
        return jc_errf(err, "%s: %s: head dimension %d / rope dimension %d must be even", L->path, L->arch, hp->head_dim,
                       hp->n_rot);
    /* feed_forward_length: one number, or one per layer */
    char key[128];
    snprintf(key, sizeof key, "%s.feed_forward_length", L->arch);
    const gguf_value *ffa = gguf_get_arr(m->f, key, GGUF_VT_COUNT);
    int n_ff = 0;
    if (!ffa && get_int(L, "feed_forward_length", 1, MAX_FF, -1, &n_ff, err))
        return -1;
    if (ffa && ffa->arr.n != (uint64_t)hp->n_layer)
        return jc_errf(err, "%s: key %s has %llu entries for %d layers", L->path, key, (unsigned long long)ffa->arr.n,
                       hp->n_layer);
    for (int il = 0; il < hp->n_layer; il++) {
        int64_t v = n_ff;
        if (ffa) {
            if (ffa->arr.type == GGUF_VT_STRING || ffa->arr.type == GGUF_VT_ARRAY)
                return jc_errf(err, "%s: key %s: expected integers", L->path, key);
            v = gguf_arr_i64(ffa, (uint64_t)il);
        }
        if (v < 1 || v > MAX_FF)
            return jc_errf(err, "%s: key %s: layer %d width %lld is out of range", L->path, key, il, (long long)v);
        m->layers[il].n_ff = (int)v;
        hp->n_ff_max = JC_MAX(hp->n_ff_max, (int)v);
    }
    double eps_def = m->arch == LLM_ARCH_QWEN2 ? 1e-6 : 1e-5;
    if (get_float(L, "attention.layer_norm_rms_epsilon", eps_def, 0, 1, &hp->eps, err) ||
        get_float(L, "rope.freq_base", 10000.0, 1e-3, 1e12, &hp->rope_base, err))
        return -1;
    hp->rope_freq_scale = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    gguf_str st;
    bool have_type = gguf_get_str(m->f, key, &st);
    float factor = 1.0f;
    if (get_float(L, "rope.scaling.factor", 1.0, 1e-6, 1e6, &factor, err))
        return -1;
    if (have_type && !gguf_str_eq(st, "none") && !gguf_str_eq(st, "linear"))
        return jc_errf(err, "%s: key %s = \"%.*s\": only linear rope scaling is supported", L->path, key,
                       (int)JC_MIN(st.len, 32), st.ptr);
    if ((!have_type || gguf_str_eq(st, "linear")) && factor != 1.0f)
        hp->rope_freq_scale = 1.0f / factor;
    /* the older key */
    float lin = 0;
    if (get_float(L, "rope.scale_linear", 0, 0, 1e6, &lin, err))
        return -1;
    if (lin > 0 && lin != 1.0f)
        hp->rope_freq_scale = 1.0f / lin;
    hp->rope_type = m->arch == LLM_ARCH_QWEN2 ? LLM_ROPE_NEOX : LLM_ROPE_NORM;
    int pool = 0;
    if (get_int(L, "pooling_type", 0, 3, LLM_POOL_MEAN, &pool, err))
        return -1;
    hp->pooling = pool == LLM_POOL_NONE ? LLM_POOL_MEAN : (enum llm_pooling)pool;
    return 0;
}

static int load_tensors(struct loader *L, jc_err *err)
{
    llm_model *m = L->m;
    llm_hparams *hp = &m->hp;
    const gguf_tensor *te = gguf_find_tensor(m->f, "token_embd.weight");
    if (!te)
        return jc_errf(err, "%s: tensor token_embd.weight is missing", L->path);
    if (te->ne[1] < 1 || te->ne[1] > MAX_VOCAB)
        return jc_errf(err, "%s: tensor token_embd.weight: vocabulary size %lld is out of range", L->path,
                       (long long)te->ne[1]);
    hp->n_vocab = (int)te->ne[1];
    int64_t E = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim, kd = (int64_t)hp->n_head_kv * hp->head_dim,
            vd = (int64_t)hp->n_head_kv * hp->head_dim_v, od = (int64_t)hp->n_head * hp->head_dim_v;
    if (get_w(L, "token_embd.weight", E, hp->n_vocab, true, &m->tok_embd, err))
        return -1;
    if (get_w(L, "output.weight", E, hp->n_vocab, false, &m->output, err))
        return -1;
    if (!m->output.data)
        m->output = m->tok_embd; /* tied embeddings */
    /* room for every f32 vector copy */
    uint64_t cap = (uint64_t)E * (1 + 2 * (uint64_t)hp->n_layer) + (uint64_t)hp->n_layer * (qd + kd + vd + E) +
                   (uint64_t)hp->n_rot;
    m->owned = jc_try_malloc(cap * sizeof(float), err);
    if (!m->owned)
        return -1;
    L->owned_cap = cap;
    if (get_vec(L, "output_norm.weight", E, true, &m->output_norm, err))
        return -1;
    if (get_vec(L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_ff, err))
        return -1;
    for (int il = 0; il < hp->n_layer; il++) {
        llm_layer *ly = &m->layers[il];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", il, s), n)
        if (get_vec(L, NAME("attn_norm.weight"), E, true, &ly->attn_norm, err) ||
            get_w(L, NAME("attn_q.weight"), E, qd, true, &ly->wq, err) ||
            get_w(L, NAME("attn_k.weight"), E, kd, true, &ly->wk, err) ||
            get_w(L, NAME("attn_v.weight"), E, vd, true, &ly->wv, err) ||
            get_w(L, NAME("attn_output.weight"), od, E, true, &ly->wo, err) ||
            get_vec(L, NAME("attn_q.bias"), qd, m->arch == LLM_ARCH_QWEN2, &ly->bq, err) ||
            get_vec(L, NAME("attn_k.bias"), kd, m->arch == LLM_ARCH_QWEN2, &ly->bk, err) ||
            get_vec(L, NAME("attn_v.bias"), vd, m->arch == LLM_ARCH_QWEN2, &ly->bv, err) ||
            get_vec(L, NAME("attn_output.bias"), E, false, &ly->bo, err) ||
            get_vec(L, NAME("ffn_norm.weight"), E, true, &ly->ffn_norm, err) ||
            get_w(L, NAME("ffn_gate.weight"), E, ly->n_ff, true, &ly->wgate, err) ||
            get_w(L, NAME("ffn_up.weight"), E, ly->n_ff, true, &ly->wup, err) ||
            get_w(L, NAME("ffn_down.weight"), ly->n_ff, E, true, &ly->wdown, err))
            return -1;
#undef NAME
    }
    return 0;
}

/* The weight type holding the most parameters, for the description. */
static uint32_t main_type(const llm_model *m)
{
    uint64_t count[GGML_TYPE_COUNT] = {0};
    for (int il = 0; il < m->hp.n_layer; il++) {
        const llm_layer *ly = &m->layers[il];
        const llm_w *ws[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->wgate, &ly->wup, &ly->wdown};
        for (size_t i = 0; i < JC_ARRAY_LEN(ws); i++)
            if (ws[i]->type < GGML_TYPE_COUNT)
                count[ws[i]->type] += (uint64_t)ws[i]->ne0 * (uint64_t)ws[i]->ne1;
    }
    uint32_t best = 0;
    for (uint32_t t = 1; t < GGML_TYPE_COUNT; t++)
        if (count[t] > count[best])
            best = t;
    return best;
}

llm_model *llm_model_load(const char *path, jc_err *err)
{
    struct loader L = {.path = path};
    llm_model *m = jc_xcalloc(1, sizeof *m);
    L.m = m;
    m->f = gguf_open(path, err);
    if (!m->f)
        goto fail;
    gguf_str a;
    if (!gguf_get_str(m->f, "general.architecture", &a)) {
        jc_errf(err, "%s: key general.architecture is missing", path);
        goto fail;
    }
    if (gguf_str_eq(a, "llama"))
        m->arch = LLM_ARCH_LLAMA;
    else if (gguf_str_eq(a, "qwen2"))
        m->arch = LLM_ARCH_QWEN2;
    else {
        jc_errf(err, "%s: architecture \"%.*s\" is not supported (janc runs llama and qwen2)", path,
                (int)JC_MIN(a.len, 64), a.ptr);
        goto fail;
    }
    snprintf(L.arch, sizeof L.arch, "%.*s", (int)a.len, a.ptr);
    int64_t nl;
    char key[64];
    snprintf(key, sizeof key, "%s.block_count", L.arch);
    if (gguf_get_i64(m->f, key, &nl) && nl >= 1 && nl <= MAX_LAYER)
        m->layers = jc_xcalloc((size_t)nl, sizeof *m->layers);
    int n_expert = 0;
    if (get_int(&L, "expert_count", 0, 1 << 16, 0, &n_expert, err))
        goto fail;
    if (n_expert > 0) {
        jc_errf(err, "%s: key %s.expert_count = %d: mixture-of-experts models are not supported", path, L.arch,
                n_expert);
        goto fail;
    }
    if (load_hparams(&L, err) || load_tensors(&L, err))
        goto fail;
    m->vocab = tok_load(m->f, err);
    if (!m->vocab) {
        jc_err_prefix(err, "%s", path);
        goto fail;
    }
    if (tok_n_vocab(m->vocab) > m->hp.n_vocab) {
        jc_errf(err, "%s: the tokenizer has %d tokens but token_embd.weight only %d rows", path,
                tok_n_vocab(m->vocab), m->hp.n_vocab);
        goto fail;
    }
    m->chat_template = gguf_get_strdup(m->f, "tokenizer.chat_template");
    double np = (double)m->n_params;
    char sz[32];
    if (np >= 1e9)
        snprintf(sz, sizeof sz, "%.1fB", np / 1e9);
    else if (np >= 1e6)
        snprintf(sz, sizeof sz, "%.0fM", np / 1e6);
    else
        snprintf(sz, sizeof sz, "%.0fK", np / 1e3);
    snprintf(m->desc, sizeof m->desc, "%s %s %s", L.arch, sz, ggml_type_name(main_type(m)));
    return m;
fail:
    llm_model_free(m);
    return NULL;
}

void llm_model_free(llm_model *m)
{
    if (!m)
        return;
    tok_free(m->vocab);
    gguf_close(m->f);
    free(m->layers);
    free(m->owned);
    free(m->chat_template);
    free(m);
}

const tok_vocab *llm_model_vocab(const llm_model *m) { return m->vocab; }
int llm_model_n_ctx_train(const llm_model *m) { return m->hp.n_ctx_train; }
int llm_model_n_embd(const llm_model *m) { return m->hp.n_embd; }
int llm_model_n_vocab(const llm_model *m) { return m->hp.n_vocab; }
int llm_model_n_layer(const llm_model *m) { return m->hp.n_layer; }
const char *llm_model_arch(const llm_model *m) { return m->arch == LLM_ARCH_QWEN2 ? "qwen2" : "llama"; }
const char *llm_model_chat_template(const llm_model *m) { return m->chat_template; }
enum llm_pooling llm_model_pooling(const llm_model *m) { return m->hp.pooling; }
uint64_t llm_model_n_params(const llm_model *m) { return m->n_params; }
uint64_t llm_model_size(const llm_model *m) { return m->size; }
const char *llm_model_desc(const llm_model *m) { return m->desc; }
