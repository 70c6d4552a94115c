/*
 * llm_int.h — private structures of the engine layer: the model's
 * hyper-parameters and weight views, shared by llm_model.c (loading) and
 * llm_decode.c (the forward pass). Not for other layers.
 */
#ifndef LLM_INT_H
#define LLM_INT_H

#include "engine/llm.h"
#include "gguf/gguf.h"

enum llm_arch { LLM_ARCH_LLAMA = 0, LLM_ARCH_QWEN2 = 1 };
/* Rope pairing: NORM rotates adjacent pairs (2i, 2i+1); NEOX rotates (i, i + n_rot/2). */
enum llm_rope { LLM_ROPE_NORM = 0, LLM_ROPE_NEOX = 2 };

/* A weight matrix: rows of ne0 elements, a view into the mapping. */
typedef struct llm_w {
    const uint8_t *data; /* NULL when absent */
    uint32_t type;       /* ggml type id, q_type_supported */
    int64_t ne0;         /* elements per row (input dimension) */
    int64_t ne1;         /* rows (output dimension) */
    size_t row_bytes;
} llm_w;

typedef struct llm_layer {
    const float *attn_norm;   /* [n_embd], owned copy in m->owned */
    llm_w wq, wk, wv, wo;     /* [n_embd -> n_head*hd], [n_embd -> n_head_kv*hd], [.. hd_v], [n_head*hd_v -> n_embd] */
    const float *bq, *bk, *bv, *bo; /* biases or NULL (qwen2 has bq/bk/bv) */
    const float *ffn_norm;    /* [n_embd] */
    llm_w wgate, wup, wdown;  /* [n_embd -> n_ff], [n_embd -> n_ff], [n_ff -> n_embd] */
    int n_ff;
} llm_layer;

typedef struct llm_hparams {
    int n_embd, n_layer, n_head, n_head_kv;
    int head_dim, head_dim_v; /* key_length, value_length */
    int n_ff_max;             /* the largest layer FFN width */
    int n_vocab, n_ctx_train;
    int n_rot;                /* rope.dimension_count (<= head_dim) */
    float rope_base, rope_freq_scale, eps;
    enum llm_rope rope_type;
    enum llm_pooling pooling;
} llm_hparams;

struct llm_model {
    gguf_file *f;
    tok_vocab *vocab;
    enum llm_arch arch;
    llm_hparams hp;
    llm_w tok_embd, output;   /* output = tok_embd when tied */
    const float *output_norm; /* [n_embd] */
    const float *rope_ff;     /* [n_rot/2] frequency factors, or NULL */
    llm_layer *layers;
    float *owned;             /* f32 copies of norms, biases and rope factors */
    char *chat_template;
    uint64_t n_params, size;
    char desc[96];
};

#endif
