/*
 * test_mpi.c: libnnrt_mpi under mpirun -np 2 (tests/mpi/run.sh runs it).
 *
 * Links tests/mpi/dp.nn three times: f32_model, f64_model (--dtype=f64)
 * and wide_model (-D h=8: same name, other sizes).  Every rank runs every
 * check; rank 0 prints one line per check and the total, and the exit
 * status is 1 when any rank failed any check.  Checks:
 *   - data parallelism equals one process: P ranks with equal shards of a
 *     global batch of 64, for STEPS steps of backward,
 *     nnrt_mpi_allreduce_mean and update, end with the params of one
 *     process that trains on the whole batch (max |a - b| over max |b| per
 *     param <= 1e-5 in f32, 1e-12 in f64), and params and state are bitwise
 *     the same on every rank;
 *   - the mean is exact where the arithmetic is (each rank's gradients a
 *     small integer multiple of its rank + 1) and no padding byte of the
 *     gradients is written;
 *   - broadcast from rank 1 makes params and state bitwise rank 1's, and
 *     with a NULL state leaves the state alone;
 *   - another model on one rank (other sizes, other dtype), another root,
 *     a NULL state on one rank only, or NULL grads on one rank: the same
 *     error on every rank (NNRT_EMISMATCH, NNRT_EINVAL), not a hang, and
 *     the communicator works afterwards with its error handler restored.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "nnrt_mpi.h"

extern const nnrt_model f32_model, f64_model, wide_model;

#define GLOBAL_BATCH 64
#define STEPS 8
#define Q 5                       /* dp.nn's classes */

static int rank, size, failed, passed;

static void check(int ok, const char *what)
{
    /* One verdict for all ranks: the check fails if it failed anywhere. */
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (all)
        passed++;
    else
        failed++;
    if (rank == 0)
        printf("%s - %s\n", all ? "ok" : "FAIL", what);
}

