/*
 * tmpl_filters.c — the Jinja filters (|trim, |tojson, |map, ...), tests
 * (is defined, is mapping, ...) and the Python methods of strings, lists and
 * dicts ('a,b'.split(','), d.items(), l.append(x), ...) that chat templates
 * call. Semantics follow jinja2 3.1 and Python 3; case mapping covers ASCII,
 * Latin-1, Latin Extended-A, Greek and Cyrillic (see docs/templates.md).
 * Tables at the end map names to functions.
 */
#include "tmpl/tmpl_int.h"

#include <ctype.h>
#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A (&x->arena)
#define NAMEIS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))

static const char PY_WS[] = " \t\n\r\v\f\x1c\x1d\x1e\x1f";

tv tf_str_of(tctx *x, tv v)
{
    return tv_to_str(x, v);
}

int64_t tf_want_int(tctx *x, tv v, const char *what)
{
    if (v.t == TV_INT)
        return v.i;
    if (v.t == TV_BOOL)
        return v.b;
    tx_fail(x, "%s must be an integer, not %s", what, tv_type_name(v));
}

tv tf_new_list(tctx *x)
{
    return tv_list_new(A, 0);
}

static tv mk_tuple2(tctx *x, tv a, tv b)
{
    tv t = tv_list_new(A, 2);
    t.t = TV_TUPLE;
    t.l->v[0] = a;
    t.l->v[1] = b;
    t.l->n = 2;
    return t;
}

/* ---- string helpers ---- */

/*
 * Case mapping of one code point: ASCII, Latin-1, Latin Extended-A, basic
 * Greek and Cyrillic (every mapping keeps the UTF-8 length, so strings can
 * be mapped in place). Other code points are uncased.
 */
static uint32_t uc_map(uint32_t c, bool upper)
{
    if (c < 0x80) {
        if (upper)
            return c >= 'a' && c <= 'z' ? c - 32 : c;
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    }
    if (c >= 0xC0 && c <= 0xFF && c != 0xD7 && c != 0xF7 && c != 0xDF) {
        if (c == 0xFF)
            return upper ? 0x178 : c;
        return upper ? (c >= 0xE0 ? c - 0x20 : c) : (c < 0xE0 ? c + 0x20 : c);
    }
    if (c == 0x178)
        return upper ? c : 0xFF;
    if ((c >= 0x100 && c <= 0x137 && c != 0x130 && c != 0x131) || (c >= 0x14A && c <= 0x177))
        return upper ? (c & ~1u) : (c | 1u); /* upper case even, lower case odd */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return upper ? ((c & 1u) ? c : c - 1) : ((c & 1u) ? c + 1 : c); /* upper case odd */
    if (c == 0x386 || c == 0x38C)
        return upper ? c : (c == 0x386 ? 0x3AC : 0x3CC);
    if (c == 0x3AC || c == 0x3CC)
        return upper ? (c == 0x3AC ? 0x386 : 0x38C) : c;
    if ((c >= 0x388 && c <= 0x38A) || c == 0x38E || c == 0x38F)
        return upper ? c : c + (c <= 0x38A ? 0x25 : 0x3F);
    if ((c >= 0x3AD && c <= 0x3AF) || c == 0x3CD || c == 0x3CE)
        return upper ? c - (c <= 0x3AF ? 0x25 : 0x3F) : c;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return upper ? c : c + 0x20;
    if (c >= 0x3B1 && c <= 0x3C9)
        return upper ? (c == 0x3C2 ? 0x3A3 : c - 0x20) : c;
    if (c >= 0x400 && c <= 0x40F)
        return upper ? c : c + 0x50;
    if (c >= 0x410 && c <= 0x42F)
        return upper ? c : c + 0x20;
    if (c >= 0x430 && c <= 0x44F)
        return upper ? c - 0x20 : c;
    if (c >= 0x450 && c <= 0x45F)
        return upper ? c - 0x50 : c;
    return c;
}

static bool uc_cased(uint32_t c)
{
    return c == 0xDF || uc_map(c, true) != c || uc_map(c, false) != c; /* sharp s is lower case */
}

/* Decodes the code point at p[i] (an invalid byte decodes as itself); *len gets its length. */
static uint32_t utf8_get(const char *p, size_t n, size_t i, size_t *len)
{
    unsigned char c = (unsigned char)p[i];
    size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (l == 1 || i + l > n) {
        *len = 1;
        return c;
    }
    uint32_t cp = c & (0xFFu >> (l + 1));
    for (size_t k = 1; k < l; k++) {
        if (((unsigned char)p[i + k] & 0xC0) != 0x80) {
            *len = 1;
            return c;
        }
        cp = (cp << 6) | ((unsigned char)p[i + k] & 0x3F);
    }
    *len = l;
    return cp;
}

/* Writes cp over the len bytes at q (cp has the same UTF-8 length). */
static void utf8_put_same(char *q, size_t len, uint32_t cp)
{
    if (len == 1)
        q[0] = (char)cp;
    else if (len == 2) {
        q[0] = (char)(0xC0 | (cp >> 6));
        q[1] = (char)(0x80 | (cp & 0x3F));
    } /* 3- and 4-byte code points are never mapped */
}

static bool jinja_word_sep(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '-' || c == '(' ||
           c == '{' || c == '[' || c == '<';
}

tv tf_str_case(tctx *x, tv s, enum tcase mode)
{
    char *p = ta_alloc(A, s.s.n + 1);
    if (s.s.n)
        memcpy(p, s.s.p, s.s.n);
    bool prev_cased = false, word_start = true;
    for (size_t i = 0; i < s.s.n;) {
        size_t len;
        uint32_t c = utf8_get(p, s.s.n, i, &len), r = c;
        bool up = false;
        switch (mode) {
        case TCASE_UPPER: up = true; break;
        case TCASE_LOWER: up = false; break;
        case TCASE_CAPITALIZE: up = i == 0; break;
        case TCASE_SWAP: up = c == 0xDF || uc_map(c, true) != c; break;
        case TCASE_TITLE_PY: /* Python str.title(): upper after an uncased character */
            up = !prev_cased;
            break;
        case TCASE_TITLE_JINJA: /* jinja2 |title: words start after whitespace, '-', '(', '{', '[', '<' */
            up = word_start;
            word_start = jinja_word_sep(c);
            break;
        }
        bool cased_before = prev_cased;
        prev_cased = uc_cased(c);
        if (c == 0xDF && up) { /* sharp s: "SS" in upper case, "Ss" in title case; same two bytes */
            p[i] = 'S';
            p[i + 1] = mode == TCASE_UPPER || mode == TCASE_SWAP ? 'S' : 's';
            i += len;
            continue;
        }
        r = uc_map(c, up);
        if (r == 0x3C3 && c == 0x3A3 && cased_before) { /* final sigma: not followed by a cased letter */
            size_t nlen;
            if (i + len >= s.s.n || !uc_cased(utf8_get(p, s.s.n, i + len, &nlen)))
                r = 0x3C2;
        }
        if (r != c)
            utf8_put_same(p + i, len, r);
        i += len;
    }
    return tv_strn(p, s.s.n);
}

