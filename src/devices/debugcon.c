/*
 * debugcon: the Bochs/QEMU port-0xe9 console. Bytes written go to a stdio
 * stream, flushed at each newline; stdio's own lock serialises vCPUs.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmio/devices.h"

struct debugcon {
    struct vmio_device dev;
    FILE *out;
};

static int debugcon_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    (void)dev;
    *value = 0xe9;
    return 0;
}

static int debugcon_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    struct debugcon *d = vmio_container_of(dev, struct debugcon, dev);
    if (d->out) {
        int c = (int)(value & 0xff);
        fputc(c, d->out);
        if (c == '\n')
            fflush(d->out);
    }
    return 0;
}

static void debugcon_destroy(struct vmio_device *dev)
{
    struct debugcon *d = vmio_container_of(dev, struct debugcon, dev);
    if (d->out)
        fflush(d->out);
    free(d);
}

static const struct vmio_device_ops debugcon_ops = {
    .read = debugcon_read,
    .write = debugcon_write,
    .destroy = debugcon_destroy,
};

int vmio_debugcon_create(const char *name, FILE *out, struct vmio_device **dev,
                         struct vmio_error *err)
{
    if (!dev)
        return vmio_error_set(err, -EINVAL, "debugcon: no result pointer");
    *dev = NULL;
    struct debugcon *d = calloc(1, sizeof(*d));
    if (!d)
        return vmio_error_set(err, -ENOMEM, "debugcon %s: out of memory", name ? name : "");
    d->dev.name = name;
    d->dev.ops = &debugcon_ops;
    d->out = out;
    *dev = &d->dev;
    return 0;
}
