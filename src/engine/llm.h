/*
 * llm.h — the inference engine: public API of the engine layer.
 *
 * A model (llm_model) is a GGUF file's hyper-parameters plus views of its
 * weights in the read-only mapping, and its tokenizer. A context (llm_ctx)
 * is a KV cache for up to n_seq independent sequences of n_ctx positions,
 * scratch buffers for one micro-batch, and a thread pool. llm_decode runs
 * the transformer over a batch of tokens that may mix sequences; each token
 * attends to the positions 0..pos of its own sequence (causal mask per
 * sequence).
 *
 * Threads: a model is read-only after loading and may be shared by several
 * contexts; one context is used by one thread at a time (e.g. a server's
 * scheduler thread); several contexts may run at once in different threads.
 * There is no global state.
 *
 * Architectures: llama (Llama 1/2/3/3.1/3.2, Mistral, TinyLlama, CodeLlama;
 * GQA/MQA; rope_freqs) and qwen2 (QKV biases, NeoX rope). See docs/engine.md.
 *
 * Sampling lives in llm_sample.h, stop strings in llm_stop.h; both are
 * included here so one header gives the whole engine.
 */
#ifndef LLM_H
#define LLM_H

#include "base/jc.h"
#include "engine/llm_sample.h"
#include "engine/llm_stop.h"
#include "tok/tok.h"

typedef struct llm_model llm_model;
typedef struct llm_ctx llm_ctx;

/* How llm_embedding pools a sequence's hidden states (`<arch>.pooling_type`). */
enum llm_pooling { LLM_POOL_NONE = 0, LLM_POOL_MEAN = 1, LLM_POOL_CLS = 2, LLM_POOL_LAST = 3 };

/*
 * Loads a GGUF model (a split model opens from its first shard). Checks the
 * architecture, every tensor's presence, type and shape against the
 * hyper-parameters. Returns NULL with err naming the file and the key or
 * tensor that was wrong. The caller frees with llm_model_free.
 */
llm_model *llm_model_load(const char *path, jc_err *err);
void llm_model_free(llm_model *m); /* NULL is fine */

/* The model's tokenizer (owned by the model). */
const tok_vocab *llm_model_vocab(const llm_model *m);
int llm_model_n_ctx_train(const llm_model *m);
int llm_model_n_embd(const llm_model *m);
int llm_model_n_vocab(const llm_model *m);
int llm_model_n_layer(const llm_model *m);
/* "llama" or "qwen2". */
const char *llm_model_arch(const llm_model *m);
/* tokenizer.chat_template (NUL-terminated, owned by the model) or NULL. */
const char *llm_model_chat_template(const llm_model *m);
/* Pooling for embeddings: the file's pooling_type, else LLM_POOL_MEAN. */
enum llm_pooling llm_model_pooling(const llm_model *m);
/* Number of weights, and bytes of tensor data. */
uint64_t llm_model_n_params(const llm_model *m);
uint64_t llm_model_size(const llm_model *m);
/* A short description, e.g. "llama 1.1B Q4_K" (static storage of m). */
const char *llm_model_desc(const llm_model *m);

typedef struct llm_ctx_params {
    int n_ctx;       /* positions per sequence; 0: the model's context_length (capped at 4096) */
    int n_seq;       /* independent sequences (slots); default 1 */
    int n_threads;   /* 0: the number of physical cores (jc_cpu_count_physical) */
    int n_batch;     /* most tokens one llm_decode call may take; default 512 */
    int n_ubatch;    /* tokens per internal micro-batch (scratch size); default 512, <= n_batch */
    bool kv_f32;     /* f32 KV cache instead of f16 */
    bool embeddings; /* keep pooled hidden states for llm_embedding */
    int serial_below; /* multiply-adds below which a step runs on the calling thread only
                         (waking the pool costs more); 0: default 131072; < 0: never (tests) */
} llm_ctx_params;

/* The defaults described above. */
llm_ctx_params llm_ctx_default_params(void);

/*
 * A context for m (m must outlive it). The KV cache and scratch are allocated
 * with the failing allocator: too large a cache is a clear error, not a
 * crash. Returns NULL with err set.
 */
llm_ctx *llm_ctx_new(llm_model *m, const llm_ctx_params *p, jc_err *err);
void llm_ctx_free(llm_ctx *c); /* NULL is fine */
int llm_ctx_n_ctx(const llm_ctx *c);
int llm_ctx_n_seq(const llm_ctx *c);
int llm_ctx_n_batch(const llm_ctx *c);
const llm_model *llm_ctx_model(const llm_ctx *c);

/*
 * A batch of n tokens. Entry i is token tokens[i] at position pos[i] of
 * sequence seq[i] (seq may be NULL: all 0); want_logits may be NULL: logits
 * only for the last entry. The arrays belong to the caller.
 */
typedef struct llm_batch {
    int n;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const bool *want_logits;
} llm_batch;

/*
 * Runs the model over the batch and stores the KV of every entry.
 * Rules (checked before anything is computed; a violation is an error and
 * changes nothing): 1 <= n <= n_batch; 0 <= token < n_vocab; 0 <= seq < n_seq;
 * 0 <= pos < n_ctx; the entries of one sequence appear in the batch in
 * consecutive positions, the first of them <= llm_seq_len(seq) (a position
 * below the current length overwrites the cache from there: a rewind).
 * Afterwards llm_seq_len(seq) = last pos + 1. Returns 0, or -1 with err set.
 * Allocates nothing unless the batch wants more logit rows than any before.
 */
int llm_decode(llm_ctx *c, const llm_batch *b, jc_err *err);

/*
 * Logits (n_vocab floats) of batch entry i of the last llm_decode, or NULL
 * when that entry did not want logits. Valid until the next llm_decode.
 */
const float *llm_logits(const llm_ctx *c, int i);

/* Positions stored for seq (0 when empty or out of range). */
int llm_seq_len(const llm_ctx *c, int seq);
/* Forgets the KV of seq from position n on (n = 0: the whole sequence; slot reuse). */
void llm_seq_truncate(llm_ctx *c, int seq, int n);
/* llm_seq_truncate(c, seq, 0), and resets its pooled embedding. */
void llm_seq_clear(llm_ctx *c, int seq);

/*
 * The pooled embedding of seq: over the tokens decoded for seq since its
 * last llm_seq_clear, pooled as llm_model_pooling says (mean, the first
 * token, or the last token) and L2-normalised; n_embd floats owned by c,
 * valid until the next call. NULL with err set when the context was made
 * without embeddings or seq has no tokens.
 */
const float *llm_embedding(llm_ctx *c, int seq, jc_err *err);

#endif
