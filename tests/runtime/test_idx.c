/*
 * test_idx.c: the IDX reader (idx.c), data sets, shuffling and minibatches
 * (dataset.c).  The tests write their own small IDX files, plain and
 * gzipped, into a scratch directory.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "rt_test.h"

/* ---- Building IDX files ---- */

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = 2 * (b->len + n);
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_be(bytes *b, uint64_t v, int size)
{
    unsigned char c[8];
    for (int i = 0; i < size; i++)
        c[i] = (unsigned char)(v >> 8 * (size - 1 - i));
    put(b, c, (size_t)size);
}

static bytes idx_header(int type, int rank, const uint32_t *dims)
{
    bytes b = {NULL, 0, 0};
    unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)rank};
    put(&b, magic, 4);
    for (int i = 0; i < rank; i++)
        put_be(&b, dims[i], 4);
    return b;
}

/* A u8 IDX file whose element i is i * 7 % 256. */
static bytes idx_u8(int rank, const uint32_t *dims)
{
    bytes b = idx_header(NNRT_IDX_U8, rank, dims);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(i * 7 % 256);
        put(&b, &c, 1);
    }
    return b;
}

static void save(const char *name, bytes b, int gz)
{
    if (gz)
        write_gz(path_of(name), b.p, b.len);
    else
        write_file(path_of(name), b.p, b.len);
    free(b.p);
}

/* Load name, expecting code, and the message to contain want. */
static void expect_failure(const char *name, int code, const char *want)
{
    nnrt_idx a;
    char err[512] = "";
    memset(&a, 0x77, sizeof a);
    ck_assert_int_eq(nnrt_idx_load(path_of(name), &a, err, sizeof err), code);
    ck_assert_ptr_null(a.data);
    ck_assert_int_eq(a.rank, 0);
    ck_assert_msg(strstr(err, name) != NULL, "message does not name the file: %s", err);
    ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
    nnrt_idx_free(&a);
}

/* ---- Reading ---- */

static void check_u8_3x2x2(const char *name)
{
    nnrt_idx a;
    char err[256] = "";
    ck_assert_int_eq(nnrt_idx_load(path_of(name), &a, err, sizeof err), 0);
    ck_assert_int_eq(a.type, NNRT_IDX_U8);
    ck_assert_int_eq(a.rank, 3);
    ck_assert(a.dims[0] == 3 && a.dims[1] == 2 && a.dims[2] == 2 && a.dims[3] == 0);
    ck_assert_uint_eq(a.count, 12);
    ck_assert_uint_eq(a.elem_size, 1);
    ck_assert_uint_eq((uintptr_t)a.data % 64, 0);
    for (size_t i = 0; i < 12; i++)
        ck_assert_uint_eq(((uint8_t *)a.data)[i], i * 7 % 256);
    nnrt_idx_free(&a);
    ck_assert_ptr_null(a.data);
}

START_TEST(reads_a_plain_u8_file)
{
    uint32_t d[3] = {3, 2, 2};
    save("plain", idx_u8(3, d), 0);
    check_u8_3x2x2("plain");
}
END_TEST

START_TEST(reads_a_gzipped_file_the_same_whatever_its_name)
{
    uint32_t d[3] = {3, 2, 2};
    save("images.gz", idx_u8(3, d), 1);
    check_u8_3x2x2("images.gz");
    save("no-suffix", idx_u8(3, d), 1);
    check_u8_3x2x2("no-suffix");
}
END_TEST

