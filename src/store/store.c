/*
 * store.c — the models folder index: scanning <data>/models, loading each
 * folder's model.json into a Model object, generating model.json for
 * folders and dropped files that have none, import, update, delete and the
 * typed accessors the server uses (see store.h; downloads are in
 * store_dl.c, the inotify watcher in store_watch.c).
 */
#include "store/store.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "store/mj.h"
#include "store/store_int.h"

/* A model folder examined holds at most this many entries (hostile folders are cut off). */
#define FOLDER_MAX_ENTRIES 4096

int store_http_status(int rc)
{
    switch (rc) {
    case STORE_OK: return 200;
    case STORE_EINVAL: return 400;
    case STORE_ENOENT: return 404;
    case STORE_EEXIST: return 409;
    case STORE_ETOOBIG: return 413;
    default: return 500;
    }
}

const char *store_models_dir(const store *s) { return s->models_dir; }

/* ---- names -------------------------------------------------------------------------- */

bool store_is_gguf_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcasecmp(name + n - 5, ".gguf");
}

static bool is_projector_name(const char *name) { return !strncasecmp(name, "mmproj", 6); }

/*
 * If name ends in -KKKKK-of-NNNNN.gguf, *k and *n get the numbers and the
 * length of the part before the suffix is returned; else 0.
 */
size_t store_shard_suffix(const char *name, unsigned *k, unsigned *n)
{
    size_t len = strlen(name);
    const size_t sl = strlen("-00001-of-00003.gguf");
    if (len <= sl || !store_is_gguf_name(name))
        return 0;
    const char *p = name + len - sl;
    unsigned a, b;
    char tail[8];
    if (sscanf(p, "-%5u-of-%5u%7s", &a, &b, tail) != 3 || strcasecmp(tail, ".gguf") || p[6] != '-' ||
        a == 0 || b == 0 || a > b)
        return 0;
    for (int i = 1; i <= 5; i++)
        if (p[i] < '0' || p[i] > '9' || p[i + 9] < '0' || p[i + 9] > '9')
            return 0;
    *k = a;
    *n = b;
    return len - sl;
}

char *store_id_from_name(const char *name)
{
    size_t n = strlen(name);
    unsigned k, cnt;
    size_t base = store_shard_suffix(name, &k, &cnt);
    if (base)
        n = base;
    else if (store_is_gguf_name(name))
        n -= 5;
    if (n > 100)
        n = 100;
    char *id = jc_xmalloc(n + 8);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (j == 0 && c == '.')
            ok = false;
        id[j++] = ok ? (char)c : '-';
    }
    id[j] = 0;
    if (!j)
        strcpy(id, "model");
    return id;
}

bool store_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > STORE_MAX_ID || id[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int64_t store_file_btime(const char *path)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, 0, STATX_BTIME | STATX_MTIME, &sx) == 0) {
        if ((sx.stx_mask & STATX_BTIME) && sx.stx_btime.tv_sec > 0)
            return sx.stx_btime.tv_sec;
        return sx.stx_mtime.tv_sec;
    }
    return 0;
}

/* ---- removing folders --------------------------------------------------------------- */

