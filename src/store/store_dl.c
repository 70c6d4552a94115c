/*
 * store_dl.c — downloads: `janc models pull`, POST /v1/models.
 *
 * A pull creates models/<id>/ with a model.json naming the source and the
 * file, then a thread downloads into <file>.part with libcurl (redirects
 * followed, proxy variables honoured, http/https/file only). A .part left
 * by a dropped connection or an earlier run is resumed with a Range request;
 * a server that ignores Range (200 instead of 206) restarts from zero. The
 * bytes go through a dlsink (dlsink.h): written in large blocks, hashed
 * (SHA-256) on a thread beside the transfer while it runs — the existing
 * .part first — and handed to the disk as they come. The hash is checked
 * against metadata.sha256, or a sha256 ETag / X-Linked-ETag as Hugging
 * Face sends. When the size and hash check out and the file is a complete
 * GGUF, it is fsynced, renamed into place and model.json is filled in as
 * import does. Cancel (or rm) removes the .part; a failure keeps it
 * (except a hash mismatch or a complete file that is not a GGUF).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "store/dlsink.h"
#include "store/mj.h"
#include "store/store_int.h"

/* Attempts in a row that move no bytes before a download gives up. */
#define DL_MAX_IDLE_ATTEMPTS 4
/* Attempts in all, however much each one moves. */
#define DL_MAX_ATTEMPTS 50

enum dl_state { DL_RUNNING, DL_DONE, DL_ERROR, DL_CANCELLED };
static const char *const dl_state_names[] = {"downloading", "done", "error", "cancelled"};

struct sdl {
    store *s;
    char *id, *url, *file, *part, *dest;
    char *want_sha;      /* lowercase hex from model.json metadata.sha256, or NULL */
    uint64_t want_size;  /* metadata.size when metadata.sha256 is there too, or 0 */
    pthread_t th;
    bool thread_live;    /* started and not joined */
    atomic_bool cancel;  /* stop and remove the .part */
    atomic_bool stop;    /* stop and keep the .part (shutdown) */

    /* guarded by s->mu */
    enum dl_state state;
    uint64_t transferred, total;
    double speed, t_start;
    uint64_t start_bytes;
    char *error;

    /* the thread's own */
    dlsink *sink; /* the .part: written, hashed, handed to the disk (dlsink.h) */
    /* the thread's own, per attempt */
    long status;            /* HTTP status of the current response */
    uint64_t have;          /* bytes in .part when the request was sent */
    int64_t content_length; /* -1 unknown */
    int64_t range_start, range_total;
    char etag[80], linked_etag[80];
    bool first_write, http_failed, overflow, write_failed;
    int write_errno;
    jc_err write_err;
};

/* ---- records ------------------------------------------------------------------------- */

static sdl *find_dl_locked(store *s, const char *id)
{
    for (size_t i = 0; i < s->n_dls; i++)
        if (!strcmp(s->dls[i]->id, id))
            return s->dls[i];
    return NULL;
}

static void sdl_free(sdl *d)
{
    if (!d)
        return;
    free(d->id);
    free(d->url);
    free(d->file);
    free(d->part);
    free(d->dest);
    free(d->want_sha);
    free(d->error);
    free(d);
}

static json_t *progress_json_locked(const sdl *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "transferred", json_integer((json_int_t)d->transferred));
    json_object_set_new(o, "total", json_integer((json_int_t)d->total));
    double pct = d->total ? 100.0 * (double)d->transferred / (double)d->total : 0;
    json_object_set_new(o, "percent", json_real(pct > 100 ? 100 : pct));
    json_object_set_new(o, "speed", json_real(d->speed));
    double eta = d->speed > 0 && d->total > d->transferred ? (double)(d->total - d->transferred) / d->speed : 0;
    json_object_set_new(o, "eta", json_real(eta));
    json_object_set_new(o, "state", json_string(dl_state_names[d->state]));
    if (d->error)
        json_object_set_new(o, "error", json_string(d->error));
    return o;
}

