/*
 * test_gradcheck.c: the gradient checker (gradcheck.c) on a hand-written
 * model (toy_model.h) in f64 and f32: a correct backward passes, a wrong
 * one is caught and located, and the caller's params are never written.
 * Version 2 checks the training objective through backward on a fresh copy
 * of the state every time (the toy's backward changes its state, and its
 * training J differs from forward's), and never writes the caller's state;
 * version 1 is still checked through forward.  A param whose derivatives
 * are all 0 at the given inputs is reported untested, never passed.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "rt_test.h"

#define TOY toy64
#define TOY_T double
#define TOY_DT NNRT_F64
#include "toy_model.h"
#undef TOY
#undef TOY_T
#undef TOY_DT
#define TOY toy32
#define TOY_T float
#define TOY_DT NNRT_F32
#include "toy_model.h"

/* Params from seed 1 (W xavier, b zeros, then b moved off 0) and inputs
 * with distinct coefficients and lam = 0.5. */
static toy64_params P64;
static toy64_inputs I64;
static toy64_state S64;
static toy32_params P32;
static toy32_inputs I32;
static toy32_state S32;

static void setup(void)
{
    toy64_model.init(&P64, &S64, 1);
    toy64_model.set_defaults(&I64);
    toy32_model.init(&P32, &S32, 1);
    toy32_model.set_defaults(&I32);
    I64.lam = 0.5;
    I32.lam = 0.5f;
    for (int i = 0; i < 12; i++) {
        I64.aW[i / 4][i % 4] = 0.25 * i - 1;
        I32.aW[i / 4][i % 4] = 0.25f * (float)i - 1;
    }
    for (int i = 0; i < 3; i++) {
        I64.ab[i] = 1 - i;
        I32.ab[i] = (float)(1 - i);
        P64.b[i] = 0.3 * i;
        P32.b[i] = 0.3f * (float)i;
    }
}

static nnrt_gradcheck_entry rows[4];

static nnrt_gradcheck_report new_report(void)
{
    memset(rows, 0, sizeof rows);
    return (nnrt_gradcheck_report){.entries = rows, .cap = 4};
}

START_TEST(a_correct_backward_passes_in_f64)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, NULL, &rep), 0);
    ck_assert_int_eq(rep.n_params, 2);
    ck_assert_int_eq(rep.n_failed, 0);
    ck_assert_str_eq(rep.model, "toy");
    ck_assert_str_eq(rows[0].tensor->name, "W");
    ck_assert_str_eq(rows[1].tensor->name, "b");
    ck_assert_uint_eq(rows[0].checked, 12);
    ck_assert_uint_eq(rows[1].checked, 3);
    ck_assert(rows[0].failed == 0 && rows[1].failed == 0);
    ck_assert(rows[0].eps == 1e-6 && rows[0].atol == 1e-5 && rows[0].rtol == 1e-3);
    ck_assert_double_lt(rows[0].max_abs_err, 1e-8);
    ck_assert_double_lt(rows[1].max_abs_err, 1e-8);
    ck_assert_double_lt(rows[0].max_rel_err, 1e-7);
    /* J, not the first output; the training J, with init's state (r = 1) */
    toy64_outputs out;
    toy64_state s = S64;
    toy64_params g;
    toy64_model.backward(&P64, &s, &I64, &out, &g, NULL);
    ck_assert(rep.objective == out.J);
    toy64_model.forward(&P64, &S64, &I64, &out, NULL);
    ck_assert(rep.objective != out.J);
}
END_TEST

START_TEST(a_wrong_backward_is_caught_in_f64)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, NULL, &rep), NNRT_EGRAD);
    ck_assert_int_eq(rep.n_failed, 1);
    ck_assert_uint_eq(rows[0].failed, 0);               /* W is right */
    ck_assert_uint_eq(rows[1].failed, 3);               /* b is wrong everywhere */
    /* worst relative to the tolerance: b[2], where the gradient is smallest */
    ck_assert_uint_eq(rows[1].worst, 2);
    double t = tanh(0.6);
    ck_assert_double_eq_tol(rows[1].worst_numeric - rows[1].worst_analytic, 1 - t * t, 1e-6);
    ck_assert_double_gt(rows[1].max_abs_err, 0.5);
}
END_TEST

