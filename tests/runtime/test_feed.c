/*
 * test_feed.c: feeding models from tensorsets (feed.c): nnrt_find on
 * version-1 and version-2 descriptors, matching columns with inputs,
 * minibatches with a runtime batch dim (the last one short) and with a
 * fixed batch (topped up), and nnrt_evaluate over whole sets, against the
 * hand-written models of line_model.h, whose outputs are closed forms.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "rt_test.h"

#define TOY toy
#define TOY_T double
#define TOY_DT NNRT_F64
#include "toy_model.h"
#undef TOY
#undef TOY_T
#undef TOY_DT

#include "line_model.h"

#define V1(m) ((const nnrt_model *)(const void *)&(m))

/* ---- nnrt_find ---- */

START_TEST(find_returns_the_entry_of_a_version_2_descriptor)
{
    ck_assert_ptr_eq(nnrt_find(&toy_model, "W"), &toy_tensors[TOY_W]);
    ck_assert_ptr_eq(nnrt_find(&toy_model, "n"), &toy_tensors[TOY_N_DIM]);
    ck_assert_ptr_eq(nnrt_find(&toy_model, "J"), &toy_tensors[TOY_J]);
    ck_assert_ptr_eq(nnrt_find(&toy_model, "r"), &toy_tensors[TOY_R]);
    ck_assert_ptr_null(nnrt_find(&toy_model, "w"));       /* names are case-sensitive */
    ck_assert_ptr_null(nnrt_find(&toy_model, ""));
    const nnrt_tensor *x = nnrt_find(&line_model, "x");
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->role, NNRT_INPUT);
    ck_assert_str_eq(x->dim_names[0], "batch");
}
END_TEST

START_TEST(find_role_filters_by_role)
{
    ck_assert_ptr_eq(nnrt_find_role(&toy_model, "W", NNRT_PARAM), &toy_tensors[TOY_W]);
    ck_assert_ptr_null(nnrt_find_role(&toy_model, "W", NNRT_INPUT));
    ck_assert_ptr_eq(nnrt_find_role(&toy_model, "W", 0), &toy_tensors[TOY_W]);
    ck_assert_ptr_eq(nnrt_find_role(&line_model, "batch", NNRT_DIM), &line_tensors[LINE_BATCH]);
    ck_assert_ptr_null(nnrt_find_role(&line_model, "batch", NNRT_INPUT));
}
END_TEST

START_TEST(find_never_returns_a_version_1_entry_and_find_v1_does)
{
    ck_assert_ptr_null(nnrt_find(V1(toy_model_v1), "W"));
    ck_assert_ptr_null(nnrt_find_role(V1(toy_model_v1), "W", NNRT_PARAM));
    ck_assert_ptr_eq(nnrt_find_v1(V1(toy_model_v1), "W"), &toy_tensors_v1[TOY_V1_W]);
    ck_assert_ptr_eq(nnrt_find_v1(V1(line_model_v1), "sq"), &line_tensors_v1[LINE_SQ - 1]);
    ck_assert_ptr_null(nnrt_find_v1(V1(toy_model_v1), "n"));    /* no dim in version 1 */
    ck_assert_ptr_null(nnrt_find_v1(&toy_model, "W"));
}
END_TEST

START_TEST(find_returns_null_for_bad_arguments_and_descriptors)
{
    ck_assert_ptr_null(nnrt_find(NULL, "W"));
    ck_assert_ptr_null(nnrt_find(&toy_model, NULL));
    ck_assert_ptr_null(nnrt_find_v1(NULL, "W"));
    ck_assert_ptr_null(nnrt_find_v1(V1(toy_model_v1), NULL));
    nnrt_model m = toy_model;
    m.abi_version = 3;
    ck_assert_ptr_null(nnrt_find(&m, "W"));
    m = toy_model;
    m.tensors = NULL;                           /* n_tensors > 0 without tensors */
    ck_assert_ptr_null(nnrt_find(&m, "W"));
    nnrt_tensor bad[TOY_N_TENSORS];
    memcpy(bad, toy_tensors, sizeof bad);
    bad[TOY_B].name = NULL;                     /* a tensor without a name */
    m = toy_model;
    m.tensors = bad;
    ck_assert_ptr_null(nnrt_find(&m, "W"));
}
END_TEST

