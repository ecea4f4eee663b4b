/*
 * test_tensorset.c: data sets of named per-example tensors (tensorset.c):
 * columns copied or borrowed from memory, read from IDX arrays and files,
 * borrowed from a labelled nnrt_dataset, cut as windows of a token
 * sequence, and sliced; every refusal leaves the set as it was.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "rt_test.h"

static const int64_t d2[1] = {2};

/* A set with one f32 column "x" of 5 examples of 2 values: 10 * i + j. */
static void make_x(nnrt_tensorset *ts, int mode, float *x)
{
    for (int i = 0; i < 10; i++)
        x[i] = (float)(10 * (i / 2) + i % 2);
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add(ts, "x", NNRT_F32, 1, d2, 5, x, mode, err, sizeof err), 0);
    ck_assert_str_eq(err, "");
}

START_TEST(add_copies_the_data_when_asked)
{
    nnrt_tensorset ts = {0};
    float x[10];
    make_x(&ts, NNRT_DATA_COPY, x);
    x[3] = -1;                                  /* the caller's array changes, not the set */
    ck_assert_uint_eq(ts.n, 5);
    ck_assert_int_eq(ts.n_columns, 1);
    const nnrt_column *c = &ts.columns[0];
    ck_assert_str_eq(c->name, "x");
    ck_assert_int_eq(c->dtype, NNRT_F32);
    ck_assert_int_eq(c->rank, 1);
    ck_assert_int_eq(c->dims[0], 2);
    ck_assert_uint_eq(c->count, 2);
    ck_assert_uint_eq(c->stride, 2);
    ck_assert_ptr_nonnull(c->owned);
    ck_assert_ptr_eq(c->data, c->owned);
    ck_assert_ptr_ne(c->data, x);
    ck_assert_float_eq(((const float *)c->data)[3], 11);
    nnrt_tensorset_free(&ts);
    ck_assert_uint_eq(ts.n, 0);
    ck_assert_int_eq(ts.n_columns, 0);
}
END_TEST

START_TEST(add_borrows_the_callers_array)
{
    nnrt_tensorset ts = {0};
    float *x = malloc(10 * sizeof *x);
    ck_assert_ptr_nonnull(x);
    make_x(&ts, NNRT_DATA_BORROW, x);
    ck_assert_ptr_eq(ts.columns[0].data, x);
    ck_assert_ptr_null(ts.columns[0].owned);
    nnrt_tensorset_free(&ts);                   /* must not free x: ASan would say so */
    x[9] = 1;
    free(x);
}
END_TEST

START_TEST(the_first_column_fixes_n_and_the_others_must_agree)
{
    nnrt_tensorset ts = {0};
    float x[10];
    make_x(&ts, NNRT_DATA_BORROW, x);
    int32_t y[6] = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "y", NNRT_I32, 0, NULL, 6, y, NNRT_DATA_COPY, err,
                                        sizeof err), NNRT_EMISMATCH);
    ck_assert_str_eq(err, "nnrt_tensorset_add: column y has 6 examples, the set 5");
    ck_assert_int_eq(ts.n_columns, 1);
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "y", NNRT_I32, 0, NULL, 5, y, NNRT_DATA_COPY, NULL,
                                        0), 0);
    ck_assert_int_eq(ts.n_columns, 2);
    ck_assert_int_eq(ts.columns[1].rank, 0);
    ck_assert_uint_eq(ts.columns[1].count, 1);
    nnrt_tensorset_free(&ts);
}
END_TEST

/* Add with these arguments to a one-column set, expecting code and a
 * message containing want, and the set unchanged. */
static void refuse(const char *name, nnrt_dtype dtype, int rank, const int64_t *dims, size_t n,
                   const void *data, int mode, int code, const char *want)
{
    nnrt_tensorset ts = {0};
    float x[10];
    make_x(&ts, NNRT_DATA_BORROW, x);
    nnrt_tensorset before = ts;
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add(&ts, name, dtype, rank, dims, n, data, mode, err,
                                        sizeof err), code);
    ck_assert_msg(strstr(err, want), "message '%s' lacks '%s'", err, want);
    ck_assert_int_eq(memcmp(&ts, &before, sizeof ts), 0);
}

