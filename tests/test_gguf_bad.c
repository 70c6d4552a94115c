/*
 * test_gguf_bad.c — hostile GGUF files: each broken file is refused with a
 * message naming what was wrong (and, where it applies, the byte offset):
 * bad magic, version 1, big-endian, absurd counts and string lengths, unknown
 * value/element/tensor types, arrays nested too deep, duplicate keys and
 * tensor names, bad general.alignment, n_dims 0 and 5, negative and
 * overflowing dimensions, misaligned offsets, data past the end, overlapping
 * tensors; a valid image truncated at every byte, a real model truncated every
 * 7th byte of its header, and random byte corruption never crash. Split
 * models: three shards open as one; a missing or inconsistent shard is an
 * error naming it.
 */
#include "gguf/gguf.h"
#include "harness.h"

#include "base/fs.h"

#include <inttypes.h>
#include <stdint.h>

/* ---- a byte builder for hand-made headers ---- */

static void b_u32(jc_buf *b, uint32_t v) { jc_buf_append(b, &v, 4); }
static void b_u64(jc_buf *b, uint64_t v) { jc_buf_append(b, &v, 8); }
static void b_str(jc_buf *b, const char *s)
{
    b_u64(b, strlen(s));
    jc_buf_append(b, s, strlen(s));
}
static void b_hdr(jc_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    jc_buf_init(b, 1 << 24);
    jc_buf_append(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
/* A tensor info with up to 4 dims. */
static void b_tensor(jc_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        b_u64(b, ne[i]);
    b_u32(b, type);
    b_u64(b, off);
}
/* Pads to 32 and appends n zero bytes of tensor data. */
static void b_data(jc_buf *b, size_t n)
{
    while (b->len % 32)
        jc_buf_putc(b, 0);
    for (size_t i = 0; i < n; i++)
        jc_buf_putc(b, 0);
}

/* Expects the image to be refused with a message containing each of want (NULL-terminated). */
static void expect_bad_(jc_buf *b, const char *case_name, const char *const *want)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(b->data, b->len, &err);
    CHECKF(f == NULL, "%s: accepted", case_name);
    gguf_close(f);
    for (size_t i = 0; want[i]; i++)
        CHECKF(strstr(err.msg, want[i]) != NULL, "%s: message \"%s\" lacks \"%s\"", case_name, err.msg, want[i]);
    jc_buf_free(b);
}
#define expect_bad(b, name, ...) expect_bad_(b, name, (const char *const[]){__VA_ARGS__, NULL})

static void expect_ok(jc_buf *b, const char *case_name)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(b->data, b->len, &err);
    CHECKF(f != NULL, "%s: refused: %s", case_name, err.msg);
    gguf_close(f);
    jc_buf_free(b);
}

/* The header: magic, version 1, big-endian, unknown versions, counts larger than the file. */
TEST(header)
{
    jc_buf b;
    b_hdr(&b, 3, 0, 0);
    expect_ok(&b, "empty v3");
    b_hdr(&b, 2, 0, 0);
    expect_ok(&b, "empty v2");
    b_hdr(&b, 3, 0, 0);
    memcpy(b.data, "GGML", 4);
    expect_bad(&b, "magic", "bad magic 'GGML'", "offset 0");
    b_hdr(&b, 1, 0, 0);
    expect_bad(&b, "v1", "version 1 is not supported");
    b_hdr(&b, 0x03000000, 0, 0);
    expect_bad(&b, "big-endian", "big-endian");
    b_hdr(&b, 4, 0, 0);
    expect_bad(&b, "v4", "unsupported GGUF version 4");
    b_hdr(&b, 3, UINT64_MAX, 0);
    expect_bad(&b, "n_tensors", "offset 8", "tensor count 18446744073709551615");
    b_hdr(&b, 3, 0, 1000);
    expect_bad(&b, "n_kv", "offset 16", "key count 1000");
    jc_buf_init(&b, 64);
    jc_buf_append(&b, "GG", 2);
    expect_bad(&b, "tiny", "too short");
    jc_buf_init(&b, 64);
    jc_buf_append(&b, "GGUF\3\0", 6);
    expect_bad(&b, "cut version", "the version", "runs past the end of the file (size 6)");
    jc_err err = {{0}};
    CHECK(gguf_open_memory("", 0, &err) == NULL && strstr(err.msg, "too short"));
}

