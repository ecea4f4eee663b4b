/*
 * sides.h: two builds of samples/mlp.nn timed side by side in one process
 * (sides.c), for dim_bench.c, optim_bench.c, thread_bench.c and
 * products_bench.c.  Both sides get the same params (init, seed 42) and
 * the same data in the rows in use; their calls alternate, round after
 * round, so the machine's load moves both.
 */
#ifndef BENCH_SIDES_H
#define BENCH_SIDES_H

#include <stdint.h>

#include <nnrt.h>

/* A model's structs, ready to call at n rows. */
typedef struct Side {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *ws;
} Side;

/* x[i][j] = sin(i*d + j) and y[i] = i % 10 for the first n rows, d the
 * elements of a row of x; the model's dim (when it has one) set to n.
 * With n = 0, the inputs as set_defaults leaves them, for a model without
 * x and y. */
Side side_setup(const nnrt_model *m, int64_t n);
void side_free(Side *s);
/* Tensor name of m; exits if there is none. */
const nnrt_tensor *side_find(const nnrt_model *m, const char *name);
/* train_step (train) or forward; its return code. */
int side_call(const Side *s, int train);
float side_objective(const Side *s);
/* Seconds on the monotonic clock. */
double side_now(void);
/* The best time per call, in seconds, of each side over rounds rounds of
 * about 20 ms of calls each. */
void side_time(const Side sides[2], int train, int rounds, double best[2]);

#endif
