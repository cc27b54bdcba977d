/*
 * The virtio-mmio transport (see vmio/virtio_mmio.h): the register file, the
 * status state machine, queue setup, and the transport's life (eventfds,
 * ioeventfds, the irqfd, the I/O thread registrations).
 *
 * Invariants (besides those of virtio_mmio_internal.h):
 *   - Guest writes never fail the vCPU: a register access the spec does not
 *     allow is ignored (reads answer 0) and counted; a ring the driver sets
 *     up badly puts the device in DEVICE_NEEDS_RESET with a log line.
 *   - A queue's registers can only change while it is not ready; its ring is
 *     checked (vmio_virtq_init()) when the driver writes QueueReady = 1.
 *   - Reset (Status = 0) takes every queue lock, so it waits for the I/O
 *     thread to finish any work in progress, then clears everything the
 *     driver set, the interrupt status and line included.
 *   - Destruction removes the I/O thread's registrations (each a barrier)
 *     before anything they use is freed, and unregisters the eventfds from
 *     the hypervisor before closing them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio/virtio_mmio_internal.h"

#define TRANSPORT_FEATURES                                                                         \
    ((1ULL << VMIO_VIRTIO_F_VERSION_1) | (1ULL << VMIO_VIRTIO_F_INDIRECT_DESC) |                   \
     (1ULL << VMIO_VIRTIO_F_EVENT_IDX))
/* The register page (one host page: registers at 0x000, config space at 0x100). */
#define REGS_PAGE 4096u

/* Transport feature bits a model may not offer itself (the transport decides). */
#define TRANSPORT_RANGE (((1ULL << 50) - 1) & ~((1ULL << 24) - 1))

static const struct vmio_device_ops virtio_mmio_ops;

static struct vmio_virtio_mmio *to_t(struct vmio_device *dev)
{
    return (struct vmio_virtio_mmio *)dev;
}

bool vmio_virtio_mmio_is(const struct vmio_device *dev)
{
    return dev && dev->ops == &virtio_mmio_ops;
}

struct vmio_virtio_device *vmio_virtio_mmio_model(struct vmio_device *dev)
{
    return vmio_virtio_mmio_is(dev) ? to_t(dev)->vdev : NULL;
}

void vmio_virtio_mmio_stats(struct vmio_device *dev, struct vmio_virtio_mmio_stats *out)
{
    struct vmio_virtio_mmio *t = to_t(dev);
    *out = (struct vmio_virtio_mmio_stats){
        .ioeventfd = t->nq > 0 && t->q[0].ioeventfd,
        .irqfd = t->irqfd,
        .notify_exits = atomic_load(&t->notify_exits),
        .kicks = atomic_load(&t->kicks),
        .interrupts = atomic_load(&t->interrupts),
        .resamples = atomic_load(&t->resamples),
        .bad_accesses = atomic_load(&t->bad_accesses),
        .reads_mapped = t->regs_mapped,
        .ack_eventfds = t->ack_watched[2],
        .needs_reset = (atomic_load(&t->status) & VMIO_VIRTIO_STATUS_NEEDS_RESET) != 0,
    };
}

/* ---- the register page ---- */

/*
 * Publish the selector-dependent registers: DeviceFeatures for
 * DeviceFeaturesSel, and the selected queue's registers (all 0 for a
 * selector past the last queue). Register lock held.
 */
static void publish_selected(struct vmio_virtio_mmio *t)
{
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_DEVICE_FEATURES,
                        t->dev_feat_sel < 2 ? (uint32_t)(t->offered >> (32 * t->dev_feat_sel)) : 0);
    static const struct vmio_virtio_queue none;
    const struct vmio_virtio_queue *q = t->queue_sel < t->nq ? &t->q[t->queue_sel] : &none;
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX,
                        t->queue_sel < t->nq ? VMIO_VIRTIO_QUEUE_MAX_SIZE : 0);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_NUM, q->num);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_READY, q->ready);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->driver);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->driver >> 32));
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->device);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->device >> 32));
}

