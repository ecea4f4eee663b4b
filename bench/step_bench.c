/*
 * step_bench.c: one SGD step of samples/mlp.nn as nnc compiles it, against
 * the same step written by hand in C over OpenBLAS (one thread).
 *
 *   step_bench [ROUNDS]
 *
 * Links with the model's object (mlp_model, any batch: nnc -D batch=B) and
 * libnnrt.  The hand-written step is what an expert writes without a
 * compiler: sgemm for the four products, a loop for each elementwise pass
 * and each reduction, the L2 term folded into the update.
 *
 * Both start from the params of mlp_init and the same batch.  One step of
 * each is compared first (the objective J and the updated params); then
 * they are timed alternately, ROUNDS times, each round about 30 ms of
 * steps, and the best time per step of each is printed with the ratio
 * nnc / OpenBLAS (below 1: nnc is faster).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nnrt.h>

extern const nnrt_model mlp_model;
static const nnrt_model *M = &mlp_model;
void openblas_set_num_threads(int n);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const nnrt_tensor *find(const char *name) {
    for (int i = 0; i < M->n_tensors; i++)
        if (strcmp(M->tensors[i].name, name) == 0)
            return &M->tensors[i];
    fprintf(stderr, "step_bench: the model has no tensor '%s'\n", name);
    exit(2);
}

static void *at(void *base, const char *name) { return (char *)base + find(name)->offset; }

static void *alloc(size_t n) {
    void *p = nnrt_alloc(n);
    if (!p) {
        fprintf(stderr, "step_bench: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- the hand-written step ---- */

typedef struct Ref {
    int B, D, H, Q;
    float *W1, *W2;                         /* params, updated in place */
    float *hid, *o, *go, *ghid, *dW1, *dW2; /* buffers */
} Ref;

static float ref_step(Ref *r, const float *x, const int32_t *y, float lambda, float lr) {
    int B = r->B, D = r->D, H = r->H, Q = r->Q;
    /* forward */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1, x, D, r->W1, D, 0, r->hid, H);
    for (long i = 0; i < (long)B * H; i++)
        r->hid[i] = r->hid[i] > 0 ? r->hid[i] : 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, Q, H, 1, r->hid, H, r->W2, H, 0, r->o, Q);
    /* cross-entropy, and its gradient with respect to o */
    float loss = 0;
    for (int b = 0; b < B; b++) {
        const float *o = r->o + (long)b * Q;
        float *g = r->go + (long)b * Q;
        float mx = o[0], s = 0;
        for (int j = 1; j < Q; j++)
            mx = o[j] > mx ? o[j] : mx;
        for (int j = 0; j < Q; j++)
            s += g[j] = expf(o[j] - mx);
        loss += mx + logf(s) - o[y[b]];
        for (int j = 0; j < Q; j++)
            g[j] = (g[j] / s - (j == y[b])) / (float)B;
    }
    float l2 = 0;
    for (long i = 0; i < (long)H * D; i++)
        l2 += r->W1[i] * r->W1[i];
    for (long i = 0; i < (long)Q * H; i++)
        l2 += r->W2[i] * r->W2[i];
    float J = loss / (float)B + lambda / 2 * l2;
    /* backward */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Q, H, B, 1, r->go, Q, r->hid, H, 0, r->dW2, H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, Q, 1, r->go, Q, r->W2, H, 0, r->ghid, H);
    for (long i = 0; i < (long)B * H; i++)
        r->ghid[i] = r->hid[i] > 0 ? r->ghid[i] : 0;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, B, 1, r->ghid, H, x, D, 0, r->dW1, D);
    /* SGD with the L2 gradient */
    for (long i = 0; i < (long)H * D; i++)
        r->W1[i] -= lr * (r->dW1[i] + lambda * r->W1[i]);
    for (long i = 0; i < (long)Q * H; i++)
        r->W2[i] -= lr * (r->dW2[i] + lambda * r->W2[i]);
    return J;
}

static double max_rel_diff(const float *a, const float *b, long n) {
    double d = 0, m = 0;
    for (long i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    openblas_set_num_threads(1);
    const nnrt_tensor *tx = find("x"), *tw1 = find("W1"), *tw2 = find("W2");
    Ref r = {.B = (int)tx->dims[0], .D = (int)tx->dims[1], .H = (int)tw1->dims[0], .Q = (int)tw2->dims[0]};
    int B = r.B, D = r.D, H = r.H, Q = r.Q;

    void *params = alloc(M->params_size), *state = alloc(M->state_size), *inputs = alloc(M->inputs_size);
    void *outputs = alloc(M->outputs_size), *ws = alloc(M->workspace_size);
    M->init(params, state, 42);
    M->set_defaults(inputs);
    float *x = at(inputs, "x"), lambda = *(float *)at(inputs, "lambda"), lr = *(float *)at(inputs, "lr");
    int32_t *y = at(inputs, "y");
    srand(7);
    for (long i = 0; i < (long)B * D; i++)
        x[i] = (float)(rand() % 256) / 255.0f;   /* pixels */
    for (int b = 0; b < B; b++)
        y[b] = rand() % Q;

    r.W1 = alloc(sizeof(float) * (size_t)H * D);
    r.W2 = alloc(sizeof(float) * (size_t)Q * H);
    memcpy(r.W1, at(params, "W1"), sizeof(float) * (size_t)H * D);
    memcpy(r.W2, at(params, "W2"), sizeof(float) * (size_t)Q * H);
    r.hid = alloc(sizeof(float) * (size_t)B * H);
    r.ghid = alloc(sizeof(float) * (size_t)B * H);
    r.o = alloc(sizeof(float) * (size_t)B * Q);
    r.go = alloc(sizeof(float) * (size_t)B * Q);
    r.dW1 = alloc(sizeof(float) * (size_t)H * D);
    r.dW2 = alloc(sizeof(float) * (size_t)Q * H);

    /* The same step, compared. */
    int rc = M->train_step(params, state, inputs, outputs, ws);
    float J = *(float *)at(outputs, "J"), Jref = ref_step(&r, x, y, lambda, lr);
    double dJ = fabs(J - Jref) / fabs(Jref), d1 = max_rel_diff(at(params, "W1"), r.W1, (long)H * D);
    double d2 = max_rel_diff(at(params, "W2"), r.W2, (long)Q * H);
    if (rc || !(dJ < 1e-5 && d1 < 1e-5 && d2 < 1e-5)) {
        fprintf(stderr, "step_bench: batch %d: nnc and the OpenBLAS step disagree: J %.9g vs %.9g, "
                        "W1 %.3g, W2 %.3g (relative), rc %d\n", B, J, Jref, d1, d2, rc);
        return 1;
    }

    double flop = 2.0 * B * ((double)D * H + (double)H * Q) * 3;
    int steps = (int)(0.03 / (flop / 40e9 + 50e-6)) + 1;
    double best[2] = {1e30, 1e30};
    for (int k = 0; k < rounds; k++)
        for (int which = 0; which < 2; which++) {
            double t = now();
            for (int i = 0; i < steps; i++)
                if (which == 0)
                    M->train_step(params, state, inputs, outputs, ws);
                else
                    ref_step(&r, x, y, lambda, lr);
            t = (now() - t) / steps;
            if (t < best[which])
                best[which] = t;
        }
    printf("train step, batch %4d   nnc %8.3f ms   C+OpenBLAS %8.3f ms   time nnc/OpenBLAS %.2f   (J %.6f = %.6f)\n", B,
           best[0] * 1e3, best[1] * 1e3, best[0] / best[1], J, Jref);
    return 0;
}
