/*
 * dropout.c: train samples/chapter/dropout.nn, the textbook's 784-256-256-10
 * MLP, twice from the same initialization on the same minibatches of
 * Fashion-MNIST: with dropout at the book's rates (0.2 after the first
 * hidden layer, 0.5 after the second) and without (both rates 0).  The
 * learning rate follows a schedule set through the lr hyper before every
 * step: a linear warm-up over the first epoch, then a cosine decay to 0.
 * Prints per epoch the lr, the training loss as train_step reports it (with
 * dropout) and both networks' training and test accuracies, measured by
 * forward (evaluation: no dropout); dropout.png plots the accuracies and
 * the schedule.  Dropout costs some training accuracy and narrows the gap
 * between training and test accuracy.
 *
 * --quick (make check, with a build of the model with small dims): a
 * synthetic data set, no plot; it exits 1 only if a loss is not finite, a
 * network did not learn, or the learning rate did not follow the schedule.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dropout.h"

enum {
    BATCH = sizeof(((dropout_inputs *)0)->y) / sizeof(int32_t),
    D = sizeof(((dropout_inputs *)0)->x[0]) / sizeof(float),
    H = sizeof(((dropout_params *)0)->b1) / sizeof(float),
    Q = sizeof(((dropout_params *)0)->b3) / sizeof(float),
    NETS = 2,                 /* 0: with dropout, 1: without */
};

static const char *const name[NETS] = { "dropout", "no dropout" };

/* The learning rate after t of `total` steps, the first w the warm-up:
 *   lr(t) = peak t / w                                     for t <= w,
 *   lr(t) = peak (1 + cos(pi (t - w) / (total - w))) / 2   for w <= t <= total:
 * from 0 up to the peak in a straight line over the first epoch, then down
 * half a cosine period to 0 at the end of training (total > w). */
static double schedule(double peak, size_t t, size_t w, size_t total)
{
    if (t <= w)
        return peak * (double)t / (double)w;
    return peak * 0.5 * (1 + cos(M_PI * (double)(t - w) / (double)(total - w)));
}

/* The lr each step ran with against values of the schedule known without
 * evaluating it: 0 at the start, the peak at the end of the warm-up, half
 * the peak halfway through either phase, 0 at the end; to within one
 * step's largest change, since the halfway steps are rounded. */
static int schedule_followed(const float *lr, double peak, size_t w, size_t total)
{
    const struct { size_t t; double want; } pt[] = {
        { 0, 0 }, { w / 2, peak / 2 }, { w, peak }, { w + (total - w) / 2, peak / 2 },
        { total - 1, 0 },
    };
    double tol = peak * fmax(1.0 / (double)w, M_PI / (2.0 * (double)(total - w)));
    for (size_t i = 0; i < sizeof pt / sizeof *pt; i++)
        if (fabs(lr[pt[i].t] - pt[i].want) > tol)
            return 0;
    return 1;
}

/* The accuracy of both networks on ds, every example counted once: batches
 * of BATCH rows, the last one short (in->batch: the rows filled). */
static void evaluate(const ch_options *o, dropout_params *const p[NETS],
                     dropout_state *const st[NETS], dropout_inputs *in, dropout_outputs *out,
                     void *ws, const nnrt_dataset *ds, double acc[NETS])
{
    size_t right[NETS] = { 0 };
    for (size_t at = 0; at < ds->n; at += BATCH) {
        size_t real = nnrt_dataset_batch(ds, NULL, at, BATCH, &in->x[0][0], in->y);
        in->batch = (int64_t)real;
        for (int m = 0; m < NETS; m++) {
            int rc = dropout_forward(p[m], st[m], in, out, ws);
            if (rc)
                support_die(o->prog, "forward: %s", nnrt_strerror(rc));
            for (size_t k = 0; k < real; k++)
                right[m] += out->pred[k] == in->y[k];
        }
    }
    for (int m = 0; m < NETS; m++)
        acc[m] = (double)right[m] / (double)ds->n;
}

typedef struct epoch_rec {
    double lr, loss[NETS], train[NETS], test[NETS];
} epoch_rec;

