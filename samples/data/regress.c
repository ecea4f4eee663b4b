/*
 * regress.c: the data API on the textbook's linear regression (d2l.ai 3.4,
 * samples/data/linreg.nn): 1000 synthetic examples y = x [2, -3.4] + 4.2 +
 * noise, held in the program's own arrays and borrowed by a tensorset,
 * split 905 / 95, shuffled every epoch and fed to the model by input name
 * (the last batch of each pass short: the batch is a runtime dim); after
 * each epoch the validation loss over all 95 examples; at the end the
 * learnt w and b, read by name through the descriptor.
 * docs/runtime.md, "Data: per-example tensors by name", walks through it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <nnrt.h>

#include "linreg.h"

enum { N = 1000, TRAIN = 905 };

static float x[N][2], y[N][1], noise[N];

static void die(const char *what, const char *err)
{
    fprintf(stderr, "regress: %s: %s\n", what, err);
    exit(1);
}

int main(void)
{
    /* The data: x ~ N(0, 1), noise ~ N(0, 0.01^2), from the runtime's generator. */
    int64_t xdims[2] = {N, 2}, ndims[1] = {N};
    nnrt_init_tensor(NNRT_F32, x, 2, xdims, NNRT_INIT_NORMAL, 0, 1, 1, nnrt_stream_id("x"));
    nnrt_init_tensor(NNRT_F32, noise, 1, ndims, NNRT_INIT_NORMAL, 0, 0.01, 1, nnrt_stream_id("noise"));
    for (int i = 0; i < N; i++)
        y[i][0] = 2 * x[i][0] - 3.4f * x[i][1] + 4.2f + noise[i];

    /* A tensorset borrowing both arrays, split into training and validation. */
    char err[256];
    int64_t two[1] = {2}, one[1] = {1};
    nnrt_tensorset all = {0}, train, valid;
    if (nnrt_tensorset_add(&all, "x", NNRT_F32, 1, two, N, x, NNRT_DATA_BORROW, err, sizeof err)
        || nnrt_tensorset_add(&all, "y", NNRT_F32, 1, one, N, y, NNRT_DATA_BORROW, err, sizeof err)
        || nnrt_tensorset_slice(&all, 0, TRAIN, &train, err, sizeof err)
        || nnrt_tensorset_slice(&all, TRAIN, N - TRAIN, &valid, err, sizeof err))
        die("data", err);
    size_t batch;
    const char *dim;
    if (nnrt_tensorset_check(&train, &linreg_model, &batch, &dim, err, sizeof err))
        die("the data does not fit the model", err);
    printf("%zu training and %zu validation examples, batches of up to %zu (dim %s)\n",
           train.n, valid.n, batch, dim ? dim : "none");

    linreg_params *p = nnrt_alloc(sizeof *p);
    linreg_state *s = nnrt_alloc(sizeof *s);
    linreg_inputs *in = nnrt_alloc(sizeof *in);
    linreg_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(linreg_model.workspace_size);
    uint32_t *perm = malloc(train.n * sizeof *perm);
    if (!p || !s || !in || !out || !ws || !perm)
        die("memory", "out of memory");
    linreg_init(p, s, 42);
    linreg_set_defaults(in);

    for (int epoch = 1; epoch <= 3; epoch++) {
        nnrt_shuffle(perm, train.n, 42, (uint64_t)epoch);
        size_t rows, steps = 0;
        for (size_t at = 0; at < train.n; at += rows, steps++) {
            if (nnrt_tensorset_batch(&train, &linreg_model, in, perm, at, &rows, err, sizeof err))
                die("batch", err);
            int rc = linreg_train_step(p, s, in, out, ws);
            if (rc)
                die("train step", nnrt_strerror(rc));
        }
        /* L is a mean over each batch (weighted by its rows), se one value per example */
        const char *names[2] = {"L", "se"};
        double means[2];
        if (nnrt_evaluate(&linreg_model, p, s, in, &valid, names, 2, means, err, sizeof err))
            die("evaluate", err);
        printf("epoch %d: %zu steps (the last of %zu rows), validation loss %.6f, mse %.6f\n",
               epoch, steps, rows, means[0], means[1]);
    }

    /* The params by name, through the descriptor, as a generic tool would. */
    const nnrt_tensor *w = nnrt_find_role(&linreg_model, "w", NNRT_PARAM);
    const nnrt_tensor *b = nnrt_find_role(&linreg_model, "b", NNRT_PARAM);
    if (!w || !b)
        die("descriptor", "no param w or b");
    const float *wv = (const float *)(const void *)((const char *)p + w->offset);
    const float *bv = (const float *)(const void *)((const char *)p + b->offset);
    printf("w = [%.4f, %.4f], b = %.4f (true: [2, -3.4], 4.2)\n", wv[0], wv[1], bv[0]);

    nnrt_tensorset_free(&all);                  /* borrowed: frees nothing, but says so */
    free(perm);
    nnrt_free(ws);
    nnrt_free(out);
    nnrt_free(in);
    nnrt_free(s);
    nnrt_free(p);
    return 0;
}
