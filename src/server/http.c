/*
 * http.c — the request core of the HTTP layer (see http.h): the checks a
 * request passes before its handler (header size, Origin/Host, API key,
 * body size), CORS preflights, routing, the reply builders and peer-gone
 * detection for blocked handlers. No sockets and no libmicrohttpd here:
 * http_mhd.c feeds requests from its connections, tests and the fuzzer
 * feed them directly.
 *
 * A request lives from http_req_begin (its head) through http_req_feed
 * (body pieces) and http_req_finish (the handler runs) to http_req_free. A
 * reply is recorded in r->resp; the caller turns it into bytes. The raw path
 * is kept: the route matcher decodes each captured segment itself.
 */
#include "server/http_int.h"
#include "server/http_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>

/* ---- errors ------------------------------------------------------------ */

static const char *type_for_status(unsigned status)
{
    switch (status) {
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 501: /* a transfer coding the request used that janc does not read */
        return "invalid_request_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json_t *http_error_json(unsigned status, const char *param, const char *code, const char *msg)
{
    return json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", msg ? msg : "", "type",
                     type_for_status(status), "param", param ? json_string(param) : json_null(), "code",
                     code ? json_string(code) : json_null());
}

/* ---- replies ----------------------------------------------------------- */

static void resp_header(http_req *r, const char *name, const char *value)
{
    http_resp *p = &r->resp;
    if (p->n_headers >= HTTP_RESP_MAX_HEADERS)
        return; /* our bug: the table is sized for the headers we send */
    p->names[p->n_headers] = name;
    p->values[p->n_headers++] = jc_xstrdup(value);
}

/* Records the reply: status, content type, CORS headers, body (taken). */
static int reply(http_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    if (r->resp.status) {
        free(body);
        return -1;
    }
    r->resp.status = status;
    r->resp.body = body;
    r->resp.len = len;
    if (ctype)
        resp_header(r, "Content-Type", ctype);
    if (r->srv->cors) {
        resp_header(r, "Access-Control-Allow-Origin", r->srv->cors);
        if (strcmp(r->srv->cors, "*"))
            resp_header(r, "Vary", "Origin");
    }
    return 0;
}

int http_reply_raw(http_req *r, unsigned status, const char *content_type, const void *data, size_t len)
{
    if (r->resp.status)
        return -1;
    char *copy = NULL;
    if (len) {
        copy = jc_xmalloc(len);
        memcpy(copy, data, len);
    }
    return reply(r, status, content_type, copy, len);
}

int http_reply_json(http_req *r, unsigned status, json_t *body)
{
    if (!body)
        return http_reply_error(r, 500, NULL, NULL, "out of memory building the reply");
    size_t len = 0;
    char *s = http_json_dump(body, &len);
    json_decref(body);
    if (!s)
        return http_reply_error(r, 500, NULL, NULL, "out of memory building the reply");
    return reply(r, status, "application/json", s, len);
}

static int reply_error_json(http_req *r, unsigned status, json_t *j)
{
    if (!j)
        return -1;
    size_t len = 0;
    char *s = http_json_dump(j, &len);
    json_decref(j);
    if (!s)
        return -1;
    return reply(r, status, "application/json", s, len);
}

/* Replaces each byte of s that is not part of valid UTF-8 with '?' (a message may quote request bytes, or be cut
 * inside a character). */
static void utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        size_t n = jc_utf8_seq(p, (size_t)(end - p));
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
}

int http_reply_error(http_req *r, unsigned status, const char *param, const char *code, const char *fmt, ...)
{
    if (r->resp.status)
        return -1;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_fix(msg);
    return reply_error_json(r, status, http_error_json(status, param, code, msg));
}

int http_reply_stream(http_req *r, unsigned status, const char *content_type, http_stream_read_fn read,
                      http_stream_done_fn done, void *cls)
{
    if (r->resp.status) {
        done(cls);
        return -1;
    }
    reply(r, status, content_type, NULL, 0);
    r->resp.read = read;
    r->resp.done = done;
    r->resp.cls = cls;
    resp_header(r, "Cache-Control", "no-cache");
    resp_header(r, "X-Accel-Buffering", "no");
    return 0;
}

/* ---- request accessors ------------------------------------------------- */

const char *http_req_method(const http_req *r) { return r->method; }
const char *http_req_path(const http_req *r) { return r->path; }
const char *http_req_param(const http_req *r, const char *name) { return http_params_get(&r->params, name); }
const http_peer *http_req_peer(const http_req *r) { return &r->peer; }

