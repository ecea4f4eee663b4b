/*
 * train.c: train samples/fashion_mnist.nn on Fashion-MNIST, the textbook's
 * recipe (784-256-10 MLP, SGD lr 0.1, batch 256, 10 epochs), and evaluate
 * every epoch on the 10,000 test images.  docs/demo.md is the user's guide.
 *
 * The model's batch is a runtime dim (`dim batch <= 256`), so one build,
 * used through its header, does both: every call sets in->batch to the
 * rows it filled, and the model computes on those rows only.
 *
 * Policies (docs/demo.md says why):
 * - The training set is shuffled every epoch by nnrt_shuffle(seed, epoch),
 *   epochs counted from 1, and cut into batches of 256 in that order, the
 *   last one short, as PyTorch's DataLoader(shuffle=True, drop_last=False)
 *   cuts it: 60000 examples are 235 steps, the last of 96 examples.
 *   Training loss and accuracy are their means over the epoch's examples,
 *   from the values each step returns before its update (a batch's means
 *   weighted by its rows), as the textbook's train_epoch_ch3 counts them.
 * - The test accuracy counts every test example exactly once, in batches
 *   of 256, the last one short (16 of the 10,000).
 * - After each epoch the params and the state (seed, step and optimizer
 *   buffers; plain SGD has none) go to --save FILE (nnrt_save: atomic).
 *   The epoch number, the settings and the per-epoch history go to the
 *   side file FILE.meta, also written atomically, which names each
 *   checkpoint it describes by a CRC-32 of the params and state.
 *   It is written before the checkpoint listing both the old and the new
 *   one, and after it listing only the new one, so whichever checkpoint an
 *   interruption leaves, --resume finds its epoch; a checkpoint the side
 *   file does not describe is refused.
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fashion_mnist.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define MAX_EPOCHS 10000
#define META_MAGIC "nnc-train-meta 1"

static const char *prog = "train";

static void *xalloc(size_t size)
{
    void *p = nnrt_alloc(size);
    if (!p)
        support_die(prog, "out of memory (%zu bytes)", size);
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- Options ---- */

typedef struct options {
    int epochs;               /* total, counting those of a resumed run */
    double lr;                /* NAN: the model's default */
    uint64_t seed;
    const char *data, *save, *plot;
    int resume;
    size_t limit;             /* 0: the whole training set */
} options;

static void usage(FILE *f)
{
    fprintf(f,
"usage: %s [options]\n"
"Train the Fashion-MNIST MLP (samples/fashion_mnist.nn); see docs/demo.md.\n"
"\n"
"  --epochs N     train until epoch N, counting resumed ones (default 10)\n"
"  --lr X         learning rate (default: the model's, 0.1)\n"
"  --seed N       seed of the initial params and of the shuffling (default 42)\n"
"  --data DIR     the IDX files (default " DEFAULT_DATA ")\n"
"  --save FILE    checkpoint after each epoch (default fashion_mnist.ckpt;\n"
"                 its epoch and history go to FILE.meta)\n"
"  --resume       continue from --save FILE, at the epoch after its own\n"
"  --plot FILE    the curves as a PNG, when gnuplot is installed\n"
"                 (default fashion_mnist.png; --plot '' for none)\n"
"  --limit N      train on the first N training examples only\n"
"  --help         print this help\n", prog);
}

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(%s --help lists the options)\n", prog);
    exit(2);
}

static unsigned long long parse_uint(const char *opt, const char *s, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: expected an integer from 0 to %llu, got '%%s'", opt, max);
        usage_error(msg, s);
    }
    return v;
}

