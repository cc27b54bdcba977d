/*
 * Applying the Linux entry state to a vCPU (see vmio/linux_boot.h): the only
 * part of the Linux boot that needs a vCPU, kept apart so everything else
 * stays pure. Segment registers before general registers, so that RIP is
 * interpreted in the final mode.
 */
#include <string.h>

#include "vmio/linux_boot.h"
#include "vmio/vcpu.h"

int vmio_linux_setup_vcpu(struct vmio_vcpu *vcpu, const struct vmio_linux_layout *lay,
                          struct vmio_error *err)
{
    struct vmio_x86_regs regs;
    struct vmio_x86_sregs sregs;
    vmio_linux_entry_state(lay, &regs, &sregs);
    int rc = vmio_vcpu_set_sregs(vcpu, &sregs);
    if (rc < 0)
        return vmio_error_set(err, rc, "KVM_SET_SREGS (Linux %d-bit entry): %s", (int)lay->mode,
                              strerror(-rc));
    rc = vmio_vcpu_set_regs(vcpu, &regs);
    if (rc < 0)
        return vmio_error_set(err, rc, "KVM_SET_REGS (Linux %d-bit entry): %s", (int)lay->mode,
                              strerror(-rc));
    return 0;
}
