/*
 * The VM's in-kernel interrupt controller as the machines above the core see
 * it (vmio/vm.h): which one the backend made, and finishing it once every
 * vCPU exists. Thin: the backend does the work; this file keeps the
 * machines (the AArch64 one) off the VM's internals.
 */
#include <errno.h>
#include <string.h>

#include "core/vm_internal.h"
#include "vmio/vm.h"

int vmio_vm_irqchip_version(struct vmio_vm *vm)
{
    return vmio_backend_irqchip_version(vm->hv);
}

int vmio_vm_irqchip_finalize(struct vmio_vm *vm, struct vmio_error *err)
{
    int rc = vmio_backend_irqchip_finalize(vm->hv);
    if (rc == -ENOTSUP)
        return 0;
    if (rc < 0)
        return vmio_error_set(err, rc, "finishing the %s backend's interrupt controller: %s",
                              vm->hv->ops->name, strerror(-rc));
    return 0;
}