START_TEST(a_correct_backward_passes_in_f32_with_the_f32_defaults)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy32_model, &P32, &I32, NULL, &rep), 0);
    ck_assert(rows[0].eps == 1e-3 && rows[0].atol == 1e-2 && rows[0].rtol == 1e-2);
    ck_assert_double_lt(rows[0].max_abs_err, 1e-2);
}
END_TEST

START_TEST(a_wrong_backward_is_caught_in_f32)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy32_model_wrong, &P32, &I32, NULL, &rep), NNRT_EGRAD);
    ck_assert_int_eq(rep.n_failed, 1);
    ck_assert_uint_eq(rows[1].failed, 3);
}
END_TEST

/* The objective is found by name: checking "norm" against the gradient of
 * J must fail. */
START_TEST(the_objective_is_the_output_named_by_the_model)
{
    nnrt_model m = toy64_model;
    m.objective = "norm";
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EGRAD);
}
END_TEST

START_TEST(the_callers_params_state_and_inputs_are_never_written)
{
    toy64_params before = P64;
    toy64_state sbefore = S64;
    toy64_inputs ibefore = I64;
    nnrt_gradcheck_options opt = {.state = &S64};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, NULL, NULL), 0);
    ck_assert(memcmp(&before, &P64, sizeof before) == 0);
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, NULL), 0);
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, &opt, NULL), NNRT_EGRAD);
    ck_assert(memcmp(&before, &P64, sizeof before) == 0);
    ck_assert(memcmp(&sbefore, &S64, sizeof sbefore) == 0);
    ck_assert(memcmp(&ibefore, &I64, sizeof ibefore) == 0);
}
END_TEST

/* The toy's backward adds 1 to r, on which its training J depends: an
 * evaluation that started from the state another one left would move J by
 * sum(b) = 0.9 between J+ and J-, and fail every coordinate of b. */
START_TEST(every_evaluation_starts_from_a_fresh_copy_of_the_state)
{
    nnrt_gradcheck_report rep = new_report();
    nnrt_gradcheck_options opt = {.state = &S64};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, &rep), 0);
    ck_assert_double_lt(rows[1].max_abs_err, 1e-8);
    ck_assert_int_eq(nnrt_gradcheck(&toy32_model, &P32, &I32, NULL, &rep), 0);
}
END_TEST

/* J and its gradient are those of the state given: r enters dJ/db. */
START_TEST(the_given_state_is_the_one_checked)
{
    toy64_state s = S64;
    s.r[0] = 2, s.r[1] = -1, s.r[2] = 0.5;
    s.step = 7;
    toy64_state kept = s;
    nnrt_gradcheck_options opt = {.state = &s};
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, &rep), 0);
    toy64_outputs out;
    toy64_params g;
    toy64_state t = s;
    toy64_model.backward(&P64, &t, &I64, &out, &g, NULL);
    ck_assert(rep.objective == out.J);
    t = S64;                                            /* init's r gives another J */
    toy64_model.backward(&P64, &t, &I64, &out, &g, NULL);
    ck_assert(rep.objective != out.J);
    ck_assert(memcmp(&s, &kept, sizeof s) == 0);
}
END_TEST

/* With no state given, init makes one (seed 0), into scratch params: the
 * check is still at the caller's params, not init's. */
START_TEST(without_a_state_init_makes_one_and_the_params_are_the_callers)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, NULL, &rep), 0);
    toy64_params p0, g;
    toy64_state s0;
    toy64_outputs out;
    toy64_model.init(&p0, &s0, 0);
    ck_assert(memcmp(&p0, &P64, sizeof p0) != 0);
    toy64_model.backward(&P64, &s0, &I64, &out, &g, NULL);
    ck_assert(rep.objective == out.J);
    nnrt_model m = toy64_model;
    m.init = NULL;                                      /* then a state must be given */
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    nnrt_gradcheck_options opt = {.state = &S64};
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, &opt, NULL), 0);
}
END_TEST

/* A version-1 descriptor: forward for J (no state), the entries point at
 * its nnrt_tensor_v1s. */
