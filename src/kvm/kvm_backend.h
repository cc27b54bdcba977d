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
 * reported as VMIO_EXIT_INTR).
 */
int kvmb_vcpu_enter(struct kvmb_vcpu *vcpu, struct vmio_exit *exit);

/* kvmb_vcpu_ip - current guest RIP (one KVM_GET_REGS), 0 on failure. */
uint64_t kvmb_vcpu_ip(struct kvmb_vcpu *vcpu);

int kvmb_vcpu_get_regs(struct kvmb_vcpu *vcpu, struct vmio_x86_regs *regs);
int kvmb_vcpu_set_regs(struct kvmb_vcpu *vcpu, const struct vmio_x86_regs *regs);
int kvmb_vcpu_get_sregs(struct kvmb_vcpu *vcpu, struct vmio_x86_sregs *sregs);
int kvmb_vcpu_set_sregs(struct kvmb_vcpu *vcpu, const struct vmio_x86_sregs *sregs);

#endif
