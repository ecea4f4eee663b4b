/*
 * test_rng.c: Philox4x32-10, the streams and every initializer of the
 * language (contract, section 1), for f32 and f64.
 *
 * The statistical tests draw 2^17 values and allow five standard errors of
 * the statistic, so that a correct generator fails about once in 10^6 runs
 * (never, in fact: the draws are deterministic) while a wrong bound, scale or
 * mean fails every time.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "run_suite.h"

#define N_STAT 131072                 /* 2^17 >= 10^5 draws */

static double *fill(nnrt_dtype dt, int rank, const int64_t *dims, nnrt_init_kind kind,
                    double a, double b, uint64_t seed, uint64_t stream, size_t *n_out)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    void *raw = malloc(n * 8 + 8);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(nnrt_init_tensor(dt, raw, rank, dims, kind, a, b, seed, stream), 0);
    double *v = malloc(n * sizeof *v + 8);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = dt == NNRT_F32 ? (double)((float *)raw)[i] : ((double *)raw)[i];
    free(raw);
    *n_out = n;
    return v;
}

/* Sample mean within 5 sigma/sqrt(n) of mu; sample variance within five
 * standard deviations of the sample variance, sqrt((mu4 - var^2)/n), where
 * mu4 is the fourth central moment of the distribution. */
static void check_moments(const double *v, size_t n, double mu, double var, double mu4)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    double s2 = ss / (double)(n - 1);
    double tol_mean = 5 * sqrt(var / (double)n);
    double tol_var = 5 * sqrt((mu4 - var * var) / (double)n);
    ck_assert_msg(fabs(mean - mu) < tol_mean, "mean %g, expected %g +- %g", mean, mu, tol_mean);
    ck_assert_msg(fabs(s2 - var) < tol_var, "variance %g, expected %g +- %g", s2, var, tol_var);
}

static void check_uniform(const double *v, size_t n, nnrt_dtype dt, double lo, double hi)
{
    double flo = dt == NNRT_F32 ? (double)(float)lo : lo;
    double fhi = dt == NNRT_F32 ? (double)(float)hi : hi;
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        vmin = fmin(vmin, v[i]);
        vmax = fmax(vmax, v[i]);
    }
    ck_assert_msg(vmin >= flo && vmax <= fhi, "values in [%g, %g], outside [%g, %g]", vmin, vmax, lo, hi);
    /* and it fills the interval, not a narrower one */
    double w = hi - lo;
    ck_assert_msg(vmin < lo + 1e-3 * w && vmax > hi - 1e-3 * w, "range [%g, %g] of [%g, %g]",
                  vmin, vmax, lo, hi);
    double var = w * w / 12;
    check_moments(v, n, (lo + hi) / 2, var, w * w * w * w / 80);
}

/* Moments, and the share within one std (0.6827), which a uniform or a
 * Laplace of the same variance would miss. */
static void check_normal(const double *v, size_t n, double mu, double sd)
{
    check_moments(v, n, mu, sd * sd, 3 * sd * sd * sd * sd);
    size_t inside = 0;
    for (size_t i = 0; i < n; i++)
        inside += fabs(v[i] - mu) < sd;
    double p = 0.682689492137, frac = (double)inside / (double)n;
    ck_assert_msg(fabs(frac - p) < 5 * sqrt(p * (1 - p) / (double)n), "%g within 1 sd", frac);
}

static const nnrt_dtype dtypes[2] = {NNRT_F32, NNRT_F64};

/* ---- Philox ---- */

static void philox_case(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                        uint32_t k1, uint32_t e0, uint32_t e1, uint32_t e2, uint32_t e3)
{
    uint32_t ctr[4] = {c0, c1, c2, c3}, key[2] = {k0, k1}, out[4];
    nnrt_philox4x32(ctr, key, out);
    ck_assert_uint_eq(out[0], e0);
    ck_assert_uint_eq(out[1], e1);
    ck_assert_uint_eq(out[2], e2);
    ck_assert_uint_eq(out[3], e3);
}

