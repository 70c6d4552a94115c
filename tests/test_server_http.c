/*
 * test_server_http.c — the HTTP layer (src/server/http.c) on a real
 * loopback socket with a test routes table, driven by a tiny raw-socket
 * client: OpenAI-shaped 404/405/413/401 errors, keep-alive (two requests on
 * one connection), the body reaching the handler intact, a chunked stream,
 * and a client that hangs up mid-stream being noticed (the stream's done
 * callback runs and its reader saw http_peer_gone). No model needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>

#include "harness.h"
#include "server/http.h"

typedef struct app {
    atomic_int stream_done;
    atomic_int saw_gone;
    atomic_int chunks;
} app;

static int h_echo(void *a, http_req *r)
{
    (void)a;
    size_t n;
    const char *b = http_req_body(r, &n);
    return http_reply_json(r, 200, json_pack("{s:s%, s:s}", "body", b, n, "id", http_req_param(r, "id") ? http_req_param(r, "id") : ""));
}

static ssize_t s_read(void *cls, const http_peer *peer, char *buf, size_t cap)
{
    app *a = cls;
    int k = atomic_fetch_add(&a->chunks, 1);
    if (k < 3) {
        int n = snprintf(buf, cap, "data: %d\n\n", k);
        return n;
    }
    /* then wait (up to 5 s) for the client to hang up */
    for (int i = 0; i < 500; i++) {
        if (http_peer_gone(peer)) {
            atomic_store(&a->saw_gone, 1);
            return -1;
        }
        poll(NULL, 0, 10);
    }
    return 0;
}

static void s_done(void *cls)
{
    app *a = cls;
    atomic_store(&a->stream_done, 1);
}

static int h_stream(void *a, http_req *r) { return http_reply_stream(r, 200, "text/event-stream", s_read, s_done, a); }

/* A stream slower than the deadlines: 10 events, 250 ms apart, then the end. */
static ssize_t slow_read(void *cls, const http_peer *peer, char *buf, size_t cap)
{
    (void)peer;
    int *k = cls;
    if (*k == 10)
        return 0;
    if (*k > 0)
        poll(NULL, 0, 250);
    return snprintf(buf, cap, "data: %d\n\n", (*k)++);
}

static void slow_done(void *cls) { free(cls); }

static int h_slow_stream(void *a, http_req *r)
{
    (void)a;
    return http_reply_stream(r, 200, "text/event-stream", slow_read, slow_done, calloc(1, sizeof(int)));
}

static const http_route routes[] = {
    {"POST", "/echo/{id}", h_echo},
    {"GET", "/open", h_echo},
    {"GET", "/stream", h_stream},
    {"GET", "/slow", h_slow_stream},
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A connection to s with req already sent (the request head, maybe more); -1 if it cannot connect. */
static int send_on_new_connection(http_server *s, const char *req)
{
    int fd = connect_to(http_port(s));
    if (fd >= 0)
        send(fd, req, strlen(req), MSG_NOSIGNAL);
    return fd;
}

/* Reads one response (headers + Content-Length body) into buf; returns the status or -1. */
static int read_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    long clen = -1;
    char *body = NULL;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            char *cl = strcasestr(buf, "Content-Length:");
            clen = cl ? strtol(cl + 15, NULL, 10) : -1;
        }
        if (body && clen >= 0 && (long)(len - (size_t)(body - buf)) >= clen)
            break;
    }
    buf[len] = 0;
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static int request(int fd, const char *req, char *buf, size_t cap)
{
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        return -1;
    return read_response(fd, buf, cap);
}

static http_server *start(app *a, const char *key)
{
    static const char *const exempt[] = {"/", "/open", NULL}; /* "/" exempts only "/" itself */
    http_options o = {.port = 0, .max_body = 1000, .routes = routes, .n_routes = 4, .app = a, .api_key = key,
                      .auth_exempt = exempt, .header_timeout = 1, .body_timeout = 1, .body_min_rate = 100};
    jc_err err = {{0}};
    http_server *s = http_start(&o, &err);
    if (!s)
        fprintf(stderr, "http_start: %s\n", err.msg);
    return s;
}

