/*
 * feed.c: feeding a compiled model from a tensorset, by tensor name.
 *
 * nnrt_find looks a tensor up in a descriptor.  A plan matches each column
 * of a tensorset (tensorset.c) with the model input of its name, through
 * the descriptor view (descriptor.c) so that versions 1 and 2 are read
 * alike, and settles the batch axis: the first axis of every filled input,
 * a runtime dim (contract 5.1) or a fixed extent.  nnrt_tensorset_batch
 * then copies rows and sets the dim; nnrt_evaluate runs forward over a
 * whole set and averages outputs.  Only nnrt_evaluate allocates (its
 * scratch structs, freed before it returns).
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

/* ---- Lookup ---- */

/* Index of the first tensor named name (of role, unless role is 0), or -1. */
static int find_index(const nnrt_view *v, const char *name, int role)
{
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (strcmp(t.name, name) == 0 && (role == 0 || (int)t.role == role))
            return i;
    }
    return -1;
}

const nnrt_tensor *nnrt_find_role(const nnrt_model *m, const char *name, int role)
{
    nnrt_view v;
    if (!m || !name || nnrt_view_open(&v, m, NULL, 0) || v.version != 2)
        return NULL;
    int i = find_index(&v, name, role);
    return i < 0 ? NULL : &m->tensors[i];
}

const nnrt_tensor *nnrt_find(const nnrt_model *m, const char *name)
{
    return nnrt_find_role(m, name, 0);
}

const nnrt_tensor_v1 *nnrt_find_v1(const nnrt_model *m, const char *name)
{
    nnrt_view v;
    if (!m || !name || nnrt_view_open(&v, m, NULL, 0) || v.version != 1)
        return NULL;
    int i = find_index(&v, name, 0);
    return i < 0 ? NULL : &v.m1->tensors[i];
}

/* ---- Plans ---- */

static const char *role_word(nnrt_role role)
{
    switch (role) {
    case NNRT_PARAM: return "a param";
    case NNRT_HYPER: return "a hyper";
    case NNRT_OUTPUT: return "an output";
    case NNRT_DIM: return "a dim";
    case NNRT_STATE: return "a state";
    default: return "an input";
    }
}

/* One column and the input it fills. */
typedef struct slot {
    const nnrt_column *col;
    size_t offset;                /* of the input in the inputs struct */
    nnrt_dtype dtype;             /* the input's */
} slot;

typedef struct plan {
    nnrt_view view;
    int n_slots;
    slot slots[NNRT_TENSORSET_MAX];
    size_t batch;                 /* rows per call */
    const char *dim;              /* the runtime dim of the batch axis, or NULL */
    size_t dim_offset;            /* its int64_t in the inputs struct */
} plan;

/* A tensor's shape with its runtime axes by name: "[batch, 784]". */
static const char *input_shape(char *buf, size_t len, const nnrt_view_tensor *t)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; k <= t->rank && at < len; k++) {
        const char *sep = k == 0 ? "[" : ", ";
        if (k == t->rank)
            snprintf(buf + at, len - at, "]");
        else if (t->dim_names && t->dim_names[k])
            snprintf(buf + at, len - at, "%s%s", sep, t->dim_names[k]);
        else
            snprintf(buf + at, len - at, "%s%lld", sep, (long long)t->dims[k]);
        at += strlen(buf + at);
    }
    if (t->rank == 0)
        snprintf(buf, len, "[]");
    return buf;
}

/* A column as the set functions make it; anything else (a struct filled by
 * hand, or scribbled on) is refused rather than read out of bounds. */
static int check_column(const nnrt_tensorset *ts, int i, char *err, size_t errlen)
{
    const nnrt_column *c = &ts->columns[i];
    size_t es = rt_dtype_size(c->dtype), count = 1;
    int ok = (c->dtype == NNRT_F32 || c->dtype == NNRT_F64 || c->dtype == NNRT_I32) && c->data
             && c->rank >= 0 && c->rank <= 4 && memchr(c->name, 0, NNRT_NAME_MAX) && c->name[0]
             && c->stride >= 1;
    for (int k = 0; ok && k < c->rank; k++) {
        ok = c->dims[k] >= 1 && (uint64_t)c->dims[k] <= (uint64_t)PTRDIFF_MAX / es / count;
        if (ok)
            count *= (size_t)c->dims[k];
    }
    /* The last example ends inside an object: (n-1)*stride + count elements. */
    ok = ok && count == c->count && ts->n - 1 <= ((size_t)PTRDIFF_MAX / es - count) / c->stride;
    if (!ok)
        return rt_fail(err, errlen, NNRT_EINVAL, "tensorset column %d is not valid", i);
    return NNRT_OK;
}