static void parse_options(int argc, char **argv, options *o)
{
    *o = (options){ .epochs = 10, .lr = NAN, .seed = 42, .data = DEFAULT_DATA,
                    .save = "fashion_mnist.ckpt", .plot = "fashion_mnist.png" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name)
            usage_error("unknown option '%s'", a);
        memcpy(name, a, len);
        name[len] = 0;
        static const char *const with_value[] = { "--epochs", "--lr", "--seed", "--data",
                                                  "--save", "--plot", "--limit" };
        int takes = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            takes |= !strcmp(name, with_value[k]);
        if (takes) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                usage_error("option '%s' needs a value", a);
        } else if (eq) {
            usage_error("option '%s' takes no value", name);
        }
        if (!strcmp(name, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(name, "--resume")) {
            o->resume = 1;
        } else if (!strcmp(name, "--epochs")) {
            o->epochs = (int)parse_uint(name, val, MAX_EPOCHS);
        } else if (!strcmp(name, "--lr")) {
            char *end;
            o->lr = strtod(val, &end);
            if (!*val || *end || !isfinite(o->lr) || o->lr < 0)
                usage_error("--lr: expected a non-negative number, got '%s'", val);
        } else if (!strcmp(name, "--seed")) {
            o->seed = parse_uint(name, val, UINT64_MAX);
        } else if (!strcmp(name, "--data")) {
            o->data = val;
        } else if (!strcmp(name, "--save")) {
            if (!*val)
                usage_error("--save: expected a file name%s", "");
            o->save = val;
        } else if (!strcmp(name, "--plot")) {
            o->plot = val;
        } else if (!strcmp(name, "--limit")) {
            o->limit = (size_t)parse_uint(name, val, UINT32_MAX);
            if (o->limit == 0)
                usage_error("--limit: expected at least 1 example, got '%s'", val);
        } else {
            usage_error("unknown option '%s'", a);
        }
    }
}

/* ---- Data ---- */

static void load_set(const char *dir, const char *images, const char *labels, size_t dim,
                     int classes, nnrt_dataset *ds)
{
    char *ip = support_data_file(prog, dir, images);
    char *lp = ip ? support_data_file(prog, dir, labels) : NULL;
    if (!lp)
        exit(1);
    char err[512];
    int rc = nnrt_dataset_load(ip, lp, ds, err, sizeof err);
    if (rc)
        support_die(prog, "%s", err);
    if (ds->dim != dim)
        support_die(prog, "%s: examples of %zu values, the model takes %zu (28x28 images)", ip, ds->dim, dim);
    if (ds->n_classes > classes)
        support_die(prog, "%s: labels up to %d, the model has %d classes", lp, (int)ds->n_classes - 1, classes);
    free(ip);
    free(lp);
}

/* ---- Evaluation ---- */

/* The fraction of ds that p classifies right, each example counted once:
 * batches of the model's MAX rows, the last one short.  Overwrites the
 * examples and the batch of in. */
static double eval_accuracy(const fashion_mnist_params *p, const fashion_mnist_state *st,
                            fashion_mnist_inputs *in, fashion_mnist_outputs *out, void *ws,
                            const nnrt_dataset *ds)
{
    const size_t max = sizeof in->y / sizeof in->y[0];
    size_t right = 0;
    for (size_t s = 0; s < ds->n; s += max) {
        size_t real = nnrt_dataset_batch(ds, NULL, s, max, &in->x[0][0], in->y);
        in->batch = (int64_t)real;
        int rc = fashion_mnist_forward(p, st, in, out, ws);
        if (rc)
            support_die(prog, "evaluating the test set: %s", nnrt_strerror(rc));
        for (size_t k = 0; k < real; k++)
            right += out->pred[k] == in->y[k];
    }
    return ds->n ? (double)right / (double)ds->n : 0.0;
}

/* ---- The side file: epoch, settings and history of a checkpoint ---- */

typedef struct record {
    int epoch;
    double loss, train_acc, test_acc, seconds;
} record;

typedef struct ckpt_ref {
    int epoch;
    uint32_t crc;             /* params_crc of the checkpoint */
} ckpt_ref;

typedef struct meta {
    uint64_t seed;
    double lr;
    size_t limit;
    int n_ckpt;               /* 1, or 2 while a save is in progress */
    ckpt_ref ckpt[2];
    int n_hist;
    record hist[MAX_EPOCHS];
} meta;

/* Names a checkpoint by its content: a CRC-32 of every param and the state,
 * which nnrt_load restores byte for byte. */
static uint32_t params_crc(const nnrt_model *m, const void *params, const void *state)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role == NNRT_PARAM)
            crc = crc32(crc, (const Bytef *)params + t->offset, (uInt)t->size);
    }
    if (state && m->state_size)
        crc = crc32(crc, state, (uInt)m->state_size);
    return (uint32_t)crc;
}

static char *meta_path(const char *save)
{
    size_t len = strlen(save) + 6;
    char *p = malloc(len);
    if (!p)
        support_die(prog, "out of memory");
    snprintf(p, len, "%s.meta", save);
    return p;
}

