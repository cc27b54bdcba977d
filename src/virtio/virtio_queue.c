/*
 * The virtio-mmio transport's queue work and interrupts (see
 * virtio_mmio_internal.h for the shared state and its invariants): what runs
 * on the I/O thread when a queue is kicked or an interrupt resampled, and the
 * API of vmio/virtio.h that device models call from there.
 *
 * A kick: drain the queue's eventfd, take the queue lock, and if the driver
 * has the device running, suppress further notifications, let the model pop
 * and push (its pop at an empty ring re-arms notifications and re-checks),
 * then raise one interrupt if the driver asked for one for what was pushed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virtio/virtio_mmio_internal.h"

void vmio_virtio_mmio_signal(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* Empty eventfd @fd (non-blocking). */
static void drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

/* Apply every InterruptACK that arrived as an eventfd. irq_lock held. */
static void apply_acks_locked(struct vmio_virtio_mmio *t)
{
    for (unsigned k = 0; k < 3; k++) {
        uint64_t n;
        if (t->ack_fd[k] >= 0 && read(t->ack_fd[k], &n, sizeof(n)) == (ssize_t)sizeof(n) && n)
            atomic_fetch_and(&t->isr, ~(k + 1u));
    }
}

/* InterruptStatus changed to @isr: publish it (irq_lock held). */
static void publish_isr(struct vmio_virtio_mmio *t)
{
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS, atomic_load(&t->isr));
}

void vmio_virtio_mmio_raise(struct vmio_virtio_mmio *t, unsigned bits)
{
    atomic_fetch_add(&t->interrupts, 1);
    pthread_mutex_lock(&t->irq_lock);
    apply_acks_locked(t);
    atomic_fetch_or(&t->isr, bits);
    publish_isr(t);
    if (!t->irqfd && !t->line) {
        t->line = true;
        vmio_vm_set_irq(t->vm, t->gsi, 1);
    }
    pthread_mutex_unlock(&t->irq_lock);
    if (t->irqfd)
        vmio_virtio_mmio_signal(t->irq_fd);
}

void vmio_virtio_mmio_ack(struct vmio_virtio_mmio *t, unsigned bits)
{
    pthread_mutex_lock(&t->irq_lock);
    apply_acks_locked(t);
    unsigned now = atomic_fetch_and(&t->isr, ~bits) & ~bits;
    publish_isr(t);
    /* With the irqfd the hypervisor lowers the line at the EOI; resampling re-asserts. */
    if (!t->irqfd && now == 0 && t->line) {
        t->line = false;
        vmio_vm_set_irq(t->vm, t->gsi, 0);
    }
    pthread_mutex_unlock(&t->irq_lock);
}

void vmio_virtio_mmio_on_ack(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    vmio_virtio_mmio_ack(ctx, 0); /* applies the pending eventfd ACKs */
}

void vmio_virtio_mmio_on_resample(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct vmio_virtio_mmio *t = ctx;
    drain(fd);
    pthread_mutex_lock(&t->irq_lock);
    apply_acks_locked(t);
    publish_isr(t);
    unsigned isr = atomic_load(&t->isr);
    pthread_mutex_unlock(&t->irq_lock);
    if (isr) {
        atomic_fetch_add(&t->resamples, 1);
        vmio_virtio_mmio_signal(t->irq_fd);
    }
}

void vmio_virtio_mmio_needs_reset(struct vmio_virtio_mmio *t, bool locked, const char *msg)
{
    if (!locked)
        pthread_mutex_lock(&t->lock);
    unsigned old = atomic_load(&t->status);
    bool first = !(old & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    if (first) {
        atomic_store(&t->status, old | VMIO_VIRTIO_STATUS_NEEDS_RESET);
        virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_STATUS, old | VMIO_VIRTIO_STATUS_NEEDS_RESET);
        if (old & VMIO_VIRTIO_STATUS_DRIVER_OK)
            virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_CONFIG_GENERATION,
                                atomic_fetch_add(&t->config_generation, 1) + 1);
    }
    if (!locked)
        pthread_mutex_unlock(&t->lock);
    if (!first)
        return;
    fprintf(t->log,
            "vmio: %s at 0x%llx: %s; the device needs a reset (DEVICE_NEEDS_RESET) and "
            "processes nothing until the driver resets it\n",
            t->dev.name, (unsigned long long)t->base, msg);
    fflush(t->log);
    if (old & VMIO_VIRTIO_STATUS_DRIVER_OK)
        vmio_virtio_mmio_raise(t, VMIO_VIRTIO_MMIO_INT_CONFIG);
}

