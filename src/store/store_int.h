/*
 * store_int.h — private to src/store/: the index structure shared by the
 * index and import (store.c), the inotify watcher (store_watch.c) and the
 * downloads (store_dl.c). Nothing outside src/store/ includes this.
 *
 * Locking: s->mu guards models[], the GGUF cache and the downloads list.
 * Folder loads read model.json under the lock (bounded: 1 MiB); long work
 * (copying a model file, downloading) runs without it.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <sys/stat.h>

#include "store/ginfo.h"
#include "store/store.h"

#define STORE_MAX_ID 128

/* One entry of the index: a model folder, or a dropped file that could not be imported. */
typedef struct smodel {
    char *id;
    json_t *raw;        /* model.json as written (NULL when unreadable or absent) */
    json_t *obj;        /* the Model object without runtime fields (always set) */
    char *error;        /* why the model is in the error state, or NULL */
    char *main_file;    /* name of the main GGUF inside the folder, or NULL */
    bool file_present;  /* main_file exists as a regular file */
    char *loose_path;   /* a dropped file left in models/ (not a folder), or NULL */
    char *rt_state;     /* runtime state (starting, running, stopping, error), or NULL */
    char *rt_msg;       /* message with rt_state "error" */
} smodel;

typedef struct sdl sdl; /* one download (store_dl.c) */

struct store {
    pthread_mutex_t mu;
    pthread_cond_t dl_cond; /* signalled when a download ends */
    char *data_dir, *models_dir;
    smodel **models; /* sorted by id */
    size_t n, cap;
    store_gcache gc;
    unsigned long stage_seq; /* names staging folders */

    /* watcher (store_watch.c) */
    bool watching;
    pthread_t watch_thread;
    int ifd, stop_fd[2];
    struct swd { int wd; char *id; } *wds;
    size_t n_wds, cap_wds;

    /* downloads (store_dl.c) */
    sdl **dls;
    size_t n_dls, cap_dls;
};

/* Index (store.c); the caller holds s->mu. */
smodel *store_find_locked(store *s, const char *id);
/* Reloads models/<id> into the index (or drops it when it is no longer a model). */
void store_reload_locked(store *s, const char *id);
/*
 * The same; a folder with GGUF files and no model.json gets one written only
 * when may_write (a watcher event that is not the arrival of a file must not
 * write into a folder someone is deleting).
 */
void store_reload_ex_locked(store *s, const char *id, bool may_write);
void store_drop_locked(store *s, const char *id);
/* Lists a file dropped in models/ that could not be imported (state error), unless a folder has its id. */
void store_put_loose_locked(store *s, const char *name, const char *why);

/*
 * Imports the GGUF dropped at models/<name> (moved into its own folder).
 * Takes the lock itself; leaves a file that is not a complete GGUF where it
 * is, listed in the error state. Returns 0 or a negative status.
 */
int store_drop_in(store *s, const char *name);

/*
 * If name ends in -KKKKK-of-NNNNN.gguf (a split model's shard), *k and *n get
 * the numbers and the length of the part before the suffix is returned; else 0.
 */
size_t store_shard_suffix(const char *name, unsigned *k, unsigned *n);
/*
 * store_import with the first look at the file already taken: seen holds
 * what was read from path when it was judged complete (NULL: read it now).
 * What lands in the model folder is read again and must match seen, so a
 * file replaced or changed between the look and the copy/move fails with
 * STORE_EINVAL (a move is undone). store_import and drop-ins use this.
 */
int store_import_seen(store *s, const char *path, const store_ginfo *seen, const char *id_or_null,
                      enum store_import_mode mode, char **new_id, jc_err *err);

/* True if name ends in .gguf (any case). */
bool store_is_gguf_name(const char *name);
/* The id for a file name: lowercase, .gguf and -0000k-of-0000n dropped, other bytes -> '-'. Caller frees. */
char *store_id_from_name(const char *name);
/* True if id is acceptable as a folder name: [A-Za-z0-9._-], 1..STORE_MAX_ID, no leading '.'. */
bool store_id_ok(const char *id);

/*
 * Fills the fields import writes (name, format, settings, parameters,
 * metadata, assets, created...) into raw where they are absent; metadata
 * members are added. files: the model's files in its folder.
 */
void store_fill_from_gguf(json_t *raw, const store_ginfo *g, const char *id, const char *file_name,
                          const char *const *files, size_t n_files, int64_t created);

/* Creation time of path (statx btime, else mtime), unix seconds; 0 if it cannot be read. */
int64_t store_file_btime(const char *path);
/* Removes a folder tree without following symlinks. 0 or -1 (err set). */
int store_rmtree(const char *path, jc_err *err);

/* Downloads (store_dl.c); the caller holds s->mu. */
json_t *store_dl_json_locked(store *s, const char *id); /* NULL if none */
/* "downloading" while one runs; "error" (and *msg) when the last one failed; NULL otherwise. */
const char *store_dl_state_locked(store *s, const char *id, const char **msg);
/* Stops every download and joins their threads (store_close). */
void store_dl_shutdown(store *s);
/* Forgets the download record of id (called after its folder is removed), cancelling a running one. */
void store_dl_forget(store *s, const char *id);

/*
 * The URL a pull fetches: http(s) and file URLs only (NULL otherwise, or for
 * control characters); Hugging Face /blob/ links become /resolve/ links. Caller frees.
 */
char *store_url_normalize(const char *url);

/* Watcher (store_watch.c); the caller holds s->mu. */
void store_watch_add_locked(store *s, const char *id);

#endif
