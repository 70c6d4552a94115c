/*
 * bench_base_bandwidth.c — this machine's memory read bandwidth, the limit
 * a memory-bound decode runs into. Reads a buffer much larger than the
 * caches with T threads (default 2), each summing its slice with 128-bit
 * loads and prefetching 8 KiB ahead, and prints the median GB/s over
 * several passes:
 *
 *   bench_base_bandwidth [-t THREADS] [-m MIB] [-r REPS] [-f FILE] [--json]
 *
 * -f FILE reads FILE's pages (mapped, as janc maps a model) instead of an
 * allocated buffer: on this VM the speed of memory depends on where the
 * pages are, so the fair limit for a model's decode is the read speed of
 * that model's own pages, measured in the same minute.
 *
 * bench/tinyllama.sh runs it in the same run as `janc bench` and reports
 * generation speed as a fraction of this figure.
 */
#include "base/jc.h"

#include <emmintrin.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slice {
    const __m128i *p;
    size_t n; /* 16-byte vectors */
    uint64_t sum;
} slice;

static void *read_slice(void *arg)
{
    slice *s = arg;
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 4 <= s->n; i += 4) {
        /* ask for the line 8 KiB ahead into L2, as the decode kernels do: the hardware
           prefetchers stop at page boundaries, and without this the loop measures them */
        _mm_prefetch((const char *)(s->p + i) + (8 << 10), _MM_HINT_T1);
        a0 = _mm_add_epi64(a0, _mm_load_si128(s->p + i));
        a1 = _mm_add_epi64(a1, _mm_load_si128(s->p + i + 1));
        a2 = _mm_add_epi64(a2, _mm_load_si128(s->p + i + 2));
        a3 = _mm_add_epi64(a3, _mm_load_si128(s->p + i + 3));
    }
    __m128i a = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t out[2];
    _mm_storeu_si128((__m128i *)out, a);
    s->sum = out[0] + out[1];
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 9, json = 0;
    size_t mib = 1024;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) mib = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: %s [-t THREADS] [-m MIB] [-r REPS] [-f FILE] [--json]\n", argv[0]);
            return 1;
        }
    }
    if (threads < 1 || threads > 256 || reps < 1 || reps > 1000 || mib < 64) {
        fprintf(stderr, "bad arguments\n");
        return 1;
    }
    size_t bytes = mib << 20, mapped = 0;
    uint8_t *buf;
    if (file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) || st.st_size < (64 << 20)) {
            fprintf(stderr, "%s: cannot open, or smaller than 64 MiB\n", file);
            return 1;
        }
        mapped = (size_t)st.st_size;
        buf = mmap(NULL, mapped, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (buf == MAP_FAILED) {
            fprintf(stderr, "%s: cannot map\n", file);
            return 1;
        }
        bytes = mapped / 64 * 64;
        mib = bytes >> 20;
        volatile uint8_t sink = 0;
        for (size_t o = 0; o < bytes; o += 4096) /* fault every page in before timing */
            sink ^= buf[o];
        (void)sink;
    } else {
        buf = aligned_alloc(64, bytes);
        if (!buf) {
            fprintf(stderr, "cannot allocate %zu MiB\n", mib);
            return 1;
        }
        memset(buf, 1, bytes); /* touch every page so reads hit memory, not the zero page */
    }
    double *gbs = calloc((size_t)reps, sizeof *gbs);
    slice *sl = calloc((size_t)threads, sizeof *sl);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    size_t nvec = bytes / 16, per = nvec / (size_t)threads;
    uint64_t check = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = jc_now();
        for (int k = 0; k < threads; k++) {
            sl[k].p = (const __m128i *)buf + (size_t)k * per;
            sl[k].n = k == threads - 1 ? nvec - (size_t)k * per : per;
            pthread_create(&th[k], NULL, read_slice, &sl[k]);
        }
        for (int k = 0; k < threads; k++) {
            pthread_join(th[k], NULL);
            check += sl[k].sum;
        }
        gbs[r] = (double)bytes / (jc_now() - t0) / 1e9;
    }
    qsort(gbs, (size_t)reps, sizeof *gbs, cmp_double);
    double med = gbs[reps / 2];
    if (json)
        printf("{\"read_gbs\":%.3f,\"threads\":%d,\"mib\":%zu,\"reps\":%d}\n", med, threads, mib, reps);
    else
        printf("memory read bandwidth: %.2f GB/s (median of %d, %d threads, %zu MiB; min %.2f max %.2f) [%llu]\n",
               med, reps, threads, mib, gbs[0], gbs[reps - 1], (unsigned long long)(check & 1));
    free(th);
    free(sl);
    free(gbs);
    if (file)
        munmap(buf, mapped);
    else
        free(buf);
    return 0;
}
