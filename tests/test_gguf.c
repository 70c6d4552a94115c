/*
 * test_gguf.c — the GGUF reader on the real files in ../shared/testdata
 * (vocab/ and models/): every file opens, and known facts about a few of
 * them hold (versions, counts, types, values, array lengths, tensor views
 * inside the file). Skips (77) when the shared data is absent.
 */
#include "gguf/gguf.h"
#include "harness.h"

#include <dirent.h>

/* Opens path, or records a failure with the error message. */
static gguf_file *open_ok(const char *path)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    CHECKF(f != NULL, "%s: %s", path, err.msg);
    return f;
}

/* Every .gguf file in vocab/ and models/ opens, and the table is self-consistent. */
TEST(every_shared_file_opens)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    const char *dirs[] = {"vocab", "models"};
    int n_files = 0;
    for (size_t d = 0; d < 2; d++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", shared, dirs[d]);
        DIR *dp = opendir(dir);
        REQUIRE(dp != NULL);
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 5, ".gguf"))
                continue;
            char path[8400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            gguf_file *f = open_ok(path);
            if (!f)
                continue;
            n_files++;
            CHECK(gguf_version(f) == 2 || gguf_version(f) == 3);
            CHECK(gguf_kv_count(f) > 0);
            CHECK(gguf_get(f, "general.architecture") != NULL);
            /* vocab files carry no tensors; models do */
            if (d == 0)
                CHECK_EQ_INT(gguf_tensor_count(f), 0);
            else
                CHECK(gguf_tensor_count(f) > 0);
            const uint8_t *base = NULL;
            for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                CHECK(gguf_find_tensor(f, t->name) == t);
                CHECK(ggml_type_get(t->type) != NULL);
                uint64_t rb;
                CHECK(ggml_row_size(t->type, (uint64_t)t->ne[0], &rb));
                CHECK_EQ_INT(rb * gguf_tensor_nelems(t) / (uint64_t)t->ne[0], t->size);
                if (!base)
                    base = (const uint8_t *)t->data - t->offset;
                CHECK((const uint8_t *)t->data == base + t->offset);
                CHECK(gguf_data_offset(f) + t->offset + t->size <= gguf_file_size(f));
            }
            gguf_close(f);
        }
        closedir(dp);
    }
    CHECK(n_files >= 24);
}

/* stories260K: GGUF v3, 48 F32 tensors, embedding length 64, a 512-token vocab. */
TEST(stories260k_facts)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    char path[4200];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    gguf_file *f = open_ok(path);
    REQUIRE(f);
    CHECK_EQ_INT(gguf_version(f), 3);
    CHECK_EQ_INT(gguf_tensor_count(f), 48);
    CHECK_EQ_INT(gguf_alignment(f), 32);
    CHECK_EQ_INT(gguf_n_shards(f), 1);
    CHECK_EQ_INT(gguf_file_size(f), 1185376);
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++)
        CHECK_EQ_INT(gguf_tensor_at(f, i)->type, GGML_TYPE_F32);
    uint64_t u = 0;
    CHECK(gguf_get_u64(f, "llama.embedding_length", &u));
    CHECK_EQ_INT(u, 64);
    int64_t i64 = 0;
    CHECK(gguf_get_i64(f, "llama.embedding_length", &i64));
    CHECK_EQ_INT(i64, 64);
    double d = 0;
    CHECK(gguf_get_f64(f, "llama.embedding_length", &d));
    CHECK(d == 64.0);
    CHECK(gguf_get_u64(f, "llama.block_count", &u));
    CHECK_EQ_INT(u, 5);
    char *arch = gguf_get_strdup(f, "general.architecture");
    CHECK_STR(arch, "llama");
    free(arch);
    /* a string is not a number, a number is not a string or bool */
    CHECK(!gguf_get_u64(f, "general.architecture", &u));
    gguf_str s;
    CHECK(!gguf_get_str(f, "llama.embedding_length", &s));
    bool b;
    CHECK(!gguf_get_bool(f, "llama.embedding_length", &b));
    CHECK(gguf_get(f, "no.such.key") == NULL);
    const gguf_value *tok = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
    REQUIRE(tok);
    CHECK_EQ_INT(tok->arr.n, 512);
    CHECK(gguf_str_eq(gguf_arr_str(tok, 0), "<unk>"));
    CHECK(gguf_str_eq(gguf_arr_str(tok, 1), "<s>"));
    CHECK(gguf_str_eq(gguf_arr_str(tok, 2), "</s>"));
    CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_INT32) == NULL);
    CHECK(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_COUNT) == tok);
    const gguf_value *sc = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_FLOAT32);
    REQUIRE(sc);
    CHECK_EQ_INT(sc->arr.n, 512);
    const gguf_value *tt = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_VT_COUNT);
    REQUIRE(tt);
    CHECK_EQ_INT(tt->arr.n, 512);
    CHECK_EQ_INT(gguf_arr_i64(tt, 0), 2); /* <unk> is UNKNOWN (2) */
    CHECK_EQ_INT(gguf_arr_i64(tt, 1), 3); /* <s> is CONTROL (3) */
    const gguf_tensor *t = gguf_find_tensor(f, "token_embd.weight");
    REQUIRE(t);
    CHECK_EQ_INT(t->n_dims, 2);
    CHECK_EQ_INT(t->ne[0], 64);
    CHECK_EQ_INT(t->ne[1], 512);
    CHECK_EQ_INT(t->size, 64 * 512 * 4);
    CHECK(gguf_find_tensor(f, "token_embd") == NULL);
    gguf_close(f);
}

