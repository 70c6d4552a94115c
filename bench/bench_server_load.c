/*
 * bench_server_load.c — a small HTTP/1.1 keep-alive load generator for
 * bench/server.sh when wrk is not installed: C connections, each on its own
 * thread, send "GET PATH" back to back for S seconds and read each response
 * (headers + Content-Length body). Prints requests/s and non-200 counts.
 *
 *   bench_server_load HOST PORT PATH CONNECTIONS SECONDS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct worker {
    const char *host, *path;
    int port;
    double secs;
    long ok, bad;
} worker;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Reads one response; returns the status, or -1 when the connection broke. */
static int read_one(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        buf[*have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            char *cl = strcasestr(buf, "Content-Length:");
            long clen = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
            size_t hdr = (size_t)(end + 4 - buf);
            if (*have >= hdr + (size_t)clen) {
                int status = 0;
                sscanf(buf, "HTTP/1.%*d %d", &status);
                size_t used = hdr + (size_t)clen;
                memmove(buf, buf + used, *have - used);
                *have -= used;
                return status;
            }
        }
        if (*have + 1 >= cap)
            return -1;
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static void *run(void *arg)
{
    worker *w = arg;
    size_t cap = 1 << 22;
    char *buf = malloc(cap);
    char req[1024];
    int rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", w->path, w->host);
    int fd = dial(w->host, w->port);
    size_t have = 0;
    double t_end = now() + w->secs;
    while (fd >= 0 && now() < t_end) {
        if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl)
            break;
        int st = read_one(fd, buf, cap, &have);
        if (st < 0) {
            close(fd);
            fd = dial(w->host, w->port);
            have = 0;
            w->bad++;
            continue;
        }
        if (st == 200)
            w->ok++;
        else
            w->bad++;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS SECONDS\n", argv[0]);
        return 1;
    }
    int nc = atoi(argv[4]);
    if (nc < 1 || nc > 1024)
        nc = 4;
    worker *w = calloc((size_t)nc, sizeof *w);
    pthread_t *th = calloc((size_t)nc, sizeof *th);
    double t0 = now();
    for (int i = 0; i < nc; i++) {
        w[i] = (worker){.host = argv[1], .port = atoi(argv[2]), .path = argv[3], .secs = atof(argv[5])};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    long ok = 0, bad = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        bad += w[i].bad;
    }
    double dt = now() - t0;
    printf("requests/s: %.0f (%ld ok, %ld not 200, %d connections, %.1f s)\n", (double)ok / dt, ok, bad, nc, dt);
    free(w);
    free(th);
    return bad ? 1 : 0;
}
