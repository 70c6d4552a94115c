/*
 * sched.c — continuous batching over the slots of one llm_ctx (see sched.h).
 *
 * The scheduler thread loops: admit queued jobs into free slots; drop
 * cancelled ones; build one batch (first the next token of every generating
 * slot, then prompt chunks of admitted slots up to n_batch); llm_decode; then
 * for each slot whose last token was in the batch: sample, detokenize,
 * apply stop strings, append the text to the job and wake its waiter. A
 * slot's sequence id is its index; llm_seq_clear frees it for the next job.
 * The per-step loop allocates nothing beyond what a job's text needs.
 */
#include "server/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHED_OUT_MAX (64u << 20)

struct sched_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool embed;
    int32_t *tokens;
    size_t n_tokens;
    llm_sampler_params sp;
    int max_tokens;
    bool ignore_eos;
    char **stops;
    int n_stops;
    /* guarded by mu */
    jc_buf out;
    bool done, error;
    const char *finish;
    char msg[256];
    int n_prompt, n_gen;
    float *emb;
    int n_embd;
    atomic_bool cancelled;
    sched_job *next; /* queue link, guarded by the sched's mu */
};

typedef struct slot {
    sched_job *job; /* NULL: free */
    size_t n_fed;   /* prompt tokens decoded */
    int n_past;     /* positions in the KV cache */
    bool has_next;  /* next_tok waits to be decoded */
    int32_t next_tok;
    int batch_idx;  /* entry of the last batch whose logits we read; -1: none */
    int chunk;      /* prompt tokens in the last batch */
    int n_gen;
    llm_sampler *smp;
    llm_stop *stop;
    tok_detok dt;
} slot;

struct sched {
    llm_model *m;
    llm_ctx *ctx;
    const tok_vocab *v;
    int n_slots, n_ctx, n_batch, n_vocab, n_embd;
    slot *slots;
    pthread_t th;
    bool th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sched_job *qhead, *qtail;
    int qlen, qmax;
    bool closing;
    int32_t *b_tok, *b_pos, *b_seq;
    bool *b_want;
    char *piece;
    size_t piece_cap;
    jc_buf text; /* per-step scratch for stop-string output */
};

/* ---- jobs -------------------------------------------------------------- */

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static sched_job *job_new(const int32_t *tokens, size_t n)
{
    sched_job *j = jc_xcalloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    cond_init_mono(&j->cv);
    j->refs = 1;
    j->tokens = jc_xmalloc((n ? n : 1) * sizeof *tokens);
    if (n)
        memcpy(j->tokens, tokens, n * sizeof *tokens);
    j->n_tokens = n;
    j->n_prompt = (int)JC_MIN(n, (size_t)INT32_MAX);
    jc_buf_init(&j->out, SCHED_OUT_MAX);
    atomic_init(&j->cancelled, false);
    return j;
}

sched_job *sched_job_generate(const int32_t *tokens, size_t n, const sched_gen_params *p)
{
    sched_job *j = job_new(tokens, n);
    j->sp = p->sp;
    j->max_tokens = p->max_tokens > 0 ? p->max_tokens : 1;
    j->ignore_eos = p->ignore_eos;
    if (p->n_stops > 0) {
        j->stops = jc_xcalloc((size_t)p->n_stops, sizeof *j->stops);
        for (int i = 0; i < p->n_stops; i++)
            j->stops[i] = jc_xstrdup(p->stops[i]);
        j->n_stops = p->n_stops;
    }
    return j;
}

sched_job *sched_job_embed(const int32_t *tokens, size_t n)
{
    sched_job *j = job_new(tokens, n);
    j->embed = true;
    return j;
}

void sched_job_unref(sched_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0)
        return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->tokens);
    for (int i = 0; i < j->n_stops; i++)
        free(j->stops[i]);
    free(j->stops);
    jc_buf_free(&j->out);
    free(j->emb);
    free(j);
}

void sched_job_cancel(sched_job *j)
{
    if (j)
        atomic_store(&j->cancelled, true);
}