START_TEST(converts_wider_types_to_host_order)
{
    uint32_t d[1] = {2};
    bytes b = idx_header(NNRT_IDX_I16, 1, d);
    put_be(&b, (uint16_t)-2, 2);
    put_be(&b, 1000, 2);
    save("i16", b, 0);
    b = idx_header(NNRT_IDX_I32, 1, d);
    put_be(&b, (uint32_t)-70000, 4);
    put_be(&b, 123456789, 4);
    save("i32", b, 1);
    b = idx_header(NNRT_IDX_F32, 1, d);
    put_be(&b, 0x3fc00000, 4);            /* 1.5f */
    put_be(&b, 0xbe800000, 4);            /* -0.25f */
    save("f32", b, 0);
    b = idx_header(NNRT_IDX_F64, 1, d);
    put_be(&b, 0x400921fb54442d18u, 8);   /* pi */
    put_be(&b, 0xc000000000000000u, 8);   /* -2 */
    save("f64", b, 1);
    b = idx_header(NNRT_IDX_I8, 1, d);
    put_be(&b, 0xfe, 1);
    put_be(&b, 0x7f, 1);
    save("i8", b, 0);

    nnrt_idx a;
    ck_assert_int_eq(nnrt_idx_load(path_of("i16"), &a, NULL, 0), 0);
    ck_assert(a.elem_size == 2 && ((int16_t *)a.data)[0] == -2 && ((int16_t *)a.data)[1] == 1000);
    nnrt_idx_free(&a);
    ck_assert_int_eq(nnrt_idx_load(path_of("i32"), &a, NULL, 0), 0);
    ck_assert(((int32_t *)a.data)[0] == -70000 && ((int32_t *)a.data)[1] == 123456789);
    nnrt_idx_free(&a);
    ck_assert_int_eq(nnrt_idx_load(path_of("f32"), &a, NULL, 0), 0);
    ck_assert(((float *)a.data)[0] == 1.5f && ((float *)a.data)[1] == -0.25f);
    nnrt_idx_free(&a);
    ck_assert_int_eq(nnrt_idx_load(path_of("f64"), &a, NULL, 0), 0);
    ck_assert(((double *)a.data)[0] == 3.141592653589793 && ((double *)a.data)[1] == -2);
    nnrt_idx_free(&a);
    ck_assert_int_eq(nnrt_idx_load(path_of("i8"), &a, NULL, 0), 0);
    ck_assert(((int8_t *)a.data)[0] == -2 && ((int8_t *)a.data)[1] == 127);
    nnrt_idx_free(&a);
}
END_TEST

/* Larger than the first buffer (16 MiB), so the buffer has to grow. */
START_TEST(reads_a_file_larger_than_the_first_buffer)
{
    uint32_t d[3] = {17, 1024, 1024};
    save("big", idx_u8(3, d), 0);
    nnrt_idx a;
    ck_assert_int_eq(nnrt_idx_load(path_of("big"), &a, NULL, 0), 0);
    ck_assert_uint_eq(a.count, 17u << 20);
    const uint8_t *p = a.data;
    size_t i = 0;
    while (i < a.count && p[i] == i * 7 % 256)
        i++;
    ck_assert_uint_eq(i, a.count);
    nnrt_idx_free(&a);
}
END_TEST

/* ---- Refusing bad files ---- */

START_TEST(bad_magic_is_a_format_error)
{
    unsigned char png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    write_file(path_of("picture.png"), png, sizeof png);
    expect_failure("picture.png", NNRT_EFORMAT, "not an IDX file");
    save("gz-png", (bytes){memcpy(malloc(16), png, 16), 16, 16}, 1);
    expect_failure("gz-png", NNRT_EFORMAT, "magic");
}
END_TEST

START_TEST(unknown_type_or_rank_is_a_format_error)
{
    uint32_t d[5] = {1, 1, 1, 1, 1};
    save("type", idx_header(0x0A, 1, d), 0);
    expect_failure("type", NNRT_EFORMAT, "type 0x0a");
    save("rank0", idx_header(NNRT_IDX_U8, 0, d), 0);
    expect_failure("rank0", NNRT_EFORMAT, "rank 0");
    save("rank5", idx_u8(5, d), 0);
    expect_failure("rank5", NNRT_EFORMAT, "rank 5");
}
END_TEST

START_TEST(a_zero_dimension_is_a_format_error)
{
    uint32_t d[2] = {5, 0};
    save("zero", idx_header(NNRT_IDX_U8, 2, d), 0);
    expect_failure("zero", NNRT_EFORMAT, "dimension 1 is 0");
}
END_TEST

