#!/bin/sh
# tests/cli/run.sh NNC: the command line of the contract (section 4), one
# behaviour per check: what each option writes, and the exit statuses.
set -u
# The small programs these checks build do not free before exiting.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
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
# Loops at 512 bits where the products use AVX-512 (docs/guarantees.md),
# but not the products' own functions, whose code is vectorized by hand.
expect "--cpu=x86-64-v4 --emit=llvm" "$nnc" --cpu=x86-64-v4 --emit=llvm "$t/mlp.nn" -o "$t/v4.ll"
expect "  its loops prefer 512-bit vectors" grep -q '"prefer-vector-width"="512"' "$t/v4.ll"
expect "  the products' functions do not" sh -c '! grep min-legal-vector-width "$1" | grep -q prefer-vector-width' sh "$t/v4.ll"
expect "--cpu=x86-64-v3 --emit=llvm" "$nnc" --cpu=x86-64-v3 --emit=llvm "$t/mlp.nn" -o "$t/v3.ll"
expect "  no 512-bit preference without AVX-512" sh -c '! grep -q prefer-vector-width "$1"' sh "$t/v3.ll"
expect "--emit=plan" "$nnc" --emit=plan tests/cli/plan.nn -o "$t/p.plan"
expect "  prints the plan of tests/cli/plan.golden" diff -u tests/cli/plan.golden "$t/p.plan"
expect "--emit=plan of a convolution" "$nnc" --emit=plan tests/cli/plan_conv.nn -o "$t/pc.plan"
expect "  prints the plan of tests/cli/plan_conv.golden" diff -u tests/cli/plan_conv.golden "$t/pc.plan"
# Standard output ("-", or a link to an open descriptor such as
# /dev/stdout) takes one output, written at the descriptor's offset; a link
# to it is never renamed onto (/dev/stdout itself was, when standard
# output was a file).
expect "--emit=plan -o - writes the plan to standard output" \
    sh -c "'$nnc' --emit=plan tests/cli/plan.nn -o - > '$t/so.plan' && diff -u tests/cli/plan.golden '$t/so.plan'"
expect "  after what is already there" \
    sh -c "{ echo first; '$nnc' --emit=plan tests/cli/plan.nn -o -; } > '$t/so2.plan' && [ \"\$(sed -n 2p '$t/so2.plan')\" = \"\$(sed -n 1p tests/cli/plan.golden)\" ]"
ln -s /proc/self/fd/1 "$t/stdout-link"
expect "  through a link to /proc/self/fd/1, standard output a file" \
    sh -c "'$nnc' --emit=plan tests/cli/plan.nn -o '$t/stdout-link' > '$t/so3.plan' && diff -q tests/cli/plan.golden '$t/so3.plan' && [ -L '$t/stdout-link' ]"
expect "  -H - with -o FILE" sh -c "'$nnc' '$t/mlp.nn' -o '$t/so.o' -H - | grep -q 'int mlp_train_step'"
expect "  two outputs to it: exit 2, the header named" \
    sh -c "'$nnc' '$t/mlp.nn' -o - > '$t/so.o' 2> '$t/so.err'; [ \$? = 2 ] && grep -q 'the header would go there too: name it with -H FILE' '$t/so.err' && [ ! -s '$t/so.o' ]"
expect "  -o - and -H /dev/stdout are one stream" \
    sh -c "'$nnc' '$t/mlp.nn' -o - -H /dev/stdout > /dev/null 2> '$t/so2.err'; [ \$? = 2 ] && grep -q 'are the same file' '$t/so2.err'"
printf 'input x : f32[2]\nJ = sum(x * undefined_name)\nminimize J\n' > "$t/bad.nn"
expect "  a model with errors writes nothing there" \
    sh -c "'$nnc' --emit=plan '$t/bad.nn' -o - > '$t/so4.plan' 2> /dev/null; [ \$? = 1 ] && [ ! -s '$t/so4.plan' ]"
# A direct convolution takes K up to 160 where every copy of the code has
# AVX-512's registers, and up to 32 in a build for any x86-64 (plan.c).
expect "--cpu=x86-64-v4: LeNet's second convolution (K = 150) is direct" \
    sh -c "'$nnc' --cpu=x86-64-v4 --emit=plan samples/book/lenet.nn -o '$t/wide.plan' && grep -q 'matmul f32\[16, batch\*100\]: kernel into ws+0 (direct convolution' '$t/wide.plan'"
