/*
 * tmpl_eval.c — the Jinja evaluator: walks the AST of tmpl_parse.c over the
 * values of tmpl_value.c, writing output into a bounded buffer; and
 * tmpl_render(), the entry point of rendering (see tmpl.h).
 *
 * Scopes follow jinja2: the template's top level holds the variables given
 * to the render and top-level sets; a for loop body and a macro call get
 * their own scope (so a set inside a loop does not leak out: namespace() is
 * the way to carry state); if blocks share their parent's scope. Macros see
 * the scope they were defined in. Output of macros, call blocks, set blocks
 * and filter blocks is captured by remembering the output length and taking
 * what was written after it.
 *
 * Bounds: loop iterations and macro calls count as steps (max_steps); macro
 * nesting is limited by max_depth and evaluation recursion by EVAL_MAX_DEPTH;
 * the output buffer and the arena have maxima. Every failure is "line L: ..."
 * via tx_fail().
 */
#include "tmpl/tmpl_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVAL_MAX_DEPTH 1000

enum { EX_OK, EX_BREAK, EX_CONTINUE };

_Noreturn void tx_fail(tctx *x, const char *fmt, ...)
{
    char msg[450];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jc_errf(x->err, "template error: line %d: %s", x->line, msg);
    longjmp(x->jmp, 1);
}

void tx_step(tctx *x)
{
    if (++x->steps > x->lim.max_steps)
        tx_fail(x, "template stopped after %llu loop iterations and calls (the limit)",
                (unsigned long long)x->lim.max_steps);
    if (jc_now() > x->deadline)
        tx_fail(x, "template stopped after running for %.1f s (the limit)", x->lim.max_seconds);
}

static void enter(tctx *x)
{
    if (++x->depth > EVAL_MAX_DEPTH)
        tx_fail(x, "template evaluation nested too deeply");
}

/* ---- frames ---- */

static tframe *frame_new(tctx *x, tframe *parent)
{
    tframe *f = ta_alloc(&x->arena, sizeof *f);
    f->parent = parent;
    return f;
}

static void frame_set(tctx *x, tframe *f, const char *name, size_t len, tv v)
{
    tv *slot = td_get_str(&f->vars, name, len);
    if (slot)
        *slot = v;
    else
        td_set(&x->arena, &f->vars, tv_strn(name, len), v);
}

enum builtin_id { B_RANGE, B_NAMESPACE, B_RAISE, B_STRFTIME, B_DICT, B_JOINER, B_JOINER_CALL, B_COUNT };
static const char *const builtin_names[] = {"range", "namespace", "raise_exception", "strftime_now", "dict", "joiner"};

static tv lookup(tctx *x, tframe *f, const char *name, size_t len)
{
    for (; f; f = f->parent) {
        tv *v = td_get_str(&f->vars, name, len);
        if (v)
            return *v;
    }
    for (size_t i = 0; i < JC_ARRAY_LEN(builtin_names); i++) {
        if (strlen(builtin_names[i]) == len && !memcmp(builtin_names[i], name, len)) {
            tv v = {.t = TV_FUNC};
            v.fn = ta_alloc(&x->arena, sizeof *v.fn);
            v.fn->kind = FN_BUILTIN;
            v.fn->builtin = (int)i;
            return v;
        }
    }
    return tv_undef(ta_strndup(&x->arena, name, len));
}

/* ---- iteration, attributes, items ---- */

tlist *tx_iter(tctx *x, tv v)
{
    tv l = tv_list_new(&x->arena, 0);
    switch (v.t) {
    case TV_UNDEF: return l.l;
    case TV_LIST:
    case TV_TUPLE:
        if (v.l->n) {
            l.l->v = ta_array(&x->arena, v.l->n, sizeof(tv));
            memcpy(l.l->v, v.l->v, v.l->n * sizeof(tv));
            l.l->n = l.l->cap = v.l->n;
        }
        return l.l;
    case TV_DICT:
        for (size_t i = 0; i < v.d->n; i++)
            tl_push(&x->arena, l.l, v.d->k[i]);
        return l.l;
    case TV_STR:
        for (size_t i = 0; i < v.s.n;) {
            size_t j = i + 1;
            while (j < v.s.n && ((unsigned char)v.s.p[j] & 0xC0) == 0x80)
                j++;
            tl_push(&x->arena, l.l, tv_strn(v.s.p + i, j - i));
            i = j;
        }
        return l.l;
    default: tx_fail(x, "'%s' object is not iterable", tv_type_name(v));
    }
}

static tv loop_attr(tctx *x, tloop *lp, const char *name, size_t len)
{
    size_t n = lp->items->n, i = lp->index0;
#define IS(s) (len == strlen(s) && !memcmp(name, s, len))
    if (IS("index"))
        return tv_int((int64_t)i + 1);
    if (IS("index0"))
        return tv_int((int64_t)i);
    if (IS("revindex"))
        return tv_int((int64_t)(n - i));
    if (IS("revindex0"))
        return tv_int((int64_t)(n - i - 1));
    if (IS("first"))
        return tv_bool(i == 0);
    if (IS("last"))
        return tv_bool(i + 1 == n);
    if (IS("length"))
        return tv_int((int64_t)n);
    if (IS("depth"))
        return tv_int(lp->depth);
    if (IS("depth0"))
        return tv_int(lp->depth - 1);
    if (IS("previtem"))
        return i > 0 ? lp->items->v[i - 1] : tv_undef("previtem");
    if (IS("nextitem"))
        return i + 1 < n ? lp->items->v[i + 1] : tv_undef("nextitem");
    if (IS("cycle")) {
        tv v = {.t = TV_FUNC};
        v.fn = ta_alloc(&x->arena, sizeof *v.fn);
        v.fn->kind = FN_LOOP_CYCLE;
        v.fn->self.t = TV_LOOP;
        v.fn->self.loop = lp;
        return v;
    }
#undef IS
    return tv_undef("loop attribute");
}

