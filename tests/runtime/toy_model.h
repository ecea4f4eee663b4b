/*
 * toy_model.h: a model written by hand in C the way nnc generates one, to
 * test the runtime's generic tools (checkpoints, gradient check) without
 * the compiler.  In the language it would read
 *
 *     param  W : T[3, 4] = xavier_uniform()
 *     param  b : T[3]
 *     input  aW : T[3, 4];  input ab : T[3]
 *     hyper  lam : T = 1
 *     norm = sum(W * W) + sum(b * b)
 *     J = lam / 2 * norm + sum(aW * W) + sum(ab * b) + sum(tanh(W)) + sum(tanh(b))
 *     output norm
 *     minimize J
 *     optimizer sgd(lr = 0.1, momentum = 0.9)
 *
 * so dJ/dw = lam w + a + 1 - tanh(w)^2.  A template: define TOY (the name
 * prefix), TOY_T (double or float) and TOY_DT (NNRT_F64 or NNRT_F32), then
 * include it; it may be included once per prefix.  Besides TOY_model it
 * defines TOY_model_wrong, whose backward gets dJ/db wrong (it forgets the
 * tanh term), as a plausible autodiff bug would.
 */
#include <math.h>
#include <stddef.h>

#include "nnrt.h"

#define TOY_CAT_(a, b) a##_##b
#define TOY_CAT(a, b) TOY_CAT_(a, b)
#define TOY_N(x) TOY_CAT(TOY, x)

typedef struct TOY_N(params) {
    _Alignas(64) TOY_T W[3][4];
    _Alignas(64) TOY_T b[3];
} TOY_N(params);

typedef struct TOY_N(inputs) {
    _Alignas(64) TOY_T aW[3][4];
    _Alignas(64) TOY_T ab[3];
    _Alignas(64) TOY_T lam;
} TOY_N(inputs);

typedef struct TOY_N(outputs) {
    _Alignas(64) TOY_T norm;
    _Alignas(64) TOY_T J;
} TOY_N(outputs);

typedef struct TOY_N(state) {
    _Alignas(64) TOY_T W[3][4];
    _Alignas(64) TOY_T b[3];
} TOY_N(state);

static const int64_t TOY_N(dims_W)[2] = {3, 4};
static const int64_t TOY_N(dims_b)[1] = {3};

static void TOY_N(init)(void *p, uint64_t seed)
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
}

static int TOY_N(forward)(const void *params, const void *inputs, void *outputs, void *ws)
{
    const TOY_N(params) *p = params;
    const TOY_N(inputs) *in = inputs;
    TOY_N(outputs) *out = outputs;
    TOY_T norm = 0, lin = 0, th = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            norm += p->W[i][j] * p->W[i][j];
            lin += in->aW[i][j] * p->W[i][j];
            th += (TOY_T)tanh(p->W[i][j]);
        }
        norm += p->b[i] * p->b[i];
        lin += in->ab[i] * p->b[i];
        th += (TOY_T)tanh(p->b[i]);
    }
    out->norm = norm;
    out->J = in->lam / 2 * norm + lin + th;
    return 0;
}

static int TOY_N(backward_either)(const void *params, const void *inputs, void *outputs,
                                  void *grads, void *ws, int wrong)
{
    const TOY_N(params) *p = params;
    const TOY_N(inputs) *in = inputs;
    TOY_N(params) *g = grads;
    TOY_N(forward)(params, inputs, outputs, ws);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            TOY_T t = (TOY_T)tanh(p->W[i][j]);
            g->W[i][j] = in->lam * p->W[i][j] + in->aW[i][j] + 1 - t * t;
        }
        TOY_T t = (TOY_T)tanh(p->b[i]);
        g->b[i] = in->lam * p->b[i] + in->ab[i] + (wrong ? 0 : 1 - t * t);
    }
    return 0;
}

static int TOY_N(backward)(const void *params, const void *inputs, void *outputs, void *grads,
                           void *ws)
{
    return TOY_N(backward_either)(params, inputs, outputs, grads, ws, 0);
}

static int TOY_N(backward_wrong)(const void *params, const void *inputs, void *outputs,
                                 void *grads, void *ws)
{
    return TOY_N(backward_either)(params, inputs, outputs, grads, ws, 1);
}

/* SGD with momentum, as torch.optim.SGD: v = 0.9 v + g; p -= 0.1 v. */
static int TOY_N(train_step)(void *params, void *state, const void *inputs, void *outputs,
                             void *ws)
{
    TOY_N(params) *p = params, g;
    TOY_N(state) *v = state;
    TOY_N(backward)(params, inputs, outputs, &g, ws);
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

static const nnrt_tensor TOY_N(tensors)[] = {
    {"aW", NNRT_INPUT, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(inputs), aW), 12 * sizeof(TOY_T), 0},
    {"ab", NNRT_INPUT, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(inputs), ab), 3 * sizeof(TOY_T), 0},
    {"lam", NNRT_HYPER, TOY_DT, 0, NULL, offsetof(TOY_N(inputs), lam), sizeof(TOY_T), 1},
    {"W", NNRT_PARAM, TOY_DT, 2, TOY_N(dims_W), offsetof(TOY_N(params), W), 12 * sizeof(TOY_T), 0},
    {"b", NNRT_PARAM, TOY_DT, 1, TOY_N(dims_b), offsetof(TOY_N(params), b), 3 * sizeof(TOY_T), 0},
    {"norm", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), norm), sizeof(TOY_T), 0},
    {"J", NNRT_OUTPUT, TOY_DT, 0, NULL, offsetof(TOY_N(outputs), J), sizeof(TOY_T), 0},
};

static const nnrt_model TOY_N(model) = {
    NNRT_ABI_VERSION, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state)), 64,
    7, TOY_N(tensors), "J",
    TOY_N(init), TOY_N(set_defaults), TOY_N(forward), TOY_N(backward), TOY_N(train_step),
};

__attribute__((unused)) static const nnrt_model TOY_N(model_wrong) = {
    NNRT_ABI_VERSION, "toy",
    sizeof(TOY_N(params)), sizeof(TOY_N(inputs)), sizeof(TOY_N(outputs)), sizeof(TOY_N(state)), 64,
    7, TOY_N(tensors), "J",
    TOY_N(init), TOY_N(set_defaults), TOY_N(forward), TOY_N(backward_wrong), TOY_N(train_step),
};

#undef TOY_N