expect "  for any x86-64 it is a product" \
    sh -c "'$nnc' --emit=plan samples/book/lenet.nn -o '$t/any.plan' && grep -q 'matmul f32\[16, batch\*100\]: .*(outer products, B filled from the image' '$t/any.plan'"
# Its poolings (reductions that keep the batch axis) are split across
# threads by rows; the sum over a row of 10 logits is too small to be
# (plan.c, split_shape).
expect "  its poolings run across threads, its logits' row sum on one" \
    sh -c "grep -q 'sum f32\[batch, 6, 14, 1, 14, 1\]: kernel into ws+[0-9]* (rows across threads)\$' '$t/any.plan' && grep -q 'sum f32\[batch, 16, 5, 1, 5, 1\]: .*(rows across threads)\$' '$t/any.plan' && grep -q 'sum f32\[batch, 1\]: kernel into ws+[0-9]*\$' '$t/any.plan'"
# A pooling window's strided reads are masked loads and shuffles, not
# gathers: LLVM's masked interleaved groups are on (emit.c); without them
# this model's two poolings take 16 gathers at x86-64-v4.
printf 'model pool\ninput x : f32[64, 6, 28, 28]\np = avg_pool2d(x, 2)\nm = max_pool2d(x, 2)\noutput p, m\n' > "$t/pool.nn"
expect "poolings read their windows without gathers" \
    sh -c "'$nnc' --cpu=x86-64-v4 -S '$t/pool.nn' -o '$t/pool.s' && grep -q vmaxps '$t/pool.s' && ! grep -q gather '$t/pool.s'"
# The weight gradient of the first (rows of 28 pixels, 6 channels) is
# summed directly there too; the second's (rows of 10) stays a product, and
# so does the first's in a build for any x86-64 (plan.c, conv_weights).
expect "  its first weight gradient is direct, its second's a product" \
    sh -c "grep -q 'matmul f32\[6, 25\]: .*(direct weight gradient from dY and the image, in chunks of 7 images' '$t/wide.plan' && grep -q 'matmul f32\[16, 150\]: .*(dot products, B filled from the image' '$t/wide.plan'"
expect "  for any x86-64 both are products" \
    sh -c "! grep -q 'direct weight gradient' '$t/any.plan' && grep -q 'matmul f32\[6, 25\]: .*(dot products, B filled from the image' '$t/any.plan'"
# The second's input gradient, col2im of a [150, batch*100] product, takes
# the product's columns 8 images (480 KB) at a time, at every level
# (plan.c, columns_chunk); the chunks run across threads, not the product.
expect "  col2im computes its product a chunk of images at a time" \
    sh -c "grep -q 'matmul f32\[150, batch\*100\]: not written out, computed a chunk of images at a time by the col2im that reads it (outer products, A packed, B packed)\$' '$t/any.plan' && grep -q 'col2im f32\[batch, 6, 14, 14\]: .*(its product.s columns of 8 images at a time' '$t/any.plan' && grep -q 'col2im f32\[batch, 6, 14, 14\]: .*(its product.s columns of 8 images at a time' '$t/wide.plan'"
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
expect "--gradcheck prints nothing on stderr: LLVM's remarks are not for users" \
    sh -c "'$nnc' --gradcheck tests/e2e/models/conv2d.nn > '$t/gcc.txt' 2> '$t/gcc.err' && test ! -s '$t/gcc.err'"
expect "--gradcheck passes on the example" sh -c "'$nnc' --gradcheck -D batch=4 -D d=6 -D h=5 '$t/mlp.nn' > '$t/gc.txt'"
expect "  and prints a row per param" sh -c "grep -q '^W1 .* ok' '$t/gc.txt' && grep -q '^W2 .* ok' '$t/gc.txt'"
printf 'param w : f32[3] = zeros()\nJ = sum(relu(w))\nminimize J\n' > "$t/kink.nn"
expect "--gradcheck fails at relu's kink (relu'(0) = 0, the difference 1/2)" \
    sh -c "! '$nnc' --gradcheck '$t/kink.nn' > '$t/gc2.txt' && grep -q FAIL '$t/gc2.txt'"
