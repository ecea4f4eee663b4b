/*
 * lenet.c: the book's LeNet-5 on Fashion-MNIST (d2l.ai, "Convolutional
 * Neural Networks (LeNet)"): samples/book/lenet.nn, sigmoids and average
 * pooling, Xavier's initialization, SGD at lr 0.9 on minibatches of 256 for
 * 10 epochs; the book's run ends at a test accuracy of 0.78 to 0.82.  A
 * line per epoch, the book's figure (lenet.png), and `final test accuracy: X`.
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "lenet.h"

static const bk_sample lenet = { .prog = "lenet", .m = &lenet_model, .epochs = 10,
    .about = "LeNet-5 on Fashion-MNIST (samples/book/lenet.nn).",
    .title = "LeNet-5 on Fashion-MNIST: sigmoid, average pooling, SGD lr 0.9, batch 256" };
BK_MAIN(lenet)
