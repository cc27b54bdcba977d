/*
 * The KVM backend: the only part of vmio that includes <linux/kvm.h>.
 *
 * It owns the /dev/kvm, VM and vCPU file descriptors and each vCPU's shared
 * `kvm_run` page, turns a KVM_RUN exit into a `struct vmio_exit`, and lets
 * the run loop complete reads by writing into the buffer the exit points at.
 * Types here are opaque so the rest of vmio stays KVM-agnostic.
 */
#ifndef VMIO_KVM_BACKEND_H
#define VMIO_KVM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/x86.h"

struct kvmb_vm;
struct kvmb_vcpu;

/* kvmb_vm_create - open /dev/kvm and create a VM. Errors: -errno, described. */
int kvmb_vm_create(struct kvmb_vm **out, struct vmio_error *err);
void kvmb_vm_destroy(struct kvmb_vm *vm);

/*
 * kvmb_vm_set_memory - map [host, host+size) at guest-physical @gpa as memory
 * slot @slot (size 0 deletes the slot). @readonly needs KVM_CAP_READONLY_MEM.
 */
int kvmb_vm_set_memory(struct kvmb_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
                       bool readonly, struct vmio_error *err);

/*
 * kvmb_vm_create_irqchip - create KVM's in-kernel interrupt controllers
 * (8259 PIC pair, IOAPIC with 24 pins, and a local APIC in every vCPU created
 * afterwards) with KVM's default routing: GSI n drives PIC input n (n < 16)
 * and IOAPIC pin n (n < 24). With @pit, also the in-kernel 8254 PIT on GSI 0
 * (ports 0x40-0x43; port 0x61 as a dummy speaker). Call before any vCPU
 * exists, at most once. Errors: -errno of KVM_CREATE_IRQCHIP / KVM_CREATE_PIT2,
 * described (e.g. -EEXIST when called twice).
 */
int kvmb_vm_create_irqchip(struct kvmb_vm *vm, bool pit, struct vmio_error *err);

/*
 * kvmb_vm_irq_line - drive interrupt line @gsi to @level (0 or 1) with
 * KVM_IRQ_LINE. Thread-safe (one ioctl on the VM descriptor). Needs the
 * irqchip. Errors: -errno of the ioctl (-ENXIO without an irqchip, -EINVAL
 * for a GSI KVM does not route).
 */
int kvmb_vm_irq_line(struct kvmb_vm *vm, unsigned gsi, int level);

/* kvmb_vcpu_create - vCPU @index with the host's supported CPUID. */
int kvmb_vcpu_create(struct kvmb_vm *vm, unsigned index, struct kvmb_vcpu **out,
                     struct vmio_error *err);
void kvmb_vcpu_destroy(struct kvmb_vcpu *vcpu);

/*
 * kvmb_vcpu_set_sync_regs - ask KVM to copy the GPRs into the run page on
 * every exit (cheap RIP for tracing). Errors: -ENOTSUP without the capability.
 */
int kvmb_vcpu_set_sync_regs(struct kvmb_vcpu *vcpu, bool on);

/*
 * kvmb_vcpu_enter - run the guest until KVM returns and describe the exit.
 * For I/O exits (reason VMIO_EXIT_IO) access.buf points into the run page:
 * string elements for writes, and where read results must be stored before
 * the next kvmb_vcpu_enter(). access.data holds the value of a single write.
 * exit->ip is filled only when sync regs are on (else 0).
 * Returns 0, or -errno when KVM_RUN itself failed (not EINTR: that is
 * reported as VMIO_EXIT_INTR). EAGAIN (an application processor left the
 * wait-for-SIPI state inside KVM_RUN) is not an exit: the guest is entered
 * again.
 */
int kvmb_vcpu_enter(struct kvmb_vcpu *vcpu, struct vmio_exit *exit);

/*
 * kvmb_vcpu_set_immediate_exit - set or clear the run page's immediate_exit
 * flag: while set, KVM_RUN returns at once with EINTR (reported as
 * VMIO_EXIT_INTR) instead of entering the guest. Any thread may set it (an
 * atomic byte store); the vCPU's own thread clears it. Without
 * KVM_CAP_IMMEDIATE_EXIT (Linux < 4.11) it does nothing and returns -ENOTSUP.
 */
int kvmb_vcpu_set_immediate_exit(struct kvmb_vcpu *vcpu, bool on);

/*
 * kvmb_vcpu_mp_state - the vCPU's multiprocessing state (KVM_GET_MP_STATE):
 * 0 runnable, 1 uninitialized (an application processor waiting for
 * INIT/SIPI), 2 INIT received, 3 halted, 4 SIPI received; others as KVM
 * defines them. Errors: -errno of the ioctl.
 */
int kvmb_vcpu_mp_state(struct kvmb_vcpu *vcpu, unsigned *state);

/* kvmb_vcpu_ip - current guest RIP (one KVM_GET_REGS), 0 on failure. */
uint64_t kvmb_vcpu_ip(struct kvmb_vcpu *vcpu);

int kvmb_vcpu_get_regs(struct kvmb_vcpu *vcpu, struct vmio_x86_regs *regs);
int kvmb_vcpu_set_regs(struct kvmb_vcpu *vcpu, const struct vmio_x86_regs *regs);
int kvmb_vcpu_get_sregs(struct kvmb_vcpu *vcpu, struct vmio_x86_sregs *sregs);
int kvmb_vcpu_set_sregs(struct kvmb_vcpu *vcpu, const struct vmio_x86_sregs *sregs);

#endif
