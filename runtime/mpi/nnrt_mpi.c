/*
 * nnrt_mpi.c: libnnrt_mpi, data parallelism over MPI (contract, 5.7).
 *
 * Two collective calls that drive any compiled model through the
 * descriptor view of descriptor.c (either ABI version): broadcast of params
 * and state, and the mean of the gradients across ranks.  Each call runs
 * the same three stages on every rank:
 *   1. local checks and allocations, whose outcome is not returned yet:
 *      a rank that returned early would leave the others waiting;
 *   2. one small allreduce that agrees on the outcome and on a fingerprint
 *      of the model, so that an error on any rank, or a rank with another
 *      model, is returned by every rank before any data moves;
 *   3. the data, in as few MPI calls as the layout allows.
 * MPI_ERRORS_RETURN is set on the communicator for the call and the
 * caller's handler restored afterwards, so that a failing MPI call becomes
 * NNRT_EMPI instead of an abort of the job.
 *
 * Memory: the mean packs the gradients into a buffer per dtype and the
 * broadcast describes its blocks in two arrays, all allocated and freed
 * within the call.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"
#include "nnrt_mpi.h"

/* ---- The fingerprint: FNV-1a over what the call relies on ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

/* Integers hashed little-endian, so the fingerprint does not depend on the
 * host's byte order. */
static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    rt_put_le64(b, v);
    return fnv(h, b, sizeof b);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    return fnv(fnv_u64(h, n), s, n);
}

/* The model's name, struct sizes and every PARAM and STATE tensor: what the
 * data of either call is laid out by.  Not the inputs, outputs or workspace,
 * which may legitimately differ across ranks (a batch MAX, a CPU's tuning). */
static uint64_t fingerprint(const nnrt_view *v, uint64_t extra)
{
    uint64_t h = fnv_str(0xcbf29ce484222325u, v->name);
    h = fnv_u64(fnv_u64(fnv_u64(h, (uint64_t)v->version), v->params_size), v->state_size);
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role != NNRT_PARAM && t.role != NNRT_STATE)
            continue;
        h = fnv_u64(fnv_u64(fnv_u64(fnv_str(h, t.name), t.role), t.dtype), (uint64_t)t.rank);
        for (int k = 0; k < t.rank; k++)
            h = fnv_u64(h, (uint64_t)t.dims[k]);
        h = fnv_u64(fnv_u64(h, t.offset), t.size);
    }
    return fnv_u64(h, extra);
}

/* ---- One collective call ---- */

typedef struct call {
    const char *fn;               /* the public function, for messages */
    MPI_Comm comm;
    MPI_Errhandler saved;         /* the caller's handler, restored by call_end */
    int rank, size;
    char *err;
    size_t errlen;
} call;

static int mpi_failed(call *k, int mpi_rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", mpi_rc);
    return rt_fail(k->err, k->errlen, NNRT_EMPI, "%s: %s failed: %s", k->fn, what, msg);
}

/* Swap in MPI_ERRORS_RETURN.  Errors here concern this rank's arguments
 * only (MPI unusable, no communicator): no other rank can be helped. */
static int call_begin(call *k, const char *fn, MPI_Comm c, char *err, size_t errlen)
{
    *k = (call){fn, c, MPI_ERRHANDLER_NULL, 0, 0, err, errlen};
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: MPI is not initialized, or finalized", fn);
    if (c == MPI_COMM_NULL)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: the communicator is MPI_COMM_NULL", fn);
    int rc = MPI_Comm_get_errhandler(c, &k->saved), inter = 0;
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_test_inter(c, &inter);
    if (rc == MPI_SUCCESS && inter)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: an intercommunicator; pass an intracommunicator",
                       fn);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(c, &k->rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(c, &k->size);
    return rc == MPI_SUCCESS ? NNRT_OK : mpi_failed(k, rc, "setting up the communicator");
}

/* Restore the caller's handler; rc is the call's outcome so far. */
static int call_end(call *k, int rc)
{
    if (k->saved == MPI_ERRHANDLER_NULL)
        return rc;
    int mrc = MPI_Comm_set_errhandler(k->comm, k->saved);
    MPI_Errhandler_free(&k->saved);
    return rc == NNRT_OK && mrc != MPI_SUCCESS ? mpi_failed(k, mrc, "restoring the error handler")
                                               : rc;
}

/* Stage 2: every rank learns whether any rank failed its local stage
 * (local_rc) and whether all fingerprints are equal, in one allreduce of
 * {fp, ~fp, -rc} under MPI_MAX: max(~fp) = ~min(fp), so the fingerprints
 * agree exactly when max = min.  Returns the same code on every rank: 0,
 * the largest-magnitude local code, or NNRT_EMISMATCH naming the first rank
 * whose model is not rank 0's (`covers` says what the fingerprint covers). */
