/*
 * virtio-console (virtio 1.2, 5.3) with one port, no multiport, no size or
 * emergency-write feature: the guest's hvc0, on a host chardev (the same
 * stdio / file / none backends as the UART, vmio/chardev.h).
 *
 * Queues: 0 receiveq (host input to the guest), 1 transmitq (guest output).
 * Output: each transmit chain's readable bytes go to the chardev in order
 * (used length 0). Input: when the chardev's input descriptor is readable
 * (watched on the I/O thread) and the driver has receive buffers, the bytes
 * are read and copied into them; while the guest has no buffer the
 * descriptor is not watched, so a guest that stops reading costs nothing
 * and loses nothing (bytes already read wait in the device, at most
 * VMIO_VIRTIO_CONSOLE_BUF of them). Memory chardevs (tests) have no
 * descriptor: feed them, then vmio_virtio_kick(d, 0).
 */
#ifndef VMIO_VIRTIO_CONSOLE_H
#define VMIO_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/error.h"
#include "vmio/iothread.h"
#include "vmio/virtio.h"

struct vmio_chardev;

#define VMIO_VIRTIO_CONSOLE_RX 0
#define VMIO_VIRTIO_CONSOLE_TX 1
#define VMIO_VIRTIO_CONSOLE_BUF 4096
#define VMIO_VIRTIO_CONSOLE_CFG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr: all 0 */

struct vmio_virtio_console_config {
    struct vmio_chardev *chardev; /* borrowed: must outlive the device (close it after the VM) */
    struct vmio_iothread *io;     /* where the input descriptor is watched; the transport's */
};

/*
 * vmio_virtio_console_create - a virtio-console model on cfg->chardev in
 * *@out, ready for vmio_virtio_mmio_attach() (which then owns it).
 * Errors: -EINVAL without a chardev or I/O thread; -ENOMEM; those of
 * vmio_iothread_add() except -EPERM (an input that cannot be polled, such as
 * /dev/null, is treated as no input).
 */
int vmio_virtio_console_create(const struct vmio_virtio_console_config *cfg,
                               struct vmio_virtio_device **out, struct vmio_error *err);

/* What it did (counted on the I/O thread). */
struct vmio_virtio_console_stats {
    uint64_t tx_bytes, rx_bytes;
    uint64_t tx_errors; /* chardev write failures (the bytes are dropped) */
};

/* vmio_virtio_console_stats - @d's counters; false when @d is not a virtio-console model. */
bool vmio_virtio_console_stats(struct vmio_virtio_device *d, struct vmio_virtio_console_stats *out);

#endif
