/*
 * fuzz_server_sandbox.h — the world the API fuzz targets (fuzz_server_http.c,
 * fuzz_server_body.c) run their requests in, and the checks every reply
 * must pass. Included by one target each; not a library.
 *
 * A data folder in a temporary directory holds four models: "tiny" (a GGUF
 * written by janc's own writer with a llama header and no tensors: it lists
 * as ready and fails to load at once, so no request ever runs a model), "dl"
 * (a model.json whose file is not there yet, as a download leaves it),
 * "broken" (a model.json that is not JSON: the error state) and "named"
 * (settings, parameters and metadata, its file a symlink to tiny's). Each
 * input gets a fresh API server without a socket (api_opts.no_listen) and
 * with downloads off (no_downloads): nothing leaves the machine, not even
 * to loopback. An import path outside the sandbox is replaced by a path
 * inside it that does not exist, so no input reads, links or moves a file
 * of the machine ("@/src/tiny.gguf" in a seed names the sandbox's own file). The folder is rebuilt after an input that may have
 * changed it, so every input starts from the same state.
 *
 * The checks (a failure aborts): a reply is always made; a JSON reply
 * parses; every 4xx/5xx is exactly an OpenAI error object; a handler that
 * made no reply or a reply the writer could not build is a bug.
 */
#ifndef FUZZ_SERVER_SANDBOX_H
#define FUZZ_SERVER_SANDBOX_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "server/api.h"
#include "server/http.h"

enum {
    SB_KEY = 1,         /* an API key is set */
    SB_CORS = 2,        /* --cors http://a.example */
    SB_NO_AUTOLOAD = 4, /* requests for a model that is not running answer 409 */
    SB_SMALL_BODY = 8,  /* max_body 64 bytes */
};
#define SB_API_KEY "fuzz-key"

static char sb_root[256];   /* the temporary directory */
static char sb_data[300];   /* <root>/data */
static uint8_t *sb_gguf;    /* tiny.gguf's bytes */
static size_t sb_gguf_len;
static int sb_dirty = 1;    /* the data folder must be rebuilt before the next input */

