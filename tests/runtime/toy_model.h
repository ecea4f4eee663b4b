/*
 * toy_model.h: a model written by hand in C the way nnc generates one, to
 * test the runtime's generic tools (checkpoints, gradient check) without
 * the compiler.  In the language (version 2) it would read
 *
 *     dim    n = 3                          # 1 <= n <= 3 at run time
 *     param  W : T[3, 4] = xavier_uniform()
 *     param  b : T[3]
 *     input  aW : T[3, 4];  input ab : T[n]
 *     hyper  lam : T = 1
 *     state  r : T[3] = ones()              # a "running statistic"
 *     norm = sum(W * W) + sum(b * b)
 *     J = lam / 2 * norm + sum(aW * W) + sum(ab * b[:n]) + sum(tanh(W)) + sum(tanh(b))
 *         (+ sum(r * b) in training mode, with r as on entry; then r += 1)
 *     output norm
 *     minimize J
 *     optimizer sgd(lr = 0.1, momentum = 0.9)
 *
 * so dJ/dw = lam w + a + 1 - tanh(w)^2 (+ r for b, in training mode).  The
 * r term makes the training objective (backward) differ from the
 * evaluation one (forward), and backward's update of r makes every call
 * see another state unless it is given a fresh copy: what a gradient check
 * of a model with dropout or batch_norm must get right.
 *
 * A template: define TOY (the name prefix), TOY_T (double or float) and
 * TOY_DT (NNRT_F64 or NNRT_F32), then include it; it may be included once
 * per prefix.  It defines, all named "toy" so that they read each other's
 * checkpoints:
 *   TOY_model        version 2: state {seed, step, r, W and b momentum
 *                    buffers}, update and train_step;
 *   TOY_model_eval   version 2, the evaluation build: state {seed, step, r},
 *                    no optimizer;
 *   TOY_model_v1     version 1 (nnrt_model_v1): no dim, no state tensor;
 *                    J without the r term over all of ab; its state is the
 *                    momentum buffers alone (TOY_state_v1);
 *   TOY_model_wrong, TOY_model_v1_wrong: backward gets dJ/db wrong (it
 *                    forgets the tanh term), as a plausible autodiff bug would.
 * Pass a version-1 descriptor to the runtime as (const nnrt_model *)&TOY_model_v1.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "nnrt.h"

#define TOY_CAT_(a, b) a##_##b
#define TOY_CAT(a, b) TOY_CAT_(a, b)
#define TOY_N(x) TOY_CAT(TOY, x)

/* Indices into TOY_tensors (version 2) and TOY_tensors_v1. */
#ifndef TOY_INDICES
#define TOY_INDICES
enum { TOY_N_DIM = 0, TOY_AW = 1, TOY_AB = 2, TOY_LAM = 3, TOY_W = 4, TOY_B = 5, TOY_R = 6,
       TOY_NORM = 7, TOY_J = 8, TOY_N_TENSORS = 9 };
enum { TOY_V1_W = 3, TOY_V1_B = 4, TOY_V1_N_TENSORS = 7 };
#endif

typedef struct TOY_N(params) {
    _Alignas(64) TOY_T W[3][4];
    _Alignas(64) TOY_T b[3];
} TOY_N(params);

typedef struct TOY_N(inputs) {
    _Alignas(64) TOY_T aW[3][4];
    _Alignas(64) TOY_T ab[3];
    _Alignas(64) TOY_T lam;
    _Alignas(64) int64_t n;           /* the dim (version 2 only) */
} TOY_N(inputs);

typedef struct TOY_N(outputs) {
    _Alignas(64) TOY_T norm;
    _Alignas(64) TOY_T J;
} TOY_N(outputs);

typedef struct TOY_N(state) {
    uint64_t seed, step;
    _Alignas(64) TOY_T r[3];
    _Alignas(64) TOY_T W_momentum_buffer[3][4];
    _Alignas(64) TOY_T b_momentum_buffer[3];
} TOY_N(state);

typedef struct TOY_N(state_eval) {
    uint64_t seed, step;
    _Alignas(64) TOY_T r[3];
} TOY_N(state_eval);

typedef struct TOY_N(state_v1) {
    _Alignas(64) TOY_T W[3][4];
    _Alignas(64) TOY_T b[3];
} TOY_N(state_v1);

static const int64_t TOY_N(dims_W)[2] = {3, 4};
static const int64_t TOY_N(dims_b)[1] = {3};
static const char *const TOY_N(dim_names_ab)[1] = {"n"};

/* ---- The computation, shared by both versions ---- */

static void TOY_N(init_params)(void *p, uint64_t seed)
{
    TOY_N(params) *q = p;
    nnrt_init_tensor(TOY_DT, q->W, 2, TOY_N(dims_W), NNRT_INIT_XAVIER_UNIFORM, 1, 0, seed,
                     nnrt_stream_id("W"));
    nnrt_init_tensor(TOY_DT, q->b, 1, TOY_N(dims_b), NNRT_INIT_DEFAULT, 0, 0, seed,
                     nnrt_stream_id("b"));
}

