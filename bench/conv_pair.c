/*
 * conv_pair.c: two builds of bench/conv.nn at one shape, A_model (built by
 * another nnc, an earlier revision) and B_model (this one), compared in one
 * process: both must compute the same step, and their train steps are timed
 * alternately (sides.c), so that a change to how a convolution or its
 * gradients are computed is measured against the code before it.
 *
 *   make conv-pair NNC_BEFORE=/path/to/the/earlier/nnc [CONV_PAIRS="vgg r16"]
 *   conv_pair_SHAPE [ROUNDS] [THREADS]
 *
 * Both sides start from init(42) and the same output gradient G[i] =
 * sin(i); after one train_step, X and W (updated by their gradients) must
 * agree within 1e-5 relative to their largest element, or it exits with 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sides.h"

extern const nnrt_model A_model, B_model;

static const float *param(const Side *s, const char *name) {
    return (const float *)((const char *)s->params + side_find(s->m, name)->offset);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    nnrt_set_num_threads(argc > 2 ? atoi(argv[2]) : 1);
    Side side[2] = {side_setup(&A_model, 0), side_setup(&B_model, 0)};
    for (int k = 0; k < 2; k++) {
        const nnrt_tensor *g = side_find(side[k].m, "G");
        float *gs = (float *)((char *)side[k].inputs + g->offset);
        for (size_t i = 0; i < g->size / sizeof *gs; i++)
            gs[i] = (float)sin((double)i);
        if (side_call(&side[k], 1) != 0) {
            fprintf(stderr, "conv_pair: side %c's train_step failed\n", "AB"[k]);
            return 1;
        }
    }
    static const char *const names[] = {"X", "W"};
    int bad = 0;
    for (int t = 0; t < 2; t++) {
        const float *a = param(&side[0], names[t]), *b = param(&side[1], names[t]);
        size_t n = side_find(&A_model, names[t])->size / sizeof *a;
        double diff = 0, big = 0;
        for (size_t i = 0; i < n; i++) {
            diff = fmax(diff, fabs((double)a[i] - b[i]));
            big = fmax(big, fabs((double)a[i]));
        }
        printf("%s after a step: largest difference %.3g, largest element %.3g\n", names[t], diff, big);
        bad |= !(diff <= 1e-5 * big);
    }
    if (bad) {
        fprintf(stderr, "conv_pair: the two builds compute different steps\n");
        return 1;
    }
    double best[2];
    side_time(side, 1, rounds, best);
    printf("train_step: A %.3f ms, B %.3f ms, B/A %.3f\n", best[0] * 1e3, best[1] * 1e3, best[1] / best[0]);
    side_free(&side[0]);
    side_free(&side[1]);
    return 0;
}
