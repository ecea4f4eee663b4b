#!/bin/sh
# gen_model.sh N: print a model of about N statements, for bench/run.sh's
# measurement of compile time against model size.  Blocks of five
# statements, each kind the front end handles: a const, a fn, a call, an
# assignment and a loop; the model trains one param, so backward and
# train_step grow with it too.  (tests/unit/test_compiler.c generates the
# same shape.)
#   bench/gen_model.sh 200000 > big.nn
awk -v n="${1:?N}" 'BEGIN {
    print "input x : f32[4]"; print "param w : f32[4]"; print "h0 = x * w"
    i = 1
    for (k = 3; k + 5 <= n - 2; k += 5) {
        printf "const k%d = %d\n", i, i % 7 + 1
        printf "fn g%d(a) = a * k%d + x\n", i, i
        printf "t%d = g%d(h%d)\n", i, i, i - 1
        printf "h%d = tanh(t%d) * 0.5 + t%d\n", i, i, i
        printf "for j in 0..2 { u%d = h%d * j }\n", i, i
        i++
    }
    printf "J = sum(h%d)\nminimize J\noptimizer sgd(lr = 0.01)\n", i - 1
}'
