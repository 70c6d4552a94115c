/*
 * tok.c — loading a tokenizer from a GGUF file's tokenizer.ggml.* keys: the
 * tokens and their types and scores, the text→id and merge tables, the
 * special-token rules (defaults per model, add_bos/add_eos, end-of-generation
 * tokens), and the accessors of tok.h. Encoding is in tok_encode.c.
 *
 * The rules follow llama.cpp's llama_vocab::impl::load, so ids match what
 * llama.cpp (and the model's Hugging Face tokenizer, on which the test
 * vectors in ../shared/testdata/vocab were made) produce.
 */
#include "tok/tok_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ---- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t c = 16;
    while (c < n && c < (1u << 30))
        c <<= 1;
    return c;
}

static int build_text_table(tok_vocab *v, jc_err *err)
{
    v->h_mask = pow2_at_least((uint64_t)v->n * 2) - 1;
    v->h = jc_try_malloc(((size_t)v->h_mask + 1) * sizeof *v->h, err);
    if (!v->h)
        return -1;
    memset(v->h, 0xff, ((size_t)v->h_mask + 1) * sizeof *v->h);
    /* hashes first, so each slot can be prefetched a few tokens ahead */
    uint32_t *hs = jc_try_malloc((size_t)v->n * sizeof *hs, err);
    if (!hs)
        return -1;
    for (int32_t id = 0; id < v->n; id++)
        hs[id] = tok_hash(v->text_pool + v->tok_off[id], v->tok_off[id + 1] - v->tok_off[id]);
    enum { AHEAD = 16 };
    for (int32_t id = 0; id < v->n; id++) {
        if (id + AHEAD < v->n)
            __builtin_prefetch(&v->h[hs[id + AHEAD] & v->h_mask], 1);
        size_t l;
        const char *t = tok_str(v, id, &l);
        uint32_t h = hs[id];
        uint32_t i = h & v->h_mask;
        bool dup = false;
        for (; v->h[i].id >= 0; i = (i + 1) & v->h_mask) {
            if (v->h[i].hash == h && v->h[i].len == l && memcmp(v->text_pool + v->h[i].off, t, l) == 0) {
                dup = true; /* keep the first id, as a lookup would find it */
                break;
            }
        }
        if (dup)
            continue;
        v->h[i] = (tok_hslot){h, id, v->tok_off[id], (uint32_t)l};
    }
    free(hs);
    return 0;
}

