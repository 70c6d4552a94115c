/*
 * cmd_run.c — `janc run MODEL [-p PROMPT] [-n N] [--temp T] [--seed S] ...`:
 * loads a model (a .gguf path, or a model id in the models folder) and
 * streams generated text to stdout. With -p, one generation after the
 * prompt; without, an interactive chat on stdin/stdout that keeps the
 * conversation, rendered with the model's chat template (tmpl/chat.h).
 *
 * The chat keeps the tokens now in the KV cache; each turn re-renders the
 * whole conversation, keeps the cached prefix it shares with the new prompt
 * and evaluates only the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "engine/llm.h"
#include "tmpl/chat.h"

static const char usage[] =
    "usage: janc run MODEL [-p PROMPT] [options]\n"
    "Generates text after PROMPT, streaming it to stdout. Without -p, chats on\n"
    "stdin/stdout using the model's chat template (exit with /exit or end of input).\n"
    "MODEL is a .gguf file or the id of a model in the models folder.\n"
    "options:\n"
    "  -n N                 tokens to generate (default: until end of generation or a full context)\n"
    "  --temp T             temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K            (default 40; 0 = off)\n"
    "  --top-p P            (default 0.95; 1 = off)\n"
    "  --min-p P            (default 0.05; 0 = off)\n"
    "  --repeat-penalty R   (default 1 = off), over the last --repeat-last-n tokens (default 64)\n"
    "  --presence-penalty P, --frequency-penalty F (default 0)\n"
    "  --seed S             random seed (default: from the clock)\n"
    "  --stop TEXT          stop when TEXT appears (repeatable; not printed)\n"
    "  -s, --system TEXT    system message for the chat\n"
    "  -c N                 context size in tokens (default: the model's, at most 4096)\n"
    "  -t N                 threads (default: the number of physical cores)\n"
    "  --prompt-ids \"IDS\"   the prompt as token ids instead of text (no BOS added)\n"
    "  --ids                print the generated token ids instead of text\n";

enum { MAX_STOPS = 16 };

typedef struct run_opts {
    const char *model, *prompt, *prompt_ids, *system;
    long n_predict, n_ctx, threads;
    llm_sampler_params sp;
    const char *stops[MAX_STOPS];
    int n_stops;
    bool ids;
} run_opts;

/* The generation state: context, sampler, and the tokens now in the KV cache. */
typedef struct gen {
    llm_model *m;
    llm_ctx *c;
    llm_sampler *smp;
    const tok_vocab *v;
    int32_t *cached; /* [n_ctx] */
    int n_cached;
    int last;        /* batch index of the last llm_decode's logits */
    char *piece;
    size_t piece_cap;
} gen;

/*
 * Evaluates toks[0..n) after what is cached (keeping the shared prefix);
 * leaves the logits of the last token. Returns 0, or -1 after printing an error.
 */
static int feed(gen *g, const int32_t *toks, int n)
{
    int keep = 0;
    while (keep < g->n_cached && keep < n && g->cached[keep] == toks[keep])
        keep++;
    if (keep == n && n > 0)
        keep = n - 1; /* re-evaluate the last token to get its logits */
    int n_ctx = llm_ctx_n_ctx(g->c), nb = llm_ctx_n_batch(g->c);
    if (n > n_ctx)
        return cli_fail("the prompt is %d tokens, longer than the context of %d (use -c)", n, n_ctx);
    llm_seq_truncate(g->c, 0, keep);
    g->n_cached = keep;
    int32_t *pos = jc_xmalloc((size_t)nb * sizeof *pos);
    jc_err err = {0};
    for (int i = keep; i < n; i += nb) {
        int cnt = JC_MIN(nb, n - i);
        for (int j = 0; j < cnt; j++)
            pos[j] = i + j;
        llm_batch b = {.n = cnt, .tokens = toks + i, .pos = pos};
        if (llm_decode(g->c, &b, &err)) {
            free(pos);
            return cli_fail("%s", err.msg);
        }
        memcpy(g->cached + i, toks + i, (size_t)cnt * sizeof *toks);
        g->n_cached = i + cnt;
        g->last = cnt - 1;
    }
    free(pos);
    for (int i = 0; i < n; i++)
        llm_sampler_accept(g->smp, toks[i]);
    return 0;
}

