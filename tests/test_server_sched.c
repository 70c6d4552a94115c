/*
 * test_server_sched.c — the scheduler (src/server/sched.c) on the real
 * stories260K model: greedy generations decoded together in one batch give
 * exactly the text each gives alone (continuous batching does not change
 * results); max_tokens and stop strings end jobs with the right reason;
 * a cancelled job frees its slot for a queued one; a full queue, a prompt
 * longer than the context and an out-of-vocabulary token are refused;
 * embeddings come out L2-normalised; sched_free ends pending jobs with an
 * error. Skips without ../shared.
 */
#include <math.h>

#include "harness.h"
#include "server/sched.h"

static llm_model *load(void)
{
    const char *sh = test_shared();
    if (!sh)
        return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", sh);
    jc_err err = {{0}};
    llm_model *m = llm_model_load(path, &err);
    if (!m)
        fprintf(stderr, "load: %s\n", err.msg);
    return m;
}

static sched_gen_params greedy(int max_tokens)
{
    sched_gen_params p = {.max_tokens = max_tokens};
    p.sp = llm_sampler_default_params();
    p.sp.temperature = 0;
    return p;
}

/* Waits for the job to end; the text goes to out. */
static void finish(sched_job *j, jc_buf *out, sched_status *st)
{
    for (int i = 0; i < 3000; i++) {
        sched_job_wait(j, out, 100, st);
        if (st->done)
            return;
    }
}

static const int32_t prompts[4][4] = {{1, 403, 407, 262}, {1, 365, 379, 259}, {1, 320, 300, 270}, {1, 280, 290, 300}};

/* Proves: 4 greedy generations batched together equal the same generations run one at a time. */
TEST(batched_equals_alone)
{
    llm_model *m = load();
    if (!m)
        exit(77);
    jc_err err = {{0}};
    sched_opts o = {.n_parallel = 4, .n_ctx = 256, .n_threads = 1, .embeddings = true};
    sched *s = sched_new(m, &o, &err);
    REQUIRE(s);
    sched_gen_params p = greedy(40);
    char *alone[4];
    for (int k = 0; k < 4; k++) {
        sched_job *j = sched_job_generate(prompts[k], 4, &p);
        CHECK_EQ_INT(sched_submit(s, j, &err), SCHED_OK);
        jc_buf out;
        jc_buf_init(&out, 1 << 20);
        sched_status st;
        finish(j, &out, &st);
        CHECK(st.done && !st.error);
        CHECK_EQ_INT(st.n_prompt, 4);
        CHECK(st.n_gen > 0 && st.n_gen <= 40);
        alone[k] = jc_buf_steal(&out);
        sched_job_unref(j);
    }
    sched_job *js[4];
    for (int k = 0; k < 4; k++) {
        js[k] = sched_job_generate(prompts[k], 4, &p);
        CHECK_EQ_INT(sched_submit(s, js[k], &err), SCHED_OK);
    }
    for (int k = 0; k < 4; k++) {
        jc_buf out;
        jc_buf_init(&out, 1 << 20);
        sched_status st;
        finish(js[k], &out, &st);
        CHECK(st.done && !st.error);
        CHECKF(!strcmp(out.data ? out.data : "", alone[k]), "slot %d: batched '%s' vs alone '%s'", k,
               out.data ? out.data : "", alone[k]);
        CHECK(strlen(alone[k]) > 0);
        jc_buf_free(&out);
        sched_job_unref(js[k]);
        free(alone[k]);
    }
    sched_free(s);
    llm_model_free(m);
}

/* Proves: max_tokens ends with "length" after exactly that many tokens; a stop string ends with "stop" without it. */
TEST(length_and_stop)
{
    llm_model *m = load();
    if (!m)
        exit(77);
    jc_err err = {{0}};
    sched_opts o = {.n_parallel = 1, .n_ctx = 256, .n_threads = 1};
    sched *s = sched_new(m, &o, &err);
    REQUIRE(s);
    sched_gen_params p = greedy(5);
    p.ignore_eos = true;
    sched_job *j = sched_job_generate(prompts[0], 4, &p);
    REQUIRE(sched_submit(s, j, &err) == SCHED_OK);
    jc_buf out;
    jc_buf_init(&out, 1 << 20);
    sched_status st;
    finish(j, &out, &st);
    CHECK_STR(st.finish_reason, "length");
    CHECK_EQ_INT(st.n_gen, 5);
    sched_job_unref(j);
    /* stop at the first space of a longer greedy text */
    const char *stops[] = {" "};
    sched_gen_params p2 = greedy(60);
    p2.stops = stops;
    p2.n_stops = 1;
    jc_buf_reset(&out);
    j = sched_job_generate(prompts[0], 4, &p2);
    REQUIRE(sched_submit(s, j, &err) == SCHED_OK);
    finish(j, &out, &st);
    CHECK_STR(st.finish_reason, "stop");
    CHECKF(!out.data || !strchr(out.data, ' '), "stop string leaked: '%s'", out.data);
    sched_job_unref(j);
    jc_buf_free(&out);
    sched_free(s);
    llm_model_free(m);
}