static int load_merges(tok_vocab *v, const gguf_file *f, jc_err *err)
{
    const gguf_value *mv = gguf_get(f, "tokenizer.ggml.merges");
    if (!mv)
        return 0; /* caller decides whether merges are required */
    if (mv->type != GGUF_VT_ARRAY || mv->arr.type != GGUF_VT_STRING)
        return jc_errf(err, "tokenizer.ggml.merges: expected an array of strings, got %s",
                       gguf_vtype_name(mv->type));
    if (mv->arr.n > ((uint64_t)1 << 26))
        return jc_errf(err, "tokenizer.ggml.merges: %" PRIu64 " entries is too many (max 67108864)",
                       mv->arr.n);
    v->m_mask = pow2_at_least(mv->arr.n + mv->arr.n / 2 + 2) - 1;
    v->m = jc_try_malloc(((size_t)v->m_mask + 1) * sizeof *v->m, err);
    if (!v->m)
        return -1;
    memset(v->m, 0, ((size_t)v->m_mask + 1) * sizeof *v->m); /* touch once: no zero-page read then copy */
    /*
     * Three passes so that the random accesses of one can be prefetched a few
     * merges ahead: (1) split each "left right" entry and hash both sides and
     * their concatenation, (2) resolve the three token ids, (3) insert.
     */
    size_t nm = (size_t)mv->arr.n;
    enum { BLOCK = 4096, AHEAD = 8 };
    /* per block of merges, so the scratch stays small and in cache */
    uint32_t *hh = jc_xmalloc(BLOCK * 3 * sizeof *hh);
    uint64_t *keys = jc_xmalloc(BLOCK * sizeof *keys);
    int32_t *res = jc_xmalloc(BLOCK * sizeof *res);
    size_t *split = jc_xmalloc(BLOCK * sizeof *split); /* length of the left part */
    char *buf = NULL;
    size_t bufcap = 0;
    int rc = -1;
    for (size_t base = 0; base < nm; base += BLOCK) {
        size_t nb = nm - base < BLOCK ? nm - base : BLOCK;
        for (size_t r = 0; r < nb; r++) {
            gguf_str s = gguf_arr_str(mv, base + r);
            const char *sp = s.len >= 3 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
            keys[r] = 0;
            if (!sp)
                continue; /* split at the first space after the first byte, as llama.cpp does */
            size_t la = (size_t)(sp - s.ptr), lb = s.len - la - 1;
            if (la + lb > TOK_MAX_TOKEN_LEN)
                continue; /* longer than any token */
            if (la + lb > bufcap) {
                bufcap = (la + lb) * 2;
                buf = jc_xrealloc(buf, bufcap);
            }
            memcpy(buf, s.ptr, la);
            memcpy(buf + la, sp + 1, lb);
            hh[3 * r] = tok_hash(s.ptr, la);
            hh[3 * r + 1] = tok_hash(sp + 1, lb);
            hh[3 * r + 2] = tok_hash(buf, la + lb);
            split[r] = la;
            keys[r] = 1;
        }
        for (size_t r = 0; r < nb; r++) {
            /* two-stage prefetch: the slots 2*AHEAD ahead, the texts they point to AHEAD ahead */
            if (r + 2 * AHEAD < nb && keys[r + 2 * AHEAD]) {
                for (int k = 0; k < 3; k++)
                    __builtin_prefetch(&v->h[hh[3 * (r + 2 * AHEAD) + k] & v->h_mask]);
            }
            if (r + AHEAD < nb && keys[r + AHEAD]) {
                for (int k = 0; k < 3; k++) {
                    const tok_hslot *e = &v->h[hh[3 * (r + AHEAD) + k] & v->h_mask];
                    if (e->id >= 0)
                        __builtin_prefetch(v->text_pool + e->off);
                }
            }
            if (!keys[r])
                continue;
            keys[r] = 0;
            gguf_str s = gguf_arr_str(mv, base + r);
            const char *sp = s.ptr + split[r];
            size_t la = split[r], lb = s.len - la - 1;
            int32_t a = tok_lookup_hashed(v, s.ptr, la, hh[3 * r]);
            int32_t b = a < 0 ? -1 : tok_lookup_hashed(v, sp + 1, lb, hh[3 * r + 1]);
            if (b < 0)
                continue;
            memcpy(buf, s.ptr, la);
            memcpy(buf + la, sp + 1, lb);
            res[r] = tok_lookup_hashed(v, buf, la + lb, hh[3 * r + 2]);
            if (res[r] < 0)
                continue; /* a merge whose result is no token can never be emitted */
            keys[r] = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
        }
        for (size_t r = 0; r < nb; r++) {
            if (r + 2 * AHEAD < nb && keys[r + 2 * AHEAD])
                __builtin_prefetch(&v->m[tok_mhash(keys[r + 2 * AHEAD]) & v->m_mask], 1);
            uint64_t key = keys[r];
            if (!key)
                continue;
            uint32_t i = tok_mhash(key) & v->m_mask;
            while (v->m[i].key && v->m[i].key != key)
                i = (i + 1) & v->m_mask;
            if (v->m[i].key)
                continue; /* the first (lowest) rank wins */
            v->m[i] = (tok_mslot){key, (int32_t)(base + r), res[r]};
            v->n_merges++;
        }
    }
    rc = 0;
    free(split);
    free(buf);
    free(hh);
    free(keys);
    free(res);
    return rc;
}

/* Reads an optional token id key into *id; ids out of range are ignored. */
static void get_id(const gguf_file *f, const char *key, int32_t n, int32_t *id)
{
    uint64_t u;
    if (gguf_get_u64(f, key, &u) && u < (uint64_t)n)
        *id = (int32_t)u;
}

static int32_t find_first_of(const tok_vocab *v, const char *const *list)
{
    for (; *list; list++) {
        int32_t id = tok_lookup(v, *list, strlen(*list));
        if (id >= 0)
            return id;
    }
    return -1;
}