static int rmtree_at(int dfd, const char *name, int depth, jc_err *err)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : jc_errf(err, "%s: %s", name, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
            return jc_errf(err, "%s: %s", name, strerror(errno));
        return 0;
    }
    if (depth > 16)
        return jc_errf(err, "%s: folders nest too deep to remove", name);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return jc_errf(err, "%s: %s", name, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return jc_errf(err, "%s: %s", name, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (rmtree_at(fd, e->d_name, depth + 1, err))
            rc = -1;
    }
    closedir(d);
    if (!rc && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = jc_errf(err, "%s: %s", name, strerror(errno));
    return rc;
}

int store_rmtree(const char *path, jc_err *err)
{
    return rmtree_at(AT_FDCWD, path, 0, err);
}

/* ---- the index ---------------------------------------------------------------------- */

static void smodel_free(smodel *m)
{
    if (!m)
        return;
    free(m->id);
    json_decref(m->raw);
    json_decref(m->obj);
    free(m->error);
    free(m->main_file);
    free(m->loose_path);
    free(m->rt_state);
    free(m->rt_msg);
    free(m);
}

/* Index of id in s->models, or where it would go (*found false). */
static size_t find_pos(store *s, const char *id, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->models[mid]->id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

smodel *store_find_locked(store *s, const char *id)
{
    bool found;
    size_t i = find_pos(s, id, &found);
    return found ? s->models[i] : NULL;
}

/* Puts m in the index, replacing (and freeing) an entry with its id; runtime state carries over. */
static void put_locked(store *s, smodel *m)
{
    bool found;
    size_t i = find_pos(s, m->id, &found);
    if (found) {
        smodel *old = s->models[i];
        if (!m->rt_state && old->rt_state) {
            m->rt_state = old->rt_state;
            m->rt_msg = old->rt_msg;
            old->rt_state = old->rt_msg = NULL;
        }
        smodel_free(old);
        s->models[i] = m;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->models = jc_xrealloc(s->models, s->cap * sizeof *s->models);
    }
    memmove(s->models + i + 1, s->models + i, (s->n - i) * sizeof *s->models);
    s->models[i] = m;
    s->n++;
}

void store_drop_locked(store *s, const char *id)
{
    bool found;
    size_t i = find_pos(s, id, &found);
    if (!found)
        return;
    smodel_free(s->models[i]);
    memmove(s->models + i, s->models + i + 1, (s->n - i - 1) * sizeof *s->models);
    s->n--;
}

/* The Model object of an entry that cannot be used, with its message. */
static json_t *error_obj(const char *id, int64_t created, const json_t *raw)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "object", json_string("model"));
    json_object_set_new(o, "name", json_string(id));
    json_object_set_new(o, "created", json_integer(created));
    json_object_set_new(o, "owned_by", json_string("you"));
    json_t *su = raw ? json_object_get(raw, "source_url") : NULL;
    json_object_set_new(o, "source_url", json_is_string(su) ? json_copy(su) : json_string(""));
    json_object_set_new(o, "settings", json_object());
    json_object_set_new(o, "parameters", json_object());
    json_object_set_new(o, "metadata", json_object());
    json_object_set_new(o, "assets", json_array());
    return o;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The GGUF files of a folder, sorted. */
typedef struct flist {
    char **names;
    size_t n;
    bool has_mj;
} flist;

static void flist_free(flist *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
}

static int list_folder(const char *dir, flist *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t cap = 0, seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) && seen++ < FOLDER_MAX_ENTRIES) {
        if (e->d_name[0] == '.')
            continue;
        if (!strcmp(e->d_name, "model.json")) {
            out->has_mj = true;
            continue;
        }
        if (!store_is_gguf_name(e->d_name))
            continue;
        /* a regular file, or a symlink to one (a loop or a dangling link is left out) */
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 8;
            out->names = jc_xrealloc(out->names, cap * sizeof *out->names);
        }
        out->names[out->n++] = jc_xstrdup(e->d_name);
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->names, out->n, sizeof *out->names, cmp_str);
    return 0;
}

/* The main model file among a folder's GGUFs: not a projector, not a later shard; the largest. */
static const char *guess_main(const char *dir, const flist *fl)
{
    const char *best = NULL;
    off_t best_size = -1;
    for (size_t i = 0; i < fl->n; i++) {
        const char *nm = fl->names[i];
        unsigned k, n;
        if (is_projector_name(nm) || (store_shard_suffix(nm, &k, &n) && k != 1))
            continue;
        char *p = jc_path_join(dir, nm);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > best_size) {
            best = nm;
            best_size = st.st_size;
        }
        free(p);
    }
    return best;
}

static const char *find_projector(const flist *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        if (is_projector_name(fl->names[i]))
            return fl->names[i];
    return NULL;
}

static void set_absent(json_t *o, const char *key, json_t *v)
{
    if (!json_object_get(o, key))
        json_object_set_new(o, key, v);
    else
        json_decref(v);
}

