/*
 * cmd_inspect.c — `janc inspect FILE [--json]`: a GGUF file's metadata and
 * tensor table, read from the header only (tensor data is never touched, so
 * a multi-gigabyte model inspects in milliseconds).
 *
 * Human view: a header line (version, counts, alignment, data offset, size),
 * then one line per key (name, type, value; arrays longer than 6 items show
 * the first 3 and the count, strings are cut at 64 bytes), then the tensor
 * table (index, name, type, shape, bytes) and the totals (parameters, bytes,
 * bits per weight).
 *
 * JSON view: {"version":N,"metadata":{key:value,...},"tensors":[{"name",
 * "type","shape":[ne0,...],"offset"},...]} where values are JSON numbers
 * (integers exact, including u64; f32 with 9 and f64 with 17 significant
 * digits; NaN and infinities as null), true/false, strings, and arrays in full
 * (nested arrays as nested JSON arrays); "type" is the ggml type name and
 * "offset" the tensor's offset in its file's data section. Strings are
 * escaped per RFC 8259; bytes that are not valid UTF-8 (overlong forms,
 * surrogates, stray continuation bytes) each become U+FFFD, so the output is
 * always valid UTF-8 JSON.
 */
#include "cli/cli.h"
#include "gguf/gguf.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_CUT 64  /* human view: string bytes shown */
#define ARR_FULL 6  /* human view: arrays up to this many items shown in full */
#define ARR_HEAD 3  /* otherwise the first ARR_HEAD items */

/*
 * Writes the string escaped: JSON (json=true; invalid UTF-8 -> \ufffd) or the
 * human form (invalid bytes and controls as \xNN; cut after max bytes).
 */
static void put_escaped(FILE *out, gguf_str s, bool json, uint64_t max)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    uint64_t i = 0;
    fputc('"', out);
    while (i < s.len) {
        if (!json && i >= max) {
            fprintf(out, "...\" (%" PRIu64 " bytes)", s.len);
            return;
        }
        uint64_t run = i; /* a run of bytes that need no escaping, written at once */
        uint64_t end = json ? s.len : JC_MIN(s.len, max);
        while (run < end && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            fwrite(p + i, 1, (size_t)(run - i), out);
            i = run;
            continue;
        }
        uint8_t c = p[i];
        const size_t n = jc_utf8_seq(p + i, (size_t)(s.len - i));
        if (n == 0) {
            if (json)
                fputs("\\ufffd", out);
            else
                fprintf(out, "\\x%02x", c);
            i++;
            continue;
        }
        if (n > 1) {
            fwrite(p + i, 1, n, out);
            i += (uint64_t)n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || (!json && c == 0x7f))
                fprintf(out, json ? "\\u%04x" : "\\x%02x", c);
            else
                fputc(c, out);
        }
        i++;
    }
    fputc('"', out);
}

static void put_float(FILE *out, double d, bool f32, bool json)
{
    if (isnan(d) || isinf(d)) {
        if (json)
            fputs("null", out);
        else
            fputs(isnan(d) ? "nan" : d > 0 ? "inf" : "-inf", out);
        return;
    }
    fprintf(out, json ? (f32 ? "%.9g" : "%.17g") : "%g", d);
}

/* Element i of a numeric/bool array. */
static void put_elem(FILE *out, const gguf_value *v, uint64_t i, bool json)
{
    switch (v->arr.type) {
    case GGUF_VT_BOOL: fputs(gguf_arr_i64(v, i) ? "true" : "false", out); break;
    case GGUF_VT_FLOAT32:
    case GGUF_VT_FLOAT64: put_float(out, gguf_arr_f64(v, i), v->arr.type == GGUF_VT_FLOAT32, json); break;
    case GGUF_VT_UINT64: {
        uint64_t u;
        memcpy(&u, v->arr.raw + 8 * i, 8); /* little-endian host */
        fprintf(out, "%" PRIu64, u);
        break;
    }
    default: fprintf(out, "%" PRId64, gguf_arr_i64(v, i)); break;
    }
}

