/*
 * cmd_serve.c — `janc serve`: the OpenAI-compatible API (src/server/api.h).
 *
 * SIGINT and SIGTERM are blocked before any thread starts (every thread
 * inherits the mask) and taken with sigwait() here, so no work happens in a
 * signal handler. On a signal: stop accepting, end open streams with an
 * error event, unload the models, return 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/api.h"

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: janc serve [--data-dir D] [--host 127.0.0.1] [--port 3000] [--api-key K]\n"
            "                  [--cors ORIGIN] [--no-autoload] [--threads N] [--queue N] [--no-watch]\n\n"
            "Serves the OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions, ...).\n"
            "  --host H        address to bind (default 127.0.0.1: this machine only)\n"
            "  --port P        port (default 3000; 0 picks a free one)\n"
            "  --api-key K     require 'Authorization: Bearer K' (default: $JANC_API_KEY)\n"
            "  --cors ORIGIN   send Access-Control-Allow-Origin: ORIGIN and answer preflights\n"
            "  --no-autoload   do not load a model on its first request (409 until started)\n"
            "  --threads N     threads per running model (default: all CPUs)\n"
            "  --queue N       requests that may wait per model (default: 4 x n_parallel)\n"
            "  --no-watch      do not follow the models folder for changes\n"
            "Prints 'janc: listening on http://HOST:PORT' when ready; SIGINT/SIGTERM stop it.\n");
}

int cmd_serve(const cmd_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        serve_usage(stdout);
        return 0;
    }
    api_opts o = {.data_dir = ctx->data_dir, .port = 3000};
    const char *env_key = getenv("JANC_API_KEY");
    o.api_key = env_key && *env_key ? env_key : NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!strcmp(a, "--no-autoload")) {
            o.no_autoload = true;
            continue;
        }
        if (!strcmp(a, "--no-watch")) {
            o.no_watch = true;
            continue;
        }
        if (!v)
            return cli_fail("serve: unknown option '%s' (or it needs a value; see 'janc serve --help')", a);
        if (!strcmp(a, "--host")) {
            o.host = v;
        } else if (!strcmp(a, "--port")) {
            if (!cli_parse_int("--port", v, 0, 65535, &n))
                return 1;
            o.port = (int)n;
        } else if (!strcmp(a, "--api-key")) {
            o.api_key = v;
        } else if (!strcmp(a, "--cors")) {
            o.cors_origin = v;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int("--threads", v, 0, 256, &n))
                return 1;
            o.n_threads = (int)n;
        } else if (!strcmp(a, "--queue")) {
            if (!cli_parse_int("--queue", v, 1, 100000, &n))
                return 1;
            o.queue_max = (int)n;
        } else {
            return cli_fail("serve: unknown option '%s' (see 'janc serve --help')", a);
        }
        i++;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    jc_err err = {{0}};
    api_server *a = api_start(&o, &err);
    if (!a)
        return cli_fail("serve: %s", err.msg);
    const char *host = api_host(a);
    bool v6 = strchr(host, ':') != NULL;
    bool loopback = !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1");
    if (!loopback && !o.api_key)
        jc_warn("listening on %s without an API key: anyone who can reach this address can use and delete "
                "your models (set --api-key or $JANC_API_KEY)", host);
    printf("janc: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", api_port(a));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    jc_info("serve: %s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    api_shutdown(a);
    api_free(a);
    return 0;
}
