/*
 * tmpl_methods.c — the Python methods of strings, lists and dicts that chat
 * templates call ('a,b'.split(','), s.strip(), d.items(), d.get(k),
 * l.append(x), '{}'.format(x), ...), with Python 3 semantics. Shared string
 * helpers (tf_*, case mapping included) live in tmpl_filters.c.
 */
#include "tmpl/tmpl_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A (&x->arena)
#define NAMEIS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))


static tv str_split(tctx *x, tv s, tv sep, int64_t maxsplit, bool from_right)
{
    tv out = tf_new_list(x);
    if (sep.t == TV_STR && sep.s.n == 0)
        tx_fail(x, "empty separator");
    if (sep.t != TV_STR) { /* runs of whitespace */
        size_t a = 0, b = s.s.n;
        tv parts = tf_new_list(x);
        if (!from_right) {
            while (a < b) {
                while (a < b && tf_in_set(s.s.p[a], tv_none()))
                    a++;
                if (a >= b)
                    break;
                if (maxsplit >= 0 && (int64_t)parts.l->n >= maxsplit) {
                    size_t e = b;
                    while (e > a && tf_in_set(s.s.p[e - 1], tv_none()))
                        e--;
                    tl_push(A, parts.l, tv_strn(s.s.p + a, e - a));
                    break;
                }
                size_t e = a;
                while (e < b && !tf_in_set(s.s.p[e], tv_none()))
                    e++;
                tl_push(A, parts.l, tv_strn(s.s.p + a, e - a));
                a = e;
            }
            return parts;
        }
        while (a < b) {
            while (b > a && tf_in_set(s.s.p[b - 1], tv_none()))
                b--;
            if (a >= b)
                break;
            if (maxsplit >= 0 && (int64_t)parts.l->n >= maxsplit) {
                size_t e = a;
                while (e < b && tf_in_set(s.s.p[e], tv_none()))
                    e++;
                tl_push(A, parts.l, tv_strn(s.s.p + e, b - e));
                break;
            }
            size_t e = b;
            while (e > a && !tf_in_set(s.s.p[e - 1], tv_none()))
                e--;
            tl_push(A, parts.l, tv_strn(s.s.p + e, b - e));
            b = e;
        }
        for (size_t i = parts.l->n; i-- > 0;)
            tl_push(A, out.l, parts.l->v[i]);
        return out;
    }
    if (!from_right) {
        const char *p = s.s.p, *end = s.s.p + s.s.n;
        for (;;) {
            const char *hit = (maxsplit < 0 || (int64_t)out.l->n < maxsplit)
                                  ? tf_find_sub(p, (size_t)(end - p), sep.s.p, sep.s.n) : NULL;
            if (!hit) {
                tl_push(A, out.l, tv_strn(p, (size_t)(end - p)));
                return out;
            }
            tl_push(A, out.l, tv_strn(p, (size_t)(hit - p)));
            p = hit + sep.s.n;
        }
    }
    tv parts = tf_new_list(x);
    size_t end = s.s.n;
    for (;;) {
        const char *hit = (maxsplit < 0 || (int64_t)parts.l->n < maxsplit) ? tf_rfind_sub(s.s.p, end, sep.s.p, sep.s.n) : NULL;
        if (!hit) {
            tl_push(A, parts.l, tv_strn(s.s.p, end));
            break;
        }
        size_t at = (size_t)(hit - s.s.p);
        tl_push(A, parts.l, tv_strn(hit + sep.s.n, end - at - sep.s.n));
        end = at;
    }
    for (size_t i = parts.l->n; i-- > 0;)
        tl_push(A, out.l, parts.l->v[i]);
    return out;
}