START_TEST(a_version_1_model_is_checked_through_forward)
{
    const nnrt_model *m1 = (const nnrt_model *)(const void *)&toy64_model_v1;
    const nnrt_model *w1 = (const nnrt_model *)(const void *)&toy64_model_v1_wrong;
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(m1, &P64, &I64, NULL, &rep), 0);
    ck_assert_int_eq(rep.n_params, 2);
    ck_assert_ptr_null(rows[0].tensor);
    ck_assert_str_eq(rows[0].tensor_v1->name, "W");
    ck_assert_str_eq(rows[1].tensor_v1->name, "b");
    ck_assert_uint_eq(rows[0].checked, 12);
    toy64_outputs out;
    toy64_model_v1.forward(&P64, &I64, &out, NULL);
    ck_assert(rep.objective == out.J);
    ck_assert_int_eq(nnrt_gradcheck(w1, &P64, &I64, NULL, &rep), NNRT_EGRAD);
    ck_assert_uint_eq(rows[1].failed, 3);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    nnrt_gradcheck_print(f, &rep);
    fclose(f);
    ck_assert_msg(strstr(text, "W      [3, 4]  12/12") && strstr(text, "FAIL (3 coordinates); worst b["),
                  "%s", text);
    free(text);
}
END_TEST

START_TEST(max_coords_checks_a_fixed_sample_of_each_param)
{
    nnrt_gradcheck_options opt = {.max_coords = 5, .seed = 3};
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, &opt, &rep), NNRT_EGRAD);
    ck_assert_uint_eq(rows[0].checked, 5);
    ck_assert_uint_eq(rows[1].checked, 3);              /* fewer than 5: all */
    ck_assert_uint_eq(rows[1].failed, 3);
    nnrt_gradcheck_entry first = rows[0];
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, &opt, &rep), NNRT_EGRAD);
    ck_assert(rows[0].max_abs_err == first.max_abs_err && rows[0].worst == first.worst);
}
END_TEST

START_TEST(options_override_the_defaults)
{
    nnrt_gradcheck_options opt = {.eps = 1e-4, .atol = 2, .rtol = 0.5};
    nnrt_gradcheck_report rep = new_report();
    /* a tolerance of 2 lets even the wrong gradient (off by at most 1) through */
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, &opt, &rep), 0);
    ck_assert(rows[1].eps == 1e-4 && rows[1].atol == 2 && rows[1].rtol == 0.5);
}
END_TEST

static int backward_nan(const void *p, void *s, const void *in, void *out, void *g, void *ws)
{
    toy64_model.backward(p, s, in, out, g, ws);
    ((toy64_params *)g)->W[1][2] = NAN;
    return 0;
}

START_TEST(a_nan_gradient_fails)
{
    nnrt_model m = toy64_model;
    m.backward = backward_nan;
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, &rep), NNRT_EGRAD);
    ck_assert_uint_eq(rows[0].failed, 1);
    ck_assert_uint_eq(rows[0].worst, 6);
    ck_assert(isnan(rows[0].max_abs_err));
}
END_TEST

static int calls;

static int backward_fails_later(const void *p, void *s, const void *in, void *out, void *g,
                                void *ws)
{
    return ++calls > 3 ? NNRT_EINDEX : toy64_model.backward(p, s, in, out, g, ws);
}

START_TEST(an_error_of_the_model_is_passed_on)
{
    nnrt_model m = toy64_model;
    m.backward = backward_fails_later;
    calls = 0;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINDEX);
    I64.n = 4;                                          /* a dim above its MAX */
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, NULL, NULL), NNRT_ESHAPE);
}
END_TEST

START_TEST(models_it_cannot_check_are_invalid)
{
    nnrt_model m = toy64_model;
    m.objective = NULL;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    m.objective = "nothing";
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    m.objective = "aW";                                 /* an input */
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    m = toy64_model;
    nnrt_gradcheck_report rep = new_report();
    m.abi_version = 3;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, &rep), NNRT_EINVAL);
    ck_assert_ptr_null(rep.model);
    m.abi_version = 0;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, NULL, &I64, NULL, NULL), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_gradcheck(NULL, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    nnrt_gradcheck_options opt = {.eps = -1};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, NULL), NNRT_EINVAL);
    opt = (nnrt_gradcheck_options){.atol = NAN};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, NULL), NNRT_EINVAL);

    nnrt_tensor t[TOY_N_TENSORS];
    memcpy(t, toy64_tensors, sizeof t);
    m = toy64_model;
    m.tensors = t;
    t[TOY_B].dtype = NNRT_I32;                          /* an integer param */
    t[TOY_B].size = 3 * 4;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
}
END_TEST

