/*
 * harness.c: end-to-end test of one model compiled by nnc, against the
 * reference numbers that tests/e2e/gen_fixtures.py computed with PyTorch
 * (the fixture format is described at the top of that script and in
 * docs/testing.md).
 *
 * The same source serves every model: e2e.mk compiles it once per model with
 * -DNNC_MODEL=<name>_model, plus -DNNC_PREFIX=<name> -include <name>.h so
 * that the generated header is checked against the descriptor, and links the
 * model's object and libnnrt.  Everything else goes through the nnrt_model
 * descriptor: tensors are found by name, their bytes by offset and dtype.
 *
 *   usage: e2e_<name> FIXTURE [--dtype=f64]
 *
 * FIXTURE may also come from $NNC_E2E_FIXTURE.  --dtype=f64 (or
 * $NNC_E2E_DTYPE=f64) says the model was compiled with nnc --dtype=f64: its
 * f32 tensors are then expected as f64.  The tolerance follows the dtype the
 * model computes in: |got - want| <= tol * max(1, max |want| over the
 * tensor), tol = 2e-4 for f32 and 1e-9 for f64 (the reference is float64,
 * from the same float32-rounded values); NaN matches NaN.
 *
 * Memory: the fixture is read once and kept for the life of the process;
 * each test allocates its structs with nnrt_alloc and frees them.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
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

#define TOL_F32 2e-4
#define TOL_F64 1e-9
#define REL_F32 1e-6    /* train_step against backward then update */
#define REL_F64 1e-12
#define MAX_RANK 8
#define MAX_REPORT 5    /* mismatches printed per tensor */

/* ---- the fixture ---- */

/* K_STATE at step 0 is the state as init sets it, at step K after K train
 * steps; K_TRAIN_* are backward's outputs and state, in training mode
 * (batch_norm, dropout), where they differ from forward's. */
typedef enum { K_PARAM, K_INPUT, K_HYPER, K_OUTPUT, K_GRAD, K_STATE, K_TRAIN_OUTPUT, K_TRAIN_STATE } fx_kind;

typedef struct fx_tensor {
    fx_kind kind;
    int step;                 /* K of stepK.param / stepK.output, else 0 */
    char name[64];
    nnrt_dtype dtype;         /* as declared in the .nn */
    int rank;
    int64_t dims[MAX_RANK];
    size_t n;                 /* elements */
    double *v;
} fx_tensor;

typedef struct fx_named {
    char name[64];
    double a, b;
} fx_named;

static struct {
    const char *path;
    char model[64];
    char objective[64];
    int has_optimizer;
    double lr, momentum;
    int steps;
    char order[64][64];
    int n_order;
    fx_named defaults[32];    /* hyperdefault NAME VALUE */
    int n_defaults;
    fx_named ranges[32];      /* range NAME LO HI */
    int n_ranges;
    fx_tensor *t;
    int nt;
} FX;

static int promoted;          /* compiled with --dtype=f64 */

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "e2e: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(2);
}

/* The next token of f, skipping `#` comments; NULL at the end. */
static const char *token(FILE *f)
{
    static char buf[256];
    for (;;) {
        if (fscanf(f, "%255s", buf) != 1)
            return NULL;
        if (buf[0] != '#')
            return buf;
        int c;
        while ((c = getc(f)) != EOF && c != '\n')
            ;
    }
}

static const char *need(FILE *f)
{
    const char *s = token(f);
    if (!s)
        die("%s: truncated fixture%s", FX.path, "");
    return s;
}

static double need_num(FILE *f)
{
    const char *s = need(f);
    char *end;
    double v = strtod(s, &end);
    if (*end)
        die("%s: not a number: %s", FX.path, s);
    return v;
}

static void copy_name(char *dst, const char *src)
{
    if (strlen(src) >= 64)
        die("%s: name too long: %s", FX.path, src);
    strcpy(dst, src);
}

static nnrt_dtype parse_dtype(const char *s)
{
    if (!strcmp(s, "f32")) return NNRT_F32;
    if (!strcmp(s, "f64")) return NNRT_F64;
    if (!strcmp(s, "i32")) return NNRT_I32;
    die("%s: unknown dtype %s", FX.path, s);
    return 0;
}

