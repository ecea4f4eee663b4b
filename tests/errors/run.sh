#!/bin/sh
# tests/errors/run.sh NNC: golden diagnostics.  Each X.nn here is a malformed
# model (or, exit 0, one nnc warns about); X.err holds exactly what nnc must
# print for it, followed by its exit status.  A failed run must leave no
# output behind and must not clobber the output of an earlier successful run
# (here: a stand-in X.o).
#   tests/errors/run.sh build/nnc            check them all
#   UPDATE=1 tests/errors/run.sh build/nnc   rewrite the .err files (review the diff!)
set -u
nnc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")" || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for src in *.nn; do
    name=${src%.nn}
    echo old > "$tmp/$name.o"
    "$nnc" "$src" -o "$tmp/$name.o" > "$tmp/out" 2>&1
    status=$?
    echo "exit $status" >> "$tmp/out"
    if [ -n "${UPDATE:-}" ]; then
        cp "$tmp/out" "$name.err"
    fi
    if ! cmp -s "$tmp/out" "$name.err"; then
        echo "FAIL $src: diagnostics differ"
        diff -u "$name.err" "$tmp/out" | head -20
        fail=$((fail + 1))
    elif [ "$status" != 0 ] && { [ "$(ls "$tmp" | grep -v '^out$')" != "$name.o" ] ||
                                 [ "$(cat "$tmp/$name.o")" != old ]; }; then
        echo "FAIL $src: touched the outputs: $(ls "$tmp")"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
    rm -f "$tmp"/*
done
echo "golden diagnostics: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
