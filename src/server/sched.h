/*
 * sched.h — the scheduler of one running model: n_parallel slots, one
 * thread that owns the llm_ctx, continuous batching.
 *
 * HTTP handler threads create jobs (a generation or an embedding), submit
 * them, and then wait on the job for new text, the end, or an error. The
 * scheduler thread admits queued jobs into free slots and, each step, runs
 * one llm_decode holding the next token of every generating slot plus
 * prompt chunks of newly admitted slots; it samples, detokenizes (complete
 * UTF-8 only), applies stop strings and appends the text to the job.
 *
 * Ownership: a job is reference-counted (the submitter and the scheduler
 * each hold one); sched_job_unref frees it when both are done. A job that is
 * cancelled (client gone) frees its slot at the next step. sched_free ends
 * every job still queued or running with an error and joins the thread.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "base/jc.h"
#include "engine/llm.h"

typedef struct sched sched;
typedef struct sched_job sched_job;

typedef struct sched_opts {
    int n_parallel; /* slots (>= 1) */
    int n_ctx;      /* positions per slot */
    int n_threads;  /* 0: all CPUs */
    int queue_max;  /* jobs waiting for a slot; 0: 4 * n_parallel */
    bool embeddings;
} sched_opts;

/*
 * Creates the context (llm_ctx_new with n_seq = n_parallel) for m (which must
 * outlive the scheduler) and starts the thread. NULL with err set.
 */
sched *sched_new(llm_model *m, const sched_opts *o, jc_err *err);
/*
 * Ends every job with an error ("the model was unloaded") and joins the
 * thread; later submits answer SCHED_CLOSED. Idempotent; s stays valid.
 */
void sched_close(sched *s);
/* sched_close, then frees. NULL is fine. */
void sched_free(sched *s);
int sched_n_ctx(const sched *s);
int sched_n_parallel(const sched *s);

typedef struct sched_gen_params {
    llm_sampler_params sp;
    int max_tokens;          /* >= 1 */
    const char *const *stops;/* copied */
    int n_stops;
    bool ignore_eos;         /* do not stop at end-of-generation tokens */
} sched_gen_params;

/* A generation job over prompt tokens (copied). */
sched_job *sched_job_generate(const int32_t *tokens, size_t n, const sched_gen_params *p);
/* An embedding job over tokens (copied). */
sched_job *sched_job_embed(const int32_t *tokens, size_t n);

enum sched_submit_rc {
    SCHED_OK = 0,
    SCHED_FULL = -1,     /* the queue is full: 503 */
    SCHED_TOO_LONG = -2, /* the prompt does not fit the context: 400 */
    SCHED_CLOSED = -3,   /* the model is being unloaded: 503 */
    SCHED_BAD = -4,      /* a token id out of the vocabulary, or no embeddings: 400 */
};

/* Queues j. Returns a sched_submit_rc; on failure err says why (with the numbers). */
int sched_submit(sched *s, sched_job *j, jc_err *err);

/* What a waiter learns from sched_job_wait. */
typedef struct sched_status {
    bool done;
    bool error;                /* done with an error: msg says it */
    const char *finish_reason; /* "stop" or "length" when done without error */
    int n_prompt, n_gen;
    char msg[256];
} sched_status;

/*
 * Waits up to timeout_ms for news: moves the text generated since the last
 * call to out (appended) and fills st. Returns 1 when there is news (text or
 * done), 0 on timeout, -1 when out is full.
 */
int sched_job_wait(sched_job *j, jc_buf *out, int timeout_ms, sched_status *st);
/* The embedding of a finished embedding job (n_embd floats owned by j), or NULL. */
const float *sched_job_embedding(const sched_job *j, int *n_embd);
/* Asks the scheduler to drop the job (client gone). Safe from any thread, any time. */
void sched_job_cancel(sched_job *j);
void sched_job_unref(sched_job *j); /* NULL is fine */

#endif
