/*
 * cmd_models.c — `janc models`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_models(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'models' is not implemented yet");
}