/* Proves: errors are OpenAI-shaped with the right status, keep-alive works, bodies and captures arrive intact. */
TEST(errors_and_keepalive)
{
    app a = {0};
    http_server *s = start(&a, NULL);
    REQUIRE(s);
    int port = http_port(s);
    CHECK(port > 0);
    int fd = connect_to(port);
    REQUIRE(fd >= 0);
    char buf[8192];
    CHECK_EQ_INT(request(fd, "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof buf), 404);
    CHECKF(strstr(buf, "{\"error\":{\"message\":") && strstr(buf, "\"type\":\"invalid_request_error\""), "%s", buf);
    /* same connection again: keep-alive */
    CHECK_EQ_INT(request(fd, "GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof buf), 405);
    CHECKF(strstr(buf, "Allow: POST") != NULL, "%s", buf);
    CHECK_EQ_INT(request(fd, "POST /echo/a%20b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 7\r\n\r\n{\"k\":1}", buf,
                         sizeof buf),
                 200);
    CHECKF(strstr(buf, "\"body\":\"{\\\"k\\\":1}\"") && strstr(buf, "\"id\":\"a b\""), "%s", buf);
    CHECK_EQ_INT(request(fd, "POST /echo/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 400);
    close(fd);
    /* over the body limit, by Content-Length: refused before the body is sent */
    fd = connect_to(port);
    CHECK_EQ_INT(request(fd, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n", buf, sizeof buf),
                 413);
    CHECKF(strstr(buf, "request_too_large") != NULL, "%s", buf);
    close(fd);
    /* over the limit, chunked (no Content-Length): refused once it passes the limit */
    fd = connect_to(port);
    char big[1400];
    int n = snprintf(big, sizeof big, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n4b0\r\n");
    memset(big + n, 'a', 1200);
    memcpy(big + n + 1200, "\r\n0\r\n\r\n", 8);
    CHECK_EQ_INT(request(fd, big, buf, sizeof buf), 413);
    close(fd);
    http_stop(s);
}

/* Proves: with a key, a missing or wrong key is 401, the right one passes, exempt paths need none. */
TEST(auth)
{
    app a = {0};
    http_server *s = start(&a, "sekret");
    REQUIRE(s);
    int fd = connect_to(http_port(s));
    REQUIRE(fd >= 0);
    char buf[8192];
    CHECK_EQ_INT(request(fd, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf), 401);
    CHECKF(strstr(buf, "invalid_api_key") != NULL, "%s", buf);
    close(fd);
    fd = connect_to(http_port(s));
    CHECK_EQ_INT(request(fd, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sekreT\r\nContent-Length: 0\r\n\r\n",
                         buf, sizeof buf),
                 401);
    close(fd);
    fd = connect_to(http_port(s));
    CHECK_EQ_INT(request(fd, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sekret\r\nContent-Length: 0\r\n\r\n",
                         buf, sizeof buf),
                 200);
    CHECK_EQ_INT(request(fd, "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof buf), 200);
    close(fd);
    http_stop(s);
}

/* Proves: a streamed body arrives chunked; a client hanging up is seen by the reader and done runs. */
TEST(stream_and_hangup)
{
    app a = {0};
    http_server *s = start(&a, NULL);
    REQUIRE(s);
    int fd = send_on_new_connection(s, "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    REQUIRE(fd >= 0);
    char buf[4096];
    size_t len = 0;
    while (len < sizeof buf - 1 && !strstr(buf, "data: 2")) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
    }
    CHECKF(strstr(buf, "Transfer-Encoding: chunked") && strstr(buf, "data: 0") && strstr(buf, "data: 2"), "%s", buf);
    close(fd);
    for (int i = 0; i < 300 && !atomic_load(&a.stream_done); i++)
        poll(NULL, 0, 10);
    CHECK(atomic_load(&a.saw_gone) == 1);
    CHECK(atomic_load(&a.stream_done) == 1);
    http_stop(s);
}

/* Waits up to ms for the peer to close fd (reading and dropping what it sends). True when it did. */
static bool closed_within(int fd, int ms)
{
    char buf[4096];
    for (int waited = 0; waited < ms; waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN))
                return true;
        }
    }
    return false;
}

/* Sends s one byte every 300 ms until the peer closes (or s is all sent). Returns the bytes sent. */
static size_t trickle(int fd, const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        if (send(fd, s + i, 1, MSG_NOSIGNAL) != 1 || closed_within(fd, 300))
            break;
    }
    return i;
}

/*
 * Proves: the deadlines (1 s here) close a client that sends its headers or
 * its body a byte at a time, while other clients are served; an idle
 * kept-alive connection is closed after the header deadline; a stream that
 * outlasts every deadline is not cut.
 */
TEST(deadlines)
{
    app a = {0};
    http_server *s = start(&a, NULL);
    REQUIRE(s);
    int port = http_port(s);
    char buf[8192];
    const char *head = "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    int slow = connect_to(port);
    REQUIRE(slow >= 0);
    size_t sent = trickle(slow, head);
    CHECKF(sent < strlen(head), "a trickled head was read to its end (%zu bytes)", sent);
    close(slow);
    /* a body at 3 bytes/s against 1 s + 1 s per 100 bytes */
    slow = connect_to(port);
    REQUIRE(slow >= 0);
    const char *req = "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60\r\n\r\n";
    send(slow, req, strlen(req), MSG_NOSIGNAL);
    int fast = connect_to(port);
    CHECK_EQ_INT(request(fast, "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof buf), 200);
    sent = trickle(slow, "{\"k\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
    CHECKF(sent < 60, "a trickled body was read to its end");
    close(slow);
    /* the other client was served meanwhile; its kept-alive connection closed once idle past the deadline */
    CHECK(closed_within(fast, 10000));
    close(fast);
    /* 2.5 s of events: longer than every deadline, and not cut */
    fast = connect_to(port);
    const char *sr = "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send(fast, sr, strlen(sr), MSG_NOSIGNAL);
    size_t len = 0;
    buf[0] = 0;
    while (len < sizeof buf - 1 && !strstr(buf, "\r\n0\r\n\r\n")) {
        struct pollfd p = {.fd = fast, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t n = recv(fast, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
    }
    CHECKF(strstr(buf, "data: 9") && strstr(buf, "\r\n0\r\n\r\n"), "the slow stream was cut: %s", buf);
    close(fast);
    http_stop(s);
}

/*
 * Proves: body bytes past max_body buy no time. A chunked upload with no end,
 * sent at 1,000 bytes/s (faster than the minimum rate), is cut by its deadline
 * (1 s + 1,000 bytes at 100 bytes/s) instead of holding its connection for ever.
 */
TEST(oversized_chunked_upload_cut)
{
    app a = {0};
    http_server *s = start(&a, NULL);
    REQUIRE(s);
    int fd = send_on_new_connection(
        s, "POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    REQUIRE(fd >= 0);
    char chunk[128];
    int n = snprintf(chunk, sizeof chunk, "64\r\n%0100d\r\n", 0); /* 100 bytes of '0' */
    bool cut = false;
    int ms = 0;
    for (; ms < 25000 && !cut; ms += 100) /* 25 s at most */
        cut = send(fd, chunk, (size_t)n, MSG_NOSIGNAL) < 0 || closed_within(fd, 100);
    CHECKF(cut, "a chunked upload past max_body was still connected after %d ms", ms);
    close(fd);
    http_stop(s);
}

static const char *head_lookup(void *cls, const char *name)
{
    for (const char *const *h = cls; *h; h += 2)
        if (!strcasecmp(h[0], name))
            return h[1];
    return NULL;
}

/* One request through the core without a socket; returns its status, the body in out. */
static unsigned core_request(http_server *s, const char *method, const char *url, const char *const *hdrs,
                             size_t header_bytes, const char *body, char *out, size_t cap)
{
    http_head h = {.method = method, .url = url, .header_bytes = header_bytes, .header = head_lookup,
                   .header_cls = (void *)hdrs, .fd = -1};
    http_req *r = http_req_begin(s, &h);
    if (!body)
        body = "";
    size_t n = strlen(body);
    http_req_feed(r, body, n / 2);
    http_req_feed(r, body + n / 2, n - n / 2);
    http_req_finish(r);
    http_resp *p = http_req_resp(r);
    unsigned st = p->status;
    snprintf(out, cap, "%.*s", (int)p->len, p->body ? p->body : "");
    http_req_free(r);
    return st;
}

/* True if s is exactly an OpenAI error object with this code. */
static bool is_error(const char *s, const char *code)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    json_t *e = json_object_get(j, "error");
    bool ok = json_object_size(j) == 1 && json_object_size(e) == 4 &&
              json_is_string(json_object_get(e, "message")) && json_is_string(json_object_get(e, "type")) &&
              json_is_string(json_object_get(e, "code")) && !strcmp(json_string_value(json_object_get(e, "code")), code);
    json_decref(j);
    return ok;
}

/*
 * Proves: the request core answers without a socket exactly as through one:
 * oversized heads (431), long targets (414), unknown transfer codings (501),
 * a Content-Length that is not a number (400) or over the limit (413),
 * foreign Origin (403), missing key (401), the body
 * in pieces reaching the handler, a query string ignored, and an error
 * message quoting bytes that are not UTF-8 still valid JSON.
 */
TEST(core_without_socket)
{
    app a = {0};
    static const char *const exempt[] = {"/open", NULL};
    http_options o = {.no_socket = true, .max_body = 1000, .routes = routes, .n_routes = 4, .app = &a,
                      .api_key = "sekret", .auth_exempt = exempt};
    jc_err err = {{0}};
    http_server *s = http_start(&o, &err);
    REQUIRE(s);
    CHECK_EQ_INT(http_port(s), 0);
    char out[4096];
    static const char *const key[] = {"Host", "127.0.0.1:1", "Authorization", "Bearer sekret", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/a%20b?x=1", key, 100, "{\"k\":1}", out, sizeof out), 200);
    CHECKF(strstr(out, "\"body\":\"{\\\"k\\\":1}\"") && strstr(out, "\"id\":\"a b\""), "%s", out);
    CHECK_EQ_INT(core_request(s, "GET", "/open", key, HTTP_DEFAULT_MAX_HEADER + 1, NULL, out, sizeof out), 431);
    CHECKF(is_error(out, "header_too_large"), "%s", out);
    char *long_url = calloc(1, HTTP_MAX_URL + 8);
    memset(long_url, 'u', HTTP_MAX_URL + 2);
    long_url[0] = '/';
    CHECK_EQ_INT(core_request(s, "GET", long_url, key, 100, NULL, out, sizeof out), 414);
    CHECKF(is_error(out, "uri_too_long"), "%s", out);
    free(long_url);
    static const char *const gz[] = {"Authorization", "Bearer sekret", "Transfer-Encoding", "gzip", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", gz, 100, "{}", out, sizeof out), 501);
    CHECKF(is_error(out, "unsupported_transfer_encoding"), "%s", out);
    static const char *const neg[] = {"Authorization", "Bearer sekret", "Content-Length", "-5", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", neg, 100, "{}", out, sizeof out), 400);
    CHECKF(is_error(out, "invalid_content_length"), "%s", out);
    static const char *const junk[] = {"Authorization", "Bearer sekret", "Content-Length", "12abc", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", junk, 100, "{}", out, sizeof out), 400);
    static const char *const big[] = {"Authorization", "Bearer sekret", "Content-Length", "1001", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", big, 100, "{}", out, sizeof out), 413);
    CHECKF(is_error(out, "request_too_large"), "%s", out);
    static const char *const huge[] = {"Authorization", "Bearer sekret", "Content-Length",
                                       "99999999999999999999999", NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", huge, 100, "{}", out, sizeof out), 413);
    static const char *const foreign[] = {"Host", "127.0.0.1:1", "Origin", "http://evil.example", NULL};
    CHECK_EQ_INT(core_request(s, "GET", "/open", foreign, 100, NULL, out, sizeof out), 403);
    static const char *const none[] = {NULL};
    CHECK_EQ_INT(core_request(s, "POST", "/echo/x", none, 100, "{}", out, sizeof out), 401);
    CHECK_EQ_INT(core_request(s, "GET", "/open", none, 100, NULL, out, sizeof out), 200);
    CHECK_EQ_INT(core_request(s, "GET", "/n\xff\xc3o", key, 100, NULL, out, sizeof out), 404);
    CHECKF(is_error(out, "not_found"), "%s", out);
    CHECK_EQ_INT(core_request(s, "GET", "/echo/\xe2\x82", key, 100, NULL, out, sizeof out), 405);
    CHECKF(is_error(out, "method_not_allowed"), "%s", out);
    http_stop(s);
}

/* Proves: a 100 KB header on a real socket gets janc's 431 error object, not libmicrohttpd's page. */
TEST(big_header_on_socket)
{
    app a = {0};
    http_server *s = start(&a, NULL);
    REQUIRE(s);
    int fd = connect_to(http_port(s));
    REQUIRE(fd >= 0);
    size_t n = 100000;
    char *req = malloc(n + 128);
    int k = snprintf(req, 128, "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
    memset(req + k, 'h', n);
    memcpy(req + k + n, "\r\n\r\n", 5);
    char buf[8192];
    CHECK_EQ_INT(request(fd, req, buf, sizeof buf), 431);
    CHECKF(strstr(buf, "application/json") && strstr(buf, "header_too_large"), "%s", buf);
    free(req);
    close(fd);
    http_stop(s);
}

TESTS(T(errors_and_keepalive), T(auth), T(stream_and_hangup), T(deadlines), T(oversized_chunked_upload_cut), T(core_without_socket),
      T(big_header_on_socket));
TEST_MAIN()
