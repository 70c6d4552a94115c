/*
 * mj.c — model.json: the tolerant reader and the schema/defaults pass
 * (see mj.h and docs/model-json.md).
 */
#include "store/mj.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"

/* ---- the tolerant pre-pass ---------------------------------------------------------- */

/* Containers nest deeper than this only in hostile files; past it no commas are inserted. */
#define TOL_MAX_DEPTH 256

enum tol_last { TOL_NONE, TOL_VALUE, TOL_KEY, TOL_OPEN, TOL_COMMA, TOL_COLON };

typedef struct tol {
    jc_buf out;
    size_t *ins;   /* output offsets of inserted bytes, ascending */
    size_t n_ins, cap_ins;
} tol;

static int tol_insert(tol *t, char c)
{
    if (t->n_ins == t->cap_ins) {
        t->cap_ins = t->cap_ins ? 2 * t->cap_ins : 16;
        t->ins = jc_xrealloc(t->ins, t->cap_ins * sizeof *t->ins);
    }
    t->ins[t->n_ins++] = t->out.len;
    return jc_buf_putc(&t->out, c);
}

static bool tol_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':' || c == '{' ||
           c == '}' || c == '[' || c == ']' || c == '"' || c == '/';
}

/* Skips whitespace and comments from i; returns the index of the next significant byte. */
static size_t tol_skip(const char *s, size_t n, size_t i)
{
    while (i < n) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
        } else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            i += 2;
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
                i++;
            i = i < n ? i + 2 : n;
        } else {
            break;
        }
    }
    return i;
}

/*
 * Rewrites s into t->out as JSON: comments become spaces (newlines kept),
 * trailing commas become spaces, missing commas between values and missing
 * outer braces are inserted (recorded in t->ins). -1 only when the output
 * buffer's maximum is hit.
 */
static int tol_run(tol *t, const char *s, size_t n)
{
    uint8_t stack[TOL_MAX_DEPTH];
    size_t depth = 0, deep = 0; /* deep: levels past TOL_MAX_DEPTH */
    enum tol_last last = TOL_NONE;
    size_t pending_comma = SIZE_MAX;
    size_t first = tol_skip(s, n, 0);
    bool wrap = first < n && s[first] == '"';
    if (wrap && tol_insert(t, '{'))
        return -1;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        bool in_container = depth > 0 || deep > 0 || wrap;
        bool in_obj = deep ? false : depth ? stack[depth - 1] == '{' : wrap;
        if (c == '/' && i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '*')) {
            size_t end = tol_skip(s, n, i);
            /* tol_skip also eats whitespace: copy newlines, blank the rest */
            for (; i < end; i++)
                if (jc_buf_putc(&t->out, s[i] == '\n' ? '\n' : ' '))
                    return -1;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (jc_buf_putc(&t->out, c))
                return -1;
            i++;
            continue;
        }
        if (c != ',' && c != '}' && c != ']')
            pending_comma = SIZE_MAX;
        if (c == '"') {
            bool key = in_obj && (last == TOL_OPEN || last == TOL_COMMA || last == TOL_VALUE || last == TOL_NONE);
            if (last == TOL_VALUE && in_container && tol_insert(t, ','))
                return -1;
            size_t j = i + 1;
            while (j < n && s[j] != '"' && s[j] != '\n') {
                if (s[j] == '\\' && j + 1 < n)
                    j++;
                j++;
            }
            if (j < n && s[j] == '"')
                j++;
            if (jc_buf_append(&t->out, s + i, j - i))
                return -1;
            i = j;
            last = key ? TOL_KEY : TOL_VALUE;
            continue;
        }
        if (c == '{' || c == '[') {
            if (last == TOL_VALUE && in_container && tol_insert(t, ','))
                return -1;
            if (depth < TOL_MAX_DEPTH)
                stack[depth++] = (uint8_t)c;
            else
                deep++;
            last = TOL_OPEN;
        } else if (c == '}' || c == ']') {
            if (pending_comma != SIZE_MAX)
                t->out.data[pending_comma] = ' ';
            pending_comma = SIZE_MAX;
            if (deep)
                deep--;
            else if (depth)
                depth--;
            last = TOL_VALUE;
        } else if (c == ',') {
            if (jc_buf_putc(&t->out, c))
                return -1;
            pending_comma = t->out.len - 1;
            last = TOL_COMMA;
            i++;
            continue;
        } else if (c == ':') {
            last = TOL_COLON;
        } else {
            /* a literal: number, true, false, null (or garbage jansson will name) */
            if (last == TOL_VALUE && in_container && tol_insert(t, ','))
                return -1;
            size_t j = i;
            while (j < n && !tol_delim(s[j]))
                j++;
            if (j == i)
                j++;
            if (jc_buf_append(&t->out, s + i, j - i))
                return -1;
            i = j;
            last = TOL_VALUE;
            continue;
        }
        if (jc_buf_putc(&t->out, c))
            return -1;
        i++;
    }
    if (wrap && tol_insert(t, '}'))
        return -1;
    return 0;
}

