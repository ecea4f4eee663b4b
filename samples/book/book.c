/*
 * book.c: the book's samples' shared code (book.h says what each function
 * does).  Models are driven through their descriptors, so one training
 * loop serves every sample: nnrt_tensorset_batch fills the inputs named
 * like the columns and sets the batch dim, the descriptor's train_step
 * trains, nnrt_evaluate measures.
 */
#include "book.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Models ---- */

void bk_parse(int argc, char **argv, ch_options *o, const char *prog, const char *about,
              int epochs, int seeds, unsigned accepts)
{
    *o = (ch_options){ .prog = prog, .about = about, .seed = 42, .epochs = epochs,
                       .seeds = seeds > 0 ? seeds : 1,
                       .accepts = CH_OPT_SEED | CH_OPT_EPOCHS | (seeds > 0 ? CH_OPT_SEEDS : 0) | accepts,
                       .data = "/usr/share/datasets/fashion-mnist" };
    ch_parse(argc, argv, o);
}

void bk_open(bk_net *n, const ch_options *o, const nnrt_model *m)
{
    *n = (bk_net){ .m = m };
    n->params = ch_alloc(m->params_size);
    n->state = ch_alloc(m->state_size);
    n->inputs = ch_alloc(m->inputs_size);
    n->outputs = ch_alloc(m->outputs_size);
    n->ws = ch_alloc(m->workspace_size);
    m->init(n->params, n->state, o->seed);
    m->set_defaults(n->inputs);
}

void bk_close(bk_net *n)
{
    nnrt_free(n->params);
    nnrt_free(n->state);
    nnrt_free(n->inputs);
    nnrt_free(n->outputs);
    nnrt_free(n->ws);
    *n = (bk_net){ 0 };
}

float *bk_find(const bk_net *n, nnrt_role role, const char *name, size_t *count)
{
    const nnrt_tensor *t = nnrt_find_role(n->m, name, (int)role);
    if (!t || t->dtype != NNRT_F32)
        return NULL;
    if (count)
        *count = t->size / sizeof(float);
    void *base = role == NNRT_PARAM ? n->params : role == NNRT_STATE ? n->state
               : role == NNRT_OUTPUT ? n->outputs : n->inputs;
    return (float *)(void *)((char *)base + t->offset);
}

float *bk_get(const bk_net *n, nnrt_role role, const char *name, size_t *count)
{
    float *v = bk_find(n, role, name, count);
    if (!v)
        support_die(n->m->name, "the model has no f32 tensor %s of that role", name);
    return v;
}

/* ---- Data ---- */

void bk_fashion(const ch_options *o, bk_data *d)
{
    char err[512];
    *d = (bk_data){ 0 };
    ch_load_data(o, 784, 10, &d->train_ds, &d->test_ds);
    if (nnrt_tensorset_add_dataset(&d->train, &d->train_ds, "x", "y", err, sizeof err)
        || nnrt_tensorset_add_dataset(&d->test, &d->test_ds, "x", "y", err, sizeof err))
        support_die(o->prog, "%s", err);
}

void bk_free_data(bk_data *d)
{
    nnrt_tensorset_free(&d->train);
    nnrt_tensorset_free(&d->test);
    nnrt_dataset_free(&d->train_ds);
    nnrt_dataset_free(&d->test_ds);
}

void bk_linear_data(nnrt_tensorset *ts, size_t n, size_t d, const float *w, float b,
                    double noise, uint64_t seed, const char *name)
{
    char stream[128], err[256];
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * sizeof *y);
    if (!x || !y)
        support_die(name, "out of memory");
    snprintf(stream, sizeof stream, "%s x", name);
    ch_normal_f32(x, n * d, 0, 1, seed, stream);
    snprintf(stream, sizeof stream, "%s noise", name);
    ch_normal_f32(y, n, 0, noise, seed, stream);
    for (size_t i = 0; i < n; i++) {
        float dot = 0;
        for (size_t j = 0; j < d; j++)
            dot += x[i * d + j] * w[j];
        y[i] += dot + b;
    }
    int64_t xdim[1] = { (int64_t)d }, ydim[1] = { 1 };
    *ts = (nnrt_tensorset){ 0 };
    if (nnrt_tensorset_add(ts, "x", NNRT_F32, 1, xdim, n, x, NNRT_DATA_COPY, err, sizeof err)
        || nnrt_tensorset_add(ts, "y", NNRT_F32, 1, ydim, n, y, NNRT_DATA_COPY, err, sizeof err))
        support_die(name, "%s", err);
    free(x);
    free(y);
}

/* ---- Schedules ---- */

double bk_lr(const bk_schedule *s, size_t t, size_t per_epoch, size_t total)
{
    size_t warm = (size_t)s->warmup_epochs * per_epoch;
    if (t < warm)
        return s->peak * (double)(t + 1) / (double)warm;
    size_t since = t - warm, span = total > warm + 1 ? total - warm - 1 : 1;
    switch (s->decay) {
    case BK_COSINE:
        return s->peak * 0.5 * (1 + cos(M_PI * (double)since / (double)span));
    case BK_STEP:
        return s->peak * pow(s->factor, (double)(since / (per_epoch * (size_t)s->every)));
    case BK_CONSTANT:
        break;
    }
    return s->peak;
}

