/*
 * fuzz_tok.c — libFuzzer target for the tokenizers: encodes the input with
 * one of several vocabularies (chosen by the first byte, which also sets
 * add_special / parse_special), checks every id is in range, then streams the
 * ids through the detokenizer and checks the output is valid UTF-8.
 *
 * Vocabularies: small SentencePiece, byte-level BPE and WordPiece ones built
 * in memory with the GGUF writer, plus, when $JANC_SHARED/testdata/vocab is
 * there, the real Llama 3 (BPE), Llama 2 (SPM) and BERT (WPM) ones.
 */
#include "gguf/gguf.h"
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCABS 6

static tok_vocab *vocabs[MAX_VOCABS];
static int n_vocabs;

static tok_vocab *from_writer(gguf_writer *w)
{
    uint8_t *img = NULL;
    size_t size = 0;
    jc_err err = {{0}};
    tok_vocab *v = NULL;
    if (gguf_writer_to_memory(w, &img, &size, &err) == 0) {
        gguf_file *f = gguf_open_memory(img, size, &err);
        if (f) {
            v = tok_load(f, &err);
            gguf_close(f);
        }
    }
    if (!v)
        fprintf(stderr, "fuzz_tok: built-in vocabulary: %s\n", err.msg);
    free(img);
    gguf_writer_free(w);
    return v;
}

static char names[512][8];

static tok_vocab *tiny_spm(void)
{
    const char *toks[300];
    float scores[300];
    int32_t types[300];
    int n = 0;
    toks[n] = "<unk>", scores[n] = 0, types[n++] = 2;
    toks[n] = "<s>", scores[n] = 0, types[n++] = 3;
    toks[n] = "</s>", scores[n] = 0, types[n++] = 3;
    for (int i = 0; i < 256; i++) {
        snprintf(names[i], sizeof names[i], "<0x%02X>", i);
        toks[n] = names[i], scores[n] = 0, types[n++] = 6;
    }
    static const char *const words[] = {"\xe2\x96\x81",
                                        "a",
                                        "b",
                                        "\xe2\x96\x81"
                                        "a",
                                        "ab",
                                        "\xe2\x96\x81"
                                        "ab",
                                        "\xe2\x96\x81\xe2\x96\x81",
                                        "<|im_end|>",
                                        "<u>"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        toks[n] = words[i], scores[n] = -(float)i, types[n++] = i == 7 ? 3 : i == 8 ? 4 : 1;
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, (uint64_t)n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, (uint64_t)n);
    return from_writer(w);
}

static uint32_t gpt2_cp(int b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
        return (uint32_t)b;
    int k = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
            k++;
    return 256u + (uint32_t)k;
}

static tok_vocab *tiny_bpe(void)
{
    const char *toks[300];
    int32_t types[300];
    int n = 0;
    for (int i = 0; i < 256; i++) {
        uint32_t cp = gpt2_cp(i);
        char *o = names[256 + i];
        if (cp < 0x80)
            o[0] = (char)cp, o[1] = 0;
        else
            o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), o[2] = 0;
        toks[n] = o, types[n++] = 1;
    }
    static const char *const words[] = {"he",           "ll",        "hell", "\xc4\xa0w", "<|endoftext|>",
                                        "<|im_start|>", "<|im_end|>"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        toks[n] = words[i], types[n++] = i >= 4 ? 3 : 1;
    static const char *const merges[] = {"h e", "l l", "he ll", "\xc4\xa0 w"};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, (uint64_t)n);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 4);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 260);
    return from_writer(w);
}

static tok_vocab *tiny_wpm(void)
{
    static const char *const toks[] = {"[PAD]",
                                       "[UNK]",
                                       "[CLS]",
                                       "[SEP]",
                                       "\xe2\x96\x81"
                                       "play",
                                       "ing",
                                       "\xe2\x96\x81"
                                       "!",
                                       "\xe2\x96\x81"
                                       "\xe4\xb8\xad"};
    int32_t types[8] = {3, 3, 3, 3, 1, 1, 1, 1};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "bert");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 8);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 8);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.cls_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 3);
    return from_writer(w);
}

static void init(void)
{
    tok_vocab *t[3] = {tiny_spm(), tiny_bpe(), tiny_wpm()};
    for (int i = 0; i < 3; i++)
        if (t[i])
            vocabs[n_vocabs++] = t[i];
    const char *shared = getenv("JANC_SHARED");
    if (!shared)
        return;
    static const char *const real[] = {"llama-bpe", "llama-spm", "bert-bge"};
    for (int i = 0; i < 3 && n_vocabs < MAX_VOCABS; i++) {
        char path[4096];
        jc_err err = {{0}};
        snprintf(path, sizeof path, "%s/testdata/vocab/ggml-vocab-%s.gguf", shared, real[i]);
        tok_vocab *v = tok_load_path(path, &err);
        if (v)
            vocabs[n_vocabs++] = v;
    }
}

static void check_utf8(const char *s, size_t n)
{
    for (size_t p = 0; p < n;) {
        unsigned char c = (unsigned char)s[p];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!l || p + l > n)
            abort();
        for (size_t k = 1; k < l; k++)
            if (((unsigned char)s[p + k] & 0xc0) != 0x80)
                abort();
        p += l;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!n_vocabs)
        init();
    if (!n_vocabs || size < 1)
        return 0;
    uint8_t sel = data[0];
    const tok_vocab *v = vocabs[(sel & 7) % n_vocabs];
    bool add = sel & 8, parse = sel & 16;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    jc_err err = {{0}};
    size_t n = 0;
    int32_t *ids = tok_encode_alloc(v, text, len, add, parse, &n, &err);
    if (!ids)
        return 0; /* an error is a fine answer; a crash is not */
    tok_detok d;
    tok_detok_init(&d, v, (sel & 32 ? TOK_DETOK_SPECIAL : 0) | (sel & 64 ? TOK_DETOK_STRIP_FIRST : 0));
    size_t cap = tok_detok_bufsize(v);
    char *buf = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
            abort();
        int k = tok_detok_feed(&d, ids[i], buf, cap);
        if (k < 0)
            abort();
        check_utf8(buf, (size_t)k);
    }
    int k = tok_detok_flush(&d, buf, cap);
    if (k < 0)
        abort();
    check_utf8(buf, (size_t)k);
    free(buf);
    free(ids);
    return 0;
}