static int agree(call *k, const char *model, int local_rc, uint64_t fp, const char *covers)
{
    uint64_t mine[3] = {fp, ~fp, (uint64_t)-(int64_t)local_rc}, all[3];
    int rc = MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_MAX, k->comm);
    if (rc != MPI_SUCCESS)
        return mpi_failed(k, rc, "MPI_Allreduce (comparing the ranks' models)");
    if (all[2]) {
        int code = -(int)all[2];
        if (local_rc == NNRT_OK)
            rt_fail(k->err, k->errlen, code, "%s: another rank failed: %s", k->fn,
                    nnrt_strerror(code));
        return code;
    }
    if (all[0] == ~all[1])
        return NNRT_OK;

    /* Rank 0's fingerprint and name, then the first rank that differs. */
    char head[8 + NNRT_NAME_MAX] = {0};
    if (k->rank == 0) {
        rt_put_le64((uint8_t *)head, fp);
        snprintf(head + 8, NNRT_NAME_MAX, "%s", model);
    }
    rc = MPI_Bcast(head, (int)sizeof head, MPI_BYTE, 0, k->comm);
    int differs = rt_get_le64((const uint8_t *)head) != fp ? k->rank : INT_MAX, first = 0;
    if (rc == MPI_SUCCESS)
        rc = MPI_Allreduce(&differs, &first, 1, MPI_INT, MPI_MIN, k->comm);
    if (rc != MPI_SUCCESS)
        return mpi_failed(k, rc, "describing the ranks' models");
    head[sizeof head - 1] = 0;
    return rt_fail(k->err, k->errlen, NNRT_EMISMATCH,
                   "%s: rank %d does not pass what rank 0 does (model %s): %s differ", k->fn,
                   first, head + 8, covers);
}

/* ---- Broadcast ---- */

/* MPI counts are ints: a region is sent as blocks of at most this many bytes. */
#define MAX_BLOCK ((size_t)1 << 30)

typedef struct blocks {
    int n;
    int *len;
    MPI_Aint *at;
} blocks;

static size_t blocks_of(size_t bytes)
{
    return (bytes + MAX_BLOCK - 1) / MAX_BLOCK;
}

static void blocks_add(blocks *b, const char *p, size_t bytes)
{
    for (size_t done = 0; done < bytes; done += MAX_BLOCK) {
        size_t len = bytes - done < MAX_BLOCK ? bytes - done : MAX_BLOCK;
        MPI_Get_address(p + done, &b->at[b->n]);
        b->len[b->n++] = (int)len;
    }
}

int nnrt_mpi_broadcast_ex(const nnrt_model *m, void *params, void *state, int root, MPI_Comm c,
                          char *err, size_t errlen)
{
    call k;
    int rc = call_begin(&k, "nnrt_mpi_broadcast", c, err, errlen);
    if (rc)
        return call_end(&k, rc);

    /* Stage 1: every param's bytes, then the whole state, as one datatype
     * of absolute addresses, sent from MPI_BOTTOM in one broadcast. */
    nnrt_view v;
    blocks b = {0};
    rc = nnrt_view_open(&v, m, err, errlen);
    if (!rc && (!params || root < 0 || root >= k.size))
        rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: %s", k.fn,
                     params ? "root is not a rank of the communicator" : "params is NULL");
    if (!rc) {
        size_t n = state ? blocks_of(v.state_size) : 0;
        for (int i = 0; i < v.n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(&v, i);
            n += t.role == NNRT_PARAM ? blocks_of(t.size) : 0;
        }
        if (n <= INT_MAX) {
            b.len = malloc((n ? n : 1) * sizeof *b.len);
            b.at = malloc((n ? n : 1) * sizeof *b.at);
        }
        if (!b.len || !b.at)
            rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", k.fn);
    }
    if (!rc) {
        for (int i = 0; i < v.n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(&v, i);
            if (t.role == NNRT_PARAM)
                blocks_add(&b, (const char *)params + t.offset, t.size);
        }
        if (state)
            blocks_add(&b, state, v.state_size);
    }
    uint64_t extra = (uint64_t)(uint32_t)root << 1 | (state != NULL);
    rc = agree(&k, v.name, rc, rc ? 0 : fingerprint(&v, extra),
               "its model's name, sizes or tensors, the root, or a NULL state");

    /* Stage 3. */
    if (!rc && b.n > 0) {
        MPI_Datatype type;
        int mrc = MPI_Type_create_hindexed(b.n, b.len, b.at, MPI_BYTE, &type);
        if (mrc == MPI_SUCCESS) {
            mrc = MPI_Type_commit(&type);
            if (mrc == MPI_SUCCESS)
                mrc = MPI_Bcast(MPI_BOTTOM, 1, type, root, c);
            MPI_Type_free(&type);
        }
        if (mrc != MPI_SUCCESS)
            rc = mpi_failed(&k, mrc, "MPI_Bcast");
    }
    free(b.len);
    free(b.at);
    return call_end(&k, rc);
}

int nnrt_mpi_broadcast(const nnrt_model *m, void *params, void *state, int root, MPI_Comm c)
{
    return nnrt_mpi_broadcast_ex(m, params, state, root, c, NULL, 0);
}

/* ---- Mean of the gradients ---- */

/* One bucket per float dtype: its params packed in declaration order. */
typedef struct bucket {
    nnrt_dtype dtype;
    MPI_Datatype type;
    size_t elems;
    void *packed;
} bucket;

