/* SPDX-License-Identifier: MIT */
/* pool.c — the persistent thread pool behind og_parallel_for.
 *
 * Workers are started on first need and kept. A job is published by
 * bumping `generation`; workers spin on it for a short while (a training
 * loop issues jobs back to back) and then sleep on a condition variable,
 * so an idle pool costs no CPU. Worker w runs tasks [w*n/T, (w+1)*n/T): the
 * split depends on the thread count, the tasks' results do not. */
#define _POSIX_C_SOURCE 200809L   /* sysconf */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "kernel.h"

#define SPIN_ROUNDS 20000   /* about 50-100 us of pause loops before sleeping */

typedef struct job {
    og_task_fn fn;
    void *arg;
    int64_t n_tasks;
    int n_threads;
} job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_flag busy;              /* one job at a time; others run serially */
    _Atomic unsigned generation;   /* bumped once per published job */
    _Atomic int remaining;         /* started workers that have not yet finished the job */
    int started;                   /* worker threads alive (ids 1..started) */
    int sleepers;
    job current;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, ATOMIC_FLAG_INIT, 0, 0, 0, 0, { 0 } };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_range(const job *j, int w)
{
    int64_t lo = j->n_tasks * w / j->n_threads, hi = j->n_tasks * (w + 1) / j->n_threads;
    for (int64_t t = lo; t < hi; t++)
        j->fn(j->arg, t, w);
}

static void *worker_main(void *arg)
{
    /* id and the generation before the job it was started for, packed */
    int id = (int)((uintptr_t)arg & 0xffff);
    unsigned seen = (unsigned)((uintptr_t)arg >> 16);
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen && spins < SPIN_ROUNDS) {
            cpu_relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while ((g = atomic_load(&pool.generation)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
        }
        seen = g;
        job j = pool.current;
        if (id < j.n_threads)
            run_range(&j, id);
        /* every worker acknowledges, so the next job cannot overwrite
         * `current` while a late one still reads it */
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_release);
    }
    return NULL;
}

/* Starts workers up to `want` - 1 (the caller is worker 0); fewer if the
 * system refuses threads. Called with the busy flag held. */
static int ensure_workers(int want)
{
    while (pool.started < want - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        uintptr_t packed = ((uintptr_t)atomic_load(&pool.generation) << 16) | (uintptr_t)(pool.started + 1);
        int rc = pthread_create(&t, &at, worker_main, (void *)packed);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        pool.started++;
    }
    return pool.started + 1;
}

void og_parallel_for(int n_threads, int64_t n_tasks, og_task_fn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    if (n_threads > n_tasks)
        n_threads = (int)n_tasks;
    if (n_threads > OG_MAX_THREADS)
        n_threads = OG_MAX_THREADS;
    if (n_threads <= 1 || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    int have = ensure_workers(n_threads);
    if (have < n_threads)
        n_threads = have;
    job j = { fn, arg, n_tasks, n_threads };
    pool.current = j;
    atomic_store_explicit(&pool.remaining, pool.started, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    if (pool.sleepers)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    run_range(&j, 0);
    /* wait for the workers; yield once spinning has not helped, so a
     * descheduled worker on a busy machine gets the core back */
    for (int spins = 0; atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

int og_default_threads(void)
{
    const char *s = getenv("OG_NUM_THREADS");
    long n = 0;
    if (s && *s) {
        char *end;
        n = strtol(s, &end, 10);
        if (*end || n < 1)
            n = 0;
    }
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > OG_MAX_THREADS ? OG_MAX_THREADS : (int)n;
}
