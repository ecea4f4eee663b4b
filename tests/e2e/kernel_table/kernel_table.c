/*
 * kernel_table.c: kernel_table.nn, whose backward and train_step call their
 * kernels from a table (codegen.c, kernel tables), against the same
 * recurrence and its gradient written out in C in double, at n = 3 of the
 * runtime dim's 4 rows.  Built for the f32 model and its --dtype=f64
 * build: -DMODEL, -DREAL, -DTOL.
 * Exits 1 on any difference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model MODEL;

enum { N = 3, D = 3, STEPS = 150 };   /* N rows in use of the dim's 4 */

static void *at(void *base, const char *name) {
    const nnrt_model *m = &MODEL;
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return (char *)base + m->tensors[i].offset;
    fprintf(stderr, "kernel_table: no tensor '%s'\n", name);
    exit(2);
}

static int close_to(double got, double want) { return fabs(got - want) <= TOL * (1 + fabs(want)); }

int main(void) {
    const nnrt_model *m = &MODEL;
    void *params = nnrt_alloc(m->params_size), *inputs = nnrt_alloc(m->inputs_size);
    void *outputs = nnrt_alloc(m->outputs_size), *grads = nnrt_alloc(m->params_size);
    void *ws = nnrt_alloc(m->workspace_size), *state = nnrt_alloc(m->state_size);
    m->init(params, state, 0);
    m->set_defaults(inputs);
    *(int64_t *)at(inputs, "n") = N;
    REAL *x = at(inputs, "x"), *w = at(params, "w");
    for (int i = 0; i < 4 * D; i++)   /* the unused row holds NaN: no result may read it */
        x[i] = i < N * D ? (REAL)((i % 5 - 2) / 4.0) : (REAL)NAN;

    /* h_{k+1} = tanh(h_k * w) + x, J = mean(h^2); keep every h_k. */
    static double h[STEPS + 1][N * D];
    for (int i = 0; i < N * D; i++)
        h[0][i] = x[i];
    for (int k = 0; k < STEPS; k++)
        for (int i = 0; i < N * D; i++)
            h[k + 1][i] = tanh(h[k][i] * w[i % D]) + x[i];
    double J = 0, dh[N * D], dw[D] = {0};
    for (int i = 0; i < N * D; i++) {
        J += h[STEPS][i] * h[STEPS][i] / (N * D);
        dh[i] = 2 * h[STEPS][i] / (N * D);
    }
    for (int k = STEPS - 1; k >= 0; k--)
        for (int i = 0; i < N * D; i++) {
            double t = tanh(h[k][i] * w[i % D]), g = dh[i] * (1 - t * t);
            dw[i % D] += g * h[k][i];
            dh[i] = g * w[i % D];
        }

    int failures = 0;
    memset(ws, 0x5A, m->workspace_size);
    if (m->forward(params, state, inputs, outputs, ws) != 0 || !close_to(*(REAL *)at(outputs, "J"), J)) {
        printf("kernel_table: forward J = %.10g, expected %.10g\n", (double)*(REAL *)at(outputs, "J"), J);
        failures++;
    }
    memset(ws, 0x5A, m->workspace_size);
    if (m->backward(params, state, inputs, outputs, grads, ws) != 0)
        failures++;
    const REAL *g = at(grads, "w");
    for (int j = 0; j < D; j++)
        if (!close_to(g[j], dw[j])) {
            printf("kernel_table: dJ/dw[%d] = %.10g, expected %.10g\n", j, (double)g[j], dw[j]);
            failures++;
        }
    double w0[D];
    for (int j = 0; j < D; j++)
        w0[j] = w[j];
    memset(ws, 0x5A, m->workspace_size);
    if (m->train_step(params, state, inputs, outputs, ws) != 0)
        failures++;
    for (int j = 0; j < D; j++)
        if (!close_to(w[j], w0[j] - 0.1 * dw[j])) {
            printf("kernel_table: w[%d] after a step = %.10g, expected %.10g\n", j, (double)w[j], w0[j] - 0.1 * dw[j]);
            failures++;
        }
    printf("kernel_table (%s): %s\n", sizeof(REAL) == 4 ? "f32" : "f64", failures ? "FAILED" : "ok");
    void *blocks[] = {params, inputs, outputs, grads, ws, state};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        nnrt_free(blocks[i]);
    return failures != 0;
}
