/*
 * adam.c: the book's MLP (784-256-10, ReLU) on Fashion-MNIST trained by
 * AdamW with a learning-rate schedule (d2l.ai, "Adam", "Learning Rate
 * Scheduling"): samples/book/adam.nn, minibatches of 256 for 10 epochs,
 * the lr hyper set before every step: a linear warm-up to 0.001 over the
 * first epoch, then a cosine decay to 0 at the last step.  A line per
 * epoch with the lr, adam.png (the curves and the schedule), and
 * `final test accuracy: X`.
 *
 * --quick (make check-book): 3 epochs on synthetic data; exits 1 only if a
 * loss is not finite or the loss did not fall.
 */
#include "book.h"
#include "adam.h"

static const bk_schedule warmup_cosine = { .peak = 0.001, .warmup_epochs = 1, .decay = BK_COSINE };

static const bk_sample adam = { .prog = "adam", .m = &adam_model, .epochs = 10,
    .sched = &warmup_cosine,
    .about = "An MLP on Fashion-MNIST by AdamW, the lr warmed up and decayed "
             "(samples/book/adam.nn).",
    .title = "MLP 784-256-10 on Fashion-MNIST: AdamW, warm-up and cosine decay, batch 256" };
BK_MAIN(adam)
