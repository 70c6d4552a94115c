/*
 * gguf.c — the GGUF reader: parses and validates a mapped GGUF v2/v3 image
 * (layout in gguf.h) into key/value views and a tensor table, and the
 * getters over them. Split models are merged by gguf_split.c.
 *
 * Validation, in file order: magic, version (2 or 3; 1 and big-endian files
 * are refused by name), counts bounded by what the rest of the file could
 * hold (before anything is allocated), every key and value (types known,
 * lengths within the file, arrays nested at most GGUF_MAX_DEPTH deep, no
 * duplicate keys), general.alignment (an integer, a nonzero power of two),
 * then the tensor infos (name non-empty without NUL bytes and unique,
 * n_dims 1..4, each ne in 0..INT64_MAX with an overflow-free product, known
 * type, ne[0] a multiple of its block size, offset a multiple of the
 * alignment, data inside the file, no two tensors overlapping).
 *
 * Every error names the file and the byte offset of the field at fault.
 * Allocation: one array of key views, one of values, one of tensor infos,
 * one block for tensor names, one gguf_str array per string array and one
 * gguf_value array per array of arrays; nothing per element.
 */
#include "gguf/gguf_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const uint32_t vtype_size[GGUF_VT_COUNT] = {
    [GGUF_VT_UINT8] = 1, [GGUF_VT_INT8] = 1,    [GGUF_VT_UINT16] = 2,  [GGUF_VT_INT16] = 2,
    [GGUF_VT_UINT32] = 4, [GGUF_VT_INT32] = 4,  [GGUF_VT_FLOAT32] = 4, [GGUF_VT_BOOL] = 1,
    [GGUF_VT_STRING] = 0, [GGUF_VT_ARRAY] = 0,  [GGUF_VT_UINT64] = 8,  [GGUF_VT_INT64] = 8,
    [GGUF_VT_FLOAT64] = 8,
};

static const char *const vtype_names[GGUF_VT_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};

uint32_t gguf_vtype_size(enum gguf_vtype t)
{
    return (unsigned)t < GGUF_VT_COUNT ? vtype_size[t] : 0;
}

