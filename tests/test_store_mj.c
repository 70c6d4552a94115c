/*
 * test_store_mj.c — the model.json reader (mj.c): strict and hand-written
 * JSON (comments, trailing commas, missing commas and braces as in Jan's own
 * spec), errors with the line:column of the original text, values written
 * as strings, wrong types, defaults, Jan's old file shapes, file references
 * that try to leave the folder, merging that keeps order.
 */
#include "harness.h"
#include "store/mj.h"

static const mj_ctx ctx0 = {.id = "folder-id", .dir = "/data/models/folder-id", .created = 1700000000};

static json_t *model_of(const char *text, jc_err *err)
{
    json_t *raw = mj_parse(text, strlen(text), "model.json", err);
    if (!raw)
        return NULL;
    json_t *m = mj_model(raw, &ctx0, err);
    json_decref(raw);
    return m;
}

static const char *sget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static json_t *jget(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    return b ? json_object_get(v, b) : v;
}

/* A minimal model.json shows every default, typed. */
TEST(minimal_gets_defaults)
{
    jc_err err = {0};
    json_t *m = model_of("{\"source_url\": \"https://example.com/x.gguf\"}", &err);
    REQUIRE(m);
    CHECK_STR(sget(m, "id", NULL), "folder-id");
    CHECK_STR(sget(m, "object", NULL), "model");
    CHECK_STR(sget(m, "name", NULL), "folder-id");
    CHECK_STR(sget(m, "type", NULL), "model");
    CHECK_STR(sget(m, "version", NULL), "1");
    CHECK_STR(sget(m, "owned_by", NULL), "you");
    CHECK_STR(sget(m, "description", NULL), "");
    CHECK_STR(sget(m, "format", NULL), "ggufv3");
    CHECK_EQ_INT(json_integer_value(jget(m, "created", NULL)), 1700000000);
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "ctx_len")), MJ_DEFAULT_CTX_LEN);
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "ngl")), MJ_DEFAULT_NGL);
    CHECK(json_is_false(jget(m, "settings", "embedding")));
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "n_parallel")), 1);
    CHECK(fabs(json_real_value(jget(m, "parameters", "temperature")) - 0.7) < 1e-9);
    CHECK_EQ_INT(json_integer_value(jget(m, "parameters", "token_limit")), 2048);
    CHECK_EQ_INT(json_integer_value(jget(m, "parameters", "top_k")), 40);
    CHECK(fabs(json_real_value(jget(m, "parameters", "top_p")) - 0.95) < 1e-9);
    CHECK(json_is_true(jget(m, "parameters", "stream")));
    CHECK(json_is_object(jget(m, "metadata", NULL)) && json_object_size(jget(m, "metadata", NULL)) == 0);
    CHECK(json_is_array(jget(m, "assets", NULL)));
    json_decref(m);
}

/* The spec's own example: no outer braces, comments, missing and trailing commas, strings for numbers. */
TEST(spec_example_parses)
{
    const char *text =
        "\"source_url\": \"https://huggingface.co/TheBloke/zephyr-7B-beta-GGUF/blob/main/zephyr-7b-beta.Q4_K_M.gguf\",\n"
        "\"type\": \"model\", // Defaults to \"model\"\n"
        "\"version\": \"1\", // Defaults to 1\n"
        "\"id\": \"zephyr-7b\" // Defaults to foldername\n"
        "\"name\": \"Zephyr 7B\" // Defaults to foldername\n"
        "\"owned_by\": \"you\" // Defaults to you\n"
        "\"created\": 1231231 // Defaults to file creation time\n"
        "\"description\": \"\"\n"
        "\"format\": \"ggufv3\", // Defaults to \"ggufv3\"\n"
        "\"settings\": { // Models are initialized with these settings\n"
        "\"ctx_len\": \"2048\",\n"
        "\"ngl\": \"100\",\n"
        "\"embedding\": \"true\",\n"
        "\"n_parallel\": \"4\",\n"
        "// KIV: \"pre_prompt\": \"A chat between a curious user and an artificial intelligence\",\n"
        "}\n"
        "\"parameters\": { // Models are called with these parameters\n"
        "\"temperature\": \"0.7\",\n"
        "\"token_limit\": \"2048\",\n"
        "\"top_k\": \"0\",\n"
        "\"top_p\": \"1\",\n"
        "\"stream\": \"true\"\n"
        "},\n"
        "\"metadata\": {} // Defaults to {}\n"
        "\"assets\": [ // Filepaths to model binaries; Defaults to current dir\n"
        "\"file://.../zephyr-7b-q4_k_m.bin\",\n"
        "]\n";
    jc_err err = {0};
    json_t *m = model_of(text, &err);
    REQUIRE(m);
    CHECKF(m != NULL, "%s", err.msg);
    CHECK_STR(sget(m, "id", NULL), "folder-id"); /* the folder name is the id */
    CHECK_STR(sget(m, "name", NULL), "Zephyr 7B");
    CHECK_EQ_INT(json_integer_value(jget(m, "created", NULL)), 1231231);
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "ctx_len")), 2048);
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "ngl")), 100);
    CHECK(json_is_true(jget(m, "settings", "embedding")));
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "n_parallel")), 4);
    CHECK(fabs(json_real_value(jget(m, "parameters", "temperature")) - 0.7) < 1e-9);
    CHECK_EQ_INT(json_integer_value(jget(m, "parameters", "top_k")), 0);
    CHECK(fabs(json_real_value(jget(m, "parameters", "top_p")) - 1.0) < 1e-9);
    CHECK(json_is_true(jget(m, "parameters", "stream")));
    CHECK_EQ_INT(json_array_size(jget(m, "assets", NULL)), 1);
    json_decref(m);
}