START_TEST(dimensions_that_overflow_are_a_format_error)
{
    uint32_t d[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    save("overflow", idx_header(NNRT_IDX_F64, 3, d), 0);
    expect_failure("overflow", NNRT_EFORMAT, "too large");
}
END_TEST

/* A damaged header announcing 4 EiB is found short, not out of memory. */
START_TEST(a_huge_announced_size_fails_as_truncated_not_out_of_memory)
{
    uint32_t d[2] = {1u << 31, 1u << 31};
    bytes b = idx_header(NNRT_IDX_U8, 2, d);
    put(&b, "some data", 9);
    save("huge", b, 0);
    expect_failure("huge", NNRT_ECORRUPT, "truncated");
}
END_TEST

START_TEST(truncated_data_is_corrupt)
{
    uint32_t d[2] = {10, 10};
    bytes b = idx_u8(2, d);
    b.len -= 1;
    save("short", b, 0);
    expect_failure("short", NNRT_ECORRUPT, "truncated: 99 bytes of data, the header announces 100");
    b = idx_u8(2, d);
    b.len -= 30;
    save("short.gz", b, 1);
    expect_failure("short.gz", NNRT_ECORRUPT, "truncated");
    b = idx_u8(2, d);
    b.len = 6;                            /* inside the dims */
    save("header", b, 0);
    expect_failure("header", NNRT_ECORRUPT, "truncated header");
}
END_TEST

START_TEST(trailing_bytes_are_corrupt)
{
    uint32_t d[2] = {10, 10};
    bytes b = idx_u8(2, d);
    put(&b, "x", 1);
    save("long", b, 0);
    expect_failure("long", NNRT_ECORRUPT, "trailing bytes");
    b = idx_u8(2, d);
    put(&b, "xyz", 3);
    save("long.gz", b, 1);
    expect_failure("long.gz", NNRT_ECORRUPT, "trailing bytes");
}
END_TEST

/* The data is all there but the gzip trailer (CRC, length) is cut off. */
START_TEST(a_cut_gzip_stream_is_corrupt_even_with_all_the_data)
{
    uint32_t d[2] = {10, 10};
    save("cut.gz", idx_u8(2, d), 1);
    size_t len;
    unsigned char *raw = read_file(path_of("cut.gz"), &len);
    write_file(path_of("cut.gz"), raw, len - 4);
    free(raw);
    expect_failure("cut.gz", NNRT_ECORRUPT, "gzip");
}
END_TEST

START_TEST(damaged_gzip_data_is_corrupt)
{
    uint32_t d[2] = {50, 50};
    save("bad.gz", idx_u8(2, d), 1);
    size_t len;
    unsigned char *raw = read_file(path_of("bad.gz"), &len);
    raw[len - 6] ^= 0x55;                 /* in the CRC-32 of the trailer */
    write_file(path_of("bad.gz"), raw, len);
    free(raw);
    expect_failure("bad.gz", NNRT_ECORRUPT, "gzip");
}
END_TEST

START_TEST(a_missing_file_is_an_io_error)
{
    expect_failure("does-not-exist.gz", NNRT_EIO, "cannot open");
}
END_TEST

START_TEST(an_empty_or_tiny_file_is_refused)
{
    write_file(path_of("empty"), "", 0);
    expect_failure("empty", NNRT_EFORMAT, "empty");
    write_file(path_of("two"), "\0\0", 2);
    expect_failure("two", NNRT_ECORRUPT, "truncated");
}
END_TEST

START_TEST(null_arguments_are_invalid)
{
    nnrt_idx a;
    ck_assert_int_eq(nnrt_idx_load(NULL, &a, NULL, 0), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_idx_load("x", NULL, NULL, 0), NNRT_EINVAL);
    nnrt_idx_free(NULL);
}
END_TEST

/* ---- Data sets ---- */

static void write_labels(const char *name, int type, size_t n, const int32_t *labels, int gz)
{
    uint32_t d[1] = {(uint32_t)n};
    bytes b = idx_header(type, 1, d);
    int size = type == NNRT_IDX_I32 ? 4 : type == NNRT_IDX_I16 ? 2 : 1;
    for (size_t i = 0; i < n; i++)
        put_be(&b, (uint32_t)labels[i], size);
    save(name, b, gz);
}

/* Four 2x3 images: image i has pixels i*60 + {0, 1, 2, 3, 4, 5}, except the
 * last pixel of the last image, 255. */
static void write_images(const char *name, int gz)
{
    uint32_t d[3] = {4, 2, 3};
    bytes b = idx_header(NNRT_IDX_U8, 3, d);
    for (int i = 0; i < 24; i++) {
        unsigned char c = i == 23 ? 255 : (unsigned char)(i / 6 * 60 + i % 6);
        put(&b, &c, 1);
    }
    save(name, b, gz);
}

static void load_small_set(nnrt_dataset *ds)
{
    static const int32_t labels[4] = {3, 0, 9, 3};
    write_images("img.gz", 1);
    write_labels("lab", NNRT_IDX_U8, 4, labels, 0);
    char err[256] = "";
    ck_assert_msg(nnrt_dataset_load(path_of("img.gz"), path_of("lab"), ds, err, sizeof err) == 0,
                  "%s", err);
}

START_TEST(dataset_scales_u8_images_to_unit_floats)
{
    nnrt_dataset ds;
    load_small_set(&ds);
    ck_assert_uint_eq(ds.n, 4);
    ck_assert_uint_eq(ds.dim, 6);
    ck_assert(ds.rank == 2 && ds.dims[0] == 2 && ds.dims[1] == 3);
    ck_assert_int_eq(ds.n_classes, 10);
    ck_assert_uint_eq((uintptr_t)ds.x % 64, 0);
    for (int i = 0; i < 23; i++)
        ck_assert_float_eq(ds.x[i], (float)(i / 6 * 60 + i % 6) / 255.0f);
    ck_assert_float_eq(ds.x[23], 1.0f);
    ck_assert_float_eq(ds.x[0], 0.0f);
    ck_assert(ds.y[0] == 3 && ds.y[1] == 0 && ds.y[2] == 9 && ds.y[3] == 3);
    nnrt_dataset_free(&ds);
    ck_assert_ptr_null(ds.x);
}
END_TEST

START_TEST(dataset_takes_wider_integer_labels)
{
    static const int32_t labels[4] = {1000, 0, 1, 2};
    write_images("img", 0);
    write_labels("lab32", NNRT_IDX_I32, 4, labels, 1);
    nnrt_dataset ds;
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("lab32"), &ds, NULL, 0), 0);
    ck_assert_int_eq(ds.y[0], 1000);
    ck_assert_int_eq(ds.n_classes, 1001);
    nnrt_dataset_free(&ds);
}
END_TEST

