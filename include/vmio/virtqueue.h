/*
 * Split virtqueues (virtio 1.x, section 2.7) as a device reads and writes
 * them in guest memory: the descriptor table, the driver's available ring and
 * the device's used ring.
 *
 * Everything in those rings is written by the guest, concurrently with the
 * device, and is untrusted. This module is the one place that reads them,
 * and it checks every value before using it:
 *   - at setup (vmio_virtq_init()): the size is a power of two from 1 to
 *     32768, the three rings are aligned as the spec requires (16, 2 and 4
 *     bytes) and lie entirely inside guest RAM (the used ring inside
 *     writable RAM), with no end address that wraps;
 *   - for each chain (vmio_virtq_pop()): the driver's available index is at
 *     most `size` entries ahead of the device's; head and next indices are
 *     inside their table; a chain holds at most `size` buffers, direct and
 *     indirect together (so a loop ends as "too long"), and a walk inside an
 *     indirect table at most as many as the table has; indirect tables need
 *     VIRTIO_F_INDIRECT_DESC, a length that is a non-zero multiple of 16, lie
 *     in guest RAM, are never nested and never combined with NEXT;
 *     device-writable buffers come after all readable ones; every buffer lies
 *     in guest RAM (writable buffers in writable RAM), checked through
 *     vmio_guest_mem_find() so address + length cannot wrap.
 * Each descriptor is copied out of guest memory once and only the copy is
 * checked and used, so a guest that rewrites a descriptor while the device
 * walks it cannot make a checked value change afterwards.
 *
 * A failed check is an error (-EIO, with the what and where in @err): the
 * caller (the transport) then puts the device in DEVICE_NEEDS_RESET. Nothing
 * here touches host memory outside the guest's RAM regions, allocates on the
 * pop path, or aborts.
 *
 * Buffers come out as host iovecs straight into guest RAM (no copy), ready
 * for preadv(2)/pwritev(2); they stay valid while the guest's memory map is
 * unchanged (a VM fixes it before its vCPUs run).
 *
 * Memory ordering: the available index is read with acquire semantics before
 * the ring entry and descriptors it publishes; a used element is written
 * before the used index is stored with release semantics; a full barrier
 * separates publishing the used index from reading the driver's
 * interrupt-suppression state, and re-enabling notifications from re-reading
 * the available index (the spec's 2.7.10 / 2.7.7 protocol).
 *
 * Threads: a queue is used by one thread at a time (its owner's lock); the
 * guest is the only other party.
 */
#ifndef VMIO_VIRTQUEUE_H
#define VMIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmio/error.h"
#include "vmio/guest_mem.h"

#define VMIO_VIRTQ_MAX_SIZE 32768u

/* Descriptor flags. */
#define VMIO_VIRTQ_DESC_F_NEXT 1u
#define VMIO_VIRTQ_DESC_F_WRITE 2u
#define VMIO_VIRTQ_DESC_F_INDIRECT 4u
/* avail.flags: the driver does not want interrupts (without EVENT_IDX). */
#define VMIO_VIRTQ_AVAIL_F_NO_INTERRUPT 1u
/* used.flags: the device does not want notifications (without EVENT_IDX). */
#define VMIO_VIRTQ_USED_F_NO_NOTIFY 1u

/* Where the driver put a queue and what was negotiated for it. */
struct vmio_virtq_config {
    uint16_t size;  /* entries: a power of two, 1..VMIO_VIRTQ_MAX_SIZE (0 means 65536: refused) */
    uint64_t desc;  /* guest-physical address of the descriptor table */
    uint64_t avail; /* ... of the available (driver) ring */
    uint64_t used;  /* ... of the used (device) ring */
    bool indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */
    bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
};

/* One queue. Fields are the module's; read `size` and the config freely. */
struct vmio_virtq {
    const struct vmio_guest_mem *mem;
    struct vmio_virtq_config cfg;
    uint16_t size;
    uint8_t *desc; /* host view of the rings, checked at init */
    uint8_t *avail;
    uint8_t *used;
    uint16_t last_avail;     /* the next available-ring entry the device reads */
    uint16_t used_idx;       /* the device's used index (what it last published) */
    uint16_t signalled_used; /* used index when an interrupt was last decided */
    bool signalled_valid;
};

/*
 * A popped chain: host segments, the device-readable ones first
 * (iov[0 .. nread)), then the device-writable ones (iov[nread .. nread +
 * nwrite)). Zero-length descriptors give no segment; a buffer that crosses
 * from one RAM region into an adjacent one gives one segment per region.
 */
