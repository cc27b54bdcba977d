/*
 * The scripted fake backend: a hypervisor with no guest, for testing
 * everything above the backend (the run loop, kicks, vmio_vm_run(), the
 * unclaimed-access policies, statistics, device models and their interrupt
 * wiring, the trace decoder, vCPU setup) without /dev/kvm. Part of libvmio
 * so that embedders can unit-test their own devices the same way.
 *
 *     struct vmio_fake *fake;
 *     vmio_fake_create(&fake, NULL);
 *     struct vmio_vm_options o = {.backend = vmio_fake_backend(fake)};
 *     vmio_vm_create(&o, &vm, &err);            // the fake's one VM
 *     int s = vmio_fake_push_io(fake, 0, VMIO_SPACE_PIO, VMIO_READ, 4, 0x7008, 0);
 *     vmio_fake_push_kind(fake, 0, VMIO_FAKE_HLT, 0);
 *     vmio_vcpu_create(vm, 0, &vcpu, &err);
 *     vmio_vcpu_run(vcpu, &exit);               // replays the read, returns HLT
 *     vmio_fake_read_value(fake, 0, s, &v);     // what the run loop completed
 *
 * The script: each vCPU index has a queue of steps that vcpu_enter replays
 * in order, one step per enter (vCPU indices, not objects: steps may be
 * queued before the vCPU exists, from any thread, also while it runs).
 * A step becomes the exit KVM would have produced for the same event (the
 * same `struct vmio_exit` the KVM backend fills): an I/O exit, HLT,
 * shutdown, reset, internal error, entry failure, an unknown exit, a host
 * error (vcpu_enter returns the step's code, a -errno), an EINTR with no
 * kick pending, or "block until kicked": the enter sleeps until the
 * immediate-exit flag is set (vmio_vcpu_kick() sets it) and then returns
 * VMIO_EXIT_INTR, the way KVM_RUN does for a halted or spinning vCPU.
 * While the immediate-exit flag is set, an enter returns VMIO_EXIT_INTR at
 * once and replays nothing, as KVM does.
 *
 * When a vCPU's script runs out, every further enter returns
 * VMIO_EXIT_UNKNOWN with code VMIO_FAKE_SCRIPT_END (the run loop hands that
 * to its caller; nothing blocks), and the vCPU's `ran_out` counter grows.
 *
 * Completions: an I/O step's exit points access.buf at the vCPU's fake run
 * page: the elements for a write, VMIO_FAKE_POISON bytes for a read. The
 * bytes the run loop left there are captured when the vCPU next enters (or
 * is destroyed), as KVM would read them, and can be read back per step
 * (vmio_fake_completion(), vmio_fake_read_value()).
 *
 * Machine state it keeps: x86 regs/sregs per vCPU index (a PC's reset state
 * until set: CS 0xf000 with base 0xffff0000, RIP 0xfff0, CR0 0x60000010), a
 * step's `ip` (when non-zero) becomes RIP at that exit, and exit->ip carries
 * RIP when sync regs are on (as KVM's sync regs do); MP state per vCPU
 * (VMIO_MP_RUNNABLE until set); memory slots (KVM's rules: 4 KiB aligned,
 * no overlap, size 0 deletes); the irqchip and PIT flags; and per GSI the
 * line level, the number of calls and of rising edges. Any backend
 * operation can be made to fail once (vmio_fake_fail()).
 *
 * Exit-less notifications, as KVM does them: the fake records the
 * ioeventfds and irqfds the VM registers. An I/O write step that matches an
 * ioeventfd (address, width, and the value with datamatch) signals its
 * eventfd and produces no exit: the enter goes on to the next step (the
 * step counts as replayed, and its completion holds the written bytes). An
 * irqfd fires when the test says the hypervisor would look at it
 * (vmio_fake_irqfd_poll(): each signalled irqfd raises its GSI, and a
 * resampling one holds it high); vmio_fake_eoi() is the guest's EOI: the
 * line goes low and the resample eventfd is signalled.
 *
 * Ownership and threads: the test owns the fake (vmio_fake_destroy(), after
 * the VM made from it is destroyed). One fake is one VM: a second
 * vmio_vm_create() on it fails with -EBUSY until the first VM is
 * destroyed. Everything here is thread-safe (one mutex per fake): scripts
 * may be pushed and state read while vCPU threads run, and kicks arrive
 * from any thread as they do with KVM. Recorded state survives the VM and
 * its vCPUs, so tests read it after tearing them down.
 */
