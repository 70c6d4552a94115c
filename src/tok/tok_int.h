/*
 * tok_int.h — the tokenizer layer's private header: the vocabulary struct,
 * its hash tables, and the functions the files of the layer share (tok.c
 * loads, tok_encode.c encodes, tok_spm.c / tok_bpe.c / tok_wpm.c are the
 * models, tok_pre.c the BPE pre-tokenizers, tok_detok.c the decoding).
 *
 * Storage: all token texts live in one pool (text_pool, offsets in tok_off,
 * n+1 entries, so a token's length is tok_off[i+1] - tok_off[i]); decoded
 * pieces (what the detokenizer prints) in a second pool. The text→id table
 * and the merge table are open-addressing hash tables sized to a power of two
 * at load time and read-only afterwards, so lookups need no locking.
 */
#ifndef TOK_INT_H
#define TOK_INT_H

#include "tok/tok.h"

#include <stdint.h>
#include <string.h>

/* Token flags kept beside the GGUF token_type. */
enum {
    TOK_F_EOG = 1,    /* ends generation */
    TOK_F_LSTRIP = 2, /* special-token partition eats whitespace on its left */
    TOK_F_RSTRIP = 4, /* ... and on its right */
    TOK_F_UNUSED = 8, /* a control token whose text says "unused" */
};

/* The longest token text tok_load accepts (bytes); real vocabularies stay far below. */
#define TOK_MAX_TOKEN_LEN 65536

/* The largest input tok_encode accepts (bytes). */
#define TOK_MAX_INPUT ((size_t)1 << 30)

typedef struct tok_pre tok_pre; /* compiled pre-tokenizer regexes (tok_pre.c) */

typedef struct tok_hslot {
    uint32_t hash;
    int32_t id;        /* -1: empty */
    uint32_t off, len; /* the token's text in text_pool, so a probe needs no tok_off */
} tok_hslot;

typedef struct tok_mslot {
    uint64_t key; /* (left << 32 | right) + 1; 0: empty */
    int32_t rank, res;
} tok_mslot;

struct tok_vocab {
    enum tok_model model;
    int32_t n;            /* tokens */
    char *text_pool;      /* all token texts, back to back */
    uint32_t *tok_off;    /* n+1 offsets into text_pool */
    float *scores;        /* n (0 when the file has none) */
    uint8_t *attr;        /* n: enum tok_attr */
    uint8_t *flags;       /* n: TOK_F_* */
    uint32_t max_tok_len; /* longest token text */

    /* text → id: slots of (hash, id), id -1 = empty */
    tok_hslot *h;
    uint32_t h_mask;

    /* BPE merges: (left id, right id) → rank and result id; NULL without merges */
    tok_mslot *m;
    uint32_t m_mask;
    uint32_t n_merges;

    /* decoded pieces for the detokenizer */
    char *piece_pool;
    uint32_t *piece_off; /* n+1 */
    uint32_t max_piece;

    /* special tokens (-1 = none) */
    int32_t bos, eos, eot, eom, unk, sep, pad, mask, nl;
    bool add_bos, add_eos, add_sep;
    bool add_space_prefix; /* SPM: prepend ' ' to the first text fragment */
    bool escape_ws;        /* BPE variants (gemma4) that spell spaces '▁' */
    bool byte_encode;      /* byte-level BPE (GPT-2 byte→char map) */
    bool ignore_merges;    /* a pre-tokenized word that is a token is taken whole */
    bool wpm_lowercase, wpm_strip_accents;
    bool spm_ws_split; /* SPM: no token has '▁' after another character */

    int32_t *eog_ids; /* sorted */
    size_t n_eog;

    /* tokens the partition step looks for: control, user-defined, unknown;
       longest text first (ties: lower id first) */
    int32_t *special;
    size_t n_special;

    int32_t byte_tok[256]; /* SPM/gemma4: <0xNN>; byte-level BPE: the char of byte b */
    char pre_name[64];
    tok_pre *pre; /* BPE only */
};

/* ---- hashing ---- */
static inline uint32_t tok_hash(const void *p, size_t n)
{
    /* FNV-1a over 8-byte words, finished with a multiply-shift mix */
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t k = 0; k < n; k++)
        w |= (uint64_t)s[k] << (8 * k);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 32;
    h *= 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(h >> 32);
}