/* ---- Training ---- */

static void progress(const char *label, int epoch, int epochs, size_t step, size_t steps,
                     double loss)
{
    enum { WIDTH = 30 };
    int fill = (int)(WIDTH * step / steps);
    printf("\r\033[K%s%sepoch %d/%d [", label ? label : "", label ? "  " : "", epoch, epochs);
    for (int i = 0; i < WIDTH; i++)
        putchar(i < fill ? '#' : '.');
    printf("] %zu/%zu  loss %.4f", step, steps, loss);
    fflush(stdout);
}

static double evaluate(const ch_options *o, const bk_net *n, const nnrt_tensorset *ts,
                       const char *metric)
{
    char err[512];
    double v;
    if (nnrt_evaluate(n->m, n->params, n->state, n->inputs, ts, &metric, 1, &v, err, sizeof err))
        support_die(o->prog, "evaluate: %s", err);
    return v;
}

static void epoch_line(const bk_fit *f, int e, int epochs, const bk_epoch *r)
{
    int acc = !strcmp(f->metric, "acc");
    if (f->label)
        printf("%s  ", f->label);
    printf("epoch %2d/%d  loss %.*f", e, epochs, r->loss < 1e-3 ? 7 : 4, r->loss);
    if (!isnan(r->acc))
        printf("  train acc %.4f", r->acc);
    for (int k = 0; k < 2; k++) {
        double v = k ? r->test : r->train;
        if (isnan(v))
            continue;
        if (acc)
            printf("  %s acc %.4f", k ? "test" : "train", v);
        else
            printf("  %s %s %.5g", k ? "test" : "train", f->metric, v);
    }
    if (f->sched)
        printf("  lr %.3g", r->lr);
    printf("  %.3g s (eval %.3g s)\n", r->secs, r->eval_secs);
}

int bk_train(const ch_options *o, bk_net *n, const bk_fit *f, bk_epoch *hist)
{
    const nnrt_model *m = n->m;
    char err[512];
    size_t batch;
    const char *dim;
    if (nnrt_tensorset_check(f->train, m, &batch, &dim, err, sizeof err))
        support_die(o->prog, "the data does not fit model %s: %s", m->name, err);
    const float *loss = bk_get(n, NNRT_OUTPUT, m->objective, NULL);
    const float *acc = bk_find(n, NNRT_OUTPUT, "acc", NULL);
    float *lr = f->sched ? bk_get(n, NNRT_HYPER, "lr", NULL) : bk_find(n, NNRT_HYPER, "lr", NULL);
    size_t per_epoch = (f->train->n + batch - 1) / batch, total = per_epoch * (size_t)o->epochs;
    uint32_t *perm = malloc(f->train->n * sizeof *perm);
    if (!perm)
        support_die(o->prog, "out of memory");
    int tty = isatty(fileno(stdout)), finite = 1;
    double first = NAN;
    for (int e = 1; e <= o->epochs; e++) {
        bk_epoch *r = &hist[e - 1];
        double t0 = ch_now(), shown = 0, sum = 0, sum_acc = 0;
        nnrt_shuffle(perm, f->train->n, o->seed, (uint64_t)e);
        size_t rows, step = 0;
        for (size_t at = 0; at < f->train->n; at += rows, step++) {
            if (nnrt_tensorset_batch(f->train, m, n->inputs, perm, at, &rows, err, sizeof err))
                support_die(o->prog, "batch: %s", err);
            if (f->sched)
                *lr = (float)bk_lr(f->sched, (size_t)(e - 1) * per_epoch + step, per_epoch, total);
            int rc = m->train_step(n->params, n->state, n->inputs, n->outputs, n->ws);
            if (rc)
                support_die(o->prog, "epoch %d, step %zu: %s", e, step + 1, nnrt_strerror(rc));
            finite &= isfinite(*loss);
            if (isnan(first))
                first = *loss;
            sum += (double)*loss * (double)rows;
            sum_acc += acc ? (double)*acc * (double)rows : 0;
            if (tty && (ch_now() - shown > 0.1 || step + 1 == per_epoch)) {
                progress(f->label, e, o->epochs, step + 1, per_epoch, sum / (double)(at + rows));
                shown = ch_now();
            }
        }
        double t1 = ch_now();
        *r = (bk_epoch){ .loss = sum / (double)f->train->n, .secs = t1 - t0, .train = NAN,
                         .test = NAN, .lr = lr ? *lr : NAN,
                         .acc = acc ? sum_acc / (double)f->train->n : NAN, .steps = step };
        if (f->eval_train)
            r->train = evaluate(o, n, f->train, f->metric);
        if (f->test)
            r->test = evaluate(o, n, f->test, f->metric);
        r->eval_secs = ch_now() - t1;
        if (tty)
            printf("\r\033[K");
        if (!f->every || e % f->every == 0 || e == 1 || e == o->epochs)
            epoch_line(f, e, o->epochs, r);
    }
    free(perm);
    return finite && hist[o->epochs - 1].loss < first;
}

