/*
 * api_chat.c — POST /v1/chat/completions and POST /v1/completions.
 *
 * Flow: validate the body (api_params), acquire the running model (loading
 * it when autoload allows), render the chat template, tokenize, merge the
 * model's parameters under the request's, submit a job to the model's
 * scheduler, then either wait for the whole text (non-streaming: a
 * chat.completion / text_completion object) or stream SSE chunks as text
 * arrives (one id and created for the stream, the role first, content
 * deltas, a chunk with finish_reason, the usage chunk when asked, then
 * "data: [DONE]"). A client that goes away cancels the job, which frees its
 * slot; a server shutdown ends the stream with an error event.
 */
#include "server/api_int.h"
#include "server/http_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 100
#define TEXT_MAX (64u << 20)

/* Sampler settings from the merged request/model parameters. */
static void to_sampler(const api_sampling *s, llm_sampler_params *sp)
{
    *sp = llm_sampler_default_params();
    if (s->has_temperature)
        sp->temperature = (float)s->temperature;
    if (s->has_top_p)
        sp->top_p = (float)s->top_p;
    if (s->has_top_k)
        sp->top_k = (int)s->top_k;
    if (s->has_min_p)
        sp->min_p = (float)s->min_p;
    if (s->has_presence)
        sp->presence_penalty = (float)s->presence_penalty;
    if (s->has_frequency)
        sp->frequency_penalty = (float)s->frequency_penalty;
    if (s->has_repeat)
        sp->repeat_penalty = (float)s->repeat_penalty;
    sp->seed = s->has_seed ? s->seed : api_random_seed();
}

static json_t *usage_json(const sched_status *st)
{
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", st->n_prompt, "completion_tokens", st->n_gen, "total_tokens",
                     st->n_prompt + st->n_gen);
}

/* ---- streaming ---------------------------------------------------------- */

typedef struct gen_stream {
    api_server *a;
    runner_model *rm;
    sched_job *job;
    bool chat, include_usage;
    char id[48];
    json_int_t created;
    char *model;
    bool started, ended;
    jc_buf pend; /* SSE bytes not yet written */
    size_t off;
    jc_buf text; /* new text from the job */
} gen_stream;

static void sse_json(gen_stream *g, json_t *j)
{
    if (!j)
        return;
    jc_buf_puts(&g->pend, "data: ");
    http_json_write(&g->pend, j);
    jc_buf_puts(&g->pend, "\n\n");
    json_decref(j);
}

/* One chunk: delta text (or role first), finish reason or null. */
static json_t *chunk(gen_stream *g, const char *text, bool role, const char *finish)
{
    json_t *choice;
    if (g->chat) {
        json_t *delta = json_object();
        if (role) {
            json_object_set_new(delta, "role", json_string("assistant"));
            json_object_set_new(delta, "content", json_string(""));
        } else if (text) {
            json_object_set_new(delta, "content", json_string(text));
        }
        choice = json_pack("{s:i, s:o, s:n, s:o}", "index", 0, "delta", delta, "logprobs", "finish_reason",
                           finish ? json_string(finish) : json_null());
    } else {
        choice = json_pack("{s:s, s:i, s:n, s:o}", "text", text ? text : "", "index", 0, "logprobs",
                           "finish_reason", finish ? json_string(finish) : json_null());
    }
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o]}", "id", g->id, "object",
                     g->chat ? "chat.completion.chunk" : "text_completion", "created", g->created, "model", g->model,
                     "system_fingerprint", "janc", "choices", choice);
}

static void sse_error(gen_stream *g, const char *code, const char *msg)
{
    jc_buf_puts(&g->pend, "event: error\n");
    sse_json(g, http_error_json(500, NULL, code, msg));
}