/* ---- Sets for line_model ---- */

/* n examples: x = (i, -i/2), t = i/4 (f64), k = i (the example's number). */
typedef struct line_data {
    float x[16][2];
    double t[16];
    int32_t k[16];
    nnrt_tensorset ts;
} line_data;

static void line_set(line_data *d, size_t n)
{
    ck_assert_uint_le(n, 16);
    for (size_t i = 0; i < n; i++) {
        d->x[i][0] = (float)i;
        d->x[i][1] = -(float)i / 2;
        d->t[i] = (double)i / 4;
        d->k[i] = (int32_t)i;
    }
    memset(&d->ts, 0, sizeof d->ts);
    int64_t two[1] = {2};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add(&d->ts, "x", NNRT_F32, 1, two, n, d->x, NNRT_DATA_BORROW,
                                        err, sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_add(&d->ts, "t", NNRT_F64, 0, NULL, n, d->t, NNRT_DATA_BORROW,
                                        err, sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_add(&d->ts, "k", NNRT_I32, 0, NULL, n, d->k, NNRT_DATA_BORROW,
                                        err, sizeof err), 0);
}

/* The closed form of sq for example i, with w = (0.5, -2) and hyper c. */
static double line_sq(size_t i, double c)
{
    double pred = (double)(float)i * 0.5 + (double)(-(float)i / 2) * -2.0 + c;
    return (pred - (double)i / 4) * (pred - (double)i / 4);
}

static void poison(line_inputs *in)
{
    memset(in, 0xA5, sizeof *in);
}

static int poisoned(const void *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((const unsigned char *)p)[i] != 0xA5)
            return 0;
    return 1;
}

START_TEST(check_reports_the_batch_and_its_dim)
{
    line_data d;
    line_set(&d, 10);
    size_t batch = 0;
    const char *dim = "?";
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &line_model, &batch, &dim, err, sizeof err), 0);
    ck_assert_uint_eq(batch, 4);
    ck_assert_str_eq(dim, "batch");
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &line_model_fixed, &batch, &dim, err, sizeof err), 0);
    ck_assert_uint_eq(batch, 4);
    ck_assert_ptr_null(dim);
    dim = "?";
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, V1(line_model_v1), &batch, &dim, err, sizeof err), 0);
    ck_assert_ptr_null(dim);
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &line_model, NULL, NULL, NULL, 0), 0);
}
END_TEST

/* A set of one column (name, dtype, per-example dims) that must not fit
 * model m: code, and a message equal to want. */
static void misfit(const nnrt_model *m, const char *name, nnrt_dtype dtype, int rank,
                   const int64_t *dims, int code, const char *want)
{
    static double data[16 * 8];
    nnrt_tensorset ts = {0};
    ck_assert_int_eq(nnrt_tensorset_add(&ts, name, dtype, rank, dims, 8, data, NNRT_DATA_BORROW,
                                        NULL, 0), 0);
    char err[512] = "";
    size_t batch = 77;
    ck_assert_int_eq(nnrt_tensorset_check(&ts, m, &batch, NULL, err, sizeof err), code);
    ck_assert_str_eq(err, want);
    ck_assert_uint_eq(batch, code ? 77 : 4);
    line_inputs in;
    poison(&in);
    ck_assert_int_eq(nnrt_tensorset_batch(&ts, m, &in, NULL, 0, NULL, err, sizeof err), code);
    ck_assert(code == 0 || poisoned(&in, sizeof in));
}

