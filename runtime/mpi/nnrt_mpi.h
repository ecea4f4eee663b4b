/*
 * nnrt_mpi.h: data-parallel training across processes over MPI
 * (libnnrt_mpi, pkg-config nnrt-mpi; contract, section 5.7).
 *
 * Each of P ranks takes its shard of the global batch (a runtime dim) and
 * calls backward, nnrt_mpi_allreduce_mean, then update: with equal shards
 * and a mean loss, the params stay those of one process with the whole
 * batch, up to rounding.  nnrt_mpi_broadcast makes every rank start from the
 * same params and state.  Both work on any compiled model through its
 * descriptor (ABI version 1 or 2) and are collective: every rank of the
 * communicator calls them together, with the same model.
 *
 * Errors, the same on every rank (never an abort of the job, never a hang
 * that a check can prevent): before moving any data both calls compare a
 * fingerprint of the model across the ranks (its name, params_size,
 * state_size and the name, role, dtype, shape, offset and size of every
 * PARAM and STATE tensor; broadcast adds root and whether state is NULL),
 * so a rank with another model gets NNRT_EMISMATCH on every rank.  They set
 * MPI_ERRORS_RETURN on the communicator for the call and restore its
 * handler before returning; an MPI call that fails gives NNRT_EMPI.
 * NNRT_EINVAL: MPI not initialized, MPI_COMM_NULL, NULL params, root
 * outside the communicator, a malformed descriptor (reported on every rank
 * when any rank has one).
 */
#ifndef NNRT_MPI_H
#define NNRT_MPI_H

#include <mpi.h>
#include <nnrt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Copy every PARAM tensor of params (padding neither sent nor written) and,
 * unless state is NULL, the whole state struct (seed, step, state tensors,
 * optimizer buffers) from rank root to every rank of c.  state must be
 * NULL on every rank or on none. */
int nnrt_mpi_broadcast(const nnrt_model *m, void *params, void *state, int root, MPI_Comm c);

/* Replace each PARAM gradient in grads (the params' layout) by its mean
 * over the ranks of c: summed in its own dtype (MPI_FLOAT or MPI_DOUBLE),
 * divided by P, padding neither sent nor written.  Every rank ends with
 * bitwise identical values: the sum is made on rank 0 only and copied to
 * the others (MPI_Reduce, MPI_Bcast), which all divide it.  It packs the
 * gradients into one buffer per dtype (malloc), freed before it returns.
 * With one rank it copies nothing. */
int nnrt_mpi_allreduce_mean(const nnrt_model *m, void *grads, MPI_Comm c);

/* The same, with a one-line message in err (when err is not NULL), the
 * same on every rank for the collective errors, e.g.
 * "nnrt_mpi_allreduce_mean: rank 1 does not pass what rank 0 does (model
 * fashion_mnist): its model's name, sizes or tensors differ". */
/* Share the node's CPUs among its ranks, as torchrun does with
 * OMP_NUM_THREADS: unless NNRT_NUM_THREADS is set, this rank's threads
 * become nnrt_get_num_threads() (the CPUs it may use) divided by the ranks
 * of c on the same node (MPI_COMM_TYPE_SHARED), at least 1, so that P
 * ranks on one machine do not run P times as many threads as it has
 * cores.  Collective over c; returns the threads this rank now uses, or
 * NNRT_EMPI. */
int nnrt_mpi_share_threads(MPI_Comm c);

int nnrt_mpi_broadcast_ex(const nnrt_model *m, void *params, void *state, int root, MPI_Comm c,
                          char *err, size_t errlen);
int nnrt_mpi_allreduce_mean_ex(const nnrt_model *m, void *grads, MPI_Comm c, char *err,
                               size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
