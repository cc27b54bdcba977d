/*
 * virtio-rng (see vmio/virtio_rng.h): getrandom(2) into the writable part of
 * each chain, on the I/O thread.
 *
 * Invariants: bytes are written only into the chain's writable segments
 * (guest RAM checked by the queue), at most VMIO_VIRTIO_RNG_MAX_CHAIN per
 * chain; the used length is exactly the number of bytes written. Counters
 * are atomics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>

#include "vmio/virtio_rng.h"

struct rng {
    struct vmio_virtio_device vdev; /* first */
    struct vmio_virtq_chain chain;
    atomic_uint_fast64_t requests, bytes, host_errors;
};

static const struct vmio_virtio_device_ops rng_ops;

/* Fill up to @len bytes at @p; returns the bytes written (short on a host error). */
static size_t fill(struct rng *r, uint8_t *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            atomic_fetch_add(&r->host_errors, 1);
            break;
        }
        done += (size_t)n;
    }
    return done;
}

static void rng_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
{
    struct rng *r = (struct rng *)d;
    struct vmio_virtq_chain *c = &r->chain;
    while (vmio_virtio_queue_pop(q, c) == 1) {
        size_t total = 0;
        for (unsigned i = c->nread; i < c->nread + c->nwrite && total < VMIO_VIRTIO_RNG_MAX_CHAIN;
             i++) {
            size_t want = c->iov[i].iov_len;
            if (want > VMIO_VIRTIO_RNG_MAX_CHAIN - total)
                want = VMIO_VIRTIO_RNG_MAX_CHAIN - total;
            size_t got = fill(r, c->iov[i].iov_base, want);
            total += got;
            if (got < want)
                break;
        }
        vmio_virtio_queue_push(q, c->head, (uint32_t)total);
        atomic_fetch_add(&r->requests, 1);
        atomic_fetch_add(&r->bytes, total);
    }
}

static void rng_destroy(struct vmio_virtio_device *d)
{
    struct rng *r = (struct rng *)d;
    vmio_virtq_chain_free(&r->chain);
    free(r);
}

static const struct vmio_virtio_device_ops rng_ops = {
    .queue_notify = rng_notify,
    .destroy = rng_destroy,
};

int vmio_virtio_rng_create(struct vmio_virtio_device **out, struct vmio_error *err)
{
    struct rng *r = calloc(1, sizeof(*r));
    if (!r || vmio_virtq_chain_init(&r->chain, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0) {
        free(r);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    r->vdev = (struct vmio_virtio_device){
        .ops = &rng_ops, .name = "virtio-rng", .device_id = VMIO_VIRTIO_ID_RNG, .num_queues = 1};
    *out = &r->vdev;
    return 0;
}

bool vmio_virtio_rng_stats(struct vmio_virtio_device *d, struct vmio_virtio_rng_stats *out)
{
    if (!d || d->ops != &rng_ops)
        return false;
    struct rng *r = (struct rng *)d;
    *out = (struct vmio_virtio_rng_stats){.requests = atomic_load(&r->requests),
                                          .bytes = atomic_load(&r->bytes),
                                          .host_errors = atomic_load(&r->host_errors)};
    return true;
}
