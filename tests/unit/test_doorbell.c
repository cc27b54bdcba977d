/*
 * Doorbells (vmio/doorbell.h) on the fake backend, which consumes writes
 * that match an ioeventfd without an exit and signals the eventfd as KVM
 * does: testdev's DOORBELL rung exit-less and by hand (the exit path),
 * RINGS counted on the I/O thread with nothing lost or doubled, the
 * fallback when the backend has no ioeventfd, bad configurations, and
 * teardown order (the device owns its doorbell; ASan watches).
 */
#include <unistd.h>

#include "fake_vm.h"
#include "vmio/bus.h"
#include "vmio/doorbell.h"
#include "vmio/iothread.h"

#define DOORBELL (VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_DOORBELL)

static struct vmio_device *mmio_testdev(struct fake_vm *m)
{
    const struct vmio_bus_range *r =
        vmio_bus_lookup(vmio_vm_bus(m->vm, VMIO_SPACE_MMIO), VMIO_TESTDEV_MMIO_BASE, 8);
    assert_non_null(r);
    return r->dev;
}

static uint64_t rings(struct vmio_device *d)
{
    uint64_t v = 0;
    assert_int_equal(vmio_device_read(d, VMIO_TESTDEV_RINGS, 8, &v), 0);
    return v;
}

/* Wait (bounded by iterations, not time) until testdev @d has counted @n rings. */
static uint64_t wait_rings(struct vmio_device *d, uint64_t n)
{
    uint64_t got = 0;
    for (unsigned i = 0; i < 2000000 && (got = rings(d)) < n; i++)
        usleep(10);
    return got;
}

/* @n doorbell writes then HLT on vCPU 0, run; the run's exits are returned in *@exits. */
static void ring_n(struct fake_vm *m, unsigned n, uint64_t *io_exits)
{
    for (unsigned i = 0; i < n; i++)
        assert_true(vmio_fake_push_io(m->fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, DOORBELL, i) >=
                    0);
    vmio_fake_push_kind(m->fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(m, 0, 0).reason, VMIO_EXIT_HLT);
    *io_exits = fake_vm_stats(m->vcpu[0])->kind[VMIO_STAT_MMIO_WRITE].count;
}

static void run_case(bool use_ioeventfd, bool backend_has_it)
{
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_iothread *io;
    struct vmio_error err = {0};
    assert_int_equal(vmio_iothread_create("t-bell", &io, &err), 0);
    if (!backend_has_it)
        assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_IOEVENTFD, -ENOTSUP), 0);
    if (vmio_doorbell_standard_devices(m.vm, io, use_ioeventfd, &err) != 0)
        fail_msg("vmio_doorbell_standard_devices: %s", err.msg);
    assert_int_equal(vmio_iothread_start(io, &err), 0);
    fake_vm_vcpu(&m, 0);
    uint64_t exits = 0;
    ring_n(&m, 500, &exits);
    bool exitless = use_ioeventfd && backend_has_it;
    assert_int_equal(exits, exitless ? 0 : 500);
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_cpu_info(m.fake, 0, &ci), 0);
    assert_int_equal(ci.eventfd_writes, exitless ? 500 : 0);
    struct vmio_device *d = mmio_testdev(&m);
    assert_int_equal(wait_rings(d, 500), 500);
    usleep(1000);
    assert_int_equal(rings(d), 500); /* none counted twice */
    /* A write to RINGS resets it; rings after that count from 0. */
    assert_int_equal(vmio_device_write(d, VMIO_TESTDEV_RINGS, 8, 0), 0);
    ring_n(&m, 7, &exits);
    assert_int_equal(wait_rings(d, 7), 7);
    vmio_iothread_stop(io);
    fake_vm_fini(&m); /* the testdevs destroy their doorbells: deassigned, removed, closed */
    vmio_iothread_destroy(io);
}

static void test_exitless(void **state)
{
    (void)state;
    run_case(true, true);
}

static void test_by_hand(void **state)
{
    (void)state;
    run_case(false, true);
}

static void test_backend_without_ioeventfd(void **state)
{
    (void)state;
    run_case(true, false);
}

static void noop(void *ctx, uint64_t n)
{
    (void)ctx;
    (void)n;
}

static void test_bad_configs(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_iothread *io;
    struct vmio_error err = {0};
    assert_int_equal(vmio_iothread_create("t-bell", &io, &err), 0);
    struct vmio_doorbell *db = NULL;
    struct vmio_doorbell_config c = {
        .space = VMIO_SPACE_MMIO, .addr = 0x1000, .len = 3, .fn = noop};
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), -EINVAL);
    c.len = 4;
    c.fn = NULL;
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), -EINVAL);
    c.fn = noop;
    c.space = VMIO_SPACE_PIO;
    c.len = 8; /* ports are at most 4 bytes wide */
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), -EINVAL);
    c.space = VMIO_SPACE_SYSREG;
    c.len = 4;
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), -EINVAL);
    /* A backend failure other than "not supported" is an error, nothing is left behind. */
    c.space = VMIO_SPACE_MMIO;
    c.use_ioeventfd = true;
    assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_IOEVENTFD, -EEXIST), 0);
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), -EEXIST);
    assert_int_equal(vmio_fake_ioeventfd_count(m.fake), 0);
    /* A value match reaches the backend; a second testdev doorbell is refused. */
    c.match = true;
    c.value = 5;
    assert_int_equal(vmio_doorbell_create(m.vm, io, &c, &db, &err), 0);
    assert_true(vmio_doorbell_exitless(db));
    struct vmio_fake_ioeventfd f;
    assert_int_equal(vmio_fake_ioeventfd_at(m.fake, 0, &f), 0);
    assert_true(f.datamatch);
    assert_int_equal(f.data, 5);
    assert_int_equal(vmio_testdev_attach_doorbell(mmio_testdev(&m), db), 0);
    assert_int_equal(vmio_testdev_attach_doorbell(mmio_testdev(&m), db), -EBUSY);
    fake_vm_fini(&m);
    vmio_iothread_destroy(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exitless),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_backend_without_ioeventfd),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests_name("doorbell", tests, NULL, NULL);
}