START_TEST(the_report_prints_as_a_table_locating_the_worst_coordinate)
{
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, NULL, &rep), NNRT_EGRAD);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    nnrt_gradcheck_print(f, &rep);
    fclose(f);
    ck_assert_msg(strstr(text, "gradient check of toy") && strstr(text, "1 of 2 params failed"), "%s", text);
    ck_assert_msg(strstr(text, "[3, 4]") && strstr(text, "12/12") && strstr(text, "ok\n"), "%s", text);
    ck_assert_msg(strstr(text, "FAIL (3 coordinates); worst b[2]: analytic"), "%s", text);
    free(text);
}
END_TEST

/* ---- A param the inputs never reach ---- */

/* dead: J = sum(relu(x - 10) * w) + sum(v * v), the contract's trap
 * `relu(x - 10) @ W` in small.  With x in [-1, 1] every derivative of J in
 * w is 0, numeric and analytic alike: a check of w compares nothing. */
typedef struct dead_params { _Alignas(64) double w[3]; _Alignas(64) double v[2]; } dead_params;
typedef struct dead_inputs { _Alignas(64) double x[3]; } dead_inputs;
typedef struct dead_outputs { _Alignas(64) double J; } dead_outputs;
static const int64_t dead_dims3[1] = {3}, dead_dims2[1] = {2};

static void dead_init(void *p, void *s, uint64_t seed)
{
    dead_params *q = p;
    for (int i = 0; i < 3; i++)
        q->w[i] = 0.5 + i;
    q->v[0] = 0.25, q->v[1] = -1;
    memset(s, 0, sizeof(nnrt_state_head));
    ((nnrt_state_head *)s)->seed = seed;
}

static void dead_set_defaults(void *in) { (void)in; }

static int dead_backward(const void *params, void *state, const void *inputs, void *outputs,
                         void *grads, void *ws)
{
    const dead_params *p = params;
    const dead_inputs *in = inputs;
    dead_params *g = grads;
    double J = 0;
    for (int i = 0; i < 3; i++) {
        double h = in->x[i] - 10 > 0 ? in->x[i] - 10 : 0;
        J += h * p->w[i];
        if (g)
            g->w[i] = h;
    }
    for (int i = 0; i < 2; i++) {
        J += p->v[i] * p->v[i];
        if (g)
            g->v[i] = 2 * p->v[i];
    }
    ((dead_outputs *)outputs)->J = J;
    return 0;
}

static int dead_forward(const void *params, const void *state, const void *inputs, void *outputs,
                        void *ws)
{
    return dead_backward(params, NULL, inputs, outputs, NULL, ws);
}

static const nnrt_tensor dead_tensors[] = {
    {"x", NNRT_INPUT, NNRT_F64, 1, dead_dims3, offsetof(dead_inputs, x), 3 * sizeof(double), 0, NULL},
    {"w", NNRT_PARAM, NNRT_F64, 1, dead_dims3, offsetof(dead_params, w), 3 * sizeof(double), 0, NULL},
    {"v", NNRT_PARAM, NNRT_F64, 1, dead_dims2, offsetof(dead_params, v), 2 * sizeof(double), 0, NULL},
    {"J", NNRT_OUTPUT, NNRT_F64, 0, NULL, offsetof(dead_outputs, J), sizeof(double), 0, NULL},
};

static const nnrt_model dead_model = {
    NNRT_ABI_VERSION, "dead",
    sizeof(dead_params), sizeof(dead_inputs), sizeof(dead_outputs), sizeof(nnrt_state_head), 64,
    4, dead_tensors, "J",
    dead_init, dead_set_defaults, dead_forward, dead_backward, NULL, NULL,
};

static dead_params DP;
static dead_inputs DI = {{-1, 0.25, 1}};

