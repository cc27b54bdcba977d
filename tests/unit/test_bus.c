/*
 * Bus unit tests (no KVM): registration, overlap errors naming both devices,
 * lookup at range edges, accesses that straddle two devices or run off the
 * end, unregistration, PIO limits, and snapshot reclamation with readers;
 * the Eytzinger search against a linear scan for every bus size up to 300
 * and addresses around every range edge; a reader's remembered range never
 * outliving a registration change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/bus.h"

static int dummy_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    (void)dev;
    *value = offset;
    return 0;
}

static int dummy_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    (void)dev;
    (void)value;
    return 0;
}

static const struct vmio_device_ops dummy_ops = {.read = dummy_read, .write = dummy_write};

static void test_register_and_lookup_edges(void **state)
{
    (void)state;
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    struct vmio_device a = {.name = "a", .ops = &dummy_ops};
    struct vmio_device b = {.name = "b", .ops = &dummy_ops};
    assert_int_equal(vmio_bus_register(bus, &a, 0x1000, 0x100, NULL), 0);
    assert_int_equal(vmio_bus_register(bus, &b, 0x1100, 0x100, NULL), 0); /* touching is fine */
    assert_int_equal(vmio_bus_count(bus), 2);

    assert_null(vmio_bus_lookup(bus, 0xfff, 1));
    assert_ptr_equal(vmio_bus_lookup(bus, 0x1000, 1)->dev, &a);
    assert_ptr_equal(vmio_bus_lookup(bus, 0x10f8, 8)->dev, &a); /* last 8 bytes of a */
    assert_null(vmio_bus_lookup(bus, 0x10f9, 8));               /* straddles a and b */
    assert_null(vmio_bus_lookup(bus, 0x10ff, 2));               /* straddles a and b */
    assert_ptr_equal(vmio_bus_lookup(bus, 0x10ff, 1)->dev, &a);
    assert_ptr_equal(vmio_bus_lookup(bus, 0x1100, 4)->dev, &b);
    assert_ptr_equal(vmio_bus_lookup(bus, 0x11ff, 1)->dev, &b);
    assert_null(vmio_bus_lookup(bus, 0x11fe, 4)); /* runs off the end of b */
    assert_null(vmio_bus_lookup(bus, 0x1200, 1));
    assert_null(vmio_bus_lookup(bus, UINT64_MAX, 8));
    assert_null(vmio_bus_lookup(bus, 0x1000, 0));
    vmio_bus_free(bus);
}

static void test_overlap_names_both(void **state)
{
    (void)state;
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    struct vmio_device uart = {.name = "uart", .ops = &dummy_ops};
    struct vmio_device rtc = {.name = "rtc", .ops = &dummy_ops};
    struct vmio_error err = {0};
    assert_int_equal(vmio_bus_register(bus, &uart, 0x2000, 0x10, NULL), 0);
    /* overlapping from below, from above, inside, and enclosing */
    const uint64_t cases[][2] = {{0x1ff0, 0x11}, {0x200f, 0x10}, {0x2004, 4}, {0x1000, 0x2000}};
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(vmio_bus_register(bus, &rtc, cases[i][0], cases[i][1], &err), -EEXIST);
        assert_non_null(strstr(err.msg, "rtc"));
        assert_non_null(strstr(err.msg, "uart"));
        assert_non_null(strstr(err.msg, "0x2000-0x200f"));
    }
    assert_int_equal(vmio_bus_count(bus), 1);
    vmio_bus_free(bus);
}

static void test_invalid_ranges(void **state)
{
    (void)state;
    struct vmio_bus *mmio = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    struct vmio_bus *pio = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    struct vmio_device d = {.name = "d", .ops = &dummy_ops};
    struct vmio_device noops = {.name = "noops", .ops = NULL};
    struct vmio_error err = {0};
    assert_int_equal(vmio_bus_register(mmio, &d, 0x1000, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "empty range"));
    assert_int_equal(vmio_bus_register(mmio, &d, UINT64_MAX - 3, 8, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "wraps"));
    assert_int_equal(vmio_bus_register(mmio, &d, UINT64_MAX - 7, 8, NULL), 0); /* ends at the top */
    assert_ptr_equal(vmio_bus_lookup(mmio, UINT64_MAX - 7, 8)->dev, &d);
    assert_int_equal(vmio_bus_register(pio, &d, 0xfff8, 9, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "0xffff"));
    assert_int_equal(vmio_bus_register(pio, &d, 0xfff8, 8, NULL), 0);
    assert_int_equal(vmio_bus_register(pio, &noops, 0x10, 1, &err), -EINVAL);
    vmio_bus_free(mmio);
    vmio_bus_free(pio);
}

