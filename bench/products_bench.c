/*
 * products_bench.c: the five matrix products of samples/mlp.nn's train
 * step, each compiled alone and run inside the step, on one thread, against
 * the FMA peak measured here (peak.c).  Issue 15 asks for each product of
 * the step within 10% of its time alone, and at 90% of the peak.
 *
 *   products_bench [ROUNDS]
 *
 * Alone: bench/product.nn at each product's shape and form (bench.mk), its
 * rows fixed, the call's time.  In the step: dyn_model (the example with
 * its batch a runtime dim, as thread_bench links it) at 256 and 32 rows;
 * the two products of at least 2 MFLOP, the forward x @ W1.T and W1's
 * gradient G1.T @ x (98% of the step's FLOPs), run through nnrt_parallel
 * even on one thread, so the calls are timed there: the link wraps it
 * (-Wl,--wrap=nnrt_parallel), and in each step the two longest calls, in
 * the order the step makes them, are those two.  The three products of the
 * 10-class layer are called inline and only timed alone.  The two sides
 * alternate, round after round, best of ROUNDS (default 9) rounds of about
 * 20 ms each, so that the machine's load moves both.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <nnrt.h>

#include "peak.h"
#include "sides.h"

extern const nnrt_model dyn_model;
extern const nnrt_model prod_fwd_256_model, prod_out_256_model, prod_dhid_256_model, prod_dw2_256_model,
    prod_dw1_256_model, prod_fwd_32_model, prod_out_32_model, prod_dhid_32_model, prod_dw2_32_model, prod_dw1_32_model;

/* ---- the step's calls of nnrt_parallel, timed ---- */

enum { MAX_CALLS = 64 };
static double call_secs[MAX_CALLS];
static int ncalls;

__typeof__(nnrt_parallel) __real_nnrt_parallel, __wrap_nnrt_parallel;
void __wrap_nnrt_parallel(nnrt_task task, void *ctx, int64_t units, int64_t grain, size_t scratch_bytes,
                          void *scratch) {
    double t0 = side_now();
    __real_nnrt_parallel(task, ctx, units, grain, scratch_bytes, scratch);
    if (ncalls < MAX_CALLS)
        call_secs[ncalls] = side_now() - t0;
    ncalls++;
}

/* One step; the times of its two longest calls, in call order. */
static void step_products(const Side *s, double out[2]) {
    ncalls = 0;
    if (side_call(s, 1) != 0) {
        fprintf(stderr, "products_bench: the train step failed\n");
        exit(1);
    }
    int n = ncalls < MAX_CALLS ? ncalls : MAX_CALLS, first = -1, second = -1;
    for (int i = 0; i < n; i++)
        if (first < 0 || call_secs[i] > call_secs[first]) {
            second = first;
            first = i;
        } else if (second < 0 || call_secs[i] > call_secs[second]) {
            second = i;
        }
    if (second < 0) {
        fprintf(stderr, "products_bench: the step split %d loops across threads, not the two products\n", n);
        exit(1);
    }
    out[0] = call_secs[first < second ? first : second];
    out[1] = call_secs[first < second ? second : first];
}

/* ---- the products ---- */

typedef struct Product {
    const char *what;
    const nnrt_model *alone[2];     /* at 256 and 32 rows */
    int in_step;                    /* 1 or 2: the step's first or second long call; 0: inline */
} Product;

static const int64_t batches[2] = {256, 32};
static const Product products[] = {
    {"x @ W1.T, forward", {&prod_fwd_256_model, &prod_fwd_32_model}, 1},
    {"hid @ W2.T, forward", {&prod_out_256_model, &prod_out_32_model}, 0},
    {"G2 @ W2, hid's gradient", {&prod_dhid_256_model, &prod_dhid_32_model}, 0},
    {"G2.T @ hid, W2's gradient", {&prod_dw2_256_model, &prod_dw2_32_model}, 0},
    {"G1.T @ x, W1's gradient", {&prod_dw1_256_model, &prod_dw1_32_model}, 2},
};
enum { NPRODUCTS = sizeof products / sizeof products[0] };

/* C's shape and the FLOPs of a product model: C = op(A) @ op(B), A m*k
 * elements either way. */
static double product_flops(const nnrt_model *m, int64_t *rows, int64_t *cols, int64_t *inner) {
    const nnrt_tensor *a = side_find(m, "A"), *c = side_find(m, "C");
    *rows = c->dims[0];
    *cols = c->dims[1];
    *inner = (int64_t)(a->size / sizeof(float)) / *rows;
    return 2.0 * (double)*rows * (double)*cols * (double)*inner;
}

/* A and B filled with sin(i) and cos(i). */
static Side product_side(const nnrt_model *m) {
    Side s = side_setup(m, 0);
    const char *names[2] = {"A", "B"};
    for (int k = 0; k < 2; k++) {
        const nnrt_tensor *t = side_find(m, names[k]);
        float *p = (float *)((char *)s.inputs + t->offset);
        for (size_t i = 0; i < t->size / sizeof(float); i++)
            p[i] = (float)(k ? cos((double)i) : sin((double)i));
    }
    return s;
}

/* The best time of a call of the product's forward over about 20 ms of
 * calls, into *best. */
static void time_alone(const Side *s, double *best) {
    double start = side_now();
    do {
        double t0 = side_now();
        side_call(s, 0);
        double t = side_now() - t0;
        *best = t < *best ? t : *best;
    } while (side_now() - start < 0.02);
}

/* The same for the step's two long calls, into best[0] and best[1]. */
static void time_step(const Side *s, double best[2]) {
    double start = side_now();
    do {
        double t[2];
        step_products(s, t);
        for (int k = 0; k < 2; k++)
            best[k] = t[k] < best[k] ? t[k] : best[k];
    } while (side_now() - start < 0.02);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    nnrt_set_num_threads(1);
    double peak = fma_peak(1);
    printf("FMA peak, measured (f32, %d chains of 16-lane FMAs): %.1f GFLOP/s, one thread\n", PEAK_CHAINS,
           peak / 1e9);
    for (int b = 0; b < 2; b++) {
        Side alone[NPRODUCTS];
        double best_alone[NPRODUCTS], best_step[2] = {INFINITY, INFINITY};
        for (int i = 0; i < NPRODUCTS; i++) {
            alone[i] = product_side(products[i].alone[b]);
            best_alone[i] = INFINITY;
        }
        Side step = side_setup(&dyn_model, batches[b]);
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < NPRODUCTS; i++)
                time_alone(&alone[i], &best_alone[i]);
            time_step(&step, best_step);
        }
        printf("train step at batch %lld, one thread:\n", (long long)batches[b]);
        for (int i = 0; i < NPRODUCTS; i++) {
            int64_t rows, cols, inner;
            double flops = product_flops(products[i].alone[b], &rows, &cols, &inner);
            printf("  %-26s %4lld x %4lld x %4lld   alone %7.1f us %6.1f GFLOP/s %4.2f of the peak", products[i].what,
                   (long long)rows, (long long)inner, (long long)cols, best_alone[i] * 1e6,
                   flops / best_alone[i] / 1e9, flops / best_alone[i] / peak);
            if (products[i].in_step) {
                double t = best_step[products[i].in_step - 1];
                printf("   in the step %7.1f us %4.2f of the peak, %.2f x alone\n", t * 1e6, flops / t / peak,
                       t / best_alone[i]);
            } else {
                printf("   in the step: inline, not timed\n");
            }
        }
        for (int i = 0; i < NPRODUCTS; i++)
            side_free(&alone[i]);
        side_free(&step);
    }
    return 0;
}