bool tf_in_set(char c, tv chars)
{
    if (chars.t == TV_STR)
        return chars.s.n && memchr(chars.s.p, c, chars.s.n) != NULL;
    return c && strchr(PY_WS, c) != NULL;
}

/* Python's str.isspace() for one code point. */
static bool uc_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Is code point c in the string set (by code point), or whitespace when set is not a string? */
static bool in_cp_set(uint32_t c, tv set)
{
    if (set.t != TV_STR)
        return uc_space(c);
    for (size_t i = 0; i < set.s.n;) {
        size_t len;
        if (utf8_get(set.s.p, set.s.n, i, &len) == c)
            return true;
        i += len;
    }
    return false;
}

tv tf_str_strip(tctx *x, tv s, tv chars, bool left, bool right)
{
    if (chars.t != TV_STR && chars.t != TV_NONE && chars.t != TV_UNDEF)
        tx_fail(x, "strip arg must be None or str");
    size_t a = 0, b = s.s.n, len;
    if (left)
        while (a < b && in_cp_set(utf8_get(s.s.p, b, a, &len), chars))
            a += len;
    if (right) {
        while (b > a) {
            size_t start = b - 1; /* back to the first byte of the last code point */
            while (start > a && ((unsigned char)s.s.p[start] & 0xC0) == 0x80 && b - start < 4)
                start--;
            uint32_t c = utf8_get(s.s.p, b, start, &len);
            if (start + len != b) { /* not one well-formed code point: look at the last byte alone */
                start = b - 1;
                c = (unsigned char)s.s.p[start];
            }
            if (!in_cp_set(c, chars))
                break;
            b = start;
        }
    }
    return tv_strn(s.s.p + a, b - a);
}

const char *tf_find_sub(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn == 0)
        return h;
    return memmem(h, hn, n, nn);
}

const char *tf_rfind_sub(const char *h, size_t hn, const char *n, size_t nn)
{
    if (nn > hn)
        return NULL;
    for (size_t i = hn - nn + 1; i-- > 0;)
        if (!memcmp(h + i, n, nn))
            return h + i;
    return NULL;
}

tv tf_str_replace(tctx *x, tv s, tv old, tv new, int64_t count)
{
    if (old.t != TV_STR || new.t != TV_STR)
        tx_fail(x, "replace() arguments must be strings");
    size_t start = x->scratch.len;
    int64_t done = 0;
    if (old.s.n == 0) {
        size_t i = 0;
        for (;;) {
            if (count < 0 || done < count) {
                tx_buf_append(x, &x->scratch, new.s.p, new.s.n);
                done++;
            }
            if (i >= s.s.n)
                break;
            size_t j = i + 1;
            while (j < s.s.n && ((unsigned char)s.s.p[j] & 0xC0) == 0x80)
                j++;
            tx_buf_append(x, &x->scratch, s.s.p + i, j - i);
            i = j;
        }
        return tx_scratch_take(x, start);
    }
    const char *p = s.s.p, *end = s.s.p + s.s.n;
    while (p < end) {
        const char *hit = (count < 0 || done < count) ? tf_find_sub(p, (size_t)(end - p), old.s.p, old.s.n) : NULL;
        if (!hit) {
            tx_buf_append(x, &x->scratch, p, (size_t)(end - p));
            break;
        }
        tx_buf_append(x, &x->scratch, p, (size_t)(hit - p));
        tx_buf_append(x, &x->scratch, new.s.p, new.s.n);
        p = hit + old.s.n;
        done++;
    }
    return tx_scratch_take(x, start);
}


/* ---- attribute getter for sort/map/select ---- */

static tv get_path(tctx *x, tv item, tv attr)
{
    if (attr.t == TV_INT)
        return tx_getitem(x, item, attr);
    if (attr.t != TV_STR)
        return tx_getitem(x, item, attr);
    const char *p = attr.s.p, *end = p + attr.s.n;
    tv cur = item;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        bool digits = n > 0;
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)p[i]))
                digits = false;
        if (cur.t == TV_UNDEF)
            return cur;
        if (digits)
            cur = tx_getitem(x, cur, tv_int(strtoll(p, NULL, 10)));
        else
            cur = tx_getitem(x, cur, tv_strn(p, n));
        if (!dot)
            break;
        p = dot + 1;
    }
    return cur;
}

/* ---- sorting ---- */

typedef struct sort_ctx {
    tctx *x;
    tv attr; /* TV_UNDEF: the item itself */
    bool case_sensitive, reverse;
    int by_value; /* dictsort: 0 key, 1 value; -1: not a pair */
} sort_ctx;

static tv sort_key(sort_ctx *s, tv v)
{
    if (s->by_value >= 0)
        v = v.l->v[s->by_value];
    else if (s->attr.t != TV_UNDEF)
        v = get_path(s->x, v, s->attr);
    if (!s->case_sensitive && v.t == TV_STR)
        v = tf_str_case(s->x, v, TCASE_LOWER);
    return v;
}

static int sort_cmp(sort_ctx *s, tv a, tv b)
{
    tv ka = sort_key(s, a), kb = sort_key(s, b);
    if (tv_eq(ka, kb)) /* jinja2 compares key lists, which checks equality first: equal undefined keys sort */
        return 0;
    int c = tv_cmp(s->x, ka, kb);
    return s->reverse ? -c : c;
}

