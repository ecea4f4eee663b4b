/*
 * common.h: what the chapter's five samples share (samples/chapter/, see
 * docs/gallery.md): the command line, random data drawn with the runtime's
 * Philox generator, Fashion-MNIST, and plots drawn by gnuplot through a
 * pipe.  Each sample is one .nn model (or two) and one C driver; this file
 * keeps the drivers about their subject.
 */
#ifndef CHAPTER_COMMON_H
#define CHAPTER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nnrt.h>

#include "../support.h"   /* support_die */

/* The options every sample takes (those in ch_options.accepts). */
enum {
    CH_OPT_SEED = 1,          /* --seed N */
    CH_OPT_DATA = 2,          /* --data DIR (Fashion-MNIST) */
    CH_OPT_EPOCHS = 4,        /* --epochs N */
    CH_OPT_SEEDS = 8,         /* --seeds N: repeat over seeds 1..N, or N from --seed's on */
};

typedef struct ch_options {
    const char *prog, *about; /* for messages and --help */
    unsigned accepts;         /* CH_OPT_* beyond --quick, --out, --no-plot */
    int quick;                /* --quick: the reduced variant make check runs */
    const char *out;          /* --out DIR: where the PNGs go (default ".") */
    int plot;                 /* 0 with --no-plot, and with --quick */
    uint64_t seed;
    const char *data;
    int epochs, seeds;
} ch_options;

/* Fills o from the command line; o's fields hold the sample's defaults.
 * Exits 0 after --help, 2 after a usage error. */
void ch_parse(int argc, char **argv, ch_options *o);

void *ch_alloc(size_t size);  /* nnrt_alloc, or exit with a message */

/* n draws of N(mean, std^2), from the runtime's generator: stream `name`,
 * so that each use has its own reproducible numbers for a seed. */
void ch_normal_f32(float *dst, size_t n, double mean, double std, uint64_t seed, const char *name);
void ch_normal_f64(double *dst, size_t n, double mean, double std, uint64_t seed, const char *name);
/* n uniform integers in [0, k). */
void ch_uniform_int(int32_t *dst, size_t n, int32_t k, uint64_t seed, const char *name);

/* Fashion-MNIST's training and test sets from dir, or exit with the
 * runtime's message and the package to install. */
void ch_fashion_load(const char *prog, const char *dir, nnrt_dataset *train, nnrt_dataset *test);

/* A classification set of n examples in R^d with q classes: each class a
 * Gaussian blob of std `spread` around its own centre drawn N(0, 1),
 * squashed into [0, 1] by a sigmoid so that it looks like pixels.  Free
 * it with nnrt_dataset_free, as a loaded one. */
void ch_blobs(nnrt_dataset *ds, size_t n, size_t d, int q, double spread, uint64_t seed,
              const char *name);

/* The data of a sample that trains on Fashion-MNIST: with --quick, blobs of
 * dim values and `classes` classes (2048 to train, 1024 to test), else the
 * data set in o->data, which must have dim values per example. */
void ch_load_data(const ch_options *o, int dim, int classes, nnrt_dataset *train, nnrt_dataset *test);

/* gnuplot writing OUT/NAME as a PNG of w x h pixels, the terminal already
 * set; NULL (with a note) when plots are off, the name is unsafe, or gnuplot
 * is missing.  Write the script and inline data ($d << EOD ... EOD), then
 * ch_plot_end, which prints where the picture went. */
FILE *ch_plot_begin(const ch_options *o, const char *name, int w, int h);
void ch_plot_end(const ch_options *o, FILE *g, const char *name);

double ch_now(void);          /* seconds, monotonic */

/* The mean of the scalar output `name` over the examples of ts
 * (nnrt_evaluate), or exit with its message. */
double ch_mean_output(const ch_options *o, const nnrt_model *m, const void *params, const void *state,
                      const nnrt_tensorset *ts, const char *name);

#endif