void vmio_virtio_mmio_publish_config(struct vmio_virtio_mmio *t)
{
    uint8_t *cfg = (uint8_t *)t->regs + VMIO_VIRTIO_MMIO_CONFIG;
    for (uint32_t off = 0; off < t->vdev->config_size; off += 4) {
        uint8_t b[4] = {0};
        unsigned n = t->vdev->config_size - off < 4 ? t->vdev->config_size - off : 4;
        t->vdev->ops->config_read(t->vdev, off, b, n);
        uint32_t v =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        __atomic_store_n((uint32_t *)(void *)(cfg + off), v, __ATOMIC_RELEASE);
    }
}

/* The registers whose value never changes, and the initial state of the rest. */
static void publish_all(struct vmio_virtio_mmio *t)
{
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_MAGIC_VALUE, VMIO_VIRTIO_MMIO_MAGIC);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_VERSION, 2);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_DEVICE_ID, t->vdev->device_id);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_VENDOR_ID, VMIO_VIRTIO_MMIO_VENDOR);
    /* No shared memory region: its length reads as ~0. */
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_SHM_LEN_LOW, 0xffffffffu);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_SHM_LEN_HIGH, 0xffffffffu);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_SHM_BASE_LOW, 0xffffffffu);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_SHM_BASE_HIGH, 0xffffffffu);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_STATUS, atomic_load(&t->status));
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS, atomic_load(&t->isr));
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_CONFIG_GENERATION, atomic_load(&t->config_generation));
    publish_selected(t);
    vmio_virtio_mmio_publish_config(t);
}

/* An access to the register area that the spec does not allow: count, log once. */
static void bad_access(struct vmio_virtio_mmio *t, const char *dir, uint64_t off, unsigned width)
{
    atomic_fetch_add(&t->bad_accesses, 1);
    if (!atomic_exchange(&t->logged_bad, true)) {
        fprintf(t->log,
                "vmio: %s at 0x%llx: %u-byte %s at register offset 0x%llx ignored (registers "
                "take aligned 32-bit accesses); further ones are only counted\n",
                t->dev.name, (unsigned long long)t->base, width, dir, (unsigned long long)off);
        fflush(t->log);
    }
}

/*
 * A read that exited (no read-only view, or outside it): answered from the
 * register page, exactly as the view would answer it, except that register
 * accesses other than aligned 32-bit ones read 0.
 */
static int mmio_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct vmio_virtio_mmio *t = to_t(dev);
    *value = 0;
    if (off >= VMIO_VIRTIO_MMIO_CONFIG) {
        uint64_t c = off - VMIO_VIRTIO_MMIO_CONFIG;
        if (c + width <= t->vdev->config_size) {
            const uint8_t *p = (const uint8_t *)t->regs + off;
            uint64_t v = 0;
            for (unsigned i = 0; i < width; i++)
                v |= (uint64_t)__atomic_load_n(p + i, __ATOMIC_ACQUIRE) << (8 * i);
            *value = v;
        }
        return 0;
    }
    if (width != 4 || (off & 3)) {
        bad_access(t, "read", off, width);
        return 0;
    }
    *value = __atomic_load_n(&t->regs[off / 4], __ATOMIC_ACQUIRE);
    return 0;
}

/* ---- reset and status ---- */

/* Lock every queue, then the registers (the lock order). */
static void lock_all(struct vmio_virtio_mmio *t)
{
    for (unsigned i = 0; i < t->nq; i++)
        pthread_mutex_lock(&t->q[i].lock);
    pthread_mutex_lock(&t->lock);
}

static void unlock_all(struct vmio_virtio_mmio *t)
{
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = t->nq; i > 0; i--)
        pthread_mutex_unlock(&t->q[i - 1].lock);
}

