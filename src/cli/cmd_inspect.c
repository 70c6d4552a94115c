/*
 * cmd_inspect.c — `janc inspect`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_inspect(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'inspect' is not implemented yet");
}
