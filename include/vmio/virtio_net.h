/*
 * virtio-net (virtio 1.2, 5.1) on a host descriptor that carries one Ethernet
 * frame per read(2) and write(2): a TAP interface (vmio/tap.h), or in tests
 * a SOCK_SEQPACKET / SOCK_DGRAM socket.
 *
 * Queues: 0 receiveq1 (host to guest), 1 transmitq1 (guest to host); one
 * pair, no control queue.
 * Offered: VIRTIO_NET_F_MAC (the config space's address), VIRTIO_NET_F_STATUS
 * (link always up) and VIRTIO_NET_F_MRG_RXBUF (a frame may span several
 * receive chains). No offloads: no checksum (CSUM, GUEST_CSUM), segmentation
 * (GSO, TSO, UFO, USO) or ECN feature, so every frame in either direction is
 * whole and checksummed, and the 12-byte header (struct virtio_net_hdr_v1)
 * always says "nothing to do" (flags 0, GSO_NONE). Not offered either: MTU,
 * CTRL_VQ (no filters, promiscuous mode or announcements: the guest receives
 * every frame the TAP delivers), MQ, RSS, hash reports.
 *
 * Transmit (queue notification, I/O thread): each chain's readable bytes are
 * the header then the frame, in any layout; the frame goes to the descriptor
 * with one writev(2) straight from guest RAM, and the chain comes back with
 * used length 0. A chain the spec does not allow or vmio cannot send (header
 * shorter than 12 bytes, a checksum or GSO request that was not negotiated,
 * a frame shorter than an Ethernet header or longer than
 * VMIO_VIRTIO_NET_MAX_FRAME) is dropped and counted, its chain returned:
 * the guest's transmit never stalls on a bad frame. When the descriptor
 * cannot take more (EAGAIN), transmission stops with the chain left in the
 * ring and resumes when it is writable.
 *
 * Receive (the descriptor is watched on the I/O thread): a frame is read only
 * when the receive side runs, into a bounce buffer, then copied behind a
 * header into the driver's receive chains: one chain (num_buffers 1) without
 * MRG_RXBUF, as many as it needs with it (num_buffers = how many; every chain
 * but the last filled). While the guest has no (or not enough) receive
 * buffers, the frame waits in the device and the descriptor is not watched:
 * nothing more is read, the host keeps the frames queued on its side of the
 * TAP (where its own queue limit applies, as for a real NIC's link), and the
 * driver's next receive notification resumes. A frame that can never fit
 * (bigger than one chain without MRG_RXBUF, or than every buffer of the ring
 * with it) is dropped and counted, and the chains stay with the driver. A
 * receive chain too small for the 12-byte header breaks the spec (each
 * buffer MUST hold it): DEVICE_NEEDS_RESET.
 *
 * Host descriptor errors: EAGAIN is flow control (above); any other write
 * error drops that frame (counted; the first one logged); end of file or a
 * read error stops receiving for good (logged once).
 */
#ifndef VMIO_VIRTIO_NET_H
#define VMIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/error.h"
#include "vmio/iothread.h"
#include "vmio/virtio.h"

/* Feature bits (5.1.3). */
#define VMIO_VIRTIO_NET_F_CSUM 0
#define VMIO_VIRTIO_NET_F_GUEST_CSUM 1
#define VMIO_VIRTIO_NET_F_MTU 3
#define VMIO_VIRTIO_NET_F_MAC 5
#define VMIO_VIRTIO_NET_F_GUEST_TSO4 7
#define VMIO_VIRTIO_NET_F_HOST_TSO4 11
#define VMIO_VIRTIO_NET_F_MRG_RXBUF 15
#define VMIO_VIRTIO_NET_F_STATUS 16
#define VMIO_VIRTIO_NET_F_CTRL_VQ 17

/* Config space (struct virtio_net_config, the part vmio offers). */
#define VMIO_VIRTIO_NET_CFG_MAC 0
#define VMIO_VIRTIO_NET_CFG_STATUS 6
#define VMIO_VIRTIO_NET_CFG_SIZE 8
#define VMIO_VIRTIO_NET_S_LINK_UP 1u

/* The header in front of every frame (struct virtio_net_hdr_v1: VERSION_1 always has
 * num_buffers). */
#define VMIO_VIRTIO_NET_HDR_SIZE 12
#define VMIO_VIRTIO_NET_HDR_FLAGS 0
#define VMIO_VIRTIO_NET_HDR_GSO_TYPE 1
#define VMIO_VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VMIO_VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VMIO_VIRTIO_NET_HDR_GSO_NONE 0u

#define VMIO_VIRTIO_NET_RX 0
#define VMIO_VIRTIO_NET_TX 1