START_TEST(add_refuses_bad_arguments_and_leaves_the_set_as_it_was)
{
    float d[64] = {0};
    int64_t big[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t zero[1] = {0}, neg[1] = {-3};
    char long_name[NNRT_NAME_MAX + 1];
    memset(long_name, 'a', NNRT_NAME_MAX);
    long_name[NNRT_NAME_MAX] = '\0';
    refuse(NULL, NNRT_F32, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "NULL");
    refuse("y", NNRT_F32, 0, NULL, 5, NULL, NNRT_DATA_COPY, NNRT_EINVAL, "data is NULL");
    refuse("y", NNRT_F32, 0, NULL, 0, d, NNRT_DATA_COPY, NNRT_EINVAL, "no examples");
    refuse("y", NNRT_I64, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "not f32, f64 or i32");
    refuse("y", (nnrt_dtype)99, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "dtype 99");
    refuse("y", NNRT_F32, 5, big, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "rank 5");
    refuse("y", NNRT_F32, -1, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "rank -1");
    refuse("y", NNRT_F32, 1, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "rank 1");
    refuse("y", NNRT_F32, 1, zero, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "dim 0 is 0");
    refuse("y", NNRT_F32, 1, neg, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "dim 0 is -3");
    refuse("y", NNRT_F32, 2, big, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "overflows");
    refuse("", NNRT_F32, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "1 to 63 bytes");
    refuse(long_name, NNRT_F32, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "1 to 63 bytes");
    refuse("x", NNRT_F32, 0, NULL, 5, d, NNRT_DATA_COPY, NNRT_EINVAL, "already has a column x");
    refuse("y", NNRT_F32, 0, NULL, 5, d, 0, NNRT_EINVAL, "neither NNRT_DATA_COPY");
    refuse("y", NNRT_F32, 0, NULL, 5, d, 3, NNRT_EINVAL, "mode 3");
    ck_assert_int_eq(nnrt_tensorset_add(NULL, "y", NNRT_F32, 0, NULL, 5, d, NNRT_DATA_COPY, NULL, 0),
                     NNRT_EINVAL);
    nnrt_tensorset empty = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add(&empty, "y", NNRT_F32, 1, big, SIZE_MAX / 2, d,
                                        NNRT_DATA_BORROW, err, sizeof err), NNRT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "examples of 1099511627776 elements overflow"));
    ck_assert_int_eq(empty.n_columns, 0);
}
END_TEST

START_TEST(a_set_holds_at_most_its_maximum_of_columns)
{
    nnrt_tensorset ts = {0};
    float d[4] = {0};
    char name[8], err[256] = "";
    for (int i = 0; i < NNRT_TENSORSET_MAX; i++) {
        snprintf(name, sizeof name, "c%d", i);
        ck_assert_int_eq(nnrt_tensorset_add(&ts, name, NNRT_F32, 0, NULL, 4, d, NNRT_DATA_COPY,
                                            NULL, 0), 0);
    }
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "one_more", NNRT_F32, 0, NULL, 4, d, NNRT_DATA_COPY,
                                        err, sizeof err), NNRT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "already has 16 columns"));
    ck_assert_int_eq(ts.n_columns, NNRT_TENSORSET_MAX);
    nnrt_tensorset_free(&ts);                   /* frees the 16 copies (ASan: no leak) */
}
END_TEST

/* ---- IDX ---- */

START_TEST(add_idx_converts_and_scales_u8_pixels_as_dataset_load_does)
{
    uint8_t px[256];                            /* every value a pixel can take */
    for (int i = 0; i < 256; i++)
        px[i] = (uint8_t)(i * 23 + 1);
    nnrt_idx a = {NNRT_IDX_U8, 3, {64, 2, 2, 0}, 256, 1, px};
    nnrt_tensorset ts = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &a, 255, err, sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x64", NNRT_F64, &a, 255, err, sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "raw", NNRT_I32, &a, 1, err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 64);
    const nnrt_column *x = &ts.columns[0], *x64 = &ts.columns[1], *raw = &ts.columns[2];
    ck_assert_int_eq(x->rank, 2);
    ck_assert_int_eq(x->dims[0], 2);
    ck_assert_int_eq(x->dims[1], 2);
    ck_assert_uint_eq(x->count, 4);
    for (int i = 0; i < 256; i++) {
        float want = (float)px[i] / 255.0f;    /* nnrt_dataset_load's expression */
        ck_assert(memcmp(&((const float *)x->data)[i], &want, sizeof want) == 0);
        ck_assert_double_eq(((const double *)x64->data)[i], px[i] / 255.0);
        ck_assert_int_eq(((const int32_t *)raw->data)[i], px[i]);
    }
    ck_assert_ptr_nonnull(raw->owned);
    ck_assert_ptr_ne(raw->data, px);
    nnrt_tensorset_free(&ts);
}
END_TEST

