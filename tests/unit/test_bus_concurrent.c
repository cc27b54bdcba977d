/*
 * Bus concurrency test: reader threads (standing in for vCPUs) look up and
 * dereference ranges without locks while a writer registers and unregisters
 * devices as fast as it can. Checks that a reader never sees a torn or freed
 * range (ASan/TSan builds turn a use-after-free or a race into a failure)
 * and that retired snapshots are reclaimed while readers keep quiescing:
 * counted with vmio_bus_retired_count() before the bus is freed (freeing
 * the bus frees whatever is left, so a leak sanitizer alone would not see a
 * reclamation that never happens); and that a reader that never quiesces
 * does hold them back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vmio/bus.h"

#define NREADERS 3
#define NSTABLE 64
#define WRITER_ROUNDS 4000

static int nop_read(struct vmio_device *d, struct vmio_io *io, uint64_t *v)
{
    (void)d, (void)io;
    *v = 0;
    return 0;
}

static int nop_write(struct vmio_device *d, struct vmio_io *io, uint64_t v)
{
    uint64_t o = io->offset;
    unsigned w = io->width;
    (void)d, (void)o, (void)w, (void)v;
    return 0;
}

static const struct vmio_device_ops ops = {.read = nop_read, .write = nop_write};
static struct vmio_device stable[NSTABLE];
static struct vmio_device churn = {.name = "churn", .ops = &ops};
static struct vmio_bus *bus;
static atomic_bool stop;
static atomic_ulong bad;

/* Stable devices own [0x1000*i, 0x1000*i + 0x800); churn comes and goes at 0x800 gaps. */
static void *reader(void *arg)
{
    struct vmio_bus_reader *r = arg;
    uint64_t seed = (uintptr_t)arg;
    while (!atomic_load(&stop)) {
        vmio_bus_reader_quiesce(r);
        for (int k = 0; k < 64; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned i = (unsigned)(seed >> 33) % NSTABLE;
            const struct vmio_bus_range *hit = vmio_bus_lookup(bus, 0x1000ULL * i + 0x10, 4);
            if (!hit || hit->dev != &stable[i] || hit->base != 0x1000ULL * i || hit->len != 0x800)
                atomic_fetch_add(&bad, 1);
            const struct vmio_bus_range *c = vmio_bus_lookup(bus, 0x1000ULL * i + 0x900, 1);
            if (c && (c->dev != &churn || c->len != 0x100))
                atomic_fetch_add(&bad, 1);
        }
    }
    return NULL;
}

static void test_lookups_during_registration(void **state)
{
    (void)state;
    bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    for (unsigned i = 0; i < NSTABLE; i++) {
        stable[i] = (struct vmio_device){.name = "stable", .ops = &ops};
        assert_int_equal(vmio_bus_register(bus, &stable[i], 0x1000ULL * i, 0x800, NULL), 0);
    }
    pthread_t t[NREADERS];
    struct vmio_bus_reader *readers[NREADERS];
    for (unsigned i = 0; i < NREADERS; i++) {
        readers[i] = vmio_bus_reader_add(bus);
        assert_non_null(readers[i]);
        assert_int_equal(pthread_create(&t[i], NULL, reader, readers[i]), 0);
    }
    for (unsigned round = 0; round < WRITER_ROUNDS; round++) {
        uint64_t base = 0x1000ULL * (round % NSTABLE) + 0x900;
        assert_int_equal(vmio_bus_register(bus, &churn, base, 0x100, NULL), 0);
        assert_int_equal(vmio_bus_unregister(bus, &churn, base, NULL), 0);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < NREADERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&bad), 0);
    /* Every reader past a quiescent point: a registration frees all but the one it replaced. */
    for (unsigned i = 0; i < NREADERS; i++)
        vmio_bus_reader_quiesce(readers[i]);
    assert_int_equal(vmio_bus_register(bus, &churn, 0x900, 0x100, NULL), 0);
    assert_int_equal(vmio_bus_retired_count(bus), 1);
    for (unsigned i = 0; i < NREADERS; i++)
        vmio_bus_reader_remove(bus, readers[i]);
    assert_int_equal(vmio_bus_retired_count(bus), 0); /* no reader left: nothing held */
    assert_int_equal(vmio_bus_unregister(bus, &churn, 0x900, NULL), 0);
    assert_int_equal(vmio_bus_retired_count(bus), 0);
    assert_int_equal(vmio_bus_count(bus), NSTABLE);
    vmio_bus_free(bus);
}

/* A reader that never quiesces holds back every snapshot retired since it last did. */
static void test_stalled_reader_holds_snapshots(void **state)
{
    (void)state;
    struct vmio_bus *b = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    struct vmio_bus_reader *fast = vmio_bus_reader_add(b), *stalled = vmio_bus_reader_add(b);
    assert_non_null(fast);
    assert_non_null(stalled);
    for (unsigned i = 0; i < 50; i++) {
        vmio_bus_reader_quiesce(fast);
        assert_int_equal(vmio_bus_register(b, &churn, 0x100, 1, NULL), 0);
        assert_int_equal(vmio_bus_unregister(b, &churn, 0x100, NULL), 0);
    }
    assert_int_equal(vmio_bus_retired_count(b), 100);
    vmio_bus_reader_quiesce(stalled);
    vmio_bus_reader_quiesce(fast);
    assert_int_equal(vmio_bus_register(b, &churn, 0x100, 1, NULL), 0);
    assert_int_equal(vmio_bus_retired_count(b), 1);
    vmio_bus_reader_remove(b, stalled);
    vmio_bus_reader_remove(b, fast);
    assert_int_equal(vmio_bus_retired_count(b), 0);
    vmio_bus_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups_during_registration),
        cmocka_unit_test(test_stalled_reader_holds_snapshots),
    };
    return cmocka_run_group_tests_name("bus-concurrent", tests, NULL, NULL);
}