const char *gguf_vtype_name(enum gguf_vtype t)
{
    return (unsigned)t < GGUF_VT_COUNT ? vtype_names[t] : "unknown";
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t gguf_hash(const void *p, uint64_t n, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return mix64(h ^ seed);
}

/* ---- the cursor ------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    uint64_t size, off;
    const char *name;
    jc_err *err;
} rd;

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Copies a name (key or tensor) into buf for a message: printable ASCII, cut at 80 bytes. */
static const char *show(char *buf, size_t cap, const char *p, uint64_t n)
{
    size_t o = 0;
    for (uint64_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (i == 80) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

static int rd_fail(rd *r, uint64_t off, const char *fmt, ...) JC_PRINTF(3, 4);
static int rd_fail(rd *r, uint64_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jc_errf(r->err, "%s: offset %" PRIu64 ": %s", r->name, off, msg);
}

/* Ensures n bytes remain; what names the field ("the version", "the type of key 'x'"). */
static int rd_need(rd *r, uint64_t n, const char *what)
{
    if (n > r->size - r->off)
        return rd_fail(r, r->off, "%s (%" PRIu64 " bytes) runs past the end of the file (size %" PRIu64 ")", what,
                       n, r->size);
    return 0;
}

static int rd_u32(rd *r, uint32_t *v, const char *what)
{
    if (rd_need(r, 4, what))
        return -1;
    *v = le32(r->p + r->off);
    r->off += 4;
    return 0;
}

static int rd_u64(rd *r, uint64_t *v, const char *what)
{
    if (rd_need(r, 8, what))
        return -1;
    *v = le64(r->p + r->off);
    r->off += 8;
    return 0;
}

/*
 * Reads a string. ctx names its owner; idx is the array element index or
 * UINT64_MAX. Only builds a message on failure (this runs per token).
 */
static int rd_str(rd *r, gguf_str *s, const char *ctx, uint64_t idx)
{
    uint64_t at = r->off;
    char el[48] = "";
    if (r->size - r->off < 8 || le64(r->p + r->off) > r->size - r->off - 8) {
        if (idx != UINT64_MAX)
            snprintf(el, sizeof el, " element %" PRIu64, idx);
        if (r->size - r->off < 8)
            return rd_fail(r, at, "%s%s: string length runs past the end of the file (size %" PRIu64 ")", ctx, el,
                           r->size);
        return rd_fail(r, at, "%s%s: string length %" PRIu64 " runs past the end of the file (size %" PRIu64 ")",
                       ctx, el, le64(r->p + r->off), r->size);
    }
    s->len = le64(r->p + r->off);
    s->ptr = (const char *)r->p + r->off + 8;
    r->off += 8 + s->len;
    return 0;
}

/* ---- values ----------------------------------------------------------- */

static void val_free(gguf_value *v)
{
    if (v->type != GGUF_VT_ARRAY)
        return;
    if (v->arr.type == GGUF_VT_STRING)
        free(v->arr.strs);
    if (v->arr.type == GGUF_VT_ARRAY && v->arr.vals) {
        for (uint64_t i = 0; i < v->arr.n; i++)
            val_free(&v->arr.vals[i]);
        free(v->arr.vals);
    }
    v->arr.strs = NULL;
    v->arr.vals = NULL;
}

static int parse_array(rd *r, gguf_value *v, int depth, const char *ctx);

/* Reads a scalar (or array) value of type t at the cursor into v. */
static int parse_value(rd *r, enum gguf_vtype t, gguf_value *v, int depth, const char *ctx)
{
    char what[200];
    v->type = t;
    uint32_t sz = vtype_size[t];
    if (sz) {
        snprintf(what, sizeof what, "%s: %s value", ctx, vtype_names[t]);
        if (rd_need(r, sz, what))
            return -1;
    }
    const uint8_t *p = r->p + r->off;
    r->off += sz;
    switch (t) {
    case GGUF_VT_UINT8: v->u = p[0]; break;
    case GGUF_VT_INT8: v->i = (int8_t)p[0]; break;
    case GGUF_VT_UINT16: v->u = le16(p); break;
    case GGUF_VT_INT16: v->i = (int16_t)le16(p); break;
    case GGUF_VT_UINT32: v->u = le32(p); break;
    case GGUF_VT_INT32: v->i = (int32_t)le32(p); break;
    case GGUF_VT_UINT64: v->u = le64(p); break;
    case GGUF_VT_INT64: v->i = (int64_t)le64(p); break;
    case GGUF_VT_BOOL: v->b = p[0] != 0; break;
    case GGUF_VT_FLOAT32: {
        uint32_t b = le32(p);
        float x;
        memcpy(&x, &b, 4);
        v->f = x;
        break;
    }
    case GGUF_VT_FLOAT64: {
        uint64_t b = le64(p);
        memcpy(&v->f, &b, 8);
        break;
    }
    case GGUF_VT_STRING: return rd_str(r, &v->s, ctx, UINT64_MAX);
    case GGUF_VT_ARRAY: return parse_array(r, v, depth, ctx);
    default: return rd_fail(r, r->off, "%s: unknown value type %u", ctx, (unsigned)t);
    }
    return 0;
}

/* Reads element type, count and elements of an array at the cursor into v (v->type already ARRAY). */
static int parse_array(rd *r, gguf_value *v, int depth, const char *ctx)
{
    char what[200];
    uint64_t at = r->off;
    uint32_t et;
    uint64_t n;
    memset(&v->arr, 0, sizeof v->arr);
    if (depth >= GGUF_MAX_DEPTH)
        return rd_fail(r, at, "%s: arrays nested more than %d deep", ctx, GGUF_MAX_DEPTH);
    snprintf(what, sizeof what, "%s: array element type", ctx);
    if (rd_u32(r, &et, what))
        return -1;
    if (et >= GGUF_VT_COUNT)
        return rd_fail(r, at, "%s: unknown array element type %" PRIu32, ctx, et);
    snprintf(what, sizeof what, "%s: array count", ctx);
    if (rd_u64(r, &n, what))
        return -1;
    uint64_t rem = r->size - r->off;
    uint32_t es = vtype_size[et];
    /* the least bytes one element can take */
    uint64_t min = es ? es : et == GGUF_VT_STRING ? 8 : 12;
    if (n > rem / min)
        return rd_fail(r, at + 4,
                       "%s: array of %" PRIu64 " %s elements (at least %" PRIu64
                       " bytes each) runs past the end of the file (size %" PRIu64 ")",
                       ctx, n, vtype_names[et], min, r->size);
    v->arr.type = (enum gguf_vtype)et;
    if (es) {
        v->arr.n = n;
        v->arr.raw = r->p + r->off;
        r->off += n * es;
        return 0;
    }
    if (n == 0)
        return 0;
    if (et == GGUF_VT_STRING) {
        gguf_str *s = jc_try_malloc(n * sizeof *s, r->err);
        if (!s)
            return -1;
        v->arr.strs = s;
        v->arr.n = n;
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(r, &s[i], ctx, i))
                return -1;
        return 0;
    }
    gguf_value *vals = jc_try_calloc(n, sizeof *vals, r->err);
    if (!vals)
        return -1;
    v->arr.vals = vals;
    v->arr.n = n;
    for (uint64_t i = 0; i < n; i++) {
        vals[i].type = GGUF_VT_ARRAY;
        if (parse_array(r, &vals[i], depth + 1, ctx))
            return -1;
    }
    return 0;
}

/* ---- name index ------------------------------------------------------- */

static int index_init(gguf_index *ix, uint64_t n, jc_err *err)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    free(ix->slots);
    if (!ix->seed)
        ix->seed = mix64((uint64_t)(jc_now() * 1e9) ^ (uint64_t)(uintptr_t)ix) | 1;
    ix->slots = jc_try_calloc(cap, sizeof *ix->slots, err);
    ix->cap = ix->slots ? cap : 0;
    return ix->slots ? 0 : -1;
}

/*
 * Inserts entry i under name (p, n), unless the name is there already:
 * returns the existing index + 1 then, else 0. get(i) yields entry i's name.
 */
typedef gguf_str (*index_name_fn)(const gguf_file *f, uint64_t i);

static uint64_t index_put(gguf_index *ix, const gguf_file *f, index_name_fn get, uint64_t i, gguf_str name)
{
    uint64_t m = ix->cap - 1, h = gguf_hash(name.ptr, name.len, ix->seed) & m;
    for (;; h = (h + 1) & m) {
        uint64_t s = ix->slots[h];
        if (!s) {
            ix->slots[h] = i + 1;
            return 0;
        }
        gguf_str o = get(f, s - 1);
        if (o.len == name.len && (name.len == 0 || !memcmp(o.ptr, name.ptr, name.len)))
            return s;
    }
}

/* Index of name, or UINT64_MAX. */
static uint64_t index_find(const gguf_index *ix, const gguf_file *f, index_name_fn get, const char *name)
{
    if (!ix->cap)
        return UINT64_MAX;
    size_t n = strlen(name);
    uint64_t m = ix->cap - 1, h = gguf_hash(name, n, ix->seed) & m;
    for (;; h = (h + 1) & m) {
        uint64_t s = ix->slots[h];
        if (!s)
            return UINT64_MAX;
        gguf_str o = get(f, s - 1);
        if (o.len == n && (n == 0 || !memcmp(o.ptr, name, n)))
            return s - 1;
    }
}

static gguf_str key_name(const gguf_file *f, uint64_t i) { return f->keys[i]; }

static gguf_str tensor_name(const gguf_file *f, uint64_t i)
{
    return (gguf_str){f->tensors[i].name, strlen(f->tensors[i].name)};
}

int gguf_build_tensor_index(gguf_file *f, jc_err *err)
{
    if (index_init(&f->t_index, f->n_tensors, err))
        return -1;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t prev = index_put(&f->t_index, f, tensor_name, i, tensor_name(f, i));
        if (prev) {
            char b[400];
            const gguf_tensor *t = &f->tensors[i];
            return jc_errf(err, "%s: duplicate tensor name '%s' (tensors %" PRIu64 " and %" PRIu64 ")", f->name,
                           show(b, sizeof b, t->name, strlen(t->name)), prev - 1, i);
        }
    }
    return 0;
}