/* Whether the driver lets the device work: DRIVER_OK, not broken, not failed. */
static bool running(const struct vmio_virtio_mmio *t)
{
    unsigned s = atomic_load(&t->status);
    return (s & VMIO_VIRTIO_STATUS_DRIVER_OK) &&
           !(s & (VMIO_VIRTIO_STATUS_NEEDS_RESET | VMIO_VIRTIO_STATUS_FAILED));
}

void vmio_virtio_mmio_on_kick(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct vmio_virtio_queue *q = ctx;
    struct vmio_virtio_mmio *t = q->t;
    drain(fd);
    pthread_mutex_lock(&q->lock);
    if (q->enabled && running(t)) {
        atomic_fetch_add(&t->kicks, 1);
        vmio_virtq_set_notify(&q->ring, false);
        t->vdev->ops->queue_notify(t->vdev, q);
        if (running(t) && vmio_virtq_needs_interrupt(&q->ring))
            vmio_virtio_mmio_raise(t, VMIO_VIRTIO_MMIO_INT_VRING);
    }
    pthread_mutex_unlock(&q->lock);
}

/* ---- the API of vmio/virtio.h ---- */

/* Put @q's device in NEEDS_RESET for "queue N: <what>". */
static void fail_queue(struct vmio_virtio_queue *q, const char *what)
{
    char msg[VMIO_ERROR_MSG_MAX + 32];
    snprintf(msg, sizeof(msg), "queue %u: %s", q->index, what);
    vmio_virtio_mmio_needs_reset(q->t, false, msg);
}

int vmio_virtio_queue_pop(struct vmio_virtio_queue *q, struct vmio_virtq_chain *c)
{
    if (!q->enabled || !running(q->t))
        return 0;
    struct vmio_error err = {0};
    int rc = vmio_virtq_pop(&q->ring, c, &err);
    if (rc == 0) {
        /* Empty: ask for notifications again, then look once more (2.7.10). */
        vmio_virtq_set_notify(&q->ring, true);
        if (!vmio_virtq_has_avail(&q->ring))
            return 0;
        vmio_virtq_set_notify(&q->ring, false);
        rc = vmio_virtq_pop(&q->ring, c, &err);
    }
    if (rc < 0) {
        fail_queue(q, err.msg);
        return 0;
    }
    return rc;
}

void vmio_virtio_queue_unpop(struct vmio_virtio_queue *q)
{
    vmio_virtq_unpop(&q->ring);
}

void vmio_virtio_queue_push(struct vmio_virtio_queue *q, uint16_t head, uint32_t len)
{
    if (q->enabled)
        vmio_virtq_push(&q->ring, head, len);
}

void vmio_virtio_queue_fail(struct vmio_virtio_queue *q, const char *fmt, ...)
{
    char what[VMIO_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fail_queue(q, what);
}

unsigned vmio_virtio_queue_index(const struct vmio_virtio_queue *q)
{
    return q->index;
}

unsigned vmio_virtio_queue_size(const struct vmio_virtio_queue *q)
{
    return q->enabled ? q->ring.size : 0;
}

bool vmio_virtio_queue_has_avail(struct vmio_virtio_queue *q)
{
    return q->enabled && vmio_virtq_has_avail(&q->ring);
}

void vmio_virtio_kick(struct vmio_virtio_device *d, unsigned index)
{
    struct vmio_virtio_mmio *t = d->transport;
    if (t && index < t->nq && t->q[index].kick_fd >= 0)
        vmio_virtio_mmio_signal(t->q[index].kick_fd);
}

void vmio_virtio_config_changed(struct vmio_virtio_device *d)
{
    struct vmio_virtio_mmio *t = d->transport;
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    vmio_virtio_mmio_publish_config(t);
    virtio_mmio_publish(t, VMIO_VIRTIO_MMIO_CONFIG_GENERATION,
                        atomic_fetch_add(&t->config_generation, 1) + 1);
    pthread_mutex_unlock(&t->lock);
    if (atomic_load(&t->status) & VMIO_VIRTIO_STATUS_DRIVER_OK)
        vmio_virtio_mmio_raise(t, VMIO_VIRTIO_MMIO_INT_CONFIG);
}
