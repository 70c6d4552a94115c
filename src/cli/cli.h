/*
 * cli.h — what every subcommand gets from main.c, and the subcommands.
 *
 * main.c finds the subcommand in its table, takes --data-dir out of argv
 * wherever it stands, and calls cmd_<name>(ctx, argc, argv) with argv[0]
 * the subcommand's name. A command returns the process exit status: 0 on
 * success, 1 with a one-line error on stderr for bad input. Only main.c
 * calls exit().
 */
#ifndef CLI_H
#define CLI_H

#include "base/jc.h"

typedef struct cmd_ctx {
    const char *data_dir; /* --data-dir, else $JAN_DATA_FOLDER, else ~/jan */
} cmd_ctx;

typedef int (*cmd_fn)(const cmd_ctx *ctx, int argc, char **argv);

int cmd_serve(const cmd_ctx *ctx, int argc, char **argv);
int cmd_models(const cmd_ctx *ctx, int argc, char **argv);
int cmd_run(const cmd_ctx *ctx, int argc, char **argv);
int cmd_inspect(const cmd_ctx *ctx, int argc, char **argv);
int cmd_tokenize(const cmd_ctx *ctx, int argc, char **argv);
int cmd_template(const cmd_ctx *ctx, int argc, char **argv);
int cmd_logits(const cmd_ctx *ctx, int argc, char **argv);
int cmd_bench(const cmd_ctx *ctx, int argc, char **argv);
int cmd_quantize(const cmd_ctx *ctx, int argc, char **argv);

/*
 * Resolves MODEL as the commands take it: an existing file is used as is,
 * anything else is looked up as a model id in ctx->data_dir's models folder.
 * Returns the GGUF path (caller frees), or NULL with err set.
 */
char *cli_model_path(const cmd_ctx *ctx, const char *model, jc_err *err);

/* True if argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);
/* Prints "janc: <msg>" to stderr and returns 1. */
int cli_fail(const char *fmt, ...) JC_PRINTF(1, 2);
/*
 * Parses a number option value; on failure prints an error naming opt and
 * returns false.
 */
bool cli_parse_int(const char *opt, const char *s, long min, long max, long *out);
bool cli_parse_double(const char *opt, const char *s, double *out);

#endif
