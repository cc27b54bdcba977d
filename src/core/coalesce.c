/*
 * Coalesced writes: guest writes to a zone that the backend buffers (KVM's
 * coalesced MMIO/PIO ring) instead of exiting on each, delivered to the
 * device later, in order, by whichever vCPU exits next (vcpu.c drains after
 * every exit while a zone exists).
 *
 * Invariants: a zone lies inside one device range of its bus when it is
 * made (so its writes have an owner) and does not overlap another zone; at
 * most VMIO_MAX_COALESCE_ZONES exist; `ncoalesce` is their number; `drain`
 * is set before the backend can buffer anything.
 */
#include <errno.h>
#include <inttypes.h>

#include "core/vm_internal.h"

static const char *space_name(enum vmio_space space)
{
    return space == VMIO_SPACE_PIO ? "port" : "MMIO";
}

int vmio_vm_coalesce(struct vmio_vm *vm, enum vmio_space space, uint64_t base, uint64_t len,
                     struct vmio_error *err)
{
    if (space != VMIO_SPACE_MMIO && space != VMIO_SPACE_PIO)
        return vmio_error_set(err, -EINVAL, "only MMIO and port writes can be coalesced");
    if (len == 0 || base + len < base || (space == VMIO_SPACE_PIO && base + len > 0x10000))
        return vmio_error_set(err, -EINVAL, "coalesced %s zone 0x%" PRIx64 "+0x%" PRIx64
                                            " is empty or out of range",
                              space_name(space), base, len);
    pthread_mutex_lock(&vm->lock);
    int rc = 0;
    unsigned n = vm->ncoalesce;
    const struct vmio_bus_range *r = vmio_bus_lookup(vmio_vm_bus(vm, space), base, len);
    if (!r) {
        rc = vmio_error_set(err, -ENOENT,
                            "coalesced %s zone 0x%" PRIx64 "+0x%" PRIx64
                            " is not inside one device's window",
                            space_name(space), base, len);
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct vm_coalesce_zone *z = &vm->zones[i];
        if (z->space == space && base < z->base + z->len && z->base < base + len) {
            rc = vmio_error_set(err, -EBUSY,
                                "coalesced %s zone 0x%" PRIx64 "+0x%" PRIx64
                                " overlaps zone 0x%" PRIx64 "+0x%" PRIx64,
                                space_name(space), base, len, z->base, z->len);
            goto out;
        }
    }
    if (n == VMIO_MAX_COALESCE_ZONES) {
        rc = vmio_error_set(err, -ENOSPC, "coalesced %s zone 0x%" PRIx64 ": %d zones already",
                            space_name(space), base, VMIO_MAX_COALESCE_ZONES);
        goto out;
    }
    atomic_store(&vm->drain, true);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++) /* before the backend can buffer anything */
        if (vm->vcpus[i])
            vmio_vcpu_note_drain(vm->vcpus[i]);
    rc = vmio_backend_coalesce(vm->hv, space, base, len, true, err);
    if (rc == 0) {
        vm->zones[n] = (struct vm_coalesce_zone){space, base, len};
        vm->ncoalesce = n + 1;
    }
out:
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

int vmio_vm_uncoalesce(struct vmio_vm *vm, enum vmio_space space, uint64_t base, uint64_t len,
                       struct vmio_error *err)
{
    pthread_mutex_lock(&vm->lock);
    unsigned n = vm->ncoalesce;
    int rc = vmio_error_set(err, -ENOENT, "no coalesced %s zone 0x%" PRIx64 "+0x%" PRIx64,
                            space_name(space), base, len);
    for (unsigned i = 0; i < n; i++) {
        struct vm_coalesce_zone *z = &vm->zones[i];
        if (z->space != space || z->base != base || z->len != len)
            continue;
        vmio_error_clear(err);
        rc = vmio_backend_coalesce(vm->hv, space, base, len, false, err);
        if (rc == 0) {
            *z = vm->zones[n - 1];
            vm->ncoalesce = n - 1; /* `drain` stays: writes buffered before may still wait */
        }
        break;
    }
    pthread_mutex_unlock(&vm->lock);
    return rc;
}