/* Proves: a cancelled job frees its one slot for the queued job; the queue bound, prompt length and vocabulary are enforced. */
TEST(cancel_queue_limits)
{
    llm_model *m = load();
    if (!m)
        exit(77);
    jc_err err = {{0}};
    sched_opts o = {.n_parallel = 1, .n_ctx = 128, .n_threads = 1, .queue_max = 1};
    sched *s = sched_new(m, &o, &err);
    REQUIRE(s);
    sched_gen_params longp = greedy(100000);
    longp.ignore_eos = true;
    sched_job *a = sched_job_generate(prompts[0], 4, &longp);
    REQUIRE(sched_submit(s, a, &err) == SCHED_OK);
    jc_buf out;
    jc_buf_init(&out, 1 << 20);
    sched_status st;
    /* wait until a is running (text arrives) so the queue is empty again */
    for (int i = 0; i < 100 && out.len == 0; i++)
        sched_job_wait(a, &out, 50, &st);
    sched_gen_params shortp = greedy(3);
    shortp.ignore_eos = true;
    sched_job *b = sched_job_generate(prompts[1], 4, &shortp);
    sched_job *c = sched_job_generate(prompts[2], 4, &shortp);
    CHECK_EQ_INT(sched_submit(s, b, &err), SCHED_OK);
    CHECK_EQ_INT(sched_submit(s, c, &err), SCHED_FULL); /* queue_max 1 */
    sched_job_cancel(a);
    jc_buf_reset(&out);
    finish(b, &out, &st);
    CHECK(st.done && !st.error && st.n_gen == 3);
    finish(a, &out, &st);
    CHECK(st.done && st.error); /* a ended as cancelled, before its 128-token context filled */
    sched_job_unref(a);
    sched_job_unref(b);
    sched_job_unref(c);
    /* limits */
    int32_t big[200];
    for (int i = 0; i < 200; i++)
        big[i] = 300;
    sched_job *d = sched_job_generate(big, 200, &shortp);
    CHECK_EQ_INT(sched_submit(s, d, &err), SCHED_TOO_LONG);
    CHECKF(strstr(err.msg, "200") && strstr(err.msg, "128"), "%s", err.msg);
    sched_job_unref(d);
    int32_t oov[2] = {1, 100000};
    d = sched_job_generate(oov, 2, &shortp);
    CHECK_EQ_INT(sched_submit(s, d, &err), SCHED_BAD);
    sched_job_unref(d);
    jc_buf_free(&out);
    sched_free(s);
    llm_model_free(m);
}

/* Proves: embeddings are unit vectors of n_embd floats; sched_free ends a running job with an error. */
TEST(embeddings_and_free)
{
    llm_model *m = load();
    if (!m)
        exit(77);
    jc_err err = {{0}};
    sched_opts o = {.n_parallel = 2, .n_ctx = 128, .n_threads = 1, .embeddings = true};
    sched *s = sched_new(m, &o, &err);
    REQUIRE(s);
    sched_job *e = sched_job_embed(prompts[3], 4);
    REQUIRE(sched_submit(s, e, &err) == SCHED_OK);
    jc_buf out;
    jc_buf_init(&out, 1 << 20);
    sched_status st;
    finish(e, &out, &st);
    CHECK(st.done && !st.error);
    int n = 0;
    const float *v = sched_job_embedding(e, &n);
    REQUIRE(v);
    CHECK_EQ_INT(n, llm_model_n_embd(m));
    double norm = 0;
    for (int i = 0; i < n; i++)
        norm += (double)v[i] * v[i];
    CHECKF(fabs(norm - 1) < 1e-3, "norm^2 %f", norm);
    sched_job_unref(e);
    sched_gen_params longp = greedy(100000);
    longp.ignore_eos = true;
    sched_job *g = sched_job_generate(prompts[0], 4, &longp);
    REQUIRE(sched_submit(s, g, &err) == SCHED_OK);
    sched_free(s);
    finish(g, &out, &st);
    CHECK(st.done && st.error);
    sched_job_unref(g);
    jc_buf_free(&out);
    llm_model_free(m);
}

TESTS(T(batched_equals_alone), T(length_and_stop), T(cancel_queue_limits), T(embeddings_and_free));
TEST_MAIN()
