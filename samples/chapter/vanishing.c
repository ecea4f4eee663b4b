/*
 * vanishing.c: vanishing gradients, in two parts.
 *
 * 1. samples/chapter/sigmoid.nn: the sigmoid and its derivative on [-8, 8],
 *    the derivative from nnc's backward pass (vanishing_sigmoid.png).  It is
 *    at most 1/4, at 0, and nearly 0 wherever the sigmoid saturates.
 * 2. samples/chapter/deep.nn: a network of 20 sigmoid layers and one of 20
 *    ReLU layers at initialization; the norm of the gradient of each
 *    layer's weights, printed and plotted per layer on a log scale
 *    (vanishing_layers.png).  Through sigmoid layers the gradient shrinks by
 *    a constant factor per layer, so the first layers get almost none.
 *
 * Exits 1 unless the sigmoid network's first-layer gradient norm is below
 * 1e-3 of its last layer's (make check runs --quick: the same, no plots).
 */
#include <math.h>
#include <stdio.h>

#include "common.h"
#include "deep.h"
#include "sigmoid.h"

enum {
    NPTS = sizeof(((sigmoid_params *)0)->x) / sizeof(float),
    LAYERS = sizeof(((deep_params *)0)->Ws) / sizeof(((deep_params *)0)->Ws[0]),
    W = sizeof(((deep_params *)0)->Ws[0]) / sizeof(((deep_params *)0)->Ws[0][0]),
    BATCH = sizeof(((deep_inputs *)0)->y) / sizeof(int32_t),
    Q = sizeof(((deep_params *)0)->Vs) / sizeof(((deep_params *)0)->Vs[0]),
};

static double norm(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * a[i];
    return sqrt(s);
}

/* Part 1: the sigmoid's curve and gradient at NPTS points of [-8, 8]. */
static void sigmoid_curve(const ch_options *o)
{
    sigmoid_params *p = ch_alloc(sizeof *p), *grad = ch_alloc(sizeof *grad);
    sigmoid_state *st = ch_alloc(sizeof *st);     /* seed and step only */
    sigmoid_inputs *in = ch_alloc(sizeof *in);    /* the model has none */
    sigmoid_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(sigmoid_model.workspace_size);
    for (int i = 0; i < NPTS; i++)
        p->x[i] = (float)(-8.0 + 16.0 * i / (NPTS - 1));
    int rc = sigmoid_backward(p, st, in, out, grad, ws);
    if (rc)
        support_die(o->prog, "sigmoid backward: %s", nnrt_strerror(rc));

    printf("1. The sigmoid and its gradient from nnc's backward pass (dJ/dx of J = sum(sigmoid(x))):\n"
           "      x   sigmoid(x)   gradient   sigmoid(x)(1 - sigmoid(x))\n");
    double worst = 0;
    int peak = 0;
    for (int i = 0; i < NPTS; i++) {
        double s = out->y[i], exact = s * (1 - s);
        worst = fmax(worst, fabs(grad->x[i] - exact));
        if (grad->x[i] > grad->x[peak])
            peak = i;
        if (i % ((NPTS - 1) / 8) == 0)
            printf("  %5.1f   %10.6f   %.6f   %.6f\n", p->x[i], s, grad->x[i], exact);
    }
    printf("  the gradient peaks at x = %.1f with %.4f and is %.1e at x = -8 and 8;\n"
           "  largest difference from the closed form: %.1e\n\n", p->x[peak], grad->x[peak],
           grad->x[0], worst);

    FILE *g = ch_plot_begin(o, "vanishing_sigmoid.png", 640, 400);
    if (g) {
        fprintf(g, "set title 'The sigmoid and its gradient (from nnc''s backward pass)'\n"
                   "set xlabel 'x'\nset grid\nset key top left\n"
                   "set xrange [-8:8]\nset yrange [-0.02:1.02]\n$d << EOD\n");
        for (int i = 0; i < NPTS; i++)
            fprintf(g, "%.4f %.8f %.8f\n", p->x[i], out->y[i], grad->x[i]);
        fprintf(g, "EOD\n"
                   "plot $d using 1:2 with lines lw 2 title 'sigmoid(x)', \\\n"
                   "     $d using 1:3 with lines lw 2 title 'gradient'\n");
        ch_plot_end(o, g, "vanishing_sigmoid.png");
    }
    nnrt_free(p), nnrt_free(grad), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
}

