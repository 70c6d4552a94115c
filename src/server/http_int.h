/*
 * http_int.h — private to the HTTP layer: the server and request structs
 * shared by the request core (http.c) and the libmicrohttpd adapter
 * (http_mhd.c).
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <stdatomic.h>

#include "server/http.h"

typedef struct http_mhd http_mhd;

struct http_server {
    http_options o;            /* limits filled in with their defaults */
    char *host, *api_key, *cors;
    bool loopback;             /* bound to a loopback address: Host must name one too */
    atomic_bool stopping;
    atomic_int inflight;       /* requests between http_req_begin and http_req_free */
    http_mhd *mhd;             /* the socket side (http_mhd.c); NULL with no_socket */
};

struct http_req {
    http_server *srv;
    char method[16];
    char *path;                /* raw, no query string */
    const char *(*header)(void *cls, const char *name);
    void *header_cls;
    jc_buf body;
    bool too_big;
    http_params params;
    http_peer peer;
    http_resp resp;
};

/* Sets up s from o (copies and defaults; no socket). */
void http_server_init(http_server *s, const http_options *o);
/* Frees what http_server_init allocated (not s itself). */
void http_server_fini(http_server *s);

#endif