static bool str_affix(tctx *x, tv s, tv fix, bool start)
{
    if (fix.t == TV_TUPLE || fix.t == TV_LIST) {
        for (size_t i = 0; i < fix.l->n; i++)
            if (str_affix(x, s, fix.l->v[i], start))
                return true;
        return false;
    }
    if (fix.t != TV_STR)
        tx_fail(x, "%s first arg must be str or a tuple of str", start ? "startswith" : "endswith");
    if (fix.s.n > s.s.n)
        return false;
    return !memcmp(start ? s.s.p : s.s.p + s.s.n - fix.s.n, fix.s.p, fix.s.n);
}

/* Python str.format with {} {0} {name} and {{ }}; format specs are not supported. */
static tv str_format(tctx *x, tv fmt, const targv *a)
{
    size_t start = x->scratch.len, auto_i = 0;
    for (size_t i = 0; i < fmt.s.n; i++) {
        char c = fmt.s.p[i];
        if (c == '}' && i + 1 < fmt.s.n && fmt.s.p[i + 1] == '}') {
            tx_buf_append(x, &x->scratch, "}", 1);
            i++;
            continue;
        }
        if (c != '{') {
            tx_buf_append(x, &x->scratch, &c, 1);
            continue;
        }
        if (i + 1 < fmt.s.n && fmt.s.p[i + 1] == '{') {
            tx_buf_append(x, &x->scratch, "{", 1);
            i++;
            continue;
        }
        const char *close = memchr(fmt.s.p + i, '}', fmt.s.n - i);
        if (!close)
            tx_fail(x, "Single '{' encountered in format string");
        const char *f = fmt.s.p + i + 1;
        size_t fl = (size_t)(close - f);
        if (memchr(f, ':', fl) || memchr(f, '!', fl))
            tx_fail(x, "format specs and conversions in str.format are not supported");
        tv v;
        if (fl == 0) {
            if (auto_i >= a->npos)
                tx_fail(x, "Replacement index %zu out of range for positional args tuple", auto_i);
            v = a->pos[auto_i++];
        } else if (isdigit((unsigned char)f[0])) {
            size_t k = (size_t)strtoul(f, NULL, 10);
            if (k >= a->npos)
                tx_fail(x, "Replacement index %zu out of range for positional args tuple", k);
            v = a->pos[k];
        } else {
            bool found = false;
            for (size_t k = 0; k < a->nkw; k++)
                if (a->kwlen[k] == fl && !memcmp(a->kwname[k], f, fl)) {
                    v = a->kwval[k];
                    found = true;
                }
            if (!found)
                tx_fail(x, "KeyError: '%.*s'", (int)fl, f);
        }
        tv_str_append(x, &x->scratch, v);
        i = (size_t)(close - fmt.s.p);
    }
    return tx_scratch_take(x, start);
}

/* ---- methods ---- */

static const char *const str_methods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower",
    "title", "capitalize", "find", "rfind", "index", "count", "format", "join", "splitlines", "isdigit",
    "isalpha", "isalnum", "isspace", "islower", "isupper", "swapcase", "zfill", "removeprefix", "removesuffix",
    NULL};
static const char *const list_methods[] = {"append", "pop", "index", "count", "insert", "extend", "remove",
                                           "reverse", "copy", "clear", NULL};
static const char *const dict_methods[] = {"items", "keys", "values", "get", "update", "pop", "setdefault",
                                           "copy", "clear", NULL};

static bool in_names(const char *const *names, const char *name, size_t len)
{
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], name, len))
            return true;
    return false;
}

bool tmpl_has_method(tv obj, const char *name, size_t len)
{
    switch (obj.t) {
    case TV_STR: return in_names(str_methods, name, len);
    case TV_LIST: return in_names(list_methods, name, len);
    case TV_TUPLE: return len == 5 ? !memcmp(name, "index", 5) || !memcmp(name, "count", 5) : false;
    case TV_DICT: return in_names(dict_methods, name, len);
    default: return false;
    }
}

static bool str_all(tv s, int (*fn)(int))
{
    if (!s.s.n)
        return false;
    for (size_t i = 0; i < s.s.n; i++)
        if (!fn((unsigned char)s.s.p[i]))
            return false;
    return true;
}

