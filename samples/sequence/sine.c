/*
 * sine.c: the book's autoregressive model of a noisy sine (d2l.ai,
 * "Sequence Models"), on samples/sequence/sine.nn.  The data are
 * x_t = sin(0.01 t) + N(0, 0.2^2) for t = 1..1000; example i has the
 * features x_{i+1..i+4} and the label x_{i+5}, and the first 600 examples
 * train an MLP 4-10-1 with Adam (lr 0.01, batch 16, 5 epochs), as the book
 * does.  Then it prints the mean squared error of the k-step-ahead
 * predictions for k = 1, 4, 16, 64, where predictions are fed back as
 * inputs: the error of each step adds to the next, so it grows with k.
 * Plots the data with the 1-step and the free-running predictions
 * (sine.png) and the k-step-ahead predictions (sine_ksteps.png).
 *
 * Exits 1 unless the training loss is finite and fell below its value
 * before training (make check runs --quick: the same run without plots).
 */
#include <math.h>
#include <stdio.h>

#include "../chapter/common.h"
#include "sine.h"

enum {
    T = 1000, N_TRAIN = 600, BATCH = 16,
    TAU = sizeof(((sine_inputs *)0)->x[0]) / sizeof(float),
    K = sizeof(((sine_outputs *)0)->ahead[0]) / sizeof(float),
    N_EX = T - TAU,                   /* examples: every window with a label */
    N_K = T - TAU - K + 1,            /* windows with all K steps ahead observed */
};

static const int ks[] = { 1, 4, 16, 64 };    /* the look-aheads reported */
_Static_assert(K >= 64, "the model must look 64 steps ahead");

/* The mean loss over the examples of ts. */
static double mean_loss(const ch_options *o, const sine_params *p, const sine_state *s,
                         const nnrt_tensorset *ts)
{
    return ch_mean_output(o, &sine_model, p, s, ts, "L");
}

/* Rows r < n of the inputs: window rows[r] of feat (row r when rows is
 * NULL), and its label when label is not NULL.  Copied here, not by
 * nnrt_tensorset_batch, which fills as many rows as the dim's MAX: 1024,
 * for every window in one call, where training takes 16. */
static void fill(sine_inputs *in, const float *feat, const float *label, const uint32_t *rows,
                 int n)
{
    in->batch = n;
    for (int r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : (size_t)r;
        for (int j = 0; j < TAU; j++)
            in->x[r][j] = feat[i * TAU + j];
        if (label)
            in->y[r][0] = label[i];
    }
}

/* forward on the n windows of TAU values at feat, into out->ahead[0 .. n). */
static void predict(const ch_options *o, const sine_params *p, const sine_state *s,
                    sine_inputs *in, sine_outputs *out, void *ws, const float *feat, int n)
{
    fill(in, feat, NULL, NULL, n);
    int rc = sine_forward(p, s, in, out, ws);
    if (rc)
        support_die(o->prog, "forward: %s", nnrt_strerror(rc));
}

