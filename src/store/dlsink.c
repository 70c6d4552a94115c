/*
 * dlsink.c — a download's .part file: bytes gathered into large blocks,
 * each block written to the file and then handed to a hasher thread that
 * feeds it to SHA-256 while the next block fills. See dlsink.h for the
 * threading rules.
 *
 * The blocks form a ring of DLSINK_NBLK buffers of DLSINK_BLK bytes. Two
 * counters under mu say who has which: blocks [hashed, filled) (mod
 * DLSINK_NBLK) wait for the hasher, block filled % DLSINK_NBLK is the one
 * the owner fills, the others are free. The owner writes a block to the
 * file before handing it over, so the hash never covers a byte the file
 * does not hold; it waits only when every block is still with the hasher,
 * which bounds the lag to DLSINK_NBLK blocks. The bytes already in the file
 * at open (a resume) are read back and hashed by the hasher first.
 *
 * Writeback: every DLSINK_WB_STEP bytes the owner starts the writeback of
 * what it wrote since the last step (sync_file_range), waits for the step
 * before that (started long enough ago to be done) and drops it from the
 * page cache. So by the end of the download most of the file is on disk
 * already and dlsink_sync's fsync only waits for the tail; and the page
 * cache holds a few MiB of the download instead of all of it, which spares
 * the memory a large model would push out (and, on a VM whose free memory
 * goes back to the host, a slow first touch of each new page). Where the
 * file system cannot do this, fsync does the whole job; a write error the
 * disk reports on the way is a download error, as from write.
 */
#include "store/dlsink.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DLSINK_BLK ((size_t)1 << 20)       /* one block: one write, one hash update */
#define DLSINK_NBLK 8                      /* blocks in the ring */
#define DLSINK_WB_STEP ((uint64_t)8 << 20) /* writeback is started (and dropped) this much at a time */

struct dlsink {
    char *path;
    int fd;
    uint64_t existing; /* bytes in the file at open, hashed before any block (set before the hasher starts) */
    pthread_t hasher;
    bool hasher_live; /* started and not joined (the owner's) */
    EVP_MD_CTX *md;   /* the hasher's while it runs, the owner's after the join */
    char *blk[DLSINK_NBLK];
    size_t len[DLSINK_NBLK]; /* bytes in each block; the owner sets it before handing the block over */

    /* the owner's */
    uint64_t size;    /* bytes in the file */
    size_t cur;       /* bytes in the block being filled */
    uint64_t wb;      /* writeback started for [0, wb) */
    uint64_t dropped; /* [0, dropped) is on disk and out of the page cache */
    bool wb_ok;       /* sync_file_range works on this file system */

    pthread_mutex_t mu;
    pthread_cond_t work;     /* to the hasher: a block, reset, quit */
    pthread_cond_t progress; /* to the owner: a block hashed, reset done, failure (CLOCK_MONOTONIC) */
    /* guarded by mu */
    bool existing_done; /* the bytes that were there at open are hashed */
    uint64_t filled;    /* blocks handed to the hasher; changed by the owner only, who reads it unlocked */
    uint64_t hashed;    /* blocks hashed (a reset makes it filled) */
    bool reset, quit;   /* requests to the hasher: start the hash again / stop */
    bool failed;        /* the hasher could not read the existing bytes; sticky */
    int fail_errno;
    jc_err fail;
};

/* Marks the sink failed because OpenSSL's SHA-256 failed (mu held). */
static void hash_failed(dlsink *k)
{
    if (k->failed)
        return;
    k->failed = true;
    k->fail_errno = EIO;
    jc_errf(&k->fail, "%s: computing the SHA-256 failed (OpenSSL)", k->path);
    pthread_cond_broadcast(&k->progress);
}

