/*
 * initialization.c: train samples/chapter/initialization.nn, one deeper MLP
 * (784-256-256-256-10) under three initializations side by side on the same
 * minibatches of Fashion-MNIST: the default U[-0.07, 0.07], N(0, 0.01^2)
 * and Xavier.  Prints the loss and test accuracy of each after every epoch,
 * and plots the three loss curves in one picture (initialization.png).
 * With N(0, 0.01^2) the signal shrinks about tenfold at each of the four
 * layers, forward and backward, so that network hardly moves at first.
 *
 * --quick (make check, with a build of the model with small dims): a
 * synthetic data set, no plot; it exits 1 only if a loss is not finite or
 * Xavier's network did not learn.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "initialization.h"

enum {
    BATCH = sizeof(((initialization_inputs *)0)->y) / sizeof(int32_t),
    D = sizeof(((initialization_inputs *)0)->x[0]) / sizeof(float),
    H = sizeof(((initialization_params *)0)->b1d) / sizeof(float),
    Q = sizeof(((initialization_params *)0)->b4d) / sizeof(float),
    NETS = 3,
    POINTS_PER_EPOCH = 10,    /* loss curve resolution */
};

static const char *const name[NETS] = { "default U[-0.07, 0.07]", "N(0, 0.01^2)", "Xavier" };
static const char *const label[NETS] = { "default U[-0.07, 0.07]", "N(0, 0.01²)", "Xavier" };

static void losses(const initialization_outputs *out, double l[NETS])
{
    l[0] = out->Ld, l[1] = out->Ln, l[2] = out->Lx;
}

/* Test accuracy of the three networks, every example counted once:
 * batches of BATCH rows, the last one short (in->batch: the rows filled). */
static void evaluate(const ch_options *o, const initialization_params *p,
                     const initialization_state *st, initialization_inputs *in,
                     initialization_outputs *out, void *ws, const nnrt_dataset *ds,
                     double acc[NETS])
{
    size_t right[NETS] = { 0 };
    for (size_t at = 0; at < ds->n; at += BATCH) {
        size_t real = nnrt_dataset_batch(ds, NULL, at, BATCH, &in->x[0][0], in->y);
        in->batch = (int64_t)real;
        int rc = initialization_forward(p, st, in, out, ws);
        if (rc)
            support_die(o->prog, "forward: %s", nnrt_strerror(rc));
        for (size_t k = 0; k < real; k++) {
            right[0] += out->predd[k] == in->y[k];
            right[1] += out->predn[k] == in->y[k];
            right[2] += out->predx[k] == in->y[k];
        }
    }
    for (int m = 0; m < NETS; m++)
        acc[m] = (double)right[m] / (double)ds->n;
}

typedef struct point {
    double epoch, loss[NETS];
} point;

