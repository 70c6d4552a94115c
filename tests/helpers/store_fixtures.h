/*
 * store_fixtures.h — helpers for the store tests: tiny GGUF files made with
 * janc's own writer, small files, and waiting for a condition. Header-only,
 * included by tests/test_store*.c.
 */
#ifndef STORE_FIXTURES_H
#define STORE_FIXTURES_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "gguf/gguf.h"

/* Tokens every fixture carries, so bos/eos text can be checked. */
static const char *const fx_tokens[] = {"<unk>", "<s>", "</s>", "a", "b"};

/*
 * Writes a tiny GGUF: architecture arch, general.name name (NULL: none),
 * context_length ctx (0: none), one F32 tensor of n_floats elements.
 * split_no/split_count > 0 add split.* keys. Returns 0 on success.
 */
static inline int fx_gguf_ex(const char *path, const char *arch, const char *name, uint32_t ctx, int n_floats,
                             int split_no, int split_count, int split_tensors)
{
    gguf_writer *w = gguf_writer_new(3);
    jc_err err = {0};
    char key[128];
    gguf_writer_set_str(w, "general.architecture", arch);
    if (name)
        gguf_writer_set_str(w, "general.name", name);
    gguf_writer_set_u32(w, "general.file_type", 0);
    if (ctx) {
        snprintf(key, sizeof key, "%s.context_length", arch);
        gguf_writer_set_u32(w, key, ctx);
    }
    if (split_count > 0) {
        gguf_writer_set_u16(w, "split.no", (uint16_t)split_no);
        gguf_writer_set_u16(w, "split.count", (uint16_t)split_count);
        if (split_no == 0)
            gguf_writer_set_i32(w, "split.tensors.count", split_tensors);
    }
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", fx_tokens, 5);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    float *data = calloc((size_t)n_floats, sizeof(float));
    for (int i = 0; i < n_floats; i++)
        data[i] = (float)i * 0.5f;
    int64_t ne[1] = {n_floats};
    snprintf(key, sizeof key, "blk.%d.weight", split_no);
    int rc = gguf_writer_add_tensor(w, key, 0 /* F32 */, 1, ne, data, (uint64_t)n_floats * 4, &err);
    if (!rc)
        rc = gguf_writer_write(w, path, &err);
    if (rc)
        fprintf(stderr, "fixture %s: %s\n", path, err.msg);
    gguf_writer_free(w);
    free(data);
    return rc;
}

static inline int fx_gguf(const char *path, const char *arch, const char *name, uint32_t ctx)
{
    return fx_gguf_ex(path, arch, name, ctx, 64, 0, 0, 0);
}

static inline int fx_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static inline char *fx_read(const char *path)
{
    jc_err err = {0};
    return jc_read_file(path, 1 << 24, NULL, &err);
}

static inline bool fx_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static inline void fx_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void fx_rm_rf(const char *dir)
{
    char *cmd = jc_xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
}

#endif
