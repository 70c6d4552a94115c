/*
 * jc.c — errors, allocators, growable buffers and logging (see jc.h).
 */
#include "base/jc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int jc_errf(jc_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int jc_err_prefix(jc_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}

static void oom(size_t n)
{
    fprintf(stderr, "janc: out of memory allocating %zu bytes\n", n);
    abort();
}

void *jc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *jc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *jc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *jc_xstrdup(const char *s)
{
    return jc_xstrndup(s, strlen(s));
}

char *jc_xstrndup(const char *s, size_t n)
{
    char *p = jc_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *jc_xasprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = jc_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void *jc_try_malloc(size_t n, jc_err *err)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        jc_errf(err, "out of memory: cannot allocate %zu bytes", n);
    return p;
}

void *jc_try_calloc(size_t n, size_t size, jc_err *err)
{
    uint64_t total;
    if (!jc_mul_ok(n, size, &total) || total > SIZE_MAX) {
        jc_errf(err, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        jc_errf(err, "out of memory: cannot allocate %zu bytes", (size_t)total);
    return p;
}

void jc_buf_init(jc_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void jc_buf_free(jc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void jc_buf_reset(jc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

static int buf_reserve(jc_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int jc_buf_append(jc_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int jc_buf_puts(jc_buf *b, const char *s)
{
    return jc_buf_append(b, s, strlen(s));
}

int jc_buf_putc(jc_buf *b, char c)
{
    return jc_buf_append(b, &c, 1);
}

int jc_buf_vprintf(jc_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || buf_reserve(b, (size_t)n))
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int jc_buf_printf(jc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = jc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *jc_buf_steal(jc_buf *b)
{
    char *p = b->data ? b->data : jc_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

static int log_level(void)
{
    static int level = -1;
    if (level < 0) {
        const char *s = getenv("JANC_LOG");
        level = JC_LOG_INFO;
        if (s) {
            if (!strcmp(s, "error")) level = JC_LOG_ERROR;
            else if (!strcmp(s, "warn")) level = JC_LOG_WARN;
            else if (!strcmp(s, "debug")) level = JC_LOG_DEBUG;
        }
    }
    return level;
}

bool jc_log_enabled(enum jc_log_level lvl)
{
    return (int)lvl <= log_level();
}

void jc_log(enum jc_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (!jc_log_enabled(lvl))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "janc %s: %s\n", names[lvl], line);
}

double jc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct timespec jc_deadline(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += ms % 1000 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

size_t jc_utf8_seq(const void *p, size_t n)
{
    const unsigned char *s = p;
    unsigned c = s[0], cp;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}