START_TEST(check_says_which_column_does_not_fit_and_why)
{
    int64_t two[1] = {2}, three[1] = {3}, one_two[2] = {1, 2};
    misfit(&line_model, "q", NNRT_F32, 0, NULL, NNRT_EMISMATCH,
           "column q: model line has no input named q");
    misfit(&line_model, "w", NNRT_F32, 1, two, NNRT_EMISMATCH,
           "column w: w is a param of model line, not an input");
    misfit(&line_model, "c", NNRT_F32, 0, NULL, NNRT_EMISMATCH,
           "column c: c is a hyper of model line, not an input");
    misfit(&line_model, "sq", NNRT_F64, 0, NULL, NNRT_EMISMATCH,
           "column sq: sq is an output of model line, not an input");
    misfit(&line_model, "batch", NNRT_I32, 0, NULL, NNRT_EMISMATCH,
           "column batch: batch is a dim of model line, not an input");
    misfit(&line_model, "s", NNRT_F32, 0, NULL, NNRT_EMISMATCH,
           "column s: input s of model line is a scalar, with no batch axis to fill");
    misfit(&line_model, "k", NNRT_F32, 0, NULL, NNRT_EMISMATCH,
           "column k holds f32, input k of model line is i32");
    misfit(&line_model, "x", NNRT_I32, 1, two, NNRT_EMISMATCH,
           "column x holds i32, input x of model line is f32");
    misfit(&line_model, "x", NNRT_F32, 1, three, NNRT_EMISMATCH,
           "column x has examples of shape [3] (3 elements); input x of model line, f32[batch, 2], "
           "has rows of 2");
    misfit(&line_model_fixed, "x", NNRT_F32, 2, one_two, 0, "");     /* 2 elements: fits */
    misfit(V1(line_model_v1), "seq", NNRT_I32, 1, two, NNRT_EMISMATCH,
           "column seq has examples of shape [2] (2 elements); input seq of model line_v1, "
           "i32[4, 3], has rows of 3");
    /* toy: aW f64[3, 4] has a fixed first axis of 3, ab f64[n] the dim n */
    nnrt_tensorset ts = {0};
    static double data[64];
    int64_t four[1] = {4};
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "aW", NNRT_F64, 1, four, 8, data, NNRT_DATA_BORROW,
                                        NULL, 0), 0);
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "ab", NNRT_F64, 0, NULL, 8, data, NNRT_DATA_BORROW,
                                        NULL, 0), 0);
    char err[512] = "";
    ck_assert_int_eq(nnrt_tensorset_check(&ts, &toy_model, NULL, NULL, err, sizeof err),
                     NNRT_EMISMATCH);
    ck_assert_str_eq(err, "inputs aW and ab of model toy have different batch axes: 3 rows and "
                          "3 rows, dim n");
}
END_TEST

