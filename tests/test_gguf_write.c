/*
 * test_gguf_write.c — the GGUF writer against the reader: every value type,
 * nested and empty arrays, strings with NUL and non-UTF-8 bytes, tensors of
 * several types and shapes, versions 2 and 3, custom alignment; the file and
 * the in-memory image are the same bytes; copying every key with
 * gguf_writer_set_value reproduces a file byte for byte (also a real model
 * from ../shared when present); bad writer input is refused with a message.
 */
#include "gguf/gguf.h"
#include "harness.h"

#include "base/fs.h"

#include <float.h>
#include <stdint.h>

/* Fills w with one key of every type and a few tensors whose data is in data[]. */
static void fill(gguf_writer *w, float *f32, uint8_t *q4, uint16_t *f16, int8_t *i8)
{
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u8(w, "t.u8", 200);
    gguf_writer_set_i8(w, "t.i8", -5);
    gguf_writer_set_u16(w, "t.u16", 65535);
    gguf_writer_set_i16(w, "t.i16", -32768);
    gguf_writer_set_u32(w, "t.u32", 4000000000u);
    gguf_writer_set_i32(w, "t.i32", INT32_MIN);
    gguf_writer_set_u64(w, "t.u64", UINT64_MAX);
    gguf_writer_set_i64(w, "t.i64", INT64_MIN);
    gguf_writer_set_f32(w, "t.f32", 1.5f);
    gguf_writer_set_f64(w, "t.f64", 3.141592653589793);
    gguf_writer_set_bool(w, "t.bool", true);
    /* a string with a NUL byte and invalid UTF-8 */
    gguf_value odd = {.type = GGUF_VT_STRING, .s = {"a\0b\xff\xfe", 5}};
    gguf_writer_set_value(w, "t.odd", &odd);
    gguf_writer_set_str(w, "t.empty", "");
    int32_t ia[5] = {1, -2, 3, -4, 5};
    gguf_writer_set_arr(w, "t.arr_i32", GGUF_VT_INT32, ia, 5);
    float fa[3] = {0.5f, -1.25f, 1e30f};
    gguf_writer_set_arr(w, "t.arr_f32", GGUF_VT_FLOAT32, fa, 3);
    uint64_t ua[2] = {0, UINT64_MAX};
    gguf_writer_set_arr(w, "t.arr_u64", GGUF_VT_UINT64, ua, 2);
    double da[2] = {-0.0, 1e-300};
    gguf_writer_set_arr(w, "t.arr_f64", GGUF_VT_FLOAT64, da, 2);
    bool ba[3] = {true, false, true};
    gguf_writer_set_arr(w, "t.arr_bool", GGUF_VT_BOOL, ba, 3);
    uint8_t u8a[1] = {7};
    gguf_writer_set_arr(w, "t.arr_u8", GGUF_VT_UINT8, u8a, 1);
    int8_t i8a[2] = {-1, 1};
    gguf_writer_set_arr(w, "t.arr_i8", GGUF_VT_INT8, i8a, 2);
    uint16_t u16a[2] = {1, 65535};
    gguf_writer_set_arr(w, "t.arr_u16", GGUF_VT_UINT16, u16a, 2);
    int16_t i16a[2] = {-300, 300};
    gguf_writer_set_arr(w, "t.arr_i16", GGUF_VT_INT16, i16a, 2);
    uint32_t u32a[1] = {123456789};
    gguf_writer_set_arr(w, "t.arr_u32", GGUF_VT_UINT32, u32a, 1);
    int64_t i64a[2] = {INT64_MAX, -7};
    gguf_writer_set_arr(w, "t.arr_i64", GGUF_VT_INT64, i64a, 2);
    gguf_writer_set_arr(w, "t.arr_empty", GGUF_VT_UINT32, NULL, 0);
    const char *strs[3] = {"<unk>", "", "h\xc3\xa9llo"};
    gguf_writer_set_arr_str(w, "t.arr_str", strs, 3);
    gguf_writer_set_arr_str(w, "t.arr_str_empty", NULL, 0);
    /* nested: [[ "x", "yz" ], [], [ [1,2], [3] ]] is not uniform in GGUF; build
     * [[ "x", "yz" ], [ ]] (array of arrays of strings) and [[[1,2],[3]]] */
    gguf_str s1[2] = {{"x", 1}, {"yz", 2}};
    gguf_value inner[2] = {
        {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_STRING, .n = 2, .strs = s1}},
        {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_STRING, .n = 0}},
    };
    gguf_value nested = {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_ARRAY, .n = 2, .vals = inner}};
    gguf_writer_set_value(w, "t.nested", &nested);
    uint8_t r1[2] = {1, 2}, r2[1] = {3};
    gguf_value lvl2[2] = {
        {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_UINT8, .n = 2, .raw = r1}},
        {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_UINT8, .n = 1, .raw = r2}},
    };
    gguf_value lvl1[1] = {{.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_ARRAY, .n = 2, .vals = lvl2}}};
    gguf_value deep = {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_ARRAY, .n = 1, .vals = lvl1}};
    gguf_writer_set_value(w, "t.deep", &deep);

    jc_err err = {{0}};
    for (int i = 0; i < 12; i++)
        f32[i] = (float)i * 0.25f;
    for (int i = 0; i < 2 * 18 * 2; i++)
        q4[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 2 * 3 * 4; i++)
        f16[i] = (uint16_t)(i * 1000);
    for (int i = 0; i < 16; i++)
        i8[i] = (int8_t)(i - 8);
    int64_t ne_f32[2] = {4, 3}, ne_q4[2] = {64, 2}, ne_f16[3] = {2, 3, 4}, ne_i8[4] = {2, 2, 2, 2};
    CHECK(!gguf_writer_add_tensor(w, "a.f32", GGML_TYPE_F32, 2, ne_f32, f32, 48, &err));
    CHECK(!gguf_writer_add_tensor(w, "b.q4", GGML_TYPE_Q4_0, 2, ne_q4, q4, 72, &err));
    CHECK(!gguf_writer_add_tensor(w, "c.f16", GGML_TYPE_F16, 3, ne_f16, f16, 48, &err));
    CHECK(!gguf_writer_add_tensor(w, "d.i8", GGML_TYPE_I8, 4, ne_i8, i8, 16, &err));
    int64_t ne0[1] = {0};
    CHECK(!gguf_writer_add_tensor(w, "e.empty", GGML_TYPE_F32, 1, ne0, NULL, 0, &err));
}

