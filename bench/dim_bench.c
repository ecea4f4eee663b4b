/*
 * dim_bench.c: a model whose batch is a runtime dim (samples/mlp.nn, dim
 * batch <= 256) called at 256, 32 and 1 rows, against the same model
 * compiled with `const batch` at each of those sizes (contract, 5.1: a call
 * at n costs the work of n).
 *
 *   dim_bench [ROUNDS]
 *
 * Links with dyn_model (the dim build) and fix256_model, fix32_model,
 * fix1_model (the const builds, nnc --prefix=fixN).  Both sides start from
 * the same params and the same data in the rows in use; one train step of
 * each is compared first (J), then train_step and forward are timed
 * alternately, ROUNDS times, each round about 20 ms of calls, and the best
 * time per call of each is printed with the ratio dim / const.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sides.h"

extern const nnrt_model dyn_model, fix256_model, fix32_model, fix1_model;

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9, status = 0;
    const nnrt_model *fixed[3] = {&fix256_model, &fix32_model, &fix1_model};
    const int64_t rows[3] = {256, 32, 1};
    for (int k = 0; k < 3; k++) {
        Side side[2] = {side_setup(&dyn_model, rows[k]), side_setup(fixed[k], rows[k])};
        for (int s = 0; s < 2; s++)
            if (side_call(&side[s], 1) != 0) {
                fprintf(stderr, "dim_bench: %s's train_step failed\n", side[s].m->name);
                return 1;
            }
        float J0 = side_objective(&side[0]), J1 = side_objective(&side[1]);
        if (fabsf(J0 - J1) > 1e-5f * fabsf(J1)) {
            printf("batch %3lld: the dim build's J %.7g differs from the const build's %.7g\n", (long long)rows[k],
                   J0, J1);
            status = 1;
        }
        for (int train = 1; train >= 0; train--) {
            double best[2];
            side_time(side, train, rounds, best);
            printf("%-10s at %3lld rows: dim batch <= 256 %8.1f us   const batch = %-3lld %8.1f us   dim/const %.3f\n",
                   train ? "train_step" : "forward", (long long)rows[k], best[0] * 1e6, (long long)rows[k],
                   best[1] * 1e6, best[0] / best[1]);
        }
        side_free(&side[0]);
        side_free(&side[1]);
    }
    return status;
}
