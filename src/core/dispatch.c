/*
 * vmio_dispatch(): one access from "which device?" to "completed" (see
 * vmio/dispatch.h). Runs on vCPU threads for every I/O exit, so it allocates
 * nothing, takes no lock (the bus lookup is lock-free) and touches no
 * shared mutable state. The path of a claimed single access is inline in
 * core/dispatch_internal.h (the run loop includes it); this file has the
 * rest: unclaimed accesses, devices that stop the vCPU, string I/O.
 *
 * Invariant: a device is called only with an access that lies entirely in
 * its range and has width 1, 2, 4 or 8; everything else is unclaimed. The
 * LOG policy's lines go through the dispatcher's rate limits (one per device
 * window an access starts in, one per space for the rest), so a guest
 * spinning on an unclaimed address cannot flood the log: that path takes the
 * limit's mutex and the log stream's lock, a claimed access takes neither.
 */
#include <errno.h>
#include <string.h>

#include "core/dispatch_internal.h"

static void fill_ip(const struct vmio_dispatcher *d, struct vmio_exit *e)
{
    if (!e->ip && d->get_ip)
        e->ip = d->get_ip(d->ctx);
}

/*
 * The rate limit of a LOG line about unclaimed @e: the device whose window
 * its first byte is in (it straddles the end, or has a width no device
 * takes), else its space's; NULL without limits. *@device names the device.
 */
static struct vmio_ratelimit *log_limit(const struct vmio_dispatcher *d, const struct vmio_exit *e,
                                        const char **device)
{
    if (!d->limits)
        return NULL;
    const struct vmio_access *a = &e->access;
    const struct vmio_bus *bus = a->space == VMIO_SPACE_PIO    ? d->pio
                                 : a->space == VMIO_SPACE_MMIO ? d->mmio
                                                               : NULL;
    const struct vmio_bus_range *r = bus ? vmio_bus_lookup(bus, a->addr, 1) : NULL;
    if (r) {
        unsigned id = r->dev->id < VMIO_STATS_MAX_DEVICES ? r->dev->id : VMIO_STATS_MAX_DEVICES - 1;
        *device = r->dev->name;
        return &d->limits->device[id];
    }
    return &d->limits->unclaimed[a->space == VMIO_SPACE_PIO ? 1 : 0];
}

/* Returns 1 when the caller must stop (strict), 0 when the access is completed. */
int vmio_dispatch_unclaimed(const struct vmio_dispatcher *d, struct vmio_exit *e)
{
    struct vmio_access *a = &e->access;
    if (d->policy == VMIO_UNCLAIMED_STRICT) {
        e->reason = VMIO_EXIT_UNCLAIMED;
        fill_ip(d, e);
        return 1;
    }
    if (a->dir == VMIO_READ) {
        a->data = a->width <= 8 ? vmio_width_mask(a->width) : ~0ULL;
        if (a->buf)
            memset(a->buf, 0xff, (size_t)a->width * a->count);
    }
    if (d->policy == VMIO_UNCLAIMED_LOG) {
        FILE *out = d->log ? d->log : stderr;
        const char *device = NULL;
        uint64_t suppressed = 0;
        struct vmio_ratelimit *rl = log_limit(d, e, &device);
        if (rl && !vmio_ratelimit_allow(rl, &suppressed))
            return 0; /* counted; reported with the next line let through */
        if (suppressed)
            vmio_log_suppressed(out, suppressed, a->space, device);
        char line[256];
        struct vmio_exit shown = *e;
        shown.reason = VMIO_EXIT_UNCLAIMED;
        fill_ip(d, &shown);
        vmio_exit_describe(&shown, line, sizeof(line));
        char insn[256] = "";
        if (d->describe_insn)
            d->describe_insn(d->ctx, &shown, insn, sizeof(insn));
        fprintf(out, "vmio: %s%s\n", line, insn);
    }
    return 0;
}

/*
 * A device stopped the access: VMIO_DEVICE_STOP with the reason it set
 * (vmio_io_stop()), or a failure (rc < 0, or a stop without a reason, or any
 * other positive value: a device bug, reported as a device error).
 */
int vmio_dispatch_stopped_by(const struct vmio_dispatcher *d, struct vmio_exit *e,
                             const struct vmio_device *dev, int rc, const struct vmio_io *io)
{
    e->device = dev->name;
    if (rc == VMIO_DEVICE_STOP && io->stop_reason >= 0 && io->stop_reason != VMIO_EXIT_IO) {
        e->reason = (enum vmio_exit_reason)io->stop_reason;
        e->code = io->stop_code;
    } else {
        e->reason = VMIO_EXIT_DEVICE_ERROR;
        e->code = (uint64_t)(int64_t)(rc < 0 ? rc : -EPROTO);
    }
    fill_ip(d, e);
    return 1;
}

/* String I/O (count > 1): the device sees each element in order. */
int vmio_dispatch_string(const struct vmio_dispatcher *d, struct vmio_exit *e,
                         const struct vmio_bus_range *r)
{
    struct vmio_access *a = &e->access;
    struct vmio_device *dev = r->dev;
    struct vmio_io io = {.offset = a->addr - r->base,
                         .base = r->base,
                         .width = a->width,
                         .space = a->space,
                         .stop_reason = -1};
    int rc = 0;
    for (uint32_t i = 0; i < a->count && rc == 0; i++) {
        uint8_t *elem = a->buf ? a->buf + (size_t)i * a->width : NULL;
        uint64_t value = 0;
        if (a->dir == VMIO_WRITE) {
            if (a->count > 1)
                memcpy(&value, elem, a->width); /* little-endian host */
            else
                value = a->data & vmio_width_mask(a->width);
            rc = dev->ops->write(dev, &io, value);
        } else {
            rc = dev->ops->read(dev, &io, &value);
            value &= vmio_width_mask(a->width);
            if (rc == 0 && elem)
                memcpy(elem, &value, a->width);
            if (rc == 0 && a->count == 1)
                a->data = value;
        }
    }
    return rc == 0 ? 0 : vmio_dispatch_stopped_by(d, e, dev, rc, &io);
}

int vmio_dispatch(const struct vmio_dispatcher *d, struct vmio_exit *e,
                  const struct vmio_bus_range **claimed)
{
    return dispatch_access(d, e, claimed);
}
