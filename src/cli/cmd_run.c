/*
 * cmd_run.c — `janc run`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_run(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'run' is not implemented yet");
}
