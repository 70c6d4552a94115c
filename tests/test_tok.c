/*
 * test_tok.c — the tokenizer layer on small vocabularies built in memory
 * with janc's GGUF writer (no shared data needed): SentencePiece merges by
 * score and byte fallback, byte-level BPE merges by rank, WordPiece, BOS/EOS
 * on add_special, special-token parsing, end-of-generation ids, the
 * streaming detokenizer (emoji split over byte tokens), every supported
 * tokenizer.ggml.pre value compiling, an unknown one refused by name, and
 * hostile input (invalid UTF-8, NUL bytes, 1 MB of one character).
 */
#include "gguf/gguf.h"
#include "harness.h"
#include "tok/tok.h"

#include <pthread.h>
#include <stdint.h>

/* ---- building vocabularies ---- */

typedef struct vb {
    const char *toks[600];
    float scores[600];
    int32_t types[600];
    int n;
} vb;

static int vb_add(vb *b, const char *t, float score, int32_t type)
{
    b->toks[b->n] = t;
    b->scores[b->n] = score;
    b->types[b->n] = type;
    return b->n++;
}

/* Opens the writer's image as a vocabulary; NULL (err set) on failure. */
static tok_vocab *vb_load(gguf_writer *w, jc_err *err)
{
    uint8_t *img = NULL;
    size_t size = 0;
    tok_vocab *v = NULL;
    if (gguf_writer_to_memory(w, &img, &size, err) < 0)
        return NULL;
    gguf_file *f = gguf_open_memory(img, size, err);
    if (f) {
        v = tok_load(f, err);
        gguf_close(f);
    }
    free(img);
    return v;
}

static char spm_bytes[256][8];

/* SPM: <unk> <s> </s> <0x00>..<0xFF> ▁ a b c ▁a ab bc <|im_end|>(control) <u>(user-defined) */
static tok_vocab *spm_vocab(bool add_bos, jc_err *err)
{
    vb b = {.n = 0};
    vb_add(&b, "<unk>", 0, 2);
    vb_add(&b, "<s>", 0, 3);
    vb_add(&b, "</s>", 0, 3);
    for (int i = 0; i < 256; i++) {
        snprintf(spm_bytes[i], sizeof spm_bytes[i], "<0x%02X>", i);
        vb_add(&b, spm_bytes[i], 0, 6);
    }
    vb_add(&b, "\xe2\x96\x81", -1, 1); /* 259 */
    vb_add(&b, "a", -2, 1);            /* 260 */
    vb_add(&b, "b", -2, 1);            /* 261 */
    vb_add(&b, "c", -2, 1);            /* 262 */
    vb_add(&b,
           "\xe2\x96\x81"
           "a",
           -3, 1);                  /* 263 */
    vb_add(&b, "ab", -1, 1);        /* 264: scores better than ▁a */
    vb_add(&b, "bc", -0.5f, 1);     /* 265: better still */
    vb_add(&b, "<|im_end|>", 0, 3); /* 266 */
    vb_add(&b, "<u>", 0, 4);        /* 267 */
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", b.toks, (uint64_t)b.n);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, b.scores, (uint64_t)b.n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, b.types, (uint64_t)b.n);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos);
    tok_vocab *v = vb_load(w, err);
    gguf_writer_free(w);
    return v;
}

/* The GPT-2 byte→character map, written out independently of the library. */
static uint32_t gpt2_cp(int b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
        return (uint32_t)b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
            n++;
    return 256u + (uint32_t)n;
}

static char bpe_chars[256][4];

