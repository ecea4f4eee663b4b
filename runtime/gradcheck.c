/*
 * gradcheck.c: checking any compiled model's gradient by central differences.
 *
 * The descriptor says where every param lives and which output is the
 * objective, so one routine checks every model nnc compiles: backward once
 * for the analytic gradient, then two forward runs per checked coordinate,
 * with the coordinate moved by +eps and -eps in a private copy of the
 * params.  Meant for models compiled with --dtype=f64; in f32 the rounding
 * of J swamps all but gross errors (the defaults are loose to match).
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

/* What the check needs of the descriptor, verified before anything runs. */
static const nnrt_tensor *find_objective(const nnrt_model *m)
{
    if (!m->objective)
        return NULL;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role == NNRT_OUTPUT && t->name && strcmp(t->name, m->objective) == 0)
            return is_float(t->dtype) && t->size == rt_dtype_size(t->dtype)
                           && t->offset <= m->outputs_size && t->size <= m->outputs_size - t->offset
                       ? t : NULL;
    }
    return NULL;
}

static int params_ok(const nnrt_model *m)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role == NNRT_PARAM
            && (!is_float(t->dtype) || t->offset > m->params_size
                || t->size > m->params_size - t->offset || t->size % rt_dtype_size(t->dtype)))
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

/* Check one param: fill e, return NNRT_OK or the error of a forward run. */
static int check_param(const nnrt_model *m, const nnrt_tensor *t, void *p, const void *grad,
                       const void *inputs, void *out, void *ws, const nnrt_tensor *obj,
                       const nnrt_gradcheck_options *opt, nnrt_gradcheck_entry *e)
{
    int f64 = t->dtype == NNRT_F64;
    memset(e, 0, sizeof *e);
    e->tensor = t;
    e->eps = opt->eps > 0 ? opt->eps : f64 ? 1e-6 : 1e-3;
    e->atol = opt->atol > 0 ? opt->atol : f64 ? 1e-5 : 1e-2;
    e->rtol = opt->rtol > 0 ? opt->rtol : f64 ? 1e-3 : 1e-2;

    size_t esize = rt_dtype_size(t->dtype), count = t->size / esize;
    size_t n = opt->max_coords == 0 || count <= opt->max_coords ? count : opt->max_coords;
    unsigned char *base = (unsigned char *)p + t->offset;
    const unsigned char *gbase = (const unsigned char *)grad + t->offset;
    const unsigned char *jp = (const unsigned char *)out + obj->offset;
    uint64_t stream = nnrt_stream_id(t->name);
    double worst_ratio = -1;

    for (size_t k = 0; k < n; k++) {
        size_t i = n == count ? k : pick(k, n, count, opt->seed, stream);
        unsigned char saved[8];
        memcpy(saved, base + i * esize, esize);
        double x0 = get(base, t->dtype, i), a = get(gbase, t->dtype, i);

        double xp = set(base, t->dtype, i, x0 + e->eps);
        int rc = m->forward(p, inputs, out, ws);
        double jplus = get(jp, obj->dtype, 0);
        double xm = set(base, t->dtype, i, x0 - e->eps);
        if (rc == NNRT_OK)
            rc = m->forward(p, inputs, out, ws);
        double jminus = get(jp, obj->dtype, 0);
        memcpy(base + i * esize, saved, esize);     /* bit for bit */
        if (rc != NNRT_OK)
            return rc;

        double num = (jplus - jminus) / (xp - xm);
        double diff = fabs(a - num), scale = fmax(fabs(a), fabs(num));
        double tol = e->atol + e->rtol * scale, ratio = diff / tol;
        double rel = scale > 0 ? diff / scale : diff;  /* 0 when both are 0; NaN stays NaN */
        e->checked++;
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
    return NNRT_OK;
}

int nnrt_gradcheck(const nnrt_model *m, const void *params, const void *inputs,
                   const nnrt_gradcheck_options *opt, nnrt_gradcheck_report *rep)
{
    static const nnrt_gradcheck_options defaults = {0, 0, 0, 0, 0};
    if (!opt)
        opt = &defaults;
    if (rep) {
        rep->n_params = rep->n_failed = 0;
        rep->objective = NAN;
        rep->model = m ? m->name : NULL;
    }
    if (!m || m->abi_version != NNRT_ABI_VERSION || !params || !m->forward || !m->backward
        || m->n_tensors < 0 || (m->n_tensors > 0 && !m->tensors))
        return NNRT_EINVAL;
    const nnrt_tensor *obj = find_objective(m);
    if (!obj || !params_ok(m) || bad_option(opt->eps) || bad_option(opt->atol)
        || bad_option(opt->rtol))
        return NNRT_EINVAL;

    int rc = NNRT_ENOMEM;
    void *p = nnrt_alloc(m->params_size), *grad = nnrt_alloc(m->params_size);
    void *out = nnrt_alloc(m->outputs_size), *ws = nnrt_alloc(m->workspace_size);
    if (!p || !grad || !out || !ws)
        goto done;
    memcpy(p, params, m->params_size);
    rc = m->backward(p, inputs, out, grad, ws);
    if (rc != NNRT_OK)
        goto done;
    if (rep)
        rep->objective = get((const unsigned char *)out + obj->offset, obj->dtype, 0);

    int k = 0, failed = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        nnrt_gradcheck_entry e;
        rc = check_param(m, t, p, grad, inputs, out, ws, obj, opt, &e);
        if (rc != NNRT_OK)
            goto done;
        failed += e.failed > 0;
        if (rep && rep->entries && k < rep->cap)
            rep->entries[k] = e;
        k++;
        if (rep) {
            rep->n_params = k;
            rep->n_failed = failed;
        }
    }
    rc = failed ? NNRT_EGRAD : NNRT_OK;
done:
    nnrt_free(p);
    nnrt_free(grad);
    nnrt_free(out);
    nnrt_free(ws);
    return rc;
}

/* "W1[3, 17]": the flat index i as an index into the tensor's shape. */
static void index_str(char *buf, size_t len, const nnrt_tensor *t, size_t i)
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
    fprintf(f, "gradient check of %s: objective %.17g, %d of %d params failed\n",
            rep->model ? rep->model : "model", rep->objective, rep->n_failed, rep->n_params);
    if (n == 0)
        return;
    /* the columns as wide as their widest cell */
    int wname = 5, wshape = 5, wcheck = 7;
    char shape[160], checked[48];
    for (int k = 0; k < n; k++) {
        const nnrt_gradcheck_entry *e = &rep->entries[k];
        const nnrt_tensor *t = e->tensor;
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
        const nnrt_tensor *t = e->tensor;
        rt_shape_str(shape, sizeof shape, t->rank, t->dims);
        snprintf(checked, sizeof checked, "%zu/%zu", e->checked, t->size / rt_dtype_size(t->dtype));
        fprintf(f, "%-*s  %-*s  %-*s  %-11.3e  %-11.3e  ", wname, t->name, wshape, shape, wcheck,
                checked, e->max_abs_err, e->max_rel_err);
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
