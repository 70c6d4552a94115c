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

int jc_write_atomic(const char *path, const void *data, size_t len, int mode, jc_err *err)
{
    int rc = -1, fd = -1;
    char *tmp = jc_xasprintf("%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        jc_errf(err, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            jc_errf(err, "%s: write: %s", tmp, strerror(errno));
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0) {
        jc_errf(err, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        jc_errf(err, "%s: close: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        jc_errf(err, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    char *dir = jc_xstrdup(path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
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
