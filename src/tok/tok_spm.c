/*
 * tok_spm.c — SentencePiece BPE ("llama" tokenizers): the text's spaces
 * become '▁' (U+2581), the text is split into UTF-8 characters, and the
 * adjacent pair whose concatenation is the highest-scoring token is merged
 * until no pair is a token (ties: leftmost first). Symbols that are no token
 * fall back to byte tokens <0xNN>. llama.cpp's llm_tokenizer_spm semantics.
 *
 * The caller (tok.c) has already added the leading space (add_space_prefix)
 * and split out special tokens. Work is O(n log n) in the text length: a
 * binary heap of candidate pairs over a linked list of symbols.
 */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct spm_sym {
    uint32_t off, n; /* bytes in the escaped text; n = 0 once merged away */
    int32_t prev, next;
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

typedef struct spm_heap {
    spm_pair *a;
    size_t n, cap;
} spm_heap;

/* true if x comes out of the heap before y */
static inline bool pair_before(const spm_pair *x, const spm_pair *y)
{
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static int heap_push(spm_heap *h, spm_pair p)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 256;
        spm_pair *a = realloc(h->a, nc * sizeof *a);
        if (!a)
            return -1;
        h->a = a;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &h->a[parent]))
            break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = p;
    return 0;
}

static spm_pair heap_pop(spm_heap *h)
{
    spm_pair top = h->a[0];
    spm_pair last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && pair_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!pair_before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

static int try_pair(const tok_vocab *v, const char *t, const spm_sym *sym, int32_t l, int32_t r, spm_heap *h)
{
    if (l < 0 || r < 0)
        return 0;
    uint32_t size = sym[l].n + sym[r].n;
    int32_t id = tok_lookup(v, t + sym[l].off, size);
    if (id < 0)
        return 0;
    return heap_push(h, (spm_pair){v->scores[id], l, r, size});
}

/* Scratch reused across the segments of one call. */
typedef struct spm_work {
    spm_sym *sym;
    size_t sym_cap;
    spm_heap h;
} spm_work;

/* Encodes the escaped text t[0..m) as one merge domain. 0, or -1 on OOM. */
static int spm_segment(const tok_vocab *v, const char *t, size_t m, spm_work *w, tok_out *out)
{
    if (m > w->sym_cap) {
        size_t nc = m + 64;
        spm_sym *s = realloc(w->sym, nc * sizeof *s);
        if (!s)
            return -1;
        w->sym = s;
        w->sym_cap = nc;
    }
    spm_sym *sym = w->sym;
    spm_heap *h = &w->h;
    h->n = 0;
    int32_t ns = 0;
    for (size_t off = 0; off < m;) {
        size_t len = tok_utf8_len((uint8_t)t[off]);
        if (len > m - off)
            len = m - off;
        sym[ns] = (spm_sym){(uint32_t)off, (uint32_t)len, ns - 1, -1};
        if (ns > 0)
            sym[ns - 1].next = ns;
        ns++;
        off += len;
    }
    for (int32_t i = 1; i < ns; i++)
        if (try_pair(v, t, sym, i - 1, i, h) < 0)
            return -1;
    while (h->n) {
        spm_pair p = heap_pop(h);
        spm_sym *L = &sym[p.left], *R = &sym[p.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != p.size)
            continue; /* stale: one side changed since the pair was queued */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0)
            sym[R->next].prev = p.left;
        if (try_pair(v, t, sym, L->prev, p.left, h) < 0 || try_pair(v, t, sym, p.left, L->next, h) < 0)
            return -1;
    }
    for (int32_t i = 0; ns > 0 && i != -1; i = sym[i].next) {
        int32_t id = tok_lookup(v, t + sym[i].off, sym[i].n);
        if (id >= 0) {
            tok_out_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < sym[i].n; k++) {
            int32_t b = v->byte_tok[(uint8_t)t[sym[i].off + k]];
            if (b < 0)
                b = v->unk;
            if (b >= 0)
                tok_out_push(out, b);
        }
    }
    return 0;
}

static bool is_ws_mark(const char *t, size_t m, size_t i)
{
    return i + 3 <= m && (uint8_t)t[i] == 0xe2 && (uint8_t)t[i + 1] == 0x96 && (uint8_t)t[i + 2] == 0x81;
}

int tok_spm_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX / 3 - 4)
        return jc_errf(err, "tokenize: text too long for the SentencePiece tokenizer");
    int rc = -1;
    spm_work w = {0};
    /* escape spaces */
    char *t = malloc(n * 3 + 1);
    if (!t)
        goto oom;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(t + m, "\xe2\x96\x81", 3);
            m += 3;
        } else {
            t[m++] = s[i];
        }
    }
    if (!v->spm_ws_split) {
        if (spm_segment(v, t, m, &w, out) < 0)
            goto oom;
    } else {
        /*
         * No token has a '▁' after another character, so no merge crosses the
         * start of a run of '▁' that follows other text: encode the pieces
         * between such points one by one (same result, smaller heaps).
         */
        size_t start = 0;
        bool prev_mark = false;
        for (size_t i = 0; i < m;) {
            bool mark = is_ws_mark(t, m, i);
            if (mark && !prev_mark && i > start) {
                if (spm_segment(v, t + start, i - start, &w, out) < 0)
                    goto oom;
                start = i;
            }
            prev_mark = mark;
            size_t len = tok_utf8_len((uint8_t)t[i]);
            i += len < m - i ? len : m - i;
        }
        if (spm_segment(v, t + start, m - start, &w, out) < 0)
            goto oom;
    }
    rc = out->oom ? jc_errf(err, "tokenize: out of memory") : 0;
    goto out;
oom:
    jc_errf(err, "tokenize: out of memory");
out:
    free(t);
    free(w.sym);
    free(w.h.a);
    return rc;
}
