/*
 * http_mhd.c — the libmicrohttpd side of the HTTP layer (see http.h): the
 * listening socket, the access handler that feeds the request core
 * (http.c) and turns its replies into MHD responses, and the deadline
 * watchdog that cuts slow clients.
 *
 * MHD calls the access handler several times per request in the
 * connection's thread: once with the headers (*con_cls NULL), once per body
 * piece, and once more with no data when the body is complete. The core's
 * http_req lives from the first call until MHD's "request completed"
 * notification. URL unescaping is turned off in MHD so that the route
 * matcher sees the raw path.
 *
 * Deadlines: libmicrohttpd's connection timeout is an idle timeout (every
 * byte resets it), so a client sending a byte a second would hold its
 * connection and thread for ever. Each connection therefore carries a
 * deadline (ms on the monotonic clock, 0 for none) that its own thread
 * moves: connect or end of a response -> headers due in header_timeout;
 * headers in -> body due in body_timeout plus 1 s per body_min_rate bytes,
 * pushed on as bytes arrive; body complete -> none while the handler runs
 * and the reply (an SSE stream too) is sent. A watchdog thread checks every
 * 200 ms and shuts down (shutdown(2)) the socket of a connection past its
 * deadline; MHD then sees the connection closed and cleans up as for a
 * client that hung up. The list of connections is guarded by a mutex that
 * MHD's "connection closed" notification also takes, and MHD closes the
 * socket only after that notification, so the watchdog never touches a
 * closed (or reused) descriptor.
 */
#include "server/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MS 200

/* One connection, from accept to close. */
typedef struct mhd_conn {
    int fd;
    atomic_llong deadline; /* ms, monotonic; 0: none */
    long long body_start;  /* ms: when the current request's headers were in */
    unsigned long long body_bytes;
    bool cut;              /* the watchdog shut it down */
    struct mhd_conn *prev, *next;
} mhd_conn;

struct http_mhd {
    struct MHD_Daemon *d;
    int port;
    int quiesced_fd;
    pthread_mutex_t mu; /* guards conns, watch_stop */
    pthread_cond_t cv;
    mhd_conn *conns;
    bool watch_stop, watch_live;
    pthread_t watch;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- deadlines ----------------------------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server *s = cls;
    http_mhd *m = s->mhd;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        mhd_conn *c = jc_xcalloc(1, sizeof *c);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        atomic_init(&c->deadline, now_ms() + 1000LL * s->o.header_timeout);
        pthread_mutex_lock(&m->mu);
        c->next = m->conns;
        if (m->conns)
            m->conns->prev = c;
        m->conns = c;
        pthread_mutex_unlock(&m->mu);
        *socket_context = c;
        return;
    }
    mhd_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&m->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&m->mu);
    free(c);
    *socket_context = NULL;
}

