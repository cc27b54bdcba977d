/*
 * virtio device models and the interface between a model and its transport.
 *
 * A device model (virtio-blk, virtio-rng, virtio-console; virtio-net is
 * meant to be one more) is a `struct vmio_virtio_device` embedded first in
 * the model's state, with a table of callbacks. It knows nothing of MMIO,
 * registers, interrupts or eventfds: the transport (vmio/virtio_mmio.h)
 * negotiates features, validates and owns the queues, and calls
 * queue_notify() on the I/O thread (vmio/iothread.h) whenever a queue may
 * have work; the model pops chains, does the work, pushes them back, and the
 * transport decides whether the driver wants an interrupt.
 *
 *     static void my_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
 *     {
 *         while (vmio_virtio_queue_pop(q, &chain) == 1) {
 *             ... read chain.iov[0 .. nread), write chain.iov[nread ..) ...
 *             vmio_virtio_queue_push(q, chain.head, bytes_written);
 *         }
 *     }
 *
 * Rules for a model:
 *   - queue_notify() runs on the I/O thread with the queue's lock held, only
 *     while the driver has the device running (DRIVER_OK, queue ready, no
 *     DEVICE_NEEDS_RESET). It should pop until vmio_virtio_queue_pop()
 *     returns 0 (that also re-arms the driver's notifications) unless it
 *     has to wait for a host event (then kick the queue again when it
 *     comes: vmio_virtio_kick()).
 *   - Everything in a chain is guest data: the transport has checked that the
 *     segments are guest RAM, not what they contain. A request the model
 *     cannot make sense of is answered with the device's error status when
 *     the spec has one, or vmio_virtio_queue_fail() when it cannot even
 *     answer (no status byte): that puts the device in DEVICE_NEEDS_RESET.
 *   - reset() is called with every queue's lock held (no queue_notify() runs)
 *     when the driver resets the device, and before destroy().
 *   - Host-side event sources (a console's input, a network tap) are
 *     registered by the model on the I/O thread it was given, and their
 *     callbacks only call vmio_virtio_kick(): all queue work stays in
 *     queue_notify().
 *
 * Byte order: virtio 1.x structures are little-endian; vmio hosts are x86-64
 * (little-endian), and models still convert with le*toh()/htole*().
 */
#ifndef VMIO_VIRTIO_H
#define VMIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/virtqueue.h"

/* Device IDs (virtio 1.2, 5). */
#define VMIO_VIRTIO_ID_NET 1
#define VMIO_VIRTIO_ID_BLOCK 2
#define VMIO_VIRTIO_ID_CONSOLE 3
#define VMIO_VIRTIO_ID_RNG 4

/* Device status bits (2.1). */
#define VMIO_VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VMIO_VIRTIO_STATUS_DRIVER 2u
#define VMIO_VIRTIO_STATUS_DRIVER_OK 4u
#define VMIO_VIRTIO_STATUS_FEATURES_OK 8u
#define VMIO_VIRTIO_STATUS_NEEDS_RESET 64u
#define VMIO_VIRTIO_STATUS_FAILED 128u

/* Transport feature bits (6): offered by the transport for every device. */
#define VMIO_VIRTIO_F_INDIRECT_DESC 28
#define VMIO_VIRTIO_F_EVENT_IDX 29
#define VMIO_VIRTIO_F_VERSION_1 32
/* Never offered: the transport declines them (docs/virtio.md). */
#define VMIO_VIRTIO_F_ACCESS_PLATFORM 33
#define VMIO_VIRTIO_F_RING_PACKED 34
#define VMIO_VIRTIO_F_NOTIFICATION_DATA 38
#define VMIO_VIRTIO_F_RING_RESET 40

#define VMIO_VIRTIO_MAX_QUEUES 8
#define VMIO_VIRTIO_QUEUE_MAX_SIZE 256 /* QueueNumMax of every queue */
/* Segments a chain may need: a full queue of buffers plus a few RAM-region splits. */
#define VMIO_VIRTIO_CHAIN_SEGMENTS (VMIO_VIRTIO_QUEUE_MAX_SIZE + 16)

struct vmio_virtio_device;
struct vmio_virtio_queue; /* a queue as the transport keeps it: opaque to models */

