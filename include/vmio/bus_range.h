/*
 * struct vmio_bus_range: one registered window of a bus (a space's base and
 * length, and the device that owns it). What a bus lookup returns, and what
 * the core hands a backend that traps a list of windows (system registers),
 * so it lives below both: backends see this type, never the bus itself.
 *
 * Invariant: len > 0 and base + len - 1 does not wrap; a published range is
 * immutable (readers hold it without a lock).
 */
#ifndef VMIO_BUS_RANGE_H
#define VMIO_BUS_RANGE_H

#include <stdint.h>

struct vmio_device;

/* One registered range; what a lookup returns. Immutable once published. */
struct vmio_bus_range {
    uint64_t base;
    uint64_t len; /* > 0 */
    struct vmio_device *dev;
};

#endif
