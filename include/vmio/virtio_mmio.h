/*
 * The virtio-mmio transport, virtio 1.x register layout (version 2): one
 * device model (vmio/virtio.h) behind a 0x200-byte MMIO window on the VM's
 * bus and one level-triggered interrupt line.
 *
 * Registers (offsets in the window; 32-bit, aligned accesses as the spec
 * requires; any other access to 0x000-0x0ff that exits reads 0 and is
 * ignored):
 *   0x000 MagicValue "virt"   0x004 Version 2        0x008 DeviceID
 *   0x00c VendorID "VMIO"     0x010 DeviceFeatures   0x014 DeviceFeaturesSel
 *   0x020 DriverFeatures      0x024 DriverFeaturesSel
 *   0x030 QueueSel            0x034 QueueNumMax      0x038 QueueNum
 *   0x044 QueueReady          0x050 QueueNotify
 *   0x060 InterruptStatus     0x064 InterruptACK     0x070 Status
 *   0x080/0x084 QueueDesc     0x090/0x094 QueueDriver 0x0a0/0x0a4 QueueDevice
 *   0x0ac SHMSel, 0x0b0-0x0bc SHMLen/SHMBase (all ones: no shared memory)
 *   0x0fc ConfigGeneration    0x100- device-specific configuration
 * Offered on top of the model's features: VERSION_1 (required: a driver that
 * does not accept it gets no FEATURES_OK), INDIRECT_DESC, EVENT_IDX. Not
 * offered: packed rings, NOTIFICATION_DATA, RING_RESET, ACCESS_PLATFORM,
 * shared memory regions.
 *
 * Status: writing 0 resets the device (queues, features, interrupt status);
 * FEATURES_OK sticks only for an acceptable feature set; DRIVER_OK without
 * FEATURES_OK is refused; DEVICE_NEEDS_RESET (a broken ring or request; one
 * log line, a configuration-change interrupt) sticks until the reset, and
 * while it is set no queue is processed. FAILED stops processing too.
 *
 * Register reads: every register's current value (and the config space) is
 * kept in one host page. Exits are answered from it; by default (unless
 * cfg->no_ioeventfd, the backend lacks read-only memory, or the window is
 * not 4 KiB aligned) the VM also maps it read-only over the window
 * (vmio_vm_map_device_view()), so guest reads cost no exit while writes
 * still exit or reach an ioeventfd.
 *
 * Notifications: each queue has an eventfd. By default it is registered with
 * the hypervisor for QueueNotify with the queue index as datamatch
 * (KVM_IOEVENTFD), so a notification costs no exit to vmio; otherwise (the
 * backend lacks it, or cfg->no_ioeventfd) the QueueNotify write exits and
 * the MMIO handler writes the same eventfd. Either way the queue's work runs
 * on the I/O thread, never on a vCPU thread.
 *
 * Interrupts: InterruptStatus is the truth. By default the line is an irqfd
 * with a resample eventfd (KVM_IRQFD_FLAG_RESAMPLE): raising an interrupt
 * sets the status bit and writes the irqfd; after the guest's EOI the
 * hypervisor lowers the line and signals the resample fd, and the I/O thread
 * writes the irqfd again if InterruptStatus is still non-zero. With the irqfd
 * and ioeventfds, InterruptACK writes of 1, 2 and 3 go to eventfds too (no
 * exit), applied on the I/O thread before any new bit is set or a resample
 * looks. Otherwise (no irqfd with resampling, or cfg->no_irqfd) the line
 * follows InterruptStatus != 0 through vmio_vm_set_irq() and ACKs exit.
 * With every fast path a request costs no exit to vmio at all.
 *
 * Locks: each queue has a lock (held by the I/O thread while the model works
 * on it); the register file has one; InterruptStatus changes under the
 * interrupt lock (a leaf). Order: queue locks (by index) before the
 * register lock before the interrupt lock.
 */
#ifndef VMIO_VIRTIO_MMIO_H
#define VMIO_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/iothread.h"
#include "vmio/virtio.h"
#include "vmio/vm.h"

#define VMIO_VIRTIO_MMIO_SIZE 0x200u
#define VMIO_VIRTIO_MMIO_MAGIC 0x74726976u  /* "virt" */
#define VMIO_VIRTIO_MMIO_VENDOR 0x4f494d56u /* "VMIO" */

