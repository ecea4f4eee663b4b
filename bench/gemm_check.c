/*
 * gemm_check.c: the matrix products of bench/gemm_check.nn, compiled by nnc
 * for one shape, against a plain double-precision product.
 *
 *   gemm_check [SEED [ROWS]]
 *
 * Links with the model's object (gemm_check_model) and libnnrt.  Fills the
 * inputs with uniform values in [-1, 1) drawn from SEED, runs forward twice,
 * and checks for every output:
 *   - each element within (k + 2) * eps * sum |a_ip * b_pj| of the exact
 *     sum (a bound for any order of the additions, fused or not), widened
 *     by what a fused epilogue rounds (finish());
 *   - both runs bitwise equal (the order of additions is fixed);
 *   - nothing written past the outputs struct or the workspace.
 * When m is a runtime dim (gemm_check.sh --dim), the model runs at ROWS of
 * its m rows: the inputs' elements not in use are NaN, which no result may
 * depend on, and the outputs' must stay as they were (zero).
 * Prints one line and exits 0 when everything holds, 1 otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model gemm_check_model;
static const nnrt_model *M = &gemm_check_model;

#define GUARD 256       /* bytes after each struct that must stay untouched */

static uint64_t rng_state;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

static const nnrt_tensor *find(const char *name) {
    for (int i = 0; i < M->n_tensors; i++)
        if (strcmp(M->tensors[i].name, name) == 0)
            return &M->tensors[i];
    fprintf(stderr, "gemm_check: the model has no tensor '%s'\n", name);
    exit(2);
}

static double get(const void *base, const nnrt_tensor *t, int64_t i) {
    const char *p = (const char *)base + t->offset;
    return t->dtype == NNRT_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static void fill(void *base, const nnrt_tensor *t) {
    char *p = (char *)base + t->offset;
    size_t n = t->size / (t->dtype == NNRT_F64 ? 8 : 4);
    for (size_t i = 0; i < n; i++) {
        double v = uniform();
        if (t->dtype == NNRT_F64)
            ((double *)p)[i] = v;
        else
            ((float *)p)[i] = (float)v;
    }
}

/* Whether element i of t lies outside the rows in use along a runtime axis. */
static int unused(const nnrt_tensor *t, int64_t i, int64_t rows) {
    for (int d = t->rank - 1; d >= 0; i /= t->dims[d], d--)
        if (t->dim_names && t->dim_names[d] && i % t->dims[d] >= rows)
            return 1;
    return 0;
}

static void poison_unused(void *base, const nnrt_tensor *t, int64_t rows) {
    char *p = (char *)base + t->offset;
    for (int64_t i = 0; i < (int64_t)(t->size / (t->dtype == NNRT_F64 ? 8 : 4)); i++)
        if (unused(t, i, rows)) {
            if (t->dtype == NNRT_F64)
                ((double *)p)[i] = NAN;
            else
                ((float *)p)[i] = NAN;
        }
}

static void *alloc_guarded(size_t size) {
    unsigned char *p = nnrt_alloc(size + GUARD);
    if (!p) {
        fprintf(stderr, "gemm_check: out of memory\n");
        exit(2);
    }
    memset(p + size, 0xA5, GUARD);
    return p;
}

static int guard_ok(const void *p, size_t size, const char *what) {
    const unsigned char *g = (const unsigned char *)p + size;
    for (int i = 0; i < GUARD; i++)
        if (g[i] != 0xA5) {
            fprintf(stderr, "gemm_check: byte %d past the %s was written\n", i, what);
            return 0;
        }
    return 1;
}

/* Element (i, j) of an operand: X (rows x cols) or, transposed, X^T. */
typedef struct Operand {
    const nnrt_tensor *t;
    int transposed;
    int64_t offset;     /* elements: S[1] starts m * k in */
} Operand;

static double elem(const void *inputs, const Operand *o, int64_t i, int64_t j) {
    int64_t cols = o->t->dims[o->t->rank - 1];
    return o->transposed ? get(inputs, o->t, o->offset + j * cols + i) : get(inputs, o->t, o->offset + i * cols + j);
}

/* What is applied to the product s at (i, j) (gemm_check.nn): nothing, or a
 * fused epilogue. */
typedef enum { PLAIN, BIAS_RELU, MASK, ADD_HALF } Epilogue;

typedef struct Extra {
    Epilogue how;
    const nnrt_tensor *t;   /* bias, Mask or C0 */
} Extra;

/* The exact value, and the tolerance widened by what the epilogue rounds:
 * each op is 1-Lipschitz in s up to the factor |Mask|, plus one rounding. */
static double finish(const void *inputs, Extra e, int64_t i, int64_t j, int64_t n, double s, double eps,
                     double *tol) {
    double x, v;
    switch (e.how) {
    case BIAS_RELU:
        x = get(inputs, e.t, j);
        v = s + x > 0 ? s + x : 0;
        *tol += 2 * eps * (fabs(s) + fabs(x));
        return v;
    case MASK:
        x = get(inputs, e.t, i * n + j);
        *tol = *tol * fabs(x) + 2 * eps * fabs(s * x);
        return s * x;
    case ADD_HALF:
        x = get(inputs, e.t, i * n + j);
        *tol += 2 * eps * (fabs(s) + fabs(0.5 * x));
        return s + 0.5 * x;
    default:
        return s;
    }
}

static int check(const void *inputs, const void *out1, const void *out2, const char *name, Operand a, Operand b,
                 int64_t m, int64_t k, int64_t n, double eps, Extra e) {
    const nnrt_tensor *c = find(name);
    int bad = 0;
    const char *p1 = (const char *)out1 + c->offset, *p2 = (const char *)out2 + c->offset;
    if (memcmp(p1, p2, c->size) != 0) {
        fprintf(stderr, "gemm_check: %s differs between two runs\n", name);
        bad++;
    }
    for (int64_t i = 0; i < (int64_t)(c->size / (c->dtype == NNRT_F64 ? 8 : 4)); i++)
        if (unused(c, i, m) && get(out1, c, i) != 0) {
            fprintf(stderr, "gemm_check: %s wrote element %lld, which is not in use\n", name, (long long)i);
            bad++;
            break;
        }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = elem(inputs, &a, i, p) * elem(inputs, &b, p, j);
                s += x;
                mag += fabs(x);
            }
            double got = get(out1, c, i * n + j);
            double tol = (double)(k + 2) * eps * mag + 1e-300;
            s = finish(inputs, e, i, j, n, s, eps, &tol);
            if (!(fabs(got - s) <= tol)) {
                if (bad < 5)
                    fprintf(stderr, "gemm_check: %s[%lld, %lld] = %.9g, expected %.9g (tolerance %.3g)\n", name,
                            (long long)i, (long long)j, got, s, tol);
                bad++;
            }
        }
    return bad;
}

