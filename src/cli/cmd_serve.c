/*
 * cmd_serve.c — `janc serve`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_serve(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'serve' is not implemented yet");
}
