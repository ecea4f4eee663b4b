#!/bin/sh
# tests/buildsys/run.sh: nnc in other people's builds.  Install into a staging
# prefix (make install DESTDIR=...), then use it as a user would:
#   - samples/cmake through find_package(nnc) (CMAKE_PREFIX_PATH = the staged
#     prefix), with Unix Makefiles and with Ninja: build, run, check that a
#     second build does nothing and that touching the model, or the file it
#     imports, recompiles it; also the shared runtime, a source checkout as
#     nnc_DIR, and a wrong version or a malformed DEFINES refused;
#   - samples/make through pkg-config: the same, and that touching one model
#     recompiles that model and not the other, touching their import both;
#   - the man page: every option of nnc --help in it, no groff warning.
# The samples are copied into a temporary directory and built there, so the
# tree is never touched.  The last line is `buildsys: N passed, M failed`.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/usr/local
stage=$tmp/stage
P=$stage$prefix
log=$tmp/log

pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1)); echo "FAIL: $*"
    [ -s "$log" ] && tail -40 "$log" | sed 's/^/  | /'
    : > "$log"
}
skip() { echo "skip: $*"; }
# check CMD...: CMD succeeds; its output stays in $log for saw and notsaw.
check() { if "$@" > "$log" 2>&1; then ok; else bad "$*"; fi; }
# fails CMD...: CMD fails.
fails() { if "$@" > "$log" 2>&1; then bad "expected to fail: $*"; else ok; fi; }
# saw WHAT REGEX, notsaw WHAT REGEX: the last command printed (no) line matching REGEX.
saw()    { if grep -Eq -- "$2" "$log"; then ok; else bad "$1: no line matches '$2'"; fi; }
notsaw() { if grep -Eq -- "$2" "$log"; then bad "$1: a line matches '$2'"; else ok; fi; }
# Timestamps: let the clock move past the last build before touching a file.
later() { sleep 1; touch "$@"; }

make --no-print-directory -s install DESTDIR="$stage" PREFIX=$prefix >/dev/null
# Until the Makefile installs them, put the CMake package and the man page
# where it will.
if [ ! -f "$P/lib/cmake/nnc/nncConfig.cmake" ]; then
    echo "note: make install did not install lib/cmake/nnc; copying cmake/ for this test"
    install -d "$P/lib/cmake/nnc"
    install -m 644 cmake/nncConfig.cmake cmake/nncConfigVersion.cmake "$P/lib/cmake/nnc/"
fi
if [ ! -f "$P/share/man/man1/nnc.1" ]; then
    echo "note: make install did not install share/man/man1/nnc.1; copying man/nnc.1 for this test"
    install -d "$P/share/man/man1"
    install -m 644 man/nnc.1 "$P/share/man/man1/nnc.1"
fi
for f in lib/cmake/nnc/nncConfig.cmake lib/cmake/nnc/nncConfigVersion.cmake share/man/man1/nnc.1; do
    check test -f "$P/$f"
done
nnc=$P/bin/nnc
version=$("$nnc" --version | awk '{print $2}')
check grep -q "set(PACKAGE_VERSION \"$version\")" "$P/lib/cmake/nnc/nncConfigVersion.cmake"

# ---- CMake ----
# cmake_sample GENERATOR DIR: configure, build, run and rebuild samples/cmake.
cmake_sample() {
    gen=$1 b=$2 src=$tmp/cmake-src
    check cmake -S "$src" -B "$b" -G "$gen" -DCMAKE_PREFIX_PATH="$P"
    check grep -qx "nnc_DIR:PATH=$P/lib/cmake/nnc" "$b/CMakeCache.txt"
    check cmake --build "$b"
    saw "$gen: first build" "Compiling nnc model"
    check grep -q 'x\[64\]\[20\]' "$b/nnc/blobs/blobs.h"       # DEFINES d=20 reached nnc
    check "$b/train_blobs"
    check cmake --build "$b"
    notsaw "$gen: a second build" "Compiling nnc model|Building C|Linking"
    for f in blobs.nn layers.nn; do
        later "$src/$f"
        check cmake --build "$b"
        saw "$gen: after touching $f" "Compiling nnc model blobs.nn"
        saw "$gen: after touching $f" "Linking C executable train_blobs"
        check cmake --build "$b"
        notsaw "$gen: a build after the one after touching $f" "Compiling nnc model|Building C|Linking"
    done
    check "$b/train_blobs"
}

if ! command -v cmake > /dev/null; then
    bad "cmake is not installed (apt-get install cmake)"
