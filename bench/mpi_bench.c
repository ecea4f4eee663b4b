/*
 * mpi_bench.c: data-parallel training steps over MPI (libnnrt_mpi), timed.
 *
 *   mpirun -np P mpi_bench GLOBAL_BATCH [STEPS]
 *
 * Links with any model's object (its descriptor as bench_model: nnc
 * --prefix=bench) whose batch is a runtime dim named batch with a MAX of
 * at least GLOBAL_BATCH / P.  Each rank fills its shard of the global batch
 * with fixed data (fill_inputs), then runs STEPS steps
 * of backward, nnrt_mpi_allreduce_mean and update, after 3 untimed ones,
 * and prints (rank 0) one line:
 *   ranks P batch B samples/s S  step MS  compute MS  allreduce MS
 * where step is the mean wall time of a step (the slowest rank's), and
 * compute (backward and update) and allreduce are rank 0's means.
 * bench/run.sh runs it on 1 and 2 ranks and prints the ratio; docs/mpi.md
 * takes its compute times for the scaling model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>
#include <nnrt_mpi.h>

extern const nnrt_model bench_model;

static void *alloc(size_t n)
{
    void *p = nnrt_alloc(n);
    if (!p) {
        fprintf(stderr, "mpi_bench: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* Float inputs hashed into [0, 1), i32 inputs (labels) k mod 10 (both
 * models have 10 classes), the runtime batch dim = rows. */
static void fill_inputs(const nnrt_model *m, void *in, int64_t rows)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        char *at = (char *)in + t->offset;
        if (t->role == NNRT_DIM && strcmp(t->name, "batch") == 0)
            *(int64_t *)at = rows;
        else if (t->role == NNRT_INPUT && t->dtype == NNRT_F32)
            for (uint32_t k = 0; k < t->size / sizeof(float); k++)
                ((float *)at)[k] = (float)((k * 2654435761u) >> 8) / 16777216.0f;
        else if (t->role == NNRT_INPUT && t->dtype == NNRT_I32)
            for (uint32_t k = 0; k < t->size / sizeof(int32_t); k++)
                ((int32_t *)at)[k] = (int32_t)(k % 10);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    long global = argc > 1 ? atol(argv[1]) : 0, steps = argc > 2 ? atol(argv[2]) : 20;
    if (global < ranks || global % ranks || steps < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np P mpi_bench GLOBAL_BATCH [STEPS] "
                            "(GLOBAL_BATCH a multiple of P)\n");
        MPI_Finalize();
        return 2;
    }
    const nnrt_model *m = &bench_model;
    void *p = alloc(m->params_size), *g = alloc(m->params_size), *s = alloc(m->state_size);
    void *in = alloc(m->inputs_size), *out = alloc(m->outputs_size), *ws = alloc(m->workspace_size);
    m->init(p, s, 1);
    m->set_defaults(in);
    fill_inputs(m, in, global / ranks);

    double compute = 0, reduce = 0, t0 = 0;
    for (long k = -3; k < steps; k++) {
        if (k == 0) {
            MPI_Barrier(MPI_COMM_WORLD);
            compute = reduce = 0;
            t0 = MPI_Wtime();
        }
        double a = MPI_Wtime();
        int rc = m->backward(p, s, in, out, g, ws);
        double b = MPI_Wtime();
        if (!rc)
            rc = nnrt_mpi_allreduce_mean(m, g, MPI_COMM_WORLD);
        double c = MPI_Wtime();
        if (!rc)
            rc = m->update(p, s, g, in);
        if (rc) {
            fprintf(stderr, "mpi_bench: rank %d: %s\n", rank, nnrt_strerror(rc));
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        compute += (b - a) + (MPI_Wtime() - c);
        reduce += c - b;
    }
    double mine = MPI_Wtime() - t0, slowest;
    MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("ranks %d batch %ld samples/s %.0f  step %.3f ms  compute %.3f ms  allreduce %.3f ms\n",
               ranks, global, (double)global * (double)steps / slowest, 1e3 * slowest / (double)steps,
               1e3 * compute / (double)steps, 1e3 * reduce / (double)steps);
    void *blocks[] = {p, g, s, in, out, ws};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        nnrt_free(blocks[i]);
    MPI_Finalize();
    return 0;
}
