/*
 * api_models.c — the Models API: OpenAI's list/retrieve/delete in their
 * exact shapes, plus Jan's start/stop, create-by-download, import and
 * download progress (SSE). Model objects come from the store, which also
 * shows each model's runtime state as the runner reports it.
 */
#include "server/api_int.h"
#include "server/http_json.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *code_for_status(int status)
{
    switch (status) {
    case 404:
        return "model_not_found";
    case 409:
        return "conflict";
    case 413:
        return "request_too_large";
    case 400:
        return "invalid_request";
    default:
        return "internal_error";
    }
}

static int reply_store_err(http_req *r, int rc, const jc_err *err)
{
    int status = store_http_status(rc);
    if (status < 400)
        status = 500;
    return http_reply_error(r, (unsigned)status, NULL, code_for_status(status), "%s", err->msg);
}

static int reply_model(api_server *a, http_req *r, const char *id, unsigned status)
{
    json_t *m = store_get_json(a->st, id);
    if (!m)
        return http_reply_error(r, 404, "model", "model_not_found", "model '%s' not found", id);
    runner_overlay(a->run, m);
    return http_reply_json(r, status, m);
}

static int refuse_download(http_req *r)
{
    return http_reply_error(r, 403, NULL, "downloads_disabled",
                            "downloads are turned off on this server ($JANC_NO_DOWNLOADS); import a local file instead");
}

/* True if the store has model id; otherwise replies 404 and returns false. */
static bool model_exists(api_server *a, http_req *r, const char *id)
{
    json_t *m = store_get_json(a->st, id);
    if (!m) {
        http_reply_error(r, 404, "model", "model_not_found", "model '%s' not found", id);
        return false;
    }
    json_decref(m);
    return true;
}

int api_models_list(void *app, http_req *r)
{
    api_server *a = app;
    json_t *l = store_list_json(a->st);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(l, "data"), i, m) runner_overlay(a->run, m);
    return http_reply_json(r, 200, l);
}

int api_models_get(void *app, http_req *r)
{
    const char *id = api_path_id(r);
    return id ? reply_model(app, r, id, 200) : 0;
}

int api_models_delete(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    if (!model_exists(a, r, id))
        return 0;
    runner_stop(a->run, id);
    jc_err err = {{0}};
    int rc = store_delete(a->st, id, &err);
    if (rc < 0)
        return reply_store_err(r, rc, &err);
    return http_reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "model", "deleted", 1));
}

/* How deep metadata may nest: deeper would only make model.json large (each level indents every line below it). */
#define MAX_METADATA_DEPTH 32

/* Levels of objects and arrays in v (a scalar is 0), counted up to limit + 1. */
static int nesting(const json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return depth;
    if (depth > MAX_METADATA_DEPTH)
        return depth + 1;
    int max = depth + 1, n;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if ((n = nesting(x, depth + 1)) > max) max = n;
    } else {
        json_object_foreach((json_t *)v, k, x) if ((n = nesting(x, depth + 1)) > max) max = n;
    }
    return max;
}

/*
 * POST|PATCH /v1/models/{id} {"settings":{…}, "parameters":{…}, "name", "description", "metadata"}:
 * edits the model's model.json (settings and parameters merge key by key;
 * the file is rewritten atomically with its unknown fields kept). Returns the
 * Model. Only those five fields may be edited; settings and parameters hold
 * plain values (numbers, strings, booleans, null); metadata nests at most
 * MAX_METADATA_DEPTH levels.
 */
