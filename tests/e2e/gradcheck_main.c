/*
 * gradcheck_main.c: the float64 gradient check of one model compiled by nnc
 * with --dtype=f64.  Where harness.c compares with PyTorch, this compares
 * backward with central finite differences of the objective (the runtime's
 * nnrt_gradcheck), at params and state drawn by the model's own initializers
 * and inputs drawn at random: a second, independent check of every gradient.
 *
 * Built once per model by e2e.mk with -DNNC_MODEL=<name>_model, linked with
 * <name>.f64.o and libnnrt; driven through the nnrt_model descriptor only.
 *
 *   usage: gradcheck_<name> MODEL.gc
 *
 * MODEL.gc (written by gen_fixtures.py beside the .nn) says how to draw:
 *   seeds N                      check at the params of init(seed) for seed 1..N
 *   eps X, atol X, rtol X        nnrt_gradcheck's options: a coordinate passes
 *                                when |analytic - numeric| <= atol + rtol * max(|a|, |n|)
 *   coords N                     check N coordinates of a larger param, spread
 *                                over it (nnrt_gradcheck's max_coords); default: all
 *   input NAME uniform LO HI     a float input, uniform in [LO, HI]
 *   input NAME int LO HI         an i32 input (labels), uniform in [LO, HI)
 * Every input must be listed; hypers keep their defaults.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>
#include "run_suite.h"

#ifndef NNC_MODEL
#error "compile with -DNNC_MODEL=<name>_model (see tests/e2e/e2e.mk)"
#endif
extern const nnrt_model NNC_MODEL;
static const nnrt_model *M = &NNC_MODEL;

typedef struct gc_input {
    char name[64];
    int is_int;
    double lo, hi;
} gc_input;

static struct {
    const char *path;
    int seeds;
    nnrt_gradcheck_options opt;   /* zero fields: nnrt_gradcheck's defaults */
    gc_input in[64];
    int n_in;
} GC = { .seeds = 3 };

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "gradcheck: %s%s\n", msg, arg);
    exit(2);
}

static void read_gc(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open ", path);
    GC.path = path;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char key[32], name[64], kind[16];
        double a, b;
        if (sscanf(line, "%31s", key) != 1)
            continue;
        if (!strcmp(key, "seeds") && sscanf(line, "%*s %d", &GC.seeds) == 1)
            continue;
        if (!strcmp(key, "eps") && sscanf(line, "%*s %lf", &GC.opt.eps) == 1)
            continue;
        if (!strcmp(key, "atol") && sscanf(line, "%*s %lf", &GC.opt.atol) == 1)
            continue;
        if (!strcmp(key, "rtol") && sscanf(line, "%*s %lf", &GC.opt.rtol) == 1)
            continue;
        if (!strcmp(key, "coords") && sscanf(line, "%*s %zu", &GC.opt.max_coords) == 1)
            continue;
        if (!strcmp(key, "input") &&
            sscanf(line, "%*s %63s %15s %lf %lf", name, kind, &a, &b) == 4 &&
            (!strcmp(kind, "uniform") || !strcmp(kind, "int")) && GC.n_in < 64) {
            gc_input *g = &GC.in[GC.n_in++];
            strcpy(g->name, name);
            g->is_int = !strcmp(kind, "int");
            g->lo = a;
            g->hi = b;
            continue;
        }
        die("cannot read this line of the .gc file: ", line);
    }
    fclose(f);
}

/* splitmix64: a small generator of our own, so the draws do not depend on
 * the C library. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(next(s) >> 11) * 0x1p-53;
}

static size_t elems(const nnrt_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* Fill every input of the inputs struct as the .gc file says. */
static void draw_inputs(void *inputs, uint64_t seed)
{
    for (int i = 0; i < M->n_tensors; i++) {
        const nnrt_tensor *t = &M->tensors[i];
        if (t->role != NNRT_INPUT)
            continue;
        const gc_input *g = NULL;
        for (int j = 0; j < GC.n_in; j++)
            if (!strcmp(GC.in[j].name, t->name))
                g = &GC.in[j];
        ck_assert_msg(g != NULL, "%s lists no range for input %s", GC.path, t->name);
        ck_assert_msg(g->is_int == (t->dtype == NNRT_I32), "%s: input %s is %s", GC.path,
                      t->name, t->dtype == NNRT_I32 ? "i32: give it `int LO HI`"
                                                    : "a float: give it `uniform LO HI`");
        uint64_t s = seed * 0x100000001b3u + (uint64_t)i;
        char *p = (char *)inputs + t->offset;
        for (size_t k = 0; k < elems(t); k++) {
            if (t->dtype == NNRT_I32) {
                int32_t v = (int32_t)(g->lo + (double)(next(&s) % (uint64_t)(g->hi - g->lo)));
                memcpy(p + 4 * k, &v, 4);
            } else {
                double v = g->lo + (g->hi - g->lo) * unit(&s);
                memcpy(p + 8 * k, &v, 8);
            }
        }
    }
}

START_TEST(test_model_is_f64)
{
    for (int i = 0; i < M->n_tensors; i++)
        ck_assert_msg(M->tensors[i].dtype != NNRT_F32,
                      "%s is f32: compile the model with nnc --dtype=f64", M->tensors[i].name);
}
END_TEST

/* _i is the seed: params and state from the model's initializers, inputs
 * drawn. */
START_TEST(test_gradient_matches_finite_differences)
{
    void *params = nnrt_alloc(M->params_size), *inputs = nnrt_alloc(M->inputs_size);
    void *state = nnrt_alloc(M->state_size);
    ck_assert(params && inputs && state);
    uint64_t seed = (uint64_t)_i;
    M->init(params, state, seed);
    M->set_defaults(inputs);
    draw_inputs(inputs, seed);
    nnrt_gradcheck_options opt = GC.opt;
    opt.state = state;
    nnrt_gradcheck_entry entries[64];
    nnrt_gradcheck_report rep = { .entries = entries, .cap = 64 };
    int rc = nnrt_gradcheck(M, params, inputs, &opt, &rep);
    if (rc != 0) {
        fprintf(stderr, "%s, seed %d:\n", M->name, _i);
        nnrt_gradcheck_print(stderr, &rep);
    }
    ck_assert_msg(rc == 0, "%s, seed %d: nnrt_gradcheck returned %d (%s)", M->name, _i, rc,
                  nnrt_strerror(rc));
    ck_assert_msg(rep.n_params > 0, "%s has no params to check", M->name);
    nnrt_free(params);
    nnrt_free(inputs);
    nnrt_free(state);
}
END_TEST

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv("NNC_E2E_GC");
    if (!path)
        die("usage: gradcheck_<model> MODEL.gc", "");
    read_gc(path);

    char name[96];
    snprintf(name, sizeof name, "gradcheck %s", M->name);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_is_f64);
    tcase_add_loop_test(tc, test_gradient_matches_finite_differences, 1, GC.seeds + 1);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