static void read_tensor(FILE *f)
{
    fx_tensor t;
    memset(&t, 0, sizeof t);
    const char *k = need(f);
    char rest[32];
    if (!strcmp(k, "param")) t.kind = K_PARAM;
    else if (!strcmp(k, "input")) t.kind = K_INPUT;
    else if (!strcmp(k, "hyper")) t.kind = K_HYPER;
    else if (!strcmp(k, "output")) t.kind = K_OUTPUT;
    else if (!strcmp(k, "grad")) t.kind = K_GRAD;
    else if (!strcmp(k, "state")) t.kind = K_STATE;
    else if (!strcmp(k, "train.output")) t.kind = K_TRAIN_OUTPUT;
    else if (!strcmp(k, "train.state")) t.kind = K_TRAIN_STATE;
    else if (sscanf(k, "step%d.%31s", &t.step, rest) == 2 && t.step >= 1 &&
             (!strcmp(rest, "param") || !strcmp(rest, "output") || !strcmp(rest, "state")))
        t.kind = !strcmp(rest, "param") ? K_PARAM : !strcmp(rest, "state") ? K_STATE : K_OUTPUT;
    else
        die("%s: unknown tensor kind %s", FX.path, k);
    copy_name(t.name, need(f));
    t.dtype = parse_dtype(need(f));
    t.rank = (int)need_num(f);
    if (t.rank < 0 || t.rank > MAX_RANK)
        die("%s: bad rank for %s", FX.path, t.name);
    t.n = 1;
    for (int i = 0; i < t.rank; i++) {
        t.dims[i] = (int64_t)need_num(f);
        t.n *= (size_t)t.dims[i];
    }
    t.v = malloc(t.n * sizeof *t.v + 1);
    if (!t.v)
        die("%s: out of memory%s", FX.path, "");
    for (size_t i = 0; i < t.n; i++)
        t.v[i] = need_num(f);
    fx_tensor *nt = realloc(FX.t, (size_t)(FX.nt + 1) * sizeof *FX.t);
    if (!nt)
        die("%s: out of memory%s", FX.path, "");
    FX.t = nt;
    FX.t[FX.nt++] = t;
}

static void read_fixture(const char *path)
{
    FX.path = path;
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open fixture %s%s", path, "");
    const char *s = token(f);
    if (!s || strcmp(s, "nnc-fixture") || need_num(f) != 1)
        die("%s: not an nnc fixture of version 1%s", path, "");
    int ended = 0;
    while (!ended && (s = token(f))) {
        if (!strcmp(s, "model")) {
            copy_name(FX.model, need(f));
        } else if (!strcmp(s, "define")) {
            need(f), need(f);       /* informational: e2e.mk passes the .defs */
        } else if (!strcmp(s, "objective")) {
            copy_name(FX.objective, need(f));
        } else if (!strcmp(s, "optimizer")) {
            s = need(f);
            FX.has_optimizer = strcmp(s, "none") != 0;
            if (!strcmp(s, "sgd")) {
                FX.lr = need_num(f);
                FX.momentum = need_num(f);
            } else if (strcmp(s, "adam") && strcmp(s, "adamw") && strcmp(s, "none")) {
                die("%s: unknown optimizer %s", path, s);
            }
        } else if (!strcmp(s, "steps")) {
            FX.steps = (int)need_num(f);
        } else if (!strcmp(s, "order")) {
            /* names up to the next keyword: a line of its own */
            int c;
            while ((c = getc(f)) != EOF && c != '\n') {
                ungetc(c, f);
                char name[64];
                if (fscanf(f, "%63[^ \t\n]", name) == 1) {
                    if (FX.n_order == 64)
                        die("%s: order too long%s", path, "");
                    copy_name(FX.order[FX.n_order++], name);
                }
                while ((c = getc(f)) == ' ' || c == '\t')
                    ;
                if (c == '\n' || c == EOF)
                    break;
                ungetc(c, f);
            }
        } else if (!strcmp(s, "hyperdefault")) {
            if (FX.n_defaults == 32)
                die("%s: too many hypers%s", path, "");
            fx_named *d = &FX.defaults[FX.n_defaults++];
            copy_name(d->name, need(f));
            d->a = need_num(f);
        } else if (!strcmp(s, "range")) {
            if (FX.n_ranges == 32)
                die("%s: too many ranges%s", path, "");
            fx_named *r = &FX.ranges[FX.n_ranges++];
            copy_name(r->name, need(f));
            r->a = need_num(f);
            r->b = need_num(f);
        } else if (!strcmp(s, "tensor")) {
            read_tensor(f);
        } else if (!strcmp(s, "end")) {
            ended = 1;
        } else {
            die("%s: unknown record %s", path, s);
        }
    }
    fclose(f);
    if (!ended)
        die("%s: no `end`: truncated fixture%s", path, "");
    if (!FX.objective[0])
        die("%s: no objective%s", path, "");
}

/* What backward's outputs are compared with: forward's, unless training
 * mode gives others. */
static fx_kind backward_outputs(void)
{
    for (int i = 0; i < FX.nt; i++)
        if (FX.t[i].kind == K_TRAIN_OUTPUT)
            return K_TRAIN_OUTPUT;
    return K_OUTPUT;
}

/* The fixture tensor of this kind, step and name; NULL if none. */
static const fx_tensor *fx_find(fx_kind kind, int step, const char *name)
{
    for (int i = 0; i < FX.nt; i++)
        if (FX.t[i].kind == kind && FX.t[i].step == step && !strcmp(FX.t[i].name, name))
            return &FX.t[i];
    return NULL;
}

/* ---- the model, through its descriptor ---- */