void store_fill_from_gguf(json_t *raw, const store_ginfo *g, const char *id, const char *file_name,
                          const char *const *files, size_t n_files, int64_t created)
{
    set_absent(raw, "id", json_string(id));
    set_absent(raw, "object", json_string("model"));
    char *nm = NULL;
    if (!g->name) {
        nm = jc_xstrdup(file_name);
        if (store_is_gguf_name(nm))
            nm[strlen(nm) - 5] = 0;
    }
    set_absent(raw, "name", json_string(g->name ? g->name : nm));
    free(nm);
    set_absent(raw, "version", json_string("1"));
    set_absent(raw, "created", json_integer(created));
    set_absent(raw, "description", json_string(""));
    char fmt[16];
    snprintf(fmt, sizeof fmt, "ggufv%u", g->version);
    set_absent(raw, "format", json_string(fmt));

    json_t *st = json_object_get(raw, "settings");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(raw, "settings", st);
    }
    int64_t ctx = MJ_DEFAULT_CTX_LEN;
    if (g->ctx_train)
        ctx = (int64_t)JC_MIN(g->ctx_train, (uint64_t)MJ_IMPORT_CTX_CAP);
    set_absent(st, "ctx_len", json_integer(ctx));
    set_absent(st, "ngl", json_integer(MJ_DEFAULT_NGL));
    set_absent(st, "embedding", json_boolean(g->embedding));
    set_absent(st, "n_parallel", json_integer(MJ_DEFAULT_N_PARALLEL));
    for (size_t i = 0; i < n_files; i++)
        if (is_projector_name(files[i]))
            set_absent(st, "mmproj", json_string(files[i]));

    json_t *pa = json_object_get(raw, "parameters");
    if (!json_is_object(pa)) {
        pa = json_object();
        json_object_set_new(raw, "parameters", pa);
    }
    set_absent(pa, "temperature", json_real(MJ_DEFAULT_TEMPERATURE));
    set_absent(pa, "token_limit", json_integer(MJ_DEFAULT_TOKEN_LIMIT));
    set_absent(pa, "top_k", json_integer(MJ_DEFAULT_TOP_K));
    set_absent(pa, "top_p", json_real(MJ_DEFAULT_TOP_P));
    set_absent(pa, "stream", json_true());

    json_t *md = json_object_get(raw, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(raw, "metadata", md);
    }
    json_t *gm = store_ginfo_metadata(g);
    const char *k;
    json_t *v;
    json_object_foreach(gm, k, v) set_absent(md, k, json_incref(v));
    json_decref(gm);

    json_t *as = json_array();
    for (size_t i = 0; i < n_files; i++)
        json_array_append_new(as, json_string(files[i]));
    json_object_set_new(raw, "assets", as);
}

/*
 * Builds the index entry for models/<id>; NULL when the folder is not a
 * model (gone, not a folder, or nothing in it). Generates model.json for a
 * folder that has GGUF files and none.
 */