#ifndef VMIO_BACKEND_FAKE_H
#define VMIO_BACKEND_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/backend.h"
#include "vmio/bus_range.h"
#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/x86.h"

struct vmio_fake;

#define VMIO_FAKE_MAX_VCPUS 64
#define VMIO_FAKE_MAX_SLOTS 32
#define VMIO_FAKE_GSIS 24     /* GSIs irq_line accepts by default (KVM's x86 routing) */
#define VMIO_FAKE_MAX_GSIS 64 /* the most vmio_fake_set_irq_lines() allows */
#define VMIO_FAKE_IO_MAX 4096 /* bytes of one I/O step (count * width), as a run page */
#define VMIO_FAKE_POISON 0xa5 /* what a read's buffer holds before the run loop completes it */
#define VMIO_FAKE_SCRIPT_END 0xe0f5cULL /* exit->code of VMIO_EXIT_UNKNOWN: the script ran out */
#define VMIO_FAKE_MAX_IOEVENTFDS 64

/* What a step makes vcpu_enter do. */
enum vmio_fake_kind {
    VMIO_FAKE_IO = 0,         /* an I/O exit: see vmio_fake_step.access */
    VMIO_FAKE_HLT,            /* VMIO_EXIT_HLT */
    VMIO_FAKE_SHUTDOWN,       /* VMIO_EXIT_SHUTDOWN, code = step code */
    VMIO_FAKE_RESET,          /* VMIO_EXIT_RESET, code = step code */
    VMIO_FAKE_INTERNAL_ERROR, /* VMIO_EXIT_INTERNAL_ERROR, code = suberror */
    VMIO_FAKE_FAIL_ENTRY,     /* VMIO_EXIT_FAIL_ENTRY, code = hardware reason */
    VMIO_FAKE_UNKNOWN,        /* VMIO_EXIT_UNKNOWN, code = raw reason */
    VMIO_FAKE_HOST_ERROR,     /* enter returns code (a negative errno): VMIO_EXIT_HOST_ERROR */
    VMIO_FAKE_EINTR,          /* VMIO_EXIT_INTR with no kick pending (a stray signal) */
    VMIO_FAKE_BLOCK,          /* sleep until the immediate-exit flag is set, then VMIO_EXIT_INTR */
    /* VMIO_EXIT_ARM_NISV: an AArch64 abort without syndrome; code = ESR, access.addr = IPA */
    VMIO_FAKE_ARM_NISV,
    VMIO_FAKE_NKINDS
};

/* One scripted step. */
struct vmio_fake_step {
    enum vmio_fake_kind kind;
    /*
     * VMIO_FAKE_IO: space (MMIO, PIO or SYSREG), dir, width (MMIO 1..8, PIO 1/2/4, SYSREG 8),
     * count (0 means 1; MMIO always 1), addr, and for a single write `data`
     * (its low `width` bytes are what the guest wrote). For a string write
     * (count > 1) `buf` points at the count * width bytes of the elements,
     * copied when the step is pushed. reg, reg_width and sign_extend are
     * ignored (the exit says VMIO_REG_NONE, as from KVM).
     */
    struct vmio_access access;
    uint64_t code; /* see enum vmio_fake_kind */
    uint64_t ip;   /* non-zero: the guest RIP at this exit (set in the vCPU's regs) */
};

/*
 * vmio_fake_create - a new fake hypervisor in *@out, with empty scripts.
 * Errors: -ENOMEM. The caller owns it (vmio_fake_destroy()).
 */
int vmio_fake_create(struct vmio_fake **out, struct vmio_error *err);

/*
 * vmio_fake_destroy - free @fake (may be NULL) and everything it recorded.
 * The VM made from it must be destroyed first.
 */
void vmio_fake_destroy(struct vmio_fake *fake);

/* vmio_fake_backend - @fake as the backend to put in vmio_vm_options.backend. */
struct vmio_backend *vmio_fake_backend(struct vmio_fake *fake);