struct vmio_virtq_chain {
    uint16_t head;      /* the id to give back in the used ring */
    unsigned nread;     /* readable segments */
    unsigned nwrite;    /* writable segments */
    uint64_t read_len;  /* bytes in the readable segments */
    uint64_t write_len; /* bytes in the writable segments */
    unsigned ndesc;     /* buffer descriptors walked (indirect ones included) */
    struct iovec *iov;  /* cap entries, owned by the chain */
    unsigned cap;
};

/*
 * vmio_virtq_init - set up @q for the rings described by @cfg in @mem
 * (borrowed: it must outlive the queue): checks them as the file comment
 * says, starts both indices at 0.
 * Errors: -EINVAL (bad size or alignment) or -EFAULT (a ring outside guest
 * RAM, the used ring in read-only memory), described in @err; @q is then
 * unusable (vmio_virtq_pop() on it returns -EIO).
 */
int vmio_virtq_init(struct vmio_virtq *q, const struct vmio_guest_mem *mem,
                    const struct vmio_virtq_config *cfg, struct vmio_error *err);

/*
 * vmio_virtq_chain_init - make @c able to hold @cap host segments (use the
 * largest queue size it will serve plus a few for buffers that cross RAM
 * regions). Errors: -EINVAL for @cap 0, -ENOMEM. Free with
 * vmio_virtq_chain_free().
 */
int vmio_virtq_chain_init(struct vmio_virtq_chain *c, unsigned cap);

/* vmio_virtq_chain_free - release @c's segments array (@c may be zeroed or NULL). */
void vmio_virtq_chain_free(struct vmio_virtq_chain *c);

/*
 * vmio_virtq_has_avail - whether the driver has made chains available that
 * the device has not popped (an acquire read of the available index).
 */
bool vmio_virtq_has_avail(struct vmio_virtq *q);

/*
 * vmio_virtq_pop - take the next available chain into @c (its previous
 * contents are overwritten). Returns 1 with a chain, 0 when none is
 * available, -EIO when the ring or the chain breaks a rule above (what and
 * where in @err; the chain is not consumed and @c is undefined), -ENOSPC
 * when the chain needs more segments than @c has room for (also a guest
 * error: the device should size @c for its queues).
 */
int vmio_virtq_pop(struct vmio_virtq *q, struct vmio_virtq_chain *c, struct vmio_error *err);

/*
 * vmio_virtq_unpop - give the last popped chain back to the ring (the next
 * pop returns it again), for a device that found it cannot use it yet. N
 * calls give back the last N chains popped, provided none was pushed since.
 */
void vmio_virtq_unpop(struct vmio_virtq *q);

/*
 * vmio_virtq_push - return chain @head to the driver with @len bytes written
 * into its writable buffers: the used element is written, then the used
 * index is published. No interrupt: see vmio_virtq_needs_interrupt().
 */
void vmio_virtq_push(struct vmio_virtq *q, uint16_t head, uint32_t len);

/*
 * vmio_virtq_needs_interrupt - after one or more pushes: whether the driver
 * asked to be interrupted for them (VIRTQ_AVAIL_F_NO_INTERRUPT, or with
 * EVENT_IDX its used_event index). Remembers the decision, so each push is
 * considered once. False when nothing was pushed since the last call.
 */
bool vmio_virtq_needs_interrupt(struct vmio_virtq *q);

/*
 * vmio_virtq_set_notify - ask the driver to notify (@on) or not to bother
 * (!@on) when it makes chains available. With EVENT_IDX, @on sets
 * avail_event to the next entry the device will read (and !@on does
 * nothing: the driver only notifies when it crosses that index); without
 * it, the VIRTQ_USED_F_NO_NOTIFY flag. Turning it on ends with a full
 * barrier: call vmio_virtq_has_avail() afterwards to catch a chain made
 * available just before.
 */
void vmio_virtq_set_notify(struct vmio_virtq *q, bool on);

/* ---- Copying through a chain's segments (bounded by the segments' length) ---- */

/*
 * vmio_iov_to_buf - copy up to @len bytes starting @offset bytes into the
 * @n segments @iov to @buf. Returns the bytes copied (less than @len when the
 * segments end first).
 */
size_t vmio_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len);

/* vmio_iov_from_buf - copy @len bytes of @buf into the segments at @offset; as above. */
size_t vmio_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
                         size_t len);

/*
 * vmio_iov_slice - the part [@offset, @offset + @len) of the @n segments @iov
 * as at most @max segments in @out (pointers into the same memory). Returns
 * the number of segments, or -ENOSPC when more than @max would be needed.
 * A range beyond the segments' end is cut at their end.
 */
int vmio_iov_slice(const struct iovec *iov, unsigned n, size_t offset, size_t len,
                   struct iovec *out, unsigned max);

#endif