/* byte-level BPE: the 256 byte characters, merges "h e", "l l", "he ll", "Ġ w", then specials */
static tok_vocab *bpe_vocab(const char *pre, jc_err *err)
{
    vb b = {.n = 0};
    for (int i = 0; i < 256; i++) {
        uint32_t cp = gpt2_cp(i);
        char *o = bpe_chars[i];
        if (cp < 0x80) {
            o[0] = (char)cp, o[1] = 0;
        } else {
            o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), o[2] = 0;
        }
        vb_add(&b, o, 0, 1);
    }
    vb_add(&b, "he", 0, 1);            /* 256 */
    vb_add(&b, "ll", 0, 1);            /* 257 */
    vb_add(&b, "hell", 0, 1);          /* 258 */
    vb_add(&b, "\xc4\xa0w", 0, 1);     /* 259: " w" */
    vb_add(&b, "<|endoftext|>", 0, 3); /* 260 */
    vb_add(&b, "<|im_start|>", 0, 3);  /* 261 */
    vb_add(&b, "<|im_end|>", 0, 3);    /* 262 */
    vb_add(&b, "<|im_start|>x", 0, 3); /* 263: longer special text wins */
    static const char *const merges[] = {"h e", "l l", "he ll", "\xc4\xa0 w"};
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre)
        gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", b.toks, (uint64_t)b.n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, b.types, (uint64_t)b.n);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 4);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 260);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 260);
    tok_vocab *v = vb_load(w, err);
    gguf_writer_free(w);
    return v;
}

/* WordPiece, GGUF spelling: word starts carry '▁', continuations are bare */
static tok_vocab *wpm_vocab(jc_err *err)
{
    vb b = {.n = 0};
    vb_add(&b, "[PAD]", 0, 3); /* 0 */
    vb_add(&b, "[UNK]", 0, 3); /* 1 */
    vb_add(&b, "[CLS]", 0, 3); /* 2 */
    vb_add(&b, "[SEP]", 0, 3); /* 3 */
    vb_add(&b,
           "\xe2\x96\x81"
           "play",
           0, 1);            /* 4 */
    vb_add(&b, "ing", 0, 1); /* 5: ##ing */
    vb_add(&b,
           "\xe2\x96\x81"
           "cafe",
           0, 1); /* 6 */
    vb_add(&b,
           "\xe2\x96\x81"
           "!",
           0, 1); /* 7 */
    vb_add(&b,
           "\xe2\x96\x81"
           "\xe4\xb8\xad",
           0, 1); /* 8: 中 */
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "bert");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", b.toks, (uint64_t)b.n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, b.types, (uint64_t)b.n);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.cls_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 3);
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
    tok_vocab *v = vb_load(w, err);
    gguf_writer_free(w);
    return v;
}

/* Encodes s; returns the count (or -1) and fills ids. */
static int enc(const tok_vocab *v, const char *s, bool add, bool parse, int32_t *ids, size_t cap)
{
    jc_err err = {{0}};
    size_t need = 0;
    int n = tok_encode(v, s, strlen(s), add, parse, ids, cap, &need, &err);
    if (n < 0)
        fprintf(stderr, "  encode '%s': %s\n", s, err.msg);
    return n;
}

#define CHECK_IDS(v, s, add, parse, ...)                                                                     \
    do {                                                                                                     \
        const int32_t _want[] = {__VA_ARGS__};                                                               \
        int32_t _got[64];                                                                                    \
        int _n = enc(v, s, add, parse, _got, 64);                                                            \
        bool _ok = _n == (int)JC_ARRAY_LEN(_want);                                                           \
        for (int _i = 0; _ok && _i < _n; _i++)                                                               \
            _ok = _got[_i] == _want[_i];                                                                     \
        CHECKF(_ok, "encode(\"%s\") gave %d ids, first %d", s, _n, _n > 0 ? (int)_got[0] : -1);              \
    } while (0)

static char *repeat(const char *unit, size_t n_units);

/* ---- tests ---- */

/* SPM: merges follow the scores (not the order), the leading space becomes ▁, unknown characters fall back to
 * bytes */
