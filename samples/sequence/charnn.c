/*
 * charnn.c: a character-level RNN (samples/sequence/charnn.nn) trained on a
 * text file, by default samples/sequence/text.txt (the Gettysburg Address
 * and the Declaration of Independence, both in the public domain).  Every
 * character is a token (nnrt_text_load); the first 90% of the text trains,
 * the rest validates.  Each epoch cuts the training text into disjoint
 * windows of T characters from a random offset and shuffles them (the
 * book's random sampling); each batch is backward, gradient clipping by
 * global norm here in C (PyTorch's clip_grad_norm_, max norm 1), then
 * Adam's update.  Prints the perplexity, exp of the mean cross-entropy per
 * character, per epoch, then text generated from a prompt by feeding the
 * model its own predictions: greedy, and sampled from its softmax with the
 * runtime's Philox generator.  Plots the perplexities (charnn.png).
 *
 *     charnn [TEXT] [options]
 *
 * Exits 1 unless the training perplexity is finite and fell below its
 * value before training (make check runs --quick: 3 epochs, no plot).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../chapter/common.h"
#include "charnn.h"

enum {
    T = sizeof(((charnn_inputs *)0)->x[0]) / sizeof(int32_t),
    V = sizeof(((charnn_outputs *)0)->P[0][0]) / sizeof(float),
    GEN = 300,                        /* characters generated */
};
/* clip_grad_norm reads the gradients as floats. */
_Static_assert(sizeof(((charnn_params *)0)->Wh[0][0]) == sizeof(float), "f32 params");

static const double MAX_NORM = 1;     /* the book's theta */
static const char PROMPT[] = "The people ";

/* torch.nn.utils.clip_grad_norm_(params, max_norm): the L2 norm of every
 * param's gradient together; when it is above max_norm, each gradient is
 * scaled by max_norm / (norm + 1e-6).  Returns the norm before clipping. */
static double clip_grad_norm(const nnrt_model *m, void *grads, double max_norm)
{
    double sq = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].role == NNRT_PARAM) {
            const float *g = (const float *)((char *)grads + m->tensors[i].offset);
            for (size_t k = 0; k < m->tensors[i].size / sizeof *g; k++)
                sq += (double)g[k] * g[k];
        }
    double norm = sqrt(sq), scale = max_norm / (norm + 1e-6);
    if (scale < 1)
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].role == NNRT_PARAM) {
                float *g = (float *)((char *)grads + m->tensors[i].offset);
                for (size_t k = 0; k < m->tensors[i].size / sizeof *g; k++)
                    g[k] = (float)(g[k] * scale);
            }
    return norm;
}

/* Disjoint windows of T characters of ids[0 .. n) from offset on, with
 * their next characters, borrowed. */
static void windows(const ch_options *o, nnrt_tensorset *ts, const int32_t *ids, size_t n,
                    size_t offset)
{
    char err[256];
    nnrt_tensorset_free(ts);
    if (nnrt_tensorset_add_windows(ts, "x", "y", ids + offset, n - offset, T, T,
                                   NNRT_DATA_BORROW, err, sizeof err))
        support_die(o->prog, "windows: %s", err);
}

static double perplexity(const ch_options *o, const charnn_params *p, const charnn_state *s,
                         const nnrt_tensorset *ts)
{
    return exp(ch_mean_output(o, &charnn_model, p, s, ts, "L"));
}

/* Appends n characters to seq[0 .. len): each from the distribution P
 * predicts after the last T characters (fewer at first), the most likely
 * one when u is NULL, else the one whose cumulative probability passes
 * u[i], a uniform draw in (0, 1). */