static smodel *load_folder(store *s, const char *id, bool may_write)
{
    smodel *m = NULL;
    char *dir = jc_path_join(s->models_dir, id);
    char *mjp = jc_path_join(dir, "model.json");
    char *label = jc_xasprintf("%s/model.json", id);
    flist fl = {0};
    jc_err err = {0};
    struct stat st;
    if (!store_id_ok(id) || list_folder(dir, &fl) < 0) /* opendir fails on anything not a folder */
        goto out;
    if (!fl.has_mj && fl.n == 0)
        goto out;

    m = jc_xcalloc(1, sizeof *m);
    m->id = jc_xstrdup(id);
    int64_t created = 0;
    if (!fl.has_mj) {
        /* a folder with GGUF files and no model.json: generate one in place */
        const char *main = guess_main(dir, &fl);
        if (!main) {
            m->error = jc_xasprintf("%s: no model file (only projector files or later shards) and no model.json", id);
            goto fail_entry;
        }
        char *mp = jc_path_join(dir, main);
        const store_ginfo *g = store_gcache_get(&s->gc, mp, &err);
        created = store_file_btime(mp);
        if (!g) {
            m->error = jc_xasprintf("%s", err.msg);
            free(mp);
            jc_warn("models/%s: not a usable model: %s", id, err.msg);
            goto fail_entry;
        }
        json_t *raw = json_object();
        char *url = jc_xasprintf("file://%s", mp);
        json_object_set_new(raw, "source_url", json_string(url));
        free(url);
        free(mp);
        store_fill_from_gguf(raw, g, id, main, (const char *const *)fl.names, fl.n, created);
        if (may_write) {
            char *text = mj_dump(raw);
            if (jc_write_atomic(mjp, text, strlen(text), 0644, &err))
                jc_warn("models/%s: could not write a generated model.json: %s", id, err.msg);
            else
                jc_info("models/%s: generated model.json for %s", id, main);
            free(text);
        }
        m->raw = raw;
    } else {
        bool too_big = false;
        m->raw = mj_load(mjp, label, &too_big, &created, &err);
        if (!m->raw) {
            m->error = jc_xstrdup(err.msg);
            jc_warn("%s", err.msg);
            goto fail_entry;
        }
    }

    /* the model file */
    char *ref = mj_main_file_ref(m->raw);
    if (!ref && guess_main(dir, &fl))
        ref = jc_xstrdup(guess_main(dir, &fl));
    m->main_file = ref;
    json_t *raw_view = m->raw;
    json_t *enriched = NULL;
    if (ref) {
        char *mp = jc_path_join(dir, ref);
        /* list_folder kept only regular files (or links to them) */
        m->file_present = false;
        for (size_t i = 0; i < fl.n && !m->file_present; i++)
            m->file_present = !strcmp(fl.names[i], ref);
        if (!m->file_present && !store_is_gguf_name(ref)) /* llama_model_path may name a non-.gguf file */
            m->file_present = stat(mp, &st) == 0 && S_ISREG(st.st_mode);
        /* a hand-written model.json without GGUF facts: read them once (cached), not written */
        json_t *md = json_object_get(m->raw, "metadata");
        if (m->file_present && (!json_is_object(md) || !json_object_get(md, "quantization"))) {
            const store_ginfo *g = store_gcache_get(&s->gc, mp, &err);
            if (!g) {
                /* we looked, and the model file is not a usable GGUF */
                m->error = jc_xasprintf("%s/%s: %s", id, ref, err.msg);
                jc_warn("%s", m->error);
                free(mp);
                goto fail_entry;
            }
            if (g) {
                enriched = json_deep_copy(m->raw);
                json_t *emd = json_object_get(enriched, "metadata");
                if (!json_is_object(emd)) {
                    emd = json_object();
                    json_object_set_new(enriched, "metadata", emd);
                }
                json_t *gm = store_ginfo_metadata(g);
                const char *k;
                json_t *v;
                json_object_foreach(gm, k, v) set_absent(emd, k, json_incref(v));
                json_decref(gm);
                raw_view = enriched;
            }
        }
        free(mp);
    }
    mj_ctx ctx = {.id = id, .dir = dir, .created = created, .main_file = ref,
                  .files = (const char *const *)fl.names, .n_files = fl.n};
    m->obj = mj_model(raw_view, &ctx, &err);
    json_decref(enriched);
    if (!m->obj) {
        m->error = jc_xasprintf("%s: %s", label, err.msg + (strncmp(err.msg, "model.json: ", 12) ? 0 : 12));
        jc_warn("%s", m->error);
        goto fail_entry;
    }
    json_t *settings = json_object_get(m->obj, "settings");
    const char *proj = find_projector(&fl);
    if (proj && !json_object_get(settings, "mmproj"))
        json_object_set_new(settings, "mmproj", json_string(proj));
    goto out;

fail_entry:
    m->obj = error_obj(id, created, m->raw);
out:
    flist_free(&fl);
    free(dir);
    free(mjp);
    free(label);
    return m;
}

void store_reload_locked(store *s, const char *id)
{
    store_reload_ex_locked(s, id, true);
}

void store_reload_ex_locked(store *s, const char *id, bool may_write)
{
    smodel *m = load_folder(s, id, may_write);
    if (!m) {
        /* not a model folder (any more); a loose-file entry of that id stays */
        smodel *old = store_find_locked(s, id);
        if (old && !old->loose_path)
            store_drop_locked(s, id);
        return;
    }
    put_locked(s, m);
}

/* Lists a file dropped in models/ that could not be imported. */
void store_put_loose_locked(store *s, const char *name, const char *why)
{
    char *id = store_id_from_name(name);
    smodel *old = store_find_locked(s, id);
    if (old && !old->loose_path) {
        free(id);
        return; /* a folder of that name is listed; the file is reported in the log only */
    }
    smodel *m = jc_xcalloc(1, sizeof *m);
    m->id = id;
    m->loose_path = jc_path_join(s->models_dir, name);
    m->error = jc_xasprintf("models/%s: not imported: %s", name, why);
    m->obj = error_obj(id, store_file_btime(m->loose_path), NULL);
    char *u = jc_xasprintf("file://%s", m->loose_path);
    json_object_set_new(m->obj, "source_url", json_string(u));
    json_object_set_new(m->obj, "name", json_string(name));
    free(u);
    put_locked(s, m);
}

