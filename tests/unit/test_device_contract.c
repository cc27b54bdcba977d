/*
 * The device contract (vmio/device.h, vmio/vm.h) on the fake backend:
 * ownership of a device on several windows (a failed add never destroys a
 * device the VM holds), the window base a callback sees, a device stopping
 * the vCPU with a reason of its own (and a bogus return being a device
 * error), and removal that waits until no vCPU is inside the device, also
 * with a vCPU sleeping in the guest.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "fake_vm.h"
#include "vmio/bus.h"

#define WIN_A 0xe0000000ULL
#define WIN_B 0xe0010000ULL

/* Records the windows it was accessed through; can stop, fail, or block. */
struct probe {
    struct vmio_device dev;
    uint64_t bases[8];
    unsigned n;
    int ret;               /* write: 0, or what to return (VMIO_DEVICE_STOP uses stop_reason) */
    int stop_reason;
    sem_t entered, release; /* block: write waits for release */
    bool block;
    atomic_int inside;
    int destroyed;
};

static int probe_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *v)
{
    struct probe *p = (struct probe *)dev;
    if (p->n < 8)
        p->bases[p->n++] = io->base;
    *v = io->offset;
    return 0;
}

static int probe_write(struct vmio_device *dev, struct vmio_io *io, uint64_t v)
{
    struct probe *p = (struct probe *)dev;
    if (p->block) {
        atomic_store(&p->inside, 1);
        sem_post(&p->entered);
        sem_wait(&p->release);
        atomic_store(&p->inside, 0);
    }
    if (p->ret == VMIO_DEVICE_STOP)
        return vmio_io_stop(io, p->stop_reason, v);
    return p->ret;
}

static void probe_destroy(struct vmio_device *dev)
{
    ((struct probe *)dev)->destroyed++; /* the struct is the test's: counted, not freed */
}

static const struct vmio_device_ops probe_ops = {
    .read = probe_read, .write = probe_write, .destroy = probe_destroy};

static void probe_init(struct probe *p)
{
    memset(p, 0, sizeof(*p));
    p->dev = (struct vmio_device){.name = "probe", .ops = &probe_ops};
    sem_init(&p->entered, 0, 0);
    sem_init(&p->release, 0, 0);
}

static void test_ownership_and_windows(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct probe p;
    probe_init(&p);
    struct vmio_error err = {0};
    assert_false(vmio_vm_owns_device(m.vm, &p.dev));
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A, 0x100, &err), 0);
    assert_true(vmio_vm_owns_device(m.vm, &p.dev));
    assert_int_equal(vmio_vm_attach_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_B, 0x100, &err), 0);
    /* A failed attach of a device the VM holds must not destroy it. */
    assert_int_equal(
        vmio_vm_attach_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A + 0x80, 0x100, &err), -EEXIST);
    assert_int_equal(p.destroyed, 0);
    /* Each access says which window it came through. */
    fake_vm_vcpu(&m, 0);
    int a = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, WIN_A + 0x10, 0);
    int b = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, WIN_B + 0x20, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.bases[0], WIN_A);
    assert_int_equal(p.bases[1], WIN_B);
    uint64_t v = 0;
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)a, &v), 0);
    assert_int_equal(v, 0x10);
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)b, &v), 0);
    assert_int_equal(v, 0x20);
    fake_vm_fini(&m);
    assert_int_equal(p.destroyed, 1); /* once, for two windows */
}

static void test_stop_with_a_reason(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct probe p;
    probe_init(&p);
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_PIO, &p.dev, 0x6000, 8, &err), 0);
    fake_vm_vcpu(&m, 0);
    p.ret = VMIO_DEVICE_STOP;
    p.stop_reason = VMIO_EXIT_RESET;
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x6001, 7);
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_RESET);
    assert_int_equal(e.code, 7);
    assert_string_equal(e.device, "probe");
    /* A positive return other than VMIO_DEVICE_STOP, or a stop with no reason: device error. */
    p.ret = 5;
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x6001, 8);
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEVICE_ERROR);
    assert_int_equal((int64_t)e.code, -EPROTO);
    p.ret = VMIO_DEVICE_STOP;
    p.stop_reason = -1;
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x6001, 9);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_DEVICE_ERROR);
    /* The debug-exit device uses the same path. */
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_DEBUG_EXIT_PORT, 0x21);
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 0x21);
    fake_vm_fini(&m);
}

struct remover {
    struct fake_vm *m;
    struct probe *p;
    atomic_int done;
    int rc;
};