tv tx_getattr(tctx *x, tv obj, const char *name, size_t len)
{
    switch (obj.t) {
    case TV_UNDEF:
        tx_fail(x, "'%s' is undefined (looking up attribute '%.*s')", obj.uname ? obj.uname : "value", (int)len, name);
    case TV_NS: {
        tv *v = td_get_str(obj.d, name, len);
        return v ? *v : tv_undef(ta_strndup(&x->arena, name, len));
    }
    case TV_LOOP: return loop_attr(x, obj.loop, name, len);
    case TV_DICT:
    case TV_STR:
    case TV_LIST:
    case TV_TUPLE:
        if (tmpl_has_method(obj, name, len)) {
            tv v = {.t = TV_FUNC};
            v.fn = ta_alloc(&x->arena, sizeof *v.fn);
            v.fn->kind = FN_METHOD;
            v.fn->self = obj;
            v.fn->name = name;
            v.fn->name_len = len;
            return v;
        }
        if (obj.t == TV_DICT) {
            tv *v = td_get_str(obj.d, name, len);
            if (v)
                return *v;
        }
        if (obj.t == TV_TUPLE && obj.l->n == 2 && len == 7 && !memcmp(name, "grouper", 7))
            return obj.l->v[0]; /* groupby's (grouper, list) pairs */
        if (obj.t == TV_TUPLE && obj.l->n == 2 && len == 4 && !memcmp(name, "list", 4))
            return obj.l->v[1];
        return tv_undef(ta_strndup(&x->arena, name, len));
    default: return tv_undef(ta_strndup(&x->arena, name, len));
    }
}

/* Python index normalisation; false when out of range. */
static bool norm_index(int64_t i, size_t n, size_t *out)
{
    if (i < 0)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return false;
    *out = (size_t)i;
    return true;
}

tv tx_getitem(tctx *x, tv obj, tv key)
{
    size_t idx;
    switch (obj.t) {
    case TV_UNDEF: tx_fail(x, "'%s' is undefined (looking up an item)", obj.uname ? obj.uname : "value");
    case TV_DICT:
    case TV_NS: {
        tv *v = td_get(obj.d, key);
        if (v)
            return *v;
        if (key.t == TV_STR && obj.t == TV_DICT)
            return tx_getattr(x, obj, key.s.p, key.s.n);
        return tv_undef("item");
    }
    case TV_LIST:
    case TV_TUPLE:
        if ((key.t == TV_INT || key.t == TV_BOOL) && norm_index(key.t == TV_INT ? key.i : key.b, obj.l->n, &idx))
            return obj.l->v[idx];
        if (key.t == TV_STR)
            return tx_getattr(x, obj, key.s.p, key.s.n);
        return tv_undef("item");
    case TV_STR:
        if (key.t == TV_INT || key.t == TV_BOOL) {
            size_t n = tv_utf8_len(obj.s.p, obj.s.n);
            if (!norm_index(key.t == TV_INT ? key.i : key.b, n, &idx))
                return tv_undef("item");
            size_t a = tv_utf8_offset(obj.s.p, obj.s.n, idx), b = tv_utf8_offset(obj.s.p, obj.s.n, idx + 1);
            return tv_strn(obj.s.p + a, b - a);
        }
        if (key.t == TV_STR)
            return tx_getattr(x, obj, key.s.p, key.s.n);
        return tv_undef("item");
    case TV_LOOP:
        if (key.t == TV_STR)
            return loop_attr(x, obj.loop, key.s.p, key.s.n);
        return tv_undef("item");
    default: return tv_undef("item");
    }
}

static int64_t slice_arg(tctx *x, tv v, int64_t def)
{
    if (v.t == TV_UNDEF || v.t == TV_NONE)
        return def;
    if (v.t == TV_INT)
        return v.i;
    if (v.t == TV_BOOL)
        return v.b;
    tx_fail(x, "slice indices must be integers or None");
}

static tv do_slice(tctx *x, tv obj, tv start, tv stop, tv step)
{
    if (obj.t == TV_UNDEF)
        tx_fail(x, "'%s' is undefined (slicing)", obj.uname ? obj.uname : "value");
    if (obj.t != TV_LIST && obj.t != TV_TUPLE && obj.t != TV_STR)
        tx_fail(x, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t st = slice_arg(x, step, 1);
    if (st == 0)
        tx_fail(x, "slice step cannot be zero");
    int64_t n = obj.t == TV_STR ? (int64_t)tv_utf8_len(obj.s.p, obj.s.n) : (int64_t)obj.l->n;
    if (st > n + 1) /* larger steps select the same items; clamping keeps i += st from overflowing */
        st = n + 1;
    if (st < -n - 1)
        st = -n - 1;
    int64_t lo, hi;
    if (st > 0) {
        lo = slice_arg(x, start, 0);
        hi = slice_arg(x, stop, n);
        if (lo < 0)
            lo = lo + n < 0 ? 0 : lo + n;
        if (lo > n)
            lo = n;
        if (hi < 0)
            hi = hi + n < 0 ? 0 : hi + n;
        if (hi > n)
            hi = n;
    } else {
        lo = slice_arg(x, start, n - 1);
        hi = slice_arg(x, stop, -n - 1);
        if (lo < 0)
            lo = lo + n < 0 ? -1 : lo + n;
        if (lo >= n)
            lo = n - 1;
        if (hi < 0)
            hi = hi + n < 0 ? -1 : hi + n;
        if (hi >= n)
            hi = n - 1;
    }
    if (obj.t == TV_STR) {
        bool ascii = tv_utf8_len(obj.s.p, obj.s.n) == obj.s.n;
        if (st == 1) {
            if (hi <= lo)
                return tv_strn("", 0);
            size_t a = ascii ? (size_t)lo : tv_utf8_offset(obj.s.p, obj.s.n, (size_t)lo);
            size_t b = ascii ? (size_t)hi : tv_utf8_offset(obj.s.p, obj.s.n, (size_t)hi);
            return tv_strn(obj.s.p + a, b - a);
        }
        tlist *chars = tx_iter(x, obj);
        size_t start_len = x->scratch.len;
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st)
            tx_buf_append(x, &x->scratch, chars->v[i].s.p, chars->v[i].s.n);
        return tx_scratch_take(x, start_len);
    }
    tv r = tv_list_new(&x->arena, 0);
    r.t = obj.t;
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st)
        tl_push(&x->arena, r.l, obj.l->v[i]);
    return r;
}

