/*
 * tok.h — tokenizers built from a GGUF file's tokenizer.ggml.* keys: the
 * public API the engine, the server and the CLI use.
 *
 * Three models, as llama.cpp names them in tokenizer.ggml.model:
 *   "llama"  SentencePiece BPE (scores, byte fallback <0xNN>, '▁' for space)
 *   "gpt2"   byte-level BPE (merge ranks, a pre-tokenizer regex chosen by
 *            tokenizer.ggml.pre, run on PCRE2 with JIT)
 *   "bert"   WordPiece (BERT basic tokenizer, greedy longest match, [UNK])
 * A vocabulary is read-only after tok_load and safe to share between
 * threads: tok_encode allocates only its own scratch memory.
 *
 * Token ids are int32_t; -1 means "none".
 */
#ifndef TOK_H
#define TOK_H

#include "base/jc.h"
#include "gguf/gguf.h"

typedef struct tok_vocab tok_vocab;

enum tok_model {
    TOK_MODEL_SPM = 1, /* "llama" */
    TOK_MODEL_BPE = 2, /* "gpt2" */
    TOK_MODEL_WPM = 3, /* "bert" */
};

/* tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
enum tok_attr {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_NORMAL = 1,
    TOK_ATTR_UNKNOWN = 2,
    TOK_ATTR_CONTROL = 3,
    TOK_ATTR_USER_DEFINED = 4,
    TOK_ATTR_UNUSED = 5,
    TOK_ATTR_BYTE = 6,
};

/*
 * Builds a tokenizer from f's tokenizer.ggml.* keys. Copies everything it
 * needs, so f may be closed afterwards. Returns NULL with err set (naming the
 * key that was missing or wrong, e.g. an unknown tokenizer.ggml.pre value).
 * The caller frees the result with tok_free.
 */
tok_vocab *tok_load(const gguf_file *f, jc_err *err);
/* Convenience: gguf_open + tok_load + gguf_close. */
tok_vocab *tok_load_path(const char *path, jc_err *err);
void tok_free(tok_vocab *v); /* NULL is fine */

int32_t tok_n_vocab(const tok_vocab *v);
enum tok_model tok_model_kind(const tok_vocab *v);
/* tokenizer.ggml.pre as read ("default" when absent); static storage of v. */
const char *tok_pre_name(const tok_vocab *v);

/*
 * Encodes text[0..len) (any bytes; invalid UTF-8 is tolerated) into out, the
 * caller's array of cap ids. add_special: BOS/EOS (or CLS/SEP for WordPiece)
 * as the metadata says (tok_add_bos/tok_add_eos). parse_special: text of
 * control and unknown tokens (e.g. "<|im_start|>") becomes their id,
 * longest match first; otherwise it is tokenized as plain text. The text of
 * user-defined tokens always becomes their id (as in llama.cpp and HF).
 * Returns the number of ids (>= 0). When cap is too small, returns -1, sets
 * *needed (if not NULL) to the count required and err to a message; out may
 * then hold a partial result. Other failures (input over 1 GiB, out of
 * memory) return -1 with *needed = 0.
 */
int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t *out, size_t cap, size_t *needed, jc_err *err);
/*
 * The same, into a new array the caller frees; *n gets the count. NULL on
 * failure with err set.
 */
int32_t *tok_encode_alloc(const tok_vocab *v, const char *text, size_t len, bool add_special,
                          bool parse_special, size_t *n, jc_err *err);

/* Special tokens; -1 when the vocabulary has none. */
int32_t tok_bos(const tok_vocab *v);
int32_t tok_eos(const tok_vocab *v);
int32_t tok_eot(const tok_vocab *v);
int32_t tok_unk(const tok_vocab *v);
int32_t tok_sep(const tok_vocab *v);
int32_t tok_pad(const tok_vocab *v);
int32_t tok_cls(const tok_vocab *v); /* WordPiece: same as BOS */
int32_t tok_nl(const tok_vocab *v);  /* the token of "\n" */
/* Whether add_special adds BOS / EOS (metadata, else the model's default). */
bool tok_add_bos(const tok_vocab *v);
bool tok_add_eos(const tok_vocab *v);

