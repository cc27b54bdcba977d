/*
 * Port 0x80, the POST-code / I/O-delay port (see vmio/legacy_ports.h).
 *
 * Linux writes it after slow port accesses (io_delay), so it is hit often
 * and from every vCPU: the state is two words updated with relaxed atomics,
 * never a lock. Invariant: writes counts every write since creation; last
 * is the low byte of the most recent one (no ordering between the two is
 * promised: they are diagnostics).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/legacy_ports.h"

struct port80 {
    struct vmio_device dev; /* first: vmio_container_of */
    char *name;
    uint8_t last;
    uint64_t writes;
};

static const struct vmio_device_ops port80_ops;

static int port80_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    unsigned width = io->width;
    (void)dev;
    *value = vmio_width_mask(width);
    return 0;
}

static int port80_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    struct port80 *p = vmio_container_of(dev, struct port80, dev);
    __atomic_store_n(&p->last, (uint8_t)value, __ATOMIC_RELAXED);
    __atomic_fetch_add(&p->writes, 1, __ATOMIC_RELAXED);
    return 0;
}

static void port80_destroy(struct vmio_device *dev)
{
    struct port80 *p = vmio_container_of(dev, struct port80, dev);
    free(p->name);
    free(p);
}

static const struct vmio_device_ops port80_ops = {
    .read = port80_read,
    .write = port80_write,
    .destroy = port80_destroy,
};

int vmio_port80_create(const char *name, struct vmio_device **out, struct vmio_error *err)
{
    if (!name || !name[0] || !out)
        return vmio_error_set(err, -EINVAL, "port 0x80: empty name or NULL result");
    struct port80 *p = calloc(1, sizeof(*p));
    char *copy = strdup(name);
    if (!p || !copy) {
        free(p);
        free(copy);
        return vmio_error_set(err, -ENOMEM, "port 0x80 %s: out of memory", name);
    }
    p->name = copy;
    p->dev.name = copy;
    p->dev.ops = &port80_ops;
    *out = &p->dev;
    return 0;
}

int vmio_port80_get(struct vmio_device *dev, uint8_t *last, uint64_t *writes)
{
    if (!dev || dev->ops != &port80_ops)
        return -EINVAL;
    struct port80 *p = vmio_container_of(dev, struct port80, dev);
    if (last)
        *last = __atomic_load_n(&p->last, __ATOMIC_RELAXED);
    if (writes)
        *writes = __atomic_load_n(&p->writes, __ATOMIC_RELAXED);
    return 0;
}
