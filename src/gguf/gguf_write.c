/*
 * gguf_write.c — the GGUF writer (layout in gguf.h). Used by the tests to
 * build files, and by import/quantize to write models.
 *
 * The writer keeps deep copies of keys and values (so a value read from
 * another file may be copied and that file closed) and references tensor
 * data. The alignment is general.alignment when that key holds an unsigned
 * integer (gguf_writer_set_alignment sets it; a copied key counts too), else
 * 32. Tensors are laid out in the order added, each at a multiple of the
 * alignment, padded with zeros; the file ends padded to the alignment, as
 * llama.cpp writes it. Tensor data NULL means zeros, written as a hole
 * (sparse) by gguf_writer_write — a janc extension, used by the benchmark.
 *
 * Setter calls cannot fail on their own: a bad argument (an alignment that is
 * not a power of two, an unknown value type, nesting deeper than the reader
 * accepts) is remembered and reported by gguf_writer_write/_to_memory.
 * Assumes a little-endian host (x86-64), as packed array data is copied as is.
 */
#include "gguf/gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer assumes a little-endian host"
#endif

/* The header (keys, values, tensor infos) may not exceed this. */
#define GGUF_MAX_HEADER ((size_t)1 << 34)

typedef struct wkv {
    char *key;
    gguf_value v; /* owns its strings and arrays */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[4];
    const void *data; /* referenced; NULL = zeros */
    uint64_t size, offset;
} wtensor;

struct gguf_writer {
    uint32_t version;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    jc_err bad; /* the first bad setter call, reported at write */
    bool is_bad;
};

static void mark_bad(gguf_writer *w, const char *fmt, ...) JC_PRINTF(2, 3);
static void mark_bad(gguf_writer *w, const char *fmt, ...)
{
    if (w->is_bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->bad.msg, sizeof w->bad.msg, fmt, ap);
    va_end(ap);
    w->is_bad = true;
}

/* ---- owned values ----------------------------------------------------- */

static void owned_free(gguf_value *v)
{
    if (v->type == GGUF_VT_STRING) {
        free((void *)v->s.ptr);
    } else if (v->type == GGUF_VT_ARRAY) {
        free((void *)v->arr.raw);
        if (v->arr.strs) {
            if (v->arr.n)
                free((void *)v->arr.strs[0].ptr); /* one block holds all the bytes */
            free(v->arr.strs);
        }
        if (v->arr.vals) {
            for (uint64_t i = 0; i < v->arr.n; i++)
                owned_free(&v->arr.vals[i]);
            free(v->arr.vals);
        }
    }
    memset(v, 0, sizeof *v);
}

static char *copy_bytes(const char *p, uint64_t n)
{
    char *c = jc_xmalloc((size_t)n + 1);
    if (n)
        memcpy(c, p, (size_t)n);
    c[n] = 0;
    return c;
}

/* Deep-copies src into dst (owned). Returns -1 if src is malformed (dst is then a valid empty value). */
static int owned_copy(gguf_writer *w, gguf_value *dst, const gguf_value *src, int depth)
{
    memset(dst, 0, sizeof *dst);
    if ((unsigned)src->type >= GGUF_VT_COUNT) {
        mark_bad(w, "value of unknown type %u", (unsigned)src->type);
        return -1;
    }
    dst->type = src->type;
    if (src->type == GGUF_VT_STRING) {
        dst->s.ptr = copy_bytes(src->s.ptr, src->s.len);
        dst->s.len = src->s.len;
        return 0;
    }
    if (src->type != GGUF_VT_ARRAY) {
        *dst = *src; /* a scalar: nothing to own */
        return 0;
    }
    enum gguf_vtype et = src->arr.type;
    uint64_t n = src->arr.n;
    if ((unsigned)et >= GGUF_VT_COUNT) {
        mark_bad(w, "array of unknown element type %u", (unsigned)et);
        return -1;
    }
    if (depth >= GGUF_MAX_DEPTH) {
        mark_bad(w, "arrays nested more than %d deep", GGUF_MAX_DEPTH);
        return -1;
    }
    dst->arr.type = et;
    uint32_t es = gguf_vtype_size(et);
    if (es) {
        uint64_t bytes;
        if (!jc_mul_ok(n, es, &bytes) || bytes > SIZE_MAX / 2) {
            mark_bad(w, "array of %" PRIu64 " elements is too large", n);
            return -1;
        }
        dst->arr.raw = (const uint8_t *)copy_bytes((const char *)src->arr.raw, bytes);
        dst->arr.n = n;
        return 0;
    }
    if (n == 0)
        return 0;
    if (et == GGUF_VT_STRING) {
        uint64_t total = 0;
        for (uint64_t i = 0; i < n; i++)
            total += src->arr.strs[i].len;
        char *block = jc_xmalloc((size_t)total + 1);
        gguf_str *s = jc_xmalloc((size_t)n * sizeof *s);
        uint64_t o = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (src->arr.strs[i].len)
                memcpy(block + o, src->arr.strs[i].ptr, (size_t)src->arr.strs[i].len);
            s[i].ptr = block + o;
            s[i].len = src->arr.strs[i].len;
            o += s[i].len;
        }
        dst->arr.strs = s;
        dst->arr.n = n;
        return 0;
    }
    dst->arr.vals = jc_xcalloc((size_t)n, sizeof *dst->arr.vals);
    dst->arr.n = n;
    for (uint64_t i = 0; i < n; i++) {
        if (src->arr.vals[i].type != GGUF_VT_ARRAY) {
            mark_bad(w, "element %" PRIu64 " of an array of arrays is not an array", i);
            return -1;
        }
        if (owned_copy(w, &dst->arr.vals[i], &src->arr.vals[i], depth + 1))
            return -1;
    }
    return 0;
}