/* fsync the directory holding path, so that a rename in it is durable. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Write m to path atomically: a temporary file beside it, synced, renamed. */
static void meta_write(const char *path, const meta *m)
{
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    if (!tmp)
        support_die(prog, "out of memory");
    snprintf(tmp, len, "%sXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        support_die(prog, "%s: cannot create: %s", tmp, strerror(errno));
    fchmod(fd, 0644);         /* mkstemp's 0600 is too private for a log */
    FILE *f = fdopen(fd, "w");
    if (!f)
        support_die(prog, "%s: %s", tmp, strerror(errno));
    fprintf(f, META_MAGIC "\nmodel %s\nseed %llu\nlr %.9g\nlimit %zu\n",
            fashion_mnist_model.name, (unsigned long long)m->seed, m->lr, m->limit);
    for (int i = 0; i < m->n_ckpt; i++)
        fprintf(f, "checkpoint %d %08x\n", m->ckpt[i].epoch, (unsigned)m->ckpt[i].crc);
    for (int i = 0; i < m->n_hist; i++) {
        const record *r = &m->hist[i];
        fprintf(f, "epoch %d %.9g %.9g %.9g %.6g\n", r->epoch, r->loss, r->train_acc,
                r->test_acc, r->seconds);
    }
    int bad = fflush(f) != 0 || ferror(f) || fsync(fd) != 0;
    if (fclose(f) != 0 || bad) {
        int e = errno;
        unlink(tmp);
        support_die(prog, "%s: cannot write: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        support_die(prog, "%s: cannot rename %s to it: %s", path, tmp, strerror(e));
    }
    sync_dir(path);
    free(tmp);
}

/* Read the side file; 0, or -1 with a message in err. */
static int meta_read(const char *path, meta *m, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256], model[128];
    int lineno = 0, ok = 1, magic = 0;
    unsigned long long seed;
    *m = (meta){ .lr = NAN };
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        record r;
        unsigned crc;
        int epoch;
        if (lineno == 1)
            ok = magic = strcmp(line, META_MAGIC) == 0;
        else if (sscanf(line, "model %127s", model) == 1)
            ok = strcmp(model, fashion_mnist_model.name) == 0;
        else if (sscanf(line, "seed %llu", &seed) == 1)
            m->seed = seed;
        else if (sscanf(line, "lr %lf", &m->lr) == 1)
            ;
        else if (sscanf(line, "limit %zu", &m->limit) == 1)
            ;
        else if (sscanf(line, "checkpoint %d %x", &epoch, &crc) == 2 && m->n_ckpt < 2) {
            m->ckpt[m->n_ckpt].epoch = epoch;
            m->ckpt[m->n_ckpt++].crc = crc;
        } else if (sscanf(line, "epoch %d %lf %lf %lf %lf", &r.epoch, &r.loss, &r.train_acc,
                          &r.test_acc, &r.seconds) == 5 && m->n_hist < MAX_EPOCHS)
            m->hist[m->n_hist++] = r;
        else
            ok = 0;
    }
    fclose(f);
    if (!ok || !magic || m->n_ckpt == 0) {
        snprintf(err, errlen, "%s:%d: not a side file of %s's checkpoints", path, lineno,
                 prog);
        return -1;
    }
    return 0;
}

/* ---- Output: progress bar, epoch lines, plot ---- */

static void progress(int epoch, int epochs, size_t step, size_t steps, double loss, double acc)
{
    enum { WIDTH = 30 };
    int fill = (int)(WIDTH * step / steps);
    printf("\r\033[Kepoch %d/%d [", epoch, epochs);
    for (int i = 0; i < WIDTH; i++)
        putchar(i < fill ? '#' : '.');
    printf("] %zu/%zu  loss %.4f  acc %.4f", step, steps, loss, acc);
    fflush(stdout);
}

