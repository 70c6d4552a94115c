/*
 * api.c — the API server: the routes table, /health, the built-in web page,
 * shared reply helpers, and start/stop of store + runner + HTTP (see api.h).
 */
#include "server/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server/web.h"

static int api_health(void *app, http_req *r)
{
    (void)app;
    return http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static int api_web(void *app, http_req *r)
{
    (void)app;
    size_t len = 0;
    const char *ctype = NULL;
    const char *data = web_asset(http_req_path(r), &len, &ctype);
    if (!data)
        return http_reply_error(r, 404, NULL, "not_found", "no such page: %s", http_req_path(r));
    return http_reply_raw(r, 200, ctype, data, len);
}

/* The API routes; web pages are added at start. Order matters: the first match wins. */
static const http_route api_routes[] = {
    {"GET", "/health", api_health},
    {"GET", "/v1/models", api_models_list},
    {"POST", "/v1/models", api_models_create},
    {"POST", "/v1/models/import", api_models_import},
    {"GET", "/v1/models/{id}", api_models_get},
    {"DELETE", "/v1/models/{id}", api_models_delete},
    {"POST", "/v1/models/{id}", api_models_update},
    {"PATCH", "/v1/models/{id}", api_models_update},
    {"POST", "/v1/models/{id}/start", api_models_start},
    {"PUT", "/v1/models/{id}/start", api_models_start},
    {"POST", "/v1/models/{id}/stop", api_models_stop},
    {"PUT", "/v1/models/{id}/stop", api_models_stop},
    {"POST", "/v1/models/{id}/download", api_models_download},
    {"GET", "/v1/models/{id}/download", api_models_download_progress},
    {"DELETE", "/v1/models/{id}/download", api_models_download_cancel},
    {"POST", "/v1/chat/completions", api_chat},
    {"POST", "/v1/completions", api_completions},
    {"POST", "/v1/embeddings", api_embeddings},
};

int api_reply_err(http_req *r, const api_error *e)
{
    http_reply_error(r, e->status ? e->status : 500, e->param, e->code, "%s", e->msg);
    return 0;
}

json_t *api_body(http_req *r, bool allow_empty)
{
    size_t len;
    const char *b = http_req_body(r, &len);
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
        i++;
    if (allow_empty && i == len)
        return json_object();
    api_error e;
    json_t *j = api_parse_body(b, len, &e);
    if (!j)
        api_reply_err(r, &e);
    return j;
}

const char *api_path_id(http_req *r)
{
    const char *id = http_req_param(r, "id");
    if (!id || !api_id_ok(id)) {
        http_reply_error(r, 400, "id", "invalid_model_id",
                         "invalid model id '%s': 1 to 128 characters, no '/', '\\\\' or control characters, not "
                         "starting with '.'",
                         id ? id : "");
        return NULL;
    }
    return id;
}

void api_new_id(char *buf, size_t cap, const char *prefix)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[24];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)buf;
        for (size_t i = 0; i < sizeof rnd; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            rnd[i] = (unsigned char)(x >> 56);
        }
    }
    size_t pl = strlen(prefix);
    size_t k = 0;
    for (; k < pl && k + 1 < cap; k++)
        buf[k] = prefix[k];
    for (size_t i = 0; i < sizeof rnd && k + 1 < cap; i++)
        buf[k++] = al[rnd[i] % (sizeof al - 1)];
    buf[k] = 0;
}

uint64_t api_random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = (uint64_t)time(NULL) * 2654435761u;
    return s;
}

runner_model *api_acquire_model(api_server *a, http_req *r, const char *name)
{
    if (!api_id_ok(name)) {
        http_reply_error(r, 404, "model", "model_not_found", "model '%s' not found", name);
        return NULL;
    }
    runner_model *m = NULL;
    jc_err err = {{0}};
    int rc = runner_acquire(a->run, name, &m, &err);
    switch (rc) {
    case 0:
        return m;
    case RUNNER_NOT_FOUND:
        http_reply_error(r, 404, "model", "model_not_found", "%s", err.msg);
        break;
    case RUNNER_NOT_RUNNING:
        http_reply_error(r, 409, "model", "model_not_running", "%s", err.msg);
        break;
    case RUNNER_BAD:
        http_reply_error(r, 400, "model", "model_not_ready", "%s", err.msg);
        break;
    default:
        http_reply_error(r, 500, "model", "model_load_failed", "%s", err.msg);
        break;
    }
    return NULL;
}