START_TEST(dataset_refuses_mismatched_counts)
{
    static const int32_t labels[5] = {0, 1, 2, 3, 4};
    write_images("img", 0);
    write_labels("lab5", NNRT_IDX_U8, 5, labels, 0);
    nnrt_dataset ds;
    char err[512] = "";
    memset(&ds, 0x33, sizeof ds);
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("lab5"), &ds, err, sizeof err),
                     NNRT_EMISMATCH);
    ck_assert_ptr_null(ds.x);
    ck_assert_uint_eq(ds.n, 0);
    ck_assert_msg(strstr(err, "4 images") && strstr(err, "5 labels"), "%s", err);
}
END_TEST

START_TEST(dataset_refuses_labels_that_are_not_class_numbers)
{
    static const int32_t neg[4] = {0, 1, -1, 2};
    nnrt_dataset ds;
    char err[512] = "";
    write_images("img", 0);
    write_labels("neg", NNRT_IDX_I8, 4, neg, 0);
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("neg"), &ds, err, sizeof err),
                     NNRT_EFORMAT);
    ck_assert_msg(strstr(err, "label 2 is negative"), "%s", err);

    uint32_t d2[2] = {4, 1};
    save("rank2", idx_u8(2, d2), 0);
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("rank2"), &ds, err, sizeof err),
                     NNRT_EFORMAT);
    ck_assert_msg(strstr(err, "rank-1"), "%s", err);

    uint32_t d1[1] = {4};
    bytes b = idx_header(NNRT_IDX_F32, 1, d1);
    for (int i = 0; i < 4; i++)
        put_be(&b, 0x3f800000, 4);
    save("float", b, 0);
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("float"), &ds, err, sizeof err),
                     NNRT_EFORMAT);
    ck_assert_msg(strstr(err, "integers"), "%s", err);
}
END_TEST

START_TEST(dataset_reports_which_file_is_missing)
{
    nnrt_dataset ds;
    char err[512] = "";
    write_images("img", 0);
    ck_assert_int_eq(nnrt_dataset_load(path_of("img"), path_of("nolabels"), &ds, err, sizeof err),
                     NNRT_EIO);
    ck_assert_msg(strstr(err, "nolabels: cannot open"), "%s", err);
    ck_assert_ptr_null(ds.x);
}
END_TEST

/* ---- Shuffling ---- */

static void check_permutation(const uint32_t *perm, size_t n)
{
    unsigned char *seen = calloc(n + 1, 1);
    ck_assert_ptr_nonnull(seen);
    size_t i = 0;
    while (i < n && perm[i] < n && !seen[perm[i]])
        seen[perm[i++]] = 1;
    ck_assert_msg(i == n, "perm[%zu] = %u is out of range or repeated", i, i < n ? perm[i] : 0);
    free(seen);
}

START_TEST(shuffle_gives_a_permutation)
{
    uint32_t perm[1000];
    for (uint64_t seed = 0; seed < 5; seed++) {
        ck_assert_int_eq(nnrt_shuffle(perm, 1000, seed, seed * 3), 0);
        check_permutation(perm, 1000);
    }
    ck_assert_int_eq(nnrt_shuffle(perm, 1, 1, 1), 0);
    ck_assert_uint_eq(perm[0], 0);
    ck_assert_int_eq(nnrt_shuffle(NULL, 0, 1, 1), 0);
}
END_TEST

