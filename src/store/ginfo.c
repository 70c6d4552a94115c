/*
 * ginfo.c — the facts the store reads from a GGUF file, and their cache
 * (see ginfo.h).
 */
#include "store/ginfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf/gguf.h"

/* llama.cpp's general.file_type values (enum llama_ftype) and their usual names. */
static const char *const ftype_names[] = {
    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",     [4] = "Q4_1_SOME_F16",
    [7] = "Q8_0",     [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",    [11] = "Q3_K_S",
    [12] = "Q3_K_M",  [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M",  [16] = "Q5_K_S",
    [17] = "Q5_K_M",  [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",  [21] = "Q2_K_S",
    [22] = "IQ3_XS",  [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL",  [26] = "IQ3_S",
    [27] = "IQ3_M",   [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS",  [31] = "IQ1_M",
    [32] = "BF16",    [36] = "TQ1_0",   [37] = "TQ2_0",   [38] = "MXFP4_MOE",
};

/* Architectures whose models embed rather than generate. */
static const char *const embedding_archs[] = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2",
                                              "jina-bert-v3", "t5encoder", "modern-bert", "neo-bert"};

void store_ginfo_free(store_ginfo *g)
{
    if (!g)
        return;
    free(g->path);
    free(g->arch);
    free(g->name);
    free(g->quant);
    free(g->bos);
    free(g->eos);
    memset(g, 0, sizeof *g);
}

/* The text of token id key's value, or NULL. */
static char *token_text(const gguf_file *f, const char *key)
{
    uint64_t id;
    if (!gguf_get_u64(f, key, &id))
        return NULL;
    const gguf_value *toks = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
    if (!toks || id >= toks->arr.n)
        return NULL;
    gguf_str s = gguf_arr_str(toks, id);
    if (s.len > 256)
        return NULL;
    return jc_xstrndup(s.ptr, (size_t)s.len);
}

/* The type holding the most bytes among tensors of two or more dimensions. */
static const char *dominant_type(const gguf_file *f)
{
    uint64_t bytes[GGML_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (t->type < GGML_TYPE_COUNT && t->n_dims >= 2)
            bytes[t->type] += t->size;
    }
    int best = -1;
    for (int t = 0; t < GGML_TYPE_COUNT; t++)
        if (bytes[t] && (best < 0 || bytes[t] > bytes[best]))
            best = t;
    return best < 0 ? NULL : ggml_type_name((uint32_t)best);
}

int store_ginfo_read(const char *path, store_ginfo *out, jc_err *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) < 0)
        return jc_errf(err, "%s: cannot stat", path);
    gguf_file *f = gguf_open(path, err);
    if (!f)
        return -1;
    out->path = jc_xstrdup(path);
    out->size = (uint64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->version = gguf_version(f);
    out->arch = gguf_get_strdup(f, "general.architecture");
    out->name = gguf_get_strdup(f, "general.name");
    if (out->name && (!*out->name || strlen(out->name) > 256)) {
        free(out->name);
        out->name = NULL;
    }
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        uint64_t n = gguf_tensor_nelems(gguf_tensor_at(f, i));
        if (!jc_add_ok(out->n_params, n, &out->n_params))
            out->n_params = UINT64_MAX;
    }
    uint64_t ft;
    if (gguf_get_u64(f, "general.file_type", &ft) && ft < JC_ARRAY_LEN(ftype_names) && ftype_names[ft])
        out->quant = jc_xstrdup(ftype_names[ft]);
    else if (dominant_type(f))
        out->quant = jc_xstrdup(dominant_type(f));
    if (out->arch) {
        char key[160];
        snprintf(key, sizeof key, "%s.context_length", out->arch);
        gguf_get_u64(f, key, &out->ctx_train);
        snprintf(key, sizeof key, "%s.pooling_type", out->arch);
        out->embedding = gguf_get(f, key) != NULL;
        for (size_t i = 0; i < JC_ARRAY_LEN(embedding_archs); i++)
            if (!strcmp(out->arch, embedding_archs[i]))
                out->embedding = true;
        out->projector = !strcmp(out->arch, "clip");
    }
    out->has_chat_template = gguf_get(f, "tokenizer.chat_template") != NULL;
    out->bos = token_text(f, "tokenizer.ggml.bos_token_id");
    out->eos = token_text(f, "tokenizer.ggml.eos_token_id");
    out->n_shards = gguf_n_shards(f);
    out->total_size = gguf_file_size(f);
    gguf_close(f);
    return 0;
}

json_t *store_ginfo_metadata(const store_ginfo *g)
{
    json_t *m = json_object();
    if (g->arch)
        json_object_set_new(m, "architecture", json_string(g->arch));
    json_object_set_new(m, "parameters", json_integer((json_int_t)JC_MIN(g->n_params, (uint64_t)INT64_MAX)));
    if (g->quant)
        json_object_set_new(m, "quantization", json_string(g->quant));
    json_object_set_new(m, "size", json_integer((json_int_t)JC_MIN(g->total_size, (uint64_t)INT64_MAX)));
    if (g->ctx_train)
        json_object_set_new(m, "context_length",
                            json_integer((json_int_t)JC_MIN(g->ctx_train, (uint64_t)INT64_MAX)));
    json_object_set_new(m, "embedding", json_boolean(g->embedding));
    if (g->bos)
        json_object_set_new(m, "bos_token", json_string(g->bos));
    if (g->eos)
        json_object_set_new(m, "eos_token", json_string(g->eos));
    json_object_set_new(m, "has_chat_template", json_boolean(g->has_chat_template));
    json_object_set_new(m, "gguf_version", json_integer(g->version));
    if (g->n_shards > 1)
        json_object_set_new(m, "shards", json_integer(g->n_shards));
    return m;
}

const store_ginfo *store_gcache_get(store_gcache *c, const char *path, jc_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return jc_errf(err, "%s: cannot stat", path), NULL;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    size_t i;
    for (i = 0; i < c->n; i++)
        if (!strcmp(c->items[i].path, path))
            break;
    if (i < c->n && c->items[i].size == (uint64_t)st.st_size && c->items[i].mtime_ns == mt)
        return &c->items[i];
    store_ginfo g;
    if (store_ginfo_read(path, &g, err))
        return NULL;
    if (i < c->n) {
        store_ginfo_free(&c->items[i]);
    } else {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 16;
            c->items = jc_xrealloc(c->items, c->cap * sizeof *c->items);
        }
        i = c->n++;
    }
    c->items[i] = g;
    return &c->items[i];
}

void store_gcache_free(store_gcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        store_ginfo_free(&c->items[i]);
    free(c->items);
    memset(c, 0, sizeof *c);
}