int api_models_update(void *app, http_req *r)
{
    static const char *const editable[] = {"settings", "parameters", "name", "description", "metadata"};
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    json_t *body = api_body(r, false);
    if (!body)
        return 0;
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        size_t k = 0;
        while (k < JC_ARRAY_LEN(editable) && strcmp(key, editable[k]))
            k++;
        if (k == JC_ARRAY_LEN(editable)) {
            rc = http_reply_error(r, 400, key, "invalid_request",
                                  "'%s' cannot be edited (settings, parameters, name, description, metadata can)", key);
            goto out;
        }
        if (k <= 1 || k == 4) {
            if (!json_is_object(v)) {
                rc = http_reply_error(r, 400, key, "invalid_type", "%s must be an object", key);
                goto out;
            }
            const char *sub;
            json_t *sv;
            json_object_foreach(v, sub, sv) {
                if (k <= 1 && (json_is_object(sv) || json_is_array(sv))) {
                    rc = http_reply_error(r, 400, key, "invalid_type", "%s.%s must be a plain value", key, sub);
                    goto out;
                }
            }
            if (nesting(v, 0) > MAX_METADATA_DEPTH) {
                rc = http_reply_error(r, 400, key, "invalid_value", "%s nests deeper than %d levels", key,
                                      MAX_METADATA_DEPTH);
                goto out;
            }
        } else if (!json_is_string(v)) {
            rc = http_reply_error(r, 400, key, "invalid_type", "%s must be a string", key);
            goto out;
        }
    }
    jc_err err = {{0}};
    int src = store_update(a->st, id, body, &err);
    rc = src < 0 ? reply_store_err(r, src, &err) : reply_model(a, r, id, 200);
out:
    json_decref(body);
    return rc;
}

int api_models_start(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    json_t *body = api_body(r, true);
    if (!body)
        return 0;
    /* Settings overrides: {"settings":{...}} or the settings themselves at the top level. */
    json_t *settings = json_object_get(body, "settings");
    if (settings && !json_is_object(settings)) {
        json_decref(body);
        return http_reply_error(r, 400, "settings", "invalid_type", "settings must be an object");
    }
    if (!settings && json_object_size(body) > 0)
        settings = body;
    jc_err err = {{0}};
    int rc = runner_start(a->run, id, settings, &err);
    json_decref(body);
    switch (rc) {
    case 0:
        return reply_model(a, r, id, 200);
    case RUNNER_NOT_FOUND:
        return http_reply_error(r, 404, "model", "model_not_found", "%s", err.msg);
    case RUNNER_BAD:
        return http_reply_error(r, 400, "settings", "invalid_value", "%s", err.msg);
    default:
        return http_reply_error(r, 500, NULL, "model_load_failed", "%s", err.msg);
    }
}

int api_models_stop(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    if (!model_exists(a, r, id))
        return 0;
    runner_stop(a->run, id);
    return reply_model(a, r, id, 200);
}