static void *remove_main(void *arg)
{
    struct remover *r = arg;
    struct vmio_error err = {0};
    r->rc = vmio_vm_remove_device(r->m->vm, VMIO_SPACE_MMIO, &r->p->dev, WIN_A, &err);
    atomic_store(&r->done, 1);
    return NULL;
}

static void *run_main(void *arg)
{
    struct fake_vm *m = arg;
    struct vmio_exit e;
    vmio_vcpu_run(m->vcpu[0], &e);
    return NULL;
}

/* Removal waits for the vCPU inside the device; then nothing reaches it through that window. */
static void test_remove_waits_for_callbacks(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct probe p;
    probe_init(&p);
    p.block = true;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A, 0x100, &err), 0);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, WIN_A, 1); /* blocks */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0); /* then sleeps "in the guest" */
    int after = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, WIN_A, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    pthread_t vt, rt;
    assert_int_equal(pthread_create(&vt, NULL, run_main, &m), 0);
    sem_wait(&p.entered);
    struct remover r = {.m = &m, .p = &p};
    assert_int_equal(pthread_create(&rt, NULL, remove_main, &r), 0);
    for (int i = 0; i < 200; i++) { /* give a wrong implementation time to return early */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&r.done), 0); /* still inside the device: it must wait */
    p.block = false;
    sem_post(&p.release);
    pthread_join(rt, NULL); /* returns once the vCPU re-entered the guest (a nudge if needed) */
    assert_int_equal(r.rc, 0);
    assert_int_equal(atomic_load(&p.inside), 0);
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 0), 0);
    vmio_vm_stop(m.vm);
    pthread_join(vt, NULL);
    /* The read after the removal finds no device (all-ones): the probe never sees it. */
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    uint64_t v = 0;
    vmio_vcpu_destroy(m.vcpu[0]);
    m.vcpu[0] = NULL;
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)after, &v), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(p.n, 0);
    struct vmio_error e2 = {0};
    assert_int_equal(vmio_vm_remove_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A, &e2), -ENOENT);
    fake_vm_fini(&m);
    assert_int_equal(p.destroyed, 1); /* the VM still owned it */
}

/*
 * A vCPU asleep in the guest since before the removal quiesced too early:
 * removal nudges it out of the guest (it re-enters at once; its run goes on).
 */
static void test_remove_nudges_a_sleeping_vcpu(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct probe p;
    probe_init(&p);
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A, 0x100, NULL), 0);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0); /* asleep when the removal starts */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0); /* and again after the nudge */
    pthread_t vt;
    assert_int_equal(pthread_create(&vt, NULL, run_main, &m), 0);
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 0), 0);
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_remove_device(m.vm, VMIO_SPACE_MMIO, &p.dev, WIN_A, &err), 0);
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 0), 0); /* back in the guest, still running */
    assert_int_equal(vmio_fake_cpu_info(m.fake, 0, &ci), 0);
    assert_int_equal(ci.replayed, 2);
    vmio_vm_stop(m.vm);
    pthread_join(vt, NULL);
    fake_vm_fini(&m);
}

/* From a vCPU's own device callback, removal would wait for itself: refused. */
struct self_remover {
    struct vmio_device dev;
    struct vmio_vm *vm;
    int rc;
};

static int self_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *v)
{
    (void)dev, (void)io;
    *v = 0;
    return 0;
}

static int self_write(struct vmio_device *dev, struct vmio_io *io, uint64_t v)
{
    (void)v;
    struct self_remover *s = (struct self_remover *)dev;
    s->rc = vmio_vm_remove_device(s->vm, VMIO_SPACE_PIO, dev, io->base, NULL);
    return 0;
}

static const struct vmio_device_ops self_ops = {.read = self_read, .write = self_write};

static void test_remove_from_a_callback(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct self_remover s = {.dev = {.name = "self", .ops = &self_ops}, .vm = m.vm};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_PIO, &s.dev, 0x6100, 1, NULL), 0);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x6100, 1);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(s.rc, -EDEADLK);
    fake_vm_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ownership_and_windows),
        cmocka_unit_test(test_stop_with_a_reason),
        cmocka_unit_test(test_remove_waits_for_callbacks),
        cmocka_unit_test(test_remove_nudges_a_sleeping_vcpu),
        cmocka_unit_test(test_remove_from_a_callback),
    };
    return cmocka_run_group_tests_name("device_contract", tests, NULL, NULL);
}