/*
 * Samples up to n_max tokens (n_max < 0: until EOG or a full context),
 * streaming the text (or ids) to stdout; reply (optional) gets the text
 * shown. Returns 0, or -1 after printing an error.
 */
static int generate(gen *g, long n_max, const run_opts *o, jc_buf *reply)
{
    llm_stop *stop = llm_stop_new(o->stops, o->n_stops);
    tok_detok dt;
    tok_detok_init(&dt, g->v, 0);
    jc_buf shown;
    jc_buf_init(&shown, (size_t)1 << 30);
    jc_err err = {0};
    int rc = 0, n_ctx = llm_ctx_n_ctx(g->c);
    for (long i = 0; n_max < 0 || i < n_max; i++) {
        const float *logits = llm_logits(g->c, g->last);
        int32_t t = llm_sampler_sample(g->smp, logits);
        llm_sampler_accept(g->smp, t);
        if (tok_is_eog(g->v, t))
            break;
        if (o->ids) {
            printf(i ? " %d" : "%d", t);
            fflush(stdout);
        } else {
            int n = tok_detok_feed(&dt, t, g->piece, g->piece_cap);
            if (n > 0) {
                int hit = llm_stop_feed(stop, g->piece, (size_t)n, &shown);
                fwrite(shown.data, 1, shown.len, stdout);
                fflush(stdout);
                if (reply)
                    jc_buf_append(reply, shown.data, shown.len);
                jc_buf_reset(&shown);
                if (hit)
                    goto done;
            }
        }
        if (g->n_cached >= n_ctx) {
            fprintf(stderr, "\njanc: the context of %d tokens is full\n", n_ctx);
            break;
        }
        int32_t pos = g->n_cached;
        llm_batch b = {.n = 1, .tokens = &t, .pos = &pos};
        if (llm_decode(g->c, &b, &err)) {
            rc = cli_fail("%s", err.msg);
            goto done;
        }
        g->cached[g->n_cached++] = t;
        g->last = 0;
    }
    if (!o->ids) {
        char tail[32];
        int n = tok_detok_flush(&dt, tail, sizeof tail);
        if (n > 0)
            llm_stop_feed(stop, tail, (size_t)n, &shown);
        llm_stop_flush(stop, &shown);
        fwrite(shown.data, 1, shown.len, stdout);
        if (reply)
            jc_buf_append(reply, shown.data, shown.len);
    }
done:
    fflush(stdout);
    jc_buf_free(&shown);
    llm_stop_free(stop);
    return rc;
}

/* Parses "1 2 3" into ids (caller frees); NULL after printing an error. */
static int32_t *parse_ids(const char *s, int n_vocab, int *n_out)
{
    size_t cap = 16, n = 0;
    int32_t *ids = jc_xmalloc(cap * sizeof *ids);
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= n_vocab) {
            cli_fail("--prompt-ids: '%.20s' is not a token id below %d", p, n_vocab);
            free(ids);
            return NULL;
        }
        if (n == cap)
            ids = jc_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = end;
    }
    *n_out = (int)n;
    return ids;
}

/* Tokenizes a prompt with special-token parsing; drops a doubled BOS. NULL after an error. */
static int32_t *tokenize(const tok_vocab *v, const char *text, bool add_special, int *n_out)
{
    jc_err err = {0};
    size_t n = 0;
    int32_t *ids = tok_encode_alloc(v, text, strlen(text), add_special, true, &n, &err);
    if (!ids) {
        cli_fail("cannot tokenize the prompt: %s", err.msg);
        return NULL;
    }
    if (n >= 2 && ids[0] == tok_bos(v) && ids[1] == tok_bos(v)) {
        memmove(ids, ids + 1, (n - 1) * sizeof *ids);
        n--;
    }
    if (n > INT32_MAX / 2) {
        free(ids);
        cli_fail("the prompt is too long");
        return NULL;
    }
    *n_out = (int)n;
    return ids;
}