START_TEST(philox_matches_random123_known_answers)
{
    philox_case(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    philox_case(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd);
    philox_case(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
                0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1);
}
END_TEST

START_TEST(stream_id_is_fnv1a_64)
{
    ck_assert_uint_eq(nnrt_stream_id(""), 0xcbf29ce484222325u);
    ck_assert_uint_eq(nnrt_stream_id("a"), 0xaf63dc4c8601ec8cu);
    ck_assert_uint_eq(nnrt_stream_id("foobar"), 0x85944171f73967e8u);
    ck_assert_uint_ne(nnrt_stream_id("W1"), nnrt_stream_id("W2"));
}
END_TEST

/* ---- Determinism ---- */

START_TEST(same_seed_gives_bit_identical_values)
{
    int64_t dims[2] = {33, 17};       /* not a multiple of the block */
    for (int d = 0; d < 2; d++) {
        for (int kind = NNRT_INIT_UNIFORM; kind <= NNRT_INIT_KAIMING_NORMAL; kind++) {
            double x[33 * 17], y[33 * 17];
            memset(x, 0xAA, sizeof x);
            memset(y, 0x55, sizeof y);
            double b = kind >= NNRT_INIT_KAIMING_UNIFORM ? NNRT_FAN_OUT : 2;   /* kaiming: a fan */
            ck_assert_int_eq(nnrt_init_tensor(dtypes[d], x, 2, dims, kind, 0.5, b, 7, 9), 0);
            ck_assert_int_eq(nnrt_init_tensor(dtypes[d], y, 2, dims, kind, 0.5, b, 7, 9), 0);
            size_t bytes = 33 * 17 * (dtypes[d] == NNRT_F32 ? 4 : 8);
            ck_assert_msg(memcmp(x, y, bytes) == 0, "kind %d dtype %d", kind, dtypes[d]);
        }
    }
}
END_TEST

static size_t count_equal(nnrt_dtype dt, uint64_t s1, uint64_t t1, uint64_t s2, uint64_t t2)
{
    int64_t dims[1] = {1000};
    size_t n, m, same = 0;
    double *x = fill(dt, 1, dims, NNRT_INIT_NORMAL, 0, 1, s1, t1, &n);
    double *y = fill(dt, 1, dims, NNRT_INIT_NORMAL, 0, 1, s2, t2, &m);
    for (size_t i = 0; i < n; i++)
        same += x[i] == y[i];
    free(x);
    free(y);
    return same;
}

START_TEST(different_seeds_give_different_values)
{
    for (int d = 0; d < 2; d++) {
        ck_assert_uint_lt(count_equal(dtypes[d], 1, 5, 2, 5), 3);
        ck_assert_uint_lt(count_equal(dtypes[d], 1, 5, 1ull << 32 | 1, 5), 3);  /* seed hi word */
    }
}
END_TEST

START_TEST(different_streams_give_different_values)
{
    for (int d = 0; d < 2; d++) {
        ck_assert_uint_lt(count_equal(dtypes[d], 1, nnrt_stream_id("W1"), 1, nnrt_stream_id("W2")), 3);
        ck_assert_uint_lt(count_equal(dtypes[d], 1, 5, 1, 1ull << 32 | 5), 3);  /* stream hi word */
    }
}
END_TEST

/* Element i depends on i, not on the tensor's length or shape. */
START_TEST(values_do_not_depend_on_tensor_length)
{
    for (int d = 0; d < 2; d++) {
        int64_t small[1] = {7}, big[2] = {10, 100};
        size_t n, m;
        double *x = fill(dtypes[d], 1, small, NNRT_INIT_NORMAL, 0, 1, 3, 4, &n);
        double *y = fill(dtypes[d], 2, big, NNRT_INIT_NORMAL, 0, 1, 3, 4, &m);
        ck_assert(memcmp(x, y, n * sizeof *x) == 0);
        free(x);
        free(y);
    }
}
END_TEST

/* The documented mapping: element i of an f32 tensor takes word i%4 of
 * block i/4, top 24 bits, cell midpoint; f64 takes 52 bits of a word pair. */
START_TEST(uniform_follows_the_documented_counter_layout)
{
    uint64_t seed = 0x0123456789abcdefu, stream = nnrt_stream_id("W");
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int64_t dims[1] = {10};
    float f[10];
    double g[10];
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F32, f, 1, dims, NNRT_INIT_UNIFORM, 0, 1, seed, stream), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, g, 1, dims, NNRT_INIT_UNIFORM, 0, 1, seed, stream), 0);
    for (uint32_t i = 0; i < 10; i++) {
        uint32_t w[4], ctr[4] = {i / 4, 0, (uint32_t)stream, (uint32_t)(stream >> 32)};
        nnrt_philox4x32(ctr, key, w);
        ck_assert(f[i] == (float)(((w[i % 4] >> 8) + 0.5) * 0x1p-24));
        uint32_t c2[4] = {i / 2, 0, (uint32_t)stream, (uint32_t)(stream >> 32)};
        nnrt_philox4x32(c2, key, w);
        uint64_t x = (uint64_t)w[2 * (i % 2)] << 20 | w[2 * (i % 2) + 1] >> 12;
        ck_assert(g[i] == ((double)x + 0.5) * 0x1p-52);
    }
}
END_TEST

