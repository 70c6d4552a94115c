/*
 * fuzz_engine.c — libFuzzer target for model loading and the forward pass.
 * A valid tiny llama model (1 layer, n_embd 32, 16-token vocabulary) is built
 * once with janc's GGUF writer; each input is a list of 3-byte edits
 * (16-bit offset, xor mask) applied to a copy of that image, so mutations
 * reach the hyper-parameters, tensor table and data behind a valid header.
 * The edited file is loaded with llm_model_load (through a memfd); when it
 * loads, a context is made and a few tokens decoded (ids from the input, so
 * out-of-range ids are exercised too). Any crash, leak or sanitizer report
 * is a bug: hostile files must be errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/llm.h"
#include "gguf/gguf.h"

enum { E = 32, H = 2, HD = 16, FF = 32, V = 16 };

static uint8_t *g_image; /* the valid model, built once per process */
static size_t g_size;

static float *rnd(size_t n, float scale, float offset, uint32_t *s)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        p[i] = offset + scale * ((float)(*s >> 8) / (float)(1u << 24) - 0.5f);
    }
    return p;
}

static void build(void)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.embedding_length", E);
    gguf_writer_set_u32(w, "llama.block_count", 1);
    gguf_writer_set_u32(w, "llama.feed_forward_length", FF);
    gguf_writer_set_u32(w, "llama.attention.head_count", H);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 1);
    gguf_writer_set_u32(w, "llama.context_length", 64);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    const char *toks[V];
    char buf[V][8];
    float scores[V];
    int32_t types[V];
    for (int i = 0; i < V; i++) {
        snprintf(buf[i], sizeof buf[i], i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "%c", 'a' + i);
        toks[i] = buf[i];
        scores[i] = -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, V);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, V);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, V);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    struct {
        const char *name;
        int64_t ne0, ne1;
        float scale, offset;
    } ts[] = {
        {"token_embd.weight", E, V, 2, 0},          {"output_norm.weight", E, 1, 0.2f, 1},
        {"blk.0.attn_norm.weight", E, 1, 0.2f, 1}, {"blk.0.attn_q.weight", E, H * HD, 1, 0},
        {"blk.0.attn_k.weight", E, HD, 1, 0},      {"blk.0.attn_v.weight", E, HD, 1, 0},
        {"blk.0.attn_output.weight", H * HD, E, 1, 0}, {"blk.0.ffn_norm.weight", E, 1, 0.2f, 1},
        {"blk.0.ffn_gate.weight", E, FF, 1, 0},    {"blk.0.ffn_up.weight", E, FF, 1, 0},
        {"blk.0.ffn_down.weight", FF, E, 1, 0},
    };
    float *data[sizeof ts / sizeof ts[0]];
    uint32_t seed = 1;
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        data[i] = rnd((size_t)(ts[i].ne0 * ts[i].ne1), ts[i].scale, ts[i].offset, &seed);
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        gguf_writer_add_tensor(w, ts[i].name, GGML_TYPE_F32, ts[i].ne1 == 1 ? 1 : 2, ne, data[i],
                               (uint64_t)(ts[i].ne0 * ts[i].ne1) * 4, NULL);
    }
    jc_err err = {0};
    if (gguf_writer_to_memory(w, &g_image, &g_size, &err)) {
        fprintf(stderr, "fuzz_engine: cannot build the model: %s\n", err.msg);
        abort();
    }
    gguf_writer_free(w);
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        free(data[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    if (!g_image)
        build();
    uint8_t *img = malloc(g_size);
    memcpy(img, g_image, g_size);
    for (size_t i = 0; i + 3 <= n && i < 3 * 64; i += 3)
        img[((size_t)in[i] | (size_t)in[i + 1] << 8) % g_size] ^= in[i + 2];
    int fd = memfd_create("fuzz_engine.gguf", 0);
    if (fd < 0 || write(fd, img, g_size) != (ssize_t)g_size) {
        if (fd >= 0)
            close(fd);
        free(img);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    jc_err err = {0};
    llm_model *m = llm_model_load(path, &err);
    if (m) {
        llm_ctx_params p = llm_ctx_default_params();
        p.n_ctx = 8;
        p.n_threads = 1;
        p.embeddings = true;
        llm_ctx *c = llm_ctx_new(m, &p, &err);
        if (c) {
            int32_t tok[4], pos[4] = {0, 1, 2, 3};
            for (int i = 0; i < 4; i++)
                tok[i] = n > 3 * 64 + (size_t)i ? (int32_t)in[3 * 64 + i] - 8 : i + 1;
            llm_batch b = {.n = 4, .tokens = tok, .pos = pos};
            if (llm_decode(c, &b, &err) == 0) {
                const float *l = llm_logits(c, 3);
                volatile float sink = l ? l[0] : 0;
                (void)sink;
                llm_embedding(c, 0, &err);
            }
            llm_ctx_free(c);
        }
        llm_model_free(m);
    }
    close(fd);
    free(img);
    return 0;
}
