/*
 * runner.c — running models: load once, share, unload (see runner.h).
 *
 * The registry is a list of entries under one mutex. An entry is LOADING
 * while one thread loads the model outside the lock (others wait on the
 * condition variable), then RUNNING. References: the registry holds one
 * while the entry is listed; each runner_acquire adds one. The model, its
 * scheduler and its chat template are freed with the last reference.
 */
#include "server/runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { E_LOADING, E_RUNNING };

typedef struct entry {
    runner_model pub;
    int refs;
    int state;
    int64_t ctx_len, n_parallel;
    struct entry *next;
} entry;

struct runner {
    store *st;
    runner_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry *head;
};

runner *runner_new(store *st, const runner_opts *o)
{
    runner *r = jc_xcalloc(1, sizeof *r);
    r->st = st;
    r->o = *o;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
}

static void entry_free(entry *e)
{
    sched_free(e->pub.sched);
    chat_tmpl_free(e->pub.tmpl);
    llm_model_free(e->pub.model);
    free(e->pub.id);
    free(e);
}

static entry *find(runner *r, const char *id)
{
    for (entry *e = r->head; e; e = e->next)
        if (!strcmp(e->pub.id, id))
            return e;
    return NULL;
}

static void unlist(runner *r, entry *e)
{
    for (entry **pp = &r->head; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            e->next = NULL;
            return;
        }
    }
}

/* Drops one reference (lock held); returns the entry to free outside the lock, or NULL. */
static entry *unref_locked(entry *e) { return --e->refs == 0 ? e : NULL; }

/* An integer setting from an override object: a JSON integer or a string of digits. */
static int override_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, jc_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        long long ll = strtoll(json_string_value(v), &end, 10);
        if (end == json_string_value(v) || *end)
            return jc_errf(err, "settings.%s must be an integer", key);
        x = ll;
    } else {
        return jc_errf(err, "settings.%s must be an integer", key);
    }
    if (x < lo || x > hi)
        return jc_errf(err, "settings.%s must be between %lld and %lld, got %lld", key, (long long)lo, (long long)hi,
                       (long long)x);
    *out = x;
    return 0;
}

static char *token_text(const tok_vocab *v, int32_t id)
{
    if (id < 0)
        return NULL;
    size_t n = 0;
    const char *t = tok_text(v, id, &n);
    return jc_xstrndup(t, n);
}

/*
 * Loads id with the lock held on entry and on return (released while
 * loading). Returns 0 (the entry is listed and RUNNING) or an enum runner_rc.
 */