static const nnrt_tensor *desc_find(const char *name)
{
    for (int i = 0; i < M->n_tensors; i++)
        if (!strcmp(M->tensors[i].name, name))
            return &M->tensors[i];
    return NULL;
}

static const nnrt_tensor *desc_need(const char *name)
{
    const nnrt_tensor *t = desc_find(name);
    ck_assert_msg(t != NULL, "the descriptor has no tensor %s", name);
    return t;
}

static size_t dtype_size(nnrt_dtype d)
{
    return d == NNRT_F64 || d == NNRT_I64 ? 8 : 4;
}

static nnrt_dtype expected_dtype(nnrt_dtype declared)
{
    return promoted && declared == NNRT_F32 ? NNRT_F64 : declared;
}

static double get_elem(const void *base, const nnrt_tensor *t, size_t i)
{
    const char *p = (const char *)base + t->offset;
    switch (t->dtype) {
    case NNRT_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case NNRT_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case NNRT_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case NNRT_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    }
    return NAN;
}

static void set_elem(void *base, const nnrt_tensor *t, size_t i, double v)
{
    char *p = (char *)base + t->offset;
    switch (t->dtype) {
    case NNRT_F32: { float x = (float)v; memcpy(p + 4 * i, &x, 4); break; }
    case NNRT_F64: memcpy(p + 8 * i, &v, 8); break;
    case NNRT_I32: { int32_t x = (int32_t)v; memcpy(p + 4 * i, &x, 4); break; }
    case NNRT_I64: { int64_t x = (int64_t)v; memcpy(p + 8 * i, &x, 8); break; }
    }
}

