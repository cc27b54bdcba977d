/* Names and one-line descriptions of exits (see vmio/exit.h). */
#include <inttypes.h>
#include <stdio.h>

#include "vmio/exit.h"

const char *vmio_exit_reason_name(enum vmio_exit_reason reason)
{
    switch (reason) {
    case VMIO_EXIT_IO:
        return "io";
    case VMIO_EXIT_HLT:
        return "hlt";
    case VMIO_EXIT_SHUTDOWN:
        return "shutdown";
    case VMIO_EXIT_RESET:
        return "reset";
    case VMIO_EXIT_DEBUG_EXIT:
        return "debug-exit";
    case VMIO_EXIT_INTERNAL_ERROR:
        return "internal-error";
    case VMIO_EXIT_FAIL_ENTRY:
        return "fail-entry";
    case VMIO_EXIT_UNCLAIMED:
        return "unclaimed";
    case VMIO_EXIT_DEVICE_ERROR:
        return "device-error";
    case VMIO_EXIT_INTR:
        return "interrupted";
    case VMIO_EXIT_HOST_ERROR:
        return "host-error";
    case VMIO_EXIT_UNKNOWN:
        return "unknown";
    case VMIO_EXIT_POWEROFF:
        return "poweroff";
    case VMIO_EXIT_ARM_NISV:
        return "arm-nisv";
    }
    return "unknown";
}

const char *vmio_space_name(enum vmio_space space)
{
    switch (space) {
    case VMIO_SPACE_MMIO:
        return "mmio";
    case VMIO_SPACE_PIO:
        return "pio";
    case VMIO_SPACE_SYSREG:
        return "sysreg";
    }
    return "?";
}

/* KVM's internal-error suberrors, by number, so this file needs no KVM header. */
static const char *internal_suberror(uint64_t code)
{
    switch (code) {
    case 1:
        return "instruction emulation failed";
    case 2:
        return "simultaneous exceptions";
    case 3:
        return "delivery event failed";
    case 4:
        return "unexpected VM exit during event delivery";
    default:
        return "unknown suberror";
    }
}

static int describe_access(const struct vmio_exit *e, const char *what, char *buf, size_t size)
{
    const struct vmio_access *a = &e->access;
    const char *space = a->space == VMIO_SPACE_PIO ? "port" : vmio_space_name(a->space);
    const char *dir = a->dir == VMIO_WRITE ? "write" : "read";
    char value[48] = "";
    if (a->dir == VMIO_WRITE && a->count == 1)
        snprintf(value, sizeof(value), " value 0x%" PRIx64, a->data);
    char reps[32] = "";
    if (a->count > 1)
        snprintf(reps, sizeof(reps), " x%" PRIu32, a->count);
    return snprintf(buf, size, "%s %s %s of %u bytes%s at 0x%" PRIx64 "%s%s%s (rip 0x%" PRIx64 ")",
                    what, space, dir, a->width, reps, a->addr, value, e->device ? " by " : "",
                    e->device ? e->device : "", e->ip);
}

int vmio_exit_describe(const struct vmio_exit *e, char *buf, size_t size)
{
    switch (e->reason) {
    case VMIO_EXIT_IO:
        return describe_access(e, "unhandled", buf, size);
    case VMIO_EXIT_UNCLAIMED:
        return describe_access(e, "unclaimed", buf, size);
    case VMIO_EXIT_DEVICE_ERROR:
        return describe_access(e, "device error on", buf, size);
    case VMIO_EXIT_HLT:
        return snprintf(buf, size, "guest halted (rip 0x%" PRIx64 ")", e->ip);
    case VMIO_EXIT_SHUTDOWN:
        return snprintf(buf, size, "guest shut down (triple fault?) (rip 0x%" PRIx64 ")", e->ip);
    case VMIO_EXIT_RESET:
        return snprintf(buf, size, "guest requested a reset (rip 0x%" PRIx64 ")", e->ip);
    case VMIO_EXIT_DEBUG_EXIT:
        return snprintf(buf, size, "guest wrote 0x%" PRIx64 " to %s: exit status %" PRIu64, e->code,
                        e->device ? e->device : "debug-exit", (e->code << 1) | 1);
    case VMIO_EXIT_INTERNAL_ERROR:
        return snprintf(buf, size, "KVM internal error %" PRIu64 " (%s) at rip 0x%" PRIx64, e->code,
                        internal_suberror(e->code), e->ip);
    case VMIO_EXIT_FAIL_ENTRY:
        return snprintf(buf, size,
                        "VM entry failed, hardware reason 0x%" PRIx64 " (rip 0x%" PRIx64 ")",
                        e->code, e->ip);
    case VMIO_EXIT_INTR:
        return snprintf(buf, size, "interrupted by a signal");
    case VMIO_EXIT_HOST_ERROR:
        return snprintf(buf, size, "host error: KVM_RUN failed with errno %" PRId64,
                        -(int64_t)e->code);
    case VMIO_EXIT_POWEROFF:
        return snprintf(buf, size, "guest powered off (rip 0x%" PRIx64 ")", e->ip);
    case VMIO_EXIT_ARM_NISV:
        return snprintf(buf, size,
                        "data abort at IPA 0x%" PRIx64 " without a syndrome (ISV=0, ESR 0x%" PRIx64
                        ") that vmio cannot emulate (pc 0x%" PRIx64 ")",
                        e->access.addr, e->code, e->ip);
    case VMIO_EXIT_UNKNOWN:
        break;
    }
    return snprintf(buf, size, "unknown exit reason %" PRIu64 " (rip 0x%" PRIx64 ")", e->code,
                    e->ip);
}