START_TEST(shuffle_is_deterministic)
{
    uint32_t a[500], b[500];
    ck_assert_int_eq(nnrt_shuffle(a, 500, 42, 7), 0);
    ck_assert_int_eq(nnrt_shuffle(b, 500, 42, 7), 0);
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

static size_t fixed_points_between(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
    uint32_t a[500], b[500];
    size_t same = 0;
    ck_assert_int_eq(nnrt_shuffle(a, 500, s1, e1), 0);
    ck_assert_int_eq(nnrt_shuffle(b, 500, s2, e2), 0);
    for (int i = 0; i < 500; i++)
        same += a[i] == b[i];
    return same;
}

START_TEST(shuffle_differs_across_epochs_and_seeds)
{
    /* two independent permutations agree in about one place */
    ck_assert_uint_lt(fixed_points_between(42, 0, 42, 1), 10);
    ck_assert_uint_lt(fixed_points_between(42, 1, 42, 2), 10);
    ck_assert_uint_lt(fixed_points_between(42, 1, 43, 1), 10);
}
END_TEST

/* All 6 orders of 3 items equally likely, and each of 10 items equally
 * likely first: within 5 standard deviations over 60000 shuffles.  A
 * Fisher-Yates that draws from the wrong range fails this. */
START_TEST(shuffle_is_uniform)
{
    enum { TRIALS = 60000 };
    size_t orders[27] = {0}, first[10] = {0};
    int rc = 0;
    for (uint64_t e = 0; e < TRIALS; e++) {
        uint32_t p[10];
        rc |= nnrt_shuffle(p, 3, 9, e);
        orders[p[0] * 9 + p[1] * 3 + p[2]]++;
        rc |= nnrt_shuffle(p, 10, 9, e);
        first[p[0]]++;
    }
    ck_assert_int_eq(rc, 0);
    double q = 1.0 / 6, sd = sqrt(TRIALS * q * (1 - q)), seen = 0;
    for (int k = 0; k < 27; k++) {
        if (orders[k] == 0)
            continue;
        seen++;
        ck_assert_msg(fabs((double)orders[k] - TRIALS * q) < 5 * sd, "order %d: %zu", k, orders[k]);
    }
    ck_assert(seen == 6);
    q = 0.1, sd = sqrt(TRIALS * q * (1 - q));
    for (int k = 0; k < 10; k++)
        ck_assert_msg(fabs((double)first[k] - TRIALS * q) < 5 * sd, "item %d first %zu", k, first[k]);
}
END_TEST

START_TEST(shuffle_refuses_a_missing_array)
{
    ck_assert_int_eq(nnrt_shuffle(NULL, 3, 1, 1), NNRT_EINVAL);
}
END_TEST

/* ---- Minibatches ---- */

START_TEST(batch_copies_examples_in_the_order_given)
{
    nnrt_dataset ds;
    load_small_set(&ds);
    uint32_t perm[4] = {2, 0, 3, 1};
    float x[2 * 6];
    int32_t y[2];
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, perm, 0, 2, x, y), 2);
    ck_assert(memcmp(x, ds.x + 2 * 6, 6 * sizeof(float)) == 0);
    ck_assert(memcmp(x + 6, ds.x, 6 * sizeof(float)) == 0);
    ck_assert(y[0] == 9 && y[1] == 3);
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, NULL, 1, 2, x, y), 2);   /* no perm: in file order */
    ck_assert(memcmp(x, ds.x + 6, 12 * sizeof(float)) == 0);
    ck_assert(y[0] == 0 && y[1] == 9);
    nnrt_dataset_free(&ds);
}
END_TEST

START_TEST(the_last_batch_is_topped_up_from_the_start)
{
    nnrt_dataset ds;
    load_small_set(&ds);
    uint32_t perm[4] = {2, 0, 3, 1};
    float x[3 * 6];
    int32_t y[3];
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, perm, 3, 3, x, y), 1);  /* perm[3], perm[0], perm[1] */
    ck_assert(y[0] == 0 && y[1] == 9 && y[2] == 3);
    ck_assert(memcmp(x, ds.x + 6, 6 * sizeof(float)) == 0);
    ck_assert(memcmp(x + 6, ds.x + 12, 6 * sizeof(float)) == 0);
    ck_assert(memcmp(x + 12, ds.x, 6 * sizeof(float)) == 0);
    nnrt_dataset_free(&ds);
}
END_TEST

