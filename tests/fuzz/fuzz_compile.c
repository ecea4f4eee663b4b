/*
 * fuzz_compile.c: a libFuzzer target that runs the whole compiler on
 * arbitrary source text, in memory: parse, check, differentiate, plan,
 * lower to LLVM and run the optimizer, writing no file.  Built with
 * clang-19 -fsanitize=fuzzer,address,undefined (tests/fuzz/fuzz.mk); every
 * input that made it crash stays in tests/fuzz/regressions, which make check
 * replays, and, when the fix is a diagnostic, in tests/errors as well.
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
        /* A tenth of the work budget: a compile that spends all of it takes
         * about 1 s in a release build but 10 to 15 s under this build's
         * instrumentation, which would pass for a hang (-timeout) and slow
         * the search. */
        Options opt = {.input = "fuzz.nn", .opt_level = 1, .lower_only = true,
                       .max_work = NNC_DEFAULT_MAX_WORK / 10};
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
