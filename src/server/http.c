/*
 * http.c — libmicrohttpd glue (see http.h): the access handler that
 * gathers a request (auth, CORS, body limit, route), the reply builders, the
 * streamed-body adapter, and peer-gone detection for blocked handlers.
 *
 * MHD calls the access handler several times per request in the
 * connection's thread: once with the headers (*con_cls NULL), once per body
 * piece, and once more with no data when the body is complete. Our per-request
 * state (http_req) lives from the first call until MHD's "request completed"
 * notification. URL unescaping is turned off in MHD so that the route matcher
 * sees the raw path and decodes each captured segment itself.
 */
#include "server/http.h"
#include "server/http_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    http_options o;
    char *host, *api_key, *cors;
    bool loopback; /* bound to a loopback address: Host must name one too */
    int port;
    atomic_bool stopping;
    atomic_int inflight; /* requests between their headers and MHD's completion notice */
    int quiesced_fd;
};

struct http_req {
    http_server *srv;
    struct MHD_Connection *conn;
    char method[16];
    char *path;
    jc_buf body;
    bool too_big;
    bool replied;
    http_params params;
    http_peer peer;
};

#define HTTP_DEFAULT_MAX_BODY (8u << 20)

/* ---- errors ------------------------------------------------------------ */

static const char *type_for_status(unsigned status)
{
    switch (status) {
    case 401:
        return "invalid_request_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
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

static void add_common_headers(http_req *r, struct MHD_Response *resp, const char *ctype)
{
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (r->srv->cors) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->srv->cors);
        if (strcmp(r->srv->cors, "*"))
            MHD_add_response_header(resp, "Vary", "Origin");
    }
}

static int queue(http_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return -1;
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->replied = true;
    return ok == MHD_YES ? 0 : -1;
}

int http_reply_raw(http_req *r, unsigned status, const char *content_type, const void *data, size_t len)
{
    if (r->replied)
        return -1;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return -1;
    add_common_headers(r, resp, content_type);
    return queue(r, status, resp);
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
    if (r->replied) {
        free(s);
        return -1;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return -1;
    }
    add_common_headers(r, resp, "application/json");
    return queue(r, status, resp);
}

int http_reply_error(http_req *r, unsigned status, const char *param, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->replied)
        return -1;
    json_t *j = http_error_json(status, param, code, msg);
    if (!j)
        return -1;
    size_t len = 0;
    char *s = http_json_dump(j, &len);
    json_decref(j);
    if (!s)
        return -1;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return -1;
    }
    add_common_headers(r, resp, "application/json");
    return queue(r, status, resp);
}

typedef struct http_stream {
    http_stream_read_fn read;
    http_stream_done_fn done;
    void *cls;
    http_peer peer;
} http_stream;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream *st = cls;
    ssize_t n = st->read(st->cls, &st->peer, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    http_stream *st = cls;
    st->done(st->cls);
    free(st);
}