static size_t elems(const nnrt_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* Copy the fixture's tensors of one kind into the struct base. */
static void load(void *base, fx_kind kind, int step)
{
    for (int i = 0; i < FX.nt; i++) {
        const fx_tensor *f = &FX.t[i];
        if (f->kind != kind || f->step != step)
            continue;
        const nnrt_tensor *t = desc_need(f->name);
        ck_assert_msg(elems(t) == f->n, "%s: %zu elements in the descriptor, %zu in the fixture",
                      f->name, elems(t), f->n);
        for (size_t j = 0; j < f->n; j++)
            set_elem(base, t, j, f->v[j]);
    }
}

/* The structs of one call: params and inputs set from the fixture, the
 * state as init makes it (seed 0, step 0, zero optimizer buffers). */
typedef struct call {
    void *params, *inputs, *outputs, *grads, *state, *ws;
} call;

static void call_init(call *c)
{
    c->params = nnrt_alloc(M->params_size);
    c->inputs = nnrt_alloc(M->inputs_size);
    c->outputs = nnrt_alloc(M->outputs_size);
    c->grads = nnrt_alloc(M->params_size);
    c->state = nnrt_alloc(M->state_size);
    c->ws = nnrt_alloc(M->workspace_size);
    ck_assert_msg(c->params && c->inputs && c->outputs && c->grads && c->state && c->ws,
                  "nnrt_alloc failed");
    M->set_defaults(c->inputs);
    M->init(c->params, c->state, 0);
    load(c->params, K_PARAM, 0);
    load(c->inputs, K_INPUT, 0);
    load(c->inputs, K_HYPER, 0);
}

/* The updates counted in a state struct (nnrt_state_head). */
static uint64_t step_of(const void *state)
{
    nnrt_state_head h;
    memcpy(&h, state, sizeof h);
    return h.step;
}

static void call_free(call *c)
{
    nnrt_free(c->params);
    nnrt_free(c->inputs);
    nnrt_free(c->outputs);
    nnrt_free(c->grads);
    nnrt_free(c->state);
    nnrt_free(c->ws);
}

static double tol_of(const nnrt_tensor *t)
{
    return t->dtype == NNRT_F64 ? TOL_F64 : TOL_F32;
}

/* "[i,j,...]": the multi-index of flat element i of f. */
static void index_str(char *buf, size_t len, const fx_tensor *f, size_t i)
{
    size_t n = (size_t)snprintf(buf, len, "["), rem = i, div = f->n;
    for (int d = 0; d < f->rank && n < len; d++) {
        div /= (size_t)f->dims[d];
        n += (size_t)snprintf(buf + n, len - n, "%s%zu", d ? "," : "", rem / div);
        rem %= div;
    }
    if (n < len)
        snprintf(buf + n, len - n, "]");
}

/* The number of elements of the struct base's tensor that differ from the
 * fixture's f beyond tolerance; the first few are printed. */
static int compare(const char *what, const fx_tensor *f, const void *base)
{
    const nnrt_tensor *t = desc_need(f->name);
    ck_assert_msg(elems(t) == f->n, "%s: %zu elements in the descriptor, %zu in the fixture",
                  f->name, elems(t), f->n);
    double scale = 1;   /* of the finite values: an infinity must match exactly */
    for (size_t i = 0; i < f->n; i++)
        if (isfinite(f->v[i]) && fabs(f->v[i]) > scale)
            scale = fabs(f->v[i]);
    double lim = t->dtype == NNRT_I32 ? 0 : tol_of(t) * scale;
    int bad = 0;
    for (size_t i = 0; i < f->n; i++) {
        double got = get_elem(base, t, i), want = f->v[i];
        /* NaN where PyTorch has NaN, the same infinity, else within lim */
        if (isnan(want) ? isnan(got) : isinf(want) ? got == want : fabs(got - want) <= lim)
            continue;
        if (bad++ < MAX_REPORT) {
            char idx[96];
            index_str(idx, sizeof idx, f, i);
            fprintf(stderr, "%s: %s %s%s: got %.9g, want %.9g (|diff| %.3g > %.3g)\n",
                    FX.model, what, f->name, idx, got, want, fabs(got - want), lim);
        }
    }
    if (bad > MAX_REPORT)
        fprintf(stderr, "%s: %s %s: %d elements off\n", FX.model, what, f->name, bad);
    return bad;
}

/* Compare every fixture tensor of kind and step with the struct base. */
static int compare_all(const char *what, fx_kind kind, int step, const void *base)
{
    int bad = 0;
    for (int i = 0; i < FX.nt; i++)
        if (FX.t[i].kind == kind && FX.t[i].step == step)
            bad += compare(what, &FX.t[i], base) > 0;
    return bad;
}

static void *copy_of(const void *p, size_t n)
{
    void *c = nnrt_alloc(n);
    ck_assert_msg(c != NULL, "nnrt_alloc failed");
    memcpy(c, p, n);
    return c;
}

/* ---- the descriptor and the header ---- */

START_TEST(test_descriptor_matches_fixture)
{
    ck_assert_int_eq(M->abi_version, NNRT_ABI_VERSION);
    ck_assert_msg(M->name && !strcmp(M->name, FX.model), "descriptor name %s, fixture %s",
                  M->name ? M->name : "(null)", FX.model);
    ck_assert_msg(M->objective && !strcmp(M->objective, FX.objective),
                  "objective %s, want %s", M->objective ? M->objective : "(null)", FX.objective);
    ck_assert_msg((M->train_step != NULL) == FX.has_optimizer,
                  "train_step is %s, but the model %s an optimizer",
                  M->train_step ? "set" : "NULL", FX.has_optimizer ? "has" : "has no");
    ck_assert_msg((M->update != NULL) == FX.has_optimizer,
                  "update is %s, but the model %s an optimizer",
                  M->update ? "set" : "NULL", FX.has_optimizer ? "has" : "has no");
    ck_assert(M->init && M->set_defaults && M->forward && M->backward);

    int counted = 0;
    for (int i = 0; i < FX.nt; i++) {
        const fx_tensor *f = &FX.t[i];
        if (f->step || f->kind == K_GRAD || f->kind == K_TRAIN_OUTPUT || f->kind == K_TRAIN_STATE)
            continue;
        counted++;
        const nnrt_tensor *t = desc_need(f->name);
        nnrt_role role = f->kind == K_PARAM ? NNRT_PARAM : f->kind == K_INPUT ? NNRT_INPUT
                         : f->kind == K_HYPER ? NNRT_HYPER : f->kind == K_STATE ? NNRT_STATE : NNRT_OUTPUT;
        ck_assert_msg(t->role == role, "%s: role %d, want %d", f->name, t->role, role);
        ck_assert_msg(t->dtype == expected_dtype(f->dtype), "%s: dtype %d, want %d",
                      f->name, t->dtype, expected_dtype(f->dtype));
        ck_assert_msg(t->rank == f->rank, "%s: rank %d, want %d", f->name, t->rank, f->rank);
        for (int d = 0; d < f->rank; d++)
            ck_assert_msg(t->dims[d] == f->dims[d], "%s: dim %d is %lld, want %lld", f->name,
                          d, (long long)t->dims[d], (long long)f->dims[d]);
        ck_assert_msg(t->size == f->n * dtype_size(t->dtype), "%s: size %zu, want %zu",
                      f->name, t->size, f->n * dtype_size(t->dtype));
        size_t whole = role == NNRT_PARAM ? M->params_size : role == NNRT_OUTPUT ? M->outputs_size
                       : role == NNRT_STATE ? M->state_size : M->inputs_size;
        ck_assert_msg(t->offset % 64 == 0, "%s: offset %zu is not 64-byte aligned",
                      f->name, t->offset);
        ck_assert_msg(t->offset + t->size <= whole, "%s: [%zu, %zu) outside its struct of %zu",
                      f->name, t->offset, t->offset + t->size, whole);
    }
    ck_assert_msg(counted == M->n_tensors, "%d tensors in the descriptor, %d in the fixture",
                  M->n_tensors, counted);
    for (int i = 0; i < M->n_tensors; i++)
        if (M->tensors[i].role == NNRT_PARAM)
            ck_assert_msg(fx_find(K_GRAD, 0, M->tensors[i].name) != NULL,
                          "the fixture has no gradient for param %s", M->tensors[i].name);

    /* declaration order (the objective's place is left open) */
    int last = -1;
    for (int i = 0; i < FX.n_order; i++) {
        int at = (int)(desc_need(FX.order[i]) - M->tensors);
        ck_assert_msg(at > last, "%s is out of declaration order in the descriptor",
                      FX.order[i]);
        last = at;
    }

    /* no two tensors of a struct overlap */
    for (int i = 0; i < M->n_tensors; i++)
        for (int j = i + 1; j < M->n_tensors; j++) {
            const nnrt_tensor *a = &M->tensors[i], *b = &M->tensors[j];
            int sa = a->role == NNRT_HYPER ? NNRT_INPUT : a->role;
            int sb = b->role == NNRT_HYPER ? NNRT_INPUT : b->role;
            if (sa == sb)
                ck_assert_msg(a->offset + a->size <= b->offset || b->offset + b->size <= a->offset,
                              "%s and %s overlap", a->name, b->name);
        }
}
END_TEST

START_TEST(test_set_defaults_writes_hyper_defaults)
{
    void *in = nnrt_alloc(M->inputs_size);
    ck_assert(in != NULL);
    M->set_defaults(in);
    for (int i = 0; i < FX.n_defaults; i++) {
        const fx_named *d = &FX.defaults[i];
        const nnrt_tensor *t = desc_need(d->name);
        ck_assert_int_eq(t->role, NNRT_HYPER);
        double want = t->dtype == NNRT_F32 ? (double)(float)d->a : d->a;
        double rel = t->dtype == NNRT_F32 ? 1e-7 : 1e-15;
        ck_assert_msg(fabs(t->default_value - d->a) <= rel * fabs(d->a),
                      "%s: default_value %.17g, want %.17g", d->name, t->default_value, d->a);
        ck_assert_msg(get_elem(in, t, 0) == want, "set_defaults: %s = %.17g, want %.17g",
                      d->name, get_elem(in, t, 0), want);
    }
    nnrt_free(in);
}
END_TEST

START_TEST(test_init_is_deterministic)
{
    void *a = nnrt_alloc(M->params_size), *b = nnrt_alloc(M->params_size);
    void *sa = nnrt_alloc(M->state_size), *sb = nnrt_alloc(M->state_size);
    ck_assert(a && b && sa && sb);
    memset(b, 0xff, M->params_size);
    M->init(a, sa, 42);
    M->init(b, sb, 42);
    ck_assert_msg(!memcmp(sa, sb, M->state_size), "init(seed 42) gave two states");
    nnrt_state_head h;
    memcpy(&h, sa, sizeof h);
    ck_assert_msg(h.seed == 42 && h.step == 0, "init(seed 42): state seed %llu, step %llu",
                  (unsigned long long)h.seed, (unsigned long long)h.step);
    for (int i = 0; i < M->n_tensors; i++) {
        const nnrt_tensor *t = &M->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        ck_assert_msg(!memcmp((char *)a + t->offset, (char *)b + t->offset, t->size),
                      "init(seed 42) gave two values of %s", t->name);
        for (size_t j = 0; j < elems(t); j++)
            ck_assert_msg(isfinite(get_elem(a, t, j)), "init: %s[%zu] is not finite",
                          t->name, j);
    }
    nnrt_free(a);
    nnrt_free(b);
    nnrt_free(sa);
    nnrt_free(sb);
}
END_TEST

#ifdef NNC_PREFIX
/* The header's typed entry points are the descriptor's, and its structs have
 * the descriptor's sizes. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define H_(x) CAT(NNC_PREFIX, x)

START_TEST(test_header_matches_descriptor)
{
    ck_assert_uint_eq(sizeof(H_(_params)), M->params_size);
    ck_assert_uint_eq(sizeof(H_(_inputs)), M->inputs_size);
    ck_assert_uint_eq(sizeof(H_(_outputs)), M->outputs_size);
    ck_assert_uint_eq(sizeof(H_(_state)), M->state_size);
    ck_assert_uint_ge(_Alignof(H_(_params)), 64);
    ck_assert_uint_ge(_Alignof(H_(_inputs)), 64);
    ck_assert_uint_ge(_Alignof(H_(_outputs)), 64);
    ck_assert_uint_ge(_Alignof(H_(_state)), 64);
    ck_assert_ptr_eq(&H_(_model), M);

    call c;
    call_init(&c);
    H_(_params) *p = nnrt_alloc(sizeof *p), *g = nnrt_alloc(sizeof *g);
    H_(_inputs) *in = nnrt_alloc(sizeof *in);
    H_(_outputs) *out = nnrt_alloc(sizeof *out);
    H_(_state) *s = nnrt_alloc(sizeof *s);
    ck_assert(p && g && in && out && s);

    void *p2 = nnrt_alloc(M->params_size), *s2 = nnrt_alloc(M->state_size);
    ck_assert(p2 && s2);
    M->init(p2, s2, 7);
    H_(_init)(p, s, 7);
    ck_assert_msg(!memcmp(p, p2, sizeof *p) && !memcmp(s, s2, sizeof *s),
                  "%s_init differs from the descriptor's init", FX.model);
    nnrt_free(p2);
    nnrt_free(s2);
    void *in2 = nnrt_alloc(M->inputs_size);
    ck_assert(in2 != NULL);
    M->set_defaults(in2);
    H_(_set_defaults)(in);
    ck_assert_msg(!memcmp(in, in2, sizeof *in),
                  "%s_set_defaults differs from the descriptor's set_defaults", FX.model);
    nnrt_free(in2);

    memcpy(p, c.params, sizeof *p);
    memcpy(in, c.inputs, sizeof *in);
    memcpy(s, c.state, sizeof *s);
    ck_assert_int_eq(H_(_forward)(p, s, in, out, c.ws), 0);
    int bad = compare_all("header forward", K_OUTPUT, 0, out);
    ck_assert_int_eq(H_(_backward)(p, s, in, out, g, c.ws), 0);
    bad += compare_all("header backward", K_GRAD, 0, g);
    ck_assert_int_eq(bad, 0);
    call_free(&c);
    nnrt_free(p);
    nnrt_free(g);
    nnrt_free(in);
    nnrt_free(out);
    nnrt_free(s);
}
END_TEST
#endif

/* ---- forward and backward ---- */

START_TEST(test_forward_matches_reference)
{
    call c;
    call_init(&c);
    int bad = compare_all("init", K_STATE, 0, c.state);
    int rc = M->forward(c.params, c.state, c.inputs, c.outputs, c.ws);
    ck_assert_msg(rc == 0, "forward returned %d (%s)", rc, nnrt_strerror(rc));
    bad += compare_all("forward", K_OUTPUT, 0, c.outputs);
    ck_assert_int_eq(bad, 0);
    call_free(&c);
}
END_TEST

/* forward reads its params and inputs only, and makes no use of what a
 * previous call left in the workspace or the outputs: here NaN bytes. */
START_TEST(test_forward_ignores_stale_buffers)
{
    call c;
    call_init(&c);
    void *p0 = copy_of(c.params, M->params_size), *in0 = copy_of(c.inputs, M->inputs_size);
    memset(c.ws, 0xff, M->workspace_size);
    memset(c.outputs, 0xff, M->outputs_size);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(M->forward(c.params, c.state, c.inputs, c.outputs, c.ws), 0);
        ck_assert_int_eq(compare_all("forward on a dirty workspace", K_OUTPUT, 0, c.outputs), 0);
    }
    ck_assert_msg(!memcmp(p0, c.params, M->params_size), "forward wrote into the params");
    ck_assert_msg(!memcmp(in0, c.inputs, M->inputs_size), "forward wrote into the inputs");
    nnrt_free(p0);
    nnrt_free(in0);
    call_free(&c);
}
END_TEST