static ssize_t gen_read(void *cls, const http_peer *peer, char *buf, size_t cap)
{
    gen_stream *g = cls;
    for (;;) {
        if (g->off < g->pend.len) {
            size_t n = JC_MIN(cap, g->pend.len - g->off);
            memcpy(buf, g->pend.data + g->off, n);
            g->off += n;
            return (ssize_t)n;
        }
        jc_buf_reset(&g->pend);
        g->off = 0;
        if (g->ended)
            return 0;
        if (!g->started) {
            g->started = true;
            if (g->chat)
                sse_json(g, chunk(g, NULL, true, NULL));
            continue;
        }
        if (http_peer_gone(peer)) {
            sched_job_cancel(g->job);
            if (!http_peer_stopping(peer))
                return -1; /* the client went away */
            sse_error(g, "shutdown", "the server is shutting down");
            g->ended = true;
            continue;
        }
        sched_status st;
        int w = sched_job_wait(g->job, &g->text, WAIT_MS, &st);
        if (w < 0) {
            sched_job_cancel(g->job);
            sse_error(g, "internal_error", "the generated text is too long");
            g->ended = true;
            continue;
        }
        if (g->text.len) {
            sse_json(g, chunk(g, g->text.data, false, NULL));
            jc_buf_reset(&g->text);
        }
        if (st.done) {
            if (st.error) {
                sse_error(g, "generation_failed", st.msg);
            } else {
                sse_json(g, chunk(g, NULL, false, st.finish_reason));
                if (g->include_usage) {
                    json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[], s:o}", "id", g->id, "object",
                                          g->chat ? "chat.completion.chunk" : "text_completion", "created",
                                          g->created, "model", g->model, "system_fingerprint", "janc", "choices",
                                          "usage", usage_json(&st));
                    sse_json(g, u);
                }
                jc_buf_puts(&g->pend, "data: [DONE]\n\n");
            }
            g->ended = true;
        }
    }
}

static void gen_done(void *cls)
{
    gen_stream *g = cls;
    sched_job_cancel(g->job);
    sched_job_unref(g->job);
    runner_release(g->a->run, g->rm);
    jc_buf_free(&g->pend);
    jc_buf_free(&g->text);
    free(g->model);
    free(g);
}

/* ---- the handlers ------------------------------------------------------- */

/* Waits for the whole text; replies. Cancels the job if the client goes away. */
static int reply_whole(api_server *a, http_req *r, const api_gen_req *q, sched_job *job, const char *id)
{
    (void)a;
    jc_buf text;
    jc_buf_init(&text, TEXT_MAX);
    sched_status st;
    for (;;) {
        int w = sched_job_wait(job, &text, WAIT_MS, &st);
        if (w < 0) {
            sched_job_cancel(job);
            http_reply_error(r, 500, NULL, "internal_error", "the generated text is too long");
            goto out;
        }
        if (st.done)
            break;
        if (http_peer_gone(http_req_peer(r))) {
            sched_job_cancel(job);
            http_reply_error(r, 503, NULL, "shutdown", "the request was cancelled");
            goto out;
        }
    }
    if (st.error) {
        http_reply_error(r, 500, NULL, "generation_failed", "%s", st.msg);
        goto out;
    }
    json_t *choice;
    if (q->chat)
        choice = json_pack("{s:i, s:{s:s, s:s%}, s:n, s:s}", "index", 0, "message", "role", "assistant", "content",
                           text.data ? text.data : "", text.len, "logprobs", "finish_reason", st.finish_reason);
    else
        choice = json_pack("{s:s%, s:i, s:n, s:s}", "text", text.data ? text.data : "", text.len, "index", 0,
                           "logprobs", "finish_reason", st.finish_reason);
    json_t *resp = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[o], s:o}", "id", id, "object",
                             q->chat ? "chat.completion" : "text_completion", "created", (json_int_t)time(NULL),
                             "model", q->model, "system_fingerprint", "janc", "choices", choice, "usage",
                             usage_json(&st));
    http_reply_json(r, 200, resp);
out:
    jc_buf_free(&text);
    return 0;
}

