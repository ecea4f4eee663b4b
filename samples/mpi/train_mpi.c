/*
 * train_mpi.c: the Fashion-MNIST demo (samples/fashion_mnist.nn) trained
 * data-parallel over MPI with libnnrt_mpi; docs/mpi.md is the user's guide.
 *
 *   mpirun -np 2 --oversubscribe ./train_mpi [options]
 *
 * Every rank loads the data set and computes the same permutation of it
 * each epoch (nnrt_shuffle(seed, epoch)); each global batch of --batch
 * examples is cut into P contiguous shards, one per rank, which each rank
 * copies with nnrt_dataset_batch.  A step is backward on the shard,
 * nnrt_mpi_allreduce_mean of the gradients, update.  A shard of n_r rows
 * out of a batch of n has its gradient scaled by P * n_r / n first, so the
 * mean over the ranks is the whole batch's mean gradient even when P does
 * not divide n (the last batch of an epoch, say): the run follows the same
 * trajectory, up to rounding, for any number of ranks.
 *
 * Rank 0 initializes the params or loads the checkpoint, and
 * nnrt_mpi_broadcast gives them to every rank; rank 0 alone prints and
 * writes the checkpoint after each epoch (nnrt_save: atomic).  The
 * checkpoint's step counter tells the epoch to resume from (steps per epoch
 * are fixed by the data, --limit and --batch, not by the ranks), so a run
 * resumes on any number of ranks.  The test accuracy is counted over the
 * ranks' shards of the test set and summed.
 */
#define _DEFAULT_SOURCE           /* getopt_long */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>
#include <nnrt_mpi.h>

#include "fashion_mnist.h"
#include "support.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

static const char *prog = "train_mpi";
static int rank, ranks;

/* An error every rank meets alike (options, a checkpoint rank 0 refused):
 * rank 0 says it, every rank stops. */
__attribute__((noreturn, format(printf, 2, 3)))
static void stop(int status, const char *fmt, ...)
{
    if (rank == 0) {
        va_list ap;
        va_start(ap, fmt);
        fflush(stdout);
        fprintf(stderr, "%s: ", prog);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    MPI_Finalize();
    exit(status);
}

/* An error of this rank alone: the others may be waiting in a collective. */
__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: rank %d: ", prog, rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static void *xalloc(size_t size)
{
    void *p = nnrt_alloc(size);
    if (!p)
        die("out of memory (%zu bytes)", size);
    return p;
}

typedef struct options {
    int epochs;
    size_t batch, limit;
    double lr;                /* NAN: the model's default */
    unsigned long long seed;
    const char *data, *save;
    int resume;
} options;

static const char usage_text[] =
"usage: mpirun -np P %s [options]\n"
"Train the Fashion-MNIST MLP on P ranks; see docs/mpi.md.\n"
"\n"
"  --epochs N     train until epoch N, counting resumed ones (default 10)\n"
"  --batch N      the global batch, cut into P shards (default 256)\n"
"  --lr X         learning rate (default: the model's, 0.1)\n"
"  --seed N       seed of the initial params and of the shuffling (default 42)\n"
"  --data DIR     the IDX files (default " DEFAULT_DATA ")\n"
"  --save FILE    rank 0's checkpoint after each epoch (default fashion_mnist_mpi.ckpt)\n"
"  --resume       continue from --save FILE, on any number of ranks\n"
"  --limit N      train on the first N training examples only\n"
"  --help         print this help\n";

/* A number in [lo, hi] (whole: an integer), or a usage error. */
static double number(const char *opt, const char *s, double lo, double hi, int whole)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi) || (whole && v != floor(v)))
        stop(2, "%s: expected %s from %.17g to %.17g, got '%s' (--help lists the options)", opt,
             whole ? "an integer" : "a number", lo, hi, s);
    return v;
}

