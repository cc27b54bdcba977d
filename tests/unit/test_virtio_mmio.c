/*
 * virtio-mmio transport tests (vmio/virtio_mmio.h), no KVM: a small "echo"
 * model (two queues; copies each chain's readable bytes into its writable
 * ones) behind the transport on a VM of the fake backend, driven the way a
 * driver drives it: register reads and writes, rings in guest RAM, and
 * QueueNotify writes from a scripted vCPU.
 *
 * Checked: the identity registers and config space (widths, bounds); feature
 * negotiation (VERSION_1 required, only offered bits, the model's veto,
 * FEATURES_OK sticks only when accepted, DRIVER_OK needs FEATURES_OK); queue
 * setup (registers read back, frozen while ready, bad rings and sizes give
 * DEVICE_NEEDS_RESET with one log line); the fast path on the fake's
 * ioeventfd and irqfd (the notification produces no exit, the work runs on
 * the I/O thread, the irqfd fires, InterruptStatus/ACK, EOI and resampling);
 * the fallback path (exits, vmio_vm_set_irq() levels); a broken ring at run
 * time (NEEDS_RESET, configuration interrupt, nothing processed until the
 * reset, then the device works again); buffers queued before DRIVER_OK; a
 * reset waiting for work in progress; attach errors and teardown.
 *
 * Waiting: the echo model signals an eventfd after each queue_notify(), and
 * the tests block on it (no test waits on time).
 */
#include "fake_vm.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmio/iothread.h"
#include "vmio/stats.h"
#include "vmio/virtio.h"
#include "vmio/virtio_mmio.h"

#define BASE 0xd0001000ULL
#define GSI 16
#define QSIZE 16
#define DESC 0x100000ULL
#define AVAIL 0x101000ULL
#define USED 0x102000ULL
#define BUF 0x110000ULL
#define ECHO_ID 0x42
#define ECHO_FEATURE 3 /* offered */
#define ECHO_VETO 5    /* offered, refused by features_ok() */
#define F_VERSION_1 (1ULL << VMIO_VIRTIO_F_VERSION_1)

/* ---- the echo model ---- */

struct echo {
    struct vmio_virtio_device vdev;
    struct vmio_virtq_chain chain;
    int done; /* signalled after each queue_notify() */
    atomic_int notifies, activates, resets;
    atomic_bool fail_next;
    atomic_bool *destroyed;
    uint8_t config[8];
    uint8_t written[8];
    /* A gate queue_notify() waits at while `hold` is set. */
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool hold, inside;
};

static void echo_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
{
    struct echo *e = (struct echo *)d;
    pthread_mutex_lock(&e->m);
    e->inside = true;
    pthread_cond_broadcast(&e->cv);
    while (e->hold)
        pthread_cond_wait(&e->cv, &e->m);
    e->inside = false;
    pthread_mutex_unlock(&e->m);
    atomic_fetch_add(&e->notifies, 1);
    if (atomic_exchange(&e->fail_next, false)) {
        vmio_virtio_queue_fail(q, "echo was told to fail");
    } else {
        while (vmio_virtio_queue_pop(q, &e->chain) == 1) {
            struct vmio_virtq_chain *c = &e->chain;
            uint8_t tmp[256];
            size_t n = vmio_iov_to_buf(c->iov, c->nread, 0, tmp, sizeof(tmp));
            n = vmio_iov_from_buf(c->iov + c->nread, c->nwrite, 0, tmp, n);
            vmio_virtio_queue_push(q, c->head, (uint32_t)n);
        }
    }
    uint64_t one = 1;
    assert_int_equal(write(e->done, &one, sizeof(one)), sizeof(one));
}

static void echo_config_read(struct vmio_virtio_device *d, uint32_t off, void *buf, unsigned len)
{
    memcpy(buf, ((struct echo *)d)->config + off, len);
}

static void echo_config_write(struct vmio_virtio_device *d, uint32_t off, const void *buf,
                              unsigned len)
{
    memcpy(((struct echo *)d)->written + off, buf, len);
}

static bool echo_features_ok(struct vmio_virtio_device *d, uint64_t f)
{
    (void)d;
    return !(f & (1ULL << ECHO_VETO));
}

static int echo_activate(struct vmio_virtio_device *d, uint64_t f)
{
    (void)f;
    atomic_fetch_add(&((struct echo *)d)->activates, 1);
    return 0;
}

static void echo_reset(struct vmio_virtio_device *d)
{
    atomic_fetch_add(&((struct echo *)d)->resets, 1);
}

static void echo_destroy(struct vmio_virtio_device *d)
{
    struct echo *e = (struct echo *)d;
    if (e->destroyed)
        atomic_store(e->destroyed, true);
    vmio_virtq_chain_free(&e->chain);
    close(e->done);
    free(e);
}

static const struct vmio_virtio_device_ops echo_ops = {
    .config_read = echo_config_read,
    .config_write = echo_config_write,
    .features_ok = echo_features_ok,
    .activate = echo_activate,
    .reset = echo_reset,
    .queue_notify = echo_notify,
    .destroy = echo_destroy,
};