/* ---- parsing a file --------------------------------------------------- */

typedef struct span {
    uint64_t off, end, idx;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : 0;
}

static int parse_header(gguf_file *f, rd *r, uint64_t *n_tensors, uint64_t *n_kv)
{
    if (r->size < 4)
        return rd_fail(r, 0, "file is %" PRIu64 " bytes, too short for the GGUF magic", r->size);
    if (memcmp(r->p, GGUF_MAGIC, 4)) {
        char b[40];
        return rd_fail(r, 0, "bad magic '%s' (a GGUF file starts with 'GGUF')", show(b, sizeof b, (const char *)r->p, 4));
    }
    r->off = 4;
    if (rd_u32(r, &f->version, "the version"))
        return -1;
    uint32_t v = f->version;
    if (v == 1)
        return rd_fail(r, 4, "GGUF version 1 is not supported (only versions 2 and 3)");
    if ((v & 0xffff) == 0 && __builtin_bswap32(v) >= 1 && __builtin_bswap32(v) <= 3)
        return rd_fail(r, 4, "big-endian GGUF file (version %" PRIu32 " byte-swapped); only little-endian files are supported",
                       __builtin_bswap32(v));
    if (v != 2 && v != 3)
        return rd_fail(r, 4, "unsupported GGUF version %" PRIu32 " (only versions 2 and 3)", v);
    if (rd_u64(r, n_tensors, "the tensor count") || rd_u64(r, n_kv, "the key count"))
        return -1;
    /* a tensor info takes at least 32 bytes, a key/value pair at least 13 */
    uint64_t rem = r->size - r->off;
    if (*n_tensors > rem / 32)
        return rd_fail(r, 8, "tensor count %" PRIu64 " is impossible in a file of %" PRIu64 " bytes", *n_tensors,
                       r->size);
    if (*n_kv > rem / 13)
        return rd_fail(r, 16, "key count %" PRIu64 " is impossible in a file of %" PRIu64 " bytes", *n_kv, r->size);
    return 0;
}