/* Register offsets. */
#define VMIO_VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VMIO_VIRTIO_MMIO_VERSION 0x004
#define VMIO_VIRTIO_MMIO_DEVICE_ID 0x008
#define VMIO_VIRTIO_MMIO_VENDOR_ID 0x00c
#define VMIO_VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VMIO_VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VMIO_VIRTIO_MMIO_QUEUE_SEL 0x030
#define VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VMIO_VIRTIO_MMIO_QUEUE_NUM 0x038
#define VMIO_VIRTIO_MMIO_QUEUE_READY 0x044
#define VMIO_VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VMIO_VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VMIO_VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VMIO_VIRTIO_MMIO_STATUS 0x070
#define VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VMIO_VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VMIO_VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VMIO_VIRTIO_MMIO_SHM_SEL 0x0ac
#define VMIO_VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VMIO_VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VMIO_VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VMIO_VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VMIO_VIRTIO_MMIO_QUEUE_RESET 0x0c0
#define VMIO_VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VMIO_VIRTIO_MMIO_CONFIG 0x100

/* InterruptStatus bits. */
#define VMIO_VIRTIO_MMIO_INT_VRING 1u
#define VMIO_VIRTIO_MMIO_INT_CONFIG 2u

struct vmio_virtio_mmio_config {
    uint64_t base; /* window start (4-byte aligned); the window is VMIO_VIRTIO_MMIO_SIZE */
    unsigned gsi;  /* the interrupt line (level-triggered, active-high) */
    struct vmio_iothread *io; /* runs the device's work; borrowed: must outlive the VM */
    bool no_ioeventfd;        /* QueueNotify and register reads exit (the fallback path) */
    bool no_irqfd;            /* interrupts through vmio_vm_set_irq(), ACKs exit (fallback) */
    FILE *log;                /* DEVICE_NEEDS_RESET lines; NULL = stderr */
};

/*
 * vmio_virtio_mmio_attach - put the model @vdev behind a new virtio-mmio
 * transport at cfg->base on @vm's MMIO bus, interrupting on cfg->gsi (@vm
 * needs the irqchip), with its work on cfg->io. Sets up the queue eventfds,
 * ioeventfds and the irqfd as the file comment says (falling back quietly
 * where the backend lacks them: vmio_virtio_mmio_stats() tells which path
 * is in use).
 * Ownership: on success the VM owns the transport (destroyed by
 * vmio_vm_destroy(), which also destroys @vdev) and *@out (may be NULL) is
 * the transport as a vmio_device; on failure @vdev is destroyed too.
 * Errors: -EINVAL (a model with no queues or too many, no queue_notify, a
 * bad gsi, no I/O thread), -ENODEV (no irqchip), -errno of eventfd(),
 * those of vmio_vm_add_device() and vmio_iothread_add(); described.
 */
int vmio_virtio_mmio_attach(struct vmio_vm *vm, struct vmio_virtio_device *vdev,
                            const struct vmio_virtio_mmio_config *cfg, struct vmio_device **out,
                            struct vmio_error *err);

/* What a transport did, for --stats and tests. */
struct vmio_virtio_mmio_stats {
    bool ioeventfd;        /* QueueNotify goes to eventfds in the hypervisor */
    bool irqfd;            /* interrupts go through an irqfd with resampling */
    bool reads_mapped;     /* register reads are served by a read-only view: no exit */
    bool ack_eventfds;     /* InterruptACK writes of 1-3 go to eventfds: no exit */
    uint64_t notify_exits; /* QueueNotify writes that exited to vmio */
    uint64_t kicks;        /* times the I/O thread ran a queue's work */
    uint64_t interrupts;   /* interrupts raised (used buffers, configuration) */
    uint64_t resamples;    /* re-assertions after an EOI found InterruptStatus set */
    uint64_t bad_accesses; /* register accesses that were not 32-bit aligned, ignored */
    bool needs_reset;      /* DEVICE_NEEDS_RESET is set now */
};

/*
 * vmio_virtio_mmio_stats - copy @dev's counters (@dev must be a transport
 * made by vmio_virtio_mmio_attach(): see vmio_virtio_mmio_is()).
 */
void vmio_virtio_mmio_stats(struct vmio_device *dev, struct vmio_virtio_mmio_stats *out);

/* vmio_virtio_mmio_is - whether @dev is a virtio-mmio transport. */
bool vmio_virtio_mmio_is(const struct vmio_device *dev);

/* vmio_virtio_mmio_model - the model behind the transport @dev. */
struct vmio_virtio_device *vmio_virtio_mmio_model(struct vmio_device *dev);

#endif