/* ---- operators ---- */

static bool contains(tctx *x, tv container, tv item)
{
    switch (container.t) {
    case TV_UNDEF: return false;
    case TV_STR:
        if (item.t != TV_STR)
            tx_fail(x, "'in <string>' requires string as left operand, not %s", tv_type_name(item));
        if (item.s.n == 0)
            return true;
        return memmem(container.s.p, container.s.n, item.s.p, item.s.n) != NULL;
    case TV_LIST:
    case TV_TUPLE:
        for (size_t i = 0; i < container.l->n; i++)
            if (tv_eq(container.l->v[i], item))
                return true;
        return false;
    case TV_DICT:
    case TV_NS:
        if (item.t == TV_LIST || item.t == TV_DICT || item.t == TV_NS)
            tx_fail(x, "unhashable type: '%s'", tv_type_name(item));
        return td_get(container.d, item) != NULL;
    default: tx_fail(x, "argument of type '%s' is not iterable", tv_type_name(container));
    }
}

static _Noreturn void bad_operands(tctx *x, const char *op, tv a, tv b)
{
    if (a.t == TV_UNDEF || b.t == TV_UNDEF) {
        tv u = a.t == TV_UNDEF ? a : b;
        tx_fail(x, "'%s' is undefined", u.uname ? u.uname : "value");
    }
    if (!strcmp(op, "+") && a.t == TV_STR)
        tx_fail(x, "can only concatenate str (not \"%s\") to str", tv_type_name(b));
    if (!strcmp(op, "+") && a.t == TV_LIST)
        tx_fail(x, "can only concatenate list (not \"%s\") to list", tv_type_name(b));
    tx_fail(x, "unsupported operand type(s) for %s: '%s' and '%s'", op, tv_type_name(a), tv_type_name(b));
}

static tv repeat(tctx *x, tv seq, tv count)
{
    int64_t k = count.t == TV_INT ? count.i : count.b;
    if (k < 0)
        k = 0;
    if (seq.t == TV_STR) {
        uint64_t total;
        if (!jc_mul_ok(seq.s.n, (uint64_t)k, &total) || total > x->lim.max_output)
            tx_fail(x, "string repetition of %zu bytes x %lld exceeds the output limit", seq.s.n, (long long)k);
        char *p = ta_alloc(&x->arena, (size_t)total + 1);
        for (int64_t i = 0; i < k; i++)
            memcpy(p + (size_t)i * seq.s.n, seq.s.p, seq.s.n);
        return tv_strn(p, (size_t)total);
    }
    uint64_t total;
    if (!jc_mul_ok(seq.l->n, (uint64_t)k, &total) || total > x->lim.max_steps)
        tx_fail(x, "list repetition too large");
    tv r = tv_list_new(&x->arena, (size_t)total);
    r.t = seq.t;
    for (int64_t i = 0; i < k; i++)
        for (size_t j = 0; j < seq.l->n; j++)
            r.l->v[r.l->n++] = seq.l->v[j];
    return r;
}

/* printf-style "fmt % args" for strings (%s %r %d %i %f %x %%). */
tv tx_str_percent(tctx *x, tv fmt, tv args)
{
    tlist one = {&args, 1, 1};
    tlist *a = args.t == TV_TUPLE ? args.l : &one;
    size_t ai = 0, start = x->scratch.len;
    for (size_t i = 0; i < fmt.s.n; i++) {
        char c = fmt.s.p[i];
        if (c != '%') {
            tx_buf_append(x, &x->scratch, &c, 1);
            continue;
        }
        if (++i >= fmt.s.n)
            tx_fail(x, "incomplete format");
        char spec = fmt.s.p[i];
        if (spec == '%') {
            tx_buf_append(x, &x->scratch, "%", 1);
            continue;
        }
        if (ai >= a->n)
            tx_fail(x, "not enough arguments for format string");
        tv v = a->v[ai++];
        char num[64];
        switch (spec) {
        case 's': tv_str_append(x, &x->scratch, v); break;
        case 'r': tv_repr_append(x, &x->scratch, v); break;
        case 'd':
        case 'i':
            if (!tv_is_num(v))
                tx_fail(x, "%%d format: a real number is required, not %s", tv_type_name(v));
            snprintf(num, sizeof num, "%lld", v.t == TV_FLOAT ? (long long)v.f : (long long)(v.t == TV_INT ? v.i : v.b));
            tx_buf_puts(x, &x->scratch, num);
            break;
        case 'f':
            if (!tv_is_num(v))
                tx_fail(x, "%%f format: a real number is required, not %s", tv_type_name(v));
            snprintf(num, sizeof num, "%f", tv_num(v));
            tx_buf_puts(x, &x->scratch, num);
            break;
        default: tx_fail(x, "unsupported format character '%c'", spec);
        }
    }
    /* Python: a list or dict argument counts as a mapping, so leftovers are not an error */
    if (ai < a->n && args.t != TV_LIST && args.t != TV_DICT)
        tx_fail(x, "not all arguments converted during string formatting");
    return tx_scratch_take(x, start);
}