/* onestep[t] and free[t] predict x[t]; free from N_TRAIN + TAU on. */
static void plot(const ch_options *o, const float *x, const float *onestep, const float *free,
                 const sine_outputs *ahead)
{
    FILE *g = ch_plot_begin(o, "sine.png", 720, 360);
    if (g) {
        fprintf(g, "set title 'x_t = sin(0.01 t) + noise: predictions of an MLP on the 4 values before'\n"
                   "set xlabel 'time t'\nset ylabel 'x'\nset grid\nset key bottom left\n"
                   "set xrange [1:%d]\nset yrange [-2:2]\n$d << EOD\n", T);
        for (int t = TAU; t < T; t++)
            fprintf(g, "%d %g %g %g\n", t + 1, x[t], onestep[t], t < N_TRAIN + TAU ? NAN : free[t]);
        fprintf(g, "EOD\n"
                   "plot $d using 1:2 with lines lw 1 lc rgb 'gray70' title 'data', \\\n"
                   "     $d using 1:3 with lines lw 1.5 title '1-step-ahead predictions', \\\n"
                   "     $d using 1:4 with lines lw 2 title 'multistep predictions from t = %d'\n",
                N_TRAIN + TAU + 1);
        ch_plot_end(o, g, "sine.png");
    }
    g = ch_plot_begin(o, "sine_ksteps.png", 720, 360);
    if (!g)
        return;
    fprintf(g, "set title 'k-step-ahead predictions: each fed back as an input for the next'\n"
               "set xlabel 'time t'\nset ylabel 'x'\nset grid\nset key bottom left\n"
               "set xrange [1:%d]\nset yrange [-2:2]\n$d << EOD\n", T);
    /* The prediction of x_t made k steps ahead, from the window ending at t - k. */
    for (int t = TAU + K - 1; t < N_K + TAU; t++) {
        fprintf(g, "%d", t + 1);
        for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
            fprintf(g, " %g", ahead->ahead[t - TAU - ks[j] + 1][ks[j] - 1]);
        fprintf(g, "\n");
    }
    fprintf(g, "EOD\nplot");
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
        fprintf(g, "%s $d using 1:%zu with lines lw 1.5 title '%d-step'", j ? "," : "", j + 2,
                ks[j]);
    fprintf(g, "\n");
    ch_plot_end(o, g, "sine_ksteps.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "sine",
                     .about = "The book's autoregressive model of a noisy sine, and its "
                              "k-step-ahead predictions (samples/sequence/sine.nn).",
                     .accepts = CH_OPT_SEED | CH_OPT_EPOCHS, .seed = 1, .epochs = 5 };
    ch_parse(argc, argv, &o);
    double t0 = ch_now();

    float *x = ch_alloc(T * sizeof *x), *clean = ch_alloc(T * sizeof *clean);
    float *feat = ch_alloc(N_EX * TAU * sizeof *feat), *label = ch_alloc(N_EX * sizeof *label);
    ch_normal_f32(x, T, 0, 0.2, o.seed, "noise");
    for (int t = 0; t < T; t++) {
        clean[t] = (float)sin(0.01 * (t + 1));
        x[t] += clean[t];
    }
    for (int i = 0; i < N_EX; i++) {
        for (int j = 0; j < TAU; j++)
            feat[i * TAU + j] = x[i + j];
        label[i] = x[i + TAU];
    }

    char err[256];
    nnrt_tensorset all = { 0 }, train, test;
    int64_t dx = TAU, dy = 1;
    if (nnrt_tensorset_add(&all, "x", NNRT_F32, 1, &dx, N_EX, feat, NNRT_DATA_BORROW, err, sizeof err)
        || nnrt_tensorset_add(&all, "y", NNRT_F32, 1, &dy, N_EX, label, NNRT_DATA_BORROW, err,
                              sizeof err)
        || nnrt_tensorset_slice(&all, 0, N_TRAIN, &train, err, sizeof err)
        || nnrt_tensorset_slice(&all, N_TRAIN, N_EX - N_TRAIN, &test, err, sizeof err))
        support_die(o.prog, "data: %s", err);

    sine_params *p = ch_alloc(sizeof *p);
    sine_state *s = ch_alloc(sizeof *s);
    sine_inputs *in = ch_alloc(sizeof *in);
    sine_outputs *out = ch_alloc(sizeof *out), *ahead = ch_alloc(sizeof *ahead);
    void *ws = ch_alloc(sine_model.workspace_size);
    uint32_t *perm = ch_alloc(N_TRAIN * sizeof *perm);
    sine_init(p, s, o.seed);
    sine_set_defaults(in);

    double first = mean_loss(&o, p, s, &train), last = first;
    printf("x_t = sin(0.01 t) + N(0, 0.2^2), t = 1..%d; %d training examples of tau = %d values\n"
           "before training: loss %.6f\n", T, N_TRAIN, TAU, first);
    for (int e = 1; e <= o.epochs; e++) {
        nnrt_shuffle(perm, N_TRAIN, o.seed, (uint64_t)e);
        for (int at = 0; at < N_TRAIN; at += BATCH) {
            fill(in, feat, label, perm + at, N_TRAIN - at < BATCH ? N_TRAIN - at : BATCH);
            int rc = sine_train_step(p, s, in, out, ws);
            if (rc)
                support_die(o.prog, "train step: %s", nnrt_strerror(rc));
        }
        last = mean_loss(&o, p, s, &train);
        printf("epoch %d, loss: %.6f\n", e, last);
    }
    printf("1-step-ahead squared error: %.6f on the training examples, %.6f on the %d after "
           "(the noise alone: 0.04)\n", last, mean_loss(&o, p, s, &test), N_EX - N_TRAIN);

    /* Every window whose K steps ahead are observed, in one forward call. */
    predict(&o, p, s, in, ahead, ws, feat, N_K);
    printf("k-step-ahead predictions from the %d windows with %d observed values after them:\n"
           "   k   MSE to the data   MSE to sin(0.01 t)\n", N_K, K);
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
        int k = ks[j];
        double to_data = 0, to_sine = 0;
        for (int i = 0; i < N_K; i++) {
            double pr = ahead->ahead[i][k - 1];
            to_data += (pr - x[i + TAU + k - 1]) * (pr - x[i + TAU + k - 1]);
            to_sine += (pr - clean[i + TAU + k - 1]) * (pr - clean[i + TAU + k - 1]);
        }
        printf("  %2d   %15.6f   %18.6f\n", k, to_data / N_K, to_sine / N_K);
    }

    /* onestep[t] and free_run[t] predict x[t]. */
    float onestep[T], free_run[T + K];
    predict(&o, p, s, in, out, ws, feat, N_EX);
    for (int i = 0; i < N_EX; i++)
        onestep[i + TAU] = out->ahead[i][0];
    /* The book's multistep prediction: from the observed x_601..x_604 on,
     * only predictions, K per call, each call's window the last TAU. */
    for (int t = N_TRAIN; t < N_TRAIN + TAU; t++)
        free_run[t] = x[t];
    for (int t = N_TRAIN + TAU; t < T; t += K) {
        predict(&o, p, s, in, out, ws, free_run + t - TAU, 1);
        for (int k = 0; k < K; k++)
            free_run[t + k] = out->ahead[0][k];
    }
    double free_mse = 0;
    for (int t = N_TRAIN + TAU; t < T; t++)
        free_mse += (free_run[t] - x[t]) * (free_run[t] - x[t]);
    printf("multistep from t = %d on, predictions only: squared error %.6f over %d steps\n",
           N_TRAIN + TAU + 1, free_mse / (T - N_TRAIN - TAU), T - N_TRAIN - TAU);

    plot(&o, x, onestep, free_run, ahead);

    int ok = isfinite(last) && last < first;
    printf("%s: training loss %.4f -> %.4f in %d epochs (%.2f s)\n", ok ? "ok" : "FAILED", first,
           last, o.epochs, ch_now() - t0);
    nnrt_free(x), nnrt_free(clean), nnrt_free(feat), nnrt_free(label), nnrt_free(perm);
    nnrt_free(p), nnrt_free(s), nnrt_free(in), nnrt_free(out), nnrt_free(ahead), nnrt_free(ws);
    return ok ? 0 : 1;
}
