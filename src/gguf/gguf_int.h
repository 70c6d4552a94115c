/*
 * gguf_int.h — private to src/gguf/: helpers shared by the reader (gguf.c),
 * the split-model loader (gguf_split.c) and the writer (gguf_write.c).
 * Nothing outside src/gguf/ includes this.
 */
#ifndef GGUF_INT_H
#define GGUF_INT_H

#include "base/fs.h"
#include "gguf/gguf.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
/* Arrays of arrays nest at most this deep (bounds the recursion). */
#define GGUF_MAX_DEPTH 16

/* Bytes per element of a fixed-size value type; 0 for STRING and ARRAY. */
uint32_t gguf_vtype_size(enum gguf_vtype t);

/*
 * An open-addressing table of names -> index, for keys and tensor names. The
 * hash is seeded per table (from the clock and the table's address), so a
 * file cannot be crafted to make every name collide and insertion quadratic.
 */
typedef struct gguf_index {
    uint64_t *slots; /* index + 1; 0 = empty */
    uint64_t cap;    /* a power of two, at least twice the entries */
    uint64_t seed;
} gguf_index;

/* FNV-1a of the bytes, mixed with seed through a splitmix64 finaliser. */
uint64_t gguf_hash(const void *p, uint64_t n, uint64_t seed);

struct gguf_file {
    char *name;             /* the path, or "<memory>"; for messages */
    jc_map map;             /* when opened from a path */
    const uint8_t *buf;     /* the image */
    uint64_t size;
    uint32_t version, alignment;
    uint64_t data_offset;   /* start of the data section */

    uint64_t n_kv;
    gguf_str *keys;
    gguf_value *vals;
    gguf_index kv_index;

    uint64_t n_tensors;     /* all shards */
    gguf_tensor *tensors;
    char *names;            /* tensor names, NUL-terminated, one block */
    gguf_index t_index;

    gguf_file **shards;     /* split model: shards 2..n (owned); NULL otherwise */
    uint32_t n_shards;      /* 1 + count of shards */
    uint64_t total_size;
};

/* Opens and validates one file with no split handling. */
gguf_file *gguf_open_one(const char *path, jc_err *err);
/*
 * Finds the shards of a split model whose first shard f already is, checks
 * them, and merges their tensors into f. 0, or -1 with err set.
 */
int gguf_split_load(gguf_file *f, const char *path, jc_err *err);
/*
 * (Re)builds f's tensor name index; -1 (err set, naming both) on a duplicate
 * name.
 */
int gguf_build_tensor_index(gguf_file *f, jc_err *err);

#endif