static void parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"epochs", required_argument, NULL, 'e'}, {"batch", required_argument, NULL, 'b'},
        {"lr", required_argument, NULL, 'l'},     {"seed", required_argument, NULL, 's'},
        {"data", required_argument, NULL, 'd'},   {"save", required_argument, NULL, 'o'},
        {"resume", no_argument, NULL, 'r'},       {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    *o = (options){10, 256, 0, NAN, 42, DEFAULT_DATA, "fashion_mnist_mpi.ckpt", 0};
    const size_t max_batch = (size_t)ranks * (sizeof ((fashion_mnist_inputs *)0)->y / sizeof(int32_t));
    opterr = rank == 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'e': o->epochs = (int)number("--epochs", optarg, 0, 10000, 1); break;
        case 'b': o->batch = (size_t)number("--batch", optarg, ranks, (double)max_batch, 1); break;
        case 'l': o->lr = number("--lr", optarg, 0, 1e6, 0); break;
        case 's': o->seed = (unsigned long long)number("--seed", optarg, 0, 9007199254740992.0, 1); break;
        case 'd': o->data = optarg; break;
        case 'o': o->save = optarg; break;
        case 'r': o->resume = 1; break;
        case 'n': o->limit = (size_t)number("--limit", optarg, 1, 4294967295.0, 1); break;
        case 'h':
            if (rank == 0)
                printf(usage_text, prog);
            MPI_Finalize();
            exit(0);
        default: stop(2, "(--help lists the options)");
        }
    }
    if (optind < argc)
        stop(2, "unexpected argument '%s'", argv[optind]);
    if (!*o->save)
        stop(2, "--save: expected a file name");
}

static void load_set(const char *dir, const char *images, const char *labels, nnrt_dataset *ds)
{
    char *ip = support_data_file(prog, dir, images);
    char *lp = ip ? support_data_file(prog, dir, labels) : NULL;
    char err[512];
    if (!lp)
        stop(1, "no data set in %s", dir);
    if (nnrt_dataset_load(ip, lp, ds, err, sizeof err))
        stop(1, "%s", err);
    if (ds->dim != 784 || ds->n_classes > 10)
        stop(1, "%s: not Fashion-MNIST (examples of %zu values, labels up to %d)", ip, ds->dim,
             (int)ds->n_classes - 1);
    free(ip);
    free(lp);
}

/* This rank's rows [*first, *first + return) of a batch of n rows starting
 * at start: P contiguous shards, sizes differing by at most one. */
static size_t shard(size_t start, size_t n, size_t *first)
{
    size_t lo = n * (size_t)rank / (size_t)ranks, hi = n * (size_t)(rank + 1) / (size_t)ranks;
    *first = start + lo;
    return hi - lo;
}

/* g *= f: a shard's gradient weighted by its share of the batch (see the
 * top of the file). */
static void scale_grads(fashion_mnist_params *g, float f)
{
    const nnrt_model *m = &fashion_mnist_model;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        float *x = (float *)((char *)g + t->offset);
        for (size_t k = 0; t->role == NNRT_PARAM && k < t->size / sizeof(float); k++)
            x[k] *= f;
    }
}