/* Stable merge sort (Python's sort is stable). */
static void merge_sort(sort_ctx *s, tv *v, tv *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(s, v, tmp, h);
    merge_sort(s, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = sort_cmp(s, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(tv));
}

static tv sorted(tctx *x, tlist *items, sort_ctx *s)
{
    tv r = tv_list_new(A, items->n);
    if (items->n)
        memcpy(r.l->v, items->v, items->n * sizeof(tv));
    r.l->n = items->n;
    tv *tmp = ta_array(A, items->n ? items->n : 1, sizeof(tv));
    merge_sort(s, r.l->v, tmp, r.l->n);
    return r;
}

/* ---- filters ---- */

static tv f_abs(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_INT) {
        if (v.i == INT64_MIN)
            tx_fail(x, "integer overflow");
        return tv_int(v.i < 0 ? -v.i : v.i);
    }
    if (v.t == TV_BOOL)
        return tv_int(v.b);
    if (v.t == TV_FLOAT)
        return tv_float(fabs(v.f));
    tx_fail(x, "bad operand type for abs(): '%s'", tv_type_name(v));
}

/* |attr looks up an attribute only (never a dict item), as jinja2's environment.getattr. */
static tv f_attr(tctx *x, tv v, const targv *a)
{
    tv n = targ(a, 0, "name", tv_undef(NULL));
    if (n.t != TV_STR)
        tx_fail(x, "attr() needs a name");
    if (v.t == TV_DICT && !tmpl_has_method(v, n.s.p, n.s.n))
        return tv_undef(ta_strndup(A, n.s.p, n.s.n));
    return tx_getattr(x, v, n.s.p, n.s.n);
}

static tv f_batch(tctx *x, tv v, const targv *a)
{
    int64_t n = tf_want_int(x, targ(a, 0, "linecount", tv_undef(NULL)), "batch size");
    tv fill = targ(a, 1, "fill_with", tv_undef(NULL));
    if (n <= 0 || (uint64_t)n > x->lim.max_steps)
        tx_fail(x, "batch size must be from 1 to %llu", (unsigned long long)x->lim.max_steps);
    tlist *items = tx_iter(x, v);
    tv out = tf_new_list(x), cur = tf_new_list(x);
    for (size_t i = 0; i < items->n; i++) {
        tl_push(A, cur.l, items->v[i]);
        if ((int64_t)cur.l->n == n) {
            tl_push(A, out.l, cur);
            cur = tf_new_list(x);
        }
    }
    if (cur.l->n) {
        if (fill.t != TV_UNDEF)
            while ((int64_t)cur.l->n < n)
                tl_push(A, cur.l, fill);
        tl_push(A, out.l, cur);
    }
    return out;
}

static tv f_capitalize(tctx *x, tv v, const targv *a)
{
    return tf_str_case(x, tf_str_of(x, v), TCASE_CAPITALIZE);
}

static tv f_center(tctx *x, tv v, const targv *a)
{
    tv s = tf_str_of(x, v);
    int64_t w = tf_want_int(x, targ(a, 0, "width", tv_int(80)), "width");
    size_t n = tv_utf8_len(s.s.p, s.s.n);
    if (w <= (int64_t)n || w > 100000)
        return s;
    size_t pad = (size_t)w - n, left = pad / 2 + (pad & (size_t)w & 1), start = x->scratch.len;
    for (size_t i = 0; i < left; i++)
        tx_buf_append(x, &x->scratch, " ", 1);
    tx_buf_append(x, &x->scratch, s.s.p, s.s.n);
    for (size_t i = 0; i < pad - left; i++)
        tx_buf_append(x, &x->scratch, " ", 1);
    return tx_scratch_take(x, start);
}

static tv f_length(tctx *x, tv v, const targv *a)
{
    switch (v.t) {
    case TV_UNDEF: return tv_int(0);
    case TV_STR: return tv_int((int64_t)tv_utf8_len(v.s.p, v.s.n));
    case TV_LIST:
    case TV_TUPLE: return tv_int((int64_t)v.l->n);
    case TV_DICT:
    case TV_NS: return tv_int((int64_t)v.d->n);
    default: tx_fail(x, "object of type '%s' has no len()", tv_type_name(v));
    }
}

static tv f_default(tctx *x, tv v, const targv *a)
{
    tv def = targ(a, 0, "default_value", tv_strn("", 0));
    bool boolean = tv_truthy(targ(a, 1, "boolean", tv_bool(false)));
    if (v.t == TV_UNDEF || (boolean && !tv_truthy(v)))
        return def;
    return v;
}

static tv f_dictsort(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_UNDEF)
        tx_fail(x, "'%s' is undefined", v.uname ? v.uname : "value");
    if (v.t != TV_DICT && v.t != TV_NS)
        tx_fail(x, "dictsort needs a dict, not %s", tv_type_name(v));
    tv by = targ(a, 1, "by", tv_cstr("key"));
    sort_ctx s = {x, tv_undef(NULL), tv_truthy(targ(a, 0, "case_sensitive", tv_bool(false))),
                  tv_truthy(targ(a, 2, "reverse", tv_bool(false))), 0};
    if (by.t == TV_STR && by.s.n == 5 && !memcmp(by.s.p, "value", 5))
        s.by_value = 1;
    else if (!(by.t == TV_STR && by.s.n == 3 && !memcmp(by.s.p, "key", 3)))
        tx_fail(x, "You can only sort by either \"key\" or \"value\"");
    tlist pairs = {0};
    for (size_t i = 0; i < v.d->n; i++)
        tl_push(A, &pairs, mk_tuple2(x, v.d->k[i], v.d->v[i]));
    return sorted(x, &pairs, &s);
}

static tv f_escape(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_STR && v.safe)
        return v;
    tv s = tf_str_of(x, v);
    size_t start = x->scratch.len;
    for (size_t i = 0; i < s.s.n; i++) {
        switch (s.s.p[i]) {
        case '&': tx_buf_puts(x, &x->scratch, "&amp;"); break;
        case '<': tx_buf_puts(x, &x->scratch, "&lt;"); break;
        case '>': tx_buf_puts(x, &x->scratch, "&gt;"); break;
        case '"': tx_buf_puts(x, &x->scratch, "&#34;"); break;
        case '\'': tx_buf_puts(x, &x->scratch, "&#39;"); break;
        default: tx_buf_append(x, &x->scratch, s.s.p + i, 1);
        }
    }
    tv r = tx_scratch_take(x, start);
    r.safe = 1;
    return r;
}

static tv f_first(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_LIST || v.t == TV_TUPLE)
        return v.l->n ? v.l->v[0] : tv_undef("first");
    tlist *l = tx_iter(x, v);
    return l->n ? l->v[0] : tv_undef("first");
}

static tv f_last(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_LIST || v.t == TV_TUPLE)
        return v.l->n ? v.l->v[v.l->n - 1] : tv_undef("last");
    tlist *l = tx_iter(x, v);
    return l->n ? l->v[l->n - 1] : tv_undef("last");
}