# A param the drawn inputs never reach (relu(x - 10) with x in [-1, 1]):
# every derivative is 0, so the check compared nothing; it says "untested",
# not "ok", and fails unless allowed.  Inputs that reach it, from IDX files
# (u8 values 11 to 22), test it.
printf 'input x : f32[4, 3]\nparam W : f32[3, 2] = xavier_uniform()\nparam v : f32[2] = ones()\nJ = sum(relu(x - 10) @ W) + sum(v * v)\nminimize J\n' > "$t/dead.nn"
expect "--gradcheck: an unreachable param is untested and fails" \
    sh -c "! '$nnc' --gradcheck '$t/dead.nn' > '$t/gc3.txt' 2> '$t/gc3.err' && grep -q '^W .* untested: every sampled derivative is 0' '$t/gc3.txt' && grep -q '^v .* ok' '$t/gc3.txt'"
expect "  with the cause and the way out on stderr" \
    grep -q "'W' is untested (every derivative sampled at these params and inputs is 0): give inputs that reach it (--gradcheck-inputs=DIR)" "$t/gc3.err"
expect "  --gradcheck-allow-untested reports it and passes" \
    sh -c "'$nnc' --gradcheck --gradcheck-allow-untested '$t/dead.nn' | grep -q '1 untested'"
mkdir -p "$t/gcin" "$t/gcbad"
printf '\0\0\10\2\0\0\0\4\0\0\0\3\13\14\15\16\17\20\21\22\23\24\25\26' > "$t/gcin/x.idx"
expect "--gradcheck-inputs=DIR takes x from DIR/x.idx and tests W" \
    sh -c "'$nnc' --gradcheck --gradcheck-inputs='$t/gcin' '$t/dead.nn' > '$t/gc4.txt' && grep -q '^input x: \[4, 3\] from ' '$t/gc4.txt' && grep -q '^W .* ok' '$t/gc4.txt'"
printf '\0\0\10\2\0\0\0\3\0\0\0\3\13\14\15\16\17\20\21\22\23' > "$t/gcbad/x.idx"
expect "  a file of another shape is an input error" \
    sh -c "'$nnc' --gradcheck --gradcheck-inputs='$t/gcbad' '$t/dead.nn' > /dev/null 2> '$t/gc5.err'; [ \$? = 1 ] && grep -q 'has shape \[3, 3\]; input .x. is f64\[4, 3\]' '$t/gc5.err'"
printf 'param u : f32[2]\nparam v : f32[2] = ones()\nJ = sum(v * v)\nminimize J\n' > "$t/unused.nn"
expect "  a param the objective does not use is untested too, and said so" \
    sh -c "! '$nnc' --gradcheck '$t/unused.nn' > /dev/null 2> '$t/gc6.err' && grep -q \"'u' is untested (the objective does not depend on it)\" '$t/gc6.err'"
