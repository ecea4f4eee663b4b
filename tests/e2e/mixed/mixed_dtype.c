/*
 * mixed_dtype.c: forward of mixed_dtype.nn against the same sums in C.
 *
 * The product x @ W.T is f32 and h = relu(x @ W.T + D) is f64; nnc once
 * computed h in the product's place, writing twice the product's bytes
 * over the next buffer (J came out inf).  The reference sums the product in
 * float, in order, as nnc does for K = 3, then the rest in double; they
 * agree to far better than 1e-6.  Exits 1 when they do not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model mixed_dtype_model;

/* Where tensor name lives in base, the struct of its role. */
static void *at(void *base, const char *name) {
    const nnrt_model *m = &mixed_dtype_model;
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return (char *)base + m->tensors[i].offset;
    fprintf(stderr, "mixed_dtype: no tensor '%s'\n", name);
    exit(2);
}

int main(void) {
    const nnrt_model *m = &mixed_dtype_model;
    void *params = nnrt_alloc(m->params_size), *inputs = nnrt_alloc(m->inputs_size);
    void *outputs = nnrt_alloc(m->outputs_size), *ws = nnrt_alloc(m->workspace_size);
    void *state = nnrt_alloc(m->state_size);
    m->init(params, state, 0);
    float *x = at(inputs, "x"), *W = at(params, "W");
    double *D = at(params, "D"), *V = at(params, "V");
    for (int i = 0; i < 8 * 3; i++)
        x[i] = (float)(i % 7 - 3) / 3;
    for (int i = 0; i < 5 * 3; i++)
        W[i] = (float)(i % 5 - 2) / 2;
    for (int i = 0; i < 8 * 5; i++)
        D[i] = (i % 9 - 4) / 4.0;
    for (int i = 0; i < 5 * 2; i++)
        V[i] = (i % 3 - 1) / 1.5;

    double h[8][5], want = 0;
    for (int b = 0; b < 8; b++)
        for (int j = 0; j < 5; j++) {
            float s = 0;
            for (int k = 0; k < 3; k++)
                s += x[b * 3 + k] * W[j * 3 + k];
            h[b][j] = fmax((double)s + D[b * 5 + j], 0);
        }
    for (int b = 0; b < 8; b++)
        for (int c = 0; c < 2; c++) {
            double s = 0;
            for (int j = 0; j < 5; j++)
                s += h[b][j] * V[j * 2 + c];
            want += s * s;
        }

    memset(ws, 0x5A, m->workspace_size);   /* garbage, as a reused workspace holds */
    int rc = m->forward(params, state, inputs, outputs, ws);
    double got = *(double *)at(outputs, "J");
    int ok = rc == 0 && fabs(got - want) <= 1e-6 * fabs(want);
    printf("mixed_dtype: J = %.10g, expected %.10g: %s\n", got, want, ok ? "ok" : "FAILED");
    nnrt_free(params);
    nnrt_free(inputs);
    nnrt_free(outputs);
    nnrt_free(ws);
    nnrt_free(state);
    return !ok;
}
