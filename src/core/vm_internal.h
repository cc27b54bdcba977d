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
#include "core/timing.h"
#include "vmio/ratelimit.h"
#include "vmio/stats.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define VMIO_MAX_RAM_REGIONS 4
#define VMIO_MAX_VCPUS 64
#define VMIO_MAX_COALESCE_ZONES 32

/* A range whose guest writes the backend buffers (vmio_vm_coalesce()). */
struct vm_coalesce_zone {
    enum vmio_space space;
    uint64_t base, len;
};

/* Host memory the VM munmap()s when destroyed (its RAM, VMIO_MAP_OWNED mappings). */
struct vmio_vm_owned {
    void *host;
    uint64_t size;
};

struct vmio_vm {
    struct vmio_backend_vm *hv; /* the backend's VM */
    struct vmio_bus *mmio;
    struct vmio_bus *pio;
    struct vmio_bus *sysreg;    /* system registers (x86 MSRs) */
    struct vmio_guest_mem *mem; /* RAM and pass-through regions, fixed before vCPUs run */
    unsigned nram;              /* RAM regions in mem */
    unsigned next_slot;         /* next free memory slot */
    struct vmio_vm_owned *owned;
    unsigned nowned;
    enum vmio_unclaimed_policy policy;
    FILE *log;
    FILE *trace;
    bool timing;              /* measure handling time (vmio_vm_set_timing()) */
    struct vmio_timing clock; /* handling-time units (core/timing.h) */

    pthread_mutex_t lock;         /* devices[], vcpus[], stats_done */
    struct vmio_device **devices; /* owned, destroyed once, by id */
    unsigned ndevices;
    struct vmio_vcpu *vcpus[VMIO_MAX_VCPUS];
    struct vmio_stats stats_done; /* folded in from destroyed vCPUs */

    unsigned cpus;                /* vmio_vm_options.cpus, at least 1 */
    struct vm_watchdog *watchdog; /* core/watchdog.c; NULL when none runs */
    atomic_int power_event;       /* 0, or the first enum vmio_power_event requested */

    /*
     * Coalesced writes (core/coalesce.c). Zones change under `lock`;
     * `drain_lock` makes one thread at a time take buffered writes from the
     * backend and deliver them, so each reaches its device once and in the
     * guest's order. Once a zone has existed (`drain`, never cleared: writes
     * buffered before a zone's removal must still arrive), the run loop
     * drains after every exit, so a buffered write reaches its device
     * before anything the guest did after it.
     */
    pthread_mutex_t drain_lock;
    atomic_bool drain;
    unsigned ncoalesce;
    struct vm_coalesce_zone zones[VMIO_MAX_COALESCE_ZONES];

    /* Rate limits of the unclaimed-access log lines (vmio/ratelimit.h), on `clock`. */
    struct vmio_log_limits log_limits;
    /* Trace lines to a terminal: trace_limit points at trace_tty_limit; NULL (a file, a
     * pipe: the trace is complete) otherwise. Set with the trace, before vCPUs run. */
    struct vmio_ratelimit *trace_limit;
    struct vmio_ratelimit trace_tty_limit;

    /* Interrupts: fixed at creation. */
    bool irqchip;
    bool pit;
    unsigned irq_lines;                             /* vmio_vm_irq_lines() */
    struct vmio_irq_line lines[VMIO_MAX_IRQ_LINES]; /* vmio_vm_irq_line() */
};

/*
 * vmio_vcpu_stalled - whether @v has been inside one device call for @timeout
 * (time units) at @now, counting from its start or from @floor, whichever is
 * later (time before @floor is not held against the device: the process was
 * not running), and that stall was not reported yet; if so, a copy of the
 * access and when the counted time began, and the stall counts as
 * reported. Any thread (the watchdog's).
 */
bool vmio_vcpu_stalled(struct vmio_vcpu *v, uint64_t now, uint64_t timeout, uint64_t floor,
                       struct vmio_access *a, uint64_t *since);

/*
 * The watchdog's pacing (core/watchdog.c): the wall time of the end of the
 * last scan, and the VM time since which handling time counts against
 * devices (after the process was last held: stopped, traced, suspended).
 * vmio_watchdog_pacer_held(): whether the wall clock moved more than @late_ns
 * from @from_ns to @to_ns (never before a first scan, @from_ns 0), i.e. the
 * watchdog thread, and so the process, was held in between.
 */
struct watchdog_pacer {
    uint64_t last_wall_ns;
    uint64_t resumed;
};
bool vmio_watchdog_pacer_held(uint64_t from_ns, uint64_t to_ns, uint64_t late_ns);

/*
 * vmio_vcpu_nudge - make @v leave the guest if it is inside KVM_RUN (the kick
 * signal without a kick: the run loop re-enters after quiescing its bus
 * readers); nothing when it is not running. Any thread.
 */
void vmio_vcpu_nudge(struct vmio_vcpu *v);

/* vmio_vcpu_current_of - whether the calling thread is running one of @vm's vCPUs. */
bool vmio_vcpu_current_of(struct vmio_vm *vm);

/*
 * vmio_vcpu_add_raw_stats - *@out += @vcpu's counters, times in units of
 * vm->clock (stats.c sums vCPUs with it). Counters of a running vCPU are read
 * without synchronisation.
 */
void vmio_vcpu_add_raw_stats(const struct vmio_vcpu *vcpu, struct vmio_stats *out);

/*
 * vmio_vcpu_note_drain - @vcpu drains the VM's coalesced writes after every
 * exit from now on (vm->drain was just set). Called under vm->lock.
 */
void vmio_vcpu_note_drain(struct vmio_vcpu *vcpu);

/* vmio_stats_to_ns - turn @s's times from units into ns (@unit_ns per unit); sets s->unit_ns. */
void vmio_stats_to_ns(struct vmio_stats *s, double unit_ns);

#endif