START_TEST(test_backward_matches_reference)
{
    call c;
    call_init(&c);
    int rc = M->backward(c.params, c.state, c.inputs, c.outputs, c.grads, c.ws);
    ck_assert_msg(rc == 0, "backward returned %d (%s)", rc, nnrt_strerror(rc));
    int bad = compare_all("backward", backward_outputs(), 0, c.outputs);
    bad += compare_all("gradient", K_GRAD, 0, c.grads);
    bad += compare_all("backward's state", K_TRAIN_STATE, 0, c.state);
    ck_assert_int_eq(bad, 0);
    call_free(&c);
}
END_TEST

/* backward writes the gradient (it does not add to what is there), twice
 * the same, from a dirty workspace, leaving params, inputs and the state's
 * step alone. */
START_TEST(test_backward_overwrites_gradients)
{
    call c;
    call_init(&c);
    void *p0 = copy_of(c.params, M->params_size), *in0 = copy_of(c.inputs, M->inputs_size);
    memset(c.ws, 0xff, M->workspace_size);
    memset(c.grads, 0xff, M->params_size);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(M->backward(c.params, c.state, c.inputs, c.outputs, c.grads, c.ws), 0);
        ck_assert_int_eq(compare_all("gradient on a dirty buffer", K_GRAD, 0, c.grads), 0);
    }
    ck_assert_msg(!memcmp(p0, c.params, M->params_size), "backward wrote into the params");
    ck_assert_msg(!memcmp(in0, c.inputs, M->inputs_size), "backward wrote into the inputs");
    ck_assert_msg(step_of(c.state) == 0, "backward set step to %llu",
                  (unsigned long long)step_of(c.state));
    nnrt_free(p0);
    nnrt_free(in0);
    call_free(&c);
}
END_TEST

