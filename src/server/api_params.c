/*
 * api_params.c — validation of request bodies (see api_params.h). Every
 * value is type- and range-checked here; the handlers then trust the
 * structs. Limits: 16 stop strings of up to 256 bytes, 2048 embedding
 * inputs; token ids must fit int32 (the vocabulary bound is checked later).
 */
#include "server/api_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_errorf(api_error *e, unsigned status, const char *param, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    e->param = param;
    e->code = code;
    return -1;
}

json_t *api_parse_body(const char *body, size_t len, api_error *e)
{
    json_error_t je;
    if (len == 0)
        return api_errorf(e, 400, NULL, "invalid_json", "the request body is empty; expected a JSON object"), NULL;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        api_errorf(e, 400, NULL, "invalid_json", "malformed JSON at line %d, column %d: %s", je.line, je.column,
                   je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_errorf(e, 400, NULL, "invalid_json", "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* 1: set, 0: absent or null, -1: error (e set). */
static int get_number(const json_t *o, const char *key, double lo, double hi, double *out, api_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return api_errorf(e, 400, key, "invalid_type", "%s must be a number", key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi)
        return api_errorf(e, 400, key, "invalid_value", "%s must be between %g and %g, got %g", key, lo, hi, d);
    *out = d;
    return 1;
}

static int get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, api_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    int64_t x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && isfinite(json_real_value(v)) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9e15) {
        x = (int64_t)json_real_value(v);
    } else {
        return api_errorf(e, 400, key, "invalid_type", "%s must be an integer", key);
    }
    if (x < lo || x > hi)
        return api_errorf(e, 400, key, "invalid_value", "%s must be between %lld and %lld, got %lld", key,
                          (long long)lo, (long long)hi, (long long)x);
    *out = x;
    return 1;
}

static int get_bool(const json_t *o, const char *key, bool *out, api_error *e)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return api_errorf(e, 400, key, "invalid_type", "%s must be a boolean", key);
    *out = json_is_true(v);
    return 1;
}

/* A token list: an array of integers in [0, INT32_MAX]. */
static int tokens_from(const json_t *a, const char *param, int32_t **out, size_t *n, api_error *e)
{
    size_t len = json_array_size(a);
    if (len == 0)
        return api_errorf(e, 400, param, "invalid_value", "%s must not be an empty token list", param);
    int32_t *t = jc_xcalloc(len, sizeof *t);
    for (size_t i = 0; i < len; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX) {
            free(t);
            return api_errorf(e, 400, param, "invalid_value", "%s[%zu] must be a token id (a non-negative integer)",
                              param, i);
        }
        t[i] = (int32_t)json_integer_value(x);
    }
    *out = t;
    *n = len;
    return 0;
}

static bool all_integers(const json_t *a)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) if (!json_is_integer(x)) return false;
    return json_array_size(a) > 0;
}