static void generate(const ch_options *o, const charnn_params *p, const charnn_state *s,
                     charnn_inputs *in, charnn_outputs *out, void *ws, int32_t *seq, int len,
                     int n, const double *u)
{
    in->batch = 1;
    for (int i = 0; i < n; i++, len++) {
        int from = len > T ? len - T : 0, w = len - from;
        memcpy(in->x[0], seq + from, (size_t)w * sizeof *seq);
        int rc = charnn_forward(p, s, in, out, ws);
        if (rc)
            support_die(o->prog, "forward: %s", nnrt_strerror(rc));
        const float *pr = out->P[0][w - 1];
        int c = 0;
        if (!u) {
            for (int k = 1; k < V; k++)
                if (pr[k] > pr[c])
                    c = k;
        } else {
            double cum = pr[0];
            while (c < V - 1 && cum < u[i])
                cum += pr[++c];
        }
        seq[len] = c;
    }
}

static void print_text(const nnrt_vocab *v, const int32_t *seq, int n)
{
    for (int i = 0; i < n; i++)
        fputs(v->tokens[seq[i]], stdout);
    printf("\n");
}

static void plot(const ch_options *o, const double (*ppl)[2], int epochs)
{
    FILE *g = ch_plot_begin(o, "charnn.png", 640, 400);
    if (!g)
        return;
    fprintf(g, "set title 'Character-level RNN, %d steps: perplexity per character'\n"
               "set xlabel 'epoch'\nset ylabel 'perplexity (log scale)'\nset logscale y\n"
               "set grid\nset key top right\n$d << EOD\n", T);
    for (int e = 0; e <= epochs; e++)
        fprintf(g, "%d %g %g\n", e, ppl[e][0], ppl[e][1]);
    fprintf(g, "EOD\nplot $d using 1:2 with lines lw 2 title 'training (90%% of the text)', \\\n"
               "     $d using 1:3 with lines lw 2 title 'validation (the last 10%%)'\n");
    ch_plot_end(o, g, "charnn.png");
}

