/*
 * runner.h — the set of running models of a server: loading (once, while
 * other requests for the same model wait), the scheduler of each, and
 * unloading. Model states are reported to the store (starting, running,
 * stopping, error) so that the Model objects show them.
 *
 * Ownership: runner_acquire hands out a counted reference to a running
 * model; runner_release drops it. A model stopped while requests hold it
 * ends their jobs with an error and is freed by the last release.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <jansson.h>

#include "base/jc.h"
#include "engine/llm.h"
#include "server/sched.h"
#include "store/store.h"
#include "tmpl/chat.h"

typedef struct runner runner;

typedef struct runner_model {
    char *id;
    llm_model *model;
    sched *sched;
    chat_tmpl *tmpl;
    const tok_vocab *vocab;
    int n_ctx, n_parallel;
} runner_model;

typedef struct runner_opts {
    int n_threads;  /* 0: all CPUs */
    int queue_max;  /* per model; 0: 4 * n_parallel */
    bool autoload;  /* load a ready model on its first request */
} runner_opts;

runner *runner_new(store *st, const runner_opts *o);
/* Unloads every model (their jobs end with an error) and frees r. NULL is fine. */
void runner_free(runner *r);

/* Statuses of runner_acquire / runner_start besides 0. */
enum runner_rc {
    RUNNER_NOT_FOUND = -1,   /* 404: no such model */
    RUNNER_NOT_RUNNING = -2, /* 409: not running and autoload is off */
    RUNNER_LOAD_FAILED = -3, /* 500: the model failed to load (err says why) */
    RUNNER_BAD = -4,         /* 400: bad settings override, or a model without a file (err) */
};

/*
 * The running model id, loading it first when autoload allows (waiting if
 * another request is loading it). Returns 0 with *out set, or an enum
 * runner_rc with err set.
 */
int runner_acquire(runner *r, const char *id, runner_model **out, jc_err *err);
void runner_release(runner *r, runner_model *m);

/*
 * Loads the model (always, regardless of autoload). settings (may be NULL)
 * overrides ctx_len / n_parallel / embedding for this run; a running model
 * with other settings is restarted. 0 or an enum runner_rc.
 */
int runner_start(runner *r, const char *id, const json_t *settings, jc_err *err);
/* Unloads the model if it runs. 0, or RUNNER_NOT_FOUND when it is not running. */
int runner_stop(runner *r, const char *id);
/* Whether id is running now. */
bool runner_is_running(runner *r, const char *id);
/*
 * For a Model object (from the store) of a running model: sets
 * settings.ctx_len and settings.n_parallel to the values it runs with
 * (a start override, ctx_len capped at the training context). Other
 * objects are left alone.
 */
void runner_overlay(runner *r, json_t *model);

#endif