/* The hasher, first part: the bytes that were in the file at open. 0, or -1 (failed set, or quit). */
static int hash_existing(dlsink *k)
{
    uint64_t have = k->existing;
    char *buf = have ? jc_xmalloc(DLSINK_BLK) : NULL;
    int rc = 0;
    for (uint64_t off = 0; off < have;) {
        ssize_t r = pread(k->fd, buf, (size_t)JC_MIN(have - off, (uint64_t)DLSINK_BLK), (off_t)off);
        int e = errno;
        bool md_ok = true;
        if (r > 0) {
            md_ok = EVP_DigestUpdate(k->md, buf, (size_t)r) == 1;
            off += (uint64_t)r;
            /* these pages are clean: dropping them keeps a long resume from filling the page cache */
            posix_fadvise(k->fd, (off_t)(off - (uint64_t)r), r, POSIX_FADV_DONTNEED);
        }
        pthread_mutex_lock(&k->mu);
        if (!md_ok) {
            hash_failed(k);
        } else if (r <= 0 && !(r < 0 && e == EINTR)) {
            k->failed = true;
            k->fail_errno = r < 0 ? e : EIO;
            jc_errf(&k->fail, "%s: cannot read the partial file: %s", k->path,
                    r < 0 ? strerror(e) : "it is shorter than it was");
        }
        bool stop = k->failed || k->quit;
        pthread_mutex_unlock(&k->mu);
        if (stop) {
            rc = -1;
            break;
        }
    }
    free(buf);
    pthread_mutex_lock(&k->mu);
    k->existing_done = rc == 0;
    pthread_cond_broadcast(&k->progress);
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* The hasher thread: the existing bytes, then each block as the owner hands it over. */
static void *hasher_main(void *arg)
{
    dlsink *k = arg;
    hash_existing(k); /* on a failure the owner hears of it (failed); below, nothing more is hashed */
    pthread_mutex_lock(&k->mu);
    for (;;) {
        if (k->quit)
            break;
        if (k->reset) {
            if (EVP_DigestInit_ex(k->md, EVP_sha256(), NULL) != 1)
                hash_failed(k);
            k->hashed = k->filled; /* the blocks not hashed yet hold old bytes: they are free again */
            k->reset = false;
            pthread_cond_broadcast(&k->progress);
            continue;
        }
        if (k->failed || k->hashed == k->filled) {
            pthread_cond_wait(&k->work, &k->mu);
            continue;
        }
        size_t b = (size_t)(k->hashed % DLSINK_NBLK);
        pthread_mutex_unlock(&k->mu);
        const bool md_ok = EVP_DigestUpdate(k->md, k->blk[b], k->len[b]) == 1;
        pthread_mutex_lock(&k->mu);
        if (!md_ok)
            hash_failed(k);
        k->hashed++;
        pthread_cond_broadcast(&k->progress);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The hasher's failure as the owner's error (lock held). Returns -1. */
static int failed_locked(dlsink *k, jc_err *err)
{
    if (err)
        *err = k->fail;
    errno = k->fail_errno;
    return -1;
}

dlsink *dlsink_open(const char *path, jc_err *err)
{
    dlsink *k = jc_xcalloc(1, sizeof *k);
    k->path = jc_xstrdup(path);
    k->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (k->fd < 0 || fstat(k->fd, &st) < 0) {
        jc_errf(err, "%s: %s", path, strerror(errno));
        goto fail;
    }
    k->size = k->existing = (uint64_t)st.st_size;
    k->wb = k->dropped = k->size & ~(DLSINK_WB_STEP - 1);
    k->wb_ok = true;
    k->md = EVP_MD_CTX_new();
    if (!k->md || !EVP_DigestInit_ex(k->md, EVP_sha256(), NULL)) {
        jc_errf(err, "%s: cannot start SHA-256", path);
        goto fail;
    }
    for (int i = 0; i < DLSINK_NBLK; i++)
        k->blk[i] = jc_xmalloc(DLSINK_BLK);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->work, NULL);
    pthread_cond_init(&k->progress, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&k->hasher, NULL, hasher_main, k)) {
        jc_errf(err, "%s: cannot start the hashing thread", path);
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->work);
        pthread_cond_destroy(&k->progress);
        goto fail;
    }
    k->hasher_live = true;
    return k;
fail:
    if (k->fd >= 0)
        close(k->fd);
    EVP_MD_CTX_free(k->md);
    for (int i = 0; i < DLSINK_NBLK; i++)
        free(k->blk[i]);
    free(k->path);
    free(k);
    return NULL;
}

uint64_t dlsink_size(const dlsink *k)
{
    return k->size + k->cur;
}

/*
 * Once DLSINK_WB_STEP bytes were written since the last time: starts the
 * writeback of them, waits for the step before (started long enough ago to
 * be done, as a rule) and drops that from the page cache. 0, or -1 with
 * errno set when the disk reported a write error. That error must not be
 * ignored: the wait has consumed it, and fsync on this file would no
 * longer report it. So the file is also cut back to the bytes known to be
 * on disk (those waited for before): a later resume re-reads and re-hashes
 * the .part, and must not find pages the disk never got.
 */
