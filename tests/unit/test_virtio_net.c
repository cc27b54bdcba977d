/*
 * virtio-net tests (vmio/virtio_net.h), no KVM and no TAP: the model behind
 * the transport on a fake VM (virtio_harness.h), its host side one end of an
 * AF_UNIX SOCK_SEQPACKET socketpair (one frame per message, as a TAP gives),
 * the test holding the other end. Checked: identity, features (no offload)
 * and config space; transmit in every chain layout, frames reaching the host
 * intact; malformed transmit chains dropped, counted, logged once and
 * returned; receive into one chain (num_buffers 1) and, with MRG_RXBUF,
 * across several; a frame that can never fit dropped with the buffers kept;
 * no receive buffers: one frame held, the rest left in the host socket, the
 * descriptor not watched (the I/O thread stays idle), and delivery in order
 * once buffers come; a receive buffer too small for the header puts the
 * device in DEVICE_NEEDS_RESET; a reset drops the held frame; transmit flow
 * control (EAGAIN) keeps order; a closed host side; creation errors (TAP
 * name, /dev/net/tun missing or not the tun driver, bad MAC, ownership of
 * the descriptor); the MAC helpers and the transmit verdict.
 */
#include "virtio_harness.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "vmio/virtio_net.h"

#define RX VMIO_VIRTIO_NET_RX
#define TX VMIO_VIRTIO_NET_TX
#define HDR VMIO_VIRTIO_NET_HDR_SIZE
#define F(bit) (1ULL << (bit))
#define BASIC (F(VMIO_VIRTIO_NET_F_MAC) | F(VMIO_VIRTIO_NET_F_STATUS))
#define MRG (BASIC | F(VMIO_VIRTIO_NET_F_MRG_RXBUF))

static const uint8_t test_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

struct net {
    struct vh h;
    int peer; /* the test's end of the socketpair */
    int dev_fd;
};

static void net_init_type(struct net *t, int type)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
    t->peer = sv[1];
    t->dev_fd = sv[0];
    memset(&t->h, 0, sizeof(t->h));
    fake_vm_init(&t->h.m, VMIO_UNCLAIMED_STRICT, true);
    assert_int_equal(vmio_iothread_create("t-net", &t->h.io, NULL), 0);
    struct vmio_virtio_net_config c = {.tap = "t0", .fd = sv[0], .io = t->h.io, .log = t->h.m.log};
    memcpy(c.mac, test_mac, 6);
    struct vmio_virtio_device *m;
    struct vmio_error err = {0};
    if (vmio_virtio_net_create(&c, &m, &err) != 0)
        fail_msg("create: %s", err.msg);
    struct vmio_virtio_mmio_config tc = {
        .base = VH_BASE, .gsi = VH_GSI, .io = t->h.io, .log = t->h.m.log};
    if (vmio_virtio_mmio_attach(t->h.m.vm, m, &tc, &t->h.dev, &err) != 0)
        fail_msg("attach: %s", err.msg);
    t->h.model = m;
    t->h.heap = VH_HEAP;
    assert_int_equal(vmio_iothread_start(t->h.io, NULL), 0);
}

static void net_init(struct net *t)
{
    net_init_type(t, SOCK_SEQPACKET);
}

static void net_fini(struct net *t)
{
    vh_fini(&t->h);
    if (t->peer >= 0)
        close(t->peer);
}

static struct vmio_virtio_net_stats stats(struct net *t)
{
    struct vmio_virtio_net_stats s;
    assert_true(vmio_virtio_net_stats(t->h.model, &s));
    return s;
}

/* Let the I/O thread finish what is under way: a descriptor callback, the kick it sends, the
 * queue work (and a self-kick after it). */
static void settle(struct net *t)
{
    for (int i = 0; i < 4; i++)
        vh_barrier(&t->h);
}

/* A frame of @len bytes: an Ethernet header (to us, from a test address) then a pattern from
 * @seed. */
static void make_frame(uint8_t *f, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(seed * 31 + i * 7);
    if (len >= 14) {
        memcpy(f, test_mac, 6);
        memcpy(f + 6, "\x02\x00\x00\x00\x00\x09", 6);
        f[12] = 0x88, f[13] = 0xb5; /* the local experimental EtherType */
    }
}

