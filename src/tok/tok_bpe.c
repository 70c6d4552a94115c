/*
 * tok_bpe.c — byte-level BPE ("gpt2" tokenizers): the text (made valid
 * UTF-8, malformed bytes becoming U+FFFD as in llama.cpp) is split into words
 * by the pre-tokenizer (tok_pre.c); each word's bytes become symbols (through
 * the GPT-2 byte→character map, or raw UTF-8 characters for the gemma4
 * variant), and the adjacent pair with the lowest merge rank is merged until
 * no pair has a merge (ties: leftmost first). With ignore_merges (Llama 3,
 * tekken) a word that is itself a token is taken whole.
 *
 * Symbols carry token ids, and the merge table is keyed by id pairs, so the
 * merge loop compares integers; a binary heap over a linked list keeps it
 * O(k log k) for a word of k symbols. Scratch arrays are reused across words.
 */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct bpe_sym {
    int32_t id; /* token id, -1 if the character is no token */
    int32_t prev, next;
    uint32_t off, n; /* raw bytes of the word it covers; n = 0 once merged away */
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank, left, right, lid, rid, res;
} bpe_pair;

typedef struct bpe_ctx {
    const tok_vocab *v;
    const char *text;
    tok_out *out;
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    char *enc; /* a word through the byte map (ignore_merges lookups) */
    size_t enc_cap;
    jc_err *err;
} bpe_ctx;

static inline bool pair_before(const bpe_pair *x, const bpe_pair *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static int heap_push(bpe_ctx *c, bpe_pair p)
{
    if (c->heap_n == c->heap_cap) {
        size_t nc = c->heap_cap ? c->heap_cap * 2 : 256;
        bpe_pair *a = realloc(c->heap, nc * sizeof *a);
        if (!a)
            return -1;
        c->heap = a;
        c->heap_cap = nc;
    }
    size_t i = c->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &c->heap[parent]))
            break;
        c->heap[i] = c->heap[parent];
        i = parent;
    }
    c->heap[i] = p;
    return 0;
}

static bpe_pair heap_pop(bpe_ctx *c)
{
    bpe_pair top = c->heap[0];
    bpe_pair last = c->heap[--c->heap_n];
    size_t i = 0, n = c->heap_n;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && pair_before(&c->heap[k + 1], &c->heap[k]))
            k++;
        if (!pair_before(&c->heap[k], &last))
            break;
        c->heap[i] = c->heap[k];
        i = k;
    }
    if (n)
        c->heap[i] = last;
    return top;
}

static int try_pair(bpe_ctx *c, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    int32_t a = c->sym[l].id, b = c->sym[r].id, res;
    if (a < 0 || b < 0)
        return 0;
    int32_t rank = tok_merge_rank(c->v, a, b, &res);
    if (rank < 0)
        return 0;
    return heap_push(c, (bpe_pair){rank, l, r, a, b, res});
}

/* Appends the byte-mapped form of w[0..n) to c->enc; returns its length or -1. */
static long encode_word(bpe_ctx *c, const char *w, size_t n)
{
    if (n * 2 > c->enc_cap) {
        size_t nc = n * 2 + 64;
        char *e = realloc(c->enc, nc);
        if (!e)
            return -1;
        c->enc = e;
        c->enc_cap = nc;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += tok_utf8_put(tok_byte_to_cp((uint8_t)w[i]), c->enc + k);
    return (long)k;
}

/* Emits the tokens for a symbol that is no token: byte fallbacks where they exist. */
static void emit_fallback(bpe_ctx *c, const char *w, uint32_t n)
{
    const tok_vocab *v = c->v;
    if (!v->byte_encode) {
        for (uint32_t k = 0; k < n; k++) {
            int32_t b = v->byte_tok[(uint8_t)w[k]];
            if (b >= 0)
                tok_out_push(c->out, b);
        }
        return;
    }
    /* llama.cpp looks each byte of the mapped text up as a one-byte token */
    for (uint32_t k = 0; k < n; k++) {
        char u[4];
        size_t l = tok_utf8_put(tok_byte_to_cp((uint8_t)w[k]), u);
        for (size_t j = 0; j < l; j++) {
            int32_t id = tok_lookup(v, &u[j], 1);
            if (id >= 0)
                tok_out_push(c->out, id);
        }
    }
}

static bool all_newlines(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] != '\n')
            return false;
    return true;
}