/*
 * vmio_fake_push - append a copy of *@step to vCPU @cpu's script.
 * Returns the step's number in that script (0, 1, ...: what the readers
 * below take), or -EINVAL for @cpu >= VMIO_FAKE_MAX_VCPUS, an unknown kind,
 * or an I/O step with a space, width or count the backend could not produce
 * (count * width beyond VMIO_FAKE_IO_MAX, a string write without buf);
 * -ENOMEM.
 */
int vmio_fake_push(struct vmio_fake *fake, unsigned cpu, const struct vmio_fake_step *step);

/*
 * vmio_fake_push_io - vmio_fake_push() of one single access (count 1): @data
 * is the written value (ignored for a read). Returns as vmio_fake_push().
 */
int vmio_fake_push_io(struct vmio_fake *fake, unsigned cpu, enum vmio_space space,
                      enum vmio_dir dir, unsigned width, uint64_t addr, uint64_t data);

/* vmio_fake_push_kind - vmio_fake_push() of a step of @kind with @code (not IO). */
int vmio_fake_push_kind(struct vmio_fake *fake, unsigned cpu, enum vmio_fake_kind kind,
                        uint64_t code);

/*
 * vmio_fake_completion - the bytes captured for I/O step @step of vCPU @cpu
 * (count * width of them: what the run loop stored for a read, the elements
 * for a write) into @buf (at most @size). Returns the number of bytes the
 * completion has; -EINVAL for a bad @cpu or a step that is not I/O;
 * -ENOENT when there is no such step or it has not been replayed;
 * -EAGAIN when it was replayed but the vCPU has not entered again (nor been
 * destroyed) since, so nothing is captured yet.
 */
int vmio_fake_completion(struct vmio_fake *fake, unsigned cpu, unsigned step, void *buf,
                         size_t size);

/*
 * vmio_fake_read_value - the completion of I/O step @step of vCPU @cpu as a
 * little-endian value of its width (count must be 1) in *@value.
 * Errors: those of vmio_fake_completion(); -EINVAL for a string step.
 */
int vmio_fake_read_value(struct vmio_fake *fake, unsigned cpu, unsigned step, uint64_t *value);

/* What the fake knows about one vCPU index. */
struct vmio_fake_cpu_info {
    bool live;           /* a backend vCPU exists for this index */
    bool blocked;        /* inside a VMIO_FAKE_BLOCK step now */
    bool immediate_exit; /* the immediate-exit flag */
    bool sync_regs;
    unsigned steps;               /* steps pushed */
    unsigned replayed;            /* steps replayed */
    unsigned long enters;         /* vcpu_enter calls */
    unsigned long immediate;      /* enters that returned INTR at once for the flag */
    unsigned long ran_out;        /* enters past the end of the script */
    unsigned count;               /* vCPU count given at creation (the topology) */
    unsigned long eventfd_writes; /* write steps consumed by an ioeventfd (no exit) */
    unsigned long faults;         /* system-register accesses refused (vcpu_fault_access) */
};

/* vmio_fake_cpu_info - copy vCPU @cpu's state into *@out. Errors: -EINVAL for a bad @cpu. */
int vmio_fake_cpu_info(struct vmio_fake *fake, unsigned cpu, struct vmio_fake_cpu_info *out);

/*
 * vmio_fake_wait_blocked - wait until vCPU @cpu is blocked in a
 * VMIO_FAKE_BLOCK step (so a kick now exercises the kick-while-blocked
 * path, not the immediate-exit one). Returns 0 once it is, -ENOENT as soon
 * as it is not blocked and no VMIO_FAKE_BLOCK step is left in its script
 * (so it never will be), -EINVAL for a bad @cpu. No timeout: the test
 * harness's timeout catches a vCPU that never gets there.
 */
int vmio_fake_wait_blocked(struct vmio_fake *fake, unsigned cpu);

/* vCPU @cpu's x86 registers (set before it runs, read after); -EINVAL for a bad @cpu. */
int vmio_fake_get_regs(struct vmio_fake *fake, unsigned cpu, struct vmio_x86_regs *regs);
int vmio_fake_set_regs(struct vmio_fake *fake, unsigned cpu, const struct vmio_x86_regs *regs);
int vmio_fake_get_sregs(struct vmio_fake *fake, unsigned cpu, struct vmio_x86_sregs *sregs);
int vmio_fake_set_sregs(struct vmio_fake *fake, unsigned cpu, const struct vmio_x86_sregs *sregs);