static bool parse_float(tv s, double *out)
{
    char buf[128];
    tv t = s;
    size_t a = 0, b = t.s.n;
    while (a < b && isspace((unsigned char)t.s.p[a]))
        a++;
    while (b > a && isspace((unsigned char)t.s.p[b - 1]))
        b--;
    if (b == a || b - a >= sizeof buf)
        return false;
    size_t o = 0;
    for (size_t i = a; i < b; i++)
        if (t.s.p[i] != '_')
            buf[o++] = t.s.p[i];
    buf[o] = 0;
    char *end;
    *out = strtod(buf, &end);
    return *end == 0 && !(o > 1 && (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')));
}

static tv f_float(tctx *x, tv v, const targv *a)
{
    tv def = targ(a, 0, "default", tv_float(0.0));
    double d;
    if (v.t == TV_UNDEF)
        tx_fail(x, "'%s' is undefined", v.uname ? v.uname : "value");
    if (v.t == TV_FLOAT)
        return v;
    if (v.t == TV_INT || v.t == TV_BOOL)
        return tv_float(tv_num(v));
    if (v.t == TV_STR && parse_float(v, &d))
        return tv_float(d);
    return def;
}

static tv f_int(tctx *x, tv v, const targv *a)
{
    tv def = targ(a, 0, "default", tv_int(0));
    int64_t base = tf_want_int(x, targ(a, 1, "base", tv_int(10)), "base");
    if (v.t == TV_UNDEF)
        tx_fail(x, "'%s' is undefined", v.uname ? v.uname : "value");
    if (v.t == TV_INT)
        return v;
    if (v.t == TV_BOOL)
        return tv_int(v.b);
    if (v.t == TV_FLOAT) {
        if (!isfinite(v.f) || fabs(v.f) >= 9.2e18)
            return def;
        return tv_int((int64_t)v.f);
    }
    if (v.t == TV_STR) {
        char buf[128];
        size_t o = 0, i = 0, n = v.s.n;
        while (i < n && isspace((unsigned char)v.s.p[i]))
            i++;
        while (n > i && isspace((unsigned char)v.s.p[n - 1]))
            n--;
        if (n > i && n - i < sizeof buf) {
            for (; i < n; i++)
                if (v.s.p[i] != '_')
                    buf[o++] = v.s.p[i];
            buf[o] = 0;
            char *end;
            errno = 0;
            long long r = (base >= 2 && base <= 36) ? strtoll(buf, &end, (int)base) : 0;
            if (base >= 2 && base <= 36 && *end == 0 && o > 0 && !errno)
                return tv_int(r);
        }
        double d;
        if (parse_float(v, &d) && isfinite(d) && fabs(d) < 9.2e18)
            return tv_int((int64_t)d);
    }
    return def;
}

static tv f_format(tctx *x, tv v, const targv *a)
{
    tv fmt = tf_str_of(x, v);
    if (a->nkw)
        tx_fail(x, "format with keyword arguments is not supported");
    tv args = tv_list_new(A, a->npos);
    args.t = TV_TUPLE;
    for (size_t i = 0; i < a->npos; i++)
        args.l->v[i] = a->pos[i];
    args.l->n = a->npos;
    return tx_str_percent(x, fmt, args);
}

/* Sorted by the attribute, then (grouper, list) pairs of consecutive equal keys; g.grouper and g.list work. */
static tv f_groupby(tctx *x, tv v, const targv *a)
{
    tv attr = targ(a, 0, "attribute", tv_undef(NULL));
    tv def = targ(a, 1, "default", tv_undef(NULL));
    bool cs = tv_truthy(targ(a, 2, "case_sensitive", tv_bool(false)));
    if (attr.t != TV_STR && attr.t != TV_INT)
        tx_fail(x, "groupby needs an attribute");
    sort_ctx s = {x, attr, cs, false, -1};
    tv sorted_items = sorted(x, tx_iter(x, v), &s);
    tv out = tf_new_list(x);
    tv cur_key = tv_undef(NULL), cur_list = tv_undef(NULL);
    for (size_t i = 0; i < sorted_items.l->n; i++) {
        tv item = sorted_items.l->v[i];
        tv key = sort_key(&s, item);
        if (i == 0 || !tv_eq(key, cur_key)) {
            tv raw = get_path(x, item, attr);
            if (raw.t == TV_UNDEF && def.t != TV_UNDEF)
                raw = def;
            cur_list = tf_new_list(x);
            tl_push(A, out.l, mk_tuple2(x, raw, cur_list));
            cur_key = key;
        }
        tl_push(A, cur_list.l, item);
    }
    return out;
}

static tv f_indent(tctx *x, tv v, const targv *a)
{
    if (v.t != TV_STR) /* jinja2 appends "\n" to the value: only strings survive that */
        tx_fail(x, v.t == TV_UNDEF ? "indent of an undefined value" : "indent needs a string, not %s", tv_type_name(v));
    tv s = v;
    tv w = targ(a, 0, "width", tv_int(4));
    bool first = tv_truthy(targ(a, 1, "first", tv_bool(false)));
    bool blank = tv_truthy(targ(a, 2, "blank", tv_bool(false)));
    tv ind;
    if (w.t == TV_STR)
        ind = w;
    else {
        int64_t n = tf_want_int(x, w, "indent width");
        if (n < 0)
            n = 0;
        if (n > 1000)
            tx_fail(x, "indent width too large");
        char *p = ta_alloc(A, (size_t)n + 1);
        memset(p, ' ', (size_t)n);
        ind = tv_strn(p, (size_t)n);
    }
    /* jinja2 splits s + "\n" with splitlines(), which is s split at every "\n" */
    tlist lines = {0};
    size_t i = 0;
    for (;;) {
        const char *nl = memchr(s.s.p + i, '\n', s.s.n - i);
        size_t j = nl ? (size_t)(nl - s.s.p) : s.s.n;
        tl_push(A, &lines, tv_strn(s.s.p + i, j - i));
        if (!nl)
            break;
        i = j + 1;
    }
    size_t start = x->scratch.len;
    if (first)
        tx_buf_append(x, &x->scratch, ind.s.p, ind.s.n);
    for (size_t k = 0; k < lines.n; k++) {
        tv line = lines.v[k];
        if (k > 0) {
            tx_buf_append(x, &x->scratch, "\n", 1);
            if (blank || line.s.n)
                tx_buf_append(x, &x->scratch, ind.s.p, ind.s.n);
        }
        tx_buf_append(x, &x->scratch, line.s.p, line.s.n);
    }
    return tx_scratch_take(x, start);
}

tv tf_f_items(tctx *x, tv v, const targv *a)
{
    tv out = tf_new_list(x);
    if (v.t == TV_UNDEF)
        return out;
    if (v.t != TV_DICT && v.t != TV_NS)
        tx_fail(x, "can only get item pairs from a mapping, not %s", tv_type_name(v));
    for (size_t i = 0; i < v.d->n; i++)
        tl_push(A, out.l, mk_tuple2(x, v.d->k[i], v.d->v[i]));
    return out;
}

tv tf_str_join(tctx *x, tv sep, tlist *items, tv attr)
{
    if (sep.t != TV_STR)
        sep = tf_str_of(x, sep);
    size_t start = x->scratch.len;
    for (size_t i = 0; i < items->n; i++) {
        if (i)
            tx_buf_append(x, &x->scratch, sep.s.p, sep.s.n);
        tv item = attr.t != TV_UNDEF ? get_path(x, items->v[i], attr) : items->v[i];
        tv_str_append(x, &x->scratch, item);
    }
    return tx_scratch_take(x, start);
}

static tv f_join(tctx *x, tv v, const targv *a)
{
    return tf_str_join(x, targ(a, 0, "d", tv_strn("", 0)), tx_iter(x, v), targ(a, 1, "attribute", tv_undef(NULL)));
}

static tv f_list(tctx *x, tv v, const targv *a)
{
    tv r = {.t = TV_LIST};
    r.l = tx_iter(x, v);
    return r;
}

static tv f_lower(tctx *x, tv v, const targv *a)
{
    return tf_str_case(x, tf_str_of(x, v), TCASE_LOWER);
}

static tv f_upper(tctx *x, tv v, const targv *a)
{
    return tf_str_case(x, tf_str_of(x, v), TCASE_UPPER);
}

/* Remaining positional args from index from, and all keywords, as a targv. */
static targv rest_args(const targv *a, size_t from)
{
    targv r = *a;
    r.pos = a->npos > from ? a->pos + from : NULL;
    r.npos = a->npos > from ? a->npos - from : 0;
    return r;
}

static tv f_map(tctx *x, tv v, const targv *a)
{
    tv out = tf_new_list(x);
    if (!tv_truthy(v)) /* as jinja2: none|map(...) is empty */
        return out;
    tlist *items = tx_iter(x, v);
    tv attr = targ(a, (size_t)-1, "attribute", tv_undef(NULL));
    if (attr.t != TV_UNDEF) {
        tv def = targ(a, (size_t)-1, "default", tv_undef(NULL));
        for (size_t i = 0; i < items->n; i++) {
            tv r = get_path(x, items->v[i], attr);
            tl_push(A, out.l, r.t == TV_UNDEF && def.t != TV_UNDEF ? def : r);
        }
        return out;
    }
    if (!a->npos || a->pos[0].t != TV_STR)
        tx_fail(x, "map() needs a filter name or attribute=");
    targv rest = rest_args(a, 1);
    for (size_t i = 0; i < items->n; i++)
        tl_push(A, out.l, tmpl_apply_filter(x, items->v[i], a->pos[0].s.p, a->pos[0].s.n, &rest));
    return out;
}

static tv minmax(tctx *x, tv v, const targv *a, int sign)
{
    tlist *items = tx_iter(x, v);
    if (!items->n)
        return tv_undef(sign < 0 ? "min" : "max");
    sort_ctx s = {x, targ(a, 1, "attribute", tv_undef(NULL)), tv_truthy(targ(a, 0, "case_sensitive", tv_bool(false))),
                  false, -1};
    tv best = items->v[0];
    for (size_t i = 1; i < items->n; i++)
        if (sort_cmp(&s, items->v[i], best) * sign > 0)
            best = items->v[i];
    return best;
}

static tv f_max(tctx *x, tv v, const targv *a)
{
    return minmax(x, v, a, 1);
}

static tv f_min(tctx *x, tv v, const targv *a)
{
    return minmax(x, v, a, -1);
}

static tv f_replace(tctx *x, tv v, const targv *a)
{
    tv count = targ(a, 2, "count", tv_none());
    return tf_str_replace(x, tf_str_of(x, v), targ(a, 0, "old", tv_undef(NULL)), targ(a, 1, "new", tv_undef(NULL)),
                       count.t == TV_NONE ? -1 : tf_want_int(x, count, "count"));
}

static tv select_common(tctx *x, tv v, const targv *a, bool attr_mode, bool keep)
{
    tv out = tf_new_list(x);
    if (!tv_truthy(v)) /* jinja2 iterates only a true value: none|select(...) is empty */
        return out;
    tlist *items = tx_iter(x, v);
    size_t ti = attr_mode ? 1 : 0;
    tv attr = attr_mode ? targ(a, 0, NULL, tv_undef(NULL)) : tv_undef(NULL);
    tv test = targ(a, ti, NULL, tv_undef(NULL));
    targv rest = rest_args(a, ti + 1);
    if (test.t != TV_UNDEF && test.t != TV_STR)
        tx_fail(x, "the test name must be a string");
    for (size_t i = 0; i < items->n; i++) {
        tv item = attr_mode ? get_path(x, items->v[i], attr) : items->v[i];
        bool ok = test.t == TV_STR ? tmpl_apply_test(x, item, test.s.p, test.s.n, &rest) : tv_truthy(item);
        if (ok == keep)
            tl_push(A, out.l, items->v[i]);
    }
    return out;
}

static tv f_select(tctx *x, tv v, const targv *a) { return select_common(x, v, a, false, true); }
static tv f_reject(tctx *x, tv v, const targv *a) { return select_common(x, v, a, false, false); }
static tv f_selectattr(tctx *x, tv v, const targv *a) { return select_common(x, v, a, true, true); }
static tv f_rejectattr(tctx *x, tv v, const targv *a) { return select_common(x, v, a, true, false); }

static tv f_reverse(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_STR) {
        tlist *chars = tx_iter(x, v);
        size_t start = x->scratch.len;
        for (size_t i = chars->n; i-- > 0;)
            tx_buf_append(x, &x->scratch, chars->v[i].s.p, chars->v[i].s.n);
        return tx_scratch_take(x, start);
    }
    tlist *items = tx_iter(x, v);
    tv out = tv_list_new(A, items->n);
    for (size_t i = 0; i < items->n; i++)
        out.l->v[i] = items->v[items->n - 1 - i];
    out.l->n = items->n;
    return out;
}

static tv f_round(tctx *x, tv v, const targv *a)
{
    int64_t prec = tf_want_int(x, targ(a, 0, "precision", tv_int(0)), "precision");
    tv method = targ(a, 1, "method", tv_cstr("common"));
    if (!tv_is_num(v))
        tx_fail(x, "round() needs a number, not %s", tv_type_name(v));
    if (prec > 15 || prec < -15)
        prec = prec > 0 ? 15 : -15;
    double m = pow(10.0, (double)prec), d = tv_num(v) * m;
    if (method.t == TV_STR && method.s.n == 4 && !memcmp(method.s.p, "ceil", 4))
        d = ceil(d);
    else if (method.t == TV_STR && method.s.n == 5 && !memcmp(method.s.p, "floor", 5))
        d = floor(d);
    else if (method.t == TV_STR && method.s.n == 6 && !memcmp(method.s.p, "common", 6)) {
        if (v.t != TV_FLOAT && prec >= 0)
            return v.t == TV_BOOL ? tv_int(v.b) : v;
        d = nearbyint(d); /* round-half-even, as Python's round() */
    } else
        tx_fail(x, "method must be common, ceil or floor");
    return tv_float(d / m);
}

static tv f_safe(tctx *x, tv v, const targv *a)
{
    tv s = tf_str_of(x, v);
    s.safe = 1;
    return s;
}

static tv f_sort(tctx *x, tv v, const targv *a)
{
    sort_ctx s = {x, targ(a, 2, "attribute", tv_undef(NULL)), tv_truthy(targ(a, 1, "case_sensitive", tv_bool(false))),
                  tv_truthy(targ(a, 0, "reverse", tv_bool(false))), -1};
    return sorted(x, tx_iter(x, v), &s);
}

static tv f_string(tctx *x, tv v, const targv *a)
{
    return tf_str_of(x, v);
}

static tv f_striptags(tctx *x, tv v, const targv *a)
{
    tv s = tf_str_of(x, v);
    size_t start = x->scratch.len;
    bool in_tag = false, pending_space = false, any = false;
    for (size_t i = 0; i < s.s.n; i++) {
        char c = s.s.p[i];
        if (in_tag) {
            if (c == '>')
                in_tag = false;
            continue;
        }
        if (c == '<' && i + 1 < s.s.n && (isalpha((unsigned char)s.s.p[i + 1]) || s.s.p[i + 1] == '/' ||
                                          s.s.p[i + 1] == '!')) {
            in_tag = true;
            continue;
        }
        if (isspace((unsigned char)c)) {
            pending_space = any;
            continue;
        }
        if (pending_space)
            tx_buf_append(x, &x->scratch, " ", 1);
        pending_space = false;
        any = true;
        tx_buf_append(x, &x->scratch, &c, 1);
    }
    return tx_scratch_take(x, start);
}

static tv f_sum(tctx *x, tv v, const targv *a)
{
    tlist *items = tx_iter(x, v);
    tv attr = targ(a, 0, "attribute", tv_undef(NULL));
    tv acc = targ(a, 1, "start", tv_int(0));
    for (size_t i = 0; i < items->n; i++) {
        tv item = attr.t != TV_UNDEF ? get_path(x, items->v[i], attr) : items->v[i];
        if (!tv_is_num(item) || !tv_is_num(acc))
            tx_fail(x, "unsupported operand type(s) for +: '%s' and '%s'", tv_type_name(acc), tv_type_name(item));
        if (acc.t == TV_FLOAT || item.t == TV_FLOAT)
            acc = tv_float(tv_num(acc) + tv_num(item));
        else {
            int64_t r;
            if (__builtin_add_overflow(acc.t == TV_INT ? acc.i : acc.b, item.t == TV_INT ? item.i : item.b, &r))
                tx_fail(x, "integer overflow");
            acc = tv_int(r);
        }
    }
    return acc;
}

static tv f_title(tctx *x, tv v, const targv *a)
{
    return tf_str_case(x, tf_str_of(x, v), TCASE_TITLE_JINJA);
}

static tv f_tojson(tctx *x, tv v, const targv *a)
{
    tv indent = targ(a, 0, "indent", tv_none());
    bool ensure_ascii = tv_truthy(targ(a, 1, "ensure_ascii", tv_bool(false)));
    tv seps = targ(a, 2, "separators", tv_none());
    bool sort_keys = tv_truthy(targ(a, 3, "sort_keys", tv_bool(false)));
    const char *ind = NULL, *item_sep = NULL, *key_sep = NULL;
    if (indent.t == TV_INT || indent.t == TV_BOOL) {
        int64_t n = tf_want_int(x, indent, "indent");
        if (n < 0)
            n = 0;
        if (n > 100)
            tx_fail(x, "tojson indent too large");
        char *p = ta_alloc(A, (size_t)n + 1);
        memset(p, ' ', (size_t)n);
        ind = p;
    } else if (indent.t == TV_STR)
        ind = ta_strndup(A, indent.s.p, indent.s.n);
    else if (indent.t != TV_NONE && indent.t != TV_UNDEF)
        tx_fail(x, "tojson indent must be an integer or a string");
    if (seps.t == TV_TUPLE || seps.t == TV_LIST) {
        if (seps.l->n != 2 || seps.l->v[0].t != TV_STR || seps.l->v[1].t != TV_STR)
            tx_fail(x, "tojson separators must be a pair of strings");
        item_sep = ta_strndup(A, seps.l->v[0].s.p, seps.l->v[0].s.n);
        key_sep = ta_strndup(A, seps.l->v[1].s.p, seps.l->v[1].s.n);
    }
    size_t start = x->scratch.len;
    tv_tojson(x, &x->scratch, v, ensure_ascii, ind, item_sep, key_sep, sort_keys);
    return tx_scratch_take(x, start);
}

static tv f_trim(tctx *x, tv v, const targv *a)
{
    return tf_str_strip(x, tf_str_of(x, v), targ(a, 0, "chars", tv_none()), true, true);
}

static tv f_truncate(tctx *x, tv v, const targv *a)
{
    if (v.t == TV_UNDEF)
        return v; /* len(Undefined) is 0: returned as is */
    if (v.t == TV_LIST || v.t == TV_TUPLE || v.t == TV_DICT) {
        /* jinja2 measures len(value) and returns a short value as it is */
        size_t n = v.t == TV_DICT ? v.d->n : v.l->n;
        tv lw = targ(a, 3, "leeway", tv_none());
        int64_t limit = tf_want_int(x, targ(a, 0, "length", tv_int(255)), "length") +
                        (lw.t == TV_NONE || lw.t == TV_UNDEF ? 5 : tf_want_int(x, lw, "leeway"));
        if ((int64_t)n <= limit)
            return v;
        tx_fail(x, "truncate needs a string, not %s", tv_type_name(v));
    }
    if (v.t != TV_STR)
        tx_fail(x, "object of type '%s' has no len()", tv_type_name(v));
    tv s = v;
    int64_t length = tf_want_int(x, targ(a, 0, "length", tv_int(255)), "length");
    bool killwords = tv_truthy(targ(a, 1, "killwords", tv_bool(false)));
    tv end = tf_str_of(x, targ(a, 2, "end", tv_cstr("...")));
    tv lw = targ(a, 3, "leeway", tv_none());
    int64_t leeway = lw.t == TV_NONE || lw.t == TV_UNDEF ? 5 : tf_want_int(x, lw, "leeway");
    int64_t n = (int64_t)tv_utf8_len(s.s.p, s.s.n), endn = (int64_t)tv_utf8_len(end.s.p, end.s.n);
    if (length < endn)
        tx_fail(x, "expected length >= %lld, got %lld", (long long)endn, (long long)length);
    if (n <= length + leeway)
        return v; /* jinja2 returns the value itself, not its string */
    size_t cut = tv_utf8_offset(s.s.p, s.s.n, (size_t)(length - endn));
    tv head = tv_strn(s.s.p, cut);
    if (!killwords) {
        const char *sp = tf_rfind_sub(head.s.p, head.s.n, " ", 1);
        if (sp)
            head.s.n = (size_t)(sp - head.s.p);
    }
    size_t start = x->scratch.len;
    tx_buf_append(x, &x->scratch, head.s.p, head.s.n);
    tx_buf_append(x, &x->scratch, end.s.p, end.s.n);
    return tx_scratch_take(x, start);
}

static tv f_unique(tctx *x, tv v, const targv *a)
{
    tlist *items = tx_iter(x, v);
    sort_ctx s = {x, targ(a, 1, "attribute", tv_undef(NULL)), tv_truthy(targ(a, 0, "case_sensitive", tv_bool(false))),
                  false, -1};
    tv out = tf_new_list(x), seen = tf_new_list(x);
    for (size_t i = 0; i < items->n; i++) {
        tv k = sort_key(&s, items->v[i]);
        bool dup = false;
        for (size_t j = 0; j < seen.l->n && !dup; j++)
            dup = tv_eq(seen.l->v[j], k);
        if (!dup) {
            tl_push(A, seen.l, k);
            tl_push(A, out.l, items->v[i]);
        }
    }
    return out;
}

static tv f_wordcount(tctx *x, tv v, const targv *a)
{
    tv s = tf_str_of(x, v);
    int64_t n = 0;
    bool in = false;
    for (size_t i = 0; i < s.s.n; i++) {
        unsigned char c = (unsigned char)s.s.p[i];
        bool w = isalnum(c) || c == '_' || c >= 0x80;
        if (w && !in)
            n++;
        in = w;
    }
    return tv_int(n);
}

/* ---- tests ---- */

static bool t_defined(tctx *x, tv v, const targv *a) { return v.t != TV_UNDEF; }
static bool t_undefined(tctx *x, tv v, const targv *a) { return v.t == TV_UNDEF; }
static bool t_none(tctx *x, tv v, const targv *a) { return v.t == TV_NONE; }
static bool t_string(tctx *x, tv v, const targv *a) { return v.t == TV_STR; }
static bool t_number(tctx *x, tv v, const targv *a) { return tv_is_num(v); }
static bool t_integer(tctx *x, tv v, const targv *a) { return v.t == TV_INT; }
static bool t_float(tctx *x, tv v, const targv *a) { return v.t == TV_FLOAT; }
static bool t_boolean(tctx *x, tv v, const targv *a) { return v.t == TV_BOOL; }
static bool t_true(tctx *x, tv v, const targv *a) { return v.t == TV_BOOL && v.b; }
static bool t_false(tctx *x, tv v, const targv *a) { return v.t == TV_BOOL && !v.b; }
static bool t_mapping(tctx *x, tv v, const targv *a) { return v.t == TV_DICT; }
/* Undefined is callable in jinja2 (calling it fails), so it passes too. */
static bool t_callable(tctx *x, tv v, const targv *a) { return v.t == TV_FUNC || v.t == TV_UNDEF; }
static bool t_escaped(tctx *x, tv v, const targv *a) { return v.t == TV_STR && v.safe; }

static bool t_iterable(tctx *x, tv v, const targv *a)
{
    return v.t == TV_UNDEF || v.t == TV_STR || v.t == TV_LIST || v.t == TV_TUPLE || v.t == TV_DICT;
}

static bool t_sequence(tctx *x, tv v, const targv *a)
{
    return t_iterable(x, v, a);
}

static tv test_arg(tctx *x, const targv *a, const char *test)
{
    if (a->npos < 1)
        tx_fail(x, "test '%s' needs an argument", test);
    return a->pos[0];
}

static bool t_eq(tctx *x, tv v, const targv *a) { return tv_eq(v, test_arg(x, a, "eq")); }
static bool t_ne(tctx *x, tv v, const targv *a) { return !tv_eq(v, test_arg(x, a, "ne")); }
static bool t_lt(tctx *x, tv v, const targv *a) { return tv_cmp(x, v, test_arg(x, a, "lt")) < 0; }
static bool t_le(tctx *x, tv v, const targv *a) { return tv_cmp(x, v, test_arg(x, a, "le")) <= 0; }
static bool t_gt(tctx *x, tv v, const targv *a) { return tv_cmp(x, v, test_arg(x, a, "gt")) > 0; }
static bool t_ge(tctx *x, tv v, const targv *a) { return tv_cmp(x, v, test_arg(x, a, "ge")) >= 0; }

static bool t_sameas(tctx *x, tv v, const targv *a)
{
    tv o = test_arg(x, a, "sameas");
    if (v.t != o.t)
        return false;
    switch (v.t) {
    case TV_NONE:
    case TV_UNDEF: return true;
    case TV_BOOL: return v.b == o.b;
    case TV_INT: return v.i == o.i;
    case TV_FLOAT: return v.f == o.f;
    case TV_STR: return v.s.p == o.s.p && v.s.n == o.s.n;
    case TV_LIST:
    case TV_TUPLE: return v.l == o.l;
    case TV_DICT:
    case TV_NS: return v.d == o.d;
    default: return tv_eq(v, o);
    }
}

static bool t_in(tctx *x, tv v, const targv *a)
{
    tv seq = test_arg(x, a, "in");
    switch (seq.t) {
    case TV_STR:
        if (v.t != TV_STR)
            tx_fail(x, "'in <string>' requires string as left operand");
        return v.s.n == 0 || memmem(seq.s.p, seq.s.n, v.s.p, v.s.n) != NULL;
    case TV_LIST:
    case TV_TUPLE:
        for (size_t i = 0; i < seq.l->n; i++)
            if (tv_eq(seq.l->v[i], v))
                return true;
        return false;
    case TV_DICT:
    case TV_NS: return td_get(seq.d, v) != NULL;
    case TV_UNDEF: return false;
    default: tx_fail(x, "argument of type '%s' is not iterable", tv_type_name(seq));
    }
}

/* value % 2 with Python's sign rule, for ints and floats. */
static double py_mod(tctx *x, tv v, double m, const char *what)
{
    if (!tv_is_num(v))
        tx_fail(x, "%s: unsupported operand type for %%: '%s'", what, tv_type_name(v));
    if (v.t != TV_FLOAT) {
        int64_t i = v.t == TV_INT ? v.i : v.b, j = (int64_t)m;
        if (j == -1)
            return 0;
        int64_t r = i % j;
        return (double)(r != 0 && ((r < 0) != (j < 0)) ? r + j : r);
    }
    double r = fmod(v.f, m);
    return r != 0 && ((r < 0) != (m < 0)) ? r + m : r;
}

static bool t_odd(tctx *x, tv v, const targv *a) { return py_mod(x, v, 2, "odd") == 1; }
static bool t_even(tctx *x, tv v, const targv *a) { return py_mod(x, v, 2, "even") == 0; }

static bool t_divisibleby(tctx *x, tv v, const targv *a)
{
    tv d = test_arg(x, a, "divisibleby");
    if (!tv_is_num(d))
        tx_fail(x, "divisibleby needs a number, not %s", tv_type_name(d));
    if (tv_num(d) == 0)
        tx_fail(x, "integer division or modulo by zero");
    if (d.t == TV_FLOAT || v.t == TV_FLOAT)
        return py_mod(x, tv_float(tv_num(v)), tv_num(d), "divisibleby") == 0;
    int64_t n = d.t == TV_INT ? d.i : d.b;
    return n == -1 || py_mod(x, v, (double)n, "divisibleby") == 0;
}

/* Python's str.islower()/isupper(): every cased character in the given case, and at least one. */
static bool all_cased_are(tctx *x, tv v, bool upper)
{
    tv s = tf_str_of(x, v);
    bool cased = false;
    for (size_t i = 0; i < s.s.n;) {
        size_t len;
        uint32_t c = utf8_get(s.s.p, s.s.n, i, &len);
        if (uc_cased(c)) {
            if (uc_map(c, upper) != c)
                return false;
            cased = true;
        }
        i += len;
    }
    return cased;
}

bool tf_t_lower(tctx *x, tv v, const targv *a)
{
    return all_cased_are(x, v, false);
}

bool tf_t_upper(tctx *x, tv v, const targv *a)
{
    return all_cased_are(x, v, true);
}

static bool t_filter(tctx *x, tv v, const targv *a)
{
    return v.t == TV_STR && tmpl_find_filter(v.s.p, v.s.n) != NULL;
}

static bool t_test(tctx *x, tv v, const targv *a)
{
    return v.t == TV_STR && tmpl_find_test(v.s.p, v.s.n) != NULL;
}

/* ---- tables ---- */

static const tfilter_def filters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center},
    {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
    {"escape", f_escape}, {"first", f_first}, {"float", f_float}, {"format", f_format}, {"groupby", f_groupby}, {"indent", f_indent},
    {"int", f_int}, {"items", tf_f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
    {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
    {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
    {"round", f_round}, {"safe", f_safe}, {"select", f_select}, {"selectattr", f_selectattr}, {"sort", f_sort},
    {"string", f_string}, {"striptags", f_striptags}, {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson},
    {"trim", f_trim}, {"truncate", f_truncate}, {"unique", f_unique}, {"upper", f_upper},
    {"wordcount", f_wordcount},
};

static const ttest_def tests[] = {
    {"==", t_eq}, {"!=", t_ne}, {"<", t_lt}, {"<=", t_le}, {">", t_gt}, {">=", t_ge},
    {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
    {"eq", t_eq}, {"equalto", t_eq}, {"escaped", t_escaped}, {"even", t_even}, {"false", t_false},
    {"filter", t_filter}, {"float", t_float}, {"ge", t_ge}, {"greaterthan", t_gt}, {"gt", t_gt}, {"in", t_in},
    {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le}, {"lessthan", t_lt}, {"lower", tf_t_lower},
    {"lt", t_lt}, {"mapping", t_mapping}, {"ne", t_ne}, {"none", t_none}, {"number", t_number}, {"odd", t_odd},
    {"sameas", t_sameas}, {"sequence", t_sequence}, {"string", t_string}, {"test", t_test}, {"true", t_true},
    {"undefined", t_undefined}, {"upper", tf_t_upper},
};

const tfilter_def *tmpl_find_filter(const char *name, size_t len)
{
    for (size_t i = 0; i < JC_ARRAY_LEN(filters); i++)
        if (strlen(filters[i].name) == len && !memcmp(filters[i].name, name, len))
            return &filters[i];
    return NULL;
}

const ttest_def *tmpl_find_test(const char *name, size_t len)
{
    for (size_t i = 0; i < JC_ARRAY_LEN(tests); i++)
        if (strlen(tests[i].name) == len && !memcmp(tests[i].name, name, len))
            return &tests[i];
    return NULL;
}

bool tmpl_apply_test(tctx *x, tv v, const char *name, size_t len, const targv *a)
{
    const ttest_def *t = tmpl_find_test(name, len);
    if (!t)
        tx_fail(x, "no test named '%.*s'", (int)len, name);
    return t->fn(x, v, a);
}

tv tmpl_apply_filter(tctx *x, tv v, const char *name, size_t len, const targv *a)
{
    const tfilter_def *f = tmpl_find_filter(name, len);
    if (!f)
        tx_fail(x, "no filter named '%.*s'", (int)len, name);
    return f->fn(x, v, a);
}
