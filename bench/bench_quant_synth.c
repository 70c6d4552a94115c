/*
 * bench_quant_synth.c — writes a llama-architecture GGUF with random
 * weights in a given shape, for benchmarks (issue 8 uses a TinyLlama 1.1B
 * shape). 2-D weights are F16 (or F32), norms F32; the vocabulary is a
 * 32000-entry SentencePiece-style table of made-up pieces, so the model
 * loads and tokenizes like a real one. `janc quantize` turns it into the
 * quantized files the benchmark runs.
 *
 *   bench_quant_synth OUT.gguf [--dim 2048] [--layers 22] [--heads 32]
 *       [--kv-heads 4] [--ffn 5632] [--vocab 32000] [--ctx 2048] [--f32] [--seed S]
 */
#include "gguf/gguf.h"
#include "quant/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct synth {
    long dim, layers, heads, kv_heads, ffn, vocab, ctx;
    uint32_t wtype;
    uint64_t rng;
} synth;

static uint64_t next_u64(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform weights with standard deviation sd; returns a buffer the caller frees. */
static void *random_tensor(synth *s, uint32_t type, int64_t n, float sd, uint64_t *bytes)
{
    float a = sd * sqrtf(3.0f);
    size_t esz = type == GGML_TYPE_F32 ? 4 : 2;
    uint8_t *p = jc_xmalloc((size_t)n * esz);
    for (int64_t i = 0; i < n; i++) {
        float u = (float)(next_u64(&s->rng) >> 40) / (float)(1 << 24); /* [0,1) */
        float v = (2.0f * u - 1.0f) * a;
        if (type == GGML_TYPE_F32)
            memcpy(p + i * 4, &v, 4);
        else {
            uint16_t h = q_f32_to_f16(v);
            memcpy(p + i * 2, &h, 2);
        }
    }
    *bytes = (uint64_t)n * esz;
    return p;
}

static void *ones(int64_t n, uint64_t *bytes)
{
    float *p = jc_xmalloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++)
        p[i] = 1.0f;
    *bytes = (uint64_t)n * 4;
    return p;
}

int main(int argc, char **argv)
{
    synth s = {2048, 22, 32, 4, 5632, 32000, 2048, GGML_TYPE_F16, 42};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        long *dst = NULL;
        if (!strcmp(argv[i], "--dim")) dst = &s.dim;
        else if (!strcmp(argv[i], "--layers")) dst = &s.layers;
        else if (!strcmp(argv[i], "--heads")) dst = &s.heads;
        else if (!strcmp(argv[i], "--kv-heads")) dst = &s.kv_heads;
        else if (!strcmp(argv[i], "--ffn")) dst = &s.ffn;
        else if (!strcmp(argv[i], "--vocab")) dst = &s.vocab;
        else if (!strcmp(argv[i], "--ctx")) dst = &s.ctx;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) { s.rng = strtoull(argv[++i], NULL, 10); continue; }
        else if (!strcmp(argv[i], "--f32")) { s.wtype = GGML_TYPE_F32; continue; }
        else if (!out && argv[i][0] != '-') { out = argv[i]; continue; }
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "usage: %s OUT.gguf [--dim N] [--layers N] [--heads N] [--kv-heads N] [--ffn N] "
                            "[--vocab N] [--ctx N] [--f32] [--seed S]\n", argv[0]);
            return 1;
        }
        *dst = atol(argv[++i]);
    }
    if (!out || s.dim <= 0 || s.heads <= 0 || s.kv_heads <= 0 || s.dim % s.heads || s.heads % s.kv_heads ||
        s.layers <= 0 || s.ffn <= 0 || s.vocab < 300) {
        fprintf(stderr, "bad shape (or no OUT.gguf)\n");
        return 1;
    }
    long head_dim = s.dim / s.heads, kv_dim = head_dim * s.kv_heads;
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "synthetic llama");
    gguf_writer_set_u32(w, "general.file_type", s.wtype == GGML_TYPE_F32 ? 0 : 1);
    gguf_writer_set_u32(w, "llama.context_length", (uint32_t)s.ctx);
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s.dim);
    gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s.layers);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s.ffn);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim);
    gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s.heads);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s.kv_heads);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);

    /* vocabulary: <unk> <s> </s>, 256 byte tokens, then made-up pieces */
    size_t nv = (size_t)s.vocab;
    char **toks = jc_xcalloc(nv, sizeof *toks);
    float *scores = jc_xcalloc(nv, sizeof *scores);
    int32_t *types = jc_xcalloc(nv, sizeof *types);
    for (size_t i = 0; i < nv; i++) {
        if (i == 0) toks[i] = jc_xstrdup("<unk>"), types[i] = 2;
        else if (i == 1) toks[i] = jc_xstrdup("<s>"), types[i] = 3;
        else if (i == 2) toks[i] = jc_xstrdup("</s>"), types[i] = 3;
        else if (i < 259) toks[i] = jc_xasprintf("<0x%02X>", (unsigned)(i - 3)), types[i] = 6;
        else toks[i] = jc_xasprintf("\xe2\x96\x81p%zu", i), types[i] = 1;
        scores[i] = -(float)i;
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, nv);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, nv);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, nv);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);

    /* tensors; buffers are kept until the write */
    size_t cap = 8 + (size_t)s.layers * 9, nbuf = 0;
    void **bufs = jc_xcalloc(cap, sizeof *bufs);
    jc_err err = {0};
    int rc = 1;