/* The curves of the history as a PNG, drawn by gnuplot through a pipe. */
static void plot(const char *file, const meta *m, double lr)
{
    if (!*file)
        return;
    if (!plot_safe_name(file)) {
        fprintf(stderr, "%s: note: no plot: --plot takes a name of letters, digits and "
                        "._-/+,=@ (got '%s')\n", prog, file);
        return;
    }
    if (!plot_have_gnuplot()) {
        printf("note: gnuplot is not installed, no plot (apt-get install gnuplot-nox)\n");
        return;
    }
    int last = m->n_hist ? m->hist[m->n_hist - 1].epoch : 1;
    fflush(stdout);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);   /* a dying gnuplot must not kill us */
    FILE *g = popen("gnuplot", "w");
    if (!g) {
        fprintf(stderr, "%s: note: cannot run gnuplot: %s\n", prog, strerror(errno));
        signal(SIGPIPE, old);
        return;
    }
    fprintf(g, "set terminal pngcairo size 800,500 font ',11'\n"
               "set output '%s'\n"
               "set title 'fashion\\_mnist: 784-256-10 MLP, SGD lr %g, batch %zu'\n"
               "set xlabel 'epoch'\nset grid\nset key outside right top vertical\n"
               "set xrange [0.5:%d.5]\nset yrange [0:*]\n%s"
               "$d << EOD\n", file, lr, sizeof ((fashion_mnist_inputs *)0)->y / sizeof(int32_t),
            last, last <= 20 ? "set xtics 1\n" : "");
    for (int i = 0; i < m->n_hist; i++)
        fprintf(g, "%d %.6f %.6f %.6f\n", m->hist[i].epoch, m->hist[i].loss,
                m->hist[i].train_acc, m->hist[i].test_acc);
    fprintf(g, "EOD\n"
               "plot $d using 1:2 with linespoints lw 2 title 'train loss', \\\n"
               "     $d using 1:3 with linespoints lw 2 title 'train acc', \\\n"
               "     $d using 1:4 with linespoints lw 2 title 'test acc'\n");
    int st = pclose(g);
    signal(SIGPIPE, old);
    if (st != 0)
        fprintf(stderr, "%s: note: gnuplot failed (status %d); the plot may be missing\n",
                prog, st);
    else
        printf("curves: %s\n", file);
}

/* ---- Training ---- */

