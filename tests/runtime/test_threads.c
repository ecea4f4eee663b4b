/*
 * test_threads.c: nnrt_parallel (runtime/threads.c) runs every unit of a
 * loop exactly once, in ranges inside the loop, at any thread count and
 * grain; each thread runs its own share of the chunks, and a pool thread
 * that stops in its first chunk leaves the rest of its share to the
 * others; a loop started from inside a task runs inline.
 * The models' results at 1, 2 and 3 threads are compared in tests/threads.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnrt.h"
#include "run_suite.h"

enum { MAX_UNITS = 1000 };

typedef struct Loop {
    int64_t units;
    atomic_int runs[MAX_UNITS];     /* by unit: how many times it ran */
    atomic_int bad_ranges;          /* ranges empty or outside [0, units) */
    atomic_int scratch_missing;     /* calls without scratch of the size asked */
    size_t scratch_bytes;
    /* a_late_thread: the first pool thread to run a chunk sleeps in it */
    pthread_t caller;
    atomic_int sleeper_taken;
    atomic_int sleeper_chunks;
} Loop;

static _Thread_local bool is_sleeper;

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void count_units(void *ctx, int64_t begin, int64_t end, void *scratch) {
    Loop *l = ctx;
    if (begin >= end || begin < 0 || end > l->units)
        atomic_fetch_add(&l->bad_ranges, 1);
    if (l->scratch_bytes && !scratch)
        atomic_fetch_add(&l->scratch_missing, 1);
    if (l->scratch_bytes && scratch)    /* the scratch is this thread's: write all of it */
        for (size_t i = 0; i < l->scratch_bytes; i++)
            ((volatile char *)scratch)[i] = (char)begin;
    for (int64_t u = begin > 0 ? begin : 0; u < end && u < l->units; u++)
        atomic_fetch_add(&l->runs[u], 1);
}

static void assert_each_unit_ran_once(Loop *l, const char *how) {
    ck_assert_msg(atomic_load(&l->bad_ranges) == 0, "%s: a range outside the loop", how);
    ck_assert_msg(atomic_load(&l->scratch_missing) == 0, "%s: a task without scratch", how);
    for (int64_t u = 0; u < l->units; u++)
        ck_assert_msg(atomic_load(&l->runs[u]) == 1, "%s: unit %lld ran %d times", how, (long long)u,
                      atomic_load(&l->runs[u]));
}

START_TEST(every_unit_runs_once_at_any_thread_count_and_grain) {
    static const int threads[] = {1, 2, 3, 5};
    static const int64_t units[] = {1, 2, 7, 100, MAX_UNITS};
    static const int64_t grains[] = {0, 1, 3, 50, 2000};
    char how[96];
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        nnrt_set_num_threads(threads[t]);
        ck_assert_int_eq(nnrt_get_num_threads(), threads[t]);
        for (size_t u = 0; u < sizeof units / sizeof *units; u++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                Loop *l = calloc(1, sizeof *l);
                l->units = units[u];
                l->scratch_bytes = 256;
                char mine[256];
                nnrt_parallel(count_units, l, l->units, grains[g], l->scratch_bytes, mine);
                snprintf(how, sizeof how, "%d threads, %lld units, grain %lld", threads[t], (long long)units[u],
                         (long long)grains[g]);
                assert_each_unit_ran_once(l, how);
                free(l);
            }
    }
    nnrt_set_num_threads(0);
}
END_TEST

static void sleep_in_first_chunk(void *ctx, int64_t begin, int64_t end, void *scratch) {
    Loop *l = ctx;
    if (!pthread_equal(pthread_self(), l->caller) && !atomic_exchange(&l->sleeper_taken, 1)) {
        is_sleeper = true;
        sleep_ms(200);
    }
    if (is_sleeper)
        atomic_fetch_add(&l->sleeper_chunks, 1);
    count_units(ctx, begin, end, scratch);
}

/* 3 threads, 3 chunks each: the pool thread that runs a chunk first stops
 * in it for 200 ms, far longer than the others take for all the rest, so
 * they take the other chunks of its share. */
START_TEST(a_late_thread_leaves_its_share_to_the_others) {
    nnrt_set_num_threads(3);
    Loop *l = calloc(1, sizeof *l);
    l->units = 90;
    l->caller = pthread_self();
    for (int attempt = 0; attempt < 50 && !atomic_load(&l->sleeper_taken); attempt++) {
        /* the pool's threads may not have started yet: until one of
         * them runs a chunk, the caller may run the whole loop */
        for (int64_t u = 0; u < l->units; u++)
            atomic_store(&l->runs[u], 0);
        nnrt_parallel(sleep_in_first_chunk, l, l->units, 1, 0, NULL);
        assert_each_unit_ran_once(l, "a late thread");
    }
    ck_assert_msg(atomic_load(&l->sleeper_taken), "no pool thread ran a chunk in 50 loops");
    int sleeper_chunks = atomic_load(&l->sleeper_chunks);
    ck_assert_int_eq(sleeper_chunks, 1);
    free(l);
    nnrt_set_num_threads(0);
}
END_TEST