/* Match every column of ts with an input of m, or say which does not fit. */
static int make_plan(plan *p, const nnrt_tensorset *ts, const nnrt_model *m, char *err,
                     size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!ts || !m)
        return rt_fail(err, errlen, NNRT_EINVAL, "a NULL tensorset or model");
    if (ts->n_columns < 1 || ts->n_columns > NNRT_TENSORSET_MAX || ts->n == 0)
        return rt_fail(err, errlen, NNRT_EINVAL, "the tensorset is empty (%d columns, %zu examples)",
                       ts->n_columns, ts->n);
    int rc = nnrt_view_open(&p->view, m, err, errlen);
    if (rc)
        return rc;
    const nnrt_view *v = &p->view;
    const char *first = NULL;     /* the input that fixed the batch axis */
    for (int i = 0; i < ts->n_columns; i++) {
        if ((rc = check_column(ts, i, err, errlen)) != 0)
            return rc;
        const nnrt_column *c = &ts->columns[i];
        int at = find_index(v, c->name, NNRT_INPUT);
        if (at < 0) {
            int other = find_index(v, c->name, 0);
            if (other >= 0)
                return rt_fail(err, errlen, NNRT_EMISMATCH,
                               "column %s: %s is %s of model %s, not an input", c->name, c->name,
                               role_word(nnrt_view_tensor_at(v, other).role), v->name);
            return rt_fail(err, errlen, NNRT_EMISMATCH, "column %s: model %s has no input named %s",
                           c->name, v->name, c->name);
        }
        nnrt_view_tensor t = nnrt_view_tensor_at(v, at);
        char want[160], have[160];
        if (t.rank < 1)
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "column %s: input %s of model %s is a scalar, with no batch axis to fill",
                           c->name, t.name, v->name);
        size_t es = rt_dtype_size(t.dtype), row = 1;
        for (int k = 1; k < t.rank; k++)
            row *= (size_t)t.dims[k];        /* the view checked that the product fits */
        if (t.dims[0] < 1 || (size_t)t.dims[0] * row * es > t.size)
            return rt_fail(err, errlen, NNRT_EINVAL,
                           "model %s: malformed descriptor of input %s: size %zu is less than its shape",
                           v->name, t.name, t.size);
        int both_float = (t.dtype == NNRT_F32 || t.dtype == NNRT_F64)
                         && (c->dtype == NNRT_F32 || c->dtype == NNRT_F64);
        if (t.dtype != c->dtype && !both_float)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "column %s holds %s, input %s of model %s is %s",
                           c->name, rt_dtype_name(c->dtype), t.name, v->name, rt_dtype_name(t.dtype));
        if (row != c->count)
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "column %s has examples of shape %s (%zu elements); input %s of model "
                           "%s, %s%s, has rows of %zu",
                           c->name, rt_shape_str(have, sizeof have, c->rank, c->dims), c->count,
                           t.name, v->name, rt_dtype_name(t.dtype),
                           input_shape(want, sizeof want, &t), row);
        const char *dim = t.dim_names ? t.dim_names[0] : NULL;
        if (!first) {
            first = t.name;
            p->batch = (size_t)t.dims[0];
            p->dim = dim;
        } else if ((size_t)t.dims[0] != p->batch || (!dim) != (!p->dim)
                   || (dim && strcmp(dim, p->dim) != 0)) {
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "inputs %s and %s of model %s have different batch axes: %zu%s%s and "
                           "%lld%s%s", first, t.name, v->name, p->batch, p->dim ? " rows, dim " : " rows",
                           p->dim ? p->dim : "", (long long)t.dims[0], dim ? " rows, dim " : " rows",
                           dim ? dim : "");
        }
        p->slots[p->n_slots++] = (slot){c, t.offset, t.dtype};
    }
    if (p->dim) {
        int d = find_index(v, p->dim, NNRT_DIM);
        nnrt_view_tensor t = d >= 0 ? nnrt_view_tensor_at(v, d) : (nnrt_view_tensor){0};
        if (d < 0 || t.dtype != NNRT_I64 || t.size < sizeof(int64_t))
            return rt_fail(err, errlen, NNRT_EINVAL,
                           "model %s: malformed descriptor: input %s's batch axis names dim %s, "
                           "which is not an i64 dim of the model", v->name, first, p->dim);
        p->dim_offset = t.offset;
    }
    return NNRT_OK;
}