/* Ends j (under its lock): finish reason, or an error message when finish is NULL. */
static void job_finish(sched_job *j, const char *finish, const char *errmsg)
{
    pthread_mutex_lock(&j->mu);
    if (!j->done) {
        j->done = true;
        j->finish = finish;
        if (!finish) {
            j->error = true;
            snprintf(j->msg, sizeof j->msg, "%s", errmsg ? errmsg : "generation failed");
        }
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
}

/* Appends text to j's output; false when the output is full. */
static bool job_append(sched_job *j, const char *text, size_t n, int n_gen)
{
    bool ok = true;
    pthread_mutex_lock(&j->mu);
    if (n && jc_buf_append(&j->out, text, n) < 0)
        ok = false;
    j->n_gen = n_gen;
    if (n)
        pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return ok;
}

int sched_job_wait(sched_job *j, jc_buf *out, int timeout_ms, sched_status *st)
{
    int rc = 1;
    pthread_mutex_lock(&j->mu);
    if (!j->done && j->out.len == 0 && timeout_ms > 0) {
        const struct timespec ts = jc_deadline(CLOCK_MONOTONIC, timeout_ms);
        while (!j->done && j->out.len == 0)
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT)
                break;
    }
    if (j->out.len) {
        if (jc_buf_append(out, j->out.data, j->out.len) < 0)
            rc = -1;
        else
            jc_buf_reset(&j->out);
    } else if (!j->done) {
        rc = 0;
    }
    memset(st, 0, sizeof *st);
    st->done = j->done && j->out.len == 0;
    st->error = j->error;
    st->finish_reason = j->finish;
    st->n_prompt = j->n_prompt;
    st->n_gen = j->n_gen;
    snprintf(st->msg, sizeof st->msg, "%s", j->msg);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

const float *sched_job_embedding(const sched_job *j, int *n_embd)
{
    *n_embd = j->n_embd;
    return j->emb;
}

/* ---- slots ------------------------------------------------------------- */

static void slot_release(sched *s, int i)
{
    slot *sl = &s->slots[i];
    llm_seq_clear(s->ctx, i);
    llm_sampler_free(sl->smp);
    llm_stop_free(sl->stop);
    if (sl->job)
        sched_job_unref(sl->job);
    memset(sl, 0, sizeof *sl);
    sl->batch_idx = -1;
}

static void slot_start(sched *s, int i, sched_job *j)
{
    slot *sl = &s->slots[i];
    llm_seq_clear(s->ctx, i);
    memset(sl, 0, sizeof *sl);
    sl->job = j;
    sl->batch_idx = -1;
    if (!j->embed) {
        sl->smp = llm_sampler_new(&j->sp, s->n_vocab);
        sl->stop = llm_stop_new((const char *const *)j->stops, j->n_stops);
        tok_detok_init(&sl->dt, s->v, 0);
        if (sl->smp)
            for (size_t k = 0; k < j->n_tokens; k++)
                llm_sampler_accept(sl->smp, j->tokens[k]);
    }
}

/* Ends the slot's job (finish reason, or error) and frees the slot. */
static void slot_end(sched *s, int i, const char *finish, const char *errmsg)
{
    job_finish(s->slots[i].job, finish, errmsg);
    slot_release(s, i);
}

/* Emits text through the slot's stop matcher. Returns 1 when a stop string ended it, -1 on a full buffer. */
static int slot_emit(sched *s, slot *sl, const char *text, size_t n, bool flush)
{
    jc_buf_reset(&s->text);
    int r = n ? llm_stop_feed(sl->stop, text, n, &s->text) : 0;
    if (r == 0 && flush)
        r = llm_stop_flush(sl->stop, &s->text) < 0 ? -1 : 0;
    if (r < 0)
        return -1;
    if (!job_append(sl->job, s->text.data, s->text.len, sl->n_gen))
        return -1;
    return r;
}

/* After a decode that produced logits for the slot: sample and emit. */
static void slot_sample(sched *s, int i)
{
    slot *sl = &s->slots[i];
    const float *logits = llm_logits(s->ctx, sl->batch_idx);
    if (!logits) {
        slot_end(s, i, NULL, "internal error: no logits for the slot");
        return;
    }
    int32_t tok = llm_sampler_sample(sl->smp, logits);
    llm_sampler_accept(sl->smp, tok);
    sl->n_gen++;
    if (!sl->job->ignore_eos && tok_is_eog(s->v, tok)) {
        int n = tok_detok_flush(&sl->dt, s->piece, s->piece_cap);
        if (slot_emit(s, sl, s->piece, (size_t)JC_MAX(n, 0), true) < 0)
            slot_end(s, i, NULL, "the generated text is too long");
        else
            slot_end(s, i, "stop", NULL);
        return;
    }
    int n = tok_detok_feed(&sl->dt, tok, s->piece, s->piece_cap);
    bool last = sl->n_gen >= sl->job->max_tokens || sl->n_past >= s->n_ctx;
    if (last && n >= 0) {
        int f = tok_detok_flush(&sl->dt, s->piece + n, s->piece_cap - (size_t)n);
        n += JC_MAX(f, 0);
    }
    int r = slot_emit(s, sl, s->piece, (size_t)JC_MAX(n, 0), last);
    if (r < 0) {
        slot_end(s, i, NULL, "the generated text is too long");
    } else if (r == 1) {
        slot_end(s, i, "stop", NULL);
    } else if (last) {
        slot_end(s, i, "length", NULL);
    } else {
        sl->next_tok = tok;
        sl->has_next = true;
    }
}

/* One scheduler step outside the lock: build a batch, decode, sample. */
static void step(sched *s)
{
    int nb = 0;
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->batch_idx = -1;
        sl->chunk = 0;
        if (!sl->job)
            continue;
        if (atomic_load(&sl->job->cancelled)) {
            jc_info("request cancelled by its client: slot %d freed after %d tokens", i, sl->n_gen);
            slot_end(s, i, NULL, "cancelled");
            continue;
        }
        if (sl->has_next && nb < s->n_batch) {
            s->b_tok[nb] = sl->next_tok;
            s->b_pos[nb] = sl->n_past;
            s->b_seq[nb] = i;
            s->b_want[nb] = true;
            sl->batch_idx = nb++;
        }
    }
    for (int i = 0; i < s->n_slots && nb < s->n_batch; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job || sl->has_next || sl->n_fed >= sl->job->n_tokens)
            continue;
        size_t left = sl->job->n_tokens - sl->n_fed;
        int take = (int)JC_MIN(left, (size_t)(s->n_batch - nb));
        for (int k = 0; k < take; k++) {
            s->b_tok[nb] = sl->job->tokens[sl->n_fed + (size_t)k];
            s->b_pos[nb] = sl->n_past + k;
            s->b_seq[nb] = i;
            s->b_want[nb] = false;
            nb++;
        }
        sl->chunk = take;
        if ((size_t)take == left && !sl->job->embed) {
            s->b_want[nb - 1] = true;
            sl->batch_idx = nb - 1;
        }
    }
    if (nb == 0)
        return;
    llm_batch b = {.n = nb, .tokens = s->b_tok, .pos = s->b_pos, .seq = s->b_seq, .want_logits = s->b_want};
    jc_err err = {{0}};
    if (llm_decode(s->ctx, &b, &err) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "decode failed: %s", err.msg);
        for (int i = 0; i < s->n_slots; i++)
            if (s->slots[i].job && (s->slots[i].batch_idx >= 0 || s->slots[i].chunk > 0))
                slot_end(s, i, NULL, msg);
        return;
    }
    for (int i = 0; i < s->n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job)
            continue;
        if (sl->chunk > 0) {
            sl->n_fed += (size_t)sl->chunk;
            sl->n_past += sl->chunk;
            if (sl->job->embed && sl->n_fed >= sl->job->n_tokens) {
                jc_err e2 = {{0}};
                const float *emb = llm_embedding(s->ctx, i, &e2);
                if (!emb) {
                    slot_end(s, i, NULL, e2.msg);
                    continue;
                }
                pthread_mutex_lock(&sl->job->mu);
                sl->job->emb = jc_xmalloc((size_t)s->n_embd * sizeof(float));
                memcpy(sl->job->emb, emb, (size_t)s->n_embd * sizeof(float));
                sl->job->n_embd = s->n_embd;
                pthread_mutex_unlock(&sl->job->mu);
                slot_end(s, i, "stop", NULL);
                continue;
            }
        } else if (sl->batch_idx >= 0) {
            sl->n_past++;
            sl->has_next = false;
        }
        if (sl->batch_idx >= 0)
            slot_sample(s, i);
    }
}

