/*
 * Access dispatch: the backend-independent heart of the run loop.
 *
 * vmio_dispatch() takes one access (from KVM, or from an instruction decoder
 * in a hypervisor that traps memory accesses itself), finds the device that
 * owns it on the right bus, calls the device once per element, stores read
 * results, and applies the unclaimed-access policy. It needs no KVM and is
 * what the unit tests drive.
 */
#ifndef VMIO_DISPATCH_H
#define VMIO_DISPATCH_H

#include <stdio.h>

#include "vmio/bus.h"
#include "vmio/exit.h"
#include "vmio/ratelimit.h"
#include "vmio/vm.h"

struct vmio_dispatcher {
    const struct vmio_bus *mmio;
    const struct vmio_bus *pio;
    /*
     * Optional: the calling thread's readers of those buses (the run loop's);
     * lookups then go through vmio_bus_reader_lookup(), which remembers the
     * last range found. NULL: plain vmio_bus_lookup().
     */
    struct vmio_bus_reader *mmio_reader;
    struct vmio_bus_reader *pio_reader;
    /* Optional: system registers (x86 MSRs), and the thread's reader of that bus. */
    const struct vmio_bus *sysreg;
    struct vmio_bus_reader *sysreg_reader;
    enum vmio_unclaimed_policy policy;
    FILE *log; /* LOG policy output; NULL = stderr */
    /* Optional: fetch the guest instruction pointer for reports (may be NULL). */
    uint64_t (*get_ip)(void *ctx);
    /*
     * Optional: describe the instruction that made @exit's access into @buf
     * (appended to LOG lines, e.g. " insn \"mov eax, dword [rbx]\""); may be
     * NULL. Called only for reports, never on the path of a claimed access.
     */
    void (*describe_insn)(void *ctx, const struct vmio_exit *exit, char *buf, size_t size);
    void *ctx; /* passed to get_ip and describe_insn */
    /*
     * Optional: rate limits of the LOG policy's lines (vmio/ratelimit.h),
     * per device whose window the access starts in and per space for
     * accesses in no window; NULL prints every line. A VM passes its own.
     */
    struct vmio_log_limits *limits;
};

/*
 * vmio_dispatch - deliver @exit's access (exit->reason must be VMIO_EXIT_IO).
 * @d:       buses and policy.
 * @exit:    the access; on return, reads are completed (access.data for
 *           count == 1, and access.buf when it is non-NULL). When the access
 *           cannot be completed, exit->reason says why (UNCLAIMED under the
 *           strict policy, DEBUG_EXIT when a device asked to stop,
 *           DEVICE_ERROR when a device failed) and exit->ip is filled in.
 * @claimed: if non-NULL, receives the range that claimed the access or NULL.
 * Returns 0 when the access was completed and the guest may resume, 1 when
 * the caller must stop and report @exit.
 */
int vmio_dispatch(const struct vmio_dispatcher *d, struct vmio_exit *exit,
                  const struct vmio_bus_range **claimed);

#endif