static int parse_sampling(const json_t *b, api_sampling *s, api_error *e)
{
    int r;
    int64_t iv;
    if ((r = get_number(b, "temperature", 0, 100, &s->temperature, e)) < 0)
        return -1;
    s->has_temperature = r;
    if ((r = get_number(b, "top_p", 0, 1, &s->top_p, e)) < 0)
        return -1;
    s->has_top_p = r;
    if ((r = get_number(b, "min_p", 0, 1, &s->min_p, e)) < 0)
        return -1;
    s->has_min_p = r;
    if ((r = get_int(b, "top_k", 0, 1 << 30, &s->top_k, e)) < 0)
        return -1;
    s->has_top_k = r;
    if ((r = get_number(b, "presence_penalty", -2, 2, &s->presence_penalty, e)) < 0)
        return -1;
    s->has_presence = r;
    if ((r = get_number(b, "frequency_penalty", -2, 2, &s->frequency_penalty, e)) < 0)
        return -1;
    s->has_frequency = r;
    if ((r = get_number(b, "repeat_penalty", 0, 10, &s->repeat_penalty, e)) < 0)
        return -1;
    s->has_repeat = r;
    /* max_completion_tokens (newer OpenAI name) wins over max_tokens. */
    if ((r = get_int(b, "max_tokens", 1, INT32_MAX, &s->max_tokens, e)) < 0)
        return -1;
    s->has_max_tokens = r;
    if ((r = get_int(b, "max_completion_tokens", 1, INT32_MAX, &iv, e)) < 0)
        return -1;
    if (r) {
        s->max_tokens = iv;
        s->has_max_tokens = true;
    }
    if ((r = get_int(b, "seed", INT64_MIN, INT64_MAX, &iv, e)) < 0)
        return -1;
    if (r) {
        s->seed = (uint64_t)iv;
        s->has_seed = true;
    }
    json_t *stop = json_object_get(b, "stop");
    if (stop && !json_is_null(stop)) {
        if (json_is_string(stop)) {
            if (json_string_length(stop) > API_MAX_STOP_LEN)
                return api_errorf(e, 400, "stop", "invalid_value", "stop strings may be at most %d bytes",
                                  API_MAX_STOP_LEN);
            if (json_string_length(stop) > 0)
                s->stops[s->n_stops++] = jc_xstrdup(json_string_value(stop));
        } else if (json_is_array(stop)) {
            if (json_array_size(stop) > API_MAX_STOPS)
                return api_errorf(e, 400, "stop", "invalid_value", "at most %d stop strings, got %zu", API_MAX_STOPS,
                                  json_array_size(stop));
            size_t i;
            json_t *x;
            json_array_foreach(stop, i, x)
            {
                if (!json_is_string(x))
                    return api_errorf(e, 400, "stop", "invalid_type", "stop[%zu] must be a string", i);
                if (json_string_length(x) > API_MAX_STOP_LEN)
                    return api_errorf(e, 400, "stop", "invalid_value", "stop strings may be at most %d bytes",
                                      API_MAX_STOP_LEN);
                if (json_string_length(x) > 0)
                    s->stops[s->n_stops++] = jc_xstrdup(json_string_value(x));
            }
        } else {
            return api_errorf(e, 400, "stop", "invalid_type", "stop must be a string or a list of strings");
        }
        s->has_stop = true;
    }
    return 0;
}

/* An assistant message that calls tools (tool_calls, or the older function_call) instead of saying something. */
static bool calls_tools(const json_t *m)
{
    if (strcmp(json_string_value(json_object_get(m, "role")), "assistant"))
        return false;
    const json_t *tc = json_object_get(m, "tool_calls");
    return (json_is_array(tc) && json_array_size(tc) > 0) || json_is_object(json_object_get(m, "function_call"));
}

static int parse_model(const json_t *b, char **model, api_error *e)
{
    json_t *m = json_object_get(b, "model");
    if (!m || json_is_null(m))
        return api_errorf(e, 400, "model", "missing_parameter", "model is required");
    if (!json_is_string(m))
        return api_errorf(e, 400, "model", "invalid_type", "model must be a string");
    *model = jc_xstrdup(json_string_value(m));
    return 0;
}

