#!/bin/sh
# tests/cli/run.sh NNC: the command line of the contract (section 4), one
# behaviour per check: what each option writes, and the exit statuses.
set -u
nnc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/../.." || exit 2
t=$(mktemp -d) || exit 2
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect() {   # expect DESCRIPTION COMMAND...: the command must succeed
    d=$1; shift
    if "$@" > "$t/log" 2>&1; then ok; else bad "$d"; sed 's/^/    /' "$t/log" | head -10; fi
}
cp samples/mlp.nn "$t/mlp.nn"

expect "default outputs beside the input" "$nnc" "$t/mlp.nn"
expect "  mlp.o" test -s "$t/mlp.o"
expect "  mlp.h" grep -q "int mlp_train_step" "$t/mlp.h"
expect "-o and -H" "$nnc" "$t/mlp.nn" -o "$t/a.o" -H "$t/x.h"
expect "  a.o and x.h" test -s "$t/a.o" -a -s "$t/x.h"
expect "-S writes assembly" "$nnc" -S "$t/mlp.nn" -o "$t/m.s"
expect "  it is assembly" grep -q "mlp_forward:" "$t/m.s"
expect "--emit=llvm,ir,dot" "$nnc" --emit=llvm,ir,dot "$t/mlp.nn" -o "$t/e.ll"
expect "  LLVM IR" grep -q "define.* i32 @mlp_backward" "$t/e.ll"
expect "  graph text" grep -q "dJ/dW1 <-" "$t/e.ir"
expect "  Graphviz: variables as boxes" grep -q 'shape=box, label="W1' "$t/e.dot"
expect "  Graphviz: backward set apart" grep -q "cluster_backward" "$t/e.dot"
expect "  dot renders it" dot -Tpng "$t/e.dot" -o "$t/e.png"
expect "--emit=plan" "$nnc" --emit=plan tests/cli/plan.nn -o "$t/p.plan"
expect "  prints the plan of tests/cli/plan.golden" diff -u tests/cli/plan.golden "$t/p.plan"
expect "-MD names every output" "$nnc" -MD "$t/mlp.nn" -o "$t/d.o"
expect "  depfile" grep -q "^$t/d.o $t/d.h : $t/mlp.nn" "$t/d.d"
mkdir -p "$t/app" "$t/shared"
printf 'fn dense(x, W) = x @ W.T\nconst width = 5\nimport "acts.nn"\n' > "$t/shared/layers.nn"
printf 'fn act(z) = relu(z)\n' > "$t/shared/acts.nn"
printf 'import "layers.nn"\ninput x : f32[2, 3]\nparam W : f32[width, 3]\nJ = sum(act(dense(x, W)))\nminimize J\n' > "$t/app/net.nn"
expect "import through -I" "$nnc" -I "$t/shared" -MD "$t/app/net.nn" -o "$t/app/net.o"
expect "  the imported const sized W" grep -q "W\[5\]\[3\]" "$t/app/net.h"
expect "  the depfile names both imports" sh -c "grep -q '$t/shared/layers.nn' '$t/app/net.d' && grep -q '$t/shared/acts.nn' '$t/app/net.d'"
expect "  and a phony rule for each" grep -q "^$t/shared/acts.nn:" "$t/app/net.d"
expect "-MF chooses its path" "$nnc" -MF "$t/deps.mk" "$t/mlp.nn" -o "$t/f.o"
expect "  depfile at -MF" test -s "$t/deps.mk"
expect "-D and --dtype=f64 reach the header" "$nnc" -D batch=3 --dtype=f64 "$t/mlp.nn" -o "$t/g.o"
expect "  double x[3][784]" grep -q "double x\[3\]\[784\]" "$t/g.h"
expect "--stats" sh -c "'$nnc' --stats '$t/mlp.nn' -o '$t/s.o' | grep -q 'workspace'"
expect "--time reports every phase on stderr" sh -c "'$nnc' --time '$t/mlp.nn' -o '$t/tm.o' 2> '$t/tm.err' > '$t/tm.out'"
expect "  in milliseconds, with the total" sh -c "grep -q 'ms .*LLVM IR optimization' '$t/tm.err' && grep -q 'ms .*machine code generation' '$t/tm.err' && grep -q 'ms .*total' '$t/tm.err'"
expect "  and nothing on stdout" test ! -s "$t/tm.out"
expect "  nor in the object" sh -c "'$nnc' '$t/mlp.nn' -o '$t/tm2.o' && cmp -s '$t/tm.o' '$t/tm2.o'"
expect "-O0 and -O3" sh -c "'$nnc' -O0 '$t/mlp.nn' -o '$t/o0.o' && '$nnc' -O3 '$t/mlp.nn' -o '$t/o3.o'"
expect "--target=aarch64-linux-gnu" "$nnc" --target=aarch64-linux-gnu "$t/mlp.nn" -o "$t/arm.o"
expect "  an AArch64 object" sh -c "readelf -h '$t/arm.o' | grep -q AArch64"
expect "--cpu=native" "$nnc" --cpu=native "$t/mlp.nn" -o "$t/n.o"
expect "--gradcheck passes on the example" sh -c "'$nnc' --gradcheck -D batch=4 -D d=6 -D h=5 '$t/mlp.nn' > '$t/gc.txt'"
expect "  and prints a row per param" sh -c "grep -q '^W1 .* ok' '$t/gc.txt' && grep -q '^W2 .* ok' '$t/gc.txt'"
printf 'param w : f32[3] = zeros()\nJ = sum(relu(w))\nminimize J\n' > "$t/kink.nn"
expect "--gradcheck fails at relu's kink (relu'(0) = 0, the difference 1/2)" \
    sh -c "! '$nnc' --gradcheck '$t/kink.nn' > '$t/gc2.txt' && grep -q FAIL '$t/gc2.txt'"
expect "--prefix renames the C symbols" "$nnc" --prefix=mlp_eval -D batch=7 "$t/mlp.nn" -o "$t/pe.o"
expect "  in the header" grep -q "int mlp_eval_forward" "$t/pe.h"
expect "  and in the object" sh -c "nm '$t/pe.o' | grep -q ' mlp_eval_model\$' && ! nm '$t/pe.o' | grep -q ' mlp_model\$'"
status_prefix_bad() { "$nnc" --prefix=9bad "$t/mlp.nn" > /dev/null 2>&1; [ $? = 2 ]; }
expect "  a prefix that is no identifier is a usage error" status_prefix_bad
expect "--version" sh -c "'$nnc' --version | grep -q '^nnc '"
expect "--help lists the options" sh -c "'$nnc' --help | grep -q -- '--emit=LIST'"

status() {   # status EXPECTED DESCRIPTION ARGS...
    want=$1 d=$2; shift 2
    "$nnc" "$@" > "$t/log" 2>&1
    got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$d: exit $got, want $want"; fi
}
status 2 "no input is a usage error"
status 2 "an unknown option is a usage error" --frobnicate "$t/mlp.nn"
status 2 "a -D without a value is a usage error" -D batch "$t/mlp.nn"
status 1 "a missing file is an input error" "$t/nonexistent.nn"
status 1 "a directory is an input error" "$t"
status 1 "an import not found without -I" "$t/app/net.nn" -o "$t/app/x.o"
status 1 "-D for a const that does not exist" -D nope=3 "$t/mlp.nn" -o "$t/z.o"
expect "  and it left nothing" test ! -e "$t/z.o" -a ! -e "$t/z.h"
status 1 "an unknown target" --target=nonsense-cpu-os "$t/mlp.nn" -o "$t/y.o"
expect "  and it left nothing" test ! -e "$t/y.o"
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
