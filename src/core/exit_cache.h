/*
 * The exit cache (internal to src/core): per vCPU and address space, the
 * range the last claimed access hit, resolved ahead of time into what the
 * exit fast path needs (the device's callbacks, a prepared struct vmio_io,
 * its counters), so that another access to the same device costs a range
 * check, one indirect call and a few counter updates (bench/exit_insns.py
 * counts them).
 *
 * Invariants:
 * - An entry is filled only by its vCPU's thread, from a range that thread
 *   found on the bus since its last quiesce, and emptied (end[] 0) whenever the
 *   thread quiesces or leaves vmio_vcpu_run(): like the bus reader's
 *   remembered range, it never outlives the snapshot (and device) it came
 *   from (vmio_bus_synchronize() waits for that quiesce).
 * - Only single accesses (count 1) of width 1, 2, 4 or 8 lying wholly inside
 *   the range take the fast path; system registers and traced VMs never
 *   fill an entry (a register's width is not a span; every traced access
 *   must reach the trace), so they always take the general path.
 * - The entry's io keeps base and space between accesses; the fast path
 *   writes offset, width and stop_reason -1 before each call, so a callback
 *   sees what the general path's fresh io would show (a callback changes
 *   io only through vmio_io_stop(), vmio/device.h).
 * - Counting: the fast path counts into struct exit_counters (per device:
 *   by space and direction, histogram, longest time); everything else counts
 *   into the vCPU's struct vmio_stats. vmio_exit_counters_fold() merges the first
 *   into the second's shape when statistics are read, so the hot path pays
 *   for neither the kind totals nor a histogram clamp.
 */
#ifndef VMIO_CORE_EXIT_CACHE_H
#define VMIO_CORE_EXIT_CACHE_H

#include <stdint.h>

#include "vmio/bus_range.h"
#include "vmio/device.h"
#include "vmio/stats.h"

/* Bucket of t: 0 for t == 0, else floor(log2 t) + 1 (1..64); folded into 32 when read. */
#define EXIT_HIST_BUCKETS 65

/* The spaces an entry can serve (MMIO, PIO) and the index mask of the cache. */
#define EXIT_CACHE_SPACES 4 /* indexed by space & 3: SYSREG's entry and [3] stay empty */

struct exit_counter {
    uint64_t count; /* accesses, each its own exit */
    uint64_t ns;    /* handling time, in the VM's time units */
};

/* One device's fast-path counters. */
struct exit_counters {
    struct exit_counter by[3][2]; /* [enum vmio_space][enum vmio_dir] */
    uint64_t max;                 /* longest handling time */
    uint64_t hist[EXIT_HIST_BUCKETS];
};

struct exit_cache_entry {
    struct vmio_io io; /* first: the entry's address is the callbacks' io */
    uint64_t base;
    uint64_t len;
    /*
     * end[w]: an access of width w (1, 2, 4, 8) at offset off lies inside
     * iff off < end[w], i.e. end[w] = len - w + 1, or 0 when w > len or the
     * entry is empty: one compare instead of two, no wraparound to think of.
     */
    uint64_t end[9];
    struct vmio_device *dev;
    int (*read)(struct vmio_device *dev, struct vmio_io *io, uint64_t *value);
    int (*write)(struct vmio_device *dev, struct vmio_io *io, uint64_t value);
    struct exit_counter *rd, *wr;   /* &counters->by[space][VMIO_READ], [VMIO_WRITE] */
    struct exit_counters *counters; /* the device's */
    char pad[256 - sizeof(struct vmio_io) - 17 * sizeof(uint64_t)]; /* index by a shift */
};
_Static_assert(sizeof(struct exit_cache_entry) == 256, "exit cache entries are 256 bytes");

/*
 * exit_hist_count - count @t in @k's histogram: bucket floor(log2 t) + 1,
 * one BSR (63 ^ clz) with the + 1 folded into the address; no clamp, since
 * EXIT_HIST_BUCKETS covers every t.
 */
static inline void exit_hist_count(struct exit_counters *k, uint64_t t)
{
    if (__builtin_expect(t != 0, 1))
        k->hist[(63 ^ (unsigned)__builtin_clzll(t)) + 1]++;
    else
        k->hist[0]++;
}

/* exit_cache_clear - empty every entry of @cache (no access fits in one). */
static inline void exit_cache_clear(struct exit_cache_entry cache[EXIT_CACHE_SPACES])
{
    for (unsigned i = 0; i < EXIT_CACHE_SPACES; i++)
        for (unsigned w = 0; w < 9; w++)
            cache[i].end[w] = 0;
}

/*
 * vmio_exit_cache_fill - make @cache's entry for @space serve @r (a range found
 * on the bus since the last quiesce), counting into @counters (the vCPU's
 * array of VMIO_STATS_MAX_DEVICES).
 */
void vmio_exit_cache_fill(struct exit_cache_entry cache[EXIT_CACHE_SPACES], unsigned space,
                          const struct vmio_bus_range *r, struct exit_counters *counters);

/*
 * vmio_exit_counters_fold - add the @n devices' fast-path counters @c into @out
 * (device i into out->device[i], each access into its kind's totals too),
 * times in the same units as @c.
 */
void vmio_exit_counters_fold(const struct exit_counters *c, unsigned n, struct vmio_stats *out);

#endif
