/*
 * covariate.c: covariate shift and its correction (d2l.ai, "Environment and
 * Distribution Shift").  Synthetic data in R^2 with a fixed labelling rule,
 * class 1 above the parabola x2 = x1^2 / 2, so p(y|x) never changes; the
 * training inputs are drawn around one point and the test inputs around
 * another, so p(x) does.  For each seed:
 *
 *   1. domain.nn, logistic regression, learns to tell training inputs
 *      (z = -1) from test inputs (z = 1); beta_i = exp(h(x_i)) is the
 *      importance weight of training example i (normalized to mean 1).
 *   2. covariate.nn trains a linear classifier on the training set twice,
 *      side by side: with the plain loss and with mean(w * cross_entropy),
 *      w = beta.  Both are scored on the test set.
 *   3. For reference, the same classifier trained on the labelled test set
 *      itself: the best a line can do there.
 *
 * Prints the accuracies of every seed and their means; covariate_shift.png
 * shows the first seed: the training inputs sized by their weights, the
 * test inputs, the true boundary and the two learned ones.
 *
 * Both models take the size of the sets as a runtime dim (covariate's n,
 * domain's m = 2n): one build runs the full sample (10,000 examples per
 * set) and --quick (2,000).
 *
 * Exits 1 unless weighted training beats plain training on the test set for
 * every seed (make check runs --quick: 3 seeds, 2,000 examples, no plot).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "covariate.h"
#include "domain.h"

enum {
    N = sizeof(((covariate_inputs *)0)->y) / sizeof(int32_t),   /* examples per set, at most */
    QUICK_N = 2000,           /* examples per set with --quick */
    STEPS = 1000,             /* full-batch steps of gradient descent (momentum 0.9) */
    PLOTTED = 800,            /* points of each set drawn */
};
_Static_assert(sizeof(((domain_inputs *)0)->z) == 2 * N * sizeof(float),
               "domain.nn's MAX of m must be twice covariate.nn's of n");

/* The two input distributions: N(mu, SIGMA^2 I), as far apart as the
 * training set still covers the test inputs' region. */
static const double MU_TRAIN[2] = { -0.75, 0.5 }, MU_TEST[2] = { 0.75, 0.5 }, SIGMA = 1.0;

static int32_t label(const float x[2])
{
    return x[1] > 0.5f * x[0] * x[0];
}

/* n inputs drawn N(mu, SIGMA^2 I), and their labels. */
static void draw(float (*x)[2], int32_t *y, int n, const double mu[2], uint64_t seed,
                 const char *name)
{
    ch_normal_f32(&x[0][0], 2 * (size_t)n, 0, SIGMA, seed, name);
    for (int i = 0; i < n; i++) {
        x[i][0] += (float)mu[0];
        x[i][1] += (float)mu[1];
        y[i] = label(x[i]);
    }
}

typedef struct run {
    double v0, v1, c;         /* h(x) = v0 x1 + v1 x2 + c */
    double wmax, ess;         /* the largest normalized weight; effective sample size */
    double acc_u, acc_w, acc_ref;
    double line_u[3], line_w[3];  /* a x1 + b x2 + c = 0: the learned boundaries */
} run;

/* Fits domain.nn to the tr->n inputs of tr (z = -1) and as many of te
 * (z = 1), and sets beta[i] for each training input. */
static void train_domain(const ch_options *o, const covariate_inputs *tr,
                         const covariate_inputs *te, double *beta, run *r)
{
    const int n = (int)tr->n;
    domain_params *p = ch_alloc(sizeof *p);
    domain_state *st = ch_alloc(sizeof *st);
    domain_inputs *in = ch_alloc(sizeof *in);
    domain_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(domain_model.workspace_size);
    domain_init(p, st, 0);
    domain_set_defaults(in);
    in->m = 2 * n;
    for (int i = 0; i < n; i++) {
        in->x[i][0] = tr->x[i][0], in->x[i][1] = tr->x[i][1], in->z[i][0] = -1;
        in->x[n + i][0] = te->x[i][0], in->x[n + i][1] = te->x[i][1], in->z[n + i][0] = 1;
    }
    for (int s = 0; s < STEPS; s++) {
        int rc = domain_train_step(p, st, in, out, ws);
        if (rc)
            support_die(o->prog, "domain train step: %s", nnrt_strerror(rc));
    }
    int rc = domain_forward(p, st, in, out, ws);
    if (rc)
        support_die(o->prog, "domain forward: %s", nnrt_strerror(rc));
    /* beta = exp(h), normalized to mean 1 over the training set so that the
     * weighted loss keeps the plain one's scale (and learning rate). */
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++)
        sum += beta[i] = exp(out->h[i][0]);
    r->wmax = 0;
    for (int i = 0; i < n; i++) {
        beta[i] *= n / sum;
        sum2 += beta[i] * beta[i];
        r->wmax = fmax(r->wmax, beta[i]);
    }
    r->ess = (double)n * n / sum2;     /* (sum w)^2 / sum w^2, with sum w = n */
    r->v0 = p->v[0][0], r->v1 = p->v[1][0], r->c = p->c[0];
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
}