static struct echo *echo_new(atomic_bool *destroyed)
{
    struct echo *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    assert_int_equal(vmio_virtq_chain_init(&e->chain, VMIO_VIRTIO_CHAIN_SEGMENTS), 0);
    e->done = eventfd(0, 0);
    e->destroyed = destroyed;
    pthread_mutex_init(&e->m, NULL);
    pthread_cond_init(&e->cv, NULL);
    for (unsigned i = 0; i < 8; i++)
        e->config[i] = (uint8_t)(0x10 + i);
    e->vdev = (struct vmio_virtio_device){.ops = &echo_ops,
                                          .name = "echo",
                                          .device_id = ECHO_ID,
                                          .features = (1ULL << ECHO_FEATURE) | (1ULL << ECHO_VETO),
                                          .num_queues = 2,
                                          .config_size = 8};
    return e;
}

static void echo_wait(struct echo *e)
{
    uint64_t v;
    assert_int_equal(read(e->done, &v, sizeof(v)), sizeof(v));
}

/* ---- the fixture: a fake VM with the irqchip, an I/O thread, echo at BASE ---- */

struct fx {
    struct fake_vm m;
    struct vmio_iothread *io;
    struct echo *e;
    struct vmio_device *dev;
    atomic_bool destroyed;
};

static void fx_init(struct fx *f, bool no_ioeventfd, bool no_irqfd)
{
    memset(f, 0, sizeof(*f));
    fake_vm_init(&f->m, VMIO_UNCLAIMED_STRICT, true);
    struct vmio_error err = {0};
    assert_int_equal(vmio_iothread_create("t-virtio", &f->io, NULL), 0);
    f->e = echo_new(&f->destroyed);
    struct vmio_virtio_mmio_config c = {.base = BASE,
                                        .gsi = GSI,
                                        .io = f->io,
                                        .no_ioeventfd = no_ioeventfd,
                                        .no_irqfd = no_irqfd,
                                        .log = f->m.log};
    if (vmio_virtio_mmio_attach(f->m.vm, &f->e->vdev, &c, &f->dev, &err) != 0)
        fail_msg("attach: %s", err.msg);
    assert_int_equal(vmio_iothread_start(f->io, NULL), 0);
}

static void fx_fini(struct fx *f)
{
    vmio_iothread_stop(f->io);
    fake_vm_fini(&f->m); /* destroys the transport and the model */
    assert_true(atomic_load(&f->destroyed));
    vmio_iothread_destroy(f->io);
}

static uint32_t rd(struct fx *f, uint64_t off)
{
    uint64_t v = 0xdeadbeef;
    assert_int_equal(vmio_device_read(f->dev, off, 4, &v), 0);
    return (uint32_t)v;
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
    assert_int_equal(vmio_device_write(f->dev, off, 4, v), 0);
}

static uint8_t *gh(struct fx *f, uint64_t gpa)
{
    uint8_t *p = vmio_vm_gpa_to_host(f->m.vm, gpa, 1);
    assert_non_null(p);
    return p;
}

