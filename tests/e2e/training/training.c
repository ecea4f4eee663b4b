/*
 * training.c: training mode (contract, 5.3 and 5.8): dropout.nn's masks and
 * bn_dim.nn's batch statistics over a runtime batch, against what the
 * contract says in C.  Built twice, for the f32 models and their
 * --dtype=f64 builds: -DREAL=float or double, -DDROPOUT and -DBN the
 * descriptors.  batch_norm against PyTorch is tests/e2e/models/batch_norm_*.
 *
 * Dropout: forward is the identity; backward keeps element i of site k
 * exactly when nnrt_dropout_keeps(seed, step, k, i, p) says so and scales
 * it by 1/(1-p) (bit for bit); the fraction kept is within 5 standard
 * deviations of the binomial's mean; the same step gives the same masks,
 * the next step others; the gradient through the masks passes the finite
 * difference check (f64); p outside [0, 1) is NNRT_EINVAL from every entry
 * point, with nothing written.
 * batch_norm: at n = 5 of 8 rows (the others NaN) the outputs, the running
 * statistics and the gradients equal the formulas over the 5 rows; at n = 1
 * backward and train_step return NNRT_ESHAPE and write nothing, forward
 * normalizes by the running statistics.
 * Exact resume: resume.nn trained 6 steps straight through, and trained 3,
 * saved, loaded into a model initialized otherwise and trained 3 more, ends
 * with the same params and state, bit for bit (Adam's buffers, running
 * statistics, seed and step, hence dropout's masks).
 * Exits 1 on any difference.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nnrt.h>

extern const nnrt_model DROPOUT, BN, RESUME;

#define TOL (sizeof(REAL) == 4 ? 1e-5 : 1e-12)

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("training (%s): ", sizeof(REAL) == 4 ? "f32" : "f64");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures++;
}

/* One call's structs, zeroed, with init(seed) and set_defaults done. */
typedef struct Call {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *grads, *ws;
} Call;

static Call call_new(const nnrt_model *m, uint64_t seed) {
    Call c = {m, nnrt_alloc(m->params_size), nnrt_alloc(m->state_size), nnrt_alloc(m->inputs_size),
              nnrt_alloc(m->outputs_size), nnrt_alloc(m->params_size), nnrt_alloc(m->workspace_size)};
    if (!c.params || !c.state || !c.inputs || !c.outputs || !c.grads || !c.ws) {
        printf("training: out of memory\n");
        exit(2);
    }
    m->init(c.params, c.state, seed);
    m->set_defaults(c.inputs);
    return c;
}

static void call_free(Call *c) {
    void *p[] = {c->params, c->state, c->inputs, c->outputs, c->grads, c->ws};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        nnrt_free(p[i]);
}

/* Where tensor name lives in the struct of its role. */
static void *at(const Call *c, const char *name) {
    for (int i = 0; i < c->m->n_tensors; i++) {
        const nnrt_tensor *t = &c->m->tensors[i];
        if (strcmp(t->name, name) != 0)
            continue;
        void *base = t->role == NNRT_PARAM ? c->params : t->role == NNRT_STATE ? c->state
                     : t->role == NNRT_OUTPUT ? c->outputs : c->inputs;
        return (char *)base + t->offset;
    }
    printf("training: no tensor '%s' in %s\n", name, c->m->name);
    exit(2);
}

/* The gradient of param name: the grads struct is laid out as the params. */
static REAL *grad_of(const Call *c, const char *name) {
    return (REAL *)((char *)c->grads + ((char *)at(c, name) - (char *)c->params));
}

static int backward(Call *c) { return c->m->backward(c->params, c->state, c->inputs, c->outputs, c->grads, c->ws); }
static int forward(Call *c) { return c->m->forward(c->params, c->state, c->inputs, c->outputs, c->ws); }
static int train_step(Call *c) { return c->m->train_step(c->params, c->state, c->inputs, c->outputs, c->ws); }

static uint64_t step_of(const Call *c) { return ((const nnrt_state_head *)c->state)->step; }