static void TOY_N(set_defaults)(void *in)
{
    ((TOY_N(inputs) *)in)->lam = 1;
    ((TOY_N(inputs) *)in)->n = 3;
}

/* J over the first n entries of ab, plus sum(r * b) when r is not NULL;
 * and when g is not NULL, its gradient. */
static void TOY_N(compute)(const TOY_N(params) *p, const TOY_N(inputs) *in, int64_t n,
                           const TOY_T *r, TOY_N(outputs) *out, TOY_N(params) *g, int wrong)
{
    TOY_T norm = 0, lin = 0, th = 0, rb = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            norm += p->W[i][j] * p->W[i][j];
            lin += in->aW[i][j] * p->W[i][j];
            th += (TOY_T)tanh(p->W[i][j]);
        }
        norm += p->b[i] * p->b[i];
        lin += i < n ? in->ab[i] * p->b[i] : 0;
        th += (TOY_T)tanh(p->b[i]);
        rb += r ? r[i] * p->b[i] : 0;
    }
    for (int i = 0; g && i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            TOY_T t = (TOY_T)tanh(p->W[i][j]);
            g->W[i][j] = in->lam * p->W[i][j] + in->aW[i][j] + 1 - t * t;
        }
        TOY_T t = (TOY_T)tanh(p->b[i]);
        g->b[i] = in->lam * p->b[i] + (i < n ? in->ab[i] : 0) + (wrong ? 0 : 1 - t * t)
                  + (r ? r[i] : 0);
    }
    out->norm = norm;
    out->J = in->lam / 2 * norm + lin + th + rb;
}

/* ---- Version 2 ---- */

static void TOY_N(init)(void *p, void *s, uint64_t seed)
{
    TOY_N(init_params)(p, seed);
    TOY_N(state_eval) *st = s;          /* the head and r: common to both state structs */
    st->seed = seed;
    st->step = 0;
    for (int i = 0; i < 3; i++)
        st->r[i] = 1;
}

static void TOY_N(init_train)(void *p, void *s, uint64_t seed)
{
    memset(s, 0, sizeof(TOY_N(state)));
    TOY_N(init)(p, s, seed);
}

static void TOY_N(init_eval)(void *p, void *s, uint64_t seed)
{
    memset(s, 0, sizeof(TOY_N(state_eval)));
    TOY_N(init)(p, s, seed);
}

static int TOY_N(forward)(const void *params, const void *state, const void *inputs,
                          void *outputs, void *ws)
{
    const TOY_N(inputs) *in = inputs;
    if (in->n < 1 || in->n > 3)
        return NNRT_ESHAPE;
    TOY_N(compute)(params, in, in->n, NULL, outputs, NULL, 0);
    return 0;
}

static int TOY_N(backward_either)(const void *params, void *state, const void *inputs,
                                  void *outputs, void *grads, int wrong)
{
    const TOY_N(inputs) *in = inputs;
    TOY_N(state_eval) *s = state;
    if (in->n < 1 || in->n > 3)
        return NNRT_ESHAPE;
    TOY_N(compute)(params, in, in->n, s->r, outputs, grads, wrong);
    for (int i = 0; i < 3; i++)
        s->r[i] += 1;
    return 0;
}

static int TOY_N(backward)(const void *params, void *state, const void *inputs, void *outputs,
                           void *grads, void *ws)
{
    return TOY_N(backward_either)(params, state, inputs, outputs, grads, 0);
}

static int TOY_N(backward_wrong)(const void *params, void *state, const void *inputs,
                                 void *outputs, void *grads, void *ws)
{
    return TOY_N(backward_either)(params, state, inputs, outputs, grads, 1);
}

/* SGD with momentum, as torch.optim.SGD: the buffer is the gradient at the
 * first step, then v = 0.9 v + g; p -= 0.1 v. */
static int TOY_N(update)(void *params, void *state, const void *grads, const void *inputs)
{
    TOY_N(params) *p = params;
    const TOY_N(params) *g = grads;
    TOY_N(state) *s = state;
    TOY_T keep = s->step == 0 ? 0 : (TOY_T)0.9;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            s->W_momentum_buffer[i][j] = keep * s->W_momentum_buffer[i][j] + g->W[i][j];
            p->W[i][j] -= (TOY_T)0.1 * s->W_momentum_buffer[i][j];
        }
        s->b_momentum_buffer[i] = keep * s->b_momentum_buffer[i] + g->b[i];
        p->b[i] -= (TOY_T)0.1 * s->b_momentum_buffer[i];
    }
    s->step++;
    return 0;
}

static int TOY_N(train_step)(void *params, void *state, const void *inputs, void *outputs,
                             void *ws)
{
    TOY_N(params) g;
    int rc = TOY_N(backward)(params, state, inputs, outputs, &g, ws);
    return rc ? rc : TOY_N(update)(params, state, &g, inputs);
}

