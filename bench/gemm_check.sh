#!/bin/sh
# gemm_check.sh: the randomized check of the matrix products nnc generates.
#
#   bench/gemm_check.sh [--dim] NNC LIBNNRT OUTDIR [NNC OPTIONS...]
#
# For every shape (m, k, n) below, compiles bench/gemm_check.nn with
# nnc -D m= -D k= -D n= and the given options (--cpu=native, --dtype=f64,
# -O0 ...), links it with bench/gemm_check.c and LIBNNRT, and runs it: all
# five layouts of operand (A @ B, A.T @ B, A @ B.T, A.T @ B.T, an indexed
# view) and three fused epilogues (bias and ReLU, a mask, a sum onto another
# tensor) against a double-precision product, twice for determinism, with
# guard bytes after every struct.  The shapes are the edge cases listed
# here, then GEMM_CHECK_COUNT (default 24) drawn from GEMM_CHECK_SEED
# (default 1): sizes 1 to 67, mostly odd, so that every remainder of every
# tile and vector width shows up; a long k (2500, 4111) crosses the dot
# form's chunks of K (compiler/gemm.c).  Exits 1 if any shape fails.
# With --dim, m is a runtime dim (dim m <= M) and each shape runs at every
# row count where compiler/gemm.c switches form or tile (m_parts), and
# either side of it, up to M.
set -u
dim=
if [ "$1" = --dim ]; then dim=1; shift; fi
nnc=$1 lib=$2 out=$3
shift 3
mkdir -p "$out"
here=$(dirname "$0")
cc=${CC:-cc}
model=$here/gemm_check.nn
if [ -n "$dim" ]; then
    model=$out/gemm_check_dim.nn
    sed 's/^const m = .*/dim m <= 3/' "$here/gemm_check.nn" > "$model"
fi

fixed="1,1,1 1,67,1 67,1,67 1,1,67 67,67,1 1,67,67 67,1,1 2,3,2 6,16,16 12,32,32
13,5,17 65,100,256 64,100,70 70,300,20 40,64,512 300,600,700 257,10,1
5,2500,7 33,4111,19"
random=$(awk -v seed="${GEMM_CHECK_SEED:-1}" -v n="${GEMM_CHECK_COUNT:-24}" 'BEGIN {
    srand(seed)
    split("1 2 3 4 5 7 8 9 11 13 15 16 17 23 24 25 31 32 33 37 47 48 49 53 63 64 65 67", s, " ")
    for (i = 0; i < n; i++)
        printf "%d,%d,%d ", s[1 + int(rand() * 28)], s[1 + int(rand() * 28)], s[1 + int(rand() * 28)]
}')

fail=0 count=0
for shape in $fixed $random; do
    IFS=, read -r m k n <<EOF
$shape
EOF
    count=$((count + 1))
    if ! "$nnc" -D m="$m" -D k="$k" -D n="$n" "$@" "$model" -o "$out/g.o" -H "$out/g.h"; then
        echo "gemm_check m=$m k=$k n=$n: nnc failed"
        fail=$((fail + 1))
        continue
    fi
    # CFLAGS and LDFLAGS carry the sanitizer flags when LIBNNRT has them.
    if ! $cc -O1 ${CFLAGS:-} -I"$here/../runtime" -o "$out/g" "$here/gemm_check.c" "$out/g.o" "$lib" \
            ${LDFLAGS:-} -lm -lz; then
        fail=$((fail + 1))
        continue
    fi
    rows=$m
    if [ -n "$dim" ]; then
        rows=$(for r in 1 2 3 4 5 6 7 11 12 13 64 65 66 255 256 257 "$m"; do [ "$r" -le "$m" ] && echo "$r"; done | sort -nu)
    fi
    for r in $rows; do
        "$out/g" "$m$k$n" "$r" >"$out/g.log" 2>&1 || { cat "$out/g.log"; fail=$((fail + 1)); }
    done
done
echo "gemm_check ${dim:+--dim }${*:-(default options)}${NNRT_CPU_LEVEL:+ at NNRT_CPU_LEVEL=$NNRT_CPU_LEVEL}: $count shapes, $fail failed"
[ "$fail" -eq 0 ]
