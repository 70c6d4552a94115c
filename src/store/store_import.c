/*
 * store_import.c — bringing a GGUF file into the models folder: `janc models
 * import`, POST /v1/models/import, and files dropped straight into models/.
 *
 * An import never shows a half-made model: the files are copied, moved or
 * linked into a hidden staging folder (models/.import-PID-N), checked again
 * there (a file replaced or still growing fails the check), given a
 * model.json, and the folder is renamed to models/<id> in one step
 * (RENAME_NOREPLACE, so two imports never take the same id). A failed move
 * puts the files back where they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "store/mj.h"
#include "store/store_int.h"

int store_import_mode_parse(const char *s)
{
    if (!s || !strcmp(s, "copy"))
        return STORE_IMPORT_COPY;
    if (!strcmp(s, "move"))
        return STORE_IMPORT_MOVE;
    if (!strcmp(s, "link") || !strcmp(s, "symlink"))
        return STORE_IMPORT_LINK;
    return -1;
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* Copies src to a new file dst, checking that src did not change meanwhile. */
static int copy_file(const char *src, const char *dst, jc_err *err)
{
    int rc = -1, in = -1, out = -1;
    char *buf = NULL;
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return jc_errf(err, "%s: %s", src, strerror(errno));
    struct stat a, b;
    if (fstat(in, &a) < 0 || !S_ISREG(a.st_mode)) {
        jc_errf(err, "%s: not a regular file", src);
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        jc_errf(err, "%s: %s", dst, strerror(errno));
        goto out;
    }
    uint64_t left = (uint64_t)a.st_size;
    while (left) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)JC_MIN(left, (uint64_t)1 << 30), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
            /* fall back to read/write for the rest */
            buf = jc_xmalloc(1 << 20);
            while (left) {
                ssize_t r = read(in, buf, (size_t)JC_MIN(left, (uint64_t)1 << 20));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    jc_errf(err, "%s: %s", src, r ? strerror(errno) : "file shrank while being copied");
                    goto out;
                }
                for (ssize_t w = 0; w < r;) {
                    ssize_t k = write(out, buf + w, (size_t)(r - w));
                    if (k < 0 && errno == EINTR)
                        continue;
                    if (k < 0) {
                        jc_errf(err, "%s: %s", dst, strerror(errno));
                        goto out;
                    }
                    w += k;
                }
                left -= (uint64_t)r;
            }
            break;
        }
        if (n < 0) {
            jc_errf(err, "copying %s: %s", src, strerror(errno));
            goto out;
        }
        if (n == 0) {
            jc_errf(err, "%s: file shrank while being copied", src);
            goto out;
        }
        left -= (uint64_t)n;
    }
    if (fsync(out) < 0) {
        jc_errf(err, "%s: %s", dst, strerror(errno));
        goto out;
    }
    if (fstat(in, &b) < 0 || b.st_size != a.st_size || b.st_mtim.tv_sec != a.st_mtim.tv_sec ||
        b.st_mtim.tv_nsec != a.st_mtim.tv_nsec) {
        jc_errf(err, "%s: the file changed while it was being copied", src);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && !rc)
        rc = jc_errf(err, "%s: %s", dst, strerror(errno));
    if (rc && out >= 0)
        unlink(dst);
    return rc;
}

/* The paths of the files of a model whose first (or only) file is path. */
static char **model_files(const char *path, uint32_t n_shards, size_t *n)
{
    char **v = jc_xcalloc(n_shards ? n_shards : 1, sizeof *v);
    v[0] = jc_xstrdup(path);
    *n = 1;
    if (n_shards > 1) {
        size_t plen = strlen(path);
        const size_t sl = strlen("-00001-of-00003.gguf");
        for (uint32_t k = 2; k <= n_shards && plen > sl; k++)
            v[(*n)++] = jc_xasprintf("%.*s-%05u-of-%05u.gguf", (int)(plen - sl), path, k, n_shards);
    }
    return v;
}

/* Renames stage to models/<id> unless something is there. 0, or errno. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    /* a file system without RENAME_NOREPLACE: a plain rename only replaces an empty folder */
    struct stat st;
    if (lstat(to, &st) == 0)
        return EEXIST;
    return rename(from, to) == 0 ? 0 : errno;
}

int store_import_seen(store *s, const char *path, const store_ginfo *seen, const char *id_or_null,
                      enum store_import_mode mode, char **new_id, jc_err *err)
{
    int rc = STORE_OK;
    store_ginfo g = {0}, g2 = {0};
    char **files = NULL, **placed = NULL, *stage = NULL, *abs = NULL, *id = NULL, *final = NULL;
    size_t nfiles = 0, nplaced = 0;
    json_t *raw = NULL;
    const char **names = NULL;
    if (new_id)
        *new_id = NULL;

