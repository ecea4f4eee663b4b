/*
 * predict.c: label the first test images of Fashion-MNIST with a model
 * that samples/train.c trained: load its checkpoint into the same build of
 * samples/fashion_mnist.nn, run it on the first N images (in batches of up
 * to the model's 256, in.batch the rows filled), and print each one's class
 * with its probability and the true class beside it.  docs/demo.md is the
 * guide.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fashion_mnist.h"
#include "support.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Fashion-MNIST's labels 0..9, in order. */
static const char *const class_name[10] = {
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot"
};

static const char *prog = "predict";

static void usage(FILE *f)
{
    fprintf(f,
"usage: %s [options]\n"
"Label the first test images of Fashion-MNIST with a trained checkpoint.\n"
"\n"
"  --ckpt FILE    the checkpoint (default fashion_mnist.ckpt)\n"
"  --data DIR     the IDX files (default " DEFAULT_DATA ")\n"
"  -n N           how many test images (default 10)\n"
"  --help         print this help\n", prog);
}

static void usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s '%s'\n(%s --help lists the options)\n", prog, what, arg, prog);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *ckpt = "fashion_mnist.ckpt", *data = DEFAULT_DATA;
    long n = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--ckpt") && strcmp(a, "--data") && strcmp(a, "-n"))
            usage_error("unknown option", a);
        if (i + 1 == argc)
            usage_error("a value is missing after", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--ckpt"))
            ckpt = v;
        else if (!strcmp(a, "--data"))
            data = v;
        else {
            char *end;
            errno = 0;
            n = strtol(v, &end, 10);
            if (!*v || *end || errno || n < 1 || n > 100000)
                usage_error("-n: expected a number of images from 1 to 100000, got", v);
        }
    }

    fashion_mnist_params *p = nnrt_alloc(sizeof *p);
    fashion_mnist_state *st = nnrt_alloc(sizeof *st);
    fashion_mnist_inputs *in = nnrt_alloc(sizeof *in);
    fashion_mnist_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(fashion_mnist_model.workspace_size);
    if (!p || !st || !in || !out || !ws) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    /* The params and the state that train saved, checked tensor by tensor
     * (name, dtype, shape) against this build's descriptor.  forward reads
     * the state: this model's has no tensors, but one with batch_norm keeps
     * its running statistics there. */
    char err[512];
    int rc = nnrt_load_ex(ckpt, &fashion_mnist_model, p, st, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        if (rc == NNRT_EIO)
            fprintf(stderr, "  train a model first (samples/train, or make demo-fashion)\n");
        return 1;
    }

    char *images = support_data_file(prog, data, "t10k-images-idx3-ubyte");
    char *labels = images ? support_data_file(prog, data, "t10k-labels-idx1-ubyte") : NULL;
    if (!labels)
        return 1;
    nnrt_dataset test;
    rc = nnrt_dataset_load(images, labels, &test, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    const size_t max = sizeof in->y / sizeof in->y[0];
    const size_t dim = sizeof in->x[0] / sizeof in->x[0][0];
    if (test.dim != dim || test.n_classes > 10) {
        fprintf(stderr, "%s: %s: not 28x28 images of 10 classes\n", prog, images);
        return 1;
    }
    if ((size_t)n > test.n)
        n = (long)test.n;

    fashion_mnist_set_defaults(in);
    printf("  #  predicted             true\n");
    size_t right = 0;
    for (size_t s = 0; s < (size_t)n; s += max) {
        size_t rows = (size_t)n - s < max ? (size_t)n - s : max;
        nnrt_dataset_batch(&test, NULL, s, rows, &in->x[0][0], in->y);
        in->batch = (int64_t)rows;    /* the model computes these rows only */
        rc = fashion_mnist_forward(p, st, in, out, ws);
        if (rc) {
            fprintf(stderr, "%s: %s\n", prog, nnrt_strerror(rc));
            return 1;
        }
        for (size_t k = 0; k < rows; k++) {
            int c = out->pred[k], t = in->y[k];
            right += c == t;
            printf("%3zu  %-12s %5.1f%%   true: %s%s\n", s + k, class_name[c],
                   100.0 * out->prob[k][c], class_name[t], c == t ? "" : "   <- wrong");
        }
    }
    printf("%zu of %ld right\n", right, n);

    nnrt_dataset_free(&test);
    free(images);
    free(labels);
    nnrt_free(p);
    nnrt_free(st);
    nnrt_free(in);
    nnrt_free(out);
    nnrt_free(ws);
    return 0;
}
