/*
 * gemm_bench.c: the matrix product nnc generates for bench/gemm.nn (one
 * size per build) against OpenBLAS's cblas_sgemm on one thread.
 *
 *   gemm_bench [ROUNDS]
 *
 * The two are timed alternately, ROUNDS times each (default 15), on the
 * same inputs; each round runs enough calls for about 10 ms.  Prints the
 * best GFLOP/s of each and the ratio of their throughputs, after checking
 * that they agree.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnrt.h>

extern const nnrt_model gemm_model;
void openblas_set_num_threads(int n);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const nnrt_tensor *find(const char *name) {
    for (int i = 0; i < gemm_model.n_tensors; i++)
        if (strcmp(gemm_model.tensors[i].name, name) == 0)
            return &gemm_model.tensors[i];
    fprintf(stderr, "gemm_bench: no tensor '%s'\n", name);
    exit(2);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    openblas_set_num_threads(1);
    const nnrt_model *m = &gemm_model;
    int n = (int)find("A")->dims[0];
    char *params = nnrt_alloc(m->params_size), *inputs = nnrt_alloc(m->inputs_size);
    char *outputs = nnrt_alloc(m->outputs_size), *ws = nnrt_alloc(m->workspace_size);
    char *state = nnrt_alloc(m->state_size);
    m->init(params, state, 0);
    float *a = (float *)(inputs + find("A")->offset), *b = (float *)(inputs + find("B")->offset);
    float *c = (float *)(outputs + find("C")->offset), *ref = nnrt_alloc(sizeof(float) * (size_t)n * (size_t)n);
    srand(1);
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)rand() / RAND_MAX - 0.5f;
        b[i] = (float)rand() / RAND_MAX - 0.5f;
    }
    m->forward(params, state, inputs, outputs, ws);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, ref, n);
    double err = 0;
    for (long i = 0; i < (long)n * n; i++)
        err = fmax(err, fabs(c[i] - ref[i]));
    if (err > 1e-3 * sqrt(n)) {
        fprintf(stderr, "gemm_bench: n=%d: nnc and OpenBLAS differ by %g\n", n, err);
        return 1;
    }
    double flop = 2.0 * n * n * n;
    int calls = (int)(0.01 * 50e9 / flop) + 1;
    double best[2] = {1e30, 1e30};
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) {
            double t = now();
            for (int i = 0; i < calls; i++)
                if (k == 0)
                    m->forward(params, state, inputs, outputs, ws);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, ref, n);
            t = (now() - t) / calls;
            if (t < best[k])
                best[k] = t;
        }
    printf("gemm %5d   nnc %6.1f GFLOP/s   OpenBLAS %6.1f GFLOP/s   throughput nnc/OpenBLAS %.2f\n", n,
           flop / best[0] * 1e-9, flop / best[1] * 1e-9, best[1] / best[0]);
    nnrt_free(params);
    nnrt_free(inputs);
    nnrt_free(outputs);
    nnrt_free(ws);
    nnrt_free(state);
    nnrt_free(ref);
    return 0;
}