json_t *store_dl_json_locked(store *s, const char *id)
{
    sdl *d = find_dl_locked(s, id);
    if (!d || (d->state != DL_RUNNING && d->state != DL_ERROR))
        return NULL;
    return progress_json_locked(d);
}

const char *store_dl_state_locked(store *s, const char *id, const char **msg)
{
    sdl *d = find_dl_locked(s, id);
    *msg = NULL;
    if (!d)
        return NULL;
    if (d->state == DL_RUNNING)
        return "downloading";
    if (d->state == DL_ERROR) {
        *msg = d->error;
        return "error";
    }
    return NULL;
}

json_t *store_download_json(store *s, const char *id)
{
    if (!id)
        return NULL;
    pthread_mutex_lock(&s->mu);
    sdl *d = find_dl_locked(s, id);
    json_t *o = d ? progress_json_locked(d) : NULL;
    pthread_mutex_unlock(&s->mu);
    return o;
}

/* Takes d out of the list (lock held). */
static void unlist_locked(store *s, sdl *d)
{
    for (size_t i = 0; i < s->n_dls; i++) {
        if (s->dls[i] == d) {
            s->dls[i] = s->dls[--s->n_dls];
            return;
        }
    }
}

/* Joins d's thread if nobody else does (lock not held). */
static void join_dl(store *s, sdl *d)
{
    pthread_mutex_lock(&s->mu);
    bool mine = d->thread_live;
    d->thread_live = false;
    pthread_mutex_unlock(&s->mu);
    if (mine)
        pthread_join(d->th, NULL);
}

void store_dl_forget(store *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    sdl *d = find_dl_locked(s, id);
    if (d) {
        atomic_store(&d->cancel, true);
        unlist_locked(s, d);
    }
    pthread_mutex_unlock(&s->mu);
    if (d) {
        join_dl(s, d);
        sdl_free(d);
    }
}

void store_dl_shutdown(store *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_dls; i++)
        atomic_store(&s->dls[i]->stop, true);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->n_dls; i++) {
        join_dl(s, s->dls[i]);
        sdl_free(s->dls[i]);
    }
    s->n_dls = 0;
}

int store_download_cancel(store *s, const char *id)
{
    if (!id)
        return STORE_ENOENT;
    pthread_mutex_lock(&s->mu);
    sdl *d = find_dl_locked(s, id);
    bool running = d && d->state == DL_RUNNING;
    if (running)
        atomic_store(&d->cancel, true);
    pthread_mutex_unlock(&s->mu);
    if (!running)
        return STORE_ENOENT;
    join_dl(s, d);
    return STORE_OK;
}

int store_download_wait(store *s, const char *id, int timeout_ms)
{
    const struct timespec until = jc_deadline(CLOCK_REALTIME, timeout_ms);
    int done = 1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        sdl *d = id ? find_dl_locked(s, id) : NULL;
        if (!d || d->state != DL_RUNNING)
            break;
        if (pthread_cond_timedwait(&s->dl_cond, &s->mu, &until) == ETIMEDOUT) {
            d = find_dl_locked(s, id);
            done = !d || d->state != DL_RUNNING;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* ---- the transfer ---------------------------------------------------------------------- */

static bool is_sha256_hex(const char *h)
{
    if (strlen(h) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F')))
            return false;
    return true;
}

/* Copies an ETag value without W/ and quotes, lowercased. */
static void etag_copy(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= 2 && v[0] == 'W' && v[1] == '/') {
        v += 2;
        n -= 2;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= cap)
        n = 0;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] - 'A' + 'a' : v[i]);
    dst[n] = 0;
}