/* The guest sends @len bytes of @data (header included) split at @cuts (ascending, @ncut of them)
 * into one chain on the transmit queue. */
static void tx_chain(struct net *t, const uint8_t *data, size_t len, const size_t *cuts,
                     unsigned ncut)
{
    struct vh_seg segs[8];
    size_t at = 0;
    unsigned n = 0;
    for (unsigned i = 0; i <= ncut; i++) {
        size_t end = i < ncut ? cuts[i] : len;
        uint64_t a = vh_alloc(&t->h, end - at, 0);
        memcpy(vh_host(&t->h, a, end - at ? end - at : 1), data + at, end - at);
        segs[n++] = (struct vh_seg){a, (uint32_t)(end - at), false};
        at = end;
    }
    vh_chain(&t->h, TX, segs, n);
}

/* Header (all zeros: no offload) + frame of @flen bytes from @seed, in one buffer. */
static size_t tx_packet(uint8_t *buf, size_t flen, unsigned seed)
{
    memset(buf, 0, HDR);
    make_frame(buf + HDR, flen, seed);
    return HDR + flen;
}

/* A receive chain of one @len-byte writable buffer; returns its address. */
static uint64_t rx_buf(struct net *t, uint32_t len)
{
    uint64_t a = vh_alloc(&t->h, len, 0xee);
    struct vh_seg s[] = {{a, len, true}};
    vh_chain(&t->h, RX, s, 1);
    return a;
}

static void wait_used(struct net *t, unsigned q, uint16_t n)
{
    while (vh_used_idx(&t->h, q) < n)
        sched_yield();
}

static void send_frame(struct net *t, const uint8_t *f, size_t len)
{
    assert_int_equal(send(t->peer, f, len, 0), (ssize_t)len);
}

/* The used element @n of the receive queue holds header + @frame (@len bytes) in the buffer at
 * @gpa, num_buffers @nb. */
static void check_rx(struct net *t, unsigned n, uint64_t gpa, const uint8_t *frame, size_t len,
                     uint16_t nb)
{
    uint32_t id, ulen;
    vh_used(&t->h, RX, n, &id, &ulen);
    assert_int_equal(ulen, HDR + len);
    const uint8_t *p = vh_host(&t->h, gpa, HDR + len);
    uint8_t want[HDR] = {0};
    want[VMIO_VIRTIO_NET_HDR_NUM_BUFFERS] = (uint8_t)nb;
    assert_memory_equal(p, want, HDR);
    assert_memory_equal(p + HDR, frame, len);
}

static int count_lines(struct net *t, const char *needle)
{
    fflush(t->h.m.log);
    int n = 0;
    for (const char *p = t->h.m.logbuf; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_identity_and_config(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    assert_string_equal(t.h.dev->name, "virtio-net t0");
    assert_int_equal(vh_rd(&t.h, VMIO_VIRTIO_MMIO_DEVICE_ID), VMIO_VIRTIO_ID_NET);
    uint64_t want = MRG | F(VMIO_VIRTIO_F_VERSION_1) | F(VMIO_VIRTIO_F_INDIRECT_DESC) |
                    F(VMIO_VIRTIO_F_EVENT_IDX);
    assert_int_equal(vh_offered(&t.h), want); /* no CSUM, GSO, TSO, MTU, CTRL_VQ */
    uint8_t cfg[VMIO_VIRTIO_NET_CFG_SIZE + 2];
    vh_config(&t.h, 0, cfg, sizeof(cfg));
    assert_memory_equal(cfg + VMIO_VIRTIO_NET_CFG_MAC, test_mac, 6);
    assert_int_equal(cfg[VMIO_VIRTIO_NET_CFG_STATUS], VMIO_VIRTIO_NET_S_LINK_UP);
    assert_int_equal(cfg[VMIO_VIRTIO_NET_CFG_STATUS + 1], 0);
    assert_int_equal(cfg[8], 0); /* beyond the config space */
    /* Two queues, no control queue. */
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(vh_rd(&t.h, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), VMIO_VIRTIO_QUEUE_MAX_SIZE);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_QUEUE_SEL, 2);
    assert_int_equal(vh_rd(&t.h, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    /* A driver that asks for an offload that was not offered gets no FEATURES_OK. */
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_STATUS, 0);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_STATUS, 3);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(BASIC | F(VMIO_VIRTIO_NET_F_CSUM)));
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, 1);
    vh_wr(&t.h, VMIO_VIRTIO_MMIO_STATUS, 0xb);
    assert_int_equal(vh_rd(&t.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_FEATURES_OK, 0);
    net_fini(&t);
}