START_TEST(check_refuses_bad_sets_and_descriptors_without_crashing)
{
    line_data d;
    line_set(&d, 10);
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_check(NULL, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, NULL, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    nnrt_tensorset empty = {0};
    ck_assert_int_eq(nnrt_tensorset_check(&empty, &line_model, NULL, NULL, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "the tensorset is empty (0 columns, 0 examples)");
    nnrt_tensorset bad = d.ts;
    bad.columns[1].count = 1000;                /* scribbled on */
    ck_assert_int_eq(nnrt_tensorset_check(&bad, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "tensorset column 1 is not valid");
    bad = d.ts;
    bad.columns[0].dtype = NNRT_I64;
    ck_assert_int_eq(nnrt_tensorset_check(&bad, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    bad = d.ts;
    bad.columns[2].data = NULL;
    ck_assert_int_eq(nnrt_tensorset_check(&bad, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    bad = d.ts;
    bad.n = SIZE_MAX;                           /* the last example would lie past any object */
    ck_assert_int_eq(nnrt_tensorset_check(&bad, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    bad = d.ts;
    bad.n_columns = NNRT_TENSORSET_MAX + 1;
    ck_assert_int_eq(nnrt_tensorset_check(&bad, &line_model, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    nnrt_model m = line_model;
    m.abi_version = 7;
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &m, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "model descriptor of ABI version 7; this runtime reads versions 1 and 2");
    /* an input whose batch axis names a dim the model does not declare */
    nnrt_tensor t[LINE_N_TENSORS];
    memcpy(t, line_tensors, sizeof t);
    t[LINE_BATCH].name = "rows";
    m = line_model;
    m.tensors = t;
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &m, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "model line: malformed descriptor: input x's batch axis names dim batch, "
                          "which is not an i64 dim of the model");
    /* an input whose size is less than its shape */
    memcpy(t, line_tensors, sizeof t);
    t[LINE_T].size = 8;
    ck_assert_int_eq(nnrt_tensorset_check(&d.ts, &m, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "model line: malformed descriptor of input t: size 8 is less than its shape");
}
END_TEST

/* ---- Minibatches ---- */

START_TEST(batch_fills_rows_in_order_and_sets_the_dim)
{
    line_data d;
    line_set(&d, 10);
    line_inputs in;
    poison(&in);
    size_t rows = 0;
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, NULL, 4, &rows, err, sizeof err), 0);
    ck_assert_uint_eq(rows, 4);
    ck_assert_int_eq(in.batch, 4);
    for (int r = 0; r < 4; r++) {
        ck_assert_float_eq(in.x[r][0], (float)(4 + r));
        ck_assert_float_eq(in.x[r][1], -(float)(4 + r) / 2);
        ck_assert_double_eq(in.t[r], (4 + r) / 4.0);
        ck_assert_int_eq(in.k[r], 4 + r);
    }
    ck_assert(poisoned(&in.seq, sizeof in.seq));        /* no column: untouched */
    ck_assert(poisoned(&in.s, sizeof in.s));
    ck_assert(poisoned(&in.c, sizeof in.c));

    poison(&in);                                        /* the last batch: 2 rows */
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, NULL, 8, &rows, err, sizeof err), 0);
    ck_assert_uint_eq(rows, 2);
    ck_assert_int_eq(in.batch, 2);
    ck_assert_int_eq(in.k[0], 8);
    ck_assert_int_eq(in.k[1], 9);
    ck_assert(poisoned(&in.k[2], 2 * sizeof in.k[0]));  /* rows not in use: never written */
    ck_assert(poisoned(&in.x[2], 2 * sizeof in.x[0]));
    ck_assert(poisoned(&in.t[2], 2 * sizeof in.t[0]));
}
END_TEST

START_TEST(batch_follows_the_shuffled_order)
{
    line_data d;
    line_set(&d, 10);
    uint32_t perm[10];
    ck_assert_int_eq(nnrt_shuffle(perm, 10, 7, 1), 0);
    line_inputs in;
    poison(&in);
    size_t rows = 0;
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, perm, 4, &rows, NULL, 0), 0);
    for (int r = 0; r < 4; r++) {
        ck_assert_int_eq(in.k[r], (int32_t)perm[4 + r]);
        ck_assert_float_eq(in.x[r][0], (float)perm[4 + r]);
        ck_assert_double_eq(in.t[r], perm[4 + r] / 4.0);
    }
}
END_TEST

START_TEST(a_fixed_batch_is_topped_up_from_the_start_of_the_order)
{
    line_data d;
    line_set(&d, 10);
    uint32_t perm[10];
    ck_assert_int_eq(nnrt_shuffle(perm, 10, 3, 0), 0);
    line_inputs in;
    poison(&in);
    size_t rows = 0;
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model_fixed, &in, perm, 8, &rows, NULL, 0), 0);
    ck_assert_uint_eq(rows, 2);
    ck_assert_int_eq(in.k[0], (int32_t)perm[8]);
    ck_assert_int_eq(in.k[1], (int32_t)perm[9]);
    ck_assert_int_eq(in.k[2], (int32_t)perm[0]);
    ck_assert_int_eq(in.k[3], (int32_t)perm[1]);
    ck_assert(poisoned(&in.batch, sizeof in.batch));    /* no dim to set */
    /* a set smaller than the batch wraps around more than once */
    line_set(&d, 3);
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, V1(line_model_v1), &in, NULL, 2, &rows, NULL, 0), 0);
    ck_assert_uint_eq(rows, 1);
    ck_assert_int_eq(in.k[0], 2);
    ck_assert_int_eq(in.k[1], 0);
    ck_assert_int_eq(in.k[2], 1);
    ck_assert_int_eq(in.k[3], 2);
}
END_TEST

