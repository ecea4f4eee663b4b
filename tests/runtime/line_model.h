/*
 * line_model.h: a model written by hand in C the way nnc generates one, to
 * test feeding models from tensorsets (runtime/feed.c) without the
 * compiler.  In the language (version 2) it would read
 *
 *     dim    batch <= 4
 *     input  x : f32[batch, 2]
 *     input  t : f64[batch]            # a regression target
 *     input  k : i32[batch]            # an index per example
 *     input  seq : i32[batch, 3]       # token windows (read by no output)
 *     input  s : f32                   # a scalar input: nothing to batch
 *     hyper  c : f32 = 0.5
 *     param  w : f32[2]
 *     pred = x @ w + c                 # computed in f64
 *     sq = (pred - t) ** 2             # f64[batch], one value per example
 *     J = mean(sq)                     # f64
 *     kmean = mean(k)                  # f32
 *     wsq = w * w                      # f32[2]: neither scalar nor per example
 *     output sq, J, kmean, wsq
 *
 * so every output is a closed form of the rows in use.  forward returns
 * NNRT_ESHAPE for a batch outside [1, 4] and NNRT_EINDEX for a negative k
 * in use, and it records each call's batch in line_seen[] and counts the
 * calls in line_calls (a test resets both before it starts).
 *
 * Descriptors:
 *   line_model        version 2, batch a runtime dim;
 *   line_model_fixed  version 2, a fixed batch of 4 (no dim: `const batch = 4`);
 *   line_model_v1     version 1 (nnrt_model_v1), a fixed batch of 4.
 * All three share the structs; the fixed builds ignore in->batch.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nnrt.h"

typedef struct line_params {
    _Alignas(64) float w[2];
} line_params;

typedef struct line_inputs {
    _Alignas(64) float x[4][2];
    _Alignas(64) double t[4];
    _Alignas(64) int32_t k[4];
    _Alignas(64) int32_t seq[4][3];
    _Alignas(64) float s;
    _Alignas(64) float c;
    _Alignas(64) int64_t batch;         /* the dim (line_model only) */
} line_inputs;

typedef struct line_outputs {
    _Alignas(64) double sq[4];
    _Alignas(64) double J;
    _Alignas(64) float kmean;
    _Alignas(64) float wsq[2];
} line_outputs;

typedef struct line_state {
    _Alignas(64) uint64_t seed;
    uint64_t step;
} line_state;

static int64_t line_seen[64];           /* the batch of each forward call */
static int line_calls;

static void line_init(void *p, void *s, uint64_t seed)
{
    line_params *q = p;
    q->w[0] = 0.5f;
    q->w[1] = -2.0f;
    memset(s, 0, sizeof(line_state));
    ((line_state *)s)->seed = seed;
}

static void line_init_v1(void *p, uint64_t seed)
{
    line_state s;
    line_init(p, &s, seed);
}

static void line_set_defaults(void *in)
{
    ((line_inputs *)in)->c = 0.5f;
    ((line_inputs *)in)->batch = 4;
}

/* The outputs over the first r rows. */
static int line_compute(const line_params *p, const line_inputs *in, int64_t r, line_outputs *out)
{
    if (r < 1 || r > 4)
        return NNRT_ESHAPE;
    for (int64_t i = 0; i < r; i++)
        if (in->k[i] < 0)
            return NNRT_EINDEX;
    if (line_calls < 64)
        line_seen[line_calls] = r;
    line_calls++;
    double sum = 0;
    float ksum = 0;
    for (int64_t i = 0; i < r; i++) {
        double pred = (double)in->x[i][0] * p->w[0] + (double)in->x[i][1] * p->w[1] + in->c;
        out->sq[i] = (pred - in->t[i]) * (pred - in->t[i]);
        sum += out->sq[i];
        ksum += (float)in->k[i];
    }
    out->J = sum / (double)r;
    out->kmean = ksum / (float)r;
    out->wsq[0] = p->w[0] * p->w[0];
    out->wsq[1] = p->w[1] * p->w[1];
    return 0;
}

static int line_forward(const void *params, const void *state, const void *inputs,
                        void *outputs, void *ws)
{
    return line_compute(params, inputs, ((const line_inputs *)inputs)->batch, outputs);
}

static int line_forward_fixed(const void *params, const void *state, const void *inputs,
                              void *outputs, void *ws)
{
    return line_compute(params, inputs, 4, outputs);
}

static int line_forward_v1(const void *params, const void *inputs, void *outputs, void *ws)
{
    return line_compute(params, inputs, 4, outputs);
}

static const int64_t line_dims_x[2] = {4, 2};
static const int64_t line_dims_seq[2] = {4, 3};
static const int64_t line_dims_4[1] = {4};
static const int64_t line_dims_2[1] = {2};
static const char *const line_names_x[2] = {"batch", NULL};
static const char *const line_names_1[1] = {"batch"};

/* Indices into line_tensors. */
enum { LINE_BATCH = 0, LINE_X = 1, LINE_T = 2, LINE_K = 3, LINE_SEQ = 4, LINE_S = 5,
       LINE_C = 6, LINE_W = 7, LINE_SQ = 8, LINE_J = 9, LINE_KMEAN = 10, LINE_WSQ = 11,
       LINE_N_TENSORS = 12 };

