/*
 * A config's virtio devices as vmio_pc_virtio entries (see vmio/config.h):
 * the translation from emu_devices to what vmio_pc_add_virtio() attaches.
 * Pure: the config was validated when loaded (models, windows, a VirtioNet's
 * TAP name and MAC) and by vmio_config_runnable() (irq_id, one disk with
 * kernel.disk_path); nothing is opened here.
 */
#include <errno.h>

#include "vmio/config.h"
#include "vmio/pc.h"

bool vmio_config_is_virtio(enum vmio_emu_model model)
{
    return model == VMIO_MODEL_VIRTIO_BLK || model == VMIO_MODEL_VIRTIO_CONSOLE ||
           model == VMIO_MODEL_VIRTIO_RNG || model == VMIO_MODEL_VIRTIO_NET;
}

int vmio_config_virtio(const struct vmio_config *cfg, struct vmio_pc_virtio *out, unsigned max,
                       unsigned *n, struct vmio_error *err)
{
    unsigned k = 0;
    for (size_t i = 0; i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        if (!vmio_config_is_virtio(d->model))
            continue;
        if (k == max)
            return vmio_error_set(err, -ENOSPC, "%s: more than %u virtio devices", cfg->path, max);
        struct vmio_pc_virtio v = {.base = d->base_gpa, .gsi = (unsigned)d->irq_id};
        switch (d->model) {
        case VMIO_MODEL_VIRTIO_BLK:
            v.kind = VMIO_PC_VIRTIO_BLK;
            v.path = cfg->disk_path;
            v.readonly = d->ncfg > 0 && (d->cfg_list[0] & 1);
            break;
        case VMIO_MODEL_VIRTIO_CONSOLE:
            v.kind = VMIO_PC_VIRTIO_CONSOLE;
            break;
        case VMIO_MODEL_VIRTIO_NET: /* name and MAC were checked at load */
            v.kind = VMIO_PC_VIRTIO_NET;
            v.tap = d->name;
            v.mac_set = d->ncfg > 0;
            for (unsigned b = 0; v.mac_set && b < 6; b++)
                v.mac[b] = (uint8_t)(d->cfg_list[0] >> (8 * (5 - b)));
            break;
        default:
            v.kind = VMIO_PC_VIRTIO_RNG;
            break;
        }
        out[k++] = v;
    }
    *n = k;
    return 0;
}