static void pack(const nnrt_view *v, const bucket *u, const char *grads)
{
    size_t at = 0;
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_PARAM && t.dtype == u->dtype) {
            memcpy((char *)u->packed + at, grads + t.offset, t.size);
            at += t.size;
        }
    }
}

/* dst[i] = src[i] / p, in blocks of 8 with a fixed inner count, which the
 * compiler vectorizes at -O2: the divisions are the costly part of
 * unpacking. */
#define DEFINE_DIVIDE(name, type)                                           \
    static void name(type *restrict dst, const type *restrict src, size_t n, \
                     type p)                                                \
    {                                                                       \
        size_t i = 0;                                                       \
        for (; i + 8 <= n; i += 8)                                          \
            for (size_t j = 0; j < 8; j++)                                  \
                dst[i + j] = src[i + j] / p;                                \
        for (; i < n; i++)                                                  \
            dst[i] = src[i] / p;                                            \
    }
DEFINE_DIVIDE(divide_f32, float)
DEFINE_DIVIDE(divide_f64, double)

/* Each param's gradient = its packed sum / P.  Every rank divides the same
 * bits (the broadcast sums) by the same P, and IEEE division is correctly
 * rounded, so the quotients agree bit for bit too. */
static void unpack_mean(const nnrt_view *v, const bucket *u, char *grads, int size)
{
    size_t at = 0;
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role != NNRT_PARAM || t.dtype != u->dtype)
            continue;
        const char *sum = (const char *)u->packed + at;
        if (u->dtype == NNRT_F32)
            divide_f32((float *)(grads + t.offset), (const float *)sum, t.size / 4, (float)size);
        else
            divide_f64((double *)(grads + t.offset), (const double *)sum, t.size / 8, (double)size);
        at += t.size;
    }
}

/* The MPI standard does not promise that MPI_Allreduce gives every rank
 * the same bits, so the sum is made on rank 0 alone (MPI_Reduce) and copied
 * to every rank (MPI_Bcast). */
int nnrt_mpi_allreduce_mean_ex(const nnrt_model *m, void *grads, MPI_Comm c, char *err,
                               size_t errlen)
{
    call k;
    int rc = call_begin(&k, "nnrt_mpi_allreduce_mean", c, err, errlen);
    if (rc)
        return call_end(&k, rc);

    nnrt_view v;
    bucket u[2] = {{NNRT_F32, MPI_FLOAT, 0, NULL}, {NNRT_F64, MPI_DOUBLE, 0, NULL}};
    rc = nnrt_view_open(&v, m, err, errlen);
    if (!rc && !grads)
        rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: grads is NULL", k.fn);
    for (int i = 0; !rc && i < v.n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(&v, i);
        if (t.role == NNRT_PARAM && t.dtype != NNRT_F32 && t.dtype != NNRT_F64)
            rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: param %s is not f32 or f64", k.fn, t.name);
        for (int d = 0; d < 2; d++)
            u[d].elems += t.role == NNRT_PARAM && t.dtype == u[d].dtype
                              ? t.size / rt_dtype_size(t.dtype) : 0;
    }
    for (int d = 0; !rc && d < 2 && k.size > 1; d++) {    /* one rank: the mean is grads */
        bucket *b = &u[d];
        if (b->elems > INT_MAX)
            rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: %zu %s gradients, too many for one MPI call",
                         k.fn, b->elems, rt_dtype_name(b->dtype));
        else if (b->elems && !(b->packed = malloc(b->elems * rt_dtype_size(b->dtype))))
            rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", k.fn);
    }
    rc = agree(&k, v.name, rc, rc ? 0 : fingerprint(&v, 0), "its model's name, sizes or tensors");

    for (int d = 0; !rc && d < 2; d++) {
        bucket *b = &u[d];
        if (!b->packed)
            continue;
        pack(&v, b, grads);
        int n = (int)b->elems;
        int mrc = MPI_Reduce(k.rank == 0 ? MPI_IN_PLACE : b->packed, b->packed, n, b->type, MPI_SUM,
                             0, c);
        if (mrc == MPI_SUCCESS)
            mrc = MPI_Bcast(b->packed, n, b->type, 0, c);
        if (mrc != MPI_SUCCESS) {
            rc = mpi_failed(&k, mrc, "MPI_Reduce or MPI_Bcast");
            break;
        }
        unpack_mean(&v, b, grads, k.size);
    }
    free(u[0].packed);
    free(u[1].packed);
    return call_end(&k, rc);
}

int nnrt_mpi_allreduce_mean(const nnrt_model *m, void *grads, MPI_Comm c)
{
    return nnrt_mpi_allreduce_mean_ex(m, grads, c, NULL, 0);
}

int nnrt_mpi_share_threads(MPI_Comm c)
{
    const char *env = getenv("NNRT_NUM_THREADS");
    if (env && *env)
        return nnrt_get_num_threads();
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(c, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return NNRT_EMPI;
    int rc = MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS)
        return NNRT_EMPI;
    int n = nnrt_get_num_threads() / local;
    nnrt_set_num_threads(n < 1 ? 1 : n);
    return nnrt_get_num_threads();
}
