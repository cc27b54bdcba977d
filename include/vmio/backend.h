/*
 * The hypervisor backend: everything vmio's core (VM, vCPU run loop, trace)
 * asks of the hypervisor, as one table of operations.
 *
 * Three objects, each a small base struct that carries the backend's ops
 * pointer and is embedded first in the backend's own state (the usual C
 * "base struct" pattern: the core holds typed pointers it cannot misuse,
 * the backend recovers its state with a cast, and calling an operation is
 * one load and one indirect call, so the exit hot path pays exactly one
 * indirect call for vcpu_enter):
 *   struct vmio_backend       a hypervisor that creates VMs (KVM: a static
 *                             object, vmio_backend_kvm(); the fake: one per
 *                             test, include/vmio/backend_fake.h)
 *   struct vmio_backend_vm    one VM in it (memory slots, irqchip, irq lines)
 *   struct vmio_backend_vcpu  one vCPU (enter, kicks, registers)
 * A VM is given its backend in vmio_vm_options.backend (NULL = KVM).
 *
 * Contract every backend keeps (the run loop relies on it):
 *   - vcpu_enter() runs the guest until the next exit and fills *exit
 *     completely: reason, code, ip (the guest RIP when sync regs are on,
 *     else 0), device = NULL, and for VMIO_EXIT_IO an access with
 *     reg = VMIO_REG_NONE whose `buf` points at backend-owned storage that
 *     holds the elements of a write and receives the bytes of a read; those
 *     bytes are what the guest sees when it is next entered. `buf` stays
 *     valid until the next vcpu_enter() or vcpu_destroy().
 *   - While the immediate-exit flag is set, vcpu_enter() returns
 *     VMIO_EXIT_INTR without running the guest; setting it (from any
 *     thread) also ends an enter that is blocked (a halted vCPU), together
 *     with the kick signal vmio sends (vmio_vcpu_kick()).
 *   - vcpu_enter() returns 0, or -errno when the host failed (exit->reason
 *     VMIO_EXIT_HOST_ERROR, exit->code the -errno); an interrupted enter is
 *     VMIO_EXIT_INTR with 0.
 *   - Thread rules: one thread at a time per vCPU for everything but
 *     vcpu_set_immediate_exit() and irq_line(), which any thread may call.
 *
 * Mandatory operations: vm_create, vm_destroy, set_memory, vcpu_create,
 * vcpu_destroy, vcpu_enter, vcpu_set_immediate_exit, vcpu_get_ip.
 * Optional operations: a NULL entry means the backend lacks it; the inline
 * wrappers below then return -ENOTSUP, so the core never calls through
 * NULL. New capabilities are added as new optional entries at the end of
 * the table, so an older backend keeps compiling and simply lacks them. The
 * AArch64 KVM backend (src/backend/kvm_arm64/) offers the arm64 register
 * accessor and irqchip_version instead of the x86 register operations.
 */
#ifndef VMIO_BACKEND_H
#define VMIO_BACKEND_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmio/bus_range.h"
#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/x86.h"

/* Interrupt lines of a backend without irq_lines: x86's IOAPIC (GSIs 0-23). */
#define VMIO_BACKEND_IRQ_LINES 24

/* Multiprocessing states (KVM's numbers): what vcpu_mp_state reports. */
#define VMIO_MP_RUNNABLE 0
#define VMIO_MP_WAIT_SIPI 1
#define VMIO_MP_INIT_RECEIVED 2
#define VMIO_MP_HALTED 3

struct vmio_backend_ops;

/* A hypervisor: makes VMs. */
struct vmio_backend {
    const struct vmio_backend_ops *ops;
};

/* One VM of a backend; embedded first in the backend's VM state. */
struct vmio_backend_vm {
    const struct vmio_backend_ops *ops;
};

/* One vCPU of a backend VM; embedded first in the backend's vCPU state. */
struct vmio_backend_vcpu {
    const struct vmio_backend_ops *ops;
};

struct vmio_backend_ops {
    const char *name; /* "kvm", "fake": for messages */

    /* ---- VMs ---- */

    /*
     * vm_create - a new VM of @be in *@out (destroyed with vm_destroy).
     * Errors: -errno, described in @err (-ENODEV: no hypervisor here).
     */
    int (*vm_create)(struct vmio_backend *be, struct vmio_backend_vm **out, struct vmio_error *err);
    void (*vm_destroy)(struct vmio_backend_vm *vm);