TEST(spm_merges_by_score_and_byte_fallback)
{
    jc_err err = {{0}};
    tok_vocab *v = spm_vocab(true, &err);
    REQUIRE(v);
    CHECK_EQ_INT(tok_model_kind(v), TOK_MODEL_SPM);
    CHECK_IDS(v, "ab", false, false, 259, 264);  /* " ab": ab(-1) merges before ▁a(-3), not left to right */
    CHECK_IDS(v, "abc", false, false, 263, 265); /* bc(-0.5) first, then ▁a */
    CHECK_IDS(v, "a a", false, false, 263, 263);
    CHECK_IDS(v, "\n", false, false, 259, 3 + 0x0a);                 /* ▁ then <0x0A> */
    CHECK_IDS(v, "\xc3\xa9", false, false, 259, 3 + 0xc3, 3 + 0xa9); /* é is no token: its two bytes */
    CHECK_IDS(v, "a", true, false, 1, 263);                          /* add_special: BOS */
    CHECK(tok_add_bos(v) && !tok_add_eos(v));
    CHECK_EQ_INT(tok_nl(v), 3 + 0x0a);
    tok_free(v);
    v = spm_vocab(false, &err); /* add_bos_token=false is obeyed */
    REQUIRE(v);
    CHECK_IDS(v, "a", true, false, 263);
    tok_free(v);
}

/* special-token text: control tokens only with parse_special; user-defined tokens always; a space prefix
 * follows them */
TEST(special_tokens_parse)
{
    jc_err err = {{0}};
    tok_vocab *v = spm_vocab(true, &err);
    REQUIRE(v);
    CHECK_IDS(v, "a<|im_end|>a", false, true, 263, 266, 263);
    int32_t ids[64];
    int n = enc(v, "a<|im_end|>", false, false, ids, 64);
    CHECK(n > 2);
    for (int i = 0; i < n; i++)
        CHECK(ids[i] != 266);
    CHECK_IDS(v, "a<u>", false, false, 263, 267); /* user-defined: split out without parse_special */
    tok_free(v);

    v = bpe_vocab("gpt-2", &err);
    REQUIRE(v);
    CHECK_IDS(v, "<|im_start|>x<|im_end|>", false, true, 263, 262); /* longest special text first */
    CHECK_IDS(v, "<|im_start|>hell", false, true, 261, 258);
    tok_free(v);
}

/* end of generation: EOS plus the tokens recognised by text; not ordinary tokens */
TEST(eog_ids)
{
    jc_err err = {{0}};
    tok_vocab *v = bpe_vocab("gpt-2", &err);
    REQUIRE(v);
    CHECK(tok_is_eog(v, 260)); /* <|endoftext|>, also EOS */
    CHECK(tok_is_eog(v, 262)); /* <|im_end|> */
    CHECK(!tok_is_eog(v, 261));
    CHECK(!tok_is_eog(v, 256));
    CHECK(!tok_is_eog(v, -1) && !tok_is_eog(v, 100000));
    CHECK(tok_is_control(v, 261) && !tok_is_control(v, 256));
    size_t n = 0;
    const int32_t *e = tok_eog_ids(v, &n);
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && e[0] == 260 && e[1] == 262);
    CHECK_EQ_INT(tok_eot(v), 262); /* the first of <|eot_id|>, <|im_end|>, ... */
    tok_free(v);
}

/* byte-level BPE: merges by rank over the GPT-2 pre-tokenizer's words; the space belongs to the next word */
TEST(bpe_merges)
{
    jc_err err = {{0}};
    tok_vocab *v = bpe_vocab("gpt-2", &err);
    REQUIRE(v);
    CHECK_EQ_INT(tok_model_kind(v), TOK_MODEL_BPE);
    CHECK_IDS(v, "hello", false, false, 258, 'o');
    CHECK_IDS(v, "hell w", false, false, 258, 259);
    size_t pl = 0;
    const char *piece = tok_piece(v, 259, &pl); /* "Ġw" decodes to " w" */
    CHECK(pl == 2 && !memcmp(piece, " w", 2));
    piece = tok_piece(v, 10, &pl); /* "Ċ" decodes to a newline */
    CHECK(pl == 1 && piece[0] == '\n');
    CHECK(tok_piece(v, -5, &pl) && pl == 0);
    CHECK_IDS(v, "\n", false, false, 10);                 /* token i is the character of byte i here */
    CHECK_IDS(v, "\xc3\xbf", false, false, 0xc3, 0xbf);   /* ÿ: its two bytes */
    CHECK_IDS(v, "\xff", false, false, 0xef, 0xbf, 0xbd); /* a stray byte is U+FFFD, as in llama.cpp */
    CHECK_IDS(v, "\xff\xfe", false, false, 0xef, 0xbf, 0xbd, 0xef, 0xbf,
              0xbd); /* invalid UTF-8 → U+FFFD bytes */
    tok_free(v);
}

