/*
 * rng.c: the counter-based generator and the initializers (contract, section 1).
 *
 * <model>_init calls nnrt_init_tensor once per param, with the stream
 * nnrt_stream_id(name).  Element i of a tensor is a pure function of (seed,
 * stream, i, dtype, kind, args): Philox block number i/4 (f32) or i/2 (f64)
 * is computed directly from the counter {block lo, block hi, stream lo,
 * stream hi} and the key {seed lo, seed hi}, so no state is carried from one
 * element to the next, a prefix of a tensor does not depend on its length,
 * and the fill could be split across threads without changing a bit.
 *
 * Bit-identical on every machine: the only operations are integer ones, IEEE
 * +, -, *, / and sqrt (correctly rounded everywhere), and our own log and
 * sin/cos below, written in those operations, because libm's log, sin and cos
 * are not correctly rounded and differ between C libraries.  That assumes
 * doubles evaluated in double (FLT_EVAL_METHOD 0, as on every 64-bit target)
 * and no fused multiply-add contraction, which the pragmas forbid.
 */
#include <math.h>
#include <stdint.h>

#include "nnrt.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- Philox4x32-10 ---- */

#define PHILOX_M0 0xD2511F53u       /* round multipliers */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u       /* key bumps: the golden ratio, sqrt(3)-1 */
#define PHILOX_W1 0xBB67AE85u

void nnrt_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static void block(uint64_t seed, uint64_t stream, uint64_t b, uint32_t w[4])
{
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    nnrt_philox4x32(ctr, key, w);
}

int nnrt_dropout_keeps(uint64_t seed, uint64_t step, uint32_t site, uint64_t index, double p)
{
    uint32_t ctr[4] = {(uint32_t)index, site, (uint32_t)step, (uint32_t)(step >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    nnrt_philox4x32(ctr, key, w);
    return w[0] >= (uint64_t)(p * 4294967296.0);
}

/* FNV-1a, 64 bits: simple, stable, and good enough to keep streams apart. */
uint64_t nnrt_stream_id(const char *name)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3u;
    }
    return h;
}

/* ---- Uniforms on the open interval (0, 1) ----
 * The midpoint of one of 2^k equal cells, so that 0 and 1 never occur (log
 * in Box-Muller stays finite), the distribution is symmetric about 1/2, and
 * the value is exact in a double: the top 24 bits of one word for f32, 52
 * bits of two words for f64 (a 53-bit midpoint would need 54 bits). */

static double u24(uint32_t w)
{
    return ((double)(w >> 8) + 0.5) * 0x1p-24;
}

static double u52(uint32_t hi, uint32_t lo)
{
    uint64_t x = (uint64_t)hi << 20 | lo >> 12;
    return ((double)x + 0.5) * 0x1p-52;
}

/* ---- log and sin/cos in plain arithmetic (see the top of the file) ---- */

/* log(x) for finite x > 0, by fdlibm's e_log.c: x = 2^k m with m in
 * [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s), s = (m-1)/(m+1), by a minimax
 * polynomial.  Error below 1 ulp. */
static double det_log(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
        Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
        Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
        Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
        Lg7 = 1.479819860511658591e-01;
    int k;
    double m = frexp(x, &k);            /* exact: m in [1/2, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2;
        k--;
    }
    double f = m - 1;                   /* exact (Sterbenz) */
    double s = f / (2 + f), z = s * s, w = z * z;
    double r = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7))) + w * (Lg2 + w * (Lg4 + w * Lg6));
    double hfsq = 0.5 * f * f, dk = k;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + r) + dk * ln2_lo)) - f);
}

/* cos(2 pi u) and sin(2 pi u) for u in [0, 1).  The reduction to a quarter
 * turn is exact (u - q/4), which is why this takes turns, not radians; then
 * Taylor series on [-pi/4, pi/4], truncated below 1e-17. */
static void det_cossin_2pi(double u, double *c, double *s)
{
    double q = floor(4 * u + 0.5);
    double x = (u - 0.25 * q) * 6.28318530717958647693;
    double z = x * x;
    double sx = x + x * z * (-1.0 / 6 + z * (1.0 / 120 + z * (-1.0 / 5040 + z * (1.0 / 362880
                + z * (-1.0 / 39916800 + z * (1.0 / 6227020800.0 + z * (-1.0 / 1307674368000.0
                + z * (1.0 / 355687428096000.0))))))));
    double cx = 1 - 0.5 * z + z * z * (1.0 / 24 + z * (-1.0 / 720 + z * (1.0 / 40320
                + z * (-1.0 / 3628800 + z * (1.0 / 479001600 + z * (-1.0 / 87178291200.0
                + z * (1.0 / 20922789888000.0)))))));
    switch ((int)q & 3) {
    case 0: *c = cx, *s = sx; break;
    case 1: *c = -sx, *s = cx; break;
    case 2: *c = -cx, *s = -sx; break;
    default: *c = sx, *s = -cx; break;
    }
}

/* Box-Muller: two independent N(0, 1) from two uniforms on (0, 1). */
static void box_muller(double u1, double u2, double *z0, double *z1)
{
    double r = sqrt(-2 * det_log(u1)), c, s;
    det_cossin_2pi(u2, &c, &s);
    *z0 = r * c;
    *z1 = r * s;
}

/* ---- Initializers ---- */