/* Keys and values: lengths, types, arrays, nesting, duplicates, alignment. */
TEST(metadata)
{
    jc_buf b;
    b_hdr(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX);
    b_u64(&b, 0);
    expect_bad(&b, "key length", "offset 24", "string length 18446744073709551615 runs past the end of the file (size 40)");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, 13);
    b_u32(&b, 0);
    expect_bad(&b, "value type", "key 'k'", "unknown value type 13", "offset 33");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VT_STRING);
    b_u64(&b, 1ull << 40);
    expect_bad(&b, "string value", "key 'k'", "string length 1099511627776");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VT_UINT64);
    b_u32(&b, 0);
    expect_bad(&b, "cut u64", "key 'k'", "u64 value", "runs past the end");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, 99);
    b_u64(&b, 0);
    expect_bad(&b, "elem type", "unknown array element type 99");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, GGUF_VT_UINT32);
    b_u64(&b, 1ull << 62);
    expect_bad(&b, "u32 count", "array of 4611686018427387904 u32 elements", "runs past the end");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, GGUF_VT_STRING);
    b_u64(&b, 1000000);
    b_str(&b, "abc");
    expect_bad(&b, "str count", "array of 1000000 str elements");
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "tok");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, GGUF_VT_STRING);
    b_u64(&b, 3);
    b_str(&b, "a");
    b_str(&b, "b");
    b_u64(&b, 99);
    b_u64(&b, 0);
    expect_bad(&b, "str elem", "key 'tok' element 2: string length 99");
    /* arrays of arrays 17 deep */
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "deep");
    b_u32(&b, GGUF_VT_ARRAY);
    for (int i = 0; i < 17; i++) {
        b_u32(&b, GGUF_VT_ARRAY);
        b_u64(&b, 1);
    }
    b_u32(&b, GGUF_VT_UINT8);
    b_u64(&b, 0);
    expect_bad(&b, "depth", "nested more than 16 deep");
    /* 16 deep is fine */
    b_hdr(&b, 3, 0, 1);
    b_str(&b, "deep");
    b_u32(&b, GGUF_VT_ARRAY);
    for (int i = 0; i < 15; i++) {
        b_u32(&b, GGUF_VT_ARRAY);
        b_u64(&b, 1);
    }
    b_u32(&b, GGUF_VT_UINT8);
    b_u64(&b, 0);
    expect_ok(&b, "depth 16");
    b_hdr(&b, 3, 0, 2);
    b_str(&b, "a");
    b_u32(&b, GGUF_VT_UINT8);
    jc_buf_putc(&b, 1);
    b_str(&b, "a");
    b_u32(&b, GGUF_VT_UINT8);
    jc_buf_putc(&b, 2);
    expect_bad(&b, "dup key", "duplicate key 'a'", "offset 38");
    static const struct {
        enum gguf_vtype t;
        uint64_t v;
        const char *want;
    } al[] = {{GGUF_VT_UINT32, 48, "general.alignment 48 is not a power of two"},
              {GGUF_VT_UINT32, 0, "general.alignment 0 is not a power of two"},
              {GGUF_VT_UINT64, 1ull << 40, "is not a power of two"},
              {GGUF_VT_INT32, (uint32_t)-32, "not an unsigned integer"},
              {GGUF_VT_FLOAT32, 0, "general.alignment is a f32"}};
    for (size_t i = 0; i < JC_ARRAY_LEN(al); i++) {
        b_hdr(&b, 3, 0, 1);
        b_str(&b, "general.alignment");
        b_u32(&b, al[i].t);
        if (al[i].t == GGUF_VT_UINT64)
            b_u64(&b, al[i].v);
        else
            b_u32(&b, (uint32_t)al[i].v);
        expect_bad(&b, "alignment", al[i].want);
    }
}