/* Errors name the line and column of the original text, even after comments and inserted commas. */
TEST(errors_have_line_and_column)
{
    jc_err err = {0};
    /* line 3, column 9: the '2' where ':' should be */
    const char *a = "{\n  \"source_url\": \"x\",\n  \"b\"   2\n}\n";
    CHECK(mj_parse(a, strlen(a), "model.json", &err) == NULL);
    CHECKF(strncmp(err.msg, "model.json:3:9:", 15) == 0, "%s", err.msg);
    /* a comment and a missing comma (inserted) earlier on the same line do not move the column */
    const char *b = "{\n\"a\": 1 /* c */ \"b\": 2 \"c\" } x\n}";
    CHECK(mj_parse(b, strlen(b), "model.json", &err) == NULL);
    CHECKF(strncmp(err.msg, "model.json:2:27:", 16) == 0, "%s", err.msg); /* the "}" after "c" */
    /* an unterminated object: the error is at the end */
    const char *c = "{\"a\": [1, 2,\n";
    CHECK(mj_parse(c, strlen(c), "model.json", &err) == NULL);
    CHECKF(strstr(err.msg, "end of file") != NULL, "%s", err.msg);
    /* not an object */
    CHECK(mj_parse("[1]", 3, "model.json", &err) == NULL);
    CHECKF(strstr(err.msg, "must be a JSON object") != NULL, "%s", err.msg);
    CHECK(mj_parse("", 0, "model.json", &err) == NULL);
    /* a NUL byte inside */
    CHECK(mj_parse("{\"a\":\0}", 7, "model.json", &err) == NULL);
}

/* Comments are only comments outside strings; "//" inside a URL stays. */
TEST(comments_and_strings)
{
    jc_err err = {0};
    const char *t = "{ /* lead */ \"source_url\": \"https://x/y//z\", // tail\n \"d\": \"a /* b */ c\", }";
    json_t *raw = mj_parse(t, strlen(t), "model.json", &err);
    REQUIRE(raw);
    CHECK_STR(sget(raw, "source_url", NULL), "https://x/y//z");
    CHECK_STR(sget(raw, "d", NULL), "a /* b */ c");
    json_decref(raw);
    /* an escaped quote does not end a string */
    const char *e = "{\"a\": \"x\\\"y // no\"}";
    raw = mj_parse(e, strlen(e), "model.json", &err);
    REQUIRE(raw);
    CHECK_STR(sget(raw, "a", NULL), "x\"y // no");
    json_decref(raw);
}

