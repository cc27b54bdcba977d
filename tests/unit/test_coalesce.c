/*
 * Coalesced writes (vmio_vm_coalesce()) on the fake backend, which buffers
 * writes to a zone in a ring as KVM does: zone rules and errors, buffered
 * writes reaching the device before the next exit in the guest's order (the
 * testdev write-buffer hash), a full ring, several vCPUs sharing the ring,
 * statistics (accesses, not exits), a device stop and an unclaimed write
 * found while draining, removal of a zone, the trace.
 */
#include <pthread.h>

#include "fake_vm.h"
#include "vmio/bus.h"

#define WBUF(off) (VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_WBUF + (off))

/* The standard machine, with the MMIO testdev's write buffer coalesced. */
static void init(struct fake_vm *m, enum vmio_unclaimed_policy policy, bool irqchip)
{
    fake_vm_init(m, policy, irqchip);
    struct vmio_error err = {0};
    if (vmio_coalesce_standard_devices(m->vm, &err) != 0)
        fail_msg("vmio_coalesce_standard_devices: %s", err.msg);
}

/* FNV-1a of one write, as testdev's WBUF_HASH folds it (vmio/testdev_regs.h). */
static uint64_t fold(uint64_t h, uint64_t off, unsigned width, uint64_t v)
{
    uint64_t parts[3][2] = {{off, 2}, {width, 1}, {v, 8}};
    for (unsigned p = 0; p < 3; p++)
        for (unsigned b = 0; b < parts[p][1]; b++)
            h = (h ^ ((parts[p][0] >> (8 * b)) & 0xff)) * VMIO_TESTDEV_WBUF_HASH_PRIME;
    return h;
}

/* Queue @n writes to the MMIO write buffer on vCPU @cpu; returns their hash (from @h). */
static uint64_t push_writes(struct fake_vm *m, unsigned cpu, unsigned n, uint64_t seed, uint64_t h)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned width = 1u << ((seed + i) % 4);
        uint64_t off = VMIO_TESTDEV_WBUF + (seed * 131 + i * 37) % 0x700;
        uint64_t v = (seed << 32 | i) & (width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1);
        assert_true(vmio_fake_push_io(m->fake, cpu, VMIO_SPACE_MMIO, VMIO_WRITE, width,
                                      VMIO_TESTDEV_MMIO_BASE + off, v) >= 0);
        h = fold(h, off, width, v);
    }
    return h;
}

static int push_read(struct fake_vm *m, unsigned cpu, uint64_t reg)
{
    return vmio_fake_push_io(m->fake, cpu, VMIO_SPACE_MMIO, VMIO_READ, 8, VMIO_TESTDEV_MMIO_BASE + reg,
                             0);
}

static uint64_t value_of(struct fake_vm *m, unsigned cpu, int step)
{
    uint64_t v = 0;
    assert_int_equal(vmio_fake_read_value(m->fake, cpu, (unsigned)step, &v), 0);
    return v;
}

static void test_zone_rules(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_fake_coalesce_info info;
    vmio_fake_coalesced(m.fake, &info);
    assert_int_equal(info.nzones, 2); /* the MMIO and the port write buffers */
    assert_int_equal(info.zones[0].base, VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_WBUF);
    assert_int_equal(info.zones[0].len, VMIO_TESTDEV_WBUF_END - VMIO_TESTDEV_WBUF);
    assert_int_equal(info.zones[1].space, VMIO_SPACE_PIO);
    struct vmio_error err = {0};
    /* Outside any device, across two, overlapping a zone, bad space or size. */
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, 0xe0000000, 16, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "not inside one device's window"));
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0xff0, 0x20, &err),
                     -ENOENT);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, WBUF(0x10), 8, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "overlaps"));
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_SYSREG, VMIO_TESTDEV_MSR_BASE, 1, &err), -EINVAL);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE, 0, &err), -EINVAL);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_PIO, 0xfff0, 0x20, &err), -EINVAL);
    /* The backend's refusal is passed on, and the zone is not recorded. */
    assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_COALESCE, -EIO), 0);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE, 8, &err), -EIO);
    /* Up to 32 zones: 30 more 8-byte ones in the register file. */
    for (unsigned i = 0; i < 30; i++)
        assert_int_equal(
            vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0x800 + 8 * i, 8, &err), 0);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0xf00, 8, &err),
                     -ENOSPC);
    vmio_fake_coalesced(m.fake, &info);
    assert_int_equal(info.nzones, 32);
    /* Removal: exactly the zone made; an unknown one is -ENOENT. */
    assert_int_equal(vmio_vm_uncoalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0x800, 16, &err),
                     -ENOENT);
    assert_int_equal(vmio_vm_uncoalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0x800, 8, &err),
                     0);
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + 0xf00, 8, &err), 0);
    fake_vm_fini(&m);
}