static void plot(const ch_options *o, const epoch_rec *rec, int epochs, const float *lr,
                 size_t steps, const double rate[2])
{
    FILE *g = ch_plot_begin(o, "dropout.png", 720, 600);
    if (!g)
        return;
    const epoch_rec *f = &rec[epochs - 1];
    fprintf(g, "$a << EOD\n");
    for (int e = 0; e < epochs; e++)
        fprintf(g, "%d %.6f %.6f %.6f %.6f\n", e + 1, rec[e].train[0], rec[e].test[0],
                rec[e].train[1], rec[e].test[1]);
    fprintf(g, "EOD\n$s << EOD\n");
    for (size_t t = 0; t < steps * (size_t)epochs; t++)
        fprintf(g, "%.5f %.6f\n", (double)t / (double)steps, lr[t]);
    fprintf(g, "EOD\nset multiplot\nset lmargin 10\nset rmargin 3\nset grid\n"
               "set xrange [0:%d]\n%s"
               "set origin 0,0.3\nset size 1,0.7\nset bmargin 1\nset format x ''\n"
               "set title '%d-%d-%d-%d MLP on Fashion-MNIST, SGD, batch %d: accuracy without dropout at evaluation'\n"
               "set ylabel 'accuracy'\nset key bottom right\n"
               "plot $a using 1:2 with linespoints pt 7 lw 2 lc 1 title 'dropout %g, %g: training %.3f', \\\n"
               "     $a using 1:3 with linespoints pt 7 lw 2 lc 1 dt 2 title 'dropout %g, %g: test %.3f (gap %.3f)', \\\n"
               "     $a using 1:4 with linespoints pt 5 lw 2 lc 2 title 'no dropout: training %.3f', \\\n"
               "     $a using 1:5 with linespoints pt 5 lw 2 lc 2 dt 2 title 'no dropout: test %.3f (gap %.3f)'\n",
            epochs, epochs <= 20 ? "set xtics 1\n" : "", D, H, H, Q, BATCH, rate[0], rate[1],
            f->train[0], rate[0], rate[1], f->test[0], f->train[0] - f->test[0], f->train[1],
            f->test[1], f->train[1] - f->test[1]);
    fprintf(g, "set origin 0,0\nset size 1,0.3\nset bmargin 3\nset tmargin 1\nunset title\n"
               "set format x '%%g'\nset xlabel 'epoch'\nset ylabel 'learning rate'\n"
               "set yrange [0:*]\nunset key\n"
               "plot $s using 1:2 with lines lw 2 lc rgb '#444444'\nunset multiplot\n");
    ch_plot_end(o, g, "dropout.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "dropout",
                     .about = "Dropout: a 784-256-256-10 MLP trained with and without dropout, "
                              "the learning rate warmed up and decayed "
                              "(samples/chapter/dropout.nn).",
                     .accepts = CH_OPT_SEED | CH_OPT_DATA | CH_OPT_EPOCHS, .seed = 42,
                     .data = "/usr/share/datasets/fashion-mnist", .epochs = 10 };
    ch_parse(argc, argv, &o);
    if (o.epochs < 2) {
        fprintf(stderr, "%s: --epochs: the schedule needs at least 2 (a warm-up, then a decay)\n",
                o.prog);
        return 2;
    }

    nnrt_dataset train, test;
    ch_load_data(&o, D, Q, &train, &test);
    if (train.n_classes > Q || test.n_classes > Q)
        support_die(o.prog, "the data has more than %d classes", Q);

    dropout_params *p[NETS], *p0 = ch_alloc(sizeof *p0);
    dropout_state *st[NETS];
    dropout_inputs *in = ch_alloc(sizeof *in);
    dropout_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(dropout_model.workspace_size);
    size_t steps = (train.n + BATCH - 1) / BATCH, total = steps * (size_t)o.epochs;
    uint32_t *perm = malloc(train.n * sizeof *perm);
    float *lr = malloc(total * sizeof *lr);      /* the lr each step ran with */
    epoch_rec *rec = calloc((size_t)o.epochs, sizeof *rec);
    if (!perm || !lr || !rec)
        support_die(o.prog, "out of memory");
    for (int m = 0; m < NETS; m++) {
        p[m] = ch_alloc(sizeof *p[m]);
        st[m] = ch_alloc(sizeof *st[m]);
        dropout_init(p[m], st[m], o.seed);
    }
    memcpy(p0, p[0], sizeof *p0);
    dropout_set_defaults(in);
    /* The model's defaults are the book's: the peak lr and the rates. */
    const double peak = in->lr, rate[NETS][2] = { { in->p1, in->p2 }, { 0, 0 } };

    printf("Dropout: %d-%d-%d-%d MLP, %s, %zu training examples, batch %d, SGD, seed %llu\n"
           "  lr: linear warm-up from 0 to %g over epoch 1, cosine decay to 0 by epoch %d\n"
           "  dropout %g after hidden layer 1 and %g after layer 2, against none\n"
           "  loss: train_step's (with dropout); accuracies: forward's (without); "
           "gap = training - test\n"
           "each pair: with dropout, without\n",
           D, H, H, Q, o.quick ? "synthetic data" : "Fashion-MNIST", train.n, BATCH,
           (unsigned long long)o.seed, peak, o.epochs, rate[0][0], rate[0][1]);
    int finite = 1, frozen = 0;
    double first[NETS] = { 0 }, t_start = ch_now();
    for (int e = 0; e < o.epochs; e++) {
        double t0 = ch_now(), sum[NETS] = { 0 };
        nnrt_shuffle(perm, train.n, o.seed, (uint64_t)e + 1);
        /* Batches of BATCH in the epoch's order, the last one short; the
         * losses are means over the examples (a batch's weighted by its rows). */
        for (size_t s = 0; s < steps; s++) {
            size_t t = (size_t)e * steps + s;
            size_t real = nnrt_dataset_batch(&train, perm, s * BATCH, BATCH, &in->x[0][0], in->y);
            in->batch = (int64_t)real;
            in->lr = (float)schedule(peak, t, steps, total);
            lr[t] = in->lr;
            for (int m = 0; m < NETS; m++) {
                in->p1 = (float)rate[m][0];
                in->p2 = (float)rate[m][1];
                int rc = dropout_train_step(p[m], st[m], in, out, ws);
                if (rc)
                    support_die(o.prog, "train step: %s", nnrt_strerror(rc));
                finite &= isfinite(out->L);
                sum[m] += (double)out->L * (double)real;
                if (t == 0)
                    first[m] = out->L;
            }
            /* The first step runs at lr 0: the params must not move, or the
             * hyper does not reach the optimizer. */
            if (t == 0)
                frozen = !memcmp(p[0], p0, sizeof *p0) && !memcmp(p[1], p0, sizeof *p0);
        }
        epoch_rec *r = &rec[e];
        r->lr = schedule(peak, (size_t)(e + 1) * steps, steps, total);
        for (int m = 0; m < NETS; m++)
            r->loss[m] = sum[m] / (double)train.n;
        evaluate(&o, p, st, in, out, ws, &train, r->train);
        evaluate(&o, p, st, in, out, ws, &test, r->test);
        printf("epoch %2d  lr %.4f  loss %.4f %.4f   train acc %.4f %.4f   test acc %.4f %.4f"
               "   gap %+.4f %+.4f   (%.1f s)\n", e + 1, r->lr, r->loss[0], r->loss[1],
               r->train[0], r->train[1], r->test[0], r->test[1], r->train[0] - r->test[0],
               r->train[1] - r->test[1], ch_now() - t0);
    }
    const epoch_rec *f = &rec[o.epochs - 1];
    double gap[NETS];
    printf("after %d epochs (%.0f s):  training acc  test acc  gap\n", o.epochs, ch_now() - t_start);
    for (int m = 0; m < NETS; m++) {
        gap[m] = f->train[m] - f->test[m];
        printf("  %-24s %.4f      %.4f    %+.4f\n", name[m], f->train[m], f->test[m], gap[m]);
    }
    printf("dropout %s the gap between training and test accuracy by %.4f\n",
           gap[0] < gap[1] ? "narrowed" : "did NOT narrow", fabs(gap[1] - gap[0]));

    plot(&o, rec, o.epochs, lr, steps, rate[0]);

    int learned = f->loss[0] < first[0] && f->loss[1] < first[1];
    int followed = frozen && schedule_followed(lr, peak, steps, total);
    int ok = finite && learned && followed;
    printf("%s: every loss %s finite, both networks %s (loss %.4f to %.4f, %.4f to %.4f), "
           "the lr %s the schedule\n", ok ? "ok" : "FAILED", finite ? "stayed" : "did NOT stay",
           learned ? "learned" : "did NOT both learn", first[0], f->loss[0], first[1],
           f->loss[1], followed ? "followed" : "did NOT follow");
    nnrt_dataset_free(&train);
    nnrt_dataset_free(&test);
    for (int m = 0; m < NETS; m++)
        nnrt_free(p[m]), nnrt_free(st[m]);
    nnrt_free(p0), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    free(perm);
    free(lr);
    free(rec);
    return ok ? 0 : 1;
}
