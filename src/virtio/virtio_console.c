/*
 * virtio-console (see vmio/virtio_console.h): hvc0 on a chardev.
 *
 * Invariants:
 *   - All queue work happens in console_notify() on the I/O thread. The
 *     input descriptor's callback only disarms the descriptor and kicks the
 *     receive queue, so input is read only when the receive side runs.
 *   - The descriptor is armed exactly while the device is running and has
 *     nothing pending: after activate(), and each time the receive side
 *     drains the input with buffers to spare; it is disarmed by reset(), by
 *     its own callback, and while bytes wait for a guest buffer (then the
 *     driver's next receive buffer kicks the queue).
 *   - `pend`/`pend_len` (bytes read from the chardev that no guest buffer
 *     has taken yet) are touched only under the receive queue's lock (in
 *     console_notify() and reset()).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "vmio/chardev.h"
#include "vmio/virtio_console.h"

struct console {
    struct vmio_virtio_device vdev; /* first */
    struct vmio_chardev *cd;
    struct vmio_iothread *io;
    int in_fd; /* watched on io (disarmed when not armed), or -1 */
    struct vmio_virtq_chain chain;
    uint8_t pend[VMIO_VIRTIO_CONSOLE_BUF];
    size_t pend_off, pend_len;
    atomic_uint_fast64_t tx_bytes, rx_bytes, tx_errors;
};

static const struct vmio_virtio_device_ops console_ops;

static void arm(struct console *c, bool on)
{
    if (c->in_fd >= 0)
        vmio_iothread_set_events(c->io, c->in_fd, on ? EPOLLIN : 0);
}

/* The input descriptor is readable (I/O thread): hand it to the receive side. */
static void on_input(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    struct console *c = ctx;
    arm(c, false);
    vmio_virtio_kick(&c->vdev, VMIO_VIRTIO_CONSOLE_RX);
}

static void transmit(struct console *c, struct vmio_virtio_queue *q)
{
    struct vmio_virtq_chain *ch = &c->chain;
    while (vmio_virtio_queue_pop(q, ch) == 1) {
        for (unsigned i = 0; i < ch->nread; i++) {
            if (vmio_chardev_write(c->cd, ch->iov[i].iov_base, ch->iov[i].iov_len) < 0)
                atomic_fetch_add(&c->tx_errors, 1);
            else
                atomic_fetch_add(&c->tx_bytes, ch->iov[i].iov_len);
        }
        vmio_virtio_queue_push(q, ch->head, 0);
    }
}

static void receive(struct console *c, struct vmio_virtio_queue *q)
{
    struct vmio_virtq_chain *ch = &c->chain;
    for (;;) {
        if (c->pend_len == 0) {
            c->pend_off = 0;
            ssize_t n = 0;
            if (vmio_chardev_wait_input(c->cd, 0) > 0)
                n = vmio_chardev_read_nonblock(c->cd, c->pend, sizeof(c->pend));
            if (n <= 0) { /* nothing now: wait for the descriptor (unless input ended) */
                if (vmio_chardev_input_fd(c->cd) >= 0)
                    arm(c, true);
                return;
            }
            c->pend_len = (size_t)n;
        }
        if (vmio_virtio_queue_pop(q, ch) != 1)
            return; /* no buffer: the driver's next one kicks this queue */
        size_t n = vmio_iov_from_buf(ch->iov + ch->nread, ch->nwrite, 0, c->pend + c->pend_off,
                                     c->pend_len);
        vmio_virtio_queue_push(q, ch->head, (uint32_t)n);
        atomic_fetch_add(&c->rx_bytes, n);
        c->pend_off += n;
        c->pend_len -= n;
    }
}

static void console_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
{
    struct console *c = (struct console *)d;
    if (vmio_virtio_queue_index(q) == VMIO_VIRTIO_CONSOLE_TX)
        transmit(c, q);
    else
        receive(c, q);
}

static void console_config_read(struct vmio_virtio_device *d, uint32_t off, void *buf, unsigned len)
{
    (void)d, (void)off;
    memset(buf, 0, len); /* no F_SIZE, no MULTIPORT, no EMERG_WRITE: all fields unused */
}

static int console_activate(struct vmio_virtio_device *d, uint64_t features)
{
    (void)features;
    arm((struct console *)d, true);
    return 0;
}

static void console_reset(struct vmio_virtio_device *d)
{
    struct console *c = (struct console *)d;
    arm(c, false);
    c->pend_off = c->pend_len = 0;
}

static void console_destroy(struct vmio_virtio_device *d)
{
    struct console *c = (struct console *)d;
    if (c->in_fd >= 0)
        vmio_iothread_remove(c->io, c->in_fd);
    vmio_virtq_chain_free(&c->chain);
    free(c);
}

static const struct vmio_virtio_device_ops console_ops = {
    .config_read = console_config_read,
    .activate = console_activate,
    .reset = console_reset,
    .queue_notify = console_notify,
    .destroy = console_destroy,
};

int vmio_virtio_console_create(const struct vmio_virtio_console_config *cfg,
                               struct vmio_virtio_device **out, struct vmio_error *err)
{
    if (!cfg->chardev || !cfg->io)
        return vmio_error_set(err, -EINVAL, "virtio-console: no chardev or no I/O thread");
    struct console *c = calloc(1, sizeof(*c));
    if (!c || vmio_virtq_chain_init(&c->chain, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0) {
        free(c);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    c->cd = cfg->chardev;
    c->io = cfg->io;
    c->in_fd = vmio_chardev_input_fd(c->cd);
    if (c->in_fd >= 0) {
        struct vmio_error e2 = {0};
        int rc = vmio_iothread_add(c->io, c->in_fd, 0, on_input, c, &e2);
        if (rc == -EPERM) {
            c->in_fd = -1; /* cannot be polled (/dev/null, a regular file): no input */
        } else if (rc < 0) {
            vmio_virtq_chain_free(&c->chain);
            free(c);
            return vmio_error_set(err, rc, "virtio-console: %s", e2.msg);
        }
    }
    c->vdev = (struct vmio_virtio_device){.ops = &console_ops,
                                          .name = "virtio-console",
                                          .device_id = VMIO_VIRTIO_ID_CONSOLE,
                                          .num_queues = 2,
                                          .config_size = VMIO_VIRTIO_CONSOLE_CFG_SIZE};
    *out = &c->vdev;
    return 0;
}

bool vmio_virtio_console_stats(struct vmio_virtio_device *d, struct vmio_virtio_console_stats *out)
{
    if (!d || d->ops != &console_ops)
        return false;
    struct console *c = (struct console *)d;
    *out = (struct vmio_virtio_console_stats){.tx_bytes = atomic_load(&c->tx_bytes),
                                              .rx_bytes = atomic_load(&c->rx_bytes),
                                              .tx_errors = atomic_load(&c->tx_errors)};
    return true;
}