static bool header_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && !strncasecmp(line, name, k) && line[k] == ':';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    sdl *d = arg;
    size_t n = size * nitems;
    char tmp[256];
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect, or a 100 Continue): start over */
        d->status = 0;
        d->content_length = -1;
        d->range_start = -1;
        d->range_total = -1;
        d->etag[0] = 0;
        const char *sp = memchr(line, ' ', n);
        if (sp)
            d->status = strtol(sp + 1, NULL, 10);
        return n;
    }
    size_t c = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
    memcpy(tmp, line, c);
    tmp[c] = 0;
    char *val = strchr(tmp, ':');
    if (!val)
        return n;
    val++;
    if (header_is(line, n, "Content-Length")) {
        char *end;
        long long v = strtoll(val, &end, 10);
        if (v >= 0)
            d->content_length = v;
    } else if (header_is(line, n, "Content-Range")) {
        long long a, b, t;
        if (sscanf(val, " bytes %lld-%lld/%lld", &a, &b, &t) == 3 && a >= 0 && t > 0) {
            d->range_start = a;
            d->range_total = t;
        }
    } else if (header_is(line, n, "ETag")) {
        etag_copy(d->etag, sizeof d->etag, val, strlen(val));
    } else if (header_is(line, n, "X-Linked-ETag")) {
        etag_copy(d->linked_etag, sizeof d->linked_etag, val, strlen(val));
    }
    return n;
}

/* Cancelled or stopped: the transfer ends at the next callback. */
static bool halted(sdl *d) { return atomic_load(&d->cancel) || atomic_load(&d->stop); }

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    sdl *d = arg;
    size_t n = size * nmemb;
    if (halted(d))
        return 0;
    if (d->first_write) {
        d->first_write = false;
        bool http = d->status != 0;
        if (http && d->status >= 400) {
            d->http_failed = true;
            return 0;
        }
        bool ranged = http ? d->status == 206 : d->have > 0; /* file:// resumes by itself */
        if (d->have && !ranged) {
            /* the server ignored Range: start again from zero */
            if (dlsink_restart(d->sink, &d->write_err)) {
                d->write_failed = true;
                d->write_errno = errno;
                return 0;
            }
            d->have = 0;
            pthread_mutex_lock(&d->s->mu);
            d->transferred = 0;
            d->start_bytes = 0;
            pthread_mutex_unlock(&d->s->mu);
        } else if (http && ranged && d->range_start >= 0 && (uint64_t)d->range_start != d->have) {
            d->http_failed = true; /* a range we did not ask for */
            d->status = 416;
            return 0;
        }
        uint64_t total = 0;
        if (http && ranged && d->range_total > 0)
            total = (uint64_t)d->range_total;
        else if (d->content_length >= 0)
            total = d->have + (uint64_t)d->content_length;
        pthread_mutex_lock(&d->s->mu);
        if (total)
            d->total = total;
        pthread_mutex_unlock(&d->s->mu);
    }
    uint64_t after = d->transferred + n;
    if (d->total && after > d->total) {
        d->overflow = true;
        return 0;
    }
    if (dlsink_write(d->sink, p, n, &d->write_err)) {
        d->write_failed = true;
        d->write_errno = errno;
        return 0;
    }
    pthread_mutex_lock(&d->s->mu);
    d->transferred = after;
    double el = jc_now() - d->t_start;
    if (el > 0.2)
        d->speed = (double)(after - d->start_bytes) / el;
    pthread_mutex_unlock(&d->s->mu);
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    sdl *d = arg;
    return halted(d);
}

/*
 * Waits for the sink's hasher to have hashed every byte of the .part (the
 * bytes already there when resuming, or the tail at the end), checking for
 * cancel and stop meanwhile. 1 when hashed, 0 when halted, -1 on a failure
 * (*error set).
 */
static int wait_hashed(sdl *d, char **error)
{
    jc_err err = {0};
    int h;
    while ((h = dlsink_wait_hashed(d->sink, 100, &err)) == 0)
        if (halted(d))
            return 0;
    if (h < 0)
        *error = jc_xstrdup(err.msg);
    return h;
}

static void finish(sdl *d, enum dl_state st, char *error)
{
    pthread_mutex_lock(&d->s->mu);
    d->state = st;
    free(d->error);
    d->error = error;
    if (error)
        jc_warn("download of %s failed: %s", d->id, error);
    pthread_cond_broadcast(&d->s->dl_cond);
    pthread_mutex_unlock(&d->s->mu);
}

