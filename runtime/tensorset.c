/*
 * tensorset.c: data sets of named per-example tensors (nnrt_tensorset),
 * PyTorch's TensorDataset in C.
 *
 * A set is columns of equal length, each one model input's worth of data
 * per example: features, float targets for regression, labels, token
 * windows.  Columns come from the caller's arrays (copied or borrowed),
 * from IDX files (idx.c), from a labelled nnrt_dataset (dataset.c) or from
 * a sequence of token ids (text.c); feed.c copies them into a model's
 * inputs by name.  Memory: a copied column is one nnrt_alloc block that the
 * set owns; a borrowed one is the caller's and never written.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

/* The checks every column passes, whatever made it.  On success *col holds
 * everything but the data. */
static int describe(const nnrt_tensorset *ts, const char *fn, const char *name,
                    nnrt_dtype dtype, int rank, const int64_t *dims, size_t n, nnrt_column *col,
                    char *err, size_t errlen)
{
    if (!ts || !name)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    size_t len = strlen(name);
    if (len == 0 || len >= NNRT_NAME_MAX)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a column name must have 1 to %d bytes",
                       fn, NNRT_NAME_MAX - 1);
    if (ts->n_columns < 0 || ts->n_columns > NNRT_TENSORSET_MAX)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: not a tensorset (n_columns %d)", fn,
                       ts->n_columns);
    if (ts->n_columns == NNRT_TENSORSET_MAX)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: the set already has %d columns",
                       fn, name, NNRT_TENSORSET_MAX);
    for (int i = 0; i < ts->n_columns; i++)
        if (strcmp(ts->columns[i].name, name) == 0)
            return rt_fail(err, errlen, NNRT_EINVAL, "%s: the set already has a column %s", fn, name);
    if (dtype != NNRT_F32 && dtype != NNRT_F64 && dtype != NNRT_I32)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: dtype %d is not f32, f64 or i32",
                       fn, name, (int)dtype);
    if (rank < 0 || rank > 4 || (rank > 0 && !dims))
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: rank %d (an example has 0 to 4 dims)",
                       fn, name, rank);
    if (n == 0)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: no examples", fn, name);
    if (ts->n_columns > 0 && n != ts->n)
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: column %s has %zu examples, the set %zu",
                       fn, name, n, ts->n);
    memset(col, 0, sizeof *col);
    memcpy(col->name, name, len + 1);
    col->dtype = dtype;
    col->rank = rank;
    size_t es = rt_dtype_size(dtype), count = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 1)
            return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: dim %d is %lld, not >= 1",
                           fn, name, k, (long long)dims[k]);
        if ((uint64_t)dims[k] > (uint64_t)PTRDIFF_MAX / es / count)
            return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: an example's size overflows",
                           fn, name);
        count *= (size_t)dims[k];
        col->dims[k] = dims[k];
    }
    if (n > (size_t)PTRDIFF_MAX / es / count)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: %zu examples of %zu elements overflow",
                       fn, name, n, count);
    col->count = col->stride = count;
    return NNRT_OK;
}

/* Append a described column; the first sets n. */
static void append(nnrt_tensorset *ts, const nnrt_column *col, size_t n)
{
    if (ts->n_columns == 0)
        ts->n = n;
    ts->columns[ts->n_columns++] = *col;
}

int nnrt_tensorset_add(nnrt_tensorset *ts, const char *name, nnrt_dtype dtype, int rank,
                       const int64_t *dims, size_t n, const void *data, int mode,
                       char *err, size_t errlen)
{
    static const char fn[] = "nnrt_tensorset_add";
    nnrt_column col;
    int rc = describe(ts, fn, name, dtype, rank, dims, n, &col, err, errlen);
    if (rc)
        return rc;
    if (!data)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %s: data is NULL", fn, name);
    size_t bytes = n * col.count * rt_dtype_size(dtype);
    if (mode == NNRT_DATA_BORROW) {
        col.data = data;
    } else if (mode == NNRT_DATA_COPY) {
        void *copy = nnrt_alloc(bytes);
        if (!copy)
            return rt_fail(err, errlen, NNRT_ENOMEM, "%s: column %s: out of memory for %zu bytes",
                           fn, name, bytes);
        memcpy(copy, data, bytes);
        col.data = col.owned = copy;
    } else {
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: column %s: mode %d is neither NNRT_DATA_COPY nor NNRT_DATA_BORROW",
                       fn, name, mode);
    }
    append(ts, &col, n);
    return NNRT_OK;
}

