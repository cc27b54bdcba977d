/*
 * The virtio-mmio transport's state, shared by virtio_mmio.c (registers,
 * lifecycle) and virtio_queue.c (queue work on the I/O thread, interrupts,
 * the API models call). See vmio/virtio_mmio.h for the behaviour.
 *
 * Invariants:
 *   - `regs` (one 4 KiB page) always holds what a guest read of each register
 *     and of the config space returns; every change of the state behind a
 *     register publishes the new value there (32-bit atomic stores) before
 *     the change is acknowledged to anyone. Guest reads are answered from it
 *     by the MMIO handler, or, when it is mapped as a read-only view
 *     (`regs_mapped`), by the hypervisor with no exit at all.
 *   - Queue fields `ring` and `enabled` change only with the queue's `lock`
 *     held (and `enabled` also with the register lock): the I/O thread holds
 *     the queue lock for the whole of a model's queue_notify(), so a reset or
 *     a QueueReady write never pulls a ring from under it.
 *   - Register fields (selectors, features, per-queue num/ready/addresses)
 *     change only under t->lock. `status`, `isr` and `config_generation` are
 *     atomics so the hot reads (InterruptStatus, Status) take no lock; they
 *     are still only written under t->lock (status) or as described below.
 *   - isr changes only under irq_lock: set by raise() (any thread), cleared by
 *     InterruptACK and reset. With the irqfd the hypervisor holds the line;
 *     without it `line` is the level last given to vmio_vm_set_irq() and
 *     changes with isr, so the line always equals isr != 0.
 *   - InterruptACK writes of 1, 2 or 3 may arrive as eventfds (`ack_fd`,
 *     ioeventfds with datamatch; only with the irqfd, whose resampling is the
 *     EOI hook): every pending one is applied, under irq_lock, before raise()
 *     sets a bit and before a resample looks at isr. An ACK the guest wrote
 *     before the device published new used buffers can therefore never clear
 *     the bit that announces them; one written after them was written after
 *     the guest could see them.
 *   - Lock order: queue locks in index order, then t->lock, then irq_lock.
 *     Nothing is called out (model callbacks, iothread removal) with
 *     t->lock or irq_lock held, except the model's reset() and activate(),
 *     which must not call back into the transport's locked paths.
 */
#ifndef VMIO_VIRTIO_MMIO_INTERNAL_H
#define VMIO_VIRTIO_MMIO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/iothread.h"
#include "vmio/virtio.h"
#include "vmio/virtio_mmio.h"
#include "vmio/vm.h"

struct vmio_virtio_mmio;

struct vmio_virtio_queue {
    struct vmio_virtio_mmio *t;
    unsigned index;
    pthread_mutex_t lock;
    struct vmio_virtq ring; /* valid while enabled */
    bool enabled;
    /* Registers (t->lock). */
    uint16_t num;
    bool ready;
    uint64_t desc, driver, device;
    /* Notifications. */
    int kick_fd;    /* eventfd: QueueNotify (ioeventfd or the MMIO handler), vmio_virtio_kick() */
    bool ioeventfd; /* kick_fd is registered with the hypervisor */
    bool watched;   /* kick_fd is registered on the I/O thread */
};

struct vmio_virtio_mmio {
    struct vmio_device dev; /* first: the bus's handle */
    struct vmio_vm *vm;
    struct vmio_virtio_device *vdev;
    struct vmio_iothread *io;
    FILE *log;
    uint64_t base;
    unsigned gsi;
    uint64_t offered; /* the model's features plus the transport's */
    unsigned nq;

    pthread_mutex_t lock;
    uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
    uint64_t driver_features; /* as the driver wrote them */
    uint64_t features;        /* accepted at FEATURES_OK */
    atomic_uint status;
    atomic_uint config_generation;

    uint32_t *regs;   /* the register page */
    bool regs_mapped; /* it is the guest's read-only view (the VM owns and unmaps it) */

    atomic_uint isr;
    pthread_mutex_t irq_lock;
    int ack_fd[3]; /* eventfds of InterruptACK = 1, 2, 3 (ioeventfds), or -1 */
    bool ack_ioeventfd[3], ack_watched[3];
    bool line;               /* fallback: the level last set */
    bool irqfd;              /* irq_fd/resample_fd are an irqfd with resampling */
    int irq_fd, resample_fd; /* eventfds, -1 when not used */
    bool resample_watched;

    struct vmio_virtio_queue q[VMIO_VIRTIO_MAX_QUEUES];

    atomic_uint_fast64_t notify_exits, kicks, interrupts, resamples, bad_accesses;
    atomic_bool logged_bad;
};

/* publish - the register at @off now reads @v (a 32-bit atomic store into the page). */
static inline void virtio_mmio_publish(struct vmio_virtio_mmio *t, uint32_t off, uint32_t v)
{
    __atomic_store_n(&t->regs[off / 4], v, __ATOMIC_RELEASE);
}

/* publish_config - copy the model's config space into the page (t->lock held). */
void vmio_virtio_mmio_publish_config(struct vmio_virtio_mmio *t);

/* raise - set @bits in InterruptStatus and assert the line. Any thread. */
void vmio_virtio_mmio_raise(struct vmio_virtio_mmio *t, unsigned bits);

/* ack - clear @bits (the driver's InterruptACK, or a reset with all bits). Any thread. */
void vmio_virtio_mmio_ack(struct vmio_virtio_mmio *t, unsigned bits);

/*
 * needs_reset - set DEVICE_NEEDS_RESET (once until the next reset), log
 * "<device>: <msg>" and send a configuration interrupt when the driver is
 * running. @locked: the caller holds t->lock.
 */
void vmio_virtio_mmio_needs_reset(struct vmio_virtio_mmio *t, bool locked, const char *msg);

/* The I/O thread's callbacks (virtio_queue.c). */
void vmio_virtio_mmio_on_kick(void *ctx, int fd, uint32_t events);
void vmio_virtio_mmio_on_resample(void *ctx, int fd, uint32_t events);
void vmio_virtio_mmio_on_ack(void *ctx, int fd, uint32_t events); /* ctx: the transport */

/* signal_eventfd - add 1 to eventfd @fd (never blocks in practice). */
void vmio_virtio_mmio_signal(int fd);

#endif
