/*
 * virtio-net (see vmio/virtio_net.h): Ethernet frames between the driver's
 * two queues and a host descriptor (a TAP), on the I/O thread.
 *
 * Invariants:
 *   - All queue work happens in net_notify() on the I/O thread. The
 *     descriptor's callback only stops watching what it saw and kicks the
 *     queue that waits for it: receive for readable, transmit for writable.
 *   - The descriptor is watched for input (want_in) only while the receive
 *     side has no frame waiting and found the descriptor empty: set when a
 *     read says EAGAIN (and at activation), cleared by the callback, by a
 *     frame that must wait for guest buffers and by reset(). So a guest with
 *     no receive buffers costs nothing and loses nothing: vmio holds one
 *     frame, the rest stay queued in the host's TAP.
 *   - It is watched for output (want_out) only while a transmit chain waits
 *     because the descriptor said EAGAIN; that chain was given back to the
 *     ring (unpopped), so it is sent again, in order, when the descriptor is
 *     writable.
 *   - want_in, want_out and the events given to the I/O thread change only
 *     under ev_lock (receive and transmit both change them). Lock order: the
 *     transport's queue locks (and register lock), then ev_lock, then the I/O
 *     thread's own lock.
 *   - The receive state (the waiting frame rx_len/rxbuf, the chains being
 *     filled) is touched only under the receive queue's lock: in
 *     net_notify() and reset(); the transmit chain and segments under the
 *     transmit queue's.
 *   - A receive chain is pushed only once the whole frame is in it (or in
 *     it and the chains before it, MRG_RXBUF); chains that cannot take the
 *     frame are given back with vmio_virtio_queue_unpop(), never pushed
 *     half-filled. No byte is written outside a chain's writable segments
 *     (vmio_iov_from_buf() bounds every copy) and no read outside its
 *     readable ones.
 *   - Counters are atomics: written on the I/O thread, read anywhere.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmio/tap.h"
#include "vmio/virtio_net.h"

#define HDR VMIO_VIRTIO_NET_HDR_SIZE
#define RX VMIO_VIRTIO_NET_RX
#define TX VMIO_VIRTIO_NET_TX

struct net_counters {
    atomic_uint_fast64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    atomic_uint_fast64_t rx_dropped, rx_waits, tx_dropped, tx_errors, tx_waits, rx_batches;
};

/* A receive chain taken for the frame being delivered: its id and the bytes it gets. */
struct rx_use {
    uint16_t head;
    uint32_t len;
};

struct net {
    struct vmio_virtio_device vdev; /* first */
    char name[32];
    FILE *log;
    int fd;
    bool is_socket; /* send with MSG_NOSIGNAL: a closed peer must not raise SIGPIPE */
    struct vmio_iothread *io;
    uint8_t config[VMIO_VIRTIO_NET_CFG_SIZE];
    atomic_uint_fast64_t features; /* negotiated (activate) */

    pthread_mutex_t ev_lock;
    bool want_in, want_out;
    uint32_t armed; /* the events the I/O thread watches now */
    atomic_bool closed;

    /* Receive side (receive queue lock). */
    uint8_t *rxbuf; /* VMIO_VIRTIO_NET_MAX_FRAME + 1 bytes: one more tells a truncated read */
    size_t rx_len;  /* the frame in rxbuf waiting for guest buffers; 0: none */
    atomic_bool rx_pending;
    struct vmio_virtq_chain rx_first, rx_more;
    struct rx_use rx_used[VMIO_VIRTIO_QUEUE_MAX_SIZE];

    /* Transmit side (transmit queue lock). */
    struct vmio_virtq_chain tx_chain;
    struct iovec tx_iov[VMIO_VIRTIO_CHAIN_SEGMENTS];

    atomic_bool logged_tx_drop, logged_tx_error, logged_rx_drop;
    struct net_counters n;
};

static const struct vmio_virtio_device_ops net_ops;

static struct net *to_net(struct vmio_virtio_device *d)
{
    return (struct net *)d;
}

