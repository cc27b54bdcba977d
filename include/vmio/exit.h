/*
 * The arch-neutral exit record.
 *
 * Every reason a vCPU stops running guest code is translated, by the backend
 * (KVM) or by an instruction decoder, into one `struct vmio_exit`. The run loop
 * dispatches I/O exits to devices and completes them; every other exit is
 * handed to the caller of vmio_vcpu_run() with a description in words.
 *
 * This header includes no OS or KVM header so that the decoders, which fill
 * `struct vmio_access`, can be reused by a bare-metal hypervisor.
 */
#ifndef VMIO_EXIT_H
#define VMIO_EXIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Address spaces an access can target. */
enum vmio_space {
    VMIO_SPACE_MMIO = 0,   /* guest-physical address, 64 bits */
    VMIO_SPACE_PIO = 1,    /* x86 I/O port, 16 bits */
    VMIO_SPACE_SYSREG = 2, /* system register (arm64 MSR/MRS), encoded id */
};

enum vmio_dir {
    VMIO_READ = 0,
    VMIO_WRITE = 1,
};

/*
 * One guest access to a device address.
 *
 * Invariants: width is 1, 2, 4 or 8; count >= 1; for count == 1 the value is
 * in `data` (low `width` bytes). For string port I/O (count > 1) the elements
 * live in `buf`, `count * width` bytes, and are processed in order. Records
 * made by a backend also set `buf` for count == 1: it is where a read result
 * is stored to complete the access. `buf` is owned by whoever produced the
 * record (the backend's shared run page); decoders leave it NULL.
 *
 * reg/reg_width/sign_extend describe where a read result goes when the access
 * came from an instruction decoder; backends that complete reads themselves
 * (KVM) leave reg = VMIO_REG_NONE.
 */
#define VMIO_REG_NONE 0xff

struct vmio_access {
    uint8_t space;     /* enum vmio_space */
    uint8_t dir;       /* enum vmio_dir */
    uint8_t width;     /* bytes per element: 1, 2, 4 or 8 */
    uint8_t reg;       /* destination (read) or source (write) register, or VMIO_REG_NONE */
    uint8_t reg_width; /* width in bytes of the register operand, 0 if unknown */
    bool sign_extend;  /* read result is sign-extended into the register */
    uint32_t count;    /* repetitions (string I/O); >= 1 */
    uint64_t addr;     /* guest-physical address, port number or sysreg id */
    uint64_t data;     /* write value, or read result once completed (count == 1) */
    uint8_t *buf;      /* elements (count > 1) or completion buffer; see above */
};

/* Why vmio_vcpu_run() returned. */
enum vmio_exit_reason {
    VMIO_EXIT_IO = 0,         /* an access (only seen by callers of the raw backend) */
    VMIO_EXIT_HLT,            /* guest executed HLT (never with the in-kernel irqchip) */
    VMIO_EXIT_SHUTDOWN,       /* triple fault or similar: the guest is dead */
    VMIO_EXIT_RESET,          /* guest asked for a system reset (ACPI, port 0x92, i8042, PSCI) */
    VMIO_EXIT_DEBUG_EXIT,     /* guest wrote the debug-exit port; code = value written */
    VMIO_EXIT_INTERNAL_ERROR, /* KVM could not handle something; code = suberror */
    VMIO_EXIT_FAIL_ENTRY,     /* VM entry failed; code = hardware entry failure reason */
    VMIO_EXIT_UNCLAIMED,      /* strict policy: access no device claims; see access */
    VMIO_EXIT_DEVICE_ERROR,   /* a device callback returned an error; see access */
    VMIO_EXIT_INTR,           /* stopped by vmio_vcpu_kick() (other signals re-enter) */
    VMIO_EXIT_HOST_ERROR,     /* a host system call failed; code = -errno */
    VMIO_EXIT_UNKNOWN,        /* an exit vmio does not know; code = raw reason */
    VMIO_EXIT_POWEROFF,       /* guest asked to be switched off (ACPI S5, PSCI SYSTEM_OFF) */
    /*
     * AArch64: a data abort on a device address whose syndrome does not
     * describe the access (ISV=0: load/store pair, writeback forms). code =
     * the ESR (EC, IL and KVM's ISS: WnR, CM, FSC), access.addr = the faulting
     * IPA. The run loop emulates it from the instruction (docs/arm64.md) and
     * returns it only when it cannot (the log stream says why).
     */
    VMIO_EXIT_ARM_NISV,
};

struct vmio_exit {
    enum vmio_exit_reason reason;
    struct vmio_access access; /* valid for IO, UNCLAIMED, DEVICE_ERROR */
    uint64_t ip;               /* guest instruction pointer at the exit, if known */
    uint64_t code;             /* reason-specific value, see enum vmio_exit_reason */
    const char *device;        /* device name for DEVICE_ERROR / DEBUG_EXIT, else NULL */
};

/*
 * vmio_exit_reason_name - short stable name of @reason ("hlt", "shutdown", ...).
 * Returns a static string; never NULL.
 */
const char *vmio_exit_reason_name(enum vmio_exit_reason reason);

/*
 * vmio_exit_describe - write a one-line human-readable description of @exit
 * into @buf (size @size, always NUL-terminated when size > 0), e.g.
 * "unclaimed MMIO read of 4 bytes at 0xd0001000 (rip 0x100234)".
 * Returns the length the full description needs, like snprintf.
 */
int vmio_exit_describe(const struct vmio_exit *exit, char *buf, size_t size);

/* vmio_space_name - "mmio", "pio" or "sysreg". */
const char *vmio_space_name(enum vmio_space space);

#endif
