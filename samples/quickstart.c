/*
 * quickstart.c: train samples/mlp.nn from C on a synthetic task.
 *
 *   nnc -D d=20 -D h=32 -D q=4 -D batch=64 samples/mlp.nn -o mlp.o
 *   cc quickstart.c mlp.o $(pkg-config --cflags --libs nnrt) -o quickstart
 *
 * Each class c is a Gaussian blob around its own random centre in R^d; the
 * network learns to tell them apart and the loss falls.  Exits 1 if it
 * does not, so the test suite runs this program as it is.
 *
 * The model's batch is a runtime dim: the arrays of mlp_inputs hold its MAX
 * rows (64 here, from -D batch=64), and in->batch says how many a call uses.
 */
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { BATCH = sizeof(((mlp_inputs *)0)->y) / sizeof(int32_t),     /* the MAX */
       D = sizeof(((mlp_inputs *)0)->x[0]) / sizeof(float),
       Q = sizeof(((mlp_outputs *)0)->o[0]) / sizeof(float) };

/* The synthetic data's own small generator (xorshift32); the model's params
 * come from the runtime's Philox generator through mlp_init. */
static unsigned next(unsigned *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static double gauss(unsigned *s) {
    double u = (next(s) + 1.0) / 4294967297.0, v = (next(s) + 1.0) / 4294967297.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(void) {
    mlp_params *p = nnrt_alloc(sizeof *p);
    mlp_state *st = nnrt_alloc(sizeof *st);
    mlp_inputs *in = nnrt_alloc(sizeof *in);
    mlp_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(mlp_model.workspace_size);
    if (!p || !st || !in || !out || !ws) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    mlp_init(p, st, 42);      /* the initializers declared in mlp.nn; seed, step = 0 */
    mlp_set_defaults(in);     /* lambda = 1e-4, lr = 0.1, batch = its MAX */

    unsigned seed = 7;
    static float centre[Q][D];
    for (int c = 0; c < Q; c++)
        for (int j = 0; j < D; j++)
            centre[c][j] = (float)gauss(&seed);

    double first = 0, last = 0;
    for (int step = 0; step < 300; step++) {
        for (int i = 0; i < BATCH; i++) {
            int c = (int)(next(&seed) % Q);
            in->y[i] = c;
            for (int j = 0; j < D; j++)
                in->x[i][j] = centre[c][j] + 0.5f * (float)gauss(&seed);
        }
        in->batch = BATCH;    /* rows filled, 1 to BATCH: the model uses those only */
        int rc = mlp_train_step(p, st, in, out, ws);
        if (rc != 0) {
            fprintf(stderr, "train step: %s\n", nnrt_strerror(rc));
            return 1;
        }
        if (step == 0)
            first = out->J;
        last = out->J;
        if (step % 50 == 0)
            printf("step %3d  J = %.4f\n", step, out->J);
    }
    printf("objective fell from %.4f to %.4f\n", first, last);
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return last < 0.5 * first ? 0 : 1;
}
