/*
 * gguf_split.c — split models: a model cut into NAME-00001-of-0000N.gguf ..
 * NAME-0000N-of-0000N.gguf (llama.cpp's gguf-split naming), each shard a
 * complete GGUF file carrying split.no (0-based), split.count and, in the
 * first, split.tensors.count. gguf_open on the first shard finds the others
 * by name, validates each as a file of its own, checks their split.* keys,
 * and presents one model: metadata from the first shard, tensors from all
 * shards in shard order, each tensor's data a view into its own shard.
 */
#include "gguf/gguf_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* split.no and split.count of a shard; false when absent or not unsigned integers. */
static bool split_keys(const gguf_file *s, uint64_t *no, uint64_t *count)
{
    return gguf_get_u64(s, "split.no", no) && gguf_get_u64(s, "split.count", count);
}

int gguf_split_load(gguf_file *f, const char *path, jc_err *err)
{
    int rc = -1;
    char *suffix = NULL, *sib = NULL;
    gguf_tensor *all = NULL;
    uint64_t count, no;
    if (!gguf_get(f, "split.count"))
        return 0;
    if (!gguf_get_u64(f, "split.count", &count) || count == 0 || count > 99999)
        return jc_errf(err, "%s: split.count is not a whole number from 1 to 99999", path);
    if (!gguf_get_u64(f, "split.no", &no))
        return jc_errf(err, "%s: split.count is %" PRIu64 " but split.no is missing or not an unsigned integer", path,
                       count);
    if (no >= count)
        return jc_errf(err, "%s: split.no %" PRIu64 " is not below split.count %" PRIu64, path, no, count);
    if (no != 0)
        return jc_errf(err,
                       "%s: this is shard %" PRIu64 " of %" PRIu64
                       " of a split model; open the first shard (the name ending in -00001-of-%05" PRIu64 ".gguf)",
                       path, no + 1, count, count);
    if (count == 1)
        return 0;
    suffix = jc_xasprintf("-00001-of-%05" PRIu64 ".gguf", count);
    size_t plen = strlen(path), slen = strlen(suffix);
    if (plen < slen || strcmp(path + plen - slen, suffix)) {
        jc_errf(err, "%s: split.count is %" PRIu64 " but the name does not end in '%s', so the other shards cannot be found",
                path, count, suffix);
        goto out;
    }
    size_t prefix = plen - slen;
    f->shards = jc_xcalloc((size_t)count - 1, sizeof *f->shards);
    uint64_t total = f->n_tensors;
    for (uint64_t k = 1; k < count; k++) {
        free(sib);
        sib = jc_xasprintf("%.*s-%05" PRIu64 "-of-%05" PRIu64 ".gguf", (int)prefix, path, k + 1, count);
        gguf_file *s = gguf_open_one(sib, err);
        if (!s) {
            jc_err_prefix(err, "shard %" PRIu64 " of %" PRIu64 " of %s is missing or bad", k + 1, count, path);
            goto out;
        }
        f->shards[k - 1] = s;
        f->n_shards = (uint32_t)k + 1;
        uint64_t sno, scount;
        if (!split_keys(s, &sno, &scount) || sno != k || scount != count) {
            jc_errf(err, "%s: split.no/split.count should be %" PRIu64 "/%" PRIu64 " for shard %" PRIu64 " of %s", sib, k,
                    count, k + 1, path);
            goto out;
        }
        f->total_size += s->size;
        total += s->n_tensors;
    }
    uint64_t want;
    if (gguf_get(f, "split.tensors.count") && (!gguf_get_u64(f, "split.tensors.count", &want) || want != total)) {
        jc_errf(err, "%s: split.tensors.count does not match the %" PRIu64 " tensors found in its %" PRIu64 " shards",
                path, total, count);
        goto out;
    }
    all = jc_try_calloc(total, sizeof *all, err);
    if (!all)
        goto out;
    memcpy(all, f->tensors, f->n_tensors * sizeof *all);
    uint64_t n = f->n_tensors;
    for (uint32_t k = 0; k + 1 < f->n_shards; k++) {
        const gguf_file *s = f->shards[k];
        for (uint64_t i = 0; i < s->n_tensors; i++) {
            all[n] = s->tensors[i];
            all[n++].shard = k + 1;
        }
    }
    free(f->tensors);
    f->tensors = all;
    f->n_tensors = total;
    all = NULL;
    if (gguf_build_tensor_index(f, err))
        goto out;
    rc = 0;
out:
    free(all);
    free(suffix);
    free(sib);
    return rc;
}