/* ---- opening and scanning ------------------------------------------------------------ */

/*
 * A staging folder models/.import-PID-N that an import killed midway left
 * behind (its process is gone) holds a partial copy: remove it.
 */
static void remove_stale_stage(store *s, const char *name)
{
    long pid = strtol(name + 8, NULL, 10);
    if (pid <= 0 || pid > INT32_MAX)
        return;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return; /* a live import (or one we cannot tell): leave it */
    char *path = jc_path_join(s->models_dir, name);
    jc_err err = {0};
    if (store_rmtree(path, &err) == 0)
        jc_info("removed %s, left by an import that did not finish", path);
    free(path);
}

static int scan(store *s)
{
    DIR *d = opendir(s->models_dir);
    if (!d)
        return STORE_EIO;
    char **files = NULL, **dirs = NULL;
    size_t nf = 0, capf = 0, nd = 0, capd = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, ".import-", 8) && e->d_type == DT_DIR)
            remove_stale_stage(s, e->d_name);
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        if (e->d_type == DT_DIR)
            st.st_mode = S_IFDIR;
        else if (e->d_type == DT_REG)
            st.st_mode = S_IFREG;
        else if (fstatat(dirfd(d), e->d_name, &st, 0) < 0) /* a link or an unknown type: follow it */
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (nd == capd) {
                capd = capd ? 2 * capd : 64;
                dirs = jc_xrealloc(dirs, capd * sizeof *dirs);
            }
            dirs[nd++] = jc_xstrdup(e->d_name);
        } else if (S_ISREG(st.st_mode) && store_is_gguf_name(e->d_name)) {
            if (nf == capf) {
                capf = capf ? 2 * capf : 16;
                files = jc_xrealloc(files, capf * sizeof *files);
            }
            files[nf++] = jc_xstrdup(e->d_name);
        }
    }
    closedir(d);
    pthread_mutex_lock(&s->mu);
    /* entries whose folder is gone */
    for (size_t i = s->n; i-- > 0;) {
        smodel *m = s->models[i];
        bool keep = false;
        for (size_t j = 0; j < nd && !keep; j++)
            keep = !strcmp(dirs[j], m->id);
        if (!keep)
            store_drop_locked(s, m->id);
    }
    for (size_t j = 0; j < nd; j++)
        store_reload_locked(s, dirs[j]);
    pthread_mutex_unlock(&s->mu);
    if (nf > 1)
        qsort(files, nf, sizeof *files, cmp_str);
    for (size_t j = 0; j < nf; j++)
        store_drop_in(s, files[j]);
    for (size_t j = 0; j < nd; j++)
        free(dirs[j]);
    for (size_t j = 0; j < nf; j++)
        free(files[j]);
    free(dirs);
    free(files);
    return 0;
}

int store_rescan(store *s) { return scan(s); }

store *store_open(const char *data_dir, jc_err *err)
{
    if (!data_dir || !*data_dir) {
        jc_errf(err, "no data folder given");
        return NULL;
    }
    store *s = jc_xcalloc(1, sizeof *s);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference-counted; undone in store_close */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->dl_cond, NULL);
    s->ifd = -1;
    s->stop_fd[0] = s->stop_fd[1] = -1;
    s->data_dir = jc_xstrdup(data_dir);
    s->models_dir = jc_path_join(data_dir, "models");
    if (jc_mkdir_p(s->models_dir, 0700, err)) {
        jc_err_prefix(err, "data folder");
        store_close(s);
        return NULL;
    }
    if (access(s->models_dir, R_OK | W_OK | X_OK) < 0) {
        jc_errf(err, "%s: %s", s->models_dir, strerror(errno));
        store_close(s);
        return NULL;
    }
    if (scan(s)) {
        jc_errf(err, "%s: cannot read the folder", s->models_dir);
        store_close(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    store_watch_stop(s);
    store_dl_shutdown(s);
    for (size_t i = 0; i < s->n; i++)
        smodel_free(s->models[i]);
    free(s->models);
    store_gcache_free(&s->gc);
    free(s->wds);
    free(s->dls);
    free(s->data_dir);
    free(s->models_dir);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->dl_cond);
    free(s);
    curl_global_cleanup();
}

/* ---- Model objects -------------------------------------------------------------------- */

