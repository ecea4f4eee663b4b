/*
 * gradcheck.c: checking any compiled model's gradient by central differences.
 *
 * The descriptor (read through descriptor.c's view) says where every param
 * lives and which output is the objective, so one routine checks every
 * model nnc compiles: backward once for the analytic gradient, then two
 * evaluations of J per checked coordinate, with the coordinate moved by
 * +eps and -eps in a private copy of the params.  A version-2 model is
 * evaluated in training mode, by backward on a fresh copy of the state each
 * time (dropout and batch_norm make J depend on it, and backward updates
 * it); a version-1 model by forward.  Meant for models compiled with
 * --dtype=f64; in f32 the rounding of J swamps all but gross errors (the
 * defaults are loose to match).
 *
 * A check that compared only zeros has tested nothing: a param whose
 * checked coordinates all have analytic and numeric derivatives of exactly
 * 0 (a dead ReLU, inputs that never reach it) would otherwise pass with
 * errors of 0.  It is reported untested instead, and fails the check
 * unless the caller allows it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

/* Element i of a float tensor at base, as a double. */
static double get(const void *base, nnrt_dtype dt, size_t i)
{
    return dt == NNRT_F32 ? (double)((const float *)base)[i] : ((const double *)base)[i];
}

/* Store x (rounded to the tensor's dtype) and return what was stored. */
static double set(void *base, nnrt_dtype dt, size_t i, double x)
{
    if (dt == NNRT_F32)
        return ((float *)base)[i] = (float)x;
    return ((double *)base)[i] = x;
}

static int is_float(nnrt_dtype dt)
{
    return dt == NNRT_F32 || dt == NNRT_F64;
}

/* The k-th of n coordinates checked in a tensor of count elements, n <
 * count: one drawn uniformly from each of n slices of (nearly) equal size,
 * so the sample covers the whole tensor and is fixed by (seed, name, k). */
static size_t pick(size_t k, size_t n, size_t count, uint64_t seed, uint64_t stream)
{
    size_t q = count / n, r = count % n;
    size_t start = k * q + (k < r ? k : r), len = q + (k < r);
    uint32_t ctr[4] = {(uint32_t)k, (uint32_t)((uint64_t)k >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, w[4];
    nnrt_philox4x32(ctr, key, w);
    uint64_t x = (uint64_t)w[0] << 32 | w[1];
    return start + (size_t)(x % len);
}

/* The objective: a float scalar OUTPUT named by the model (the view has
 * checked that it lies inside the outputs). */
static int find_objective(const nnrt_view *v, nnrt_view_tensor *obj)
{
    if (!v->objective)
        return 0;
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_OUTPUT && strcmp(t.name, v->objective) == 0) {
            *obj = t;
            return is_float(t.dtype) && t.size == rt_dtype_size(t.dtype);
        }
    }
    return 0;
}

static int params_ok(const nnrt_view *v)
{
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_PARAM && !is_float(t.dtype))
            return 0;
    }
    return 1;
}

/* A running maximum in which a NaN, once seen, stays. */
static void track_max(double *max, double x)
{
    if (!isnan(*max) && !(x <= *max))
        *max = x;
}

static int bad_option(double x)
{
    return !(x >= 0) || isinf(x);
}

/* Everything one evaluation of J needs. */
typedef struct run {
    const nnrt_view *v;
    void *p;                  /* the private copy of the params, moved one coordinate at a time */
    const void *inputs;
    void *out, *ws;
    nnrt_view_tensor obj;
    const void *state0;       /* version 2: the state every evaluation starts from, */
    void *state;              /* copied here first, */
    void *grads;              /* and the gradient that backward writes (thrown away) */
} run;

/* J at the current params, and the gradient into grads.  Version 1:
 * forward (grads NULL) or backward.  Version 2: backward in training mode
 * on a fresh copy of the given state, so that every evaluation sees the
 * same dropout masks and batch statistics and none sees another's updates. */
static int eval(const run *r, void *grads, double *j)
{
    int rc;
    if (r->v->version == 1) {
        rc = grads ? nnrt_view_backward(r->v, r->p, NULL, r->inputs, r->out, grads, r->ws)
                   : nnrt_view_forward(r->v, r->p, NULL, r->inputs, r->out, r->ws);
    } else {
        memcpy(r->state, r->state0, r->v->state_size);
        rc = nnrt_view_backward(r->v, r->p, r->state, r->inputs, r->out, grads ? grads : r->grads,
                                r->ws);
    }
    *j = get((const unsigned char *)r->out + r->obj.offset, r->obj.dtype, 0);
    return rc;
}