static int bpe_word(void *ctx, size_t off, size_t len)
{
    bpe_ctx *c = ctx;
    const tok_vocab *v = c->v;
    const char *w = c->text + off;
    if (len == 0)
        return 0;
    if (len > UINT32_MAX)
        return jc_errf(c->err, "tokenize: a word of %zu bytes is too long", len);
    /* whole-word shortcut */
    if (v->ignore_merges) {
        int32_t id;
        if (v->byte_encode) {
            long el = encode_word(c, w, len);
            if (el < 0)
                goto oom;
            id = tok_lookup(v, c->enc, (size_t)el);
        } else {
            id = tok_lookup(v, w, len);
        }
        if (id >= 0) {
            tok_out_push(c->out, id);
            return 0;
        }
    } else if (!v->byte_encode && all_newlines(w, len)) {
        int32_t id = tok_lookup(v, w, len); /* gemma4: a run of newlines is one token */
        if (id >= 0) {
            tok_out_push(c->out, id);
            return 0;
        }
    }
    /* symbols */
    if (len > c->sym_cap) {
        size_t nc = len + 64;
        bpe_sym *s = realloc(c->sym, nc * sizeof *s);
        if (!s)
            goto oom;
        c->sym = s;
        c->sym_cap = nc;
    }
    int32_t ns = 0;
    for (size_t i = 0; i < len;) {
        size_t l = 1;
        int32_t id;
        if (v->byte_encode) {
            id = v->byte_tok[(uint8_t)w[i]];
        } else {
            l = tok_utf8_len((uint8_t)w[i]);
            if (l > len - i)
                l = len - i;
            id = tok_lookup(v, w + i, l);
        }
        c->sym[ns] = (bpe_sym){id, ns - 1, -1, (uint32_t)i, (uint32_t)l};
        if (ns > 0)
            c->sym[ns - 1].next = ns;
        ns++;
        i += l;
    }
    c->heap_n = 0;
    for (int32_t i = 1; i < ns; i++)
        if (try_pair(c, i - 1, i) < 0)
            goto oom;
    while (c->heap_n) {
        bpe_pair p = heap_pop(c);
        bpe_sym *L = &c->sym[p.left], *R = &c->sym[p.right];
        if (L->n == 0 || R->n == 0 || L->next != p.right || L->id != p.lid || R->id != p.rid)
            continue; /* stale */
        L->id = p.res;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0)
            c->sym[R->next].prev = p.left;
        if (try_pair(c, L->prev, p.left) < 0 || try_pair(c, p.left, L->next) < 0)
            goto oom;
    }
    for (int32_t i = 0; i != -1; i = c->sym[i].next) {
        if (c->sym[i].id >= 0)
            tok_out_push(c->out, c->sym[i].id);
        else
            emit_fallback(c, w + c->sym[i].off, c->sym[i].n);
    }
    return c->out->oom ? jc_errf(c->err, "tokenize: out of memory") : 0;
oom:
    return jc_errf(c->err, "tokenize: out of memory");
}

int tok_bpe_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err)
{
    if (n == 0)
        return 0;
    int rc = -1;
    char *esc = NULL, *t = NULL;
    size_t tn = 0;
    bpe_ctx c = {.v = v, .out = out, .err = err};
    if (v->escape_ws) {
        esc = malloc(n * 3 + 1);
        if (!esc)
            goto oom;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(esc + m, "\xe2\x96\x81", 3);
                m += 3;
            } else {
                esc[m++] = s[i];
            }
        }
        s = esc;
        n = m;
    }
    t = tok_utf8_sanitize(s, n, &tn);
    if (!t)
        goto oom;
    c.text = t;
    rc = tok_pre_split(v->pre, t, tn, bpe_word, &c, err);
    goto out;
oom:
    jc_errf(err, "tokenize: out of memory");
out:
    free(esc);
    free(t);
    free(c.sym);
    free(c.heap);
    free(c.enc);
    return rc;
}
