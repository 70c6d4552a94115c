/*
 * http.h — the HTTP/1.1 layer of the server: a request core that checks,
 * routes and answers requests (http.c, no sockets) and its libmicrohttpd
 * adapter (http_mhd.c: the listening socket, connections, deadlines).
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION with an internal
 * polling thread): a handler runs in its connection's thread and may block
 * (waiting for a scheduler), checking http_peer_gone() now and then to learn
 * that the client went away or that the server is shutting down.
 *
 * For each request the core: refuses a request line and headers over
 * max_header with 431 (a URL over HTTP_MAX_URL with 414), a request from
 * another site with 403, a Transfer-Encoding other than chunked with 501, a missing or wrong API key with 401 (exempt paths
 * excepted), answers CORS preflights when a CORS origin is set, refuses a
 * body larger than max_body with 413 (by Content-Length before it arrives,
 * else as it arrives), finds the route (404 unknown path, 405 wrong method,
 * 400 bad escape) and calls its handler with the whole body. Every error is
 * an OpenAI error object {"error":{"message","type","param","code"}}.
 *
 * Deadlines (the adapter): the request line and headers must arrive within
 * header_timeout seconds of the connection opening (or of the previous
 * response on a kept-alive connection), and the body within body_timeout
 * seconds of the headers plus one second per body_min_rate bytes received;
 * past that the socket is shut down. Handlers and replies (SSE streams
 * included) have no deadline. A connection with nothing to send or read
 * for 120 s is closed too (libmicrohttpd's idle timeout).
 *
 * Without a socket (no_socket) the caller feeds requests itself through
 * http_req_begin / feed / finish and reads the reply: tests and
 * fuzz/fuzz_server_http.c drive exactly the code the adapter drives.
 *
 * Threads: http_start returns once the socket listens. http_quiesce stops
 * accepting and tells every waiting handler and stream (http_peer_gone
 * becomes true); http_stop then closes connections and joins threads.
 */
#ifndef HTTP_H
#define HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/jc.h"
#include "server/http_route.h"

typedef struct http_server http_server;

typedef struct http_options {
    const char *host;          /* address to bind; NULL: "127.0.0.1" */
    int port;                  /* 0: any free port (see http_port) */
    size_t max_body;           /* bytes; 0: 8 MiB */
    unsigned max_conns;        /* 0: 256 */
    const char *api_key;       /* NULL/"": no authentication */
    const char *cors_origin;   /* NULL/"": no CORS headers */
    const http_route *routes;  /* the routes table (must outlive the server) */
    size_t n_routes;
    void *app;                 /* passed to every handler */
    const char *const *auth_exempt; /* NULL-terminated paths that need no key ("/health"); a final '*' makes a prefix */
    size_t max_header;         /* request line and headers, bytes; 0: 32 KiB (431 beyond) */
    unsigned header_timeout;   /* s, for the request line and headers; 0: 30 */
    unsigned body_timeout;     /* s, for the body, plus 1 s per body_min_rate bytes received; 0: 30 */
    unsigned body_min_rate;    /* bytes/s; 0: 1024 */
    bool no_socket;            /* listen nowhere: requests come through http_req_begin (tests, fuzzing) */
} http_options;

#define HTTP_DEFAULT_MAX_BODY (8u << 20)
#define HTTP_DEFAULT_MAX_HEADER (32u << 10)
#define HTTP_DEFAULT_HEADER_TIMEOUT 30
#define HTTP_DEFAULT_BODY_TIMEOUT 30
#define HTTP_DEFAULT_BODY_MIN_RATE 1024
#define HTTP_MAX_URL (8u << 10) /* a longer request target is 414 */
/* libmicrohttpd's memory per connection: room for headers well past max_header, so that janc, not
 * libmicrohttpd, answers most oversized ones (with an error object) */
#define HTTP_CONN_MEMORY (256u << 10)

/*
 * Starts listening (or, with no_socket, only sets the server up). Returns
 * NULL with err set (e.g. the port is taken). Free with http_stop.
 */
http_server *http_start(const http_options *o, jc_err *err);
/* The port actually bound (0 without a socket). */
int http_port(const http_server *s);
/* The host string bound (as given, or the default). */
const char *http_host(const http_server *s);
/* Stops accepting connections and marks the server as stopping. Idempotent. */
void http_quiesce(http_server *s);
/*
 * Quiesces, waits (up to 3 s) for requests in flight to finish (streams end
 * themselves once they see the server stopping), closes every connection,
 * joins the threads and frees s. NULL is fine.
 */
