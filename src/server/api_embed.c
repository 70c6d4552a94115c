/*
 * api_embed.c — POST /v1/embeddings.
 *
 * Policy (docs/api.md): every model answers embeddings, as in Ollama; the
 * server creates each model's context with embeddings on, so no
 * settings.embedding is needed. An input is tokenized with the model's
 * special tokens (BOS, or CLS/SEP for WordPiece), decoded in a slot of the
 * model's scheduler (sharing batches with generations), pooled as the model
 * says (mean by default) and L2-normalised. Inputs are submitted in windows
 * of n_parallel so that a long list never overflows the queue.
 */
#include "server/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Standard base64 of n bytes, appended to out. */
static void base64(const uint8_t *p, size_t n, jc_buf *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {t[(v >> 18) & 63], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        jc_buf_append(out, q, 4);
    }
}

int api_embeddings(void *app, http_req *r)
{
    api_server *a = app;
    json_t *body = api_body(r, false);
    if (!body)
        return 0;
    api_embed_req q;
    api_error e;
    runner_model *rm = NULL;
    json_t *data = NULL;
    sched_job **jobs = NULL;
    int prompt_tokens = 0;
    if (api_embed_req_parse(body, &q, &e) < 0) {
        api_reply_err(r, &e);
        goto out;
    }
    rm = api_acquire_model(a, r, q.model);
    if (!rm)
        goto out;
    data = json_array();
    size_t win = (size_t)JC_MAX(rm->n_parallel, 1);
    jobs = jc_xcalloc(win, sizeof *jobs);
    for (size_t base = 0; base < q.n; base += win) {
        size_t cnt = JC_MIN(win, q.n - base);
        memset(jobs, 0, win * sizeof *jobs);
        for (size_t k = 0; k < cnt; k++) {
            api_embed_input *in = &q.inputs[base + k];
            int32_t *toks = NULL;
            size_t n = 0;
            if (in->text) {
                jc_err err = {{0}};
                toks = tok_encode_alloc(rm->vocab, in->text, strlen(in->text), true, false, &n, &err);
                if (!toks) {
                    http_reply_error(r, 400, "input", "tokenize_failed", "input[%zu]: %s", base + k, err.msg);
                    goto out;
                }
            }
            jobs[k] = sched_job_embed(toks ? toks : in->tokens, toks ? n : in->n_tokens);
            free(toks);
            jc_err err = {{0}};
            int rc = sched_submit(rm->sched, jobs[k], &err);
            if (rc != SCHED_OK) {
                unsigned st = rc == SCHED_TOO_LONG || rc == SCHED_BAD ? 400 : 503;
                http_reply_error(r, st, st == 400 ? "input" : NULL,
                                 rc == SCHED_TOO_LONG ? "context_length_exceeded"
                                 : st == 400          ? "invalid_value"
                                                      : "server_busy",
                                 "input[%zu]: %s", base + k, err.msg);
                goto out;
            }
        }
        for (size_t k = 0; k < cnt; k++) {
            sched_status st;
            jc_buf dummy;
            jc_buf_init(&dummy, 1 << 20);
            for (;;) {
                sched_job_wait(jobs[k], &dummy, 100, &st);
                if (st.done)
                    break;
                if (http_peer_gone(http_req_peer(r))) {
                    jc_buf_free(&dummy);
                    http_reply_error(r, 503, NULL, "cancelled", "the request was cancelled");
                    goto out;
                }
            }
            jc_buf_free(&dummy);
            if (st.error) {
                http_reply_error(r, 500, NULL, "embedding_failed", "input[%zu]: %s", base + k, st.msg);
                goto out;
            }
            prompt_tokens += st.n_prompt;
            int n_embd = 0;
            const float *v = sched_job_embedding(jobs[k], &n_embd);
            json_t *emb;
            if (q.base64) {
                jc_buf b64;
                jc_buf_init(&b64, (size_t)1 << 30);
                base64((const uint8_t *)v, (size_t)n_embd * sizeof(float), &b64);
                emb = json_stringn(b64.data ? b64.data : "", b64.len);
                jc_buf_free(&b64);
            } else {
                emb = json_array();
                for (int i = 0; i < n_embd; i++)
                    json_array_append_new(emb, json_real(v[i]));
            }
            json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", (int)(base + k),
                                                  "embedding", emb));
            sched_job_unref(jobs[k]);
            jobs[k] = NULL;
        }
    }
    http_reply_json(r, 200,
                    json_pack("{s:s, s:O, s:s, s:{s:i, s:i}}", "object", "list", "data", data, "model", q.model,
                              "usage", "prompt_tokens", prompt_tokens, "total_tokens", prompt_tokens));
out:
    if (jobs) {
        for (size_t k = 0; rm && k < (size_t)JC_MAX(rm->n_parallel, 1); k++) {
            sched_job_cancel(jobs[k]);
            sched_job_unref(jobs[k]);
        }
        free(jobs);
    }
    json_decref(data);
    if (rm)
        runner_release(a->run, rm);
    api_embed_req_free(&q);
    json_decref(body);
    return 0;
}
