/*
 * cmd_models.c — `janc models`: list, show, import, rm and pull, offline,
 * on the models folder of the data folder (src/store/). --json prints the
 * same Model objects as GET /v1/models ({"object":"list","data":[...]})
 * and GET /v1/models/{id}.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

static const char usage_text[] =
    "usage: janc models COMMAND [ARGS]\n"
    "\n"
    "  list [--json]                                 the models in <data>/models\n"
    "  show ID [--json]                              one model, every field\n"
    "  import PATH [--id ID] [--copy|--move|--link]  bring a GGUF file in (copy by default)\n"
    "  rm ID                                         remove a model's folder (stops its download)\n"
    "  pull URL|ID [--id ID]                         download a model (http, https, file URLs;\n"
    "                                                an ID whose file is missing re-downloads it)\n"
    "\n"
    "The data folder is --data-dir, else $JAN_DATA_FOLDER, else ~/jan.\n"
    "--json prints the same objects as GET /v1/models and GET /v1/models/ID.\n";

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (!s)
        return cli_fail("cannot print JSON");
    puts(s);
    free(s);
    return 0;
}

static void human_size(double b, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static const char *str_or(json_t *o, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : def;
}

/* Opens the store, printing the error. */
static store *open_store(const cmd_ctx *ctx)
{
    jc_err err = {0};
    store *s = store_open(ctx->data_dir, &err);
    if (!s)
        cli_fail("%s", err.msg);
    return s;
}

static int models_list(const cmd_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else
            return cli_fail("models list: unexpected '%s' (try --help)", argv[i]);
    }
    store *s = open_store(ctx);
    if (!s)
        return 1;
    json_t *l = store_list_json(s);
    store_close(s);
    if (json) {
        int rc = print_json(l);
        json_decref(l);
        return rc;
    }
    json_t *data = json_object_get(l, "data");
    printf("%-32s %-28s %-11s %-7s %-9s %10s %7s\n", "ID", "NAME", "STATE", "FORMAT", "QUANT", "SIZE", "CONTEXT");
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m) {
        json_t *md = json_object_get(m, "metadata"), *st = json_object_get(m, "settings");
        char size[32] = "-", ctxs[32] = "-";
        json_t *sz = json_object_get(md, "size");
        if (json_is_integer(sz))
            human_size((double)json_integer_value(sz), size, sizeof size);
        json_t *cl = json_object_get(st, "ctx_len");
        if (json_is_integer(cl))
            snprintf(ctxs, sizeof ctxs, "%lld", (long long)json_integer_value(cl));
        const char *state = json_is_null(json_object_get(m, "state")) ? "missing" : str_or(m, "state", "-");
        printf("%-32.32s %-28.28s %-11s %-7s %-9s %10s %7s\n", str_or(m, "id", "?"), str_or(m, "name", "-"), state,
               str_or(m, "format", "-"), str_or(md, "quantization", "-"), size, ctxs);
    }
    if (!json_array_size(data))
        printf("(no models in %s/models)\n", ctx->data_dir);
    /* why the models in the error state are there, one line each */
    json_array_foreach(data, i, m) {
        const char *e = json_string_value(json_object_get(m, "error"));
        if (e)
            printf("%s: %s\n", str_or(m, "id", "?"), e);
    }
    json_decref(l);
    return 0;
}

static void show_obj(const char *prefix, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (json_is_object(v) && json_object_size(v)) {
            char *p = jc_xasprintf("%s%s.", prefix, k);
            show_obj(p, v);
            free(p);
            continue;
        }
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (json_is_string(v))
            printf("%s%s: %s\n", prefix, k, json_string_value(v));
        else
            printf("%s%s: %s\n", prefix, k, s ? s : "?");
        free(s);
    }
}

static int models_show(const cmd_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    const char *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || id)
            return cli_fail("models show: unexpected '%s' (try --help)", argv[i]);
        else
            id = argv[i];
    }
    if (!id)
        return cli_fail("models show: which model? (janc models show ID)");
    store *s = open_store(ctx);
    if (!s)
        return 1;
    json_t *m = store_get_json(s, id);
    store_close(s);
    if (!m)
        return cli_fail("model '%s' not found (janc models list shows the ids)", id);
    int rc = 0;
    if (json)
        rc = print_json(m);
    else
        show_obj("", m);
    json_decref(m);
    return rc;
}

