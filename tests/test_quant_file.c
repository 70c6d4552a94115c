/*
 * test_quant_file.c — the block layouts and quantizers against real
 * llama.cpp-quantized files: every tensor of syn-a-<TYPE>.gguf dequantizes
 * to within its type's error range of the same tensor in syn-a-f32.gguf
 * (a wrong bit position or scale packing gives errors of order 1, not of
 * the format's rounding), and quantizing the f32 tensor with janc's
 * reference quantizer reproduces llama.cpp's bytes block for block; and
 * q_quantize_file (janc quantize) on syn-a-f32.gguf makes llama.cpp's files
 * tensor for tensor (types and bytes) for 8 mixes. Needs ../shared/testdata (skips visibly without it).
 */
#include "harness.h"

#include "base/jc.h"
#include "gguf/gguf.h"
#include "quant/q_file.h"
#include "quant/quant.h"

static char f32_path[4200];

/* Under a sanitizer (a -O0 build), the quantizer searches are slow: check a sample only. */
#if defined(__SANITIZE_ADDRESS__)
#define QT_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QT_SLOW 1
#endif
#endif
#ifndef QT_SLOW
#define QT_SLOW 0
#endif

/* Relative RMS error bound of a type on these well-conditioned random weights. */
static double type_bound(uint32_t t)
{
    switch (t) {
    case GGML_TYPE_F32: return 0.0;
    case GGML_TYPE_F16: return 0.0005;
    case GGML_TYPE_Q8_0: return 0.006;
    case GGML_TYPE_Q6_K: return 0.02;
    case GGML_TYPE_Q5_K: return 0.04;
    case GGML_TYPE_Q5_0: return 0.05;
    case GGML_TYPE_Q4_K: return 0.08;
    case GGML_TYPE_Q4_0: return 0.10;
    case GGML_TYPE_Q3_K: return 0.18;
    case GGML_TYPE_Q2_K: return 0.35;
    default: return 0.1;
    }
}

/* Checks one quantized file against the f32 one; returns tensors checked. */
static int check_file(const char *dir, const char *name, gguf_file *ref)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/models/%s", dir, name);
    jc_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        CHECKF(0, "%s: %s", path, err.msg);
        return 0;
    }
    int checked = 0;
    uint64_t blocks = 0, same_blocks = 0;
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const gguf_tensor *r = gguf_find_tensor(ref, t->name);
        CHECKF(r != NULL, "%s: tensor %s not in f32 file", name, t->name);
        if (!r)
            continue;
        CHECKF(q_type_supported(t->type), "%s: %s has type %s", name, t->name, ggml_type_name(t->type));
        if (!q_type_supported(t->type) || r->type != GGML_TYPE_F32)
            continue;
        uint64_t ne = gguf_tensor_nelems(t);
        CHECK_EQ_INT(ne, gguf_tensor_nelems(r));
        int64_t n = t->ne[0], nrows = (int64_t)(ne / (uint64_t)n);
        size_t rb = q_row_bytes(t->type, n);
        CHECKF(rb > 0 && rb * (size_t)nrows == t->size, "%s %s: size", name, t->name);
        if (!(rb > 0 && rb * (size_t)nrows == t->size))
            continue;
        float *y = malloc(sizeof(float) * ne);
        uint8_t *qb = malloc(rb);
        const float *x = r->data;
        double se = 0, sx = 0;
        int64_t bs = q_block_elems(t->type);
        size_t bbytes = rb / (size_t)(n / bs);
        for (int64_t row = 0; row < nrows; row++) {
            const uint8_t *src = (const uint8_t *)t->data + (size_t)row * rb;
            CHECK(q_dequant_row(t->type, src, y + row * n, n) == 0);
            if (QT_SLOW && row % 8)
                continue; /* every 8th row only */
            q_quantize_row(t->type, x + row * n, qb, n);
            for (int64_t b = 0; b < n / bs; b++) {
                blocks++;
                same_blocks += !memcmp(qb + (size_t)b * bbytes, src + (size_t)b * bbytes, bbytes);
            }
        }
        for (uint64_t k = 0; k < ne; k++) {
            se += ((double)y[k] - x[k]) * ((double)y[k] - x[k]);
            sx += (double)x[k] * x[k];
        }
        double rel = sx > 0 ? sqrt(se / sx) : 0;
        CHECKF(rel <= type_bound(t->type), "%s %s (%s): relative RMS error %.5f > %.4f", name, t->name,
               ggml_type_name(t->type), rel, type_bound(t->type));
        /* a real (not degenerate) quantization: some error unless the type is F32 */
        CHECKF(t->type == GGML_TYPE_F32 || rel > 0, "%s %s: zero error is suspicious", name, t->name);
        free(y);
        free(qb);
        checked++;
    }
    double frac = blocks ? (double)same_blocks / (double)blocks : 1.0;
    fprintf(stderr, "    %-20s %d tensors, janc's quantizer reproduces %.2f%% of llama.cpp's blocks\n", name, checked,
            100.0 * frac);
    /* float rounding (e.g. FMA in llama.cpp's build) may flip a rare rounding decision */
    CHECKF(frac >= 0.99, "%s: only %.2f%% of blocks identical to llama.cpp's", name, 100.0 * frac);
    gguf_close(f);
    return checked;
}