else
    cp -R samples/cmake "$tmp/cmake-src"
    cmake_sample "Unix Makefiles" "$tmp/cmake-make"
    if command -v ninja > /dev/null; then
        cmake_sample Ninja "$tmp/cmake-ninja"
    else
        skip "CMake with Ninja: ninja is not installed (apt-get install ninja-build)"
    fi

    # The shared runtime: a NEEDED entry, found through the build RPATH.
    b=$tmp/cmake-shared
    check cmake -S "$tmp/cmake-src" -B "$b" -DCMAKE_PREFIX_PATH="$P" -DNNC_RUNTIME_SHARED=ON
    check cmake --build "$b"
    check sh -c "readelf -d '$b/train_blobs' | grep -q 'NEEDED.*libnnrt\.so'"
    check "$b/train_blobs"

    # A source checkout built by make, as nnc_DIR.
    b=$tmp/cmake-tree
    check cmake -S "$tmp/cmake-src" -B "$b" -Dnnc_DIR="$repo/cmake"
    check cmake --build "$b"
    check "$b/train_blobs"

    # Refused: a version this is not, and a malformed DEFINES.
    d=$tmp/cmake-bad
    mkdir "$d"
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(v C)\nfind_package(nnc 9.0 REQUIRED)\n' \
        > "$d/CMakeLists.txt"
    fails cmake -S "$d" -B "$d/b1" -DCMAKE_PREFIX_PATH="$P"
    saw "find_package(nnc 9.0)" "version: 0\.1"
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(v C)\nfind_package(nnc REQUIRED)\nnnc_add_model(m %s DEFINES d)\n' \
        "$tmp/cmake-src/blobs.nn" > "$d/CMakeLists.txt"
    fails cmake -S "$d" -B "$d/b2" -DCMAKE_PREFIX_PATH="$P"
    saw "a malformed DEFINES" "DEFINES takes NAME=VALUE, got 'd'"

    # Two builds of one model in one program: the second under --prefix,
    # whose outputs nnc_add_model names after the prefix.
    d=$tmp/cmake-two
    mkdir "$d"
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(two C)\nfind_package(nnc REQUIRED)\nnnc_add_model(train %s DEFINES batch=64)\nnnc_add_model(eval %s DEFINES batch=8 OPTIONS --prefix=blobs_eval)\nadd_executable(two main.c)\ntarget_link_libraries(two PRIVATE train eval)\n' \
        "$tmp/cmake-src/blobs.nn" "$tmp/cmake-src/blobs.nn" > "$d/CMakeLists.txt"
    printf '#include <string.h>\n#include "blobs.h"\n#include "blobs_eval.h"\nint main(void) {\n    blobs_eval_inputs *in = nnrt_alloc(sizeof *in);\n    blobs_eval_set_defaults(in);\n    int bad = strcmp(blobs_model.name, blobs_eval_model.name) != 0 || in->batch != 8;\n    nnrt_free(in);\n    return bad;\n}\n' \
        > "$d/main.c"
    check cmake -S "$d" -B "$d/b" -DCMAKE_PREFIX_PATH="$P"
    check cmake --build "$d/b"
    check test -f "$d/b/nnc/eval/blobs_eval.h"
    check "$d/b/two"
fi

# ---- Make ----
mk=$tmp/make
cp -R samples/make "$mk"
export PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
m() { make --no-print-directory -C "$mk" NNC="$nnc" "$@"; }
check m
saw "make: first build" "nnc .*regress\.nn"
saw "make: first build" "nnc .*classify\.nn"
check env LD_LIBRARY_PATH="$P/lib" "$mk/main"
check m -q
check m
notsaw "make: a second build" "nnc |cc "
later "$mk/regress.nn"
fails m -q
check m
saw "make: after touching regress.nn" "nnc .*regress\.nn"
notsaw "make: after touching regress.nn" "classify\.nn"
saw "make: after touching regress.nn" "-o main\.o main\.c"
saw "make: after touching regress.nn" "-o main "
check m -q
later "$mk/layers.nn"
check m
saw "make: after touching layers.nn" "nnc .*regress\.nn"
saw "make: after touching layers.nn" "nnc .*classify\.nn"
check m -q
rm "$mk/regress.h"
check m
saw "make: after removing regress.h" "nnc .*regress\.nn"
check env LD_LIBRARY_PATH="$P/lib" "$mk/main"

# ---- the man page ----
if command -v groff > /dev/null; then
    groff -ww -z -man man/nnc.1 > "$log" 2>&1 || true
    if [ -s "$log" ]; then bad "groff -ww -z -man man/nnc.1 warns"; else ok; fi
    page=$tmp/nnc.txt
    groff -man -Tascii -P-cbou man/nnc.1 > "$page" 2>/dev/null
    # Each option of nnc --help opens an entry (a tag at the left margin of
    # the section's text) under OPTIONS.
    sed -n '/^OPTIONS$/,/^[A-Z]/p' "$page" > "$tmp/options.txt"
    for opt in $("$nnc" --help | sed -n 's/^  \(-[^ =]*\).*/\1/p'); do
        if grep -Eq -- "^       $opt([=[:space:],]|$)" "$tmp/options.txt"; then ok; else
            bad "man/nnc.1 has no entry for $opt (from nnc --help) under OPTIONS"; fi
    done
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
        if grep -q "^$s\$" "$page"; then ok; else bad "man/nnc.1 has no $s section"; fi
    done
else
    skip "man page checks: groff is not installed"
fi

echo "buildsys: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