    /*
     * set_memory - map host [@host, @host + @size) at guest-physical @gpa as
     * memory slot @slot; @size 0 deletes the slot. @readonly: guest writes
     * exit as MMIO writes. The host range must stay mapped while the slot
     * exists. Errors: -errno, described (-EEXIST: overlaps another slot;
     * -EINVAL: unaligned).
     */
    int (*set_memory)(struct vmio_backend_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
                      void *host, bool readonly, struct vmio_error *err);

    /*
     * create_irqchip - in-kernel interrupt controllers (PIC pair, IOAPIC with
     * 24 pins, a local APIC in every vCPU created afterwards; GSI n drives PIC
     * input n < 16 and IOAPIC pin n < 24) and, with @pit, the PIT on GSI 0.
     * Before any vCPU, at most once. Optional. Errors: -errno, described.
     */
    int (*create_irqchip)(struct vmio_backend_vm *vm, bool pit, struct vmio_error *err);

    /*
     * irq_line - drive GSI @gsi to @level (0/1). Any thread. Optional.
     * Errors: -ENXIO without an irqchip, -EINVAL for a GSI not routed.
     */
    int (*irq_line)(struct vmio_backend_vm *vm, unsigned gsi, int level);

    /*
     * set_sysreg_exits - make guest accesses to the system registers in
     * @ranges (@n ranges of [base, base + count)) exit to vmio as
     * VMIO_SPACE_SYSREG accesses (x86 KVM: user-space MSR exits through an
     * MSR filter); with @unknown, also the registers the hypervisor does not
     * implement itself (else it faults them as hardware would). Replaces the
     * previous set; n == 0 and !unknown turns the exits off. Optional.
     * Errors: -ENOTSUP without the capability, -E2BIG for more ranges than
     * the hypervisor takes (KVM: 16), -errno, described.
     */
    int (*set_sysreg_exits)(struct vmio_backend_vm *vm, const struct vmio_bus_range *ranges,
                            unsigned n, bool unknown, struct vmio_error *err);

    /*
     * coalesce - with @on, buffer guest writes wholly inside [@base, @base +
     * @len) of @space (MMIO or PIO) instead of exiting on each (KVM: the
     * coalesced MMIO/PIO ring); without, remove exactly that zone. A buffered
     * write is not reported by vcpu_enter: the core takes it with
     * coalesced_pop(), in the order the guest made the writes, before it
     * handles any exit. Reads in a zone still exit; a write made while the
     * buffer is full exits as usual (so order is kept). Optional.
     * Errors: -ENOTSUP without the capability (PIO: KVM_CAP_COALESCED_PIO),
     * -ENOENT when removing a zone that is not there, -errno, described.
     */
    int (*coalesce)(struct vmio_backend_vm *vm, enum vmio_space space, uint64_t base, uint64_t len,
                    bool on, struct vmio_error *err);

    /*
     * coalesced_pending - whether a buffered write waits (a hint: lock-free,
     * any thread, may race with a vCPU adding one). Optional.
     */
    bool (*coalesced_pending)(struct vmio_backend_vm *vm);

    /*
     * coalesced_pop - the oldest buffered write into *@a (space, dir
     * VMIO_WRITE, addr, width 1..8, count 1, data and buf = @data, which
     * receives its bytes; reg VMIO_REG_NONE). Returns 1 with a write, 0 with
     * none. Any thread, one at a time per VM (the core holds a lock).
     * Optional (never called when coalesce is absent).
     */
    int (*coalesced_pop)(struct vmio_backend_vm *vm, struct vmio_access *a, uint8_t data[8]);

    /* ---- vCPUs ---- */

    /*
     * vcpu_create - vCPU @index (its APIC ID) of @vm, one of @count (count >
     * index): the topology the guest sees (x86: CPUID's APIC ID and core
     * count). Ready to run from its architectural reset state plus what a
     * kernel expects of firmware (x86 KVM: CPUID, MSRs, FPU, LAPIC LINT0/1).
     * Errors: -errno, described.
     */
    int (*vcpu_create)(struct vmio_backend_vm *vm, unsigned index, unsigned count,
                       struct vmio_backend_vcpu **out, struct vmio_error *err);
    void (*vcpu_destroy)(struct vmio_backend_vcpu *vcpu);

    /* vcpu_enter - run until the next exit; see the contract above. */
    int (*vcpu_enter)(struct vmio_backend_vcpu *vcpu, struct vmio_exit *exit);

    /*
     * vcpu_set_immediate_exit - set/clear the immediate-exit flag (see the
     * contract). Any thread. Errors: -ENOTSUP when the hypervisor lacks it
     * (then only the kick signal interrupts an enter).
     */
    int (*vcpu_set_immediate_exit)(struct vmio_backend_vcpu *vcpu, bool on);

