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
#include <string.h>
#include <time.h>

#include <nnrt.h>

extern const nnrt_model dyn_model, fix256_model, fix32_model, fix1_model;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A model's structs, ready to call at n rows. */
typedef struct Run {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *ws;
} Run;

static void *alloc(size_t n) {
    void *p = nnrt_alloc(n);
    if (!p) {
        fprintf(stderr, "dim_bench: out of memory\n");
        exit(2);
    }
    return p;
}

static const nnrt_tensor *find(const nnrt_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    fprintf(stderr, "dim_bench: model %s has no tensor '%s'\n", m->name, name);
    exit(2);
}

/* x[i][j] and y[i] for the first n rows, the same for every model; the
 * dim (when the model has it) set to n. */
static Run setup(const nnrt_model *m, int64_t n) {
    Run r = {m, alloc(m->params_size), alloc(m->state_size), alloc(m->inputs_size), alloc(m->outputs_size),
             alloc(m->workspace_size)};
    m->init(r.params, r.state, 42);
    m->set_defaults(r.inputs);
    const nnrt_tensor *x = find(m, "x"), *y = find(m, "y");
    float *xs = (float *)((char *)r.inputs + x->offset);
    int32_t *ys = (int32_t *)((char *)r.inputs + y->offset);
    int64_t d = x->dims[1], q = 10;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++)
            xs[i * d + j] = (float)sin((double)(i * d + j));
        ys[i] = (int32_t)(i % q);
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].role == NNRT_DIM)
            *(int64_t *)((char *)r.inputs + m->tensors[i].offset) = n;
    return r;
}

static float objective(const Run *r) { return *(float *)((char *)r->outputs + find(r->m, r->m->objective)->offset); }

static int call(const Run *r, int train) {
    return train ? r->m->train_step(r->params, r->state, r->inputs, r->outputs, r->ws)
                 : r->m->forward(r->params, r->state, r->inputs, r->outputs, r->ws);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9, status = 0;
    const nnrt_model *fixed[3] = {&fix256_model, &fix32_model, &fix1_model};
    const int64_t rows[3] = {256, 32, 1};
    for (int k = 0; k < 3; k++) {
        Run side[2] = {setup(&dyn_model, rows[k]), setup(fixed[k], rows[k])};
        for (int s = 0; s < 2; s++)
            if (call(&side[s], 1) != 0) {
                fprintf(stderr, "dim_bench: %s's train_step failed\n", side[s].m->name);
                return 1;
            }
        float J0 = objective(&side[0]), J1 = objective(&side[1]);
        if (fabsf(J0 - J1) > 1e-5f * fabsf(J1)) {
            printf("batch %3lld: the dim build's J %.7g differs from the const build's %.7g\n", (long long)rows[k],
                   J0, J1);
            status = 1;
        }
        for (int train = 1; train >= 0; train--) {
            double best[2] = {1e30, 1e30};
            for (int round = 0; round < rounds; round++)
                for (int s = 0; s < 2; s++) {
                    int calls = 0;
                    double t0 = now(), t;
                    do {
                        call(&side[s], train);
                        calls++;
                    } while ((t = now() - t0) < 0.02);
                    if (t / calls < best[s])
                        best[s] = t / calls;
                }
            printf("%-10s at %3lld rows: dim batch <= 256 %8.1f us   const batch = %-3lld %8.1f us   dim/const %.3f\n",
                   train ? "train_step" : "forward", (long long)rows[k], best[0] * 1e6, (long long)rows[k],
                   best[1] * 1e6, best[0] / best[1]);
        }
    }
    return status;
}