START_TEST(a_rank_one_idx_array_gives_scalar_examples)
{
    int16_t v[4] = {-7, 0, 300, 5};
    nnrt_idx a = {NNRT_IDX_I16, 1, {4, 0, 0, 0}, 4, 2, v};
    nnrt_tensorset ts = {0};
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "t", NNRT_F32, &a, 1, NULL, 0), 0);
    ck_assert_int_eq(ts.columns[0].rank, 0);
    ck_assert_uint_eq(ts.columns[0].count, 1);
    ck_assert_float_eq(((const float *)ts.columns[0].data)[2], 300);
    ck_assert_float_eq(((const float *)ts.columns[0].data)[0], -7);
    nnrt_tensorset_free(&ts);
}
END_TEST

START_TEST(add_idx_refuses_floats_as_i32_bad_divisors_and_bad_arrays)
{
    float f[4] = {0, 1, 2, 3};
    uint8_t u[4] = {0, 1, 2, 3};
    nnrt_idx fa = {NNRT_IDX_F32, 1, {4, 0, 0, 0}, 4, 4, f};
    nnrt_idx ua = {NNRT_IDX_U8, 1, {4, 0, 0, 0}, 4, 1, u};
    nnrt_tensorset ts = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "y", NNRT_I32, &fa, 1, err, sizeof err),
                     NNRT_EMISMATCH);
    ck_assert_str_eq(err, "nnrt_tensorset_add_idx: column y: the elements are floats, they cannot "
                          "be read as i32");
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "y", NNRT_I32, &ua, 255, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &ua, 0, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &ua, NAN, err, sizeof err),
                     NNRT_EINVAL);
    nnrt_idx bad = ua;
    bad.count = 5;                              /* does not match its dims */
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &bad, 1, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_add_idx: not a valid nnrt_idx");
    bad = ua;
    bad.type = 0x42;
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &bad, 1, err, sizeof err),
                     NNRT_EINVAL);
    bad = ua;
    bad.data = NULL;
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, &bad, 1, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_idx(&ts, "x", NNRT_F32, NULL, 1, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(ts.n_columns, 0);
}
END_TEST

/* An IDX file of f32 values, big-endian, gzipped. */
static void write_f32_idx(const char *name, const float *v, uint32_t n)
{
    unsigned char buf[8 + 4 * 16];
    ck_assert_uint_le(n, 16);
    unsigned char head[8] = {0, 0, NNRT_IDX_F32, 1, (unsigned char)(n >> 24),
                             (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(buf, head, 8);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int b = 0; b < 4; b++)
            buf[8 + 4 * i + (uint32_t)b] = (unsigned char)(u >> (24 - 8 * b));
    }
    write_gz(path_of(name), buf, 8 + 4 * (size_t)n);
}

START_TEST(load_idx_reads_float_targets_from_a_file)
{
    float t[4] = {1.5f, -2.25f, 1e-3f, 7};
    write_f32_idx("t.idx.gz", t, 4);
    nnrt_tensorset ts = {0};
    char err[512] = "";
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t", NNRT_F32, path_of("t.idx.gz"), 1, err,
                                             sizeof err), 0);
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t64", NNRT_F64, path_of("t.idx.gz"), 1, err,
                                             sizeof err), 0);
    ck_assert_uint_eq(ts.n, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert(((const float *)ts.columns[0].data)[i] == t[i]);
        ck_assert(((const double *)ts.columns[1].data)[i] == (double)t[i]);
    }
    nnrt_tensorset_free(&ts);
}
END_TEST

START_TEST(load_idx_names_the_file_in_its_errors)
{
    float t[5] = {0};
    write_f32_idx("t4.idx.gz", t, 4);
    write_f32_idx("t5.idx.gz", t, 5);
    nnrt_tensorset ts = {0};
    float x[10];
    make_x(&ts, NNRT_DATA_BORROW, x);
    char err[512] = "", want[600];
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t", NNRT_F32, path_of("t4.idx.gz"), 1, err,
                                             sizeof err), NNRT_EMISMATCH);
    snprintf(want, sizeof want, "%s: column t has 4 examples, the set 5", path_of("t4.idx.gz"));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "y", NNRT_I32, path_of("t5.idx.gz"), 1, err,
                                             sizeof err), NNRT_EMISMATCH);
    snprintf(want, sizeof want, "%s: column y: the elements are floats, they cannot be read as i32",
             path_of("t5.idx.gz"));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t", NNRT_F32, path_of("none.idx"), 1, err,
                                             sizeof err), NNRT_EIO);
    ck_assert_ptr_nonnull(strstr(err, "none.idx: cannot open"));
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t", NNRT_F32, NULL, 1, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(ts.n_columns, 1);
    ck_assert_int_eq(nnrt_tensorset_load_idx(&ts, "t", NNRT_F32, path_of("t5.idx.gz"), 1, err,
                                             sizeof err), 0);
    ck_assert_int_eq(ts.n_columns, 2);
    nnrt_tensorset_free(&ts);
}
END_TEST