int main(int argc, char **argv)
{
    options opt;
    parse_options(argc, argv, &opt);

    const nnrt_model *model = &fashion_mnist_model;
    fashion_mnist_params *p = xalloc(sizeof *p);
    fashion_mnist_state *st = xalloc(sizeof *st);
    fashion_mnist_inputs *in = xalloc(sizeof *in);
    fashion_mnist_outputs *out = xalloc(sizeof *out);
    void *ws = xalloc(model->workspace_size);
    const size_t batch = sizeof in->y / sizeof in->y[0];
    const size_t dim = sizeof in->x[0] / sizeof in->x[0][0];
    const int classes = (int)(sizeof out->prob[0] / sizeof out->prob[0][0]);

    /* The training state: fresh, or the checkpoint and its side file. */
    char *mpath = meta_path(opt.save);
    static meta m;
    int start = 0;             /* epochs already done */
    fashion_mnist_set_defaults(in);
    if (!isnan(opt.lr))
        in->lr = (float)opt.lr;
    if (opt.resume) {
        char err[512];
        int rc = nnrt_load_ex(opt.save, model, p, st, err, sizeof err);
        if (rc)
            support_die(prog, "cannot resume: %s", err);
        if (meta_read(mpath, &m, err, sizeof err))
            support_die(prog, "cannot resume: %s\n  (train keeps the epoch of %s in that file)", err,
                opt.save);
        uint32_t crc = params_crc(model, p, st);
        int found = -1;
        for (int i = 0; i < m.n_ckpt; i++)
            if (m.ckpt[i].crc == crc)
                found = i;
        if (found < 0)
            support_die(prog, "cannot resume: %s is not the checkpoint that %s describes "
                "(written by another run?)", opt.save, mpath);
        start = m.ckpt[found].epoch;
        m.ckpt[0] = m.ckpt[found];
        m.n_ckpt = 1;
        int keep = 0;
        for (int i = 0; i < m.n_hist; i++)
            if (m.hist[i].epoch <= start)
                m.hist[keep++] = m.hist[i];
        m.n_hist = keep;
        if (m.seed != opt.seed)
            printf("note: the checkpoint was trained with --seed %llu, continuing with %llu\n",
                   (unsigned long long)m.seed, (unsigned long long)opt.seed);
        if (m.limit != opt.limit)
            printf("note: the checkpoint was trained with --limit %zu, continuing with %zu\n",
                   m.limit, opt.limit);
        printf("resuming from %s after epoch %d\n", opt.save, start);
    } else {
        fashion_mnist_init(p, st, opt.seed);
    }
    m.seed = opt.seed;
    m.lr = in->lr;
    m.limit = opt.limit;

    nnrt_dataset train, test;
    load_set(opt.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", dim, classes,
             &train);
    load_set(opt.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", dim, classes, &test);
    size_t full = train.n;
    if (opt.limit && opt.limit < train.n)
        train.n = opt.limit;    /* the first N; nnrt_dataset_free does not read n */
    size_t steps = (train.n + batch - 1) / batch, rest = train.n % batch;
    printf("%s: %zu training examples%s, %zu test; batch %zu: %zu step%s per epoch",
           model->name, train.n, train.n < full ? " (--limit)" : "", test.n, batch, steps,
           steps == 1 ? "" : "s");
    if (rest && steps > 1)
        printf(", the last of %zu", rest);
    printf("\nlr %g, seed %llu, %d thread%s (NNRT_NUM_THREADS)\n", in->lr, (unsigned long long)opt.seed,
           nnrt_get_num_threads(), nnrt_get_num_threads() == 1 ? "" : "s");

    uint32_t *perm = malloc(train.n * sizeof *perm);
    if (!perm)
        support_die(prog, "out of memory");
    int tty = isatty(fileno(stdout));
    double test_acc = NAN;

    for (int epoch = start + 1; epoch <= opt.epochs; epoch++) {
        if (nnrt_shuffle(perm, train.n, opt.seed, (uint64_t)epoch))
            support_die(prog, "cannot shuffle %zu examples", train.n);
        double t0 = now(), last = 0, sum_loss = 0, sum_acc = 0;
        size_t step = 0, seen = 0;
        for (size_t s = 0; s < train.n; s += batch) {
            size_t real = nnrt_dataset_batch(&train, perm, s, batch, &in->x[0][0], in->y);
            in->batch = (int64_t)real;
            int rc = fashion_mnist_train_step(p, st, in, out, ws);
            if (rc)
                support_die(prog, "epoch %d, step %zu: %s", epoch, step + 1, nnrt_strerror(rc));
            if (!isfinite(out->L))
                support_die(prog, "epoch %d, step %zu: the loss is %g; try a smaller --lr", epoch, step + 1,
                    out->L);
            sum_loss += (double)out->L * (double)real;
            sum_acc += (double)out->acc * (double)real;
            seen += real;
            step++;
            if (tty && (now() - last > 0.1 || step == steps)) {
                progress(epoch, opt.epochs, step, steps, sum_loss / seen, sum_acc / seen);
                last = now();
            }
        }
        double secs = now() - t0;
        if (tty) {
            printf("  testing");
            fflush(stdout);
        }
        double t1 = now();
        test_acc = eval_accuracy(p, st, in, out, ws, &test);
        double eval_secs = now() - t1;
        if (tty)
            printf("\r\033[K");
        record r = { epoch, sum_loss / seen, sum_acc / seen, test_acc, secs };
        printf("epoch %2d  loss %.4f  train acc %.4f  test acc %.4f  %6.2f s  %6.0f ex/s"
               "  (eval %.2f s)\n", epoch, r.loss, r.train_acc, r.test_acc, secs,
               (double)seen / secs, eval_secs);
        fflush(stdout);

        /* Side file naming both checkpoints, checkpoint, side file naming the new. */
        uint32_t crc = params_crc(model, p, st);
        if (m.n_hist < MAX_EPOCHS)
            m.hist[m.n_hist++] = r;
        m.ckpt[m.n_ckpt++] = (ckpt_ref){ epoch, crc };
        meta_write(mpath, &m);
        char err[512];
        int rc = nnrt_save_ex(opt.save, model, p, st, err, sizeof err);
        if (rc)
            support_die(prog, "%s", err);
        m.ckpt[0] = m.ckpt[m.n_ckpt - 1];
        m.n_ckpt = 1;
        meta_write(mpath, &m);
    }

    if (start >= opt.epochs) {
        if (opt.resume)
            printf("the checkpoint is at epoch %d already (--epochs %d): evaluating it\n",
                   start, opt.epochs);
        else
            printf("no training (--epochs 0): evaluating the initial params\n");
        test_acc = eval_accuracy(p, st, in, out, ws, &test);
    }
    plot(opt.plot, &m, in->lr);
    printf("final test accuracy: %.4f\n", test_acc);

    free(perm);
    free(mpath);
    nnrt_dataset_free(&train);
    nnrt_dataset_free(&test);
    nnrt_free(p);
    nnrt_free(st);
    nnrt_free(in);
    nnrt_free(out);
    nnrt_free(ws);
    return 0;
}
