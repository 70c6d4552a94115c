/*
 * http_route.c — matching a method and a raw URL path against the routes
 * table (see http_route.h). Pure string work, no allocation; fuzzed by
 * fuzz/fuzz_server.c and, through whole requests, fuzz/fuzz_server_http.c.
 */
#include "server/http_route.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long http_pct_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == 0)
                return -1;
            i += 2;
        } else if (c == 0) {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = 0;
    return (long)o;
}

/*
 * Matches one pattern against path. Returns 1 on a match (params filled),
 * 0 on no match, -1 when a captured segment does not decode.
 */
static int match_one(const char *pattern, const char *path, http_params *p)
{
    const char *pp = pattern, *sp = path;
    p->n = 0;
    if (*pp != '/' || *sp != '/')
        return 0;
    while (*pp == '/' && *sp == '/') {
        pp++;
        sp++;
        const char *pe = strchr(pp, '/');
        const char *se = strchr(sp, '/');
        size_t plen = pe ? (size_t)(pe - pp) : strlen(pp);
        size_t slen = se ? (size_t)(se - sp) : strlen(sp);
        if (plen >= 2 && pp[0] == '{' && pp[plen - 1] == '}') {
            if (slen == 0 || p->n >= HTTP_MAX_PARAMS)
                return 0;
            int k = p->n;
            if (http_pct_decode(sp, slen, p->values[k], sizeof p->values[k]) < 0)
                return -1;
            p->names[k] = pp + 1;
            p->name_len[k] = plen - 2;
            p->n++;
        } else if (plen != slen || memcmp(pp, sp, plen) != 0) {
            return 0;
        }
        pp += plen;
        sp += slen;
    }
    return *pp == 0 && *sp == 0;
}

int http_route_match(const http_route *routes, size_t n_routes, const char *method, const char *path,
                     size_t *route_index, http_params *params, char *allow, size_t allow_cap)
{
    bool path_seen = false, bad = false;
    size_t alen = 0;
    if (allow && allow_cap)
        allow[0] = 0;
    for (size_t i = 0; i < n_routes; i++) {
        int m = match_one(routes[i].pattern, path, params);
        if (m < 0) {
            bad = true;
            continue;
        }
        if (m == 0)
            continue;
        if (!strcmp(routes[i].method, method)) {
            *route_index = i;
            return HTTP_MATCH_OK;
        }
        path_seen = true;
        if (allow && allow_cap) {
            size_t ml = strlen(routes[i].method);
            if (!strstr(allow, routes[i].method) && alen + ml + 3 < allow_cap) {
                if (alen) {
                    memcpy(allow + alen, ", ", 2);
                    alen += 2;
                }
                memcpy(allow + alen, routes[i].method, ml);
                alen += ml;
                allow[alen] = 0;
            }
        }
    }
    params->n = 0;
    if (path_seen)
        return HTTP_MATCH_METHOD;
    return bad ? HTTP_MATCH_BAD_PATH : HTTP_MATCH_NONE;
}

const char *http_params_get(const http_params *p, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < p->n; i++)
        if (p->name_len[i] == nl && !memcmp(p->names[i], name, nl))
            return p->values[i];
    return NULL;
}
