/*
 * Shared helpers of vmio's benchmarks (the bench programs): clocks, CPU time,
 * medians, and where a benchmark writes its JSON object.
 *
 * Invariants: benchmarks print tables to stdout and exactly one JSON object
 * to the stream bench_json_open() returns; they never decide pass or fail
 * (a non-zero exit status means the benchmark could not run at all).
 */
#ifndef VMIO_BENCH_COMMON_H
#define VMIO_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/device.h"

/* bench_now_ns - CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * CPU time of the calling thread in ns: total from CLOCK_THREAD_CPUTIME_ID
 * (exact), user and system from getrusage(RUSAGE_THREAD) (the kernel splits
 * them by tick sampling and refreshes them only at ticks, so they are coarse:
 * use them over long intervals only).
 */
struct bench_cpu {
    uint64_t total_ns;
    uint64_t user_ns;
    uint64_t sys_ns;
};
void bench_thread_cpu(struct bench_cpu *out);

/*
 * bench_median - median of @v[0..@n) (sorts @v in place); 0 for n == 0.
 * bench_min / bench_max - smallest / largest value; 0 for n == 0.
 */
double bench_median(double *v, size_t n);
double bench_min(const double *v, size_t n);
double bench_max(const double *v, size_t n);

/*
 * bench_json_open - where this benchmark's JSON object goes: the file named
 * by `--json PATH` in @argv (the argument pair is removed from argv and
 * *@argc), else the file named by the VMIO_BENCH_JSON environment variable
 * (set by bench/run_benches.py), else stdout. Returns NULL (with a message
 * on stderr) when the file cannot be opened. Close with bench_json_close().
 */
FILE *bench_json_open(int *argc, char **argv);
void bench_json_close(FILE *f);

/* bench_json_doubles - write @n values as a JSON array (no trailing newline). */
void bench_json_doubles(FILE *f, const double *v, size_t n);

/* bench_json_number - write @x as a JSON number, or null when it is not finite. */
void bench_json_number(FILE *f, double x);

/*
 * The benchmarks' trivial device: a write adds the value to `sum`, a read
 * returns the offset. bench_sum_ops.destroy free()s a calloc'd bench_sum_dev
 * (arrays of them are simply never destroyed).
 */
struct bench_sum_dev {
    struct vmio_device dev;
    uint64_t sum;
};
extern const struct vmio_device_ops bench_sum_ops;

/* Where the hand-assembled guest loops of exit_bench and io_path_bench run. */
#define BENCH_GUEST_ENTRY 0x10000u

struct vmio_vm;
struct vmio_vcpu;

/*
 * bench_load_guest - copy @code (@len bytes) to BENCH_GUEST_ENTRY in @vm's RAM
 * and point @vcpu at it (RIP there, RFLAGS 0x2, RAX @rax, other registers 0).
 * Errors: -EFAULT when the code does not fit in RAM; the register write's.
 */
int bench_load_guest(struct vmio_vm *vm, struct vmio_vcpu *vcpu, const uint8_t *code, size_t len,
                     uint64_t rax);

#endif