static void *sched_main(void *arg)
{
    sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->closing)
            break;
        int active = 0;
        for (int i = 0; i < s->n_slots; i++) {
            if (!s->slots[i].job && s->qhead) {
                sched_job *j = s->qhead;
                s->qhead = j->next;
                if (!s->qhead)
                    s->qtail = NULL;
                s->qlen--;
                j->next = NULL;
                slot_start(s, i, j);
                if (!j->embed && (!s->slots[i].smp || !s->slots[i].stop))
                    slot_end(s, i, NULL, "out of memory setting up the sampler");
            }
            if (s->slots[i].job)
                active++;
        }
        if (!active) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        step(s);
        pthread_mutex_lock(&s->mu);
    }
    /* closing: end every job */
    while (s->qhead) {
        sched_job *j = s->qhead;
        s->qhead = j->next;
        job_finish(j, NULL, "the model was unloaded");
        sched_job_unref(j);
    }
    s->qtail = NULL;
    s->qlen = 0;
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            slot_end(s, i, NULL, "the model was unloaded");
    return NULL;
}

/* ---- the scheduler ----------------------------------------------------- */

sched *sched_new(llm_model *m, const sched_opts *o, jc_err *err)
{
    sched *s = jc_xcalloc(1, sizeof *s);
    s->m = m;
    s->v = llm_model_vocab(m);
    s->n_slots = o->n_parallel > 0 ? o->n_parallel : 1;
    llm_ctx_params p = llm_ctx_default_params();
    p.n_ctx = o->n_ctx;
    p.n_seq = s->n_slots;
    p.n_threads = o->n_threads;
    p.embeddings = o->embeddings;
    s->ctx = llm_ctx_new(m, &p, err);
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    s->n_ctx = llm_ctx_n_ctx(s->ctx);
    s->n_batch = llm_ctx_n_batch(s->ctx);
    s->n_vocab = llm_model_n_vocab(m);
    s->n_embd = llm_model_n_embd(m);
    s->qmax = o->queue_max > 0 ? o->queue_max : 4 * s->n_slots;
    s->slots = jc_xcalloc((size_t)s->n_slots, sizeof *s->slots);
    for (int i = 0; i < s->n_slots; i++)
        s->slots[i].batch_idx = -1;
    s->b_tok = jc_xcalloc((size_t)s->n_batch, sizeof *s->b_tok);
    s->b_pos = jc_xcalloc((size_t)s->n_batch, sizeof *s->b_pos);
    s->b_seq = jc_xcalloc((size_t)s->n_batch, sizeof *s->b_seq);
    s->b_want = jc_xcalloc((size_t)s->n_batch, sizeof *s->b_want);
    s->piece_cap = tok_detok_bufsize(s->v) + 64;
    s->piece = jc_xmalloc(s->piece_cap);
    jc_buf_init(&s->text, SCHED_OUT_MAX);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->th, NULL, sched_main, s) != 0) {
        jc_errf(err, "cannot start the scheduler thread");
        sched_free(s);
        return NULL;
    }
    s->th_started = true;
    return s;
}