int api_gen_req_parse(const json_t *b, bool chat, api_gen_req *r, api_error *e)
{
    memset(r, 0, sizeof *r);
    r->chat = chat;
    if (parse_model(b, &r->model, e) < 0)
        return -1;
    int64_t n = 1;
    if (get_int(b, "n", INT64_MIN, INT64_MAX, &n, e) < 0)
        return -1;
    if (n != 1)
        return api_errorf(e, 400, "n", "invalid_value", "only n = 1 is supported, got %lld", (long long)n);
    json_t *user = json_object_get(b, "user");
    if (user && !json_is_null(user) && !json_is_string(user))
        return api_errorf(e, 400, "user", "invalid_type", "user must be a string");
    if (get_bool(b, "stream", &r->stream, e) < 0)
        return -1;
    if (get_bool(b, "ignore_eos", &r->ignore_eos, e) < 0)
        return -1;
    json_t *so = json_object_get(b, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so))
            return api_errorf(e, 400, "stream_options", "invalid_type", "stream_options must be an object");
        json_t *iu = json_object_get(so, "include_usage");
        if (iu && !json_is_null(iu) && !json_is_boolean(iu))
            return api_errorf(e, 400, "stream_options.include_usage", "invalid_type",
                              "stream_options.include_usage must be a boolean");
        r->include_usage = json_is_true(iu);
    }
    if (parse_sampling(b, &r->s, e) < 0)
        return -1;
    if (chat) {
        json_t *msgs = json_object_get(b, "messages");
        if (!msgs || json_is_null(msgs))
            return api_errorf(e, 400, "messages", "missing_parameter", "messages is required");
        if (!json_is_array(msgs) || json_array_size(msgs) == 0)
            return api_errorf(e, 400, "messages", "invalid_type", "messages must be a non-empty list");
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m)
        {
            if (!json_is_object(m))
                return api_errorf(e, 400, "messages", "invalid_type", "messages[%zu] must be an object", i);
            json_t *role = json_object_get(m, "role");
            if (!json_is_string(role))
                return api_errorf(e, 400, "messages", "invalid_type", "messages[%zu].role must be a string", i);
            json_t *c = json_object_get(m, "content");
            if (c && !json_is_null(c) && !json_is_string(c) && !json_is_array(c))
                return api_errorf(e, 400, "messages", "invalid_type",
                                  "messages[%zu].content must be a string or a list of parts", i);
            if ((!c || json_is_null(c)) && !calls_tools(m))
                return api_errorf(e, 400, "messages", "missing_parameter",
                                  "messages[%zu].content is required (only an assistant message with tool_calls may "
                                  "leave it out)",
                                  i);
        }
        r->messages = msgs;
        json_t *tools = json_object_get(b, "tools");
        if (tools && !json_is_null(tools)) {
            if (!json_is_array(tools))
                return api_errorf(e, 400, "tools", "invalid_type", "tools must be a list");
            r->tools = tools;
        }
        return 0;
    }
    json_t *p = json_object_get(b, "prompt");
    if (!p || json_is_null(p))
        return api_errorf(e, 400, "prompt", "missing_parameter", "prompt is required");
    if (json_is_string(p)) {
        r->prompt = jc_xstrdup(json_string_value(p));
        return 0;
    }
    if (!json_is_array(p) || json_array_size(p) == 0)
        return api_errorf(e, 400, "prompt", "invalid_type",
                          "prompt must be a string, a list of strings or a list of token ids");
    if (all_integers(p))
        return tokens_from(p, "prompt", &r->prompt_tokens, &r->n_prompt_tokens, e);
    if (json_array_size(p) > 1)
        return api_errorf(e, 400, "prompt", "invalid_value",
                          "one prompt per request is supported (n = 1), got a list of %zu", json_array_size(p));
    json_t *p0 = json_array_get(p, 0);
    if (json_is_string(p0)) {
        r->prompt = jc_xstrdup(json_string_value(p0));
        return 0;
    }
    if (json_is_array(p0) && all_integers(p0))
        return tokens_from(p0, "prompt", &r->prompt_tokens, &r->n_prompt_tokens, e);
    return api_errorf(e, 400, "prompt", "invalid_type", "prompt must be a string, a list of strings or a list of token ids");
}

void api_gen_req_free(api_gen_req *r)
{
    if (!r)
        return;
    free(r->model);
    free(r->prompt);
    free(r->prompt_tokens);
    for (int i = 0; i < r->s.n_stops; i++)
        free(r->s.stops[i]);
    memset(r, 0, sizeof *r);
}

static bool param_num(const json_t *p, const char *k, double *out)
{
    json_t *v = json_object_get(p, k);
    if (json_is_number(v) && isfinite(json_number_value(v))) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) { /* the spec writes numbers as strings */
        char *end;
        double d = strtod(json_string_value(v), &end);
        if (end != json_string_value(v) && !*end && isfinite(d)) {
            *out = d;
            return true;
        }
    }
    return false;
}