/* Tensor infos: n_dims, dims, types, offsets, data bounds, overlap, names. */
TEST(tensors)
{
    jc_buf b;
    uint64_t ne4[4] = {4, 1, 1, 1};
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_ok(&b, "valid tensor");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 0, ne4, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "n_dims 0", "tensor 'w': n_dims 0 is not 1 to 4", "offset 33");
    b_hdr(&b, 3, 1, 0);
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    b_tensor(&b, "w", 5, ne5, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "n_dims 5", "n_dims 5 is not 1 to 4");
    b_hdr(&b, 3, 1, 0);
    uint64_t neg[1] = {UINT64_MAX};
    b_tensor(&b, "w", 1, neg, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "negative ne", "ne[0] = 18446744073709551615 is negative");
    b_hdr(&b, 3, 1, 0);
    uint64_t big[3] = {1ull << 32, 1ull << 32, 1ull << 32};
    b_tensor(&b, "w", 3, big, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "overflow", "product of its dimensions", "overflows");
    b_hdr(&b, 3, 1, 0);
    uint64_t big2[2] = {1ull << 40, 1ull << 22}; /* 2^62 elements: fits int64, bytes overflow */
    b_tensor(&b, "w", 2, big2, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "bytes overflow", "tensor 'w'");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, 4, 0);
    b_data(&b, 16);
    expect_bad(&b, "type 4", "unknown tensor type id 4");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, 1000, 0);
    b_data(&b, 16);
    expect_bad(&b, "type 1000", "unknown tensor type id 1000");
    b_hdr(&b, 3, 1, 0);
    uint64_t ne33[1] = {33};
    b_tensor(&b, "w", 1, ne33, GGML_TYPE_Q4_0, 0);
    b_data(&b, 64);
    expect_bad(&b, "block", "ne[0] = 33 is not a multiple of the block size 32 of Q4_0");
    /* known but not runnable: fine for the reader */
    b_hdr(&b, 3, 1, 0);
    uint64_t ne256[1] = {256};
    b_tensor(&b, "w", 1, ne256, GGML_TYPE_IQ2_XXS, 0);
    b_data(&b, 66);
    expect_ok(&b, "IQ2_XXS");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, GGML_TYPE_F32, 8);
    b_data(&b, 64);
    expect_bad(&b, "misaligned", "data offset 8 is not a multiple of the alignment 32");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, GGML_TYPE_F32, 0);
    b_data(&b, 15);
    expect_bad(&b, "data past end", "16 bytes of F32 data", "run past the end of the file");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, GGML_TYPE_F32, 1ull << 60);
    b_data(&b, 16);
    expect_bad(&b, "offset past end", "data offset 1152921504606846976 is past the end");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "w", 1, ne4, GGML_TYPE_F32, 0);
    expect_bad(&b, "no data section", "data section");
    b_hdr(&b, 3, 2, 0);
    uint64_t ne16[1] = {16};
    b_tensor(&b, "a", 1, ne16, GGML_TYPE_F32, 0);
    b_tensor(&b, "b", 1, ne16, GGML_TYPE_F32, 32);
    b_data(&b, 128);
    expect_bad(&b, "overlap", "tensors 'a' (data 0..64) and 'b' (data 32..96) overlap");
    b_hdr(&b, 3, 2, 0);
    b_tensor(&b, "a", 1, ne4, GGML_TYPE_F32, 0);
    b_tensor(&b, "a", 1, ne4, GGML_TYPE_F32, 32);
    b_data(&b, 64);
    expect_bad(&b, "dup tensor", "duplicate tensor name 'a'");
    b_hdr(&b, 3, 1, 0);
    b_tensor(&b, "", 1, ne4, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_bad(&b, "empty name", "tensor 0 has an empty name");
    b_hdr(&b, 3, 1, 0);
    b_u64(&b, 3);
    jc_buf_append(&b, "a\0b", 3);
    b_u32(&b, 1);
    b_u64(&b, 4);
    b_u32(&b, 0);
    b_u64(&b, 0);
    b_data(&b, 16);
    expect_bad(&b, "NUL name", "name contains a NUL byte");
    /* zero-sized tensors are allowed and overlap nothing */
    b_hdr(&b, 3, 2, 0);
    uint64_t ne0[1] = {0};
    b_tensor(&b, "z", 1, ne0, GGML_TYPE_F32, 0);
    b_tensor(&b, "a", 1, ne4, GGML_TYPE_F32, 0);
    b_data(&b, 16);
    expect_ok(&b, "zero-size");
}