static void desc(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
    uint8_t *p = gh(f, DESC + 16ull * i);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static uint16_t rd16(struct fx *f, uint64_t gpa)
{
    uint16_t v;
    memcpy(&v, gh(f, gpa), 2);
    return v;
}

static void make_avail(struct fx *f, uint64_t avail, uint16_t head)
{
    uint16_t idx = rd16(f, avail + 2);
    memcpy(gh(f, avail + 4 + 2 * (idx % QSIZE)), &head, 2);
    idx++;
    memcpy(gh(f, avail + 2), &idx, 2);
}

static void work_done(struct fx *f);

/* Feature negotiation up to FEATURES_OK with @features; returns the Status read back. */
static uint32_t negotiate(struct fx *f, uint64_t features)
{
    wr(f, VMIO_VIRTIO_MMIO_STATUS, VMIO_VIRTIO_STATUS_ACKNOWLEDGE);
    wr(f, VMIO_VIRTIO_MMIO_STATUS, VMIO_VIRTIO_STATUS_ACKNOWLEDGE | VMIO_VIRTIO_STATUS_DRIVER);
    wr(f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    wr(f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
    wr(f, VMIO_VIRTIO_MMIO_STATUS,
       VMIO_VIRTIO_STATUS_ACKNOWLEDGE | VMIO_VIRTIO_STATUS_DRIVER | VMIO_VIRTIO_STATUS_FEATURES_OK);
    return rd(f, VMIO_VIRTIO_MMIO_STATUS);
}

/* Queue @q at the rings given (QSIZE entries), QueueReady = 1. */
static void setup_queue_at(struct fx *f, unsigned q, uint64_t desc, uint64_t avail, uint64_t used,
                           uint32_t num)
{
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_SEL, q);
    assert_int_equal(rd(f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
    assert_int_equal(rd(f, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), VMIO_VIRTIO_QUEUE_MAX_SIZE);
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_NUM, num);
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    wr(f, VMIO_VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The whole driver start: features (VERSION_1 only), queue 0 at DESC/AVAIL/USED, DRIVER_OK. */
static void start(struct fx *f)
{
    memset(gh(f, DESC), 0, 0x3000);
    assert_int_equal(negotiate(f, F_VERSION_1) & VMIO_VIRTIO_STATUS_FEATURES_OK,
                     VMIO_VIRTIO_STATUS_FEATURES_OK);
    setup_queue_at(f, 0, DESC, AVAIL, USED, QSIZE);
    assert_int_equal(rd(f, VMIO_VIRTIO_MMIO_QUEUE_READY), 1);
    wr(f, VMIO_VIRTIO_MMIO_STATUS,
       VMIO_VIRTIO_STATUS_ACKNOWLEDGE | VMIO_VIRTIO_STATUS_DRIVER | VMIO_VIRTIO_STATUS_FEATURES_OK |
           VMIO_VIRTIO_STATUS_DRIVER_OK);
    /* DRIVER_OK looks at every queue once (queue 1 is not set up: only queue 0 runs). */
    work_done(f);
}

/* An echo request: 4 readable bytes "ping", 8 writable bytes, head 0. */
static void ping(struct fx *f)
{
    memcpy(gh(f, BUF), "ping", 4);
    memset(gh(f, BUF + 0x100), 0, 8);
    desc(f, 0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc(f, 1, BUF + 0x100, 8, VMIO_VIRTQ_DESC_F_WRITE, 0);
    make_avail(f, AVAIL, 0);
}

/* The guest writes QueueNotify = @q from vCPU 0, then halts; returns the notify step. */
static int notify_from_vcpu(struct fx *f, unsigned q)
{
    int s = vmio_fake_push_io(f->m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4,
                              BASE + VMIO_VIRTIO_MMIO_QUEUE_NOTIFY, q);
    vmio_fake_push_kind(f->m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&f->m, 0, 0).reason, VMIO_EXIT_HLT);
    return s;
}

static void signal_done(void *ctx, int fd, uint32_t events)
{
    (void)events;
    uint64_t v;
    assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
    assert_int_equal(write(*(int *)ctx, &v, sizeof(v)), sizeof(v));
}

/*
 * Wait until the I/O thread has handled every descriptor that became ready
 * before this call: a new eventfd is signalled and waited for, and epoll
 * reports descriptors in the order they became ready (Linux keeps one FIFO
 * ready list), one batch after another.
 */
static void io_barrier(struct fx *f)
{
    int fd = eventfd(0, EFD_NONBLOCK), done = eventfd(0, 0);
    assert_int_equal(vmio_iothread_add(f->io, fd, EPOLLIN, signal_done, &done, NULL), 0);
    uint64_t one = 1, v;
    assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
    assert_int_equal(read(done, &v, sizeof(v)), sizeof(v));
    assert_int_equal(vmio_iothread_remove(f->io, fd), 0);
    close(fd);
    close(done);
}

/* The model answered a kick and the transport finished it (its interrupt decision too). */
static void work_done(struct fx *f)
{
    echo_wait(f->e);
    io_barrier(f);
}

/* MMIO exits vmio handled for the transport so far. */
static uint64_t transport_exits(struct fx *f)
{
    struct vmio_stats *s = calloc(1, sizeof(*s));
    vmio_vm_stats(f->m.vm, s);
    uint64_t n = s->device[f->dev->id].count;
    free(s);
    return n;
}

/* ---- tests ---- */

static void test_identity_and_config(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    assert_true(vmio_virtio_mmio_is(f.dev));
    assert_ptr_equal(vmio_virtio_mmio_model(f.dev), &f.e->vdev);
    assert_string_equal(f.dev->name, "echo");
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_VERSION), 2);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_DEVICE_ID), ECHO_ID);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_VENDOR_ID), VMIO_VIRTIO_MMIO_VENDOR);
    wr(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t lo = rd(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES);
    wr(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint32_t hi = rd(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES);
    wr(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES), 0);
    uint64_t offered = ((uint64_t)hi << 32) | lo;
    assert_int_equal(offered, (1ULL << ECHO_FEATURE) | (1ULL << ECHO_VETO) | F_VERSION_1 |
                                  (1ULL << VMIO_VIRTIO_F_INDIRECT_DESC) |
                                  (1ULL << VMIO_VIRTIO_F_EVENT_IDX));
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), VMIO_VIRTIO_QUEUE_MAX_SIZE);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_READY, 1); /* ignored */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_CONFIG_GENERATION), 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_RESET), 0);
    assert_int_equal(rd(&f, 0x0f0), 0); /* unknown */

    /* Config space: any width inside, 0 beyond its size; writes reach the model. */
    uint64_t v;
    assert_int_equal(vmio_device_read(f.dev, 0x100, 1, &v), 0);
    assert_int_equal(v, 0x10);
    assert_int_equal(vmio_device_read(f.dev, 0x102, 2, &v), 0);
    assert_int_equal(v, 0x1312);
    assert_int_equal(vmio_device_read(f.dev, 0x100, 8, &v), 0);
    assert_int_equal(v, 0x1716151413121110ULL);
    assert_int_equal(vmio_device_read(f.dev, 0x106, 4, &v), 0); /* crosses the end */
    assert_int_equal(v, 0);
    assert_int_equal(vmio_device_read(f.dev, 0x1f8, 8, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(vmio_device_write(f.dev, 0x104, 2, 0xabcd), 0);
    assert_int_equal(f.e->written[4], 0xcd);
    assert_int_equal(f.e->written[5], 0xab);
    assert_int_equal(vmio_device_write(f.dev, 0x107, 2, 0xffff), 0); /* beyond: ignored */
    assert_int_equal(f.e->written[7], 0);

    /* Registers take aligned 32-bit accesses only: others read 0, are ignored, logged once. */
    assert_int_equal(vmio_device_read(f.dev, VMIO_VIRTIO_MMIO_MAGIC_VALUE, 2, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(vmio_device_read(f.dev, VMIO_VIRTIO_MMIO_VERSION + 1, 4, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(vmio_device_write(f.dev, VMIO_VIRTIO_MMIO_STATUS, 1, 1), 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.bad_accesses, 3);
    const char *log = fake_vm_log(&f.m);
    assert_non_null(strstr(log, "vmio: echo at 0xd0001000: 2-byte read at register offset 0x0 "
                                "ignored"));
    assert_null(strstr(strstr(log, "ignored") + 1, "ignored")); /* once */
    fx_fini(&f);
}

static void test_feature_negotiation(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    const uint32_t base = VMIO_VIRTIO_STATUS_ACKNOWLEDGE | VMIO_VIRTIO_STATUS_DRIVER;
    /* No VERSION_1: FEATURES_OK does not stick (a legacy driver must fail). */
    assert_int_equal(negotiate(&f, 1ULL << ECHO_FEATURE), base);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    /* A bit that was not offered. */
    assert_int_equal(negotiate(&f, F_VERSION_1 | (1ULL << 7)), base);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(negotiate(&f, F_VERSION_1 | (1ULL << VMIO_VIRTIO_F_RING_PACKED)), base);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    /* Offered, but the model refuses this combination. */
    assert_int_equal(negotiate(&f, F_VERSION_1 | (1ULL << ECHO_VETO)), base);
    /* DRIVER_OK without FEATURES_OK is refused too. */
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, base | VMIO_VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), base);
    assert_int_equal(atomic_load(&f.e->activates), 0);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    /* Accepted; then the driver features are frozen. */
    uint64_t want = F_VERSION_1 | (1ULL << ECHO_FEATURE) | (1ULL << VMIO_VIRTIO_F_EVENT_IDX);
    assert_int_equal(negotiate(&f, want), base | VMIO_VIRTIO_STATUS_FEATURES_OK);
    wr(&f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(&f, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, 1u << ECHO_VETO); /* ignored now */
    /* The driver cannot set DEVICE_NEEDS_RESET itself. */
    wr(&f, VMIO_VIRTIO_MMIO_STATUS,
       base | VMIO_VIRTIO_STATUS_FEATURES_OK | VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), base | VMIO_VIRTIO_STATUS_FEATURES_OK);
    setup_queue_at(&f, 0, DESC, AVAIL, USED, QSIZE);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS,
       base | VMIO_VIRTIO_STATUS_FEATURES_OK | VMIO_VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS),
                     base | VMIO_VIRTIO_STATUS_FEATURES_OK | VMIO_VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(atomic_load(&f.e->activates), 1);
    work_done(&f);
    int resets = atomic_load(&f.e->resets);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(atomic_load(&f.e->resets), resets + 1);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
    fx_fini(&f);
}

static void test_queue_setup(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    negotiate(&f, F_VERSION_1);
    setup_queue_at(&f, 1, 0x123456780000ULL, 0x100002ULL, 0x100004ULL, 0);
    /* Size 0: refused at QueueReady, which stays 0; DEVICE_NEEDS_RESET, one line. */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW), 0x56780000);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH), 0x1234);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DRIVER_LOW), 0x100002);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DEVICE_LOW), 0x100004);
    assert_true(rd(&f, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0); /* no DRIVER_OK: no irq */
    assert_non_null(strstr(fake_vm_log(&f.m), "vmio: echo at 0xd0001000: queue 1: queue size 0 "
                                              "is not a power of two"));
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH), 0); /* reset clears them */

    const struct {
        uint64_t desc, avail, used;
        uint32_t num;
        const char *msg;
    } bad[] = {
        {DESC, AVAIL, USED, 12, "queue 0: queue size 12 is not a power of two"},
        {DESC, AVAIL, USED, 512, "queue 0: size 512 is above QueueNumMax 256"},
        {DESC + 4, AVAIL, USED, QSIZE, "queue 0: the descriptor table at 0x100004 is not"},
        {DESC, AVAIL, 0xd0000000ULL, QSIZE, "queue 0: the used ring at 0xd0000000"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        negotiate(&f, F_VERSION_1);
        setup_queue_at(&f, 0, bad[i].desc, bad[i].avail, bad[i].used, bad[i].num);
        assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
        assert_true(rd(&f, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
        if (!strstr(fake_vm_log(&f.m), bad[i].msg))
            fail_msg("expected '%s' in the log:\n%s", bad[i].msg, fake_vm_log(&f.m));
        /* DRIVER_OK on a broken device: it stays broken and does not start. */
        wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0xf);
        assert_int_equal(atomic_load(&f.e->activates), 0);
        wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    }
    /* A ready queue's registers are frozen. */
    negotiate(&f, F_VERSION_1);
    setup_queue_at(&f, 0, DESC, AVAIL, USED, QSIZE);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 1);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x999000);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_NUM, 4);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)DESC);
    /* QueueReady = 0 takes the queue down; its registers can change again. */
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_READY, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 0);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x999000);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_LOW), 0x999000);
    assert_false(rd(&f, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    fx_fini(&f);
}

static void test_fast_path(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_true(st.ioeventfd);
    assert_true(st.irqfd);
    assert_true(st.reads_mapped);
    assert_true(st.ack_eventfds);
    /*
     * One ioeventfd per queue on QueueNotify, with the queue index as
     * datamatch, and three on InterruptACK (values 1, 2, 3).
     */
    assert_int_equal(vmio_fake_ioeventfd_count(f.m.fake), 5);
    unsigned notify = 0, ack = 0;
    for (int i = 0; i < 5; i++) {
        struct vmio_fake_ioeventfd ev;
        assert_int_equal(vmio_fake_ioeventfd_at(f.m.fake, (unsigned)i, &ev), 0);
        assert_int_equal(ev.len, 4);
        assert_true(ev.datamatch);
        if (ev.addr == BASE + VMIO_VIRTIO_MMIO_QUEUE_NOTIFY)
            notify |= 1u << ev.data;
        else if (ev.addr == BASE + VMIO_VIRTIO_MMIO_INTERRUPT_ACK)
            ack |= 1u << ev.data;
    }
    assert_int_equal(notify, 0x3);
    assert_int_equal(ack, 0xe);
    struct vmio_fake_irqfd irqfd;
    assert_int_equal(vmio_fake_irqfd_get(f.m.fake, GSI, &irqfd), 0);
    assert_true(irqfd.assigned);
    assert_true(irqfd.resample_fd >= 0);

    fake_vm_vcpu(&f.m, 0);
    start(&f);
    ping(&f);
    uint64_t exits = transport_exits(&f);
    int s = notify_from_vcpu(&f, 0);
    work_done(&f);
    /* The notification reached the device without an exit to vmio. */
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_cpu_info(f.m.fake, 0, &ci), 0);
    assert_int_equal(ci.eventfd_writes, 1);
    assert_int_equal(transport_exits(&f), exits);
    uint64_t v;
    assert_int_equal(vmio_fake_read_value(f.m.fake, 0, (unsigned)s, &v), 0);
    assert_int_equal(v, 0);
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.notify_exits, 0);
    /* The echo went into the writable buffer; the used ring says 4 bytes. */
    assert_memory_equal(gh(&f, BUF + 0x100), "ping", 4);
    assert_int_equal(rd16(&f, USED + 2), 1);
    assert_int_equal(rd16(&f, USED), 0); /* notifications re-armed once the ring was empty */
    uint32_t len;
    memcpy(&len, gh(&f, USED + 8), 4);
    assert_int_equal(len, 4);
    /* The interrupt: InterruptStatus says "used buffer", the irqfd fired, the line is high. */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_VRING);
    assert_int_equal(vmio_fake_irqfd_poll(f.m.fake), 1);
    struct vmio_fake_irq line;
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 1);
    /* ACK, then EOI: the line drops; resampling finds nothing pending. */
    wr(&f, VMIO_VIRTIO_MMIO_INTERRUPT_ACK, VMIO_VIRTIO_MMIO_INT_VRING);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert_int_equal(vmio_fake_eoi(f.m.fake, GSI), 0);
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 0);
    io_barrier(&f); /* the resample event has been handled */
    assert_int_equal(vmio_fake_irqfd_poll(f.m.fake), 0);
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.resamples, 0);

    /* Again, but the guest EOIs without ACKing: resampling re-asserts. */
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_int_equal(vmio_fake_irqfd_poll(f.m.fake), 1);
    assert_int_equal(vmio_fake_eoi(f.m.fake, GSI), 0);
    while (vmio_fake_irqfd_poll(f.m.fake) == 0)
        sched_yield();
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 1);
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.resamples, 1);
    assert_int_equal(st.interrupts, 2);
    fx_fini(&f);
}