static int sb_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void sb_rmtree(const char *dir) { nftw(dir, sb_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void sb_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static void sb_model(const char *id, const char *model_json)
{
    char p[512];
    snprintf(p, sizeof p, "%s/models/%s", sb_data, id);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/models/%s/model.json", sb_data, id);
    sb_write(p, model_json, strlen(model_json));
}

/* Rebuilds <root>/data: the four models and src/tiny.gguf (the file imports may name). */
static void sb_build(void)
{
    char p[512], q[512], mj[1024];
    sb_rmtree(sb_data);
    mkdir(sb_data, 0755);
    snprintf(p, sizeof p, "%s/models", sb_data);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/src", sb_data);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/src/tiny.gguf", sb_data);
    sb_write(p, sb_gguf, sb_gguf_len);

    snprintf(mj, sizeof mj, "{\"source_url\": \"file://%s/src/tiny.gguf\", \"settings\": {\"ctx_len\": 64}}\n", sb_data);
    sb_model("tiny", mj);
    snprintf(p, sizeof p, "%s/models/tiny/tiny.gguf", sb_data);
    sb_write(p, sb_gguf, sb_gguf_len);

    sb_model("dl", "{\"source_url\": \"http://127.0.0.1:9/dl.gguf\", \"state\": \"downloading\"}\n");
    sb_model("broken", "{\"source_url\": \"x.gguf\", \"settings\": {\"ctx_len\": \n");
    sb_model("named", "{\"source_url\": \"file:///nonexistent/named.gguf\", \"name\": \"Named\", \"settings\": "
                      "{\"ctx_len\": \"128\", \"n_parallel\": 2, \"embedding\": true}, \"parameters\": "
                      "{\"temperature\": 0.5, \"stop\": [\"\\n\"], \"token_limit\": 8}, \"metadata\": {\"a\": [1]}}\n");
    snprintf(p, sizeof p, "%s/models/tiny/tiny.gguf", sb_data);
    snprintf(q, sizeof q, "%s/models/named/named.gguf", sb_data);
    if (symlink(p, q) < 0)
        abort();
    sb_dirty = 0;
}

static void sb_cleanup(void) { sb_rmtree(sb_root); }

static void sb_init(void)
{
    setenv("JANC_LOG", "error", 1); /* loads that fail would log on every input */
    unsetenv("JANC_NO_DOWNLOADS");
    const char *t = getenv("TMPDIR");
    snprintf(sb_root, sizeof sb_root, "%s/janc-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(sb_root))
        abort();
    snprintf(sb_data, sizeof sb_data, "%s/data", sb_root);
    atexit(sb_cleanup);

    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "fuzz tiny");
    gguf_writer_set_u32(w, "llama.context_length", 64);
    jc_err err = {{0}};
    if (gguf_writer_to_memory(w, &sb_gguf, &sb_gguf_len, &err) < 0) {
        fprintf(stderr, "fuzz: cannot make tiny.gguf: %s\n", err.msg);
        abort();
    }
    gguf_writer_free(w);
    sb_build();
}

/*
 * The "path" of an import body: "@/..." (as the seeds write it) becomes
 * <root>/data/...; then an absolute path outside <root>/data, or one that
 * climbs with "..", becomes a path in the sandbox that does not exist.
 * Returns a new body the caller frees, or NULL to use the body as it is.
 */
static char *sb_confine_import(const char *body, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    const char *p = json_string_value(json_object_get(j, "path"));
    char path[4096];
    bool changed = false;
    if (p && p[0] == '@' && p[1] == '/') {
        snprintf(path, sizeof path, "%s%s", sb_data, p + 1);
        p = path;
        changed = true;
    }
    size_t dl = strlen(sb_data);
    if (p && p[0] == '/' && (strncmp(p, sb_data, dl) || p[dl] != '/' || strstr(p, "/.."))) {
        snprintf(path, sizeof path, "%s/src/none.gguf", sb_data);
        p = path;
        changed = true;
    }
    char *out = NULL;
    if (changed) {
        json_object_set_new(j, "path", json_string(p));
        out = json_dumps(j, JSON_COMPACT);
        if (!out)
            abort();
    }
    json_decref(j);
    return out;
}

/* The reply must be made and well-formed; see the file comment. */
static void sb_check_reply(http_req *r)
{
    http_resp *p = http_req_resp(r);
    if (p->status < 100 || p->status > 599)
        abort();
    const char *ctype = NULL;
    for (int i = 0; i < p->n_headers; i++)
        if (!strcasecmp(p->names[i], "Content-Type"))
            ctype = p->values[i];
    if (p->read) { /* a stream: read a little of it (no model runs here, so this is rare) */
        char buf[4096];
        for (int i = 0; i < 16; i++)
            if (p->read(p->cls, http_req_peer(r), buf, sizeof buf) <= 0)
                break;
        return;
    }
    if (!ctype || strcmp(ctype, "application/json"))
        return;
    json_error_t je;
    json_t *j = json_loadb(p->body ? p->body : "", p->len, 0, &je);
    if (!j)
        abort(); /* a JSON reply that does not parse */
    if (p->status >= 400) {
        json_t *e = json_object_get(j, "error");
        json_t *msg = json_object_get(e, "message"), *param = json_object_get(e, "param"),
               *code = json_object_get(e, "code");
        if (json_object_size(j) != 1 || json_object_size(e) != 4 || !json_is_string(msg) ||
            !json_string_length(msg) || !json_is_string(json_object_get(e, "type")) ||
            !(json_is_string(param) || json_is_null(param)) || !(json_is_string(code) || json_is_null(code)))
            abort(); /* not an OpenAI error object */
        const char *m = json_string_value(msg);
        if (p->status == 500 && (!strncmp(m, "the handler for", 15) || !strncmp(m, "out of memory building", 22)))
            abort(); /* a handler that gave no reply, or a reply the writer could not build */
    }
    json_decref(j);
}

typedef struct sb_header {
    const char *name, *value;
} sb_header;

typedef struct sb_headers {
    const sb_header *h;
    int n;
} sb_headers;

static const char *sb_lookup(void *cls, const char *name)
{
    const sb_headers *hs = cls;
    for (int i = 0; i < hs->n; i++)
        if (!strcasecmp(hs->h[i].name, name))
            return hs->h[i].value;
    return NULL;
}

/*
 * Runs one request through a fresh server with configuration cfg (SB_*):
 * head, body in two pieces (split at cut), finish, checks. Rebuilds the
 * data folder first when the last input may have changed it.
 */
static void sb_request(unsigned cfg, const char *method, const char *url, const sb_header *h, int n_h,
                       size_t header_bytes, const char *body, size_t len, size_t cut)
{
    if (sb_dirty)
        sb_build();
    api_opts o = {.data_dir = sb_data, .no_watch = true, .no_listen = true, .no_downloads = true, .n_threads = 1,
                  .no_autoload = (cfg & SB_NO_AUTOLOAD) != 0, .api_key = (cfg & SB_KEY) ? SB_API_KEY : NULL,
                  .cors_origin = (cfg & SB_CORS) ? "http://a.example" : NULL,
                  .max_body = (cfg & SB_SMALL_BODY) ? 64 : 0};
    jc_err err = {{0}};
    api_server *a = api_start(&o, &err);
    if (!a) {
        fprintf(stderr, "fuzz: api_start: %s\n", err.msg);
        abort();
    }
    char *confined = NULL;
    size_t ul = strcspn(url, "?");
    if (ul == 17 && !strncmp(url, "/v1/models/import", 17) && (confined = sb_confine_import(body, len))) {
        body = confined;
        len = strlen(confined);
        cut = JC_MIN(cut, len);
    }
    sb_headers hs = {h, n_h};
    http_head head = {.method = method, .url = url, .header_bytes = header_bytes, .header = sb_lookup,
                      .header_cls = &hs, .fd = -1};
    http_req *r = http_req_begin(api_http(a), &head);
    http_req_feed(r, body, cut);
    http_req_feed(r, body + cut, len - cut);
    http_req_finish(r);
    sb_check_reply(r);
    unsigned st = http_req_resp(r)->status;
    if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS") && !(st >= 400 && st < 500))
        sb_dirty = 1; /* it may have imported, edited, deleted or failed to load a model */
    http_req_free(r);
    api_free(a);
    free(confined);
}

#endif
