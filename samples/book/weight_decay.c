/*
 * weight_decay.c: the book's weight decay from scratch (d2l.ai, "Weight
 * Decay"): linear regression in 200 dimensions on 20 training examples
 * (100 to test) of y = 0.01 sum(x) + 0.05 + N(0, 0.01^2), a setting made to
 * overfit; samples/book/weight_decay.nn trained by SGD at lr 0.003 on
 * minibatches of 5 for 100 epochs, twice from the same start: without the
 * penalty (lambda = 0) and with lambda = 3.  Every 20 epochs the loss
 * (without the penalty) on the training and the test set; then both runs'
 * losses and the norm of w, weight_decay.png (the book's two figures), and
 * `final loss: X`, the test loss with lambda = 3.
 *
 * --quick (make check-book): the same run without the plot; exits 1 if a
 * loss is not finite or the penalty did not lower the test loss.
 */
#include <math.h>

#include "book.h"
#include "weight_decay.h"

enum { D = 200, EPOCHS_MAX = 1000 };
static const float lambdas[2] = { 0, 3 };

static void plot(const ch_options *o, bk_epoch hist[2][EPOCHS_MAX], const double norm[2])
{
    FILE *g = ch_plot_begin(o, "weight_decay.png", 800, 360);
    if (!g)
        return;
    fprintf(g, "$d << EOD\n");
    for (int e = 0; e < o->epochs; e++)
        fprintf(g, "%d %g %g %g %g\n", e + 1, hist[0][e].train, hist[0][e].test,
                hist[1][e].train, hist[1][e].test);
    fprintf(g, "EOD\nset multiplot layout 1,2\nset logscale y\nset format y '10^{%%T}'\n"
               "set xlabel 'epoch'\nset ylabel 'loss'\nset grid\nset key bottom left\n");
    for (int k = 0; k < 2; k++)
        fprintf(g, "set title 'lambda = %g: ||w|| = %.3g'\n"
                   "plot $d using 1:%d with lines lw 2 title 'train', "
                   "$d using 1:%d with lines lw 2 dt 2 title 'test'\n",
                lambdas[k], norm[k], 2 + 2 * k, 3 + 2 * k);
    fprintf(g, "unset multiplot\n");
    ch_plot_end(o, g, "weight_decay.png");
}

int main(int argc, char **argv)
{
    ch_options o;
    bk_parse(argc, argv, &o, "weight_decay", "Weight decay on the book's high-dimensional linear "
             "regression (samples/book/weight_decay.nn).", 100, 0, 0);
    if (o.epochs > EPOCHS_MAX)
        support_die(o.prog, "--epochs: at most %d", EPOCHS_MAX);
    float true_w[D];
    for (int j = 0; j < D; j++)
        true_w[j] = 0.01f;
    nnrt_tensorset train, test;
    bk_linear_data(&train, 20, D, true_w, 0.05f, 0.01, o.seed, "weight decay train");
    bk_linear_data(&test, 100, D, true_w, 0.05f, 0.01, o.seed, "weight decay test");
    static bk_epoch hist[2][EPOCHS_MAX];
    double norm[2];
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        char label[32];
        snprintf(label, sizeof label, "lambda %g", lambdas[k]);
        bk_net n;
        bk_open(&n, &o, &weight_decay_model);
        *bk_get(&n, NNRT_HYPER, "lambd", NULL) = lambdas[k];
        bk_fit f = { .train = &train, .test = &test, .metric = "L", .eval_train = 1,
                     .every = 20, .label = label };
        ok &= bk_train(&o, &n, &f, hist[k]);
        size_t count;
        const float *w = bk_get(&n, NNRT_PARAM, "w", &count);
        norm[k] = 0;
        for (size_t j = 0; j < count; j++)
            norm[k] += (double)w[j] * w[j];
        norm[k] = sqrt(norm[k]);
        bk_close(&n);
    }
    const bk_epoch *a = &hist[0][o.epochs - 1], *b = &hist[1][o.epochs - 1];
    printf("after %d epochs   train loss   test loss    ||w||\n", o.epochs);
    printf("  lambda = %g     %-12.4g %-12.4g %.4f\n", lambdas[0], a->train, a->test, norm[0]);
    printf("  lambda = %g     %-12.4g %-12.4g %.4f\n", lambdas[1], b->train, b->test, norm[1]);
    printf("%d epochs each: %.3g s of training per epoch\n", o.epochs,
           (bk_epoch_secs(hist[0], o.epochs) + bk_epoch_secs(hist[1], o.epochs)) / 2);
    int helped = b->test < a->test;
    if (!ok || !helped)
        fprintf(stderr, "weight_decay: FAILED: %s\n", ok ? "the penalty did not lower the test loss"
                                                        : "a loss was not finite, or did not fall");
    plot(&o, hist, norm);
    printf("final loss: %.4f\n", b->test);
    nnrt_tensorset_free(&train);
    nnrt_tensorset_free(&test);
    return ok && helped ? 0 : 1;
}
