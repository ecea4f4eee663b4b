/*
 * threads.c: the pool of threads that generated kernels split their work
 * across (contract, 5.6 Threads).
 *
 * Generated code calls nnrt_parallel(task, ctx, units, grain,
 * scratch_bytes, scratch) for a loop of `units` independent pieces of work
 * (a product's panels of columns, say).  The units are cut into a few
 * contiguous chunks a thread, which the threads claim one at a time, each
 * with scratch of its own that lives here (the calling thread's too, in a
 * split loop; on its own it uses the scratch it passed, the node's in the
 * model's workspace), so that workspace_size does not depend on the thread
 * count.  Thread k first claims the chunks of its own share, the k-th of n
 * contiguous shares, then what is left of the others': a thread that
 * starts late, on a busy machine, finds its chunks taken by the others
 * instead of holding them up, and otherwise a thread gets the same part of
 * every job split the same way, so that it finds in its caches what it
 * wrote (the rows of a param's gradient, then of the param in its update,
 * then of the param packed by the next step's product: with the chunks
 * claimed in any order, 2 threads spent twice as long as one in the
 * example's update).  What a unit computes does not depend on which thread
 * runs it: the generated code never splits a sum across units, so results
 * are bitwise the same for every thread count.
 *
 * The pool is made on the first call that can use it.  Its threads spin
 * for a while after a job (the next kernel of a step follows soon), then
 * sleep on a condition variable.  One job runs at a
 * time: a call that finds the pool busy (another user thread's model, or a
 * kernel on a pool thread) runs its whole loop on the calling thread, so
 * concurrent calls never wait on each other and never deadlock.  A thread
 * that cannot be created, or scratch that cannot be allocated, only means
 * fewer threads.
 */
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

enum {
    MAX_THREADS = 256,
    CHUNKS_PER_THREAD = 3,
    /* Polls of a flag before sleeping: about 0.4 ms (a pause is 26 ns on
     * Zen 5).  A sleeping thread can take longer than a product to wake
     * on a virtual machine, whose idle CPU halts: at 50 us, 2 threads ran
     * the example step no faster than one. */
    SPIN = 1 << 14,
};

/* The job, in one word, so that a thread sees all of it or none: its
 * generation (24 bits), the threads that take part (10) and the number of
 * chunks (15). */
#define GEN(s)    ((unsigned)((s) >> 40))
#define ACTIVE(s) ((int)(((s) >> 30) & 0x3ff))
#define CHUNKS(s) ((int)((s) & 0x7fff))

/* A thread's share of the job's chunks, [next, end), with the job's
 * generation, in one word on a cache line of its own.  A chunk is claimed
 * by a compare-and-swap of the word, and only then are the job's other
 * fields read: a job with a chunk claimed but not done cannot be
 * replaced, so they are the job's own. */
typedef struct Share {
    _Alignas(64) _Atomic uint64_t word;
} Share;
#define SHARE(gen, next, end) ((uint64_t)(gen) << 32 | (uint64_t)(next) << 16 | (uint64_t)(end))
#define SHARE_GEN(v)          ((unsigned)((v) >> 32))
#define SHARE_NEXT(v)         ((int)(((v) >> 16) & 0xffff))
#define SHARE_END(v)          ((int)((v) & 0xffff))

typedef struct Worker {
    pthread_t thread;
    void *scratch;      /* 64-byte aligned, scratch_cap bytes */
    size_t scratch_cap;
    /* the generation of the last job before it was made: it takes part
     * in the next, which may be published before it starts running */
    unsigned before;
} Worker;