START_TEST(an_epoch_of_batches_sees_every_example_once)
{
    line_data d;
    line_set(&d, 10);
    uint32_t perm[10];
    ck_assert_int_eq(nnrt_shuffle(perm, 10, 11, 2), 0);
    int seen[10] = {0}, batches = 0;
    size_t rows;
    char err[256] = "";
    for (size_t s = 0; s < d.ts.n; s += rows) {
        line_inputs in;
        poison(&in);
        ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, perm, s, &rows, err,
                                              sizeof err), 0);
        ck_assert_int_eq(in.batch, (int64_t)rows);
        for (size_t r = 0; r < rows; r++)
            seen[in.k[r]]++;
        batches++;
    }
    ck_assert_int_eq(batches, 3);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(seen[i], 1);
}
END_TEST

START_TEST(batch_converts_between_the_float_types)
{
    float t32[5] = {0.1f, 1.0f / 3, -2.5f, 1e-30f, 3};
    double x64[5][2] = {{0.1, 1.0 / 3}, {-2.5, 1e-30}, {3, 4}, {5, 6}, {7, 8}};
    nnrt_tensorset ts = {0};
    int64_t two[1] = {2};
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "t", NNRT_F32, 0, NULL, 5, t32, NNRT_DATA_BORROW,
                                        NULL, 0), 0);
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "x", NNRT_F64, 1, two, 5, x64, NNRT_DATA_BORROW,
                                        NULL, 0), 0);
    line_inputs in;
    poison(&in);
    size_t rows;
    ck_assert_int_eq(nnrt_tensorset_batch(&ts, &line_model, &in, NULL, 0, &rows, NULL, 0), 0);
    for (int r = 0; r < 4; r++) {
        ck_assert(in.t[r] == (double)t32[r]);
        ck_assert(in.x[r][0] == (float)x64[r][0]);
        ck_assert(in.x[r][1] == (float)x64[r][1]);
    }
}
END_TEST

