/*
 * api.h — the OpenAI-compatible API server as a whole: the models folder
 * (store), the running models (runner) and the HTTP layer, wired to the
 * routes table. `janc serve` (src/cli/cmd_serve.c) is its only user;
 * docs/api.md describes every endpoint.
 *
 * Lifecycle: api_start opens the store, starts watching the folder and
 * listens; api_shutdown stops accepting and ends open streams with an
 * error event; api_free waits for connections to close, unloads every model
 * and closes the store.
 */
#ifndef API_H
#define API_H

#include <stdbool.h>
#include <stddef.h>

#include "base/jc.h"

typedef struct api_opts {
    const char *data_dir;
    const char *host;        /* NULL: 127.0.0.1 */
    int port;                /* 0: a free port */
    const char *api_key;     /* NULL/"": none */
    const char *cors_origin; /* NULL/"": no CORS */
    bool no_autoload;        /* requests for a model that is not running answer 409 */
    bool no_watch;           /* do not follow the models folder with inotify */
    int n_threads;           /* per model; 0: all CPUs */
    int queue_max;           /* per model; 0: 4 * n_parallel */
    size_t max_body;         /* 0: 8 MiB */
    /* Request deadlines (see http.h); 0: $JANC_HEADER_TIMEOUT, $JANC_BODY_TIMEOUT, $JANC_BODY_MIN_RATE, else 30 s, 30 s, 1024 bytes/s */
    unsigned header_timeout, body_timeout, body_min_rate;
    bool no_downloads;       /* POST /v1/models and .../download answer 403 (also $JANC_NO_DOWNLOADS=1) */
    bool no_listen;          /* no socket: requests are fed through api_http() (tests, fuzzing) */
} api_opts;

typedef struct api_server api_server;

/* Opens the store and listens. NULL with err set (also for a malformed $JANC_* limit). */
api_server *api_start(const api_opts *o, jc_err *err);
/* The HTTP layer, to feed requests with http_req_begin when no_listen is set. */
struct http_server *api_http(api_server *a);
int api_port(const api_server *a);
const char *api_host(const api_server *a);
/* Stops accepting; open streams end with an error event. */
void api_shutdown(api_server *a);
/* api_shutdown, then joins connections, unloads models, closes the store. NULL is fine. */
void api_free(api_server *a);

#endif