static void *alloc(size_t n)
{
    void *p = nnrt_alloc(n);
    if (!p) {
        fprintf(stderr, "test_mpi: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

static double get(const void *base, const nnrt_tensor *t, size_t i)
{
    const char *p = (const char *)base + t->offset;
    return t->dtype == NNRT_F64 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static void set(void *base, const nnrt_tensor *t, size_t i, double v)
{
    char *p = (char *)base + t->offset;
    if (t->dtype == NNRT_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}

static size_t elems(const nnrt_tensor *t)
{
    return t->size / (t->dtype == NNRT_F64 ? 8 : 4);
}

/* Rows [first, first + n) of the global batch of step s into in: the same
 * numbers on every rank, whatever its shard. */
static void fill_rows(const nnrt_model *m, void *in, int s, int first, int n)
{
    const nnrt_tensor *x = nnrt_find(m, "x"), *y = nnrt_find(m, "y");
    size_t d = (size_t)x->dims[1];
    for (int r = 0; r < n; r++) {
        int g = first + r;
        for (size_t j = 0; j < d; j++)
            set(in, x, (size_t)r * d + j, sin(0.7 * g + 1.3 * (double)j + 0.11 * s));
        ((int32_t *)((char *)in + y->offset))[r] = (g * 3 + s) % Q;
    }
    *(int64_t *)((char *)in + nnrt_find(m, "batch")->offset) = n;
}

/* The largest, over the params, of max |a - b| / max |b|: a relative
 * difference that elements near 0 do not inflate. */
static double rel_diff(const nnrt_model *m, const void *a, const void *b)
{
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        double num = 0, den = 0;
        for (size_t k = 0; k < elems(t); k++) {
            num = fmax(num, fabs(get(a, t, k) - get(b, t, k)));
            den = fmax(den, fabs(get(b, t, k)));
        }
        worst = fmax(worst, den > 0 ? num / den : num);
    }
    return worst;
}

/* Whether this rank's bytes equal rank 0's. */
static int same_as_rank0(const void *p, size_t n)
{
    char *theirs = alloc(n);
    memcpy(theirs, p, n);
    MPI_Bcast(theirs, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    int same = memcmp(theirs, p, n) == 0;
    nnrt_free(theirs);
    return same;
}

typedef struct run {
    void *p, *s, *g, *in, *out, *ws;
} run;

static run run_new(const nnrt_model *m)
{
    run r = {alloc(m->params_size), alloc(m->state_size), alloc(m->params_size),
             alloc(m->inputs_size), alloc(m->outputs_size), alloc(m->workspace_size)};
    m->init(r.p, r.s, 42);
    m->set_defaults(r.in);
    return r;
}

static void run_free(run *r)
{
    void *all[] = {r->p, r->s, r->g, r->in, r->out, r->ws};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        nnrt_free(all[i]);
}

static void equivalence(const nnrt_model *m, double tol, const char *name)
{
    run one = run_new(m), dp = run_new(m);
    int shard = GLOBAL_BATCH / size, ok = 1;
    for (int s = 0; s < STEPS && ok; s++) {
        fill_rows(m, one.in, s, 0, GLOBAL_BATCH);
        ok &= m->backward(one.p, one.s, one.in, one.out, one.g, one.ws) == 0;
        ok &= m->update(one.p, one.s, one.g, one.in) == 0;
        fill_rows(m, dp.in, s, rank * shard, shard);
        ok &= m->backward(dp.p, dp.s, dp.in, dp.out, dp.g, dp.ws) == 0;
        ok &= nnrt_mpi_allreduce_mean(m, dp.g, MPI_COMM_WORLD) == 0;
        ok &= m->update(dp.p, dp.s, dp.g, dp.in) == 0;
    }
    double diff = rel_diff(m, dp.p, one.p);
    char what[160];
    snprintf(what, sizeof what, "%s: %d ranks x %d rows, %d steps, equal one process x %d rows "
             "(relative difference %.2g <= %g)", name, size, shard, STEPS, GLOBAL_BATCH, diff, tol);
    check(ok && diff <= tol, what);
    snprintf(what, sizeof what, "%s: params and state bitwise the same on every rank", name);
    check(same_as_rank0(dp.p, m->params_size) && same_as_rank0(dp.s, m->state_size), what);
    run_free(&one);
    run_free(&dp);
}

/* Every rank's gradient k is (rank + 1) * (k % 7 - 3): the mean is exact
 * in both dtypes for 2 ranks.  The padding starts as 0xA5 bytes and must
 * stay so. */
static void exact_mean(const nnrt_model *m, const char *name)
{
    unsigned char *g = alloc(m->params_size), *pad = alloc(m->params_size);
    memset(g, 0xA5, m->params_size);
    memset(pad, 1, m->params_size);
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        for (size_t k = 0; k < elems(t); k++)
            set(g, t, k, (rank + 1) * ((double)(k % 7) - 3));
        memset(pad + t->offset, 0, t->size);
    }
    int ok = nnrt_mpi_allreduce_mean(m, g, MPI_COMM_WORLD) == 0;
    double scale = (size + 1) / 2.0;          /* mean of 1 .. size */
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        for (size_t k = 0; t->role == NNRT_PARAM && k < elems(t); k++)
            ok &= get(g, t, k) == scale * ((double)(k % 7) - 3);
    }
    for (size_t b = 0; b < m->params_size; b++)
        ok &= !pad[b] || g[b] == 0xA5;
    char what[128];
    snprintf(what, sizeof what, "%s: exact mean of integer gradients, padding not written", name);
    check(ok, what);
    nnrt_free(g);
    nnrt_free(pad);
}

static void broadcast(const nnrt_model *m)
{
    run r = run_new(m);
    m->init(r.p, r.s, 100 + (uint64_t)rank);
    ((nnrt_state_head *)r.s)->step = 7 + (uint64_t)rank;
    memset((char *)r.s + sizeof(nnrt_state_head), rank + 1, m->state_size - sizeof(nnrt_state_head));
    /* What rank 1 holds, known to all. */
    void *p1 = alloc(m->params_size), *s1 = alloc(m->state_size);
    memcpy(p1, r.p, m->params_size);
    memcpy(s1, r.s, m->state_size);
    MPI_Bcast(p1, (int)m->params_size, MPI_BYTE, 1, MPI_COMM_WORLD);
    MPI_Bcast(s1, (int)m->state_size, MPI_BYTE, 1, MPI_COMM_WORLD);

    void *s_before = alloc(m->state_size);
    memcpy(s_before, r.s, m->state_size);
    int ok = nnrt_mpi_broadcast(m, r.p, NULL, 1, MPI_COMM_WORLD) == 0;
    check(ok && memcmp(r.p, p1, m->params_size) == 0 && memcmp(r.s, s_before, m->state_size) == 0,
          "broadcast from rank 1 with a NULL state: params copied, state untouched");
    ok = nnrt_mpi_broadcast(m, r.p, r.s, 1, MPI_COMM_WORLD) == 0;
    check(ok && memcmp(r.p, p1, m->params_size) == 0 && memcmp(r.s, s1, m->state_size) == 0,
          "broadcast from rank 1: params and the whole state bitwise rank 1's");
    nnrt_free(p1);
    nnrt_free(s1);
    nnrt_free(s_before);
    run_free(&r);
}

/* rc is what this rank got; every rank must get want, with a message
 * containing needle (NULL: any). */
static void expect_error(int rc, int want, const char *err, const char *needle, const char *what)
{
    char line[512];
    snprintf(line, sizeof line, "%s: %s on every rank", what,
             want == NNRT_EMISMATCH ? "NNRT_EMISMATCH" : "NNRT_EINVAL");
    int ok = rc == want && (!needle || strstr(err, needle));
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %d (%s)\n", rank, what, rc, err);
    else if (rank == 0)
        printf("    message: %s\n", err);
    check(ok, line);
}

static void errors(void)
{
    const nnrt_model *mine = &f32_model, *odd = rank == 1 ? &wide_model : &f32_model;
    run r = run_new(mine);
    char err[256] = "";
    int rc = nnrt_mpi_allreduce_mean_ex(odd, r.g, MPI_COMM_WORLD, err, sizeof err);
    expect_error(rc, NNRT_EMISMATCH, err, "rank 1 does not pass what rank 0 does (model dp)",
                 "allreduce, rank 1 with other sizes");

    odd = rank == 1 ? &f64_model : &f32_model;
    void *p = alloc(f64_model.params_size), *s = alloc(f64_model.state_size);
    rc = nnrt_mpi_broadcast_ex(odd, rank == 1 ? p : r.p, rank == 1 ? s : r.s, 0, MPI_COMM_WORLD,
                               err, sizeof err);
    expect_error(rc, NNRT_EMISMATCH, err, "rank 1", "broadcast, rank 1 with f64 params");
    nnrt_free(p);
    nnrt_free(s);

    rc = nnrt_mpi_broadcast_ex(mine, r.p, r.s, rank, MPI_COMM_WORLD, err, sizeof err);
    expect_error(rc, NNRT_EMISMATCH, err, "rank 1", "broadcast, each rank its own root");
    rc = nnrt_mpi_broadcast_ex(mine, r.p, rank ? r.s : NULL, 0, MPI_COMM_WORLD, err, sizeof err);
    expect_error(rc, NNRT_EMISMATCH, err, "rank 1", "broadcast, a NULL state on rank 0 only");
    rc = nnrt_mpi_allreduce_mean_ex(mine, rank ? r.g : NULL, MPI_COMM_WORLD, err, sizeof err);
    expect_error(rc, NNRT_EINVAL, err, NULL, "allreduce, NULL grads on rank 0 only");
    rc = nnrt_mpi_broadcast_ex(mine, r.p, r.s, size, MPI_COMM_WORLD, err, sizeof err);
    expect_error(rc, NNRT_EINVAL, err, "root", "broadcast, root outside the communicator");

    /* After all that, the communicator still works, with the caller's handler. */
    MPI_Errhandler h;
    MPI_Comm_get_errhandler(MPI_COMM_WORLD, &h);
    check(h == MPI_ERRORS_ARE_FATAL, "the caller's error handler (MPI_ERRORS_ARE_FATAL) is restored");
    MPI_Errhandler_free(&h);
    check(nnrt_mpi_allreduce_mean(mine, r.g, MPI_COMM_WORLD) == 0 &&
          nnrt_mpi_broadcast(mine, r.p, r.s, 0, MPI_COMM_WORLD) == 0,
          "the communicator works after the errors");
    run_free(&r);
}

/* The 2 ranks, both on this machine, halve its threads (at least 1 each);
 * NNRT_NUM_THREADS, when set, wins. */
static void share_threads(void)
{
    int all = nnrt_get_num_threads(), want = getenv("NNRT_NUM_THREADS") ? all : all / 2 ? all / 2 : 1;
    int got = nnrt_mpi_share_threads(MPI_COMM_WORLD);
    check(got == want && nnrt_get_num_threads() == want, "share_threads: 2 ranks of one machine share its threads");
    nnrt_set_num_threads(0);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0)
            fprintf(stderr, "test_mpi: run it with mpirun -np 2 (got %d ranks)\n", size);
        MPI_Finalize();
        return 2;
    }
    equivalence(&f32_model, 1e-5, "f32");
    equivalence(&f64_model, 1e-12, "f64");
    exact_mean(&f32_model, "f32");
    exact_mean(&f64_model, "f64");
    broadcast(&f32_model);
    errors();
    share_threads();
    if (rank == 0)
        printf("mpi: %d passed, %d failed\n", passed, failed);
    MPI_Finalize();
    return failed != 0;
}
