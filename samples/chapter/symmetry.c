/*
 * symmetry.c: train samples/chapter/symmetry.nn, two copies of an MLP side
 * by side, one with every weight starting at the same constant and one with
 * Xavier's initialization, on Fashion-MNIST; then print the largest
 * difference between any two hidden units of each (their incoming weights,
 * biases and outgoing weights) and both test accuracies.  The constant
 * network's units are still identical after training, and it learns far
 * less.  symmetry.png shows the loss curves and the incoming weights of a
 * few hidden units of each network as 28x28 images.
 *
 * --quick (make check, with a build of the model with small dims): a
 * synthetic data set instead of Fashion-MNIST and no plot.  Exits 1 unless
 * the constant network's hidden units agree to 1e-6 and the Xavier
 * network's test accuracy is higher.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "symmetry.h"

enum {
    BATCH = sizeof(((symmetry_inputs *)0)->y) / sizeof(int32_t),
    D = sizeof(((symmetry_inputs *)0)->x[0]) / sizeof(float),
    H = sizeof(((symmetry_params *)0)->b1s) / sizeof(float),
    Q = sizeof(((symmetry_params *)0)->b2s) / sizeof(float),
    SHOWN = 3,                /* hidden units drawn per network */
};

typedef struct epoch_rec {
    double loss_s, loss_x, test_s, test_x;
} epoch_rec;

/* The largest difference between hidden units j and 0 over everything that
 * belongs to a unit: its row of W1, its bias, its column of W2. */
static double unit_spread(const float (*w1)[D], const float *b1, const float (*w2)[H])
{
    double m = 0;
    for (int j = 1; j < H; j++) {
        for (int i = 0; i < D; i++)
            m = fmax(m, fabs(w1[j][i] - w1[0][i]));
        m = fmax(m, fabs(b1[j] - b1[0]));
        for (int k = 0; k < Q; k++)
            m = fmax(m, fabs(w2[k][j] - w2[k][0]));
    }
    return m;
}

/* Test accuracy of both networks, every example counted once: batches of
 * BATCH rows, the last one short (in->batch: the rows filled). */
static void evaluate(const ch_options *o, const symmetry_params *p, const symmetry_state *st,
                     symmetry_inputs *in, symmetry_outputs *out, void *ws,
                     const nnrt_dataset *ds, double *acc_s, double *acc_x)
{
    size_t right_s = 0, right_x = 0;
    for (size_t at = 0; at < ds->n; at += BATCH) {
        size_t real = nnrt_dataset_batch(ds, NULL, at, BATCH, &in->x[0][0], in->y);
        in->batch = (int64_t)real;
        int rc = symmetry_forward(p, st, in, out, ws);
        if (rc)
            support_die(o->prog, "forward: %s", nnrt_strerror(rc));
        for (size_t k = 0; k < real; k++) {
            right_s += out->preds[k] == in->y[k];
            right_x += out->predx[k] == in->y[k];
        }
    }
    *acc_s = (double)right_s / (double)ds->n;
    *acc_x = (double)right_x / (double)ds->n;
}

static void print_image(FILE *g, const float *w)
{
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++)
            fprintf(g, "%.5g%c", w[r * 28 + c], c == 27 ? '\n' : ' ');
}

