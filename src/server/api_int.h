/*
 * api_int.h — private to the API handlers (api*.c): the server struct they
 * share, the handlers the routes table points at, and small reply helpers.
 */
#ifndef API_INT_H
#define API_INT_H

#include "server/api.h"
#include "server/api_params.h"
#include "server/http.h"
#include "server/runner.h"
#include "store/store.h"

struct api_server {
    api_opts o;
    store *st;
    runner *run;
    http_server *http;
    http_route *routes; /* static routes plus one per web file */
    size_t n_routes;
    const char **exempt; /* paths that need no API key */
};

/* Replies with e as an OpenAI error object. Returns 0. */
int api_reply_err(http_req *r, const api_error *e);
/* Parses the request body as a JSON object; NULL after replying 400. allow_empty: "" gives {}. */
json_t *api_body(http_req *r, bool allow_empty);
/* The {id} of the path, validated; NULL after replying 400. */
const char *api_path_id(http_req *r);
/* Fills buf with prefix + 24 random letters and digits. */
void api_new_id(char *buf, size_t cap, const char *prefix);
/* A random 64-bit seed. */
uint64_t api_random_seed(void);

/* api_models.c */
int api_models_list(void *app, http_req *r);
int api_models_get(void *app, http_req *r);
int api_models_delete(void *app, http_req *r);
int api_models_update(void *app, http_req *r);
int api_models_start(void *app, http_req *r);
int api_models_stop(void *app, http_req *r);
int api_models_create(void *app, http_req *r);
int api_models_import(void *app, http_req *r);
int api_models_download(void *app, http_req *r);
int api_models_download_progress(void *app, http_req *r);
int api_models_download_cancel(void *app, http_req *r);

/* api_chat.c */
int api_chat(void *app, http_req *r);
int api_completions(void *app, http_req *r);

/* api_embed.c */
int api_embeddings(void *app, http_req *r);

/*
 * Acquires the running model name (loading it if allowed). Returns it, or
 * NULL after replying with the right error (404, 409, 500).
 */
runner_model *api_acquire_model(api_server *a, http_req *r, const char *name);

/*
 * Tokenizes text for a model: parse_special as given; BOS prepended when the
 * vocabulary wants one and the text does not already start with it.
 * NULL with e set (400) on failure.
 */
int32_t *api_tokenize(const runner_model *m, const char *text, bool parse_special, size_t *n, api_error *e);

#endif