static int load_locked(runner *r, const char *id, const json_t *ov, jc_err *err)
{
    store_settings set;
    memset(&set, 0, sizeof set);
    char *path = NULL;
    int rc = store_get_settings(r->st, id, &set, err);
    if (rc == STORE_ENOENT)
        return RUNNER_NOT_FOUND;
    if (rc < 0)
        return RUNNER_LOAD_FAILED;
    int64_t ctx_len = set.ctx_len > 0 ? set.ctx_len : 2048;
    int64_t n_par = set.n_parallel > 0 ? set.n_parallel : 1;
    if (ov && (override_int(ov, "ctx_len", 1, 1 << 20, &ctx_len, err) < 0 ||
               override_int(ov, "n_parallel", 1, 64, &n_par, err) < 0)) {
        store_settings_free(&set);
        return RUNNER_BAD;
    }
    rc = store_model_path(r->st, id, &path, err);
    if (rc < 0) {
        store_settings_free(&set);
        json_t *known = store_get_json(r->st, id);
        json_decref(known);
        if (rc == STORE_ENOENT && !known)
            return RUNNER_NOT_FOUND;
        jc_err_prefix(err, "model '%s' cannot run", id);
        return RUNNER_BAD;
    }
    entry *e = jc_xcalloc(1, sizeof *e);
    e->pub.id = jc_xstrdup(id);
    e->refs = 1;
    e->state = E_LOADING;
    e->ctx_len = ctx_len;
    e->n_parallel = n_par;
    e->next = r->head;
    r->head = e;
    store_set_state(r->st, id, "starting", NULL);
    pthread_mutex_unlock(&r->mu);

    double t0 = jc_now();
    jc_err lerr = {{0}};
    llm_model *m = llm_model_load(path, &lerr);
    sched *s = NULL;
    chat_tmpl *ct = NULL;
    int n_ctx = (int)ctx_len;
    if (m) {
        int train = llm_model_n_ctx_train(m);
        if (train > 0 && n_ctx > train)
            n_ctx = train;
        sched_opts so = {.n_parallel = (int)n_par, .n_ctx = n_ctx, .n_threads = r->o.n_threads,
                         .queue_max = r->o.queue_max, .embeddings = true};
        s = sched_new(m, &so, &lerr);
    }
    if (s) {
        const tok_vocab *v = llm_model_vocab(m);
        char *bos = token_text(v, tok_bos(v)), *eos = token_text(v, tok_eos(v));
        chat_template_src src = {.prompt_template = set.prompt_template, .jinja = llm_model_chat_template(m),
                                 .bos_token = bos, .eos_token = eos};
        jc_err terr = {{0}};
        ct = chat_tmpl_new(&src, &terr);
        if (!ct) {
            jc_warn("model %s: its chat template does not parse (%s); using ChatML", id, terr.msg);
            src.jinja = NULL;
            ct = chat_tmpl_new(&src, &terr);
        }
        free(bos);
        free(eos);
        if (!ct)
            jc_errf(&lerr, "no usable chat template: %s", terr.msg);
    }
    store_settings_free(&set);
    free(path);

    pthread_mutex_lock(&r->mu);
    if (!ct) {
        sched_free(s);
        llm_model_free(m);
        unlist(r, e);
        jc_errf(err, "model '%s' failed to load: %s", id, lerr.msg);
        store_set_state(r->st, id, "error", err->msg);
        pthread_cond_broadcast(&r->cv);
        free(e->pub.id);
        free(e);
        return RUNNER_LOAD_FAILED;
    }
    e->pub.model = m;
    e->pub.sched = s;
    e->pub.tmpl = ct;
    e->pub.vocab = llm_model_vocab(m);
    e->pub.n_ctx = sched_n_ctx(s);
    e->pub.n_parallel = sched_n_parallel(s);
    e->state = E_RUNNING;
    store_set_state(r->st, id, "running", NULL);
    pthread_cond_broadcast(&r->cv);
    jc_info("model %s loaded in %.2f s (%s, ctx %d x %d slots)", id, jc_now() - t0, llm_model_desc(m), e->pub.n_ctx,
            e->pub.n_parallel);
    return 0;
}

/*
 * After waiting for another request's load that did not list the model:
 * true (err set) when that load failed, so that waiters do not all retry it.
 */
static bool load_failed_meanwhile(runner *r, const char *id, jc_err *err)
{
    json_t *m = store_get_json(r->st, id);
    const char *state = json_string_value(json_object_get(m, "state"));
    bool failed = state && !strcmp(state, "error");
    if (failed)
        jc_errf(err, "%s", json_string_value(json_object_get(m, "error")) ? json_string_value(json_object_get(m, "error"))
                                                                           : "the model failed to load");
    json_decref(m);
    return failed;
}

int runner_acquire(runner *r, const char *id, runner_model **out, jc_err *err)
{
    int rc = 0;
    bool waited = false;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        entry *e = find(r, id);
        if (e && e->state == E_LOADING) {
            pthread_cond_wait(&r->cv, &r->mu);
            waited = true;
            continue;
        }
        if (e) {
            e->refs++;
            *out = &e->pub;
            break;
        }
        if (waited && load_failed_meanwhile(r, id, err)) {
            rc = RUNNER_LOAD_FAILED;
            break;
        }
        if (!r->o.autoload) {
            json_t *m = store_get_json(r->st, id);
            if (!m) {
                jc_errf(err, "model '%s' not found", id);
                rc = RUNNER_NOT_FOUND;
            } else {
                json_decref(m);
                jc_errf(err, "model '%s' is not running (start it with POST /v1/models/%s/start)", id, id);
                rc = RUNNER_NOT_RUNNING;
            }
            break;
        }
        rc = load_locked(r, id, NULL, err);
        if (rc < 0)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    if (rc == RUNNER_NOT_FOUND && !err->msg[0])
        jc_errf(err, "model '%s' not found", id);
    return rc;
}