/* Box-Muller on consecutive uniforms, cos first; our log and sin/cos agree
 * with libm's to within rounding. */
START_TEST(normal_is_box_muller_on_uniform_pairs)
{
    int64_t dims[1] = {64};
    double u[64], z[64];
    float uf[64], zf[64];
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, u, 1, dims, NNRT_INIT_UNIFORM, 0, 1, 11, 12), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, z, 1, dims, NNRT_INIT_NORMAL, 0, 1, 11, 12), 0);
    for (int i = 0; i < 64; i += 2) {
        double r = sqrt(-2 * log(u[i])), t = 6.283185307179586 * u[i + 1];
        ck_assert_double_eq_tol(z[i], r * cos(t), 1e-14);
        ck_assert_double_eq_tol(z[i + 1], r * sin(t), 1e-14);
    }
    /* f32: the uniforms are rounded to float, so compare loosely */
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F32, uf, 1, dims, NNRT_INIT_UNIFORM, 0, 1, 11, 12), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F32, zf, 1, dims, NNRT_INIT_NORMAL, 0, 1, 11, 12), 0);
    for (int i = 0; i < 64; i += 2) {
        double r = sqrt(-2 * log(uf[i])), t = 6.283185307179586 * uf[i + 1];
        ck_assert_double_eq_tol(zf[i], r * cos(t), 1e-5);
        ck_assert_double_eq_tol(zf[i + 1], r * sin(t), 1e-5);
    }
}
END_TEST

/* Pinned values: a change here changes every model's initial parameters,
 * which the contract forbids across runs and machines. */
START_TEST(values_are_pinned_across_versions)
{
    int64_t dims[1] = {4};
    double z[4];
    float f[4];
    static const double want[4] = {0x1.41270a2e74731p-1, -0x1.014630f20067ap-1,
                                   0x1.1b0bd60bbccd2p+0, -0x1.88f6637e16de7p+0};
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, z, 1, dims, NNRT_INIT_NORMAL, 0, 1, 42,
                                      nnrt_stream_id("W1")), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(z[i] == want[i], "z[%d] = %a", i, z[i]);
    static const float wantf[4] = {-0x1.1d16cep-7f, 0x1.7b6ae8p-5f, 0x1.9d9c98p-8f,
                                    -0x1.e023f6p-6f};
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F32, f, 1, dims, NNRT_INIT_UNIFORM, -0.07, 0.07, 42,
                                      nnrt_stream_id("W2")), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(f[i] == wantf[i], "f[%d] = %a", i, (double)f[i]);
}
END_TEST