struct vmio_virtio_device_ops {
    /*
     * config_read - @len (1, 2, 4 or 8) bytes of the device-specific
     * configuration space at @offset (offset + len <= config_size) into
     * @buf, little-endian. Any vCPU thread; must not block. May be NULL
     * when config_size is 0.
     */
    void (*config_read)(struct vmio_virtio_device *d, uint32_t offset, void *buf, unsigned len);
    /* config_write - the driver writes config space (may be NULL: writes are ignored). */
    void (*config_write)(struct vmio_virtio_device *d, uint32_t offset, const void *buf,
                         unsigned len);
    /*
     * features_ok - the driver asks for @features (a subset of what was
     * offered, VERSION_1 included): return false to refuse FEATURES_OK (may
     * be NULL: any subset is fine).
     */
    bool (*features_ok)(struct vmio_virtio_device *d, uint64_t features);
    /*
     * activate - the driver set DRIVER_OK with @features negotiated: start
     * host-side sources. Returns 0, or -errno to put the device in
     * DEVICE_NEEDS_RESET. May be NULL. Called on a vCPU thread.
     */
    int (*activate)(struct vmio_virtio_device *d, uint64_t features);
    /* reset - back to the state before the driver came (see the rules). May be NULL. */
    void (*reset)(struct vmio_virtio_device *d);
    /* queue_notify - queue @q may have work: on the I/O thread, queue lock held. */
    void (*queue_notify)(struct vmio_virtio_device *d, struct vmio_virtio_queue *q);
    /* destroy - free the model (after reset(); no callback runs any more). */
    void (*destroy)(struct vmio_virtio_device *d);
};

struct vmio_virtio_device {
    const struct vmio_virtio_device_ops *ops;
    const char *name;     /* e.g. "virtio-blk vda": messages, stats, the bus */
    uint32_t device_id;   /* VMIO_VIRTIO_ID_* */
    uint64_t features;    /* device-specific bits offered (0..23, 50..127 reserved) */
    unsigned num_queues;  /* 1..VMIO_VIRTIO_MAX_QUEUES */
    uint32_t config_size; /* bytes of device-specific configuration (at most 0x100) */
    void *transport;      /* set by the transport when it takes the device */
};

/*
 * vmio_virtio_queue_pop - the next available chain of @q into @c (sized with
 * vmio_virtq_chain_init(c, VMIO_VIRTIO_CHAIN_SEGMENTS)). Returns 1 with a
 * chain, 0 when there is none: the queue is empty (the driver's
 * notifications are then re-armed) or broken (the transport has put the
 * device in DEVICE_NEEDS_RESET and logged why; stop working on it).
 */
int vmio_virtio_queue_pop(struct vmio_virtio_queue *q, struct vmio_virtq_chain *c);

/*
 * vmio_virtio_queue_unpop - give the last popped chain back (vmio_virtq_unpop()).
 * Called N times, it gives back the last N chains popped, as long as nothing
 * was pushed since the first of them was popped.
 */
void vmio_virtio_queue_unpop(struct vmio_virtio_queue *q);

/*
 * vmio_virtio_queue_push - chain @head is done, @len bytes were written into
 * its writable segments. The interrupt (if the driver wants one) is raised
 * when queue_notify() returns, once for all the chains it pushed.
 */
void vmio_virtio_queue_push(struct vmio_virtio_queue *q, uint16_t head, uint32_t len);

/*
 * vmio_virtio_queue_fail - the driver broke the device's protocol on @q in a
 * way the device cannot answer (printf-style @fmt says how): DEVICE_NEEDS_RESET,
 * one log line, a configuration-change interrupt. Idempotent until reset.
 */
void vmio_virtio_queue_fail(struct vmio_virtio_queue *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* vmio_virtio_queue_index - @q's number (0 .. num_queues - 1). */
unsigned vmio_virtio_queue_index(const struct vmio_virtio_queue *q);

/*
 * vmio_virtio_queue_size - the number of entries of @q's ring as the driver
 * set it up (0 while the queue is not enabled): the most chains the driver
 * can make available at once.
 */
unsigned vmio_virtio_queue_size(const struct vmio_virtio_queue *q);

/* vmio_virtio_queue_has_avail - whether the driver has chains waiting in @q. */
bool vmio_virtio_queue_has_avail(struct vmio_virtio_queue *q);

/*
 * vmio_virtio_kick - make the transport call queue_notify() for queue @index
 * of @d on the I/O thread soon (as a driver notification does). Any thread;
 * never blocks; does nothing before the device is attached or for a bad
 * index.
 */
void vmio_virtio_kick(struct vmio_virtio_device *d, unsigned index);

/*
 * vmio_virtio_config_changed - the device's configuration changed: bump the
 * generation and interrupt the driver (when it is running). Any thread.
 */
void vmio_virtio_config_changed(struct vmio_virtio_device *d);

#endif
