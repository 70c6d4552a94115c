/*
 * q_file.c — whole-file quantization (see q_file.h): the plan of output
 * types, made like llama.cpp's llama_tensor_get_type, and the conversion
 * of every tensor (dequantize rows to f32, quantize with the reference
 * quantizers) on a thread pool, then an atomic write.
 *
 * The plan visits tensors in llama.cpp's order (tensors outside blocks
 * first, then block by block, by name inside a block), because its layer
 * counters (for attn_v and ffn_down) advance in that order. The output keeps
 * the input's tensor order.
 */
#include "quant/q_file.h"

#include "base/pool.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* LLAMA_FTYPE values (llama.h) */
enum {
    FT_ALL_F32 = 0,
    FT_F16 = 1,
    FT_Q4_0 = 2,
    FT_Q4_1 = 3,
    FT_Q8_0 = 7,
    FT_Q5_0 = 8,
    FT_Q5_1 = 9,
    FT_Q2_K = 10,
    FT_Q3_K_S = 11,
    FT_Q3_K_M = 12,
    FT_Q3_K_L = 13,
    FT_Q4_K_S = 14,
    FT_Q4_K_M = 15,
    FT_Q5_K_S = 16,
    FT_Q5_K_M = 17,
    FT_Q6_K = 18,
    FT_IQ4_NL = 25,
    FT_IQ4_XS = 30,
    FT_BF16 = 32,
};

static const q_ftype ftypes[] = {
    {"F32", FT_ALL_F32, GGML_TYPE_F32},   {"F16", FT_F16, GGML_TYPE_F16},       {"BF16", FT_BF16, GGML_TYPE_BF16},
    {"Q8_0", FT_Q8_0, GGML_TYPE_Q8_0},    {"Q4_0", FT_Q4_0, GGML_TYPE_Q4_0},    {"Q4_1", FT_Q4_1, GGML_TYPE_Q4_1},
    {"Q5_0", FT_Q5_0, GGML_TYPE_Q5_0},    {"Q5_1", FT_Q5_1, GGML_TYPE_Q5_1},    {"Q2_K", FT_Q2_K, GGML_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, GGML_TYPE_Q3_K}, {"Q3_K_M", FT_Q3_K_M, GGML_TYPE_Q3_K}, {"Q3_K_L", FT_Q3_K_L, GGML_TYPE_Q3_K},
    {"Q4_K_S", FT_Q4_K_S, GGML_TYPE_Q4_K}, {"Q4_K_M", FT_Q4_K_M, GGML_TYPE_Q4_K}, {"Q5_K_S", FT_Q5_K_S, GGML_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, GGML_TYPE_Q5_K}, {"Q6_K", FT_Q6_K, GGML_TYPE_Q6_K},     {"IQ4_NL", FT_IQ4_NL, GGML_TYPE_IQ4_NL},
    {"IQ4_XS", FT_IQ4_XS, GGML_TYPE_IQ4_XS},
};

const q_ftype *q_ftype_find(const char *name)
{
    static const struct {
        const char *alias, *name;
    } aliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};
    for (size_t i = 0; i < JC_ARRAY_LEN(aliases); i++)
        if (!strcasecmp(name, aliases[i].alias))
            name = aliases[i].name;
    for (size_t i = 0; i < JC_ARRAY_LEN(ftypes); i++)
        if (!strcasecmp(name, ftypes[i].name))
            return &ftypes[i];
    return NULL;
}

const char *q_ftype_names(void)
{
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M (Q3_K), Q3_K_L, Q4_K_S, "
           "Q4_K_M (Q4_K), Q5_K_S, Q5_K_M (Q5_K), Q6_K, IQ4_NL, IQ4_XS";
}

/* ---- the plan ---- */

enum cat { CAT_TOKEN_EMBD, CAT_ATTN_Q, CAT_ATTN_V, CAT_ATTN_K, CAT_ATTN_QKV, CAT_ATTN_KV_B, CAT_ATTN_OUT,
           CAT_FFN_UP, CAT_FFN_GATE, CAT_FFN_DOWN, CAT_OUTPUT, CAT_OTHER };

