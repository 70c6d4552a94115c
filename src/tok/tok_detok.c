/*
 * tok_detok.c — from ids back to text. At load, every token's decoded piece
 * is built once (tok_pieces_build): '▁' → ' ' for SentencePiece and
 * WordPiece, the GPT-2 character→byte map for byte-level BPE, <0xNN> → the
 * byte. The streaming detokenizer (tok_detok_*) then copies pieces through a
 * small UTF-8 assembler that holds back an unfinished character, so a caller
 * printing each call's output never prints half a character; bytes that can
 * never complete a character become U+FFFD. No allocation per token.
 */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the GPT-2 byte map: printable bytes stand for themselves, the other
 * 68 (0x00-0x20, 0x7F-0xA0, 0xAD) map in order to U+0100.. U+0143 ---- */

uint32_t tok_byte_to_cp(uint8_t b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
        return b;
    if (b <= 0x20)
        return 256u + b;
    if (b >= 0x7f && b <= 0xa0)
        return 256u + 33 + (b - 0x7fu);
    return 256u + 67; /* 0xAD */
}

int tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
        return (int)cp;
    if (cp >= 256 && cp < 256 + 33)
        return (int)(cp - 256);
    if (cp >= 256 + 33 && cp < 256 + 67)
        return (int)(cp - 256 - 33 + 0x7f);
    if (cp == 256 + 67)
        return 0xad;
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes token id into o (room for its text length); returns the length.
 * inv maps the code points below 0x144 (all the GPT-2 map uses) to bytes, -1 if none. */