/*
 * End of generation: EOS, EOT, and the tokens llama.cpp recognises by text
 * (<|im_end|>, <end_of_turn>, <|eot_id|>, <|end|>, <|endoftext|>, <|eom_id|>,
 * </s>, ...). False for out-of-range ids.
 */
bool tok_is_eog(const tok_vocab *v, int32_t id);
/* Control tokens (token_type 3, or a BOS/EOS/... id). False out of range. */
bool tok_is_control(const tok_vocab *v, int32_t id);
/* token_type of id (TOK_ATTR_UNDEFINED out of range). */
enum tok_attr tok_attr(const tok_vocab *v, int32_t id);
/* The token's text as stored in the vocabulary (not NUL-terminated; "" out of range). */
const char *tok_text(const tok_vocab *v, int32_t id, size_t *len);
/*
 * The bytes token id decodes to ('▁' as space, byte tokens as their byte,
 * byte-level BPE mapped back to bytes); may be part of a UTF-8 character.
 * Control tokens give their text. "" (len 0) out of range. Valid while v lives.
 */
const char *tok_piece(const tok_vocab *v, int32_t id, size_t *len);
/* The id whose stored text is exactly s[0..len), or -1. */
int32_t tok_find(const tok_vocab *v, const char *s, size_t len);
/* The end-of-generation ids, for callers that list them; *n gets the count. */
const int32_t *tok_eog_ids(const tok_vocab *v, size_t *n);

/*
 * Streaming detokenizer. Embed it (no allocation): tok_detok_init, then
 * tok_detok_feed one id at a time, then tok_detok_flush at the end. Output
 * is always complete, valid UTF-8: bytes of an unfinished sequence (e.g. an
 * emoji spread over <0xF0><0x9F>... byte tokens, or over byte-level BPE
 * tokens) are held back until the character is complete; bytes that can
 * never form a valid character come out as U+FFFD.
 */
enum tok_detok_flags {
    TOK_DETOK_SPECIAL = 1,     /* render control tokens' text (e.g. "<|im_end|>"); else they emit nothing */
    TOK_DETOK_STRIP_FIRST = 2, /* drop the leading space of the first piece when the vocab adds a space
                                  prefix (SPM add_space_prefix), as llama.cpp's detokenize does */
};

typedef struct tok_detok {
    const tok_vocab *v;
    unsigned flags;
    bool first;      /* no text emitted yet */
    uint8_t pend[4]; /* held-back bytes of an unfinished UTF-8 sequence */
    uint8_t npend;
} tok_detok;

void tok_detok_init(tok_detok *d, const tok_vocab *v, unsigned flags);
/*
 * The buffer size tok_detok_feed needs: the longest decoded token plus the
 * held-back bytes and replacement room. Constant for a vocabulary.
 */
size_t tok_detok_bufsize(const tok_vocab *v);
/*
 * Decodes id and writes the bytes now complete to out (cap >= tok_detok_bufsize).
 * Returns the byte count (0 when everything is held back), or -1 for an
 * out-of-range id or a too-small cap (nothing is consumed then).
 */
int tok_detok_feed(tok_detok *d, int32_t id, char *out, size_t cap);
/* Emits what is still held back (as U+FFFD, since it is incomplete). cap >= 16. Returns bytes. */
int tok_detok_flush(tok_detok *d, char *out, size_t cap);

/*
 * Decodes a whole sequence into out (appended). flags as above. Returns 0, or
 * -1 with err set for an out-of-range id or when out reaches its maximum.
 */
int tok_decode(const tok_vocab *v, const int32_t *ids, size_t n, unsigned flags, jc_buf *out, jc_err *err);

#endif