/* Fills model.json from the downloaded GGUF, as import does. */
static int fill_model_json(sdl *d, const store_ginfo *g, const char *sha, jc_err *err)
{
    store *s = d->s;
    int rc = 0;
    char *mjp = jc_xasprintf("%s/%s/model.json", s->models_dir, d->id);
    pthread_mutex_lock(&s->mu);
    json_t *raw = mj_load(mjp, "model.json", NULL, NULL, err);
    if (!raw) {
        rc = -1;
        goto out;
    }
    const char *files[] = {d->file};
    store_fill_from_gguf(raw, g, d->id, d->file, files, 1, (int64_t)time(NULL));
    if (json_object_get(raw, "state"))
        json_object_set_new(raw, "state", json_string("ready"));
    json_t *md = json_object_get(raw, "metadata");
    if (json_is_object(md) && !json_object_get(md, "sha256"))
        json_object_set_new(md, "sha256", json_string(sha));
    char *text = mj_dump(raw);
    rc = jc_write_atomic(mjp, text, strlen(text), 0644, err);
    free(text);
    json_decref(raw);
    store_reload_locked(s, d->id);
out:
    pthread_mutex_unlock(&s->mu);
    free(mjp);
    return rc;
}

static void *dl_main(void *arg)
{
    sdl *d = arg;
    char *error = NULL;
    enum dl_state result = DL_ERROR;
    CURL *c = NULL;
    jc_err jerr = {0};
    d->sink = dlsink_open(d->part, &jerr);
    if (!d->sink) {
        error = jc_xstrdup(jerr.msg);
        goto out;
    }
    /* a .part being resumed: its bytes are hashed first, so the SHA-256 covers the whole file */
    uint64_t have = dlsink_size(d->sink);
    if (have && wait_hashed(d, &error) <= 0)
        goto halted;
    pthread_mutex_lock(&d->s->mu);
    d->transferred = have;
    d->start_bytes = have;
    d->t_start = jc_now();
    pthread_mutex_unlock(&d->s->mu);

    c = curl_easy_init();
    if (!c) {
        error = jc_xstrdup("cannot start libcurl");
        goto out;
    }
    char curl_err[CURL_ERROR_SIZE];
    int idle = 0, attempts = 0;
    uint64_t high = have;
    for (;;) {
        curl_easy_reset(c);
        curl_err[0] = 0;
        d->have = have;
        d->first_write = true;
        d->http_failed = d->overflow = d->write_failed = false;
        d->status = 0;
        d->content_length = d->range_start = d->range_total = -1;
        d->etag[0] = 0;
        curl_easy_setopt(c, CURLOPT_URL, d->url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "janc/0.1");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        /* libcurl's largest receive buffer: fewer, larger callbacks and writes */
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
        if (have)
            curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)have);
        CURLcode res = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        /* what the last callbacks gathered goes to the file: the next attempt resumes after it */
        if (!d->write_failed && dlsink_flush(d->sink, &d->write_err)) {
            d->write_failed = true;
            d->write_errno = errno;
        }
        uint64_t now_have = dlsink_size(d->sink);

        if (halted(d))
            goto halted;
        if (d->write_failed) {
            error = jc_xasprintf("%s%s", d->write_err.msg,
                                 d->write_errno == ENOSPC ? " (the partial file is kept)" : "");
            goto out;
        }
        if (d->overflow) {
            error = jc_xasprintf("the server sent more than the %llu bytes it declared",
                                 (unsigned long long)d->total);
            goto out;
        }
        if ((code == 416 || res == CURLE_RANGE_ERROR) && have) {
            /* the server ignores Range (curl refuses a 200 to a ranged request), or our .part is
               longer than the file: start again from zero */
            if (dlsink_restart(d->sink, &jerr)) {
                error = jc_xstrdup(jerr.msg);
                goto out;
            }
            have = 0;
            pthread_mutex_lock(&d->s->mu);
            d->transferred = d->start_bytes = 0;
            pthread_mutex_unlock(&d->s->mu);
            if (++idle >= DL_MAX_IDLE_ATTEMPTS) {
                error = jc_xasprintf("HTTP %ld from %s", code, d->url);
                goto out;
            }
            continue;
        }
        if (d->http_failed || code >= 400) {
            error = d->http_failed && d->status == 416 && code == 206
                        ? jc_xasprintf("%s answered a range that was not asked for", d->url)
                        : jc_xasprintf("HTTP %ld from %s", code ? code : d->status, d->url);
            goto out;
        }
        if (res == CURLE_OK) {
            have = now_have;
            break;
        }
        if (res == CURLE_FILE_COULDNT_READ_FILE || res == CURLE_COULDNT_RESOLVE_HOST ||
            res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT || res == CURLE_TOO_MANY_REDIRECTS ||
            res == CURLE_REMOTE_ACCESS_DENIED) {
            error = jc_xasprintf("%s: %s", d->url, curl_err[0] ? curl_err : curl_easy_strerror(res));
            goto out;
        }
        /* a dropped connection or a stall: resume from what we have. Progress counts only past
           the furthest point reached, so a server that restarts us from zero cannot loop forever. */
        if (now_have > high) {
            high = now_have;
            idle = 0;
        } else {
            idle++;
        }
        have = now_have;
        if (idle >= DL_MAX_IDLE_ATTEMPTS || ++attempts >= DL_MAX_ATTEMPTS) {
            error = jc_xasprintf("%s (gave up after %d attempts%s)", curl_err[0] ? curl_err : curl_easy_strerror(res),
                                 attempts + 1, have ? "; the partial file is kept" : "");
            goto out;
        }
        jc_info("download of %s interrupted (%s); resuming at byte %llu", d->id,
                curl_err[0] ? curl_err : curl_easy_strerror(res), (unsigned long long)have);
        struct timespec ts = {0, 200000000L * idle};
        nanosleep(&ts, NULL);
    }

    /* complete: check the size, the hash and the file */
    uint64_t total;
    pthread_mutex_lock(&d->s->mu);
    total = d->total;
    pthread_mutex_unlock(&d->s->mu);
    if (total && have != total) {
        error = jc_xasprintf("got %llu bytes but the server declared %llu (the partial file is kept)",
                             (unsigned long long)have, (unsigned long long)total);
        goto out;
    }
    if (d->want_size && have != d->want_size) {
        error = jc_xasprintf("got %llu bytes but model.json says metadata.size %llu", (unsigned long long)have,
                             (unsigned long long)d->want_size);
        unlink(d->part);
        goto out;
    }
    /* the hasher is at most 8 MiB behind: the hash of the whole file is moments away */
    if (wait_hashed(d, &error) <= 0)
        goto halted;
    unsigned char dig[32];
    if (dlsink_digest(d->sink, dig, &jerr)) {
        error = jc_xstrdup(jerr.msg);
        goto out;
    }
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    const char *want = d->want_sha ? d->want_sha
                       : is_sha256_hex(d->linked_etag) ? d->linked_etag
                       : is_sha256_hex(d->etag) ? d->etag
                                                 : NULL;
    if (want && strcasecmp(want, hex)) {
        error = jc_xasprintf("SHA-256 mismatch: expected %s, got %s; the download was removed", want, hex);
        unlink(d->part);
        goto out;
    }
    /* on disk before the rename (most of it is already: the sink started the writeback as it went) */
    if (dlsink_sync(d->sink, &jerr)) {
        error = jc_xstrdup(jerr.msg);
        goto out;
    }
    store_ginfo g;
    jc_err err = {0};
    if (store_ginfo_read(d->part, &g, &err)) {
        error = jc_xasprintf("the downloaded file is not a complete GGUF: %s; it was removed", err.msg);
        unlink(d->part);
        goto out;
    }
    if (rename(d->part, d->dest) < 0) {
        error = jc_xasprintf("%s: %s", d->dest, strerror(errno));
        store_ginfo_free(&g);
        goto out;
    }
    if (fill_model_json(d, &g, hex, &err)) {
        error = jc_xasprintf("downloaded, but model.json could not be updated: %s", err.msg);
        store_ginfo_free(&g);
        goto out;
    }
    store_ginfo_free(&g);
    result = DL_DONE;
    jc_info("downloaded %s (%llu bytes, sha256 %s)", d->id, (unsigned long long)have, hex);
    goto out;
