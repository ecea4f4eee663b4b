/*
 * test_gradcheck.c: the gradient checker (gradcheck.c) on a hand-written
 * model (toy_model.h) in f64 and f32: a correct backward passes, a wrong
 * one is caught and located, and the caller's params are never written.
 * Version 2 checks the training objective through backward on a fresh copy
 * of the state every time (the toy's backward changes its state, and its
 * training J differs from forward's), and never writes the caller's state;
 * version 1 is still checked through forward.
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
    suite_add_tcase(s, tc);
    return run_suite(s);
}