/* The original byte offset of output offset p. */
static size_t tol_orig(const tol *t, size_t p)
{
    size_t k = 0;
    while (k < t->n_ins && t->ins[k] < p)
        k++;
    return p - k;
}

json_t *mj_parse(const char *text, size_t len, const char *label, jc_err *err)
{
    json_t *root = NULL;
    tol t = {0};
    jc_buf_init(&t.out, (size_t)MJ_MAX_SIZE * 2 + 16);
    if (len > MJ_MAX_SIZE) {
        jc_errf(err, "%s: %zu bytes, more than the %u allowed", label, len, MJ_MAX_SIZE);
        goto out;
    }
    if (tol_run(&t, text, len)) {
        jc_errf(err, "%s: too large after rewriting", label);
        goto out;
    }
    json_error_t je;
    root = json_loadb(t.out.data ? t.out.data : "", t.out.len, 0, &je);
    if (!root) {
        /* jansson's position is just past the offending character */
        size_t pos = je.position > 0 ? tol_orig(&t, (size_t)je.position - 1) : 0;
        if (je.position > 0 && (size_t)je.position >= t.out.len)
            pos = len; /* at the end of the file */
        if (pos > len)
            pos = len;
        int line = 1, col = 1;
        for (size_t i = 0; i < pos; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
                col++;
            }
        }
        jc_errf(err, "%s:%d:%d: %s", label, line, col, je.text);
        goto out;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        jc_errf(err, "%s:1:1: model.json must be a JSON object", label);
    }
out:
    jc_buf_free(&t.out);
    free(t.ins);
    return root;
}

json_t *mj_load(const char *path, const char *label, bool *too_big, int64_t *btime, jc_err *err)
{
    json_t *j = NULL;
    char *text = NULL;
    if (too_big)
        *too_big = false;
    /* O_NONBLOCK: a FIFO named model.json must not block the scan. O_NOFOLLOW: a model.json
       that is a symlink could show bits of any file the user can read in error messages. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        jc_errf(err, "%s: %s", label, errno == ELOOP ? "a symlink; janc reads model.json only as a regular file" : strerror(errno));
        return NULL;
    }
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_BTIME, &sx) < 0 ||
        !S_ISREG(sx.stx_mode)) {
        jc_errf(err, "%s: not a regular file", label);
        goto out;
    }
    if (btime)
        *btime = (sx.stx_mask & STATX_BTIME) && sx.stx_btime.tv_sec > 0 ? sx.stx_btime.tv_sec : sx.stx_mtime.tv_sec;
    if (sx.stx_size > MJ_MAX_SIZE) {
        if (too_big)
            *too_big = true;
        jc_errf(err, "%s: %llu bytes, more than the %u a model.json may have", label,
                (unsigned long long)sx.stx_size, MJ_MAX_SIZE);
        goto out;
    }
    /* read at most one byte past the limit: a file that grew since statx is caught too */
    size_t cap = (size_t)sx.stx_size + 1, len = 0;
    text = jc_xmalloc(cap + 1);
    for (;;) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            jc_errf(err, "%s: %s", label, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            if (cap > MJ_MAX_SIZE) {
                if (too_big)
                    *too_big = true;
                jc_errf(err, "%s: more than the %u bytes a model.json may have", label, MJ_MAX_SIZE);
                goto out;
            }
            cap = JC_MIN(cap * 2, (size_t)MJ_MAX_SIZE + 1);
            text = jc_xrealloc(text, cap + 1);
        }
    }
    j = mj_parse(text, len, label, err);
out:
    free(text);
    close(fd);
    return j;
}

/* ---- typed reads --------------------------------------------------------------------- */