void sched_close(sched *s)
{
    pthread_mutex_lock(&s->mu);
    bool join = s->th_started && !s->closing;
    s->closing = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (join)
        pthread_join(s->th, NULL);
}

void sched_free(sched *s)
{
    if (!s)
        return;
    sched_close(s);
    llm_ctx_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->slots);
    free(s->b_tok);
    free(s->b_pos);
    free(s->b_seq);
    free(s->b_want);
    free(s->piece);
    jc_buf_free(&s->text);
    free(s);
}

int sched_n_ctx(const sched *s) { return s->n_ctx; }
int sched_n_parallel(const sched *s) { return s->n_slots; }

int sched_submit(sched *s, sched_job *j, jc_err *err)
{
    if (j->n_tokens == 0) {
        jc_errf(err, "the prompt is empty (0 tokens)");
        return SCHED_BAD;
    }
    size_t limit = j->embed ? (size_t)s->n_ctx : (size_t)s->n_ctx - 1;
    if (j->n_tokens > limit) {
        jc_errf(err, "the prompt has %zu tokens but the context holds %d%s", j->n_tokens, s->n_ctx,
                j->embed ? "" : " (and one more is needed to generate)");
        return SCHED_TOO_LONG;
    }
    for (size_t i = 0; i < j->n_tokens; i++) {
        if (j->tokens[i] < 0 || j->tokens[i] >= s->n_vocab) {
            jc_errf(err, "token id %d at index %zu is outside the vocabulary (0..%d)", j->tokens[i], i,
                    s->n_vocab - 1);
            return SCHED_BAD;
        }
    }
    pthread_mutex_lock(&s->mu);
    int rc = SCHED_OK;
    if (s->closing) {
        jc_errf(err, "the model is being unloaded");
        rc = SCHED_CLOSED;
    } else if (s->qlen >= s->qmax) {
        jc_errf(err, "the server is busy: %d requests are waiting for %d slots", s->qlen, s->n_slots);
        rc = SCHED_FULL;
    } else {
        pthread_mutex_lock(&j->mu);
        j->refs++;
        pthread_mutex_unlock(&j->mu);
        j->next = NULL;
        if (s->qtail)
            s->qtail->next = j;
        else
            s->qhead = j;
        s->qtail = j;
        s->qlen++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