void api_sampling_defaults(api_sampling *s, const json_t *p)
{
    double d;
    if (!json_is_object(p))
        return;
    if (!s->has_temperature && param_num(p, "temperature", &d) && d >= 0 && d <= 100) {
        s->temperature = d;
        s->has_temperature = true;
    }
    if (!s->has_top_p && param_num(p, "top_p", &d) && d >= 0 && d <= 1) {
        s->top_p = d;
        s->has_top_p = true;
    }
    if (!s->has_min_p && param_num(p, "min_p", &d) && d >= 0 && d <= 1) {
        s->min_p = d;
        s->has_min_p = true;
    }
    if (!s->has_top_k && param_num(p, "top_k", &d) && d >= 0 && d <= (1 << 30)) {
        s->top_k = (int64_t)d;
        s->has_top_k = true;
    }
    if (!s->has_presence && param_num(p, "presence_penalty", &d) && d >= -2 && d <= 2) {
        s->presence_penalty = d;
        s->has_presence = true;
    }
    if (!s->has_frequency && param_num(p, "frequency_penalty", &d) && d >= -2 && d <= 2) {
        s->frequency_penalty = d;
        s->has_frequency = true;
    }
    if (!s->has_repeat && param_num(p, "repeat_penalty", &d) && d >= 0 && d <= 10) {
        s->repeat_penalty = d;
        s->has_repeat = true;
    }
    if (!s->has_max_tokens && param_num(p, "max_tokens", &d) && d >= 1 && d <= INT32_MAX) {
        s->max_tokens = (int64_t)d;
        s->has_max_tokens = true;
    }
    /* token_limit caps the output whatever the request asks. */
    if (param_num(p, "token_limit", &d) && d >= 1 && d <= INT32_MAX) {
        if (!s->has_max_tokens || s->max_tokens > (int64_t)d)
            s->max_tokens = (int64_t)d;
        s->has_max_tokens = true;
    }
    json_t *stop = json_object_get(p, "stop");
    if (!s->has_stop && json_is_array(stop)) {
        size_t i;
        json_t *x;
        json_array_foreach(stop, i, x)
        {
            if (s->n_stops >= API_MAX_STOPS)
                break;
            if (json_is_string(x) && json_string_length(x) > 0 && json_string_length(x) <= API_MAX_STOP_LEN)
                s->stops[s->n_stops++] = jc_xstrdup(json_string_value(x));
        }
        s->has_stop = s->n_stops > 0;
    }
}

int api_embed_req_parse(const json_t *b, api_embed_req *r, api_error *e)
{
    memset(r, 0, sizeof *r);
    if (parse_model(b, &r->model, e) < 0)
        return -1;
    json_t *fmt = json_object_get(b, "encoding_format");
    if (fmt && !json_is_null(fmt)) {
        if (!json_is_string(fmt))
            return api_errorf(e, 400, "encoding_format", "invalid_type", "encoding_format must be a string");
        if (!strcmp(json_string_value(fmt), "base64"))
            r->base64 = true;
        else if (strcmp(json_string_value(fmt), "float"))
            return api_errorf(e, 400, "encoding_format", "invalid_value",
                              "encoding_format must be \"float\" or \"base64\"");
    }
    json_t *in = json_object_get(b, "input");
    if (!in || json_is_null(in))
        return api_errorf(e, 400, "input", "missing_parameter", "input is required");
    if (json_is_string(in)) {
        r->inputs = jc_xcalloc(1, sizeof *r->inputs);
        r->n = 1;
        r->inputs[0].text = jc_xstrdup(json_string_value(in));
        return 0;
    }
    if (!json_is_array(in) || json_array_size(in) == 0)
        return api_errorf(e, 400, "input", "invalid_type",
                          "input must be a string, a list of strings, a token list or a list of token lists");
    if (all_integers(in)) {
        r->inputs = jc_xcalloc(1, sizeof *r->inputs);
        r->n = 1;
        return tokens_from(in, "input", &r->inputs[0].tokens, &r->inputs[0].n_tokens, e);
    }
    size_t n = json_array_size(in);
    if (n > API_MAX_EMBED_INPUTS)
        return api_errorf(e, 400, "input", "invalid_value", "at most %d inputs, got %zu", API_MAX_EMBED_INPUTS, n);
    r->inputs = jc_xcalloc(n, sizeof *r->inputs);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(in, i);
        if (json_is_string(x)) {
            r->inputs[i].text = jc_xstrdup(json_string_value(x));
        } else if (json_is_array(x)) {
            if (tokens_from(x, "input", &r->inputs[i].tokens, &r->inputs[i].n_tokens, e) < 0)
                return -1;
        } else {
            return api_errorf(e, 400, "input", "invalid_type", "input[%zu] must be a string or a token list", i);
        }
    }
    return 0;
}

void api_embed_req_free(api_embed_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->inputs[i].text);
        free(r->inputs[i].tokens);
    }
    free(r->inputs);
    free(r->model);
    memset(r, 0, sizeof *r);
}

bool api_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128 || id[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    return true;
}

bool api_new_id_ok(const char *id, api_error *e)
{
    size_t n = strlen(id);
    bool ok = n >= 1 && n <= 128 && id[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
             c == '-';
    }
    if (ok)
        return true;
    api_errorf(e, 400, "id", "invalid_model_id",
               "invalid model id '%.64s%s': use 1 to 128 of A-Z a-z 0-9 . _ - , not starting with '.'%s", id,
               n > 64 ? "..." : "", strchr(id, '%') ? " (ids in a body are not percent-decoded)" : "");
    return false;
}