static struct {
    pthread_mutex_t busy;       /* held by the thread whose job runs */
    pthread_mutex_t lock;       /* guards the sleeping below */
    pthread_cond_t wake, done;
    int nworkers;               /* started: worker[1 .. nworkers] */
    Worker worker[MAX_THREADS];
    _Atomic uint64_t job;
    Share share[MAX_THREADS];   /* by thread, the caller's first */
    atomic_int finished;        /* chunks of the job done */
    nnrt_task task;
    void *ctx;
    int64_t units;
    int sleepers;               /* workers waiting on wake */
    bool caller_sleeping;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static atomic_int requested;    /* nnrt_set_num_threads; 0: the default */
static _Thread_local bool in_pool_thread;

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* NNRT_NUM_THREADS if it is a positive decimal integer, else the CPUs this
 * process may run on; read once. */
static int default_threads(void) {
    static atomic_int cached;
    int n = atomic_load(&cached);
    if (n)
        return n;
    const char *s = getenv("NNRT_NUM_THREADS");
    char *end;
    errno = 0;
    long v = s && *s >= '0' && *s <= '9' ? strtol(s, &end, 10) : 0;
    if (v >= 1 && errno == 0 && *end == '\0') {
        n = v > MAX_THREADS ? MAX_THREADS : (int)v;
    } else {
        cpu_set_t set;
        n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        n = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
    }
    atomic_store(&cached, n);
    return n;
}

void nnrt_set_num_threads(int n) { atomic_store(&requested, n <= 0 ? 0 : n > MAX_THREADS ? MAX_THREADS : n); }

int nnrt_get_num_threads(void) {
    int n = atomic_load(&requested);
    return n ? n : default_threads();
}

/* Claim and run chunks of the job of generation gen, thread self's share
 * first, while there are any, with the scratch at *scratch.  That pointer
 * is read only once a chunk is claimed: a worker that wakes late, to a job
 * already done, may meet the caller of the next one growing it (prepare). */
static void run_chunks(unsigned gen, int self, void *const *scratch) {
    uint64_t s = atomic_load_explicit(&pool.job, memory_order_acquire);
    if (GEN(s) != gen)
        return;
    int n = ACTIVE(s), chunks = CHUNKS(s);
    for (int k = 0; k < n; k++) {
        _Atomic uint64_t *share = &pool.share[(self + k) % n].word;
        uint64_t v = atomic_load_explicit(share, memory_order_acquire);
        while (SHARE_GEN(v) == gen && SHARE_NEXT(v) < SHARE_END(v)) {
            if (!atomic_compare_exchange_weak_explicit(share, &v, v + ((uint64_t)1 << 16), memory_order_acq_rel,
                                                       memory_order_acquire))
                continue;
            int c = SHARE_NEXT(v);
            pool.task(pool.ctx, pool.units * c / chunks, pool.units * (c + 1) / chunks, *scratch);
            if (atomic_fetch_add_explicit(&pool.finished, 1, memory_order_acq_rel) + 1 == chunks) {
                pthread_mutex_lock(&pool.lock);
                if (pool.caller_sleeping)
                    pthread_cond_signal(&pool.done);
                pthread_mutex_unlock(&pool.lock);
            }
            v = atomic_load_explicit(share, memory_order_acquire);
        }
    }
}

static void *worker_main(void *arg) {
    int w = (int)(intptr_t)arg;
    in_pool_thread = true;
    unsigned seen = pool.worker[w].before;
    for (;;) {
        uint64_t s;
        for (int i = 0; GEN(s = atomic_load_explicit(&pool.job, memory_order_acquire)) == seen && i < SPIN; i++)
            relax();
        if (GEN(s) == seen) {
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while (GEN(s = atomic_load(&pool.job)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
        }
        seen = GEN(s);
        if (w < ACTIVE(s))
            run_chunks(seen, w, &pool.worker[w].scratch);
    }
    return NULL;
}

/* k's scratch holds at least bytes, if it can. */
static bool grow_scratch(Worker *k, size_t bytes) {
    if (k->scratch_cap >= bytes)
        return true;
    void *p = NULL;
    size_t cap = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, cap) != 0)
        return false;
    free(k->scratch);
    k->scratch = p;
    k->scratch_cap = cap;
    return true;
}

/* Workers 1 .. want - 1 exist and have bytes of scratch, as far as they
 * can; the number of threads that can take part, the caller's included.
 * Called with pool.busy held: no job runs. */
static int prepare(int want, size_t bytes) {
    while (pool.nworkers + 1 < want) {
        int w = pool.nworkers + 1;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pool.worker[w].before = GEN(atomic_load(&pool.job));
        int rc = pthread_create(&pool.worker[w].thread, &attr, worker_main, (void *)(intptr_t)w);
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;
        pool.nworkers = w;
    }
    int n = want < pool.nworkers + 1 ? want : pool.nworkers + 1;
    for (int w = 1; w < n; w++)
        if (!grow_scratch(&pool.worker[w], bytes))
            return w;
    return n;
}

void nnrt_parallel(nnrt_task task, void *ctx, int64_t units, int64_t grain, size_t scratch_bytes, void *scratch) {
    int64_t most = grain > 0 ? units / grain : units;
    int want = nnrt_get_num_threads();
    if (most < want)
        want = most < 1 ? 1 : (int)most;
    if (want <= 1 || in_pool_thread || pthread_mutex_trylock(&pool.busy) != 0) {
        task(ctx, 0, units, scratch);
        return;
    }
    int n = prepare(want, scratch_bytes);
    if (n <= 1) {
        pthread_mutex_unlock(&pool.busy);
        task(ctx, 0, units, scratch);
        return;
    }
    /* A few chunks a thread, each of at least grain units: a thread that
     * starts late (the machine is busy) leaves its chunks to the others. */
    int64_t chunks = (int64_t)n * CHUNKS_PER_THREAD;
    chunks = chunks < most ? chunks : most;
    pool.task = task;
    pool.ctx = ctx;
    pool.units = units;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    unsigned gen = (GEN(atomic_load(&pool.job)) + 1) & 0xffffff;
    for (int k = 0; k < n; k++)
        atomic_store_explicit(&pool.share[k].word, SHARE(gen, chunks * k / n, chunks * (k + 1) / n),
                              memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_store_explicit(&pool.job, (uint64_t)gen << 40 | (uint64_t)n << 30 | (uint64_t)chunks,
                          memory_order_release);
    if (pool.sleepers)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    /* The caller packs into scratch of its own too, worker[0]'s, not the
     * node's: the workspace's bytes there are other values' at other
     * times, written by every thread (the example's hidden layer, by rows,
     * before the next step's first product packs over it, likely while
     * some of its lines are still in the other core's cache).  With the
     * node's, the example's step at batch 256 took 1.02 to 1.07 times as
     * long on 2 threads. */
    void *own = grow_scratch(&pool.worker[0], scratch_bytes) ? pool.worker[0].scratch : scratch;
    run_chunks(gen, 0, &own);

    for (int i = 0; atomic_load_explicit(&pool.finished, memory_order_acquire) < chunks && i < SPIN; i++)
        relax();
    if (atomic_load_explicit(&pool.finished, memory_order_acquire) < chunks) {
        pthread_mutex_lock(&pool.lock);
        pool.caller_sleeping = true;
        while (atomic_load(&pool.finished) < chunks)
            pthread_cond_wait(&pool.done, &pool.lock);
        pool.caller_sleeping = false;
        pthread_mutex_unlock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.busy);
}