/* The driver wrote 0 to Status (or the transport is going away). All locks held. */
static void reset_locked(struct vmio_virtio_mmio *t)
{
    if (t->vdev->ops->reset)
        t->vdev->ops->reset(t->vdev);
    for (unsigned i = 0; i < t->nq; i++) {
        struct vmio_virtio_queue *q = &t->q[i];
        q->enabled = false;
        q->ready = false;
        q->num = 0;
        q->desc = q->driver = q->device = 0;
        memset(&q->ring, 0, sizeof(q->ring));
    }
    t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
    t->driver_features = t->features = 0;
    atomic_store(&t->status, 0);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_STATUS, 0);
    publish_selected(t);
    vmio_virtio_mmio_ack(t, ~0u);
}

/* A feature set the driver may have: offered, VERSION_1, and the model agrees. */
static bool features_acceptable(struct vmio_virtio_mmio *t, uint64_t f)
{
    if (f & ~t->offered)
        return false;
    if (!(f & (1ULL << VMIO_VIRTIO_F_VERSION_1)))
        return false;
    return !t->vdev->ops->features_ok || t->vdev->ops->features_ok(t->vdev, f);
}

/*
 * Status = @v (not 0). Every lock held, so no queue work runs while the
 * model is activated. Returns whether DRIVER_OK was just set (the caller then
 * looks at every queue).
 */
static bool write_status_locked(struct vmio_virtio_mmio *t, uint32_t v)
{
    uint32_t old = atomic_load(&t->status);
    v &= 0xff;
    if ((v & VMIO_VIRTIO_STATUS_FEATURES_OK) && !(old & VMIO_VIRTIO_STATUS_FEATURES_OK)) {
        if (features_acceptable(t, t->driver_features))
            t->features = t->driver_features;
        else
            v &= ~VMIO_VIRTIO_STATUS_FEATURES_OK; /* the driver sees it did not stick */
    }
    if ((v & VMIO_VIRTIO_STATUS_DRIVER_OK) && !(v & VMIO_VIRTIO_STATUS_FEATURES_OK))
        v &= ~VMIO_VIRTIO_STATUS_DRIVER_OK;
    /* DEVICE_NEEDS_RESET is the device's to set, and sticks until the reset. */
    v = (v & ~VMIO_VIRTIO_STATUS_NEEDS_RESET) | (old & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    bool start = (v & VMIO_VIRTIO_STATUS_DRIVER_OK) && !(old & VMIO_VIRTIO_STATUS_DRIVER_OK) &&
                 !(v & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    atomic_store(&t->status, v);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_STATUS, v);
    if (start && t->vdev->ops->activate) {
        int rc = t->vdev->ops->activate(t->vdev, t->features);
        if (rc < 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the device could not start: %s", strerror(-rc));
            vmio_virtio_mmio_needs_reset(t, true, msg);
            return false;
        }
    }
    return start;
}

static void write_status(struct vmio_virtio_mmio *t, uint32_t v)
{
    lock_all(t);
    bool start = false;
    if (v == 0)
        reset_locked(t);
    else
        start = write_status_locked(t, v);
    unlock_all(t);
    /* Buffers made available before DRIVER_OK: look at every queue once. */
    for (unsigned i = 0; start && i < t->nq; i++)
        vmio_virtio_mmio_signal(t->q[i].kick_fd);
}

/* ---- queues ---- */

/* QueueReady = @on for queue @sel. */
static void write_ready(struct vmio_virtio_mmio *t, uint32_t sel, bool on)
{
    if (sel >= t->nq)
        return;
    struct vmio_virtio_queue *q = &t->q[sel];
    pthread_mutex_lock(&q->lock);
    pthread_mutex_lock(&t->lock);
    char msg[VMIO_ERROR_MSG_MAX + 32] = "";
    if (!on) {
        q->ready = false;
        q->enabled = false;
    } else if (!q->ready) {
        uint64_t f = t->features;
        struct vmio_virtq_config c = {
            .size = q->num,
            .desc = q->desc,
            .avail = q->driver,
            .used = q->device,
            .indirect = (f >> VMIO_VIRTIO_F_INDIRECT_DESC) & 1,
            .event_idx = (f >> VMIO_VIRTIO_F_EVENT_IDX) & 1,
        };
        struct vmio_error err = {0};
        if (q->num > VMIO_VIRTIO_QUEUE_MAX_SIZE)
            snprintf(msg, sizeof(msg), "queue %u: size %u is above QueueNumMax %u", sel, q->num,
                     VMIO_VIRTIO_QUEUE_MAX_SIZE);
        else if (vmio_virtq_init(&q->ring, vmio_vm_memory(t->vm), &c, &err) < 0)
            snprintf(msg, sizeof(msg), "queue %u: %s", sel, err.msg);
        else
            q->enabled = q->ready = true;
    }
    if (sel == t->queue_sel)
        publish_selected(t);
    if (msg[0])
        vmio_virtio_mmio_needs_reset(t, true, msg);
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&q->lock);
}

