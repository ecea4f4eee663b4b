#!/bin/sh
# tests/install/run.sh: try nnc as a new user would.
#
#  1. The README's quickstart: the block after the comment that names this
#     script, run exactly as printed in a fresh shell (env -i) whose HOME is
#     a temporary directory, so `make install PREFIX=$HOME/.local` installs
#     there.  It runs in a directory of symlinks to the tree's top-level
#     entries, so its outputs stay out of the tree and the build is reused.
#     The program must start without LD_LIBRARY_PATH, its libnnrt.so found
#     through the run path that nnrt.pc gave it.
#  2. A staged install (DESTDIR) moved into place at its PREFIX: the same,
#     with pkg-config pointed at the prefix alone.
#     With Open MPI, a program linked through nnrt-mpi.pc finds
#     libnnrt_mpi.so and libnnrt.so there too.
#  3. nnrt.pc has a run path for every prefix but /usr.
#  4. A staged install used in place (PKG_CONFIG_SYSROOT_DIR): compile the
#     contract's example with the installed nnc, build samples/quickstart.c
#     through pkg-config, shared and static, and run both: quickstart exits
#     1 unless training makes the objective fall.
# B (the build directory, default build) is the one make install reuses.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
B=${B:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {
    if "$@" > "$tmp/log" 2>&1; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL: $*"; sed 's/^/    /' "$tmp/log" | tail -20; fi
}
# Which libnnrt.so (or LIB) a program loads, with no LD_LIBRARY_PATH.
loads_from() {   # loads_from PROGRAM DIR [LIB]
    lib=${3:-libnnrt.so}
    env -u LD_LIBRARY_PATH ldd "$1" | grep -q "$lib => $2/$lib "
}

# ---- 1. the README's quickstart, as printed ----
awk '/<!-- tests\/install\/run.sh runs the next block/ { armed = 1; next }
     armed && /^```sh$/ { inblock = 1; next }
     inblock && /^```$/ { exit }
     inblock { print }' README.md > "$tmp/quickstart.sh"
check test -s "$tmp/quickstart.sh"
check grep -q '^make install' "$tmp/quickstart.sh"
if [ -n "${CFLAGS:-}" ]; then
    # A sanitized libnnrt.so links only with the sanitizer flags, which the
    # README's cc line has not.
    echo "install: the README's quickstart skipped (CFLAGS=${CFLAGS})"
else
    mkdir "$tmp/home" "$tmp/tree"
    for f in "$repo"/*; do ln -s "$f" "$tmp/tree/"; done
    check sh -c "cd '$tmp/tree' && env -i HOME='$tmp/home' PATH=/usr/local/bin:/usr/bin:/bin \
        MAKEFLAGS='B=$B' sh -e '$tmp/quickstart.sh'"
    check test -x "$tmp/tree/quickstart"
    check loads_from "$tmp/tree/quickstart" "$tmp/home/.local/lib"
fi

# ---- 2. staged with DESTDIR, then moved into place ----
pfx=$tmp/opt/nnc
mkdir "$tmp/m2"
make --no-print-directory -s B="$B" install DESTDIR="$tmp/stage2" PREFIX="$pfx" >/dev/null
mkdir -p "$pfx"
cp -R "$tmp/stage2$pfx/." "$pfx/"
check "$pfx/bin/nnc" -D d=20 -D h=32 -D q=4 -D batch=64 samples/mlp.nn -o "$tmp/m2/mlp.o"
check sh -c "PKG_CONFIG_PATH='$pfx/lib/pkgconfig' cc -std=c11 ${CFLAGS:-} -I'$tmp/m2' samples/quickstart.c '$tmp/m2/mlp.o' \
    \$(PKG_CONFIG_PATH='$pfx/lib/pkgconfig' pkg-config --cflags --libs nnrt) ${LDFLAGS:-} -o '$tmp/quickstart2'"
check env -u LD_LIBRARY_PATH "$tmp/quickstart2"
check loads_from "$tmp/quickstart2" "$pfx/lib"
# With Open MPI, libnnrt_mpi too: a program linked through nnrt-mpi.pc
# (which brings nnrt and Open MPI's flags) finds both libraries.
if [ -f "$pfx/lib/pkgconfig/nnrt-mpi.pc" ]; then
    printf '#include <nnrt_mpi.h>\nextern const nnrt_model mlp_model;\nint main(int c, char **v)\n{\n    MPI_Init(&c, &v);\n    static float g[1 << 20];\n    int rc = nnrt_mpi_allreduce_mean(&mlp_model, g, MPI_COMM_WORLD);\n    MPI_Finalize();\n    return rc != 0;\n}\n' > "$tmp/m2/dp.c"
    check sh -c "PKG_CONFIG_PATH='$pfx/lib/pkgconfig' cc -std=c11 ${CFLAGS:-} '$tmp/m2/dp.c' '$tmp/m2/mlp.o' \
        \$(PKG_CONFIG_PATH='$pfx/lib/pkgconfig' pkg-config --cflags --libs nnrt-mpi) ${LDFLAGS:-} -o '$tmp/dp'"
    check loads_from "$tmp/dp" "$pfx/lib" libnnrt_mpi.so
    check loads_from "$tmp/dp" "$pfx/lib"
fi

# ---- 3. the run path in nnrt.pc ----
make --no-print-directory -s B="$B" install DESTDIR="$tmp/stage3" PREFIX=/usr >/dev/null
check grep -qx 'Libs: -L${libdir} -lnnrt -lm -pthread' "$tmp/stage3/usr/lib/pkgconfig/nnrt.pc"
check grep -qx 'Libs: -L${libdir} -Wl,-rpath,${libdir} -lnnrt -lm -pthread' "$tmp/stage2$pfx/lib/pkgconfig/nnrt.pc"

# ---- 4. staged, used in place ----
stage=$tmp/stage
prefix=/usr/local
make --no-print-directory -s B="$B" install DESTDIR="$stage" PREFIX=$prefix >/dev/null
export PKG_CONFIG_PATH="$stage$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
for f in bin/nnc include/nnrt.h lib/libnnrt.a lib/libnnrt.so lib/pkgconfig/nnrt.pc; do
    check test -f "$stage$prefix/$f"
done
check grep -qx 'Libs: -L${libdir} -Wl,-rpath,${libdir} -lnnrt -lm -pthread' "$stage$prefix/lib/pkgconfig/nnrt.pc"
check "$stage$prefix/bin/nnc" -D d=20 -D h=32 -D q=4 -D batch=64 samples/mlp.nn -o "$stage/mlp.o"
# CFLAGS and LDFLAGS carry the sanitizer flags when the runtime has them.
check cc -std=c11 -Wall -Wextra -Werror ${CFLAGS:-} -I"$stage" samples/quickstart.c "$stage/mlp.o" \
    $(pkg-config --cflags --libs nnrt) ${LDFLAGS:-} -o "$stage/quickstart"
# pkg-config puts the sysroot in front of the run path too: it runs in place
check env -u LD_LIBRARY_PATH "$stage/quickstart"
check cc -std=c11 ${CFLAGS:-} -I"$stage" samples/quickstart.c "$stage/mlp.o" -static-libgcc ${LDFLAGS:-} \
    $(pkg-config --cflags nnrt) "$stage$prefix/lib/libnnrt.a" $(pkg-config --libs-only-l --static nnrt | sed 's/-lnnrt//') \
    -o "$stage/quickstart-static"
check "$stage/quickstart-static"
echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
