#!/bin/sh
# run.sh: run the benchmarks that bench/bench.mk built, and print ratios.
#
#   bench/run.sh BUILD "BATCHES" "SIZES"      (make bench runs it)
#
# Every comparison is measured side by side in one process, the two sides
# alternating, best of several rounds: the machine's load moves both.
# OpenBLAS runs on one thread (OPENBLAS_NUM_THREADS=1, and the benchmarks
# call openblas_set_num_threads(1)); so do PyTorch (set_num_threads(1)) and
# nnc (NNRT_NUM_THREADS=1), but in (i), which sets the threads itself.
set -u
b=$1 batches=$2 sizes=$3
out=$b/bench
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NNRT_NUM_THREADS=1
core=$(tools/openblas_core.sh)
if [ -n "$core" ]; then
    export OPENBLAS_CORETYPE=$core
    echo "OpenBLAS does not know this CPU: its baselines run with OPENBLAS_CORETYPE=$core"
fi
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
echo "(c) nnc compiling samples/mlp.nn at -O2, against cc -O2 -c of the hand-written step (best of 9)"
# Milliseconds that the command "$@" takes, or "failed".
ms() {
    t0=$(date +%s%N)
    "$@" || { echo failed; return; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
nnc_best="" cc_best=""
for _ in 1 2 3 4 5 6 7 8 9; do
    t=$(ms "$b/nnc" -O2 samples/mlp.nn -o "$out/compile_time.o" -H "$out/compile_time.h")
    [ "$t" = failed ] && { status=1; break; }
    if [ -z "$nnc_best" ] || [ "$t" -lt "$nnc_best" ]; then nnc_best=$t; fi
    if [ -n "${BENCH_BLAS:-}" ]; then
        t=$(ms "${CC:-cc}" -O2 -Iruntime -c bench/step_bench.c -o "$out/compile_time_cc.o")
        [ "$t" = failed ] && { status=1; break; }
        if [ -z "$cc_best" ] || [ "$t" -lt "$cc_best" ]; then cc_best=$t; fi
    fi
done
if [ -n "$cc_best" ]; then
    echo "nnc -O2 samples/mlp.nn: $nnc_best ms   cc -O2 -c bench/step_bench.c: $cc_best ms   time nnc/cc $(awk -v a="$nnc_best" -v b="$cc_best" 'BEGIN { printf "%.2f", a / b }')"
else
    echo "nnc -O2 samples/mlp.nn: $nnc_best ms   (cc of the hand-written step: skipped, OpenBLAS is not installed)"
fi
echo "where one compile's time goes (nnc --time):"
"$b/nnc" -O2 --time samples/mlp.nn -o "$out/compile_time.o" -H "$out/compile_time.h" || status=1
echo
echo "(d) samples/mlp.nn with dim batch <= 256 called at 256, 32 and 1 rows, against const builds at each size"
"$out/dim_bench" || status=1

echo
echo "(f) samples/mlp.nn trained by Adam against SGD (train_step, dim batch <= 256)"
"$out/optim_bench" || status=1

echo
echo "(g) the textbook's LeNet-5 (bench/lenet.nn) train step against PyTorch's, alternated"
OMP_WAIT_POLICY=PASSIVE "${py:-python3}" bench/lenet_torch.py "$out/lenet.so" || status=1

echo
echo "(h) data parallel over MPI (libnnrt_mpi): the demo network (samples/fashion_mnist.nn) at a"
echo "    global batch of 512, 2 ranks x 1 thread against 1 rank x 1 thread, alternated, best of 5;"
echo "    load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
. tools/mpi-env.sh
# The samples per second that "mpi_bench_MODEL NP BATCH" prints (its line is
# shown too), or 0 when it fails.
mpi_bench() {
    line=$(NNRT_NUM_THREADS=1 timeout 300 mpirun --oversubscribe -np "$2" "$out/mpi_bench_$1" "$3" 100) \
        || { echo "  mpi_bench_$1 on $2 ranks failed" >&2; status=1; echo 0; return; }
    echo "  $1: $line" >&2
    echo "$line" | sed 's|.*samples/s \([0-9]*\).*|\1|'
}
best1=0 best2=0
for _ in 1 2 3 4 5; do
    v=$(mpi_bench fashion 1 512); [ "$v" -gt "$best1" ] && best1=$v
    v=$(mpi_bench fashion 2 512); [ "$v" -gt "$best2" ] && best2=$v
done 2>&1
awk -v a="$best1" -v b="$best2" 'BEGIN { printf "  samples/s: 1 rank %d, 2 ranks %d; 2 ranks / 1 rank: %.2f (target >= 1.7)\n", a, b, a ? b / a : 0 }'
echo "    load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  compute per step on 1 rank x 1 thread, for the scaling model of docs/mpi.md:"
for b in 64 256; do
    mpi_bench fashion 1 $b >/dev/null
    mpi_bench lenet 1 $b >/dev/null
done 2>&1

echo
echo "(j) samples/mlp.nn built without --cpu (any x86-64; products for three levels, the best chosen"
echo "    at run time) against --cpu=native (train_step, dim batch <= 256)"
"$out/isa_bench" || status=1

echo
echo "(i) threads: samples/mlp.nn's train step and a 1024 x 1024 product at 1, 2 and all threads,"
echo "    against one core's FMA peak measured in the same process (bench/thread_bench.c)"
env -u NNRT_NUM_THREADS "$out/thread_bench" || status=1
echo "  the train step against PyTorch, both with their default threads:"
# shellcheck disable=SC2086
# OpenMP's threads wait passively: spinning, PyTorch's would take the cores
# from nnc's turns in this one process (and nnc's, for some microseconds
# after each product, from PyTorch's).  PyTorch's BLAS gets its default
# threads too (OPENBLAS_NUM_THREADS=1 above is for the one-thread runs).
env -u NNRT_NUM_THREADS -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS OMP_WAIT_POLICY=PASSIVE \
    "${py:-python3}" bench/step_torch.py --threads $libs \
    || status=1

echo
echo "(k) the products of samples/mlp.nn's train step, one thread, each compiled alone and inside the"
echo "    step, against one core's FMA peak measured in the same process (bench/products_bench.c)"
"$out/products_bench" || status=1

echo
echo "(e) compile time against model size (nnc -O2, best of 3): generated models of 20,000 and"
echo "    200,000 statements (bench/gen_model.sh), an unrolled loop of 1,000 and 10,000 iterations"
# The best of three runs of "$@", in milliseconds, or "failed".
best_ms() {
    best=""
    for _ in 1 2 3; do
        t=$(ms "$@")
        [ "$t" = failed ] && { echo failed; return; }
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    echo "$best"
}
# "name small large": the time per unit at the large size over that at the
# small one, which is 1.00 when compile time grows linearly.
per_unit() {
    if [ "$3" = failed ] || [ "$5" = failed ]; then
        echo "  $1: failed"
        status=1
        return
    fi
    awk -v what="$1" -v n1="$2" -v t1="$3" -v n2="$4" -v t2="$5" -v unit="$6" 'BEGIN {
        printf "  %s: %d %s %d ms, %d %s %d ms; time per %s, large / small: %.2f (1.00: linear; above: faster than linear)\n",
               what, n1, unit "s", t1, n2, unit "s", t2, unit, (t2 / n2) / (t1 / n1) }'
}
bench/gen_model.sh 20000 > "$out/gen_20k.nn"
bench/gen_model.sh 200000 > "$out/gen_200k.nn"
t1=$(best_ms "$b/nnc" -O2 "$out/gen_20k.nn" -o "$out/gen.o" -H "$out/gen.h")
t2=$(best_ms "$b/nnc" -O2 "$out/gen_200k.nn" -o "$out/gen.o" -H "$out/gen.h")
[ "$t1" = failed ] || [ "$t2" = failed ] && t1=failed
per_unit "statements" 20000 "$t1" 200000 "$t2" statement
for n in 1000 10000; do
    printf 'input x : f32[8, 4]\nparam w : f32[4]\nh = x\nfor i in 0..%d {\n  h = tanh(h * w) + x\n}\nJ = mean(h)\nminimize J\noptimizer sgd(lr = 0.1)\n' \
        "$n" > "$out/loop_$n.nn"
done
t1=$(best_ms "$b/nnc" -O2 "$out/loop_1000.nn" -o "$out/loop.o" -H "$out/loop.h")
t2=$(best_ms "$b/nnc" -O2 "$out/loop_10000.nn" -o "$out/loop.o" -H "$out/loop.h")
[ "$t1" = failed ] || [ "$t2" = failed ] && t1=failed
per_unit "loop" 1000 "$t1" 10000 "$t2" iteration
if [ -x /usr/bin/time ]; then
    kb=$(/usr/bin/time -f %M "$b/nnc" -O2 "$out/gen_200k.nn" -o "$out/gen.o" -H "$out/gen.h" 2>&1 >/dev/null | tail -1)
    echo "  peak memory compiling the 200,000 statements: $((kb / 1024)) MB"
fi
exit $status