/* ---- setters ---------------------------------------------------------- */

gguf_writer *gguf_writer_new(uint32_t version)
{
    gguf_writer *w = jc_xcalloc(1, sizeof *w);
    w->version = version;
    if (version != 2 && version != 3)
        mark_bad(w, "cannot write GGUF version %" PRIu32 " (only 2 and 3)", version);
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        owned_free(&w->kv[i].v);
    }
    free(w->kv);
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w);
}

/* The slot for key: an existing one (its old value freed) or a new one at the end. */
static gguf_value *slot(gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (!strcmp(w->kv[i].key, key)) {
            owned_free(&w->kv[i].v);
            return &w->kv[i].v;
        }
    }
    if (w->n_kv == w->cap_kv) {
        w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 16;
        w->kv = jc_xrealloc(w->kv, w->cap_kv * sizeof *w->kv);
    }
    wkv *e = &w->kv[w->n_kv++];
    e->key = jc_xstrdup(key);
    memset(&e->v, 0, sizeof e->v);
    return &e->v;
}

static void set_u(gguf_writer *w, const char *key, enum gguf_vtype t, uint64_t u)
{
    gguf_value *v = slot(w, key);
    v->type = t;
    v->u = u;
}

static void set_i(gguf_writer *w, const char *key, enum gguf_vtype t, int64_t i)
{
    gguf_value *v = slot(w, key);
    v->type = t;
    v->i = i;
}

void gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v) { set_u(w, key, GGUF_VT_UINT8, v); }
void gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v) { set_i(w, key, GGUF_VT_INT8, v); }
void gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v) { set_u(w, key, GGUF_VT_UINT16, v); }
void gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v) { set_i(w, key, GGUF_VT_INT16, v); }
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) { set_u(w, key, GGUF_VT_UINT32, v); }
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) { set_i(w, key, GGUF_VT_INT32, v); }
void gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) { set_u(w, key, GGUF_VT_UINT64, v); }
void gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v) { set_i(w, key, GGUF_VT_INT64, v); }

void gguf_writer_set_f32(gguf_writer *w, const char *key, float f)
{
    gguf_value *v = slot(w, key);
    v->type = GGUF_VT_FLOAT32;
    v->f = f;
}

void gguf_writer_set_f64(gguf_writer *w, const char *key, double f)
{
    gguf_value *v = slot(w, key);
    v->type = GGUF_VT_FLOAT64;
    v->f = f;
}

void gguf_writer_set_bool(gguf_writer *w, const char *key, bool b)
{
    gguf_value *v = slot(w, key);
    v->type = GGUF_VT_BOOL;
    v->b = b;
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *s)
{
    gguf_value src = {.type = GGUF_VT_STRING, .s = {s, strlen(s)}};
    owned_copy(w, slot(w, key), &src, 0);
}

void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment)
{
    if (!alignment || (alignment & (alignment - 1)) || alignment > (1u << 30))
        mark_bad(w, "alignment %" PRIu32 " is not a power of two from 1 to 2^30", alignment);
    gguf_writer_set_u32(w, "general.alignment", alignment);
}

void gguf_writer_set_arr(gguf_writer *w, const char *key, enum gguf_vtype t, const void *data, uint64_t n)
{
    if (!gguf_vtype_size(t)) {
        mark_bad(w, "%s: gguf_writer_set_arr takes numeric or bool elements, not %s", key, gguf_vtype_name(t));
        return;
    }
    gguf_value src = {.type = GGUF_VT_ARRAY, .arr = {.type = t, .n = n, .raw = data}};
    owned_copy(w, slot(w, key), &src, 0);
}

