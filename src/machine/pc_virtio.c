/*
 * The PC's virtio devices (see vmio/pc.h): each model behind a virtio-mmio
 * transport, in an explicit window or the next free PC slot, and the DSDT
 * entry that tells the kernel where it is (LNRO0005, its window, its GSI).
 *
 * Invariant: the DSDT entry of a device is made from the same base and GSI
 * its transport was attached with, so what the kernel reads is what answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmio/pc.h"
#include "vmio/virtio_blk.h"
#include "vmio/virtio_console.h"
#include "vmio/virtio_mmio.h"
#include "vmio/virtio_net.h"
#include "vmio/virtio_rng.h"

/*
 * The model for @d; @number is its place among the devices of its kind: a
 * disk's names it (vda, vdb, ...), a net device's picks its default MAC.
 */
static int make_model(const struct vmio_pc_virtio *d, unsigned number,
                      const struct vmio_pc_virtio_options *o, struct vmio_virtio_device **out,
                      struct vmio_error *err)
{
    switch (d->kind) {
    case VMIO_PC_VIRTIO_BLK: {
        char name[8];
        snprintf(name, sizeof(name), "vd%c", number < 26 ? 'a' + number : '?');
        struct vmio_virtio_blk_config c = {
            .path = d->path, .fd = -1, .readonly = d->readonly, .name = name, .log = o->log};
        return vmio_virtio_blk_create(&c, out, err);
    }
    case VMIO_PC_VIRTIO_RNG:
        return vmio_virtio_rng_create(out, err);
    case VMIO_PC_VIRTIO_CONSOLE: {
        struct vmio_virtio_console_config c = {.chardev = d->chardev, .io = o->io};
        return vmio_virtio_console_create(&c, out, err);
    }
    case VMIO_PC_VIRTIO_NET: {
        struct vmio_virtio_net_config c = {
            .tap = d->tap, .fd = -1, .tun_path = o->tun_path, .io = o->io, .log = o->log};
        if (d->mac_set)
            memcpy(c.mac, d->mac, 6);
        else
            vmio_virtio_net_default_mac(number, c.mac);
        return vmio_virtio_net_create(&c, out, err);
    }
    }
    return vmio_error_set(err, -EINVAL, "virtio device kind %d is unknown", (int)d->kind);
}

int vmio_pc_add_virtio(struct vmio_vm *vm, const struct vmio_pc_virtio *devs, unsigned n,
                       const struct vmio_pc_virtio_options *o, struct vmio_acpi_device *acpi,
                       struct vmio_device **transports, struct vmio_error *err)
{
    unsigned slot = 0, disks = 0, nets = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct vmio_pc_virtio *d = &devs[i];
        uint64_t base = d->base;
        unsigned gsi = d->gsi;
        if (base == 0) {
            if (slot == VMIO_PC_VIRTIO_SLOTS)
                return vmio_error_set(err, -ENOSPC, "more than %u virtio devices",
                                      VMIO_PC_VIRTIO_SLOTS);
            base = VMIO_PC_VIRTIO_BASE + slot * VMIO_PC_VIRTIO_STRIDE;
            gsi = VMIO_PC_VIRTIO_GSI + slot;
            slot++;
        }
        struct vmio_virtio_device *model;
        unsigned number = d->kind == VMIO_PC_VIRTIO_BLK   ? disks++
                          : d->kind == VMIO_PC_VIRTIO_NET ? nets++
                                                          : 0;
        int rc = make_model(d, number, o, &model, err);
        if (rc < 0)
            return rc;
        struct vmio_virtio_mmio_config c = {.base = base,
                                            .gsi = gsi,
                                            .io = o->io,
                                            .no_ioeventfd = o->no_ioeventfd,
                                            .no_irqfd = o->no_irqfd,
                                            .log = o->log};
        struct vmio_device *t;
        rc = vmio_virtio_mmio_attach(vm, model, &c, &t, err);
        if (rc < 0)
            return rc;
        if (transports)
            transports[i] = t;
        if (acpi)
            acpi[i] = (struct vmio_acpi_device){
                .kind = VMIO_ACPI_DEV_VIRTIO_MMIO,
                .virtio_mmio = {.base = base, .size = VMIO_VIRTIO_MMIO_SIZE, .gsi = gsi}};
    }
    return 0;
}