static void test_unregister(void **state)
{
    (void)state;
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    struct vmio_device a = {.name = "a", .ops = &dummy_ops};
    struct vmio_device b = {.name = "b", .ops = &dummy_ops};
    struct vmio_error err = {0};
    assert_int_equal(vmio_bus_register(bus, &a, 0x10, 8, NULL), 0);
    assert_int_equal(vmio_bus_register(bus, &a, 0x40, 8, NULL), 0);
    assert_int_equal(vmio_bus_unregister(bus, &b, 0x10, &err), -ENOENT);
    assert_int_equal(vmio_bus_unregister(bus, &a, 0x11, &err), -ENOENT);
    assert_int_equal(vmio_bus_unregister(bus, &a, 0x10, NULL), 0);
    assert_null(vmio_bus_lookup(bus, 0x10, 1));
    assert_ptr_equal(vmio_bus_lookup(bus, 0x40, 1)->dev, &a);
    assert_int_equal(vmio_bus_register(bus, &b, 0x10, 8, NULL), 0); /* space is free again */
    assert_int_equal(vmio_bus_count(bus), 2);
    assert_int_equal(vmio_bus_range_at(bus, 0)->base, 0x10);
    assert_int_equal(vmio_bus_range_at(bus, 1)->base, 0x40);
    assert_null(vmio_bus_range_at(bus, 2));
    vmio_bus_free(bus);
}

/* Many devices registered in a scrambled order: every lookup finds its own. */
static void test_many_sorted(void **state)
{
    (void)state;
    enum { N = 1000 };
    static struct vmio_device devs[N];
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    for (unsigned i = 0; i < N; i++) {
        unsigned k = (i * 7919u) % N; /* 7919 is prime: a permutation of 0..N-1 */
        devs[k] = (struct vmio_device){.name = "d", .ops = &dummy_ops};
        assert_int_equal(
            vmio_bus_register(bus, &devs[k], 0x100000 + (uint64_t)k * 0x1000, 0x800, NULL), 0);
    }
    for (unsigned k = 0; k < N; k++) {
        uint64_t base = 0x100000 + (uint64_t)k * 0x1000;
        assert_ptr_equal(vmio_bus_lookup(bus, base, 4)->dev, &devs[k]);
        assert_ptr_equal(vmio_bus_lookup(bus, base + 0x7f8, 8)->dev, &devs[k]);
        assert_null(vmio_bus_lookup(bus, base + 0x800, 1)); /* the gap */
    }
    vmio_bus_free(bus);
}