static int writeback(dlsink *k)
{
    if (!k->wb_ok || k->size - k->wb < DLSINK_WB_STEP)
        return 0;
    const uint64_t on_disk = k->dropped;
    int rc = sync_file_range(k->fd, (off_t)k->wb, (off_t)(k->size - k->wb), SYNC_FILE_RANGE_WRITE);
    k->wb = k->size;
    uint64_t to = (k->wb - DLSINK_WB_STEP) & ~(DLSINK_WB_STEP - 1);
    if (rc == 0 && to > k->dropped) {
        off_t off = (off_t)k->dropped, n = (off_t)(to - k->dropped);
        rc = sync_file_range(
            k->fd, off, n, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        if (rc == 0)
            posix_fadvise(k->fd, off, n, POSIX_FADV_DONTNEED); /* a hint, nothing more */
        k->dropped = to;
    }
    if (rc < 0 && (errno == ENOSYS || errno == EINVAL || errno == ESPIPE || errno == EOPNOTSUPP)) {
        k->wb_ok = false; /* not to be had on this file system: fsync does the whole job */
        return 0;
    }
    if (rc < 0) {
        const int e = errno;
        if (ftruncate(k->fd, (off_t)on_disk) == 0)
            k->size = k->wb = k->dropped = on_disk;
        errno = e;
    }
    return rc;
}

/*
 * Writes the block being filled to the file, hands it to the hasher and
 * waits for a free block to fill next. 0, or -1 with err and errno set.
 */
static int submit(dlsink *k, jc_err *err)
{
    size_t b = (size_t)(k->filled % DLSINK_NBLK);
    for (size_t w = 0; w < k->cur;) {
        ssize_t r = pwrite(k->fd, k->blk[b] + w, k->cur - w, (off_t)k->size);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            jc_errf(err, "%s: %s", k->path, strerror(e));
            k->cur = 0; /* what was not written is dropped: dlsink_size stays the file's */
            errno = e;
            return -1;
        }
        w += (size_t)r;
        k->size += (uint64_t)r;
    }
    if (writeback(k) < 0) {
        int e = errno;
        jc_errf(err, "%s: writing it to disk: %s", k->path, strerror(e));
        k->cur = 0;
        errno = e;
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&k->mu);
    k->len[b] = k->cur;
    k->filled++;
    pthread_cond_signal(&k->work);
    while (!k->failed && k->filled - k->hashed >= DLSINK_NBLK)
        pthread_cond_wait(&k->progress, &k->mu);
    if (k->failed)
        rc = failed_locked(k, err);
    pthread_mutex_unlock(&k->mu);
    k->cur = 0;
    return rc;
}

int dlsink_write(dlsink *k, const void *p, size_t n, jc_err *err)
{
    /* libcurl hands the body over 16 KiB at a time: gathered, it costs one write per block */
    const char *c = p;
    while (n) {
        size_t m = JC_MIN(n, DLSINK_BLK - k->cur);
        memcpy(k->blk[k->filled % DLSINK_NBLK] + k->cur, c, m); /* the owner's block: the hasher keeps off */
        k->cur += m;
        c += m;
        n -= m;
        if (k->cur == DLSINK_BLK && submit(k, err))
            return -1;
    }
    return 0;
}

int dlsink_flush(dlsink *k, jc_err *err)
{
    return k->cur ? submit(k, err) : 0;
}

int dlsink_restart(dlsink *k, jc_err *err)
{
    /* the hasher lets go of the old blocks first; then the file is cut */
    assert(k->hasher_live);
    k->cur = 0;
    pthread_mutex_lock(&k->mu);
    k->reset = true;
    pthread_cond_signal(&k->work);
    while (k->reset)
        pthread_cond_wait(&k->progress, &k->mu);
    pthread_mutex_unlock(&k->mu);
    k->size = k->wb = k->dropped = 0;
    if (ftruncate(k->fd, 0) < 0)
        return jc_errf(err, "%s: cannot empty it: %s", k->path, strerror(errno));
    return 0;
}

int dlsink_wait_hashed(dlsink *k, int timeout_ms, jc_err *err)
{
    assert(!k->cur);
    const struct timespec until = jc_deadline(CLOCK_MONOTONIC, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&k->mu);
    while (!k->failed && !(k->existing_done && k->hashed == k->filled))
        if (pthread_cond_timedwait(&k->progress, &k->mu, &until) == ETIMEDOUT)
            break;
    if (k->failed)
        rc = failed_locked(k, err);
    else if (k->existing_done && k->hashed == k->filled)
        rc = 1;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* Stops and joins the hasher if it runs. */
static void stop_hasher(dlsink *k)
{
    if (!k->hasher_live)
        return;
    pthread_mutex_lock(&k->mu);
    k->quit = true;
    pthread_cond_signal(&k->work);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->hasher, NULL);
    k->hasher_live = false;
}

int dlsink_digest(dlsink *k, unsigned char sha[32], jc_err *err)
{
    stop_hasher(k);
    if (k->failed) /* the hasher is joined: no lock needed */
        return jc_errf(err, "%s", k->fail.msg);
    if (!k->existing_done || k->hashed != k->filled || k->cur)
        return jc_errf(err, "%s: the SHA-256 was asked for before every byte was hashed", k->path);
    unsigned len = 0;
    if (EVP_DigestFinal_ex(k->md, sha, &len) != 1 || len != 32)
        return jc_errf(err, "%s: computing the SHA-256 failed (OpenSSL)", k->path);
    return 0;
}

int dlsink_sync(dlsink *k, jc_err *err)
{
    if (fsync(k->fd) < 0)
        return jc_errf(err, "%s: fsync: %s", k->path, strerror(errno));
    return 0;
}

void dlsink_close(dlsink *k)
{
    if (!k)
        return;
    stop_hasher(k);
    close(k->fd);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->work);
    pthread_cond_destroy(&k->progress);
    EVP_MD_CTX_free(k->md);
    for (int i = 0; i < DLSINK_NBLK; i++)
        free(k->blk[i]);
    free(k->path);
    free(k);
}
