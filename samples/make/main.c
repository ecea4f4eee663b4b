/*
 * main.c: the Make sample's program.  Fits regress.nn (linear regression)
 * and classify.nn (softmax regression) to synthetic data for 200 steps each
 * and exits 1 unless the objectives fall: regress's below a tenth of where it
 * began, classify's below half.
 */
#include "classify.h"
#include "regress.h"

#include <stdio.h>

static float uniform(unsigned *s) { /* xorshift32 in [-1, 1), for the data */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s / 2147483648.0 - 1.0);
}

/* The sizes each model was compiled with, read off its generated structs,
 * so that -D batch=... or -D d=... needs no change here.  batch is a runtime
 * dim: the arrays hold its MAX rows, and in->batch (set_defaults: the MAX)
 * is how many a call uses; these fits fill them all. */
enum { RN = sizeof(((regress_inputs *)0)->t) / sizeof(float),
       RD = sizeof(((regress_inputs *)0)->x[0]) / sizeof(float),
       CN = sizeof(((classify_inputs *)0)->y) / sizeof(int32_t),
       CD = sizeof(((classify_inputs *)0)->x[0]) / sizeof(float),
       CQ = sizeof(((classify_outputs *)0)->o[0]) / sizeof(float),
       STEPS = 200 };

/* t = 2 x0 - x1 + 0.5 x_(d-1) + 1 */
static int fit_regress(void) {
    regress_params *p = nnrt_alloc(sizeof *p);
    regress_state *st = nnrt_alloc(sizeof *st);
    regress_inputs *in = nnrt_alloc(sizeof *in);
    regress_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(regress_model.workspace_size);
    if (!p || !st || !in || !out || !ws)
        return 1;
    regress_init(p, st, 1);
    regress_set_defaults(in);
    unsigned seed = 1;
    double first = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < RN; i++) {
            for (int j = 0; j < RD; j++)
                in->x[i][j] = uniform(&seed);
            in->t[i][0] = 2 * in->x[i][0] - in->x[i][1] + 0.5f * in->x[i][RD - 1] + 1;
        }
        if (regress_train_step(p, st, in, out, ws) != 0)
            return 1;
        if (step == 0)
            first = out->J;
    }
    printf("regress: J %.4f -> %.4f\n", first, out->J);
    int rc = out->J < 0.1 * first ? 0 : 1;
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return rc;
}

/* y = the index of the largest of the first q features */
static int fit_classify(void) {
    classify_params *p = nnrt_alloc(sizeof *p);
    classify_state *st = nnrt_alloc(sizeof *st);
    classify_inputs *in = nnrt_alloc(sizeof *in);
    classify_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(classify_model.workspace_size);
    if (!p || !st || !in || !out || !ws)
        return 1;
    classify_init(p, st, 1);
    classify_set_defaults(in);
    unsigned seed = 2;
    double first = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < CN; i++) {
            for (int j = 0; j < CD; j++)
                in->x[i][j] = uniform(&seed);
            int c = 0;
            for (int j = 1; j < CQ && j < CD; j++)
                if (in->x[i][j] > in->x[i][c])
                    c = j;
            in->y[i] = c;
        }
        if (classify_train_step(p, st, in, out, ws) != 0)
            return 1;
        if (step == 0)
            first = out->J;
    }
    printf("classify: J %.4f -> %.4f\n", first, out->J);
    int rc = out->J < 0.5 * first ? 0 : 1;
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return rc;
}

int main(void) {
    return fit_regress() | fit_classify();
}