static enum cat category(const char *name)
{
    if (!strcmp(name, "output.weight"))
        return CAT_OUTPUT;
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight"))
        return CAT_TOKEN_EMBD;
    static const struct {
        const char *sub;
        enum cat c;
    } subs[] = {{"attn_qkv.weight", CAT_ATTN_QKV},   {"attn_kv_b.weight", CAT_ATTN_KV_B}, {"attn_v.weight", CAT_ATTN_V},
                {"attn_k.weight", CAT_ATTN_K},       {"attn_q.weight", CAT_ATTN_Q},       {"attn_output.weight", CAT_ATTN_OUT},
                {"ffn_up", CAT_FFN_UP},              {"ffn_gate", CAT_FFN_GATE},          {"ffn_down", CAT_FFN_DOWN}};
    for (size_t i = 0; i < JC_ARRAY_LEN(subs); i++)
        if (strstr(name, subs[i].sub))
            return subs[i].c;
    return CAT_OTHER;
}

static bool is_attn_v(enum cat c)
{
    return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B;
}

/* llama.cpp's tensor_allows_quantization: 2-D+ "...weight" tensors that are not norms, gates, small tables. */
static bool allows_quantization(const gguf_tensor *t, const char *arch_pos_embd)
{
    if (t->n_dims < 2)
        return false;
    const char *name = t->name;
    size_t len = strlen(name);
    if (len < 6 || strcmp(name + len - 6, "weight"))
        return false;
    static const char *const never[] = {
        "_norm.weight",          "ffn_gate_inp.weight",   "ffn_gate_tid2eid.weight", "altup",
        "laurel",                "per_layer_model_proj",  "ssm_conv1d",              "shortconv.conv.weight",
        "indexer.k_proj.weight", "indexer.q_proj.weight", "time_mix_first.weight",   "time_mix_w0.weight",
        "time_mix_w1.weight",    "time_mix_w2.weight",    "time_mix_v0.weight",      "time_mix_v1.weight",
        "time_mix_v2.weight",    "time_mix_a0.weight",    "time_mix_a1.weight",      "time_mix_a2.weight",
        "time_mix_g1.weight",    "time_mix_g2.weight",    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",         "sam.pos_embd",
        "sam.neck.",             "sam.net_",              ".rel_pos",                ".patch_embd",
        ".patch_merger",         "a.rvq.codebook",        "mm.a.code_embd",
    };
    for (size_t i = 0; i < JC_ARRAY_LEN(never); i++)
        if (strstr(name, never[i]))
            return false;
    (void)arch_pos_embd;
    return strcmp(name, "position_embd.weight") && strcmp(name, "token_types.weight");
}

typedef struct plan {
    uint32_t ftype;
    uint32_t dtype; /* default tensor type */
    bool falcon, is70b, tied;
    int64_t n_gqa, n_expert;
    int n_attention_wv, n_layer;
    int i_attention_wv, i_ffn_down;
    uint64_t n_fallback;
} plan;