/* A small valid image from the writer, with two keys and two tensors. */
static uint8_t *small_image(size_t *n)
{
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    const char *toks[3] = {"a", "bb", "ccc"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    gguf_writer_set_u32(w, "llama.block_count", 1);
    static const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t ne[2] = {4, 2};
    jc_err err = {{0}};
    gguf_writer_add_tensor(w, "x", GGML_TYPE_F32, 2, ne, x, 32, &err);
    gguf_writer_add_tensor(w, "y", GGML_TYPE_F32, 1, ne, x, 16, &err);
    uint8_t *img = NULL;
    gguf_writer_to_memory(w, &img, n, &err);
    gguf_writer_free(w);
    return img;
}

/*
 * Every truncation of a valid image up to the end of its last tensor's data
 * is refused with a byte offset in the message (the padding after the last
 * tensor is not needed).
 */
TEST(truncated_every_byte)
{
    size_t n;
    uint8_t *img = small_image(&n);
    REQUIRE(img);
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(img, n, &err);
    REQUIRE(f != NULL);
    const gguf_tensor *last = gguf_tensor_at(f, 1);
    size_t need = (size_t)(gguf_data_offset(f) + last->offset + last->size);
    gguf_close(f);
    CHECK(need > 200 && need <= n);
    for (size_t cut = 0; cut < need; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, img, cut);
        f = gguf_open_memory(copy, cut, &err);
        CHECKF(f == NULL, "cut at %zu accepted", cut);
        gguf_close(f);
        CHECKF(strstr(err.msg, "<memory>: offset "), "cut at %zu: %s", cut, err.msg);
        free(copy);
    }
    free(img);
}

/* Deterministic random corruption of 1..4 bytes never crashes (accepting is fine). */
TEST(corrupted_bytes)
{
    size_t n;
    uint8_t *img = small_image(&n);
    REQUIRE(img);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int refused = 0;
    for (int k = 0; k < 3000; k++) {
        uint8_t *copy = malloc(n);
        memcpy(copy, img, n);
        for (int j = 0; j < 1 + k % 4; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % n;
            copy[at] = (uint8_t)(s >> 20);
        }
        jc_err err = {{0}};
        gguf_file *f = gguf_open_memory(copy, n, &err);
        if (!f) {
            refused++;
            CHECK(err.msg[0] != 0);
        } else {
            /* walk it: every view must be inside the image */
            for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                CHECK((const uint8_t *)t->data >= copy && (const uint8_t *)t->data + t->size <= copy + n);
            }
        }
        gguf_close(f);
        free(copy);
    }
    CHECK(refused > 100);
    free(img);
}

/* A real model truncated every 7th byte over its header is refused each time. */
TEST(real_file_truncated)
{
    const char *shared = test_shared();
    if (!shared)
        exit(77);
    char path[4200];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared);
    jc_map m;
    jc_err err = {{0}};
    REQUIRE(!jc_map_open(&m, path, &err));
    gguf_file *f = gguf_open_memory(m.data, m.size, &err);
    REQUIRE(f);
    uint64_t header = gguf_data_offset(f);
    gguf_close(f);
    int n = 0;
    for (uint64_t cut = 0; cut < header + 64; cut += 7, n++) {
        f = gguf_open_memory(m.data, (size_t)cut, &err);
        CHECKF(f == NULL, "cut at %" PRIu64 " accepted", cut);
        gguf_close(f);
        CHECKF(strstr(err.msg, "offset"), "cut at %" PRIu64 ": %s", cut, err.msg);
    }
    fprintf(stderr, "  %d truncations of stories260K's %" PRIu64 "-byte header refused\n", n, header);
    jc_map_close(&m);
}