/* Trains both classifiers of covariate.nn on `train` (whose w, n and lr
 * the caller set) and returns their accuracies on `test`. */
static void train_task(const ch_options *o, covariate_params *p, covariate_inputs *train,
                       covariate_inputs *test, double *acc_u, double *acc_w)
{
    covariate_state *st = ch_alloc(sizeof *st);
    covariate_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(covariate_model.workspace_size);
    covariate_init(p, st, 0);
    for (int s = 0; s < STEPS; s++) {
        int rc = covariate_train_step(p, st, train, out, ws);
        if (rc)
            support_die(o->prog, "train step: %s", nnrt_strerror(rc));
    }
    for (int i = 0; i < test->n; i++)
        test->w[i] = 1;
    int rc = covariate_forward(p, st, test, out, ws);
    if (rc)
        support_die(o->prog, "forward: %s", nnrt_strerror(rc));
    *acc_u = out->accu;
    *acc_w = out->accw;
    nnrt_free(st), nnrt_free(out), nnrt_free(ws);
}

static void boundary(const float W[2][2], const float b[2], double line[3])
{
    line[0] = W[1][0] - W[0][0];
    line[1] = W[1][1] - W[0][1];
    line[2] = b[1] - b[0];
}

/* The first seed's picture: PLOTTED points of each set, which the caller
 * kept (the sets are redrawn for every seed). */
typedef struct picture {
    float tr[PLOTTED][2], te[PLOTTED][2];
    int32_t y[PLOTTED];
    double beta[PLOTTED];
} picture;

static void plot(const ch_options *o, const picture *pic, const run *r)
{
    FILE *g = ch_plot_begin(o, "covariate_shift.png", 640, 520);
    if (!g)
        return;
    fprintf(g, "set title 'Covariate shift: class 1 above x_2 = x_1^2/2 everywhere, "
               "inputs from different places'\n"
               "set xlabel 'x_1'\nset ylabel 'x_2'\nset size ratio -1\n"
               "set xrange [-4:4]\nset yrange [-2.5:3.5]\n"
               "set key below maxrows 3 width -2\n$tr << EOD\n");
    for (int i = 0; i < PLOTTED; i++)
        fprintf(g, "%.4f %.4f %d %.4f\n", pic->tr[i][0], pic->tr[i][1], pic->y[i],
                0.25 + 0.25 * sqrt(pic->beta[i]));
    fprintf(g, "EOD\n$te << EOD\n");
    for (int i = 0; i < PLOTTED; i++)
        fprintf(g, "%.4f %.4f\n", pic->te[i][0], pic->te[i][1]);
    fprintf(g, "EOD\n"
               "lu(x) = -(%.6g * x + %.6g) / %.6g\nlw(x) = -(%.6g * x + %.6g) / %.6g\n"
               "set samples 400\n"
               "plot $te using 1:2 with points pt 6 ps 0.5 lc rgb '#a0a0a0' title 'test inputs', \\\n"
               "     $tr using 1:($3 == 0 ? $2 : 1/0):4 with points pt 7 ps variable "
               "lc rgb '#1b9e77' title 'training, class 0 (size: weight)', \\\n"
               "     $tr using 1:($3 == 1 ? $2 : 1/0):4 with points pt 7 ps variable "
               "lc rgb '#d95f02' title 'training, class 1 (size: weight)', \\\n"
               "     0.5 * x**2 with lines lw 2 lc rgb 'black' title 'true boundary', \\\n"
               "     lu(x) with lines lw 2 dt 2 lc rgb '#e7298a' title 'plain training: test acc %.3f', \\\n"
               "     lw(x) with lines lw 3 lc rgb '#7570b3' title 'weighted training: test acc %.3f'\n",
            r->line_u[0], r->line_u[2], r->line_u[1], r->line_w[0], r->line_w[2],
            r->line_w[1], r->acc_u, r->acc_w);
    ch_plot_end(o, g, "covariate_shift.png");
}

