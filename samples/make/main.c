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

enum { N = 32, D = 4, STEPS = 200 };

/* t = 2 x0 - x1 + 0.5 x3 + 1 */
static int fit_regress(void) {
    regress_params *p = nnrt_alloc(sizeof *p);
    regress_state *st = nnrt_alloc(sizeof *st);
    regress_inputs *in = nnrt_alloc(sizeof *in);
    regress_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(regress_model.workspace_size);
    if (!p || !st || !in || !out || !ws)
        return 1;
    regress_init(p, 1);
    regress_set_defaults(in);
    unsigned seed = 1;
    double first = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < D; j++)
                in->x[i][j] = uniform(&seed);
            in->t[i][0] = 2 * in->x[i][0] - in->x[i][1] + 0.5f * in->x[i][3] + 1;
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

/* y = the index of the largest of x0, x1, x2 */
static int fit_classify(void) {
    classify_params *p = nnrt_alloc(sizeof *p);
    classify_state *st = nnrt_alloc(sizeof *st);
    classify_inputs *in = nnrt_alloc(sizeof *in);
    classify_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(classify_model.workspace_size);
    if (!p || !st || !in || !out || !ws)
        return 1;
    classify_init(p, 1);
    classify_set_defaults(in);
    unsigned seed = 2;
    double first = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < D; j++)
                in->x[i][j] = uniform(&seed);
            int c = 0;
            for (int j = 1; j < 3; j++)
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