static int parse_kv(gguf_file *f, rd *r, uint64_t n_kv)
{
    char ctx[200], b[400];
    f->keys = jc_try_calloc(n_kv, sizeof *f->keys, r->err);
    f->vals = jc_try_calloc(n_kv, sizeof *f->vals, r->err);
    if (!f->keys || !f->vals || index_init(&f->kv_index, n_kv, r->err))
        return -1;
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t at = r->off;
        snprintf(ctx, sizeof ctx, "key %" PRIu64, i);
        if (rd_str(r, &f->keys[i], ctx, UINT64_MAX))
            return -1;
        snprintf(ctx, sizeof ctx, "key '%s'", show(b, sizeof b, f->keys[i].ptr, f->keys[i].len));
        f->n_kv = i + 1; /* from here on val i is freed by gguf_close */
        uint64_t prev = index_put(&f->kv_index, f, key_name, i, f->keys[i]);
        if (prev)
            return rd_fail(r, at, "duplicate %s (also key %" PRIu64 ")", ctx, prev - 1);
        uint64_t tat = r->off;
        uint32_t t;
        char what[240];
        snprintf(what, sizeof what, "the value type of %s", ctx);
        if (rd_u32(r, &t, what))
            return -1;
        if (t >= GGUF_VT_COUNT)
            return rd_fail(r, tat, "%s: unknown value type %" PRIu32, ctx, t);
        if (parse_value(r, (enum gguf_vtype)t, &f->vals[i], 0, ctx))
            return -1;
    }
    return 0;
}

