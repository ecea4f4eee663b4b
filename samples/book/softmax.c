/*
 * softmax.c: the book's softmax regression on Fashion-MNIST (d2l.ai,
 * "Concise Implementation of Softmax Regression"): samples/book/softmax.nn,
 * SGD at lr 0.1 on minibatches of 256 for 10 epochs, where the book reaches
 * a test accuracy of about 0.83.  A line per epoch, the book's figure
 * (softmax.png), and `final test accuracy: X`.
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "softmax.h"

static const bk_sample softmax = { .prog = "softmax", .m = &softmax_model, .epochs = 10,
    .about = "Softmax regression on Fashion-MNIST (samples/book/softmax.nn).",
    .title = "Softmax regression on Fashion-MNIST: SGD, lr 0.1, batch 256" };
BK_MAIN(softmax)
