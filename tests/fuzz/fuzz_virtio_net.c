/*
 * libFuzzer target: the virtio-net model (vmio/virtio_net.h) behind its
 * virtio-mmio transport, on a VM of the fake backend (no KVM), its host side
 * a SOCK_SEQPACKET socketpair, and a guest driver that writes anything into
 * its rings and buffers. The input chooses:
 *   byte 0  features the driver accepts: bit 0 MRG_RXBUF, bit 1 EVENT_IDX,
 *           bit 2 INDIRECT_DESC (MAC and STATUS always)
 *   byte 1  receive queue size: 1 << (b % 9); byte 2 the transmit queue's
 *   byte 3  frames the host sends the guest: b % 8; then for each a 2-byte
 *           little-endian length (% 9100; content from a pattern)
 *   byte    rounds: 1 + b % 4 (each kicks receive, then transmit, and waits
 *           for the I/O thread)
 *   rest    up to 64 KiB of guest RAM at WINDOW: the receive queue's
 *           descriptors at +0, available ring at +0x1000, used ring at
 *           +0x2000, the transmit queue's at +0x4000/+0x5000/+0x6000, and
 *           whatever buffers the descriptors point at (anywhere in RAM, or
 *           outside it).
 * Properties (a failure traps, which libFuzzer reports and the corpus replay
 * of `make check` turns into a failed test): every frame the device sends the
 * host is between an Ethernet header and VMIO_VIRTIO_NET_MAX_FRAME bytes; the
 * device comes out of every input running or in DEVICE_NEEDS_RESET, never
 * stuck (the I/O thread answers); ASan catches any access outside the
 * guest's RAM or the device's buffers. (Used-ring contents are not checked:
 * the guest may point receive buffers at its own rings.) The transport is
 * reset before each input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmio/backend_fake.h"
#include "vmio/iothread.h"
#include "vmio/virtio_mmio.h"
#include "vmio/virtio_net.h"
#include "vmio/vm.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define RAM_SIZE (2u << 20)
#define BASE 0xd0001000ULL
#define WINDOW 0x100000ULL
#define WINDOW_SIZE 0x10000u
#define HDR 4

static struct vmio_vm *vm;
static struct vmio_iothread *io;
static struct vmio_device *dev;
static int peer = -1, dev_fd = -1;
static uint8_t *ram;
static FILE *devnull;

static void wr(uint64_t off, uint32_t v)
{
    vmio_device_write(dev, off, 4, v);
}

static uint32_t rd(uint64_t off)
{
    uint64_t v = 0;
    vmio_device_read(dev, off, 4, &v);
    return (uint32_t)v;
}

static void signal_done(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return;
    while (write(*(int *)ctx, &v, sizeof(v)) < 0)
        if (errno != EINTR)
            abort();
}

/*
 * Wait until the I/O thread has handled what became ready before (three times: a descriptor's
 * callback kicks a queue, whose work may kick it again). libFuzzer's timeout alarm may interrupt
 * the wait (EINTR): it is retried.
 */
static void barrier(void)
{
    for (int i = 0; i < 3; i++) {
        int fd = eventfd(0, EFD_NONBLOCK), done = eventfd(0, 0);
        uint64_t one = 1, v;
        if (fd < 0 || done < 0 || vmio_iothread_add(io, fd, EPOLLIN, signal_done, &done, NULL))
            abort();
        ssize_t r;
        while ((r = write(fd, &one, sizeof(one))) < 0 && errno == EINTR)
            ;
        if (r < 0)
            abort();
        while ((r = read(done, &v, sizeof(v))) < 0 && errno == EINTR)
            ;
        if (r < 0)
            abort();
        vmio_iothread_remove(io, fd);
        close(fd);
        close(done);
    }
}

