#!/bin/sh
# run.sh: run the benchmarks that bench/bench.mk built, and print ratios.
#
#   bench/run.sh BUILD "BATCHES" "SIZES"      (make bench runs it)
#
# Every comparison is measured side by side in one process, the two sides
# alternating, best of several rounds: the machine's load moves both.
# OpenBLAS runs on one thread (OPENBLAS_NUM_THREADS=1, and the benchmarks
# call openblas_set_num_threads(1)); so does PyTorch (set_num_threads(1)).
set -u
b=$1 batches=$2 sizes=$3
out=$b/bench
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
status=0

echo "nnc benchmarks: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), nnc ${BENCH_NNC:-}"
echo
echo "(a) one SGD step of samples/mlp.nn (784-256-10, L2, cross-entropy)"
if [ -n "${BENCH_BLAS:-}" ]; then
    for n in $batches; do
        "$out/step_bench_b$n" || status=1
    done
else
    echo "  against C + OpenBLAS: skipped, OpenBLAS (cblas.h, -lopenblas) is not installed"
fi
libs=""
for n in $batches; do
    libs="$libs $out/mlp_b$n.so"
done
# The first Python that has torch (BENCH_PYTHON if set).
py=${BENCH_PYTHON:-}
if [ -z "$py" ]; then
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import torch' 2>/dev/null; then py=$p; break; fi
    done
fi
# shellcheck disable=SC2086
"${py:-python3}" bench/step_torch.py $libs || status=1

echo
echo "(b) the generated matrix product C = A @ B (n x n, f32) against cblas_sgemm"
if [ -n "${BENCH_BLAS:-}" ]; then
    for n in $sizes; do
        "$out/gemm_bench_n$n" || status=1
    done
else
    echo "  skipped: OpenBLAS (cblas.h, -lopenblas) is not installed"
fi

echo
echo "(c) nnc compiling samples/mlp.nn at -O2 (best of 7)"
best=""
for _ in 1 2 3 4 5 6 7; do
    t0=$(date +%s%N)
    "$b/nnc" -O2 samples/mlp.nn -o "$out/compile_time.o" -H "$out/compile_time.h" || status=1
    t1=$(date +%s%N)
    t=$(((t1 - t0) / 1000000))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
echo "nnc -O2 samples/mlp.nn: $best ms"
exit $status