static char *token_text(const tok_vocab *v, int32_t id)
{
    if (id < 0)
        return NULL;
    size_t len;
    const char *s = tok_text(v, id, &len);
    return jc_xstrndup(s, len);
}

static int chat(gen *g, const run_opts *o, const char *prompt_template)
{
    int rc = 1;
    jc_err err = {0};
    char *bos = token_text(g->v, tok_bos(g->v)), *eos = token_text(g->v, tok_eos(g->v));
    chat_template_src src = {.prompt_template = prompt_template, .jinja = llm_model_chat_template(g->m),
                             .bos_token = bos, .eos_token = eos};
    chat_tmpl *ct = chat_tmpl_new(&src, &err);
    json_t *msgs = json_array();
    char *line = NULL;
    size_t line_cap = 0;
    bool tty = isatty(0);
    if (!ct) {
        cli_fail("chat template: %s", err.msg);
        goto out;
    }
    if (o->system && *o->system)
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", o->system));
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t len = getline(&line, &line_cap, stdin);
        if (len < 0)
            break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!strcmp(line, "/exit"))
            break;
        if (len == 0)
            continue;
        json_t *msg = json_pack("{s:s,s:s}", "role", "user", "content", line);
        if (!msg) {
            fprintf(stderr, "janc: that line is not valid UTF-8; try again\n");
            continue;
        }
        json_array_append_new(msgs, msg);
        char *prompt = chat_tmpl_apply(ct, msgs, NULL, true, &err);
        if (!prompt) {
            cli_fail("chat template: %s", err.msg);
            goto out;
        }
        int n = 0;
        int32_t *toks = tokenize(g->v, prompt, true, &n);
        free(prompt);
        if (!toks)
            goto out;
        int fr = feed(g, toks, n);
        free(toks);
        if (fr)
            goto out;
        jc_buf reply;
        jc_buf_init(&reply, (size_t)1 << 30);
        if (generate(g, o->n_predict, o, &reply)) {
            jc_buf_free(&reply);
            goto out;
        }
        fputs("\n", stdout);
        fflush(stdout);
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "assistant", "content", reply.data ? reply.data : ""));
        jc_buf_free(&reply);
    }
    rc = 0;
out:
    free(line);
    json_decref(msgs);
    chat_tmpl_free(ct);
    free(bos);
    free(eos);
    return rc;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long lv;
        double dv;