/* ---- training ---- */

START_TEST(test_train_steps_match_sgd)
{
    if (!FX.has_optimizer || !M->train_step)
        return;                 /* test_descriptor_matches_fixture says which */
    call c;
    call_init(&c);
    int bad = 0;
    for (int k = 1; k <= FX.steps; k++) {
        int rc = M->train_step(c.params, c.state, c.inputs, c.outputs, c.ws);
        ck_assert_msg(rc == 0, "train step %d returned %d (%s)", k, rc, nnrt_strerror(rc));
        char what[32];
        snprintf(what, sizeof what, "step %d", k);
        bad += compare_all(what, K_OUTPUT, k, c.outputs);
        bad += compare_all(what, K_PARAM, k, c.params);
        bad += compare_all(what, K_STATE, k, c.state);
    }
    ck_assert_int_eq(bad, 0);
    call_free(&c);
}
END_TEST

/* The number of params of got that differ from want's by more than rel
 * times the largest |want| of the param: a few ulps of its scale, as two
 * orders of the same float operations may round differently. */
static int params_close(const char *what, const void *got, const void *want)
{
    int bad = 0;
    for (int i = 0; i < M->n_tensors; i++) {
        const nnrt_tensor *t = &M->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        double rel = t->dtype == NNRT_F64 ? REL_F64 : REL_F32, scale = 0;
        for (size_t j = 0; j < elems(t); j++)
            scale = fmax(scale, fabs(get_elem(want, t, j)));
        int off = 0;
        for (size_t j = 0; j < elems(t); j++) {
            double g = get_elem(got, t, j), w = get_elem(want, t, j);
            if (fabs(g - w) <= rel * scale)     /* false for NaN */
                continue;
            if (off++ < MAX_REPORT)
                fprintf(stderr, "%s: %s %s[%zu]: %.17g, train_step %.17g (|diff| %.3g > %.3g)\n",
                        FX.model, what, t->name, j, g, w, fabs(g - w), rel * scale);
        }
        bad += off > 0;
    }
    return bad;
}

