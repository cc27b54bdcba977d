/*
 * The stall watchdog: naming a device handler that does not return.
 *
 * AxVM's I/O path hangs the VM when a device handler never returns; vmio's
 * cannot prevent a handler from blocking, but it says which one does. Every
 * vCPU publishes, for the access it is handling, when the handling started
 * (the run loop does it on every exit when timing is on, the default); the
 * watchdog, a thread started with vmio_vm_watchdog_start(), looks every
 * period for a vCPU that has been inside one device call for longer than
 * the timeout and reports it once per stall: vCPU, device, access (space,
 * direction, address, width) and how long so far. What happens then is the
 * caller's choice (on_stall): the default logs one line on the VM's log
 * stream; `vmio run --on-stall exit` ends the process with a clear status.
 * vmio_vm_watchdog_check() is one scan, for callers with their own timer
 * and for tests (with a manual clock, time is whatever the test says).
 */
#ifndef VMIO_WATCHDOG_H
#define VMIO_WATCHDOG_H

#include <stdint.h>

#include "vmio/error.h"
#include "vmio/exit.h"

struct vmio_vm;

#define VMIO_WATCHDOG_DEFAULT_TIMEOUT_NS 100000000ULL /* 100 ms */

/* One stalled handler, as reported. */
struct vmio_stall {
    unsigned vcpu;             /* vmio_vcpu_index() of the stuck vCPU */
    const char *device;        /* the device it is inside, or "?" when it cannot be named */
    struct vmio_access access; /* what it is handling (buf not to be used) */
    uint64_t ns;               /* how long the handling has lasted so far */
};

/*
 * A stall callback: called on the watchdog's thread (or vmio_vm_watchdog_
 * check()'s caller), once per stall. It must not call back into the stuck
 * device; it may log, stop the VM, or end the process.
 */
typedef void (*vmio_stall_fn)(void *ctx, const struct vmio_stall *stall);

struct vmio_watchdog_options {
    uint64_t timeout_ns;    /* a handler running longer is stalled; 0: 100 ms */
    uint64_t period_ns;     /* time between scans; 0: a quarter of the timeout */
    vmio_stall_fn on_stall; /* NULL: vmio_stall_log() to the VM's log stream */
    void *ctx;
};

/*
 * vmio_vm_watchdog_check - one scan of @vm's vCPUs: report (on_stall, or
 * vmio_stall_log() when NULL) each vCPU inside a device call for longer than
 * @timeout_ns that was not reported yet. Returns the number reported. Any
 * thread; needs timing on (vmio_vm_set_timing(), the default).
 */
unsigned vmio_vm_watchdog_check(struct vmio_vm *vm, uint64_t timeout_ns, vmio_stall_fn on_stall,
                                void *ctx);

/*
 * vmio_vm_watchdog_start - run vmio_vm_watchdog_check() every period on a
 * thread of its own until vmio_vm_watchdog_stop() or vmio_vm_destroy().
 * @opts may be NULL (defaults). Errors: -EEXIST when one runs already,
 * -EAGAIN when the thread cannot be created.
 */
int vmio_vm_watchdog_start(struct vmio_vm *vm, const struct vmio_watchdog_options *opts,
                           struct vmio_error *err);

/* vmio_vm_watchdog_stop - stop and join @vm's watchdog thread, if any. */
void vmio_vm_watchdog_stop(struct vmio_vm *vm);

/* vmio_stall_log - the default report: one "vmio: watchdog: ..." line on @ctx (a FILE *). */
void vmio_stall_log(void *ctx, const struct vmio_stall *stall);

#endif