void nnrt_fans(int rank, const int64_t *dims, double *fan_in, double *fan_out)
{
    double in = 1, out = 1;
    if (rank == 1) {
        in = out = (double)dims[0];
    } else if (rank >= 2) {
        double field = 1;               /* receptive field: prod(k) */
        for (int i = 2; i < rank; i++)
            field *= (double)dims[i];
        in = (double)dims[1] * field;
        out = (double)dims[0] * field;
    }
    if (fan_in)
        *fan_in = in;
    if (fan_out)
        *fan_out = out;
}

typedef enum { FIXED, UNIFORM, NORMAL } dist;

/* One Philox block gives 4 f32 values or 2 f64 values, in element order:
 * uniforms one per word (f32) or per pair of words (f64); normals by
 * Box-Muller on consecutive uniforms, cos first. */
static int draw(nnrt_dtype dtype, dist d, const uint32_t w[4], double v[4])
{
    if (dtype == NNRT_F32) {
        for (int k = 0; k < 4; k++)
            v[k] = u24(w[k]);
        if (d == NORMAL) {
            box_muller(v[0], v[1], &v[0], &v[1]);
            box_muller(v[2], v[3], &v[2], &v[3]);
        }
        return 4;
    }
    v[0] = u52(w[0], w[1]);
    v[1] = u52(w[2], w[3]);
    if (d == NORMAL)
        box_muller(v[0], v[1], &v[0], &v[1]);
    return 2;
}

static void store(nnrt_dtype dtype, void *dst, size_t i, double x)
{
    if (dtype == NNRT_F32)
        ((float *)dst)[i] = (float)x;
    else
        ((double *)dst)[i] = x;
}

int nnrt_init_tensor(nnrt_dtype dtype, void *dst, int rank, const int64_t *dims,
                     nnrt_init_kind kind, double a, double b, uint64_t seed, uint64_t stream)
{
    size_t esize = dtype == NNRT_F32 ? 4 : dtype == NNRT_F64 ? 8 : 0;
    if (esize == 0 || rank < 0 || (rank > 0 && !dims))
        return NNRT_EINVAL;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (uint64_t)dims[i] > SIZE_MAX / esize)
            return NNRT_EINVAL;
        size_t d = (size_t)dims[i];
        if (d != 0 && n > SIZE_MAX / esize / d)
            return NNRT_EINVAL;
        n *= d;
    }

    double fan_in, fan_out;
    nnrt_fans(rank, dims, &fan_in, &fan_out);
    dist d;
    double lo = 0, hi = 0;              /* FIXED: lo; UNIFORM: [lo, hi]; NORMAL: mean lo, std hi */
    switch (kind) {
    case NNRT_INIT_DEFAULT:
        if (rank == 1)
            d = FIXED;
        else
            d = UNIFORM, lo = -0.07, hi = 0.07;
        break;
    case NNRT_INIT_ZEROS:
        d = FIXED;
        break;
    case NNRT_INIT_ONES:
        d = FIXED, lo = 1;
        break;
    case NNRT_INIT_CONSTANT:
        if (!isfinite(a))
            return NNRT_EINVAL;
        d = FIXED, lo = a;
        break;
    case NNRT_INIT_UNIFORM:
        if (!isfinite(a) || !isfinite(b) || b < a)
            return NNRT_EINVAL;
        d = UNIFORM, lo = a, hi = b;
        break;
    case NNRT_INIT_NORMAL:
        if (!isfinite(a) || !isfinite(b) || b < 0)
            return NNRT_EINVAL;
        d = NORMAL, lo = a, hi = b;
        break;
    case NNRT_INIT_XAVIER_UNIFORM:
        if (!isfinite(a) || a < 0)
            return NNRT_EINVAL;
        d = UNIFORM, hi = a * sqrt(6 / (fan_in + fan_out)), lo = -hi;
        break;
    case NNRT_INIT_XAVIER_NORMAL:
        if (!isfinite(a) || a < 0)
            return NNRT_EINVAL;
        d = NORMAL, hi = a * sqrt(2 / (fan_in + fan_out));
        break;
    case NNRT_INIT_KAIMING_UNIFORM:
    case NNRT_INIT_KAIMING_NORMAL: {
        /* gain^2 = 2 / (1 + a^2); bound = gain sqrt(3 / fan), std = gain / sqrt(fan),
         * each computed as one sqrt, so that a = 0 gives sqrt(6 / fan) and
         * sqrt(2 / fan) bit for bit, as before the slope and the fan existed */
        if (!isfinite(a) || (b != NNRT_FAN_IN && b != NNRT_FAN_OUT))
            return NNRT_EINVAL;
        double fan = (b == NNRT_FAN_IN ? fan_in : fan_out) * (1 + a * a);
        if (kind == NNRT_INIT_KAIMING_UNIFORM)
            d = UNIFORM, hi = sqrt(6 / fan), lo = -hi;
        else
            d = NORMAL, hi = sqrt(2 / fan);
        break;
    }
    default:
        return NNRT_EINVAL;
    }
    if (n == 0)
        return NNRT_OK;                 /* (the fans may be 0 then: nothing to draw) */
    if (!dst)
        return NNRT_EINVAL;

    if (d == FIXED) {
        for (size_t i = 0; i < n; i++)
            store(dtype, dst, i, lo);
        return NNRT_OK;
    }
    size_t i = 0;
    for (uint64_t blk = 0; i < n; blk++) {
        uint32_t w[4];
        double v[4] = {0};
        block(seed, stream, blk, w);
        int per = draw(dtype, d, w, v);
        for (int k = 0; k < per && i < n; k++, i++)
            store(dtype, dst, i, d == UNIFORM ? lo + (hi - lo) * v[k] : lo + hi * v[k]);
    }
    return NNRT_OK;
}