static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* llama_tensor_get_type_impl for the file types janc writes. */
static uint32_t type_impl(plan *p, const gguf_tensor *t, enum cat c)
{
    uint32_t nt = p->dtype;
    const uint32_t ft = p->ftype;
    if (c == CAT_OUTPUT || (p->tied && c == CAT_TOKEN_EMBD)) {
        int64_t blk = q_block_elems(nt);
        if (p->falcon || (blk && t->ne[0] % blk))
            nt = GGML_TYPE_Q8_0;
        else if (nt != GGML_TYPE_Q8_0)
            nt = GGML_TYPE_Q6_K;
    } else if (c == CAT_TOKEN_EMBD) {
        /* the default type */
    } else if (is_attn_v(c)) {
        if (ft == FT_Q2_K)
            nt = p->n_gqa >= 4 ? GGML_TYPE_Q4_K : GGML_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M)
            nt = p->i_attention_wv < 2 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
        else if (ft == FT_Q3_K_L)
            nt = GGML_TYPE_Q5_K;
        else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && p->n_gqa >= 4)
            nt = GGML_TYPE_Q5_K;
        else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(p->i_attention_wv, p->n_attention_wv))
            nt = GGML_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && p->i_attention_wv < 4)
            nt = GGML_TYPE_Q5_K;
        if (p->is70b && (nt == GGML_TYPE_Q3_K || nt == GGML_TYPE_Q4_K))
            nt = GGML_TYPE_Q5_K;
        if (p->n_expert == 8)
            nt = GGML_TYPE_Q8_0;
        ++p->i_attention_wv;
    } else if (c == CAT_ATTN_K) {
        if (p->n_expert == 8)
            nt = GGML_TYPE_Q8_0;
    } else if (c == CAT_FFN_DOWN) {
        int i_layer = p->i_ffn_down, n_layer = p->n_layer;
        if (p->n_expert > 1) {
            if (sscanf(t->name, "blk.%d.", &i_layer) != 1)
                i_layer = p->i_ffn_down;
        }
        if (ft == FT_Q2_K)
            nt = GGML_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M)
            nt = i_layer < n_layer / 16 ? GGML_TYPE_Q5_K
                 : !p->falcon || use_more_bits(i_layer, n_layer) ? GGML_TYPE_Q4_K
                                                                 : GGML_TYPE_Q3_K;
        else if (ft == FT_Q3_K_L)
            nt = p->falcon ? GGML_TYPE_Q4_K : GGML_TYPE_Q5_K;
        else if (ft == FT_Q4_K_M) {
            if (p->falcon)
                nt = i_layer < n_layer / 16 ? GGML_TYPE_Q6_K : use_more_bits(i_layer, n_layer) ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
            else if (use_more_bits(i_layer, n_layer))
                nt = GGML_TYPE_Q6_K;
        } else if (i_layer < n_layer / 8 && (ft == FT_IQ4_NL || ft == FT_IQ4_XS))
            nt = GGML_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M && use_more_bits(i_layer, n_layer))
            nt = GGML_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && !p->falcon && i_layer < n_layer / 8)
            nt = GGML_TYPE_Q5_K;
        ++p->i_ffn_down;
    } else if (c == CAT_ATTN_OUT) {
        if (!p->falcon) {
            if (p->n_expert == 8) {
                if (ft == FT_Q2_K || ft == FT_Q3_K_S || ft == FT_Q3_K_M || ft == FT_IQ4_NL || ft == FT_Q4_K_S ||
                    ft == FT_Q4_K_M || ft == FT_IQ4_XS)
                    nt = GGML_TYPE_Q5_K;
            } else {
                if (ft == FT_Q2_K)
                    nt = GGML_TYPE_Q3_K;
                else if (ft == FT_Q3_K_M)
                    nt = GGML_TYPE_Q4_K;
                else if (ft == FT_Q3_K_L)
                    nt = GGML_TYPE_Q5_K;
            }
        } else if (ft == FT_Q3_K_L) {
            nt = GGML_TYPE_Q4_K;
        }
    } else if (c == CAT_ATTN_QKV) {
        if (ft == FT_Q3_K_M || ft == FT_Q3_K_L)
            nt = GGML_TYPE_Q4_K;
        else if (ft == FT_Q4_K_M)
            nt = GGML_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M)
            nt = GGML_TYPE_Q6_K;
    }
    return nt;
}

