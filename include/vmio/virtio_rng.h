/*
 * virtio-rng (virtio 1.2, 5.4), the entropy device: one request queue whose
 * device-writable buffers the device fills with bytes from the host's
 * getrandom(2). A chain gets at most VMIO_VIRTIO_RNG_MAX_CHAIN bytes (the
 * driver asks again for more), so one hostile request cannot keep the I/O
 * thread busy for long; the used length says how many it got. Readable
 * buffers in a request are ignored. No feature bits, no config space.
 */
#ifndef VMIO_VIRTIO_RNG_H
#define VMIO_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/error.h"
#include "vmio/virtio.h"

#define VMIO_VIRTIO_RNG_MAX_CHAIN (64u << 10)

/*
 * vmio_virtio_rng_create - a virtio-rng model in *@out, ready for
 * vmio_virtio_mmio_attach() (which then owns it). Errors: -ENOMEM.
 */
int vmio_virtio_rng_create(struct vmio_virtio_device **out, struct vmio_error *err);

/* What it did (counted on the I/O thread). */
struct vmio_virtio_rng_stats {
    uint64_t requests;
    uint64_t bytes;
    uint64_t host_errors; /* getrandom() failures (the chain is then returned with what it got) */
};

/* vmio_virtio_rng_stats - @d's counters; false when @d is not a virtio-rng model. */
bool vmio_virtio_rng_stats(struct vmio_virtio_device *d, struct vmio_virtio_rng_stats *out);

#endif