/* fn starts the messages: the function, or the file the array came from. */
static int add_idx(nnrt_tensorset *ts, const char *name, nnrt_dtype dtype, const nnrt_idx *a,
                   double divide_by, const char *fn, char *err, size_t errlen)
{
    if (!a)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    /* The array may come from the caller: check what nnrt_idx_load guarantees. */
    size_t count = 1, es = nnrt_idx_elem_size(a->type);
    int ok = es != 0 && a->rank >= 1 && a->rank <= 4 && a->data && a->elem_size == es;
    for (int k = 0; ok && k < a->rank; k++) {
        ok = a->dims[k] >= 1 && (uint64_t)a->dims[k] <= (uint64_t)PTRDIFF_MAX / es / count;
        if (ok)
            count *= (size_t)a->dims[k];
    }
    if (!ok || count != a->count)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: not a valid nnrt_idx", fn);
    nnrt_column col;
    int rc = describe(ts, fn, name, dtype, a->rank - 1, a->dims + 1, (size_t)a->dims[0], &col,
                      err, errlen);
    if (rc)
        return rc;
    int is_float = a->type == NNRT_IDX_F32 || a->type == NNRT_IDX_F64;
    if (dtype == NNRT_I32 && is_float)
        return rt_fail(err, errlen, NNRT_EMISMATCH,
                       "%s: column %s: the elements are floats, they cannot be read as i32", fn, name);
    if (dtype == NNRT_I32 ? divide_by != 1 : !(isfinite(divide_by) && divide_by != 0))
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: column %s: divide_by %g (finite and nonzero; 1 for i32)", fn, name,
                       divide_by);
    void *copy = nnrt_alloc(count * rt_dtype_size(dtype));
    if (!copy)
        return rt_fail(err, errlen, NNRT_ENOMEM, "%s: column %s: out of memory", fn, name);
    if (dtype == NNRT_F32) {
        float *d = copy, q = (float)divide_by;
        for (size_t i = 0; i < count; i++)
            d[i] = divide_by == 1 ? (float)nnrt_idx_value(a, i) : (float)nnrt_idx_value(a, i) / q;
    } else if (dtype == NNRT_F64) {
        double *d = copy;
        for (size_t i = 0; i < count; i++)
            d[i] = nnrt_idx_value(a, i) / divide_by;
    } else {
        int32_t *d = copy;
        for (size_t i = 0; i < count; i++)
            d[i] = (int32_t)nnrt_idx_value(a, i);
    }
    col.data = col.owned = copy;
    append(ts, &col, (size_t)a->dims[0]);
    return NNRT_OK;
}

int nnrt_tensorset_add_idx(nnrt_tensorset *ts, const char *name, nnrt_dtype dtype,
                           const nnrt_idx *a, double divide_by, char *err, size_t errlen)
{
    return add_idx(ts, name, dtype, a, divide_by, "nnrt_tensorset_add_idx", err, errlen);
}

int nnrt_tensorset_load_idx(nnrt_tensorset *ts, const char *name, nnrt_dtype dtype,
                            const char *path, double divide_by, char *err, size_t errlen)
{
    if (!ts || !name || !path)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_tensorset_load_idx: a NULL argument");
    nnrt_idx a;
    int rc = nnrt_idx_load(path, &a, err, errlen);
    if (rc)
        return rc;
    rc = add_idx(ts, name, dtype, &a, divide_by, path, err, errlen);
    nnrt_idx_free(&a);
    return rc;
}

int nnrt_tensorset_add_dataset(nnrt_tensorset *ts, const nnrt_dataset *ds, const char *x_name,
                               const char *y_name, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_tensorset_add_dataset";
    if (!ts || !ds || (!x_name && !y_name))
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    if (ds->rank < 0 || ds->rank > 3 || (x_name && !ds->x) || (y_name && !ds->y))
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: not a loaded nnrt_dataset", fn);
    nnrt_column x, y;
    int rc = NNRT_OK;
    if (x_name)
        rc = describe(ts, fn, x_name, NNRT_F32, ds->rank, ds->dims, ds->n, &x, err, errlen);
    if (!rc && x_name && x.count != ds->dim)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: the dataset's dims do not make its dim %zu",
                       fn, ds->dim);
    if (!rc && y_name) {
        rc = describe(ts, fn, y_name, NNRT_I32, 0, NULL, ds->n, &y, err, errlen);
        if (!rc && x_name && strcmp(x_name, y_name) == 0)
            rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: two columns named %s", fn, x_name);
    }
    if (!rc && x_name && y_name && ts->n_columns + 2 > NNRT_TENSORSET_MAX)
        rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: no room for two more columns", fn);
    if (rc)
        return rc;
    if (x_name) {
        x.data = ds->x;
        append(ts, &x, ds->n);
    }
    if (y_name) {
        y.data = ds->y;
        append(ts, &y, ds->n);
    }
    return NNRT_OK;
}