/* The output type of tensor t (llama_tensor_get_type with the shape fallback). */
static uint32_t plan_type(plan *p, const gguf_tensor *t)
{
    if (!allows_quantization(t, NULL))
        return t->type;
    bool quantized = p->dtype != GGML_TYPE_F32 && p->dtype != GGML_TYPE_F16 && p->dtype != GGML_TYPE_BF16;
    if (!quantized)
        return p->dtype;
    uint32_t nt = type_impl(p, t, category(t->name));
    int64_t blk = q_block_elems(nt);
    if (blk > 1 && t->ne[0] % blk) {
        p->n_fallback++;
        switch (nt) {
        case GGML_TYPE_IQ4_XS: nt = GGML_TYPE_IQ4_NL; break;
        case GGML_TYPE_Q2_K:
        case GGML_TYPE_Q3_K: nt = GGML_TYPE_Q4_0; break;
        case GGML_TYPE_Q4_K: nt = GGML_TYPE_Q5_0; break;
        case GGML_TYPE_Q5_K: nt = GGML_TYPE_Q5_1; break;
        case GGML_TYPE_Q6_K: nt = GGML_TYPE_Q8_0; break;
        default: nt = GGML_TYPE_F16; break; /* llama.cpp stops here; janc keeps the tensor in F16 */
        }
        if (t->ne[0] % q_block_elems(nt))
            nt = GGML_TYPE_F16;
    }
    return nt;
}

static int layer_of(const char *name)
{
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1)
        l = -1;
    return l;
}

typedef struct sort_item {
    int layer;
    const char *name;
    uint64_t index;
} sort_item;

static int cmp_item(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int64_t key_int(const gguf_file *f, const char *arch, const char *suffix, int64_t def)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    if (gguf_get_i64(f, key, &v))
        return v;
    const gguf_value *a = gguf_get_arr(f, key, GGUF_VT_COUNT);
    if (a && a->arr.n > 0 && a->arr.type != GGUF_VT_STRING && a->arr.type != GGUF_VT_ARRAY)
        return gguf_arr_i64(a, 0);
    return def;
}

/* ---- conversion ---- */

typedef struct conv_job {
    const gguf_tensor *t;
    uint32_t to;
    int64_t n;          /* row length */
    size_t in_rb, out_rb;
    uint8_t *out;
    float **scratch;    /* one row of floats per thread */
} conv_job;

static void conv_rows(void *arg, int64_t r0, int64_t r1, int ith)
{
    conv_job *j = arg;
    float *row = j->scratch[ith];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *src = (const uint8_t *)j->t->data + (size_t)r * j->in_rb;
        q_dequant_row(j->t->type, src, row, j->n);
        q_quantize_row(j->to, row, j->out + (size_t)r * j->out_rb, j->n);
    }
}