/* The fake's read-only memory slot over BASE, and the host memory behind it. */
static const uint32_t *view(struct fx *f)
{
    for (unsigned i = 0; i < VMIO_FAKE_MAX_SLOTS; i++) {
        struct vmio_fake_slot sl;
        if (vmio_fake_slot(f->m.fake, i, &sl) == 0 && sl.gpa == BASE) {
            assert_int_equal(sl.size, 4096);
            assert_true(sl.readonly);
            return sl.host;
        }
    }
    return NULL;
}

static uint32_t view_reg(struct fx *f, uint64_t off)
{
    return __atomic_load_n(&view(f)[off / 4], __ATOMIC_ACQUIRE);
}

static void test_register_view(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    /* Guest reads come from a read-only slot over the window, kept current. */
    assert_non_null(view(&f));
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_MAGIC_VALUE), VMIO_VIRTIO_MMIO_MAGIC);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_DEVICE_ID), ECHO_ID);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_CONFIG), 0x13121110);
    const struct vmio_guest_mem *mem = vmio_vm_memory(f.m.vm);
    assert_null(vmio_guest_mem_to_host(mem, BASE, 4)); /* never a DMA target */
    const struct vmio_mem_region *r = NULL;
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++)
        if (vmio_guest_mem_at(mem, i)->gpa == BASE)
            r = vmio_guest_mem_at(mem, i);
    assert_non_null(r);
    assert_string_equal(r->name, "echo registers");
    wr(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 */
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x77);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH), 0x77);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), VMIO_VIRTIO_QUEUE_MAX_SIZE);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_QUEUE_DESC_HIGH), 0);
    wr(&f, VMIO_VIRTIO_MMIO_QUEUE_SEL, 5);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    /* Status, interrupt status and generation follow the device. */
    fake_vm_vcpu(&f.m, 0);
    start(&f);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_STATUS), 0xf);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_QUEUE_READY), 1);
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_VRING);
    /* The guest's ACK of 1 goes to an eventfd: no exit, applied on the I/O thread. */
    uint64_t exits = transport_exits(&f);
    vmio_fake_push_io(f.m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4,
                      BASE + VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 1);
    vmio_fake_push_kind(f.m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&f.m, 0, 0).reason, VMIO_EXIT_HLT);
    io_barrier(&f);
    assert_int_equal(transport_exits(&f), exits);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    /* Other values exit and are applied at once. */
    vmio_virtio_config_changed(&f.e->vdev);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_CONFIG_GENERATION), 1);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_CONFIG);
    vmio_fake_push_io(f.m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4,
                      BASE + VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 7);
    vmio_fake_push_kind(f.m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&f.m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(transport_exits(&f), exits + 1);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(view_reg(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    fx_fini(&f);

    /* Without the fast paths (or off a page boundary) there is no view. */
    fx_init(&f, true, true);
    assert_null(view(&f));
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_false(st.reads_mapped);
    assert_false(st.ack_eventfds);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_MAGIC_VALUE), VMIO_VIRTIO_MMIO_MAGIC);
    fx_fini(&f);
}

