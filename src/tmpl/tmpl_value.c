/*
 * tmpl_value.c — the arena and the value type of the Jinja engine: lists,
 * insertion-ordered dicts with Python key equality, truthiness, equality and
 * ordering, Python's str()/repr() of values, json.dumps, and the conversion of
 * jansson values into template values. See tmpl_int.h.
 */
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct tarena_chunk {
    tarena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void ta_init(tarena *a, size_t budget, jmp_buf *jmp, jc_err *err)
{
    a->head = NULL;
    a->used = 0;
    a->budget = budget;
    a->jmp = jmp;
    a->err = err;
}

void ta_free(tarena *a)
{
    tarena_chunk *c = a->head;
    while (c) {
        tarena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

static _Noreturn void ta_fail(tarena *a, size_t n)
{
    jc_errf(a->err, "template needs more than %zu MB of memory (asked for %zu more bytes)", a->budget >> 20, n);
    if (a->jmp)
        longjmp(*a->jmp, 1);
    abort();
}

void *ta_alloc(tarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (n > a->budget || a->used > a->budget - n)
        ta_fail(a, n);
    tarena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 16384 ? n : 16384;
        c = malloc(sizeof *c + size);
        if (!c)
            ta_fail(a, n);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void *ta_array(tarena *a, size_t n, size_t size)
{
    uint64_t total;
    if (!jc_mul_ok(n, size, &total) || total > SIZE_MAX / 2)
        ta_fail(a, SIZE_MAX / 2);
    return ta_alloc(a, (size_t)total);
}

char *ta_strndup(tarena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        ta_fail(a, n);
    char *p = ta_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    return p;
}

/* ---- constructors, lists, dicts ---- */

tv tv_str_copy(tarena *a, const char *p, size_t n)
{
    return tv_strn(ta_strndup(a, p, n), n);
}

tv tv_cstr(const char *s)
{
    return tv_strn(s, strlen(s));
}

tv tv_list_new(tarena *a, size_t cap)
{
    tv v = {.t = TV_LIST};
    v.l = ta_alloc(a, sizeof *v.l);
    if (cap) {
        v.l->v = ta_array(a, cap, sizeof(tv));
        v.l->cap = cap;
    }
    return v;
}

tv tv_dict_new(tarena *a, size_t cap)
{
    tv v = {.t = TV_DICT};
    v.d = ta_alloc(a, sizeof *v.d);
    if (cap) {
        v.d->k = ta_array(a, cap, sizeof(tv));
        v.d->v = ta_array(a, cap, sizeof(tv));
        v.d->cap = cap;
    }
    return v;
}

void tl_push(tarena *a, tlist *l, tv v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        tv *nv = ta_array(a, cap, sizeof(tv));
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(tv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

tv *td_get_str(const tdict *d, const char *s, size_t n)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == TV_STR && d->k[i].s.n == n && (n == 0 || !memcmp(d->k[i].s.p, s, n)))
            return &d->v[i];
    return NULL;
}

tv *td_get(const tdict *d, tv key)
{
    if (key.t == TV_STR)
        return td_get_str(d, key.s.p, key.s.n);
    for (size_t i = 0; i < d->n; i++)
        if (tv_eq(d->k[i], key))
            return &d->v[i];
    return NULL;
}

void td_set(tarena *a, tdict *d, tv key, tv val)
{
    tv *slot = td_get(d, key);
    if (slot) {
        *slot = val;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        tv *nk = ta_array(a, cap, sizeof(tv)), *nv = ta_array(a, cap, sizeof(tv));
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(tv));
            memcpy(nv, d->v, d->n * sizeof(tv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n] = val;
    d->n++;
}

bool td_del(tdict *d, tv key)
{
    for (size_t i = 0; i < d->n; i++) {
        if (tv_eq(d->k[i], key)) {
            memmove(d->k + i, d->k + i + 1, (d->n - i - 1) * sizeof(tv));
            memmove(d->v + i, d->v + i + 1, (d->n - i - 1) * sizeof(tv));
            d->n--;
            return true;
        }
    }
    return false;
}

/* ---- truth, equality, ordering ---- */

bool tv_truthy(tv v)
{
    switch (v.t) {
    case TV_UNDEF:
    case TV_NONE: return false;
    case TV_BOOL: return v.b;
    case TV_INT: return v.i != 0;
    case TV_FLOAT: return v.f != 0.0;
    case TV_STR: return v.s.n != 0;
    case TV_LIST:
    case TV_TUPLE: return v.l->n != 0;
    case TV_DICT: return v.d->n != 0;
    default: return true;
    }
}

bool tv_is_num(tv v)
{
    return v.t == TV_BOOL || v.t == TV_INT || v.t == TV_FLOAT;
}

double tv_num(tv v)
{
    return v.t == TV_FLOAT ? v.f : v.t == TV_INT ? (double)v.i : v.t == TV_BOOL ? (double)v.b : 0.0;
}

static int64_t tv_ival(tv v)
{
    return v.t == TV_INT ? v.i : (int64_t)v.b;
}

static bool eq_depth(tv a, tv b, int depth);

bool tv_eq(tv a, tv b)
{
    return eq_depth(a, b, 0);
}

/* Equality; structures nested deeper than 200 (only self-referencing ones get there) compare unequal. */
static bool eq_depth(tv a, tv b, int depth)
{
    if (depth > 200)
        return false;
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.t == TV_FLOAT || b.t == TV_FLOAT)
            return tv_num(a) == tv_num(b);
        return tv_ival(a) == tv_ival(b);
    }
    bool la = a.t == TV_LIST || a.t == TV_TUPLE, lb = b.t == TV_LIST || b.t == TV_TUPLE;
    if (la || lb) {
        if (a.t != b.t || a.l->n != b.l->n)
            return false;
        for (size_t i = 0; i < a.l->n; i++)
            if (!eq_depth(a.l->v[i], b.l->v[i], depth + 1))
                return false;
        return true;
    }
    if (a.t != b.t)
        return false;
    switch (a.t) {
    case TV_UNDEF:
    case TV_NONE: return true;
    case TV_STR: return a.s.n == b.s.n && (a.s.n == 0 || !memcmp(a.s.p, b.s.p, a.s.n));
    case TV_DICT:
    case TV_NS:
        if (a.d == b.d)
            return true;
        if (a.t == TV_NS || a.d->n != b.d->n)
            return false;
        for (size_t i = 0; i < a.d->n; i++) {
            tv *o = td_get(b.d, a.d->k[i]);
            if (!o || !eq_depth(a.d->v[i], *o, depth + 1))
                return false;
        }
        return true;
    case TV_FUNC: return a.fn == b.fn;
    case TV_LOOP: return a.loop == b.loop;
    default: return false;
    }
}

const char *tv_type_name(tv v)
{
    static const char *const names[] = {"Undefined", "NoneType", "bool", "int", "float", "str",
                                        "list", "tuple", "dict", "Namespace", "function", "LoopContext"};
    return v.t < JC_ARRAY_LEN(names) ? names[v.t] : "?";
}

static int cmp_depth(tctx *x, tv a, tv b, int depth);

int tv_cmp(tctx *x, tv a, tv b)
{
    return cmp_depth(x, a, b, 0);
}

static int cmp_depth(tctx *x, tv a, tv b, int depth)
{
    if (depth > 200)
        tx_fail(x, "maximum recursion depth exceeded in comparison");
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.t != TV_FLOAT && b.t != TV_FLOAT) {
            int64_t i = tv_ival(a), j = tv_ival(b);
            return i < j ? -1 : i > j;
        }
        double p = tv_num(a), q = tv_num(b);
        return p < q ? -1 : p > q;
    }
    if (a.t == TV_STR && b.t == TV_STR) {
        size_t n = JC_MIN(a.s.n, b.s.n);
        int c = n ? memcmp(a.s.p, b.s.p, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return a.s.n < b.s.n ? -1 : a.s.n > b.s.n;
    }
    if ((a.t == TV_LIST && b.t == TV_LIST) || (a.t == TV_TUPLE && b.t == TV_TUPLE)) {
        for (size_t i = 0; i < a.l->n && i < b.l->n; i++) {
            if (!eq_depth(a.l->v[i], b.l->v[i], depth + 1))
                return cmp_depth(x, a.l->v[i], b.l->v[i], depth + 1);
        }
        return a.l->n < b.l->n ? -1 : a.l->n > b.l->n;
    }
    if (a.t == TV_UNDEF || b.t == TV_UNDEF)
        tx_fail(x, "'%s' is undefined", a.t == TV_UNDEF ? (a.uname ? a.uname : "value") : (b.uname ? b.uname : "value"));
    tx_fail(x, "'<' not supported between instances of '%s' and '%s'", tv_type_name(a), tv_type_name(b));
}

/* ---- UTF-8 ---- */

size_t tv_utf8_len(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            c++;
    return c;
}

size_t tv_utf8_offset(const char *p, size_t n, size_t idx)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xC0) != 0x80) {
            if (c == idx)
                return i;
            c++;
        }
    }
    return n;
}