/* Wrong types and out-of-range values are errors that name the field. */
TEST(wrong_types_name_the_field)
{
    jc_err err = {0};
    CHECK(model_of("{\"source_url\":\"x\",\"settings\":{\"ctx_len\":\"abc\"}}", &err) == NULL);
    CHECKF(strstr(err.msg, "settings.ctx_len") && strstr(err.msg, "abc"), "%s", err.msg);
    CHECK(model_of("{\"source_url\":\"x\",\"settings\":5}", &err) == NULL);
    CHECKF(strstr(err.msg, "settings: expected an object") != NULL, "%s", err.msg);
    CHECK(model_of("{\"source_url\":\"x\",\"parameters\":{\"stream\":\"maybe\"}}", &err) == NULL);
    CHECKF(strstr(err.msg, "parameters.stream") != NULL, "%s", err.msg);
    CHECK(model_of("{\"source_url\":\"x\",\"parameters\":{\"top_p\":1.5}}", &err) == NULL);
    CHECKF(strstr(err.msg, "out of range") != NULL, "%s", err.msg);
    CHECK(model_of("{\"source_url\":\"x\",\"settings\":{\"ctx_len\":0}}", &err) == NULL);
    CHECK(model_of("{\"source_url\":5}", &err) == NULL);
    CHECK(model_of("{\"source_url\":\"x\",\"name\":[]}", &err) == NULL);
    CHECK(model_of("{\"source_url\":\"x\",\"assets\":[1]}", &err) == NULL);
    CHECK(model_of("{\"name\":\"no source\"}", &err) == NULL);
    CHECKF(strstr(err.msg, "source_url") != NULL, "%s", err.msg);
    /* null counts as absent */
    json_t *m = model_of("{\"source_url\":\"x\",\"settings\":{\"ctx_len\":null},\"description\":null}", &err);
    REQUIRE(m);
    CHECK_EQ_INT(json_integer_value(jget(m, "settings", "ctx_len")), MJ_DEFAULT_CTX_LEN);
    json_decref(m);
}

/* Values written as strings read as what they spell; integral reals are integers. */
TEST(typed_reads)
{
    int64_t i;
    double d;
    bool b;
    json_t *v = json_string(" 4096 ");
    CHECK(mj_as_int(v, &i) && i == 4096);
    json_decref(v);
    v = json_string("4096.0");
    CHECK(mj_as_int(v, &i) && i == 4096);
    json_decref(v);
    v = json_string("40x");
    CHECK(!mj_as_int(v, &i));
    json_decref(v);
    v = json_real(2.5);
    CHECK(!mj_as_int(v, &i));
    CHECK(mj_as_num(v, &d) && d == 2.5);
    json_decref(v);
    v = json_string("nan");
    CHECK(!mj_as_num(v, &d));
    json_decref(v);
    v = json_string("FALSE");
    CHECK(mj_as_bool(v, &b) && !b);
    json_decref(v);
    v = json_integer(1);
    CHECK(mj_as_bool(v, &b) && b);
    json_decref(v);
    v = json_integer(2);
    CHECK(!mj_as_bool(v, &b));
    json_decref(v);
    CHECK(!mj_as_int(NULL, &i));
}

/* Jan's 2023-2024 shapes: sources[], llama_model_path, max_tokens, numeric version, engine. */
TEST(jan_old_shapes)
{
    const char *t = "{\n"
                    "  \"sources\": [{\"filename\": \"tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\",\n"
                    "                \"url\": \"https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\"}],\n"
                    "  \"id\": \"tinyllama-1.1b\", \"object\": \"model\", \"name\": \"TinyLlama Chat 1.1B Q4\",\n"
                    "  \"version\": 1.0, \"description\": \"d\", \"format\": \"gguf\",\n"
                    "  \"settings\": {\"ctx_len\": 4096, \"prompt_template\": \"<|system|>\\n{system_message}<|user|>\\n{prompt}<|assistant|>\",\n"
                    "               \"llama_model_path\": \"tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\"},\n"
                    "  \"parameters\": {\"temperature\": 0.7, \"top_p\": 0.95, \"stream\": true, \"max_tokens\": 2048,\n"
                    "                 \"stop\": [], \"frequency_penalty\": 0, \"presence_penalty\": 0},\n"
                    "  \"metadata\": {\"author\": \"TinyLlama\", \"tags\": [\"Tiny\"], \"size\": 669000000},\n"
                    "  \"engine\": \"nitro\"\n"
                    "}\n";
    jc_err err = {0};
    json_t *raw = mj_parse(t, strlen(t), "model.json", &err);
    REQUIRE(raw);
    char *f = mj_main_file_ref(raw);
    CHECK_STR(f, "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf");
    free(f);
    json_t *m = mj_model(raw, &ctx0, &err);
    CHECKF(m != NULL, "%s", err.msg);
    REQUIRE(m);
    CHECK_STR(sget(m, "source_url", NULL),
              "https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf");
    CHECK_EQ_INT(json_integer_value(jget(m, "parameters", "token_limit")), 2048);
    CHECK_STR(sget(m, "engine", NULL), "nitro"); /* unknown fields are kept */
    CHECK(json_is_string(jget(m, "settings", "prompt_template")));
    CHECK_STR(sget(m, "version", NULL), "1"); /* a number is written as the string it spells */
    json_decref(m);
    json_decref(raw);
}

