/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader: gguf_open_memory on
 * the input, then a walk over everything a caller can reach (every key and
 * value, nested arrays, every element through the typed accessors, every
 * tensor's name, shape and data bytes), so ASan sees any view that points
 * outside the input. Seeds: fuzz/corpus/gguf/ (tiny files from janc's writer,
 * made by `bench_gguf --seeds fuzz/corpus/gguf`, built from bench/).
 */
#include "gguf/gguf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t walk_value(const gguf_value *v, int depth)
{
    uint64_t h = (uint64_t)v->type;
    if (v->type == GGUF_VT_STRING) {
        for (uint64_t i = 0; i < v->s.len; i++)
            h = h * 31 + (uint8_t)v->s.ptr[i];
        return h;
    }
    if (v->type != GGUF_VT_ARRAY)
        return h + v->u;
    if (depth > 64)
        abort(); /* the reader promises a bounded depth */
    for (uint64_t i = 0; i < v->arr.n; i++) {
        if (v->arr.type == GGUF_VT_STRING) {
            gguf_str s = gguf_arr_str(v, i);
            h += s.len ? (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1] : 0;
        } else if (v->arr.type == GGUF_VT_ARRAY) {
            h += walk_value(&v->arr.vals[i], depth + 1);
        } else {
            h += (uint64_t)gguf_arr_i64(v, i);
            double d = gguf_arr_f64(v, i);
            h += d == d ? 1 : 0;
        }
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(data, size, &err);
    if (!f) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    volatile uint64_t h = gguf_version(f) + gguf_alignment(f) + gguf_data_offset(f);
    for (uint64_t i = 0; i < gguf_kv_count(f); i++) {
        gguf_str k = gguf_kv_key(f, i);
        char key[256];
        size_t n = k.len < sizeof key - 1 ? (size_t)k.len : sizeof key - 1;
        memcpy(key, k.ptr, n);
        key[n] = 0;
        h += walk_value(gguf_kv_value(f, i), 0);
        uint64_t u;
        int64_t s;
        double d;
        bool b;
        gguf_str str;
        h += gguf_get_u64(f, key, &u) + gguf_get_i64(f, key, &s) + gguf_get_f64(f, key, &d) +
             gguf_get_bool(f, key, &b) + gguf_get_str(f, key, &str);
        free(gguf_get_strdup(f, key));
        h += gguf_get_arr(f, key, GGUF_VT_COUNT) != NULL;
    }
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (gguf_find_tensor(f, t->name) != t)
            abort();
        const uint8_t *p = t->data;
        if (p < data || t->size > size || p + t->size > data + size)
            abort();
        if (t->size)
            h += p[0] + p[t->size - 1];
        h += gguf_tensor_nelems(t) + strlen(t->name);
    }
    (void)h;
    gguf_close(f);
    return 0;
}