/* ---- Fans ---- */

START_TEST(fans_follow_pytorch)
{
    double in, out;
    nnrt_fans(0, NULL, &in, &out);
    ck_assert(in == 1 && out == 1);
    int64_t v[1] = {7};
    nnrt_fans(1, v, &in, &out);
    ck_assert(in == 7 && out == 7);
    int64_t m[2] = {3, 5};            /* [out, in] */
    nnrt_fans(2, m, &in, &out);
    ck_assert(in == 5 && out == 3);
    int64_t conv[4] = {8, 3, 5, 5};   /* [out_channels, in_channels, kh, kw] */
    nnrt_fans(4, conv, &in, &out);
    ck_assert(in == 75 && out == 200);
}
END_TEST

/* ---- Every initializer, in both dtypes ---- */

static const int64_t mat[2] = {256, 512};       /* fan_in 512, fan_out 256 */

START_TEST(fixed_initializers_fill_their_value)
{
    int64_t dims[2] = {3, 5};
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *z = fill(dtypes[d], 2, dims, NNRT_INIT_ZEROS, 9, 9, 1, 2, &n);
        double *o = fill(dtypes[d], 2, dims, NNRT_INIT_ONES, 9, 9, 1, 2, &n);
        double *c = fill(dtypes[d], 2, dims, NNRT_INIT_CONSTANT, -2.5, 0, 1, 2, &n);
        size_t i = 0;
        while (i < n && z[i] == 0 && o[i] == 1 && c[i] == -2.5)
            i++;
        ck_assert_uint_eq(i, n);
        free(z);
        free(o);
        free(c);
    }
}
END_TEST

START_TEST(uniform_stays_in_bounds_with_the_right_moments)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_UNIFORM, -0.5, 1.5, 5, 6, &n);
        check_uniform(v, n, dtypes[d], -0.5, 1.5);
        free(v);
    }
}
END_TEST

START_TEST(normal_has_the_right_moments)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_NORMAL, 3, 0.25, 5, 6, &n);
        check_normal(v, n, 3, 0.25);
        free(v);
    }
}
END_TEST

START_TEST(xavier_uniform_uses_both_fans_and_the_gain)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_XAVIER_UNIFORM, 2, 0, 5, 6, &n);
        check_uniform(v, n, dtypes[d], -2 * sqrt(6.0 / 768), 2 * sqrt(6.0 / 768));
        free(v);
    }
}
END_TEST

START_TEST(xavier_normal_uses_both_fans_and_the_gain)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_XAVIER_NORMAL, 1.5, 0, 5, 6, &n);
        check_normal(v, n, 0, 1.5 * sqrt(2.0 / 768));
        free(v);
    }
}
END_TEST

START_TEST(kaiming_uniform_uses_fan_in_of_a_conv_kernel)
{
    int64_t conv[4] = {512, 64, 2, 2};            /* fan_in = 256 */
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 4, conv, NNRT_INIT_KAIMING_UNIFORM, 0, 0, 5, 6, &n);
        check_uniform(v, n, dtypes[d], -sqrt(6.0 / 256), sqrt(6.0 / 256));
        free(v);
    }
}
END_TEST

START_TEST(kaiming_normal_uses_fan_in)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_KAIMING_NORMAL, 0, 0, 5, 6, &n);
        check_normal(v, n, 0, sqrt(2.0 / 512));
        free(v);
    }
}
END_TEST

/* kaiming's slope a and fan, PyTorch's kaiming_uniform_(a, mode):
 * gain = sqrt(2 / (1 + a^2)), bound = gain * sqrt(3 / fan), std = gain / sqrt(fan). */
START_TEST(kaiming_uniform_with_a_slope_follows_pytorch)
{
    double a = sqrt(5.0), gain = sqrt(2 / (1 + a * a));
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_KAIMING_UNIFORM, a, NNRT_FAN_IN, 5, 6, &n);
        check_uniform(v, n, dtypes[d], -gain * sqrt(3.0 / 512), gain * sqrt(3.0 / 512));
        free(v);
    }
}
END_TEST