/* The fraction of ds that p classifies right: each rank counts its shard. */
static double eval_accuracy(const fashion_mnist_params *p, const fashion_mnist_state *st,
                            fashion_mnist_inputs *in, fashion_mnist_outputs *out, void *ws,
                            const nnrt_dataset *ds)
{
    const size_t max = sizeof in->y / sizeof in->y[0];
    size_t first, mine = shard(0, ds->n, &first);
    long long right = 0, all = 0;
    for (size_t s = first; s < first + mine; s += max) {
        size_t rows = first + mine - s < max ? first + mine - s : max;
        nnrt_dataset_batch(ds, NULL, s, rows, &in->x[0][0], in->y);
        in->batch = (int64_t)rows;
        int rc = fashion_mnist_forward(p, st, in, out, ws);
        if (rc)
            die("evaluating the test set: %s", nnrt_strerror(rc));
        for (size_t k = 0; k < rows; k++)
            right += out->pred[k] == in->y[k];
    }
    MPI_Allreduce(&right, &all, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return ds->n ? (double)all / (double)ds->n : 0.0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    /* the ranks on this machine share its cores */
    nnrt_mpi_share_threads(MPI_COMM_WORLD);
    options opt;
    parse_options(argc, argv, &opt);

    const nnrt_model *model = &fashion_mnist_model;
    fashion_mnist_params *p = xalloc(sizeof *p), *g = xalloc(sizeof *g);
    fashion_mnist_state *st = xalloc(sizeof *st);
    fashion_mnist_inputs *in = xalloc(sizeof *in);
    fashion_mnist_outputs *out = xalloc(sizeof *out);
    void *ws = xalloc(model->workspace_size);
    fashion_mnist_set_defaults(in);
    if (!isnan(opt.lr))
        in->lr = (float)opt.lr;

    nnrt_dataset train, test;
    load_set(opt.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", &train);
    load_set(opt.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", &test);
    if (opt.limit && opt.limit < train.n)
        train.n = opt.limit;    /* the first N; nnrt_dataset_free does not read n */
    const uint64_t steps = (train.n + opt.batch - 1) / opt.batch;

    /* Rank 0's params and state, fresh or resumed, to every rank. */
    char err[512] = "";
    int rc = 0;
    if (rank == 0) {
        if (opt.resume)
            rc = nnrt_load_ex(opt.save, model, p, st, err, sizeof err);
        else
            fashion_mnist_init(p, st, opt.seed);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc)
        stop(1, "cannot resume: %s", err);
    rc = nnrt_mpi_broadcast_ex(model, p, st, 0, MPI_COMM_WORLD, err, sizeof err);
    if (rc)
        die("%s", err);
    if (st->step % steps)
        stop(1, "cannot resume: %s is at step %llu, not at the end of an epoch of %llu steps "
             "(another --batch or --limit?)", opt.save, (unsigned long long)st->step,
             (unsigned long long)steps);
    int start = (int)(st->step / steps);
    if (rank == 0) {
        printf("%s: %d rank%s, %zu training examples, %zu test; global batch %zu (%zu per rank): "
               "%llu steps per epoch\nlr %g, seed %llu\n", model->name, ranks, ranks == 1 ? "" : "s",
               train.n, test.n, opt.batch, opt.batch / (size_t)ranks, (unsigned long long)steps,
               in->lr, opt.seed);
        if (opt.resume)
            printf("resuming from %s after epoch %d\n", opt.save, start);
    }

    uint32_t *perm = malloc(train.n * sizeof *perm);
    if (!perm)
        die("out of memory");
    double test_acc = NAN;
    for (int epoch = start + 1; epoch <= opt.epochs; epoch++) {
        nnrt_shuffle(perm, train.n, opt.seed, (uint64_t)epoch);
        double t0 = MPI_Wtime(), sums[3] = {0, 0, 0}, all[3];    /* loss, accuracy, rows */
        for (size_t s = 0, step = 1; s < train.n; s += opt.batch, step++) {
            size_t n = train.n - s < opt.batch ? train.n - s : opt.batch, first;
            size_t rows = shard(s, n, &first);
            if (rows) {
                nnrt_dataset_batch(&train, perm, first, rows, &in->x[0][0], in->y);
                in->batch = (int64_t)rows;
                if ((rc = fashion_mnist_backward(p, st, in, out, g, ws)))
                    die("epoch %d, step %zu: %s", epoch, step, nnrt_strerror(rc));
                sums[0] += (double)out->L * (double)rows;
                sums[1] += (double)out->acc * (double)rows;
                sums[2] += (double)rows;
            }
            if (rows * (size_t)ranks != n)
                scale_grads(g, rows ? (float)((double)(rows * (size_t)ranks) / (double)n) : 0.0f);
            if ((rc = nnrt_mpi_allreduce_mean_ex(model, g, MPI_COMM_WORLD, err, sizeof err)))
                die("epoch %d, step %zu: %s", epoch, step, err);
            fashion_mnist_update(p, st, g, in);
        }
        double secs = MPI_Wtime() - t0;
        MPI_Reduce(sums, all, 3, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        test_acc = eval_accuracy(p, st, in, out, ws, &test);
        if (rank == 0) {
            printf("epoch %2d  loss %.4f  train acc %.4f  test acc %.4f  %6.2f s  %6.0f ex/s\n",
                   epoch, all[0] / all[2], all[1] / all[2], test_acc, secs, all[2] / secs);
            fflush(stdout);
            if (nnrt_save_ex(opt.save, model, p, st, err, sizeof err))
                die("%s", err);
        }
    }
    if (start >= opt.epochs)
        test_acc = eval_accuracy(p, st, in, out, ws, &test);
    if (rank == 0)
        printf("final test accuracy: %.4f\n", test_acc);

    free(perm);
    nnrt_dataset_free(&train);
    nnrt_dataset_free(&test);
    void *blocks[] = {p, g, st, in, out, ws};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        nnrt_free(blocks[i]);
    MPI_Finalize();
    return 0;
}
