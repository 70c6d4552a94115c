/*
 * cmd_template.c — `janc template`. Not written yet: the issue that delivers it replaces this file.
 */
#include "cli/cli.h"

int cmd_template(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return cli_fail("'template' is not implemented yet");
}