void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
    gguf_str *views = jc_xcalloc(n ? (size_t)n : 1, sizeof *views);
    for (uint64_t i = 0; i < n; i++)
        views[i] = (gguf_str){strs[i], strlen(strs[i])};
    gguf_value src = {.type = GGUF_VT_ARRAY, .arr = {.type = GGUF_VT_STRING, .n = n, .strs = views}};
    owned_copy(w, slot(w, key), &src, 0);
    free(views);
}

void gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v)
{
    bool was_bad = w->is_bad;
    if (owned_copy(w, slot(w, key), v, 0) && !was_bad)
        jc_err_prefix(&w->bad, "key '%s'", key);
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne,
                           const void *data, uint64_t size, jc_err *err)
{
    const ggml_type_info *ti = ggml_type_get(type);
    if (!*name)
        return jc_errf(err, "a tensor needs a name");
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return jc_errf(err, "tensor '%s' is added twice", name);
    if (!ti)
        return jc_errf(err, "tensor '%s': unknown type id %" PRIu32, name, type);
    if (n_dims < 1 || n_dims > 4)
        return jc_errf(err, "tensor '%s': n_dims %" PRIu32 " is not 1 to 4", name, n_dims);
    uint64_t rows = 1, row_bytes, want;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] < 0)
            return jc_errf(err, "tensor '%s': ne[%" PRIu32 "] = %" PRId64 " is negative", name, d, ne[d]);
    for (uint32_t d = 1; d < n_dims; d++)
        if (!jc_mul_ok(rows, (uint64_t)ne[d], &rows))
            return jc_errf(err, "tensor '%s': too many elements", name);
    if (!ggml_row_size(type, (uint64_t)ne[0], &row_bytes))
        return jc_errf(err, "tensor '%s': ne[0] = %" PRId64 " is not a multiple of the block size %" PRIu32 " of %s",
                       name, ne[0], ti->blck_size, ti->name);
    if (!jc_mul_ok(row_bytes, rows, &want) || want != size)
        return jc_errf(err, "tensor '%s': %" PRIu64 " bytes given, %s of this shape takes %" PRIu64, name, size, ti->name,
                       want);
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? 2 * w->cap_t : 16;
        w->t = jc_xrealloc(w->t, w->cap_t * sizeof *w->t);
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = jc_xstrdup(name);
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < 4; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->size = size;
    return 0;
}

/* ---- serialising ------------------------------------------------------ */

static int put(jc_buf *b, const void *p, size_t n) { return jc_buf_append(b, p, n); }
static int put32(jc_buf *b, uint32_t v) { return put(b, &v, 4); }
static int put64(jc_buf *b, uint64_t v) { return put(b, &v, 8); }
static int put_str(jc_buf *b, const char *p, uint64_t n) { return put64(b, n) || put(b, p, (size_t)n); }

static int put_array_body(jc_buf *b, const gguf_value *v)
{
    if (put32(b, v->arr.type) || put64(b, v->arr.n))
        return -1;
    uint32_t es = gguf_vtype_size(v->arr.type);
    if (es)
        return v->arr.n ? put(b, v->arr.raw, (size_t)(v->arr.n * es)) : 0;
    for (uint64_t i = 0; i < v->arr.n; i++) {
        int rc = v->arr.type == GGUF_VT_STRING ? put_str(b, v->arr.strs[i].ptr, v->arr.strs[i].len)
                                               : put_array_body(b, &v->arr.vals[i]);
        if (rc)
            return -1;
    }
    return 0;
}

static int put_value(jc_buf *b, const gguf_value *v)
{
    switch (v->type) {
    case GGUF_VT_UINT8:
    case GGUF_VT_INT8: return put(b, &v->u, 1);
    case GGUF_VT_UINT16:
    case GGUF_VT_INT16: return put(b, &v->u, 2);
    case GGUF_VT_UINT32:
    case GGUF_VT_INT32: return put(b, &v->u, 4);
    case GGUF_VT_UINT64:
    case GGUF_VT_INT64: return put(b, &v->u, 8);
    case GGUF_VT_FLOAT32: {
        float f = (float)v->f;
        return put(b, &f, 4);
    }
    case GGUF_VT_FLOAT64: return put(b, &v->f, 8);
    case GGUF_VT_BOOL: {
        uint8_t c = v->b ? 1 : 0;
        return put(b, &c, 1);
    }
    case GGUF_VT_STRING: return put_str(b, v->s.ptr, v->s.len);
    case GGUF_VT_ARRAY: return put_array_body(b, v);
    default: return -1;
    }
}