int http_reply_stream(http_req *r, unsigned status, const char *content_type, http_stream_read_fn read,
                      http_stream_done_fn done, void *cls)
{
    if (r->replied) {
        done(cls);
        return -1;
    }
    http_stream *st = jc_xcalloc(1, sizeof *st);
    st->read = read;
    st->done = done;
    st->cls = cls;
    st->peer = r->peer;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_cb, st, stream_free);
    if (!resp) {
        stream_free(st);
        return -1;
    }
    add_common_headers(r, resp, content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue(r, status, resp);
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
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
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

/* ---- the access handler ------------------------------------------------ */

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
static const char *foreign_request(const http_server *s, struct MHD_Connection *conn)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (s->loopback && host && !host_is_loopback(host))
        return "Host";
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
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
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return;
    add_common_headers(r, resp, NULL);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    const char *req_hdrs = http_req_header(r, "Access-Control-Request-Headers");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            req_hdrs ? req_hdrs : "Authorization, Content-Type");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    queue(r, 204, resp);
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
        json_t *j = http_error_json(405, NULL, "method_not_allowed", "method not allowed");
        char *msg = jc_xasprintf("%s is not allowed on %s (allowed: %s)", r->method, r->path, allow);
        json_object_set_new(json_object_get(j, "error"), "message", json_string(msg));
        free(msg);
        char *sj = http_json_dump(j, NULL);
        json_decref(j);
        if (!sj)
            return;
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(sj), sj, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            free(sj);
            return;
        }
        add_common_headers(r, resp, "application/json");
        MHD_add_response_header(resp, "Allow", allow);
        queue(r, 405, resp);
        return;
    }
    s->o.routes[idx].fn(s->o.app, r);
    if (!r->replied)
        http_reply_error(r, 500, NULL, NULL, "the handler for %s %s gave no reply", r->method, r->path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *s = cls;
    http_req *r = *con_cls;
    if (!r) {
        r = jc_xcalloc(1, sizeof *r);
        atomic_fetch_add(&s->inflight, 1);
        r->srv = s;
        r->conn = conn;
        snprintf(r->method, sizeof r->method, "%s", method);
        r->path = jc_xstrdup(url);
        jc_buf_init(&r->body, s->o.max_body);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        r->peer.fd = ci ? ci->connect_fd : -1;
        r->peer.srv = s;
        *con_cls = r;
        const char *foreign = foreign_request(s, conn);
        if (foreign) {
            http_reply_error(r, 403, NULL, "forbidden_origin",
                             "requests from another site are refused (%s header); use --cors ORIGIN to allow one",
                             foreign);
            return MHD_YES;
        }
        if (s->api_key && !auth_exempt(s, r->method, r->path) &&
            !auth_ok(s, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
            http_reply_error(r, 401, NULL, "invalid_api_key",
                             "missing or wrong API key: send the header 'Authorization: Bearer <key>'");
            return MHD_YES;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > s->o.max_body) {
                http_reply_error(r, 413, NULL, "request_too_large", "the request body (%s bytes) is over the limit of %zu bytes",
                                 cl, s->o.max_body);
                return MHD_YES;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->replied && !r->too_big && jc_buf_append(&r->body, upload_data, *upload_data_size) < 0)
            r->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->replied)
        return MHD_YES;
    if (r->too_big) {
        http_reply_error(r, 413, NULL, "request_too_large", "the request body is over the limit of %zu bytes",
                         s->o.max_body);
        return MHD_YES;
    }
    if (s->cors && !strcmp(r->method, "OPTIONS")) {
        preflight(r);
        return MHD_YES;
    }
    dispatch(r);
    return r->replied ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    http_server *s = cls;
    http_req *r = *con_cls;
    if (!r)
        return;
    atomic_fetch_sub(&s->inflight, 1);
    jc_buf_free(&r->body);
    free(r->path);
    free(r);
    *con_cls = NULL;
}

/* Keeps the URL raw: the route matcher decodes captured segments itself. */
static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!jc_log_enabled(JC_LOG_DEBUG))
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    jc_debug("http: %s", msg);
}

http_server *http_start(const http_options *o, jc_err *err)
{
    http_server *s = jc_xcalloc(1, sizeof *s);
    s->o = *o;
    s->quiesced_fd = -1;
    if (!s->o.max_body)
        s->o.max_body = HTTP_DEFAULT_MAX_BODY;
    if (!s->o.max_conns)
        s->o.max_conns = 256;
    s->host = jc_xstrdup(o->host && *o->host ? o->host : "127.0.0.1");
    s->loopback = host_is_loopback(s->host) || !strcmp(s->host, "::1");
    s->api_key = o->api_key && *o->api_key ? jc_xstrdup(o->api_key) : NULL;
    s->cors = o->cors_origin && *o->cors_origin ? jc_xstrdup(o->cors_origin) : NULL;
    atomic_init(&s->stopping, false);
    atomic_init(&s->inflight, 0);

    if (o->port < 0 || o->port > 65535) {
        jc_errf(err, "--port %d is out of range (0..65535)", o->port);
        goto fail;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", o->port);
    int gai = getaddrinfo(s->host, portstr, &hints, &ai);
    if (gai || !ai) {
        jc_errf(err, "cannot resolve host '%s': %s", s->host, gai_strerror(gai));
        goto fail;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, JC_MIN((size_t)ai->ai_addrlen, sizeof addr));
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_conns,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, /* idle keep-alive, s */
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop, (void *)NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        jc_errf(err, "cannot listen on %s:%d (in use, or not an address of this machine?)", s->host, o->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di && di->port ? di->port : o->port;
    return s;
fail:
    free(s->host);
    free(s->api_key);
    free(s->cors);
    free(s);
    return NULL;
}

int http_port(const http_server *s) { return s->port; }
const char *http_host(const http_server *s) { return s->host; }

void http_quiesce(http_server *s)
{
    if (!s || atomic_exchange(&s->stopping, true))
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        s->quiesced_fd = fd;
}

void http_stop(http_server *s)
{
    if (!s)
        return;
    http_quiesce(s);
    for (int i = 0; i < 300 && atomic_load(&s->inflight) > 0; i++)
        poll(NULL, 0, 10);
    MHD_stop_daemon(s->d);
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    free(s->host);
    free(s->api_key);
    free(s->cors);
    free(s);
}
