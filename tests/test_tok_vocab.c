/*
 * test_tok_vocab.c — the tokenizers on the real vocabularies in
 * ../shared/testdata/vocab (skipped, exit 77, without them): encoding the
 * .inp test strings gives the .out ids (the same check as e2e_tokenizer.sh,
 * here in-process and through the detokenizer too), decode(encode(x)) == x on
 * those strings for the BPE and SPM vocabularies, Llama 3's special tokens
 * (BOS on add_special, <|eot_id|> parsed, end-of-generation set), streaming
 * detokenization of emoji never yielding half a character, and hostile input
 * on real vocabularies.
 */
#include "base/fs.h"
#include "harness.h"
#include "tok/tok.h"

static const char *dir(void)
{
    static char path[4200];
    const char *s = test_shared();
    if (!s)
        exit(77);
    snprintf(path, sizeof path, "%s/vocab", s);
    return path;
}

static tok_vocab *load(const char *name)
{
    char path[4400];
    jc_err err = {{0}};
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir(), name);
    tok_vocab *v = tok_load_path(path, &err);
    if (!v)
        fprintf(stderr, "  %s\n", err.msg);
    return v;
}

/* Collapses the whitespace of an .out line in place ("  1  2 " → "1 2"), as the checker's split() does. */
static void squeeze(char *s)
{
    char *o = s;
    bool gap = false;
    for (char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            gap = o != s;
            continue;
        }
        if (gap)
            *o++ = ' ';
        gap = false;
        *o++ = *p;
    }
    *o = 0;
}

/* Reads NAME.gguf.inp split at "\n__ggml_vocab_test__\n" and the .out lines. */
typedef struct cases {
    char *inp, *out;
    const char *text[128];
    size_t len[128];
    const char *ids[128];
    int n;
} cases;

static bool read_cases(const char *name, cases *c)
{
    char path[4400];
    jc_err err = {{0}};
    size_t n_inp = 0, n_out = 0;
    memset(c, 0, sizeof *c);
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf.inp", dir(), name);
    c->inp = jc_read_file(path, 1 << 22, &n_inp, &err);
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf.out", dir(), name);
    c->out = jc_read_file(path, 1 << 22, &n_out, &err);
    if (!c->inp || !c->out)
        return false;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const char *p = c->inp, *end = c->inp + n_inp;
    while (p < end && c->n < 128) {
        const char *q = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
        c->text[c->n] = p;
        c->len[c->n] = q ? (size_t)(q - p) : (size_t)(end - p);
        c->n++;
        p = q ? q + sizeof sep - 1 : end;
    }
    char *line = c->out;
    for (int i = 0; i < c->n; i++) {
        c->ids[i] = line;
        char *nl = line ? strchr(line, '\n') : NULL;
        if (nl)
            *nl = 0;
        if (line)
            squeeze(line);
        line = nl ? nl + 1 : NULL;
    }
    return true;
}

static void free_cases(cases *c)
{
    free(c->inp);
    free(c->out);
}

/* every vocabulary with test vectors: ids match, and (not for WordPiece) decoding gives the text back */
TEST(vectors_and_round_trip)
{
    static const char *const names[] = {"llama-spm", "llama-bpe",      "phi-3",        "gpt-2",
                                        "falcon",    "deepseek-coder", "deepseek-llm", "starcoder",
                                        "mpt",       "bert-bge",       "refact"};
    for (size_t k = 0; k < JC_ARRAY_LEN(names); k++) {
        tok_vocab *v = load(names[k]);
        cases c;
        CHECKF(v && read_cases(names[k], &c), "%s", names[k]);
        if (!v) {
            continue;
        }
        int pass = 0, rt = 0, rt_n = 0;
        for (int i = 0; i < c.n; i++) {
            jc_err err = {{0}};
            size_t n = 0;
            int32_t *ids = tok_encode_alloc(v, c.text[i], c.len[i], false, false, &n, &err);
            CHECKF(ids != NULL, "%s case %d: %s", names[k], i, err.msg);
            if (!ids)
                continue;
            jc_buf b;
            jc_buf_init(&b, 1 << 20);
            for (size_t j = 0; j < n; j++)
                jc_buf_printf(&b, j ? " %d" : "%d", (int)ids[j]);
            bool same = !strcmp(b.len ? b.data : "", c.ids[i] ? c.ids[i] : "");
            CHECKF(same, "%s case %d: got '%s' want '%s'", names[k], i, b.len ? b.data : "", c.ids[i]);
            pass += same;
            jc_buf_free(&b);
            if (tok_model_kind(v) != TOK_MODEL_WPM) {
                jc_buf out;
                jc_buf_init(&out, 1 << 20);
                CHECK(tok_decode(v, ids, n, TOK_DETOK_STRIP_FIRST, &out, &err) == 0);
                bool ok = out.len == c.len[i] && (out.len == 0 || !memcmp(out.data, c.text[i], out.len));
                CHECKF(ok, "%s case %d: decode(encode(x)) != x: '%s'", names[k], i, out.len ? out.data : "");
                rt += ok;
                rt_n++;
                jc_buf_free(&out);
            }
            free(ids);
        }
        fprintf(stderr, "  %-15s %d/%d ids, %d/%d round trips\n", names[k], pass, c.n, rt, rt_n);
        free_cases(&c);
        tok_free(v);
    }
}

