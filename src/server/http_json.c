/*
 * http_json.c — a compact JSON writer for replies (see http_json.h).
 *
 * jansson's json_dumps formats about 50 MB/s, which made the 12 KB model
 * list the most expensive part of GET /v1/models; this writer walks the
 * same json_t tree (keys in insertion order) into a jc_buf several times
 * faster. Strings are escaped as RFC 8259 requires (", \, control
 * characters); bytes >= 0x80 are copied (jansson only holds valid UTF-8).
 * Reals print in the shortest of %.15g / %.17g that reads back exactly,
 * always with a '.' or an exponent; NaN and infinities become null.
 * Nesting is bounded just past jansson's parser limit (2048): whatever a
 * request or a model.json held can be written back (a model edit with
 * 600-deep metadata once made every later model list a 500).
 */
#include "server/http_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_string(jc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (jc_buf_putc(b, '"') < 0)
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (jc_buf_append(b, s + run, i - run) < 0)
            return -1;
        char esc[7] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (jc_buf_append(b, esc, el) < 0)
            return -1;
        run = i + 1;
    }
    if (jc_buf_append(b, s + run, n - run) < 0)
        return -1;
    return jc_buf_putc(b, '"');
}

static int put_real(jc_buf *b, double d)
{
    if (!isfinite(d))
        return jc_buf_puts(b, "null");
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    return jc_buf_puts(b, tmp);
}

/* Deeper than anything jansson parses (a body, a model.json), with room for the few levels a reply wraps
 * around such a value (a model list), so every value janc read can be written back. */
#define MAX_DEPTH (JSON_PARSER_MAX_DEPTH + 16)

static int put_value(jc_buf *b, const json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (jc_buf_putc(b, '{') < 0)
            return -1;
        const char *k;
        json_t *x;
        bool first = true;
        json_object_foreach((json_t *)v, k, x)
        {
            if (!first && jc_buf_putc(b, ',') < 0)
                return -1;
            first = false;
            if (put_string(b, k, strlen(k)) < 0 || jc_buf_putc(b, ':') < 0 || put_value(b, x, depth + 1) < 0)
                return -1;
        }
        return jc_buf_putc(b, '}');
    }
    case JSON_ARRAY: {
        if (jc_buf_putc(b, '[') < 0)
            return -1;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++)
            if ((i && jc_buf_putc(b, ',') < 0) || put_value(b, json_array_get(v, i), depth + 1) < 0)
                return -1;
        return jc_buf_putc(b, ']');
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char tmp[24];
        char *e = tmp + sizeof tmp, *q = e;
        long long x = (long long)json_integer_value(v);
        unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        do
            *--q = (char)('0' + u % 10);
        while (u /= 10);
        if (x < 0)
            *--q = '-';
        return jc_buf_append(b, q, (size_t)(e - q));
    }
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return jc_buf_puts(b, "true");
    case JSON_FALSE:
        return jc_buf_puts(b, "false");
    default:
        return jc_buf_puts(b, "null");
    }
}

int http_json_write(jc_buf *b, const json_t *v) { return v ? put_value(b, v, 0) : -1; }

char *http_json_dump(const json_t *v, size_t *len)
{
    jc_buf b;
    jc_buf_init(&b, (size_t)1 << 31);
    if (http_json_write(&b, v) < 0) {
        jc_buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return jc_buf_steal(&b);
}