static void put_value(FILE *out, const gguf_value *v, bool json);

static void put_array(FILE *out, const gguf_value *v, bool json)
{
    uint64_t n = v->arr.n, shown = json || n <= ARR_FULL ? n : ARR_HEAD;
    fputc('[', out);
    for (uint64_t i = 0; i < shown; i++) {
        if (i)
            fputs(json ? "," : ", ", out);
        if (v->arr.type == GGUF_VT_STRING)
            put_escaped(out, gguf_arr_str(v, i), json, STR_CUT);
        else if (v->arr.type == GGUF_VT_ARRAY)
            put_value(out, &v->arr.vals[i], json);
        else
            put_elem(out, v, i, json);
    }
    if (shown < n)
        fprintf(out, ", ... (%" PRIu64 " items)", n);
    fputc(']', out);
}

static void put_value(FILE *out, const gguf_value *v, bool json)
{
    switch (v->type) {
    case GGUF_VT_UINT8:
    case GGUF_VT_UINT16:
    case GGUF_VT_UINT32:
    case GGUF_VT_UINT64: fprintf(out, "%" PRIu64, v->u); break;
    case GGUF_VT_INT8:
    case GGUF_VT_INT16:
    case GGUF_VT_INT32:
    case GGUF_VT_INT64: fprintf(out, "%" PRId64, v->i); break;
    case GGUF_VT_FLOAT32:
    case GGUF_VT_FLOAT64: put_float(out, v->f, v->type == GGUF_VT_FLOAT32, json); break;
    case GGUF_VT_BOOL: fputs(v->b ? "true" : "false", out); break;
    case GGUF_VT_STRING: put_escaped(out, v->s, json, STR_CUT); break;
    case GGUF_VT_ARRAY: put_array(out, v, json); break;
    default: fputs("null", out); break;
    }
}

/* "str", "arr[str]", "arr[arr[u8]]" (the element type of the first nested element). */
static void type_name(char *buf, size_t cap, const gguf_value *v)
{
    if (v->type != GGUF_VT_ARRAY) {
        snprintf(buf, cap, "%s", gguf_vtype_name(v->type));
        return;
    }
    if (v->arr.type == GGUF_VT_ARRAY && v->arr.n) {
        char inner[64];
        type_name(inner, sizeof inner, &v->arr.vals[0]);
        snprintf(buf, cap, "arr[%s]", inner);
        return;
    }
    snprintf(buf, cap, "arr[%s]", gguf_vtype_name(v->arr.type));
}

static void print_json(FILE *out, const gguf_file *f)
{
    fprintf(out, "{\"version\":%" PRIu32 ",\"metadata\":{", gguf_version(f));
    for (uint64_t i = 0; i < gguf_kv_count(f); i++) {
        if (i)
            fputc(',', out);
        put_escaped(out, gguf_kv_key(f, i), true, 0);
        fputc(':', out);
        put_value(out, gguf_kv_value(f, i), true);
    }
    fputs("},\"tensors\":[", out);
    for (uint64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (i)
            fputc(',', out);
        fputs("{\"name\":", out);
        put_escaped(out, (gguf_str){t->name, strlen(t->name)}, true, 0);
        fprintf(out, ",\"type\":\"%s\",\"shape\":[", ggml_type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++)
            fprintf(out, "%s%" PRId64, d ? "," : "", t->ne[d]);
        fprintf(out, "],\"offset\":%" PRIu64 "}", t->offset);
    }
    fputs("]}\n", out);
}