expect "--prefix renames the C symbols" "$nnc" --prefix=mlp_eval -D batch=7 "$t/mlp.nn" -o "$t/pe.o"
expect "  in the header" grep -q "int mlp_eval_forward" "$t/pe.h"
expect "  and in the object" sh -c "nm '$t/pe.o' | grep -q ' mlp_eval_model\$' && ! nm '$t/pe.o' | grep -q ' mlp_model\$'"
status_prefix_bad() { "$nnc" --prefix=9bad "$t/mlp.nn" > /dev/null 2>&1; [ $? = 2 ]; }
expect "  a prefix that is no identifier is a usage error" status_prefix_bad
# Two builds of one model in one program: a training build and an evaluation
# build with another batch, the second under --prefix.  Both link, the same
# seed gives both the same params, and a checkpoint of one loads into the
# other (the descriptors keep the model's name).
mkdir -p "$t/two"
printf 'model net\nconst batch = 4\ninput x : f32[batch, 3]\nparam W : f32[2, 3] = xavier_uniform()\no = x @ W.T\nJ = mean(o * o)\noutput o\nminimize J\noptimizer sgd(lr = 0.1)\n' > "$t/two/net.nn"
cat > "$t/two/main.c" <<'EOF'
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "net.h"
#include "net_eval.h"
int main(int argc, char **argv) {
    net_params *p = nnrt_alloc(sizeof *p); net_state *s = nnrt_alloc(sizeof *s);
    net_inputs *in = nnrt_alloc(sizeof *in); net_outputs *out = nnrt_alloc(sizeof *out);
    net_eval_params *q = nnrt_alloc(sizeof *q); net_eval_state *es = nnrt_alloc(sizeof *es);
    net_eval_inputs *ein = nnrt_alloc(sizeof *ein); net_eval_outputs *eout = nnrt_alloc(sizeof *eout);
    void *ws = nnrt_alloc(net_model.workspace_size), *ews = nnrt_alloc(net_eval_model.workspace_size);
    net_init(p, s, 7);
    net_eval_init(q, es, 7);
    if (argc < 2 || memcmp(p->W, q->W, sizeof p->W) || strcmp(net_model.name, net_eval_model.name))
        return 1;
    net_set_defaults(in);
    net_eval_set_defaults(ein);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            in->x[i][j] = (float)(i - j) / 4;
    if (net_train_step(p, s, in, out, ws) || nnrt_save(argv[1], &net_model, p, NULL)
        || nnrt_load(argv[1], &net_eval_model, q, NULL) || memcmp(p->W, q->W, sizeof p->W))
        return 2;
    memcpy(ein->x, in->x, sizeof ein->x);    /* the first two rows */
    if (net_forward(p, s, in, out, ws) || net_eval_forward(q, es, ein, eout, ews))
        return 3;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            if (fabsf(out->o[i][k] - eout->o[i][k]) > 1e-6f)
                return 4;
    printf("two builds of net agree\n");
    return 0;
}
EOF
lib=$(dirname "$nnc")/libnnrt.a
two_builds() {
    "$nnc" -D batch=4 "$t/two/net.nn" -o "$t/two/net.o" &&
    "$nnc" --prefix=net_eval -D batch=2 "$t/two/net.nn" -o "$t/two/net_eval.o" &&
    cc -std=c11 -Wall -Werror ${CFLAGS:-} -Iruntime -I"$t/two" "$t/two/main.c" "$t/two/net.o" "$t/two/net_eval.o" ${LDFLAGS:-} \
        "$lib" -lz -lm -o "$t/two/main" &&
    "$t/two/main" "$t/two/net.ckpt"
}
expect "two builds of one model (--prefix) link into one program and share checkpoints" two_builds
# PyTorch's nn.Linear(64, 32) initialization, written as docs/language.md
# says, for a weight used as x @ W.T and one stored [in, out] used as x @ V:
# both U[+-1/sqrt(64)] (kaiming_uniform with a = sqrt(5): gain sqrt(1/3),
# bound gain * sqrt(3 / fan)), the bias too; against the formula.
mkdir -p "$t/lin"
printf 'model lin\ninput x : f32[2, 64]\nparam W : f32[32, 64] = kaiming_uniform(a = sqrt(5))\nparam V : f32[64, 32] = kaiming_uniform(a = sqrt(5), fan = "out")\nparam b : f32[32] = uniform(-1 / sqrt(64), 1 / sqrt(64))\nJ = sum(x @ W.T + b) + sum(x @ V)\nminimize J\n' > "$t/lin/lin.nn"
cat > "$t/lin/main.c" <<'EOF'
#include <math.h>
#include <stdio.h>
#include "lin.h"
/* max |w| within the bound and near it; the variance bound^2 / 3 within 5 standard errors */
static int check(const char *name, const float *w, int n, double bound) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs(w[i]));
        s += (double)w[i] * w[i];
    }
    double var = s / n, want = bound * bound / 3, se = want * sqrt(0.8 / n);
    printf("%s: max %g bound %g, var %g want %g +- %g\n", name, m, bound, var, want, 5 * se);
    return m <= bound * (1 + 1e-6) && m > 0.95 * bound && fabs(var - want) < 5 * se;
}
int main(void) {
    lin_params *p = nnrt_alloc(sizeof *p);
    lin_state *s = nnrt_alloc(sizeof *s);
    lin_init(p, s, 3);
    double bound = 1 / sqrt(64.0);
    return !(check("W", &p->W[0][0], 32 * 64, bound) && check("V", &p->V[0][0], 64 * 32, bound) &&
             check("b", p->b, 32, bound));
}
EOF
linear_init() {
    "$nnc" "$t/lin/lin.nn" -o "$t/lin/lin.o" 2> "$t/lin/warn" && ! [ -s "$t/lin/warn" ] &&
    cc -std=c11 -Wall -Werror ${CFLAGS:-} -Iruntime -I"$t/lin" "$t/lin/main.c" "$t/lin/lin.o" "$lib" ${LDFLAGS:-} -lz -lm -o "$t/lin/main" &&
    "$t/lin/main"
}
expect "kaiming_uniform(a = sqrt(5), fan = \"out\") initializes as nn.Linear does, with no warning" linear_init
# col2im's rows of pixels carry a vectorization hint that LLVM cannot
# apply to all of conv2d.nn's; its remarks about them are not the user's.
expect "a convolutional model compiles without a word on stderr" \
    sh -c "'$nnc' tests/e2e/models/conv2d.nn -o '$t/conv.o' 2> '$t/conv.err' && ! [ -s '$t/conv.err' ]"
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
status 2 "--gradcheck-inputs without --gradcheck is a usage error" --gradcheck-inputs="$t" "$t/mlp.nn"
status 1 "a missing file is an input error" "$t/nonexistent.nn"
status 1 "a directory is an input error" "$t"
status 1 "an import not found without -I" "$t/app/net.nn" -o "$t/app/x.o"
status 1 "-D for a const that does not exist" -D nope=3 "$t/mlp.nn" -o "$t/z.o"
expect "  and it left nothing" test ! -e "$t/z.o" -a ! -e "$t/z.h"
status 2 "an unknown target is a usage error" --target=nonsense-cpu-os "$t/mlp.nn" -o "$t/y.o"
expect "  and it left nothing" test ! -e "$t/y.o"
# ---- The outputs are one set of files (docs/guarantees.md) ----
# Refused before anything is compiled (exit 2), the source left as it was:
# an output that is the input, by name or by inode, or two outputs that are
# one file.
mkdir -p "$t/set"
cp samples/mlp.nn "$t/set/m.nn"
cp samples/mlp.nn "$t/set/m.orig"
ln "$t/set/m.nn" "$t/set/hard.nn"
intact() { cmp -s "$t/set/m.nn" "$t/set/m.orig"; }
(cd "$t/set" && "$nnc" m.nn -o m.nn > "$t/log" 2>&1; [ $? = 2 ]) && intact && ok || bad "-o m.nn is a usage error and keeps the source"
(cd "$t/set" && "$nnc" m.nn -o ./m.nn > "$t/log" 2>&1; [ $? = 2 ]) && intact && ok || bad "-o ./m.nn is a usage error and keeps the source"
status 2 "-H the input is a usage error" "$t/set/m.nn" -H "$t/set/m.nn"
status 2 "-MD -MF the input is a usage error" -MD -MF "$t/set/m.nn" "$t/set/m.nn"
status 2 "-o a hard link to the input is a usage error (st_ino)" "$t/set/m.nn" -o "$t/set/hard.nn"
cp "$t/log" "$t/msg"   # expect's own output goes to $t/log
expect "  the message names the input" grep -q "hard.nn would overwrite the input file $t/set/m.nn" "$t/msg"
expect "  and the source is intact" intact
status 2 "-o x -H x is a usage error" samples/mlp.nn -o "$t/set/x" -H "$t/set/x"
expect "  and wrote nothing" test ! -e "$t/set/x"
status 2 "-MF m.o -o m.o is a usage error" -MF "$t/set/m.o" samples/mlp.nn -o "$t/set/m.o"
status 2 "-o m.h, where the header goes by default, is a usage error" samples/mlp.nn -o "$t/set/m.h"
mkdir -p "$t/set/empty"
(cd "$t/set/empty" && "$nnc" ../m.nn -o '' > "$t/log" 2>&1; [ $? = 2 ]) && ok || bad "-o '' is a usage error"
expect "  and leaves nothing (not even .h)" test -z "$(ls -A "$t/set/empty")"
status 2 "-H '' is a usage error" "$t/set/m.nn" -H ''
printf 'fn act(z) = relu(z)\n' > "$t/set/lib.nn"
printf 'import "lib.nn"\ninput x : f32[3]\nJ = sum(act(x))\nminimize J\n' > "$t/set/uses.nn"
status 2 "an output that is an imported file is a usage error" "$t/set/uses.nn" -o "$t/set/lib.nn"
expect "  and the import is intact" grep -q "fn act" "$t/set/lib.nn"
# No output is written unless all are: -o naming a folder fails before the
# header is touched.
mkdir -p "$t/set/dir"
echo old > "$t/set/keep.h"
status 1 "-o a folder fails" samples/mlp.nn -o "$t/set/dir" -H "$t/set/keep.h"
expect "  and leaves -H's file as it was" grep -qx old "$t/set/keep.h"
# Temporaries are new files with random names: symbolic links planted where
# an older nnc put them (NAME.tmpPID, its pid known with exec) are left alone.
mkdir -p "$t/plant"
cp samples/mlp.nn "$t/plant/m.nn"
echo precious > "$t/plant/victim"
planted() {
    (cd "$t/plant" && sh -c 'ln -s victim "m.o.tmp$$"; ln -s victim "m.h.tmp$$"; exec "$0" m.nn -o m.o' "$nnc") > "$t/log" 2>&1
}
expect "a symbolic link planted at a temporary name" planted
expect "  is not followed" grep -qx precious "$t/plant/victim"
expect "  and the outputs are files, not links" sh -c "test -f '$t/plant/m.o' -a ! -L '$t/plant/m.o' -a ! -L '$t/plant/m.h'"
expect "  and no temporary is left" sh -c "! ls -A '$t/plant' | grep -q '^\..*\.tmp\$'"
# A signal while nnc writes (here: blocked on a FIFO as its -MF) removes the
# temporaries, and the signal still ends nnc.  A signal that does not end
# it within 10 s is a failure, not a hang of the suite: nnc is then killed.
signalled() {   # signalled SIGNAL STATUS
    rm -rf "$t/sig" && mkdir -p "$t/sig" && mkfifo "$t/sig/d.fifo" || return 1
    "$nnc" samples/mlp.nn -o "$t/sig/s.o" -MF "$t/sig/d.fifo" > /dev/null 2>&1 &
    pid=$!
    n=0
    while [ $n -lt 100 ] && ! ls -A "$t/sig" | grep -q '^\.s\.o\..*\.tmp$'; do sleep 0.1; n=$((n + 1)); done
    sleep 0.3
    kill -"$1" $pid
    n=0
    while [ $n -lt 100 ] && kill -0 $pid 2> /dev/null; do sleep 0.1; n=$((n + 1)); done
    kill -KILL $pid 2> /dev/null
    wait $pid
    st=$?
    [ "$st" = "$2" ] && [ "$(ls -A "$t/sig")" = d.fifo ]
}
expect "SIGTERM leaves no temporary and no output" signalled TERM 143
# nnc keeps a signal ignored that it was started with ignored (nohup), as
# cc does: SIGHUP is tried only when this shell does not ignore it.
ignored=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status 2> /dev/null)
case $ignored in
*[13579bdf]) ;;     # bit 0: SIGHUP
*) expect "SIGHUP leaves no temporary and no output" signalled HUP 129 ;;
esac
# A write that fails (a full disk; here the file size limit) is one clear
# message, and leaves no temporary and the old output.
mkdir -p "$t/full"
echo old > "$t/full/big.o"
(ulimit -f 16; "$nnc" samples/mlp.nn -o "$t/full/big.o" > "$t/msg" 2>&1; [ $? = 1 ]) && ok || bad "a write past the file size limit is an error"
expect "  said once: cannot write 'big.o': File too large" sh -c "[ \$(wc -l < '$t/msg') = 1 ] && grep -q \"cannot write '$t/full/big.o': File too large\" '$t/msg'"
expect "  the old output stays, and no temporary" sh -c "[ \"\$(ls -A '$t/full')\" = big.o ] && grep -qx old '$t/full/big.o'"
# A folder nnc may not write to is one message, before compiling.
mkdir -p "$t/ro" && cp samples/mlp.nn "$t/ro/m.nn" && chmod 755 "$t" && chmod 555 "$t/ro"
if [ "$(id -u)" != 0 ]; then
    status 1 "a read-only folder is an error" "$t/ro/m.nn"
