/*
 * debug-exit: QEMU isa-debug-exit compatible exit port. A write at offset 0
 * stops the vCPU with VMIO_EXIT_DEBUG_EXIT and the written value as the exit
 * code (vmio_io_stop(), see vmio/device.h). Stateless, so no locking.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmio/devices.h"
#include "vmio/exit.h"

static int debug_exit_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    unsigned width = io->width;
    (void)dev;
    *value = vmio_width_mask(width);
    return 0;
}

static int debug_exit_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t offset = io->offset;
    (void)dev;
    return offset == 0 ? vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value) : 0;
}

static void debug_exit_destroy(struct vmio_device *dev)
{
    free(dev);
}

static const struct vmio_device_ops debug_exit_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
    .destroy = debug_exit_destroy,
};

int vmio_debug_exit_create(const char *name, struct vmio_device **out, struct vmio_error *err)
{
    if (!out)
        return vmio_error_set(err, -EINVAL, "debug-exit: no result pointer");
    struct vmio_device *dev = calloc(1, sizeof(*dev));
    *out = dev;
    if (!dev)
        return vmio_error_set(err, -ENOMEM, "debug-exit %s: out of memory", name ? name : "");
    dev->name = name;
    dev->ops = &debug_exit_ops;
    return 0;
}