static void print_human(FILE *out, const gguf_file *f, const char *path)
{
    fprintf(out, "%s: GGUF v%" PRIu32 ", %" PRIu64 " metadata keys, %" PRIu64 " tensors, alignment %" PRIu32
                 ", data at offset %" PRIu64 ", %" PRIu64 " bytes",
            path, gguf_version(f), gguf_kv_count(f), gguf_tensor_count(f), gguf_alignment(f), gguf_data_offset(f),
            gguf_file_size(f));
    if (gguf_n_shards(f) > 1)
        fprintf(out, " in %" PRIu32 " shards", gguf_n_shards(f));
    fputs("\n\nmetadata:\n", out);
    for (uint64_t i = 0; i < gguf_kv_count(f); i++) {
        char tn[80];
        const gguf_value *v = gguf_kv_value(f, i);
        gguf_str k = gguf_kv_key(f, i);
        type_name(tn, sizeof tn, v);
        fprintf(out, "  %4" PRIu64 "  ", i);
        /* keys are ASCII in practice; anything else is shown escaped */
        bool plain = k.len <= 200;
        for (uint64_t j = 0; plain && j < k.len; j++)
            plain = (unsigned char)k.ptr[j] > 0x20 && (unsigned char)k.ptr[j] < 0x7f;
        int w = 40;
        if (plain) {
            fwrite(k.ptr, 1, (size_t)k.len, out);
            w = (int)k.len;
        } else {
            put_escaped(out, k, false, 200);
        }
        fprintf(out, "%*s %-10s = ", w < 40 ? 40 - w : 0, "", tn);
        put_value(out, v, false);
        fputc('\n', out);
    }
    uint64_t n = gguf_tensor_count(f);
    if (!n)
        return;
    size_t name_w = 4;
    for (uint64_t i = 0; i < n; i++)
        name_w = JC_MAX(name_w, JC_MIN(strlen(gguf_tensor_at(f, i)->name), (size_t)60));
    fprintf(out, "\ntensors:\n  %5s  %-*s  %-8s  %-24s  %12s\n", "#", (int)name_w, "name", "type", "shape", "bytes");
    uint64_t params = 0, bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char shape[128];
        int o = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%" PRId64, d ? " x " : "", t->ne[d]);
        bool plain = true;
        for (const char *c = t->name; *c && plain; c++)
            plain = (unsigned char)*c >= 0x20 && *c != 0x7f;
        fprintf(out, "  %5" PRIu64 "  ", i);
        if (plain) /* names with control bytes are shown escaped, so each tensor stays on one line */
            fprintf(out, "%-*s", (int)name_w, t->name);
        else
            put_escaped(out, (gguf_str){t->name, strlen(t->name)}, false, 200);
        fprintf(out, "  %-8s  %-24s  %12" PRIu64 "\n", ggml_type_name(t->type), shape, t->size);
        params += gguf_tensor_nelems(t); /* each < 2^63; a sum past 2^64 would need an impossible file */
        bytes += t->size;
    }
    fprintf(out, "\ntotal: %" PRIu64 " parameters, %" PRIu64 " bytes (%.2f MiB), %.2f bits per weight\n", params,
            bytes, (double)bytes / (1024.0 * 1024.0), params ? 8.0 * (double)bytes / (double)params : 0.0);
}

static void usage(FILE *out)
{
    fputs("usage: janc inspect FILE [--json]\n\n"
          "Prints a GGUF file's metadata and tensor table (name, type, shape, bytes)\n"
          "with totals. Only the header is read, never the tensor data.\n\n"
          "  --json   one JSON object: {\"version\",\"metadata\",\"tensors\":[{\"name\",\"type\",\"shape\",\"offset\"}]}\n"
          "  --help   this text\n",
          out);
}

int cmd_inspect(const cmd_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    const char *path = NULL;
    bool json = false;
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_fail("inspect: unknown option '%s' (try 'janc inspect --help')", argv[i]);
        else if (path)
            return cli_fail("inspect: one FILE only (got '%s' and '%s')", path, argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        return cli_fail("inspect: no FILE given (usage: janc inspect FILE [--json])");
    jc_err err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f)
        return cli_fail("%s", err.msg);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (json)
        print_json(stdout, f);
    else
        print_human(stdout, f, path);
    gguf_close(f);
    if (fflush(stdout) || ferror(stdout))
        return cli_fail("inspect: writing the output: %s", strerror(errno));
    return 0;
}