static tv method_str(tctx *x, tv s, const char *name, size_t len, const targv *a, bool *found)
{
    tv a0 = targ(a, 0, NULL, tv_none()), a1 = targ(a, 1, NULL, tv_none());
    if (NAMEIS("strip"))
        return tf_str_strip(x, s, targ(a, 0, "chars", tv_none()), true, true);
    if (NAMEIS("lstrip"))
        return tf_str_strip(x, s, targ(a, 0, "chars", tv_none()), true, false);
    if (NAMEIS("rstrip"))
        return tf_str_strip(x, s, targ(a, 0, "chars", tv_none()), false, true);
    if (NAMEIS("split") || NAMEIS("rsplit")) {
        tv sep = targ(a, 0, "sep", tv_none()), ms = targ(a, 1, "maxsplit", tv_int(-1));
        if (sep.t != TV_STR && sep.t != TV_NONE)
            tx_fail(x, "must be str or None, not %s", tv_type_name(sep));
        return str_split(x, s, sep, tf_want_int(x, ms, "maxsplit"), name[0] == 'r');
    }
    if (NAMEIS("startswith"))
        return tv_bool(str_affix(x, s, a0, true));
    if (NAMEIS("endswith"))
        return tv_bool(str_affix(x, s, a0, false));
    if (NAMEIS("replace")) {
        tv c = targ(a, 2, "count", tv_int(-1));
        return tf_str_replace(x, s, a0, a1, tf_want_int(x, c, "count"));
    }
    if (NAMEIS("upper"))
        return tf_str_case(x, s, TCASE_UPPER);
    if (NAMEIS("lower"))
        return tf_str_case(x, s, TCASE_LOWER);
    if (NAMEIS("title"))
        return tf_str_case(x, s, TCASE_TITLE_PY);
    if (NAMEIS("capitalize"))
        return tf_str_case(x, s, TCASE_CAPITALIZE);
    if (NAMEIS("swapcase"))
        return tf_str_case(x, s, TCASE_SWAP);
    if (NAMEIS("find") || NAMEIS("rfind") || NAMEIS("index")) {
        if (a0.t != TV_STR)
            tx_fail(x, "must be str, not %s", tv_type_name(a0));
        const char *hit = name[0] == 'r' ? tf_rfind_sub(s.s.p, s.s.n, a0.s.p, a0.s.n) : tf_find_sub(s.s.p, s.s.n, a0.s.p, a0.s.n);
        if (!hit && name[0] == 'i')
            tx_fail(x, "substring not found");
        return tv_int(hit ? (int64_t)tv_utf8_len(s.s.p, (size_t)(hit - s.s.p)) : -1);
    }
    if (NAMEIS("count")) {
        if (a0.t != TV_STR)
            tx_fail(x, "must be str, not %s", tv_type_name(a0));
        if (a0.s.n == 0)
            return tv_int((int64_t)tv_utf8_len(s.s.p, s.s.n) + 1);
        int64_t c = 0;
        const char *p = s.s.p, *end = s.s.p + s.s.n, *hit;
        while ((hit = tf_find_sub(p, (size_t)(end - p), a0.s.p, a0.s.n))) {
            c++;
            p = hit + a0.s.n;
        }
        return tv_int(c);
    }
    if (NAMEIS("format"))
        return str_format(x, s, a);
    if (NAMEIS("join"))
        return tf_str_join(x, s, tx_iter(x, a0), tv_undef(NULL));
    if (NAMEIS("splitlines")) {
        tv out = tf_new_list(x);
        bool keep = tv_truthy(targ(a, 0, "keepends", tv_bool(false)));
        size_t i = 0;
        while (i < s.s.n) {
            size_t j = i;
            while (j < s.s.n && s.s.p[j] != '\n' && s.s.p[j] != '\r')
                j++;
            size_t e = j;
            if (j < s.s.n)
                j += (s.s.p[j] == '\r' && j + 1 < s.s.n && s.s.p[j + 1] == '\n') ? 2 : 1;
            tl_push(A, out.l, tv_strn(s.s.p + i, (keep ? j : e) - i));
            i = j;
        }
        return out;
    }
    if (NAMEIS("isdigit"))
        return tv_bool(str_all(s, isdigit));
    if (NAMEIS("isalpha"))
        return tv_bool(str_all(s, isalpha));
    if (NAMEIS("isalnum"))
        return tv_bool(str_all(s, isalnum));
    if (NAMEIS("isspace"))
        return tv_bool(str_all(s, isspace));
    if (NAMEIS("islower"))
        return tv_bool(tf_t_lower(x, s, a));
    if (NAMEIS("isupper"))
        return tv_bool(tf_t_upper(x, s, a));
    if (NAMEIS("zfill")) {
        int64_t w = tf_want_int(x, a0, "width");
        size_t n = tv_utf8_len(s.s.p, s.s.n);
        if (w <= (int64_t)n || w > 100000)
            return s;
        size_t pad = (size_t)w - n, start = x->scratch.len, skip = 0;
        if (s.s.n && (s.s.p[0] == '-' || s.s.p[0] == '+')) {
            tx_buf_append(x, &x->scratch, s.s.p, 1);
            skip = 1;
        }
        for (size_t i = 0; i < pad; i++)
            tx_buf_append(x, &x->scratch, "0", 1);
        tx_buf_append(x, &x->scratch, s.s.p + skip, s.s.n - skip);
        return tx_scratch_take(x, start);
    }
    if (NAMEIS("removeprefix") || NAMEIS("removesuffix")) {
        if (a0.t != TV_STR)
            tx_fail(x, "must be str, not %s", tv_type_name(a0));
        bool pre = name[6] == 'p';
        if (str_affix(x, s, a0, pre))
            return pre ? tv_strn(s.s.p + a0.s.n, s.s.n - a0.s.n) : tv_strn(s.s.p, s.s.n - a0.s.n);
        return s;
    }
    *found = false;
    return tv_undef(NULL);
}