/*
 * An ACK that arrives (as an eventfd) while the device is still publishing
 * used buffers is applied before the bit that announces them is set: the
 * bit survives, nothing is lost.
 */
static void test_ack_before_raise(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    fake_vm_vcpu(&f.m, 0);
    start(&f);
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 1);
    /* The model works on new buffers (held), and the guest ACKs the old interrupt meanwhile. */
    pthread_mutex_lock(&f.e->m);
    f.e->hold = true;
    pthread_mutex_unlock(&f.e->m);
    ping(&f);
    vmio_virtio_kick(&f.e->vdev, 0);
    pthread_mutex_lock(&f.e->m);
    while (!f.e->inside)
        pthread_cond_wait(&f.e->cv, &f.e->m);
    pthread_mutex_unlock(&f.e->m);
    vmio_fake_push_io(f.m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4,
                      BASE + VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 1);
    vmio_fake_push_kind(f.m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&f.m, 0, 0).reason, VMIO_EXIT_HLT);
    pthread_mutex_lock(&f.e->m);
    f.e->hold = false;
    pthread_cond_broadcast(&f.e->cv);
    pthread_mutex_unlock(&f.e->m);
    work_done(&f);
    io_barrier(&f); /* and the ACK's own callback, if it runs after */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_VRING);
    fx_fini(&f);
}

