#!/bin/sh
# tests/mpi/run.sh PROGRAM: run a test of libnnrt_mpi on 2 ranks of this
# machine, bounded in time: a collective that hangs is a failure, not a
# stuck `make check`.
set -u
. tools/mpi-env.sh
timeout 300 mpirun -np 2 --oversubscribe "$@"
rc=$?
[ $rc -eq 124 ] && echo "$1: timed out after 300 s (a hang?)" >&2
exit $rc
