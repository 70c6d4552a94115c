/*
 * http_route.h — the routes table of the HTTP layer and the matcher that
 * picks a route for a method and a raw URL path.
 *
 * A route is {method, pattern, handler}. A pattern is a path of literal
 * segments and "{name}" segments; a "{name}" segment matches exactly one
 * non-empty path segment, which is percent-decoded and captured. Matching
 * allocates nothing: captures are written into the caller's http_params.
 * The first route (in table order) whose pattern and method match wins; a
 * path that matches some pattern with another method is "wrong method" (405).
 *
 * Decoding rules for a captured segment: %XX becomes the byte XX; a bad
 * escape, %00, or a result longer than HTTP_PARAM_MAX is a bad request.
 * Literal segments are compared byte for byte with the raw (undecoded) path.
 */
#ifndef HTTP_ROUTE_H
#define HTTP_ROUTE_H

#include <stddef.h>

#include "base/jc.h"

#define HTTP_MAX_PARAMS 4
#define HTTP_PARAM_MAX 256

typedef struct http_req http_req;

/* A handler answers the request through http_reply_* (http.h). Returns 0; -1 only for our bugs. */
typedef int (*http_handler_fn)(void *app, http_req *r);

typedef struct http_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/models/{id}/start" */
    http_handler_fn fn;
} http_route;

/* Captured "{name}" segments of the matched route. */
typedef struct http_params {
    int n;
    const char *names[HTTP_MAX_PARAMS]; /* points into the pattern (not NUL-terminated at '}') */
    size_t name_len[HTTP_MAX_PARAMS];
    char values[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1]; /* decoded, NUL-terminated */
} http_params;

enum http_match {
    HTTP_MATCH_OK = 0,        /* *route_index set, params filled */
    HTTP_MATCH_NONE = -1,     /* no pattern matches the path: 404 */
    HTTP_MATCH_METHOD = -2,   /* a pattern matches, not with this method: 405 */
    HTTP_MATCH_BAD_PATH = -3, /* a captured segment does not decode: 400 */
};

/*
 * Finds the route for method and path (the raw path, no query string).
 * Returns an http_match value; on HTTP_MATCH_OK *route_index is the route.
 * On HTTP_MATCH_METHOD, allow (if not NULL) gets the allowed methods joined
 * by ", " (cut to allow_cap).
 */
int http_route_match(const http_route *routes, size_t n_routes, const char *method, const char *path,
                     size_t *route_index, http_params *params, char *allow, size_t allow_cap);

/* The decoded value of capture name, or NULL. */
const char *http_params_get(const http_params *p, const char *name);

/*
 * Percent-decodes s[0..len) into out (cap bytes, NUL-terminated). Returns
 * the decoded length, or -1 for a bad escape, a %00, or too long a result.
 */
long http_pct_decode(const char *s, size_t len, char *out, size_t cap);

#endif
