/*
 * peak.h: the machine's limit, measured in the benchmark itself (peak.c),
 * for thread_bench.c and products_bench.c.  Built with -march=native and
 * -ffp-contract=fast, so that a * b + c is one vector FMA.
 */
#ifndef BENCH_PEAK_H
#define BENCH_PEAK_H

/* Independent chains of 16-lane FMAs a thread: an FMA's latency times its
 * throughput on these machines. */
enum { PEAK_CHAINS = 12 };

/* The f32 FLOP/s of k threads (at most 8) running PEAK_CHAINS FMA chains
 * each at once, summed: on a machine whose CPUs share cores (SMT, or a
 * virtual machine's), or that is busy, less than k times one. */
double fma_peak(int k);

#endif