static void test_transmit_layouts(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t pkt[HDR + 1514], got[2048];
    /* Header and frame in one buffer. */
    size_t len = tx_packet(pkt, 60, 1);
    tx_chain(&t, pkt, len, NULL, 0);
    vh_kick(&t.h, TX);
    assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), 60);
    assert_memory_equal(got, pkt + HDR, 60);
    /* The header alone, then the frame. */
    len = tx_packet(pkt, 1514, 2);
    size_t cut1[] = {HDR};
    tx_chain(&t, pkt, len, cut1, 1);
    /* The header in two pieces, the frame starting in the second and spread over three more. */
    size_t cut2[] = {5, HDR + 3, HDR + 100, HDR + 101, HDR + 700};
    tx_chain(&t, pkt, len, cut2, 5);
    vh_kick(&t.h, TX);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), 1514);
        assert_memory_equal(got, pkt + HDR, 1514);
    }
    assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), -1);
    /* A chain that ends with a device-writable buffer: ignored, the frame still goes. */
    len = tx_packet(pkt, 64, 3);
    uint64_t a = vh_alloc(&t.h, len, 0), w = vh_alloc(&t.h, 16, 0x5a);
    memcpy(vh_host(&t.h, a, len), pkt, len);
    struct vh_seg s[] = {{a, (uint32_t)len, false}, {w, 16, true}};
    vh_chain(&t.h, TX, s, 2);
    vh_kick(&t.h, TX);
    assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), 64);
    assert_memory_equal(got, pkt + HDR, 64);
    assert_int_equal(*vh_host(&t.h, w, 1), 0x5a);
    assert_int_equal(vh_used_idx(&t.h, TX), 4);
    for (unsigned i = 0; i < 4; i++) {
        uint32_t id, ulen;
        vh_used(&t.h, TX, i, &id, &ulen);
        assert_int_equal(ulen, 0);
    }
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.tx_frames, 4);
    assert_int_equal(st.tx_bytes, 60 + 1514 * 2 + 64);
    assert_int_equal(st.tx_dropped, 0);
    net_fini(&t);
}

static void test_transmit_malformed(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t pkt[HDR + VMIO_VIRTIO_NET_MAX_FRAME + 1], got[128];
    /* Shorter than the header. */
    tx_packet(pkt, 20, 1);
    tx_chain(&t, pkt, 8, NULL, 0);
    /* NEEDS_CSUM without CSUM; DATA_VALID (received frames only); GSO without GSO. */
    size_t len = tx_packet(pkt, 60, 2);
    pkt[VMIO_VIRTIO_NET_HDR_FLAGS] = VMIO_VIRTIO_NET_HDR_F_NEEDS_CSUM;
    tx_chain(&t, pkt, len, NULL, 0);
    pkt[VMIO_VIRTIO_NET_HDR_FLAGS] = 2;
    tx_chain(&t, pkt, len, NULL, 0);
    pkt[VMIO_VIRTIO_NET_HDR_FLAGS] = 0;
    pkt[VMIO_VIRTIO_NET_HDR_GSO_TYPE] = 1; /* TCPv4 */
    tx_chain(&t, pkt, len, NULL, 0);
    /* A runt (no Ethernet header) and a frame longer than any MTU. */
    len = tx_packet(pkt, 13, 3);
    tx_chain(&t, pkt, len, NULL, 0);
    len = tx_packet(pkt, VMIO_VIRTIO_NET_MAX_FRAME + 1, 4);
    tx_chain(&t, pkt, len, NULL, 0);
    /* Then a good one: it goes, the bad ones did not. */
    len = tx_packet(pkt, 42, 5);
    tx_chain(&t, pkt, len, NULL, 0);
    vh_kick(&t.h, TX);
    assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), 42);
    assert_memory_equal(got, pkt + HDR, 42);
    assert_int_equal(recv(t.peer, got, sizeof(got), MSG_DONTWAIT), -1);
    assert_int_equal(vh_used_idx(&t.h, TX), 7); /* every chain came back */
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.tx_dropped, 6);
    assert_int_equal(st.tx_frames, 1);
    assert_int_equal(count_lines(&t, "dropped a frame the guest sent"), 1);
    assert_non_null(strstr(t.h.m.logbuf, "shorter than the 12-byte virtio-net header"));
    assert_int_equal(vh_rd(&t.h, VMIO_VIRTIO_MMIO_STATUS), 0xf); /* not a reason to reset */
    net_fini(&t);
}