static const char *const eot_texts[] = {"<|eot_id|>",
                                        "<|im_end|>",
                                        "<|end|>",
                                        "<end_of_turn>",
                                        "<|endoftext|>",
                                        "<|end_of_text|>",
                                        "<EOT>",
                                        "_<EOT>",
                                        "[EOT]",
                                        "<\xef\xbd\x9c"
                                        "end\xe2\x96\x81"
                                        "of\xe2\x96\x81"
                                        "sentence\xef\xbd\x9c>",
                                        "<end_of_utterance>",
                                        NULL};
static const char *const eog_texts[] = {"<|eot_id|>",
                                        "<|im_end|>",
                                        "<|end|>",
                                        "<|return|>",
                                        "<|call|>",
                                        "<|flush|>",
                                        "<|calls|>",
                                        "<end_of_turn>",
                                        "<|endoftext|>",
                                        "</s>",
                                        "<|eom_id|>",
                                        "<EOT>",
                                        "_<EOT>",
                                        "[EOT]",
                                        "[EOS]",
                                        "<|end_of_text|>",
                                        "<end_of_utterance>",
                                        "<eos>",
                                        "<turn|>",
                                        "<|tool_response>",
                                        "<\xef\xbd\x9c"
                                        "end\xe2\x96\x81"
                                        "of\xe2\x96\x81"
                                        "sentence\xef\xbd\x9c>",
                                        "[e~[",
                                        NULL};
static const char *const fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>",       "<reponame>",    NULL};
static const char *const fim_sep_texts[] = {"<|file_sep|>", NULL};

static void make_control(tok_vocab *v, int32_t id)
{
    if (v->attr[id] != TOK_ATTR_CONTROL)
        v->attr[id] = TOK_ATTR_CONTROL;
}