/* WordPiece: lowercase, accents stripped, punctuation and CJK split, ## continuations, [UNK], CLS/SEP */
TEST(wpm_basic)
{
    jc_err err = {{0}};
    tok_vocab *v = wpm_vocab(&err);
    REQUIRE(v);
    CHECK_IDS(v, "Playing CAF\xc3\x89!", false, false, 4, 5, 6, 7);
    CHECK_IDS(v, "play\xe4\xb8\xad", false, false, 4, 8);
    CHECK_IDS(v, "plax play", false, false, 1, 4);
    CHECK_IDS(v, "play", true, false, 2, 4, 3);
    tok_free(v);
}

/* streaming detokenizer: an emoji spread over four byte tokens comes out whole, once, at the fourth */
TEST(detok_streams_whole_characters)
{
    jc_err err = {{0}};
    tok_vocab *v = spm_vocab(true, &err);
    REQUIRE(v);
    int32_t ids[64];
    int n = enc(v,
                "a\xf0\x9f\xa6\x99"
                "b",
                true, false, ids, 64); /* a🦙b */
    REQUIRE(n == 7);                   /* BOS ▁a <0xF0> <0x9F> <0xA6> <0x99> b */
    tok_detok d;
    tok_detok_init(&d, v, TOK_DETOK_STRIP_FIRST);
    size_t cap = tok_detok_bufsize(v);
    char *buf = malloc(cap);
    int got[8];
    char all[64];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        got[i] = tok_detok_feed(&d, ids[i], buf, cap);
        REQUIRE(got[i] >= 0);
        memcpy(all + len, buf, (size_t)got[i]);
        len += (size_t)got[i];
    }
    CHECK_EQ_INT(got[0], 0); /* BOS renders nothing */
    CHECK_EQ_INT(got[1], 1); /* "a": its leading space dropped */
    CHECK(got[2] == 0 && got[3] == 0 && got[4] == 0);
    CHECK_EQ_INT(got[5], 4);
    CHECK_EQ_INT(tok_detok_flush(&d, buf, cap), 0);
    all[len] = 0;
    CHECK_STR(all, "a\xf0\x9f\xa6\x99"
                   "b");
    /* a broken sequence becomes U+FFFD, never a stray byte */
    tok_detok_init(&d, v, 0);
    CHECK_EQ_INT(tok_detok_feed(&d, 3 + 0xf0, buf, cap), 0);
    int k = tok_detok_feed(&d, 3 + 'A', buf, cap);
    CHECK(k == 4 && !memcmp(buf,
                            "\xef\xbf\xbd"
                            "A",
                            4));
    CHECK_EQ_INT(tok_detok_feed(&d, 3 + 0xe2, buf, cap), 0);
    CHECK_EQ_INT(tok_detok_flush(&d, buf, cap), 3);
    CHECK_EQ_INT(tok_detok_feed(&d, -1, buf, cap), -1);
    CHECK_EQ_INT(tok_detok_feed(&d, 263, buf, 2), -1); /* too small a buffer */
    /* control tokens render only on request */
    tok_detok_init(&d, v, TOK_DETOK_SPECIAL);
    k = tok_detok_feed(&d, 266, buf, cap);
    CHECK(k == 10 && !memcmp(buf, "<|im_end|>", 10));
    free(buf);
    /* tok_decode: the whole sequence */
    jc_buf out;
    jc_buf_init(&out, 1 << 20);
    CHECK(tok_decode(v, ids, (size_t)n, TOK_DETOK_STRIP_FIRST, &out, &err) == 0);
    CHECK_STR(out.data, "a\xf0\x9f\xa6\x99"
                        "b");
    jc_buf_free(&out);
    tok_free(v);
}

