/*
 * Handling-time measurement on the exit path (internal to src/core).
 *
 * Two clock reads per exit are the price of per-exit statistics, latency
 * histograms and the stall watchdog, so they must be cheap: on x86-64 hosts
 * with an invariant TSC or whose kernel keeps time with the TSC (so it
 * found the TSC constant and synchronised across CPUs), and when the VM was
 * given no clock of its own, the
 * time unit is a TSC tick (RDTSC, a few cycles, no system call, no vDSO);
 * otherwise it is a nanosecond of the VM's clock (vmio_vm_options.clock, the
 * system clock by default; tests inject a manual one). Units become
 * nanoseconds only when reported: vmio_timing_unit_ns() measures the TSC against
 * the monotonic clock over the whole life of the VM so far (a baseline of
 * seconds, so the ratio is exact to far below the noise of what it scales).
 *
 * Invariant: within one VM, every timestamp and duration is in the same unit.
 */
#ifndef VMIO_CORE_TIMING_H
#define VMIO_CORE_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/clock.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

struct vmio_timing {
    bool tsc;                       /* units are TSC ticks */
    const struct vmio_clock *clock; /* else units are this clock's ns (NULL: system) */
    uint64_t tsc0, mono0;           /* a (TSC, monotonic ns) pair taken at creation */
};

/* vmio_timing_init - TSC units when @clock is NULL and the TSC is invariant, else @clock's ns. */
void vmio_timing_init(struct vmio_timing *t, const struct vmio_clock *clock);

/*
 * How the run loop reads time, fixed for one vmio_vcpu_run() so that the
 * loop can be compiled once per mode with no test of it per exit.
 */
enum timing_mode {
    TIMING_OFF,   /* vmio_vm_set_timing(vm, false): no handling time, no watchdog stamps */
    TIMING_TSC,   /* RDTSC */
    TIMING_CLOCK, /* the VM's clock */
};

/* timing_mode_of - the mode of @t when timing is @on. */
static inline enum timing_mode timing_mode_of(const struct vmio_timing *t, bool on)
{
    return !on ? TIMING_OFF : t->tsc ? TIMING_TSC : TIMING_CLOCK;
}

/* timing_now_as - timing_now() for a mode known at compile time (not TIMING_OFF). */
static inline uint64_t timing_now_as(const struct vmio_timing *t, enum timing_mode mode)
{
#if defined(__x86_64__)
    if (mode == TIMING_TSC)
        return __rdtsc();
#endif
    (void)mode;
    return vmio_clock_now(t->clock);
}

/* timing_now - a timestamp in @t's units (the mode read at each call). */
static inline uint64_t timing_now(const struct vmio_timing *t)
{
    return timing_now_as(t, timing_mode_of(t, true));
}

/* vmio_timing_unit_ns - nanoseconds per unit (1.0 unless TSC units). */
double vmio_timing_unit_ns(const struct vmio_timing *t);

#endif