/* A queue register other than QueueReady (register lock held). */
static void write_queue_reg(struct vmio_virtio_mmio *t, uint64_t off, uint32_t v)
{
    if (t->queue_sel >= t->nq)
        return;
    struct vmio_virtio_queue *q = &t->q[t->queue_sel];
    if (q->ready)
        return; /* the spec forbids changing a live queue: ignored */
    uint64_t *addr = NULL;
    switch (off) {
    case VMIO_VIRTIO_MMIO_QUEUE_NUM:
        q->num = v > 0xffff ? 0 : (uint16_t)v; /* 0 is refused at QueueReady */
        publish_selected(t);
        return;
    case VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH:
        addr = &q->desc;
        break;
    case VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VMIO_VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        addr = &q->driver;
        break;
    case VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VMIO_VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        addr = &q->device;
        break;
    default:
        return;
    }
    if (off & 4)
        *addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
    else
        *addr = (*addr & ~0xffffffffULL) | v;
    publish_selected(t);
}

static int mmio_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct vmio_virtio_mmio *t = to_t(dev);
    if (off >= VMIO_VIRTIO_MMIO_CONFIG) {
        uint64_t c = off - VMIO_VIRTIO_MMIO_CONFIG;
        if (c + width <= t->vdev->config_size && t->vdev->ops->config_write) {
            uint8_t b[8];
            for (unsigned i = 0; i < width; i++)
                b[i] = (uint8_t)(value >> (8 * i));
            t->vdev->ops->config_write(t->vdev, (uint32_t)c, b, width);
        }
        return 0;
    }
    if (width != 4 || (off & 3)) {
        bad_access(t, "write", off, width);
        return 0;
    }
    uint32_t v = (uint32_t)value;
    switch (off) {
    case VMIO_VIRTIO_MMIO_QUEUE_NOTIFY:
        /* Only reached without an ioeventfd for this value (or a bad index). */
        atomic_fetch_add(&t->notify_exits, 1);
        if (v < t->nq)
            vmio_virtio_mmio_signal(t->q[v].kick_fd);
        return 0;
    case VMIO_VIRTIO_MMIO_INTERRUPT_ACK:
        vmio_virtio_mmio_ack(t, v & (VMIO_VIRTIO_MMIO_INT_VRING | VMIO_VIRTIO_MMIO_INT_CONFIG));
        return 0;
    case VMIO_VIRTIO_MMIO_STATUS:
        write_status(t, v);
        return 0;
    case VMIO_VIRTIO_MMIO_QUEUE_READY: {
        pthread_mutex_lock(&t->lock);
        uint32_t sel = t->queue_sel;
        pthread_mutex_unlock(&t->lock);
        write_ready(t, sel, v & 1);
        return 0;
    }
    default:
        break;
    }
    pthread_mutex_lock(&t->lock);
    switch (off) {
    case VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        t->dev_feat_sel = v;
        publish_selected(t);
        break;
    case VMIO_VIRTIO_MMIO_DRIVER_FEATURES:
        /* Fixed once FEATURES_OK is set (the spec forbids later changes: ignored). */
        if (t->drv_feat_sel < 2 && !(atomic_load(&t->status) & VMIO_VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * t->drv_feat_sel;
            t->driver_features =
                (t->driver_features & ~(0xffffffffULL << sh)) | ((uint64_t)v << sh);
        }
        break;
    case VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        t->drv_feat_sel = v;
        break;
    case VMIO_VIRTIO_MMIO_QUEUE_SEL:
        t->queue_sel = v;
        publish_selected(t);
        break;
    default:
        write_queue_reg(t, off, v); /* and the read-only or unknown offsets: ignored */
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* ---- life ---- */

/* The InterruptACK eventfds: off the I/O thread, out of the hypervisor, closed. */
static void teardown_acks(struct vmio_virtio_mmio *t)
{
    for (unsigned k = 0; k < 3; k++) {
        if (t->ack_watched[k])
            vmio_iothread_remove(t->io, t->ack_fd[k]);
        if (t->ack_ioeventfd[k]) {
            uint64_t match = k + 1;
            vmio_vm_ioeventfd(t->vm, VMIO_SPACE_MMIO, t->base + VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 4,
                              &match, t->ack_fd[k], false, NULL);
        }
        if (t->ack_fd[k] >= 0)
            close(t->ack_fd[k]);
        t->ack_fd[k] = -1;
        t->ack_watched[k] = t->ack_ioeventfd[k] = false;
    }
}

/* Undo what attach set up (whatever got that far) and free @t and its model. */
static void teardown(struct vmio_virtio_mmio *t)
{
    for (unsigned i = 0; i < t->nq; i++) {
        struct vmio_virtio_queue *q = &t->q[i];
        if (q->watched)
            vmio_iothread_remove(t->io, q->kick_fd);
        if (q->ioeventfd) {
            uint64_t match = i;
            vmio_vm_ioeventfd(t->vm, VMIO_SPACE_MMIO, t->base + VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, 4,
                              &match, q->kick_fd, false, NULL);
        }
    }
    teardown_acks(t);
    if (t->resample_watched)
        vmio_iothread_remove(t->io, t->resample_fd);
    if (t->irqfd)
        vmio_vm_irqfd(t->vm, t->gsi, t->irq_fd, t->resample_fd, false, NULL);
    /* No callback runs any more: reset the model under the locks as the rules say. */
    lock_all(t);
    if (t->vdev->ops->reset)
        t->vdev->ops->reset(t->vdev);
    unlock_all(t);
    if (t->vdev->ops->destroy)
        t->vdev->ops->destroy(t->vdev);
    for (unsigned i = 0; i < t->nq; i++) {
        if (t->q[i].kick_fd >= 0)
            close(t->q[i].kick_fd);
        pthread_mutex_destroy(&t->q[i].lock);
    }
    if (t->irq_fd >= 0)
        close(t->irq_fd);
    if (t->resample_fd >= 0)
        close(t->resample_fd);
    if (t->regs && !t->regs_mapped) /* a mapped view is the VM's: unmapped after its slot */
        munmap(t->regs, REGS_PAGE);
    pthread_mutex_destroy(&t->irq_lock);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void mmio_destroy(struct vmio_device *dev)
{
    teardown(to_t(dev));
}

static const struct vmio_device_ops virtio_mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
    .destroy = mmio_destroy,
};

/* The notification path: an ioeventfd per queue (all or none), else exits. */
static void setup_ioeventfds(struct vmio_virtio_mmio *t)
{
    unsigned done = 0;
    for (; done < t->nq; done++) {
        uint64_t match = done;
        if (vmio_vm_ioeventfd(t->vm, VMIO_SPACE_MMIO, t->base + VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, 4,
                              &match, t->q[done].kick_fd, true, NULL) < 0)
            break;
        t->q[done].ioeventfd = true;
    }
    if (done == t->nq)
        return;
    for (unsigned i = 0; i < done; i++) {
        uint64_t match = i;
        vmio_vm_ioeventfd(t->vm, VMIO_SPACE_MMIO, t->base + VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, 4,
                          &match, t->q[i].kick_fd, false, NULL);
        t->q[i].ioeventfd = false;
    }
}

/*
 * InterruptACK without an exit: with the irqfd (whose resampling is the EOI
 * hook), writes of 1, 2 and 3 go to eventfds the I/O thread applies (see
 * virtio_mmio_internal.h for why no ACK can clear a newer bit). All three or
 * none; other values still exit.
 */
static void setup_acks(struct vmio_virtio_mmio *t)
{
    for (unsigned k = 0; k < 3; k++) {
        uint64_t match = k + 1;
        t->ack_fd[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (t->ack_fd[k] < 0)
            break;
        if (vmio_vm_ioeventfd(t->vm, VMIO_SPACE_MMIO, t->base + VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 4,
                              &match, t->ack_fd[k], true, NULL) < 0)
            break;
        t->ack_ioeventfd[k] = true;
        if (vmio_iothread_add(t->io, t->ack_fd[k], EPOLLIN, vmio_virtio_mmio_on_ack, t, NULL) < 0)
            break;
        t->ack_watched[k] = true;
    }
    if (!t->ack_watched[2])
        teardown_acks(t);
}

/* The interrupt path: an irqfd with resampling, else vmio_vm_set_irq(). */
static int setup_irqfd(struct vmio_virtio_mmio *t, struct vmio_error *err)
{
    t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    t->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->irq_fd < 0 || t->resample_fd < 0)
        return vmio_error_set(err, -errno, "%s: eventfd: %s", t->dev.name, strerror(errno));
    if (vmio_vm_irqfd(t->vm, t->gsi, t->irq_fd, t->resample_fd, true, NULL) < 0) {
        close(t->irq_fd);
        close(t->resample_fd);
        t->irq_fd = t->resample_fd = -1;
        t->ack_fd[0] = t->ack_fd[1] = t->ack_fd[2] = -1;
        return 0; /* fallback */
    }
    t->irqfd = true;
    int rc =
        vmio_iothread_add(t->io, t->resample_fd, EPOLLIN, vmio_virtio_mmio_on_resample, t, err);
    if (rc == 0)
        t->resample_watched = true;
    return rc;
}

int vmio_virtio_mmio_attach(struct vmio_vm *vm, struct vmio_virtio_device *vdev,
                            const struct vmio_virtio_mmio_config *cfg, struct vmio_device **out,
                            struct vmio_error *err)
{
    const char *name = vdev && vdev->name ? vdev->name : "virtio";
    int rc = 0;
    if (!vdev || !vdev->ops || !vdev->ops->queue_notify ||
        (vdev->config_size && !vdev->ops->config_read) ||
        vdev->config_size > VMIO_VIRTIO_MMIO_SIZE - VMIO_VIRTIO_MMIO_CONFIG ||
        vdev->num_queues == 0 || vdev->num_queues > VMIO_VIRTIO_MAX_QUEUES)
        rc = vmio_error_set(err, -EINVAL,
                            "%s: not a usable virtio device model (1-%d queues, queue_notify, "
                            "config_read with a config space of at most %u bytes)",
                            name, VMIO_VIRTIO_MAX_QUEUES,
                            VMIO_VIRTIO_MMIO_SIZE - VMIO_VIRTIO_MMIO_CONFIG);
    else if (!cfg->io)
        rc = vmio_error_set(err, -EINVAL, "%s: no I/O thread", name);
    else if (cfg->base & 3)
        rc = vmio_error_set(err, -EINVAL, "%s: window 0x%" PRIx64 " is not 4-byte aligned", name,
                            cfg->base);
    else if (!vmio_vm_has_irqchip(vm))
        rc = vmio_error_set(err, -ENODEV, "%s: a virtio-mmio device needs the in-kernel irqchip",
                            name);
    else if (cfg->gsi >= vmio_vm_irq_lines(vm))
        rc = vmio_error_set(err, -EINVAL, "%s: GSI %u is beyond the last (%u)", name, cfg->gsi,
                            vmio_vm_irq_lines(vm) - 1);
    struct vmio_virtio_mmio *t = rc == 0 ? calloc(1, sizeof(*t)) : NULL;
    if (rc == 0 && !t)
        rc = vmio_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        if (vdev && vdev->ops && vdev->ops->destroy)
            vdev->ops->destroy(vdev);
        return rc;
    }
    t->dev = (struct vmio_device){.name = name, .ops = &virtio_mmio_ops};
    t->vm = vm;
    t->vdev = vdev;
    t->io = cfg->io;
    t->log = cfg->log ? cfg->log : stderr;
    t->base = cfg->base;
    t->gsi = cfg->gsi;
    t->nq = vdev->num_queues;
    t->offered = (vdev->features & ~TRANSPORT_RANGE) | TRANSPORT_FEATURES;
    t->irq_fd = t->resample_fd = -1;
    t->ack_fd[0] = t->ack_fd[1] = t->ack_fd[2] = -1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->irq_lock, NULL);
    atomic_init(&t->status, 0);
    atomic_init(&t->config_generation, 0);
    atomic_init(&t->isr, 0);
    for (unsigned i = 0; i < VMIO_VIRTIO_MAX_QUEUES; i++) {
        t->q[i].t = t;
        t->q[i].index = i;
        t->q[i].kick_fd = -1;
    }
    for (unsigned i = 0; i < t->nq; i++)
        pthread_mutex_init(&t->q[i].lock, NULL);
    vdev->transport = t;
    t->regs = mmap(NULL, REGS_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t->regs == MAP_FAILED) {
        t->regs = NULL;
        rc = vmio_error_set(err, -errno, "%s: register page: %s", name, strerror(errno));
    }

    for (unsigned i = 0; i < t->nq && rc == 0; i++) {
        struct vmio_virtio_queue *q = &t->q[i];
        q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->kick_fd < 0)
            rc = vmio_error_set(err, -errno, "%s: eventfd: %s", name, strerror(errno));
        else if ((rc = vmio_iothread_add(t->io, q->kick_fd, EPOLLIN, vmio_virtio_mmio_on_kick, q,
                                         err)) == 0)
            q->watched = true;
    }
    if (rc == 0 && !cfg->no_ioeventfd)
        setup_ioeventfds(t);
    if (rc == 0 && !cfg->no_irqfd)
        rc = setup_irqfd(t, err);
    if (rc == 0 && t->irqfd && t->q[0].ioeventfd)
        setup_acks(t);
    if (rc == 0)
        publish_all(t);
    if (rc == 0)
        rc = vmio_vm_add_device(vm, VMIO_SPACE_MMIO, &t->dev, t->base, VMIO_VIRTIO_MMIO_SIZE, err);
    if (rc < 0) {
        teardown(t);
        return rc;
    }
    /* Reads without exits: the page as a read-only view (falls back quietly to exits). */
    if (!cfg->no_ioeventfd && !(t->base & (REGS_PAGE - 1))) {
        char view[80];
        snprintf(view, sizeof(view), "%s registers", name);
        t->regs_mapped =
            vmio_vm_map_device_view(vm, &t->dev, t->base, REGS_PAGE, t->regs, view, NULL) == 0;
    }
    if (out)
        *out = &t->dev;
    return 0;
}