/* A range pointer stays valid until its reader quiesces, across re-registration. */
/* The range holding [addr, addr + width) by a plain scan of the listing. */
static const struct vmio_bus_range *scan(const struct vmio_bus *bus, uint64_t addr, uint64_t w)
{
    for (unsigned i = 0; i < vmio_bus_count(bus); i++) {
        const struct vmio_bus_range *r = vmio_bus_range_at(bus, i);
        if (addr >= r->base && addr - r->base < r->len && w <= r->len - (addr - r->base))
            return r;
    }
    return NULL;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every bus size 0..300, ranges of random sizes and gaps: lookup == scan at every edge. */
static void test_search_matches_scan(void **state)
{
    (void)state;
    static struct vmio_device devs[300];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (unsigned n = 0; n <= 300; n += n < 20 ? 1 : 7) {
        struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
        uint64_t base = xorshift(&seed) % 64;
        uint64_t edges[1024];
        unsigned nedges = 0;
        for (unsigned i = 0; i < n; i++) {
            devs[i] = (struct vmio_device){.name = "d", .ops = &dummy_ops};
            uint64_t len = 1 + xorshift(&seed) % 32;
            assert_int_equal(vmio_bus_register(bus, &devs[i], base, len, NULL), 0);
            if (nedges + 2 <= sizeof(edges) / sizeof(edges[0])) {
                edges[nedges++] = base;
                edges[nedges++] = base + len;
            }
            base += len + xorshift(&seed) % 3; /* gaps of 0, 1 or 2 */
        }
        edges[nedges++] = UINT64_MAX - 1; /* far beyond everything */
        for (unsigned e = 0; e < nedges; e++)
            for (uint64_t d = 0; d < 3; d++)
                for (uint64_t w = 1; w <= 8; w *= 2) {
                    uint64_t a = edges[e] - 1 + d;
                    assert_ptr_equal(vmio_bus_lookup(bus, a, w), scan(bus, a, w));
                }
        vmio_bus_free(bus);
    }
}

/* A reader's remembered range is used only while nothing was published. */
static void test_reader_lookup(void **state)
{
    (void)state;
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    struct vmio_device a = {.name = "a", .ops = &dummy_ops}, b = {.name = "b", .ops = &dummy_ops};
    struct vmio_bus_reader *rd = vmio_bus_reader_add(bus);
    assert_non_null(rd);
    assert_null(vmio_bus_reader_lookup(rd, 0x100, 1)); /* empty bus, nothing remembered */
    assert_int_equal(vmio_bus_register(bus, &a, 0x100, 8, NULL), 0);
    vmio_bus_reader_quiesce(rd);
    const struct vmio_bus_range *r = vmio_bus_reader_lookup(rd, 0x104, 4);
    assert_non_null(r);
    assert_ptr_equal(r->dev, &a);
    assert_ptr_equal(vmio_bus_reader_lookup(rd, 0x100, 2), r); /* remembered, same range */
    assert_null(vmio_bus_reader_lookup(rd, 0x106, 4));         /* runs off its end */
    assert_null(vmio_bus_reader_lookup(rd, 0x0ff, 1));
    /* Replace a with b at the same ports: after the next quiesce the reader sees b. */
    assert_int_equal(vmio_bus_unregister(bus, &a, 0x100, NULL), 0);
    assert_int_equal(vmio_bus_register(bus, &b, 0x100, 8, NULL), 0);
    vmio_bus_reader_quiesce(rd);
    r = vmio_bus_reader_lookup(rd, 0x100, 1);
    assert_non_null(r);
    assert_ptr_equal(r->dev, &b);
    /* Unregistered: the remembered range must not answer any more. */
    assert_int_equal(vmio_bus_unregister(bus, &b, 0x100, NULL), 0);
    vmio_bus_reader_quiesce(rd);
    assert_null(vmio_bus_reader_lookup(rd, 0x100, 1));
    vmio_bus_reader_remove(bus, rd);
    vmio_bus_free(bus);
}

static void test_reader_keeps_snapshot(void **state)
{
    (void)state;
    struct vmio_bus *bus = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    struct vmio_device a = {.name = "a", .ops = &dummy_ops};
    struct vmio_device b = {.name = "b", .ops = &dummy_ops};
    struct vmio_bus_reader *r = vmio_bus_reader_add(bus);
    assert_non_null(r);
    assert_int_equal(vmio_bus_register(bus, &a, 0x1000, 0x10, NULL), 0);
    vmio_bus_reader_quiesce(r);
    const struct vmio_bus_range *held = vmio_bus_lookup(bus, 0x1000, 4);
    assert_non_null(held);
    for (unsigned i = 0; i < 50; i++) /* many republishes while the reader holds @held */
        assert_int_equal(vmio_bus_register(bus, &b, 0x10000 + i * 0x10, 0x10, NULL), 0);
    /* ASan would flag this read if the snapshot had been freed under the reader. */
    assert_ptr_equal(held->dev, &a);
    assert_int_equal(held->base, 0x1000);
    vmio_bus_reader_quiesce(r);
    assert_int_equal(vmio_bus_register(bus, &b, 0x20000, 0x10, NULL), 0);
    vmio_bus_reader_remove(bus, r);
    vmio_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_lookup_edges),
        cmocka_unit_test(test_overlap_names_both),
        cmocka_unit_test(test_invalid_ranges),
        cmocka_unit_test(test_unregister),
        cmocka_unit_test(test_many_sorted),
        cmocka_unit_test(test_reader_keeps_snapshot),
        cmocka_unit_test(test_search_matches_scan),
        cmocka_unit_test(test_reader_lookup),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