halted: /* cancelled (the .part goes), stopped (it stays), or the .part could not be read (error set) */
    if (!error && atomic_load(&d->cancel))
        result = DL_CANCELLED;
    else if (!error)
        error = jc_xstrdup("stopped; the partial file is kept and the next pull resumes it");
out:
    if (c)
        curl_easy_cleanup(c);
    /* an empty .part (a 404, a refused connection) is not worth keeping; a kept one is resumed
       from what is on disk, so it goes there first (the sink started its writeback as it went) */
    if (d->sink && result == DL_ERROR && dlsink_size(d->sink) == 0) {
        unlink(d->part);
    } else if (d->sink && result == DL_ERROR && access(d->part, F_OK) == 0) { /* not removed above */
        jc_err serr = {0};
        if (dlsink_sync(d->sink, &serr)) {
            char *e = jc_xasprintf("%s; the partial file could not be synced (%s) and was removed",
                                   error ? error : "stopped", serr.msg);
            free(error);
            error = e;
            unlink(d->part);
        }
    }
    dlsink_close(d->sink);
    d->sink = NULL;
    if (result == DL_CANCELLED)
        unlink(d->part);
    if (result == DL_DONE || result == DL_CANCELLED) {
        pthread_mutex_lock(&d->s->mu);
        store_reload_locked(d->s, d->id);
        pthread_mutex_unlock(&d->s->mu);
    }
    finish(d, result, error);
    return NULL;
}