/* End-of-generation set, as llama.cpp's load builds it. */
static int build_eog(tok_vocab *v, jc_err *err)
{
    if (v->eot < 0) {
        v->eot = find_first_of(v, eot_texts);
        if (v->eot >= 0)
            make_control(v, v->eot);
    }
    if (v->eom < 0) {
        v->eom = tok_lookup(v, "<|eom_id|>", 10);
        if (v->eom >= 0)
            make_control(v, v->eom);
    }
    /* control tokens that say "unused" */
    for (int32_t id = 0; id < v->n; id++) {
        if (v->attr[id] != TOK_ATTR_CONTROL)
            continue;
        size_t l;
        const char *t = tok_str(v, id, &l);
        if (memmem(t, l, "unused", 6))
            v->flags[id] |= TOK_F_UNUSED;
    }
    int32_t fim[3] = {find_first_of(v, fim_pad_texts), find_first_of(v, fim_rep_texts),
                      find_first_of(v, fim_sep_texts)};
    for (int k = 0; k < 3; k++)
        if (fim[k] >= 0) {
            v->flags[fim[k]] |= TOK_F_EOG;
            make_control(v, fim[k]);
        }
    for (const char *const *p = eog_texts; *p; p++) {
        int32_t id = tok_lookup(v, *p, strlen(*p));
        if (id >= 0) {
            v->flags[id] |= TOK_F_EOG;
            make_control(v, id);
        }
    }
    /* gpt-oss quirk: these are always rendered */
    static const char *const user_texts[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>",
                                             NULL};
    for (const char *const *p = user_texts; *p; p++) {
        int32_t id = tok_lookup(v, *p, strlen(*p));
        if (id >= 0)
            v->attr[id] = TOK_ATTR_USER_DEFINED;
    }
    if (v->eos >= 0)
        v->flags[v->eos] |= TOK_F_EOG;
    if (v->eot >= 0)
        v->flags[v->eot] |= TOK_F_EOG;
    if (v->eom >= 0)
        v->flags[v->eom] |= TOK_F_EOG;
    /* o200k_harmony / solar-open: <|end|> is not the end when <|return|>+<|call|> exist */
    int32_t ret = tok_lookup(v, "<|return|>", 10), call = tok_lookup(v, "<|call|>", 8);
    int32_t calls = tok_lookup(v, "<|calls|>", 9), flush = tok_lookup(v, "<|flush|>", 9);
    int32_t end = tok_lookup(v, "<|end|>", 7);
    if (end >= 0 && (v->flags[end] & TOK_F_EOG) &&
        ((ret >= 0 && (call >= 0 || calls >= 0)) || ((call >= 0 || calls >= 0) && flush >= 0))) {
        v->flags[end] &= (uint8_t)~TOK_F_EOG;
        v->attr[end] = TOK_ATTR_USER_DEFINED;
    }
    /* gemma4 / paddleocr: </s> is not the end when <|tool_response> exists */
    int32_t tr = tok_lookup(v, "<|tool_response>", 16), s = tok_lookup(v, "</s>", 4);
    if (tr >= 0 && s >= 0 && (v->flags[s] & TOK_F_EOG) && s != v->eos) {
        v->flags[s] &= (uint8_t)~TOK_F_EOG;
        v->attr[s] = TOK_ATTR_NORMAL;
    }
    size_t n = 0;
    for (int32_t id = 0; id < v->n; id++)
        n += (v->flags[id] & TOK_F_EOG) != 0;
    v->eog_ids = jc_try_malloc((n ? n : 1) * sizeof *v->eog_ids, err);
    if (!v->eog_ids)
        return -1;
    v->n_eog = 0;
    for (int32_t id = 0; id < v->n; id++)
        if (v->flags[id] & TOK_F_EOG)
            v->eog_ids[v->n_eog++] = id;
    return 0;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const tok_vocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->tok_off[x + 1] - v->tok_off[x], ly = v->tok_off[y + 1] - v->tok_off[y];
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return (x > y) - (x < y);
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

static int build_special(tok_vocab *v, const gguf_file *f, jc_err *err)
{
    size_t n = 0;
    for (int32_t id = 0; id < v->n; id++) {
        uint8_t a = v->attr[id];
        if (a == TOK_ATTR_CONTROL || a == TOK_ATTR_USER_DEFINED || a == TOK_ATTR_UNKNOWN)
            n++;
    }
    v->special = jc_try_malloc((n ? n : 1) * sizeof *v->special, err);
    if (!v->special)
        return -1;
    v->n_special = 0;
    for (int32_t id = 0; id < v->n; id++) {
        uint8_t a = v->attr[id];
        if (a == TOK_ATTR_CONTROL || a == TOK_ATTR_USER_DEFINED || a == TOK_ATTR_UNKNOWN)
            v->special[v->n_special++] = id;
    }
    qsort_r(v->special, v->n_special, sizeof *v->special, cmp_special, v);

    /* per-model strip attributes llama.cpp sets by name */
    char *name = gguf_get_strdup(f, "general.name");
    char *arch = gguf_get_strdup(f, "general.architecture");
    const char *pre = v->pre_name;
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
        (arch && (strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3")))) {
        int32_t id = tok_lookup(v, "<mask>", 6);
        if (id >= 0)
            v->flags[id] |= TOK_F_LSTRIP;
    } else if (name && (contains_ci(name, "phi-3") || contains_ci(name, "phi3"))) {
        for (size_t i = 0; i < v->n_special; i++)
            v->flags[v->special[i]] |= TOK_F_RSTRIP;
        int32_t id = tok_lookup(v, "</s>", 4);
        if (id >= 0)
            v->flags[id] |= TOK_F_RSTRIP;
        static const char *const no[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
        for (const char *const *p = no; *p; p++) {
            id = tok_lookup(v, *p, strlen(*p));
            if (id >= 0)
                v->flags[id] &= (uint8_t)~TOK_F_RSTRIP;
        }
    } else if (name && contains_ci(name, "modern-bert")) {
        int32_t id = tok_lookup(v, "[MASK]", 6);
        if (id >= 0)
            v->flags[id] |= TOK_F_LSTRIP;
    }
    free(name);
    free(arch);
    return 0;
}

/* True if every token's '▁' characters are all at its start. */
static bool spm_split_ok(const tok_vocab *v)
{
    for (int32_t id = 0; id < v->n; id++) {
        size_t l, i = 0;
        const char *t = tok_str(v, id, &l);
        while (i + 3 <= l && !memcmp(t + i, "\xe2\x96\x81", 3))
            i += 3;
        if (i < l && memmem(t + i, l - i, "\xe2\x96\x81", 3))
            return false;
    }
    return true;
}

static void build_byte_tokens(tok_vocab *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        int32_t id = -1;
        if (v->model == TOK_MODEL_BPE && v->byte_encode) {
            char u[4];
            size_t l = tok_utf8_put(tok_byte_to_cp((uint8_t)b), u);
            id = tok_lookup(v, u, l);
        } else {
            char buf[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
            id = tok_lookup(v, buf, 6);
            if (id < 0 && v->model == TOK_MODEL_SPM) {
                char c = (char)b;
                id = tok_lookup(v, &c, 1);
            }
        }
        v->byte_tok[b] = id;
    }
}

tok_vocab *tok_load(const gguf_file *f, jc_err *err)
{
    tok_vocab *v = jc_xcalloc(1, sizeof *v);
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = v->nl = -1;
    char *model = gguf_get_strdup(f, "tokenizer.ggml.model");
    char *pre = gguf_get_strdup(f, "tokenizer.ggml.pre");
    const gguf_value *tv;
    int rc = -1;

    if (!model) {
        jc_errf(err, "tokenizer.ggml.model: missing (the file has no tokenizer)");
        goto out;
    }
    if (!strcmp(model, "llama")) {
        v->model = TOK_MODEL_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true, v->add_bos = true;
    } else if (!strcmp(model, "gpt2") || !strcmp(model, "gemma4")) {
        v->model = TOK_MODEL_BPE;
        v->bos = 11, v->eos = 11;
        v->byte_encode = true;
    } else if (!strcmp(model, "bert")) {
        v->model = TOK_MODEL_WPM;
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0, v->mask = 103;
        v->add_bos = true, v->add_sep = true;
        v->wpm_lowercase = v->wpm_strip_accents = true;
    } else if (!strcmp(model, "no_vocab") || !strcmp(model, "none")) {
        jc_errf(err, "tokenizer.ggml.model: '%s': the model has no vocabulary", model);
        goto out;
    } else {
        jc_errf(err, "tokenizer.ggml.model: unsupported tokenizer '%s' (janc reads llama, gpt2, bert)",
                model);
        goto out;
    }
    snprintf(v->pre_name, sizeof v->pre_name, "%s", pre ? pre : "default");

    tv = gguf_get(f, "tokenizer.ggml.tokens");
    if (!tv) {
        jc_errf(err, "tokenizer.ggml.tokens: missing");
        goto out;
    }
    if (tv->type != GGUF_VT_ARRAY || tv->arr.type != GGUF_VT_STRING) {
        jc_errf(err, "tokenizer.ggml.tokens: expected an array of strings");
        goto out;
    }
    if (tv->arr.n == 0 || tv->arr.n > (1u << 24)) {
        jc_errf(err, "tokenizer.ggml.tokens: %" PRIu64 " tokens (expected 1..16777216)", tv->arr.n);
        goto out;
    }
    v->n = (int32_t)tv->arr.n;
    {
        uint64_t total = 0;
        for (int32_t i = 0; i < v->n; i++) {
            uint64_t l = gguf_arr_str(tv, (uint64_t)i).len;
            if (l > TOK_MAX_TOKEN_LEN) {
                jc_errf(err, "tokenizer.ggml.tokens: token %d is %" PRIu64 " bytes long (max %d)", (int)i, l,
                        TOK_MAX_TOKEN_LEN);
                goto out;
            }
            total += l ? l : 32; /* room for "[EMPTY_<i>]" */
        }
        if (total >= UINT32_MAX) {
            jc_errf(err, "tokenizer.ggml.tokens: %" PRIu64 " bytes of token text is too much", total);
            goto out;
        }
        v->text_pool = jc_try_malloc(total + 1, err);
        v->tok_off = jc_try_malloc(((size_t)v->n + 1) * sizeof *v->tok_off, err);
        v->scores = jc_try_calloc((size_t)v->n, sizeof *v->scores, err);
        v->attr = jc_try_malloc((size_t)v->n, err);
        v->flags = jc_try_calloc((size_t)v->n, 1, err);
        if (!v->text_pool || !v->tok_off || !v->scores || !v->attr || !v->flags)
            goto out;
        uint32_t off = 0;
        for (int32_t i = 0; i < v->n; i++) {
            gguf_str s = gguf_arr_str(tv, (uint64_t)i);
            v->tok_off[i] = off;
            if (s.len == 0) {
                off += (uint32_t)sprintf(v->text_pool + off, "[EMPTY_%d]", (int)i);
            } else {
                memcpy(v->text_pool + off, s.ptr, s.len);
                off += (uint32_t)s.len;
            }
            if (off - v->tok_off[i] > v->max_tok_len)
                v->max_tok_len = off - v->tok_off[i];
        }
        v->tok_off[v->n] = off;
    }
    {
        const gguf_value *sv = gguf_get(f, "tokenizer.ggml.scores");
        if (sv) {
            if (sv->type != GGUF_VT_ARRAY ||
                (sv->arr.type != GGUF_VT_FLOAT32 && sv->arr.type != GGUF_VT_INT32)) {
                jc_errf(err, "tokenizer.ggml.scores: expected an array of f32 or i32");
                goto out;
            }
            if (sv->arr.n < (uint64_t)v->n) {
                jc_errf(err, "tokenizer.ggml.scores: %" PRIu64 " scores for %d tokens", sv->arr.n, (int)v->n);
                goto out;
            }
            for (int32_t i = 0; i < v->n; i++)
                v->scores[i] = (float)gguf_arr_f64(sv, (uint64_t)i);
        }
        const gguf_value *ty = gguf_get(f, "tokenizer.ggml.token_type");
        memset(v->attr, TOK_ATTR_NORMAL, (size_t)v->n);
        if (ty) {
            if (ty->type != GGUF_VT_ARRAY || ty->arr.type != GGUF_VT_INT32) {
                jc_errf(err, "tokenizer.ggml.token_type: expected an array of i32");
                goto out;
            }
            if (ty->arr.n < (uint64_t)v->n) {
                jc_errf(err, "tokenizer.ggml.token_type: %" PRIu64 " types for %d tokens", ty->arr.n,
                        (int)v->n);
                goto out;
            }
            for (int32_t i = 0; i < v->n; i++) {
                int64_t t = gguf_arr_i64(ty, (uint64_t)i);
                v->attr[i] = (t >= 1 && t <= 6) ? (uint8_t)t : TOK_ATTR_UNDEFINED;
            }
        }
    }
    if (build_text_table(v, err) < 0)
        goto out;

    if (v->model == TOK_MODEL_BPE) {
        if (!strcmp(model, "gemma4"))
            snprintf(v->pre_name, sizeof v->pre_name, "gemma4");
        if (tok_pre_init(v, !strcmp(model, "gemma4") ? "gemma4" : pre, err) < 0)
            goto out;
        if (load_merges(v, f, err) < 0)
            goto out;
        if (!v->m && strcmp(v->pre_name, "kimi-k2") != 0) {
            jc_errf(err, "tokenizer.ggml.merges: missing (required by a gpt2 tokenizer)");
            goto out;
        }
    }
    {
        bool b;
        if (gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &b))
            v->add_space_prefix = b;
        uint64_t u;
        if (v->model == TOK_MODEL_WPM && gguf_get_u64(f, "tokenizer.ggml.cls_token_id", &u) &&
            u < (uint64_t)v->n)
            v->bos = (int32_t)u;
        if (v->bos >= v->n)
            v->bos = -1;
        if (v->eos >= v->n)
            v->eos = -1;
        if (v->unk >= v->n)
            v->unk = -1;
        if (v->sep >= v->n)
            v->sep = -1;
        if (v->pad >= v->n)
            v->pad = -1;
        if (v->mask >= v->n)
            v->mask = -1;
        get_id(f, "tokenizer.ggml.bos_token_id", v->n, &v->bos);
        get_id(f, "tokenizer.ggml.eos_token_id", v->n, &v->eos);
        get_id(f, "tokenizer.ggml.eot_token_id", v->n, &v->eot);
        get_id(f, "tokenizer.ggml.eom_token_id", v->n, &v->eom);
        get_id(f, "tokenizer.ggml.unknown_token_id", v->n, &v->unk);
        get_id(f, "tokenizer.ggml.seperator_token_id", v->n, &v->sep);
        get_id(f, "tokenizer.ggml.padding_token_id", v->n, &v->pad);
        get_id(f, "tokenizer.ggml.mask_token_id", v->n, &v->mask);
        if (gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b))
            v->add_bos = b;
        if (gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &b))
            v->add_eos = b;
        if (gguf_get_bool(f, "tokenizer.ggml.add_sep_token", &b))
            v->add_sep = b;
        if (!strcmp(v->pre_name, "gemma4"))
            v->add_bos = true;
        if (v->add_bos && v->bos < 0) {
            jc_errf(err, "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
            goto out;
        }
        if (v->add_eos && v->eos < 0) {
            jc_errf(err, "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
            goto out;
        }
        if (v->add_sep && v->sep < 0) {
            jc_errf(err,
                    "tokenizer.ggml.add_sep_token is true, but tokenizer.ggml.seperator_token_id is not set");
            goto out;
        }
        if (gguf_get_bool(f, "tokenizer.ggml.normalizer.lowercase", &b))
            v->wpm_lowercase = b;
        v->wpm_strip_accents = v->wpm_lowercase;
        if (gguf_get_bool(f, "tokenizer.ggml.normalizer.strip_accents", &b))
            v->wpm_strip_accents = b;
    }
    build_byte_tokens(v);
    if (v->model == TOK_MODEL_SPM)
        v->spm_ws_split = spm_split_ok(v);
    if (build_eog(v, err) < 0 || build_special(v, f, err) < 0 || tok_pieces_build(v, err) < 0)
        goto out;
    /* the newline token */
    if (v->model == TOK_MODEL_SPM) {
        v->nl = v->byte_tok['\n'] >= 0 ? v->byte_tok['\n'] : v->pad;
    } else if (v->model == TOK_MODEL_WPM) {
        v->nl = v->pad;
    } else {
        int32_t ids[8];
        size_t need = 0;
        jc_err e2 = {{0}};
        int k = tok_encode(v, "\n", 1, false, false, ids, 8, &need, &e2);
        v->nl = k > 0 ? ids[0] : v->pad;
    }
    rc = 0;
out:
    free(model);
    free(pre);
    if (rc < 0) {
        tok_free(v);
        return NULL;
    }
    return v;
}

tok_vocab *tok_load_path(const char *path, jc_err *err)
{
    gguf_file *f = gguf_open(path, err);
    if (!f)
        return NULL;
    tok_vocab *v = tok_load(f, err);
    if (!v)
        jc_err_prefix(err, "%s", path);
    gguf_close(f);
    return v;
}

void tok_free(tok_vocab *v)
{
    if (!v)
        return;
    free(v->text_pool);
    free(v->tok_off);
    free(v->scores);
    free(v->attr);
    free(v->flags);
    free(v->h);
    free(v->m);
    free(v->piece_pool);
    free(v->piece_off);
    free(v->eog_ids);
    free(v->special);
    tok_pre_free(v->pre);
    free(v);
}

/* ---- accessors ---- */

int32_t tok_n_vocab(const tok_vocab *v)
{
    return v->n;
}
enum tok_model tok_model_kind(const tok_vocab *v)
{
    return v->model;
}
const char *tok_pre_name(const tok_vocab *v)
{
    return v->pre_name;
}
int32_t tok_bos(const tok_vocab *v)
{
    return v->bos;
}
int32_t tok_eos(const tok_vocab *v)
{
    return v->eos;
}
int32_t tok_eot(const tok_vocab *v)
{
    return v->eot;
}
int32_t tok_unk(const tok_vocab *v)
{
    return v->unk;
}
int32_t tok_sep(const tok_vocab *v)
{
    return v->sep;
}
int32_t tok_pad(const tok_vocab *v)
{
    return v->pad;
}
int32_t tok_cls(const tok_vocab *v)
{
    return v->bos;
}
int32_t tok_nl(const tok_vocab *v)
{
    return v->nl;
}
bool tok_add_bos(const tok_vocab *v)
{
    return v->add_bos;
}
bool tok_add_eos(const tok_vocab *v)
{
    return v->model == TOK_MODEL_WPM ? v->add_sep : v->add_eos;
}

bool tok_is_eog(const tok_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n && (v->flags[id] & TOK_F_EOG);
}

bool tok_is_control(const tok_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n && v->attr[id] == TOK_ATTR_CONTROL;
}

enum tok_attr tok_attr(const tok_vocab *v, int32_t id)
{
    return (id >= 0 && id < v->n) ? (enum tok_attr)v->attr[id] : TOK_ATTR_UNDEFINED;
}

const char *tok_text(const tok_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n) {
        if (len)
            *len = 0;
        return "";
    }
    size_t l;
    const char *t = tok_str(v, id, &l);
    if (len)
        *len = l;
    return t;
}

int32_t tok_find(const tok_vocab *v, const char *s, size_t len)
{
    return tok_lookup(v, s, len);
}

const int32_t *tok_eog_ids(const tok_vocab *v, size_t *n)
{
    *n = v->n_eog;
    return v->eog_ids;
}