const char *http_req_body(const http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *http_req_header(const http_req *r, const char *name)
{
    return r->header ? r->header(r->header_cls, name) : NULL;
}

bool http_peer_stopping(const http_peer *p) { return atomic_load(&((http_server *)p->srv)->stopping); }

bool http_peer_gone(const http_peer *p)
{
    if (http_peer_stopping(p))
        return true;
    if (p->fd < 0)
        return false;
    char c;
    ssize_t n = recv(p->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return true;
    return false;
}

/* ---- checks before the handler ------------------------------------------ */

static bool auth_exempt(const http_server *s, const char *method, const char *path)
{
    if (!strcmp(method, "OPTIONS") && s->cors)
        return true;
    if (!s->o.auth_exempt)
        return false;
    for (const char *const *e = s->o.auth_exempt; *e; e++) {
        size_t n = strlen(*e);
        if (n && (*e)[n - 1] == '*' ? !strncmp(path, *e, n - 1) : !strcmp(path, *e))
            return true;
    }
    return false;
}

/* True for "localhost", "127.x.y.z" or "[::1]", with or without ":port". */
static bool host_is_loopback(const char *host)
{
    size_t n = strcspn(host, ":");
    if (host[0] == '[')
        return !strncmp(host, "[::1]", 5) && (host[5] == 0 || host[5] == ':');
    if (n == 9 && !strncasecmp(host, "localhost", 9))
        return true;
    if (n < 4 || strncmp(host, "127.", 4))
        return false;
    for (size_t i = 4; i < n; i++)
        if (!(host[i] == '.' || (host[i] >= '0' && host[i] <= '9')))
            return false;
    return true;
}

/*
 * Requests a web page in the user's browser could make on its own: a
 * browser names the page's origin in Origin on every cross-origin request
 * (and on same-origin POSTs). janc answers only its own page's origin
 * ("http://" + Host) and the --cors origin, so another site cannot drive the
 * API. On a loopback bind the Host header must name a loopback host too,
 * which stops DNS rebinding. Returns the offending header's name, or NULL.
 */
static const char *foreign_request(const http_req *r)
{
    const http_server *s = r->srv;
    const char *host = http_req_header(r, "Host");
    if (s->loopback && host && !host_is_loopback(host))
        return "Host";
    const char *origin = http_req_header(r, "Origin");
    if (!origin)
        return NULL;
    if (s->cors && (!strcmp(s->cors, "*") || !strcmp(origin, s->cors)))
        return NULL;
    if (host && !strncmp(origin, "http://", 7) && !strcasecmp(origin + 7, host))
        return NULL;
    return "Origin";
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool auth_ok(const http_server *s, const char *hdr)
{
    if (!hdr || strncmp(hdr, "Bearer ", 7))
        return false;
    const char *k = hdr + 7;
    size_t a = strlen(k), b = strlen(s->api_key);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)s->api_key[i] ^ (unsigned char)(i < a ? k[i] : 0);
    return diff == 0;
}

static void preflight(http_req *r)
{
    reply(r, 204, NULL, NULL, 0);
    resp_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    const char *req_hdrs = http_req_header(r, "Access-Control-Request-Headers");
    resp_header(r, "Access-Control-Allow-Headers", req_hdrs ? req_hdrs : "Authorization, Content-Type");
    resp_header(r, "Access-Control-Max-Age", "600");
}

static void dispatch(http_req *r)
{
    http_server *s = r->srv;
    size_t idx = 0;
    char allow[64];
    int m = http_route_match(s->o.routes, s->o.n_routes, r->method, r->path, &idx, &r->params, allow, sizeof allow);
    if (m == HTTP_MATCH_NONE) {
        http_reply_error(r, 404, NULL, "not_found", "no route for %s %s", r->method, r->path);
        return;
    }
    if (m == HTTP_MATCH_BAD_PATH) {
        http_reply_error(r, 400, NULL, "invalid_path", "bad percent-escape in the path %s", r->path);
        return;
    }
    if (m == HTTP_MATCH_METHOD) {
        if (http_reply_error(r, 405, NULL, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", r->method,
                             r->path, allow) == 0)
            resp_header(r, "Allow", allow);
        return;
    }
    s->o.routes[idx].fn(s->o.app, r);
    if (!r->resp.status)
        http_reply_error(r, 500, NULL, NULL, "the handler for %s %s gave no reply", r->method, r->path);
}

/* ---- a request's life -------------------------------------------------- */

http_req *http_req_begin(http_server *s, const http_head *h)
{
    http_req *r = jc_xcalloc(1, sizeof *r);
    atomic_fetch_add(&s->inflight, 1);
    r->srv = s;
    snprintf(r->method, sizeof r->method, "%s", h->method ? h->method : "");
    const char *url = h->url ? h->url : "";
    r->path = jc_xstrndup(url, strcspn(url, "?"));
    r->header = h->header;
    r->header_cls = h->header_cls;
    jc_buf_init(&r->body, s->o.max_body);
    r->peer.fd = h->fd;
    r->peer.srv = s;

    size_t url_len = strlen(url);
    if (url_len > HTTP_MAX_URL) {
        http_reply_error(r, 414, NULL, "uri_too_long", "the request target (%zu bytes) is over the limit of %u bytes",
                         url_len, HTTP_MAX_URL);
        return r;
    }
    if (h->header_bytes > s->o.max_header) {
        http_reply_error(r, 431, NULL, "header_too_large",
                         "the request line and headers (%zu bytes) are over the limit of %zu bytes", h->header_bytes,
                         s->o.max_header);
        return r;
    }
    const char *foreign = foreign_request(r);
    if (foreign) {
        http_reply_error(r, 403, NULL, "forbidden_origin",
                         "requests from another site are refused (%s header); use --cors ORIGIN to allow one", foreign);
        return r;
    }
    if (s->api_key && !auth_exempt(s, r->method, r->path) && !auth_ok(s, http_req_header(r, "Authorization"))) {
        http_reply_error(r, 401, NULL, "invalid_api_key",
                         "missing or wrong API key: send the header 'Authorization: Bearer <key>'");
        return r;
    }
    const char *te = http_req_header(r, "Transfer-Encoding");
    if (te && strcasecmp(te, "chunked")) {
        http_reply_error(r, 501, NULL, "unsupported_transfer_encoding",
                         "Transfer-Encoding '%.64s' is not supported (send Content-Length, or chunked)", te);
        return r;
    }
    const char *cl = http_req_header(r, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (end == cl || *end || cl[0] < '0' || cl[0] > '9') {
            http_reply_error(r, 400, NULL, "invalid_content_length",
                             "Content-Length '%.32s' is not a byte count", cl);
            return r;
        }
        if (errno || v > s->o.max_body) { /* errno: past 2^64 */
            http_reply_error(r, 413, NULL, "request_too_large",
                             "the request body (%.32s bytes) is over the limit of %zu bytes", cl, s->o.max_body);
            return r;
        }
    }
    return r;
}

void http_req_feed(http_req *r, const void *data, size_t n)
{
    if (n && !r->resp.status && !r->too_big && jc_buf_append(&r->body, data, n) < 0)
        r->too_big = true;
}

void http_req_finish(http_req *r)
{
    if (r->resp.status)
        return;
    if (r->too_big) {
        http_reply_error(r, 413, NULL, "request_too_large", "the request body is over the limit of %zu bytes",
                         r->srv->o.max_body);
        return;
    }
    if (r->srv->cors && !strcmp(r->method, "OPTIONS")) {
        preflight(r);
        return;
    }
    dispatch(r);
}

http_resp *http_req_resp(http_req *r) { return &r->resp; }

void http_req_free(http_req *r)
{
    if (!r)
        return;
    if (r->resp.done)
        r->resp.done(r->resp.cls);
    free(r->resp.body);
    for (int i = 0; i < r->resp.n_headers; i++)
        free(r->resp.values[i]);
    atomic_fetch_sub(&r->srv->inflight, 1);
    jc_buf_free(&r->body);
    free(r->path);
    free(r);
}

/* ---- the server's settings ------------------------------------------------ */

void http_server_init(http_server *s, const http_options *o)
{
    s->o = *o;
    if (!s->o.max_body)
        s->o.max_body = HTTP_DEFAULT_MAX_BODY;
    if (!s->o.max_conns)
        s->o.max_conns = 256;
    if (!s->o.max_header)
        s->o.max_header = HTTP_DEFAULT_MAX_HEADER;
    if (!s->o.header_timeout)
        s->o.header_timeout = HTTP_DEFAULT_HEADER_TIMEOUT;
    if (!s->o.body_timeout)
        s->o.body_timeout = HTTP_DEFAULT_BODY_TIMEOUT;
    if (!s->o.body_min_rate)
        s->o.body_min_rate = HTTP_DEFAULT_BODY_MIN_RATE;
    s->host = jc_xstrdup(o->host && *o->host ? o->host : "127.0.0.1");
    s->loopback = host_is_loopback(s->host) || !strcmp(s->host, "::1");
    s->api_key = o->api_key && *o->api_key ? jc_xstrdup(o->api_key) : NULL;
    s->cors = o->cors_origin && *o->cors_origin ? jc_xstrdup(o->cors_origin) : NULL;
    atomic_init(&s->stopping, false);
    atomic_init(&s->inflight, 0);
}

void http_server_fini(http_server *s)
{
    free(s->host);
    free(s->api_key);
    free(s->cors);
}