static int generate(api_server *a, http_req *r, bool chat)
{
    json_t *body = api_body(r, false);
    if (!body)
        return 0;
    api_gen_req q;
    api_error e;
    runner_model *rm = NULL;
    sched_job *job = NULL;
    int32_t *toks = NULL;
    size_t n_toks = 0;
    if (api_gen_req_parse(body, chat, &q, &e) < 0) {
        api_reply_err(r, &e);
        goto out;
    }
    rm = api_acquire_model(a, r, q.model);
    if (!rm)
        goto out;
    json_t *mj = store_get_json(a->st, q.model);
    api_sampling_defaults(&q.s, json_object_get(mj, "parameters"));
    json_t *pstream = json_object_get(json_object_get(mj, "parameters"), "stream");
    (void)pstream; /* the request's "stream" decides; OpenAI clients always say */
    json_decref(mj);

    if (chat) {
        jc_err err = {{0}};
        char *prompt = chat_tmpl_apply(rm->tmpl, q.messages, q.tools, true, &err);
        if (!prompt) {
            http_reply_error(r, 400, "messages", "template_error", "cannot apply the chat template: %s", err.msg);
            goto out;
        }
        toks = api_tokenize(rm, prompt, true, &n_toks, &e);
        free(prompt);
    } else if (q.prompt) {
        toks = api_tokenize(rm, q.prompt, true, &n_toks, &e);
    } else {
        toks = jc_xmalloc(q.n_prompt_tokens * sizeof *toks);
        memcpy(toks, q.prompt_tokens, q.n_prompt_tokens * sizeof *toks);
        n_toks = q.n_prompt_tokens;
    }
    if (!toks) {
        api_reply_err(r, &e);
        goto out;
    }
    sched_gen_params gp = {.max_tokens = q.s.has_max_tokens ? (int)q.s.max_tokens : rm->n_ctx,
                           .stops = (const char *const *)q.s.stops, .n_stops = q.s.n_stops,
                           .ignore_eos = q.ignore_eos};
    to_sampler(&q.s, &gp.sp);
    job = sched_job_generate(toks, n_toks, &gp);
    jc_err err = {{0}};
    int rc = sched_submit(rm->sched, job, &err);
    if (rc == SCHED_TOO_LONG || rc == SCHED_BAD) {
        http_reply_error(r, 400, chat ? "messages" : "prompt", rc == SCHED_TOO_LONG ? "context_length_exceeded" : "invalid_value",
                         "%s", err.msg);
        goto out;
    }
    if (rc != SCHED_OK) {
        http_reply_error(r, 503, NULL, rc == SCHED_FULL ? "server_busy" : "model_unloading", "%s", err.msg);
        goto out;
    }
    char id[48];
    api_new_id(id, sizeof id, chat ? "chatcmpl-" : "cmpl-");
    if (!q.stream) {
        reply_whole(a, r, &q, job, id);
        goto out;
    }
    gen_stream *g = jc_xcalloc(1, sizeof *g);
    g->a = a;
    g->rm = rm;
    g->job = job;
    g->chat = chat;
    g->include_usage = q.include_usage;
    snprintf(g->id, sizeof g->id, "%s", id);
    g->created = (json_int_t)time(NULL);
    g->model = jc_xstrdup(q.model);
    jc_buf_init(&g->pend, TEXT_MAX);
    jc_buf_init(&g->text, TEXT_MAX);
    rm = NULL; /* the stream owns the model reference and the job now */
    job = NULL;
    http_reply_stream(r, 200, "text/event-stream", gen_read, gen_done, g);
out:
    if (job) {
        sched_job_cancel(job);
        sched_job_unref(job);
    }
    if (rm)
        runner_release(a->run, rm);
    free(toks);
    api_gen_req_free(&q);
    json_decref(body);
    return 0;
}

int api_chat(void *app, http_req *r) { return generate(app, r, true); }
int api_completions(void *app, http_req *r) { return generate(app, r, false); }
