/*
 * test_server.c — unit tests of the server's pure parts: the route matcher
 * (404/405/captures/percent-decoding), model-id validation (nothing escapes
 * the models folder), and request-body validation (types, ranges, line and
 * column of malformed JSON, defaults from model.json parameters). No model
 * and no socket is needed; the HTTP behaviour is covered by e2e_server.sh.
 */
#include "harness.h"
#include "server/api_params.h"
#include "server/http_json.h"
#include "server/http_route.h"

static int h_dummy(void *app, http_req *r)
{
    (void)app;
    (void)r;
    return 0;
}

static const http_route routes[] = {
    {"GET", "/v1/models", h_dummy},
    {"POST", "/v1/models/import", h_dummy},
    {"GET", "/v1/models/{id}", h_dummy},
    {"DELETE", "/v1/models/{id}", h_dummy},
    {"POST", "/v1/models/{id}/start", h_dummy},
};
#define NR (sizeof routes / sizeof routes[0])

/* Proves: exact paths, captures, the first match wins, wrong method is 405 with the allowed list. */
TEST(route_match)
{
    size_t idx = 99;
    http_params p;
    char allow[64];
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models", &idx, &p, allow, sizeof allow), HTTP_MATCH_OK);
    CHECK_EQ_INT(idx, 0);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/abc", &idx, &p, allow, sizeof allow), HTTP_MATCH_OK);
    CHECK_EQ_INT(idx, 2);
    CHECK_STR(http_params_get(&p, "id"), "abc");
    CHECK(http_params_get(&p, "other") == NULL);
    CHECK_EQ_INT(http_route_match(routes, NR, "POST", "/v1/models/import", &idx, &p, allow, sizeof allow),
                 HTTP_MATCH_OK);
    CHECK_EQ_INT(idx, 1);
    CHECK_EQ_INT(http_route_match(routes, NR, "POST", "/v1/models/m1/start", &idx, &p, allow, sizeof allow),
                 HTTP_MATCH_OK);
    CHECK_EQ_INT(idx, 4);
    CHECK_STR(http_params_get(&p, "id"), "m1");
    /* wrong method */
    CHECK_EQ_INT(http_route_match(routes, NR, "PUT", "/v1/models/m1", &idx, &p, allow, sizeof allow),
                 HTTP_MATCH_METHOD);
    CHECK_STR(allow, "GET, DELETE");
    CHECK_EQ_INT(http_route_match(routes, NR, "DELETE", "/v1/models", &idx, &p, allow, sizeof allow),
                 HTTP_MATCH_METHOD);
    /* no such path */
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/nothing", &idx, &p, allow, sizeof allow), HTTP_MATCH_NONE);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/", &idx, &p, allow, sizeof allow), HTTP_MATCH_NONE);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/a/b", &idx, &p, allow, sizeof allow),
                 HTTP_MATCH_NONE);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "", &idx, &p, allow, sizeof allow), HTTP_MATCH_NONE);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "v1/models", &idx, &p, allow, sizeof allow), HTTP_MATCH_NONE);
}

/* Proves: captures are percent-decoded; bad escapes and %00 are refused; decoded slashes stay inside one segment. */
TEST(route_decode)
{
    size_t idx;
    http_params p;
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/%2e%2e", &idx, &p, NULL, 0), HTTP_MATCH_OK);
    CHECK_STR(http_params_get(&p, "id"), "..");
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/a%2Fb", &idx, &p, NULL, 0), HTTP_MATCH_OK);
    CHECK_STR(http_params_get(&p, "id"), "a/b");
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/a%2", &idx, &p, NULL, 0), HTTP_MATCH_BAD_PATH);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/a%zz", &idx, &p, NULL, 0), HTTP_MATCH_BAD_PATH);
    CHECK_EQ_INT(http_route_match(routes, NR, "GET", "/v1/models/a%00b", &idx, &p, NULL, 0), HTTP_MATCH_BAD_PATH);
    char out[8];
    CHECK_EQ_INT(http_pct_decode("abc%41", 6, out, sizeof out), 4);
    CHECK_STR(out, "abcA");
    CHECK_EQ_INT(http_pct_decode("abcdefgh", 8, out, sizeof out), -1); /* too long for out */
    CHECK_EQ_INT(http_pct_decode("%", 1, out, sizeof out), -1);
    CHECK_EQ_INT(http_pct_decode("%4", 2, out, sizeof out), -1);
}