static tv arith(tctx *x, int op, tv a, tv b)
{
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**"};
    const char *opname = op <= OP_POW ? names[op] : "?";
    if (op == OP_TILDE) {
        size_t start = x->scratch.len;
        tv_str_append(x, &x->scratch, a);
        tv_str_append(x, &x->scratch, b);
        return tx_scratch_take(x, start);
    }
    if (op == OP_ADD) {
        if (a.t == TV_STR && b.t == TV_STR && a.safe != b.safe) {
            /* markupsafe: Markup + str escapes the plain operand and stays Markup */
            targv none = {0};
            tv ea = a.safe ? a : tmpl_apply_filter(x, a, "escape", 6, &none);
            tv eb = b.safe ? b : tmpl_apply_filter(x, b, "escape", 6, &none);
            ea.safe = eb.safe = 0;
            tv r = arith(x, op, ea, eb);
            r.safe = 1;
            return r;
        }
        if (a.t == TV_STR && b.t == TV_STR) {
            if (a.s.n + b.s.n > x->lim.max_output)
                tx_fail(x, "string too long");
            char *p = ta_alloc(&x->arena, a.s.n + b.s.n + 1);
            memcpy(p, a.s.p, a.s.n);
            memcpy(p + a.s.n, b.s.p, b.s.n);
            tv r = tv_strn(p, a.s.n + b.s.n);
            r.safe = a.safe && b.safe;
            return r;
        }
        if ((a.t == TV_LIST && b.t == TV_LIST) || (a.t == TV_TUPLE && b.t == TV_TUPLE)) {
            tv r = tv_list_new(&x->arena, a.l->n + b.l->n);
            r.t = a.t;
            if (a.l->n)
                memcpy(r.l->v, a.l->v, a.l->n * sizeof(tv));
            if (b.l->n)
                memcpy(r.l->v + a.l->n, b.l->v, b.l->n * sizeof(tv));
            r.l->n = a.l->n + b.l->n;
            return r;
        }
    }
    if (op == OP_MUL) {
        if ((a.t == TV_STR || a.t == TV_LIST || a.t == TV_TUPLE) && (b.t == TV_INT || b.t == TV_BOOL))
            return repeat(x, a, b);
        if ((b.t == TV_STR || b.t == TV_LIST || b.t == TV_TUPLE) && (a.t == TV_INT || a.t == TV_BOOL))
            return repeat(x, b, a);
    }
    if (op == OP_MOD && a.t == TV_STR)
        return tx_str_percent(x, a, b);
    if (!tv_is_num(a) || !tv_is_num(b))
        bad_operands(x, opname, a, b);
    bool fl = a.t == TV_FLOAT || b.t == TV_FLOAT;
    if (op == OP_DIV) {
        if (tv_num(b) == 0)
            tx_fail(x, "division by zero");
        return tv_float(tv_num(a) / tv_num(b));
    }
    if (!fl) {
        int64_t i = a.t == TV_INT ? a.i : a.b, j = b.t == TV_INT ? b.i : b.b, r;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(i, j, &r))
                tx_fail(x, "integer overflow");
            return tv_int(r);
        case OP_SUB:
            if (__builtin_sub_overflow(i, j, &r))
                tx_fail(x, "integer overflow");
            return tv_int(r);
        case OP_MUL:
            if (__builtin_mul_overflow(i, j, &r))
                tx_fail(x, "integer overflow");
            return tv_int(r);
        case OP_FLOORDIV:
        case OP_MOD: {
            if (j == 0)
                tx_fail(x, "integer division or modulo by zero");
            if (i == INT64_MIN && j == -1)
                tx_fail(x, "integer overflow");
            int64_t q = i / j, m = i % j;
            if (m != 0 && ((m < 0) != (j < 0))) {
                q--;
                m += j;
            }
            return tv_int(op == OP_MOD ? m : q);
        }
        case OP_POW: {
            if (j < 0) {
                if (i == 0)
                    tx_fail(x, "0.0 cannot be raised to a negative power");
                return tv_float(pow((double)i, (double)j));
            }
            int64_t acc = 1;
            for (int64_t e = 0; e < j; e++) {
                if (__builtin_mul_overflow(acc, i, &acc))
                    tx_fail(x, "integer overflow");
                if (acc == 0 || acc == 1)
                    break;
            }
            if (acc == -1 && i == -1)
                acc = (j % 2) ? -1 : 1;
            return tv_int(acc);
        }
        default: break;
        }
    }
    double p = tv_num(a), q = tv_num(b);
    switch (op) {
    case OP_ADD: return tv_float(p + q);
    case OP_SUB: return tv_float(p - q);
    case OP_MUL: return tv_float(p * q);
    case OP_FLOORDIV:
        if (q == 0)
            tx_fail(x, "float floor division by zero");
        return tv_float(floor(p / q));
    case OP_MOD: {
        if (q == 0)
            tx_fail(x, "float modulo");
        double m = fmod(p, q);
        if (m != 0 && ((m < 0) != (q < 0)))
            m += q;
        return tv_float(m);
    }
    case OP_POW:
        if (p == 0 && q < 0)
            tx_fail(x, "0.0 cannot be raised to a negative power");
        if (p < 0 && q != floor(q))
            tx_fail(x, "a negative number raised to a fractional power is complex");
        return tv_float(pow(p, q));
    default: bad_operands(x, opname, a, b);
    }
}