/* Checks that f holds what fill() put in. */
static void check_filled(const gguf_file *f, const float *f32, const uint8_t *q4, const uint16_t *f16,
                         const int8_t *i8)
{
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    gguf_str s;
    CHECK_EQ_INT(gguf_kv_count(f), 30);
    CHECK(gguf_get_u64(f, "t.u8", &u) && u == 200);
    CHECK(gguf_get_i64(f, "t.i8", &i) && i == -5);
    CHECK(!gguf_get_u64(f, "t.i8", &u)); /* negative: not a u64 */
    CHECK(gguf_get_u64(f, "t.u16", &u) && u == 65535);
    CHECK(gguf_get_i64(f, "t.i16", &i) && i == -32768);
    CHECK(gguf_get_u64(f, "t.u32", &u) && u == 4000000000u);
    CHECK(gguf_get_i64(f, "t.i32", &i) && i == INT32_MIN);
    CHECK(gguf_get_u64(f, "t.u64", &u) && u == UINT64_MAX);
    CHECK(!gguf_get_i64(f, "t.u64", &i)); /* does not fit */
    CHECK(gguf_get_i64(f, "t.i64", &i) && i == INT64_MIN);
    CHECK(gguf_get_f64(f, "t.f32", &d) && d == 1.5);
    CHECK(gguf_get_f64(f, "t.f64", &d) && d == 3.141592653589793);
    CHECK(gguf_get_f64(f, "t.u8", &d) && d == 200.0);
    CHECK(!gguf_get_u64(f, "t.f32", &u));
    CHECK(gguf_get_bool(f, "t.bool", &b) && b);
    CHECK(!gguf_get_bool(f, "t.u8", &b));
    CHECK(gguf_get_str(f, "t.odd", &s) && s.len == 5 && !memcmp(s.ptr, "a\0b\xff\xfe", 5));
    CHECK(gguf_get_str(f, "t.empty", &s) && s.len == 0);
    CHECK(gguf_str_eq(gguf_kv_key(f, 0), "general.architecture") && gguf_str_eq(gguf_kv_key(f, 29), "t.deep"));
    const gguf_value *v = gguf_get_arr(f, "t.arr_i32", GGUF_VT_INT32);
    REQUIRE(v && v->arr.n == 5);
    CHECK(gguf_arr_i64(v, 1) == -2 && gguf_arr_i64(v, 4) == 5 && gguf_arr_f64(v, 3) == -4.0);
    CHECK(gguf_arr_i64(v, 5) == 0); /* out of range */
    v = gguf_get_arr(f, "t.arr_f32", GGUF_VT_FLOAT32);
    REQUIRE(v && v->arr.n == 3);
    CHECK(gguf_arr_f64(v, 0) == 0.5 && gguf_arr_f64(v, 1) == -1.25 && gguf_arr_f64(v, 2) == (double)1e30f);
    CHECK(gguf_arr_i64(v, 1) == -1 && gguf_arr_i64(v, 2) == INT64_MAX);
    v = gguf_get_arr(f, "t.arr_u64", GGUF_VT_UINT64);
    REQUIRE(v && v->arr.n == 2);
    CHECK(gguf_arr_i64(v, 1) == INT64_MAX); /* clamped */
    v = gguf_get_arr(f, "t.arr_f64", GGUF_VT_FLOAT64);
    REQUIRE(v && v->arr.n == 2);
    CHECK(gguf_arr_f64(v, 1) == 1e-300 && gguf_arr_f64(v, 0) == 0.0);
    v = gguf_get_arr(f, "t.arr_bool", GGUF_VT_BOOL);
    REQUIRE(v && v->arr.n == 3);
    CHECK(gguf_arr_i64(v, 0) == 1 && gguf_arr_i64(v, 1) == 0);
    v = gguf_get_arr(f, "t.arr_i8", GGUF_VT_INT8);
    CHECK(v && gguf_arr_i64(v, 0) == -1);
    v = gguf_get_arr(f, "t.arr_u16", GGUF_VT_UINT16);
    CHECK(v && gguf_arr_i64(v, 1) == 65535);
    v = gguf_get_arr(f, "t.arr_i16", GGUF_VT_INT16);
    CHECK(v && gguf_arr_i64(v, 0) == -300);
    v = gguf_get_arr(f, "t.arr_u32", GGUF_VT_UINT32);
    CHECK(v && gguf_arr_i64(v, 0) == 123456789);
    v = gguf_get_arr(f, "t.arr_i64", GGUF_VT_INT64);
    CHECK(v && gguf_arr_i64(v, 0) == INT64_MAX && gguf_arr_i64(v, 1) == -7);
    v = gguf_get_arr(f, "t.arr_u8", GGUF_VT_UINT8);
    CHECK(v && v->arr.n == 1 && gguf_arr_i64(v, 0) == 7);
    v = gguf_get_arr(f, "t.arr_empty", GGUF_VT_UINT32);
    CHECK(v && v->arr.n == 0);
    v = gguf_get_arr(f, "t.arr_str", GGUF_VT_STRING);
    REQUIRE(v && v->arr.n == 3);
    CHECK(gguf_str_eq(gguf_arr_str(v, 0), "<unk>") && gguf_str_eq(gguf_arr_str(v, 1), "") &&
          gguf_str_eq(gguf_arr_str(v, 2), "h\xc3\xa9llo"));
    v = gguf_get_arr(f, "t.arr_str_empty", GGUF_VT_STRING);
    CHECK(v && v->arr.n == 0);
    v = gguf_get_arr(f, "t.nested", GGUF_VT_ARRAY);
    REQUIRE(v && v->arr.n == 2);
    CHECK(v->arr.vals[0].arr.type == GGUF_VT_STRING && v->arr.vals[0].arr.n == 2);
    CHECK(gguf_str_eq(gguf_arr_str(&v->arr.vals[0], 1), "yz"));
    CHECK(v->arr.vals[1].arr.type == GGUF_VT_STRING && v->arr.vals[1].arr.n == 0);
    v = gguf_get_arr(f, "t.deep", GGUF_VT_ARRAY);
    REQUIRE(v && v->arr.n == 1 && v->arr.vals[0].arr.type == GGUF_VT_ARRAY && v->arr.vals[0].arr.n == 2);
    const gguf_value *l2 = &v->arr.vals[0].arr.vals[1];
    CHECK(l2->arr.type == GGUF_VT_UINT8 && l2->arr.n == 1 && gguf_arr_i64(l2, 0) == 3);

    REQUIRE(gguf_tensor_count(f) == 5);
    const gguf_tensor *t = gguf_find_tensor(f, "a.f32");
    REQUIRE(t);
    CHECK(t->type == GGML_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 4 && t->ne[1] == 3 && t->ne[2] == 1);
    CHECK(t->size == 48 && !memcmp(t->data, f32, 48));
    t = gguf_find_tensor(f, "b.q4");
    REQUIRE(t);
    CHECK(t->type == GGML_TYPE_Q4_0 && t->size == 72 && !memcmp(t->data, q4, 72));
    t = gguf_find_tensor(f, "c.f16");
    REQUIRE(t);
    CHECK(t->n_dims == 3 && t->ne[2] == 4 && !memcmp(t->data, f16, 48));
    t = gguf_find_tensor(f, "d.i8");
    REQUIRE(t);
    CHECK(t->n_dims == 4 && t->ne[3] == 2 && gguf_tensor_nelems(t) == 16 && !memcmp(t->data, i8, 16));
    t = gguf_find_tensor(f, "e.empty");
    REQUIRE(t);
    CHECK(t->size == 0 && gguf_tensor_nelems(t) == 0);
    for (uint64_t k = 0; k < gguf_tensor_count(f); k++)
        CHECK(gguf_tensor_at(f, k)->offset % gguf_alignment(f) == 0);
    CHECK(gguf_data_offset(f) % gguf_alignment(f) == 0);
}

