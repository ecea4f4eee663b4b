/*
 * peak.c: see peak.h.
 */
#include "peak.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "sides.h"

typedef float vec __attribute__((vector_size(64)));

/* FLOP/s of `iters` rounds of PEAK_CHAINS independent vector FMAs, each
 * chain a variable of its own so that all stay in registers. */
static double fma_rate(long iters) {
    vec x, y;
    for (int k = 0; k < 16; k++) {
        x[k] = 1.0f + 1e-7f * (float)k;
        y[k] = 1e-7f;
    }
    vec a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x;
    double t = side_now();
    for (long i = 0; i < iters; i++) {
        a0 = a0 * x + y, a1 = a1 * x + y, a2 = a2 * x + y, a3 = a3 * x + y;
        a4 = a4 * x + y, a5 = a5 * x + y, a6 = a6 * x + y, a7 = a7 * x + y;
        a8 = a8 * x + y, a9 = a9 * x + y, a10 = a10 * x + y, a11 = a11 * x + y;
        /* the compiler may not see through the chains */
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                         "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    t = side_now() - t;
    vec sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    if (sum[0] == 12345.0f)     /* keep the sums alive */
        printf(" ");
    return 2.0 * 16 * PEAK_CHAINS * (double)iters / t;
}

static void *fma_thread(void *rate) {
    double best = 0;
    for (int r = 0; r < 9; r++) {
        double f = fma_rate(2000000);
        best = f > best ? f : best;
    }
    *(double *)rate = best;
    return NULL;
}

double fma_peak(int k) {
    pthread_t th[8];
    double rate[8] = {0}, sum = 0;
    k = k < 1 ? 1 : k > 8 ? 8 : k;
    for (int i = 1; i < k; i++)
        if (pthread_create(&th[i], NULL, fma_thread, &rate[i]) != 0) {
            fprintf(stderr, "bench: cannot start a thread\n");
            exit(1);
        }
    fma_thread(&rate[0]);
    for (int i = 1; i < k; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < k; i++)
        sum += rate[i];
    return sum;
}