static int check_alignment(gguf_file *f, rd *r)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    uint64_t i = index_find(&f->kv_index, f, key_name, "general.alignment");
    if (i == UINT64_MAX)
        return 0;
    const gguf_value *v = &f->vals[i];
    uint64_t a;
    if (!gguf_get_u64(f, "general.alignment", &a))
        return jc_errf(r->err, "%s: general.alignment is a %s, not an unsigned integer", f->name,
                       vtype_names[v->type]);
    if (a == 0 || (a & (a - 1)) || a > (1u << 30))
        return jc_errf(r->err, "%s: general.alignment %" PRIu64 " is not a power of two from 1 to 2^30", f->name, a);
    f->alignment = (uint32_t)a;
    return 0;
}

/* Reads one tensor info into t; name goes to *name_out (a view into the file). */
static int parse_tensor_info(gguf_file *f, rd *r, uint64_t i, gguf_tensor *t, gguf_str *name)
{
    char ctx[200], b[400], what[240];
    uint64_t at = r->off;
    snprintf(ctx, sizeof ctx, "tensor %" PRIu64 " name", i);
    if (rd_str(r, name, ctx, UINT64_MAX))
        return -1;
    if (name->len == 0)
        return rd_fail(r, at, "tensor %" PRIu64 " has an empty name", i);
    if (memchr(name->ptr, 0, name->len))
        return rd_fail(r, at, "tensor %" PRIu64 " name contains a NUL byte", i);
    snprintf(ctx, sizeof ctx, "tensor '%s'", show(b, sizeof b, name->ptr, name->len));
    uint64_t dat = r->off;
    snprintf(what, sizeof what, "%s: n_dims", ctx);
    if (rd_u32(r, &t->n_dims, what))
        return -1;
    if (t->n_dims < 1 || t->n_dims > 4)
        return rd_fail(r, dat, "%s: n_dims %" PRIu32 " is not 1 to 4", ctx, t->n_dims);
    for (uint32_t d = 0; d < 4; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne, nat = r->off;
        snprintf(what, sizeof what, "%s: ne[%" PRIu32 "]", ctx, d);
        if (rd_u64(r, &ne, what))
            return -1;
        if (ne > INT64_MAX)
            return rd_fail(r, nat, "%s: ne[%" PRIu32 "] = %" PRIu64 " is negative as a signed 64-bit count", ctx, d, ne);
        t->ne[d] = (int64_t)ne;
    }
    uint64_t tat = r->off;
    snprintf(what, sizeof what, "%s: type", ctx);
    if (rd_u32(r, &t->type, what))
        return -1;
    const ggml_type_info *ti = ggml_type_get(t->type);
    if (!ti)
        return rd_fail(r, tat, "%s: unknown tensor type id %" PRIu32, ctx, t->type);
    uint64_t oat = r->off;
    snprintf(what, sizeof what, "%s: data offset", ctx);
    if (rd_u64(r, &t->offset, what))
        return -1;
    uint64_t rows = 1, total = (uint64_t)t->ne[0];
    for (uint32_t d = 1; d < 4; d++) {
        if (!jc_mul_ok(rows, (uint64_t)t->ne[d], &rows) || rows > INT64_MAX ||
            !jc_mul_ok(total, (uint64_t)t->ne[d], &total) || total > INT64_MAX)
            return rd_fail(r, dat,
                           "%s: the product of its dimensions (%" PRId64 " x %" PRId64 " x %" PRId64 " x %" PRId64
                           ") overflows",
                           ctx, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
    }
    uint64_t row_bytes;
    if (!ggml_row_size(t->type, (uint64_t)t->ne[0], &row_bytes))
        return rd_fail(r, dat, "%s: ne[0] = %" PRId64 " is not a multiple of the block size %" PRIu32 " of %s", ctx,
                       t->ne[0], ti->blck_size, ti->name);
    if (!jc_mul_ok(row_bytes, rows, &t->size))
        return rd_fail(r, dat, "%s: its size in bytes overflows", ctx);
    if (t->offset % f->alignment)
        return rd_fail(r, oat, "%s: data offset %" PRIu64 " is not a multiple of the alignment %" PRIu32, ctx,
                       t->offset, f->alignment);
    return 0;
}

static int parse_tensors(gguf_file *f, rd *r, uint64_t n)
{
    char b[400], b2[400];
    int rc = -1;
    gguf_str *names = NULL;
    uint64_t *info_at = NULL;
    span *spans = NULL;
    f->tensors = jc_try_calloc(n, sizeof *f->tensors, r->err);
    names = jc_try_calloc(n, sizeof *names, r->err);
    info_at = jc_try_calloc(n, sizeof *info_at, r->err);
    if (!f->tensors || !names || !info_at)
        goto out;
    uint64_t name_bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        info_at[i] = r->off;
        if (parse_tensor_info(f, r, i, &f->tensors[i], &names[i]))
            goto out;
        name_bytes += names[i].len + 1; /* bounded by the file size */
    }
    f->names = jc_try_malloc(name_bytes, r->err);
    if (!f->names)
        goto out;
    char *np = f->names;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(np, names[i].ptr, names[i].len);
        np[names[i].len] = 0;
        f->tensors[i].name = np;
        np += names[i].len + 1;
    }
    f->n_tensors = n;
    if (gguf_build_tensor_index(f, r->err))
        goto out;

    /* the data section starts at the next multiple of the alignment */
    uint64_t a = f->alignment;
    f->data_offset = (r->off + a - 1) / a * a;
    if (n && f->data_offset > r->size) {
        rd_fail(r, r->off, "the data section (aligned to %" PRIu32 ") starts past the end of the file (size %" PRIu64 ")",
                f->alignment, r->size);
        goto out;
    }
    uint64_t room = r->size - (n ? f->data_offset : 0);
    uint64_t ns = 0;
    spans = jc_try_calloc(n, sizeof *spans, r->err);
    if (!spans)
        goto out;
    for (uint64_t i = 0; i < n; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > room) {
            rd_fail(r, info_at[i], "tensor '%s': data offset %" PRIu64 " is past the end of the file (size %" PRIu64 ")",
                    show(b, sizeof b, t->name, strlen(t->name)), t->offset, r->size);
            goto out;
        }
        if (t->size > room - t->offset) {
            rd_fail(r, info_at[i],
                    "tensor '%s': %" PRIu64 " bytes of %s data at file offset %" PRIu64
                    " run past the end of the file (size %" PRIu64 ")",
                    show(b, sizeof b, t->name, strlen(t->name)), t->size, ggml_type_name(t->type),
                    f->data_offset + t->offset, r->size);
            goto out;
        }
        t->data = r->p + f->data_offset + t->offset;
        if (t->size)
            spans[ns++] = (span){t->offset, t->offset + t->size, i};
    }
    qsort(spans, ns, sizeof *spans, span_cmp);
    for (uint64_t k = 1; k < ns; k++) {
        if (spans[k].off < spans[k - 1].end) {
            const gguf_tensor *x = &f->tensors[spans[k - 1].idx], *y = &f->tensors[spans[k].idx];
            rd_fail(r, info_at[spans[k].idx],
                    "tensors '%s' (data %" PRIu64 "..%" PRIu64 ") and '%s' (data %" PRIu64 "..%" PRIu64 ") overlap",
                    show(b, sizeof b, x->name, strlen(x->name)), x->offset, x->offset + x->size,
                    show(b2, sizeof b2, y->name, strlen(y->name)), y->offset, y->offset + y->size);
            goto out;
        }
    }
    rc = 0;
