/*
 * common.c: the chapter samples' shared helpers (common.h says what each
 * does).  Random numbers come from the runtime's Philox generator through
 * nnrt_init_tensor, so a seed gives the same data on every machine, and
 * each use draws from its own named stream.
 */
#include "common.h"
#include "../support.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *ch_alloc(size_t size)
{
    void *p = nnrt_alloc(size);
    if (!p)
        support_die("chapter", "out of memory (%zu bytes)", size);
    return p;
}

double ch_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- The command line ---- */

static void usage(FILE *f, const ch_options *o)
{
    fprintf(f, "usage: %s [options]\n%s\n\n"
               "  --quick        the reduced variant that make check runs: small, no plot\n"
               "  --out DIR      where the PNG plots go (default: the current folder)\n"
               "  --no-plot      no plot\n", o->prog, o->about);
    if (o->accepts & CH_OPT_SEED)
        fprintf(f, "  --seed N       the seed of the params and the data (default %llu)\n",
                (unsigned long long)o->seed);
    if (o->accepts & CH_OPT_SEEDS)
        fprintf(f, "  --seeds N      %s (default %d)\n", o->accepts & CH_OPT_SEED
                ? "runs from N seeds: --seed's and the N-1 after it" : "repeat over the seeds 1..N",
                o->seeds);
    if (o->accepts & CH_OPT_EPOCHS)
        fprintf(f, "  --epochs N     epochs of training (default %d)\n", o->epochs);
    if (o->accepts & CH_OPT_DATA)
        fprintf(f, "  --data DIR     Fashion-MNIST's IDX files (default %s)\n", o->data);
    fprintf(f, "  --help         this help\n");
}

static void usage_error(const ch_options *o, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s '%s'\n(%s --help lists the options)\n", o->prog, what, arg,
            o->prog);
    exit(2);
}

static long parse_count(const ch_options *o, const char *opt, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > max) {
        char what[64];
        snprintf(what, sizeof what, "%s: expected an integer from 1 to %ld, got", opt, max);
        usage_error(o, what, s);
    }
    return v;
}

void ch_parse(int argc, char **argv, ch_options *o)
{
    static const struct { const char *name; unsigned flag; } valued[] = {
        { "--out", 0 }, { "--seed", CH_OPT_SEED }, { "--data", CH_OPT_DATA },
        { "--epochs", CH_OPT_EPOCHS }, { "--seeds", CH_OPT_SEEDS },
    };
    setvbuf(stdout, NULL, _IOLBF, 0);    /* progress shows through make and pipes */
    o->plot = 1;
    if (!o->out)
        o->out = ".";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout, o);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
            continue;
        } else if (!strcmp(a, "--no-plot")) {
            o->plot = 0;
            continue;
        }
        size_t k = 0, nv = sizeof valued / sizeof *valued;
        while (k < nv && !(strcmp(a, valued[k].name) == 0
                           && (valued[k].flag == 0 || (o->accepts & valued[k].flag))))
            k++;
        if (k == nv)
            usage_error(o, "unknown option", a);
        if (i + 1 == argc)
            usage_error(o, "this option needs a value:", a);
        val = argv[++i];
        if (!strcmp(a, "--out")) {
            o->out = val;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (!*val || *end || errno || val[0] == '-')
                usage_error(o, "--seed: expected a non-negative integer, got", val);
            o->seed = s;
        } else if (!strcmp(a, "--data")) {
            o->data = val;
        } else if (!strcmp(a, "--epochs")) {
            o->epochs = (int)parse_count(o, a, val, 1000);
        } else if (!strcmp(a, "--seeds")) {
            o->seeds = (int)parse_count(o, a, val, 1000);
        }
    }
    if (o->quick)
        o->plot = 0;
}

/* ---- Random data ---- */

void ch_normal_f32(float *dst, size_t n, double mean, double std, uint64_t seed, const char *name)
{
    int64_t dim = (int64_t)n;
    if (nnrt_init_tensor(NNRT_F32, dst, 1, &dim, NNRT_INIT_NORMAL, mean, std, seed,
                         nnrt_stream_id(name)))
        support_die("chapter", "cannot draw %zu normals for %s", n, name);
}

void ch_normal_f64(double *dst, size_t n, double mean, double std, uint64_t seed, const char *name)
{
    int64_t dim = (int64_t)n;
    if (nnrt_init_tensor(NNRT_F64, dst, 1, &dim, NNRT_INIT_NORMAL, mean, std, seed,
                         nnrt_stream_id(name)))
        support_die("chapter", "cannot draw %zu normals for %s", n, name);
}

void ch_uniform_int(int32_t *dst, size_t n, int32_t k, uint64_t seed, const char *name)
{
    double *u = malloc((n ? n : 1) * sizeof *u);
    int64_t dim = (int64_t)n;
    if (!u || nnrt_init_tensor(NNRT_F64, u, 1, &dim, NNRT_INIT_UNIFORM, 0, 1, seed,
                               nnrt_stream_id(name)))
        support_die("chapter", "cannot draw %zu integers for %s", n, name);
    for (size_t i = 0; i < n; i++) {
        int32_t v = (int32_t)(u[i] * k);       /* u in (0, 1): v in [0, k) */
        dst[i] = v < k ? v : k - 1;
    }
    free(u);
}

