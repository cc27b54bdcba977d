/*
 * The device models a VM config can name (see models.h): the one table a
 * new model is added to, with the constructors of the models that need no
 * I/O thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "config/models.h"
#include "vmio/devices.h"
#include "vmio/uart16550.h"
#include "vmio/vm.h"

/*
 * A Console: a 16550A UART. The first one gets the serial backend, later ones
 * none. With the irqchip its interrupt drives GSI irq_id (checked by
 * vmio_config_runnable()).
 */
static int create_uart(struct model_build *b, const struct vmio_cfg_emu_device *d,
                       struct vmio_device **out, struct vmio_error *err)
{
    struct vmio_irq_line *line = NULL;
    if (vmio_vm_has_irqchip(b->vm)) {
        struct vmio_error e = {0};
        line = vmio_vm_irq_line(
            b->vm, (unsigned)(d->irq_id < VMIO_IRQCHIP_GSIS ? d->irq_id : VMIO_IRQCHIP_GSIS), &e);
        if (!line)
            return vmio_error_set(err, e.code, "%s: device '%s' (irq_id %" PRIu64 "): %s",
                                  b->cfg->path, d->name, d->irq_id, e.msg);
    }
    int rc = vmio_uart16550_create(d->name, b->serial, line ? vmio_irq_line_set_level : NULL, line,
                                   out, err);
    b->serial = NULL;
    return rc;
}

static int create_testdev(struct model_build *b, const struct vmio_cfg_emu_device *d,
                          struct vmio_device **out, struct vmio_error *err)
{
    (void)b;
    return vmio_testdev_create(d->name, out, err);
}

static int create_debug_exit(struct model_build *b, const struct vmio_cfg_emu_device *d,
                             struct vmio_device **out, struct vmio_error *err)
{
    (void)b;
    return vmio_debug_exit_create(d->name, out, err);
}

static int create_debugcon(struct model_build *b, const struct vmio_cfg_emu_device *d,
                           struct vmio_device **out, struct vmio_error *err)
{
    (void)b;
    return vmio_debugcon_create(d->name, stdout, out, err);
}

/* VirtioBlk: the image is kernel.disk_path; cfg_list[0] bit 0 makes it read-only. */
static void fill_blk(const struct vmio_config *cfg, const struct vmio_cfg_emu_device *d,
                     struct vmio_pc_virtio *v)
{
    v->path = cfg->disk_path;
    v->readonly = d->ncfg > 0 && (d->cfg_list[0] & 1);
}

/*
 * VirtioNet: the entry's name is the TAP; cfg_list [] (vmio's default MAC for
 * its number) or [MAC as a 48-bit integer]. Both were checked at load.
 */
static void fill_net(const struct vmio_config *cfg, const struct vmio_cfg_emu_device *d,
                     struct vmio_pc_virtio *v)
{
    (void)cfg;
    v->tap = d->name;
    v->mac_set = d->ncfg > 0;
    for (unsigned b = 0; v->mac_set && b < 6; b++)
        v->mac[b] = (uint8_t)(d->cfg_list[0] >> (8 * (5 - b)));
}

static const struct model_row rows[] = {
    {.emu_type = VMIO_EMU_CONSOLE,
     .model = VMIO_MODEL_UART16550,
     .name = "16550A UART",
     .short_name = "Console as a 16550A UART",
     .min_length = 8,
     .port_length = 8,
     .create = create_uart},
    {.emu_type = VMIO_EMU_VIRTIO_BLK,
     .model = VMIO_MODEL_VIRTIO_BLK,
     .name = "virtio-blk (virtio-mmio)",
     .short_name = "VirtioBlk",
     .min_length = VMIO_CONFIG_VIRTIO_MIN_LENGTH,
     .mmio_only = true,
     .virtio_kind = VMIO_PC_VIRTIO_BLK,
     .virtio_fill = fill_blk},
    {.emu_type = VMIO_EMU_VIRTIO_NET,
     .model = VMIO_MODEL_VIRTIO_NET,
     .name = "virtio-net (virtio-mmio)",
     .short_name = "VirtioNet",
     .min_length = VMIO_CONFIG_VIRTIO_MIN_LENGTH,
     .mmio_only = true,
     .virtio_kind = VMIO_PC_VIRTIO_NET,
     .virtio_fill = fill_net},
    {.emu_type = VMIO_EMU_VIRTIO_CONSOLE,
     .model = VMIO_MODEL_VIRTIO_CONSOLE,
     .name = "virtio-console (virtio-mmio)",
     .short_name = "VirtioConsole",
     .min_length = VMIO_CONFIG_VIRTIO_MIN_LENGTH,
     .mmio_only = true,
     .virtio_kind = VMIO_PC_VIRTIO_CONSOLE},
    {.emu_type = VMIO_EMU_VMIO_TESTDEV,
     .model = VMIO_MODEL_TESTDEV,
     .name = "testdev",
     .short_name = "testdev",
     .min_length = 0x50,
     .create = create_testdev},
    {.emu_type = VMIO_EMU_VMIO_DEBUG_EXIT,
     .model = VMIO_MODEL_DEBUG_EXIT,
     .name = "debug-exit",
     .short_name = "debug-exit",
     .min_length = 1,
     .create = create_debug_exit},
    {.emu_type = VMIO_EMU_VMIO_DEBUGCON,
     .model = VMIO_MODEL_DEBUGCON,
     .name = "debugcon",
     .short_name = "debugcon",
     .min_length = 1,
     .create = create_debugcon},
    {.emu_type = VMIO_EMU_VMIO_VIRTIO_RNG,
     .model = VMIO_MODEL_VIRTIO_RNG,
     .name = "virtio-rng (virtio-mmio)",
     .short_name = "virtio-rng",
     .min_length = VMIO_CONFIG_VIRTIO_MIN_LENGTH,
     .mmio_only = true,
     .virtio_kind = VMIO_PC_VIRTIO_RNG},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

const struct model_row *vmio_model_by_emu_type(unsigned emu_type)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].emu_type == emu_type)
            return &rows[i];
    return NULL;
}

const struct model_row *vmio_model_row_of(enum vmio_emu_model model)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].model == model)
            return &rows[i];
    return NULL;
}

void vmio_model_list(char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < NROWS && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s0x%x %s", i ? ", " : "", rows[i].emu_type,
                         rows[i].short_name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