/* nn.Linear's default, kaiming_uniform(a = sqrt(5)), is U[+-1/sqrt(fan_in)]. */
START_TEST(kaiming_uniform_a_sqrt5_is_nn_linear_default)
{
    size_t n;
    double *v = fill(NNRT_F64, 2, mat, NNRT_INIT_KAIMING_UNIFORM, sqrt(5.0), NNRT_FAN_IN, 5, 6, &n);
    check_uniform(v, n, NNRT_F64, -1 / sqrt(512.0), 1 / sqrt(512.0));
    free(v);
}
END_TEST

/* fan "out" takes dims[0]: for a weight stored [in, out] (used as x @ W)
 * that is its number of inputs. */
START_TEST(kaiming_fan_out_takes_dims_0)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        double *v = fill(dtypes[d], 2, mat, NNRT_INIT_KAIMING_UNIFORM, 0, NNRT_FAN_OUT, 5, 6, &n);
        check_uniform(v, n, dtypes[d], -sqrt(6.0 / 256), sqrt(6.0 / 256));
        free(v);
        v = fill(dtypes[d], 2, mat, NNRT_INIT_KAIMING_NORMAL, 1, NNRT_FAN_OUT, 5, 6, &n);
        check_normal(v, n, 0, sqrt(2 / (1 + 1.0)) / sqrt(256.0));
        free(v);
    }
}
END_TEST

/* a = 0 and fan "in" (what objects of older nnc pass) draw He's values bit
 * for bit: the same as uniform(-sqrt(6 / fan_in), sqrt(6 / fan_in)). */
START_TEST(kaiming_with_no_slope_is_he_bit_for_bit)
{
    int64_t dims[2] = {3, 50};
    double k[150], u[150];
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, k, 2, dims, NNRT_INIT_KAIMING_UNIFORM, 0, NNRT_FAN_IN, 9, 4), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, u, 2, dims, NNRT_INIT_UNIFORM, -sqrt(6.0 / 50), sqrt(6.0 / 50),
                                      9, 4), 0);
    ck_assert(memcmp(k, u, sizeof k) == 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, k, 2, dims, NNRT_INIT_KAIMING_NORMAL, 0, NNRT_FAN_IN, 9, 4), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, u, 2, dims, NNRT_INIT_NORMAL, 0, sqrt(2.0 / 50), 9, 4), 0);
    ck_assert(memcmp(k, u, sizeof k) == 0);
}
END_TEST

START_TEST(default_is_zeros_for_rank_1_and_uniform_otherwise)
{
    for (int d = 0; d < 2; d++) {
        size_t n;
        int64_t vec[1] = {100};
        double *b = fill(dtypes[d], 1, vec, NNRT_INIT_DEFAULT, 0, 0, 5, 6, &n);
        size_t i = 0;
        while (i < n && b[i] == 0)
            i++;
        ck_assert_uint_eq(i, n);
        free(b);
        double *w = fill(dtypes[d], 2, mat, NNRT_INIT_DEFAULT, 0, 0, 5, 6, &n);
        check_uniform(w, n, dtypes[d], -0.07, 0.07);
        free(w);
        double *s = fill(dtypes[d], 0, NULL, NNRT_INIT_DEFAULT, 0, 0, 5, 6, &n);
        ck_assert(n == 1 && s[0] != 0 && fabs(s[0]) <= 0.07);
        free(s);
    }
}
END_TEST

/* ---- Invalid arguments ---- */