elif command -v setpriv > /dev/null; then
    setpriv --reuid 65534 --regid 65534 --clear-groups "$nnc" "$t/ro/m.nn" > "$t/log" 2>&1
    [ $? = 1 ] && ok || bad "a read-only folder is an error"
else
    echo "cli: skipped the read-only folder (root without setpriv)"
    echo "nnc: error: cannot write '$t/ro/m.o': cannot create a file in '$t/ro': skipped" > "$t/log"
fi
cp "$t/log" "$t/msg"
expect "  said once: cannot create a file in it" sh -c "[ \$(wc -l < '$t/msg') = 1 ] && grep -q \"cannot write '$t/ro/m.o': cannot create a file in '$t/ro'\" '$t/msg'"
expect "  and wrote nothing" test -z "$(ls -A "$t/ro" | grep -v '^m.nn$')"
chmod 755 "$t/ro"
# A target that is not a regular file is written in place: a FIFO stays a
# FIFO and its reader gets the object.
mkdir -p "$t/fifo" && mkfifo "$t/fifo/out"
"$nnc" samples/mlp.nn -o "$t/fifo/ref.o" -H "$t/fifo/ref.h"
fifo_output() {
    cat "$t/fifo/out" > "$t/fifo/got" &
    reader=$!
    "$nnc" samples/mlp.nn -o "$t/fifo/out" -H "$t/fifo/h.h" > "$t/log" 2>&1
    st=$?
    if [ $st != 0 ] || ! test -p "$t/fifo/out"; then
        kill $reader 2> /dev/null
        wait $reader
        return 1
    fi
    wait $reader && cmp -s "$t/fifo/got" "$t/fifo/ref.o"
}
if fifo_output; then
    ok
    # So is /dev/null, and the other outputs named after it go there too
    # (tried only once the FIFO showed that nnc writes in place: an nnc
    # that renamed a file onto /dev/null would replace it when run as root).
    expect "-o /dev/null" "$nnc" samples/mlp.nn -o /dev/null -MD
    expect "  leaves /dev/null a device, and no /dev/null.h" sh -c "test -c /dev/null -a ! -e /dev/null.h -a ! -e /dev/null.d"
    status 1 "-H /dev/full is an error" samples/mlp.nn -o "$t/fifo/f.o" -H /dev/full
    cp "$t/log" "$t/msg"
    expect "  said once: No space left on device, and no object" sh -c "grep -q 'No space left on device' '$t/msg' && [ \$(wc -l < '$t/msg') = 1 ] && test ! -e '$t/fifo/f.o' && test -c /dev/full"
