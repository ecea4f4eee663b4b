/*
 * resnet.c: a small ResNet on Fashion-MNIST at its own 28x28 resolution
 * (d2l.ai, "Residual Networks (ResNet)", scaled down: samples/book/resnet.nn),
 * SGD at the book's lr 0.05 on minibatches of 256, for 5 epochs where the
 * book trains its ResNet-18 on 96x96 images for 10.  A line per epoch,
 * resnet.png, the size of the network against ResNet-18's, and
 * `final test accuracy: X`.
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "resnet.h"

/* The params, counted through the descriptor. */
static void report(const bk_net *n)
{
    size_t count = 0;
    for (int i = 0; i < n->m->n_tensors; i++)
        if (n->m->tensors[i].role == NNRT_PARAM)
            count += n->m->tensors[i].size / sizeof(float);
    printf("%zu params, against the book's ResNet-18's 11.2 million\n", count);
}

static const bk_sample resnet = { .prog = "resnet", .m = &resnet_model, .epochs = 5,
    .report = report,
    .about = "A small ResNet on Fashion-MNIST at 28x28 (samples/book/resnet.nn).",
    .title = "ResNet (stem, 2 residual blocks) on Fashion-MNIST 28x28: SGD lr 0.05, batch 256" };
BK_MAIN(resnet)
