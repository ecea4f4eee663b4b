/*
 * book.h: what the book's samples share (samples/book/, docs/chapters.md).
 * A sample is a model (NAME.nn) and a driver (NAME.c) that trains it with
 * the book's recipe; this file keeps the drivers about their chapter:
 *
 * - bk_net: a compiled model driven through its descriptor (nnrt_model),
 *   its structs allocated, its tensors found by name;
 * - the data as tensorsets whose columns are named after the model's
 *   inputs: Fashion-MNIST (x, y), or the book's synthetic linear data;
 * - bk_train: the book's training loop (train_ch3 / train_ch6): shuffled
 *   minibatches, a progress bar, a line per epoch, an evaluation after each;
 * - learning-rate schedules, set through the model's `lr` hyper per step;
 * - the book's figure of a run, drawn by gnuplot.
 *
 * The command line, random numbers, Fashion-MNIST's files and the gnuplot
 * pipe are samples/chapter/common.c's.
 */
#ifndef BOOK_H
#define BOOK_H

#include "../chapter/common.h"

/* A model and its structs, allocated by bk_open, freed by bk_close. */
typedef struct bk_net {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *ws;
} bk_net;

/* A sample's command line (common.h): seed 42, the book's epochs, --data
 * with accepts CH_OPT_DATA, --epochs, and --seeds when `seeds` (its
 * default) is above 0; exits after --help or a usage error. */
void bk_parse(int argc, char **argv, ch_options *o, const char *prog, const char *about,
              int epochs, int seeds, unsigned accepts);

/* Allocates the structs, runs init(seed) and set_defaults. */
void bk_open(bk_net *n, const ch_options *o, const nnrt_model *m);
void bk_close(bk_net *n);

/* The f32 tensor `name` of a role (NNRT_PARAM, NNRT_STATE, NNRT_HYPER,
 * NNRT_OUTPUT) in its struct, and in *count its elements (unless NULL);
 * NULL when the model has no such tensor. */
float *bk_find(const bk_net *n, nnrt_role role, const char *name, size_t *count);
/* The same, or exit with a message naming the tensor. */
float *bk_get(const bk_net *n, nnrt_role role, const char *name, size_t *count);

/* Fashion-MNIST (or, with --quick, ch_blobs of 784 values in 10 classes) as
 * tensorsets of columns x and y borrowing the datasets, which the caller
 * frees after the sets (bk_free_data). */
typedef struct bk_data {
    nnrt_dataset train_ds, test_ds;
    nnrt_tensorset train, test;
} bk_data;
void bk_fashion(const ch_options *o, bk_data *d);
void bk_free_data(bk_data *d);

/* The book's synthetic_data: n examples x ~ N(0, 1) in R^d and
 * y = x w + b + N(0, noise^2), drawn from the runtime's generator (streams
 * "NAME x" and "NAME noise" at seed), as the tensorset's columns x and y
 * (copies it owns). */
void bk_linear_data(nnrt_tensorset *ts, size_t n, size_t d, const float *w, float b,
                    double noise, uint64_t seed, const char *name);

/* A learning-rate schedule over `total` steps of `per_epoch` each: a linear
 * warm-up over the first warmup_epochs (from peak/steps to the peak), then
 * constant, a cosine down to 0 at the last step, or a step decay by
 * `factor` every `every` epochs. */
typedef enum { BK_CONSTANT, BK_COSINE, BK_STEP } bk_decay;
typedef struct bk_schedule {
    double peak;
    int warmup_epochs;
    bk_decay decay;
    double factor;
    int every;
} bk_schedule;
double bk_lr(const bk_schedule *s, size_t t, size_t per_epoch, size_t total);

/* What bk_train does, and what it reports. */
typedef struct bk_fit {
    const nnrt_tensorset *train;   /* shuffled every epoch, batches of the batch dim's MAX */
    const nnrt_tensorset *test;    /* evaluated after every epoch, or NULL */
    const char *metric;            /* the output evaluated: "acc", or a loss ("L") */
    int eval_train;                /* also evaluate the metric on the whole training set */
    const bk_schedule *sched;      /* NULL: the lr hyper keeps its value */
    int every;                     /* print every `every` epochs (0: each) */
    const char *label;             /* a prefix of the epoch lines, or NULL */
} bk_fit;
typedef struct bk_epoch {
    double loss, acc;              /* means over the epoch's steps: the objective, "acc" (or NaN) */
    double train, test;            /* the metric evaluated on each set (or NaN) */
    double lr;                     /* at the epoch's last step */
    double secs, eval_secs;        /* training, evaluating */
    size_t steps;                  /* minibatches */
} bk_epoch;

/* Trains for o->epochs epochs as the book's train_ch3/train_ch6 do: each
 * epoch the set in the order nnrt_shuffle(seed, epoch) gives (epochs
 * counted from 1), batches of the batch dim's MAX, the last one short;
 * train_step on each (the lr hyper set from the schedule first); the
 * objective (and an output "acc") averaged over the epoch from the values
 * each step returns; then the metric over the sets by forward.  A progress
 * bar on a terminal, an epoch line each.  Fills hist[0 .. epochs) and
 * returns 1 if every loss was finite and the last epoch's mean loss is
 * below the first step's: what the --quick runs check. */
int bk_train(const ch_options *o, bk_net *n, const bk_fit *f, bk_epoch *hist);

/* The mean seconds of training per epoch. */
double bk_epoch_secs(const bk_epoch *hist, int epochs);

/* The book's figure of a classifier's run (train_ch3's animator): the
 * training loss, the training and test accuracy per epoch; and when a
 * schedule set the lr, its value at every step on a second axis. */
void bk_plot_fit(const ch_options *o, const char *png, const char *title, const bk_epoch *hist,
                 int epochs, const bk_schedule *sched);

/* A classifier on Fashion-MNIST: what its driver says about it. */
typedef struct bk_sample {
    const char *prog, *about;      /* the program's name (and its figure's, PROG.png); --help */
    const nnrt_model *m;
    int epochs;                    /* the book's */
    int seeds;                     /* runs, from --seed's on (0: one) */
    const bk_schedule *sched;      /* NULL: the model's lr throughout */
    const char *title;             /* the figure's */
    void (*report)(const bk_net *n);   /* after training, or NULL */
} bk_sample;

/* The whole program of a classifier's sample: the command line (--quick:
 * 3 epochs on synthetic data, no plot), bk_train for the epochs
 * with the test accuracy after each, the figure and the report of the
 * first seed's run, and the last line `final test accuracy: X`, the mean
 * over the seeds' runs.  Returns the exit status: 1 if bk_train's check
 * failed on any run. */
int bk_main(int argc, char **argv, const bk_sample *s);
#define BK_MAIN(sample) \
    int main(int argc, char **argv) { return bk_main(argc, argv, &(sample)); }

#endif