/* vmio_vm_map_device_view(): what the VM refuses, and what it records. */
static void test_device_view_rules(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    struct vmio_error err = {0};
    void *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    const struct vmio_bus_range *td =
        vmio_bus_lookup(vmio_vm_bus(m.vm, VMIO_SPACE_MMIO), VMIO_TESTDEV_MMIO_BASE, 1);
    assert_non_null(td);
    struct vmio_device *testdev = td->dev;
    assert_int_equal(
        vmio_vm_map_device_view(m.vm, testdev, VMIO_TESTDEV_MMIO_BASE + 8, 4096, page, "x", &err),
        -EINVAL);
    assert_int_equal(vmio_vm_map_device_view(m.vm, testdev, VMIO_TESTDEV_MMIO_BASE, 4096,
                                             (char *)page + 8, "x", &err),
                     -EINVAL);
    assert_int_equal(vmio_vm_map_device_view(m.vm, testdev, 0xd0004000, 4096, page, "x", &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "register view x at 0xd0004000: the device is not there"));
    assert_int_equal(vmio_vm_map_device_view(m.vm, testdev, 0x100000, 4096, page, "x", &err),
                     -EBUSY);
    assert_non_null(strstr(err.msg, "overlaps memory ram"));
    assert_int_equal(vmio_vm_map_device_view(m.vm, testdev, 0xfec00000, 4096, page, "x", &err),
                     -EBUSY);
    /* A second page that holds another device: refused. */
    struct vmio_device *other = NULL;
    assert_int_equal(vmio_testdev_create("other", &other, NULL), 0);
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, other,
                                        VMIO_TESTDEV_MMIO_BASE + 0x1000, 0x100, &err),
                     0);
    assert_int_equal(
        vmio_vm_map_device_view(m.vm, testdev, VMIO_TESTDEV_MMIO_BASE, 8192, page, "x", &err),
        -EBUSY);
    assert_non_null(strstr(err.msg, "overlaps device other"));
    assert_int_equal(vmio_vm_map_device_view(m.vm, testdev, VMIO_TESTDEV_MMIO_BASE, 4096, page,
                                             "testdev view", &err),
                     0);
    const struct vmio_mem_region *r = NULL;
    const struct vmio_guest_mem *mem = vmio_vm_memory(m.vm);
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++)
        if (vmio_guest_mem_at(mem, i)->gpa == VMIO_TESTDEV_MMIO_BASE)
            r = vmio_guest_mem_at(mem, i);
    assert_non_null(r);
    assert_true(r->readonly);
    assert_int_equal(r->kind, VMIO_MEM_PASSTHROUGH);
    assert_string_equal(r->name, "testdev view");
    /* No device can come into a view now. */
    struct vmio_device *third = NULL;
    assert_int_equal(vmio_testdev_create("third", &third, NULL), 0);
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, third,
                                        VMIO_TESTDEV_MMIO_BASE + 0x800, 0x100, &err),
                     -EBUSY);
    third->ops->destroy(third);
    munmap((char *)page + 4096, 4096);
    fake_vm_fini(&m); /* the VM unmaps the page */
}