/* ---- Labelled sets, windows, slices ---- */

START_TEST(add_dataset_borrows_images_and_labels)
{
    float x[3 * 4];
    int32_t y[3] = {2, 0, 1};
    for (int i = 0; i < 12; i++)
        x[i] = (float)i / 16;
    nnrt_dataset ds = {3, 4, 2, {2, 2, 0}, 3, x, y};
    nnrt_tensorset ts = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, "img", "label", err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 3);
    ck_assert_int_eq(ts.n_columns, 2);
    ck_assert_str_eq(ts.columns[0].name, "img");
    ck_assert_ptr_eq(ts.columns[0].data, x);
    ck_assert_int_eq(ts.columns[0].rank, 2);
    ck_assert_uint_eq(ts.columns[0].count, 4);
    ck_assert_str_eq(ts.columns[1].name, "label");
    ck_assert_int_eq(ts.columns[1].dtype, NNRT_I32);
    ck_assert_ptr_eq(ts.columns[1].data, y);
    ck_assert_ptr_null(ts.columns[0].owned);
    ck_assert_ptr_null(ts.columns[1].owned);
    nnrt_tensorset_free(&ts);

    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, NULL, "y", NULL, 0), 0);
    ck_assert_int_eq(ts.n_columns, 1);
    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, "y", NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, NULL, NULL, err, sizeof err), NNRT_EINVAL);
    nnrt_tensorset_free(&ts);
    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, "a", "a", err, sizeof err), NNRT_EINVAL);
    ds.dim = 5;                                 /* dims [2, 2] do not make 5 */
    ck_assert_int_eq(nnrt_tensorset_add_dataset(&ts, &ds, "a", "b", err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(ts.n_columns, 0);
}
END_TEST

static int32_t ids10[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

static int32_t at(const nnrt_column *c, size_t example, size_t i)
{
    return ((const int32_t *)c->data)[example * c->stride + i];
}

static void check_windows(const nnrt_tensorset *ts, size_t stride)
{
    for (size_t k = 0; k < ts->n; k++)
        for (size_t i = 0; i < 3; i++) {
            ck_assert_int_eq(at(&ts->columns[0], k, i), (int32_t)(k * stride + i));
            if (ts->n_columns > 1)
                ck_assert_int_eq(at(&ts->columns[1], k, i), (int32_t)(k * stride + i + 1));
        }
}

START_TEST(windows_cut_a_sequence_as_the_textbook_does)
{
    nnrt_tensorset ts = {0};
    char err[256] = "";
    /* stride 1, borrowed: every window, no copy */
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 3, 1, NNRT_DATA_BORROW,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 7);
    ck_assert_ptr_eq(ts.columns[0].data, ids10);
    ck_assert_ptr_eq(ts.columns[1].data, ids10 + 1);
    ck_assert_uint_eq(ts.columns[0].stride, 1);
    ck_assert_int_eq(ts.columns[0].rank, 1);
    ck_assert_int_eq(ts.columns[0].dims[0], 3);
    check_windows(&ts, 1);
    nnrt_tensorset_free(&ts);
    /* stride 3, copied: disjoint windows, contiguous */
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 3, 3, NNRT_DATA_COPY,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 3);
    ck_assert_uint_eq(ts.columns[1].stride, 3);
    ck_assert_ptr_nonnull(ts.columns[1].owned);
    check_windows(&ts, 3);
    ck_assert_int_eq(at(&ts.columns[1], 2, 2), 9);
    nnrt_tensorset_free(&ts);
    /* stride 2, copied: overlapping windows laid out one after the other */
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 3, 2, NNRT_DATA_COPY,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 4);
    ck_assert_uint_eq(ts.columns[0].stride, 3);
    check_windows(&ts, 2);
    ck_assert_int_eq(at(&ts.columns[0], 3, 0), 6);
    nnrt_tensorset_free(&ts);
    /* without y the last window may end at the last id */
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", NULL, ids10, 10, 3, 3, NNRT_DATA_COPY,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 3);
    ck_assert_int_eq(ts.n_columns, 1);
    nnrt_tensorset_free(&ts);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", NULL, ids10, 10, 5, 5, NNRT_DATA_BORROW,
                                                err, sizeof err), 0);
    ck_assert_uint_eq(ts.n, 2);
    ck_assert_int_eq(at(&ts.columns[0], 1, 4), 9);
    nnrt_tensorset_free(&ts);
}
END_TEST

