/*
 * pair_bench.c: two builds of samples/mlp.nn, their train steps timed side
 * by side at 256, 32 and 1 rows (sides.c).  Compiled once per pair, the
 * models and their names given by -D:
 *
 *   optim_bench  FIRST=adam_model SECOND=dyn_model: the model with its
 *                optimizer line replaced by adam(lr = 1e-3) against SGD
 *                (issue 17: Adam adds at most 15% at batch 256)
 *   isa_bench    FIRST=dflt_model SECOND=dyn_model: the build without
 *                --cpu (its products compiled for three x86-64 levels,
 *                one chosen at run time) against --cpu=native (issue 22:
 *                within 5%)
 *
 *   optim_bench|isa_bench [ROUNDS]
 *
 * train_step is timed alternately, ROUNDS rounds of about 20 ms of calls,
 * and the best time per call of each is printed with their ratio.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sides.h"

extern const nnrt_model FIRST, SECOND;

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    const int64_t rows[3] = {256, 32, 1};
    for (int k = 0; k < 3; k++) {
        Side side[2] = {side_setup(&FIRST, rows[k]), side_setup(&SECOND, rows[k])};
        for (int s = 0; s < 2; s++)
            if (side_call(&side[s], 1) != 0) {
                fprintf(stderr, "pair_bench: %s's train_step failed\n", side[s].m->name);
                return 1;
            }
        double best[2];
        side_time(side, 1, rounds, best);
        printf("train_step at %3lld rows: %s %8.1f us   %s %8.1f us   %s/%s %.3f\n", (long long)rows[k],
               FIRST_NAME, best[0] * 1e6, SECOND_NAME, best[1] * 1e6, FIRST_NAME, SECOND_NAME, best[0] / best[1]);
        side_free(&side[0]);
        side_free(&side[1]);
    }
    return 0;
}
