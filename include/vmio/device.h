/*
 * Device models.
 *
 * A device is a `struct vmio_device` (name + callbacks) embedded as the first
 * member of the model's own state struct; callbacks get the vmio_device
 * pointer back and recover their state with vmio_container_of().
 *
 * Each access reaches a callback as a `struct vmio_io`: the offset from the
 * start of the window that was hit, that window's base (so one model can
 * serve several windows and tell them apart), the width and the space. The
 * bus guarantees `offset + width <= window length` and width 1, 2, 4 or 8.
 *
 * What a callback returns:
 *   0                   the access is done (a read stored *value);
 *   VMIO_DEVICE_STOP    the access is done and the vCPU must stop, for the
 *                       reason set with vmio_io_stop() (e.g. debug-exit:
 *                       VMIO_EXIT_DEBUG_EXIT with the written value), which
 *                       is what vmio_vcpu_run() returns;
 *   -errno              a host-side failure: the run stops with
 *                       VMIO_EXIT_DEVICE_ERROR naming the device.
 * Guest mistakes (bad offsets, odd widths) are not errors: answer them as
 * the hardware would.
 *
 * Ownership (vmio/vm.h): a device added to a VM belongs to it from its first
 * successful vmio_vm_add_device(), whatever ranges follow; the VM calls
 * destroy once, after no vCPU can call it any more. Removal from a bus while
 * vCPUs run: vmio_bus_unregister() then vmio_bus_synchronize() before
 * freeing anything the callbacks use.
 *
 * Concurrency: one thread per vCPU may call a device's callbacks at the same
 * time; a device synchronises its own state. Callbacks must not block on
 * anything a vCPU holds and must not call back into the bus.
 */
#ifndef VMIO_DEVICE_H
#define VMIO_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#define vmio_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct vmio_device;

/* One access as a device callback sees it. */
struct vmio_io {
    uint64_t offset; /* from the start of the window that was hit */
    uint64_t base;   /* that window's first address (guest-physical, port or register) */
    unsigned width;  /* 1, 2, 4 or 8 */
    unsigned space;  /* enum vmio_space of the window */
    /* Out: set by vmio_io_stop() when the callback returns VMIO_DEVICE_STOP. */
    int stop_reason; /* enum vmio_exit_reason; -1 while unset */
    uint64_t stop_code;
};

/* A callback's "done, now stop the vCPU" (see vmio_io_stop()). */
#define VMIO_DEVICE_STOP 1

/*
 * vmio_io_stop - stop the vCPU after this access with @reason (an enum
 * vmio_exit_reason, e.g. VMIO_EXIT_DEBUG_EXIT) and @code (exit->code).
 * Returns VMIO_DEVICE_STOP, for `return vmio_io_stop(io, ...)`.
 */
static inline int vmio_io_stop(struct vmio_io *io, int reason, uint64_t code)
{
    io->stop_reason = reason;
    io->stop_code = code;
    return VMIO_DEVICE_STOP;
}

struct vmio_device_ops {
    /* read - the guest reads io->width bytes; store them in *@value (low bytes used). */
    int (*read)(struct vmio_device *dev, struct vmio_io *io, uint64_t *value);
    /* write - the guest writes the low io->width bytes of @value. */
    int (*write)(struct vmio_device *dev, struct vmio_io *io, uint64_t value);
    /*
     * destroy - release the device's resources (may be NULL). Called once, by
     * the owner of the device (usually vmio_vm_destroy()), after no vCPU
     * can call read or write any more.
     */
    void (*destroy)(struct vmio_device *dev);
};

struct vmio_device {
    const char *name;                  /* stable, for errors, stats and traces */
    const struct vmio_device_ops *ops; /* never NULL; read/write never NULL */
    unsigned id;                       /* assigned by the VM at registration, for stats */
};

/*
 * vmio_device_read / vmio_device_write - call @dev's callback for an access
 * of @width at @offset of a window at base 0 (tests, wrappers that forward
 * to an inner device, host-side pokes). Return what the callback returns.
 */
static inline int vmio_device_read(struct vmio_device *dev, uint64_t offset, unsigned width,
                                   uint64_t *value)
{
    struct vmio_io io = {.offset = offset, .width = width, .stop_reason = -1};
    return dev->ops->read(dev, &io, value);
}

static inline int vmio_device_write(struct vmio_device *dev, uint64_t offset, unsigned width,
                                    uint64_t value)
{
    struct vmio_io io = {.offset = offset, .width = width, .stop_reason = -1};
    return dev->ops->write(dev, &io, value);
}

/* Helper: mask of the low @width bytes (width 1..8). */
static inline uint64_t vmio_width_mask(unsigned width)
{
    return width >= 8 ? ~0ULL : ((1ULL << (width * 8)) - 1);
}

#endif
