/*
 * main.c — the janc program: finds the subcommand in a table and runs it.
 * The only file that calls exit().
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
    const char *name;
    cmd_fn fn;
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "the OpenAI-compatible API on localhost:3000"},
    {"models", cmd_models, "list, show, import, remove and pull models"},
    {"run", cmd_run, "generate text, or chat when no prompt is given"},
    {"inspect", cmd_inspect, "GGUF metadata and tensor table"},
    {"tokenize", cmd_tokenize, "token ids of a text"},
    {"template", cmd_template, "render a chat template with given variables"},
    {"logits", cmd_logits, "evaluate tokens and write their logits"},
    {"bench", cmd_bench, "prompt and generation speed"},
    {"quantize", cmd_quantize, "convert a GGUF model to another tensor type"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: janc [--data-dir DIR] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < JC_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nThe data folder is --data-dir, else $JAN_DATA_FOLDER, else ~/jan.\n"
                 "'janc COMMAND --help' tells more.\n");
}

/* Removes "--data-dir DIR" / "--data-dir=DIR" from argv; returns the value or NULL. */
static const char *take_data_dir(int *argc, char **argv, int *bad)
{
    const char *dir = NULL;
    int j = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--data-dir")) {
            if (i + 1 >= *argc) {
                *bad = 1;
                break;
            }
            dir = argv[++i];
        } else if (!strncmp(argv[i], "--data-dir=", 11)) {
            dir = argv[i] + 11;
        } else {
            argv[j++] = argv[i];
        }
    }
    argv[j] = NULL;
    *argc = j;
    return dir;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    int bad = 0;
    const char *dir = take_data_dir(&argc, argv, &bad);
    if (bad) {
        fprintf(stderr, "janc: --data-dir needs a folder\n");
        return 1;
    }
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("janc 0.1.0");
        return 0;
    }
    char *home_dir = NULL;
    if (!dir || !*dir)
        dir = getenv("JAN_DATA_FOLDER");
    if (!dir || !*dir) {
        const char *home = getenv("HOME");
        home_dir = jc_xasprintf("%s/jan", home && *home ? home : ".");
        dir = home_dir;
    }
    cmd_ctx ctx = {.data_dir = dir};
    for (size_t i = 0; i < JC_ARRAY_LEN(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].fn(&ctx, argc - 1, argv + 1);
            free(home_dir);
            exit(rc);
        }
    }
    fprintf(stderr, "janc: unknown command '%s' (try 'janc --help')\n", argv[1]);
    free(home_dir);
    return 1;
}