out:
    free(names);
    free(info_at);
    free(spans);
    return rc;
}

/* Parses f->buf / f->size into f. */
static int parse(gguf_file *f, jc_err *err)
{
    rd r = {.p = f->buf, .size = f->size, .off = 0, .name = f->name, .err = err};
    uint64_t n_tensors, n_kv;
    if (parse_header(f, &r, &n_tensors, &n_kv) || parse_kv(f, &r, n_kv) || check_alignment(f, &r) ||
        parse_tensors(f, &r, n_tensors))
        return -1;
    f->n_shards = 1;
    f->total_size = f->size;
    return 0;
}

gguf_file *gguf_open_memory(const void *buf, size_t size, jc_err *err)
{
    gguf_file *f = jc_xcalloc(1, sizeof *f);
    f->name = jc_xstrdup("<memory>");
    f->buf = buf;
    f->size = size;
    if (parse(f, err)) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

gguf_file *gguf_open_one(const char *path, jc_err *err)
{
    /* refuse FIFOs and devices before open() could block on them */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        jc_errf(err, "%s: not a regular file", path);
        return NULL;
    }
    gguf_file *f = jc_xcalloc(1, sizeof *f);
    f->name = jc_xstrdup(path);
    if (jc_map_open(&f->map, path, err) || parse((f->buf = f->map.data, f->size = f->map.size, f), err)) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

gguf_file *gguf_open(const char *path, jc_err *err)
{
    gguf_file *f = gguf_open_one(path, err);
    if (f && gguf_split_load(f, path, err)) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    for (uint32_t i = 0; f->shards && i + 1 < f->n_shards; i++)
        gguf_close(f->shards[i]);
    free(f->shards);
    for (uint64_t i = 0; i < f->n_kv; i++)
        val_free(&f->vals[i]);
    free(f->keys);
    free(f->vals);
    free(f->kv_index.slots);
    free(f->tensors);
    free(f->names);
    free(f->t_index.slots);
    jc_map_close(&f->map);
    free(f->name);
    free(f);
}

/* ---- getters ---------------------------------------------------------- */

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint32_t gguf_n_shards(const gguf_file *f) { return f->n_shards; }
uint64_t gguf_file_size(const gguf_file *f) { return f->total_size; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_offset; }
uint64_t gguf_kv_count(const gguf_file *f) { return f->n_kv; }

gguf_str gguf_kv_key(const gguf_file *f, uint64_t i)
{
    return i < f->n_kv ? f->keys[i] : (gguf_str){"", 0};
}

const gguf_value *gguf_kv_value(const gguf_file *f, uint64_t i)
{
    return i < f->n_kv ? &f->vals[i] : NULL;
}

const gguf_value *gguf_get(const gguf_file *f, const char *key)
{
    uint64_t i = index_find(&f->kv_index, f, key_name, key);
    return i == UINT64_MAX ? NULL : &f->vals[i];
}

static bool is_uint(enum gguf_vtype t)
{
    return t == GGUF_VT_UINT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_UINT32 || t == GGUF_VT_UINT64;
}

static bool is_sint(enum gguf_vtype t)
{
    return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 || t == GGUF_VT_INT64;
}

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return false;
    if (is_uint(v->type)) {
        *out = v->u;
        return true;
    }
    if (is_sint(v->type) && v->i >= 0) {
        *out = (uint64_t)v->i;
        return true;
    }
    return false;
}

bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return false;
    if (is_uint(v->type) && v->u <= INT64_MAX) {
        *out = (int64_t)v->u;
        return true;
    }
    if (is_sint(v->type)) {
        *out = v->i;
        return true;
    }
    return false;
}

bool gguf_get_f64(const gguf_file *f, const char *key, double *out)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return false;
    if (v->type == GGUF_VT_FLOAT32 || v->type == GGUF_VT_FLOAT64)
        *out = v->f;
    else if (is_uint(v->type))
        *out = (double)v->u;
    else if (is_sint(v->type))
        *out = (double)v->i;
    else
        return false;
    return true;
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v || v->type != GGUF_VT_BOOL)
        return false;
    *out = v->b;
    return true;
}

bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v || v->type != GGUF_VT_STRING)
        return false;
    *out = v->s;
    return true;
}

char *gguf_get_strdup(const gguf_file *f, const char *key)
{
    gguf_str s;
    if (!gguf_get_str(f, key, &s))
        return NULL;
    return jc_xstrndup(s.ptr, (size_t)s.len);
}

const gguf_value *gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype t)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v || v->type != GGUF_VT_ARRAY || (t != GGUF_VT_COUNT && v->arr.type != t))
        return NULL;
    return v;
}

/*
 * Array elements. Out-of-range i or a non-numeric array gives 0; floats are
 * truncated toward zero and clamped to the int64 range (NaN gives 0); u64
 * above INT64_MAX clamps to INT64_MAX.
 */