/* Buffered writes reach testdev before the read that follows them, each once, in order. */
static void test_delivered_in_order_before_next_exit(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    assert_int_equal(vmio_fake_set_ring_size(m.fake, 64), 0);
    fake_vm_vcpu(&m, 0);
    uint64_t h = push_writes(&m, 0, 40, 1, VMIO_TESTDEV_WBUF_HASH_SEED);
    int count = push_read(&m, 0, VMIO_TESTDEV_WBUF_COUNT);
    int hash = push_read(&m, 0, VMIO_TESTDEV_WBUF_HASH);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(value_of(&m, 0, count), 40);
    assert_int_equal(value_of(&m, 0, hash), h);
    struct vmio_fake_coalesce_info info;
    vmio_fake_coalesced(m.fake, &info);
    assert_int_equal(info.buffered, 40);
    assert_int_equal(info.popped, 40);
    assert_int_equal(info.queued, 0);
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_cpu_info(m.fake, 0, &ci), 0);
    assert_int_equal(ci.enters, 3); /* the first ran the 40 writes into the first read; HLT */
    /* Statistics: 40 accesses of their own kind, no exits; the device saw 42 accesses in 2 exits. */
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_COALESCED_WRITE].count, 0);
    assert_int_equal(st->kind[VMIO_STAT_COALESCED_WRITE].elements, 40);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].count, 0);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 2);
    assert_int_equal(st->device[FAKE_VM_TESTDEV_MMIO_ID].count, 2);
    assert_int_equal(st->device[FAKE_VM_TESTDEV_MMIO_ID].elements, 42);
    fake_vm_fini(&m);
}

/* With a 3-entry ring, every fourth write exits: vmio drains the three first, order holds. */
static void test_full_ring_keeps_order(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    assert_int_equal(vmio_fake_set_ring_size(m.fake, 3), 0);
    fake_vm_vcpu(&m, 0);
    uint64_t h = push_writes(&m, 0, 100, 7, VMIO_TESTDEV_WBUF_HASH_SEED);
    int count = push_read(&m, 0, VMIO_TESTDEV_WBUF_COUNT);
    int hash = push_read(&m, 0, VMIO_TESTDEV_WBUF_HASH);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(value_of(&m, 0, count), 100);
    assert_int_equal(value_of(&m, 0, hash), h);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].count, 25); /* writes 4, 8, ..., 100 */
    assert_int_equal(st->kind[VMIO_STAT_COALESCED_WRITE].elements, 75);
    fake_vm_fini(&m);
}

/* A buffered write reaches the device before an exiting write to another register. */
static void test_before_a_later_exiting_write(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    push_writes(&m, 0, 5, 3, VMIO_TESTDEV_WBUF_HASH_SEED);
    /* LOG_PUSH exits; the value it logs is irrelevant, LAST tells what came last. */
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 8,
                      VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_LOG_PUSH, 9);
    int last = push_read(&m, 0, VMIO_TESTDEV_LAST);
    int writes = push_read(&m, 0, VMIO_TESTDEV_WRITES);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    /* LAST (read by the read of LAST, so it shows the access before it): the LOG_PUSH write. */
    assert_int_equal(value_of(&m, 0, last), VMIO_TESTDEV_LOG_PUSH | (8u << 16) | (1u << 24));
    assert_int_equal(value_of(&m, 0, writes), 6);
    fake_vm_fini(&m);
}

/* Two vCPUs write into the one ring: every write arrives once, whoever drains it. */
struct run_args {
    struct fake_vm *m;
    struct vmio_run_result res;
    int rc;
};

static void *run_both(void *arg)
{
    struct run_args *a = arg;
    struct vmio_vcpu *v[2] = {a->m->vcpu[0], a->m->vcpu[1]};
    struct vmio_error err = {0};
    a->rc = vmio_vm_run(a->m->vm, v, 2, NULL, &a->res, &err);
    return NULL;
}