/* Copies string v trimmed into buf; false if it does not fit or is empty. */
static bool trimmed(const char *s, char *buf, size_t cap)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n || n >= cap)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    return true;
}

bool mj_as_num(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return isfinite(*out);
    }
    if (json_is_string(v)) {
        char buf[64], *end;
        if (!trimmed(json_string_value(v), buf, sizeof buf))
            return false;
        errno = 0;
        double d = strtod(buf, &end);
        if (*end || errno || !isfinite(d))
            return false;
        *out = d;
        return true;
    }
    return false;
}

bool mj_as_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        char buf[64], *end;
        if (!trimmed(json_string_value(v), buf, sizeof buf))
            return false;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (!*end && !errno) {
            *out = x;
            return true;
        }
    }
    double d;
    if (!json_is_integer(v) && mj_as_num(v, &d) && d == floor(d) && fabs(d) < 9.0e15) {
        *out = (int64_t)d;
        return true;
    }
    return false;
}

bool mj_as_bool(const json_t *v, bool *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = json_integer_value(v) == 1;
        return true;
    }
    if (json_is_string(v)) {
        char buf[16];
        if (!trimmed(json_string_value(v), buf, sizeof buf))
            return false;
        if (!strcasecmp(buf, "true") || !strcmp(buf, "1") || !strcasecmp(buf, "yes")) {
            *out = true;
            return true;
        }
        if (!strcasecmp(buf, "false") || !strcmp(buf, "0") || !strcasecmp(buf, "no")) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* ---- references to files --------------------------------------------------------------- */

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

char *mj_ref_basename(const char *ref)
{
    if (!ref)
        return NULL;
    if (!strncasecmp(ref, "file://", 7))
        ref += 7;
    const char *b = ref;
    for (const char *p = ref; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    if (!*b || !strcmp(b, ".") || !strcmp(b, "..") || strlen(b) > 255)
        return NULL;
    return jc_xstrdup(b);
}

static bool is_projector_name(const char *name)
{
    return !strncasecmp(name, "mmproj", 6);
}

/* The basename of ref if it names a model GGUF (not a projector); else NULL. */
static char *model_ref(const json_t *ref, bool need_gguf)
{
    if (!json_is_string(ref))
        return NULL;
    char *b = mj_ref_basename(json_string_value(ref));
    if (b && (is_projector_name(b) || (need_gguf && !ends_with_ci(b, ".gguf")))) {
        free(b);
        b = NULL;
    }
    return b;
}

char *mj_main_file_ref(const json_t *raw)
{
    char *r = NULL;
    size_t i;
    json_t *v;
    json_t *assets = json_object_get(raw, "assets");
    if (json_is_array(assets))
        json_array_foreach(assets, i, v) if ((r = model_ref(v, true))) return r;
    json_t *sources = json_object_get(raw, "sources");
    if (json_is_array(sources))
        json_array_foreach(sources, i, v) if ((r = model_ref(json_object_get(v, "filename"), true))) return r;
    json_t *settings = json_object_get(raw, "settings");
    if (json_is_object(settings))
        r = model_ref(json_object_get(settings, "llama_model_path"), false);
    return r;
}

/* ---- the schema/defaults pass ----------------------------------------------------------- */

/* Describes v briefly for an error message. */
static void describe(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        snprintf(buf, cap, "\"%.40s%s\"", s, strlen(s) > 40 ? "..." : "");
    } else if (json_is_object(v)) {
        snprintf(buf, cap, "an object");
    } else if (json_is_array(v)) {
        snprintf(buf, cap, "an array");
    } else if (json_is_null(v)) {
        snprintf(buf, cap, "null");
    } else {
        char *d = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(buf, cap, "%.40s", d ? d : "?");
        free(d);
    }
}

static int type_err(jc_err *err, const char *where, const char *key, const char *want, const json_t *v)
{
    char got[64];
    describe(v, got, sizeof got);
    return jc_errf(err, "model.json: %s%s%s: expected %s, got %s", where ? where : "", where ? "." : "",
                   key, want, got);
}

/* A present, non-null member. */
static json_t *member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

static int fix_int(json_t *o, const char *where, const char *key, bool have_def, int64_t def, int64_t lo,
                   int64_t hi, jc_err *err)
{
    json_t *v = member(o, key);
    int64_t x = def;
    if (v) {
        if (!mj_as_int(v, &x))
            return type_err(err, where, key, "a whole number", v);
        if (x < lo || x > hi)
            return jc_errf(err, "model.json: %s.%s: %lld is out of range (%lld to %lld)", where, key,
                           (long long)x, (long long)lo, (long long)hi);
    } else if (!have_def) {
        return 0;
    }
    json_object_set_new(o, key, json_integer(x));
    return 0;
}

static int fix_num(json_t *o, const char *where, const char *key, bool have_def, double def, double lo,
                   double hi, jc_err *err)
{
    json_t *v = member(o, key);
    double x = def;
    if (v) {
        if (!mj_as_num(v, &x))
            return type_err(err, where, key, "a number", v);
        if (x < lo || x > hi)
            return jc_errf(err, "model.json: %s.%s: %g is out of range (%g to %g)", where, key, x, lo, hi);
    } else if (!have_def) {
        return 0;
    }
    json_object_set_new(o, key, json_real(x));
    return 0;
}

static int fix_bool(json_t *o, const char *where, const char *key, bool have_def, bool def, jc_err *err)
{
    json_t *v = member(o, key);
    bool x = def;
    if (v) {
        if (!mj_as_bool(v, &x))
            return type_err(err, where, key, "true or false", v);
    } else if (!have_def) {
        return 0;
    }
    json_object_set_new(o, key, json_boolean(x));
    return 0;
}

/* A string field; numbers are accepted and written as strings when num_ok. */
static int fix_str(json_t *o, const char *where, const char *key, const char *def, bool num_ok, jc_err *err)
{
    json_t *v = member(o, key);
    if (!v) {
        if (def)
            json_object_set_new(o, key, json_string(def));
        return 0;
    }
    if (json_is_string(v))
        return 0;
    if (num_ok && json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        json_object_set_new(o, key, json_string(buf));
        return 0;
    }
    if (num_ok && json_is_real(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%g", json_real_value(v));
        json_object_set_new(o, key, json_string(buf));
        return 0;
    }
    return type_err(err, where, key, "a string", v);
}

/* The object member key of o, created empty when absent; NULL (err set) when it is not an object. */
static json_t *fix_obj(json_t *o, const char *key, jc_err *err)
{
    json_t *v = member(o, key);
    if (!v) {
        v = json_object();
        json_object_set_new(o, key, v);
        return v;
    }
    if (!json_is_object(v)) {
        type_err(err, NULL, key, "an object", v);
        return NULL;
    }
    return v;
}

json_t *mj_model(const json_t *raw, const mj_ctx *ctx, jc_err *err)
{
    json_t *m = json_object();
    const char *key;
    json_t *v;
    json_object_set_new(m, "id", json_string(ctx->id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_foreach((json_t *)raw, key, v) {
        if (strcmp(key, "id") && strcmp(key, "object"))
            json_object_set_new(m, key, json_deep_copy(v));
    }

    /* source_url: the only required field; Jan's newer files say sources[0].url */
    if (!json_is_string(member(m, "source_url"))) {
        json_t *su = member(m, "source_url");
        if (su) {
            type_err(err, NULL, "source_url", "a string", su);
            goto fail;
        }
        json_t *src = json_array_get(member(m, "sources"), 0);
        json_t *url = json_object_get(src, "url");
        if (json_is_string(url)) {
            json_object_set(m, "source_url", url);
        } else if (ctx->main_file && ctx->dir) {
            char *u = jc_xasprintf("file://%s/%s", ctx->dir, ctx->main_file);
            json_object_set_new(m, "source_url", json_string(u));
            free(u);
        } else {
            jc_errf(err, "model.json: source_url is required (and no model file is in the folder)");
            goto fail;
        }
    }
    if (fix_str(m, NULL, "type", "model", false, err) || fix_str(m, NULL, "version", "1", true, err) ||
        fix_str(m, NULL, "name", ctx->id, false, err) || fix_str(m, NULL, "owned_by", "you", false, err) ||
        fix_str(m, NULL, "description", "", false, err) || fix_str(m, NULL, "format", "ggufv3", false, err))
        goto fail;
    {
        json_t *c = member(m, "created");
        int64_t created = ctx->created;
        if (c && !mj_as_int(c, &created)) {
            type_err(err, NULL, "created", "a whole number (unix seconds)", c);
            goto fail;
        }
        json_object_set_new(m, "created", json_integer(created));
    }
    json_t *metadata = fix_obj(m, "metadata", err);
    if (!metadata)
        goto fail;
    json_t *settings = fix_obj(m, "settings", err);
    if (!settings)
        goto fail;
    json_t *params = fix_obj(m, "parameters", err);
    if (!params)
        goto fail;

    /* defaults that depend on what the GGUF said at import (metadata) */
    int64_t ctx_def = MJ_DEFAULT_CTX_LEN, trained = 0;
    if (mj_as_int(member(metadata, "context_length"), &trained) && trained > 0 && trained < ctx_def)
        ctx_def = trained;
    bool emb_def = false;
    mj_as_bool(member(metadata, "embedding"), &emb_def);

    if (fix_int(settings, "settings", "ctx_len", true, ctx_def, 1, 1 << 24, err) ||
        fix_int(settings, "settings", "ngl", true, MJ_DEFAULT_NGL, -1, 100000, err) ||
        fix_bool(settings, "settings", "embedding", true, emb_def, err) ||
        fix_int(settings, "settings", "n_parallel", true, MJ_DEFAULT_N_PARALLEL, 1, 1024, err) ||
        fix_int(settings, "settings", "cpu_threads", false, 0, 0, 4096, err) ||
        fix_str(settings, "settings", "prompt_template", NULL, false, err) ||
        fix_str(settings, "settings", "llama_model_path", NULL, false, err) ||
        fix_str(settings, "settings", "mmproj", NULL, false, err))
        goto fail;

    /* Jan wrote max_tokens where the spec says token_limit */
    int64_t tl_def = MJ_DEFAULT_TOKEN_LIMIT, mt;
    if (!member(params, "token_limit") && mj_as_int(member(params, "max_tokens"), &mt) && mt >= -1)
        tl_def = mt;
    if (fix_num(params, "parameters", "temperature", true, MJ_DEFAULT_TEMPERATURE, 0, 100, err) ||
        fix_int(params, "parameters", "token_limit", true, tl_def, -1, (int64_t)1 << 30, err) ||
        fix_int(params, "parameters", "top_k", true, MJ_DEFAULT_TOP_K, 0, 1 << 24, err) ||
        fix_num(params, "parameters", "top_p", true, MJ_DEFAULT_TOP_P, 0, 1, err) ||
        fix_bool(params, "parameters", "stream", true, true, err) ||
        fix_int(params, "parameters", "max_tokens", false, 0, -1, (int64_t)1 << 30, err) ||
        fix_num(params, "parameters", "frequency_penalty", false, 0, -100, 100, err) ||
        fix_num(params, "parameters", "presence_penalty", false, 0, -100, 100, err) ||
        fix_num(params, "parameters", "repeat_penalty", false, 0, -100, 100, err) ||
        fix_num(params, "parameters", "min_p", false, 0, 0, 1, err) ||
        fix_int(params, "parameters", "seed", false, 0, INT64_MIN, INT64_MAX, err))
        goto fail;

    json_t *assets = member(m, "assets");
    if (assets) {
        size_t i;
        json_array_foreach(assets, i, v) if (!json_is_string(v)) {
            type_err(err, NULL, "assets", "an array of file paths", assets);
            goto fail;
        }
        if (!json_is_array(assets)) {
            type_err(err, NULL, "assets", "an array of file paths", assets);
            goto fail;
        }
    } else {
        assets = json_array();
        for (size_t i = 0; i < ctx->n_files; i++)
            json_array_append_new(assets, json_string(ctx->files[i]));
        json_object_set_new(m, "assets", assets);
    }
    return m;
fail:
    json_decref(m);
    return NULL;
}

/* ---- rewriting ------------------------------------------------------------------------- */

int mj_merge(json_t *raw, const json_t *patch, jc_err *err)
{
    if (!json_is_object(patch))
        return jc_errf(err, "the change must be a JSON object");
    if (json_object_get(patch, "id"))
        return jc_errf(err, "id: a model's id is its folder name and cannot be changed");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v) {
        json_t *cur = json_object_get(raw, key);
        if (json_is_object(cur) && json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) json_object_set_new(cur, k2, json_deep_copy(v2));
        } else {
            json_object_set_new(raw, key, json_deep_copy(v));
        }
    }
    return 0;
}

char *mj_dump(const json_t *raw)
{
    char *s = json_dumps(raw, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (!s)
        return jc_xstrdup("{}\n");
    char *r = jc_xasprintf("%s\n", s);
    free(s);
    return r;
}
