/*
 * linreg.c: the book's linear regression from scratch (d2l.ai, "Linear
 * Regression Implementation from Scratch"): 1000 examples of the book's
 * synthetic data, y = x w + b + noise with w = [2, -3.4], b = 4.2 and
 * noise N(0, 0.01^2), drawn with the runtime's generator; the model
 * samples/book/linreg.nn, SGD at lr 0.03 on minibatches of 10 for 3
 * epochs.  After each epoch the loss over the whole set, as the book
 * prints it; then the recovered w and b beside the true ones, linreg.png
 * (the book's scatter of the second feature against the labels, with the
 * model's predictions), and `final loss: X`.
 *
 * --quick (make check-book): the same run without the plot; exits 1 if a
 * loss is not finite, the loss did not fall, or w or b is off by 0.01.
 */
#include <math.h>

#include "book.h"
#include "linreg.h"

enum { N = 1000, D = 2 };

static void plot(const ch_options *o, const nnrt_tensorset *ts, const float *w, float b)
{
    FILE *g = ch_plot_begin(o, "linreg.png", 560, 400);
    if (!g)
        return;
    const float *x = ts->columns[0].data, *y = ts->columns[1].data;
    fprintf(g, "$d << EOD\n");
    for (int i = 0; i < N; i++)
        fprintf(g, "%g %g %g\n", x[i * D + 1], y[i], x[i * D] * w[0] + x[i * D + 1] * w[1] + b);
    fprintf(g, "EOD\nset title 'synthetic data y = 2 x_1 - 3.4 x_2 + 4.2 + noise'\n");
    fprintf(g, "set xlabel 'x_2'\nset ylabel 'y'\nset grid\nplot $d using 1:2 with points pt 7 "
               "ps 0.5 title 'labels', $d using 1:3 with points pt 6 ps 0.7 title 'predictions'\n");
    ch_plot_end(o, g, "linreg.png");
}

int main(int argc, char **argv)
{
    ch_options o;
    bk_parse(argc, argv, &o, "linreg", "Linear regression on the book's synthetic data "
             "(samples/book/linreg.nn).", 3, 0, 0);
    const float true_w[D] = { 2, -3.4f }, true_b = 4.2f;
    nnrt_tensorset data;
    bk_linear_data(&data, N, D, true_w, true_b, 0.01, o.seed, "linreg");
    bk_net n;
    bk_open(&n, &o, &linreg_model);
    bk_epoch hist[1000];
    printf("linreg: %d examples, batch 10, lr 0.03, %d epochs; loss: over all examples after "
           "each epoch\n", N, o.epochs);
    bk_fit f = { .train = &data, .metric = "L", .eval_train = 1 };
    int ok = bk_train(&o, &n, &f, hist);
    printf("%d epochs: %.3g s of training per epoch\n", o.epochs, bk_epoch_secs(hist, o.epochs));

    const float *w = bk_get(&n, NNRT_PARAM, "w", NULL), *b = bk_get(&n, NNRT_PARAM, "b", NULL);
    printf("w = [%.4f, %.4f]  (true [2, -3.4]; error [%.5f, %.5f])\n", w[0], w[1],
           true_w[0] - w[0], true_w[1] - w[1]);
    printf("b = %.4f           (true 4.2;      error %.5f)\n", b[0], true_b - b[0]);
    int close = fabsf(w[0] - true_w[0]) < 0.01f && fabsf(w[1] - true_w[1]) < 0.01f
                && fabsf(b[0] - true_b) < 0.01f;
    if (!ok || !close)
        fprintf(stderr, "linreg: FAILED: %s\n", !ok ? "a loss was not finite, or it did not fall"
                                                    : "w or b is off by more than 0.01");
    plot(&o, &data, w, b[0]);
    printf("final loss: %.7f\n", hist[o.epochs - 1].train);
    bk_close(&n);
    nnrt_tensorset_free(&data);
    return ok && close ? 0 : 1;
}