else
    bad "a FIFO as -o is written in place and stays a FIFO"
fi

# ---- LLVM never aborts: --target and --cpu are checked first ----
# Each is one usage error (exit 2) naming what is supported, never an abort
# or LLVM's own messages, and writes nothing.
refused() {   # refused DESCRIPTION WANT ARGS...
    d=$1 want=$2; shift 2
    rm -f "$t/r.o" "$t/r.h"
    "$nnc" "$@" samples/mlp.nn -o "$t/r.o" > "$t/log" 2>&1
    st=$?
    if [ "$st" = 2 ] && grep -q -- "$want" "$t/log" && ! grep -q "LLVM ERROR\|recognized processor\|warning" "$t/log" &&
        [ "$(wc -l < "$t/log")" = 2 ] && [ ! -e "$t/r.o" ] && [ ! -e "$t/r.h" ]; then
        ok
    else
        bad "$d: exit $st"; sed 's/^/    /' "$t/log" | head -5
    fi
}
refused "--cpu=nonsense" "'nnc --cpu=help' lists them" --cpu=nonsense
refused "--cpu=cortex-a53 for x86-64" "but one of aarch64" --target=x86_64-linux-gnu --cpu=cortex-a53
refused "--cpu=skylake for aarch64" "but one of x86_64" --target=aarch64-linux-gnu --cpu=skylake
refused "--cpu=i386 for x86-64 (a 32-bit CPU)" "64-bit code requested" --target=x86_64-linux-gnu --cpu=i386
refused "--cpu= (empty)" "needs a name" --cpu=
refused "--target=nonsense-cpu-os" "x86_64 (e.g. --target=x86_64-linux-gnu), aarch64" --target=nonsense-cpu-os
for tr in ve-linux bpf amdgcn-amd-amdhsa nvptx64 riscv64-linux-gnu i686-linux-gnu aarch64_be-linux-gnu x86_64-linux-gnux32; do
    refused "--target=$tr" "generates code for x86_64 (e.g. --target=x86_64-linux-gnu), aarch64\|64-bit pointers only" --target=$tr