/* byte-level BPE decodes back to the original bytes */
TEST(bpe_round_trip)
{
    jc_err err = {{0}};
    tok_vocab *v = bpe_vocab("llama-bpe", &err);
    REQUIRE(v);
    static const char *const texts[] = {"hello world\n\n  tabs\tand \xe2\x82\xac 12345",
                                        "\xf0\x9f\xa6\x99 emoji \xe4\xb8\xad\xe6\x96\x87", "", " ", "'s 'LL"};
    for (size_t i = 0; i < JC_ARRAY_LEN(texts); i++) {
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(v, texts[i], strlen(texts[i]), false, false, &n, &err);
        REQUIRE(ids);
        jc_buf out;
        jc_buf_init(&out, 1 << 20);
        CHECK(tok_decode(v, ids, n, 0, &out, &err) == 0);
        CHECKF(out.len == strlen(texts[i]) && (out.len == 0 || !memcmp(out.data, texts[i], out.len)),
               "text %zu: got '%s'", i, out.len ? out.data : "");
        jc_buf_free(&out);
        free(ids);
    }
    tok_free(v);
}

/* every tokenizer.ggml.pre value the issue lists (and llama.cpp's aliases of them) loads: its regexes compile
 */
TEST(all_pre_tokenizers_compile)
{
    static const char *const names[] = {
        "default",    "llama3",     "llama-bpe",   "deepseek-llm", "deepseek-coder", "deepseek-v3",
        "falcon",     "falcon3",    "mpt",         "starcoder",    "gpt-2",          "phi-2",
        "refact",     "command-r",  "qwen2",       "qwen35",       "olmo",           "dbrx",
        "smaug-bpe",  "poro-chat",  "chatglm-bpe", "glm4",         "viking",         "jais",
        "tekken",     "smollm",     "codeshell",   "bloom",        "gpt3-finnish",   "exaone",
        "chameleon",  "minerva-7b", "megrez",      "gpt-4o",       "superbpe",       "trillion",
        "bailingmoe", "seed-coder", "stablelm2",   "kimi-k2",      "gemma4",         "llama4",
        "jais-2",     "exaone-moe", "laguna",      "minicpm5",     "hunyuan",        "grok-2"};
    for (size_t i = 0; i < JC_ARRAY_LEN(names); i++) {
        jc_err err = {{0}};
        tok_vocab *v = bpe_vocab(names[i], &err);
        CHECKF(v != NULL, "pre '%s': %s", names[i], err.msg);
        if (!v)
            continue;
        CHECK_STR(tok_pre_name(v), names[i]);
        /* and it splits text without error */
        static const char text[] =
            "Hello, World! It's 2024: 12345 \xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9\n\n  x";
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(v, text, sizeof text - 1, false, false, &n, &err);
        CHECKF(ids && n > 0, "pre '%s' encode: %s", names[i], err.msg);
        free(ids);
        tok_free(v);
    }
}

/* an unknown pre-tokenizer is an error that names it; so is a missing model key */
TEST(unknown_pre_is_an_error)
{
    jc_err err = {{0}};
    tok_vocab *v = bpe_vocab("no-such-pre", &err);
    CHECK(v == NULL);
    CHECKF(strstr(err.msg, "no-such-pre") && strstr(err.msg, "tokenizer.ggml.pre"), "message: %s", err.msg);
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.name", "x");
    v = vb_load(w, &err);
    gguf_writer_free(w);
    CHECK(v == NULL);
    CHECKF(strstr(err.msg, "tokenizer.ggml.model") != NULL, "message: %s", err.msg);
    tok_free(v);
}

typedef struct mt_job {
    const tok_vocab *v;
    const char *text;
    size_t len;
    const int32_t *want;
    size_t n_want;
    int mismatches;
} mt_job;