/* Check one param: fill e, return NNRT_OK or the error of a run. */
static int check_param(const run *r, const nnrt_view_tensor *t, const void *grad,
                       const nnrt_gradcheck_options *opt, nnrt_gradcheck_entry *e)
{
    int f64 = t->dtype == NNRT_F64;
    memset(e, 0, sizeof *e);
    e->tensor = t->v2;
    e->tensor_v1 = t->v1;
    e->eps = opt->eps > 0 ? opt->eps : f64 ? 1e-6 : 1e-3;
    e->atol = opt->atol > 0 ? opt->atol : f64 ? 1e-5 : 1e-2;
    e->rtol = opt->rtol > 0 ? opt->rtol : f64 ? 1e-3 : 1e-2;

    size_t esize = rt_dtype_size(t->dtype), count = t->size / esize;
    size_t n = opt->max_coords == 0 || count <= opt->max_coords ? count : opt->max_coords;
    unsigned char *base = (unsigned char *)r->p + t->offset;
    const unsigned char *gbase = (const unsigned char *)grad + t->offset;
    uint64_t stream = nnrt_stream_id(t->name);
    double worst_ratio = -1;

    for (size_t k = 0; k < n; k++) {
        size_t i = n == count ? k : pick(k, n, count, opt->seed, stream);
        unsigned char saved[8];
        memcpy(saved, base + i * esize, esize);
        double x0 = get(base, t->dtype, i), a = get(gbase, t->dtype, i);

        double jplus, jminus;
        double xp = set(base, t->dtype, i, x0 + e->eps);
        int rc = eval(r, NULL, &jplus);
        double xm = set(base, t->dtype, i, x0 - e->eps);
        if (rc == NNRT_OK)
            rc = eval(r, NULL, &jminus);
        memcpy(base + i * esize, saved, esize);     /* bit for bit */
        if (rc != NNRT_OK)
            return rc;

        double num = (jplus - jminus) / (xp - xm);
        double diff = fabs(a - num), scale = fmax(fabs(a), fabs(num));
        double tol = e->atol + e->rtol * scale, ratio = diff / tol;
        double rel = scale > 0 ? diff / scale : diff;  /* 0 when both are 0; NaN stays NaN */
        e->checked++;
        e->zero += a == 0 && num == 0;
        if (!(diff <= tol))
            e->failed++;
        track_max(&e->max_abs_err, diff);
        track_max(&e->max_rel_err, rel);
        if (!(ratio <= worst_ratio)) {
            worst_ratio = isnan(ratio) ? INFINITY : ratio;
            e->worst = i;
            e->worst_analytic = a;
            e->worst_numeric = num;
        }
    }
    e->untested = e->checked > 0 && e->zero == e->checked;
    return NNRT_OK;
}

int nnrt_gradcheck(const nnrt_model *m, const void *params, const void *inputs,
                   const nnrt_gradcheck_options *opt, nnrt_gradcheck_report *rep)
{
    static const nnrt_gradcheck_options defaults = {0};
    if (!opt)
        opt = &defaults;
    if (rep) {
        rep->n_params = rep->n_failed = rep->n_untested = 0;
        rep->objective = NAN;
        rep->model = NULL;
    }
    nnrt_view v;
    if (nnrt_view_open(&v, m, NULL, 0) != NNRT_OK)
        return NNRT_EINVAL;
    if (rep)
        rep->model = v.name;
    run r = {.v = &v, .inputs = inputs};
    int v2 = v.version == 2;
    if (!params || !v.has_backward || (!v2 && !v.has_forward) || (v2 && !opt->state && !v.has_init)
        || !find_objective(&v, &r.obj) || !params_ok(&v) || bad_option(opt->eps)
        || bad_option(opt->atol) || bad_option(opt->rtol))
        return NNRT_EINVAL;

    int rc = NNRT_ENOMEM;
    void *grad = nnrt_alloc(v.params_size), *own_state = NULL;
    r.p = nnrt_alloc(v.params_size);
    r.out = nnrt_alloc(v.outputs_size);
    r.ws = nnrt_alloc(v.workspace_size);
    if (!r.p || !grad || !r.out || !r.ws)
        goto done;
    if (v2) {
        r.state = nnrt_alloc(v.state_size);
        r.grads = nnrt_alloc(v.params_size);
        r.state0 = opt->state;
        if (!r.state || !r.grads)
            goto done;
        if (!opt->state) {
            /* init writes params too: into the private copy, which is
             * overwritten with the caller's params next */
            if (!(own_state = nnrt_alloc(v.state_size)))
                goto done;
            nnrt_view_init(&v, r.p, own_state, 0);
            r.state0 = own_state;
        }
    }
    memcpy(r.p, params, v.params_size);
    double j;
    rc = eval(&r, grad, &j);
    if (rc != NNRT_OK)
        goto done;
    if (rep)
        rep->objective = j;

    int k = 0, failed = 0, untested = 0;
    for (int i = 0; i < v.n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(&v, i);
        if (t.role != NNRT_PARAM)
            continue;
        nnrt_gradcheck_entry e;
        rc = check_param(&r, &t, grad, opt, &e);
        if (rc != NNRT_OK)
            goto done;
        failed += e.failed > 0;
        untested += e.untested;
        if (rep && rep->entries && k < rep->cap)
            rep->entries[k] = e;
        k++;
        if (rep) {
            rep->n_params = k;
            rep->n_failed = failed;
            rep->n_untested = untested;
        }
    }
    rc = failed || (untested && !opt->allow_untested) ? NNRT_EGRAD : NNRT_OK;
done:
    nnrt_free(r.p);
    nnrt_free(grad);
    nnrt_free(r.out);
    nnrt_free(r.ws);
    nnrt_free(r.state);
    nnrt_free(r.grads);
    nnrt_free(own_state);
    return rc;
}