#define LINE_TENSORS(NAMES_X, NAMES_1)                                                          \
    {"x", NNRT_INPUT, NNRT_F32, 2, line_dims_x, offsetof(line_inputs, x), 8 * sizeof(float), 0, \
     NAMES_X},                                                                                 \
    {"t", NNRT_INPUT, NNRT_F64, 1, line_dims_4, offsetof(line_inputs, t), 4 * sizeof(double), 0, \
     NAMES_1},                                                                                 \
    {"k", NNRT_INPUT, NNRT_I32, 1, line_dims_4, offsetof(line_inputs, k), 4 * sizeof(int32_t), \
     0, NAMES_1},                                                                              \
    {"seq", NNRT_INPUT, NNRT_I32, 2, line_dims_seq, offsetof(line_inputs, seq),                \
     12 * sizeof(int32_t), 0, NAMES_X},                                                        \
    {"s", NNRT_INPUT, NNRT_F32, 0, NULL, offsetof(line_inputs, s), sizeof(float), 0, NULL},    \
    {"c", NNRT_HYPER, NNRT_F32, 0, NULL, offsetof(line_inputs, c), sizeof(float), 0.5, NULL},  \
    {"w", NNRT_PARAM, NNRT_F32, 1, line_dims_2, offsetof(line_params, w), 2 * sizeof(float), 0, \
     NULL},                                                                                    \
    {"sq", NNRT_OUTPUT, NNRT_F64, 1, line_dims_4, offsetof(line_outputs, sq), 4 * sizeof(double), \
     0, NAMES_1},                                                                              \
    {"J", NNRT_OUTPUT, NNRT_F64, 0, NULL, offsetof(line_outputs, J), sizeof(double), 0, NULL}, \
    {"kmean", NNRT_OUTPUT, NNRT_F32, 0, NULL, offsetof(line_outputs, kmean), sizeof(float), 0, \
     NULL},                                                                                    \
    {"wsq", NNRT_OUTPUT, NNRT_F32, 1, line_dims_2, offsetof(line_outputs, wsq), 2 * sizeof(float), \
     0, NULL}

static const nnrt_tensor line_tensors[] = {
    {"batch", NNRT_DIM, NNRT_I64, 0, NULL, offsetof(line_inputs, batch), sizeof(int64_t), 4, NULL},
    LINE_TENSORS(line_names_x, line_names_1),
};

static const nnrt_tensor line_tensors_fixed[] = {
    LINE_TENSORS(NULL, NULL),
};

static const nnrt_model line_model = {
    NNRT_ABI_VERSION, "line",
    sizeof(line_params), sizeof(line_inputs), sizeof(line_outputs), sizeof(line_state), 64,
    LINE_N_TENSORS, line_tensors, NULL,
    line_init, line_set_defaults, line_forward, NULL, NULL, NULL,
};

__attribute__((unused)) static const nnrt_model line_model_fixed = {
    NNRT_ABI_VERSION, "line_fixed",
    sizeof(line_params), sizeof(line_inputs), sizeof(line_outputs), sizeof(line_state), 64,
    LINE_N_TENSORS - 1, line_tensors_fixed, NULL,
    line_init, line_set_defaults, line_forward_fixed, NULL, NULL, NULL,
};

/* Version 1: the same entries in the shorter layout. */
static const nnrt_tensor_v1 line_tensors_v1[] = {
    {"x", NNRT_INPUT, NNRT_F32, 2, line_dims_x, offsetof(line_inputs, x), 8 * sizeof(float), 0},
    {"t", NNRT_INPUT, NNRT_F64, 1, line_dims_4, offsetof(line_inputs, t), 4 * sizeof(double), 0},
    {"k", NNRT_INPUT, NNRT_I32, 1, line_dims_4, offsetof(line_inputs, k), 4 * sizeof(int32_t), 0},
    {"seq", NNRT_INPUT, NNRT_I32, 2, line_dims_seq, offsetof(line_inputs, seq),
     12 * sizeof(int32_t), 0},
    {"s", NNRT_INPUT, NNRT_F32, 0, NULL, offsetof(line_inputs, s), sizeof(float), 0},
    {"c", NNRT_HYPER, NNRT_F32, 0, NULL, offsetof(line_inputs, c), sizeof(float), 0.5},
    {"w", NNRT_PARAM, NNRT_F32, 1, line_dims_2, offsetof(line_params, w), 2 * sizeof(float), 0},
    {"sq", NNRT_OUTPUT, NNRT_F64, 1, line_dims_4, offsetof(line_outputs, sq), 4 * sizeof(double), 0},
    {"J", NNRT_OUTPUT, NNRT_F64, 0, NULL, offsetof(line_outputs, J), sizeof(double), 0},
    {"kmean", NNRT_OUTPUT, NNRT_F32, 0, NULL, offsetof(line_outputs, kmean), sizeof(float), 0},
    {"wsq", NNRT_OUTPUT, NNRT_F32, 1, line_dims_2, offsetof(line_outputs, wsq), 2 * sizeof(float), 0},
};

__attribute__((unused)) static const nnrt_model_v1 line_model_v1 = {
    1, "line_v1",
    sizeof(line_params), sizeof(line_inputs), sizeof(line_outputs), 0, 64,
    LINE_N_TENSORS - 1, line_tensors_v1, NULL,
    line_init_v1, line_set_defaults, line_forward_v1, NULL, NULL,
};