static void test_teardown_unregisters(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    vmio_iothread_stop(f.io);
    struct vmio_fake *fake = f.m.fake;
    vmio_vm_destroy(f.m.vm);
    f.m.vm = NULL;
    assert_true(atomic_load(&f.destroyed));
    assert_int_equal(vmio_fake_ioeventfd_count(fake), 0);
    struct vmio_fake_irqfd irqfd;
    assert_int_equal(vmio_fake_irqfd_get(fake, GSI, &irqfd), 0);
    assert_false(irqfd.assigned);
    fake_vm_fini(&f.m);
    vmio_iothread_destroy(f.io);
}

static void test_fallback_path(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true, true);
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_false(st.ioeventfd);
    assert_false(st.irqfd);
    assert_int_equal(vmio_fake_ioeventfd_count(f.m.fake), 0);
    fake_vm_vcpu(&f.m, 0);
    start(&f);
    ping(&f);
    uint64_t exits = transport_exits(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_int_equal(transport_exits(&f), exits + 1); /* the notification exited */
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.notify_exits, 1);
    assert_memory_equal(gh(&f, BUF + 0x100), "ping", 4);
    /* The line follows InterruptStatus through vmio_vm_set_irq(). */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_VRING);
    struct vmio_fake_irq line;
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 1);
    assert_int_equal(line.rises, 1);
    wr(&f, VMIO_VIRTIO_MMIO_INTERRUPT_ACK, VMIO_VIRTIO_MMIO_INT_CONFIG); /* not the pending bit */
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 1);
    wr(&f, VMIO_VIRTIO_MMIO_INTERRUPT_ACK, VMIO_VIRTIO_MMIO_INT_VRING);
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 0);
    /* A notification for a queue that does not exist exits and does nothing. */
    notify_from_vcpu(&f, 7);
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_int_equal(st.notify_exits, 2);
    /* A reset with an interrupt pending lowers the line. */
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 1);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    vmio_fake_irq(f.m.fake, GSI, &line);
    assert_int_equal(line.level, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    fx_fini(&f);
}

static void test_broken_ring_needs_reset(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true, true);
    fake_vm_vcpu(&f.m, 0);
    start(&f);
    make_avail(&f, AVAIL, QSIZE + 3); /* a head beyond the queue */
    notify_from_vcpu(&f, 0);
    work_done(&f);
    uint32_t status = rd(&f, VMIO_VIRTIO_MMIO_STATUS);
    assert_true(status & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_true(status & VMIO_VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), VMIO_VIRTIO_MMIO_INT_CONFIG);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_CONFIG_GENERATION), 1);
    assert_non_null(strstr(fake_vm_log(&f.m),
                           "vmio: echo at 0xd0001000: queue 0: available ring entry 0 names "
                           "descriptor 19, beyond the queue size 16; the device needs a reset"));
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(f.dev, &st);
    assert_true(st.needs_reset);
    /* Nothing is processed until the reset (the model is not even called). */
    int calls = atomic_load(&f.e->notifies);
    notify_from_vcpu(&f, 0);
    vmio_virtio_kick(&f.e->vdev, 1);
    /* A kick of an unknown queue, or before the device exists, does nothing. */
    vmio_virtio_kick(&f.e->vdev, 9);
    wr(&f, VMIO_VIRTIO_MMIO_INTERRUPT_ACK, 3);
    io_barrier(&f);
    /* Restart the driver: everything works again. */
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(atomic_load(&f.e->notifies), calls);
    start(&f);
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_memory_equal(gh(&f, BUF + 0x100), "ping", 4);
    assert_false(rd(&f, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    /* The model can declare a request unanswerable: the same state. */
    atomic_store(&f.e->fail_next, true);
    ping(&f);
    notify_from_vcpu(&f, 0);
    work_done(&f);
    assert_true(rd(&f, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_non_null(strstr(fake_vm_log(&f.m), "queue 0: echo was told to fail"));
    fx_fini(&f);
}

static void test_buffers_before_driver_ok(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    memset(gh(&f, DESC), 0, 0x3000);
    negotiate(&f, F_VERSION_1);
    setup_queue_at(&f, 0, DESC, AVAIL, USED, QSIZE);
    ping(&f);
    vmio_virtio_kick(&f.e->vdev, 0); /* not running yet: the model is not called */
    io_barrier(&f);
    assert_int_equal(atomic_load(&f.e->notifies), 0);
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0xf);
    work_done(&f);
    assert_memory_equal(gh(&f, BUF + 0x100), "ping", 4);
    assert_int_equal(atomic_load(&f.e->notifies), 1);
    /* FAILED stops processing too. */
    wr(&f, VMIO_VIRTIO_MMIO_STATUS, 0xf | VMIO_VIRTIO_STATUS_FAILED);
    int before = atomic_load(&f.e->notifies);
    ping(&f);
    vmio_virtio_kick(&f.e->vdev, 0);
    io_barrier(&f);
    assert_int_equal(atomic_load(&f.e->notifies), before);
    fx_fini(&f);
}

struct resetter {
    struct fx *f;
    atomic_bool started, done;
};

static void *do_reset(void *arg)
{
    struct resetter *r = arg;
    atomic_store(&r->started, true);
    wr(r->f, VMIO_VIRTIO_MMIO_STATUS, 0);
    atomic_store(&r->done, true);
    return NULL;
}

static void test_reset_waits_for_work(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, false);
    start(&f);
    ping(&f);
    pthread_mutex_lock(&f.e->m);
    f.e->hold = true;
    pthread_mutex_unlock(&f.e->m);
    vmio_virtio_kick(&f.e->vdev, 0);
    pthread_mutex_lock(&f.e->m);
    while (!f.e->inside)
        pthread_cond_wait(&f.e->cv, &f.e->m);
    pthread_mutex_unlock(&f.e->m);
    struct resetter r = {.f = &f};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, do_reset, &r), 0);
    while (!atomic_load(&r.started))
        sched_yield();
    for (int i = 0; i < 2000; i++)
        sched_yield();
    assert_false(atomic_load(&r.done)); /* the model is still working on the queue */
    /* The ISR can still be read while the reset waits (no lock on that path). */
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    pthread_mutex_lock(&f.e->m);
    f.e->hold = false;
    pthread_cond_broadcast(&f.e->cv);
    pthread_mutex_unlock(&f.e->m);
    pthread_join(t, NULL);
    work_done(&f);
    assert_true(atomic_load(&r.done));
    assert_int_equal(rd(&f, VMIO_VIRTIO_MMIO_STATUS), 0);
    fx_fini(&f);
}

