/*
 * api_params.h — parsing and validating the bodies of the generation and
 * embedding requests, before any model is touched.
 *
 * Each function reads a parsed JSON body (untrusted) and either fills a
 * request struct or an api_error with the HTTP status, the offending
 * parameter and a message naming it ("temperature must be a number",
 * "max_tokens must be >= 1, got -5"). Unknown fields are ignored. Nothing
 * here knows about models, so it is unit-tested and fuzzed alone.
 */
#ifndef API_PARAMS_H
#define API_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/jc.h"

typedef struct api_error {
    unsigned status;   /* 400, 404, ... */
    const char *param; /* static string or NULL */
    const char *code;  /* static string or NULL */
    char msg[512];
} api_error;

/* Fills e and returns -1. */
int api_errorf(api_error *e, unsigned status, const char *param, const char *code, const char *fmt, ...)
    JC_PRINTF(5, 6);

/*
 * Parses body text: a JSON object. A syntax error is 400 with the line and
 * column jansson reports; a non-object is 400. Returns a new reference, or
 * NULL with e set.
 */
json_t *api_parse_body(const char *body, size_t len, api_error *e);

#define API_MAX_STOPS 16
#define API_MAX_STOP_LEN 256

/* Sampling and length settings, each with a flag saying whether the request set it. */
typedef struct api_sampling {
    bool has_temperature, has_top_p, has_top_k, has_min_p, has_max_tokens, has_seed;
    bool has_presence, has_frequency, has_repeat, has_stop;
    double temperature, top_p, min_p;
    int64_t top_k, max_tokens;
    uint64_t seed;
    double presence_penalty, frequency_penalty, repeat_penalty;
    int n_stops;
    char *stops[API_MAX_STOPS];
} api_sampling;

/* A chat or text completion request. */
typedef struct api_gen_req {
    bool chat;
    char *model;
    const json_t *messages;  /* chat: borrowed from the body (keep the body alive) */
    const json_t *tools;     /* chat: borrowed, or NULL */
    char *prompt;            /* completions: text prompt, or NULL when tokens */
    int32_t *prompt_tokens;  /* completions: token prompt, or NULL */
    size_t n_prompt_tokens;
    bool stream, include_usage;
    bool ignore_eos; /* llama.cpp's extension: generate through end-of-generation tokens */
    api_sampling s;
} api_gen_req;

/*
 * Reads a /v1/chat/completions (chat = true) or /v1/completions body into
 * *out (zeroed first). Returns 0, or -1 with e set. Free with api_gen_req_free.
 */
int api_gen_req_parse(const json_t *body, bool chat, api_gen_req *out, api_error *e);
void api_gen_req_free(api_gen_req *r);

/*
 * Fills the sampling fields the request left unset from a model's
 * "parameters" object (model.json; may be NULL). Values of a wrong type
 * there are ignored (the store validated them).
 */
void api_sampling_defaults(api_sampling *s, const json_t *parameters);

/* One input of an embeddings request: text or tokens. */
typedef struct api_embed_input {
    char *text;       /* or NULL */
    int32_t *tokens;  /* or NULL */
    size_t n_tokens;
} api_embed_input;

#define API_MAX_EMBED_INPUTS 2048

typedef struct api_embed_req {
    char *model;
    size_t n;
    api_embed_input *inputs;
    bool base64; /* encoding_format "base64" */
} api_embed_req;

/* Reads a /v1/embeddings body. 0, or -1 with e set. Free with api_embed_req_free. */
int api_embed_req_parse(const json_t *body, api_embed_req *out, api_error *e);
void api_embed_req_free(api_embed_req *r);

/*
 * A model id from a URL or a body: 1..128 bytes, no '/', '\\', NUL or
 * control characters, not "." / ".." and not starting with '.'. Such an id
 * cannot name anything outside <data>/models.
 */
bool api_id_ok(const char *id);

/*
 * An id for a new model (import, download) in a body: 1..128 of
 * A-Z a-z 0-9 . _ -, not starting with '.' (the store's rule for folder
 * names; ids in a body are taken literally, not percent-decoded). False
 * with e set: 400, param "id", code invalid_model_id, a message quoting it.
 */
bool api_new_id_ok(const char *id, api_error *e);

#endif