START_TEST(a_param_whose_derivatives_are_all_zero_is_untested_and_fails)
{
    dead_init(&DP, &(nnrt_state_head){0}, 0);
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&dead_model, &DP, &DI, NULL, &rep), NNRT_EGRAD);
    ck_assert_int_eq(rep.n_failed, 0);                  /* nothing is wrong, */
    ck_assert_int_eq(rep.n_untested, 1);                /* but w was not tested */
    ck_assert_str_eq(rows[0].tensor->name, "w");
    ck_assert_uint_eq(rows[0].checked, 3);
    ck_assert_uint_eq(rows[0].zero, 3);
    ck_assert_int_eq(rows[0].untested, 1);
    ck_assert_int_eq(rows[1].untested, 0);              /* v is */
    ck_assert_uint_eq(rows[1].zero, 0);
}
END_TEST

START_TEST(allow_untested_reports_it_and_passes)
{
    dead_init(&DP, &(nnrt_state_head){0}, 0);
    nnrt_gradcheck_options opt = {.allow_untested = 1};
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&dead_model, &DP, &DI, &opt, &rep), 0);
    ck_assert_int_eq(rep.n_untested, 1);
    ck_assert_int_eq(rows[0].untested, 1);
}
END_TEST

START_TEST(inputs_that_reach_the_param_test_it)
{
    dead_init(&DP, &(nnrt_state_head){0}, 0);
    dead_inputs in = {{11, 12.5, 10.5}};
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&dead_model, &DP, &in, NULL, &rep), 0);
    ck_assert_int_eq(rep.n_untested, 0);
    ck_assert_int_eq(rows[0].untested, 0);
    /* one live coordinate is enough: the param is tested, not untested */
    in.x[0] = in.x[1] = 0;
    ck_assert_int_eq(nnrt_gradcheck(&dead_model, &DP, &in, NULL, &rep), 0);
    ck_assert_uint_eq(rows[0].zero, 2);
    ck_assert_int_eq(rows[0].untested, 0);
}
END_TEST

START_TEST(the_report_says_untested_and_why)
{
    dead_init(&DP, &(nnrt_state_head){0}, 0);
    nnrt_gradcheck_report rep = new_report();
    ck_assert_int_eq(nnrt_gradcheck(&dead_model, &DP, &DI, NULL, &rep), NNRT_EGRAD);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    nnrt_gradcheck_print(f, &rep);
    fclose(f);
    ck_assert_msg(strstr(text, "0 of 2 params failed, 1 untested\n"), "%s", text);
    ck_assert_msg(strstr(text, "untested: every sampled derivative is 0: a dead ReLU"), "%s", text);
    ck_assert_msg(strstr(text, "\nv ") && strstr(text, "ok\n"), "%s", text);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("check");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, a_correct_backward_passes_in_f64);
    tcase_add_test(tc, a_wrong_backward_is_caught_in_f64);
    tcase_add_test(tc, a_correct_backward_passes_in_f32_with_the_f32_defaults);
    tcase_add_test(tc, a_wrong_backward_is_caught_in_f32);
    tcase_add_test(tc, the_objective_is_the_output_named_by_the_model);
    tcase_add_test(tc, the_callers_params_state_and_inputs_are_never_written);
    tcase_add_test(tc, every_evaluation_starts_from_a_fresh_copy_of_the_state);
    tcase_add_test(tc, the_given_state_is_the_one_checked);
    tcase_add_test(tc, without_a_state_init_makes_one_and_the_params_are_the_callers);
    tcase_add_test(tc, a_version_1_model_is_checked_through_forward);
    tcase_add_test(tc, max_coords_checks_a_fixed_sample_of_each_param);
    tcase_add_test(tc, options_override_the_defaults);
    tcase_add_test(tc, a_nan_gradient_fails);
    tcase_add_test(tc, an_error_of_the_model_is_passed_on);
    tcase_add_test(tc, models_it_cannot_check_are_invalid);
    tcase_add_test(tc, the_report_prints_as_a_table_locating_the_worst_coordinate);
    tcase_add_test(tc, a_param_whose_derivatives_are_all_zero_is_untested_and_fails);
    tcase_add_test(tc, allow_untested_reports_it_and_passes);
    tcase_add_test(tc, inputs_that_reach_the_param_test_it);
    tcase_add_test(tc, the_report_says_untested_and_why);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