    if (!path || !*path) {
        jc_errf(err, "no file to import");
        return STORE_EINVAL;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        jc_errf(err, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? STORE_ENOENT : STORE_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        jc_errf(err, "%s: not a regular file", path);
        return STORE_EINVAL;
    }
    if (id_or_null && !store_id_ok(id_or_null)) {
        jc_errf(err, "id '%s': use 1 to %d of A-Z a-z 0-9 . _ - (not starting with '.')", id_or_null, STORE_MAX_ID);
        return STORE_EINVAL;
    }
    if (seen) {
        /* the caller looked already: copy what the checks below compare */
        g.n_shards = seen->n_shards;
        g.total_size = seen->total_size;
        g.n_params = seen->n_params;
        g.projector = seen->projector;
    } else if (store_ginfo_read(path, &g, err)) {
        jc_err_prefix(err, "not a complete GGUF file");
        return STORE_EINVAL;
    }
    if (g.projector || !strncasecmp(base_name(path), "mmproj", 6)) {
        jc_errf(err, "%s: a multimodal projector, not a model; put it in its model's folder", path);
        rc = STORE_EINVAL;
        goto out;
    }
    abs = realpath(path, NULL);
    if (!abs) {
        jc_errf(err, "%s: %s", path, strerror(errno));
        rc = STORE_EIO;
        goto out;
    }
    files = model_files(abs, g.n_shards, &nfiles);
    id = id_or_null ? jc_xstrdup(id_or_null) : store_id_from_name(base_name(abs));
    if (id_or_null) {
        pthread_mutex_lock(&s->mu);
        smodel *m = store_find_locked(s, id);
        bool taken = m && !m->loose_path;
        pthread_mutex_unlock(&s->mu);
        if (taken) {
            jc_errf(err, "a model with id '%s' already exists", id);
            rc = STORE_EEXIST;
            goto out;
        }
    }

    pthread_mutex_lock(&s->mu);
    unsigned long seq = ++s->stage_seq;
    pthread_mutex_unlock(&s->mu);
    stage = jc_xasprintf("%s/.import-%ld-%lu", s->models_dir, (long)getpid(), seq);
    if (mkdir(stage, 0700) < 0) {
        jc_errf(err, "%s: %s", stage, strerror(errno));
        rc = STORE_EIO;
        goto out;
    }
    placed = jc_xcalloc(nfiles, sizeof *placed);
    names = jc_xcalloc(nfiles + 1, sizeof *names);
    for (size_t i = 0; i < nfiles; i++) {
        char *dst = jc_path_join(stage, base_name(files[i]));
        names[i] = base_name(files[i]);
        int r = 0;
        if (mode == STORE_IMPORT_LINK) {
            r = symlink(files[i], dst) < 0 ? jc_errf(err, "%s: %s", dst, strerror(errno)) : 0;
        } else if (mode == STORE_IMPORT_MOVE) {
            if (rename(files[i], dst) < 0) {
                if (errno == EXDEV) {
                    r = copy_file(files[i], dst, err);
                    if (!r)
                        unlink(files[i]);
                } else {
                    r = jc_errf(err, "moving %s: %s", files[i], strerror(errno));
                }
            }
        } else {
            r = copy_file(files[i], dst, err);
        }
        if (r) {
            free(dst);
            rc = STORE_EIO;
            goto out;
        }
        placed[nplaced++] = dst;
    }
    names[nfiles] = NULL;

    /* check again what landed: a file replaced or cut short on the way fails here */
    if (store_ginfo_read(placed[0], &g2, err)) {
        jc_err_prefix(err, "%s changed while being imported", path);
        rc = STORE_EINVAL;
        goto out;
    }
    if (g2.total_size != g.total_size || g2.n_params != g.n_params) {
        jc_errf(err, "%s changed while being imported", path);
        rc = STORE_EINVAL;
        goto out;
    }

    raw = json_object();
    char *url = jc_xasprintf("file://%s", abs);
    json_object_set_new(raw, "source_url", json_string(url));
    free(url);
    store_fill_from_gguf(raw, &g2, id, names[0], names, nfiles, store_file_btime(placed[0]));

    char *mjp = jc_path_join(stage, "model.json");
    for (unsigned k = 1;; k++) {
        char *cand = k == 1 ? jc_xstrdup(id) : jc_xasprintf("%s-%u", id, k);
        json_object_set_new(raw, "id", json_string(cand));
        char *text = mj_dump(raw);
        pthread_mutex_lock(&s->mu);
        smodel *m = store_find_locked(s, cand);
        int r = EEXIST;
        if (!m || m->loose_path) {
            if (jc_write_atomic(mjp, text, strlen(text), 0644, err)) {
                pthread_mutex_unlock(&s->mu);
                free(text);
                free(cand);
                free(mjp);
                rc = STORE_EIO;
                goto out;
            }
            free(final);
            final = jc_path_join(s->models_dir, cand);
            r = rename_noreplace(stage, final);
            if (r == 0) {
                if (m && m->loose_path)
                    store_drop_locked(s, cand);
                store_reload_locked(s, cand);
            }
        }
        pthread_mutex_unlock(&s->mu);
        free(text);
        if (r == 0) {
            free(stage);
            stage = NULL;
            if (new_id)
                *new_id = cand;
            else
                free(cand);
            break;
        }
        free(cand);
        if ((r != EEXIST && r != ENOTEMPTY) || id_or_null || k > 9999) {
            jc_errf(err, r == EEXIST || r == ENOTEMPTY ? "a model with id '%s' already exists" : "%s: cannot create the folder",
                    id);
            rc = r == EEXIST || r == ENOTEMPTY ? STORE_EEXIST : STORE_EIO;
            free(mjp);
            goto out;
        }
    }
    free(mjp);
    jc_info("imported %s as %s", path, final ? base_name(final) : id);

out:
    if (rc && stage) {
        /* put moved files back; remove the staging folder */
        if (mode == STORE_IMPORT_MOVE)
            for (size_t i = 0; i < nplaced; i++)
                if (rename(placed[i], files[i]) < 0)
                    jc_warn("could not move %s back to %s: %s", placed[i], files[i], strerror(errno));
        jc_err e2 = {0};
        store_rmtree(stage, &e2);
    }
    for (size_t i = 0; i < nplaced; i++)
        free(placed[i]);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(placed);
    free(files);
    free(names);
    free(stage);
    free(abs);
    free(id);
    free(final);
    json_decref(raw);
    store_ginfo_free(&g);
    store_ginfo_free(&g2);
    return rc;
}

int store_import(store *s, const char *path, const char *id_or_null, enum store_import_mode mode,
                 char **new_id, jc_err *err)
{
    if ((int)mode < STORE_IMPORT_COPY || mode > STORE_IMPORT_LINK) {
        jc_errf(err, "import mode must be copy, move or link");
        return STORE_EINVAL;
    }
    return store_import_seen(s, path, NULL, id_or_null, mode, new_id, err);
}

int store_drop_in(store *s, const char *name)
{
    if (name[0] == '.' || !store_is_gguf_name(name) || strchr(name, '/'))
        return STORE_EINVAL;
    char *path = jc_path_join(s->models_dir, name);
    jc_err err = {0};
    int rc = STORE_OK;
    struct stat st;
    int lrc = lstat(path, &st);
    if (lrc < 0 || !S_ISREG(st.st_mode)) {
        /* gone already, or a symlink/folder: not ours to move (moving a link's target out of
           wherever it lives would surprise) */
        if (lrc == 0 && S_ISLNK(st.st_mode))
            jc_warn("models/%s: a symlink, left alone; 'janc models import --link' imports one", name);
        rc = STORE_ENOENT;
        goto out;
    }
    /* later shards move with their first: a later shard arriving retries the first */
    unsigned k, n;
    size_t base = store_shard_suffix(name, &k, &n);
    if (base && k != 1) {
        char *first = jc_xasprintf("%.*s-00001-of-%05u.gguf", (int)base, name, n);
        char *fp = jc_path_join(s->models_dir, first);
        bool there = lstat(fp, &st) == 0 && S_ISREG(st.st_mode);
        free(fp);
        rc = there ? store_drop_in(s, first) : STORE_EINVAL;
        free(first);
        goto out;
    }
    /* a projector belongs in its model's folder */
    if (!strncasecmp(name, "mmproj", 6)) {
        jc_warn("models/%s: a projector file; put it in its model's folder", name);
        rc = STORE_EINVAL;
        goto out;
    }
    char *id = NULL;
    rc = store_import_seen(s, path, NULL, NULL, STORE_IMPORT_MOVE, &id, &err);
    if (rc) {
        jc_warn("models/%s: not imported: %s", name, err.msg);
        pthread_mutex_lock(&s->mu);
        /* listed in the error state while it is still there */
        if (lstat(path, &st) == 0)
            store_put_loose_locked(s, name, err.msg);
        pthread_mutex_unlock(&s->mu);
    }
    free(id);
out:
    free(path);
    return rc;
}
