/*
 * main.c: the CMake sample's program.  Trains blobs.nn (as nnc_add_model
 * compiled it, with d=20 q=5) for 100 steps on Gaussian blobs, one per class,
 * and exits 1 unless the objective falls below half of where it started.
 */
#include "blobs.h"

#include <math.h>
#include <stdio.h>

/* The sizes the model was compiled with, read off the generated structs. */
enum { BATCH = sizeof(((blobs_inputs *)0)->y) / sizeof(int32_t),
       D = sizeof(((blobs_inputs *)0)->x[0]) / sizeof(float),
       Q = sizeof(((blobs_outputs *)0)->o[0]) / sizeof(float) };

static unsigned next(unsigned *s) { /* xorshift32, for the data only */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static float gauss(unsigned *s) {
    double u = (next(s) + 1.0) / 4294967297.0, v = (next(s) + 1.0) / 4294967297.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

int main(void) {
    blobs_params *p = nnrt_alloc(sizeof *p);
    blobs_state *st = nnrt_alloc(sizeof *st);     /* blobs_init sets it: momentum zero */
    blobs_inputs *in = nnrt_alloc(sizeof *in);
    blobs_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(blobs_model.workspace_size);
    if (!p || !st || !in || !out || !ws) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    blobs_init(p, st, 1);
    blobs_set_defaults(in);                       /* lambda, lr; batch = its MAX, all rows */

    unsigned seed = 2024;
    static float centre[Q][D];
    for (int c = 0; c < Q; c++)
        for (int j = 0; j < D; j++)
            centre[c][j] = gauss(&seed);

    double first = 0, last = 0;
    for (int step = 0; step < 100; step++) {
        for (int i = 0; i < BATCH; i++) {
            int c = (int)(next(&seed) % Q);
            in->y[i] = c;
            for (int j = 0; j < D; j++)
                in->x[i][j] = centre[c][j] + 0.5f * gauss(&seed);
        }
        int rc = blobs_train_step(p, st, in, out, ws);
        if (rc != 0) {
            fprintf(stderr, "train step: %s\n", nnrt_strerror(rc));
            return 1;
        }
        if (step == 0)
            first = out->J;
        last = out->J;
    }
    printf("blobs (d=%d, q=%d): the objective fell from %.4f to %.4f in 100 steps\n",
           D, Q, first, last);
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return last < 0.5 * first ? 0 : 1;
}