static void test_attach_errors(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-attach", &io, NULL), 0);
    /* A VM without the irqchip. */
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, false);
    atomic_bool destroyed = false;
    struct echo *e = echo_new(&destroyed);
    struct vmio_virtio_mmio_config c = {.base = BASE, .gsi = GSI, .io = io};
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, NULL, &err), -ENODEV);
    assert_non_null(strstr(err.msg, "echo: a virtio-mmio device needs the in-kernel irqchip"));
    assert_true(destroyed); /* the model is destroyed on failure */
    fake_vm_fini(&m);

    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    destroyed = false;
    e = echo_new(&destroyed);
    c.gsi = 24;
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, NULL, &err), -EINVAL);
    assert_true(destroyed);
    destroyed = false;
    e = echo_new(&destroyed);
    c = (struct vmio_virtio_mmio_config){.base = BASE, .gsi = GSI};
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no I/O thread"));
    destroyed = false;
    e = echo_new(&destroyed);
    e->vdev.num_queues = VMIO_VIRTIO_MAX_QUEUES + 1;
    c.io = io;
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, NULL, &err), -EINVAL);
    assert_true(destroyed);
    /* A window on top of another device: the bus refuses it, everything is undone. */
    destroyed = false;
    e = echo_new(&destroyed);
    c.base = 0xd0000000ULL; /* testdev */
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, NULL, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "overlaps device testdev"));
    assert_true(destroyed);
    assert_int_equal(vmio_fake_ioeventfd_count(m.fake), 0);
    struct vmio_fake_irqfd irqfd;
    assert_int_equal(vmio_fake_irqfd_get(m.fake, GSI, &irqfd), 0);
    assert_false(irqfd.assigned);
    /* A backend whose ioeventfd or irqfd fails: the transport falls back quietly. */
    vmio_fake_fail(m.fake, VMIO_FAKE_OP_IOEVENTFD, -ENOSYS);
    vmio_fake_fail(m.fake, VMIO_FAKE_OP_IRQFD, -ENOSYS);
    destroyed = false;
    e = echo_new(&destroyed);
    c.base = BASE;
    struct vmio_device *dev;
    assert_int_equal(vmio_virtio_mmio_attach(m.vm, &e->vdev, &c, &dev, &err), 0);
    struct vmio_virtio_mmio_stats st;
    vmio_virtio_mmio_stats(dev, &st);
    assert_false(st.ioeventfd);
    assert_false(st.irqfd);
    fake_vm_fini(&m);
    assert_true(destroyed);
    vmio_iothread_destroy(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_config),
        cmocka_unit_test(test_feature_negotiation),
        cmocka_unit_test(test_queue_setup),
        cmocka_unit_test(test_fast_path),
        cmocka_unit_test(test_register_view),
        cmocka_unit_test(test_ack_before_raise),
        cmocka_unit_test(test_device_view_rules),
        cmocka_unit_test(test_teardown_unregisters),
        cmocka_unit_test(test_fallback_path),
        cmocka_unit_test(test_broken_ring_needs_reset),
        cmocka_unit_test(test_buffers_before_driver_ok),
        cmocka_unit_test(test_reset_waits_for_work),
        cmocka_unit_test(test_attach_errors),
    };
    return cmocka_run_group_tests_name("virtio_mmio", tests, NULL, NULL);
}
