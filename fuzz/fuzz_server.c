/*
 * fuzz_server.c — libFuzzer target for what the server reads from a request
 * before any model is touched: the body as JSON (api_parse_body), then as a
 * chat request, a completions request and an embeddings request, and the
 * first line of the input as a URL path for the route matcher; and the
 * reply writer (http_json) must round-trip every parsed body. Any crash,
 * leak, hang or sanitizer report is a bug: these see untrusted bytes.
 * Seeds: fuzz/corpus/server/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_params.h"
#include "server/http_json.h"
#include "server/http_route.h"

static int h(void *app, http_req *r)
{
    (void)app;
    (void)r;
    return 0;
}

static const http_route routes[] = {
    {"GET", "/v1/models", h},           {"POST", "/v1/models/import", h},     {"GET", "/v1/models/{id}", h},
    {"POST", "/v1/models/{id}/start", h}, {"GET", "/v1/models/{id}/download", h}, {"POST", "/v1/chat/completions", h},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* route matching on the first line */
    size_t nl = 0;
    while (nl < size && nl < 4096 && data[nl] != '\n')
        nl++;
    char *path = malloc(nl + 1);
    memcpy(path, data, nl);
    path[nl] = 0;
    size_t idx;
    http_params p;
    char allow[64];
    if (http_route_match(routes, sizeof routes / sizeof routes[0], "GET", path, &idx, &p, allow, sizeof allow) ==
        HTTP_MATCH_OK) {
        const char *id = http_params_get(&p, "id");
        if (id)
            (void)api_id_ok(id);
    }
    free(path);

    api_error e;
    json_t *b = api_parse_body((const char *)data, size, &e);
    if (!b)
        return 0;
    /* the reply writer must round-trip whatever jansson parsed */
    char *out = http_json_dump(b, NULL);
    if (out) {
        json_error_t je;
        json_t *back = json_loads(out, JSON_DECODE_ANY, &je);
        if (!back || !json_equal(back, b))
            abort();
        json_decref(back);
        free(out);
    }
    api_gen_req q;
    if (api_gen_req_parse(b, true, &q, &e) == 0)
        api_sampling_defaults(&q.s, json_object_get(b, "parameters"));
    api_gen_req_free(&q);
    api_gen_req_parse(b, false, &q, &e);
    api_gen_req_free(&q);
    api_embed_req er;
    api_embed_req_parse(b, &er, &e);
    api_embed_req_free(&er);
    json_decref(b);
    return 0;
}