/* Writes shard k (1-based) of n of a split model into dir; split.no given explicitly. */
static void write_shard(const char *dir, int k, int n, uint16_t no, const float *data)
{
    char path[512];
    snprintf(path, sizeof path, "%s/m-%05d-of-%05d.gguf", dir, k, n);
    gguf_writer *w = gguf_writer_new(3);
    if (k == 1)
        gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u16(w, "split.no", no);
    gguf_writer_set_u16(w, "split.count", (uint16_t)n);
    gguf_writer_set_i32(w, "split.tensors.count", 2 * n);
    jc_err err = {{0}};
    int64_t ne[1] = {4};
    char name[32];
    snprintf(name, sizeof name, "t%d.a", k);
    gguf_writer_add_tensor(w, name, GGML_TYPE_F32, 1, ne, data + 8 * (k - 1), 16, &err);
    snprintf(name, sizeof name, "t%d.b", k);
    gguf_writer_add_tensor(w, name, GGML_TYPE_F32, 1, ne, data + 8 * (k - 1) + 4, 16, &err);
    CHECKF(!gguf_writer_write(w, path, &err), "%s", err.msg);
    gguf_writer_free(w);
}

TEST(split_model)
{
    char *dir = test_tmpdir();
    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i;
    for (int k = 1; k <= 3; k++)
        write_shard(dir, k, 3, (uint16_t)(k - 1), data);
    char first[512], second[512], third[512];
    snprintf(first, sizeof first, "%s/m-00001-of-00003.gguf", dir);
    snprintf(second, sizeof second, "%s/m-00002-of-00003.gguf", dir);
    snprintf(third, sizeof third, "%s/m-00003-of-00003.gguf", dir);
    jc_err err = {{0}};
    gguf_file *f = gguf_open(first, &err);
    CHECKF(f != NULL, "%s", err.msg);
    if (f) {
        CHECK_EQ_INT(gguf_n_shards(f), 3);
        CHECK_EQ_INT(gguf_tensor_count(f), 6);
        CHECK(gguf_get(f, "general.architecture") != NULL);
        for (int k = 0; k < 6; k++) {
            const gguf_tensor *t = gguf_tensor_at(f, (uint64_t)k);
            CHECK_EQ_INT(t->shard, k / 2);
            CHECK(!memcmp(t->data, data + 4 * k, 16));
        }
        const gguf_tensor *t = gguf_find_tensor(f, "t3.b");
        CHECK(t && ((const float *)t->data)[0] == 20.0f);
        CHECK(gguf_file_size(f) > 3 * gguf_data_offset(f));
        gguf_close(f);
    }
    /* opening a later shard points at the first */
    f = gguf_open(second, &err);
    CHECK(f == NULL && strstr(err.msg, "shard 2 of 3") && strstr(err.msg, "open the first shard"));
    /* a shard claiming the wrong number */
    write_shard(dir, 3, 3, 1, data);
    f = gguf_open(first, &err);
    CHECK(f == NULL && strstr(err.msg, "m-00003-of-00003.gguf") && strstr(err.msg, "split.no"));
    /* a missing shard */
    unlink(third);
    f = gguf_open(first, &err);
    CHECKF(f == NULL && strstr(err.msg, "shard 3 of 3") && strstr(err.msg, "m-00003-of-00003.gguf"), "%s", err.msg);
    /* a renamed first shard cannot find its siblings */
    char renamed[512];
    snprintf(renamed, sizeof renamed, "%s/renamed.gguf", dir);
    CHECK(rename(first, renamed) == 0);
    f = gguf_open(renamed, &err);
    CHECK(f == NULL && strstr(err.msg, "-00001-of-00003.gguf"));
    unlink(renamed);
    unlink(second);
    rmdir(dir);
    free(dir);
}

TESTS(T(header), T(metadata), T(tensors), T(truncated_every_byte), T(corrupted_bytes), T(real_file_truncated),
      T(split_model));
TEST_MAIN()
