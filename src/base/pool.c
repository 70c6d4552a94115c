/*
 * pool.c — the thread pool (see pool.h).
 *
 * A job is published by storing fn/arg and bumping the generation counter;
 * workers spin on the counter for a short while after each job, then sleep
 * on a condition variable. The "sleepers" count and the generation are both
 * sequentially consistent atomics, so the publisher either sees a sleeper
 * and broadcasts, or the sleeper sees the new generation before waiting:
 * no lost wake-up. Completion is a countdown the caller spins on.
 */
#include "base/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { POOL_MAX_THREADS = 256, POOL_SPIN = 1 << 11 };

struct jc_pool {
    int n;                 /* threads including the caller */
    pthread_t *threads;    /* n-1 workers */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;       /* job generation */
    atomic_int sleepers;   /* workers waiting on cv */
    atomic_int pending;    /* workers still running the current job */
    atomic_bool stop;
    jc_pool_fn fn;         /* the current job */
    void *arg;
};

struct worker_arg {
    jc_pool *p;
    int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *v)
{
    struct worker_arg wa = *(struct worker_arg *)v;
    free(v);
    jc_pool *p = wa.p;
    unsigned last = 0; /* gen before any job: a job published before this thread ran is still seen */
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&p->gen)) == last && !atomic_load(&p->stop) && spins < POOL_SPIN) {
            cpu_relax();
            spins++;
        }
        if (g == last && !atomic_load(&p->stop)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == last && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        last = g;
        p->fn(p->arg, wa.ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

int jc_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)JC_MIN(n, POOL_MAX_THREADS);
}

/* Reads one small integer from a sysfs file; -1 when absent. */
static long read_sys_long(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

int jc_cpu_count_physical(void)
{
    enum { MAX_CPU = 4096 };
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    if (conf < 1 || conf > MAX_CPU)
        return jc_cpu_count();
    long *seen = jc_xcalloc((size_t)conf, sizeof *seen); /* package << 20 | core of each counted core */
    int n = 0;
    for (long cpu = 0; cpu < conf; cpu++) {
        char path[128];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/online", cpu);
        if (read_sys_long(path) == 0) /* offline (cpu0 has no such file: online) */
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        long core = read_sys_long(path);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        long pkg = read_sys_long(path);
        if (core < 0 || pkg < 0)
            continue;
        long key = (pkg << 20) | (core & 0xfffff);
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = seen[i] == key;
        if (!dup)
            seen[n++] = key;
    }
    free(seen);
    int online = jc_cpu_count();
    return n < 1 ? online : JC_MIN(n, online);
}

jc_pool *jc_pool_new(int n_threads, jc_err *err)
{
    if (n_threads <= 0)
        n_threads = jc_cpu_count();
    if (n_threads > POOL_MAX_THREADS)
        n_threads = POOL_MAX_THREADS;
    jc_pool *p = jc_xcalloc(1, sizeof *p);
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, false);
    p->threads = jc_xcalloc((size_t)n_threads, sizeof *p->threads);
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = jc_xmalloc(sizeof *wa);
        wa->p = p;
        wa->ith = i;
        int rc = pthread_create(&p->threads[i - 1], NULL, worker_main, wa);
        if (rc != 0) {
            free(wa);
            jc_errf(err, "cannot start worker thread %d of %d (error %d)", i, n_threads, rc);
            jc_pool_free(p);
            return NULL;
        }
        p->n_started++;
    }
    return p;
}

void jc_pool_free(jc_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int jc_pool_n_threads(const jc_pool *p)
{
    return p->n;
}

void jc_pool_run(jc_pool *p, jc_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(arg, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < POOL_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
}

struct for_job {
    jc_pool_range_fn fn;
    void *arg;
    int64_t n, grain;
    atomic_llong next;
};

static void for_worker(void *v, int ith, int nth)
{
    (void)nth;
    struct for_job *j = v;
    for (;;) {
        int64_t i0 = atomic_fetch_add(&j->next, j->grain);
        if (i0 >= j->n)
            break;
        int64_t i1 = i0 + j->grain < j->n ? i0 + j->grain : j->n;
        j->fn(j->arg, i0, i1, ith);
    }
}

void jc_pool_for(jc_pool *p, int64_t n, int64_t grain, jc_pool_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (p->n == 1 || n <= grain) {
        fn(arg, 0, n, 0);
        return;
    }
    struct for_job j = {.fn = fn, .arg = arg, .n = n, .grain = grain};
    atomic_init(&j.next, 0);
    jc_pool_run(p, for_worker, &j);
}