/* References to files use only their last component: nothing can point out of the folder. */
TEST(refs_stay_in_folder)
{
    char *b = mj_ref_basename("../../etc/passwd");
    CHECK_STR(b, "passwd");
    free(b);
    b = mj_ref_basename("file:///Users/someone/jan/models/x/x.gguf");
    CHECK_STR(b, "x.gguf");
    free(b);
    b = mj_ref_basename("C:\\Users\\me\\jan\\models\\m\\m.gguf");
    CHECK_STR(b, "m.gguf");
    free(b);
    CHECK(mj_ref_basename("..") == NULL);
    CHECK(mj_ref_basename("a/..") == NULL);
    CHECK(mj_ref_basename("dir/") == NULL);
    CHECK(mj_ref_basename("") == NULL);
    jc_err err = {0};
    const char *t = "{\"assets\": [\"mmproj-x.gguf\", \"../../../tmp/evil.gguf\"]}";
    json_t *raw = mj_parse(t, strlen(t), "m", &err);
    REQUIRE(raw);
    char *f = mj_main_file_ref(raw); /* the projector is skipped, the path cut to its name */
    CHECK_STR(f, "evil.gguf");
    free(f);
    json_decref(raw);
}

/* Merging keeps key order and unknown fields; objects merge one level deep; id cannot change. */
TEST(merge_keeps_order)
{
    jc_err err = {0};
    const char *t = "{\"zeta\": 1, \"source_url\": \"u\", \"settings\": {\"ctx_len\": \"512\", \"x\": true}, \"alpha\": 2}";
    json_t *raw = mj_parse(t, strlen(t), "m", &err);
    REQUIRE(raw);
    json_t *patch = json_pack("{s:{s:i},s:s}", "settings", "ctx_len", 1024, "name", "N");
    CHECK(mj_merge(raw, patch, &err) == 0);
    char *s = mj_dump(raw);
    const char *z = strstr(s, "zeta"), *su = strstr(s, "source_url"), *st = strstr(s, "settings"),
               *x = strstr(s, "\"x\""), *al = strstr(s, "alpha"), *nm = strstr(s, "name");
    CHECKF(z && su && st && x && al && nm && z < su && su < st && st < x && x < al && al < nm, "%s", s);
    CHECK(strstr(s, "\"ctx_len\": 1024") != NULL);
    free(s);
    json_decref(patch);
    patch = json_pack("{s:s}", "id", "other");
    CHECK(mj_merge(raw, patch, &err) == -1);
    json_decref(patch);
    json_t *one = json_integer(1);
    CHECK(mj_merge(raw, one, &err) == -1);
    json_decref(one);
    json_decref(raw);
}

/* Deep nesting and big inputs fail cleanly. */
TEST(hostile_text)
{
    jc_err err = {0};
    size_t n = 100000;
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = i < n / 2 ? '[' : ']';
    t[n] = 0;
    CHECK(mj_parse(t, n, "m", &err) == NULL);
    free(t);
    n = MJ_MAX_SIZE + 1;
    t = calloc(n, 1);
    CHECK(mj_parse(t, n, "m", &err) == NULL);
    CHECKF(strstr(err.msg, "more than") != NULL, "%s", err.msg);
    free(t);
    const char *big = "{\"source_url\":\"x\",\"created\": 99999999999999999999999}";
    CHECK(mj_parse(big, strlen(big), "m", &err) == NULL);
}

TESTS(T(minimal_gets_defaults), T(spec_example_parses), T(errors_have_line_and_column), T(comments_and_strings),
      T(wrong_types_name_the_field), T(typed_reads), T(jan_old_shapes), T(refs_stay_in_folder), T(merge_keeps_order),
      T(hostile_text));
TEST_MAIN()