#define VMIO_VIRTIO_NET_ETH_HLEN 14 /* the shortest frame vmio sends: an Ethernet header */
/* The longest frame: the largest MTU (65535) plus the Ethernet header and one VLAN tag. */
#define VMIO_VIRTIO_NET_MAX_FRAME (65535 + VMIO_VIRTIO_NET_ETH_HLEN + 4)
/* Frames handled per notification before the queue yields the I/O thread (and kicks itself). */
#define VMIO_VIRTIO_NET_BUDGET 64

struct vmio_virtio_net_config {
    const char *tap;      /* the TAP interface to attach to; also names the device ("virtio-net
                             NAME"); may be NULL with a descriptor */
    int fd;               /* >= 0: use this descriptor (one frame per read/write; the device makes
                             it non-blocking and owns it from then on, also on failure); -1: open
                             the TAP @tap */
    const char *tun_path; /* the clone device for @tap; NULL: /dev/net/tun */
    uint8_t mac[6];       /* the guest's address (unicast, not all zeros) */
    struct vmio_iothread *io; /* where the descriptor is watched: the transport's */
    FILE *log;                /* the device's one-off lines; NULL: stderr */
};

/*
 * vmio_virtio_net_create - a virtio-net model on cfg->fd or the TAP cfg->tap
 * (vmio_tap_open()) in *@out, ready for vmio_virtio_mmio_attach(), which
 * then owns it. The descriptor is registered (disarmed) on cfg->io now.
 * Errors: -EINVAL without an I/O thread, with neither a descriptor nor a TAP
 * name, or for a multicast or all-zero MAC; those of vmio_tap_open()
 * (which name the TAP and say why); -ENOMEM; those of vmio_iothread_add()
 * (a descriptor that cannot be polled); all described in @err.
 */
int vmio_virtio_net_create(const struct vmio_virtio_net_config *cfg,
                           struct vmio_virtio_device **out, struct vmio_error *err);

/* What a net device did (counted on the I/O thread; exact once it is stopped). */
struct vmio_virtio_net_stats {
    uint64_t rx_frames, rx_bytes; /* delivered to the guest (frame bytes, no header) */
    uint64_t tx_frames, tx_bytes; /* written to the host descriptor */
    uint64_t rx_dropped; /* frames that could never fit the guest's buffers (or truncated) */
    uint64_t rx_waits;   /* times receiving stopped because the guest had no buffer */
    uint64_t tx_dropped; /* malformed transmit chains (see the file comment) */
    uint64_t tx_errors;  /* frames the host descriptor refused (not EAGAIN) */
    uint64_t tx_waits;   /* times transmitting stopped on EAGAIN */
    uint64_t rx_batches; /* receive notifications that delivered at least one frame */
    bool rx_pending;     /* a frame waits in the device for a guest buffer */
    bool backend_closed; /* the descriptor hit end of file or a read error: no more receive */
};

/*
 * vmio_virtio_net_stats - @d's counters into *@out; false (and *@out
 * untouched) when @d is not a virtio-net model.
 */
bool vmio_virtio_net_stats(struct vmio_virtio_device *d, struct vmio_virtio_net_stats *out);

/*
 * vmio_virtio_net_parse_mac - @s as a MAC address "xx:xx:xx:xx:xx:xx" (six
 * pairs of hex digits, ':' or '-' between them, nothing else) into @mac.
 * Returns 0, or -EINVAL for anything else, or for a multicast (bit 0 of the
 * first byte) or all-zero address, which cannot be a NIC's. Pure.
 */
int vmio_virtio_net_parse_mac(const char *s, uint8_t mac[6]);

/*
 * vmio_virtio_net_check_mac - 0 when @mac can be a NIC's address (unicast, not
 * all zeros), else -EINVAL. Pure.
 */
int vmio_virtio_net_check_mac(const uint8_t mac[6]);

/*
 * vmio_virtio_net_default_mac - vmio's address for its net device number
 * @index when none is given: 02:76:6d:69:6f:II ("vmio" in a locally
 * administered unicast range; II = @index mod 256).
 */
void vmio_virtio_net_default_mac(unsigned index, uint8_t mac[6]);

/*
 * vmio_virtio_net_tx_verdict - what the device does with a transmit chain
 * whose first readable bytes are @hdr (@hdr_len of them, at most 12 used)
 * and whose frame is @frame_len bytes, with @features negotiated: NULL to
 * send it, or a static string saying why it is dropped. Pure.
 */
const char *vmio_virtio_net_tx_verdict(const uint8_t *hdr, uint64_t hdr_len, uint64_t frame_len,
                                       uint64_t features);

#endif
