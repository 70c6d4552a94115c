/*
 * pool.c — the thread pool (see pool.h).
 *
 * A job is a count of chunks. One 64-bit atomic "ticket" holds the job's
 * generation, its chunk count and the next unclaimed chunk; a thread claims
 * a chunk with a compare-and-swap on the ticket and reads the job (fn, arg)
 * only after a successful claim, when the job cannot end before that chunk
 * is done. Finished chunks are counted in "done"; the caller, which claims
 * chunks like any worker, returns when done reaches the chunk count. So a
 * job never waits for a worker that is asleep or descheduled (a shared,
 * oversubscribed machine): it waits only for chunks already claimed.
 *
 * Idle workers spin on the ticket, then spin with sched_yield, then sleep on
 * a condition variable. The "sleepers" count and the ticket are sequentially
 * consistent atomics, so the publisher either sees a sleeper and broadcasts,
 * or the sleeper sees the new ticket before waiting: no lost wake-up.
 */
#include "base/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum {
    POOL_MAX_THREADS = 256,
    POOL_SPIN = 1 << 15, /* pause loops before yielding (~1 ms) */
    POOL_YIELD = 1 << 8, /* sched_yield calls before sleeping */
};

/* ticket: generation (24 bits) | chunk count (20) | next chunk (20) */
#define TK_BITS 20
#define TK_MASK ((UINT64_C(1) << TK_BITS) - 1)
#define TK_MAX_CHUNKS ((int64_t)TK_MASK)
#define TK_NEXT(t) ((int64_t)((t) & TK_MASK))
#define TK_COUNT(t) ((int64_t)(((t) >> TK_BITS) & TK_MASK))
#define TK_GEN(t) ((t) >> (2 * TK_BITS))

struct jc_pool {
    int n;                 /* threads including the caller */
    pthread_t *threads;    /* n-1 workers */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Alignas(64) atomic_uint_least64_t ticket;
    _Alignas(64) atomic_llong done; /* chunks of the current job finished */
    atomic_int sleepers;   /* workers waiting on cv */
    atomic_bool stop;
    /* the read-ahead hint (jc_pool_hint): a seqlock, even = stable */
    _Alignas(64) atomic_uint_least64_t hint_seq;
    atomic_uintptr_t hint_addr;
    atomic_size_t hint_len;
    /* the current job, written by the owner before the ticket is published */
    jc_pool_range_fn rfn;  /* a jc_pool_for job, or */
    jc_pool_fn fn;         /* a jc_pool_run job (chunk k runs fn(arg, k, n)) */
    void *arg;
    int64_t items, grain;
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

/*
 * Claims and runs chunks of the current job until none is left unclaimed.
 * Returns the ticket last seen (its chunks all claimed).
 */
static uint64_t work(jc_pool *p, int ith)
{
    uint64_t t = atomic_load(&p->ticket);
    for (;;) {
        int64_t k = TK_NEXT(t);
        if (k >= TK_COUNT(t))
            return t;
        if (!atomic_compare_exchange_weak(&p->ticket, &t, t + 1))
            continue; /* t now holds the current ticket */
        if (p->rfn) {
            int64_t i0 = k * p->grain, i1 = i0 + p->grain < p->items ? i0 + p->grain : p->items;
            p->rfn(p->arg, i0, i1, ith);
        } else {
            p->fn(p->arg, (int)k, p->n);
        }
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        t = atomic_load(&p->ticket);
    }
}

/* A worker's progress through the current hint. */
struct hint_pos {
    uint64_t seq; /* the hint it belongs to */
    size_t off;   /* bytes prefetched */
};

enum { HINT_STEP = 16 * 64 }; /* bytes prefetched between looks at the ticket */

/*
 * Prefetches the next HINT_STEP bytes of the current hint, if any is left;
 * returns false when there is nothing (more) to do.
 */
static bool hint_step(jc_pool *p, struct hint_pos *h)
{
    uint64_t s = atomic_load_explicit(&p->hint_seq, memory_order_acquire);
    if (s & 1)
        return false; /* being changed: look again later */
    if (s != h->seq)
        h->seq = s, h->off = 0;
    const uint8_t *a = (const uint8_t *)atomic_load_explicit(&p->hint_addr, memory_order_relaxed);
    size_t len = atomic_load_explicit(&p->hint_len, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&p->hint_seq, memory_order_relaxed) != s || h->off >= len)
        return false;
    size_t end = h->off + HINT_STEP < len ? h->off + HINT_STEP : len;
    for (size_t o = h->off; o < end; o += 64)
        __builtin_prefetch(a + o, 0, 2);
    h->off = end;
    return true;
}

void jc_pool_hint(jc_pool *p, const void *addr, size_t len)
{
    uint64_t s = atomic_load_explicit(&p->hint_seq, memory_order_relaxed);
    atomic_store_explicit(&p->hint_seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&p->hint_addr, (uintptr_t)addr, memory_order_relaxed);
    atomic_store_explicit(&p->hint_len, addr ? len : 0, memory_order_relaxed);
    atomic_store_explicit(&p->hint_seq, s + 2, memory_order_release);
}

static void *worker_main(void *v)
{
    struct worker_arg wa = *(struct worker_arg *)v;
    free(v);
    jc_pool *p = wa.p;
    struct hint_pos hint = {0, 0};
    while (!atomic_load(&p->stop)) {
        uint64_t t = work(p, wa.ith);
        /* wait for the ticket to change: read ahead, spin, then yield, then sleep */
        int spins = 0;
        while (atomic_load_explicit(&p->ticket, memory_order_relaxed) == t && !atomic_load(&p->stop)) {
            if (hint_step(p, &hint)) {
                spins = 0;
            } else if (spins < POOL_SPIN) {
                cpu_relax();
            } else if (spins < POOL_SPIN + POOL_YIELD) {
                sched_yield();
            } else {
                pthread_mutex_lock(&p->mu);
                atomic_fetch_add(&p->sleepers, 1);
                while (atomic_load(&p->ticket) == t && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mu);
                break;
            }
            spins++;
        }
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
    atomic_init(&p->ticket, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->hint_seq, 0);
    atomic_init(&p->hint_addr, 0);
    atomic_init(&p->hint_len, 0);
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

/* Publishes the job already stored in p as count chunks, works on it, returns when all are done. */
static void run_job(jc_pool *p, int64_t count)
{
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&p->ticket, memory_order_relaxed);
    uint64_t gen = (TK_GEN(old) + 1) & ((UINT64_C(1) << (64 - 2 * TK_BITS)) - 1);
    atomic_store(&p->ticket, gen << (2 * TK_BITS) | (uint64_t)count << TK_BITS);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    work(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < count) {
        if (++spins < POOL_SPIN)
            cpu_relax();
        else
            sched_yield(); /* a worker holding a chunk may be waiting for this CPU */
    }
}

void jc_pool_run(jc_pool *p, jc_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->rfn = NULL;
    p->fn = fn;
    p->arg = arg;
    run_job(p, p->n);
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
    if ((n + grain - 1) / grain > TK_MAX_CHUNKS)
        grain = (n + TK_MAX_CHUNKS - 1) / TK_MAX_CHUNKS;
    p->rfn = fn;
    p->fn = NULL;
    p->arg = arg;
    p->items = n;
    p->grain = grain;
    run_job(p, (n + grain - 1) / grain);
}