static inline const char *tok_str(const tok_vocab *v, int32_t id, size_t *len)
{
    *len = v->tok_off[id + 1] - v->tok_off[id];
    return v->text_pool + v->tok_off[id];
}

/* The id of the token whose text is s[0..n) (whose tok_hash is h), or -1. */
static inline int32_t tok_lookup_hashed(const tok_vocab *v, const char *s, size_t n, uint32_t h)
{
    for (uint32_t i = h & v->h_mask;; i = (i + 1) & v->h_mask) {
        const tok_hslot *e = &v->h[i];
        if (e->id < 0)
            return -1;
        if (e->hash == h && e->len == n && memcmp(v->text_pool + e->off, s, n) == 0)
            return e->id;
    }
}

static inline int32_t tok_lookup(const tok_vocab *v, const char *s, size_t n)
{
    return tok_lookup_hashed(v, s, n, tok_hash(s, n));
}

static inline uint32_t tok_mhash(uint64_t key)
{
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 32;
    return (uint32_t)key;
}

/* The merge of (a, b): its rank (and the merged token in *res), or -1. */
static inline int32_t tok_merge_rank(const tok_vocab *v, int32_t a, int32_t b, int32_t *res)
{
    if (!v->m)
        return -1;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    for (uint32_t i = tok_mhash(key) & v->m_mask;; i = (i + 1) & v->m_mask) {
        if (v->m[i].key == 0)
            return -1;
        if (v->m[i].key == key) {
            *res = v->m[i].res;
            return v->m[i].rank;
        }
    }
}

/* ---- growable id output used by the encoders ---- */
typedef struct tok_out {
    int32_t *ids;
    size_t n, cap;
    bool oom;
} tok_out;

void tok_out_push(tok_out *o, int32_t id);

/* ---- UTF-8 helpers (tok_encode.c) ---- */
/* Bytes of the sequence led by c as llama.cpp counts them (1 for a stray continuation byte). */
static inline size_t tok_utf8_len(uint8_t c)
{
    static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[c >> 4];
}
/*
 * Decodes one code point at s[*i] (n bytes in all), advancing *i. A malformed
 * sequence yields 0xFFFD and advances one byte (llama.cpp's rule); surrogates
 * and values above 0x10FFFF also yield 0xFFFD.
 */
uint32_t tok_utf8_next(const char *s, size_t n, size_t *i);
/* Writes cp as UTF-8 into out (4 bytes room); returns the byte count. */
size_t tok_utf8_put(uint32_t cp, char *out);
/*
 * A copy of s[0..n) in which every malformed sequence is U+FFFD, so PCRE2 may
 * skip its own checks. Caller frees; *out_n gets the length. NULL on OOM.
 */
char *tok_utf8_sanitize(const char *s, size_t n, size_t *out_n);

/* ---- the model-specific encoders: append to out; 0 or -1 with err ---- */
int tok_spm_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err);
int tok_bpe_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err);
int tok_wpm_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err);

/* ---- pre-tokenizer (tok_pre.c) ---- */
/*
 * Looks up a tokenizer.ggml.pre value and fills v's BPE options for it
 * (ignore_merges, escape_ws, byte_encode) and compiles its regexes.
 * NULL name means absent ("default"). Returns 0, or -1 with err naming an
 * unknown value.
 */
int tok_pre_init(tok_vocab *v, const char *name, jc_err *err);
void tok_pre_free(tok_pre *p);
/*
 * Splits s[0..n) (valid UTF-8) into words: calls fn(ctx, off, len) for each
 * piece in order (pieces cover s exactly). Returns 0, or -1 with err (regex
 * resource limits, OOM).
 */
typedef int (*tok_word_fn)(void *ctx, size_t off, size_t len);
int tok_pre_split(const tok_pre *p, const char *s, size_t n, tok_word_fn fn, void *ctx, jc_err *err);

/* ---- pieces (tok_detok.c) ---- */
/* Builds v->piece_pool / piece_off / max_piece after the tokens are loaded. */
int tok_pieces_build(tok_vocab *v, jc_err *err);
/* The GPT-2 byte→code point map, and its inverse (-1 for code points not in it). */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);

#endif