/* Every entry point returns want and leaves params, state, grads and
 * outputs as they were. */
static void expect_refused(Call *c, int want, const char *why, bool forward_too) {
    void *saved[4];
    void *live[4] = {c->params, c->state, c->grads, c->outputs};
    size_t size[4] = {c->m->params_size, c->m->state_size, c->m->params_size, c->m->outputs_size};
    for (int k = 0; k < 4; k++) {
        memset(live[k], 0x5c, size[k]);
        saved[k] = malloc(size[k] + 1);
        memcpy(saved[k], live[k], size[k]);
    }
    int rc[3] = {forward_too ? forward(c) : want, backward(c), train_step(c)};
    static const char *const names[3] = {"forward", "backward", "train_step"};
    for (int e = 0; e < 3; e++)
        if (rc[e] != want)
            fail("%s: %s returned %d, want %d", why, names[e], rc[e], want);
    static const char *const what[4] = {"params", "state", "grads", "outputs"};
    for (int k = 0; k < 4; k++) {
        if (memcmp(saved[k], live[k], size[k]) != 0)
            fail("%s: a refused call wrote into the %s", why, what[k]);
        free(saved[k]);
    }
}

/* ---- dropout ---- */

/* h = dropout(x, p) at site 0 and z = dropout(h @ W, 0.5) at site 1, as
 * backward left them at (seed, step): each element kept or zeroed as the
 * rule says, bit for bit x * mask with mask 0 or 1/(1 - p) as REAL computes it; returns the
 * number of h's elements kept. */
static long check_masks(Call *c, uint64_t seed, uint64_t step, double p, const char *when) {
    const REAL *x = at(c, "x"), *h = at(c, "h"), *z = at(c, "z");
    const nnrt_tensor *xt = NULL;
    for (int i = 0; i < c->m->n_tensors; i++)
        if (strcmp(c->m->tensors[i].name, "x") == 0)
            xt = &c->m->tensors[i];
    size_t n = xt->size / sizeof(REAL);
    REAL scale = (REAL)1 / (REAL)(1 - (double)(REAL)p);
    long kept = 0, wrong = 0, zkept = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = nnrt_dropout_keeps(seed, step, 0, i, (double)(REAL)p);
        REAL want = x[i] * (keep ? scale : 0);   /* -0 for a dropped negative, as x * mask */
        kept += keep;
        if (memcmp(&h[i], &want, sizeof want) != 0 && wrong++ < 3)
            fail("%s: h[%zu] = %.9g, want %.9g (%s)", when, i, (double)h[i], (double)want, keep ? "kept" : "dropped");
        bool zkeep = nnrt_dropout_keeps(seed, step, 1, i, 0.5);
        zkept += zkeep;
        if (!zkeep && z[i] != 0 && wrong++ < 3)
            fail("%s: z[%zu] = %.9g, but site 1 drops it", when, i, (double)z[i]);
    }
    /* binomial(n, 1 - p): within 5 standard deviations of its mean */
    double sd = sqrt(n * p * (1 - p)), sd1 = sqrt(n * 0.25);
    if (fabs(kept - n * (1 - p)) > 5 * sd)
        fail("%s: site 0 kept %ld of %zu at p = %g", when, kept, n, p);
    if (p > 0 && fabs(zkept - n * 0.5) > 5 * sd1)
        fail("%s: site 1 kept %ld of %zu at p = 0.5", when, zkept, n);
    return kept;
}

