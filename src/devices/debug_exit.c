/*
 * debug-exit: QEMU isa-debug-exit compatible exit port. A write at offset 0
 * asks the run loop to stop (callback returns 1, see vmio/device.h) with the
 * written value as the exit code. Stateless, so no locking.
 */
#include <stdlib.h>

#include "vmio/devices.h"

static int debug_exit_read(struct vmio_device *dev, uint64_t offset, unsigned width,
                           uint64_t *value)
{
    (void)dev;
    (void)offset;
    *value = vmio_width_mask(width);
    return 0;
}

static int debug_exit_write(struct vmio_device *dev, uint64_t offset, unsigned width,
                            uint64_t value)
{
    (void)dev;
    (void)width;
    (void)value;
    return offset == 0 ? 1 : 0;
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

struct vmio_device *vmio_debug_exit_create(const char *name)
{
    struct vmio_device *dev = calloc(1, sizeof(*dev));
    if (dev) {
        dev->name = name;
        dev->ops = &debug_exit_ops;
    }
    return dev;
}
