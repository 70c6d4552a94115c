/*
 * cmd_quantize.c — `janc quantize`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_quantize(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'quantize' is not implemented yet");
}