static int models_import(const cmd_ctx *ctx, int argc, char **argv)
{
    const char *path = NULL, *id = NULL;
    enum store_import_mode mode = STORE_IMPORT_COPY;
    int modes = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--id")) {
            if (i + 1 >= argc)
                return cli_fail("--id needs a value");
            id = argv[++i];
        } else if (!strcmp(argv[i], "--copy")) {
            mode = STORE_IMPORT_COPY;
            modes++;
        } else if (!strcmp(argv[i], "--move")) {
            mode = STORE_IMPORT_MOVE;
            modes++;
        } else if (!strcmp(argv[i], "--link")) {
            mode = STORE_IMPORT_LINK;
            modes++;
        } else if ((argv[i][0] == '-' && argv[i][1]) || path) {
            return cli_fail("models import: unexpected '%s' (try --help)", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return cli_fail("models import: which file? (janc models import PATH)");
    if (modes > 1)
        return cli_fail("models import: choose one of --copy, --move, --link");
    store *s = open_store(ctx);
    if (!s)
        return 1;
    jc_err err = {0};
    char *new_id = NULL;
    int rc = store_import(s, path, id, mode, &new_id, &err);
    store_close(s);
    if (rc)
        return cli_fail("%s", err.msg);
    printf("%s\n", new_id);
    free(new_id);
    return 0;
}

static int models_rm(const cmd_ctx *ctx, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_fail("models rm: give one model id (janc models rm ID)");
    store *s = open_store(ctx);
    if (!s)
        return 1;
    jc_err err = {0};
    int rc = store_delete(s, argv[1], &err);
    store_close(s);
    if (rc)
        return cli_fail("%s", err.msg);
    printf("removed %s\n", argv[1]);
    return 0;
}

/* One progress report: a bar on a terminal, a line every few seconds otherwise. */
static void show_progress(const char *id, json_t *p, bool tty, double *last_line)
{
    double tr = (double)json_integer_value(json_object_get(p, "transferred"));
    double total = (double)json_integer_value(json_object_get(p, "total"));
    double pct = json_real_value(json_object_get(p, "percent"));
    double speed = json_real_value(json_object_get(p, "speed"));
    double eta = json_real_value(json_object_get(p, "eta"));
    char a[32], b[32], sp[32];
    human_size(tr, a, sizeof a);
    human_size(total, b, sizeof b);
    human_size(speed, sp, sizeof sp);
    if (tty) {
        char bar[31];
        int fill = total > 0 ? (int)(pct * 30 / 100) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %5.1f%% %s / %s  %s/s  ETA %.0fs   ", id, bar, pct, a, total > 0 ? b : "?", sp,
                eta);
        fflush(stderr);
    } else {
        double now = jc_now();
        if (now - *last_line < 2.0)
            return;
        *last_line = now;
        fprintf(stderr, "%s: %.1f%% %s of %s, %s/s\n", id, pct, a, total > 0 ? b : "?", sp);
    }
}

static int models_pull(const cmd_ctx *ctx, int argc, char **argv)
{
    const char *what = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--id")) {
            if (i + 1 >= argc)
                return cli_fail("--id needs a value");
            id = argv[++i];
        } else if (argv[i][0] == '-' || what) {
            return cli_fail("models pull: unexpected '%s' (try --help)", argv[i]);
        } else {
            what = argv[i];
        }
    }
    if (!what)
        return cli_fail("models pull: give a URL or a model id");
    /* Ctrl-C is taken synchronously (sigtimedwait below): the download stops, its .part stays */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    store *s = open_store(ctx);
    if (!s) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return 1;
    }
    jc_err err = {0};
    char *new_id = NULL;
    int rc = store_pull(s, what, id, &new_id, &err);
    if (rc) {
        store_close(s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return cli_fail("%s", err.msg);
    }
    bool tty = isatty(2);
    double last_line = 0;
    bool interrupted = false;
    /* progress and Ctrl-C every 250 ms; the wait returns as soon as the download ends */
    while (!store_download_wait(s, new_id, 250)) {
        json_t *p = store_download_json(s, new_id);
        if (p)
            show_progress(new_id, p, tty, &last_line);
        json_decref(p);
        const struct timespec now = {0, 0};
        if (sigtimedwait(&set, NULL, &now) > 0) {
            interrupted = true;
            break;
        }
    }
    json_t *p = store_download_json(s, new_id);
    if (tty)
        fputc('\n', stderr);
    int result = 0;
    const char *state = json_string_value(json_object_get(p, "state"));
    if (interrupted) {
        result = cli_fail("interrupted; 'janc models pull %s' resumes the download", new_id);
    } else if (state && !strcmp(state, "done")) {
        printf("%s\n", new_id);
    } else {
        const char *msg = json_string_value(json_object_get(p, "error"));
        result = cli_fail("download of %s failed: %s", new_id, msg ? msg : state ? state : "unknown error");
    }
    json_decref(p);
    store_close(s); /* an interrupted download stops here; its .part is kept */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(new_id);
    return result;
}

static const struct {
    const char *name;
    int (*fn)(const cmd_ctx *, int, char **);
} subs[] = {
    {"list", models_list}, {"ls", models_list}, {"show", models_show}, {"import", models_import},
    {"rm", models_rm},     {"remove", models_rm}, {"pull", models_pull},
};

int cmd_models(const cmd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 1;
    }
    if (cli_wants_help(argc, argv) || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    for (size_t i = 0; i < JC_ARRAY_LEN(subs); i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].fn(ctx, argc - 1, argv + 1);
    return cli_fail("models: unknown command '%s' (try 'janc models --help')", argv[1]);
}
