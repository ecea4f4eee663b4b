/*
 * lenet_bn.c: the book's LeNet with batch normalization on Fashion-MNIST
 * (d2l.ai, "Batch Normalization"): samples/book/lenet_bn.nn, batch_norm
 * before each sigmoid, SGD at lr 1.0 on minibatches of 256 for 10 epochs;
 * the book reaches a test accuracy of 0.85 to 0.87.  Then, as the book
 * does, the scale gamma and shift beta that the first normalization
 * learnt, and its running statistics, which the test accuracy is computed
 * with.  A line per epoch, lenet_bn.png, `final test accuracy: X`.
 *
 * At lr 1.0 the test accuracy of one run moves by several points from one
 * epoch to the next (running statistics taken while the weights move
 * fast), so the last epoch of one run says little: the sample trains
 * from three seeds (42, 43 and 44 by default) and reports their mean.
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "lenet_bn.h"

static void print(const bk_net *n, nnrt_role role, const char *name)
{
    size_t count;
    const float *v = bk_get(n, role, name, &count);
    printf("  %-6s", name);
    for (size_t i = 0; i < count; i++)
        printf(" %7.4f", v[i]);
    printf("\n");
}

/* The first batch_norm's learnt affine map and its running statistics. */
static void report(const bk_net *n)
{
    printf("the first batch normalization (6 channels):\n");
    print(n, NNRT_PARAM, "gamma1");
    print(n, NNRT_PARAM, "beta1");
    print(n, NNRT_STATE, "mean1");
    print(n, NNRT_STATE, "var1");
}

static const bk_sample lenet_bn = { .prog = "lenet_bn", .m = &lenet_bn_model, .epochs = 10, .seeds = 3,
    .report = report,
    .about = "LeNet with batch normalization on Fashion-MNIST (samples/book/lenet_bn.nn).",
    .title = "LeNet with batch normalization on Fashion-MNIST: SGD lr 1.0, batch 256" };
BK_MAIN(lenet_bn)
