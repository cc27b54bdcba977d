/*
 * The VM's internals, shared by vm.c, vcpu.c and stats.c only.
 *
 * Hot-path rule: a vCPU thread only reads fields of struct vmio_vm that are
 * fixed before vCPUs run (buses are themselves lock-free; policy, trace and
 * timing are set up front). Everything a vCPU mutates lives in its own
 * struct vmio_vcpu.
 */
#ifndef VMIO_VM_INTERNAL_H
#define VMIO_VM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmio/backend.h"
#include "vmio/clock.h"
#include "vmio/guest_mem.h"
#include "vmio/ratelimit.h"
#include "vmio/stats.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define VMIO_MAX_RAM_REGIONS 4
#define VMIO_MAX_VCPUS 64

/* Host memory the VM munmap()s when destroyed (its RAM, VMIO_MAP_OWNED mappings). */
struct vmio_vm_owned {
    void *host;
    uint64_t size;
};

struct vmio_vm {
    struct vmio_backend_vm *hv; /* the backend's VM */
    struct vmio_bus *mmio;
    struct vmio_bus *pio;
    struct vmio_guest_mem *mem; /* RAM and pass-through regions, fixed before vCPUs run */
    unsigned nram;              /* RAM regions in mem */
    unsigned next_slot;         /* next free memory slot */
    struct vmio_vm_owned *owned;
    unsigned nowned;
    enum vmio_unclaimed_policy policy;
    FILE *log;
    FILE *trace;
    bool timing;
    const struct vmio_clock *clock; /* handling time; NULL = system (vmio_clock_now()) */

    pthread_mutex_t lock;         /* devices[], vcpus[], stats_done */
    struct vmio_device **devices; /* owned, destroyed once, by id */
    unsigned ndevices;
    struct vmio_vcpu *vcpus[VMIO_MAX_VCPUS];
    struct vmio_stats stats_done; /* folded in from destroyed vCPUs */

    unsigned cpus;          /* vmio_vm_options.cpus, at least 1 */
    atomic_int power_event; /* 0, or the first enum vmio_power_event requested */

    /* Rate limits of the unclaimed-access log lines (vmio/ratelimit.h), on `clock`. */
    struct vmio_log_limits log_limits;
    /* Trace lines to a terminal: trace_limit points at trace_tty_limit; NULL (a file, a
     * pipe: the trace is complete) otherwise. Set with the trace, before vCPUs run. */
    struct vmio_ratelimit *trace_limit;
    struct vmio_ratelimit trace_tty_limit;

    /* Interrupts: fixed at creation. */
    bool irqchip;
    bool pit;
    struct vmio_irq_line lines[VMIO_IRQCHIP_GSIS]; /* vmio_vm_irq_line() */
};

#endif