    /*
     * vcpu_set_sync_regs - report the guest RIP in every exit (exit->ip)
     * without an extra register read. Optional. Errors: -ENOTSUP.
     */
    int (*vcpu_set_sync_regs)(struct vmio_backend_vcpu *vcpu, bool on);

    /*
     * vcpu_fault_access - the system-register access of the last exit is
     * refused: the guest gets the architectural fault when it resumes (x86:
     * #GP for RDMSR/WRMSR). Call between that exit and the next enter.
     * Optional. Errors: -EINVAL when the last exit was no such access.
     */
    int (*vcpu_fault_access)(struct vmio_backend_vcpu *vcpu);

    /* vcpu_mp_state - VMIO_MP_* of the vCPU (below). Optional. Errors: -errno. */
    int (*vcpu_mp_state)(struct vmio_backend_vcpu *vcpu, unsigned *state);

    /* vcpu_get_ip - the guest instruction pointer now. Errors: -errno. */
    int (*vcpu_get_ip)(struct vmio_backend_vcpu *vcpu, uint64_t *ip);

    /* x86 register state. Optional (non-x86 backends). Errors: -errno. */
    int (*vcpu_get_regs)(struct vmio_backend_vcpu *vcpu, struct vmio_x86_regs *regs);
    int (*vcpu_set_regs)(struct vmio_backend_vcpu *vcpu, const struct vmio_x86_regs *regs);
    int (*vcpu_get_sregs)(struct vmio_backend_vcpu *vcpu, struct vmio_x86_sregs *sregs);
    int (*vcpu_set_sregs)(struct vmio_backend_vcpu *vcpu, const struct vmio_x86_sregs *sregs);

    /* ---- Exit-less notifications (optional) ---- */

    /*
     * ioeventfd - with @assign: a guest write of exactly @len bytes (1, 2, 4
     * or 8) at @addr in @space (MMIO or PIO) signals the eventfd @fd (adds 1
     * to its counter) and the vCPU goes on without an exit to vmio; with
     * @datamatch only a write of the value @data does (other values still
     * exit as usual). Without @assign: remove the registration made with the
     * same @fd, @space, @addr, @len, @datamatch and @data. The write's value
     * is lost, so use it for doorbells whose value is known (a virtio
     * QueueNotify with datamatch on the queue index). Any thread.
     * Errors: -EINVAL (a width or space the hypervisor cannot match),
     * -EEXIST (the same address and match already registered), -ENOENT
     * (removing what is not registered), -errno; described.
     */
    int (*ioeventfd)(struct vmio_backend_vm *vm, int fd, enum vmio_space space, uint64_t addr,
                     unsigned len, bool datamatch, uint64_t data, bool assign,
                     struct vmio_error *err);

    /*
     * irqfd - with @assign: a write to the eventfd @fd asserts GSI @gsi of the
     * in-kernel irqchip without a system call from vmio on the interrupt
     * path. With @resample_fd >= 0 (an eventfd) the GSI is treated as
     * level-triggered: it stays asserted until the guest acknowledges the
     * interrupt (its EOI reaches the IOAPIC), then the hypervisor lowers it
     * and signals @resample_fd; the device writes @fd again if it still has
     * an interrupt pending. With @resample_fd < 0 each write is one edge.
     * Without @assign: remove the irqfd of @fd on @gsi. Any thread.
     * Errors: -ENOTSUP (no resampling when @resample_fd >= 0), -ENXIO
     * without an irqchip, -EINVAL for a GSI the irqchip does not route,
     * -errno; described.
     */
    int (*irqfd)(struct vmio_backend_vm *vm, int fd, unsigned gsi, int resample_fd, bool assign,
                 struct vmio_error *err);

    /*
     * AArch64 register @reg (enum vmio_arm64_reg, vmio/arm64_regs.h) of the
     * vCPU, while it is not running. Optional (non-arm64 backends).
     * Errors: -EINVAL for an unknown @reg, -errno.
     */
    int (*vcpu_get_arm64_reg)(struct vmio_backend_vcpu *vcpu, unsigned reg, uint64_t *value);
    int (*vcpu_set_arm64_reg)(struct vmio_backend_vcpu *vcpu, unsigned reg, uint64_t value);

    /*
     * irqchip_version - which interrupt controller create_irqchip made
     * (AArch64: the GIC architecture version, 3 or 2). Optional.
     * Errors: -ENXIO before create_irqchip.
     */
    int (*irqchip_version)(struct vmio_backend_vm *vm);