static void *mt_run(void *arg)
{
    mt_job *j = arg;
    for (int r = 0; r < 8; r++) {
        jc_err err = {{0}};
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(j->v, j->text, j->len, true, true, &n, &err);
        if (!ids || n != j->n_want || memcmp(ids, j->want, n * sizeof *ids) != 0)
            j->mismatches++;
        free(ids);
    }
    return NULL;
}

/* one vocabulary shared by four threads encoding at once gives each the same ids as one thread alone */
TEST(shared_between_threads)
{
    jc_err err = {{0}};
    tok_vocab *vs[2] = {bpe_vocab("llama-bpe", &err), spm_vocab(true, &err)};
    REQUIRE(vs[0] && vs[1]);
    char *text = repeat("hello world <|im_end|> ab abc\n\xf0\x9f\xa6\x99 ", 2000);
    size_t len = strlen(text);
    for (int k = 0; k < 2; k++) {
        size_t n = 0;
        int32_t *want = tok_encode_alloc(vs[k], text, len, true, true, &n, &err);
        REQUIRE(want);
        mt_job jobs[4];
        pthread_t th[4];
        for (int t = 0; t < 4; t++) {
            jobs[t] = (mt_job){vs[k], text, len, want, n, 0};
            CHECK(pthread_create(&th[t], NULL, mt_run, &jobs[t]) == 0);
        }
        for (int t = 0; t < 4; t++) {
            pthread_join(th[t], NULL);
            CHECK_EQ_INT(jobs[t].mismatches, 0);
        }
        free(want);
        tok_free(vs[k]);
    }
    free(text);
}

/* malformed tokenizer metadata is refused with a message naming the key */
TEST(bad_metadata_is_an_error)
{
    jc_err err = {{0}};
    char *huge = repeat("x", 70000);
    const char *toks[] = {"<unk>", "a", huge};
    float scores[2] = {0, 0};
    int32_t types[3] = {2, 1, 1};
    struct {
        int ntok, nscores;
        const char *key;
    } cases[] = {
        {3, -1, "tokenizer.ggml.tokens"}, {2, 1, "tokenizer.ggml.scores"}, {0, -1, "tokenizer.ggml.tokens"}};
    for (size_t i = 0; i < JC_ARRAY_LEN(cases); i++) {
        gguf_writer *w = gguf_writer_new(3);
        gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)cases[i].ntok);
        if (cases[i].nscores >= 0)
            gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores,
                                (uint64_t)cases[i].nscores);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 3);
        err.msg[0] = 0;
        tok_vocab *v = vb_load(w, &err);
        gguf_writer_free(w);
        CHECKF(v == NULL && strstr(err.msg, cases[i].key), "case %zu: %s", i, err.msg);
        tok_free(v);
    }
    /* token_type of the wrong element type */
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 2);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_FLOAT32, scores, 2);
    tok_vocab *v = vb_load(w, &err);
    gguf_writer_free(w);
    CHECKF(v == NULL && strstr(err.msg, "tokenizer.ggml.token_type"), "%s", err.msg);
    tok_free(v);
    free(huge);
}

/* the caller's array: too small reports the count needed */
TEST(encode_cap_and_needed)
{
    jc_err err = {{0}};
    tok_vocab *v = bpe_vocab("gpt-2", &err);
    REQUIRE(v);
    int32_t ids[2];
    size_t need = 0;
    CHECK_EQ_INT(tok_encode(v, "hell w hell", 11, false, false, ids, 2, &need, &err), -1);
    CHECK_EQ_INT(need, 4); /* hell, Ġw, Ġ, hell */
    CHECK_EQ_INT(tok_encode(v, "hell w", 6, false, false, ids, 2, &need, &err), 2);
    tok_free(v);
}

static char *repeat(const char *unit, size_t n_units)
{
    size_t l = strlen(unit);
    char *s = malloc(l * n_units + 1);
    for (size_t i = 0; i < n_units; i++)
        memcpy(s + i * l, unit, l);
    s[l * n_units] = 0;
    return s;
}

