/*
 * exp_ulp.c: the generated f32 exp (and the sigmoid built on it) against
 * libm's expf on 200,001 points over [-110, 90], which cover overflow,
 * the subnormals and underflow to 0, and at NaN, +inf and -inf: within 2
 * ulp, and the same special values.  Exits 1 on any difference.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "exp_ulp.h"

/* The distance in units in the last place between two finite floats. */
static long ulps(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    long la = ia < 0 ? (long)INT32_MIN - ia : ia, lb = ib < 0 ? (long)INT32_MIN - ib : ib;
    return la > lb ? la - lb : lb - la;
}

static int failures;

static void expect(const char *what, float x, float got, float want) {
    bool same = isnan(want) ? isnan(got) : isinf(want) || want == 0 ? got == want : ulps(got, want) <= 2;
    if (!same && failures++ < 10)
        printf("exp_ulp: %s(%.9g) = %.9g, libm gives %.9g\n", what, x, got, want);
}

int main(void) {
    exp_ulp_params *p = nnrt_alloc(sizeof *p);
    exp_ulp_state *s = nnrt_alloc(sizeof *s);
    exp_ulp_inputs *in = nnrt_alloc(sizeof *in);
    exp_ulp_outputs *out = nnrt_alloc(sizeof *out);
    void *ws = nnrt_alloc(exp_ulp_model.workspace_size);
    exp_ulp_init(p, s, 0);
    enum { N = 200001 };
    for (int i = 0; i < N; i++)
        in->x[i] = -110.0f + 200.0f * (float)i / (N - 1);
    const float special[] = {NAN, INFINITY, -INFINITY, 88.72f, 88.73f, -87.5f, -103.9f, 0.0f, -0.0f, 1e-8f};
    memcpy(in->x, special, sizeof special);
    if (exp_ulp_forward(p, s, in, out, ws) != 0) {
        printf("exp_ulp: forward failed\n");
        return 1;
    }
    for (int i = 0; i < N; i++) {
        float x = in->x[i];
        expect("exp", x, out->y[i], expf(x));
        /* sigmoid: 1/(1+e^-|x|), or e^-|x|/(1+e^-|x|) below 0 */
        float e = expf(-fabsf(x)), r = 1 / (1 + e);
        expect("sigmoid", x, out->s[i], isnan(x) ? x : x < 0 ? e * r : r);
    }
    printf("exp_ulp: %s\n", failures ? "FAILED" : "ok (within 2 ulp of expf at 200,001 points and the special values)");
    nnrt_free(p), nnrt_free(s), nnrt_free(in), nnrt_free(out), nnrt_free(ws);
    return failures != 0;
}
