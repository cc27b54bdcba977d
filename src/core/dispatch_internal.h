/*
 * The dispatcher's hot path, inline (internal to src/core): the run loop and
 * vmio_dispatch() both use dispatch_access(). A claimed single access (count
 * 1, nearly every exit) is one lookup (the vCPU's remembered range, else the
 * bus search), one device call and, for a read, a store of exactly `width`
 * bytes; everything else calls out to dispatch.c.
 */
#ifndef VMIO_CORE_DISPATCH_INTERNAL_H
#define VMIO_CORE_DISPATCH_INTERNAL_H

#include <string.h>

#include "core/bus_internal.h"
#include "vmio/dispatch.h"

/* The slow paths (dispatch.c). */
int vmio_dispatch_unclaimed(const struct vmio_dispatcher *d, struct vmio_exit *e);
int vmio_dispatch_stopped_by(const struct vmio_dispatcher *d, struct vmio_exit *e,
                             const struct vmio_device *dev, int rc, const struct vmio_io *io);
int vmio_dispatch_string(const struct vmio_dispatcher *d, struct vmio_exit *e,
                         const struct vmio_bus_range *r);

/*
 * The mask of an access width (a uint8_t): the low `width` bytes for 1, 2, 4
 * and 8, and 0 for every width no device takes, so one load both checks a
 * width and gives its mask (the dispatcher and the run loop's fast path).
 */
static const uint64_t dispatch_width_masks[256] = {
    [1] = 0xff, [2] = 0xffff, [4] = 0xffffffffu, [8] = ~0ULL};

/* Store the low @width bytes of @v at @p (little-endian host): constant-size copies, no call. */
static inline void store_width(uint8_t *p, uint64_t v, unsigned width)
{
    switch (width) {
    case 1:
        *p = (uint8_t)v;
        break;
    case 2:
        memcpy(p, &v, 2);
        break;
    case 4:
        memcpy(p, &v, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

/* One access (count 1) to @r's device. */
static inline int deliver_one(const struct vmio_dispatcher *d, struct vmio_exit *e,
                              const struct vmio_bus_range *r)
{
    struct vmio_access *a = &e->access;
    struct vmio_device *dev = r->dev;
    uint64_t mask = dispatch_width_masks[a->width]; /* width: 1, 2, 4 or 8 */
    struct vmio_io io = {.offset = a->addr - r->base,
                         .base = r->base,
                         .width = a->width,
                         .space = a->space,
                         .stop_reason = -1};
    int rc;
    if (a->dir == VMIO_WRITE) {
        rc = dev->ops->write(dev, &io, a->data & mask);
        if (__builtin_expect(rc == 0, 1))
            return 0;
    } else {
        uint64_t value = 0;
        rc = dev->ops->read(dev, &io, &value);
        if (__builtin_expect(rc == 0, 1)) {
            value &= mask;
            a->data = value;
            if (a->buf)
                store_width(a->buf, value, a->width);
            return 0;
        }
    }
    return vmio_dispatch_stopped_by(d, e, dev, rc, &io);
}

/* The range of @a's bus holding the whole access, or NULL (no bus, bad width, unclaimed). */
static inline const struct vmio_bus_range *dispatch_lookup(const struct vmio_dispatcher *d,
                                                           const struct vmio_access *a)
{
    unsigned w = a->width;
    if (__builtin_expect(!dispatch_width_masks[w] || a->count == 0, 0))
        return NULL; /* only widths 1, 2, 4 and 8 exist */
    if (a->space == VMIO_SPACE_PIO) {
        if (d->pio_reader)
            return bus_reader_lookup(d->pio_reader, a->addr, w);
        return d->pio ? vmio_bus_lookup(d->pio, a->addr, w) : NULL;
    }
    if (a->space == VMIO_SPACE_MMIO) {
        if (d->mmio_reader)
            return bus_reader_lookup(d->mmio_reader, a->addr, w);
        return d->mmio ? vmio_bus_lookup(d->mmio, a->addr, w) : NULL;
    }
    if (a->space == VMIO_SPACE_SYSREG) {
        /* A system register is one address: width is the register's, not a span. */
        if (d->sysreg_reader)
            return bus_reader_lookup(d->sysreg_reader, a->addr, 1);
        return d->sysreg ? vmio_bus_lookup(d->sysreg, a->addr, 1) : NULL;
    }
    return NULL;
}

/* vmio_dispatch(), inline (always: a call here costs more than the rest of it). */
static inline __attribute__((always_inline)) int
dispatch_access(const struct vmio_dispatcher *d, struct vmio_exit *e,
                const struct vmio_bus_range **claimed)
{
    struct vmio_access *a = &e->access;
    const struct vmio_bus_range *r = dispatch_lookup(d, a);
    if (claimed)
        *claimed = r;
    if (__builtin_expect(r != NULL, 1))
        return a->count == 1 ? deliver_one(d, e, r) : vmio_dispatch_string(d, e, r);
    bool width_ok = a->width == 1 || a->width == 2 || a->width == 4 || a->width == 8;
    if (!width_ok) /* never memset/complete with a width we do not model */
        a->width = a->width > 8 ? 8 : a->width;
    return vmio_dispatch_unclaimed(d, e);
}

#endif