int nnrt_tensorset_check(const nnrt_tensorset *ts, const nnrt_model *m, size_t *batch,
                         const char **dim, char *err, size_t errlen)
{
    plan p;
    int rc = make_plan(&p, ts, m, err, errlen);
    if (rc)
        return rc;
    if (batch)
        *batch = p.batch;
    if (dim)
        *dim = p.dim;
    return NNRT_OK;
}

/* ---- Minibatches ---- */

/* Example e of column c into row k of the input at dst, converting between
 * the float types. */
static void copy_row(const slot *s, char *inputs, size_t k, size_t e)
{
    const nnrt_column *c = s->col;
    size_t n = c->count, ces = rt_dtype_size(c->dtype);
    const char *src = (const char *)c->data + e * c->stride * ces;
    char *dst = inputs + s->offset + k * n * rt_dtype_size(s->dtype);
    if (s->dtype == c->dtype) {
        memcpy(dst, src, n * ces);
    } else if (s->dtype == NNRT_F64) {           /* f32 data, f64 input */
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, src + i * sizeof f, sizeof f);
            double d = f;
            memcpy(dst + i * sizeof d, &d, sizeof d);
        }
    } else {                                     /* f64 data, f32 input */
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + i * sizeof d, sizeof d);
            float f = (float)d;
            memcpy(dst + i * sizeof f, &f, sizeof f);
        }
    }
}

/* The batch at start under a plan: validate, then write. */
static int fill(const plan *p, const nnrt_tensorset *ts, void *inputs, const uint32_t *perm,
                size_t start, size_t *rows_out, char *err, size_t errlen)
{
    size_t n = ts->n;
    if (!inputs)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_tensorset_batch: inputs is NULL");
    if (start >= n)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "nnrt_tensorset_batch: start %zu is past the set's %zu examples", start, n);
    size_t rows = n - start < p->batch ? n - start : p->batch;
    size_t slots = p->dim ? rows : p->batch;
    for (size_t k = 0, at = start; perm && k < slots; k++) {
        if (perm[at] >= n)
            return rt_fail(err, errlen, NNRT_EINVAL,
                           "nnrt_tensorset_batch: perm[%zu] = %u, not below the set's %zu examples",
                           at, perm[at], n);
        if (++at == n)
            at = 0;
    }
    for (size_t k = 0, at = start; k < slots; k++) {
        size_t e = perm ? perm[at] : at;
        for (int i = 0; i < p->n_slots; i++)
            copy_row(&p->slots[i], inputs, k, e);
        if (++at == n)
            at = 0;
    }
    if (p->dim) {
        int64_t r = (int64_t)rows;
        memcpy((char *)inputs + p->dim_offset, &r, sizeof r);
    }
    if (rows_out)
        *rows_out = rows;
    return NNRT_OK;
}

int nnrt_tensorset_batch(const nnrt_tensorset *ts, const nnrt_model *m, void *inputs,
                         const uint32_t *perm, size_t start, size_t *rows,
                         char *err, size_t errlen)
{
    plan p;
    int rc = make_plan(&p, ts, m, err, errlen);
    return rc ? rc : fill(&p, ts, inputs, perm, start, rows, err, errlen);
}

/* ---- Evaluation ---- */

/* An output being averaged. */
typedef struct tally {
    nnrt_view_tensor t;
    int per_example;              /* [batch]: sum the rows; else a scalar mean */
    double sum;
} tally;

static double output_at(const void *outputs, const nnrt_view_tensor *t, size_t k)
{
    const char *p = (const char *)outputs + t->offset + k * rt_dtype_size(t->dtype);
    switch (t->dtype) {
    case NNRT_F32: { float v; memcpy(&v, p, sizeof v); return v; }
    case NNRT_F64: { double v; memcpy(&v, p, sizeof v); return v; }
    case NNRT_I32: { int32_t v; memcpy(&v, p, sizeof v); return v; }
    default: { int64_t v; memcpy(&v, p, sizeof v); return (double)v; }
    }
}