static void init(void)
{
    struct vmio_fake *fake;
    devnull = fopen("/dev/null", "w");
    if (!devnull || vmio_fake_create(&fake, NULL) < 0)
        abort();
    struct vmio_vm_options o = {
        .mem_size = RAM_SIZE, .irqchip = true, .log = devnull, .backend = vmio_fake_backend(fake)};
    int sv[2];
    if (vmio_vm_create(&o, &vm, NULL) < 0 || vmio_iothread_create("fz-net", &io, NULL) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    peer = sv[1];
    dev_fd = sv[0];
    struct vmio_virtio_net_config c = {
        .tap = "fz0", .fd = sv[0], .io = io, .log = devnull, .mac = {2, 0, 0, 0, 0, 1}};
    struct vmio_virtio_device *m;
    struct vmio_virtio_mmio_config t = {.base = BASE, .gsi = 16, .io = io, .log = devnull};
    if (vmio_virtio_net_create(&c, &m, NULL) < 0 || vmio_virtio_mmio_attach(vm, m, &t, &dev, NULL))
        abort();
    ram = vmio_vm_gpa_to_host(vm, 0, RAM_SIZE);
    if (!ram || vmio_iothread_start(io, NULL) < 0)
        abort();
    /* The VM and its thread live for the whole run (libFuzzer never returns). */
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void drain(int fd)
{
    uint8_t buf[VMIO_VIRTIO_NET_MAX_FRAME + 16];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0)
            return;
        if (fd == peer) /* a frame the device sent */
            CHECK(n >= VMIO_VIRTIO_NET_ETH_HLEN && n <= VMIO_VIRTIO_NET_MAX_FRAME);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vm)
        init();
    if (size < HDR)
        return 0;
    uint64_t feat = (1ULL << VMIO_VIRTIO_NET_F_MAC) | (1ULL << VMIO_VIRTIO_NET_F_STATUS) |
                    (1ULL << VMIO_VIRTIO_F_VERSION_1);
    if (data[0] & 1)
        feat |= 1ULL << VMIO_VIRTIO_NET_F_MRG_RXBUF;
    if (data[0] & 2)
        feat |= 1ULL << VMIO_VIRTIO_F_EVENT_IDX;
    if (data[0] & 4)
        feat |= 1ULL << VMIO_VIRTIO_F_INDIRECT_DESC;
    unsigned qsize[2] = {1u << (data[1] % 9), 1u << (data[2] % 9)};
    unsigned nframes = data[3] % 8;
    size_t at = HDR;
    uint16_t flen[8];
    for (unsigned i = 0; i < nframes; i++, at += 2)
        flen[i] = at + 2 <= size ? (uint16_t)(le16(data + at) % 9100) : 60;
    unsigned rounds = 1 + (at < size ? data[at] % 4 : 0);
    at++;

    /* Reset; the guest's memory is the input's. */
    wr(VMIO_VIRTIO_MMIO_STATUS, 0);
    drain(dev_fd);
    drain(peer);
    memset(ram, 0, RAM_SIZE);
    if (at < size)
        memcpy(ram + WINDOW, data + at, size - at < WINDOW_SIZE ? size - at : WINDOW_SIZE);
    for (unsigned q = 0; q < 2; q++)
        memset(ram + WINDOW + 0x4000 * q + 0x2000, 0, 4); /* the driver zeroes the used ring */

    /* The driver's start. */
    wr(VMIO_VIRTIO_MMIO_STATUS, 3);
    wr(VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
    wr(VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
    wr(VMIO_VIRTIO_MMIO_STATUS, 0xb);
    for (unsigned q = 0; q < 2; q++) {
        uint64_t d = WINDOW + 0x4000ull * q;
        wr(VMIO_VIRTIO_MMIO_QUEUE_SEL, q);
        wr(VMIO_VIRTIO_MMIO_QUEUE_NUM, qsize[q]);
        wr(VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d);
        wr(VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(d + 0x1000));
        wr(VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(d + 0x2000));
        wr(VMIO_VIRTIO_MMIO_QUEUE_READY, 1);
    }
    wr(VMIO_VIRTIO_MMIO_STATUS, 0xf);
    CHECK(rd(VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_DRIVER_OK);

    /* The host sends frames; the driver kicks both queues a few times. */
    static uint8_t frame[9100];
    for (unsigned i = 0; i < nframes; i++) {
        for (unsigned b = 0; b < flen[i]; b++)
            frame[b] = (uint8_t)(b * 13 + i);
        if (flen[i] && send(peer, frame, flen[i], MSG_DONTWAIT) < 0)
            break; /* the socket is full: enough */
    }
    for (unsigned r = 0; r < rounds; r++) {
        wr(VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, VMIO_VIRTIO_NET_RX);
        wr(VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, VMIO_VIRTIO_NET_TX);
        barrier();
    }
    drain(peer);
    return 0;
}
