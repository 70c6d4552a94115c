/*
 * cmd_logits.c — `janc logits`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_logits(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'logits' is not implemented yet");
}