static bool compare(tctx *x, int op, tv a, tv b)
{
    switch (op) {
    case OP_EQ: return tv_eq(a, b);
    case OP_NE: return !tv_eq(a, b);
    case OP_IN: return contains(x, b, a);
    case OP_NOTIN: return !contains(x, b, a);
    default: break;
    }
    if (a.t == TV_UNDEF || b.t == TV_UNDEF) {
        tv u = a.t == TV_UNDEF ? a : b;
        tx_fail(x, "'%s' is undefined", u.uname ? u.uname : "value");
    }
    int c = tv_cmp(x, a, b);
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* ---- calls ---- */

static tv eval(tctx *x, tframe *f, const tnode *n);
static int exec_body(tctx *x, tframe *f, const tnodes *body);

tv targ(const targv *a, size_t i, const char *kw, tv def)
{
    if (kw) {
        size_t kl = strlen(kw);
        for (size_t k = 0; k < a->nkw; k++)
            if (a->kwlen[k] == kl && !memcmp(a->kwname[k], kw, kl))
                return a->kwval[k];
    }
    if (i < a->npos)
        return a->pos[i];
    return def;
}

/* Output rendered by body, captured as a string (plain: autoescape is off, so not Markup). */
static tv capture(tctx *x, tframe *f, const tnodes *body)
{
    size_t start = x->out.len;
    exec_body(x, f, body);
    tv s = tv_str_copy(&x->arena, x->out.data ? x->out.data + start : "", x->out.len - start);
    x->out.len = start;
    if (x->out.data)
        x->out.data[start] = 0;
    return s;
}

static tv call_macro(tctx *x, const tfunc *fn, const targv *a)
{
    const tnode *m = fn->node;
    tx_step(x);
    if (++x->macro_depth > x->lim.max_depth)
        tx_fail(x, "macro calls nested more than %u deep", x->lim.max_depth);
    tframe *f = frame_new(x, fn->closure);
    size_t np = m->args.pos.n;
    if (a->npos > np)
        tx_fail(x, "macro '%.*s' takes %zu positional arguments but %zu were given", (int)m->name_len,
                m->name ? m->name : "caller", np, a->npos);
    for (size_t i = 0; i < np; i++) {
        const tnode *p = m->args.pos.v[i];
        tv v = tv_undef(ta_strndup(&x->arena, p->name, p->name_len));
        bool set = false;
        if (i < a->npos) {
            v = a->pos[i];
            set = true;
        }
        for (size_t k = 0; k < a->nkw; k++)
            if (a->kwlen[k] == p->name_len && !memcmp(a->kwname[k], p->name, p->name_len)) {
                v = a->kwval[k];
                set = true;
            }
        if (!set && m->args.kwval.v[i])
            v = eval(x, f, m->args.kwval.v[i]);
        frame_set(x, f, p->name, p->name_len, v);
    }
    for (size_t k = 0; k < a->nkw; k++) {
        bool known = false;
        for (size_t i = 0; i < np; i++)
            if (a->kwlen[k] == m->args.pos.v[i]->name_len && !memcmp(a->kwname[k], m->args.pos.v[i]->name, a->kwlen[k]))
                known = true;
        if (!known)
            tx_fail(x, "macro '%.*s' takes no keyword argument '%.*s'", (int)m->name_len, m->name ? m->name : "caller",
                    (int)a->kwlen[k], a->kwname[k]);
    }
    if (fn->caller.t == TV_FUNC)
        frame_set(x, f, "caller", 6, fn->caller);
    tv varargs = tv_list_new(&x->arena, 0);
    varargs.t = TV_TUPLE;
    frame_set(x, f, "varargs", 7, varargs);
    frame_set(x, f, "kwargs", 6, tv_dict_new(&x->arena, 0));
    int saved_line = x->line;
    tv r = capture(x, f, &m->body);
    x->line = saved_line;
    x->macro_depth--;
    return r;
}

static tv call_builtin(tctx *x, const tfunc *fn, const targv *a)
{
    switch (fn->builtin) {
    case B_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (a->npos < 1 || a->npos > 3)
            tx_fail(x, "range expected 1 to 3 arguments, got %zu", a->npos);
        for (size_t i = 0; i < a->npos; i++) {
            if (a->pos[i].t != TV_INT && a->pos[i].t != TV_BOOL)
                tx_fail(x, "range() arguments must be integers, not %s", tv_type_name(a->pos[i]));
            v[a->npos == 1 ? 1 : i] = a->pos[i].t == TV_INT ? a->pos[i].i : a->pos[i].b;
        }
        if (v[2] == 0)
            tx_fail(x, "range() arg 3 must not be zero");
        double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2])
                                : ceil(((double)v[0] - (double)v[1]) / -(double)v[2]);
        if (count < 0)
            count = 0;
        if (count > (double)x->lim.max_steps)
            tx_fail(x, "range() of %.0f items exceeds the limit of %llu iterations", count,
                    (unsigned long long)x->lim.max_steps);
        tv l = tv_list_new(&x->arena, (size_t)count);
        int64_t cur = v[0];
        for (size_t i = 0; i < (size_t)count; i++) {
            l.l->v[i] = tv_int(cur);
            if (i + 1 < (size_t)count && __builtin_add_overflow(cur, v[2], &cur))
                tx_fail(x, "range() overflows 64-bit integers");
        }
        l.l->n = (size_t)count;
        return l;
    }
    case B_NAMESPACE:
    case B_DICT: {
        tv d = tv_dict_new(&x->arena, 0);
        if (fn->builtin == B_NAMESPACE)
            d.t = TV_NS;
        for (size_t i = 0; i < a->npos; i++) {
            if (a->pos[i].t == TV_DICT || a->pos[i].t == TV_NS) {
                for (size_t k = 0; k < a->pos[i].d->n; k++)
                    td_set(&x->arena, d.d, a->pos[i].d->k[k], a->pos[i].d->v[k]);
            } else if (a->pos[i].t != TV_UNDEF)
                tx_fail(x, "%s() takes keyword arguments or a dict", builtin_names[fn->builtin]);
        }
        for (size_t k = 0; k < a->nkw; k++)
            td_set(&x->arena, d.d, tv_strn(a->kwname[k], a->kwlen[k]), a->kwval[k]);
        return d;
    }
    case B_RAISE: {
        tv m = a->npos ? tv_to_str(x, a->pos[0]) : tv_cstr("raise_exception() called");
        tx_fail(x, "%.*s", (int)JC_MIN(m.s.n, 400), m.s.p);
    }
    case B_STRFTIME: {
        tv fmt = targ(a, 0, NULL, tv_undef(NULL));
        if (fmt.t != TV_STR)
            tx_fail(x, "strftime_now() needs a format string");
        char cfmt[256], out[512];
        if (fmt.s.n >= sizeof cfmt)
            tx_fail(x, "strftime_now() format too long");
        memcpy(cfmt, fmt.s.p, fmt.s.n);
        cfmt[fmt.s.n] = 0;
        time_t t = (time_t)x->now;
        struct tm tm;
        gmtime_r(&t, &tm);
        size_t n = cfmt[0] ? strftime(out, sizeof out, cfmt, &tm) : 0;
        return tv_str_copy(&x->arena, out, n);
    }
    case B_JOINER: {
        tv v = {.t = TV_FUNC};
        v.fn = ta_alloc(&x->arena, sizeof *v.fn);
        v.fn->kind = FN_BUILTIN;
        v.fn->builtin = B_JOINER_CALL;
        v.fn->self = targ(a, 0, "sep", tv_cstr(", "));
        v.fn->name_len = 0; /* used: not yet */
        return v;
    }
    case B_JOINER_CALL: {
        tfunc *mut = (tfunc *)fn;
        if (!mut->name_len) {
            mut->name_len = 1;
            return tv_strn("", 0);
        }
        return tv_to_str(x, fn->self);
    }
    default: tx_fail(x, "unknown builtin");
    }
}

