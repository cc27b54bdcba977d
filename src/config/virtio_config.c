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

#include "config/models.h"

bool vmio_config_is_virtio(enum vmio_emu_model model)
{
    const struct model_row *row = vmio_model_row_of(model);
    return row && row->virtio_kind != 0;
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
        const struct model_row *row = vmio_model_row_of(d->model);
        v.kind = row->virtio_kind;
        if (row->virtio_fill)
            row->virtio_fill(cfg, d, &v);
        out[k++] = v;
    }
    *n = k;
    return 0;
}