TEST(real_files_dequant_and_requant)
{
    const char *dir = test_shared();
    if (!dir)
        exit(77);
    snprintf(f32_path, sizeof f32_path, "%s/models/syn-a-f32.gguf", dir);
    jc_err err = {{0}};
    gguf_file *ref = gguf_open(f32_path, &err);
    REQUIRE(ref);
    static const char *files[] = {"syn-a-F16.gguf",    "syn-a-Q8_0.gguf",   "syn-a-Q4_0.gguf",
                                  "syn-a-Q6_K.gguf",   "syn-a-Q5_K_M.gguf", "syn-a-Q4_K_M.gguf",
                                  "syn-a-Q3_K_M.gguf", "syn-a-Q2_K.gguf"};
    for (size_t i = 0; i < JC_ARRAY_LEN(files); i++)
        CHECK(check_file(dir, files[i], ref) > 10);
    gguf_close(ref);
}

/*
 * janc's quantizer on syn-a-f32.gguf against llama.cpp's files made from
 * the same f32 model: every tensor gets the same type (the mix rules) and
 * the same bytes (the reference quantizers), general.file_type matches, and
 * every metadata key of llama.cpp's file is present.
 */
TEST(quantize_file_matches_llama_cpp)
{
    const char *dir = test_shared();
    if (!dir)
        exit(77);
    static const struct {
        const char *mix, *file;
    } cases[] = {{"Q8_0", "syn-a-Q8_0.gguf"},   {"Q4_0", "syn-a-Q4_0.gguf"},     {"Q4_K_M", "syn-a-Q4_K_M.gguf"},
                 {"Q6_K", "syn-a-Q6_K.gguf"},   {"Q5_K_M", "syn-a-Q5_K_M.gguf"}, {"Q3_K_M", "syn-a-Q3_K_M.gguf"},
                 {"Q2_K", "syn-a-Q2_K.gguf"},   {"F16", "syn-a-F16.gguf"}};
    char *tmp = test_tmpdir();
    char in[4200], out[4200], ref_path[4200];
    snprintf(in, sizeof in, "%s/models/syn-a-f32.gguf", dir);
    for (size_t c = 0; c < JC_ARRAY_LEN(cases); c++) {
        if (QT_SLOW && c != 0 && c != 2 && c != 5)
            continue; /* Q8_0, Q4_K_M, Q3_K_M only */
        const q_ftype *ft = q_ftype_find(cases[c].mix);
        REQUIRE(ft);
        snprintf(out, sizeof out, "%s/%s.gguf", tmp, cases[c].mix);
        snprintf(ref_path, sizeof ref_path, "%s/models/%s", dir, cases[c].file);
        jc_err err = {{0}};
        q_file_stats st;
        CHECKF(q_quantize_file(in, out, ft, 2, &st, &err) == 0, "%s: %s", cases[c].mix, err.msg);
        gguf_file *mine = gguf_open(out, &err), *ref = gguf_open(ref_path, &err);
        CHECKF(mine && ref, "%s", err.msg);
        if (!mine || !ref) {
            gguf_close(mine);
            gguf_close(ref);
            continue;
        }
        CHECK_EQ_INT(gguf_tensor_count(mine), gguf_tensor_count(ref));
        int same_type = 0, same_bytes = 0, total = 0;
        for (uint64_t i = 0; i < gguf_tensor_count(ref); i++) {
            const gguf_tensor *r = gguf_tensor_at(ref, i), *m = gguf_find_tensor(mine, r->name);
            total++;
            CHECKF(m != NULL, "%s: no tensor %s", cases[c].mix, r->name);
            if (!m)
                continue;
            CHECKF(m->type == r->type, "%s: %s is %s, llama.cpp made %s", cases[c].mix, r->name, ggml_type_name(m->type),
                   ggml_type_name(r->type));
            CHECK(m->n_dims == r->n_dims && !memcmp(m->ne, r->ne, sizeof m->ne));
            same_type += m->type == r->type;
            same_bytes += m->size == r->size && !memcmp(m->data, r->data, r->size);
        }
        uint64_t fa = 0, fb = 1;
        CHECK(gguf_get_u64(mine, "general.file_type", &fa) && gguf_get_u64(ref, "general.file_type", &fb));
        CHECKF(fa == fb, "%s: general.file_type %llu, llama.cpp %llu", cases[c].mix, (unsigned long long)fa,
               (unsigned long long)fb);
        for (uint64_t k = 0; k < gguf_kv_count(ref); k++) {
            gguf_str key = gguf_kv_key(ref, k);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)JC_MIN(key.len, 255), key.ptr);
            CHECKF(gguf_get(mine, name) != NULL, "%s: key %s missing", cases[c].mix, name);
        }
        fprintf(stderr, "    %-7s %d/%d tensors of llama.cpp's type, %d/%d byte-identical\n", cases[c].mix, same_type,
                total, same_bytes, total);
        CHECK(same_bytes == total);
        gguf_close(mine);
        gguf_close(ref);
        unlink(out);
    }
    rmdir(tmp);
    free(tmp);
}

TESTS(T(real_files_dequant_and_requant), T(quantize_file_matches_llama_cpp));
TEST_MAIN()
