/*
 * Device models.
 *
 * A device is a `struct vmio_device` (name + callbacks) embedded as the first
 * member of the model's own state struct; callbacks get the vmio_device
 * pointer back and recover their state with vmio_container_of().
 *
 * Devices see offsets relative to the start of the range they were registered
 * at, never absolute addresses, so one model can be placed anywhere. The bus
 * guarantees that `offset + width <= range length` and width is 1, 2, 4 or 8.
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

struct vmio_device_ops {
    /*
     * read - guest reads @width bytes at @offset. Store the result in *@value
     * (only the low @width bytes are used). Return 0, or a negative errno
     * for a host-side failure; the run loop then stops with
     * VMIO_EXIT_DEVICE_ERROR. Guest mistakes (bad offsets, odd widths) are
     * not errors: answer them as the hardware would.
     */
    int (*read)(struct vmio_device *dev, uint64_t offset, unsigned width, uint64_t *value);
    /* write - guest writes the low @width bytes of @value at @offset. As read. */
    int (*write)(struct vmio_device *dev, uint64_t offset, unsigned width, uint64_t value);
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

/* Helper: mask of the low @width bytes (width 1..8). */
static inline uint64_t vmio_width_mask(unsigned width)
{
    return width >= 8 ? ~0ULL : ((1ULL << (width * 8)) - 1);
}

#endif