static void plot(const ch_options *o, const point *pt, int n, int epochs, const double acc[NETS])
{
    FILE *g = ch_plot_begin(o, "initialization.png", 640, 400);
    if (!g)
        return;
    fprintf(g, "set title '%d-%d-%d-%d-%d MLP on Fashion-MNIST, SGD lr 0.1, batch %d'\n"
               "set xlabel 'epoch'\nset ylabel 'training loss'\nset grid\n"
               "set key top right\nset xrange [0:%d]\nset yrange [0:2.5]\n$d << EOD\n",
            D, H, H, H, Q, BATCH, epochs);
    for (int i = 0; i < n; i++)
        fprintf(g, "%.4f %.6f %.6f %.6f\n", pt[i].epoch, pt[i].loss[0], pt[i].loss[1],
                pt[i].loss[2]);
    fprintf(g, "EOD\nplot ");
    for (int m = 0; m < NETS; m++)
        fprintf(g, "%s$d using 1:%d with lines lw 2 title '%s: test acc %.3f'", m ? ", \\\n     " : "",
                m + 2, label[m], acc[m]);
    fprintf(g, "\n");
    ch_plot_end(o, g, "initialization.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "initialization",
                     .about = "Initialization: a 784-256-256-256-10 MLP with the default, "
                              "N(0, 0.01^2) and Xavier initializations "
                              "(samples/chapter/initialization.nn).",
                     .accepts = CH_OPT_SEED | CH_OPT_DATA | CH_OPT_EPOCHS, .seed = 42,
                     .data = "/usr/share/datasets/fashion-mnist", .epochs = 5 };
    ch_parse(argc, argv, &o);

    nnrt_dataset train, test;
    ch_load_data(&o, D, Q, &train, &test);
    if (train.n_classes > Q || test.n_classes > Q)
        support_die(o.prog, "the data has more than %d classes", Q);

    initialization_params *p = ch_alloc(sizeof *p);
    initialization_state *st = ch_alloc(sizeof *st);
    initialization_inputs *in = ch_alloc(sizeof *in);
    initialization_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(initialization_model.workspace_size);
    size_t steps = (train.n + BATCH - 1) / BATCH;
    uint32_t *perm = malloc(train.n * sizeof *perm);
    point *pt = calloc((size_t)o.epochs * (POINTS_PER_EPOCH + 1), sizeof *pt);
    if (!perm || !pt)
        support_die(o.prog, "out of memory");
    initialization_init(p, st, o.seed);
    initialization_set_defaults(in);

    printf("Initialization: %d-%d-%d-%d-%d MLP, %s, %zu training examples, batch %d, "
           "SGD lr %g, seed %llu\n", D, H, H, H, Q, o.quick ? "synthetic data" : "Fashion-MNIST",
           train.n, BATCH, in->lr, (unsigned long long)o.seed);
    printf("         loss: %-24s %-14s %-8s   test accuracy: same order\n", name[0], name[1],
           name[2]);
    int n = 0, finite = 1;
    double acc[NETS] = { 0 }, first[NETS] = { 0 }, last[NETS] = { 0 };
    for (int e = 0; e < o.epochs; e++) {
        double t0 = ch_now(), sum[NETS] = { 0 }, part[NETS] = { 0 }, l[NETS];
        size_t in_part = 0;
        nnrt_shuffle(perm, train.n, o.seed, (uint64_t)e + 1);
        /* Batches of BATCH in the epoch's order, the last one short; losses
         * are means over examples (a batch's weighted by its rows). */
        for (size_t s = 0; s < steps; s++) {
            size_t real = nnrt_dataset_batch(&train, perm, s * BATCH, BATCH, &in->x[0][0], in->y);
            in->batch = (int64_t)real;
            int rc = initialization_train_step(p, st, in, out, ws);
            if (rc)
                support_die(o.prog, "train step: %s", nnrt_strerror(rc));
            losses(out, l);
            for (int m = 0; m < NETS; m++) {
                finite &= isfinite(l[m]);
                sum[m] += l[m] * (double)real;
                part[m] += l[m] * (double)real;
            }
            /* Point k of an epoch: the mean over the examples of its steps
             * [k*steps/P, (k+1)*steps/P). */
            in_part += real;
            if ((s + 1) * POINTS_PER_EPOCH / steps != s * POINTS_PER_EPOCH / steps
                || s + 1 == steps) {
                pt[n].epoch = e + (s + 1.0) / steps;
                for (int m = 0; m < NETS; m++) {
                    pt[n].loss[m] = part[m] / in_part;
                    part[m] = 0;
                }
                if (n == 0)
                    for (int m = 0; m < NETS; m++)
                        first[m] = pt[0].loss[m];
                n++;
                in_part = 0;
            }
        }
        evaluate(&o, p, st, in, out, ws, &test, acc);
        for (int m = 0; m < NETS; m++)
            last[m] = sum[m] / (double)train.n;
        printf("epoch %2d  loss %.4f %.4f %.4f   test acc %.4f %.4f %.4f   (%.1f s)\n", e + 1,
               last[0], last[1], last[2], acc[0], acc[1], acc[2], ch_now() - t0);
    }
    printf("final test accuracy after %d epochs:\n", o.epochs);
    for (int m = 0; m < NETS; m++)
        printf("  %-24s %.4f   (training loss %.4f over the first tenth of epoch 1, %.4f over the last epoch)\n",
               name[m], acc[m], first[m], last[m]);

    plot(&o, pt, n, o.epochs, acc);

    int ok = finite && last[2] < first[2];
    printf("%s: every loss %s finite, and Xavier's network %s (loss %.4f to %.4f)\n",
           ok ? "ok" : "FAILED", finite ? "stayed" : "did NOT stay",
           last[2] < first[2] ? "learned" : "did NOT learn", first[2], last[2]);
    nnrt_dataset_free(&train);
    nnrt_dataset_free(&test);
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    free(perm);
    free(pt);
    return ok ? 0 : 1;
}