START_TEST(batch_fills_token_windows_from_text)
{
    nnrt_vocab v = {0};
    const char *text = "abcabcabd";
    char err[256] = "";
    ck_assert_int_eq(nnrt_vocab_build(&v, text, strlen(text), NNRT_TEXT_CHARS | NNRT_VOCAB_SORTED,
                                      0, err, sizeof err), 0);
    int32_t ids[9];
    size_t n;
    ck_assert_int_eq(nnrt_vocab_encode(&v, text, strlen(text), ids, 9, &n, err, sizeof err), 0);
    nnrt_tensorset ts = {0};
    line_inputs in;
    poison(&in);
    size_t rows;
    /* next tokens as "k" do not fit: k holds one index per example */
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "seq", "k", ids, n, 3, 1, NNRT_DATA_BORROW,
                                                err, sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_batch(&ts, &line_model, &in, NULL, 0, &rows, err, sizeof err),
                     NNRT_EMISMATCH);
    ck_assert_str_eq(err, "column k has examples of shape [3] (3 elements); input k of model line, "
                          "i32[batch], has rows of 1");
    nnrt_tensorset_free(&ts);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "seq", NULL, ids, n, 3, 2, NNRT_DATA_BORROW,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 4);
    ck_assert_int_eq(nnrt_tensorset_batch(&ts, &line_model, &in, NULL, 0, &rows, err, sizeof err), 0);
    ck_assert_uint_eq(rows, 4);
    const char *want[4] = {"abc", "cab", "bca", "abd"};
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 3; j++)
        {
            char one[2] = {want[r][j], '\0'};
            ck_assert_str_eq(v.tokens[in.seq[r][j]], one);
        }
    nnrt_tensorset_free(&ts);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(batch_refuses_bad_arguments_and_writes_nothing)
{
    line_data d;
    line_set(&d, 10);
    line_inputs in;
    poison(&in);
    size_t rows = 99;
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, NULL, NULL, 0, &rows, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_batch: inputs is NULL");
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, NULL, 10, &rows, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_batch: start 10 is past the set's 10 examples");
    uint32_t perm[10] = {0, 1, 2, 3, 4, 5, 6, 10, 8, 9};
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, perm, 4, &rows, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_batch: perm[7] = 10, not below the set's 10 examples");
    ck_assert_int_eq(nnrt_tensorset_batch(NULL, &line_model, &in, NULL, 0, &rows, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, NULL, &in, NULL, 0, &rows, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert(poisoned(&in, sizeof in));
    ck_assert_uint_eq(rows, 99);
    /* a perm entry past n is found in the rows a fixed batch tops up too */
    uint32_t bad_start[10] = {10, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model_fixed, &in, bad_start, 8, &rows, err,
                                          sizeof err), NNRT_EINVAL);
    ck_assert(poisoned(&in, sizeof in));
    /* but not in the rows a runtime dim leaves out */
    ck_assert_int_eq(nnrt_tensorset_batch(&d.ts, &line_model, &in, bad_start, 8, &rows, err,
                                          sizeof err), 0);
    ck_assert_uint_eq(rows, 2);
}
END_TEST

/* ---- nnrt_evaluate ---- */

/* Each test starts with an empty record of forward calls (also when Check
 * does not fork, CK_FORK=no, as under valgrind). */
static void line_reset(void)
{
    line_calls = 0;
    memset(line_seen, 0, sizeof line_seen);
}

static line_params line_p = {{0.5f, -2.0f}};

START_TEST(evaluate_averages_a_scalar_mean_over_the_last_partial_batch)
{
    line_data d;
    line_set(&d, 10);
    line_state s;
    line_params p;
    line_init(&p, &s, 1);
    const char *names[2] = {"J", "kmean"};
    double means[2] = {-1, -1};
    char err[256] = "";
    ck_assert_int_eq(nnrt_evaluate(&line_model, &p, &s, NULL, &d.ts, names, 2, means, err,
                                   sizeof err), 0);
    double want = 0;
    for (size_t i = 0; i < 10; i++)
        want += line_sq(i, 0.5);                 /* c = 0.5, set_defaults' value */
    want /= 10;
    ck_assert_double_eq_tol(means[0], want, 1e-12 * want);
    ck_assert_double_eq(means[1], 4.5);         /* (1.5*4 + 5.5*4 + 8.5*2) / 10 */
    ck_assert_int_eq(line_calls, 3);
    ck_assert_int_eq(line_seen[0], 4);
    ck_assert_int_eq(line_seen[1], 4);
    ck_assert_int_eq(line_seen[2], 2);
    /* a model without state tensors may be given no state */
    double again;
    ck_assert_int_eq(nnrt_evaluate(&line_model, &p, NULL, NULL, &d.ts, names, 1, &again, err,
                                   sizeof err), 0);
    ck_assert(again == means[0]);
}
END_TEST

START_TEST(evaluate_averages_a_per_example_output_with_any_batch)
{
    line_data d;
    line_set(&d, 10);
    const char *sq[1] = {"sq"};
    double want = 0, dim = -1, fixed = -1, v1 = -1;
    for (size_t i = 0; i < 10; i++)
        want += line_sq(i, 0.5);
    want /= 10;
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, sq, 1, &dim, NULL, 0), 0);
    ck_assert_int_eq(nnrt_evaluate(&line_model_fixed, &line_p, NULL, NULL, &d.ts, sq, 1, &fixed,
                                   NULL, 0), 0);
    ck_assert_int_eq(nnrt_evaluate(V1(line_model_v1), &line_p, NULL, NULL, &d.ts, sq, 1, &v1, NULL,
                                   0), 0);
    ck_assert_double_eq_tol(dim, want, 1e-12 * want);
    ck_assert(fixed == dim);                    /* the topped-up rows are not counted */
    ck_assert(v1 == dim);
    ck_assert_int_eq(line_calls, 9);
    ck_assert_int_eq(line_seen[5], 4);          /* the fixed builds always compute 4 rows */
}
END_TEST