START_TEST(invalid_arguments_are_refused_and_leave_dst_alone)
{
    int64_t dims[2] = {2, 3}, neg[2] = {2, -3}, huge[2] = {INT64_MAX, 4};
    double dst[6];
    memset(dst, 0x5A, sizeof dst);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_I32, dst, 2, dims, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor((nnrt_dtype)99, dst, 2, dims, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, (nnrt_init_kind)99, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, -1, dims, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, NULL, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, neg, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, huge, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_UNIFORM, 1, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_UNIFORM, NAN, 1, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_UNIFORM, 0, INFINITY, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_NORMAL, 0, -1, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_NORMAL, 0, NAN, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_CONSTANT, NAN, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_XAVIER_UNIFORM, -1, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_XAVIER_NORMAL, -1, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, NULL, 2, dims, NNRT_INIT_ZEROS, 0, 0, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_KAIMING_UNIFORM, 0, 2, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_KAIMING_NORMAL, 0, -1, 1, 1), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, dst, 2, dims, NNRT_INIT_KAIMING_UNIFORM, NAN, 0, 1, 1), NNRT_EINVAL);
    for (int i = 0; i < 6; i++) {
        uint64_t bits;
        memcpy(&bits, &dst[i], 8);
        ck_assert_uint_eq(bits, 0x5A5A5A5A5A5A5A5Au);
    }
}
END_TEST

START_TEST(an_empty_tensor_needs_no_destination)
{
    int64_t dims[2] = {0, 5};
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F32, NULL, 2, dims, NNRT_INIT_KAIMING_UNIFORM, 0, 0, 1, 1), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, NULL, 2, dims, NNRT_INIT_XAVIER_NORMAL, 1, 0, 1, 1), 0);
}
END_TEST

START_TEST(a_point_interval_gives_its_point)
{
    int64_t dims[1] = {9};
    double v[9];
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, v, 1, dims, NNRT_INIT_UNIFORM, 2, 2, 1, 1), 0);
    ck_assert_int_eq(nnrt_init_tensor(NNRT_F64, v, 1, dims, NNRT_INIT_NORMAL, 2, 0, 1, 1), 0);
    for (int i = 0; i < 9; i++)
        ck_assert(v[i] == 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_add_test(tc, philox_matches_random123_known_answers);
    tcase_add_test(tc, stream_id_is_fnv1a_64);
    suite_add_tcase(s, tc);

    tc = tcase_create("determinism");
    tcase_add_test(tc, same_seed_gives_bit_identical_values);
    tcase_add_test(tc, different_seeds_give_different_values);
    tcase_add_test(tc, different_streams_give_different_values);
    tcase_add_test(tc, values_do_not_depend_on_tensor_length);
    tcase_add_test(tc, uniform_follows_the_documented_counter_layout);
    tcase_add_test(tc, normal_is_box_muller_on_uniform_pairs);
    tcase_add_test(tc, values_are_pinned_across_versions);
    suite_add_tcase(s, tc);

    tc = tcase_create("initializers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fans_follow_pytorch);
    tcase_add_test(tc, fixed_initializers_fill_their_value);
    tcase_add_test(tc, uniform_stays_in_bounds_with_the_right_moments);
    tcase_add_test(tc, normal_has_the_right_moments);
    tcase_add_test(tc, xavier_uniform_uses_both_fans_and_the_gain);
    tcase_add_test(tc, xavier_normal_uses_both_fans_and_the_gain);
    tcase_add_test(tc, kaiming_uniform_uses_fan_in_of_a_conv_kernel);
    tcase_add_test(tc, kaiming_normal_uses_fan_in);
    tcase_add_test(tc, kaiming_uniform_with_a_slope_follows_pytorch);
    tcase_add_test(tc, kaiming_uniform_a_sqrt5_is_nn_linear_default);
    tcase_add_test(tc, kaiming_fan_out_takes_dims_0);
    tcase_add_test(tc, kaiming_with_no_slope_is_he_bit_for_bit);
    tcase_add_test(tc, default_is_zeros_for_rank_1_and_uniform_otherwise);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_test(tc, invalid_arguments_are_refused_and_leave_dst_alone);
    tcase_add_test(tc, an_empty_tensor_needs_no_destination);
    tcase_add_test(tc, a_point_interval_gives_its_point);
    suite_add_tcase(s, tc);

    return run_suite(s);
}