static tv method_list(tctx *x, tv l, const char *name, size_t len, const targv *a, bool *found)
{
    tv a0 = targ(a, 0, NULL, tv_undef(NULL));
    if (NAMEIS("index") || NAMEIS("count")) {
        int64_t c = 0;
        for (size_t i = 0; i < l.l->n; i++)
            if (tv_eq(l.l->v[i], a0)) {
                if (name[0] == 'i')
                    return tv_int((int64_t)i);
                c++;
            }
        if (name[0] == 'i')
            tx_fail(x, "value is not in list");
        return tv_int(c);
    }
    if (l.t == TV_TUPLE) {
        *found = false;
        return tv_undef(NULL);
    }
    if (NAMEIS("append")) {
        tl_push(A, l.l, a0);
        return tv_none();
    }
    if (NAMEIS("pop")) {
        if (!l.l->n)
            tx_fail(x, "pop from empty list");
        size_t idx = l.l->n - 1;
        if (a->npos) {
            int64_t i = tf_want_int(x, a0, "pop index");
            if (i < 0)
                i += (int64_t)l.l->n;
            if (i < 0 || (uint64_t)i >= l.l->n)
                tx_fail(x, "pop index out of range");
            idx = (size_t)i;
        }
        tv r = l.l->v[idx];
        memmove(l.l->v + idx, l.l->v + idx + 1, (l.l->n - idx - 1) * sizeof(tv));
        l.l->n--;
        return r;
    }
    if (NAMEIS("insert")) {
        int64_t i = tf_want_int(x, a0, "insert index");
        tv v = targ(a, 1, NULL, tv_none());
        if (i < 0)
            i += (int64_t)l.l->n;
        if (i < 0)
            i = 0;
        if ((uint64_t)i > l.l->n)
            i = (int64_t)l.l->n;
        tl_push(A, l.l, v);
        memmove(l.l->v + i + 1, l.l->v + i, (l.l->n - 1 - (size_t)i) * sizeof(tv));
        l.l->v[i] = v;
        return tv_none();
    }
    if (NAMEIS("extend")) {
        tlist *items = tx_iter(x, a0);
        for (size_t i = 0; i < items->n; i++)
            tl_push(A, l.l, items->v[i]);
        return tv_none();
    }
    if (NAMEIS("remove")) {
        for (size_t i = 0; i < l.l->n; i++)
            if (tv_eq(l.l->v[i], a0)) {
                memmove(l.l->v + i, l.l->v + i + 1, (l.l->n - i - 1) * sizeof(tv));
                l.l->n--;
                return tv_none();
            }
        tx_fail(x, "list.remove(x): x not in list");
    }
    if (NAMEIS("reverse")) {
        for (size_t i = 0; i < l.l->n / 2; i++) {
            tv t = l.l->v[i];
            l.l->v[i] = l.l->v[l.l->n - 1 - i];
            l.l->v[l.l->n - 1 - i] = t;
        }
        return tv_none();
    }
    if (NAMEIS("copy")) {
        tv r = {.t = TV_LIST};
        r.l = tx_iter(x, l);
        return r;
    }
    if (NAMEIS("clear")) {
        l.l->n = 0;
        return tv_none();
    }
    *found = false;
    return tv_undef(NULL);
}