static json_t *model_json_locked(store *s, smodel *m)
{
    json_t *o = json_deep_copy(m->obj);
    const char *msg = NULL;
    const char *dl = store_dl_state_locked(s, m->id, &msg);
    json_t *state;
    if (m->error) {
        state = json_string("error");
        json_object_set_new(o, "error", json_string(m->error));
    } else if (m->rt_state) {
        state = json_string(m->rt_state);
        if (m->rt_msg)
            json_object_set_new(o, "error", json_string(m->rt_msg));
    } else if (dl && !strcmp(dl, "downloading")) {
        state = json_string("downloading");
    } else if (!m->file_present && dl && !strcmp(dl, "error")) {
        state = json_string("error");
        json_object_set_new(o, "error", json_string(msg ? msg : "download failed"));
    } else if (!m->file_present) {
        state = json_null();
    } else {
        state = json_string("ready");
    }
    json_object_set_new(o, "state", state);
    json_t *d = store_dl_json_locked(s, m->id);
    if (d)
        json_object_set_new(o, "download", d);
    return o;
}

json_t *store_list_json(store *s)
{
    json_t *data = json_array();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(data, model_json_locked(s, s->models[i]));
    pthread_mutex_unlock(&s->mu);
    json_t *l = json_object();
    json_object_set_new(l, "object", json_string("list"));
    json_object_set_new(l, "data", data);
    return l;
}

json_t *store_get_json(store *s, const char *id)
{
    if (!id)
        return NULL;
    pthread_mutex_lock(&s->mu);
    smodel *m = store_find_locked(s, id);
    json_t *o = m ? model_json_locked(s, m) : NULL;
    pthread_mutex_unlock(&s->mu);
    return o;
}