    /*
     * irqchip_finalize - every vCPU exists: finish the in-kernel irqchip now
     * (AArch64: the vGIC's CTRL_INIT), on the setup thread, instead of at the
     * first vcpu_enter, so that a vCPU thread under its system-call filter
     * never needs a device ioctl. Idempotent. Optional (nothing to finish).
     * Errors: -ENXIO without an irqchip, -errno.
     */
    int (*irqchip_finalize)(struct vmio_backend_vm *vm);

    /*
     * irq_lines - how many interrupt lines irq_line() and irqfd() take:
     * GSIs 0..n-1 (AArch64: SPIs, INTID 32 + n). Optional: without it,
     * VMIO_BACKEND_IRQ_LINES (x86's IOAPIC: 24).
     */
    unsigned (*irq_lines)(struct vmio_backend_vm *vm);
};

/*
 * vmio_backend_kvm - the KVM backend of the architecture vmio is built for
 * (/dev/kvm; x86-64: src/backend/kvm/, AArch64: src/backend/kvm_arm64/): a
 * static object, never NULL; VMs opened through it own their file descriptors.
 */
struct vmio_backend *vmio_backend_kvm(void);

/*
 * Calls through the table, for the core and for tests. Each takes the
 * object it names (never NULL, except that the destroy calls accept NULL)
 * and returns what the operation returns, or -ENOTSUP for an optional
 * operation the backend lacks (create_irqchip, ioeventfd and irqfd also say
 * so in @err).
 */
static inline int vmio_backend_vm_create(struct vmio_backend *be, struct vmio_backend_vm **out,
                                         struct vmio_error *err)
{
    return be->ops->vm_create(be, out, err);
}

static inline void vmio_backend_vm_destroy(struct vmio_backend_vm *vm)
{
    if (vm)
        vm->ops->vm_destroy(vm);
}

static inline int vmio_backend_set_memory(struct vmio_backend_vm *vm, uint32_t slot, uint64_t gpa,
                                          uint64_t size, void *host, bool readonly,
                                          struct vmio_error *err)
{
    return vm->ops->set_memory(vm, slot, gpa, size, host, readonly, err);
}

static inline int vmio_backend_create_irqchip(struct vmio_backend_vm *vm, bool pit,
                                              struct vmio_error *err)
{
    if (!vm->ops->create_irqchip)
        return vmio_error_set(err, -ENOTSUP, "the %s backend has no in-kernel irqchip",
                              vm->ops->name);
    return vm->ops->create_irqchip(vm, pit, err);
}

static inline int vmio_backend_set_sysreg_exits(struct vmio_backend_vm *vm,
                                                const struct vmio_bus_range *ranges, unsigned n,
                                                bool unknown, struct vmio_error *err)
{
    if (!vm->ops->set_sysreg_exits)
        return vmio_error_set(err, -ENOTSUP, "the %s backend has no system-register exits",
                              vm->ops->name);
    return vm->ops->set_sysreg_exits(vm, ranges, n, unknown, err);
}

static inline int vmio_backend_coalesce(struct vmio_backend_vm *vm, enum vmio_space space,
                                        uint64_t base, uint64_t len, bool on,
                                        struct vmio_error *err)
{
    if (!vm->ops->coalesce)
        return vmio_error_set(err, -ENOTSUP, "the %s backend cannot buffer writes", vm->ops->name);
    return vm->ops->coalesce(vm, space, base, len, on, err);
}

static inline bool vmio_backend_coalesced_pending(struct vmio_backend_vm *vm)
{
    return vm->ops->coalesced_pending && vm->ops->coalesced_pending(vm);
}

static inline int vmio_backend_coalesced_pop(struct vmio_backend_vm *vm, struct vmio_access *a,
                                             uint8_t data[8])
{
    return vm->ops->coalesced_pop ? vm->ops->coalesced_pop(vm, a, data) : 0;
}

static inline int vmio_backend_vcpu_fault_access(struct vmio_backend_vcpu *vcpu)
{
    return vcpu->ops->vcpu_fault_access ? vcpu->ops->vcpu_fault_access(vcpu) : -ENOTSUP;
}

