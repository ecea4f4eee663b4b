/*
 * exploding.c: exploding gradients.  Runs samples/chapter/exploding.nn: a
 * 4x4 Gaussian matrix M times 100 others, the loop unrolled by nnc, and
 * prints M, its eigenvalues, the product after 100 steps, the norm of the
 * running product per step and the gradient of J = sum(P) with respect to
 * M, from the model's backward pass.  Plots the norm against the step on a
 * log scale (exploding.png).
 *
 * The eigenvalues are computed here, in C: the characteristic polynomial by
 * Faddeev-LeVerrier, its four roots by Durand-Kerner iterations polished by
 * Newton's method.  A random real matrix may have complex eigenvalues; they
 * are printed as a+bi.
 *
 * Exits 1 unless the product's norm is beyond 1e10 (make check runs
 * --quick, which is the same computation without the plot).
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "exploding.h"

enum { N = 4, STEPS = sizeof(((exploding_inputs *)0)->R) / sizeof(double[N][N]) };

/* Coefficients c[0..4] of det(zI - A) = z^4 + c[3] z^3 + ... + c[0]. */
static void charpoly(const double a[N][N], double c[N + 1])
{
    double m[N][N] = { { 0 } }, am[N][N];
    c[N] = 1;
    for (int k = 1; k <= N; k++) {
        /* M_k = A M_{k-1} + c[N-k+1] I;  c[N-k] = -tr(A M_k) / k */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int l = 0; l < N; l++)
                    s += a[i][l] * m[l][j];
                am[i][j] = s + (i == j ? c[N - k + 1] : 0);
            }
        double tr = 0;
        for (int i = 0; i < N; i++)
            for (int l = 0; l < N; l++)
                tr += a[i][l] * am[l][i];
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                m[i][j] = am[i][j];
        c[N - k] = -tr / k;
    }
}

/* The k-th derivative of the polynomial c at z (k = 0: its value). */
static double complex deriv(const double c[N + 1], int k, double complex z)
{
    double complex v = 0;
    for (int j = N; j >= k; j--) {
        double f = c[j];
        for (int i = 0; i < k; i++)
            f *= j - i;                        /* j! / (j-k)! */
        v = v * z + f;
    }
    return v;
}

/* The roots of the monic quartic c: Durand-Kerner (all four at once), then
 * a few Newton steps each.  Generic matrices have simple eigenvalues, where
 * both converge fast and to full precision. */
static void roots(const double c[N + 1], double complex z[N])
{
    double bound = 1;                          /* Cauchy: |root| <= 1 + max|c_k| */
    for (int k = 0; k < N; k++)
        bound = fmax(bound, 1 + fabs(c[k]));
    for (int i = 0; i < N; i++)
        z[i] = 0.5 * bound * cpow(0.4 + 0.9 * I, i);
    for (int it = 0; it < 1000; it++) {
        double moved = 0;
        for (int i = 0; i < N; i++) {
            double complex den = 1;
            for (int j = 0; j < N; j++)
                if (j != i)
                    den *= z[i] - z[j];
            double complex step = deriv(c, 0, z[i]) / den;
            z[i] -= step;
            moved = fmax(moved, cabs(step));
        }
        if (moved < 1e-15 * bound)
            break;
    }
    /* A root of multiplicity m comes out as m points scattered about it by
     * up to eps^(1/m) (1e-4 for m = 4: the identity matrix).  It is a simple
     * root of the (m-1)-th derivative, though: group the points closer than
     * 1e-3 of the bound, and polish each group's mean by Newton's method on
     * that derivative (m = 1: on the polynomial itself).  (Distinct
     * eigenvalues that close are merged too; a random matrix almost never
     * has them.) */
    int group[N];
    for (int i = 0; i < N; i++)
        group[i] = i;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (group[j] == j && cabs(z[i] - z[j]) < 1e-3 * bound)
                group[j] = group[i];
    for (int g = 0; g < N; g++) {
        double complex r = 0;
        int m = 0;
        for (int i = 0; i < N; i++)
            if (group[i] == g)
                r += z[i], m++;
        if (m == 0)
            continue;
        r /= m;
        for (int it = 0; it < 8; it++) {
            double complex d = deriv(c, m, r);
            if (d == 0)
                break;
            r -= deriv(c, m - 1, r) / d;
        }
        for (int i = 0; i < N; i++)
            if (group[i] == g)
                z[i] = r;
    }
    for (int i = 0; i < N; i++)            /* real roots exactly real */
        if (fabs(cimag(z[i])) < 1e-12 * bound)
            z[i] = creal(z[i]);
}

static int by_modulus(const void *a, const void *b)
{
    double x = cabs(*(const double complex *)a), y = cabs(*(const double complex *)b);
    if (x != y)
        return x < y ? 1 : -1;
    return cimag(*(const double complex *)a) < cimag(*(const double complex *)b) ? 1 : -1;
}

static void print_matrix(const char *fmt, const double a[N][N])
{
    for (int i = 0; i < N; i++) {
        printf("    [");
        for (int j = 0; j < N; j++)
            printf(fmt, a[i][j]);
        printf(" ]\n");
    }
}

static double det4(const double a[N][N])
{
    double m[N][N], d = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            m[i][j] = a[i][j];
    for (int k = 0; k < N; k++) {              /* Gaussian elimination, partial pivoting */
        int p = k;
        for (int i = k + 1; i < N; i++)
            if (fabs(m[i][k]) > fabs(m[p][k]))
                p = i;
        if (m[p][k] == 0)
            return 0;
        if (p != k) {
            for (int j = 0; j < N; j++) {
                double t = m[k][j];
                m[k][j] = m[p][j];
                m[p][j] = t;
            }
            d = -d;
        }
        d *= m[k][k];
        for (int i = k + 1; i < N; i++) {
            double f = m[i][k] / m[k][k];
            for (int j = k; j < N; j++)
                m[i][j] -= f * m[k][j];
        }
    }
    return d;
}