tv tx_call(tctx *x, tv fn, const targv *a)
{
    if (fn.t != TV_FUNC) {
        if (fn.t == TV_UNDEF)
            tx_fail(x, "'%s' is undefined", fn.uname ? fn.uname : "value");
        tx_fail(x, "'%s' object is not callable", tv_type_name(fn));
    }
    switch (fn.fn->kind) {
    case FN_MACRO:
    case FN_CALLER: return call_macro(x, fn.fn, a);
    case FN_BUILTIN: return call_builtin(x, fn.fn, a);
    case FN_METHOD: {
        bool found;
        tv r = tmpl_call_method(x, fn.fn->self, fn.fn->name, fn.fn->name_len, a, &found);
        if (!found)
            tx_fail(x, "'%s' object has no method '%.*s'", tv_type_name(fn.fn->self), (int)fn.fn->name_len, fn.fn->name);
        return r;
    }
    case FN_LOOP_CYCLE:
        if (!a->npos)
            tx_fail(x, "no items for cycling given");
        return a->pos[fn.fn->self.loop->index0 % a->npos];
    }
    tx_fail(x, "bad function");
}

/* Evaluates call arguments into a (arrays from the arena). */
static void eval_args(tctx *x, tframe *f, const targs *args, targv *a)
{
    a->npos = args->pos.n;
    a->nkw = args->kwval.n;
    a->pos = a->npos ? ta_array(&x->arena, a->npos, sizeof(tv)) : NULL;
    a->kwval = a->nkw ? ta_array(&x->arena, a->nkw, sizeof(tv)) : NULL;
    a->kwname = args->kwname;
    a->kwlen = args->kwlen;
    for (size_t i = 0; i < a->npos; i++)
        a->pos[i] = eval(x, f, args->pos.v[i]);
    for (size_t i = 0; i < a->nkw; i++)
        a->kwval[i] = eval(x, f, args->kwval.v[i]);
}

static tv eval_filter(tctx *x, tframe *f, const tnode *n, tv input)
{
    tv v = n->a ? eval(x, f, n->a) : input;
    if (n->a && n->a->kind == N_FILTER && !n->a->a)
        v = eval_filter(x, f, n->a, input);
    targv a;
    eval_args(x, f, &n->args, &a);
    x->line = n->line;
    if (!n->fn)
        tx_fail(x, "no filter named '%.*s'", (int)n->name_len, n->name);
    return ((const tfilter_def *)n->fn)->fn(x, v, &a);
}

/* ---- expressions ---- */

