/*
 * cpu.c: which of the generated matrix products' code paths this CPU runs.
 *
 * An object compiled without --cpu holds its entry points, products and
 * large kernels for three x86-64 levels (compiler/codegen.h): the baseline
 * (SSE2), x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512), and takes the
 * highest this CPU supports at its first call, as glibc's ifuncs and
 * OpenBLAS's dynamic architecture choose at load time.  NNRT_CPU_LEVEL (1 to 4) caps the level, to test
 * each path on one machine; it cannot raise it.
 */
#include <stdlib.h>

#include "nnrt.h"

int nnrt_cpu_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    int level = __builtin_cpu_supports("x86-64-v4")   ? 4
                : __builtin_cpu_supports("x86-64-v3") ? 3
                : __builtin_cpu_supports("x86-64-v2") ? 2
                                                      : 1;
    const char *cap = getenv("NNRT_CPU_LEVEL");
    if (cap && cap[0] >= '1' && cap[0] <= '4' && cap[1] == '\0' && cap[0] - '0' < level)
        level = cap[0] - '0';
    return level;
#else
    return 0;
#endif
}