void runner_release(runner *r, runner_model *m)
{
    if (!m)
        return;
    entry *e = (entry *)m;
    pthread_mutex_lock(&r->mu);
    entry *f = unref_locked(e);
    pthread_mutex_unlock(&r->mu);
    if (f)
        entry_free(f);
}

/* Unlists id (lock held); returns the entry (still holding the registry's reference) or NULL. */
static entry *take_locked(runner *r, const char *id)
{
    entry *e;
    while ((e = find(r, id)) && e->state == E_LOADING)
        pthread_cond_wait(&r->cv, &r->mu);
    if (e) {
        unlist(r, e);
        store_set_state(r->st, id, "stopping", NULL);
    }
    return e;
}

static void finish_stop(runner *r, entry *e)
{
    sched_close(e->pub.sched);
    pthread_mutex_lock(&r->mu);
    if (!find(r, e->pub.id))
        store_set_state(r->st, e->pub.id, NULL, NULL);
    entry *f = unref_locked(e);
    pthread_mutex_unlock(&r->mu);
    if (f)
        entry_free(f);
}

int runner_stop(runner *r, const char *id)
{
    pthread_mutex_lock(&r->mu);
    entry *e = take_locked(r, id);
    pthread_mutex_unlock(&r->mu);
    if (!e)
        return RUNNER_NOT_FOUND;
    jc_info("model %s: unloading", id);
    finish_stop(r, e);
    return 0;
}

int runner_start(runner *r, const char *id, const json_t *settings, jc_err *err)
{
    pthread_mutex_lock(&r->mu);
    entry *e;
    while ((e = find(r, id)) && e->state == E_LOADING)
        pthread_cond_wait(&r->cv, &r->mu);
    if (e && settings) {
        int64_t cl = e->ctx_len, np = e->n_parallel;
        if (override_int(settings, "ctx_len", 1, 1 << 20, &cl, err) < 0 ||
            override_int(settings, "n_parallel", 1, 64, &np, err) < 0) {
            pthread_mutex_unlock(&r->mu);
            return RUNNER_BAD;
        }
        if (cl != e->ctx_len || np != e->n_parallel) {
            e = take_locked(r, id);
            pthread_mutex_unlock(&r->mu);
            if (e)
                finish_stop(r, e);
            pthread_mutex_lock(&r->mu);
            e = find(r, id);
        }
    }
    int rc = 0;
    if (!e)
        rc = load_locked(r, id, settings, err);
    pthread_mutex_unlock(&r->mu);
    if (rc == RUNNER_NOT_FOUND && !err->msg[0])
        jc_errf(err, "model '%s' not found", id);
    return rc;
}

bool runner_is_running(runner *r, const char *id)
{
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, id);
    bool on = e && e->state == E_RUNNING;
    pthread_mutex_unlock(&r->mu);
    return on;
}

void runner_overlay(runner *r, json_t *model)
{
    const char *id = json_string_value(json_object_get(model, "id"));
    json_t *set = json_object_get(model, "settings");
    if (!id || !json_is_object(set))
        return;
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, id);
    if (e && e->state == E_RUNNING) {
        json_object_set_new(set, "ctx_len", json_integer(e->pub.n_ctx));
        json_object_set_new(set, "n_parallel", json_integer(e->pub.n_parallel));
    }
    pthread_mutex_unlock(&r->mu);
}

void runner_free(runner *r)
{
    if (!r)
        return;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        entry *e = r->head;
        char *id = e ? jc_xstrdup(e->pub.id) : NULL;
        pthread_mutex_unlock(&r->mu);
        if (!id)
            break;
        runner_stop(r, id);
        free(id);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