static void plot(const ch_options *o, const epoch_rec *rec, int epochs, const symmetry_params *p)
{
    if (D != 784)
        return;               /* the images are 28x28 */
    FILE *g = ch_plot_begin(o, "symmetry.png", 800, 400);
    if (!g)
        return;
    fprintf(g, "$d << EOD\n");
    for (int e = 0; e < epochs; e++)
        fprintf(g, "%d %.6f %.6f %.6f %.6f\n", e + 1, rec[e].loss_s, rec[e].loss_x,
                rec[e].test_s, rec[e].test_x);
    fprintf(g, "EOD\n");
    for (int u = 0; u < SHOWN; u++) {
        fprintf(g, "$s%d << EOD\n", u);
        print_image(g, p->W1s[u]);
        fprintf(g, "EOD\n$x%d << EOD\n", u);
        print_image(g, p->W1x[u]);
        fprintf(g, "EOD\n");
    }
    fprintf(g, "set multiplot\n"
               "set origin 0,0\nset size 0.48,1\n"
               "set title 'Training loss'\nset xlabel 'epoch'\nset grid\n"
               "set key top right\nset xrange [0.5:%d.5]\nset yrange [0:*]\n%s"
               "plot $d using 1:2 with linespoints pt 7 lw 2 title 'all weights 0.01: test acc %.3f', \\\n"
               "     $d using 1:3 with linespoints pt 5 lw 2 title 'Xavier: test acc %.3f'\n",
            epochs, epochs <= 20 ? "set xtics 1\n" : "", rec[epochs - 1].test_s,
            rec[epochs - 1].test_x);
    fprintf(g, "unset grid\nunset key\nunset tics\nunset xlabel\nunset colorbox\n"
               "set lmargin 0\nset rmargin 0\nset tmargin 0\nset bmargin 0\nset size ratio -1\nset palette defined (0 '#2166ac', 1 'white', 2 '#b2182b')\n"
               "set xrange [-0.5:27.5]\nset yrange [27.5:-0.5]\n"
               "set label 1 'Incoming weights of hidden units 1-%d after training' at screen 0.745,0.95 center\n"
               "set label 2 'all weights 0.01 at first: identical' at screen 0.745,0.86 center\n"
               "set label 3 'Xavier: all different' at screen 0.745,0.42 center\n"
               "unset title\n", SHOWN);
    for (int u = 0; u < SHOWN; u++) {
        for (int net = 0; net < 2; net++) {
            const float *w = net ? p->W1x[u] : p->W1s[u];
            double m = 1e-12;
            for (int i = 0; i < D; i++)
                m = fmax(m, fabs(w[i]));
            fprintf(g, "set origin %.3f,%.3f\nset size 0.155,0.31\nset cbrange [%g:%g]\n"
                       "plot $%c%d matrix with image\n",
                    0.5 + 0.165 * u, net ? 0.06 : 0.5, -m, m, net ? 'x' : 's', u);
            if (u == 0 && net == 1)
                fprintf(g, "unset label\n");
        }
    }
    fprintf(g, "unset multiplot\n");
    ch_plot_end(o, g, "symmetry.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "symmetry",
                     .about = "Symmetry: an MLP whose weights all start equal, against Xavier's "
                              "initialization (samples/chapter/symmetry.nn).",
                     .accepts = CH_OPT_SEED | CH_OPT_DATA | CH_OPT_EPOCHS, .seed = 42,
                     .data = "/usr/share/datasets/fashion-mnist", .epochs = 10 };
    ch_parse(argc, argv, &o);

    nnrt_dataset train, test;
    ch_load_data(&o, D, Q, &train, &test);
    if (train.n_classes > Q || test.n_classes > Q)
        support_die(o.prog, "the data has more than %d classes", Q);

    symmetry_params *p = ch_alloc(sizeof *p);
    symmetry_state *st = ch_alloc(sizeof *st);
    symmetry_inputs *in = ch_alloc(sizeof *in);
    symmetry_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(symmetry_model.workspace_size);
    uint32_t *perm = malloc(train.n * sizeof *perm);
    epoch_rec *rec = calloc((size_t)o.epochs, sizeof *rec);
    if (!perm || !rec)
        support_die(o.prog, "out of memory");
    symmetry_init(p, st, o.seed);
    symmetry_set_defaults(in);

    printf("Symmetry: %d-%d-%d MLP, %s, %zu training examples, batch %d, SGD lr %g, seed %llu\n"
           "  s: every weight starts at 0.01     x: Xavier's initialization\n"
           "at initialization, the largest difference between hidden units: s %.3g, x %.3g\n",
           D, H, Q, o.quick ? "synthetic data" : "Fashion-MNIST", train.n, BATCH, in->lr,
           (unsigned long long)o.seed, unit_spread(p->W1s, p->b1s, p->W2s),
           unit_spread(p->W1x, p->b1x, p->W2x));
    double acc_s = 0, acc_x = 0;
    for (int e = 0; e < o.epochs; e++) {
        double t0 = ch_now(), ls = 0, lx = 0;
        nnrt_shuffle(perm, train.n, o.seed, (uint64_t)e + 1);
        /* Batches of BATCH in the epoch's order, the last one short; the
         * losses are means over the examples (a batch's weighted by its rows). */
        for (size_t at = 0; at < train.n; at += BATCH) {
            size_t real = nnrt_dataset_batch(&train, perm, at, BATCH, &in->x[0][0], in->y);
            in->batch = (int64_t)real;
            int rc = symmetry_train_step(p, st, in, out, ws);
            if (rc)
                support_die(o.prog, "train step: %s", nnrt_strerror(rc));
            ls += (double)out->Ls * (double)real;
            lx += (double)out->Lx * (double)real;
        }
        evaluate(&o, p, st, in, out, ws, &test, &acc_s, &acc_x);
        rec[e] = (epoch_rec){ ls / (double)train.n, lx / (double)train.n, acc_s, acc_x };
        printf("epoch %2d  loss s %.4f  x %.4f   test acc s %.4f  x %.4f   (%.1f s)\n", e + 1,
               rec[e].loss_s, rec[e].loss_x, acc_s, acc_x, ch_now() - t0);
    }

    double spread_s = unit_spread(p->W1s, p->b1s, p->W2s);
    double spread_x = unit_spread(p->W1x, p->b1x, p->W2x);
    double scale = 0;
    for (int i = 0; i < D; i++)
        scale = fmax(scale, fabs(p->W1s[0][i]));
    printf("after training, the largest difference between two hidden units\n"
           "  (their incoming weights, bias and outgoing weights):\n"
           "  s (constant) %.3g   (the weights themselves reach %.3g)\n"
           "  x (Xavier)   %.3g\n"
           "test accuracy: s %.4f   x %.4f\n", spread_s, scale, spread_x, acc_s, acc_x);

    plot(&o, rec, o.epochs, p);

    int ok = spread_s <= 1e-6 && acc_x > acc_s;
    printf("%s: the constant network's hidden units %s equal to 1e-6 (%.3g) and Xavier's "
           "network %s more (%.4f against %.4f)\n", ok ? "ok" : "FAILED",
           spread_s <= 1e-6 ? "are" : "are NOT", spread_s,
           acc_x > acc_s ? "learned" : "did NOT learn", acc_x, acc_s);
    nnrt_dataset_free(&train);
    nnrt_dataset_free(&test);
    nnrt_free(p), nnrt_free(st), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    free(perm);
    free(rec);
    return ok ? 0 : 1;
}