/* hostile input: invalid UTF-8, NUL bytes, 1 MB of one character — every tokenizer returns, in bounded time
 */
TEST(hostile_input)
{
    jc_err err = {{0}};
    tok_vocab *vs[3] = {spm_vocab(true, &err), bpe_vocab("llama-bpe", &err), wpm_vocab(&err)};
    REQUIRE(vs[0] && vs[1] && vs[2]);
    static const char bad[] =
        "\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82 a\0b\0\0<|im_end|\xf0\x9f";
    char *big_a = repeat("a", 1 << 20), *big_sp = repeat(" ", 1 << 20), *big_e = repeat("\xc3\xa9", 1 << 19);
    struct {
        const char *s;
        size_t n;
    } in[] = {{bad, sizeof bad - 1}, {big_a, 1 << 20}, {big_sp, 1 << 20}, {big_e, 1 << 20}};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < JC_ARRAY_LEN(in); i++) {
            double t0 = jc_now();
            size_t n = 0;
            int32_t *ids = tok_encode_alloc(vs[k], in[i].s, in[i].n, true, true, &n, &err);
            double dt = jc_now() - t0;
            CHECKF(ids != NULL, "vocab %d input %zu: %s", k, i, err.msg);
            CHECKF(dt < 20.0, "vocab %d input %zu took %.1f s", k, i, dt);
            for (size_t j = 0; ids && j < n; j++)
                CHECK(ids[j] >= 0 && ids[j] < tok_n_vocab(vs[k]));
            /* and what comes back is valid UTF-8 (jansson would refuse anything else) */
            jc_buf out;
            jc_buf_init(&out, (size_t)8 << 20);
            if (ids)
                CHECK(tok_decode(vs[k], ids, n, 0, &out, &err) == 0);
            size_t bad_at = 0;
            for (size_t p = 0; p < out.len;) {
                unsigned char c = (unsigned char)out.data[p];
                size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
                if (!l || p + l > out.len) {
                    bad_at = p + 1;
                    break;
                }
                p += l;
            }
            CHECKF(bad_at == 0, "vocab %d input %zu: invalid UTF-8 out at %zu", k, i, bad_at - 1);
            jc_buf_free(&out);
            free(ids);
        }
        tok_free(vs[k]);
    }
    free(big_a);
    free(big_sp);
    free(big_e);
}

/* pre-tokenizers whose regexes need deep backtracking state still handle a 1 MB word (windowed matching) */
TEST(regex_limits_on_long_words)
{
    static const char *const names[] = {"kimi-k2", "exaone-moe"};
    char *a = repeat("a", 1 << 20);
    for (size_t i = 0; i < JC_ARRAY_LEN(names); i++) {
        jc_err err = {{0}};
        tok_vocab *v = bpe_vocab(names[i], &err);
        REQUIRE(v);
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(v, a, 1 << 20, false, false, &n, &err);
        CHECKF(ids != NULL, "%s: %s", names[i], err.msg);
        if (ids) {
            jc_buf out;
            jc_buf_init(&out, 2 << 20);
            CHECK(tok_decode(v, ids, n, 0, &out, &err) == 0);
            CHECKF(out.len == (1 << 20) && !memcmp(out.data, a, out.len), "%s: round trip", names[i]);
            jc_buf_free(&out);
        }
        free(ids);
        tok_free(v);
    }
    free(a);
}

TESTS(T(spm_merges_by_score_and_byte_fallback), T(special_tokens_parse), T(eog_ids), T(bpe_merges),
      T(wpm_basic), T(detok_streams_whole_characters), T(bpe_round_trip), T(all_pre_tokenizers_compile),
      T(unknown_pre_is_an_error), T(encode_cap_and_needed), T(hostile_input), T(regex_limits_on_long_words),
      T(bad_metadata_is_an_error), T(shared_between_threads));
TEST_MAIN()