START_TEST(a_scalar_mean_over_a_fixed_batch_needs_a_multiple_of_it)
{
    line_data d;
    line_set(&d, 10);
    const char *J[1] = {"J"};
    double mean = -1;
    char err[512] = "";
    ck_assert_int_eq(nnrt_evaluate(&line_model_fixed, &line_p, NULL, NULL, &d.ts, J, 1, &mean, err,
                                   sizeof err), NNRT_EMISMATCH);
    ck_assert_str_eq(err, "nnrt_evaluate: output J is a mean over a fixed batch of 4 rows (model "
                          "line_fixed has no runtime batch dim), and 10 examples are not a multiple "
                          "of 4: declare the batch as a dim (dim batch <= 4), average a per-example "
                          "output instead, or evaluate the first 8 examples");
    ck_assert_double_eq(mean, -1);
    ck_assert_int_eq(line_calls, 0);
    /* on the first 8 it is the plain mean */
    d.ts.n = 8;
    ck_assert_int_eq(nnrt_evaluate(V1(line_model_v1), &line_p, NULL, NULL, &d.ts, J, 1, &mean, err,
                                   sizeof err), 0);
    double want = 0;
    for (size_t i = 0; i < 8; i++)
        want += line_sq(i, 0.5);
    ck_assert_double_eq_tol(mean, want / 8, 1e-12 * want);
}
END_TEST

START_TEST(evaluate_reads_hypers_from_the_callers_inputs_and_never_writes_them)
{
    line_data d;
    line_set(&d, 10);
    line_inputs in;
    poison(&in);
    in.c = 2.0f;
    line_inputs before = in;
    const char *sq[1] = {"sq"};
    double mean;
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, &in, &d.ts, sq, 1, &mean, NULL, 0), 0);
    double want = 0;
    for (size_t i = 0; i < 10; i++)
        want += line_sq(i, 2.0);
    ck_assert_double_eq_tol(mean, want / 10, 1e-12 * want);
    ck_assert_int_eq(memcmp(&in, &before, sizeof in), 0);
}
END_TEST

START_TEST(evaluate_reports_the_batch_where_forward_failed)
{
    line_data d;
    line_set(&d, 10);
    d.k[5] = -1;                                /* NNRT_EINDEX from forward */
    const char *J[1] = {"J"};
    double mean = -1;
    char err[256] = "";
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, J, 1, &mean, err,
                                   sizeof err), NNRT_EINDEX);
    ck_assert_ptr_nonnull(strstr(err, "nnrt_evaluate: model line: forward failed on examples [4, 8): "));
    ck_assert_double_eq(mean, -1);
}
END_TEST

START_TEST(evaluate_refuses_outputs_it_cannot_average)
{
    line_data d;
    line_set(&d, 10);
    double mean = -1;
    char err[512] = "";
    const char *names[2] = {"J", "nope"};
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, names, 2, &mean, err,
                                   sizeof err), NNRT_EMISMATCH);
    ck_assert_str_eq(err, "nnrt_evaluate: model line has no output named nope");
    names[1] = "x";                             /* an input, not an output */
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, names, 2, &mean, err,
                                   sizeof err), NNRT_EMISMATCH);
    names[0] = "wsq";
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, names, 1, &mean, err,
                                   sizeof err), NNRT_EMISMATCH);
    ck_assert_str_eq(err, "nnrt_evaluate: output wsq of model line has shape [2]: it must be a "
                          "scalar (a mean over the batch) or one value per example, [batch <= 4]");
    names[0] = NULL;
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, names, 1, &mean, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_double_eq(mean, -1);
    ck_assert_int_eq(line_calls, 0);
}
END_TEST