static void mean_sd(const run *r, int n, size_t off, double *m, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&r[i] + off);
        s += v;
        s2 += v * v;
    }
    *m = s / n;
    *sd = n > 1 ? sqrt(fmax(0, (s2 - s * s / n) / (n - 1))) : 0;
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "covariate",
                     .about = "Covariate shift: importance weights from a logistic-regression "
                              "classifier of training against test inputs "
                              "(samples/chapter/domain.nn, covariate.nn).",
                     .accepts = CH_OPT_SEEDS, .seeds = 10 };
    ch_parse(argc, argv, &o);
    if (o.quick && o.seeds > 3)
        o.seeds = 3;

    const int n = o.quick ? QUICK_N : N;
    covariate_inputs *tr = ch_alloc(sizeof *tr), *te = ch_alloc(sizeof *te);
    covariate_set_defaults(tr);               /* lr */
    covariate_set_defaults(te);
    tr->n = te->n = n;                        /* the examples in use, of each set */
    covariate_params *p = ch_alloc(sizeof *p);
    picture *pic = ch_alloc(sizeof *pic);
    double *beta = malloc(N * sizeof *beta);
    run *runs = calloc((size_t)o.seeds, sizeof *runs);
    if (!beta || !runs)
        support_die(o.prog, "out of memory");

    printf("Covariate shift: class 1 iff x2 > x1^2/2; training inputs N((%g, %g), %g^2 I), "
           "test inputs N((%g, %g), %g^2 I);\n%d examples in each set, linear classifiers, "
           "%d steps of full-batch gradient descent\n"
           "the true log density ratio is log p_test(x)/p_train(x) = %g x1 + %g x2 + %g\n\n",
           MU_TRAIN[0], MU_TRAIN[1], SIGMA, MU_TEST[0], MU_TEST[1], SIGMA, n, STEPS,
           (MU_TEST[0] - MU_TRAIN[0]) / (SIGMA * SIGMA), (MU_TEST[1] - MU_TRAIN[1]) / (SIGMA * SIGMA),
           (MU_TRAIN[0] * MU_TRAIN[0] + MU_TRAIN[1] * MU_TRAIN[1] - MU_TEST[0] * MU_TEST[0]
            - MU_TEST[1] * MU_TEST[1]) / (2 * SIGMA * SIGMA));
    printf("seed  learned h(x)                    max weight  eff. size   test acc: plain  weighted  "
           "trained on test\n");
    int wins = 0;
    for (int k = 0; k < o.seeds; k++) {
        uint64_t seed = (uint64_t)k + 1;
        run *r = &runs[k];
        draw(tr->x, tr->y, n, MU_TRAIN, seed, "train x");
        draw(te->x, te->y, n, MU_TEST, seed, "test x");
        train_domain(&o, tr, te, beta, r);
        for (int i = 0; i < n; i++)
            tr->w[i] = (float)beta[i];
        train_task(&o, p, tr, te, &r->acc_u, &r->acc_w);
        boundary(p->Wu, p->bu, r->line_u);
        boundary(p->Ww, p->bw, r->line_w);
        /* The reference: the same classifier fitted on the labelled test set. */
        double ref_w;
        for (int i = 0; i < n; i++)
            te->w[i] = 1;
        train_task(&o, p, te, te, &r->acc_ref, &ref_w);
        wins += r->acc_w > r->acc_u;
        printf("%4llu  %5.2f x1 %+5.2f x2 %+5.2f      %8.1f  %9.0f        %.4f    %.4f   %.4f\n",
               (unsigned long long)seed, r->v0, r->v1, r->c, r->wmax, r->ess, r->acc_u, r->acc_w,
               r->acc_ref);
        if (k == 0)
            for (int i = 0; i < PLOTTED && i < n; i++) {
                pic->tr[i][0] = tr->x[i][0], pic->tr[i][1] = tr->x[i][1];
                pic->te[i][0] = te->x[i][0], pic->te[i][1] = te->x[i][1];
                pic->y[i] = tr->y[i];
                pic->beta[i] = beta[i];
            }
    }
    double mu, su, mw, sw, mr, sr;
    mean_sd(runs, o.seeds, offsetof(run, acc_u), &mu, &su);
    mean_sd(runs, o.seeds, offsetof(run, acc_w), &mw, &sw);
    mean_sd(runs, o.seeds, offsetof(run, acc_ref), &mr, &sr);
    printf("\ntest accuracy over %d seeds (mean ± sd): plain %.4f ± %.4f, weighted %.4f ± %.4f, "
           "trained on the test set %.4f ± %.4f\n", o.seeds, mu, su, mw, sw, mr, sr);
    plot(&o, pic, &runs[0]);
    int ok = wins == o.seeds;
    printf("%s: weighted training beat plain training on %d of %d seeds (by %.4f on average)\n",
           ok ? "ok" : "FAILED", wins, o.seeds, mw - mu);
    nnrt_free(tr), nnrt_free(te), nnrt_free(p), nnrt_free(pic);
    free(beta);
    free(runs);
    return ok ? 0 : 1;
}
