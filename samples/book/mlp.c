/*
 * mlp.c: the book's multilayer perceptron on Fashion-MNIST (d2l.ai,
 * "Concise Implementation of Multilayer Perceptrons"), whose model is the
 * demo's, samples/fashion_mnist.nn: 784-256-10 with ReLU, weights from
 * N(0, 0.01^2), SGD at lr 0.1 on minibatches of 256 for 10 epochs.  A line
 * per epoch, the book's figure (mlp.png), `final test accuracy: X`.
 * (samples/train.c trains the same model with checkpoints and --resume.)
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "fashion_mnist.h"

static const bk_sample mlp = { .prog = "mlp", .m = &fashion_mnist_model, .epochs = 10,
    .about = "The 784-256-10 MLP on Fashion-MNIST (samples/fashion_mnist.nn).",
    .title = "MLP 784-256-10 on Fashion-MNIST: ReLU, SGD lr 0.1, batch 256" };
BK_MAIN(mlp)