static void test_dropout(void) {
    Call c = call_new(&DROPOUT, 7);
    REAL *x = at(&c, "x"), *p = at(&c, "p");
    size_t n = 64 * 50;
    for (size_t i = 0; i < n; i++)
        x[i] = (REAL)(((i * 7919) % 1000) / 500.0 - 1 + 1e-3);

    if (forward(&c) != 0 || memcmp(at(&c, "h"), x, n * sizeof(REAL)) != 0)
        fail("forward is not the identity on h");

    if (backward(&c) != 0)
        fail("backward failed");
    check_masks(&c, 7, 0, 0.3, "backward at step 0");
    REAL *h0 = malloc(n * sizeof(REAL) + 1);
    memcpy(h0, at(&c, "h"), n * sizeof(REAL));
    if (backward(&c) != 0 || memcmp(h0, at(&c, "h"), n * sizeof(REAL)) != 0)
        fail("backward twice at step 0 gave other masks");
    if (step_of(&c) != 0)
        fail("backward changed the step");

    if (c.m->update(c.params, c.state, c.grads, c.inputs) != 0 || step_of(&c) != 1)
        fail("update did not count a step");
    if (backward(&c) != 0)
        fail("backward at step 1 failed");
    check_masks(&c, 7, 1, 0.3, "backward at step 1");
    if (memcmp(h0, at(&c, "h"), n * sizeof(REAL)) == 0)
        fail("step 1 drew the masks of step 0");

    /* train_step uses the step on entry, then counts it */
    if (train_step(&c) != 0 || step_of(&c) != 2)
        fail("train_step failed");
    check_masks(&c, 7, 1, 0.3, "train_step at step 1");
    free(h0);

    *p = (REAL)0.8;   /* a hyper: the rate can change from call to call */
    if (backward(&c) != 0)
        fail("backward at p = 0.8 failed");
    check_masks(&c, 7, 2, 0.8, "backward at p = 0.8");
    *p = 0;
    if (backward(&c) != 0 || memcmp(at(&c, "h"), x, n * sizeof(REAL)) != 0)
        fail("p = 0 is not the identity");

    if (sizeof(REAL) == 8) {   /* finite differences through the masks */
        *p = (REAL)0.3;
        nnrt_gradcheck_options opt = {.eps = 1e-6, .atol = 1e-7, .rtol = 1e-5, .max_coords = 200,
                                      .seed = 1, .state = c.state};
        nnrt_gradcheck_entry e[1];
        nnrt_gradcheck_report rep = {.entries = e, .cap = 1};
        int rc = nnrt_gradcheck(c.m, c.params, c.inputs, &opt, &rep);
        if (rc != 0) {
            nnrt_gradcheck_print(stdout, &rep);
            fail("the gradient check through the masks returned %d", rc);
        }
    }

    const double bad[] = {1, -0.1, 1.5, NAN};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        *p = (REAL)bad[k];
        char why[32];
        snprintf(why, sizeof why, "p = %g", bad[k]);
        expect_refused(&c, NNRT_EINVAL, why, true);
    }
    call_free(&c);
}

/* ---- batch_norm over a runtime batch ---- */

enum { MAXB = 8, C = 3 };