/* Part 2: per-layer gradient norms of the two deep networks at
 * initialization; returns the sigmoid network's first/last ratio. */
static double deep_layers(const ch_options *o)
{
    deep_params *p = ch_alloc(sizeof *p), *grad = ch_alloc(sizeof *grad);
    deep_state *st = ch_alloc(sizeof *st);
    deep_inputs *in = ch_alloc(sizeof *in);
    deep_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(deep_model.workspace_size);
    deep_init(p, st, o->seed);
    deep_set_defaults(in);                        /* batch: all BATCH rows */
    ch_normal_f32(&in->x[0][0], (size_t)BATCH * W, 0, 1, o->seed, "x");
    ch_uniform_int(in->y, BATCH, Q, o->seed, "y");
    int rc = deep_backward(p, st, in, out, grad, ws);
    if (rc)
        support_die(o->prog, "deep backward: %s", nnrt_strerror(rc));

    double ns[LAYERS], nr[LAYERS];
    for (int i = 0; i < LAYERS; i++) {
        ns[i] = norm(&grad->Ws[i][0][0], (size_t)W * W);
        nr[i] = norm(&grad->Wr[i][0][0], (size_t)W * W);
    }
    printf("2. %d layers of width %d at initialization (weights N(0, 0.1768^2)), batch %d, seed %llu:\n"
           "   the norm of the gradient of each layer's weights, layer 1 next to the input\n"
           "   layer    sigmoid     ReLU\n", LAYERS, W, BATCH, (unsigned long long)o->seed);
    for (int i = 0; i < LAYERS; i++)
        printf("   %5d   %9.3e  %9.3e\n", i + 1, ns[i], nr[i]);
    printf("  output   %9.3e  %9.3e\n", norm(&grad->Vs[0][0], (size_t)Q * W),
           norm(&grad->Vr[0][0], (size_t)Q * W));
    double rs = ns[0] / ns[LAYERS - 1], rr = nr[0] / nr[LAYERS - 1];
    printf("   first / last layer: sigmoid %.2e (%.3gx smaller per layer toward the input), ReLU %.3g\n"
           "   loss at initialization: sigmoid %.4f, ReLU %.4f (ln %d = %.4f)\n\n", rs,
           pow(rs, -1.0 / (LAYERS - 1)), rr, out->Ls, out->Lr, Q, log(Q));

    FILE *g = ch_plot_begin(o, "vanishing_layers.png", 640, 400);
    if (g) {
        fprintf(g, "set title 'Gradient norm per layer at initialization, %d layers of width %d'\n"
                   "set xlabel 'layer (1 = next to the input)'\n"
                   "set ylabel '||dJ/dW_i|| (log scale)'\n"
                   "set logscale y\nset format y '10^{%%T}'\nset grid\nset key bottom right\n"
                   "set xrange [0.5:%d.5]\nset xtics 1,2\n$d << EOD\n", LAYERS, W, LAYERS);
        for (int i = 0; i < LAYERS; i++)
            fprintf(g, "%d %.6e %.6e\n", i + 1, ns[i], nr[i]);
        fprintf(g, "EOD\n"
                   "plot $d using 1:2 with linespoints pt 7 lw 2 title 'sigmoid', \\\n"
                   "     $d using 1:3 with linespoints pt 5 lw 2 title 'ReLU'\n");
        ch_plot_end(o, g, "vanishing_layers.png");
    }
    nnrt_free(p), nnrt_free(grad), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return rs;
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "vanishing",
                     .about = "Vanishing gradients: the sigmoid's gradient, and the gradient per "
                              "layer of deep sigmoid and ReLU networks (samples/chapter/sigmoid.nn, "
                              "deep.nn).",
                     .accepts = CH_OPT_SEED, .seed = 42 };
    ch_parse(argc, argv, &o);
    sigmoid_curve(&o);
    double ratio = deep_layers(&o);
    int ok = ratio < 1e-3;
    printf("%s: the sigmoid network's first-layer gradient norm is %.2e of its last layer's (%s 1e-3)\n",
           ok ? "ok" : "FAILED", ratio, ok ? "below" : "not below");
    return ok ? 0 : 1;
}
