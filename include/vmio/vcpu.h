/*
 * Virtual CPUs and the exit-dispatch run loop.
 *
 * One thread runs one vCPU. vmio_vcpu_run() enters the guest and handles
 * every I/O exit itself (bus lookup, device call, completion, back into the
 * guest); it returns the first exit it does not handle, filled into a
 * `struct vmio_exit` that vmio_exit_describe() turns into words.
 */
#ifndef VMIO_VCPU_H
#define VMIO_VCPU_H

#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/stats.h"
#include "vmio/vm.h"
#include "vmio/x86.h"

struct vmio_vcpu;

/*
 * vmio_vcpu_create - create vCPU number @index of @vm with the host's
 * supported CPUID. Errors: -EEXIST for an index in use, the errno of a
 * failing KVM ioctl, -ENOMEM. Destroy it before the VM.
 */
int vmio_vcpu_create(struct vmio_vm *vm, unsigned index, struct vmio_vcpu **out,
                     struct vmio_error *err);

/* vmio_vcpu_destroy - free @vcpu (may be NULL); folds its stats into the VM's. */
void vmio_vcpu_destroy(struct vmio_vcpu *vcpu);

/*
 * vmio_vcpu_run - run the guest until an exit the loop does not handle and
 * describe it in *@exit. Returns 0 (see exit->reason), or a negative errno
 * when the host failed in a way that is not the guest's doing (also
 * reported as VMIO_EXIT_HOST_ERROR in *@exit).
 */
int vmio_vcpu_run(struct vmio_vcpu *vcpu, struct vmio_exit *exit);

/* x86 register access. Errors: the errno of the failing KVM ioctl. */
int vmio_vcpu_get_regs(struct vmio_vcpu *vcpu, struct vmio_x86_regs *regs);
int vmio_vcpu_set_regs(struct vmio_vcpu *vcpu, const struct vmio_x86_regs *regs);
int vmio_vcpu_get_sregs(struct vmio_vcpu *vcpu, struct vmio_x86_sregs *sregs);
int vmio_vcpu_set_sregs(struct vmio_vcpu *vcpu, const struct vmio_x86_sregs *sregs);

/* vmio_vcpu_stats - this vCPU's counters so far (read by its own thread). */
const struct vmio_stats *vmio_vcpu_stats(const struct vmio_vcpu *vcpu);

#endif