int main(int argc, char **argv)
{
    ch_options o = { .prog = "charnn",
                     .about = "A character-level RNN (samples/sequence/charnn.nn) trained on "
                              "the text file given\nas the first argument (default "
                              "samples/sequence/text.txt), and text it generates.",
                     .accepts = CH_OPT_SEED | CH_OPT_EPOCHS, .seed = 1, .epochs = 60 };
    const char *path = "samples/sequence/text.txt";
    if (argc > 1 && argv[1][0] != '-') {
        path = argv[1];
        argv[1] = argv[0];
        argc--, argv++;
    }
    ch_parse(argc, argv, &o);
    if (o.quick)
        o.epochs = 3;
    double t0 = ch_now();

    char err[512];
    nnrt_vocab v = { 0 };
    nnrt_text text;
    if (nnrt_text_load(path, &v, NNRT_TEXT_CHARS, 0, &text, err, sizeof err))
        support_die(o.prog, "%s", err);
    if (v.size > V)
        support_die(o.prog, "%s has %d distinct characters with <unk>, the model was compiled "
                    "for V = %d (nnc -D V=%d)", path, v.size, V, v.size);
    size_t n_train = text.n / 10 * 9;
    if (text.n - n_train < T + 1)
        support_die(o.prog, "%s: %zu characters are too few", path, text.n);
    printf("%s: %zu characters, %d tokens (<unk> included); %zu to train, %zu to validate\n",
           path, text.n, v.size, n_train, text.n - n_train);

    charnn_params *p = ch_alloc(sizeof *p), *grad = ch_alloc(sizeof *grad);
    charnn_state *s = ch_alloc(sizeof *s);
    charnn_inputs *in = ch_alloc(sizeof *in);
    charnn_outputs *out = ch_alloc(sizeof *out);
    void *ws = ch_alloc(charnn_model.workspace_size);
    charnn_init(p, s, o.seed);
    charnn_set_defaults(in);

    nnrt_tensorset train = { 0 }, valid = { 0 };
    windows(&o, &valid, text.ids + n_train, text.n - n_train, 0);
    windows(&o, &train, text.ids, n_train, 0);
    uint32_t *perm = ch_alloc(train.n * sizeof *perm);
    int32_t *offset = ch_alloc((size_t)o.epochs * sizeof *offset);
    ch_uniform_int(offset, (size_t)o.epochs, T, o.seed, "offsets");
    double (*ppl)[2] = ch_alloc((size_t)(o.epochs + 1) * sizeof *ppl);

    ppl[0][0] = perplexity(&o, p, s, &train);
    ppl[0][1] = perplexity(&o, p, s, &valid);
    printf("before training: perplexity %.2f, validation %.2f (%d tokens equally likely: %d)\n",
           ppl[0][0], ppl[0][1], V, V);
    for (int e = 1; e <= o.epochs; e++) {
        windows(&o, &train, text.ids, n_train, (size_t)offset[e - 1]);
        nnrt_shuffle(perm, train.n, o.seed, (uint64_t)e);
        double loss = 0, max_norm = 0;
        int clipped = 0, steps = 0;
        size_t rows;
        for (size_t at = 0; at < train.n; at += rows, steps++) {
            if (nnrt_tensorset_batch(&train, &charnn_model, in, perm, at, &rows, err, sizeof err))
                support_die(o.prog, "batch: %s", err);
            int rc = charnn_backward(p, s, in, out, grad, ws);
            if (rc)
                support_die(o.prog, "backward: %s", nnrt_strerror(rc));
            double norm = clip_grad_norm(&charnn_model, grad, MAX_NORM);
            clipped += norm > MAX_NORM;
            max_norm = fmax(max_norm, norm);
            if ((rc = charnn_update(p, s, grad, in)))
                support_die(o.prog, "update: %s", nnrt_strerror(rc));
            loss += out->L * (double)rows;
        }
        ppl[e][0] = exp(loss / (double)train.n);
        ppl[e][1] = perplexity(&o, p, s, &valid);
        printf("epoch %3d: perplexity %6.2f, validation %6.2f; gradient norm up to %5.2f, "
               "clipped in %d of %d steps (%.1f s)\n", e, ppl[e][0], ppl[e][1], max_norm,
               clipped, steps, ch_now() - t0);
    }

    /* The prompt's ids, then the model's own predictions. */
    int32_t seq[sizeof PROMPT + GEN];
    size_t np;
    double u[GEN];
    int64_t n_u = GEN;
    if (nnrt_vocab_encode(&v, PROMPT, strlen(PROMPT), seq, sizeof PROMPT, &np, err, sizeof err)
        || nnrt_init_tensor(NNRT_F64, u, 1, &n_u, NNRT_INIT_UNIFORM, 0, 1, o.seed,
                            nnrt_stream_id("sampling")))
        support_die(o.prog, "generate: %s", err);
    int gen = o.quick ? 40 : GEN;
    printf("\ngreedy, from \"%s\":\n", PROMPT);
    generate(&o, p, s, in, out, ws, seq, (int)np, gen, NULL);
    print_text(&v, seq, (int)np + gen);
    printf("\nsampled from the softmax, from \"%s\":\n", PROMPT);
    generate(&o, p, s, in, out, ws, seq, (int)np, gen, u);
    print_text(&v, seq, (int)np + gen);
    printf("\n");

    plot(&o, (const double (*)[2])ppl, o.epochs);

    double last = ppl[o.epochs][0];
    int ok = isfinite(last) && last < ppl[0][0];
    printf("%s: training perplexity %.2f -> %.2f in %d epochs (%.1f s)\n", ok ? "ok" : "FAILED",
           ppl[0][0], last, o.epochs, ch_now() - t0);
    nnrt_tensorset_free(&train), nnrt_tensorset_free(&valid);
    nnrt_free(perm), nnrt_free(offset), nnrt_free(ppl);
    nnrt_free(p), nnrt_free(grad), nnrt_free(s), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    nnrt_text_free(&text);
    nnrt_vocab_free(&v);
    return ok ? 0 : 1;
}
