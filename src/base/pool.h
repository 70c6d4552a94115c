/*
 * pool.h — a fixed thread pool for the engine's data-parallel loops.
 *
 * jc_pool_new(n) starts n-1 workers; the calling thread is thread 0 and
 * works on every job. A job is a number of chunks that the threads claim
 * from one atomic counter; it ends when every chunk is done, so a worker
 * that is asleep or descheduled (a shared machine) holds up nothing but the
 * chunk it already claimed. jc_pool_for splits [0, n) into such chunks;
 * jc_pool_run(fn) is nth chunks, fn(arg, i, nth) for each i. Idle workers
 * spin for about a millisecond, then sched_yield, then sleep on a condition
 * variable. A job allocates nothing.
 *
 * One pool is driven by one thread at a time (its owner, e.g. an llm_ctx);
 * different pools are independent. No global state.
 */
#ifndef JC_POOL_H
#define JC_POOL_H

#include "base/jc.h"

typedef struct jc_pool jc_pool;

/* fn of jc_pool_run: ith in [0, nth), each once per run, not necessarily on thread ith. */
typedef void (*jc_pool_fn)(void *arg, int ith, int nth);
/* fn of jc_pool_for: the half-open range [i0, i1), run by thread ith (one range at a time per ith). */
typedef void (*jc_pool_range_fn)(void *arg, int64_t i0, int64_t i1, int ith);

/*
 * A pool of n_threads threads in all (n_threads <= 0: the online CPUs; at
 * most 256). Returns NULL with err set when a thread cannot be started.
 * Caller frees with jc_pool_free.
 */
jc_pool *jc_pool_new(int n_threads, jc_err *err);
/* Stops and joins the workers. NULL is fine. */
void jc_pool_free(jc_pool *p);
int jc_pool_n_threads(const jc_pool *p);

/* Runs fn(arg, i, nth) for every i in [0, nth) on the pool's threads; returns when all are done. */
void jc_pool_run(jc_pool *p, jc_pool_fn fn, void *arg);

/*
 * Calls fn(arg, i0, i1, ith) over chunks of at most grain items covering
 * [0, n) exactly once, on all threads; returns when all are done. n <= 0
 * does nothing; grain < 1 counts as 1.
 */
void jc_pool_for(jc_pool *p, int64_t n, int64_t grain, jc_pool_range_fn fn, void *arg);

/*
 * A read-ahead hint for idle workers: until the next hint, a worker that
 * waits for a job prefetches [addr, addr + len) into its caches, once,
 * a few lines at a time between checks for a new job (a job interrupts
 * it; it goes on after). The memory must stay mapped until the next hint
 * or jc_pool_free; len 0 withdraws the hint. For memory a coming job will
 * read from far away (the engine's next weights, while the caller does
 * serial work). Called by the pool's owner, between jobs.
 */
void jc_pool_hint(jc_pool *p, const void *addr, size_t len);

/* The number of online CPUs (at least 1). */
int jc_cpu_count(void);
/*
 * The number of physical cores among the online CPUs (SMT siblings counted
 * once), from /sys/devices/system/cpu/cpuN/topology; jc_cpu_count() when
 * that is unreadable. The engine's default thread count.
 */
int jc_cpu_count_physical(void);

#endif