/* Proves: ids that could name something outside <data>/models are refused. */
TEST(id_validation)
{
    CHECK(api_id_ok("tinyllama-1.1b"));
    CHECK(api_id_ok("a"));
    CHECK(!api_id_ok(""));
    CHECK(!api_id_ok(NULL));
    CHECK(!api_id_ok(".."));
    CHECK(!api_id_ok("."));
    CHECK(!api_id_ok(".hidden"));
    CHECK(!api_id_ok("a/b"));
    CHECK(!api_id_ok("/etc"));
    CHECK(!api_id_ok("a\\b"));
    CHECK(!api_id_ok("a\nb"));
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(!api_id_ok(big));
}

static json_t *J(const char *s)
{
    json_error_t e;
    return json_loads(s, 0, &e);
}

/* Proves: malformed JSON is a 400 naming line and column; non-objects and empty bodies are refused. */
TEST(body_parse)
{
    api_error e;
    const char *bad = "{\n  \"model\": \"x\",\n  \"messages\": [}\n";
    CHECK(api_parse_body(bad, strlen(bad), &e) == NULL);
    CHECK_EQ_INT(e.status, 400);
    CHECKF(strstr(e.msg, "line 3") != NULL, "msg: %s", e.msg);
    CHECKF(strstr(e.msg, "column") != NULL, "msg: %s", e.msg);
    CHECK(api_parse_body("[1]", 3, &e) == NULL);
    CHECK_EQ_INT(e.status, 400);
    CHECK(api_parse_body("", 0, &e) == NULL);
    json_t *ok = api_parse_body("{\"a\":1}", 7, &e);
    CHECK(ok != NULL);
    json_decref(ok);
}

/* Proves: every sampling field is type- and range-checked and named in the error. */
TEST(gen_validation)
{
    static const struct {
        const char *body, *param;
    } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "model"},
        {"{\"model\":5,\"messages\":[]}", "model"},
        {"{\"model\":\"m\"}", "messages"},
        {"{\"model\":\"m\",\"messages\":[]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[1]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages"},
        /* content left out (or null): only an assistant message that calls tools may */
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":null}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\"}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[]}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"tool_calls\":[{}]}]}", "messages"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":-1}", "temperature"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.5}", "top_p"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_k\":1.5}", "top_k"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":-5}", "max_tokens"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":0}",
         "max_completion_tokens"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "n"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":5}", "stop"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",1]}", "stop"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}", "stream"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":\"1\"}", "seed"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"presence_penalty\":3}",
         "presence_penalty"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"user\":7}", "user"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":1}}",
         "stream_options.include_usage"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = J(cases[i].body);
        REQUIRE(b);
        api_gen_req q;
        api_error e;
        memset(&e, 0, sizeof e);
        int rc = api_gen_req_parse(b, true, &q, &e);
        CHECKF(rc == -1, "case %zu accepted: %s", i, cases[i].body);
        CHECKF(e.status == 400, "case %zu status %u", i, e.status);
        CHECKF(e.param && !strcmp(e.param, cases[i].param), "case %zu param %s, expected %s (%s)", i,
               e.param ? e.param : "(null)", cases[i].param, e.msg);
        api_gen_req_free(&q);
        json_decref(b);
    }
}

/* Proves: a message without content names it; an assistant message with tool_calls needs none. */
TEST(message_content)
{
    json_t *b = J("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"user\"}]}");
    REQUIRE(b);
    api_gen_req q;
    api_error e;
    CHECK(api_gen_req_parse(b, true, &q, &e) == -1);
    CHECKF(strstr(e.msg, "messages[1].content is required") != NULL, "msg: %s", e.msg);
    CHECK_STR(e.code, "missing_parameter");
    api_gen_req_free(&q);
    json_decref(b);
    static const char *ok[] = {
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{}]}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\"}}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        b = J(ok[i]);
        REQUIRE(b);
        CHECKF(api_gen_req_parse(b, true, &q, &e) == 0, "case %zu refused: %s", i, e.msg);
        api_gen_req_free(&q);
        json_decref(b);
    }
}

