/*
 * cmd_tokenize.c — `janc tokenize`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_tokenize(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'tokenize' is not implemented yet");
}