static void test_batch_norm(void) {
    Call c = call_new(&BN, 0);
    REAL *x = at(&c, "x"), *rm = at(&c, "rm"), *rv = at(&c, "rv"), *b = at(&c, "b");
    int64_t *batch = at(&c, "batch");
    const int n = 5;
    for (int i = 0; i < MAXB; i++)
        for (int j = 0; j < C; j++)
            x[i * C + j] = i < n ? (REAL)(sin(1.0 + i * 3 + j) * (j + 1) + j) : (REAL)NAN;
    for (int j = 0; j < C; j++)
        b[j] = (REAL)(0.1 * j - 0.1);
    *batch = n;
    if (backward(&c) != 0)
        fail("batch_norm: backward at n = 5 failed");
    const REAL *z = at(&c, "z"), *gw = grad_of(&c, "w"), *gb = grad_of(&c, "b");
    double eps = 1e-5, mom = 0.2;
    double mean[C], var[C];
    for (int j = 0; j < C; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++)
            s += x[i * C + j];
        mean[j] = s / n;
        for (int i = 0; i < n; i++)
            ss += (x[i * C + j] - mean[j]) * (x[i * C + j] - mean[j]);
        var[j] = ss / n;
        double dw = 0, db = 0;
        for (int i = 0; i < n; i++) {
            double xhat = (x[i * C + j] - mean[j]) / sqrt(var[j] + eps), want = xhat + b[j];
            if (fabs(z[i * C + j] - want) > TOL * 10)
                fail("batch_norm: z[%d, %d] = %.9g, want %.9g", i, j, (double)z[i * C + j], want);
            /* J = sum(z^3)/3, so dJ/dz = z^2; w and b act after the
             * normalization: dJ/dw = sum z^2 xhat, dJ/db = sum z^2 */
            dw += want * want * xhat;
            db += want * want;
        }
        if (fabs(gw[j] - dw) > TOL * 100 * (1 + fabs(dw)) || fabs(gb[j] - db) > TOL * 100 * (1 + fabs(db)))
            fail("batch_norm: grads of channel %d: w %.9g (want %.9g), b %.9g (want %.9g)", j, (double)gw[j],
                 dw, (double)gb[j], db);
        double want_rm = mom * mean[j], want_rv = (1 - mom) + mom * ss / (n - 1);
        if (fabs(rm[j] - want_rm) > TOL * 10 || fabs(rv[j] - want_rv) > TOL * 10)
            fail("batch_norm: running statistics of channel %d: %.9g, %.9g, want %.9g, %.9g", j, (double)rm[j],
                 (double)rv[j], want_rm, want_rv);
    }
    for (int i = n; i < MAXB; i++)
        for (int j = 0; j < C; j++)
            x[i * C + j] = 0;   /* forward reads only the rows in use; these rows must not matter */
    if (forward(&c) != 0)
        fail("batch_norm: forward at n = 5 failed");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) {
            double want = (x[i * C + j] - rm[j]) / sqrt(rv[j] + eps) + b[j];
            if (fabs(z[i * C + j] - want) > TOL * 10)
                fail("batch_norm: forward z[%d, %d] = %.9g, want %.9g", i, j, (double)z[i * C + j], want);
        }

    *batch = 1;   /* one value per channel: training is refused, evaluation is not */
    expect_refused(&c, NNRT_ESHAPE, "batch_norm at n = 1", false);
    if (forward(&c) != 0)
        fail("batch_norm: forward at n = 1 failed");
    call_free(&c);
}

/* ---- exact resume ---- */

/* Train step k of a run: its batch and learning rate (a schedule) depend on k. */
static void resume_step(Call *c, int k) {
    REAL *x = at(c, "x"), *lr = at(c, "lr");
    int32_t *y = at(c, "y");
    for (int i = 0; i < 16 * 6; i++)
        x[i] = (REAL)sin(0.7 * i + k);
    for (int i = 0; i < 16; i++)
        y[i] = (i * 7 + k) % 3;
    *lr = (REAL)(0.01 / (1 + k));
    int rc = train_step(c);
    if (rc != 0)
        fail("resume: train step %d returned %d", k, rc);
}

static void test_resume(void) {
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/nnc-resume-%ld.ckpt", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    Call straight = call_new(&RESUME, 3), first = call_new(&RESUME, 3), second = call_new(&RESUME, 99);
    for (int k = 0; k < 6; k++)
        resume_step(&straight, k);
    for (int k = 0; k < 3; k++)
        resume_step(&first, k);
    char err[256] = "";
    int rc = nnrt_save_ex(path, first.m, first.params, first.state, err, sizeof err);
    if (rc == 0)
        rc = nnrt_load_ex(path, second.m, second.params, second.state, err, sizeof err);
    remove(path);
    if (rc != 0)
        fail("resume: the checkpoint round trip failed: %s", err);
    for (int k = 3; k < 6; k++)
        resume_step(&second, k);
    if (memcmp(straight.params, second.params, RESUME.params_size) != 0)
        fail("resume: the params differ from a run straight through");
    if (memcmp(straight.state, second.state, RESUME.state_size) != 0)
        fail("resume: the state differs from a run straight through");
    if (memcmp(straight.params, first.params, RESUME.params_size) == 0)
        fail("resume: three more steps changed nothing");
    call_free(&straight);
    call_free(&first);
    call_free(&second);
}

int main(void) {
    test_dropout();
    test_batch_norm();
    test_resume();
    printf("training (%s): %s\n", sizeof(REAL) == 4 ? "f32" : "f64", failures ? "FAILED" : "ok");
    return failures != 0;
}