/*
 * Lays out the tensors and builds the header (everything before the data
 * section, padding included) into b. *total gets the file size.
 */
static int build_header(gguf_writer *w, jc_buf *b, uint64_t *total, jc_err *err)
{
    if (w->is_bad)
        return jc_errf(err, "%s", w->bad.msg);
    uint64_t align = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        const gguf_value *v = &w->kv[i].v;
        if (strcmp(w->kv[i].key, "general.alignment"))
            continue;
        bool uint = v->type == GGUF_VT_UINT8 || v->type == GGUF_VT_UINT16 || v->type == GGUF_VT_UINT32 ||
                    v->type == GGUF_VT_UINT64;
        if (!uint || !v->u || (v->u & (v->u - 1)) || v->u > (1u << 30))
            return jc_errf(err, "general.alignment must be a power of two from 1 to 2^30");
        align = v->u;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        if (!jc_add_ok(off, w->t[i].size, &off) || !jc_add_ok(off, align - 1, &off))
            return jc_errf(err, "the tensor data is too large");
        off = off / align * align;
    }
    jc_buf_init(b, GGUF_MAX_HEADER);
    int rc = put(b, GGUF_MAGIC, 4) || put32(b, w->version) || put64(b, w->n_t) || put64(b, w->n_kv);
    for (size_t i = 0; !rc && i < w->n_kv; i++)
        rc = put_str(b, w->kv[i].key, strlen(w->kv[i].key)) || put32(b, w->kv[i].v.type) || put_value(b, &w->kv[i].v);
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        rc = put_str(b, t->name, strlen(t->name)) || put32(b, t->n_dims);
        for (uint32_t d = 0; !rc && d < t->n_dims; d++)
            rc = put64(b, (uint64_t)t->ne[d]);
        rc = rc || put32(b, t->type) || put64(b, t->offset);
    }
    static const uint8_t zeros[64];
    while (!rc && w->n_t && b->len % align)
        rc = put(b, zeros, (size_t)JC_MIN(sizeof zeros, align - b->len % align));
    if (rc) {
        jc_buf_free(b);
        return jc_errf(err, "the GGUF header would exceed %zu bytes", (size_t)GGUF_MAX_HEADER);
    }
    *total = b->len + off;
    return 0;
}

int gguf_writer_to_memory(gguf_writer *w, uint8_t **out, size_t *size, jc_err *err)
{
    jc_buf b;
    uint64_t total;
    *out = NULL;
    *size = 0;
    if (build_header(w, &b, &total, err))
        return -1;
    uint8_t *p = total <= SIZE_MAX ? jc_try_calloc((size_t)total ? (size_t)total : 1, 1, err) : NULL;
    if (!p) {
        jc_buf_free(&b);
        return total <= SIZE_MAX ? -1 : jc_errf(err, "a GGUF image of %" PRIu64 " bytes does not fit in memory", total);
    }
    memcpy(p, b.data, b.len);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].data && w->t[i].size)
            memcpy(p + b.len + w->t[i].offset, w->t[i].data, (size_t)w->t[i].size);
    *out = p;
    *size = (size_t)total;
    jc_buf_free(&b);
    return 0;
}

/* pwrite all of it, in chunks, retrying on EINTR. */
static int pwrite_all(int fd, const void *p, uint64_t n, uint64_t off, const char *path, jc_err *err)
{
    const char *c = p;
    while (n) {
        size_t chunk = (size_t)JC_MIN(n, (uint64_t)1 << 30);
        ssize_t k = pwrite(fd, c, chunk, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return jc_errf(err, "%s: write: %s", path, k < 0 ? strerror(errno) : "no progress");
        c += k;
        n -= (uint64_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

int gguf_writer_write(gguf_writer *w, const char *path, jc_err *err)
{
    jc_buf b = {0};
    uint64_t total;
    jc_atomic a;
    if (build_header(w, &b, &total, err))
        return -1;
    if (jc_atomic_begin(&a, path, 0644, err)) {
        jc_buf_free(&b);
        return -1;
    }
    if (pwrite_all(a.fd, b.data, b.len, 0, a.tmp, err))
        goto fail;
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].data && pwrite_all(a.fd, w->t[i].data, w->t[i].size, b.len + w->t[i].offset, a.tmp, err))
            goto fail;
    /* zeros (padding, NULL data) are holes; ftruncate sets the final size */
    if (ftruncate(a.fd, (off_t)total) < 0) {
        jc_errf(err, "%s: %s", a.tmp, strerror(errno));
        goto fail;
    }
    jc_buf_free(&b);
    return jc_atomic_commit(&a, err);
fail:
    jc_atomic_abort(&a);
    jc_buf_free(&b);
    return -1;
}