double bk_epoch_secs(const bk_epoch *hist, int epochs)
{
    double s = 0;
    for (int e = 0; e < epochs; e++)
        s += hist[e].secs;
    return s / epochs;
}

void bk_plot_fit(const ch_options *o, const char *png, const char *title, const bk_epoch *hist,
                 int epochs, const bk_schedule *sched)
{
    FILE *g = ch_plot_begin(o, png, 640, 420);
    if (!g)
        return;
    fprintf(g, "$d << EOD\n");
    for (int e = 0; e < epochs; e++)
        fprintf(g, "%d %.6f %.6f %.6f\n", e + 1, hist[e].loss, hist[e].acc, hist[e].test);
    fprintf(g, "EOD\n$lr << EOD\n");
    size_t per_epoch = hist[0].steps, total = per_epoch * (size_t)epochs;
    for (size_t t = 0; sched && t < total; t++)     /* step t ends at epoch (t + 1) / per_epoch */
        fprintf(g, "%.5f %.6g\n", (double)(t + 1) / (double)per_epoch,
                bk_lr(sched, t, per_epoch, total));
    fprintf(g, "EOD\nset title '%s'\nset xlabel 'epoch'\nset grid\nset key center right\n"
               "set xrange [%d:%d]\nset xtics 1\nset yrange [0:*]\n", title, sched ? 0 : 1, epochs);
    if (sched)
        fprintf(g, "set y2label 'learning rate'\nset y2tics\nset y2range [0:*]\n"
                   "set ytics nomirror\n");
    fprintf(g, "plot $d using 1:2 with linespoints pt 7 lw 2 title 'train loss', \\\n"
               "     $d using 1:3 with linespoints pt 5 lw 2 title 'train acc', \\\n"
               "     $d using 1:4 with linespoints pt 9 lw 2 title 'test acc %.3f'%s\n",
            hist[epochs - 1].test,
            sched ? ", \\\n     $lr using 1:2 axes x1y2 with lines lw 1 dt 2 lc rgb '#444444' "
                    "title 'lr (right axis)'" : "");
    ch_plot_end(o, g, png);
}

int bk_main(int argc, char **argv, const bk_sample *s)
{
    ch_options o;
    bk_parse(argc, argv, &o, s->prog, s->about, s->epochs, s->seeds ? s->seeds : 1, CH_OPT_DATA);
    if (o.quick)
        o.epochs = 3;
    bk_data d;
    bk_net n;
    bk_fashion(&o, &d);
    bk_epoch *hist = calloc((size_t)o.epochs, sizeof *hist);
    if (!hist)
        support_die(o.prog, "out of memory");
    int threads = nnrt_get_num_threads();
    printf("%s (%d thread%s): %s, %zu training and %zu test examples, %d epochs, seed %llu", s->m->name,
           threads, threads == 1 ? "" : "s", o.quick ? "synthetic data (--quick)" : "Fashion-MNIST", d.train.n,
           d.test.n, o.epochs, (unsigned long long)o.seed);
    if (o.seeds > 1)
        printf(" and the next %d", o.seeds - 1);
    printf("\n");
    double t0 = ch_now(), secs = 0, test = 0, first_test = 0;
    int ok = 1;
    for (int k = 0; k < o.seeds; k++) {
        ch_options run = o;
        run.seed = o.seed + (uint64_t)k;
        char label[32];
        snprintf(label, sizeof label, "seed %llu", (unsigned long long)run.seed);
        bk_fit f = { .train = &d.train, .test = &d.test, .metric = "acc", .sched = s->sched,
                     .label = o.seeds > 1 ? label : NULL };
        bk_open(&n, &run, s->m);
        ok &= bk_train(&run, &n, &f, hist);
        secs += bk_epoch_secs(hist, o.epochs);
        test += hist[o.epochs - 1].test;
        if (o.seeds > 1)
            printf("%s: final test accuracy %.4f\n", label, hist[o.epochs - 1].test);
        if (k == 0) {
            first_test = hist[o.epochs - 1].test;
            char png[256];
            snprintf(png, sizeof png, "%s.png", s->prog);
            bk_plot_fit(&o, png, s->title, hist, o.epochs, s->sched);
            if (s->report)
                s->report(&n);
        }
        bk_close(&n);
    }
    if (o.seeds > 1)
        printf("%d runs of ", o.seeds);
    printf("%d epochs in %.1f s: %.3g s of training per epoch\n", o.epochs, ch_now() - t0, secs / o.seeds);
    if (!ok)
        fprintf(stderr, "%s: FAILED: a loss was not finite, or the loss did not fall\n", o.prog);
    printf("final test accuracy: %.4f", test / o.seeds);
    /* The first seed's figure too: PyTorch's twin runs that one alone. */
    if (o.seeds > 1)
        printf(" (the mean over seeds %llu to %llu; seed %llu alone: %.4f)", (unsigned long long)o.seed,
               (unsigned long long)o.seed + (unsigned long long)o.seeds - 1, (unsigned long long)o.seed, first_test);
    printf("\n");
    free(hist);
    bk_free_data(&d);
    return ok ? 0 : 1;
}