START_TEST(a_batch_larger_than_the_set_wraps_around_again)
{
    nnrt_dataset ds;
    load_small_set(&ds);
    int32_t y[9];
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, NULL, 0, 9, NULL, y), 4);
    static const int32_t want[9] = {3, 0, 9, 3, 3, 0, 9, 3, 3};
    ck_assert(memcmp(y, want, sizeof want) == 0);
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, NULL, 4, 2, NULL, y), 0);  /* past the end */
    ck_assert(y[0] == 3 && y[1] == 0);
    nnrt_dataset_free(&ds);
}
END_TEST

/* The epoch loop of the documentation sees every example exactly once. */
START_TEST(an_epoch_of_batches_sees_every_example_once)
{
    nnrt_dataset ds;
    load_small_set(&ds);
    uint32_t perm[4];
    ck_assert_int_eq(nnrt_shuffle(perm, 4, 5, 0), 0);
    float x[3 * 6];
    int seen[4] = {0};
    for (size_t s = 0; s < ds.n; s += 3) {
        size_t real = nnrt_dataset_batch(&ds, perm, s, 3, x, NULL);
        for (size_t k = 0; k < real; k++)
            for (int e = 0; e < 4; e++)
                seen[e] += memcmp(x + 6 * k, ds.x + 6 * e, 6 * sizeof(float)) == 0;
    }
    for (int e = 0; e < 4; e++)
        ck_assert_int_eq(seen[e], 1);
    nnrt_dataset_free(&ds);
}
END_TEST

START_TEST(an_empty_set_gives_no_batch)
{
    nnrt_dataset ds = {0};
    int32_t y[2] = {7, 7};
    ck_assert_uint_eq(nnrt_dataset_batch(&ds, NULL, 0, 2, NULL, y), 0);
    ck_assert_uint_eq(nnrt_dataset_batch(NULL, NULL, 0, 2, NULL, y), 0);
    ck_assert(y[0] == 7 && y[1] == 7);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reads_a_plain_u8_file);
    tcase_add_test(tc, reads_a_gzipped_file_the_same_whatever_its_name);
    tcase_add_test(tc, converts_wider_types_to_host_order);
    tcase_add_test(tc, reads_a_file_larger_than_the_first_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("refuse");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, bad_magic_is_a_format_error);
    tcase_add_test(tc, unknown_type_or_rank_is_a_format_error);
    tcase_add_test(tc, a_zero_dimension_is_a_format_error);
    tcase_add_test(tc, dimensions_that_overflow_are_a_format_error);
    tcase_add_test(tc, a_huge_announced_size_fails_as_truncated_not_out_of_memory);
    tcase_add_test(tc, truncated_data_is_corrupt);
    tcase_add_test(tc, trailing_bytes_are_corrupt);
    tcase_add_test(tc, a_cut_gzip_stream_is_corrupt_even_with_all_the_data);
    tcase_add_test(tc, damaged_gzip_data_is_corrupt);
    tcase_add_test(tc, a_missing_file_is_an_io_error);
    tcase_add_test(tc, an_empty_or_tiny_file_is_refused);
    tcase_add_test(tc, null_arguments_are_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("dataset");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, dataset_scales_u8_images_to_unit_floats);
    tcase_add_test(tc, dataset_takes_wider_integer_labels);
    tcase_add_test(tc, dataset_refuses_mismatched_counts);
    tcase_add_test(tc, dataset_refuses_labels_that_are_not_class_numbers);
    tcase_add_test(tc, dataset_reports_which_file_is_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("shuffle");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, shuffle_gives_a_permutation);
    tcase_add_test(tc, shuffle_is_deterministic);
    tcase_add_test(tc, shuffle_differs_across_epochs_and_seeds);
    tcase_add_test(tc, shuffle_is_uniform);
    tcase_add_test(tc, shuffle_refuses_a_missing_array);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, batch_copies_examples_in_the_order_given);
    tcase_add_test(tc, the_last_batch_is_topped_up_from_the_start);
    tcase_add_test(tc, a_batch_larger_than_the_set_wraps_around_again);
    tcase_add_test(tc, an_epoch_of_batches_sees_every_example_once);
    tcase_add_test(tc, an_empty_set_gives_no_batch);
    suite_add_tcase(s, tc);

    return run_suite(s);
}