static void test_receive_one_chain(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t a[1514], b[60], c[200];
    make_frame(a, sizeof(a), 1);
    make_frame(b, sizeof(b), 2);
    make_frame(c, sizeof(c), 3);
    uint64_t r1 = rx_buf(&t, HDR + 1514), r2 = rx_buf(&t, 100);
    vh_kick(&t.h, RX);
    send_frame(&t, a, sizeof(a));
    send_frame(&t, b, sizeof(b));
    wait_used(&t, RX, 2);
    check_rx(&t, 0, r1, a, sizeof(a), 1);
    check_rx(&t, 1, r2, b, sizeof(b), 1);
    /* Too long for the next buffer without MRG_RXBUF: dropped, and the buffer takes the next. */
    uint64_t r3 = rx_buf(&t, 100);
    vh_kick(&t.h, RX);
    send_frame(&t, c, sizeof(c));
    send_frame(&t, b, sizeof(b));
    wait_used(&t, RX, 3);
    check_rx(&t, 2, r3, b, sizeof(b), 1);
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.rx_frames, 3);
    assert_int_equal(st.rx_bytes, 1514 + 60 + 60);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(count_lines(&t, "longer than a receive buffer"), 1);
    assert_true(st.rx_batches >= 1);
    net_fini(&t);
}

static void test_receive_without_buffers(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t f[3][100];
    for (unsigned i = 0; i < 3; i++) {
        make_frame(f[i], sizeof(f[i]), 10 + i);
        send_frame(&t, f[i], sizeof(f[i]));
    }
    settle(&t);
    /* One frame waits in the device; the other two are still in the host's socket. */
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.rx_frames, 0);
    assert_true(st.rx_pending);
    assert_int_equal(st.rx_waits, 1);
    int queued = 0;
    assert_int_equal(ioctl(t.dev_fd, FIONREAD, &queued), 0);
    assert_int_equal(queued, 200); /* SEQPACKET: all the bytes unread */
    /* The descriptor is not watched: the I/O thread does nothing while the frames wait. */
    struct vmio_virtio_mmio_stats ts0, ts1;
    vmio_virtio_mmio_stats(t.h.dev, &ts0);
    settle(&t);
    settle(&t);
    vmio_virtio_mmio_stats(t.h.dev, &ts1);
    assert_int_equal(ts1.kicks, ts0.kicks);
    assert_int_equal(stats(&t).rx_waits, 1);
    /* A buffer: the waiting frame goes into it, the next one waits. */
    uint64_t r1 = rx_buf(&t, 256);
    vh_kick(&t.h, RX);
    wait_used(&t, RX, 1);
    check_rx(&t, 0, r1, f[0], 100, 1);
    /* Two more: everything arrives, in order, nothing was lost. */
    uint64_t r2 = rx_buf(&t, 256), r3 = rx_buf(&t, 256);
    vh_kick(&t.h, RX);
    wait_used(&t, RX, 3);
    check_rx(&t, 1, r2, f[1], 100, 1);
    check_rx(&t, 2, r3, f[2], 100, 1);
    st = stats(&t);
    assert_int_equal(st.rx_frames, 3);
    assert_int_equal(st.rx_dropped, 0);
    assert_false(st.rx_pending);
    /* Once buffers are left over, the descriptor is watched again: a new frame arrives alone. */
    uint64_t r4 = rx_buf(&t, 256);
    vh_kick(&t.h, RX);
    send_frame(&t, f[2], 60);
    wait_used(&t, RX, 4);
    check_rx(&t, 3, r4, f[2], 60, 1);
    net_fini(&t);
}