int nnrt_tensorset_add_windows(nnrt_tensorset *ts, const char *x_name, const char *y_name,
                               const int32_t *ids, size_t n, size_t steps, size_t stride,
                               int mode, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_tensorset_add_windows";
    if (!ts || !x_name || !ids)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    if (steps == 0 || stride == 0 || steps > (size_t)INT64_MAX)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: steps %zu and stride %zu (each >= 1)", fn,
                       steps, stride);
    size_t span = steps + (y_name ? 1 : 0);      /* ids one example reads */
    if (n < span)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: %zu ids are fewer than one window of %zu steps%s", fn, n, steps,
                       y_name ? " and its next token" : "");
    if (mode != NNRT_DATA_COPY && mode != NNRT_DATA_BORROW)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: mode %d is neither NNRT_DATA_COPY nor NNRT_DATA_BORROW", fn, mode);
    size_t examples = (n - span) / stride + 1;
    int64_t dims[1] = {(int64_t)steps};
    nnrt_column x, y;
    int rc = describe(ts, fn, x_name, NNRT_I32, 1, dims, examples, &x, err, errlen);
    if (!rc && y_name) {
        rc = describe(ts, fn, y_name, NNRT_I32, 1, dims, examples, &y, err, errlen);
        if (!rc && strcmp(x_name, y_name) == 0)
            rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: two columns named %s", fn, x_name);
        if (!rc && ts->n_columns + 2 > NNRT_TENSORSET_MAX)
            rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: no room for two more columns", fn);
    }
    if (rc)
        return rc;
    nnrt_column *cols[2] = {&x, y_name ? &y : NULL};
    if (mode == NNRT_DATA_BORROW) {
        for (int c = 0; c < 2 && cols[c]; c++) {
            cols[c]->stride = stride;
            cols[c]->data = ids + c;
        }
    } else {
        int32_t *copy[2] = {NULL, NULL};
        for (int c = 0; c < 2 && cols[c]; c++) {
            copy[c] = nnrt_alloc(examples * steps * sizeof(int32_t));
            if (!copy[c]) {
                nnrt_free(copy[0]);
                return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory for %zu windows", fn,
                               examples);
            }
            for (size_t k = 0; k < examples; k++)
                memcpy(copy[c] + k * steps, ids + k * stride + (size_t)c, steps * sizeof(int32_t));
            cols[c]->data = cols[c]->owned = copy[c];
        }
    }
    append(ts, &x, examples);
    if (y_name)
        append(ts, &y, examples);
    return NNRT_OK;
}

int nnrt_tensorset_slice(const nnrt_tensorset *src, size_t first, size_t count,
                         nnrt_tensorset *dst, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_tensorset_slice";
    if (!src || !dst)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    if (src->n_columns < 1 || src->n_columns > NNRT_TENSORSET_MAX)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: the source set has no columns", fn);
    if (count == 0 || first > src->n || count > src->n - first)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: examples [%zu, %zu + %zu) are not a nonempty range of the set's %zu",
                       fn, first, first, count, src->n);
    nnrt_tensorset out;
    memset(&out, 0, sizeof out);
    out.n = count;
    out.n_columns = src->n_columns;
    for (int i = 0; i < src->n_columns; i++) {
        nnrt_column c = src->columns[i];
        size_t es = rt_dtype_size(c.dtype);
        if (es == 0 || !c.data)
            return rt_fail(err, errlen, NNRT_EINVAL, "%s: column %d is not valid", fn, i);
        c.data = (const char *)c.data + first * c.stride * es;
        c.owned = NULL;
        out.columns[i] = c;
    }
    *dst = out;
    return NNRT_OK;
}

void nnrt_tensorset_free(nnrt_tensorset *ts)
{
    if (!ts)
        return;
    int n = ts->n_columns < NNRT_TENSORSET_MAX ? ts->n_columns : NNRT_TENSORSET_MAX;
    for (int i = 0; i < n; i++)
        nnrt_free(ts->columns[i].owned);
    memset(ts, 0, sizeof *ts);
}