/* Proves: ids for new models follow the folder-name rule, and the error names the param and says why. */
TEST(new_id_validation)
{
    api_error e;
    CHECK(api_new_id_ok("tinyllama-1.1b_Q4", &e));
    static const char *bad[] = {"", ".", "..", ".hidden", "%2e%2e", "a/b", "a b", "a\nb", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        CHECKF(!api_new_id_ok(bad[i], &e), "accepted '%s'", bad[i]);
        CHECK_EQ_INT(e.status, 400);
        CHECK_STR(e.param, "id");
        CHECK_STR(e.code, "invalid_model_id");
    }
    api_new_id_ok("%2e%2e", &e);
    CHECKF(strstr(e.msg, "'%2e%2e'") && strstr(e.msg, "not percent-decoded"), "msg: %s", e.msg);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(!api_new_id_ok(big, &e));
    big[128] = 0;
    CHECK(api_new_id_ok(big, &e));
}

/* Proves: a valid request is read exactly; unknown fields are ignored; model parameters fill only the gaps; token_limit caps. */
TEST(gen_parse_ok)
{
    json_t *b = J("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":0.5,"
                  "\"max_tokens\":100,\"stop\":[\"\\n\",\"END\"],\"seed\":42,\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"whatever\":{\"x\":1},\"user\":\"u\"}");
    REQUIRE(b);
    api_gen_req q;
    api_error e;
    REQUIRE(api_gen_req_parse(b, true, &q, &e) == 0);
    CHECK_STR(q.model, "m");
    CHECK(q.stream && q.include_usage);
    CHECK(q.s.has_temperature && q.s.temperature == 0.5);
    CHECK_EQ_INT(q.s.max_tokens, 100);
    CHECK_EQ_INT(q.s.n_stops, 2);
    CHECK_STR(q.s.stops[1], "END");
    CHECK_EQ_INT(q.s.seed, 42);
    CHECK(!q.s.has_top_k);
    json_t *params = J("{\"temperature\":\"0.9\",\"top_k\":\"7\",\"token_limit\":\"50\",\"top_p\":0.8}");
    api_sampling_defaults(&q.s, params);
    CHECK(q.s.temperature == 0.5); /* the request wins */
    CHECK(q.s.has_top_k && q.s.top_k == 7);
    CHECK(q.s.has_top_p && q.s.top_p == 0.8);
    CHECK_EQ_INT(q.s.max_tokens, 50); /* token_limit caps */
    json_decref(params);
    api_gen_req_free(&q);
    json_decref(b);

    /* completions: the prompt forms */
    b = J("{\"model\":\"m\",\"prompt\":[\"hello\"]}");
    REQUIRE(api_gen_req_parse(b, false, &q, &e) == 0);
    CHECK_STR(q.prompt, "hello");
    api_gen_req_free(&q);
    json_decref(b);
    b = J("{\"model\":\"m\",\"prompt\":[1,2,3]}");
    REQUIRE(api_gen_req_parse(b, false, &q, &e) == 0);
    CHECK(q.prompt == NULL && q.n_prompt_tokens == 3 && q.prompt_tokens[2] == 3);
    api_gen_req_free(&q);
    json_decref(b);
    b = J("{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}");
    CHECK(api_gen_req_parse(b, false, &q, &e) == -1 && e.status == 400);
    api_gen_req_free(&q);
    json_decref(b);
    b = J("{\"model\":\"m\",\"prompt\":[1,-2]}");
    CHECK(api_gen_req_parse(b, false, &q, &e) == -1 && e.status == 400);
    api_gen_req_free(&q);
    json_decref(b);
}

