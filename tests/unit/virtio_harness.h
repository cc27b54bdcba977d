/*
 * A virtio driver for unit tests of device models (test_virtio_blk.c,
 * test_virtio_rng.c, test_virtio_console.c): the model behind a virtio-mmio
 * transport on a VM of the fake backend (fake_vm.h) with a running I/O
 * thread, and the driver's side done by hand: feature negotiation, queues of
 * VH_QSIZE entries at fixed guest addresses, chains of buffers from a bump
 * allocator in guest RAM, notifications through the QueueNotify register,
 * and the used ring read back.
 *
 * vh_kick() returns once the I/O thread has handled the notification and
 * everything that became ready before it (a barrier descriptor on the same
 * thread: epoll reports descriptors in the order they became ready), so
 * tests never wait on time.
 *
 * Invariant: vh_fini() releases everything vh_init() made (clean under ASan).
 */
#ifndef VMIO_TEST_VIRTIO_HARNESS_H
#define VMIO_TEST_VIRTIO_HARNESS_H

#include "fake_vm.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmio/iothread.h"
#include "vmio/virtio.h"
#include "vmio/virtio_mmio.h"

#define VH_BASE 0xd0001000ULL
#define VH_GSI 16
#define VH_QSIZE 64
#define VH_RINGS 0x100000ULL /* queue q: desc at + q * 0x4000, avail + 0x1000, used + 0x2000 */
#define VH_HEAP 0x140000ULL  /* buffers */
#define VH_HEAP_END 0x1f0000ULL

struct vh {
    struct fake_vm m;
    struct vmio_iothread *io;
    struct vmio_device *dev;
    struct vmio_virtio_device *model;
    uint64_t heap;
    uint16_t next_desc[VMIO_VIRTIO_MAX_QUEUES];
};

/* One buffer of a chain: guest address, length, device-writable or not. */
struct vh_seg {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

/* @model behind a transport at VH_BASE (fast paths on), the I/O thread running. */
static inline void vh_init(struct vh *h, struct vmio_virtio_device *model)
{
    memset(h, 0, sizeof(*h));
    fake_vm_init(&h->m, VMIO_UNCLAIMED_STRICT, true);
    assert_int_equal(vmio_iothread_create("t-vh", &h->io, NULL), 0);
    struct vmio_virtio_mmio_config c = {
        .base = VH_BASE, .gsi = VH_GSI, .io = h->io, .log = h->m.log};
    struct vmio_error err = {0};
    h->model = model;
    if (vmio_virtio_mmio_attach(h->m.vm, model, &c, &h->dev, &err) != 0)
        fail_msg("attach: %s", err.msg);
    assert_int_equal(vmio_iothread_start(h->io, NULL), 0);
    h->heap = VH_HEAP;
}

static inline void vh_fini(struct vh *h)
{
    vmio_iothread_stop(h->io);
    fake_vm_fini(&h->m);
    vmio_iothread_destroy(h->io);
}

static inline uint32_t vh_rd(struct vh *h, uint64_t off)
{
    uint64_t v = 0;
    assert_int_equal(vmio_device_read(h->dev, off, 4, &v), 0);
    return (uint32_t)v;
}

static inline void vh_wr(struct vh *h, uint64_t off, uint32_t v)
{
    assert_int_equal(vmio_device_write(h->dev, off, 4, v), 0);
}

/* Config space bytes [off, off + len) of the device. */
static inline void vh_config(struct vh *h, uint32_t off, void *buf, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        uint64_t v = 0;
        assert_int_equal(vmio_device_read(h->dev, VMIO_VIRTIO_MMIO_CONFIG + off + i, 1, &v), 0);
        ((uint8_t *)buf)[i] = (uint8_t)v;
    }
}