void ch_blobs(nnrt_dataset *ds, size_t n, size_t d, int q, double spread, uint64_t seed,
              const char *name)
{
    char stream[128];
    float *centre = malloc((size_t)q * d * sizeof *centre);
    *ds = (nnrt_dataset){ .n = n, .dim = d, .rank = 1, .dims = { (int64_t)d }, .n_classes = q };
    ds->x = ch_alloc(n * d * sizeof *ds->x);
    ds->y = ch_alloc(n * sizeof *ds->y);
    if (!centre)
        support_die("chapter", "out of memory");
    /* The centres depend on the seed only, so that a training and a test set
     * drawn with the same seed and different names share their classes. */
    ch_normal_f32(centre, (size_t)q * d, 0, 1, seed, "blob centres");
    snprintf(stream, sizeof stream, "%s labels", name);
    ch_uniform_int(ds->y, n, q, seed, stream);
    snprintf(stream, sizeof stream, "%s noise", name);
    ch_normal_f32(ds->x, n * d, 0, spread, seed, stream);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            float *v = &ds->x[i * d + j];
            *v = 1.0f / (1.0f + expf(-(centre[(size_t)ds->y[i] * d + j] + *v)));
        }
    free(centre);
}

/* ---- Fashion-MNIST ---- */

static void load_pair(const char *prog, const char *dir, const char *images,
                      const char *labels, nnrt_dataset *ds)
{
    char ip[4096], lp[4096], err[512];
    snprintf(ip, sizeof ip, "%s/%s.gz", dir, images);
    if (access(ip, F_OK) != 0)
        snprintf(ip, sizeof ip, "%s/%s", dir, images);
    snprintf(lp, sizeof lp, "%s/%s.gz", dir, labels);
    if (access(lp, F_OK) != 0)
        snprintf(lp, sizeof lp, "%s/%s", dir, labels);
    if (access(ip, F_OK) != 0 || access(lp, F_OK) != 0)
        support_die(prog, "no Fashion-MNIST in %s (%s[.gz] or %s[.gz] is missing);\n"
                     "  install it with:  apt-get install dataset-fashion-mnist\n"
                     "  or point --data at a folder of the four IDX files", dir, images, labels);
    if (nnrt_dataset_load(ip, lp, ds, err, sizeof err))
        support_die(prog, "%s", err);
    if (ds->dim != 784 || ds->n_classes > 10)
        support_die(prog, "%s: expected 28x28 images in 10 classes", ip);
}

void ch_fashion_load(const char *prog, const char *dir, nnrt_dataset *train, nnrt_dataset *test)
{
    load_pair(prog, dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train);
    load_pair(prog, dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test);
}

/* ---- Plots ---- */

static void (*saved_sigpipe)(int);

FILE *ch_plot_begin(const ch_options *o, const char *name, int w, int h)
{
    char path[4096];
    if (!o->plot)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", o->out, name);
    if (!plot_safe_name(path)) {
        fprintf(stderr, "%s: note: no plot: --out takes a folder name of letters, digits and "
                        "._-/+,=@ (got '%s')\n", o->prog, o->out);
        return NULL;
    }
    if (!plot_have_gnuplot()) {
        printf("note: gnuplot is not installed, no plot %s (apt-get install gnuplot-nox)\n",
               name);
        return NULL;
    }
    fflush(stdout);
    saved_sigpipe = signal(SIGPIPE, SIG_IGN);      /* a dying gnuplot must not kill us */
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        fprintf(stderr, "%s: note: cannot run gnuplot: %s\n", o->prog, strerror(errno));
        signal(SIGPIPE, saved_sigpipe);
        return NULL;
    }
    fprintf(g, "set encoding utf8\nset terminal pngcairo size %d,%d font ',10'\n"
               "set output '%s'\n", w, h, path);
    return g;
}

void ch_plot_end(const ch_options *o, FILE *g, const char *name)
{
    if (!g)
        return;
    int st = pclose(g);
    signal(SIGPIPE, saved_sigpipe);
    if (st != 0)
        fprintf(stderr, "%s: note: gnuplot failed (status %d); %s may be missing\n", o->prog,
                st, name);
    else
        printf("plot: %s/%s\n", o->out, name);
}

void ch_load_data(const ch_options *o, int dim, int classes, nnrt_dataset *train, nnrt_dataset *test)
{
    if (o->quick) {
        ch_blobs(train, 2048, (size_t)dim, classes, 1.5, o->seed, "train");
        ch_blobs(test, 1024, (size_t)dim, classes, 1.5, o->seed, "test");
        return;
    }
    ch_fashion_load(o->prog, o->data, train, test);
    if (train->dim != (size_t)dim || test->dim != (size_t)dim)
        support_die(o->prog, "the data has %zu values per example, the model takes %d", train->dim, dim);
}

double ch_mean_output(const ch_options *o, const nnrt_model *m, const void *params, const void *state,
                      const nnrt_tensorset *ts, const char *name)
{
    char err[256];
    double v;
    if (nnrt_evaluate(m, params, state, NULL, ts, &name, 1, &v, err, sizeof err))
        support_die(o->prog, "evaluate: %s", err);
    return v;
}
