/*
 * test_server_http.c — the HTTP layer (src/server/http.c) on a real
 * loopback socket with a test routes table, driven by a tiny raw-socket
 * client: OpenAI-shaped 404/405/413/401 errors, keep-alive (two requests on
 * one connection), the body reaching the handler intact, a chunked stream,
 * and a client that hangs up mid-stream being noticed (the stream's done
 * callback runs and its reader saw http_peer_gone). No model needed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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

static const http_route routes[] = {
    {"POST", "/echo/{id}", h_echo},
    {"GET", "/open", h_echo},
    {"GET", "/stream", h_stream},
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
    http_options o = {.port = 0, .max_body = 1000, .routes = routes, .n_routes = 3, .app = a, .api_key = key,
                      .auth_exempt = exempt};
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
    int fd = connect_to(http_port(s));
    REQUIRE(fd >= 0);
    const char *req = "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
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

TESTS(T(errors_and_keepalive), T(auth), T(stream_and_hangup));
TEST_MAIN()
