/*
 * Port 0x92, System Control Port A (see vmio/legacy_ports.h).
 *
 * Invariant: value holds bits 7-1 of the last write (bit 0, the fast-reset
 * request, is never stored: the request is acted on at once and the bit
 * reads back 0). One byte, read and written with relaxed atomics, so no
 * lock: concurrent writers simply race as they would on the chipset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/legacy_ports.h"

struct port92 {
    struct vmio_device dev; /* first: vmio_container_of */
    char *name;
    vmio_power_fn power;
    void *power_ctx;
    uint8_t value;
};

static int port92_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    struct port92 *p = vmio_container_of(dev, struct port92, dev);
    /* registered with length 1: always one byte */
    *value = __atomic_load_n(&p->value, __ATOMIC_RELAXED);
    return 0;
}

static int port92_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    struct port92 *p = vmio_container_of(dev, struct port92, dev);
    __atomic_store_n(&p->value, (uint8_t)(value & ~(uint64_t)VMIO_PORT92_RESET), __ATOMIC_RELAXED);
    if ((value & VMIO_PORT92_RESET) && p->power)
        p->power(p->power_ctx, VMIO_POWER_RESET);
    return 0;
}

static void port92_destroy(struct vmio_device *dev)
{
    struct port92 *p = vmio_container_of(dev, struct port92, dev);
    free(p->name);
    free(p);
}

static const struct vmio_device_ops port92_ops = {
    .read = port92_read,
    .write = port92_write,
    .destroy = port92_destroy,
};

int vmio_port92_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **out,
                       struct vmio_error *err)
{
    if (!name || !name[0] || !out)
        return vmio_error_set(err, -EINVAL, "port 0x92: empty name or NULL result");
    struct port92 *p = calloc(1, sizeof(*p));
    char *copy = strdup(name);
    if (!p || !copy) {
        free(p);
        free(copy);
        return vmio_error_set(err, -ENOMEM, "port 0x92 %s: out of memory", name);
    }
    p->name = copy;
    p->dev.name = copy;
    p->dev.ops = &port92_ops;
    p->power = power;
    p->power_ctx = ctx;
    p->value = VMIO_PORT92_A20;
    *out = &p->dev;
    return 0;
}
