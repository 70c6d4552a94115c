/*
 * tok_encode.c — tok_encode: the special-token partition (which parts of the
 * text are special tokens), then the model's encoder (tok_spm.c, tok_bpe.c,
 * tok_wpm.c) on each plain-text fragment, with BOS/EOS around; and the UTF-8
 * helpers and growable id array the encoders share. llama.cpp's
 * llama_vocab::impl::tokenize semantics.
 */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

uint32_t tok_utf8_next(const char *s, size_t n, size_t *i)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t p = *i;
    uint8_t c = u[p];
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
        *i = p + 1;
        return c;
    }
    if (!(c & 0x40))
        goto bad;
    if (!(c & 0x20)) {
        len = 2;
        cp = c & 0x1f;
    } else if (!(c & 0x10)) {
        len = 3;
        cp = c & 0x0f;
    } else if (!(c & 0x08)) {
        len = 4;
        cp = c & 0x07;
    } else {
        goto bad;
    }
    if (p + len > n)
        goto bad;
    for (size_t k = 1; k < len; k++) {
        if ((u[p + k] & 0xc0) != 0x80)
            goto bad;
        cp = (cp << 6) | (u[p + k] & 0x3f);
    }
    *i = p + len;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0xfffd;
    return cp;
bad:
    *i = p + 1;
    return 0xfffd;
}

size_t tok_utf8_put(uint32_t cp, char *out)
{
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

char *tok_utf8_sanitize(const char *s, size_t n, size_t *out_n)
{
    /* each input byte yields at most 3 output bytes (a stray byte → EF BF BD) */
    char *o = malloc(n * 3 + 1);
    if (!o)
        return NULL;
    size_t i = 0, k = 0;
    while (i < n) {
        if ((uint8_t)s[i] < 0x80) {
            o[k++] = s[i++];
            continue;
        }
        uint32_t cp = tok_utf8_next(s, n, &i);
        k += tok_utf8_put(cp, o + k);
    }
    o[k] = 0;
    *out_n = k;
    return o;
}

void tok_out_push(tok_out *o, int32_t id)
{
    if (o->oom)
        return;
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        int32_t *p = realloc(o->ids, nc * sizeof *p);
        if (!p) {
            o->oom = true;
            return;
        }
        o->ids = p;
        o->cap = nc;
    }
    o->ids[o->n++] = id;
}

/* ---- encoding ---- */

/* A piece of the input: plain text [off, off+len) when id < 0, else a special token. */
typedef struct frag {
    size_t off, len;
    int32_t id;
} frag;