size_t store_count(store *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- accessors ------------------------------------------------------------------------ */

/* The usable (not error) model id, or NULL with rc/err set. */
static smodel *usable_locked(store *s, const char *id, int *rc, jc_err *err)
{
    smodel *m = id ? store_find_locked(s, id) : NULL;
    if (!m) {
        *rc = STORE_ENOENT;
        jc_errf(err, "model '%s' not found", id ? id : "");
        return NULL;
    }
    if (m->error) {
        *rc = STORE_EINVAL;
        jc_errf(err, "model '%s' cannot be used: %s", id, m->error);
        return NULL;
    }
    return m;
}

int store_model_path(store *s, const char *id, char **gguf_path, jc_err *err)
{
    int rc = STORE_OK;
    *gguf_path = NULL;
    pthread_mutex_lock(&s->mu);
    smodel *m = usable_locked(s, id, &rc, err);
    if (m) {
        if (!m->main_file || !m->file_present) {
            rc = STORE_ENOENT;
            jc_errf(err, "model '%s': its file %s is not there (download it with 'janc models pull %s')", id,
                    m->main_file ? m->main_file : "(none named)", id);
        } else {
            char *dir = jc_path_join(s->models_dir, id);
            *gguf_path = jc_path_join(dir, m->main_file);
            free(dir);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_get_settings(store *s, const char *id, store_settings *out, jc_err *err)
{
    int rc = STORE_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    smodel *m = usable_locked(s, id, &rc, err);
    if (m) {
        json_t *st = json_object_get(m->obj, "settings");
        mj_as_int(json_object_get(st, "ctx_len"), &out->ctx_len);
        mj_as_int(json_object_get(st, "ngl"), &out->ngl);
        mj_as_bool(json_object_get(st, "embedding"), &out->embedding);
        mj_as_int(json_object_get(st, "n_parallel"), &out->n_parallel);
        json_t *pt = json_object_get(st, "prompt_template");
        if (json_is_string(pt))
            out->prompt_template = jc_xstrdup(json_string_value(pt));
        char *proj = mj_ref_basename(json_string_value(json_object_get(st, "mmproj")));
        if (proj) {
            char *dir = jc_path_join(s->models_dir, id);
            out->mmproj = jc_path_join(dir, proj);
            free(dir);
            free(proj);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void store_settings_free(store_settings *st)
{
    if (!st)
        return;
    free(st->prompt_template);
    free(st->mmproj);
    st->prompt_template = st->mmproj = NULL;
}

int store_get_params(store *s, const char *id, store_params *out, jc_err *err)
{
    int rc = STORE_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    smodel *m = usable_locked(s, id, &rc, err);
    if (m) {
        json_t *p = json_object_get(m->obj, "parameters");
        mj_as_num(json_object_get(p, "temperature"), &out->temperature);
        mj_as_int(json_object_get(p, "token_limit"), &out->token_limit);
        mj_as_int(json_object_get(p, "top_k"), &out->top_k);
        mj_as_num(json_object_get(p, "top_p"), &out->top_p);
        mj_as_bool(json_object_get(p, "stream"), &out->stream);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_set_state(store *s, const char *id, const char *state, const char *message)
{
    static const char *const ok[] = {"starting", "running", "stopping", "error", "ready"};
    if (state) {
        bool known = false;
        for (size_t i = 0; i < JC_ARRAY_LEN(ok); i++)
            known |= !strcmp(state, ok[i]);
        if (!known)
            return STORE_EINVAL;
    }
    pthread_mutex_lock(&s->mu);
    smodel *m = id ? store_find_locked(s, id) : NULL;
    if (!m) {
        pthread_mutex_unlock(&s->mu);
        return STORE_ENOENT;
    }
    free(m->rt_state);
    free(m->rt_msg);
    m->rt_state = m->rt_msg = NULL;
    if (state && strcmp(state, "ready")) {
        m->rt_state = jc_xstrdup(state);
        if (message)
            m->rt_msg = jc_xstrdup(message);
    }
    pthread_mutex_unlock(&s->mu);
    return STORE_OK;
}

/* ---- changing models ------------------------------------------------------------------- */

int store_update(store *s, const char *id, const json_t *patch, jc_err *err)
{
    int rc = STORE_OK;
    char *text = NULL, *path = NULL;
    json_t *raw = NULL, *check = NULL;
    pthread_mutex_lock(&s->mu);
    smodel *m = id ? store_find_locked(s, id) : NULL;
    if (!m || m->loose_path) {
        rc = STORE_ENOENT;
        jc_errf(err, "model '%s' not found", id ? id : "");
        goto out;
    }
    if (!m->raw) {
        rc = STORE_EIO;
        jc_errf(err, "model '%s': its model.json cannot be read, so janc will not rewrite it: %s", id,
                m->error ? m->error : "");
        goto out;
    }
    raw = json_deep_copy(m->raw);
    if (mj_merge(raw, patch, err)) {
        rc = STORE_EINVAL;
        goto out;
    }
    char *dir = jc_path_join(s->models_dir, id);
    mj_ctx ctx = {.id = id, .dir = dir, .main_file = m->main_file};
    check = mj_model(raw, &ctx, err);
    free(dir);
    if (!check) {
        rc = STORE_EINVAL;
        goto out;
    }
    text = mj_dump(raw);
    path = jc_xasprintf("%s/%s/model.json", s->models_dir, id);
    if (jc_write_atomic(path, text, strlen(text), 0644, err)) {
        rc = STORE_EIO;
        goto out;
    }
    store_reload_locked(s, id);
out:
    pthread_mutex_unlock(&s->mu);
    json_decref(raw);
    json_decref(check);
    free(text);
    free(path);
    return rc;
}

int store_delete(store *s, const char *id, jc_err *err)
{
    if (!id || !store_id_ok(id)) {
        jc_errf(err, "model '%s' not found", id ? id : "");
        return STORE_ENOENT;
    }
    pthread_mutex_lock(&s->mu);
    smodel *m = store_find_locked(s, id);
    bool known = m != NULL;
    pthread_mutex_unlock(&s->mu);
    if (!known) {
        jc_errf(err, "model '%s' not found", id);
        return STORE_ENOENT;
    }
    store_dl_forget(s, id); /* stops a download first: it writes into the folder */
    int rc = STORE_OK;
    pthread_mutex_lock(&s->mu);
    m = store_find_locked(s, id);
    if (m && m->loose_path) {
        if (unlink(m->loose_path) < 0 && errno != ENOENT) {
            rc = STORE_EIO;
            jc_errf(err, "%s: %s", m->loose_path, strerror(errno));
        }
    } else if (m) {
        char *dir = jc_path_join(s->models_dir, id);
        if (store_rmtree(dir, err)) {
            rc = STORE_EIO;
            jc_err_prefix(err, "removing %s", dir);
        }
        free(dir);
    }
    if (!rc && m)
        store_drop_locked(s, id);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
