/*
 * ginfo.h — what the store reads from a GGUF file to describe a model
 * (architecture, name, parameter count, quantization, trained context,
 * embedding or projector, BOS/EOS text, chat template), and a small cache
 * of it keyed on (path, size, mtime) so a rescan never reopens a file that
 * has not changed. Private to src/store/.
 */
#ifndef STORE_GINFO_H
#define STORE_GINFO_H

#include <jansson.h>

#include "base/jc.h"

typedef struct store_ginfo {
    char *path;            /* as opened */
    uint64_t size;         /* bytes of the first file (cache key) */
    int64_t mtime_ns;      /* cache key */
    uint32_t version;      /* GGUF version: 2 or 3 */
    char *arch;            /* general.architecture, or NULL */
    char *name;            /* general.name, or NULL */
    uint64_t n_params;     /* sum of tensor elements */
    char *quant;           /* "Q4_K_M", from general.file_type or the dominant tensor type */
    uint64_t ctx_train;    /* <arch>.context_length, 0 if absent */
    bool embedding;        /* an embedding architecture, or a pooling_type key */
    bool projector;        /* a multimodal projector (general.architecture clip) */
    bool has_chat_template;
    char *bos, *eos;       /* token text, or NULL */
    uint32_t n_shards;
    uint64_t total_size;   /* bytes of all shards */
} store_ginfo;

/*
 * Opens path with gguf_open (which checks every size: the file is complete)
 * and fills *out. 0, or -1 with err naming the file and what was wrong.
 */
int store_ginfo_read(const char *path, store_ginfo *out, jc_err *err);
void store_ginfo_free(store_ginfo *g);

/* The "metadata" members import writes for g (a new object). */
json_t *store_ginfo_metadata(const store_ginfo *g);

/* A cache of store_ginfo by path; not thread-safe (the store locks around it). */
typedef struct store_gcache {
    store_ginfo *items;
    size_t n, cap;
} store_gcache;

/*
 * The info for path from the cache when path's size and mtime still match,
 * else read (and cached). Returns a pointer into the cache valid until the
 * next call, or NULL (err set).
 */
const store_ginfo *store_gcache_get(store_gcache *c, const char *path, jc_err *err);
void store_gcache_free(store_gcache *c);

#endif