done
case "$(uname -m)" in
x86_64) refused "--cpu=cortex-a53 on this x86-64 host" "but one of aarch64" --cpu=cortex-a53 ;;
aarch64) refused "--cpu=skylake on this aarch64 host" "but one of x86_64" --cpu=skylake ;;
esac
# The supported targets: every model of tests/e2e compiles for aarch64 too.
every_model_for() {
    for f in tests/e2e/models/*.nn; do
        "$nnc" --target="$1" -I tests/e2e/models "$f" -o "$t/every.o" || { echo "    $f"; return 1; }
    done
}
expect "every model of tests/e2e compiles for aarch64-linux-gnu" every_model_for aarch64-linux-gnu
expect "--cpu=cortex-a53 with --target=aarch64-linux-gnu" "$nnc" --target=aarch64-linux-gnu --cpu=cortex-a53 samples/mlp.nn -o "$t/a53.o"
expect "  an AArch64 object" sh -c "readelf -h '$t/a53.o' | grep -q AArch64"
expect "an alias LLVM does not list (apple-m1)" "$nnc" --target=arm64-apple-macos --cpu=apple-m1 samples/mlp.nn -o "$t/m1.o"
expect "--cpu=help lists the host's CPUs" sh -c "'$nnc' --cpu=help --target=x86_64-linux-gnu > '$t/cpus' && grep -qx '  skylake' '$t/cpus' && grep -qx '  znver3' '$t/cpus'"
expect "  but not those LLVM cannot generate x86-64 code for" sh -c "! grep -q '  i386\$\|  pentium4\$' '$t/cpus'"
expect "--cpu=help --target=aarch64-linux-gnu" sh -c "'$nnc' --cpu=help --target=aarch64-linux-gnu | grep -qx '  cortex-a53'"
status 2 "--cpu=help for an unsupported target" --cpu=help --target=bpf

# ---- Names that reach C are safe (docs/guarantees.md) ----
status 2 "--prefix=nnrt (the runtime's) is a usage error" --prefix=nnrt samples/mlp.nn -o "$t/p.o"
status 2 "--prefix=a_ (a__params) is a usage error" --prefix=a_ samples/mlp.nn -o "$t/p.o"
# mlp and MLP are two models: their headers have two include guards.
mkdir -p "$t/case"
sed 's/^model mlp/model MLP/' samples/mlp.nn > "$t/case/big.nn"
printf '#include "small.h"\n#include "big.h"\nint main(void) { static mlp_params p; static MLP_params q; return (int)(sizeof p - sizeof q); }\n' > "$t/case/main.c"
expect "models mlp and MLP: both headers in one file" sh -c "'$nnc' samples/mlp.nn -o '$t/case/small.o' && '$nnc' '$t/case/big.nn' -o '$t/case/big.o' && cc -std=c11 -Wall -Werror -Iruntime -I'$t/case' -c '$t/case/main.c' -o '$t/case/main.o'"
# The source's path goes into a comment of the header: */ cannot end it,
# nor a newline or a byte that is not UTF-8 break it.
weird="$t/a*/b
c$(printf '\377')"
mkdir -p "$weird"
cp samples/mlp.nn "$weird/m.nn"
printf '#include "m.h"\nint main(void) { return 0; }\n' > "$weird/main.c"
expect "a source path holding */, a newline and 0xff: the header compiles" \
    sh -c "'$nnc' \"\$1/m.nn\" && head -1 \"\$1/m.h\" | grep -q '^/\\*.*do not edit\\. \\*/\$' && cc -std=c11 -Wall -Werror -Iruntime -I\"\$1\" -c \"\$1/main.c\" -o '$t/w.o'" sh "$weird"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