#define ADD(name, type, nd, d0, d1, data, bytes)                                                   \
    do {                                                                                           \
        int64_t ne_[2] = {(d0), (d1)};                                                             \
        if (gguf_writer_add_tensor(w, name, type, nd, ne_, data, bytes, &err)) goto out;           \
    } while (0)
    uint64_t bytes;
    float sd = 0.02f;
    bufs[nbuf] = random_tensor(&s, s.wtype, s.dim * s.vocab, sd, &bytes);
    ADD("token_embd.weight", s.wtype, 2, s.dim, s.vocab, bufs[nbuf], bytes);
    nbuf++;
    char name[96];
    for (long l = 0; l < s.layers; l++) {
        struct { const char *n; long d0, d1; } mats[] = {
            {"attn_q", s.dim, s.dim}, {"attn_k", s.dim, kv_dim}, {"attn_v", s.dim, kv_dim},
            {"attn_output", s.dim, s.dim}, {"ffn_gate", s.dim, s.ffn}, {"ffn_up", s.dim, s.ffn},
            {"ffn_down", s.ffn, s.dim},
        };
        snprintf(name, sizeof name, "blk.%ld.attn_norm.weight", l);
        bufs[nbuf] = ones(s.dim, &bytes);
        ADD(name, GGML_TYPE_F32, 1, s.dim, 1, bufs[nbuf], bytes);
        nbuf++;
        for (size_t k = 0; k < JC_ARRAY_LEN(mats); k++) {
            snprintf(name, sizeof name, "blk.%ld.%s.weight", l, mats[k].n);
            bufs[nbuf] = random_tensor(&s, s.wtype, mats[k].d0 * mats[k].d1, sd, &bytes);
            ADD(name, s.wtype, 2, mats[k].d0, mats[k].d1, bufs[nbuf], bytes);
            nbuf++;
        }
        snprintf(name, sizeof name, "blk.%ld.ffn_norm.weight", l);
        bufs[nbuf] = ones(s.dim, &bytes);
        ADD(name, GGML_TYPE_F32, 1, s.dim, 1, bufs[nbuf], bytes);
        nbuf++;
    }
    bufs[nbuf] = ones(s.dim, &bytes);
    ADD("output_norm.weight", GGML_TYPE_F32, 1, s.dim, 1, bufs[nbuf], bytes);
    nbuf++;
    bufs[nbuf] = random_tensor(&s, s.wtype, s.dim * s.vocab, sd, &bytes);
    ADD("output.weight", s.wtype, 2, s.dim, s.vocab, bufs[nbuf], bytes);
    nbuf++;
    if (gguf_writer_write(w, out, &err))
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench_quant_synth: %s\n", err.msg);
    for (size_t i = 0; i < nbuf; i++)
        free(bufs[i]);
    free(bufs);
    for (size_t i = 0; i < nv; i++)
        free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    gguf_writer_free(w);
    return rc;
}
