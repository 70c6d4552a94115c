/*
 * llm_stop.c — the stop-string matcher (see llm_stop.h). Held-back text
 * never holds a whole stop string, and is never longer than the longest
 * stop string minus one byte, so each feed costs O(held + len) per string.
 */
#include "engine/llm_stop.h"

#include <stdlib.h>
#include <string.h>

struct llm_stop {
    char **s;
    size_t *len;
    int n;
    jc_buf held;
};

llm_stop *llm_stop_new(const char *const *stops, int n)
{
    llm_stop *st = jc_xcalloc(1, sizeof *st);
    st->s = jc_xcalloc((size_t)(n > 0 ? n : 1), sizeof *st->s);
    st->len = jc_xcalloc((size_t)(n > 0 ? n : 1), sizeof *st->len);
    for (int i = 0; i < n; i++) {
        if (!stops[i] || !*stops[i])
            continue;
        st->s[st->n] = jc_xstrdup(stops[i]);
        st->len[st->n] = strlen(stops[i]);
        st->n++;
    }
    jc_buf_init(&st->held, SIZE_MAX / 4);
    return st;
}

void llm_stop_free(llm_stop *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++)
        free(st->s[i]);
    free(st->s);
    free(st->len);
    jc_buf_free(&st->held);
    free(st);
}

/* Position of the first occurrence of needle in hay, or -1. */
static long find(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn > hn)
        return -1;
    for (size_t i = 0; i + nn <= hn; i++)
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, nn))
            return (long)i;
    return -1;
}

int llm_stop_feed(llm_stop *st, const char *text, size_t len, jc_buf *out)
{
    if (st->n == 0)
        return jc_buf_append(out, text, len) ? -1 : 0;
    if (jc_buf_append(&st->held, text, len))
        return -1;
    const char *h = st->held.data;
    size_t hn = st->held.len;
    long first = -1;
    for (int i = 0; i < st->n; i++) {
        long at = find(h, hn, st->s[i], st->len[i]);
        if (at >= 0 && (first < 0 || at < first))
            first = at;
    }
    if (first >= 0) {
        int rc = jc_buf_append(out, h, (size_t)first) ? -1 : 1;
        jc_buf_reset(&st->held);
        return rc;
    }
    /* keep the longest tail that is a proper prefix of some stop string */
    size_t keep = 0;
    for (int i = 0; i < st->n; i++) {
        size_t mx = JC_MIN(st->len[i] - 1, hn);
        for (size_t k = mx; k > keep; k--)
            if (!memcmp(h + hn - k, st->s[i], k)) {
                keep = k;
                break;
            }
    }
    if (jc_buf_append(out, h, hn - keep))
        return -1;
    memmove(st->held.data, h + hn - keep, keep);
    st->held.len = keep;
    st->held.data[keep] = 0;
    return 0;
}

int llm_stop_flush(llm_stop *st, jc_buf *out)
{
    int rc = jc_buf_append(out, st->held.data ? st->held.data : "", st->held.len) ? -1 : 0;
    jc_buf_reset(&st->held);
    return rc;
}
