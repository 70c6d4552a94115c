/*
 * fs.c — bounded reads, atomic writes, mkdir -p and mappings (see fs.h).
 */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

char *jc_read_file(const char *path, size_t max, size_t *len, jc_err *err)
{
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        jc_errf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        jc_errf(err, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        jc_errf(err, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        jc_errf(err, "%s: file is %lld bytes, more than the %zu allowed", path, (long long)st.st_size, max);
        goto out;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = jc_try_malloc(size + 1, err);
    if (!buf)
        goto out;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            jc_errf(err, "%s: %s", path, strerror(errno));
            free(buf);
            buf = NULL;
            goto out;
        }
        if (n == 0)
            break; /* file shrank while reading: keep what is there */
        got += (size_t)n;
    }
    buf[got] = 0;
    if (len)
        *len = got;
out:
    close(fd);
    return buf;
}

int jc_atomic_begin(jc_atomic *a, const char *path, int mode, jc_err *err)
{
    a->path = jc_xstrdup(path);
    a->tmp = jc_xasprintf("%s.tmp.XXXXXX", path);
    a->fd = mkstemp(a->tmp);
    if (a->fd < 0) {
        jc_errf(err, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(a->tmp);
        free(a->path);
        a->tmp = a->path = NULL;
        return -1;
    }
    if (fchmod(a->fd, (mode_t)mode) < 0) {
        jc_errf(err, "%s: chmod: %s", a->tmp, strerror(errno));
        jc_atomic_abort(a);
        return -1;
    }
    return 0;
}

void jc_atomic_abort(jc_atomic *a)
{
    if (a->fd >= 0)
        close(a->fd);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    a->fd = -1;
    a->tmp = a->path = NULL;
}

int jc_atomic_commit(jc_atomic *a, jc_err *err)
{
    if (fsync(a->fd) < 0) {
        jc_errf(err, "%s: fsync: %s", a->tmp, strerror(errno));
        goto fail;
    }
    int fd = a->fd;
    a->fd = -1;
    if (close(fd) < 0) {
        jc_errf(err, "%s: close: %s", a->tmp, strerror(errno));
        goto fail;
    }
    if (rename(a->tmp, a->path) < 0) {
        jc_errf(err, "%s: rename: %s", a->path, strerror(errno));
        goto fail;
    }
    char *dir = jc_xstrdup(a->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    return 0;
fail:
    jc_atomic_abort(a);
    return -1;
}

int jc_write_atomic(const char *path, const void *data, size_t len, int mode, jc_err *err)
{
    jc_atomic a;
    if (jc_atomic_begin(&a, path, mode, err))
        return -1;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(a.fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            jc_errf(err, "%s: write: %s", a.tmp, strerror(errno));
            jc_atomic_abort(&a);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    return jc_atomic_commit(&a, err);
}

int jc_mkdir_p(const char *path, int mode, jc_err *err)
{
    char *p = jc_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                rc = jc_errf(err, "%s: %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    if (!rc) {
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            rc = jc_errf(err, "%s: not a folder", path);
    }
    free(p);
    return rc;
}

char *jc_path_join(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n && a[n - 1] == '/')
        return jc_xasprintf("%s%s", a, b);
    return jc_xasprintf("%s/%s", a, b);
}

int jc_map_open(jc_map *m, const char *path, jc_err *err)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jc_errf(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return jc_errf(err, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return jc_errf(err, "%s: mmap: %s", path, strerror(errno));
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void jc_map_close(jc_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