/* ---- starting a pull --------------------------------------------------------------------- */

/* The URL to fetch: Hugging Face /blob/ links become /resolve/ links. NULL if not http(s)/file. */
char *store_url_normalize(const char *u)
{
    bool http = !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
    if (!http && strncasecmp(u, "file://", 7))
        return NULL;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return NULL;
    const char *host = strstr(u, "://") + 3;
    const char *blob = strstr(u, "/blob/");
    if (http && blob && (!strncasecmp(host, "huggingface.co/", 15) || !strncasecmp(host, "hf.co/", 6) ||
                         !strncasecmp(host, "www.huggingface.co/", 19)))
        return jc_xasprintf("%.*s/resolve/%s", (int)(blob - u), u, blob + 6);
    return jc_xstrdup(u);
}

/*
 * A file:// URL must name a regular file (or nothing yet: the download then
 * fails like a 404): a device such as /dev/zero would fill the disk and a
 * FIFO would block the download for good. 0, or -1 with err set.
 */
static int file_url_ok(const char *url, jc_err *err)
{
    if (strncasecmp(url, "file://", 7))
        return 0;
    const char *p = url + 7;
    if (!strncasecmp(p, "localhost/", 10))
        p += 9;
    char *path = jc_xstrdup(p);
    size_t j = 0;
    for (size_t i = 0; path[i]; i++) { /* percent-decoding, as curl does */
        if (path[i] == '%' && isxdigit((unsigned char)path[i + 1]) && isxdigit((unsigned char)path[i + 2])) {
            char hex[3] = {path[i + 1], path[i + 2], 0};
            path[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            path[j++] = path[i];
        }
    }
    path[j] = 0;
    struct stat st;
    int rc = 0;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        rc = jc_errf(err, "'%s' is not a regular file", url);
    free(path);
    return rc;
}

/* The file name a URL downloads to: its last path component, made safe, ending in .gguf. */
static char *url_file_name(const char *url)
{
    const char *start = strstr(url, "://") + 3;
    size_t end = strcspn(start, "?#");
    const char *b = start;
    for (size_t i = 0; i < end; i++)
        if (start[i] == '/')
            b = start + i + 1;
    size_t n = (size_t)(start + end - b);
    if (n > 200)
        n = 200;
    char *f = jc_xmalloc(n + 16);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-';
        f[j] = ok && !(j == 0 && ch == '.') ? ch : '-';
        j++;
    }
    f[j] = 0;
    if (!j)
        strcpy(f, "model");
    if (!store_is_gguf_name(f))
        strcat(f, ".gguf");
    return f;
}

