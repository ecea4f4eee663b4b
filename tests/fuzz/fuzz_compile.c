/*
 * fuzz_compile.c: a libFuzzer target that runs the whole compiler on
 * arbitrary source text, in memory: parse, check, differentiate, plan,
 * lower to LLVM and run the optimizer, writing no file.  Built with
 * clang-19 -fsanitize=fuzzer,address,undefined by `make fuzz`; every crash
 * it finds becomes a file in tests/errors (a golden diagnostic) or a unit
 * test.
 */
#include "nnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    diag_out = devnull;
    diag_reset();
    Source *src = source_from_string("fuzz.nn", (const char *)data, size);
    Stmt *prog = parse_source(src);
    if (!diag_errors) {
        Options opt = {.input = "fuzz.nn", .opt_level = 1, .lower_only = true};
        Model *m = sema_model(prog, src, &opt);
        if (!diag_errors) {
            autodiff(m);
            layout_model(m);
            codegen(m, &opt, NULL);
        }
    }
    outputs_abort();
    arena_free_all();
    return 0;
}