int64_t gguf_arr_i64(const gguf_value *v, uint64_t i)
{
    if (!v || v->type != GGUF_VT_ARRAY || i >= v->arr.n || !v->arr.raw)
        return 0;
    const uint8_t *p = v->arr.raw + i * vtype_size[v->arr.type];
    switch (v->arr.type) {
    case GGUF_VT_UINT8: return p[0];
    case GGUF_VT_INT8: return (int8_t)p[0];
    case GGUF_VT_UINT16: return le16(p);
    case GGUF_VT_INT16: return (int16_t)le16(p);
    case GGUF_VT_UINT32: return le32(p);
    case GGUF_VT_INT32: return (int32_t)le32(p);
    case GGUF_VT_UINT64: return le64(p) > INT64_MAX ? INT64_MAX : (int64_t)le64(p);
    case GGUF_VT_INT64: return (int64_t)le64(p);
    case GGUF_VT_BOOL: return p[0] != 0;
    case GGUF_VT_FLOAT32:
    case GGUF_VT_FLOAT64: {
        double d = gguf_arr_f64(v, i);
        if (d != d)
            return 0;
        if (d >= 9223372036854775807.0)
            return INT64_MAX;
        if (d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)d;
    }
    default: return 0;
    }
}

double gguf_arr_f64(const gguf_value *v, uint64_t i)
{
    if (!v || v->type != GGUF_VT_ARRAY || i >= v->arr.n || !v->arr.raw)
        return 0;
    const uint8_t *p = v->arr.raw + i * vtype_size[v->arr.type];
    switch (v->arr.type) {
    case GGUF_VT_FLOAT32: {
        uint32_t b = le32(p);
        float x;
        memcpy(&x, &b, 4);
        return x;
    }
    case GGUF_VT_FLOAT64: {
        uint64_t b = le64(p);
        double x;
        memcpy(&x, &b, 8);
        return x;
    }
    case GGUF_VT_UINT64: return (double)le64(p);
    default: return (double)gguf_arr_i64(v, i);
    }
}

gguf_str gguf_arr_str(const gguf_value *v, uint64_t i)
{
    if (!v || v->type != GGUF_VT_ARRAY || v->arr.type != GGUF_VT_STRING || i >= v->arr.n)
        return (gguf_str){"", 0};
    return v->arr.strs[i];
}

/* ---- tensors ---------------------------------------------------------- */

uint64_t gguf_tensor_count(const gguf_file *f) { return f->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, uint64_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    uint64_t i = index_find(&f->t_index, f, tensor_name, name);
    return i == UINT64_MAX ? NULL : &f->tensors[i];
}

uint64_t gguf_tensor_nelems(const gguf_tensor *t)
{
    return (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
}