static void test_receive_merged(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, MRG, 2);
    static uint8_t big[3000], small[50], huge[2000];
    make_frame(big, sizeof(big), 1);
    make_frame(small, sizeof(small), 2);
    make_frame(huge, sizeof(huge), 3);
    /* 3012 bytes with the header over 1024-byte buffers: two are not enough, it waits. */
    uint64_t b1 = rx_buf(&t, 1024), b2 = rx_buf(&t, 1024);
    vh_kick(&t.h, RX);
    send_frame(&t, big, sizeof(big));
    settle(&t);
    assert_int_equal(vh_used_idx(&t.h, RX), 0);
    assert_true(stats(&t).rx_pending);
    uint64_t b3 = rx_buf(&t, 1024);
    vh_kick(&t.h, RX);
    wait_used(&t, RX, 3);
    uint32_t id, len;
    uint32_t lens[3] = {1024, 1024, 3012 - 2048};
    for (unsigned i = 0; i < 3; i++) {
        vh_used(&t.h, RX, i, &id, &len);
        assert_int_equal(len, lens[i]);
    }
    const uint8_t *p1 = vh_host(&t.h, b1, 1024);
    assert_int_equal(p1[VMIO_VIRTIO_NET_HDR_NUM_BUFFERS], 3);
    assert_int_equal(p1[VMIO_VIRTIO_NET_HDR_NUM_BUFFERS + 1], 0);
    assert_memory_equal(p1 + HDR, big, 1024 - HDR);
    assert_memory_equal(vh_host(&t.h, b2, 1024), big + 1024 - HDR, 1024);
    assert_memory_equal(vh_host(&t.h, b3, 964), big + 2048 - HDR, 964);
    /* A small frame takes one buffer: num_buffers 1. */
    uint64_t b4 = rx_buf(&t, 1024);
    vh_kick(&t.h, RX);
    send_frame(&t, small, sizeof(small));
    wait_used(&t, RX, 4);
    check_rx(&t, 3, b4, small, sizeof(small), 1);
    /* The whole ring (64 buffers of 16 bytes) cannot hold 2012 bytes: dropped, buffers kept. */
    uint64_t first = 0;
    for (unsigned i = 0; i < VH_QSIZE; i++) {
        uint64_t a = rx_buf(&t, 16);
        if (i == 0)
            first = a;
    }
    vh_kick(&t.h, RX);
    send_frame(&t, huge, sizeof(huge));
    send_frame(&t, small, 4);
    wait_used(&t, RX, 5);
    check_rx(&t, 4, first, small, 4, 1);
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.rx_dropped, 1);
    assert_int_equal(st.rx_frames, 3);
    assert_int_equal(count_lines(&t, "longer than all the receive buffers"), 1);
    net_fini(&t);
}