static void slow_units(void *ctx, int64_t begin, int64_t end, void *scratch) {
    Loop *l = ctx;
    sleep_ms(20);
    for (int64_t u = begin; u < end; u++)
        if (pthread_equal(pthread_self(), l->caller))
            atomic_store(&l->runs[u], 1);
        else
            atomic_store(&l->runs[u], 2);
}

static bool ran_by_shares(Loop *l) {
    for (int64_t u = 0; u < l->units; u++)
        if (atomic_load(&l->runs[u]) != (u < 3 ? 1 : 2))
            return false;
    return true;
}

/* 2 threads, 3 chunks each of 20 ms: each thread runs its own share, the
 * caller the first half, so that a thread finds in its caches the part
 * of a param it wrote in the loop before.  A pool thread woken more than
 * 20 ms late (a busy machine) rightly leaves a chunk to the caller: a few
 * tries. */
START_TEST(each_thread_runs_its_own_share_first) {
    nnrt_set_num_threads(2);
    Loop *l = calloc(1, sizeof *l);
    l->units = 6;
    l->caller = pthread_self();
    nnrt_parallel(count_units, l, l->units, 1, 0, NULL);   /* the pool starts */
    bool by_shares = false;
    for (int attempt = 0; attempt < 5 && !by_shares; attempt++) {
        nnrt_parallel(slow_units, l, l->units, 1, 0, NULL);
        by_shares = ran_by_shares(l);
    }
    ck_assert_msg(by_shares, "unit 0 to 5 ran on %d %d %d %d %d %d (1: the caller, 2: the pool thread)",
                  atomic_load(&l->runs[0]), atomic_load(&l->runs[1]), atomic_load(&l->runs[2]),
                  atomic_load(&l->runs[3]), atomic_load(&l->runs[4]), atomic_load(&l->runs[5]));
    free(l);
    nnrt_set_num_threads(0);
}
END_TEST

static void run_inner_loop(void *ctx, int64_t begin, int64_t end, void *scratch) {
    Loop *inner = ctx;
    for (int64_t i = begin; i < end; i++)
        nnrt_parallel(count_units, &inner[i], inner[i].units, 1, 0, NULL);
}

START_TEST(a_loop_inside_a_task_runs_inline) {
    nnrt_set_num_threads(2);
    enum { OUTER = 4 };
    Loop *inner = calloc(OUTER, sizeof *inner);
    for (int i = 0; i < OUTER; i++)
        inner[i].units = 64;
    nnrt_parallel(run_inner_loop, inner, OUTER, 1, 0, NULL);
    for (int i = 0; i < OUTER; i++)
        assert_each_unit_ran_once(&inner[i], "an inner loop");
    free(inner);
    nnrt_set_num_threads(0);
}
END_TEST

/* Calls whose scratch was the one nnrt_parallel was passed. */
static void note_passed_scratch(void *ctx, int64_t begin, int64_t end, void *scratch) {
    void **passed = ctx;
    if (scratch == passed[0])
        atomic_fetch_add((atomic_int *)passed[1], 1);
}

/* Split across the pool, every thread packs into scratch the pool keeps,
 * the caller too: the node's scratch in the workspace holds values other
 * threads wrote (docs/runtime.md, Threads).  On one thread the scratch
 * passed is used. */
START_TEST(a_split_loop_uses_the_pools_scratch_a_lone_one_the_callers) {
    char mine[256];
    atomic_int used = 0;
    void *passed[2] = {mine, &used};
    nnrt_set_num_threads(2);
    nnrt_parallel(note_passed_scratch, passed, 8, 1, sizeof mine, mine);
    ck_assert_msg(atomic_load(&used) == 0, "a split loop ran %d chunks in the scratch it was passed",
                  atomic_load(&used));
    nnrt_set_num_threads(1);
    nnrt_parallel(note_passed_scratch, passed, 8, 1, sizeof mine, mine);
    ck_assert_msg(atomic_load(&used) == 1, "a loop on one thread did not run in the scratch it was passed");
    nnrt_set_num_threads(0);
}
END_TEST

/* A worker that wakes to a job the caller has already finished claims
 * nothing; the next call may meanwhile grow that worker's scratch.  The
 * worker reads where its scratch is only once it claims a chunk, so the
 * two never race (ThreadSanitizer, make tsan-threads).  Each call finds
 * the workers asleep and asks for more scratch than the last. */
START_TEST(scratch_grows_while_a_late_worker_wakes) {
    nnrt_set_num_threads(2);
    for (int i = 1; i <= 40; i++) {
        static Loop l;
        memset(&l, 0, sizeof l);
        l.units = 2;
        l.scratch_bytes = (size_t)i * 4096;
        sleep_ms(2);
        nnrt_parallel(count_units, &l, l.units, 1, l.scratch_bytes, NULL);
        assert_each_unit_ran_once(&l, "growing scratch");
    }
    nnrt_set_num_threads(0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("parallel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_unit_runs_once_at_any_thread_count_and_grain);
    tcase_add_test(tc, a_late_thread_leaves_its_share_to_the_others);
    tcase_add_test(tc, each_thread_runs_its_own_share_first);
    tcase_add_test(tc, a_loop_inside_a_task_runs_inline);
    tcase_add_test(tc, a_split_loop_uses_the_pools_scratch_a_lone_one_the_callers);
    tcase_add_test(tc, scratch_grows_while_a_late_worker_wakes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