static void test_two_vcpus_share_the_ring(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, true);
    assert_int_equal(vmio_fake_set_ring_size(m.fake, 5), 0);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned cpu = 0; cpu < 2; cpu++) {
            push_writes(&m, cpu, 7, round * 2 + cpu, VMIO_TESTDEV_WBUF_HASH_SEED);
            push_read(&m, cpu, VMIO_TESTDEV_PATTERN);
        }
    }
    /* Both end blocked (as in HLT with an irqchip); the test then stops the VM. */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0);
    struct run_args a = {.m = &m};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_both, &a), 0);
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 0), 0);
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 1), 0);
    vmio_vm_stop(m.vm);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.res.exit.reason, VMIO_EXIT_INTR);
    struct vmio_fake_coalesce_info info;
    vmio_fake_coalesced(m.fake, &info);
    assert_int_equal(info.buffered, info.popped);
    assert_int_equal(info.queued, 0);
    assert_true(info.buffered > 0);
    struct vmio_stats total;
    vmio_vm_stats(m.vm, &total);
    assert_int_equal(total.kind[VMIO_STAT_COALESCED_WRITE].elements, info.buffered);
    assert_int_equal(total.kind[VMIO_STAT_COALESCED_WRITE].elements +
                         total.kind[VMIO_STAT_MMIO_WRITE].count,
                     280);
    assert_int_equal(total.device[FAKE_VM_TESTDEV_MMIO_ID].elements, 280 + 40);
    fake_vm_fini(&m);
}

/* A device that stops the run from a buffered write: that stop is the run's result. */
static void test_stop_found_while_draining(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_coalesce(m.vm, VMIO_SPACE_PIO, VMIO_DEBUG_EXIT_PORT, 1, &err), 0);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_DEBUG_EXIT_PORT, 5);
    int rd = push_read(&m, 0, VMIO_TESTDEV_PATTERN);
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 5);
    assert_string_equal(e.device, "debug-exit");
    assert_null(e.access.buf);
    vmio_vcpu_destroy(m.vcpu[0]); /* captures the abandoned read's completion */
    m.vcpu[0] = NULL;
    assert_int_equal(value_of(&m, 0, rd), ~0ULL);
    fake_vm_fini(&m);
}

/* A buffered write whose device went away: unclaimed; strict logs it and goes on. */
static void test_unclaimed_buffered_write(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_STRICT, false);
    fake_vm_vcpu(&m, 0);
    push_writes(&m, 0, 2, 0, VMIO_TESTDEV_WBUF_HASH_SEED);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    struct vmio_bus *bus = vmio_vm_bus(m.vm, VMIO_SPACE_MMIO);
    const struct vmio_bus_range *r = vmio_bus_lookup(bus, VMIO_TESTDEV_MMIO_BASE, 8);
    assert_non_null(r);
    struct vmio_error err = {0};
    assert_int_equal(vmio_bus_unregister(bus, r->dev, VMIO_TESTDEV_MMIO_BASE, &err), 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_WRITE].elements, 2);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_WRITE].count, 0);
    assert_non_null(strstr(fake_vm_log(&m), "(buffered: dropped, the run goes on)"));
    fake_vm_fini(&m);
}

/* Writes buffered before a zone is removed still arrive; later ones exit one by one. */
static void test_uncoalesce(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    push_writes(&m, 0, 3, 0, VMIO_TESTDEV_WBUF_HASH_SEED);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    push_writes(&m, 0, 2, 0, VMIO_TESTDEV_WBUF_HASH_SEED);
    int count = push_read(&m, 0, VMIO_TESTDEV_WBUF_COUNT);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    /* Buffer 3 without letting vmio drain: the HLT exit drains, so remove first, then run. */
    struct vmio_error err = {0};
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(vmio_vm_uncoalesce(m.vm, VMIO_SPACE_MMIO, WBUF(0),
                                        VMIO_TESTDEV_WBUF_END - VMIO_TESTDEV_WBUF, &err),
                     0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(value_of(&m, 0, count), 5);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_COALESCED_WRITE].elements, 3);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].count, 2);
    fake_vm_fini(&m);
}

/* Each buffered write has a trace line saying so. */
static void test_trace(void **state)
{
    (void)state;
    struct fake_vm m;
    init(&m, VMIO_UNCLAIMED_IGNORE, false);
    char *buf = NULL;
    size_t len = 0;
    FILE *t = open_memstream(&buf, &len);
    vmio_vm_set_trace(m.vm, t);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 2, WBUF(4), 0xbeef);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fflush(t);
    assert_non_null(strstr(buf, "mmio write 0xd0000084 w2 x1 val 0xbeef dev testdev-mmio"));
    assert_non_null(strstr(buf, " buffered"));
    fake_vm_fini(&m);
    fclose(t);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zone_rules),
        cmocka_unit_test(test_delivered_in_order_before_next_exit),
        cmocka_unit_test(test_full_ring_keeps_order),
        cmocka_unit_test(test_before_a_later_exiting_write),
        cmocka_unit_test(test_two_vcpus_share_the_ring),
        cmocka_unit_test(test_stop_found_while_draining),
        cmocka_unit_test(test_unclaimed_buffered_write),
        cmocka_unit_test(test_uncoalesce),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests_name("coalesce", tests, NULL, NULL);
}