/* read(write(x)) == x for every value type and nested arrays, in v2 and v3. */
TEST(roundtrip_all_types)
{
    float f32[12];
    uint8_t q4[72];
    uint16_t f16[24];
    int8_t i8[16];
    for (uint32_t version = 2; version <= 3; version++) {
        gguf_writer *w = gguf_writer_new(version);
        fill(w, f32, q4, f16, i8);
        uint8_t *img = NULL;
        size_t n = 0;
        jc_err err = {{0}};
        REQUIRE(!gguf_writer_to_memory(w, &img, &n, &err));
        gguf_file *f = gguf_open_memory(img, n, &err);
        CHECKF(f != NULL, "%s", err.msg);
        if (f) {
            CHECK_EQ_INT(gguf_version(f), version);
            CHECK_EQ_INT(gguf_alignment(f), 32);
            check_filled(f, f32, q4, f16, i8);
            gguf_close(f);
        }
        /* the file is the same bytes as the image, and reads the same */
        char *dir = test_tmpdir();
        char *path = jc_path_join(dir, "rt.gguf");
        CHECKF(!gguf_writer_write(w, path, &err), "%s", err.msg);
        size_t flen = 0;
        char *bytes = jc_read_file(path, 1 << 20, &flen, &err);
        CHECK(bytes && flen == n && !memcmp(bytes, img, n));
        free(bytes);
        f = gguf_open(path, &err);
        CHECKF(f != NULL, "%s", err.msg);
        if (f) {
            check_filled(f, f32, q4, f16, i8);
            gguf_close(f);
        }
        unlink(path);
        rmdir(dir);
        free(path);
        free(dir);
        free(img);
        gguf_writer_free(w);
    }
}