/*
 * AArch64 registers of vCPU @cpu (enum vmio_arm64_reg): what the backend's
 * vcpu_get/set_arm64_reg see and change (all 0 until set). The fake offers
 * them on every VM, and irqchip_version reports 3 once the irqchip exists
 * (irqchip_finalize then succeeds; a vmio_fake_fail() of
 * VMIO_FAKE_OP_CREATE_IRQCHIP also fails it once), so vmio's AArch64
 * machine and its ISV=0 path run on it.
 * Errors: -EINVAL for a bad @cpu or @reg.
 */
int vmio_fake_get_arm64_reg(struct vmio_fake *fake, unsigned cpu, unsigned reg, uint64_t *value);
int vmio_fake_set_arm64_reg(struct vmio_fake *fake, unsigned cpu, unsigned reg, uint64_t value);

/* vmio_fake_set_mp_state - what vcpu_mp_state reports for @cpu. Errors: -EINVAL. */
int vmio_fake_set_mp_state(struct vmio_fake *fake, unsigned cpu, unsigned state);

/* A memory slot as the VM set it. */
struct vmio_fake_slot {
    uint64_t gpa;
    uint64_t size;
    void *host;
    bool readonly;
};

/*
 * vmio_fake_slot - slot number @slot into *@out.
 * Errors: -ENOENT when it is not set (never, or deleted), -EINVAL when
 * @slot >= VMIO_FAKE_MAX_SLOTS.
 */
int vmio_fake_slot(struct vmio_fake *fake, unsigned slot, struct vmio_fake_slot *out);

/*
 * vmio_fake_sysreg_exits - the system-register ranges the VM last asked to
 * exit on (set_sysreg_exits): up to @max copied into @out, the count
 * returned; *@unknown (may be NULL): whether unknown registers exit too.
 */
#define VMIO_FAKE_MAX_SYSREG_RANGES 16
unsigned vmio_fake_sysreg_exits(struct vmio_fake *fake, struct vmio_bus_range *out, unsigned max,
                                bool *unknown);

/*
 * Coalesced writes, as KVM buffers them: the VM's zones (coalesce) and one
 * ring for all vCPUs of VMIO_FAKE_RING_DEFAULT entries. When the step a
 * vCPU is about to replay is a single write wholly inside a zone and the
 * ring has room, the write goes to the ring (its completion is captured at
 * once: the bytes written), the step counts as replayed, and the enter goes
 * on with the next step: no exit, as under KVM. A write that finds the ring
 * full exits as usual. coalesced_pop takes the oldest entry.
 */
#define VMIO_FAKE_MAX_ZONES 64
#define VMIO_FAKE_RING_DEFAULT 8
#define VMIO_FAKE_RING_MAX 256

struct vmio_fake_zone {
    enum vmio_space space;
    uint64_t base, len;
};

struct vmio_fake_coalesce_info {
    unsigned nzones;
    struct vmio_fake_zone zones[VMIO_FAKE_MAX_ZONES];
    unsigned queued;        /* writes in the ring now */
    unsigned long buffered; /* writes ever put in the ring */
    unsigned long popped;   /* writes ever taken out (coalesced_pop) */
};

/* vmio_fake_coalesced - the coalescing state into *@out. */
void vmio_fake_coalesced(struct vmio_fake *fake, struct vmio_fake_coalesce_info *out);

/*
 * vmio_fake_set_ring_size - the ring's capacity, 1..VMIO_FAKE_RING_MAX
 * entries. Errors: -EINVAL out of range, -EBUSY while writes are queued.
 */
int vmio_fake_set_ring_size(struct vmio_fake *fake, unsigned entries);

/* vmio_fake_irqchip - whether the VM created its irqchip; *@pit (may be NULL): and the PIT. */
bool vmio_fake_irqchip(struct vmio_fake *fake, bool *pit);

/* One interrupt line as the VM drove it. */
struct vmio_fake_irq {
    int level;           /* last level set (0 or 1) */
    unsigned long calls; /* irq_line calls that succeeded */
    unsigned long rises; /* of them, 0 -> 1 transitions */
};

