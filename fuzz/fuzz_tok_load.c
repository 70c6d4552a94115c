/*
 * fuzz_tok_load.c — libFuzzer target for building a tokenizer from hostile
 * metadata: the input is a GGUF image; if the GGUF reader accepts it,
 * tok_load must either refuse it with a message or give a vocabulary that
 * encodes and decodes a fixed text (with and without special-token parsing)
 * without crashing, with every id in range. Seeds in fuzz/corpus/tok_load/
 * are small SPM, BPE and WordPiece vocabularies made with janc's GGUF writer.
 */
#include "gguf/gguf.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jc_err err = {{0}};
    gguf_file *f = gguf_open_memory(data, size, &err);
    if (!f)
        return 0;
    tok_vocab *v = tok_load(f, &err);
    gguf_close(f); /* the vocabulary must not point into the file */
    if (!v) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    static const char text[] = "Hello world <|im_end|> <s>\n\t caf\xc3\xa9 \xf0\x9f\xa6\x99 12345 it's";
    for (int k = 0; k < 4; k++) {
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(v, text, sizeof text - 1, k & 1, k & 2, &n, &err);
        if (!ids)
            continue;
        jc_buf out;
        jc_buf_init(&out, 1 << 20);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
                abort();
        if (tok_decode(v, ids, n, TOK_DETOK_SPECIAL, &out, &err) < 0)
            abort();
        jc_buf_free(&out);
        free(ids);
    }
    for (int32_t id = 0; id < tok_n_vocab(v) && id < 64; id++) {
        size_t l;
        (void)tok_text(v, id, &l);
        (void)tok_piece(v, id, &l);
        (void)tok_is_eog(v, id);
    }
    tok_free(v);
    return 0;
}