static const nnrt_tensor TOY_N(tensors)[] = {
    {"n", NNRT_DIM, NNRT_I64, 0, NULL, offsetof(TOY_N(inputs), n), sizeof(int64_t), 3, NULL},
    {"aW", NNRT_INPUT, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(inputs), aW), 12 * sizeof(TOY_T), 0, NULL},
    {"ab", NNRT_INPUT, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(inputs), ab), 3 * sizeof(TOY_T), 0,
     TOY_N(dim_names_ab)},
    {"lam", NNRT_HYPER, TOY_DT, 0, NULL, offsetof(TOY_N(inputs), lam), sizeof(TOY_T), 1, NULL},
    {"W", NNRT_PARAM, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(params), W), 12 * sizeof(TOY_T), 0, NULL},
    {"b", NNRT_PARAM, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(params), b), 3 * sizeof(TOY_T), 0, NULL},
    {"r", NNRT_STATE, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(state), r), 3 * sizeof(TOY_T), 0, NULL},
    {"norm", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), norm), sizeof(TOY_T), 0, NULL},
    {"J", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), J), sizeof(TOY_T), 0, NULL},
};

static const nnrt_model TOY_N(model) = {
    NNRT_ABI_VERSION, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state)), 64,
    TOY_N_TENSORS, TOY_N(tensors), "J",
    TOY_N(init_train), TOY_N(set_defaults), TOY_N(forward), TOY_N(backward), TOY_N(train_step),
    TOY_N(update),
};

__attribute__((unused)) static const nnrt_model TOY_N(model_wrong) = {
    NNRT_ABI_VERSION, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state)), 64,
    TOY_N_TENSORS, TOY_N(tensors), "J",
    TOY_N(init_train), TOY_N(set_defaults), TOY_N(forward), TOY_N(backward_wrong), TOY_N(train_step),
    TOY_N(update),
};

__attribute__((unused)) static const nnrt_model TOY_N(model_eval) = {
    NNRT_ABI_VERSION, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state_eval)),
    64, TOY_N_TENSORS, TOY_N(tensors), "J",
    TOY_N(init_eval), TOY_N(set_defaults), TOY_N(forward), TOY_N(backward), NULL, NULL,
};

/* ---- Version 1 ---- */

static int TOY_N(forward_v1)(const void *params, const void *inputs, void *outputs, void *ws)
{
    TOY_N(compute)(params, inputs, 3, NULL, outputs, NULL, 0);
    return 0;
}

static int TOY_N(backward_v1)(const void *params, const void *inputs, void *outputs, void *grads,
                              void *ws)
{
    TOY_N(compute)(params, inputs, 3, NULL, outputs, grads, 0);
    return 0;
}

static int TOY_N(backward_v1_wrong)(const void *params, const void *inputs, void *outputs,
                                    void *grads, void *ws)
{
    TOY_N(compute)(params, inputs, 3, NULL, outputs, grads, 1);
    return 0;
}

static int TOY_N(train_step_v1)(void *params, void *state, const void *inputs, void *outputs,
                                void *ws)
{
    TOY_N(params) *p = params, g;
    TOY_N(state_v1) *v = state;
    TOY_N(backward_v1)(params, inputs, outputs, &g, ws);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            v->W[i][j] = (TOY_T)0.9 * v->W[i][j] + g.W[i][j];
            p->W[i][j] -= (TOY_T)0.1 * v->W[i][j];
        }
        v->b[i] = (TOY_T)0.9 * v->b[i] + g.b[i];
        p->b[i] -= (TOY_T)0.1 * v->b[i];
    }
    return 0;
}

static const nnrt_tensor_v1 TOY_N(tensors_v1)[] = {
    {"aW", NNRT_INPUT, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(inputs), aW), 12 * sizeof(TOY_T), 0},
    {"ab", NNRT_INPUT, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(inputs), ab), 3 * sizeof(TOY_T), 0},
    {"lam", NNRT_HYPER, TOY_DT, 0, NULL, offsetof(TOY_N(inputs), lam), sizeof(TOY_T), 1},
    {"W", NNRT_PARAM, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(params), W), 12 * sizeof(TOY_T), 0},
    {"b", NNRT_PARAM, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(params), b), 3 * sizeof(TOY_T), 0},
    {"norm", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), norm), sizeof(TOY_T), 0},
    {"J", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), J), sizeof(TOY_T), 0},
};

__attribute__((unused)) static const nnrt_model_v1 TOY_N(model_v1) = {
    1, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state_v1)), 64,
    TOY_V1_N_TENSORS, TOY_N(tensors_v1), "J",
    TOY_N(init_params), TOY_N(set_defaults), TOY_N(forward_v1), TOY_N(backward_v1),
    TOY_N(train_step_v1),
};

__attribute__((unused)) static const nnrt_model_v1 TOY_N(model_v1_wrong) = {
    1, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state_v1)), 64,
    TOY_V1_N_TENSORS, TOY_N(tensors_v1), "J",
    TOY_N(init_params), TOY_N(set_defaults), TOY_N(forward_v1), TOY_N(backward_v1_wrong),
    TOY_N(train_step_v1),
};

#undef TOY_N
