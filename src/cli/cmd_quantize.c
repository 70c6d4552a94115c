/*
 * cmd_quantize.c — `janc quantize IN.gguf OUT.gguf TYPE [-t THREADS]`:
 * converts a GGUF model to a tensor type or a llama.cpp-style mix (Q4_K_M,
 * Q5_K_S, ...). The work is q_quantize_file (src/quant/q_file.c); this file
 * parses the command line and reports.
 */
#include "cli/cli.h"
#include "quant/q_file.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: janc quantize IN.gguf OUT.gguf TYPE [-t THREADS]\n"
            "\n"
            "Converts every tensor of IN.gguf (F32, F16, BF16 or any type janc runs) and writes\n"
            "OUT.gguf atomically. TYPE is one of:\n  %s\n"
            "Mixes choose per-tensor types as llama.cpp's quantizer does (e.g. Q4_K_M keeps\n"
            "output.weight and some attn_v/ffn_down tensors in Q6_K); norms and other 1-D\n"
            "tensors keep their type. Metadata is copied; general.file_type is set.\n"
            "  -t THREADS   worker threads (default: all CPUs)\n",
            q_ftype_names());
}

int cmd_quantize(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    long threads = 0;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            if (i + 1 >= argc)
                return cli_fail("quantize: %s needs a number", argv[i]);
            if (!cli_parse_int(argv[i], argv[i + 1], 1, 256, &threads))
                return 1;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("quantize: unknown option '%s' (try 'janc quantize --help')", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            return cli_fail("quantize: too many arguments (usage: janc quantize IN.gguf OUT.gguf TYPE)");
        }
    }
    if (npos < 3)
        return cli_fail("quantize: usage: janc quantize IN.gguf OUT.gguf TYPE [-t THREADS]");
    const q_ftype *ft = q_ftype_find(pos[2]);
    if (!ft)
        return cli_fail("quantize: unknown type '%s' (one of: %s)", pos[2], q_ftype_names());
    jc_err err = {{0}};
    q_file_stats st;
    double t0 = jc_now();
    if (q_quantize_file(pos[0], pos[1], ft, (int)threads, &st, &err))
        return cli_fail("quantize: %s", err.msg);
    fprintf(stderr,
            "janc: %s -> %s (%s): %llu tensors, %llu converted%s, %.2f MiB -> %.2f MiB in %.1f s\n", pos[0], pos[1],
            ft->name, (unsigned long long)st.n_tensors, (unsigned long long)st.n_converted,
            st.n_fallback ? " (some with a fallback type: rows not a multiple of the block)" : "",
            (double)st.bytes_in / 1048576.0, (double)st.bytes_out / 1048576.0, jc_now() - t0);
    return 0;
}