/* Which outputs, and how each is averaged. */
static int plan_outputs(const plan *p, const nnrt_tensorset *ts, const char *const *names,
                        int count, tally *tl, char *err, size_t errlen)
{
    const nnrt_view *v = &p->view;
    for (int j = 0; j < count; j++) {
        if (!names[j])
            return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_evaluate: output name %d is NULL", j);
        int at = find_index(v, names[j], NNRT_OUTPUT);
        if (at < 0)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "nnrt_evaluate: model %s has no output named %s",
                           v->name, names[j]);
        nnrt_view_tensor t = nnrt_view_tensor_at(v, at);
        const char *dim = t.dim_names && t.rank == 1 ? t.dim_names[0] : NULL;
        int per_example = t.rank == 1 && (size_t)t.dims[0] == p->batch && (!dim) == (!p->dim)
                          && (!dim || strcmp(dim, p->dim) == 0);
        char shape[160];
        if (t.rank != 0 && !per_example)
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "nnrt_evaluate: output %s of model %s has shape %s: it must be a scalar "
                           "(a mean over the batch) or one value per example, [%s%s%zu]",
                           t.name, v->name, input_shape(shape, sizeof shape, &t),
                           p->dim ? p->dim : "", p->dim ? " <= " : "", p->batch);
        if (t.size < (per_example ? p->batch : 1) * rt_dtype_size(t.dtype))
            return rt_fail(err, errlen, NNRT_EINVAL,
                           "model %s: malformed descriptor of output %s: size %zu", v->name, t.name,
                           t.size);
        if (!per_example && !p->dim && ts->n % p->batch != 0)
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "nnrt_evaluate: output %s is a mean over a fixed batch of %zu rows (model "
                           "%s has no runtime batch dim), and %zu examples are not a multiple of %zu: "
                           "declare the batch as a dim (dim batch <= %zu), average a per-example "
                           "output instead, or evaluate the first %zu examples",
                           t.name, p->batch, v->name, ts->n, p->batch, p->batch,
                           ts->n / p->batch * p->batch);
        tl[j] = (tally){t, per_example, 0};
    }
    return NNRT_OK;
}

int nnrt_evaluate(const nnrt_model *m, const void *params, const void *state,
                  const void *inputs, const nnrt_tensorset *ts, const char *const *outputs,
                  int n_outputs, double *means, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_evaluate";
    if (!m || !params || !ts || !outputs || !means)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    if (n_outputs < 1 || n_outputs > 64)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: %d outputs (1 to 64)", fn, n_outputs);
    plan p;
    int rc = make_plan(&p, ts, m, err, errlen);
    if (rc)
        return rc;
    const nnrt_view *v = &p.view;
    if (!v->has_forward)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: model %s has no forward", fn, v->name);
    if (v->version == 2 && !state && v->n_states > 0)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: model %s has state tensors (running statistics): pass its state", fn,
                       v->name);
    tally tl[64];
    if ((rc = plan_outputs(&p, ts, outputs, n_outputs, tl, err, errlen)) != 0)
        return rc;

    void *in = nnrt_alloc(v->inputs_size), *out = nnrt_alloc(v->outputs_size);
    void *ws = nnrt_alloc(v->workspace_size);
    void *st = v->version == 2 && !state ? nnrt_alloc(v->state_size) : NULL;
    if (!in || !out || !ws || (v->version == 2 && !state && !st)) {
        rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    void (*defaults)(void *) = v->version == 2 ? v->m2->set_defaults : v->m1->set_defaults;
    if (inputs)
        memcpy(in, inputs, v->inputs_size);
    else if (defaults)
        defaults(in);
    for (size_t start = 0, rows = 0; start < ts->n; start += rows) {
        if ((rc = fill(&p, ts, in, NULL, start, &rows, err, errlen)) != 0)
            goto done;
        rc = nnrt_view_forward(v, params, state ? state : st, in, out, ws);
        if (rc) {
            rc = rt_fail(err, errlen, rc, "%s: model %s: forward failed on examples [%zu, %zu): %s",
                         fn, v->name, start, start + rows, nnrt_strerror(rc));
            goto done;
        }
        for (int j = 0; j < n_outputs; j++) {
            if (tl[j].per_example)
                for (size_t k = 0; k < rows; k++)
                    tl[j].sum += output_at(out, &tl[j].t, k);
            else
                tl[j].sum += output_at(out, &tl[j].t, 0) * (double)rows;
        }
    }
    for (int j = 0; j < n_outputs; j++)
        means[j] = tl[j].sum / (double)ts->n;
done:
    nnrt_free(in);
    nnrt_free(out);
    nnrt_free(ws);
    nnrt_free(st);
    return rc;
}