START_TEST(windows_refuse_sequences_shorter_than_a_window)
{
    nnrt_tensorset ts = {0};
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 3, 3, 1, NNRT_DATA_COPY,
                                                err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_add_windows: 3 ids are fewer than one window of 3 steps "
                          "and its next token");
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 0, 1, NNRT_DATA_COPY,
                                                err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 3, 0, NNRT_DATA_COPY,
                                                err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "x", ids10, 10, 3, 1, NNRT_DATA_COPY,
                                                err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", NULL, 10, 3, 1, NNRT_DATA_COPY,
                                                err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "x", "y", ids10, 10, 3, 1, 0, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(ts.n_columns, 0);
}
END_TEST

START_TEST(slice_borrows_a_range_of_examples)
{
    nnrt_tensorset ts = {0}, part;
    float x[10];
    make_x(&ts, NNRT_DATA_COPY, x);
    ck_assert_int_eq(nnrt_tensorset_add_windows(&ts, "w", NULL, ids10, 10, 3, 1, NNRT_DATA_BORROW,
                                                NULL, 0), NNRT_EMISMATCH);   /* 8 windows, 5 */
    int32_t y[5] = {10, 11, 12, 13, 14};
    ck_assert_int_eq(nnrt_tensorset_add(&ts, "y", NNRT_I32, 0, NULL, 5, y, NNRT_DATA_BORROW, NULL,
                                        0), 0);
    char err[256] = "";
    ck_assert_int_eq(nnrt_tensorset_slice(&ts, 2, 3, &part, err, sizeof err), 0);
    ck_assert_uint_eq(part.n, 3);
    ck_assert_int_eq(part.n_columns, 2);
    ck_assert_ptr_null(part.columns[0].owned);
    ck_assert_float_eq(((const float *)part.columns[0].data)[0], 20);
    ck_assert_float_eq(((const float *)part.columns[0].data)[5], 41);
    ck_assert_int_eq(((const int32_t *)part.columns[1].data)[2], 14);
    nnrt_tensorset_free(&part);                 /* owns nothing */
    ck_assert_float_eq(((const float *)ts.columns[0].data)[9], 41);

    nnrt_tensorset keep;
    memset(&keep, 0x5A, sizeof keep);
    nnrt_tensorset before = keep;
    ck_assert_int_eq(nnrt_tensorset_slice(&ts, 3, 3, &keep, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_tensorset_slice: examples [3, 3 + 3) are not a nonempty range of "
                          "the set's 5");
    ck_assert_int_eq(nnrt_tensorset_slice(&ts, 0, 0, &keep, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_slice(&ts, SIZE_MAX, 2, &keep, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_tensorset_slice(NULL, 0, 1, &keep, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(memcmp(&keep, &before, sizeof keep), 0);
    nnrt_tensorset_free(&ts);
}
END_TEST

START_TEST(free_is_harmless_on_a_zeroed_set_and_null)
{
    nnrt_tensorset ts = {0};
    nnrt_tensorset_free(&ts);
    nnrt_tensorset_free(NULL);
    ck_assert_int_eq(ts.n_columns, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensorset");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, add_copies_the_data_when_asked);
    tcase_add_test(tc, add_borrows_the_callers_array);
    tcase_add_test(tc, the_first_column_fixes_n_and_the_others_must_agree);
    tcase_add_test(tc, add_refuses_bad_arguments_and_leaves_the_set_as_it_was);
    tcase_add_test(tc, a_set_holds_at_most_its_maximum_of_columns);
    tcase_add_test(tc, free_is_harmless_on_a_zeroed_set_and_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, add_idx_converts_and_scales_u8_pixels_as_dataset_load_does);
    tcase_add_test(tc, a_rank_one_idx_array_gives_scalar_examples);
    tcase_add_test(tc, add_idx_refuses_floats_as_i32_bad_divisors_and_bad_arrays);
    tcase_add_test(tc, load_idx_reads_float_targets_from_a_file);
    tcase_add_test(tc, load_idx_names_the_file_in_its_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("views");
    tcase_add_test(tc, add_dataset_borrows_images_and_labels);
    tcase_add_test(tc, windows_cut_a_sequence_as_the_textbook_does);
    tcase_add_test(tc, windows_refuse_sequences_shorter_than_a_window);
    tcase_add_test(tc, slice_borrows_a_range_of_examples);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
