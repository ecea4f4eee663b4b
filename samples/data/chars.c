/*
 * chars.c: text as token ids, on a character bigram model
 * (samples/data/bigram.nn): read a training and a validation text file
 * with the textbook's preprocessing (letters only, lower case, each run of
 * anything else one space), one character vocabulary for both, every pair
 * of consecutive characters an example (windows of 1 step and their next
 * token), two epochs of SGD, and the validation perplexity, exp of the mean
 * cross-entropy over every pair, after each.
 *
 *     chars TRAIN.txt VALID.txt
 *
 * docs/runtime.md, "Data: text as token ids", walks through it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <nnrt.h>

#include "bigram.h"

static void die(const char *what, const char *err)
{
    fprintf(stderr, "chars: %s: %s\n", what, err);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: chars TRAIN.txt VALID.txt\n");
        return 2;
    }
    char err[512];
    nnrt_vocab v = {0};
    nnrt_text train, valid;
    if (nnrt_text_load(argv[1], &v, NNRT_TEXT_CHARS | NNRT_TEXT_LETTERS | NNRT_TEXT_LOWER, 0,
                       &train, err, sizeof err))
        die("training text", err);
    if (nnrt_text_load(argv[2], &v, 0, 0, &valid, err, sizeof err))    /* v's ids */
        die("validation text", err);
    const nnrt_tensor *E = nnrt_find(&bigram_model, "E");
    if (!E || v.size > E->dims[0]) {
        fprintf(stderr, "chars: %d tokens, the model was compiled for V = %lld\n", v.size,
                E ? (long long)E->dims[0] : -1LL);
        return 1;
    }
    printf("%zu training and %zu validation characters, %d tokens:", train.n, valid.n, v.size);
    for (int32_t i = 0; i < v.size; i++)
        printf(" '%s'", v.tokens[i]);
    printf("\n");

    /* Example k: x = ids[k], y = ids[k + 1]; borrowed, no copy. */
    nnrt_tensorset tr = {0}, va = {0};
    if (nnrt_tensorset_add_windows(&tr, "x", "y", train.ids, train.n, 1, 1, NNRT_DATA_BORROW, err,
                                   sizeof err)
        || nnrt_tensorset_add_windows(&va, "x", "y", valid.ids, valid.n, 1, 1, NNRT_DATA_BORROW,
                                      err, sizeof err))
        die("windows", err);

    bigram_params *p = nnrt_alloc(sizeof *p);
    bigram_state *s = nnrt_alloc(sizeof *s);
    bigram_inputs *in = nnrt_alloc(sizeof *in);
    bigram_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(bigram_model.workspace_size);
    uint32_t *perm = malloc(tr.n * sizeof *perm);
    if (!p || !s || !in || !out || !ws || !perm)
        die("memory", "out of memory");
    bigram_init(p, s, 1);
    bigram_set_defaults(in);
    for (int64_t i = 0; i < E->dims[0]; i++)  /* an input without a column: ours to set */
        in->ids[0][i] = (float)i;

    double L;
    const char *names[1] = {"L"};
    if (nnrt_evaluate(&bigram_model, p, s, in, &va, names, 1, &L, err, sizeof err))
        die("evaluate", err);
    printf("before training: validation perplexity %.3f\n", exp(L));
    for (int epoch = 1; epoch <= 2; epoch++) {
        nnrt_shuffle(perm, tr.n, 1, (uint64_t)epoch);
        size_t rows;
        for (size_t at = 0; at < tr.n; at += rows) {
            if (nnrt_tensorset_batch(&tr, &bigram_model, in, perm, at, &rows, err, sizeof err))
                die("batch", err);
            int rc = bigram_train_step(p, s, in, out, ws);
            if (rc)
                die("train step", nnrt_strerror(rc));
        }
        if (nnrt_evaluate(&bigram_model, p, s, in, &va, names, 1, &L, err, sizeof err))
            die("evaluate", err);
        printf("epoch %d: validation perplexity %.3f\n", epoch, exp(L));
    }

    free(perm);
    nnrt_free(ws);
    nnrt_free(out);
    nnrt_free(in);
    nnrt_free(s);
    nnrt_free(p);
    nnrt_text_free(&train);
    nnrt_text_free(&valid);
    nnrt_vocab_free(&v);
    return 0;
}