static tv eval(tctx *x, tframe *f, const tnode *n)
{
    tv r;
    enter(x);
    x->line = n->line;
    switch (n->kind) {
    case N_CONST: r = n->val; break;
    case N_NAME: r = lookup(x, f, n->name, n->name_len); break;
    case N_GETATTR: {
        tv o = eval(x, f, n->a);
        x->line = n->line;
        r = tx_getattr(x, o, n->name, n->name_len);
        break;
    }
    case N_GETITEM: {
        tv o = eval(x, f, n->a);
        tv k = n->b ? eval(x, f, n->b) : tv_undef("item");
        x->line = n->line;
        r = k.t == TV_UNDEF && o.t != TV_UNDEF ? tv_undef("item") : tx_getitem(x, o, k);
        break;
    }
    case N_SLICE: {
        tv o = eval(x, f, n->a);
        tv a = n->b ? eval(x, f, n->b) : tv_none();
        tv b = n->c ? eval(x, f, n->c) : tv_none();
        tv c = n->body2.n ? eval(x, f, n->body2.v[0]) : tv_none();
        x->line = n->line;
        r = do_slice(x, o, a, b, c);
        break;
    }
    case N_CALL: {
        targv a;
        if (n->a->kind == N_GETATTR) { /* obj.method(...): no bound-method allocation */
            tv o = eval(x, f, n->a->a);
            eval_args(x, f, &n->args, &a);
            x->line = n->line;
            if ((o.t == TV_STR || o.t == TV_LIST || o.t == TV_TUPLE || o.t == TV_DICT) &&
                tmpl_has_method(o, n->a->name, n->a->name_len)) {
                bool found;
                r = tmpl_call_method(x, o, n->a->name, n->a->name_len, &a, &found);
                break;
            }
            r = tx_call(x, tx_getattr(x, o, n->a->name, n->a->name_len), &a);
            break;
        }
        tv fn = eval(x, f, n->a);
        eval_args(x, f, &n->args, &a);
        x->line = n->line;
        r = tx_call(x, fn, &a);
        break;
    }
    case N_FILTER: r = eval_filter(x, f, n, tv_undef(NULL)); break;
    case N_TEST: {
        tv v = eval(x, f, n->a);
        targv a;
        eval_args(x, f, &n->args, &a);
        x->line = n->line;
        if (!n->fn)
            tx_fail(x, "no test named '%.*s'", (int)n->name_len, n->name);
        bool b = ((const ttest_def *)n->fn)->fn(x, v, &a);
        r = tv_bool(n->op ? !b : b);
        break;
    }
    case N_BINOP: {
        tv a = eval(x, f, n->a), b = eval(x, f, n->b);
        x->line = n->line;
        r = arith(x, n->op, a, b);
        break;
    }
    case N_UNOP: {
        tv a = eval(x, f, n->a);
        x->line = n->line;
        if (n->op == OP_NOT)
            r = tv_bool(!tv_truthy(a));
        else if (a.t == TV_INT) {
            if (n->op == OP_NEG && a.i == INT64_MIN)
                tx_fail(x, "integer overflow");
            r = tv_int(n->op == OP_NEG ? -a.i : a.i);
        } else if (a.t == TV_BOOL)
            r = tv_int(n->op == OP_NEG ? -(int64_t)a.b : a.b);
        else if (a.t == TV_FLOAT)
            r = tv_float(n->op == OP_NEG ? -a.f : a.f);
        else if (a.t == TV_UNDEF)
            tx_fail(x, "'%s' is undefined", a.uname ? a.uname : "value");
        else
            tx_fail(x, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+", tv_type_name(a));
        break;
    }
    case N_AND: {
        tv a = eval(x, f, n->a);
        r = tv_truthy(a) ? eval(x, f, n->b) : a;
        break;
    }
    case N_OR: {
        tv a = eval(x, f, n->a);
        r = tv_truthy(a) ? a : eval(x, f, n->b);
        break;
    }
    case N_COMPARE: {
        tv a = eval(x, f, n->body2.v[0]);
        r = tv_bool(true);
        for (size_t i = 1; i < n->body2.n; i++) {
            tv b = eval(x, f, n->body2.v[i]);
            x->line = n->line;
            if (!compare(x, n->ops[i - 1], a, b)) {
                r = tv_bool(false);
                break;
            }
            a = b;
        }
        break;
    }
    case N_COND:
        if (tv_truthy(eval(x, f, n->a)))
            r = eval(x, f, n->b);
        else
            r = n->c ? eval(x, f, n->c) : tv_undef(NULL);
        break;
    case N_LIST:
    case N_TUPLE:
        r = tv_list_new(&x->arena, n->body.n);
        if (n->kind == N_TUPLE)
            r.t = TV_TUPLE;
        for (size_t i = 0; i < n->body.n; i++)
            r.l->v[i] = eval(x, f, n->body.v[i]);
        r.l->n = n->body.n;
        break;
    case N_DICT:
        r = tv_dict_new(&x->arena, n->body.n);
        for (size_t i = 0; i < n->body.n; i++) {
            tv k = eval(x, f, n->body.v[i]);
            if (k.t == TV_LIST || k.t == TV_DICT || k.t == TV_NS)
                tx_fail(x, "unhashable type: '%s'", tv_type_name(k));
            td_set(&x->arena, r.d, k, eval(x, f, n->body2.v[i]));
        }
        break;
    default: tx_fail(x, "statement used as an expression");
    }
    x->depth--;
    return r;
}

/* ---- statements ---- */

static void assign(tctx *x, tframe *f, const tnodes *targets, tv v)
{
    if (targets->n == 1) {
        const tnode *t = targets->v[0];
        if (t->kind == N_GETATTR) {
            tv ns = lookup(x, f, t->a->name, t->a->name_len);
            if (ns.t != TV_NS)
                tx_fail(x, "cannot assign attribute on non-namespace object '%.*s'", (int)t->a->name_len, t->a->name);
            td_set(&x->arena, ns.d, tv_str_copy(&x->arena, t->name, t->name_len), v);
        } else
            frame_set(x, f, t->name, t->name_len, v);
        return;
    }
    tlist *items = tx_iter(x, v);
    if (items->n != targets->n)
        tx_fail(x, "cannot unpack %zu values into %zu names", items->n, targets->n);
    for (size_t i = 0; i < targets->n; i++) {
        const tnode *t = targets->v[i];
        if (t->kind != N_NAME)
            tx_fail(x, "cannot unpack into an attribute");
        frame_set(x, f, t->name, t->name_len, items->v[i]);
    }
}

static void output(tctx *x, tv v)
{
    if (v.t == TV_STR)
        tx_buf_append(x, &x->out, v.s.p, v.s.n);
    else
        tv_str_append(x, &x->out, v);
}

static int exec_for(tctx *x, tframe *f, const tnode *n)
{
    tv seq = eval(x, f, n->a);
    tlist *items = tx_iter(x, seq);
    tframe *lf = frame_new(x, f);
    tloop *lp = ta_alloc(&x->arena, sizeof *lp);
    lp->depth = 1; /* recursive loops are not supported, so every loop is at depth 1 */
    if (n->b) { /* {% for x in y if cond %}: filter first, so loop.length counts what is kept */
        tlist *kept = tv_list_new(&x->arena, 0).l;
        for (size_t i = 0; i < items->n; i++) {
            tx_step(x);
            assign(x, lf, &n->targets, items->v[i]);
            if (tv_truthy(eval(x, lf, n->b)))
                tl_push(&x->arena, kept, items->v[i]);
        }
        items = kept;
    }
    lp->items = items;
    tv lv = {.t = TV_LOOP};
    lv.loop = lp;
    for (size_t i = 0; i < items->n; i++) {
        tx_step(x);
        lp->index0 = i;
        lf->vars.n = 0; /* each iteration starts with a fresh scope, as in jinja2 */
        assign(x, lf, &n->targets, items->v[i]);
        frame_set(x, lf, "loop", 4, lv);
        int rc = exec_body(x, lf, &n->body);
        if (rc == EX_BREAK)
            break;
    }
    if (items->n == 0 && n->body2.n)
        return exec_body(x, f, &n->body2);
    return EX_OK;
}

static int exec_stmt(tctx *x, tframe *f, const tnode *n)
{
    x->line = n->line;
    switch (n->kind) {
    case N_TEXT: tx_buf_append(x, &x->out, n->val.s.p, n->val.s.n); return EX_OK;
    case N_OUTPUT: output(x, eval(x, f, n->a)); return EX_OK;
    case N_IF:
        if (tv_truthy(eval(x, f, n->a)))
            return exec_body(x, f, &n->body);
        return exec_body(x, f, &n->body2);
    case N_FOR: return exec_for(x, f, n);
    case N_SET: assign(x, f, &n->targets, eval(x, f, n->a)); return EX_OK;
    case N_SET_BLOCK: {
        tv v = capture(x, f, &n->a->body);
        if (n->b)
            v = eval_filter(x, f, n->b, v);
        assign(x, f, &n->targets, v);
        return EX_OK;
    }
    case N_FILTER_BLOCK: {
        tv v = capture(x, f, &n->body);
        output(x, eval_filter(x, f, n->b, v));
        return EX_OK;
    }
    case N_MACRO: {
        tv v = {.t = TV_FUNC};
        v.fn = ta_alloc(&x->arena, sizeof *v.fn);
        v.fn->kind = FN_MACRO;
        v.fn->node = n;
        v.fn->closure = f;
        frame_set(x, f, n->name, n->name_len, v);
        return EX_OK;
    }
    case N_CALL_BLOCK: {
        tv caller = {.t = TV_FUNC};
        caller.fn = ta_alloc(&x->arena, sizeof *caller.fn);
        caller.fn->kind = FN_CALLER;
        caller.fn->node = n;
        caller.fn->closure = f;
        const tnode *call = n->a;
        tv fn = eval(x, f, call->a);
        if (fn.t != TV_FUNC || fn.fn->kind != FN_MACRO)
            tx_fail(x, "a call block needs a macro");
        targv a;
        eval_args(x, f, &call->args, &a);
        tfunc with = *fn.fn;
        with.caller = caller;
        x->line = n->line;
        output(x, call_macro(x, &with, &a));
        return EX_OK;
    }
    case N_BREAK: return EX_BREAK;
    case N_CONTINUE: return EX_CONTINUE;
    case N_DO: eval(x, f, n->a); return EX_OK;
    case N_BODY: return exec_body(x, f, &n->body);
    default: tx_fail(x, "expression used as a statement");
    }
}

static int exec_body(tctx *x, tframe *f, const tnodes *body)
{
    enter(x);
    for (size_t i = 0; i < body->n; i++) {
        int rc = exec_stmt(x, f, body->v[i]);
        if (rc != EX_OK) {
            x->depth--;
            return rc;
        }
    }
    x->depth--;
    return EX_OK;
}

/* ---- entry points ---- */

static int64_t render_time(void)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (!*end)
            return v;
    }
    return (int64_t)time(NULL);
}

