/*
 * test_gradcheck.c: the gradient checker (gradcheck.c) on a hand-written
 * model (toy_model.h) in f64 and f32: a correct backward passes, a wrong
 * one is caught and located, and the caller's params are never written.
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
static toy32_params P32;
static toy32_inputs I32;

static void setup(void)
{
    toy64_model.init(&P64, 1);
    toy64_model.set_defaults(&I64);
    toy32_model.init(&P32, 1);
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
    toy64_outputs out;
    toy64_model.forward(&P64, &I64, &out, NULL);
    ck_assert(rep.objective == out.J);                  /* J, not the first output */
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

START_TEST(the_callers_params_are_never_written)
{
    toy64_params before = P64;
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, NULL, NULL), 0);
    ck_assert(memcmp(&before, &P64, sizeof before) == 0);
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model_wrong, &P64, &I64, NULL, NULL), NNRT_EGRAD);
    ck_assert(memcmp(&before, &P64, sizeof before) == 0);
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

static int backward_nan(const void *p, const void *in, void *out, void *g, void *ws)
{
    toy64_model.backward(p, in, out, g, ws);
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

static int forward_fails(const void *p, const void *in, void *out, void *ws)
{
    return NNRT_EINDEX;
}

START_TEST(an_error_of_the_model_is_passed_on)
{
    nnrt_model m = toy64_model;
    m.forward = forward_fails;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINDEX);
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
    m.abi_version = 2;
    ck_assert_int_eq(nnrt_gradcheck(&m, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, NULL, &I64, NULL, NULL), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_gradcheck(NULL, &P64, &I64, NULL, NULL), NNRT_EINVAL);
    nnrt_gradcheck_options opt = {.eps = -1};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, NULL), NNRT_EINVAL);
    opt = (nnrt_gradcheck_options){.atol = NAN};
    ck_assert_int_eq(nnrt_gradcheck(&toy64_model, &P64, &I64, &opt, NULL), NNRT_EINVAL);

    nnrt_tensor t[7];
    memcpy(t, toy64_tensors, sizeof t);
    m = toy64_model;
    m.tensors = t;
    t[4].dtype = NNRT_I32;                              /* an integer param */
    t[4].size = 3 * 4;
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
    tcase_add_test(tc, the_callers_params_are_never_written);
    tcase_add_test(tc, max_coords_checks_a_fixed_sample_of_each_param);
    tcase_add_test(tc, options_override_the_defaults);
    tcase_add_test(tc, a_nan_gradient_fails);
    tcase_add_test(tc, an_error_of_the_model_is_passed_on);
    tcase_add_test(tc, models_it_cannot_check_are_invalid);
    tcase_add_test(tc, the_report_prints_as_a_table_locating_the_worst_coordinate);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
