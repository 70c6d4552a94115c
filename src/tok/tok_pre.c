/*
 * tok_pre.c — byte-level BPE pre-tokenizers: the tokenizer.ggml.pre value
 * names a list of regexes (the Split pre-tokenizers of the model's
 * tokenizer.json, as llama.cpp's llm_tokenizer_bpe lists them); each regex
 * splits every piece the previous one left, keeping both the matches and the
 * text between them (llama.cpp's unicode_regex_split). The patterns run as
 * written on PCRE2 with JIT (PCRE2_UTF | PCRE2_UCP), so \p{L}, \p{N}, (?i:...),
 * possessive quantifiers and look-ahead mean what Hugging Face's tokenizers
 * mean by them; where llama.cpp rewrote a pattern for std::regex, the original
 * from tokenizer.json is used here. Each regex is compiled once per vocabulary;
 * matching uses per-call match data, so a vocabulary can be shared.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tok/tok_int.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRE_MAX_RE 8

struct tok_pre {
    int n_re;
    pcre2_code *re[PRE_MAX_RE];
};

/* ---- the patterns ---- */

#define CONTRACTIONS "(?i:'s|'t|'re|'ve|'m|'ll|'d)"

/* GPT-2 */
static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Llama 3 (also chatglm-bpe/glm4, dbrx, smaug-bpe) */
static const char RE_LLAMA3[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                 "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* Qwen2 (also stablelm2, megrez, hunyuan, grok-2, ...) */
static const char RE_QWEN2[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                 "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN35[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|"
                 "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_JAIS2[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                 "\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|"
                 "\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}";
static const char RE_SEED_CODER[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
                 "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_BAILING[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|"
    "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
static const char RE_EXAONE_MOE[] =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}|"
                 " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
#define UPPERS "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define LOWERS "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
static const char RE_TEKKEN[] =
    "[^\\r\\n\\p{L}\\p{N}]?" UPPERS "*" LOWERS "+|[^\\r\\n\\p{L}\\p{N}]?" UPPERS "+" LOWERS "*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_GPT4O[] =
    "[^\\r\\n\\p{L}\\p{N}]?" UPPERS "*" LOWERS "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" UPPERS "+" LOWERS
    "*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
/* Kimi K2 (tokenization_kimi.py); PCRE2 has no class intersection, so X&&[^\p{Han}] is (?:(?!\p{Han})X) */
#define KU "(?:(?!\\p{Han})[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}])"
#define KL "(?:(?!\\p{Han})[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}])"
static const char RE_KIMI[] =
    "\\p{Han}+|[^\\r\\n\\p{L}\\p{N}]?" KU "*" KL "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" KU "+" KL
    "*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_PORO[] = " ?[^(\\s|.,!?…。，、।۔،)]+";
static const char RE_DS3_MAIN[] =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_CJK_DS[] = "[一-龥ࠀ-一가-퟿]+";
static const char RE_DSLLM_LETTERS[] =
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-"
    "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}"
    "\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}"
    "\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}"
    "\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"
    "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}"
    "\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}"
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}"
    "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-"
    "\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"
    "\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}"
    "\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-"
    "\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+";

/* ---- the table: pre-tokenizer kinds, their regexes and options ---- */

typedef struct pre_kind {
    const char *re[PRE_MAX_RE]; /* NULL-terminated */
    bool ignore_merges, add_bos, no_bos, escape_ws, raw_bytes;
} pre_kind;

enum {
    PK_DEFAULT,
    PK_LLAMA3,
    PK_DEEPSEEK_LLM,
    PK_DEEPSEEK_CODER,
    PK_DEEPSEEK3,
    PK_FALCON,
    PK_STARCODER,
    PK_GPT2,
    PK_QWEN2,
    PK_QWEN35,
    PK_PORO,
    PK_CHATGLM4,
    PK_VIKING,
    PK_TEKKEN,
    PK_CHAMELEON,
    PK_GPT4O,
    PK_SUPERBPE,
    PK_BAILING,
    PK_SEED_CODER,
    PK_KIMI,
    PK_GEMMA4,
    PK_JAIS2,
    PK_EXAONE_MOE,
    PK_LAGUNA,
    PK_MINICPM5,
    PK_COUNT
};

static const pre_kind kinds[PK_COUNT] = {
    [PK_DEFAULT] = {.re = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    [PK_LLAMA3] = {.re = {RE_LLAMA3}, .ignore_merges = true, .add_bos = true},
    [PK_DEEPSEEK_LLM] = {.re = {"[\\r\\n]", RE_DSLLM_LETTERS, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$",
                                RE_CJK_DS, "\\p{N}+"}},
    [PK_DEEPSEEK_CODER] = {.re = {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_DS, "\\p{N}"}},
    [PK_DEEPSEEK3] = {.re = {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", RE_DS3_MAIN}},
    [PK_FALCON] = {.re = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    [PK_STARCODER] = {.re = {"\\p{N}", RE_GPT2}},
    [PK_GPT2] = {.re = {RE_GPT2}},
    [PK_QWEN2] = {.re = {RE_QWEN2}},
    [PK_QWEN35] = {.re = {RE_QWEN35}},
    [PK_PORO] = {.re = {RE_PORO}},
    [PK_CHATGLM4] = {.re = {RE_LLAMA3}, .no_bos = true},
    [PK_VIKING] = {.re = {RE_PORO, "\\p{N}"}},
    [PK_TEKKEN] = {.re = {RE_TEKKEN}, .ignore_merges = true, .add_bos = true},
    [PK_CHAMELEON] = {.re = {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
                             "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2},
                      .add_bos = true},
    [PK_GPT4O] = {.re = {RE_GPT4O}},
    [PK_SUPERBPE] = {.re = {"\\p{N}+", "(?=(\\d{3})+(?!\\d))"}},
    [PK_BAILING] = {.re = {RE_BAILING}},
    [PK_SEED_CODER] = {.re = {RE_SEED_CODER}},
    [PK_KIMI] = {.re = {RE_KIMI}},
    [PK_GEMMA4] = {.re = {"[^\\n]+|[\\n]+"}, .escape_ws = true, .raw_bytes = true},
    [PK_JAIS2] = {.re = {RE_JAIS2}},
    [PK_EXAONE_MOE] = {.re = {RE_EXAONE_MOE}},
    [PK_LAGUNA] = {.re = {"[^\\n]+|[\\n]+", RE_QWEN2}},
    [PK_MINICPM5] = {.re = {"\\p{N}{1,3}", CONTRACTIONS
                            "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                            "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
                     .ignore_merges = true},
};

/* tokenizer.ggml.pre values (as llama.cpp's vocab loader knows them) → kind */
static const struct {
    const char *name;
    int kind;
} pre_names[] = {
    {"default", PK_DEFAULT},
    {"llama3", PK_LLAMA3},
    {"llama-v3", PK_LLAMA3},
    {"llama-bpe", PK_LLAMA3},
    {"falcon3", PK_LLAMA3},
    {"falcon-h1", PK_LLAMA3},
    {"pixtral", PK_LLAMA3},
    {"midm-2.0", PK_LLAMA3},
    {"lfm2", PK_LLAMA3},
    {"jina-v5-nano", PK_LLAMA3},
    {"deepseek-llm", PK_DEEPSEEK_LLM},
    {"deepseek-coder", PK_DEEPSEEK_CODER},
    {"deepseek-v3", PK_DEEPSEEK3},
    {"hunyuan-dense", PK_DEEPSEEK3},
    {"joyai-llm", PK_DEEPSEEK3},
    {"hy_v4", PK_DEEPSEEK3},
    {"falcon", PK_FALCON},
    {"mpt", PK_GPT2},
    {"gpt-2", PK_GPT2},
    {"phi-2", PK_GPT2},
    {"jina-es", PK_GPT2},
    {"jina-de", PK_GPT2},
    {"gigachat", PK_GPT2},
    {"jina-v2-es", PK_GPT2},
    {"jina-v2-de", PK_GPT2},
    {"a.x-4.0", PK_GPT2},
    {"mellum", PK_GPT2},
    {"modern-bert", PK_GPT2},
    {"jina-v1-en", PK_GPT2},
    {"jina-v2-code", PK_GPT2},
    {"roberta-bpe", PK_GPT2},
    {"olmo", PK_GPT2},
    {"jais", PK_GPT2},
    {"trillion", PK_GPT2},
    {"granite-docling", PK_GPT2},
    {"exaone4", PK_GPT2},
    {"starcoder", PK_STARCODER},
    {"refact", PK_STARCODER},
    {"command-r", PK_STARCODER},
    {"smollm", PK_STARCODER},
    {"codeshell", PK_STARCODER},
    {"exaone", PK_STARCODER},
    {"minerva-7b", PK_STARCODER},
    {"mellum2", PK_STARCODER},
    {"qwen2", PK_QWEN2},
    {"deepseek-r1-qwen", PK_QWEN2},
    {"kormo", PK_QWEN2},
    {"f2llmv2", PK_QWEN2},
    {"stablelm2", PK_QWEN2},
    {"megrez", PK_QWEN2},
    {"hunyuan", PK_QWEN2},
    {"solar-open", PK_QWEN2},
    {"grok-2", PK_QWEN2},
    {"qwen35", PK_QWEN35},
    {"dbrx", PK_LLAMA3 + PK_COUNT},
    {"smaug-bpe", PK_LLAMA3 + PK_COUNT}, /* llama3 regex, no llama3 options */
    {"poro-chat", PK_PORO},
    {"bloom", PK_PORO},
    {"gpt3-finnish", PK_PORO},
    {"chatglm-bpe", PK_CHATGLM4},
    {"glm4", PK_CHATGLM4},
    {"viking", PK_VIKING},
    {"tekken", PK_TEKKEN},
    {"chameleon", PK_CHAMELEON},
    {"gpt-4o", PK_GPT4O},
    {"llama4", PK_GPT4O},
    {"kanana2", PK_GPT4O},
    {"talkie", PK_GPT4O},
    {"minimax-m2", PK_GPT4O},
    {"superbpe", PK_SUPERBPE},
    {"bailingmoe", PK_BAILING},
    {"bailingmoe2", PK_BAILING},
    {"llada-moe", PK_BAILING},
    {"seed-coder", PK_SEED_CODER},
    {"kimi-k2", PK_KIMI},
    {"gemma4", PK_GEMMA4},
    {"granite-embed-multi-311m", PK_GEMMA4},
    {"jais-2", PK_JAIS2},
    {"exaone-moe", PK_EXAONE_MOE},
    {"laguna", PK_LAGUNA},
    {"minicpm5", PK_MINICPM5},
};

int tok_pre_init(tok_vocab *v, const char *name, jc_err *err)
{
    if (!name || !*name)
        name = "default";
    int kind = -1;
    for (size_t i = 0; i < JC_ARRAY_LEN(pre_names); i++)
        if (!strcmp(pre_names[i].name, name)) {
            kind = pre_names[i].kind;
            break;
        }
    if (kind < 0)
        return jc_errf(err, "tokenizer.ggml.pre: unknown pre-tokenizer '%s'", name);
    bool plain = kind >= PK_COUNT; /* the regex of a kind without its options */
    if (plain)
        kind -= PK_COUNT;
    const pre_kind *k = &kinds[kind];
    if (!plain) {
        v->ignore_merges = k->ignore_merges;
        if (k->add_bos)
            v->add_bos = true;
        if (k->no_bos)
            v->bos = -1;
        v->escape_ws = k->escape_ws;
    }
    v->byte_encode = !k->raw_bytes;

    tok_pre *p = jc_xcalloc(1, sizeof *p);
    v->pre = p;
    for (int i = 0; i < PRE_MAX_RE && k->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)k->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return jc_errf(err, "tokenizer.ggml.pre '%s': regex %d does not compile at %zu: %s", name, i,
                           (size_t)eo, (const char *)msg);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT, pcre2_match interprets */
        p->re[p->n_re++] = re;
    }
    return 0;
}

void tok_pre_free(tok_pre *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_re; i++)
        pcre2_code_free(p->re[i]);
    free(p);
}

/* ---- splitting ---- */

typedef struct span {
    size_t off, len;
} span;

typedef struct span_list {
    span *a;
    size_t n, cap;
} span_list;

static int span_push(span_list *l, size_t off, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        span *a = realloc(l->a, nc * sizeof *a);
        if (!a)
            return -1;
        l->a = a;
        l->cap = nc;
    }
    l->a[l->n++] = (span){off, len};
    return 0;
}

/* Resource limits (not malformed patterns): a pathological word, e.g. 1 MB of letters. */
static bool is_limit_error(int rc)
{
    return rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
           rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_NOMEMORY;
}

#define PRE_WINDOW 4096 /* bytes matched at a time when a whole piece exceeds the regex limits */

/*
 * Splits s[off, off+len) by re into out: matches and the gaps between them.
 * When matching the whole piece hits a resource limit, the rest of the piece
 * is matched in windows of PRE_WINDOW bytes (cut at character boundaries):
 * words longer than that are then cut, which only happens on degenerate input.
 */
static int split_one(const pcre2_code *re, const char *s, size_t off, size_t len, pcre2_match_data *md,
                     pcre2_match_context *mc, span_list *out, bool windowed, jc_err *err)
{
    PCRE2_SPTR subj = (PCRE2_SPTR)(s + off);
    size_t pos = 0, last = 0;
    while (pos <= len) {
        int rc = pcre2_match(re, subj, len, pos, PCRE2_NO_UTF_CHECK, md, mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0 && is_limit_error(rc) && !windowed) {
            if (last < pos && span_push(out, off + last, pos - last) < 0)
                goto oom;
            while (pos < len) { /* the rest, window by window */
                size_t e = pos + PRE_WINDOW < len ? pos + PRE_WINDOW : len;
                while (e < len && ((uint8_t)s[off + e] & 0xc0) == 0x80)
                    e++;
                if (split_one(re, s, off + pos, e - pos, md, mc, out, true, err) < 0)
                    return -1;
                pos = e;
            }
            return 0;
        }
        if (rc < 0 && is_limit_error(rc)) { /* even a window is too much: keep it whole */
            if (span_push(out, off + last, len - last) < 0)
                goto oom;
            return 0;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return jc_errf(err, "tokenize: pre-tokenizer regex failed at byte %zu: %s", off + pos,
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > last && span_push(out, off + last, ms - last) < 0)
            goto oom;
        if (me > ms && span_push(out, off + ms, me - ms) < 0)
            goto oom;
        last = me > last ? me : last;
        if (me == ms) { /* an empty match splits here; step over one character */
            if (me >= len)
                break;
            pos = me + tok_utf8_len((uint8_t)s[off + me]);
        } else {
            pos = me;
        }
    }
    if (last < len && span_push(out, off + last, len - last) < 0)
        goto oom;
    return 0;
oom:
    return jc_errf(err, "tokenize: out of memory");
}

int tok_pre_split(const tok_pre *p, const char *s, size_t n, tok_word_fn fn, void *ctx, jc_err *err)
{
    if (n == 0)
        return 0;
    int rc = -1;
    span_list cur = {0}, next = {0};
    pcre2_match_data *md = NULL;
    pcre2_match_context *mc = NULL;
    pcre2_jit_stack *js = NULL;
    if (span_push(&cur, 0, n) < 0)
        goto oom;
    md = pcre2_match_data_create(4, NULL);
    mc = pcre2_match_context_create(NULL);
    js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!md || !mc || !js)
        goto oom;
    pcre2_jit_stack_assign(mc, NULL, js);
    for (int r = 0; r < p->n_re; r++) {
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++)
            if (split_one(p->re[r], s, cur.a[i].off, cur.a[i].len, md, mc, &next, false, err) < 0)
                goto out;
        span_list t = cur;
        cur = next;
        next = t;
    }
    for (size_t i = 0; i < cur.n; i++)
        if (fn(ctx, cur.a[i].off, cur.a[i].len) < 0)
            goto out;
    rc = 0;
    goto out;
oom:
    jc_errf(err, "tokenize: out of memory");
out:
    free(cur.a);
    free(next.a);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(js);
    return rc;
}