char *tmpl_render(const tmpl *t, const json_t *vars, const tmpl_limits *lim, size_t *out_len, jc_err *err)
{
    tctx *x = jc_xcalloc(1, sizeof *x);
    char *result = NULL;
    x->err = err;
    x->lim.max_output = lim && lim->max_output ? lim->max_output : TMPL_DEFAULT_MAX_OUTPUT;
    x->lim.max_steps = lim && lim->max_steps ? lim->max_steps : TMPL_DEFAULT_MAX_STEPS;
    x->lim.max_depth = lim && lim->max_depth ? lim->max_depth : TMPL_DEFAULT_MAX_DEPTH;
    x->lim.max_seconds = lim && lim->max_seconds > 0 ? lim->max_seconds : TMPL_DEFAULT_MAX_SECONDS;
    x->deadline = jc_now() + x->lim.max_seconds;
    size_t budget = x->lim.max_output * 16;
    if (budget < ((size_t)256 << 20))
        budget = (size_t)256 << 20;
    ta_init(&x->arena, budget, &x->jmp, err);
    jc_buf_init(&x->out, x->lim.max_output);
    jc_buf_init(&x->scratch, x->lim.max_output);
    x->now = render_time();
    x->line = 1;
    if (setjmp(x->jmp))
        goto out;
    if (vars && !json_is_object(vars))
        tx_fail(x, "template variables must be a JSON object");
    x->globals = frame_new(x, NULL);
    if (vars) {
        tv d = tv_from_json(x, vars, 0);
        x->globals->vars = *d.d;
    }
    tframe *top = x->globals;
    exec_body(x, top, &t->root->body);
    size_t len = x->out.len;
    result = jc_buf_steal(&x->out);
    if (out_len)
        *out_len = len;
out:
    jc_buf_free(&x->out);
    jc_buf_free(&x->scratch);
    ta_free(&x->arena);
    free(x);
    return result;
}

char *tmpl_render_src(const char *src, size_t len, const json_t *vars, const tmpl_limits *lim, size_t *out_len,
                      jc_err *err)
{
    tmpl *t = tmpl_parse(src, len, err);
    if (!t)
        return NULL;
    char *r = tmpl_render(t, vars, lim, out_len, err);
    tmpl_free(t);
    return r;
}