static int cmp_frag(const void *a, const void *b)
{
    const frag *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

static bool is_space_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * Finds the special tokens in s (llama.cpp's tokenizer_st_partition): each
 * candidate token, longest first, claims its left-to-right non-overlapping
 * occurrences in the text no earlier token claimed. Control and unknown
 * tokens only when parse_special; user-defined tokens always. Returns the
 * accepted occurrences sorted by offset in a new array (*n_out), with
 * whitespace eaten by LSTRIP/RSTRIP tokens recorded as fragments of id -2.
 * NULL with *n_out = 0 when there are none.
 */
static frag *partition(const tok_vocab *v, const char *s, size_t n, bool parse_special, size_t *n_out,
                       bool *oom)
{
    *n_out = 0;
    *oom = false;
    if (v->n_special == 0 || n == 0)
        return NULL;
    /* which tokens take part, and a prefilter on their first two bytes */
    uint8_t first1[256] = {0};
    uint64_t *pair = NULL;
    size_t n_cand_tok = 0;
    for (size_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        if (!parse_special && v->attr[id] != TOK_ATTR_USER_DEFINED)
            continue;
        size_t l;
        const uint8_t *t = (const uint8_t *)tok_str(v, id, &l);
        if (l == 0 || l > n)
            continue;
        if (!pair)
            pair = jc_xcalloc(65536 / 64, sizeof *pair);
        if (l == 1)
            first1[t[0]] = 1;
        else
            pair[((unsigned)t[0] << 8 | t[1]) >> 6] |= 1ULL << ((t[0] << 8 | t[1]) & 63);
        n_cand_tok++;
    }
    if (!n_cand_tok) {
        free(pair);
        return NULL;
    }
    const uint8_t *u = (const uint8_t *)s;
    size_t *cand = NULL, nc = 0, cc = 0;
    for (size_t i = 0; i < n; i++) {
        bool hit = first1[u[i]];
        if (!hit && i + 1 < n) {
            unsigned p = (unsigned)u[i] << 8 | u[i + 1];
            hit = (pair[p >> 6] >> (p & 63)) & 1;
        }
        if (!hit)
            continue;
        if (nc == cc) {
            cc = cc ? cc * 2 : 64;
            size_t *c2 = realloc(cand, cc * sizeof *c2);
            if (!c2) {
                *oom = true;
                free(cand);
                free(pair);
                return NULL;
            }
            cand = c2;
        }
        cand[nc++] = i;
    }
    free(pair);
    if (!nc) {
        free(cand);
        return NULL;
    }
    uint8_t *taken = calloc(n, 1);
    frag *fr = NULL;
    size_t nf = 0, cf = 0;
    if (!taken) {
        *oom = true;
        goto out;
    }
    for (size_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        if (!parse_special && v->attr[id] != TOK_ATTR_USER_DEFINED)
            continue;
        size_t l;
        const char *t = tok_str(v, id, &l);
        if (l == 0 || l > n)
            continue;
        size_t next_free = 0; /* occurrences of one token do not overlap */
        for (size_t c = 0; c < nc; c++) {
            size_t p = cand[c];
            if (p < next_free || p + l > n || memcmp(s + p, t, l) != 0)
                continue;
            if (memchr(taken + p, 1, l) || memchr(taken + p, 2, l))
                continue;
            memset(taken + p, 1, l);
            next_free = p + l;
            if (nf + 3 > cf) {
                cf = cf ? cf * 2 : 16;
                frag *f2 = realloc(fr, cf * sizeof *f2);
                if (!f2) {
                    *oom = true;
                    goto out;
                }
                fr = f2;
            }
            fr[nf++] = (frag){p, l, id};
            if (v->flags[id] & TOK_F_LSTRIP) {
                size_t q = p;
                while (q > 0 && !taken[q - 1] && is_space_byte(s[q - 1]))
                    q--;
                if (q < p) {
                    memset(taken + q, 2, p - q);
                    fr[nf++] = (frag){q, p - q, -2};
                }
            }
            if (v->flags[id] & TOK_F_RSTRIP) {
                size_t q = p + l;
                while (q < n && !taken[q] && is_space_byte(s[q]))
                    q++;
                if (q > p + l) {
                    memset(taken + p + l, 2, q - p - l);
                    fr[nf++] = (frag){p + l, q - p - l, -2};
                }
            }
        }
    }
    if (nf)
        qsort(fr, nf, sizeof *fr, cmp_frag);
out:
    free(taken);
    free(cand);
    if (*oom) {
        free(fr);
        return NULL;
    }
    *n_out = nf;
    return fr;
}

static int encode_text(const tok_vocab *v, const char *s, size_t n, tok_out *o, jc_err *err)
{
    switch (v->model) {
    case TOK_MODEL_SPM:
        return tok_spm_encode(v, s, n, o, err);
    case TOK_MODEL_BPE:
        return tok_bpe_encode(v, s, n, o, err);
    case TOK_MODEL_WPM:
        return tok_wpm_encode(v, s, n, o, err);
    }
    return jc_errf(err, "tokenizer: unknown model");
}

/* Encodes into a growable tok_out; 0 or -1 with err. */
static int encode_all(const tok_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
                      tok_out *o, jc_err *err)
{
    if (len > TOK_MAX_INPUT)
        return jc_errf(err, "tokenize: input of %zu bytes is over the 1 GiB limit", len);
    if (!text && len)
        return jc_errf(err, "tokenize: no text");
    bool oom = false;
    size_t nf = 0;
    frag *fr = partition(v, text, len, parse_special, &nf, &oom);
    if (oom)
        return jc_errf(err, "tokenize: out of memory");
    int rc = -1;
    if (add_special && v->add_bos && v->bos >= 0)
        tok_out_push(o, v->bos);
    bool prev_special = true; /* SPM prefixes a space to text at the start and after a special token */
    size_t pos = 0;
    for (size_t k = 0; k <= nf; k++) {
        size_t end = k < nf ? fr[k].off : len;
        if (end > pos) {
            if (v->model == TOK_MODEL_SPM) {
                /* SPM needs the prefix flag: pass it through a prefixed copy */
                size_t m = end - pos;
                bool pfx = v->add_space_prefix && prev_special;
                char *buf = malloc(m + 2);
                if (!buf) {
                    jc_errf(err, "tokenize: out of memory");
                    goto out;
                }
                if (pfx)
                    buf[0] = ' ';
                memcpy(buf + pfx, text + pos, m);
                int r = tok_spm_encode(v, buf, m + pfx, o, err);
                free(buf);
                if (r < 0)
                    goto out;
            } else if (encode_text(v, text + pos, end - pos, o, err) < 0) {
                goto out;
            }
            prev_special = false;
        }
        if (k < nf) {
            if (fr[k].id >= 0) {
                tok_out_push(o, fr[k].id);
                prev_special = true;
            }
            pos = fr[k].off + fr[k].len;
        }
    }
    if (add_special) {
        if (v->model == TOK_MODEL_WPM) {
            if (v->add_sep && v->sep >= 0)
                tok_out_push(o, v->sep);
        } else if (v->add_eos && v->eos >= 0) {
            tok_out_push(o, v->eos);
        }
    }
    if (o->oom) {
        jc_errf(err, "tokenize: out of memory");
        goto out;
    }
    rc = 0;
out:
    free(fr);
    return rc;
}

int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t *out, size_t cap, size_t *needed, jc_err *err)
{
    tok_out o = {0};
    if (needed)
        *needed = 0;
    if (encode_all(v, text, len, add_special, parse_special, &o, err) < 0) {
        free(o.ids);
        return -1;
    }
    if (o.n > (size_t)INT32_MAX) {
        free(o.ids);
        return jc_errf(err, "tokenize: too many tokens");
    }
    if (needed)
        *needed = o.n;
    if (o.n > cap) {
        if (cap)
            memcpy(out, o.ids, cap * sizeof *out);
        free(o.ids);
        return jc_errf(err, "tokenize: %zu tokens do not fit in %zu", o.n, cap);
    }
    if (o.n)
        memcpy(out, o.ids, o.n * sizeof *out);
    free(o.ids);
    return (int)o.n;
}

int32_t *tok_encode_alloc(const tok_vocab *v, const char *text, size_t len, bool add_special,
                          bool parse_special, size_t *n, jc_err *err)
{
    tok_out o = {0};
    *n = 0;
    if (encode_all(v, text, len, add_special, parse_special, &o, err) < 0) {
        free(o.ids);
        return NULL;
    }
    if (!o.ids)
        o.ids = jc_xmalloc(sizeof *o.ids);
    *n = o.n;
    return o.ids;
}
