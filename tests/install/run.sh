#!/bin/sh
# tests/install/run.sh: try nnc as a new user would.  Install into a staging
# directory (make install DESTDIR=...), compile the contract's example with
# the installed nnc, build samples/quickstart.c against the installed header
# and library through pkg-config (shared and static), and run it: it exits 1
# unless training makes the objective fall.
set -eu
cd "$(dirname "$0")/../.."
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
prefix=/usr/local
make --no-print-directory -s install DESTDIR="$stage" PREFIX=$prefix >/dev/null
export PKG_CONFIG_PATH="$stage$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
pass=0 fail=0
check() {
    if "$@" > "$stage/log" 2>&1; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL: $*"; cat "$stage/log"; fi
}
for f in bin/nnc include/nnrt.h lib/libnnrt.a lib/libnnrt.so lib/pkgconfig/nnrt.pc; do
    check test -f "$stage$prefix/$f"
done
check "$stage$prefix/bin/nnc" -D d=20 -D h=32 -D q=4 -D batch=64 samples/mlp.nn -o "$stage/mlp.o"
# CFLAGS and LDFLAGS carry the sanitizer flags when the runtime has them.
check cc -std=c11 -Wall -Wextra -Werror ${CFLAGS:-} -I"$stage" samples/quickstart.c "$stage/mlp.o" \
    $(pkg-config --cflags --libs nnrt) ${LDFLAGS:-} -o "$stage/quickstart"
check env LD_LIBRARY_PATH="$stage$prefix/lib" "$stage/quickstart"
check cc -std=c11 ${CFLAGS:-} -I"$stage" samples/quickstart.c "$stage/mlp.o" -static-libgcc ${LDFLAGS:-} \
    $(pkg-config --cflags nnrt) "$stage$prefix/lib/libnnrt.a" $(pkg-config --libs-only-l --static nnrt | sed 's/-lnnrt//') \
    -o "$stage/quickstart-static"
check "$stage/quickstart-static"
echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