static size_t make_piece(const tok_vocab *v, int32_t id, char *o, const int16_t *inv)
{
    size_t l;
    const char *t = tok_str(v, id, &l);
    uint8_t a = v->attr[id];
    if (a == TOK_ATTR_CONTROL || a == TOK_ATTR_UNKNOWN || a == TOK_ATTR_USER_DEFINED) {
        memcpy(o, t, l);
        return l;
    }
    if (a == TOK_ATTR_BYTE) {
        if (l == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>' && hexval(t[3]) >= 0 &&
            hexval(t[4]) >= 0) {
            o[0] = (char)(hexval(t[3]) << 4 | hexval(t[4]));
            return 1;
        }
        memcpy(o, t, l);
        return l;
    }
    if (a != TOK_ATTR_NORMAL)
        return 0; /* unused / undefined tokens print nothing (llama.cpp) */
    size_t k = 0;
    if (v->model == TOK_MODEL_BPE && v->byte_encode) {
        for (size_t i = 0; i < l;) {
            size_t s = i;
            uint8_t c = (uint8_t)t[i];
            uint32_t cp;
            if (c < 0x80) {
                cp = c;
                i++;
            } else if (c >= 0xc2 && c <= 0xc5 && i + 1 < l && ((uint8_t)t[i + 1] & 0xc0) == 0x80) {
                cp = (uint32_t)(c & 0x1f) << 6 | ((uint8_t)t[i + 1] & 0x3f);
                i += 2;
            } else {
                cp = tok_utf8_next(t, l, &i);
            }
            int b = cp < 0x144 ? inv[cp] : -1;
            if (b >= 0) {
                o[k++] = (char)b;
            } else {
                memcpy(o + k, t + s, i - s); /* not from the byte map: keep it */
                k += i - s;
            }
        }
        return k;
    }
    /* '▁' → ' ' (SPM, WPM, gemma4-style BPE) */
    for (size_t i = 0; i < l;) {
        if (i + 3 <= l && memcmp(t + i, "\xe2\x96\x81", 3) == 0) {
            o[k++] = ' ';
            i += 3;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

int tok_pieces_build(tok_vocab *v, jc_err *err)
{
    size_t total = v->tok_off[v->n];
    v->piece_pool = jc_try_malloc(total + 1, err);
    v->piece_off = jc_try_malloc(((size_t)v->n + 1) * sizeof *v->piece_off, err);
    if (!v->piece_pool || !v->piece_off)
        return -1;
    int16_t inv[0x144];
    for (uint32_t cp = 0; cp < 0x144; cp++)
        inv[cp] = (int16_t)tok_cp_to_byte(cp);
    uint32_t off = 0;
    v->max_piece = 0;
    for (int32_t id = 0; id < v->n; id++) {
        v->piece_off[id] = off;
        size_t l = make_piece(v, id, v->piece_pool + off, inv);
        off += (uint32_t)l;
        if (l > v->max_piece)
            v->max_piece = (uint32_t)l;
    }
    v->piece_off[v->n] = off;
    return 0;
}

const char *tok_piece(const tok_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n) {
        *len = 0;
        return "";
    }
    *len = v->piece_off[id + 1] - v->piece_off[id];
    return v->piece_pool + v->piece_off[id];
}

/* ---- streaming ---- */

void tok_detok_init(tok_detok *d, const tok_vocab *v, unsigned flags)
{
    memset(d, 0, sizeof *d);
    d->v = v;
    d->flags = flags;
    d->first = true;
}

size_t tok_detok_bufsize(const tok_vocab *v)
{
    /* every byte may become U+FFFD (3 bytes), plus held-back bytes */
    return (size_t)v->max_piece * 3 + 16;
}

static size_t put_fffd(char *o)
{
    memcpy(o, "\xef\xbf\xbd", 3);
    return 3;
}

/* Feeds one byte through the UTF-8 assembler; returns the bytes written to o. */
static size_t put_byte(tok_detok *d, uint8_t b, char *o)
{
    size_t k = 0;
    for (;;) {
        if (d->npend == 0) {
            if (b < 0x80) {
                o[k++] = (char)b;
            } else if (b >= 0xc2 && b <= 0xf4) {
                d->pend[0] = b;
                d->npend = 1;
            } else {
                k += put_fffd(o + k);
            }
            return k;
        }
        uint8_t lead = d->pend[0], lo = 0x80, hi = 0xbf;
        if (d->npend == 1) {
            if (lead == 0xe0)
                lo = 0xa0;
            else if (lead == 0xed)
                hi = 0x9f;
            else if (lead == 0xf0)
                lo = 0x90;
            else if (lead == 0xf4)
                hi = 0x8f;
        }
        if (b < lo || b > hi) { /* the held sequence cannot complete */
            k += put_fffd(o + k);
            d->npend = 0;
            continue; /* b starts afresh */
        }
        d->pend[d->npend++] = b;
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (d->npend == need) {
            memcpy(o + k, d->pend, need);
            k += need;
            d->npend = 0;
        }
        return k;
    }
}

int tok_detok_feed(tok_detok *d, int32_t id, char *out, size_t cap)
{
    const tok_vocab *v = d->v;
    if (id < 0 || id >= v->n)
        return -1;
    uint32_t l = v->piece_off[id + 1] - v->piece_off[id];
    const char *p = v->piece_pool + v->piece_off[id];
    if (cap < (size_t)l * 3 + 16)
        return -1;
    uint8_t a = v->attr[id];
    if ((a == TOK_ATTR_CONTROL || a == TOK_ATTR_UNKNOWN) && !(d->flags & TOK_DETOK_SPECIAL))
        return 0; /* not rendered; the next text token is still "first" */
    if (d->first) {
        d->first = false;
        if ((d->flags & TOK_DETOK_STRIP_FIRST) && v->add_space_prefix && l > 0 && p[0] == ' ') {
            p++;
            l--;
        }
    }
    size_t k = 0;
    for (uint32_t i = 0; i < l; i++)
        k += put_byte(d, (uint8_t)p[i], out + k);
    return (int)k;
}

int tok_detok_flush(tok_detok *d, char *out, size_t cap)
{
    if (d->npend == 0)
        return 0;
    if (cap < 3)
        return -1;
    d->npend = 0;
    return (int)put_fffd(out);
}

int tok_decode(const tok_vocab *v, const int32_t *ids, size_t n, unsigned flags, jc_buf *out, jc_err *err)
{
    tok_detok d;
    tok_detok_init(&d, v, flags);
    size_t cap = tok_detok_bufsize(v);
    char *buf = jc_try_malloc(cap, err);
    int rc = -1;
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int k = tok_detok_feed(&d, ids[i], buf, cap);
        if (k < 0) {
            jc_errf(err, "detokenize: token id %d at position %zu is out of range (vocabulary of %d)",
                    (int)ids[i], i, (int)v->n);
            goto out;
        }
        if (jc_buf_append(out, buf, (size_t)k) < 0) {
            jc_errf(err, "detokenize: output over its maximum of %zu bytes", out->max);
            goto out;
        }
    }
    int k = tok_detok_flush(&d, buf, cap);
    if (k > 0 && jc_buf_append(out, buf, (size_t)k) < 0) {
        jc_errf(err, "detokenize: output over its maximum of %zu bytes", out->max);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}