/* An optional string field of body: 1 set, 0 absent, -1 after replying 400. */
static int opt_string(http_req *r, const json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_reply_error(r, 400, key, "invalid_type", "%s must be a string", key);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

int api_models_create(void *app, http_req *r)
{
    api_server *a = app;
    json_t *body = api_body(r, false);
    if (!body)
        return 0;
    const char *url = NULL, *id = NULL;
    api_error e;
    int k = opt_string(r, body, "source_url", &url);
    if (k == 0)
        k = opt_string(r, body, "url", &url);
    if (k < 0 || opt_string(r, body, "id", &id) < 0)
        goto out;
    if (!url) {
        http_reply_error(r, 400, "source_url", "missing_parameter", "source_url is required");
        goto out;
    }
    if (id && !api_new_id_ok(id, &e)) {
        api_reply_err(r, &e);
        goto out;
    }
    if (a->o.no_downloads) {
        refuse_download(r);
        goto out;
    }
    char *new_id = NULL;
    jc_err err = {{0}};
    int rc = store_pull(a->st, url, id, &new_id, &err);
    if (rc < 0)
        reply_store_err(r, rc, &err);
    else
        reply_model(a, r, new_id, 200);
    free(new_id);
out:
    json_decref(body);
    return 0;
}

int api_models_download(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    if (!model_exists(a, r, id))
        return 0;
    if (a->o.no_downloads)
        return refuse_download(r);
    jc_err err = {{0}};
    int rc = store_pull(a->st, id, NULL, NULL, &err);
    if (rc < 0)
        return reply_store_err(r, rc, &err);
    return reply_model(a, r, id, 200);
}

int api_models_download_cancel(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    int rc = store_download_cancel(a->st, id);
    if (rc < 0)
        return http_reply_error(r, 404, "model", "download_not_found", "no download runs for model '%s'", id);
    return reply_model(a, r, id, 200);
}

/* SSE progress of a download: one event per change (polled every 250 ms) until it ends. */
typedef struct dl_stream {
    api_server *a;
    char *id;
    jc_buf pend;
    size_t off;
    char *last;
    bool ended;
} dl_stream;

static ssize_t dl_read(void *cls, const http_peer *peer, char *buf, size_t cap)
{
    dl_stream *d = cls;
    for (;;) {
        if (d->off < d->pend.len) {
            size_t n = JC_MIN(cap, d->pend.len - d->off);
            memcpy(buf, d->pend.data + d->off, n);
            d->off += n;
            return (ssize_t)n;
        }
        jc_buf_reset(&d->pend);
        d->off = 0;
        if (d->ended)
            return 0;
        if (http_peer_gone(peer)) {
            if (!http_peer_stopping(peer))
                return -1;
            jc_buf_puts(&d->pend, "event: error\ndata: {\"error\":{\"message\":\"the server is shutting down\","
                                  "\"type\":\"server_error\",\"param\":null,\"code\":\"shutdown\"}}\n\n");
            d->ended = true;
            continue;
        }
        json_t *j = store_download_json(d->a->st, d->id);
        if (!j) {
            jc_buf_puts(&d->pend, "data: {\"state\":\"none\"}\n\n");
            d->ended = true;
            continue;
        }
        char *s = http_json_dump(j, NULL);
        const char *state = json_string_value(json_object_get(j, "state"));
        bool running = state && !strcmp(state, "downloading");
        json_decref(j);
        if (s && (!d->last || strcmp(s, d->last))) {
            jc_buf_printf(&d->pend, "data: %s\n\n", s);
            free(d->last);
            d->last = s;
            s = NULL;
        }
        free(s);
        if (!running) {
            if (!d->pend.len && d->last)
                jc_buf_printf(&d->pend, "data: %s\n\n", d->last);
            d->ended = true;
            continue;
        }
        if (!d->pend.len)
            poll(NULL, 0, 250);
    }
}

static void dl_done(void *cls)
{
    dl_stream *d = cls;
    free(d->id);
    free(d->last);
    jc_buf_free(&d->pend);
    free(d);
}

int api_models_download_progress(void *app, http_req *r)
{
    api_server *a = app;
    const char *id = api_path_id(r);
    if (!id)
        return 0;
    json_t *j = store_download_json(a->st, id);
    if (!j)
        return http_reply_error(r, 404, "model", "download_not_found", "model '%s' has no download", id);
    json_decref(j);
    dl_stream *d = jc_xcalloc(1, sizeof *d);
    d->a = a;
    d->id = jc_xstrdup(id);
    jc_buf_init(&d->pend, 1 << 20);
    return http_reply_stream(r, 200, "text/event-stream", dl_read, dl_done, d);
}

int api_models_import(void *app, http_req *r)
{
    api_server *a = app;
    json_t *body = api_body(r, false);
    if (!body)
        return 0;
    const char *path = NULL, *id = NULL, *mode_s = NULL;
    if (opt_string(r, body, "path", &path) < 0 || opt_string(r, body, "id", &id) < 0 ||
        opt_string(r, body, "mode", &mode_s) < 0)
        goto out;
    if (!path || !*path) {
        http_reply_error(r, 400, "path", "missing_parameter", "path is required");
        goto out;
    }
    if (path[0] != '/') {
        http_reply_error(r, 400, "path", "invalid_value", "path must be absolute, got '%s'", path);
        goto out;
    }
    api_error e;
    if (id && !api_new_id_ok(id, &e)) {
        api_reply_err(r, &e);
        goto out;
    }
    int mode = mode_s ? store_import_mode_parse(mode_s) : STORE_IMPORT_COPY;
    if (mode < 0) {
        http_reply_error(r, 400, "mode", "invalid_value", "mode must be \"copy\", \"move\" or \"link\", got '%s'",
                         mode_s);
        goto out;
    }
    char *new_id = NULL;
    jc_err err = {{0}};
    int rc = store_import(a->st, path, id, (enum store_import_mode)mode, &new_id, &err);
    if (rc < 0)
        reply_store_err(r, rc, &err);
    else
        reply_model(a, r, new_id, 200);
    free(new_id);
out:
    json_decref(body);
    return 0;
}