/*
 * vmio_fake_set_irq_lines - make the fake's irq_line, irqfd and irq_lines
 * take GSIs 0..@n-1 (default VMIO_FAKE_GSIS), as a backend with more lines
 * (the AArch64 vGIC's SPIs) would. Before the VM is created.
 * Errors: -EINVAL for @n 0 or above VMIO_FAKE_MAX_GSIS, -EBUSY with a VM.
 */
int vmio_fake_set_irq_lines(struct vmio_fake *fake, unsigned n);

/* vmio_fake_irq - GSI @gsi's record into *@out. Errors: -EINVAL for a GSI beyond the lines. */
int vmio_fake_irq(struct vmio_fake *fake, unsigned gsi, struct vmio_fake_irq *out);

/* Backend operations vmio_fake_fail() can make fail. */
enum vmio_fake_op {
    VMIO_FAKE_OP_VM_CREATE = 0,
    VMIO_FAKE_OP_SET_MEMORY,
    VMIO_FAKE_OP_CREATE_IRQCHIP,
    VMIO_FAKE_OP_IRQ_LINE,
    VMIO_FAKE_OP_VCPU_CREATE,
    VMIO_FAKE_OP_SYNC_REGS,
    VMIO_FAKE_OP_MP_STATE,
    VMIO_FAKE_OP_GET_IP,
    VMIO_FAKE_OP_GET_REGS,
    VMIO_FAKE_OP_SET_REGS,
    VMIO_FAKE_OP_GET_SREGS,
    VMIO_FAKE_OP_SET_SREGS,
    VMIO_FAKE_OP_COALESCE,
    VMIO_FAKE_OP_IOEVENTFD,
    VMIO_FAKE_OP_IRQFD,
    VMIO_FAKE_NOPS
};

/*
 * vmio_fake_fail - make the next call of @op fail with @error (a negative
 * errno; 0 cancels), once; operations with an error message say
 * "fake <op> failure". Errors: -EINVAL for an unknown @op or a positive @error.
 */
int vmio_fake_fail(struct vmio_fake *fake, enum vmio_fake_op op, int error);

/* An ioeventfd as the VM registered it. */
struct vmio_fake_ioeventfd {
    int fd;
    enum vmio_space space;
    uint64_t addr;
    unsigned len;
    bool datamatch;
    uint64_t data;      /* with datamatch, masked to len bytes */
    unsigned long hits; /* write steps it consumed */
};

/* vmio_fake_ioeventfd_count - how many ioeventfds the VM has registered now. */
int vmio_fake_ioeventfd_count(struct vmio_fake *fake);

/*
 * vmio_fake_ioeventfd_at - registration @i (0 .. count - 1, in no fixed
 * order once one is removed) into *@out. Errors: -ENOENT beyond the last.
 */
int vmio_fake_ioeventfd_at(struct vmio_fake *fake, unsigned i, struct vmio_fake_ioeventfd *out);

/* The irqfd of one GSI (the fake takes at most one per GSI: -EBUSY for a second). */
struct vmio_fake_irqfd {
    bool assigned;
    int fd;
    int resample_fd;          /* -1: edge (no resampling) */
    unsigned long injections; /* times vmio_fake_irqfd_poll() found it signalled */
    unsigned long eois;       /* vmio_fake_eoi() calls that lowered it */
};

/* vmio_fake_irqfd_get - GSI @gsi's irqfd into *@out. Errors: -EINVAL for a bad @gsi. */
int vmio_fake_irqfd_get(struct vmio_fake *fake, unsigned gsi, struct vmio_fake_irqfd *out);

/*
 * vmio_fake_irqfd_poll - consume every signalled irqfd as the hypervisor
 * would: its GSI rises (recorded in vmio_fake_irq()) and, for a resampling
 * irqfd, stays high until vmio_fake_eoi(); an edge irqfd leaves it low.
 * Returns how many irqfds fired. Any thread.
 */
int vmio_fake_irqfd_poll(struct vmio_fake *fake);

/*
 * vmio_fake_eoi - the guest acknowledged GSI @gsi at the IOAPIC: a
 * resampling irqfd's line goes low and its resample eventfd is signalled.
 * Errors: -EINVAL for a bad @gsi; -ENOENT when no resampling irqfd is on it.
 */
int vmio_fake_eoi(struct vmio_fake *fake, unsigned gsi);

#endif