/* Copying every key with set_value and every tensor gives the same bytes. */
static void check_copy_identical(const uint8_t *img, size_t n, const char *what)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(img, n, &err);
    REQUIRE(f);
    gguf_writer *w = gguf_writer_new(gguf_version(f));
    for (uint64_t i = 0; i < gguf_kv_count(f); i++) {
        gguf_str k = gguf_kv_key(f, i);
        char *key = strndup(k.ptr, k.len);
        gguf_writer_set_value(w, key, gguf_kv_value(f, i));
        free(key);
    }
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK(!gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size, &err));
    }
    uint8_t *out = NULL;
    size_t m = 0;
    CHECKF(!gguf_writer_to_memory(w, &out, &m, &err), "%s", err.msg);
    CHECKF(m == n && out && !memcmp(out, img, n), "%s: copy differs (%zu vs %zu bytes)", what, m, n);
    free(out);
    gguf_writer_free(w);
    gguf_close(f);
}

TEST(set_value_copies_exactly)
{
    float f32[12];
    uint8_t q4[72];
    uint16_t f16[24];
    int8_t i8[16];
    gguf_writer *w = gguf_writer_new(3);
    fill(w, f32, q4, f16, i8);
    uint8_t *img = NULL;
    size_t n = 0;
    jc_err err = {{0}};
    REQUIRE(!gguf_writer_to_memory(w, &img, &n, &err));
    gguf_writer_free(w);
    check_copy_identical(img, n, "synthetic");
    free(img);
}