#define OPT(name) (!strcmp(a, name) && val && (i++, 1))
        if (OPT("-p") || OPT("--prompt"))
            o->prompt = val;
        else if (OPT("--prompt-ids"))
            o->prompt_ids = val;
        else if (OPT("-s") || OPT("--system"))
            o->system = val;
        else if (OPT("-n") || OPT("--n-predict")) {
            if (!cli_parse_int(a, val, -1, INT32_MAX, &o->n_predict))
                return -1;
        } else if (OPT("-c") || OPT("--ctx-size")) {
            if (!cli_parse_int(a, val, 1, 1 << 22, &o->n_ctx))
                return -1;
        } else if (OPT("-t") || OPT("--threads")) {
            if (!cli_parse_int(a, val, 1, 256, &o->threads))
                return -1;
        } else if (OPT("--top-k")) {
            if (!cli_parse_int(a, val, 0, INT32_MAX, &lv))
                return -1;
            o->sp.top_k = (int)lv;
        } else if (OPT("--repeat-last-n")) {
            if (!cli_parse_int(a, val, -1, 4096, &lv))
                return -1;
            o->sp.penalty_last_n = (int)lv;
        } else if (OPT("--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (!*val || *end || errno || *val == '-')
                return cli_fail("--seed expects a whole number, got '%s'", val), -1;
            o->sp.seed = s;
        } else if (OPT("--temp") || OPT("--top-p") || OPT("--min-p") || OPT("--repeat-penalty") ||
                   OPT("--presence-penalty") || OPT("--frequency-penalty")) {
            if (!cli_parse_double(a, val, &dv))
                return -1;
            if (!strcmp(a, "--temp"))
                o->sp.temperature = (float)dv;
            else if (!strcmp(a, "--top-p"))
                o->sp.top_p = (float)dv;
            else if (!strcmp(a, "--min-p"))
                o->sp.min_p = (float)dv;
            else if (!strcmp(a, "--repeat-penalty"))
                o->sp.repeat_penalty = (float)dv;
            else if (!strcmp(a, "--presence-penalty"))
                o->sp.presence_penalty = (float)dv;
            else
                o->sp.frequency_penalty = (float)dv;
        } else if (OPT("--stop")) {
            if (o->n_stops == MAX_STOPS)
                return cli_fail("at most %d --stop strings", MAX_STOPS), -1;
            o->stops[o->n_stops++] = val;
        } else if (!strcmp(a, "--ids"))
            o->ids = true;
        else if (a[0] == '-' && a[1])
            return cli_fail("run: unknown option or missing value '%s' (see --help)", a), -1;
        else if (!o->model)
            o->model = a;
        else
            return cli_fail("run: unexpected argument '%s' (quote the prompt after -p)", a), -1;
#undef OPT
    }
    if (!o->model)
        return cli_fail("run: needs a MODEL (see --help)"), -1;
    return 0;
}

int cmd_run(const cmd_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    run_opts o = {.n_predict = -1, .sp = llm_sampler_default_params()};
    o.sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (parse_args(argc, argv, &o))
        return 1;
    int rc = 1;
    jc_err err = {0};
    gen g = {0};
    int32_t *toks = NULL;
    char *path = cli_model_path(ctx, o.model, &err);
    if (!path)
        return cli_fail("%s", err.msg);
    if (!(g.m = llm_model_load(path, &err))) {
        cli_fail("%s", err.msg);
        goto out;
    }
    g.v = llm_model_vocab(g.m);
    llm_ctx_params cp = llm_ctx_default_params();
    cp.n_ctx = (int)o.n_ctx;
    cp.n_threads = (int)o.threads;
    if (!(g.c = llm_ctx_new(g.m, &cp, &err))) {
        cli_fail("%s", err.msg);
        goto out;
    }
    g.smp = llm_sampler_new(&o.sp, llm_model_n_vocab(g.m));
    g.cached = jc_xcalloc((size_t)llm_ctx_n_ctx(g.c), sizeof *g.cached);
    g.piece_cap = tok_detok_bufsize(g.v);
    g.piece = jc_xmalloc(g.piece_cap);
    if (!o.prompt && !o.prompt_ids) {
        rc = chat(&g, &o, NULL);
        goto out;
    }
    int n = 0;
    if (o.prompt_ids)
        toks = parse_ids(o.prompt_ids, llm_model_n_vocab(g.m), &n);
    else
        toks = tokenize(g.v, o.prompt, true, &n);
    if (!toks)
        goto out;
    if (n == 0) {
        int32_t bos = tok_bos(g.v);
        if (bos < 0) {
            cli_fail("run: the prompt is empty and the model has no BOS token");
            goto out;
        }
        free(toks);
        toks = jc_xmalloc(sizeof *toks);
        toks[n++] = bos;
    }
    if (feed(&g, toks, n) || generate(&g, o.n_predict, &o, NULL))
        goto out;
    fputs("\n", stdout);
    rc = 0;
out:
    free(toks);
    free(g.piece);
    free(g.cached);
    llm_sampler_free(g.smp);
    llm_ctx_free(g.c);
    llm_model_free(g.m);
    free(path);
    return rc;
}