/* Llama 3: BOS added, special text parsed, EOG ids as llama.cpp lists them */
TEST(llama3_specials)
{
    tok_vocab *v = load("llama-bpe");
    REQUIRE(v);
    jc_err err = {{0}};
    static const char t[] = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    int32_t ids[32];
    size_t need = 0;
    int n = tok_encode(v, t, sizeof t - 1, true, true, ids, 32, &need, &err);
    const int32_t want[] = {128000, 128006, 882, 128007, 271, 13347, 128009};
    CHECK_EQ_INT(n, (int)JC_ARRAY_LEN(want));
    for (int i = 0; n == (int)JC_ARRAY_LEN(want) && i < n; i++)
        CHECK_EQ_INT(ids[i], want[i]);
    CHECK_EQ_INT(tok_bos(v), 128000);
    CHECK_EQ_INT(tok_eos(v), 128009);
    CHECK(tok_is_eog(v, 128009) && tok_is_eog(v, 128001) &&
          tok_is_eog(v, 128008)); /* eot, end_of_text, eom */
    CHECK(!tok_is_eog(v, 128000) && !tok_is_eog(v, 128006) && !tok_is_eog(v, 882));
    CHECK(tok_add_bos(v) && !tok_add_eos(v));
    CHECK_EQ_INT(tok_nl(v), 198);
    size_t l = 0;
    const char *s = tok_text(v, 128009, &l);
    CHECK(l == 10 && !memcmp(s, "<|eot_id|>", 10));
    CHECK_EQ_INT(tok_find(v, "<|eot_id|>", 10), 128009);
    /* without parse_special the same text is ordinary text */
    n = tok_encode(v, "<|eot_id|>", 10, false, false, ids, 32, &need, &err);
    CHECK(n > 1);
    tok_free(v);
}

/* streaming: feeding emoji tokens one by one never yields a partial character, and the pieces add up */
TEST(streaming_emoji)
{
    static const char *const names[] = {"llama-spm", "llama-bpe", "gpt-2", "phi-3"};
    static const char text[] = "Hi \xf0\x9f\xa6\x99\xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f "
                               "\xe1\xbb\xad \xe4\xb8\xad\xe6\x96\x87!";
    for (size_t k = 0; k < JC_ARRAY_LEN(names); k++) {
        tok_vocab *v = load(names[k]);
        CHECK(v != NULL);
        if (!v)
            continue;
        jc_err err = {{0}};
        size_t n = 0;
        int32_t *ids = tok_encode_alloc(v, text, sizeof text - 1, false, false, &n, &err);
        REQUIRE(ids);
        tok_detok d;
        tok_detok_init(&d, v, TOK_DETOK_STRIP_FIRST);
        size_t cap = tok_detok_bufsize(v);
        char *buf = malloc(cap), all[256];
        size_t len = 0;
        int held = 0;
        for (size_t i = 0; i < n; i++) {
            int m = tok_detok_feed(&d, ids[i], buf, cap);
            REQUIRE(m >= 0 && len + (size_t)m < sizeof all);
            held += m == 0;
            /* each chunk is whole characters: no lead byte without its continuation bytes */
            for (int p = 0; p < m;) {
                unsigned char c = (unsigned char)buf[p];
                int cl = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                CHECKF(p + cl <= m, "%s: token %zu cuts a character", names[k], i);
                p += cl;
            }
            memcpy(all + len, buf, (size_t)m);
            len += (size_t)m;
        }
        CHECK_EQ_INT(tok_detok_flush(&d, buf, cap), 0);
        CHECKF(len == sizeof text - 1 && !memcmp(all, text, len), "%s: streamed text differs", names[k]);
        CHECKF(held > 0, "%s: no token was held back, so the emoji were not split", names[k]);
        free(buf);
        free(ids);
        tok_free(v);
    }
}

/* hostile input on real vocabularies: no crash, ids in range, bounded time */
TEST(hostile_real)
{
    static const char *const names[] = {"llama-spm", "llama-bpe", "bert-bge", "deepseek-llm"};
    size_t big = 256 * 1024;
    char *a = malloc(big), *mix = malloc(big);
    memset(a, 'a', big);
    for (size_t i = 0; i < big; i++)
        mix[i] = (char)((i * 2654435761u) >> 13); /* bytes of every value, NULs included */
    for (size_t k = 0; k < JC_ARRAY_LEN(names); k++) {
        tok_vocab *v = load(names[k]);
        CHECK(v != NULL);
        if (!v)
            continue;
        const char *in[] = {a, mix};
        for (int i = 0; i < 2; i++) {
            jc_err err = {{0}};
            size_t n = 0;
            double t0 = jc_now();
            int32_t *ids = tok_encode_alloc(v, in[i], big, true, true, &n, &err);
            double dt = jc_now() - t0;
            CHECKF(ids != NULL, "%s input %d: %s", names[k], i, err.msg);
            CHECKF(dt < 20, "%s input %d: %.1f s", names[k], i, dt);
            for (size_t j = 0; ids && j < n; j++)
                if (ids[j] < 0 || ids[j] >= tok_n_vocab(v)) {
                    CHECKF(false, "%s input %d: id %d out of range", names[k], i, (int)ids[j]);
                    break;
                }
            free(ids);
        }
        tok_free(v);
    }
    free(a);
    free(mix);
}

TESTS(T(vectors_and_round_trip), T(llama3_specials), T(streaming_emoji), T(hostile_real));
TEST_MAIN()