static void plot(const ch_options *o, const double *norms, double theory)
{
    FILE *g = ch_plot_begin(o, "exploding.png", 640, 400);
    if (!g)
        return;
    fprintf(g, "set title 'The running product M R[0] ⋯ R[t-1] of 4x4 matrices with N(0, 1) entries'\n"
               "set xlabel 'step t'\nset ylabel 'Frobenius norm (log scale)'\n"
               "set logscale y\nset format y '10^{%%T}'\nset grid\n"
               "set key top left\nset xrange [0:%d]\n$d << EOD\n", STEPS);
    for (int t = 0; t <= STEPS; t++)
        fprintf(g, "%d %.10g\n", t, norms[t]);
    fprintf(g, "EOD\n"
               "plot $d using 1:2 with linespoints pt 7 ps 0.4 lw 2 title 'norm of the product (nnc)', \\\n"
               "     %.10g * %.10g**x with lines dt 2 lw 1.5 lc rgb 'gray40' "
               "title 'theory: ||M|| e^{λt}, λ = (ln 2 + ψ(2))/2 = 0.558'\n", norms[0], theory);
    ch_plot_end(o, g, "exploding.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "exploding",
                     .about = "Exploding gradients: a 4x4 Gaussian matrix times 100 others "
                              "(samples/chapter/exploding.nn).",
                     .accepts = CH_OPT_SEED, .seed = 42 };
    ch_parse(argc, argv, &o);

    exploding_params *p = ch_alloc(sizeof *p), *grad = ch_alloc(sizeof *grad);
    exploding_state *st = ch_alloc(sizeof *st);
    exploding_inputs *in = ch_alloc(sizeof *in);
    exploding_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(exploding_model.workspace_size);

    exploding_init(p, st, o.seed);             /* M ~ N(0, 1), the model's initializer */
    ch_normal_f64(&in->R[0][0][0], (size_t)STEPS * N * N, 0, 1, o.seed, "R");
    for (int t = 0; t <= STEPS; t++)
        in->k[t] = t;
    int rc = exploding_backward(p, st, in, out, grad, ws);
    if (rc)
        support_die(o.prog, "backward: %s", nnrt_strerror(rc));

    printf("Exploding gradients: M times %d Gaussian 4x4 matrices, float64, seed %llu\n\n",
           STEPS, (unsigned long long)o.seed);
    printf("the first matrix M:\n");
    print_matrix(" %8.4f", p->M);

    double c[N + 1], tr = 0;
    double complex ev[N], sum = 0, prod = 1;
    charpoly(p->M, c);
    roots(c, ev);
    qsort(ev, N, sizeof *ev, by_modulus);
    printf("its eigenvalues:");
    for (int i = 0; i < N; i++) {
        if (cimag(ev[i]) == 0)
            printf("  %.4f", creal(ev[i]));
        else
            printf("  %.4f%+.4fi", creal(ev[i]), cimag(ev[i]));
        sum += ev[i];
        prod *= ev[i];
    }
    for (int i = 0; i < N; i++)
        tr += p->M[i][i];
    printf("\n  spectral radius %.4f; check: their sum %.6f = trace %.6f, "
           "their product %.6f = det %.6f\n\n", cabs(ev[0]), creal(sum), tr, creal(prod),
           det4(p->M));

    printf("after %d multiplications, P = M R[0] ... R[%d]:\n", STEPS, STEPS - 1);
    print_matrix(" %11.3e", out->P);

    /* The mean growth per step, and what theory says for products of d x d
     * matrices of N(0, 1) entries: the top Lyapunov exponent
     * (ln 2 + psi(d/2)) / 2 (Newman 1986); psi(2) = 1 - Euler's gamma. */
    double rate = pow(out->norms[STEPS] / out->norms[0], 1.0 / STEPS);
    double theory = exp(0.5 * (log(2.0) + 1 - 0.57721566490153286));
    printf("\nnorm of the running product ||M R[0] ... R[t-1]||:\n");
    for (int t = 0; t <= STEPS; t += STEPS / 10 ? STEPS / 10 : 1)
        printf("  step %3d  %10.3e\n", t, out->norms[t]);
    printf("it grew %.4gx per step on average (theory for 4x4 Gaussians: %.4gx)\n\n", rate,
           theory);

    double gn = 0, gmax = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            gn += grad->M[i][j] * grad->M[i][j];
            gmax = fmax(gmax, fabs(grad->M[i][j]));
        }
    gn = sqrt(gn);
    printf("gradient of J = sum(P) with respect to M, from nnc's backward pass:\n"
           "  ||dJ/dM|| = %.3e, largest entry %.3e\n"
           "  one SGD step with lr 0.01 would move M by up to %.1e: training cannot start\n",
           gn, gmax, 0.01 * gmax);

    plot(&o, out->norms, theory);

    int ok = out->norms[STEPS] > 1e10 && gn > 1e10;
    printf("%s: product norm %.3e and gradient norm %.3e %s beyond 1e10\n",
           ok ? "ok" : "FAILED", out->norms[STEPS], gn, ok ? "are" : "are not both");
    nnrt_free(p), nnrt_free(grad), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return ok ? 0 : 1;
}