/* The vocab files: known token counts, pre-tokenizer names, no tensors. */
TEST(vocab_facts)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    static const struct {
        const char *file;
        uint64_t n_tokens;
        const char *pre; /* NULL: absent */
    } cases[] = {
        {"ggml-vocab-llama-spm.gguf", 32000, NULL},  {"ggml-vocab-llama-bpe.gguf", 128256, "llama-bpe"},
        {"ggml-vocab-phi-3.gguf", 32064, NULL},      {"ggml-vocab-gpt-2.gguf", 50257, "gpt-2"},
        {"ggml-vocab-bert-bge.gguf", 30522, "bert-bge"}, {"ggml-vocab-deepseek-llm.gguf", 102400, "deepseek-llm"},
        {"ggml-vocab-baichuan.gguf", 64000, NULL},
    };
    for (size_t i = 0; i < JC_ARRAY_LEN(cases); i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/vocab/%s", shared, cases[i].file);
        gguf_file *f = open_ok(path);
        if (!f)
            continue;
        CHECK_EQ_INT(gguf_tensor_count(f), 0);
        const gguf_value *tok = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING);
        CHECKF(tok && tok->arr.n == cases[i].n_tokens, "%s", cases[i].file);
        char *pre = gguf_get_strdup(f, "tokenizer.ggml.pre");
        if (cases[i].pre)
            CHECK_STR(pre, cases[i].pre);
        free(pre);
        gguf_close(f);
    }
}

/*
 * Opening the 128k-token vocabulary is fast: about 1.5 ms in a release build;
 * checked loosely (100 ms, best of 5) so a busy machine cannot fail it, and
 * only printed under sanitizers.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
TEST(big_vocab_is_fast)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-bpe.gguf", shared);
    double best = 1e9;
    for (int k = 0; k < 5; k++) {
        double t0 = jc_now();
        gguf_file *f = open_ok(path);
        double dt = jc_now() - t0;
        if (dt < best)
            best = dt;
        gguf_close(f);
    }
    fprintf(stderr, "  llama-bpe (128256 tokens) opens in %.2f ms\n", best * 1e3);
#ifndef SANITIZED
    CHECK(best < 0.1);
#endif
}

/* A missing file is an error that names it. */
TEST(missing_file)
{
    jc_err err = {{0}};
    CHECK(gguf_open("/nonexistent/x.gguf", &err) == NULL);
    CHECK(strstr(err.msg, "/nonexistent/x.gguf") != NULL);
}

/* The type table: names both ways, sizes, unassigned ids unknown. */
TEST(type_table)
{
    int known = 0;
    for (uint32_t t = 0; t < 64; t++) {
        const ggml_type_info *ti = ggml_type_get(t);
        if (!ti)
            continue;
        known++;
        CHECK(ti->blck_size >= 1 && ti->type_size >= 1);
        CHECK_EQ_INT(ggml_type_from_name(ti->name), t);
        CHECK_STR(ggml_type_name(t), ti->name);
    }
    CHECK_EQ_INT(known, 38); /* 0..39 less the removed 4 and 5 */
    CHECK(ggml_type_get(4) == NULL && ggml_type_get(5) == NULL && ggml_type_get(GGML_TYPE_COUNT) == NULL);
    CHECK_EQ_INT(ggml_type_from_name("q4_k"), GGML_TYPE_Q4_K);
    CHECK_EQ_INT(ggml_type_from_name("Q4_2"), -1);
    uint64_t b = 0;
    CHECK(ggml_row_size(GGML_TYPE_Q4_K, 512, &b) && b == 288);
    CHECK(ggml_row_size(GGML_TYPE_Q8_0, 64, &b) && b == 68);
    CHECK(ggml_row_size(GGML_TYPE_IQ2_XXS, 256, &b) && b == 66);
    CHECK(ggml_row_size(GGML_TYPE_F16, 3, &b) && b == 6);
    CHECK(!ggml_row_size(GGML_TYPE_Q4_K, 100, &b));
    CHECK(!ggml_row_size(4, 32, &b));
    CHECK(!ggml_row_size(GGML_TYPE_F32, UINT64_MAX, &b)); /* bytes overflow */
}

TESTS(T(type_table), T(every_shared_file_opens), T(stories260k_facts), T(vocab_facts), T(big_vocab_is_fast), T(missing_file));
TEST_MAIN()