static inline int vmio_backend_irq_line(struct vmio_backend_vm *vm, unsigned gsi, int level)
{
    return vm->ops->irq_line ? vm->ops->irq_line(vm, gsi, level) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_create(struct vmio_backend_vm *vm, unsigned index,
                                           unsigned count, struct vmio_backend_vcpu **out,
                                           struct vmio_error *err)
{
    return vm->ops->vcpu_create(vm, index, count, out, err);
}

static inline void vmio_backend_vcpu_destroy(struct vmio_backend_vcpu *vcpu)
{
    if (vcpu)
        vcpu->ops->vcpu_destroy(vcpu);
}

static inline int vmio_backend_vcpu_enter(struct vmio_backend_vcpu *vcpu, struct vmio_exit *exit)
{
    return vcpu->ops->vcpu_enter(vcpu, exit);
}

static inline int vmio_backend_vcpu_set_immediate_exit(struct vmio_backend_vcpu *vcpu, bool on)
{
    return vcpu->ops->vcpu_set_immediate_exit(vcpu, on);
}

static inline int vmio_backend_vcpu_set_sync_regs(struct vmio_backend_vcpu *vcpu, bool on)
{
    return vcpu->ops->vcpu_set_sync_regs ? vcpu->ops->vcpu_set_sync_regs(vcpu, on) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_mp_state(struct vmio_backend_vcpu *vcpu, unsigned *state)
{
    return vcpu->ops->vcpu_mp_state ? vcpu->ops->vcpu_mp_state(vcpu, state) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_get_ip(struct vmio_backend_vcpu *vcpu, uint64_t *ip)
{
    return vcpu->ops->vcpu_get_ip(vcpu, ip);
}

static inline int vmio_backend_vcpu_get_regs(struct vmio_backend_vcpu *vcpu,
                                             struct vmio_x86_regs *regs)
{
    return vcpu->ops->vcpu_get_regs ? vcpu->ops->vcpu_get_regs(vcpu, regs) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_set_regs(struct vmio_backend_vcpu *vcpu,
                                             const struct vmio_x86_regs *regs)
{
    return vcpu->ops->vcpu_set_regs ? vcpu->ops->vcpu_set_regs(vcpu, regs) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_get_sregs(struct vmio_backend_vcpu *vcpu,
                                              struct vmio_x86_sregs *sregs)
{
    return vcpu->ops->vcpu_get_sregs ? vcpu->ops->vcpu_get_sregs(vcpu, sregs) : -ENOTSUP;
}

static inline int vmio_backend_vcpu_set_sregs(struct vmio_backend_vcpu *vcpu,
                                              const struct vmio_x86_sregs *sregs)
{
    return vcpu->ops->vcpu_set_sregs ? vcpu->ops->vcpu_set_sregs(vcpu, sregs) : -ENOTSUP;
}

static inline int vmio_backend_ioeventfd(struct vmio_backend_vm *vm, int fd, enum vmio_space space,
                                         uint64_t addr, unsigned len, bool datamatch, uint64_t data,
                                         bool assign, struct vmio_error *err)
{
    if (!vm->ops->ioeventfd)
        return vmio_error_set(err, -ENOTSUP, "the %s backend has no ioeventfd", vm->ops->name);
    return vm->ops->ioeventfd(vm, fd, space, addr, len, datamatch, data, assign, err);
}

/* vmio_backend_irq_lines - the backend's irq_lines, or VMIO_BACKEND_IRQ_LINES without it. */
static inline unsigned vmio_backend_irq_lines(struct vmio_backend_vm *vm)
{
    return vm->ops->irq_lines ? vm->ops->irq_lines(vm) : VMIO_BACKEND_IRQ_LINES;
}

static inline int vmio_backend_irqfd(struct vmio_backend_vm *vm, int fd, unsigned gsi,
                                     int resample_fd, bool assign, struct vmio_error *err)
{
    if (!vm->ops->irqfd)
        return vmio_error_set(err, -ENOTSUP, "the %s backend has no irqfd", vm->ops->name);
    return vm->ops->irqfd(vm, fd, gsi, resample_fd, assign, err);
}

static inline int vmio_backend_vcpu_get_arm64_reg(struct vmio_backend_vcpu *vcpu, unsigned reg,
                                                  uint64_t *value)
{
    return vcpu->ops->vcpu_get_arm64_reg ? vcpu->ops->vcpu_get_arm64_reg(vcpu, reg, value)
                                         : -ENOTSUP;
}

static inline int vmio_backend_vcpu_set_arm64_reg(struct vmio_backend_vcpu *vcpu, unsigned reg,
                                                  uint64_t value)
{
    return vcpu->ops->vcpu_set_arm64_reg ? vcpu->ops->vcpu_set_arm64_reg(vcpu, reg, value)
                                         : -ENOTSUP;
}

static inline int vmio_backend_irqchip_version(struct vmio_backend_vm *vm)
{
    return vm->ops->irqchip_version ? vm->ops->irqchip_version(vm) : -ENOTSUP;
}

static inline int vmio_backend_irqchip_finalize(struct vmio_backend_vm *vm)
{
    return vm->ops->irqchip_finalize ? vm->ops->irqchip_finalize(vm) : -ENOTSUP;
}

#endif