/* "W1[3, 17]": the flat index i as an index into the tensor's shape. */
static void index_str(char *buf, size_t len, const nnrt_view_tensor *t, size_t i)
{
    int64_t idx[16];
    int rank = t->rank < 16 ? t->rank : 16;
    for (int k = t->rank - 1; k >= 0; k--) {
        size_t d = t->dims[k] > 0 ? (size_t)t->dims[k] : 1;
        if (k < 16)
            idx[k] = (int64_t)(i % d);
        i /= d;
    }
    char shape[160];
    snprintf(buf, len, "%s%s", t->name, rank ? rt_shape_str(shape, sizeof shape, rank, idx) : "");
}

void nnrt_gradcheck_print(FILE *f, const nnrt_gradcheck_report *rep)
{
    if (!f || !rep)
        return;
    int n = rep->entries ? (rep->n_params < rep->cap ? rep->n_params : rep->cap) : 0;
    fprintf(f, "gradient check of %s: objective %.17g, %d of %d params failed",
            rep->model ? rep->model : "model", rep->objective, rep->n_failed, rep->n_params);
    if (rep->n_untested)
        fprintf(f, ", %d untested", rep->n_untested);
    fprintf(f, "\n");
    if (n == 0)
        return;
    /* the columns as wide as their widest cell */
    int wname = 5, wshape = 5, wcheck = 7;
    char shape[160], checked[48];
    for (int k = 0; k < n; k++) {
        const nnrt_gradcheck_entry *e = &rep->entries[k];
        nnrt_view_tensor tv = nnrt_view_tensor_of(e->tensor, e->tensor_v1), *t = &tv;
        if (!t->name)
            continue;
        int len = (int)strlen(t->name);
        wname = len > wname ? len : wname;
        len = (int)strlen(rt_shape_str(shape, sizeof shape, t->rank, t->dims));
        wshape = len > wshape ? len : wshape;
        len = snprintf(checked, sizeof checked, "%zu/%zu", e->checked, t->size / rt_dtype_size(t->dtype));
        wcheck = len > wcheck ? len : wcheck;
    }
    fprintf(f, "%-*s  %-*s  %-*s  %-11s  %-11s  %s\n", wname, "param", wshape, "shape", wcheck,
            "checked", "max abs err", "max rel err", "result");
    for (int k = 0; k < n; k++) {
        const nnrt_gradcheck_entry *e = &rep->entries[k];
        nnrt_view_tensor tv = nnrt_view_tensor_of(e->tensor, e->tensor_v1), *t = &tv;
        if (!t->name)
            continue;
        rt_shape_str(shape, sizeof shape, t->rank, t->dims);
        snprintf(checked, sizeof checked, "%zu/%zu", e->checked, t->size / rt_dtype_size(t->dtype));
        fprintf(f, "%-*s  %-*s  %-*s  %-11.3e  %-11.3e  ", wname, t->name, wshape, shape, wcheck,
                checked, e->max_abs_err, e->max_rel_err);
        if (e->failed == 0 && e->untested) {
            fprintf(f, "untested: %s\n", NNRT_GRADCHECK_UNTESTED);
            continue;
        }
        if (e->failed == 0) {
            fprintf(f, "ok\n");
            continue;
        }
        char where[256];
        index_str(where, sizeof where, t, e->worst);
        fprintf(f, "FAIL (%zu coordinates); worst %s: analytic %.10g, numeric %.10g\n",
                e->failed, where, e->worst_analytic, e->worst_numeric);
    }
}
