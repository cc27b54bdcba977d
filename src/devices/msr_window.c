/*
 * An MSR window: a device's register file seen through consecutive x86 MSRs
 * (see vmio/devices.h, vmio_msr_window_create()). Register i of the window is
 * the inner device's @stride-byte register at offset i * stride; RDMSR and
 * WRMSR move all 8 bytes (EDX:EAX), the only width the instructions have.
 * The window owns the inner device and destroys it with itself.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmio/devices.h"

struct msr_window {
    struct vmio_device dev;
    struct vmio_device *inner;
    unsigned stride;
};

static struct msr_window *to_window(struct vmio_device *dev)
{
    return vmio_container_of(dev, struct msr_window, dev);
}

static int window_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t index = io->offset;
    unsigned width = io->width;
    struct msr_window *w = to_window(dev);
    return vmio_device_read(w->inner, index * w->stride, width, value);
}

static int window_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t index = io->offset;
    unsigned width = io->width;
    struct msr_window *w = to_window(dev);
    return vmio_device_write(w->inner, index * w->stride, width, value);
}

static void window_destroy(struct vmio_device *dev)
{
    struct msr_window *w = to_window(dev);
    if (w->inner->ops->destroy)
        w->inner->ops->destroy(w->inner);
    free(w);
}

static const struct vmio_device_ops window_ops = {
    .read = window_read,
    .write = window_write,
    .destroy = window_destroy,
};

int vmio_msr_window_create(const char *name, struct vmio_device *inner, unsigned stride,
                           struct vmio_device **out, struct vmio_error *err)
{
    if (out)
        *out = NULL;
    if (!inner || !out || !stride) {
        if (inner && inner->ops->destroy)
            inner->ops->destroy(inner);
        return vmio_error_set(err, -EINVAL, "MSR window %s: %s", name ? name : "",
                              !inner ? "no inner device"
                              : !out ? "no result pointer"
                                     : "stride 0");
    }
    struct msr_window *w = calloc(1, sizeof(*w));
    if (!w) {
        if (inner->ops->destroy)
            inner->ops->destroy(inner);
        return vmio_error_set(err, -ENOMEM, "MSR window %s: out of memory", name ? name : "");
    }
    *w = (struct msr_window){
        .dev = {.name = name, .ops = &window_ops}, .inner = inner, .stride = stride};
    *out = &w->dev;
    return 0;
}