static void test_receive_buffer_too_small(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t f[60];
    make_frame(f, sizeof(f), 1);
    rx_buf(&t, 11); /* cannot even hold the header */
    vh_kick(&t.h, RX);
    send_frame(&t, f, sizeof(f));
    settle(&t);
    assert_int_equal(vh_used_idx(&t.h, RX), 0);
    assert_true(vh_rd(&t.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(count_lines(&t, "less than the 12-byte virtio-net header"), 1);
    /* A reset and a new start: the device works again. */
    vh_start(&t.h, BASIC, 2);
    uint64_t r = rx_buf(&t, 128);
    vh_kick(&t.h, RX);
    send_frame(&t, f, sizeof(f));
    wait_used(&t, RX, 1);
    check_rx(&t, 0, r, f, sizeof(f), 1);
    net_fini(&t);
}

static void test_reset_drops_waiting_frame(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    static uint8_t x[70], y[80];
    make_frame(x, sizeof(x), 1);
    make_frame(y, sizeof(y), 2);
    send_frame(&t, x, sizeof(x));
    settle(&t);
    assert_true(stats(&t).rx_pending);
    vh_start(&t.h, BASIC, 2); /* reset: the driver took its buffers back, the frame goes too */
    assert_false(stats(&t).rx_pending);
    uint64_t r = rx_buf(&t, 128);
    vh_kick(&t.h, RX);
    send_frame(&t, y, sizeof(y));
    wait_used(&t, RX, 1);
    check_rx(&t, 0, r, y, sizeof(y), 1);
    net_fini(&t);
}

static void test_transmit_flow_control(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    /* More frames than the device's socket may have unread (a small send buffer): the device
     * stops at EAGAIN and resumes, in order, as the host reads. */
    int small = 4096;
    assert_int_equal(setsockopt(t.dev_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    enum { N = 40 };
    static uint8_t pkt[HDR + 100];
    for (unsigned i = 0; i < N; i++) {
        size_t len = tx_packet(pkt, 100, 0);
        pkt[HDR + 14] = (uint8_t)i;
        tx_chain(&t, pkt, len, NULL, 0);
    }
    vh_kick(&t.h, TX);
    assert_true(vh_used_idx(&t.h, TX) < N);
    assert_true(stats(&t).tx_waits >= 1);
    for (unsigned i = 0; i < N; i++) {
        uint8_t got[128];
        assert_int_equal(recv(t.peer, got, sizeof(got), 0), 100);
        assert_int_equal(got[14], i);
    }
    wait_used(&t, TX, N);
    struct vmio_virtio_net_stats st = stats(&t);
    assert_int_equal(st.tx_frames, N);
    assert_int_equal(st.tx_errors, 0);
    assert_int_equal(st.tx_dropped, 0);
    net_fini(&t);
}

static void test_transmit_budget(void **state)
{
    (void)state;
    struct net t;
    net_init_type(&t, SOCK_STREAM); /* room for a whole ring of frames */
    vh_start(&t.h, BASIC, 2);
    static uint8_t pkt[HDR + 20];
    for (unsigned i = 0; i < VH_QSIZE; i++) {
        size_t len = tx_packet(pkt, 20, i);
        tx_chain(&t, pkt, len, NULL, 0);
    }
    struct vmio_virtio_mmio_stats ts0, ts1;
    vmio_virtio_mmio_stats(t.h.dev, &ts0);
    vh_kick(&t.h, TX);
    settle(&t);
    vmio_virtio_mmio_stats(t.h.dev, &ts1);
    assert_int_equal(vh_used_idx(&t.h, TX), VH_QSIZE);
    assert_int_equal(stats(&t).tx_frames, VH_QSIZE);
    /* A budget's worth, then the queue yields the thread and kicks itself once more. */
    assert_int_equal(ts1.kicks - ts0.kicks, VH_QSIZE / VMIO_VIRTIO_NET_BUDGET + 1);
    net_fini(&t);
}

static void test_host_side_closed(void **state)
{
    (void)state;
    struct net t;
    net_init(&t);
    vh_start(&t.h, BASIC, 2);
    close(t.peer);
    t.peer = -1;
    while (!stats(&t).backend_closed)
        sched_yield();
    settle(&t);
    assert_int_equal(count_lines(&t, "the host side was closed"), 1);
    /* Transmitting still answers the guest: the frame is counted as refused (no SIGPIPE). */
    static uint8_t pkt[HDR + 60];
    size_t len = tx_packet(pkt, 60, 1);
    tx_chain(&t, pkt, len, NULL, 0);
    tx_chain(&t, pkt, len, NULL, 0);
    vh_kick(&t.h, TX);
    assert_int_equal(vh_used_idx(&t.h, TX), 2);
    assert_int_equal(stats(&t).tx_errors, 2);
    assert_int_equal(count_lines(&t, "the host refused a frame"), 1);
    net_fini(&t);
}

/* Whether @fd is open. */
static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_create_errors(void **state)
{
    (void)state;
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-neterr", &io, NULL), 0);
    struct vmio_virtio_device *m;
    struct vmio_error err = {0};
    struct vmio_virtio_net_config c = {.tap = "t0", .fd = -1, .io = io};
    memcpy(c.mac, test_mac, 6);

    struct vmio_virtio_net_config bad = c;
    bad.io = NULL;
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    bad = c;
    bad.tap = NULL;
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    /* A multicast MAC is refused, and a descriptor given is closed (the device owned it). */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    bad = c;
    bad.fd = sv[0];
    bad.mac[0] = 0x01;
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "multicast"));
    assert_false(fd_open(sv[0]));
    memset(bad.mac, 0, 6);
    bad.fd = -1;
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "zero"));
    /* TAP names and the clone device: errors name the TAP and say why. */
    bad = c;
    bad.tap = "bad/name";
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "bad/name"));
    bad.tap = "a-name-that-is-too-long";
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "longer than 15"));
    bad = c;
    bad.tun_path = "/nonexistent/vmio-test/tun";
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "TAP t0"));
    assert_non_null(strstr(err.msg, "/nonexistent/vmio-test/tun"));
    assert_non_null(strstr(err.msg, "tun driver is missing"));
    bad.tun_path = "/dev/null";
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not the tun driver"));
    /* A descriptor that cannot be polled (a regular file). */
    char path[] = "/tmp/vmio-net-XXXXXX";
    int f = mkstemp(path);
    assert_true(f >= 0);
    unlink(path);
    bad = c;
    bad.fd = f;
    assert_int_equal(vmio_virtio_net_create(&bad, &m, &err), -EPERM);
    assert_non_null(strstr(err.msg, "cannot be watched"));
    assert_false(fd_open(f));
    close(sv[1]);
    /* Stats of another model. */
    struct vmio_virtio_net_stats st;
    assert_false(vmio_virtio_net_stats(NULL, &st));
    vmio_iothread_destroy(io);
}