static void count(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* One line on the device's log the first time @flag is raised (later ones are only counted). */
static void log_once(struct net *n, atomic_bool *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void log_once(struct net *n, atomic_bool *flag, const char *fmt, ...)
{
    if (atomic_exchange(flag, true))
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(n->log, "vmio: %s: %s\n", n->name, msg);
    fflush(n->log);
}

/* ---- watching the descriptor ---- */

/* Give the I/O thread the events want_in / want_out ask for. ev_lock held. */
static void update_events(struct net *n)
{
    uint32_t ev =
        (n->want_in && !atomic_load(&n->closed) ? EPOLLIN : 0) | (n->want_out ? EPOLLOUT : 0);
    if (ev != n->armed && vmio_iothread_set_events(n->io, n->fd, ev) == 0)
        n->armed = ev;
}

static void want(struct net *n, bool *flag, bool on)
{
    pthread_mutex_lock(&n->ev_lock);
    *flag = on;
    update_events(n);
    pthread_mutex_unlock(&n->ev_lock);
}

/* The descriptor is ready (I/O thread): stop watching what came and hand it to that queue. */
static void on_backend(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    struct net *n = ctx;
    const uint32_t any = EPOLLHUP | EPOLLERR;
    pthread_mutex_lock(&n->ev_lock);
    bool rx = n->want_in && (events & (EPOLLIN | any));
    bool tx = n->want_out && (events & (EPOLLOUT | any));
    if (rx)
        n->want_in = false;
    if (tx)
        n->want_out = false;
    update_events(n);
    pthread_mutex_unlock(&n->ev_lock);
    if (rx)
        vmio_virtio_kick(&n->vdev, RX);
    if (tx)
        vmio_virtio_kick(&n->vdev, TX);
}

/* ---- transmit ---- */

const char *vmio_virtio_net_tx_verdict(const uint8_t *hdr, uint64_t hdr_len, uint64_t frame_len,
                                       uint64_t features)
{
    if (hdr_len < HDR)
        return "the chain is shorter than the 12-byte virtio-net header";
    uint8_t flags = hdr[VMIO_VIRTIO_NET_HDR_FLAGS];
    if ((flags & VMIO_VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        !(features & (1ULL << VMIO_VIRTIO_NET_F_CSUM)))
        return "the header asks for a checksum (NEEDS_CSUM) but checksum offload was not "
               "negotiated";
    if (flags & ~VMIO_VIRTIO_NET_HDR_F_NEEDS_CSUM)
        return "the header has flags a driver must not set (DATA_VALID, RSC_INFO or unknown)";
    if (hdr[VMIO_VIRTIO_NET_HDR_GSO_TYPE] != VMIO_VIRTIO_NET_HDR_GSO_NONE)
        return "the header asks for segmentation (gso_type) but no segmentation offload was "
               "negotiated";
    if (frame_len < VMIO_VIRTIO_NET_ETH_HLEN)
        return "the frame is shorter than an Ethernet header";
    if (frame_len > VMIO_VIRTIO_NET_MAX_FRAME)
        return "the frame is longer than the largest MTU allows";
    return NULL;
}

/* Write @k segments as one frame. Returns what write/sendmsg returned (errno set). */
static ssize_t send_frame(struct net *n, int k)
{
    if (!n->is_socket)
        return writev(n->fd, n->tx_iov, k);
    struct msghdr m = {.msg_iov = n->tx_iov, .msg_iovlen = (size_t)k};
    return sendmsg(n->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Send the popped chain's frame. Returns false when the descriptor is full (EAGAIN). */
static bool transmit(struct net *n)
{
    struct vmio_virtq_chain *c = &n->tx_chain;
    uint8_t hdr[HDR];
    size_t got = vmio_iov_to_buf(c->iov, c->nread, 0, hdr, HDR);
    uint64_t frame_len = c->read_len > HDR ? c->read_len - HDR : 0;
    const char *why = vmio_virtio_net_tx_verdict(hdr, got, frame_len, atomic_load(&n->features));
    int k = why ? 0
                : vmio_iov_slice(c->iov, c->nread, HDR, frame_len, n->tx_iov,
                                 VMIO_VIRTIO_CHAIN_SEGMENTS);
    if (!why && k <= 0) /* cannot happen: the segments hold frame_len bytes past the header */
        why = "its segments could not be gathered";
    if (why) {
        count(&n->n.tx_dropped, 1);
        log_once(n, &n->logged_tx_drop,
                 "dropped a frame the guest sent: %s (further drops are only counted)", why);
        return true;
    }
    ssize_t r;
    do
        r = send_frame(n, k);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (r < 0) {
        count(&n->n.tx_errors, 1);
        log_once(n, &n->logged_tx_error,
                 "the host refused a frame the guest sent (%s); it is dropped (further "
                 "failures are only counted)",
                 strerror(errno));
        return true;
    }
    count(&n->n.tx_frames, 1);
    count(&n->n.tx_bytes, (uint64_t)r);
    return true;
}

static void tx_notify(struct net *n, struct vmio_virtio_queue *q)
{
    for (unsigned i = 0; i < VMIO_VIRTIO_NET_BUDGET; i++) {
        if (vmio_virtio_queue_pop(q, &n->tx_chain) != 1)
            return;
        if (!transmit(n)) {
            /* Full: give the chain back and go on when the descriptor is writable. */
            vmio_virtio_queue_unpop(q);
            count(&n->n.tx_waits, 1);
            want(n, &n->want_out, true);
            return;
        }
        vmio_virtio_queue_push(q, n->tx_chain.head, 0);
    }
    vmio_virtio_kick(&n->vdev, TX); /* more may wait: after the other queues' turn */
}

/* ---- receive ---- */

/* The waiting frame is dropped (it can never fit the guest's buffers). */
static void rx_drop(struct net *n, const char *why)
{
    count(&n->n.rx_dropped, 1);
    log_once(n, &n->logged_rx_drop,
             "dropped a frame for the guest: %s (further drops are only counted)", why);
    n->rx_len = 0;
    atomic_store(&n->rx_pending, false);
}

/*
 * Put the waiting frame behind a header into the driver's receive chains.
 * Returns 1 when it is gone (delivered, or dropped because it can never fit),
 * 0 when the guest has not enough buffers now (it keeps waiting), -1 when
 * the driver broke the queue (DEVICE_NEEDS_RESET: stop).
 */
static int rx_deliver(struct net *n, struct vmio_virtio_queue *q)
{
    bool mrg = atomic_load(&n->features) & (1ULL << VMIO_VIRTIO_NET_F_MRG_RXBUF);
    uint64_t need = HDR + (uint64_t)n->rx_len;
    struct vmio_virtq_chain *first = &n->rx_first;
    if (vmio_virtio_queue_pop(q, first) != 1)
        return 0;
    if (first->write_len < HDR) {
        vmio_virtio_queue_fail(q,
                               "receive chain %u has %llu writable bytes, less than the 12-byte "
                               "virtio-net header",
                               first->head, (unsigned long long)first->write_len);
        return -1;
    }
    if (!mrg && first->write_len < need) {
        vmio_virtio_queue_unpop(q);
        rx_drop(n, "it is longer than a receive buffer and MRG_RXBUF was not negotiated");
        return 1;
    }
    uint64_t done = first->write_len < need ? first->write_len : need;
    unsigned k = 0;
    n->rx_used[k++] = (struct rx_use){first->head, (uint32_t)done};
    while (done < need) {
        struct vmio_virtq_chain *c = &n->rx_more;
        if (k == VMIO_VIRTIO_QUEUE_MAX_SIZE || vmio_virtio_queue_pop(q, c) != 1) {
            /* Not enough: give every chain back. With all of the ring in hand it never fits. */
            bool never = k >= vmio_virtio_queue_size(q);
            for (unsigned i = 0; i < k; i++)
                vmio_virtio_queue_unpop(q);
            if (!never)
                return 0;
            rx_drop(n, "it is longer than all the receive buffers of the ring together");
            return 1;
        }
        if (c->write_len < HDR) {
            vmio_virtio_queue_fail(q,
                                   "receive chain %u has %llu writable bytes, less than the "
                                   "12-byte virtio-net header",
                                   c->head, (unsigned long long)c->write_len);
            return -1;
        }
        uint64_t take = c->write_len < need - done ? c->write_len : need - done;
        vmio_iov_from_buf(c->iov + c->nread, c->nwrite, 0, n->rxbuf + (done - HDR), take);
        n->rx_used[k++] = (struct rx_use){c->head, (uint32_t)take};
        done += take;
    }
    /* The header (no offload: flags 0, GSO_NONE, num_buffers = chains used), then the start. */
    uint8_t hdr[HDR] = {0};
    uint16_t nb = htole16((uint16_t)k);
    memcpy(hdr + VMIO_VIRTIO_NET_HDR_NUM_BUFFERS, &nb, 2);
    const struct iovec *w = first->iov + first->nread;
    vmio_iov_from_buf(w, first->nwrite, 0, hdr, HDR);
    vmio_iov_from_buf(w, first->nwrite, HDR, n->rxbuf, n->rx_used[0].len - HDR);
    for (unsigned i = 0; i < k; i++)
        vmio_virtio_queue_push(q, n->rx_used[i].head, n->rx_used[i].len);
    count(&n->n.rx_frames, 1);
    count(&n->n.rx_bytes, n->rx_len);
    n->rx_len = 0;
    atomic_store(&n->rx_pending, false);
    return 1;
}

/* The descriptor ended (@e 0) or failed (-errno): receive nothing more. */
static void backend_closed(struct net *n, int e)
{
    if (atomic_exchange(&n->closed, true))
        return;
    fprintf(n->log, "vmio: %s: the host side %s%s%s; the device receives nothing more\n", n->name,
            e ? "failed (read: " : "was closed (end of file)", e ? strerror(-e) : "", e ? ")" : "");
    fflush(n->log);
    want(n, &n->want_in, false);
}

static void rx_notify(struct net *n, struct vmio_virtio_queue *q)
{
    unsigned delivered = 0;
    for (unsigned i = 0;; i++) {
        if (i == VMIO_VIRTIO_NET_BUDGET) {
            vmio_virtio_kick(&n->vdev, RX); /* more may wait: after the other queues' turn */
            break;
        }
        if (n->rx_len == 0) {
            if (atomic_load(&n->closed))
                break;
            ssize_t r = read(n->fd, n->rxbuf, VMIO_VIRTIO_NET_MAX_FRAME + 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                want(n, &n->want_in, true); /* empty: wait for the host */
                break;
            }
            if (r <= 0) {
                backend_closed(n, r < 0 ? -errno : 0);
                break;
            }
            if (r > VMIO_VIRTIO_NET_MAX_FRAME) {
                count(&n->n.rx_dropped, 1);
                log_once(n, &n->logged_rx_drop,
                         "dropped a frame for the guest: it is longer than %d bytes (further "
                         "drops are only counted)",
                         VMIO_VIRTIO_NET_MAX_FRAME);
                continue;
            }
            n->rx_len = (size_t)r;
            atomic_store(&n->rx_pending, true);
        }
        int rc = rx_deliver(n, q);
        if (rc < 0)
            break;
        if (rc == 0) {
            /* No buffer: stop reading the host until the driver's next receive notification. */
            count(&n->n.rx_waits, 1);
            want(n, &n->want_in, false);
            break;
        }
        delivered++;
    }
    if (delivered)
        count(&n->n.rx_batches, 1);
}

/* ---- the model ---- */

static void net_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
{
    struct net *n = to_net(d);
    if (vmio_virtio_queue_index(q) == TX)
        tx_notify(n, q);
    else
        rx_notify(n, q);
}

static void net_config_read(struct vmio_virtio_device *d, uint32_t off, void *buf, unsigned len)
{
    memcpy(buf, to_net(d)->config + off, len); /* the transport bounds off + len */
}

static int net_activate(struct vmio_virtio_device *d, uint64_t features)
{
    struct net *n = to_net(d);
    atomic_store(&n->features, features);
    want(n, &n->want_in, true);
    return 0;
}

static void net_reset(struct vmio_virtio_device *d)
{
    struct net *n = to_net(d);
    pthread_mutex_lock(&n->ev_lock);
    n->want_in = n->want_out = false;
    update_events(n);
    pthread_mutex_unlock(&n->ev_lock);
    n->rx_len = 0; /* a frame waiting for buffers the driver took back is lost with them */
    atomic_store(&n->rx_pending, false);
    atomic_store(&n->features, 0);
}

static void net_destroy(struct vmio_virtio_device *d)
{
    struct net *n = to_net(d);
    vmio_iothread_remove(n->io, n->fd);
    close(n->fd);
    vmio_virtq_chain_free(&n->rx_first);
    vmio_virtq_chain_free(&n->rx_more);
    vmio_virtq_chain_free(&n->tx_chain);
    pthread_mutex_destroy(&n->ev_lock);
    free(n->rxbuf);
    free(n);
}

static const struct vmio_virtio_device_ops net_ops = {
    .config_read = net_config_read,
    .activate = net_activate,
    .reset = net_reset,
    .queue_notify = net_notify,
    .destroy = net_destroy,
};

/* ---- creation ---- */

int vmio_virtio_net_check_mac(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return (mac[0] & 1) || memcmp(mac, zero, 6) == 0 ? -EINVAL : 0;
}

int vmio_virtio_net_parse_mac(const char *s, uint8_t mac[6])
{
    uint8_t m[6];
    for (unsigned i = 0; i < 6; i++) {
        unsigned v = 0;
        for (unsigned j = 0; j < 2; j++) {
            char ch = *s++;
            unsigned x;
            if (ch >= '0' && ch <= '9')
                x = (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                x = (unsigned)(ch - 'a' + 10);
            else if (ch >= 'A' && ch <= 'F')
                x = (unsigned)(ch - 'A' + 10);
            else
                return -EINVAL;
            v = v * 16 + x;
        }
        m[i] = (uint8_t)v;
        char sep = *s;
        if (i < 5 && sep != ':' && sep != '-')
            return -EINVAL;
        if (i < 5)
            s++;
    }
    if (*s != '\0' || vmio_virtio_net_check_mac(m) < 0)
        return -EINVAL;
    memcpy(mac, m, 6);
    return 0;
}

void vmio_virtio_net_default_mac(unsigned index, uint8_t mac[6])
{
    static const uint8_t base[5] = {0x02, 0x76, 0x6d, 0x69, 0x6f}; /* 02:"vmio" */
    memcpy(mac, base, 5);
    mac[5] = (uint8_t)index;
}

/*
 * 0 when epoll can watch @fd (a TAP, a socket), else -errno (-EPERM for a
 * regular file). The device registers its descriptor disarmed, which
 * epoll_ctl() does not see, so it is tried here once on a scratch set.
 */
static int check_pollable(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN};
    int rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
    close(ep);
    return rc;
}

/* Free what create() made so far (the descriptor is closed by the caller). */
static void free_partial(struct net *n)
{
    if (!n)
        return;
    vmio_virtq_chain_free(&n->rx_first);
    vmio_virtq_chain_free(&n->rx_more);
    vmio_virtq_chain_free(&n->tx_chain);
    free(n->rxbuf);
    free(n);
}

int vmio_virtio_net_create(const struct vmio_virtio_net_config *cfg,
                           struct vmio_virtio_device **out, struct vmio_error *err)
{
    const char *label = cfg->tap ? cfg->tap : "(descriptor)";
    int rc = 0;
    if (!cfg->io)
        rc = vmio_error_set(err, -EINVAL, "virtio-net %s: no I/O thread", label);
    else if (cfg->fd < 0 && !cfg->tap)
        rc = vmio_error_set(err, -EINVAL, "virtio-net: neither a TAP name nor a descriptor");
    else if (vmio_virtio_net_check_mac(cfg->mac) < 0)
        rc = vmio_error_set(err, -EINVAL,
                            "virtio-net %s: MAC %02x:%02x:%02x:%02x:%02x:%02x is %s; a NIC "
                            "needs a unicast address",
                            label, cfg->mac[0], cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4],
                            cfg->mac[5], (cfg->mac[0] & 1) ? "multicast" : "zero");
    if (rc < 0) {
        if (cfg->fd >= 0)
            close(cfg->fd);
        return rc;
    }
    FILE *log = cfg->log ? cfg->log : stderr;
    int fd = cfg->fd;
    bool created = false;
    if (fd < 0 && (fd = vmio_tap_open(cfg->tap, cfg->tun_path, &created, err)) < 0)
        return fd;
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fstat(fd, &st) < 0) {
        rc = vmio_error_set(err, -errno, "virtio-net %s: its descriptor: %s", label,
                            strerror(errno));
        close(fd);
        return rc;
    }
    if ((rc = check_pollable(fd)) < 0) {
        vmio_error_set(err, rc,
                       "virtio-net %s: its descriptor cannot be watched for frames (epoll: %s): "
                       "it needs a TAP or a socket, not a regular file",
                       label, strerror(-rc));
        close(fd);
        return rc;
    }
    struct net *n = calloc(1, sizeof(*n));
    if (!n || !(n->rxbuf = malloc(VMIO_VIRTIO_NET_MAX_FRAME + 1)) ||
        vmio_virtq_chain_init(&n->rx_first, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0 ||
        vmio_virtq_chain_init(&n->rx_more, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0 ||
        vmio_virtq_chain_init(&n->tx_chain, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0) {
        free_partial(n);
        close(fd);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    n->fd = fd;
    n->is_socket = S_ISSOCK(st.st_mode);
    n->io = cfg->io;
    n->log = log;
    snprintf(n->name, sizeof(n->name), "virtio-net %s", cfg->tap ? cfg->tap : "fd");
    pthread_mutex_init(&n->ev_lock, NULL);
    struct vmio_error e2 = {0};
    rc = vmio_iothread_add(n->io, fd, 0, on_backend, n, &e2);
    if (rc < 0) {
        pthread_mutex_destroy(&n->ev_lock);
        free_partial(n);
        close(fd);
        return vmio_error_set(err, rc, "%s: %s", n->name, e2.msg);
    }
    memcpy(n->config + VMIO_VIRTIO_NET_CFG_MAC, cfg->mac, 6);
    uint16_t status = htole16(VMIO_VIRTIO_NET_S_LINK_UP);
    memcpy(n->config + VMIO_VIRTIO_NET_CFG_STATUS, &status, 2);
    if (created) {
        fprintf(log,
                "vmio: %s: TAP %s did not exist: created it for this run (it has no address "
                "and goes away when vmio exits)\n",
                n->name, cfg->tap);
        fflush(log);
    }
    n->vdev = (struct vmio_virtio_device){.ops = &net_ops,
                                          .name = n->name,
                                          .device_id = VMIO_VIRTIO_ID_NET,
                                          .features = (1ULL << VMIO_VIRTIO_NET_F_MAC) |
                                                      (1ULL << VMIO_VIRTIO_NET_F_STATUS) |
                                                      (1ULL << VMIO_VIRTIO_NET_F_MRG_RXBUF),
                                          .num_queues = 2,
                                          .config_size = VMIO_VIRTIO_NET_CFG_SIZE};
    *out = &n->vdev;
    return 0;
}

bool vmio_virtio_net_stats(struct vmio_virtio_device *d, struct vmio_virtio_net_stats *out)
{
    if (!d || d->ops != &net_ops)
        return false;
    struct net *n = to_net(d);
    struct net_counters *c = &n->n;
    *out = (struct vmio_virtio_net_stats){
        .rx_frames = atomic_load(&c->rx_frames),
        .rx_bytes = atomic_load(&c->rx_bytes),
        .tx_frames = atomic_load(&c->tx_frames),
        .tx_bytes = atomic_load(&c->tx_bytes),
        .rx_dropped = atomic_load(&c->rx_dropped),
        .rx_waits = atomic_load(&c->rx_waits),
        .tx_dropped = atomic_load(&c->tx_dropped),
        .tx_errors = atomic_load(&c->tx_errors),
        .tx_waits = atomic_load(&c->tx_waits),
        .rx_batches = atomic_load(&c->rx_batches),
        .rx_pending = atomic_load(&n->rx_pending),
        .backend_closed = atomic_load(&n->closed),
    };
    return true;
}