/* Proves: embedding inputs in all four shapes, and the errors for the rest. */
TEST(embed_parse)
{
    api_embed_req q;
    api_error e;
    json_t *b = J("{\"model\":\"m\",\"input\":\"hi\"}");
    REQUIRE(api_embed_req_parse(b, &q, &e) == 0);
    CHECK(q.n == 1 && !strcmp(q.inputs[0].text, "hi"));
    api_embed_req_free(&q);
    json_decref(b);
    b = J("{\"model\":\"m\",\"input\":[\"a\",[1,2],\"c\"],\"encoding_format\":\"base64\"}");
    REQUIRE(api_embed_req_parse(b, &q, &e) == 0);
    CHECK(q.n == 3 && q.base64 && q.inputs[1].n_tokens == 2 && !strcmp(q.inputs[2].text, "c"));
    api_embed_req_free(&q);
    json_decref(b);
    b = J("{\"model\":\"m\",\"input\":[5,6]}");
    REQUIRE(api_embed_req_parse(b, &q, &e) == 0);
    CHECK(q.n == 1 && q.inputs[0].n_tokens == 2);
    api_embed_req_free(&q);
    json_decref(b);
    static const char *bad[] = {"{\"model\":\"m\"}", "{\"model\":\"m\",\"input\":[]}", "{\"model\":\"m\",\"input\":5}",
                                "{\"model\":\"m\",\"input\":[\"a\",{}]}",
                                "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}", "{\"input\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = J(bad[i]);
        REQUIRE(b);
        CHECKF(api_embed_req_parse(b, &q, &e) == -1 && e.status == 400, "accepted %s", bad[i]);
        api_embed_req_free(&q);
        json_decref(b);
    }
}

/* Proves: the reply writer escapes what JSON requires, prints reals exactly and short, and round-trips. */
TEST(json_writer)
{
    json_t *v = json_pack("{s:s, s:f, s:f, s:f, s:I, s:b, s:n, s:[i, s], s:{}}", "s", "a\"b\\c\n\x01\xc3\xa9",
                          "r1", 0.7, "r2", 1.0, "r3", 1e300, "i", (json_int_t)-9007199254740993LL, "t", 1, "z", "a",
                          1, "x", "o");
    REQUIRE(v);
    size_t len = 0;
    char *s = http_json_dump(v, &len);
    REQUIRE(s);
    CHECK_STR(s, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\",\"r1\":0.7,\"r2\":1.0,\"r3\":1e+300,"
                 "\"i\":-9007199254740993,\"t\":true,\"z\":null,\"a\":[1,\"x\"],\"o\":{}}");
    CHECK_EQ_INT(len, strlen(s));
    json_error_t je;
    json_t *back = json_loads(s, 0, &je);
    CHECK(back && json_equal(back, v));
    json_decref(back);
    free(s);
    json_decref(v);
    json_t *nan = json_pack("[f]", 0.1);
    json_real_set(json_array_get(nan, 0), 1.0 / 3.0);
    s = http_json_dump(nan, NULL);
    back = json_loads(s, 0, &je);
    CHECK(back && json_real_value(json_array_get(back, 0)) == 1.0 / 3.0); /* exact round trip */
    json_decref(back);
    free(s);
    json_decref(nan);
    /* as deep as jansson parses: written back (a 600-deep metadata edit once broke every model list) */
    char *deep_text = malloc(2 * JSON_PARSER_MAX_DEPTH + 1);
    memset(deep_text, '[', JSON_PARSER_MAX_DEPTH);
    memset(deep_text + JSON_PARSER_MAX_DEPTH, ']', JSON_PARSER_MAX_DEPTH);
    deep_text[2 * JSON_PARSER_MAX_DEPTH] = 0;
    json_t *parsed = J(deep_text);
    REQUIRE(parsed);
    s = http_json_dump(parsed, NULL);
    CHECK(s && !strcmp(s, deep_text));
    free(s);
    json_decref(parsed);
    free(deep_text);
    /* deeper than that (only a program builds such a value): refused, not a stack overflow */
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < JSON_PARSER_MAX_DEPTH + 20; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    CHECK(http_json_dump(deep, NULL) == NULL);
    json_decref(deep);
}

TESTS(T(json_writer), T(route_match), T(route_decode), T(id_validation), T(body_parse), T(gen_validation), T(gen_parse_ok),
      T(embed_parse), T(message_content), T(new_id_validation));
TEST_MAIN()
