/*
 * store_watch.c — following the models folder live with inotify while
 * `janc serve` runs: a GGUF dropped into models/ is imported once complete
 * (closed after writing, or moved in, and gguf_open's size checks pass), a
 * model.json edited by hand is reloaded, a removed folder leaves the list,
 * a new folder is loaded. One thread reads the events; it stops when
 * store_watch_stop writes to its pipe.
 *
 * Watches: models/ (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
 * IN_CLOSE_WRITE) and each model folder (the same set). Names starting with
 * '.' (staging folders, editors' temporary files), *.part and the temporary
 * files of atomic writes are ignored; an event queue overflow rescans.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/fs.h"
#include "store/store_int.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE)

static bool ignored_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n > 5 && !strcmp(name + n - 5, ".part")) || strstr(name, ".tmp.") != NULL;
}

void store_watch_add_locked(store *s, const char *id)
{
    if (s->ifd < 0)
        return;
    char *dir = jc_path_join(s->models_dir, id);
    int wd = inotify_add_watch(s->ifd, dir, WATCH_MASK | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd < 0 && errno != ENOENT && errno != ENOTDIR)
        jc_warn("%s: not followed live: inotify: %s%s", dir, strerror(errno),
                errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    free(dir);
    if (wd < 0)
        return;
    for (size_t i = 0; i < s->n_wds; i++) {
        if (s->wds[i].wd == wd) {
            free(s->wds[i].id);
            s->wds[i].id = jc_xstrdup(id);
            return;
        }
    }
    if (s->n_wds == s->cap_wds) {
        s->cap_wds = s->cap_wds ? 2 * s->cap_wds : 64;
        s->wds = jc_xrealloc(s->wds, s->cap_wds * sizeof *s->wds);
    }
    s->wds[s->n_wds].wd = wd;
    s->wds[s->n_wds].id = jc_xstrdup(id);
    s->n_wds++;
}

static void forget_wd_locked(store *s, int wd)
{
    for (size_t i = 0; i < s->n_wds; i++) {
        if (s->wds[i].wd == wd) {
            free(s->wds[i].id);
            s->wds[i] = s->wds[--s->n_wds];
            return;
        }
    }
}

/* The folder id a watch stands for (a copy), or NULL for models/ itself or an unknown watch. */
static char *wd_id_locked(store *s, int wd)
{
    for (size_t i = 0; i < s->n_wds; i++)
        if (s->wds[i].wd == wd)
            return jc_xstrdup(s->wds[i].id);
    return NULL;
}

static void add_all_locked(store *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->models[i]->loose_path)
            store_watch_add_locked(s, s->models[i]->id);
}

static void handle(store *s, int root_wd, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        store_rescan(s);
        pthread_mutex_lock(&s->mu);
        add_all_locked(s);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (ev->mask & IN_IGNORED) {
        pthread_mutex_lock(&s->mu);
        forget_wd_locked(s, ev->wd);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!ev->len || ignored_name(ev->name))
        return;
    const char *name = ev->name;
    if (ev->wd == root_wd) {
        if (ev->mask & IN_ISDIR) {
            pthread_mutex_lock(&s->mu);
            if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
                store_watch_add_locked(s, name);
                store_reload_locked(s, name);
            } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                smodel *m = store_find_locked(s, name);
                if (m && !m->loose_path)
                    store_drop_locked(s, name);
            }
            pthread_mutex_unlock(&s->mu);
        } else if (store_is_gguf_name(name)) {
            if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                store_drop_in(s, name);
            } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
                pthread_mutex_lock(&s->mu);
                char *id = store_id_from_name(name);
                smodel *m = store_find_locked(s, id);
                if (m && m->loose_path)
                    store_drop_locked(s, id);
                free(id);
                pthread_mutex_unlock(&s->mu);
            }
        }
        return;
    }
    /* an event inside a model folder: reload that folder */
    if (ev->mask & IN_CREATE)
        return; /* wait for the close */
    bool arrived = (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) && store_is_gguf_name(name);
    pthread_mutex_lock(&s->mu);
    char *id = wd_id_locked(s, ev->wd);
    if (id)
        store_reload_ex_locked(s, id, arrived);
    pthread_mutex_unlock(&s->mu);
    free(id);
}

static void *watch_main(void *arg)
{
    store *s = arg;
    int root_wd = -1;
    pthread_mutex_lock(&s->mu);
    root_wd = inotify_add_watch(s->ifd, s->models_dir, WATCH_MASK | IN_ONLYDIR);
    if (root_wd < 0)
        jc_warn("%s: not followed live: inotify: %s", s->models_dir, strerror(errno));
    add_all_locked(s);
    pthread_mutex_unlock(&s->mu);
    /* anything dropped between store_open's scan and the watches being set */
    store_rescan(s);
    pthread_mutex_lock(&s->mu);
    add_all_locked(s);
    pthread_mutex_unlock(&s->mu);

    _Alignas(struct inotify_event) char buf[64 * 1024];
    for (;;) {
        struct pollfd p[2] = {{.fd = s->ifd, .events = POLLIN}, {.fd = s->stop_fd[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        ssize_t n = read(s->ifd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            handle(s, root_wd, ev);
            off += (ssize_t)(sizeof *ev + ev->len);
        }
    }
    return NULL;
}

int store_watch_start(store *s, jc_err *err)
{
    if (s->watching)
        return STORE_OK;
    s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->ifd < 0) {
        jc_errf(err, "inotify: %s", strerror(errno));
        return STORE_EIO;
    }
    if (pipe2(s->stop_fd, O_CLOEXEC) < 0) {
        jc_errf(err, "pipe: %s", strerror(errno));
        close(s->ifd);
        s->ifd = -1;
        return STORE_EIO;
    }
    if (pthread_create(&s->watch_thread, NULL, watch_main, s)) {
        jc_errf(err, "cannot start the watcher thread");
        close(s->ifd);
        close(s->stop_fd[0]);
        close(s->stop_fd[1]);
        s->ifd = s->stop_fd[0] = s->stop_fd[1] = -1;
        return STORE_EIO;
    }
    s->watching = true;
    return STORE_OK;
}

void store_watch_stop(store *s)
{
    if (!s || !s->watching)
        return;
    ssize_t w;
    do
        w = write(s->stop_fd[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(s->watch_thread, NULL);
    close(s->ifd);
    close(s->stop_fd[0]);
    close(s->stop_fd[1]);
    s->ifd = s->stop_fd[0] = s->stop_fd[1] = -1;
    for (size_t i = 0; i < s->n_wds; i++)
        free(s->wds[i].id);
    s->n_wds = 0;
    s->watching = false;
}