static void write_initial_model_json(const char *path, const char *url, const char *id, const char *file,
                                     jc_err *err, int *rc)
{
    json_t *raw = json_object();
    json_object_set_new(raw, "source_url", json_string(url));
    json_object_set_new(raw, "id", json_string(id));
    json_object_set_new(raw, "object", json_string("model"));
    json_object_set_new(raw, "state", json_string("downloading"));
    json_t *as = json_array();
    json_array_append_new(as, json_string(file));
    json_object_set_new(raw, "assets", as);
    char *text = mj_dump(raw);
    if (jc_write_atomic(path, text, strlen(text), 0644, err))
        *rc = STORE_EIO;
    free(text);
    json_decref(raw);
}

int store_pull(store *s, const char *url_or_id, const char *id_or_null, char **new_id, jc_err *err)
{
    int rc = STORE_OK;
    char *url = NULL, *id = NULL, *file = NULL, *dir = NULL, *sha = NULL;
    uint64_t want_size = 0;
    sdl *d = NULL;
    if (new_id)
        *new_id = NULL;
    if (!url_or_id || !*url_or_id) {
        jc_errf(err, "nothing to pull: give a URL or a model id");
        return STORE_EINVAL;
    }
    if (id_or_null && !store_id_ok(id_or_null)) {
        jc_errf(err, "id '%s': use 1 to %d of A-Z a-z 0-9 . _ - (not starting with '.')", id_or_null, STORE_MAX_ID);
        return STORE_EINVAL;
    }
    bool by_url = strstr(url_or_id, "://") != NULL;
    pthread_mutex_lock(&s->mu);
    if (by_url) {
        url = store_url_normalize(url_or_id);
        if (!url) {
            jc_errf(err, "'%s': only http://, https:// and file:// URLs can be pulled", url_or_id);
            rc = STORE_EINVAL;
            goto out;
        }
        if (file_url_ok(url, err) < 0) {
            rc = STORE_EINVAL;
            goto out;
        }
        file = url_file_name(url);
        id = id_or_null ? jc_xstrdup(id_or_null) : store_id_from_name(file);
    } else {
        id = jc_xstrdup(url_or_id);
    }
    sdl *old = find_dl_locked(s, id);
    if (old && old->state == DL_RUNNING) {
        jc_errf(err, "model '%s' is already being downloaded", id);
        rc = STORE_EEXIST;
        goto out;
    }
    smodel *m = store_find_locked(s, id);
    dir = jc_path_join(s->models_dir, id);
    if (m && m->loose_path) {
        jc_errf(err, "'%s' is taken by a file in the models folder", id);
        rc = STORE_EEXIST;
        goto out;
    }
    if (m) {
        /* an existing model waiting for its file */
        const char *su = json_string_value(json_object_get(m->obj, "source_url"));
        char *norm = su ? store_url_normalize(su) : NULL;
        if (m->error || m->file_present || !norm || (url && strcmp(norm, url))) {
            if (m->error)
                jc_errf(err, "model '%s' cannot be used: %s", id, m->error);
            else if (m->file_present)
                jc_errf(err, "model '%s' already exists and has its file", id);
            else if (!norm)
                jc_errf(err, "model '%s': its source_url is not an http(s) or file URL", id);
            else
                jc_errf(err, "model '%s' already exists with another source_url", id);
            free(norm);
            rc = m->error || !norm ? STORE_EINVAL : STORE_EEXIST;
            goto out;
        }
        free(url);
        url = norm;
        if (file_url_ok(url, err) < 0) {
            rc = STORE_EINVAL;
            goto out;
        }
        free(file);
        file = m->main_file ? jc_xstrdup(m->main_file) : url_file_name(url);
        json_t *md = json_object_get(m->obj, "metadata");
        const char *h = json_string_value(json_object_get(md, "sha256"));
        if (h && is_sha256_hex(h))
            sha = jc_xstrdup(h);
        /* metadata.size is exact only where janc wrote it (with the sha256); Jan's is rounded */
        int64_t sz;
        if (sha && mj_as_int(json_object_get(md, "size"), &sz) && sz > 0)
            want_size = (uint64_t)sz;
    } else if (!by_url) {
        jc_errf(err, "model '%s' not found (give a URL to download a new model)", id);
        rc = STORE_ENOENT;
        goto out;
    } else {
        if (mkdir(dir, 0755) < 0) {
            jc_errf(err, errno == EEXIST ? "'%s' already exists in the models folder" : "%s: cannot create it",
                    errno == EEXIST ? id : dir);
            rc = errno == EEXIST ? STORE_EEXIST : STORE_EIO;
            goto out;
        }
        char *mjp = jc_path_join(dir, "model.json");
        write_initial_model_json(mjp, url, id, file, err, &rc);
        free(mjp);
        if (rc) {
            jc_err e2 = {0};
            store_rmtree(dir, &e2);
            goto out;
        }
    }
    if (old) {
        unlist_locked(s, old);
        pthread_mutex_unlock(&s->mu);
        join_dl(s, old);
        sdl_free(old);
        pthread_mutex_lock(&s->mu);
    }
    d = jc_xcalloc(1, sizeof *d);
    d->s = s;
    d->id = jc_xstrdup(id);
    d->url = jc_xstrdup(url);
    d->file = jc_xstrdup(file);
    d->dest = jc_path_join(dir, file);
    d->part = jc_xasprintf("%s.part", d->dest);
    d->want_sha = sha;
    sha = NULL;
    d->want_size = want_size;
    d->state = DL_RUNNING;
    d->t_start = jc_now();
    if (s->n_dls == s->cap_dls) {
        s->cap_dls = s->cap_dls ? 2 * s->cap_dls : 8;
        s->dls = jc_xrealloc(s->dls, s->cap_dls * sizeof *s->dls);
    }
    s->dls[s->n_dls++] = d;
    if (pthread_create(&d->th, NULL, dl_main, d)) {
        unlist_locked(s, d);
        sdl_free(d);
        jc_errf(err, "cannot start the download thread");
        rc = STORE_EIO;
        goto out;
    }
    d->thread_live = true;
    store_reload_locked(s, id);
    if (new_id)
        *new_id = jc_xstrdup(id);
out:
    pthread_mutex_unlock(&s->mu);
    free(url);
    free(id);
    free(file);
    free(dir);
    free(sha);
    return rc;
}

int store_resume_downloads(store *s)
{
    /* collect first: store_pull takes the lock itself */
    char **ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        smodel *m = s->models[i];
        const char *st = json_string_value(json_object_get(m->raw, "state"));
        if (m->error || m->file_present || !m->main_file || !st || strcmp(st, "downloading"))
            continue;
        char *part = jc_xasprintf("%s/%s/%s.part", s->models_dir, m->id, m->main_file);
        struct stat pst;
        if (stat(part, &pst) == 0 && S_ISREG(pst.st_mode)) {
            ids = jc_xrealloc(ids, (n + 1) * sizeof *ids);
            ids[n++] = jc_xstrdup(m->id);
        }
        free(part);
    }
    pthread_mutex_unlock(&s->mu);
    int started = 0;
    for (size_t i = 0; i < n; i++) {
        jc_err err = {0};
        if (store_pull(s, ids[i], NULL, NULL, &err) == STORE_OK) {
            jc_info("resuming the download of %s", ids[i]);
            started++;
        } else {
            jc_warn("cannot resume the download of %s: %s", ids[i], err.msg);
        }
        free(ids[i]);
    }
    free(ids);
    return started;
}
