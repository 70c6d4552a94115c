/*
 * cmd_bench.c — `janc bench`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_bench(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'bench' is not implemented yet");
}