START_TEST(evaluate_refuses_bad_arguments)
{
    line_data d;
    line_set(&d, 10);
    const char *J[1] = {"J"};
    double mean = -1;
    char err[256] = "";
    ck_assert_int_eq(nnrt_evaluate(NULL, &line_p, NULL, NULL, &d.ts, J, 1, &mean, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, NULL, NULL, NULL, &d.ts, J, 1, &mean, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, NULL, J, 1, &mean, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, NULL, 1, &mean, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, J, 1, NULL, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, J, 0, &mean, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_evaluate(&line_model, &line_p, NULL, NULL, &d.ts, J, 65, &mean, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_evaluate: 65 outputs (1 to 64)");
    nnrt_model m = line_model;
    m.forward = NULL;
    ck_assert_int_eq(nnrt_evaluate(&m, &line_p, NULL, NULL, &d.ts, J, 1, &mean, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_evaluate: model line has no forward");
    /* toy has a state tensor r: its state is needed */
    nnrt_tensorset ts = {0};
    double ab[5] = {1, 2, 3, 4, 5};
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "ab", NNRT_F64, 0, NULL, 5, ab, NNRT_DATA_BORROW, NULL,
                                        0), 0);
    toy_params tp;
    toy_state_eval ts_eval;
    toy_init_eval(&tp, &ts_eval, 1);
    const char *norm[1] = {"norm"};
    ck_assert_int_eq(nnrt_evaluate(&toy_model_eval, &tp, NULL, NULL, &ts, norm, 1, &mean, err,
                                   sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_evaluate: model toy has state tensors (running statistics): pass "
                          "its state");
    ck_assert_double_eq(mean, -1);
    /* with it, norm (sum of squares of the params, whatever the rows) comes back */
    ck_assert_int_eq(nnrt_evaluate(&toy_model_eval, &tp, &ts_eval, NULL, &ts, norm, 1, &mean, err,
                                   sizeof err), 0);
    toy_outputs out;
    toy_inputs in;
    memset(&in, 0, sizeof in);
    toy_set_defaults(&in);
    toy_forward(&tp, &ts_eval, &in, &out, NULL);
    ck_assert_double_eq_tol(mean, out.norm, 1e-12);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("feed");
    TCase *tc = tcase_create("find");
    tcase_add_test(tc, find_returns_the_entry_of_a_version_2_descriptor);
    tcase_add_test(tc, find_role_filters_by_role);
    tcase_add_test(tc, find_never_returns_a_version_1_entry_and_find_v1_does);
    tcase_add_test(tc, find_returns_null_for_bad_arguments_and_descriptors);
    suite_add_tcase(s, tc);
    tc = tcase_create("check");
    tcase_add_test(tc, check_reports_the_batch_and_its_dim);
    tcase_add_test(tc, check_says_which_column_does_not_fit_and_why);
    tcase_add_test(tc, check_refuses_bad_sets_and_descriptors_without_crashing);
    suite_add_tcase(s, tc);
    tc = tcase_create("batch");
    tcase_add_test(tc, batch_fills_rows_in_order_and_sets_the_dim);
    tcase_add_test(tc, batch_follows_the_shuffled_order);
    tcase_add_test(tc, a_fixed_batch_is_topped_up_from_the_start_of_the_order);
    tcase_add_test(tc, an_epoch_of_batches_sees_every_example_once);
    tcase_add_test(tc, batch_converts_between_the_float_types);
    tcase_add_test(tc, batch_fills_token_windows_from_text);
    tcase_add_test(tc, batch_refuses_bad_arguments_and_writes_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("evaluate");
    tcase_add_checked_fixture(tc, line_reset, NULL);
    tcase_add_test(tc, evaluate_averages_a_scalar_mean_over_the_last_partial_batch);
    tcase_add_test(tc, evaluate_averages_a_per_example_output_with_any_batch);
    tcase_add_test(tc, a_scalar_mean_over_a_fixed_batch_needs_a_multiple_of_it);
    tcase_add_test(tc, evaluate_reads_hypers_from_the_callers_inputs_and_never_writes_them);
    tcase_add_test(tc, evaluate_reports_the_batch_where_forward_failed);
    tcase_add_test(tc, evaluate_refuses_outputs_it_cannot_average);
    tcase_add_test(tc, evaluate_refuses_bad_arguments);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