int32_t *api_tokenize(const runner_model *m, const char *text, bool parse_special, size_t *n, api_error *e)
{
    jc_err err = {{0}};
    size_t cnt = 0;
    int32_t *t = tok_encode_alloc(m->vocab, text, strlen(text), false, parse_special, &cnt, &err);
    if (!t) {
        api_errorf(e, 400, NULL, "tokenize_failed", "cannot tokenize the input: %s", err.msg);
        return NULL;
    }
    int32_t bos = tok_bos(m->vocab);
    if (tok_add_bos(m->vocab) && bos >= 0 && (cnt == 0 || t[0] != bos)) {
        int32_t *t2 = jc_xmalloc((cnt + 1) * sizeof *t2);
        t2[0] = bos;
        if (cnt)
            memcpy(t2 + 1, t, cnt * sizeof *t);
        free(t);
        t = t2;
        cnt++;
    }
    *n = cnt;
    return t;
}

/* A limit from the environment when the options left it 0: a whole number in 1..max. */
static int env_limit(const char *name, unsigned max, unsigned *v, jc_err *err)
{
    const char *e = getenv(name);
    if (*v || !e || !*e)
        return 0;
    char *end;
    errno = 0;
    unsigned long x = strtoul(e, &end, 10);
    if (errno || *end || e[0] < '0' || e[0] > '9' || x < 1 || x > max)
        return jc_errf(err, "$%s must be a whole number from 1 to %u, got '%s'", name, max, e);
    *v = (unsigned)x;
    return 0;
}

api_server *api_start(const api_opts *o, jc_err *err)
{
    api_server *a = jc_xcalloc(1, sizeof *a);
    a->o = *o;
    if (env_limit("JANC_HEADER_TIMEOUT", 86400, &a->o.header_timeout, err) < 0 ||
        env_limit("JANC_BODY_TIMEOUT", 86400, &a->o.body_timeout, err) < 0 ||
        env_limit("JANC_BODY_MIN_RATE", 1u << 30, &a->o.body_min_rate, err) < 0)
        goto fail;
    const char *nd = getenv("JANC_NO_DOWNLOADS");
    if (nd && *nd && strcmp(nd, "0"))
        a->o.no_downloads = true;
    a->st = store_open(o->data_dir, err);
    if (!a->st)
        goto fail;
    if (!o->no_watch) {
        jc_err werr = {{0}};
        if (store_watch_start(a->st, &werr) < 0)
            jc_warn("not following the models folder: %s", werr.msg);
    }
    /* downloads a previous run left unfinished go on from their .part */
    int resumed = a->o.no_downloads ? 0 : store_resume_downloads(a->st);
    if (resumed > 0)
        jc_info("resuming %d download%s", resumed, resumed == 1 ? "" : "s");
    runner_opts ro = {.n_threads = o->n_threads, .queue_max = o->queue_max, .autoload = !o->no_autoload};
    a->run = runner_new(a->st, &ro);

    size_t n_static = JC_ARRAY_LEN(api_routes);
    a->n_routes = n_static + 1 + web_files_count;
    a->routes = jc_xcalloc(a->n_routes, sizeof *a->routes);
    memcpy(a->routes, api_routes, sizeof api_routes);
    a->exempt = jc_xcalloc(web_files_count + 3, sizeof *a->exempt);
    size_t ne = 0;
    a->exempt[ne++] = "/health";
    a->exempt[ne++] = "/";
    a->routes[n_static] = (http_route){"GET", "/", api_web};
    for (size_t i = 0; i < web_files_count; i++) {
        char *p = jc_xasprintf("/%s", web_files[i].name);
        a->routes[n_static + 1 + i] = (http_route){"GET", p, api_web};
        a->exempt[ne++] = p;
    }
    a->exempt[ne] = NULL;

    http_options ho = {.host = o->host, .port = o->port, .max_body = o->max_body, .api_key = o->api_key,
                       .cors_origin = o->cors_origin, .routes = a->routes, .n_routes = a->n_routes, .app = a,
                       .auth_exempt = a->exempt, .header_timeout = a->o.header_timeout,
                       .body_timeout = a->o.body_timeout, .body_min_rate = a->o.body_min_rate,
                       .no_socket = o->no_listen};
    a->http = http_start(&ho, err);
    if (!a->http)
        goto fail;
    return a;
fail:
    api_free(a);
    return NULL;
}

int api_port(const api_server *a) { return http_port(a->http); }
http_server *api_http(api_server *a) { return a->http; }
const char *api_host(const api_server *a) { return http_host(a->http); }

void api_shutdown(api_server *a)
{
    if (a && a->http)
        http_quiesce(a->http);
}

void api_free(api_server *a)
{
    if (!a)
        return;
    http_stop(a->http);
    runner_free(a->run);
    store_close(a->st);
    if (a->routes)
        for (size_t i = JC_ARRAY_LEN(api_routes) + 1; i < a->n_routes; i++)
            free((char *)a->routes[i].pattern);
    free(a->routes);
    free(a->exempt);
    free(a);
}