static mhd_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void *watchdog(void *arg)
{
    http_server *s = arg;
    http_mhd *m = s->mhd;
    pthread_mutex_lock(&m->mu);
    while (!m->watch_stop) {
        long long now = now_ms();
        for (mhd_conn *c = m->conns; c; c = c->next) {
            long long dl = atomic_load(&c->deadline);
            if (dl && now >= dl && !c->cut && c->fd >= 0) {
                c->cut = true;
                shutdown(c->fd, SHUT_RDWR);
                jc_debug("http: connection %d cut: its request was not in by its deadline", c->fd);
            }
        }
        const struct timespec ts = jc_deadline(CLOCK_MONOTONIC, WATCH_MS);
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- the access handler ---------------------------------------------------- */

typedef struct mhd_stream {
    http_stream_read_fn read;
    http_stream_done_fn done;
    void *cls;
    http_peer peer;
} mhd_stream;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    mhd_stream *st = cls;
    ssize_t n = st->read(st->cls, &st->peer, buf, max);
    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    mhd_stream *st = cls;
    st->done(st->cls);
    free(st);
}

/* Queues the core's reply on conn (taking its body or stream). MHD_NO when that fails. */
static enum MHD_Result queue_reply(struct MHD_Connection *conn, http_req *r)
{
    http_resp *p = http_req_resp(r);
    struct MHD_Response *resp;
    if (p->read) {
        mhd_stream *st = jc_xcalloc(1, sizeof *st);
        st->read = p->read;
        st->done = p->done;
        st->cls = p->cls;
        st->peer = *http_req_peer(r);
        p->read = NULL;
        p->done = NULL;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_cb, st, stream_free);
        if (!resp) {
            stream_free(st);
            return MHD_NO;
        }
    } else {
        resp = MHD_create_response_from_buffer(p->len, p->body ? p->body : (void *)"",
                                               p->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        p->body = NULL;
    }
    for (int i = 0; i < p->n_headers; i++)
        MHD_add_response_header(resp, p->names[i], p->values[i]);
    enum MHD_Result ok = MHD_queue_response(conn, p->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static const char *mhd_header(void *cls, const char *name)
{
    return MHD_lookup_connection_value(cls, MHD_HEADER_KIND, name);
}

typedef struct mhd_req {
    http_req *r;
    bool queued;
} mhd_req;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *s = cls;
    mhd_req *q = *con_cls;
    mhd_conn *c = conn_of(conn);
    if (!q) {
        const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *hsi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        http_head h = {.method = method, .url = url, .header_bytes = hsi ? hsi->header_size : 0, .header = mhd_header,
                       .header_cls = conn, .fd = fdi ? fdi->connect_fd : -1};
        q = jc_xcalloc(1, sizeof *q);
        q->r = http_req_begin(s, &h);
        *con_cls = q;
        if (c) {
            c->body_start = now_ms();
            c->body_bytes = 0;
            atomic_store(&c->deadline, c->body_start + 1000LL * s->o.body_timeout);
        }
        if (http_req_resp(q->r)->status) { /* refused by its head: answer before the body */
            q->queued = true;
            return queue_reply(conn, q->r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        http_req_feed(q->r, upload_data, *upload_data_size);
        if (c) {
            c->body_bytes += *upload_data_size;
            /* bytes past max_body are thrown away (a 413 follows): they buy no time, or a chunked
               upload sent fast enough would hold its connection for ever */
            const uint64_t counted = JC_MIN((uint64_t)c->body_bytes, (uint64_t)s->o.max_body);
            atomic_store(&c->deadline, c->body_start + 1000LL * s->o.body_timeout +
                                           (long long)(counted * 1000 / s->o.body_min_rate));
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c)
        atomic_store(&c->deadline, 0); /* the handler and the reply take as long as they take */
    if (q->queued)
        return MHD_YES;
    http_req_finish(q->r);
    q->queued = true;
    return queue_reply(conn, q->r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    http_server *s = cls;
    mhd_req *q = *con_cls;
    mhd_conn *c = conn_of(conn);
    if (c) /* a kept-alive connection: the next request's head is due */
        atomic_store(&c->deadline, now_ms() + 1000LL * s->o.header_timeout);
    if (!q)
        return;
    http_req_free(q->r);
    free(q);
    *con_cls = NULL;
}

/* Keeps the URL raw: the route matcher decodes captured segments itself. */
static size_t unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!jc_log_enabled(JC_LOG_DEBUG))
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    jc_debug("http: %s", msg);
}

/* ---- start and stop ------------------------------------------------------ */

static int listen_mhd(http_server *s, jc_err *err)
{
    http_mhd *m = s->mhd;
    const http_options *o = &s->o;
    if (o->port < 0 || o->port > 65535)
        return jc_errf(err, "--port %d is out of range (0..65535)", o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", o->port);
    int gai = getaddrinfo(s->host, portstr, &hints, &ai);
    if (gai || !ai)
        return jc_errf(err, "cannot resolve host '%s': %s", s->host, gai_strerror(gai));
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, JC_MIN((size_t)ai->ai_addrlen, sizeof addr));
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    m->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conns,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, /* idle, s */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_noop, (void *)NULL,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
                            MHD_OPTION_END);
    if (!m->d)
        return jc_errf(err, "cannot listen on %s:%d (in use, or not an address of this machine?)", s->host, o->port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di && di->port ? di->port : o->port;
    if (pthread_create(&m->watch, NULL, watchdog, s) == 0)
        m->watch_live = true;
    else
        jc_warn("http: no deadline watchdog (cannot start a thread): slow clients are not cut");
    return 0;
}

static void free_server(http_server *s)
{
    if (s->mhd) {
        pthread_mutex_destroy(&s->mhd->mu);
        pthread_cond_destroy(&s->mhd->cv);
        free(s->mhd);
    }
    http_server_fini(s);
    free(s);
}

http_server *http_start(const http_options *o, jc_err *err)
{
    http_server *s = jc_xcalloc(1, sizeof *s);
    http_server_init(s, o);
    if (o->no_socket)
        return s;
    s->mhd = jc_xcalloc(1, sizeof *s->mhd);
    s->mhd->quiesced_fd = -1;
    pthread_mutex_init(&s->mhd->mu, NULL);
    pthread_condattr_t ca; /* the watchdog's sleeps on the monotonic clock: a clock step cannot stretch them */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->mhd->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (listen_mhd(s, err) < 0) {
        free_server(s);
        return NULL;
    }
    return s;
}

int http_port(const http_server *s) { return s->mhd ? s->mhd->port : 0; }
const char *http_host(const http_server *s) { return s->host; }

void http_quiesce(http_server *s)
{
    if (!s || atomic_exchange(&s->stopping, true))
        return;
    if (!s->mhd)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd->d);
    if (fd != MHD_INVALID_SOCKET)
        s->mhd->quiesced_fd = fd;
}

void http_stop(http_server *s)
{
    if (!s)
        return;
    http_quiesce(s);
    for (int i = 0; i < 300 && atomic_load(&s->inflight) > 0; i++)
        poll(NULL, 0, 10);
    http_mhd *m = s->mhd;
    if (m) {
        MHD_stop_daemon(m->d);
        if (m->watch_live) {
            pthread_mutex_lock(&m->mu);
            m->watch_stop = true;
            pthread_cond_signal(&m->cv);
            pthread_mutex_unlock(&m->mu);
            pthread_join(m->watch, NULL);
        }
        if (m->quiesced_fd >= 0)
            close(m->quiesced_fd);
    }
    free_server(s);
}