/* A real model (llama.cpp's writer) copied through janc's writer is the same file, byte for byte. */
TEST(real_file_copies_exactly)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    const char *files[] = {"models/stories260K.gguf", "models/syn-a-Q4_K_M.gguf", "vocab/ggml-vocab-llama-spm.gguf"};
    for (size_t i = 0; i < JC_ARRAY_LEN(files); i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", shared, files[i]);
        jc_map m;
        jc_err err = {{0}};
        REQUIRE(!jc_map_open(&m, path, &err));
        check_copy_identical(m.data, m.size, files[i]);
        jc_map_close(&m);
    }
}

/* Setting a key again replaces its value in place; alignment 64 is honoured. */
TEST(replace_and_alignment)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "a", "first");
    gguf_writer_set_u32(w, "b", 1);
    gguf_writer_set_u32(w, "a", 42);
    gguf_writer_set_alignment(w, 64);
    float x[3] = {1, 2, 3};
    int64_t ne[1] = {3};
    jc_err err = {{0}};
    CHECK(!gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 1, ne, x, 12, &err));
    CHECK(!gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 1, ne, x, 12, &err));
    uint8_t *img = NULL;
    size_t n = 0;
    REQUIRE(!gguf_writer_to_memory(w, &img, &n, &err));
    gguf_file *f = gguf_open_memory(img, n, &err);
    REQUIRE(f);
    CHECK_EQ_INT(gguf_kv_count(f), 3);
    CHECK(gguf_str_eq(gguf_kv_key(f, 0), "a"));
    uint64_t u;
    CHECK(gguf_get_u64(f, "a", &u) && u == 42);
    CHECK_EQ_INT(gguf_alignment(f), 64);
    CHECK_EQ_INT(gguf_data_offset(f) % 64, 0);
    CHECK_EQ_INT(gguf_tensor_at(f, 1)->offset, 64);
    CHECK_EQ_INT(n % 64, 0);
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
}