int main(int argc, char **argv) {
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    const nnrt_tensor *A = find("A"), *At = find("At"), *B = find("B"), *Bt = find("Bt"), *S = find("S");
    int64_t m = A->dims[0], k = A->dims[1], n = B->dims[1];
    double eps = A->dtype == NNRT_F64 ? 0x1p-53 : 0x1p-24;
    void *params = alloc_guarded(M->params_size), *inputs = alloc_guarded(M->inputs_size);
    void *out1 = alloc_guarded(M->outputs_size), *out2 = alloc_guarded(M->outputs_size);
    void *ws = alloc_guarded(M->workspace_size), *state = alloc_guarded(M->state_size);
    M->init(params, state, 0);
    fill(inputs, A);
    fill(inputs, At);
    fill(inputs, B);
    fill(inputs, Bt);
    fill(inputs, S);
    const nnrt_tensor *A2 = find("A2"), *At2 = find("At2");
    const nnrt_tensor *bias = find("bias"), *mask = find("Mask"), *c0 = find("C0");
    fill(inputs, A2);
    fill(inputs, At2);
    fill(inputs, bias);
    fill(inputs, mask);
    fill(inputs, c0);
    /* m rows in use: all of them, or ROWS of a runtime m. */
    int64_t rows = m;
    for (int i = 0; i < M->n_tensors; i++)
        if (M->tensors[i].role == NNRT_DIM) {
            rows = argc > 2 ? strtoll(argv[2], NULL, 0) : m;
            *(int64_t *)((char *)inputs + M->tensors[i].offset) = rows;
        }
    const nnrt_tensor *all[] = {A, At, B, Bt, S, A2, At2, bias, mask, c0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        poison_unused(inputs, all[i], rows);
    int rc1 = M->forward(params, state, inputs, out1, ws);
    memset(ws, 0x5A, M->workspace_size);   /* a second run must not depend on the first's leftovers */
    int rc2 = M->forward(params, state, inputs, out2, ws);
    if (rc1 || rc2) {
        fprintf(stderr, "gemm_check: forward returned %d, %d\n", rc1, rc2);
        return 1;
    }
    int bad = 0;
    Operand a = {A, 0, 0}, at = {At, 1, 0}, b = {B, 0, 0}, bt = {Bt, 1, 0}, s1 = {S, 0, m * k};
    Extra plain = {PLAIN, NULL};
    bad += check(inputs, out1, out2, "NN", a, b, rows, k, n, eps, plain);
    bad += check(inputs, out1, out2, "TN", at, b, rows, k, n, eps, plain);
    bad += check(inputs, out1, out2, "NT", a, bt, rows, k, n, eps, plain);
    bad += check(inputs, out1, out2, "TT", at, bt, rows, k, n, eps, plain);
    bad += check(inputs, out1, out2, "IX", s1, bt, rows, k, n, eps, plain);
    Operand a2 = {A2, 0, 0}, at2 = {At2, 1, 0};
    bad += check(inputs, out1, out2, "BR", a2, b, rows, k, n, eps, (Extra){BIAS_RELU, bias});
    bad += check(inputs, out1, out2, "MK", a2, bt, rows, k, n, eps, (Extra){MASK, mask});
    bad += check(inputs, out1, out2, "AC", at2, b, rows, k, n, eps, (Extra){ADD_HALF, c0});
    bad += !guard_ok(out1, M->outputs_size, "outputs") + !guard_ok(out2, M->outputs_size, "outputs");
    bad += !guard_ok(ws, M->workspace_size, "workspace") + !guard_ok(inputs, M->inputs_size, "inputs");
    bad += !guard_ok(state, M->state_size, "state");
    printf("gemm_check %s m=%lld (%lld in use) k=%lld n=%lld: %s\n", A->dtype == NNRT_F64 ? "f64" : "f32",
           (long long)m, (long long)rows, (long long)k, (long long)n, bad ? "FAILED" : "ok");
    nnrt_free(params);
    nnrt_free(inputs);
    nnrt_free(out1);
    nnrt_free(out2);
    nnrt_free(ws);
    nnrt_free(state);
    return bad != 0;
}
