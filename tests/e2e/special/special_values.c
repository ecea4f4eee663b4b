/*
 * special_values.c: special_values.nn on rows with NaN and infinities,
 * against PyTorch's answers (contract, 5.3 and 5.8 NaN).  Built twice, for
 * the f32 model and its --dtype=f64 build: -DMODEL=the descriptor,
 * -DREAL=float or double.
 *
 * The expected values follow PyTorch's documented semantics, checked with
 * PyTorch 1.13 (torch.argmax, torch.max(x, dim), torch.logsumexp and their
 * backward):
 * - argmax and max treat NaN as the maximum: torch.max(x, dim) "propagates
 *   NaN", and its index (which argmax returns) is the first NaN of the row;
 *   of equal maxima the first.  The gradient of max(x, dim) goes to that
 *   index only (MaxBackward0 scatters into the index it returned).
 * - logsumexp: torch.logsumexp subtracts the row's maximum only where it is
 *   finite (ATen: maxes.masked_fill(maxes.abs() == INFINITY, 0)), so a row
 *   of -inf gives log(0) = -inf and a row with +inf gives +inf; a NaN gives
 *   NaN.  Its gradient is exp(x - logsumexp(x)) (logsumexp_backward): NaN
 *   on the rows of NaN and of -inf (-inf - -inf), and on a +inf row 0 at the
 *   finite elements and NaN at the inf (inf - inf).
 * - max(x) over every element: the contract's rule (5.8 NaN: "the first
 *   NaN, which also receives the gradient"), which is the gradient of
 *   torch.max(x.reshape(-1), 0); torch.max(x) without dim would split it
 *   evenly among the NaNs.
 * Exits 1 on any difference.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model MODEL;

static int failures;

/* Where tensor name lives in base, the struct of its role. */
static void *at(void *base, const char *name) {
    const nnrt_model *m = &MODEL;
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return (char *)base + m->tensors[i].offset;
    fprintf(stderr, "special_values: no tensor '%s'\n", name);
    exit(2);
}

/* got matches want: both NaN, equal infinities or within a relative 1e-6. */
static void expect(const char *what, int i, double got, double want) {
    bool ok = isnan(want) ? isnan(got)
              : isinf(want) ? got == want
              : fabs(got - want) <= 1e-6 * (1 + fabs(want));
    if (!ok) {
        printf("special_values: %s[%d] = %.9g, expected %.9g\n", what, i, got, want);
        failures++;
    }
}

int main(void) {
    const nnrt_model *m = &MODEL;
    void *params = nnrt_alloc(m->params_size), *inputs = nnrt_alloc(m->inputs_size);
    void *outputs = nnrt_alloc(m->outputs_size), *grads = nnrt_alloc(m->params_size);
    void *ws = nnrt_alloc(m->workspace_size), *state = nnrt_alloc(m->state_size);
    m->init(params, state, 0);
    const double nan = NAN, inf = INFINITY;
    const double x[5][4] = {
        {1, nan, 3, 2},           /* the example: argmax 1, the NaN */
        {1, 3, nan, nan},         /* two NaNs: the first */
        {-inf, -inf, -inf, -inf}, /* logsumexp -inf */
        {1, inf, 2, -inf},        /* logsumexp +inf */
        {4, 1, 4, 0},             /* ordinary, with a tie: the first */
    };
    REAL *xs = at(inputs, "x");
    for (int i = 0; i < 20; i++)
        xs[i] = (REAL)x[i / 4][i % 4];

    memset(ws, 0x5A, m->workspace_size);   /* garbage, as a reused workspace holds */
    int rc = m->backward(params, state, inputs, outputs, grads, ws);
    if (rc != 0) {
        printf("special_values: backward returned %d\n", rc);
        return 1;
    }

    const int want_am[5] = {1, 2, 0, 1, 0};
    const double want_mx[5] = {nan, nan, -inf, inf, 4};
    double lse4 = log(exp(4.0) + exp(1.0) + exp(4.0) + exp(0.0));
    const double want_lse[5] = {nan, nan, -inf, inf, lse4};
    const int32_t *am = at(outputs, "am");
    const REAL *mx = at(outputs, "mx"), *lse = at(outputs, "lse"), *mall = at(outputs, "mall");
    for (int r = 0; r < 5; r++) {
        expect("argmax", r, am[r], want_am[r]);
        expect("max", r, mx[r], want_mx[r]);
        expect("logsumexp", r, lse[r], want_lse[r]);
    }
    expect("max of all", 0, *mall, nan);

    const REAL *gmax = at(grads, "wmax"), *glse = at(grads, "wlse"), *gall = at(grads, "wall");
    for (int i = 0; i < 20; i++) {
        int r = i / 4, c = i % 4;
        expect("d max / dx", i, gmax[i], c == want_am[r] ? 1 : 0);
        double g;
        if (r < 3)
            g = nan;
        else if (r == 3)
            g = c == 1 ? nan : 0;
        else
            g = exp(x[r][c] - lse4);
        expect("d logsumexp / dx", i, glse[i], g);
        expect("d max of all / dx", i, gall[i], i == 1 ? 1 : 0);
    }
    printf("special_values (%s): %s\n", sizeof(REAL) == 4 ? "f32" : "f64", failures ? "FAILED" : "ok");
    nnrt_free(params);
    nnrt_free(inputs);
    nnrt_free(outputs);
    nnrt_free(grads);
    nnrt_free(ws);
    nnrt_free(state);
    return failures != 0;
}
