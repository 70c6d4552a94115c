/*
 * fs.h — file helpers: bounded reads, atomic writes, directory creation,
 * read-only mappings.
 */
#ifndef JC_FS_H
#define JC_FS_H

#include "base/jc.h"

/*
 * Reads the whole file at path into a NUL-terminated buffer the caller frees.
 * A file larger than max bytes is an error. *len gets the size (optional).
 */
char *jc_read_file(const char *path, size_t max, size_t *len, jc_err *err);

/*
 * Writes data to path atomically: a temporary file in the same folder,
 * fsync, rename over path, fsync of the folder. A crash leaves the old file
 * or the new one, never a torn one. mode is used for a new file.
 */
int jc_write_atomic(const char *path, const void *data, size_t len, int mode, jc_err *err);

/*
 * The same, for a file written piece by piece: jc_atomic_begin creates a
 * unique temporary file beside path (mode for the new file) and gives its
 * fd; jc_atomic_commit fsyncs, closes and renames it over path, then fsyncs
 * the folder; jc_atomic_abort closes and removes it. Commit and abort free
 * what begin allocated, whatever happens.
 */
typedef struct jc_atomic {
    int fd;
    char *tmp, *path;
} jc_atomic;

int jc_atomic_begin(jc_atomic *a, const char *path, int mode, jc_err *err);
int jc_atomic_commit(jc_atomic *a, jc_err *err);
void jc_atomic_abort(jc_atomic *a);

/* mkdir -p with the given mode for created folders. */
int jc_mkdir_p(const char *path, int mode, jc_err *err);

/* "a" + "/" + "b" without doubling the slash; caller frees. */
char *jc_path_join(const char *a, const char *b);

/* A read-only private mapping of a whole file. */
typedef struct jc_map {
    const uint8_t *data;
    size_t size;
} jc_map;

int jc_map_open(jc_map *m, const char *path, jc_err *err);
void jc_map_close(jc_map *m);

#endif