/* ---- printing ---- */

void tx_buf_append(tctx *x, jc_buf *b, const void *p, size_t n)
{
    if (jc_buf_append(b, p, n) != 0)
        tx_fail(x, "template output exceeds the limit of %zu bytes", b->max);
}

void tx_buf_puts(tctx *x, jc_buf *b, const char *s)
{
    tx_buf_append(x, b, s, strlen(s));
}

void tv_float_repr(double f, char *buf, size_t size)
{
    if (isnan(f)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, size, f < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    /* tmp is d.ddde[+-]XX with prec significant digits; rebuild it as Python's repr */
    char digits[24];
    int nd = 0;
    const char *q = tmp;
    bool neg = false;
    if (*q == '-') {
        neg = true;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[64];
    int o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    out[o] = 0;
    snprintf(buf, size, "%s", out);
}

static void repr_str(tctx *x, jc_buf *b, const char *p, size_t n)
{
    bool has_sq = memchr(p, '\'', n) != NULL, has_dq = memchr(p, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    tx_buf_append(x, b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[8];
        if (c == '\\')
            tx_buf_puts(x, b, "\\\\");
        else if (c == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = q;
            tx_buf_append(x, b, esc, 2);
        } else if (c == '\n')
            tx_buf_puts(x, b, "\\n");
        else if (c == '\r')
            tx_buf_puts(x, b, "\\r");
        else if (c == '\t')
            tx_buf_puts(x, b, "\\t");
        else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            tx_buf_puts(x, b, esc);
        } else
            tx_buf_append(x, b, p + i, 1);
    }
    tx_buf_append(x, b, &q, 1);
}

static void print_value(tctx *x, jc_buf *b, tv v, bool repr, int depth)
{
    char num[64];
    if (depth > 200)
        tx_fail(x, "value nested too deeply to print");
    switch (v.t) {
    case TV_UNDEF:
        if (repr)
            tx_buf_puts(x, b, "Undefined");
        break;
    case TV_NONE: tx_buf_puts(x, b, "None"); break;
    case TV_BOOL: tx_buf_puts(x, b, v.b ? "True" : "False"); break;
    case TV_INT:
        snprintf(num, sizeof num, "%lld", (long long)v.i);
        tx_buf_puts(x, b, num);
        break;
    case TV_FLOAT:
        tv_float_repr(v.f, num, sizeof num);
        tx_buf_puts(x, b, num);
        break;
    case TV_STR:
        if (repr)
            repr_str(x, b, v.s.p, v.s.n);
        else
            tx_buf_append(x, b, v.s.p, v.s.n);
        break;
    case TV_LIST:
    case TV_TUPLE:
        tx_buf_puts(x, b, v.t == TV_LIST ? "[" : "(");
        for (size_t i = 0; i < v.l->n; i++) {
            if (i)
                tx_buf_puts(x, b, ", ");
            print_value(x, b, v.l->v[i], true, depth + 1);
        }
        if (v.t == TV_TUPLE && v.l->n == 1)
            tx_buf_puts(x, b, ",");
        tx_buf_puts(x, b, v.t == TV_LIST ? "]" : ")");
        break;
    case TV_DICT:
    case TV_NS:
        tx_buf_puts(x, b, v.t == TV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.d->n; i++) {
            if (i)
                tx_buf_puts(x, b, ", ");
            print_value(x, b, v.d->k[i], true, depth + 1);
            tx_buf_puts(x, b, ": ");
            print_value(x, b, v.d->v[i], true, depth + 1);
        }
        tx_buf_puts(x, b, v.t == TV_NS ? "}>" : "}");
        break;
    case TV_FUNC: tx_buf_puts(x, b, "<function>"); break;
    case TV_LOOP: tx_buf_puts(x, b, "<LoopContext>"); break;
    }
}

void tv_str_append(tctx *x, jc_buf *b, tv v)
{
    print_value(x, b, v, false, 0);
}

void tv_repr_append(tctx *x, jc_buf *b, tv v)
{
    print_value(x, b, v, true, 0);
}

tv tv_to_str(tctx *x, tv v)
{
    if (v.t == TV_STR)
        return v;
    if (v.t == TV_UNDEF)
        return tv_strn("", 0);
    size_t start = x->scratch.len;
    print_value(x, &x->scratch, v, false, 0);
    return tx_scratch_take(x, start);
}

tv tx_scratch_take(tctx *x, size_t start)
{
    if (!x->scratch.data)
        return tv_strn("", 0);
    tv s = tv_str_copy(&x->arena, x->scratch.data + start, x->scratch.len - start);
    x->scratch.len = start;
    x->scratch.data[start] = 0;
    return s;
}

/* ---- JSON ---- */

static void json_str(tctx *x, jc_buf *b, const char *p, size_t n, bool ensure_ascii)
{
    tx_buf_puts(x, b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[16];
        switch (c) {
        case '"': tx_buf_puts(x, b, "\\\""); continue;
        case '\\': tx_buf_puts(x, b, "\\\\"); continue;
        case '\n': tx_buf_puts(x, b, "\\n"); continue;
        case '\r': tx_buf_puts(x, b, "\\r"); continue;
        case '\t': tx_buf_puts(x, b, "\\t"); continue;
        case '\b': tx_buf_puts(x, b, "\\b"); continue;
        case '\f': tx_buf_puts(x, b, "\\f"); continue;
        default: break;
        }
        if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tx_buf_puts(x, b, esc);
        } else if (c >= 0x80 && ensure_ascii) {
            /* decode one UTF-8 sequence; invalid bytes become U+FFFD */
            uint32_t cp = 0xFFFD;
            size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (len > 1 && i + len <= n) {
                cp = c & (0xFF >> (len + 1));
                for (size_t k = 1; k < len; k++)
                    cp = (cp << 6) | ((unsigned char)p[i + k] & 0x3F);
                i += len - 1;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else
                snprintf(esc, sizeof esc, "\\u%04x", cp);
            tx_buf_puts(x, b, esc);
        } else
            tx_buf_append(x, b, p + i, 1);
    }
    tx_buf_puts(x, b, "\"");
}

typedef struct json_opts {
    bool ensure_ascii, sort_keys;
    const char *indent, *item_sep, *key_sep;
} json_opts;

static void json_newline(tctx *x, jc_buf *b, const json_opts *o, int level)
{
    tx_buf_puts(x, b, "\n");
    for (int i = 0; i < level; i++)
        tx_buf_puts(x, b, o->indent);
}

static void json_key(tctx *x, jc_buf *b, tv k, const json_opts *o)
{
    char num[64];
    switch (k.t) {
    case TV_STR: json_str(x, b, k.s.p, k.s.n, o->ensure_ascii); return;
    case TV_NONE: tx_buf_puts(x, b, "\"null\""); return;
    case TV_BOOL: tx_buf_puts(x, b, k.b ? "\"true\"" : "\"false\""); return;
    case TV_INT: snprintf(num, sizeof num, "\"%lld\"", (long long)k.i); break;
    case TV_FLOAT: {
        char f[48];
        tv_float_repr(k.f, f, sizeof f);
        snprintf(num, sizeof num, "\"%s\"", f);
        break;
    }
    default: tx_fail(x, "keys must be str, int, float, bool or None, not %s", tv_type_name(k));
    }
    tx_buf_puts(x, b, num);
}

static void json_value(tctx *x, jc_buf *b, tv v, const json_opts *o, int level)
{
    char num[64];
    if (level > 200)
        tx_fail(x, "value nested too deeply for tojson");
    switch (v.t) {
    case TV_NONE: tx_buf_puts(x, b, "null"); return;
    case TV_BOOL: tx_buf_puts(x, b, v.b ? "true" : "false"); return;
    case TV_INT:
        snprintf(num, sizeof num, "%lld", (long long)v.i);
        tx_buf_puts(x, b, num);
        return;
    case TV_FLOAT:
        if (isnan(v.f))
            tx_buf_puts(x, b, "NaN");
        else if (isinf(v.f))
            tx_buf_puts(x, b, v.f < 0 ? "-Infinity" : "Infinity");
        else {
            tv_float_repr(v.f, num, sizeof num);
            tx_buf_puts(x, b, num);
        }
        return;
    case TV_STR: json_str(x, b, v.s.p, v.s.n, o->ensure_ascii); return;
    case TV_LIST:
    case TV_TUPLE:
        if (v.l->n == 0) {
            tx_buf_puts(x, b, "[]");
            return;
        }
        tx_buf_puts(x, b, "[");
        for (size_t i = 0; i < v.l->n; i++) {
            if (i)
                tx_buf_puts(x, b, o->item_sep);
            if (o->indent)
                json_newline(x, b, o, level + 1);
            json_value(x, b, v.l->v[i], o, level + 1);
        }
        if (o->indent)
            json_newline(x, b, o, level);
        tx_buf_puts(x, b, "]");
        return;
    case TV_DICT: {
        if (v.d->n == 0) {
            tx_buf_puts(x, b, "{}");
            return;
        }
        size_t n = v.d->n;
        size_t *order = ta_array(&x->arena, n, sizeof(size_t));
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        if (o->sort_keys) { /* insertion sort: stable, dicts are small */
            for (size_t i = 1; i < n; i++) {
                size_t cur = order[i], j = i;
                while (j > 0 && tv_cmp(x, v.d->k[order[j - 1]], v.d->k[cur]) > 0) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = cur;
            }
        }
        tx_buf_puts(x, b, "{");
        for (size_t i = 0; i < n; i++) {
            if (i)
                tx_buf_puts(x, b, o->item_sep);
            if (o->indent)
                json_newline(x, b, o, level + 1);
            json_key(x, b, v.d->k[order[i]], o);
            tx_buf_puts(x, b, o->key_sep);
            json_value(x, b, v.d->v[order[i]], o, level + 1);
        }
        if (o->indent)
            json_newline(x, b, o, level);
        tx_buf_puts(x, b, "}");
        return;
    }
    default: tx_fail(x, "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

void tv_tojson(tctx *x, jc_buf *b, tv v, bool ensure_ascii, const char *indent, const char *item_sep,
               const char *key_sep, bool sort_keys)
{
    json_opts o = {ensure_ascii, sort_keys, indent, item_sep, key_sep};
    if (!o.item_sep)
        o.item_sep = indent ? "," : ", ";
    if (!o.key_sep)
        o.key_sep = ": ";
    json_value(x, b, v, &o, 0);
}

tv tv_from_json(tctx *x, const json_t *j, int depth)
{
    if (depth > 200)
        tx_fail(x, "variables nested more than 200 levels deep");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        tv d = tv_dict_new(&x->arena, json_object_size(j));
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val) {
            d.d->k[d.d->n] = tv_strn(key, strlen(key)); /* jansson keys are unique */
            d.d->v[d.d->n] = tv_from_json(x, val, depth + 1);
            d.d->n++;
        }
        return d;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        tv l = tv_list_new(&x->arena, n);
        for (size_t i = 0; i < n; i++)
            l.l->v[i] = tv_from_json(x, json_array_get(j, i), depth + 1);
        l.l->n = n;
        return l;
    }
    case JSON_STRING: return tv_strn(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return tv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return tv_float(json_real_value(j));
    case JSON_TRUE: return tv_bool(true);
    case JSON_FALSE: return tv_bool(false);
    default: return tv_none();
    }
}