int q_quantize_file(const char *in_path, const char *out_path, const q_ftype *ft, int n_threads, q_file_stats *st,
                    jc_err *err)
{
    int rc = -1;
    gguf_file *f = NULL;
    gguf_writer *w = NULL;
    jc_pool *pool = NULL;
    uint8_t **bufs = NULL;
    uint32_t *types = NULL;
    sort_item *order = NULL;
    float **scratch = NULL;
    int nth = 0;
    q_file_stats s = {0};

    f = gguf_open(in_path, err);
    if (!f)
        goto out;
    const uint64_t nt = gguf_tensor_count(f);
    char *arch = gguf_get_strdup(f, "general.architecture");
    plan p = {.ftype = ft->ftype, .dtype = ft->type, .tied = true};
    if (arch) {
        p.falcon = !strcmp(arch, "falcon");
        int64_t n_head = key_int(f, arch, "attention.head_count", 0);
        int64_t n_head_kv = key_int(f, arch, "attention.head_count_kv", n_head);
        p.n_gqa = n_head_kv > 0 ? n_head / n_head_kv : 0;
        p.n_expert = key_int(f, arch, "expert_count", 0);
        p.n_layer = (int)key_int(f, arch, "block_count", 0);
        p.is70b = !strcmp(arch, "llama") && p.n_layer == 80 && n_head != n_head_kv;
        free(arch);
    }
    types = jc_xcalloc(nt ? nt : 1, sizeof *types);
    bufs = jc_xcalloc(nt ? nt : 1, sizeof *bufs);
    order = jc_xcalloc(nt ? nt : 1, sizeof *order);
    for (uint64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        enum cat c = category(t->name);
        if (is_attn_v(c))
            p.n_attention_wv++;
        if (c == CAT_OUTPUT)
            p.tied = false;
        order[i] = (sort_item){layer_of(t->name), t->name, i};
    }
    if (p.n_layer <= 0) {
        /* no block_count: count the blocks from the names */
        for (uint64_t i = 0; i < nt; i++)
            p.n_layer = JC_MAX(p.n_layer, order[i].layer + 1);
    }
    qsort(order, nt, sizeof *order, cmp_item);
    for (uint64_t k = 0; k < nt; k++)
        types[order[k].index] = plan_type(&p, gguf_tensor_at(f, order[k].index));
    s.n_fallback = p.n_fallback;

    pool = jc_pool_new(n_threads, err);
    if (!pool)
        goto out;
    nth = jc_pool_n_threads(pool);
    scratch = jc_xcalloc((size_t)nth, sizeof *scratch);

    w = gguf_writer_new(3);
    for (uint64_t i = 0; i < gguf_kv_count(f); i++) {
        gguf_str k = gguf_kv_key(f, i);
        char *key = jc_xstrndup(k.ptr, (size_t)k.len);
        if (strcmp(key, "split.no") && strcmp(key, "split.count") && strcmp(key, "split.tensors.count"))
            gguf_writer_set_value(w, key, gguf_kv_value(f, i));
        free(key);
    }
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    gguf_writer_set_u32(w, "general.file_type", ft->ftype);

    for (uint64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const uint64_t ne = gguf_tensor_nelems(t);
        const int64_t n = t->ne[0];
        const uint32_t to = types[i];
        s.bytes_in += t->size;
        if (to == t->type) {
            if (gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size, err))
                goto out;
            s.bytes_out += t->size;
            continue;
        }
        if (!q_type_supported(t->type)) {
            jc_errf(err, "%s: tensor %s is %s, which janc cannot convert", in_path, t->name, ggml_type_name(t->type));
            goto out;
        }
        size_t in_rb = q_row_bytes(t->type, n), out_rb = q_row_bytes(to, n);
        uint64_t rows = n > 0 ? ne / (uint64_t)n : 0, out_size;
        if (!in_rb || !out_rb || (uint64_t)in_rb * rows != t->size || !jc_mul_ok(out_rb, rows, &out_size)) {
            jc_errf(err, "%s: tensor %s: %" PRIu64 " bytes do not hold %" PRIu64 " elements of %s", in_path, t->name,
                    t->size, ne, ggml_type_name(t->type));
            goto out;
        }
        bufs[i] = jc_try_malloc(out_size ? out_size : 1, err);
        if (!bufs[i]) {
            jc_err_prefix(err, "%s: tensor %s", in_path, t->name);
            goto out;
        }
        for (int k = 0; k < nth; k++) {
            free(scratch[k]);
            scratch[k] = jc_try_malloc((size_t)n * sizeof(float), err);
            if (!scratch[k])
                goto out;
        }
        conv_job job = {t, to, n, in_rb, out_rb, bufs[i], scratch};
        jc_pool_for(pool, (int64_t)rows, JC_MAX(1, 16384 / n), conv_rows, &job);
        if (gguf_writer_add_tensor(w, t->name, to, t->n_dims, t->ne, bufs[i], out_size, err))
            goto out;
        s.n_converted++;
        s.bytes_out += out_size;
    }
    s.n_tensors = nt;
    if (gguf_writer_write(w, out_path, err))
        goto out;
    if (st)
        *st = s;
    rc = 0;
out:
    gguf_writer_free(w);
    if (scratch)
        for (int k = 0; k < nth; k++)
            free(scratch[k]);
    free(scratch);
    jc_pool_free(pool);
    if (bufs && f)
        for (uint64_t i = 0; i < gguf_tensor_count(f); i++)
            free(bufs[i]);
    free(bufs);
    free(types);
    free(order);
    gguf_close(f);
    return rc;
}