static tv method_dict(tctx *x, tv d, const char *name, size_t len, const targv *a, bool *found)
{
    tv a0 = targ(a, 0, NULL, tv_undef(NULL));
    if (NAMEIS("items"))
        return tf_f_items(x, d, a);
    if (NAMEIS("keys") || NAMEIS("values")) {
        tv out = tv_list_new(A, d.d->n);
        for (size_t i = 0; i < d.d->n; i++)
            out.l->v[i] = name[0] == 'k' ? d.d->k[i] : d.d->v[i];
        out.l->n = d.d->n;
        return out;
    }
    if (NAMEIS("get")) {
        tv *v = td_get(d.d, a0);
        return v ? *v : targ(a, 1, "default", tv_none());
    }
    if (NAMEIS("update")) {
        if (a0.t == TV_DICT)
            for (size_t i = 0; i < a0.d->n; i++)
                td_set(A, d.d, a0.d->k[i], a0.d->v[i]);
        for (size_t k = 0; k < a->nkw; k++)
            td_set(A, d.d, tv_strn(a->kwname[k], a->kwlen[k]), a->kwval[k]);
        return tv_none();
    }
    if (NAMEIS("pop")) {
        tv *v = td_get(d.d, a0);
        if (!v) {
            if (a->npos > 1)
                return a->pos[1];
            tx_fail(x, "KeyError in dict.pop()");
        }
        tv r = *v;
        td_del(d.d, a0);
        return r;
    }
    if (NAMEIS("setdefault")) {
        tv *v = td_get(d.d, a0);
        if (v)
            return *v;
        tv def = targ(a, 1, NULL, tv_none());
        td_set(A, d.d, a0, def);
        return def;
    }
    if (NAMEIS("copy")) {
        tv r = tv_dict_new(A, d.d->n);
        for (size_t i = 0; i < d.d->n; i++)
            td_set(A, r.d, d.d->k[i], d.d->v[i]);
        return r;
    }
    if (NAMEIS("clear")) {
        d.d->n = 0;
        return tv_none();
    }
    *found = false;
    return tv_undef(NULL);
}

tv tmpl_call_method(tctx *x, tv obj, const char *name, size_t len, const targv *a, bool *found)
{
    *found = true;
    switch (obj.t) {
    case TV_STR: return method_str(x, obj, name, len, a, found);
    case TV_LIST:
    case TV_TUPLE: return method_list(x, obj, name, len, a, found);
    case TV_DICT: return method_dict(x, obj, name, len, a, found);
    default: *found = false; return tv_undef(NULL);
    }
}