static inline uint64_t vh_offered(struct vh *h)
{
    vh_wr(h, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = vh_rd(h, VMIO_VIRTIO_MMIO_DEVICE_FEATURES);
    vh_wr(h, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    return lo | ((uint64_t)vh_rd(h, VMIO_VIRTIO_MMIO_DEVICE_FEATURES) << 32);
}

static inline uint8_t *vh_host(struct vh *h, uint64_t gpa, uint64_t len)
{
    uint8_t *p = vmio_vm_gpa_to_host(h->m.vm, gpa, len);
    assert_non_null(p);
    return p;
}

static inline uint64_t vh_desc_gpa(unsigned q)
{
    return VH_RINGS + 0x4000ull * q;
}

static inline uint64_t vh_avail_gpa(unsigned q)
{
    return vh_desc_gpa(q) + 0x1000;
}

static inline uint64_t vh_used_gpa(unsigned q)
{
    return vh_desc_gpa(q) + 0x2000;
}

static inline void vh_signal_done(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t v;
    assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(write(*(int *)ctx, &v, sizeof(v)), sizeof(v));
}

/* Wait until the I/O thread has handled everything that became ready before. */
static inline void vh_barrier(struct vh *h)
{
    int fd = eventfd(0, EFD_NONBLOCK), done = eventfd(0, 0);
    assert_int_equal(vmio_iothread_add(h->io, fd, EPOLLIN, vh_signal_done, &done, NULL), 0);
    uint64_t one = 1, v;
    assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
    assert_int_equal(read(done, &v, sizeof(v)), sizeof(v));
    assert_int_equal(vmio_iothread_remove(h->io, fd), 0);
    close(fd);
    close(done);
}

/*
 * The driver's start: accept @features (VERSION_1 is added), set up the first
 * @nq queues, DRIVER_OK, and wait for the first look at them. Asserts that
 * FEATURES_OK stuck.
 */
static inline void vh_start(struct vh *h, uint64_t features, unsigned nq)
{
    memset(vh_host(h, VH_RINGS, 0x4000ull * nq), 0, 0x4000ull * nq);
    features |= 1ULL << VMIO_VIRTIO_F_VERSION_1;
    vh_wr(h, VMIO_VIRTIO_MMIO_STATUS, 0);
    vh_wr(h, VMIO_VIRTIO_MMIO_STATUS, VMIO_VIRTIO_STATUS_ACKNOWLEDGE | VMIO_VIRTIO_STATUS_DRIVER);
    vh_wr(h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vh_wr(h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    vh_wr(h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    vh_wr(h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
    vh_wr(h, VMIO_VIRTIO_MMIO_STATUS, 0xb);
    assert_int_equal(vh_rd(h, VMIO_VIRTIO_MMIO_STATUS), 0xb);
    for (unsigned q = 0; q < nq; q++) {
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_SEL, q);
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_NUM, VH_QSIZE);
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vh_desc_gpa(q));
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)vh_avail_gpa(q));
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)vh_used_gpa(q));
        vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_READY, 1);
        assert_int_equal(vh_rd(h, VMIO_VIRTIO_MMIO_QUEUE_READY), 1);
        h->next_desc[q] = 0;
    }
    vh_wr(h, VMIO_VIRTIO_MMIO_STATUS, 0xf);
    assert_int_equal(vh_rd(h, VMIO_VIRTIO_MMIO_STATUS), 0xf);
    vh_barrier(h);
}

/* @len bytes of guest RAM from the heap (8-byte aligned), filled with @fill. */
static inline uint64_t vh_alloc(struct vh *h, uint64_t len, int fill)
{
    uint64_t a = h->heap;
    h->heap = (h->heap + len + 7) & ~7ULL;
    assert_true(h->heap <= VH_HEAP_END);
    memset(vh_host(h, a, len ? len : 1), fill, len);
    return a;
}

/* Make the chain @segs (@n of them) available on queue @q; returns its head. */
static inline uint16_t vh_chain(struct vh *h, unsigned q, const struct vh_seg *segs, unsigned n)
{
    uint16_t head = h->next_desc[q];
    for (unsigned i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % VH_QSIZE);
        uint16_t next = (uint16_t)((d + 1) % VH_QSIZE);
        uint16_t flags = (uint16_t)((i + 1 < n ? VMIO_VIRTQ_DESC_F_NEXT : 0) |
                                    (segs[i].write ? VMIO_VIRTQ_DESC_F_WRITE : 0));
        uint8_t *p = vh_host(h, vh_desc_gpa(q) + 16ull * d, 16);
        memcpy(p, &segs[i].gpa, 8);
        memcpy(p + 8, &segs[i].len, 4);
        memcpy(p + 12, &flags, 2);
        memcpy(p + 14, &next, 2);
    }
    h->next_desc[q] = (uint16_t)((head + n) % VH_QSIZE);
    uint8_t *avail = vh_host(h, vh_avail_gpa(q), 4 + 2 * VH_QSIZE);
    uint16_t idx;
    memcpy(&idx, avail + 2, 2);
    memcpy(avail + 4 + 2 * (idx % VH_QSIZE), &head, 2);
    idx++;
    memcpy(avail + 2, &idx, 2);
    return head;
}

/* Notify queue @q through QueueNotify and wait until the device has looked at it. */
static inline void vh_kick(struct vh *h, unsigned q)
{
    vh_wr(h, VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, q);
    vh_barrier(h);
}

/* The device's used index, read as a driver does (an acquire load: its buffers are visible). */
static inline uint16_t vh_used_idx(struct vh *h, unsigned q)
{
    return __atomic_load_n((uint16_t *)(void *)vh_host(h, vh_used_gpa(q) + 2, 2), __ATOMIC_ACQUIRE);
}

/* Used element @n (0 = the first ever) of queue @q: its id and length. */
static inline void vh_used(struct vh *h, unsigned q, unsigned n, uint32_t *id, uint32_t *len)
{
    const uint8_t *e = vh_host(h, vh_used_gpa(q) + 4 + 8ull * (n % VH_QSIZE), 8);
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
}

#endif
