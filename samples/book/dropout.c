/*
 * dropout.c: the book's MLP with dropout on Fashion-MNIST (d2l.ai,
 * "Dropout"): samples/book/dropout.nn, 784-256-256-10 with dropout 0.2 and
 * 0.5 after the hidden layers, SGD at lr 0.5 on minibatches of 256 for 10
 * epochs.  The training accuracy is that of the steps, with units dropped;
 * the test accuracy comes from forward, with none.  A line per epoch,
 * dropout.png, `final test accuracy: X`.  (samples/chapter/dropout.c
 * trains it against the same network without dropout.)
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "dropout.h"

static const bk_sample dropout = { .prog = "dropout", .m = &dropout_model, .epochs = 10,
    .about = "The MLP with dropout on Fashion-MNIST (samples/book/dropout.nn).",
    .title = "MLP 784-256-256-10 with dropout 0.2, 0.5 on Fashion-MNIST: SGD lr 0.5, batch 256" };
BK_MAIN(dropout)