/* update is train_step's second half: backward then update, step after
 * step, gives train_step's params up to rounding (contract 5.6); backward
 * leaves step as it was, and each update or train step adds one. */
START_TEST(test_backward_then_update_matches_train_step)
{
    if (!FX.has_optimizer || !M->train_step || !M->update)
        return;                 /* test_descriptor_matches_fixture says which */
    call a, b;                  /* a: train_step; b: backward, then update */
    call_init(&a);
    call_init(&b);
    int bad = 0;
    for (int k = 1; k <= FX.steps; k++) {
        int rc = M->train_step(a.params, a.state, a.inputs, a.outputs, a.ws);
        ck_assert_msg(rc == 0, "train step %d returned %d (%s)", k, rc, nnrt_strerror(rc));
        ck_assert_msg(step_of(a.state) == (uint64_t)k, "after %d train steps, step is %llu", k,
                      (unsigned long long)step_of(a.state));
        rc = M->backward(b.params, b.state, b.inputs, b.outputs, b.grads, b.ws);
        ck_assert_msg(rc == 0, "backward %d returned %d (%s)", k, rc, nnrt_strerror(rc));
        ck_assert_msg(step_of(b.state) == (uint64_t)k - 1, "backward after %d updates set step to %llu",
                      k - 1, (unsigned long long)step_of(b.state));
        rc = M->update(b.params, b.state, b.grads, b.inputs);
        ck_assert_msg(rc == 0, "update %d returned %d (%s)", k, rc, nnrt_strerror(rc));
        ck_assert_msg(step_of(b.state) == (uint64_t)k, "after %d updates, step is %llu", k,
                      (unsigned long long)step_of(b.state));
        char what[48];
        snprintf(what, sizeof what, "backward and update %d", k);
        bad += params_close(what, b.params, a.params);
        bad += compare_all(what, K_PARAM, k, b.params);
    }
    ck_assert_int_eq(bad, 0);
    call_free(&a);
    call_free(&b);
}
END_TEST

/* ---- errors ---- */

/* A label outside its range: every entry point returns NNRT_EINDEX, and
 * train_step leaves the params and the optimizer state as they were. */
START_TEST(test_out_of_range_label_is_rejected)
{
    for (int r = 0; r < FX.n_ranges; r++) {
        const nnrt_tensor *t = desc_need(FX.ranges[r].name);
        double bad_values[2] = { FX.ranges[r].b, FX.ranges[r].a - 1 };
        for (int b = 0; b < 2; b++) {
            call c;
            call_init(&c);
            size_t at = elems(t) - 1;
            set_elem(c.inputs, t, at, bad_values[b]);
            int rc = M->forward(c.params, c.state, c.inputs, c.outputs, c.ws);
            ck_assert_msg(rc == NNRT_EINDEX, "forward with %s[%zu] = %g returned %d, want %d",
                          t->name, at, bad_values[b], rc, NNRT_EINDEX);
            rc = M->backward(c.params, c.state, c.inputs, c.outputs, c.grads, c.ws);
            ck_assert_msg(rc == NNRT_EINDEX, "backward with %s[%zu] = %g returned %d, want %d",
                          t->name, at, bad_values[b], rc, NNRT_EINDEX);
            if (M->train_step) {
                memset(c.state, 0x3c, M->state_size);
                void *p0 = copy_of(c.params, M->params_size);
                void *s0 = copy_of(c.state, M->state_size);
                rc = M->train_step(c.params, c.state, c.inputs, c.outputs, c.ws);
                ck_assert_msg(rc == NNRT_EINDEX, "train_step with %s[%zu] = %g returned %d",
                              t->name, at, bad_values[b], rc);
                ck_assert_msg(!memcmp(p0, c.params, M->params_size),
                              "a failed train_step changed the params");
                ck_assert_msg(!memcmp(s0, c.state, M->state_size),
                              "a failed train_step changed the optimizer state");
                nnrt_free(p0);
                nnrt_free(s0);
            }
            call_free(&c);
        }
    }
}
END_TEST

