/*
 * Exit statistics.
 *
 * Each vCPU counts its own exits (no sharing on the hot path); the VM sums
 * them when a vCPU is destroyed or a report is asked for. Counts are by exit
 * kind and by device, with total handling time in nanoseconds (time spent
 * from the exit's arrival in vmio to its completion, device call included),
 * and for devices the longest handling time and a latency histogram (powers
 * of two of the VM's time unit, `unit_ns` nanoseconds each: a TSC tick on
 * x86-64 hosts with an invariant TSC, else 1 ns) from which
 * vmio_stat_percentile_ns() gives p50 and p99. Accesses handled while
 * timing is off (vmio_vm_set_timing()) are counted, with no time and
 * outside the histogram.
 */
#ifndef VMIO_STATS_H
#define VMIO_STATS_H

#include <stdint.h>
#include <stdio.h>

enum vmio_stat_kind {
    VMIO_STAT_MMIO_READ = 0,
    VMIO_STAT_MMIO_WRITE,
    VMIO_STAT_PIO_IN,
    VMIO_STAT_PIO_OUT,
    VMIO_STAT_SYSREG_READ,  /* x86 RDMSR (arm64 MRS) of a device's system register */
    VMIO_STAT_SYSREG_WRITE, /* x86 WRMSR (arm64 MSR) */
    VMIO_STAT_COALESCED_WRITE, /* writes the hypervisor buffered: accesses, never exits */
    VMIO_STAT_UNCLAIMED_READ,
    VMIO_STAT_UNCLAIMED_WRITE,
    VMIO_STAT_HLT,
    VMIO_STAT_OTHER,
    VMIO_STAT_NKINDS
};

/* Histogram buckets: bucket b > 0 counts times t with 2^(b-1) <= t < 2^b units (the last: t >=
 * 2^30). */
#define VMIO_STAT_HIST_BUCKETS 32

struct vmio_stat_counter {
    uint64_t count;    /* exits (a string I/O exit counts once; a buffered write is no exit) */
    uint64_t elements; /* accesses delivered (several for string I/O; buffered writes too) */
    uint64_t ns;                           /* total handling time */
    uint64_t max_ns;                       /* longest handling time (devices only) */
    uint64_t hist[VMIO_STAT_HIST_BUCKETS]; /* handling times by bucket (devices only) */
};

#define VMIO_STATS_MAX_DEVICES 256

struct vmio_stats {
    double unit_ns; /* nanoseconds per histogram unit */
    struct vmio_stat_counter kind[VMIO_STAT_NKINDS];
    struct vmio_stat_counter device[VMIO_STATS_MAX_DEVICES]; /* by vmio_device.id */
};

struct vmio_vm;

/* vmio_stat_kind_name - stable name of a kind ("mmio_read", ...). */
const char *vmio_stat_kind_name(enum vmio_stat_kind kind);

/*
 * vmio_stats_add - *dst += *src, counter by counter (max: the larger). Both
 * must be in the same unit (as vmio_vm_stats() and vmio_vcpu_stats() give
 * them for one VM).
 */
void vmio_stats_add(struct vmio_stats *dst, const struct vmio_stats *src);

/*
 * vmio_stat_percentile_ns - an upper bound, in ns, of the @p-th percentile
 * (0 < p <= 100) of @c's handling times: the top of the histogram bucket that
 * holds it, clipped to max_ns; 0 with no accesses. @unit_ns: the stats' unit.
 */
double vmio_stat_percentile_ns(const struct vmio_stat_counter *c, double unit_ns, double p);

/*
 * vmio_vm_stats - the VM's totals: destroyed vCPUs plus live ones (live
 * vCPUs' numbers are read without synchronisation; call when they are
 * stopped for exact figures). Copies into *@out.
 */
void vmio_vm_stats(struct vmio_vm *vm, struct vmio_stats *out);

/*
 * vmio_stats_print - table of @stats for @vm's devices to @out.
 * vmio_stats_write_json - the same as one JSON object.
 */
void vmio_stats_print(struct vmio_vm *vm, const struct vmio_stats *stats, FILE *out);
void vmio_stats_write_json(struct vmio_vm *vm, const struct vmio_stats *stats, FILE *out);

#endif