static void test_mac_helpers(void **state)
{
    (void)state;
    uint8_t m[6];
    assert_int_equal(vmio_virtio_net_parse_mac("02:00:00:00:00:01", m), 0);
    assert_memory_equal(m, "\x02\x00\x00\x00\x00\x01", 6);
    assert_int_equal(vmio_virtio_net_parse_mac("52-54-Ab-cD-eF-99", m), 0);
    assert_memory_equal(m, "\x52\x54\xab\xcd\xef\x99", 6);
    const char *bad[] = {"",
                         "02:00:00:00:00",
                         "02:00:00:00:00:01:",
                         "02:00:00:00:00:011",
                         "2:0:0:0:0:1",
                         "02:00:00:00:00:0g",
                         "02 00 00 00 00 01",
                         "01:00:5e:00:00:01", /* multicast */
                         "ff:ff:ff:ff:ff:ff",
                         "00:00:00:00:00:00"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(m, 0x77, 6);
        assert_int_equal(vmio_virtio_net_parse_mac(bad[i], m), -EINVAL);
        assert_int_equal(m[0], 0x77); /* untouched */
    }
    vmio_virtio_net_default_mac(3, m);
    assert_memory_equal(m, "\x02\x76\x6d\x69\x6f\x03", 6);
    assert_int_equal(vmio_virtio_net_check_mac(m), 0);

    uint8_t hdr[HDR] = {0};
    assert_null(vmio_virtio_net_tx_verdict(hdr, HDR, 14, 0));
    assert_null(vmio_virtio_net_tx_verdict(hdr, HDR, VMIO_VIRTIO_NET_MAX_FRAME, 0));
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR - 1, 60, 0));
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR, 13, 0));
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR, VMIO_VIRTIO_NET_MAX_FRAME + 1, 0));
    hdr[VMIO_VIRTIO_NET_HDR_FLAGS] = VMIO_VIRTIO_NET_HDR_F_NEEDS_CSUM;
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR, 60, 0));
    assert_null(vmio_virtio_net_tx_verdict(hdr, HDR, 60, F(VMIO_VIRTIO_NET_F_CSUM)));
    hdr[VMIO_VIRTIO_NET_HDR_FLAGS] = 4;
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR, 60, F(VMIO_VIRTIO_NET_F_CSUM)));
    hdr[VMIO_VIRTIO_NET_HDR_FLAGS] = 0;
    hdr[VMIO_VIRTIO_NET_HDR_GSO_TYPE] = 0x80; /* ECN alone */
    assert_non_null(vmio_virtio_net_tx_verdict(hdr, HDR, 60, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_config),
        cmocka_unit_test(test_transmit_layouts),
        cmocka_unit_test(test_transmit_malformed),
        cmocka_unit_test(test_receive_one_chain),
        cmocka_unit_test(test_receive_without_buffers),
        cmocka_unit_test(test_receive_merged),
        cmocka_unit_test(test_receive_buffer_too_small),
        cmocka_unit_test(test_reset_drops_waiting_frame),
        cmocka_unit_test(test_transmit_flow_control),
        cmocka_unit_test(test_transmit_budget),
        cmocka_unit_test(test_host_side_closed),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_mac_helpers),
    };
    return cmocka_run_group_tests_name("virtio_net", tests, NULL, NULL);
}
