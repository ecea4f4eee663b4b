/*
 * optim_bench.c: the cost of Adam over SGD in a train step (issue 17:
 * target, Adam adds at most 15% at batch 256).  samples/mlp.nn as it is
 * (sgd, dim batch <= 256) and with its optimizer line replaced by
 * adam(lr = 1e-3) (nnc --prefix=adam), called at 256, 32 and 1 rows.
 *
 *   optim_bench [ROUNDS]
 *
 * train_step is timed alternately, ROUNDS rounds of about 20 ms of calls,
 * and the best time per call of each is printed with the ratio adam / sgd.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sides.h"

extern const nnrt_model dyn_model, adam_model;

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    const int64_t rows[3] = {256, 32, 1};
    for (int k = 0; k < 3; k++) {
        Side side[2] = {side_setup(&adam_model, rows[k]), side_setup(&dyn_model, rows[k])};
        for (int s = 0; s < 2; s++)
            if (side_call(&side[s], 1) != 0) {
                fprintf(stderr, "optim_bench: %s's train_step failed\n", side[s].m->name);
                return 1;
            }
        double best[2];
        side_time(side, 1, rounds, best);
        printf("train_step at %3lld rows: adam %8.1f us   sgd %8.1f us   adam/sgd %.3f\n", (long long)rows[k],
               best[0] * 1e6, best[1] * 1e6, best[0] / best[1]);
        side_free(&side[0]);
        side_free(&side[1]);
    }
    return 0;
}