/* ---- threads ---- */

/* Two threads, each with its own structs and workspace, calling backward
 * over and over: the generated code keeps no global mutable state. */
static void *backward_loop(void *arg)
{
    call *c = arg;
    for (int i = 0; i < 50; i++)
        if (M->backward(c->params, c->state, c->inputs, c->outputs, c->grads, c->ws) != 0)
            return "backward failed";
    return NULL;
}

START_TEST(test_concurrent_calls_are_independent)
{
    call c[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        call_init(&c[i]);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, backward_loop, &c[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        ck_assert_int_eq(pthread_join(th[i], &res), 0);
        ck_assert_msg(res == NULL, "thread %d: %s", i, (const char *)res);
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(compare_all("threaded backward", backward_outputs(), 0, c[i].outputs), 0);
        ck_assert_int_eq(compare_all("threaded gradient", K_GRAD, 0, c[i].grads), 0);
        call_free(&c[i]);
    }
}
END_TEST

/* backward on 1 thread and on 3 leaves the same bytes in outputs and
 * gradients: every split across threads (rows, a product's tiles, chunks
 * of a sum over the batch) has each sum made by one thread in a fixed
 * order (contract, 5.6). */
START_TEST(test_backward_same_at_every_thread_count)
{
    call c[2];
    const int threads[2] = {1, 3};
    for (int i = 0; i < 2; i++) {
        call_init(&c[i]);
        nnrt_set_num_threads(threads[i]);
        int rc = M->backward(c[i].params, c[i].state, c[i].inputs, c[i].outputs, c[i].grads, c[i].ws);
        ck_assert_msg(rc == 0, "backward on %d threads returned %d (%s)", threads[i], rc, nnrt_strerror(rc));
    }
    nnrt_set_num_threads(0);
    ck_assert_msg(!memcmp(c[0].outputs, c[1].outputs, M->outputs_size), "outputs differ on 1 and 3 threads");
    ck_assert_msg(!memcmp(c[0].grads, c[1].grads, M->params_size), "gradients differ on 1 and 3 threads");
    for (int i = 0; i < 2; i++)
        call_free(&c[i]);
}
END_TEST

static Suite *e2e_suite(void)
{
    static char name[96];     /* the suite keeps the pointer */
    snprintf(name, sizeof name, "e2e %s%s", FX.model, promoted ? " (--dtype=f64)" : "");
    Suite *s = suite_create(name);
    struct { const char *name; const TTest *test; } tests[] = {
        { "descriptor", test_descriptor_matches_fixture },
        { "descriptor", test_set_defaults_writes_hyper_defaults },
        { "descriptor", test_init_is_deterministic },
#ifdef NNC_PREFIX
        { "header", test_header_matches_descriptor },
#endif
        { "forward", test_forward_matches_reference },
        { "forward", test_forward_ignores_stale_buffers },
        { "backward", test_backward_matches_reference },
        { "backward", test_backward_overwrites_gradients },
        { "train_step", test_train_steps_match_sgd },
        { "train_step", test_backward_then_update_matches_train_step },
        { "errors", test_out_of_range_label_is_rejected },
        { "threads", test_concurrent_calls_are_independent },
        { "threads", test_backward_same_at_every_thread_count },
    };
    TCase *tc = NULL;
    const char *cur = "";
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(cur, tests[i].name)) {
            cur = tests[i].name;
            tc = tcase_create(cur);
            tcase_set_timeout(tc, 60);
            suite_add_tcase(s, tc);
        }
        tcase_add_test(tc, tests[i].test);
    }
    return s;
}

int main(int argc, char **argv)
{
    const char *path = getenv("NNC_E2E_FIXTURE");
    const char *dt = getenv("NNC_E2E_DTYPE");
    promoted = dt && !strcmp(dt, "f64");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dtype=f64"))
            promoted = 1;
        else if (argv[i][0] != '-')
            path = argv[i];
        else
            die("usage: %s FIXTURE [--dtype=f64]%s", argv[0], "");
    }
    if (!path)
        die("usage: %s FIXTURE [--dtype=f64] (or set NNC_E2E_FIXTURE)%s", argv[0], "");
    read_fixture(path);

    return run_suite(e2e_suite());
}