/* Bad writer input is refused with a message that names it. */
TEST(writer_refuses_bad_input)
{
    jc_err err = {{0}};
    float x[4] = {0};
    int64_t ne[2] = {4, 1}, neg[1] = {-1}, ne33[1] = {33};
    gguf_writer *w = gguf_writer_new(3);
    CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne, x, 12, &err) < 0 && strstr(err.msg, "bytes given"));
    CHECK(!gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne, x, 16, &err));
    CHECK(gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne, x, 16, &err) < 0 && strstr(err.msg, "twice"));
    CHECK(gguf_writer_add_tensor(w, "z", GGML_TYPE_F32, 0, ne, x, 16, &err) < 0 && strstr(err.msg, "n_dims"));
    CHECK(gguf_writer_add_tensor(w, "z", GGML_TYPE_F32, 5, ne, x, 16, &err) < 0 && strstr(err.msg, "n_dims"));
    CHECK(gguf_writer_add_tensor(w, "z", GGML_TYPE_F32, 1, neg, x, 0, &err) < 0 && strstr(err.msg, "negative"));
    CHECK(gguf_writer_add_tensor(w, "z", 4, 1, ne, x, 16, &err) < 0 && strstr(err.msg, "unknown type id 4"));
    CHECK(gguf_writer_add_tensor(w, "z", GGML_TYPE_Q4_0, 1, ne33, x, 18, &err) < 0 && strstr(err.msg, "block size"));
    CHECK(gguf_writer_add_tensor(w, "", GGML_TYPE_F32, 2, ne, x, 16, &err) < 0);
    gguf_writer_set_alignment(w, 48);
    uint8_t *img = NULL;
    size_t n = 0;
    CHECK(gguf_writer_to_memory(w, &img, &n, &err) < 0 && strstr(err.msg, "alignment 48"));
    CHECK(img == NULL);
    gguf_writer_free(w);
    w = gguf_writer_new(1);
    CHECK(gguf_writer_to_memory(w, &img, &n, &err) < 0 && strstr(err.msg, "version 1"));
    gguf_writer_free(w);
    /* a write into a missing folder fails cleanly */
    w = gguf_writer_new(3);
    CHECK(gguf_writer_write(w, "/nonexistent-dir/x.gguf", &err) < 0 && strstr(err.msg, "/nonexistent-dir/x.gguf"));
    gguf_writer_free(w);
}

/*
 * NULL tensor data is written as zeros (a hole); writing over an existing
 * file replaces it and leaves no temporary file behind.
 */
TEST(sparse_and_replace)
{
    char *dir = test_tmpdir();
    char *path = jc_path_join(dir, "s.gguf");
    jc_err err = {{0}};
    int64_t ne[2] = {256, 1024};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.name", "first");
    CHECK(!gguf_writer_add_tensor(w, "big", GGML_TYPE_Q4_K, 2, ne, NULL, 144 * 1024, &err));
    CHECKF(!gguf_writer_write(w, path, &err), "%s", err.msg);
    gguf_writer_free(w);
    gguf_file *f = gguf_open(path, &err);
    REQUIRE(f);
    const gguf_tensor *t = gguf_find_tensor(f, "big");
    REQUIRE(t && t->size == 144 * 1024);
    bool zero = true;
    for (uint64_t i = 0; i < t->size; i++)
        zero = zero && ((const uint8_t *)t->data)[i] == 0;
    CHECK(zero);
    CHECK_EQ_INT(gguf_file_size(f), gguf_data_offset(f) + 144 * 1024);
    gguf_close(f);
    w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.name", "second");
    CHECKF(!gguf_writer_write(w, path, &err), "%s", err.msg);
    gguf_writer_free(w);
    f = gguf_open(path, &err);
    REQUIRE(f);
    char *name = gguf_get_strdup(f, "general.name");
    CHECK_STR(name, "second");
    CHECK_EQ_INT(gguf_tensor_count(f), 0);
    free(name);
    gguf_close(f);
    unlink(path);
    CHECK(rmdir(dir) == 0); /* fails if a temporary file was left */
    free(path);
    free(dir);
}

TESTS(T(sparse_and_replace), T(roundtrip_all_types), T(set_value_copies_exactly), T(real_file_copies_exactly), T(replace_and_alignment),
      T(writer_refuses_bad_input));
TEST_MAIN()