void http_stop(http_server *s);

/* --- inside a handler ------------------------------------------------ */

/* What a blocked handler or stream may ask about its client. */
typedef struct http_peer {
    int fd;                  /* the connection's socket, or -1 */
    const http_server *srv;
} http_peer;

/* True when the client has closed its end, or the server is stopping. Cheap (one recv MSG_PEEK). */
bool http_peer_gone(const http_peer *p);
/* True when the server is stopping. */
bool http_peer_stopping(const http_peer *p);

const char *http_req_method(const http_req *r);
/* The raw path (no query string). */
const char *http_req_path(const http_req *r);
/* The decoded "{name}" capture, or NULL. */
const char *http_req_param(const http_req *r, const char *name);
/* The request body (NUL-terminated; len may be NULL). Never NULL. */
const char *http_req_body(const http_req *r, size_t *len);
/* A request header, or NULL. */
const char *http_req_header(const http_req *r, const char *name);
const http_peer *http_req_peer(const http_req *r);

/*
 * Replies. A handler calls exactly one of these; each returns 0 (or -1 when
 * a reply was already made or memory ran out, for our bugs).
 */
/* Status and a JSON body; takes ownership of body. */
int http_reply_json(http_req *r, unsigned status, json_t *body);
/* Status and raw bytes (copied). */
int http_reply_raw(http_req *r, unsigned status, const char *content_type, const void *data, size_t len);
/* An OpenAI error object. type NULL: chosen by status; param/code may be NULL. */
int http_reply_error(http_req *r, unsigned status, const char *param, const char *code, const char *fmt, ...)
    JC_PRINTF(5, 6);

/*
 * A streamed body (chunked transfer encoding), e.g. SSE. read is called in
 * the connection's thread, may block, and returns the bytes written to buf
 * (> 0), 0 at the end of the stream, or -1 to abort the connection. done is
 * called exactly once when the response is finished or abandoned (client
 * gone): it frees cls. Takes ownership of cls even on failure.
 */
typedef ssize_t (*http_stream_read_fn)(void *cls, const http_peer *peer, char *buf, size_t cap);
typedef void (*http_stream_done_fn)(void *cls);
int http_reply_stream(http_req *r, unsigned status, const char *content_type, http_stream_read_fn read,
                      http_stream_done_fn done, void *cls);

/* The OpenAI error object for status (type chosen by status) as a new JSON value. */
json_t *http_error_json(unsigned status, const char *param, const char *code, const char *msg);

/* --- the request core, without a socket --------------------------------- */

/* A request's head as it arrived: what libmicrohttpd parsed, or what a test made up. */
typedef struct http_head {
    const char *method;
    const char *url;     /* the raw request target; a "?query" is ignored */
    size_t header_bytes; /* size of the request line and headers as received */
    /* A request header by name (case-insensitive), or NULL; called while the request lives. */
    const char *(*header)(void *cls, const char *name);
    void *header_cls;
    int fd; /* the socket, or -1 */
} http_head;

#define HTTP_RESP_MAX_HEADERS 8

/* What a request was answered with. */
typedef struct http_resp {
    unsigned status; /* 0: no reply yet */
    char *body;      /* malloc'd, len bytes (NULL when empty or streamed) */
    size_t len;
    http_stream_read_fn read; /* a streamed body when set; the reader of the reply calls done once */
    http_stream_done_fn done;
    void *cls;
    int n_headers; /* Content-Type, CORS, Allow, ... */
    const char *names[HTTP_RESP_MAX_HEADERS];
    char *values[HTTP_RESP_MAX_HEADERS]; /* malloc'd */
} http_resp;

/*
 * One request: begin with its head (this may already answer it: 431, 414,
 * 403, 401, 501, 413), feed its body in pieces, finish (the handler runs unless
 * it was answered), read the reply, free. h->header and h->header_cls must
 * stay valid until http_req_free. s must outlive the request.
 */
http_req *http_req_begin(http_server *s, const http_head *h);
void http_req_feed(http_req *r, const void *data, size_t n);
void http_req_finish(http_req *r);
/* The reply (status 0 until there is one). Whoever takes the stream clears read and done. */
http_resp *http_req_resp(http_req *r);
/* Frees r and its reply; a stream still in the reply gets its done call. NULL is fine. */
void http_req_free(http_req *r);

#endif
