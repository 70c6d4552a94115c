/*
 * tok_wpm.c — WordPiece ("bert" tokenizers, for embedding models), as
 * Hugging Face's BertTokenizer does it: the basic tokenizer drops NUL,
 * U+FFFD and control characters, splits on whitespace, lowercases and strips
 * accents (NFD, then drop Mn marks; utf8proc) when the vocabulary says so,
 * and makes each punctuation character, ASCII symbol and CJK ideograph a
 * word of its own; then each word is split greedily into the longest tokens
 * from the left. A word with no split, or longer than 100 characters,
 * becomes [UNK].
 *
 * GGUF spelling (llama.cpp's converter): a word-initial piece is stored with
 * a leading '▁', a continuation piece ("##ing" in vocab.txt) without "##".
 */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define WPM_MAX_WORD_CHARS 100

static bool is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B820 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_ws(uint32_t c, utf8proc_category_t cat)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS;
}

static bool is_control(uint32_t c, utf8proc_category_t cat)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return false;
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO ||
           cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CN;
}

static bool is_punct(uint32_t c, utf8proc_category_t cat)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return true;
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

typedef struct wpm_word {
    char *buf; /* "▁" + the word's UTF-8 */
    size_t n, cap;
    size_t chars;
} wpm_word;

static int word_put(wpm_word *w, uint32_t cp)
{
    if (w->n + 4 > w->cap) {
        size_t nc = w->cap * 2 + 64;
        char *b = realloc(w->buf, nc);
        if (!b)
            return -1;
        w->buf = b;
        w->cap = nc;
    }
    w->n += tok_utf8_put(cp, w->buf + w->n);
    w->chars++;
    return 0;
}

static void word_reset(wpm_word *w)
{
    memcpy(w->buf, "\xe2\x96\x81", 3);
    w->n = 3;
    w->chars = 0;
}

/* Greedy longest-match-first split of the finished word; [UNK] when it fails. */
static void word_flush(const tok_vocab *v, wpm_word *w, tok_out *out)
{
    if (w->chars == 0)
        return;
    if (w->chars > WPM_MAX_WORD_CHARS) {
        if (v->unk >= 0)
            tok_out_push(out, v->unk);
        word_reset(w);
        return;
    }
    size_t start_n = out->n;
    size_t n = w->n;
    for (size_t i = 0; i < n;) {
        size_t jmax = i + v->max_tok_len < n ? i + v->max_tok_len : n;
        int32_t id = -1;
        size_t j = jmax;
        for (; j > i; j--) {
            if (j < n && ((uint8_t)w->buf[j] & 0xc0) == 0x80)
                continue; /* not a character boundary */
            id = tok_lookup(v, w->buf + i, j - i);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            out->n = start_n; /* the word has no split: drop its pieces */
            break;
        }
        tok_out_push(out, id);
        i = j;
    }
    if (out->n == start_n && v->unk >= 0)
        tok_out_push(out, v->unk);
    word_reset(w);
}

int tok_wpm_encode(const tok_vocab *v, const char *s, size_t n, tok_out *out, jc_err *err)
{
    wpm_word w = {0};
    int rc = -1;
    w.cap = 64;
    w.buf = malloc(w.cap);
    if (!w.buf)
        goto oom;
    word_reset(&w);
    for (size_t i = 0; i < n;) {
        uint32_t cp0 = tok_utf8_next(s, n, &i);
        utf8proc_int32_t dec[32];
        utf8proc_ssize_t nd = 1;
        dec[0] = (utf8proc_int32_t)cp0;
        if (cp0 == 0 || cp0 == 0xfffd)
            continue;
        if (v->wpm_lowercase)
            dec[0] = utf8proc_tolower(dec[0]);
        if (v->wpm_strip_accents) {
            int last = 0;
            nd = utf8proc_decompose_char(dec[0], dec, 32, UTF8PROC_DECOMPOSE, &last);
            if (nd < 1 || nd > 32) {
                dec[0] = (utf8proc_int32_t)cp0;
                nd = 1;
            }
        }
        for (utf8proc_ssize_t k = 0; k < nd; k++) {
            uint32_t c = (uint32_t)dec[k];
            utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
            if (is_ws(c, cat)) {
                word_flush(v, &w, out);
                continue;
            }
            if (is_control(c, cat))
                continue;
            if (v->wpm_strip_accents && cat == UTF8PROC_CATEGORY_MN)
                continue;
            if (is_punct(c, cat) || is_cjk(c)) {
                word_flush(v, &w, out);
                if (word_put(&w, c) < 0)
                    goto oom;
                word_flush(v, &w, out);
                continue;
            }
            if (word_put(&w, c) < 0)
                goto oom;
        }
    }
    word_flush(v, &w, out);
    rc = out->oom ? jc_errf(err, "tokenize: out of memory") : 0;
    goto out;
oom:
    jc_errf(err, "tokenize: out of memory");
out:
    free(w.buf);
    return rc;
}
