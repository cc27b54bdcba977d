/*
 * Memory-map builder unit tests (no KVM): 4 KiB outward alignment of
 * pass-through mappings (unaligned base keeps its tail), merging of touching,
 * overlapping and nested mappings, carving device windows at either end and
 * in the middle, every conflict message (checked exactly), and the listing.
 * Hostile inputs: the work of a build is bounded by counting its steps
 * (vmio_memmap_work(), never by timing it) on layouts that made the old
 * builder quadratic or worse; names and joined names are capped; every end
 * address near 2^64 (merges, carves, sources) is checked for wraparound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>

#include "vmio/memmap.h"

#define DEVMEM "/dev/mem"

static struct vmio_memmap *new_map(void)
{
    struct vmio_memmap *mm = NULL;
    assert_int_equal(vmio_memmap_new(&mm), 0);
    return mm;
}

static void pt(struct vmio_memmap *mm, uint64_t gpa, uint64_t size, const char *backing,
               uint64_t src, const char *owner)
{
    struct vmio_error err = {0};
    int rc = vmio_memmap_add_passthrough(mm, gpa, size, backing, src, false, owner, &err);
    if (rc)
        fail_msg("add_passthrough %s: %s", owner, err.msg);
}

static void dev(struct vmio_memmap *mm, uint64_t gpa, uint64_t size, const char *owner)
{
    struct vmio_error err = {0};
    if (vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, gpa, size, owner, &err))
        fail_msg("add_device %s: %s", owner, err.msg);
}

static void build_ok(struct vmio_memmap *mm)
{
    struct vmio_error err = {0};
    int rc = vmio_memmap_build(mm, &err);
    if (rc)
        fail_msg("build: %s", err.msg);
}

static void build_fails(struct vmio_memmap *mm, int code, const char *msg)
{
    struct vmio_error err = {0};
    assert_int_equal(vmio_memmap_build(mm, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
}

static void expect(struct vmio_memmap *mm, size_t i, enum vmio_mm_kind kind, uint64_t gpa,
                   uint64_t size, const char *owner)
{
    const struct vmio_mm_entry *e = vmio_memmap_at(mm, i);
    assert_non_null(e);
    assert_int_equal(e->kind, kind);
    assert_int_equal(e->gpa, gpa);
    assert_int_equal(e->size, size);
    assert_string_equal(e->owner, owner);
}

static void test_unaligned_base_keeps_tail(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    /* 0x10000800 + 0x1000 ends at 0x100017ff: two pages, tail kept. */
    pt(mm, 0x10000800, 0x1000, DEVMEM, 0xfe000800, "uart");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x10000000, 0x2000, "uart");
    assert_int_equal(vmio_memmap_at(mm, 0)->src, 0xfe000000);
    assert_string_equal(vmio_memmap_at(mm, 0)->backing, DEVMEM);
    vmio_memmap_free(mm);
}

static void test_small_unaligned_inside_one_page(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x9000010, 0x8, DEVMEM, 0x9000010, "tiny");
    build_ok(mm);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x9000000, 0x1000, "tiny");
    vmio_memmap_free(mm);
}

static void test_page_offset_mismatch(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x10000800, 0x100, DEVMEM, 0xfe000400, "bad");
    build_fails(mm, -EINVAL,
                "pass-through 'bad': guest address 0x10000800 and source address 0xfe000400 in "
                "/dev/mem differ in their offset within a 4 KiB page (0x800 vs 0x400), so no "
                "page can map one onto the other");
    vmio_memmap_free(mm);
}

static void test_touching_merge(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x2000, 0x1000, DEVMEM, 0x2000, "b");
    pt(mm, 0x1000, 0x1000, DEVMEM, 0x1000, "a");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x1000, 0x2000, "a+b");
    vmio_memmap_free(mm);
}

static void test_touching_after_alignment_merge(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    /* 0x1000-0x17ff and 0x2800-0x28ff only touch once aligned outward. */
    pt(mm, 0x1000, 0x800, DEVMEM, 0x1000, "a");
    pt(mm, 0x2800, 0x100, DEVMEM, 0x2800, "b");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x1000, 0x2000, "a+b");
    vmio_memmap_free(mm);
}

static void test_touching_different_backing_stays_separate(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x1000, 0x1000, DEVMEM, 0x1000, "a");
    pt(mm, 0x2000, 0x1000, "shm:x", 0, "b");
    pt(mm, 0x3000, 0x1000, DEVMEM, 0x8000, "c"); /* same backing, different delta */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 3);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x1000, 0x1000, "a");
    expect(mm, 1, VMIO_MM_PASSTHROUGH, 0x2000, 0x1000, "b");
    expect(mm, 2, VMIO_MM_PASSTHROUGH, 0x3000, 0x1000, "c");
    vmio_memmap_free(mm);
}

static void test_overlap_merge_and_nested(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x10000, 0x8000, "file:/tmp/x", 0x0, "outer");
    pt(mm, 0x12000, 0x1000, "file:/tmp/x", 0x2000, "inner");   /* nested */
    pt(mm, 0x17800, 0x1000, "file:/tmp/x", 0x7800, "overlap"); /* runs past the end */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x10000, 0x9000, "outer+inner+overlap");
    assert_int_equal(vmio_memmap_at(mm, 0)->src, 0);
    vmio_memmap_free(mm);
}

static void test_chain_merge_same_name_once(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x1000, 0x1000, DEVMEM, 0x1000, "x");
    pt(mm, 0x1800, 0x1000, DEVMEM, 0x1800, "x");
    pt(mm, 0x3000, 0x1000, DEVMEM, 0x3000, "y");
    build_ok(mm);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x1000, 0x3000, "x+y");
    vmio_memmap_free(mm);
}

static void test_overlap_different_backing_fails(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x1000, 0x2000, DEVMEM, 0xfe001000, "a");
    pt(mm, 0x2000, 0x1000, "shm:vm", 0x0, "b");
    build_fails(mm, -EBUSY,
                "pass-through 'a' (0x1000-0x2fff from /dev/mem at 0xfe001000) overlaps "
                "pass-through 'b' (0x2000-0x2fff from shm:vm at 0x0) with a different backing: "
                "they cannot be merged");
    /* Failure leaves the inputs in place. */
    assert_int_equal(vmio_memmap_count(mm), 2);
    vmio_memmap_free(mm);
}

static void test_nested_different_delta_fails(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x10000, 0x4000, DEVMEM, 0x10000, "outer");
    pt(mm, 0x11000, 0x1000, DEVMEM, 0x51000, "inner");
    build_fails(mm, -EBUSY,
                "pass-through 'outer' (0x10000-0x13fff from /dev/mem at 0x10000) overlaps "
                "pass-through 'inner' (0x11000-0x11fff from /dev/mem at 0x51000) with a "
                "different guest-to-source offset: they cannot be merged");
    vmio_memmap_free(mm);
}

static void test_carve_middle(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0xe0000000, 0x4000, "shm:s", 0, "shared");
    dev(mm, 0xe0001800, 0x10, "uart-mmio"); /* hole 0xe0001000-0xe0001fff */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 3);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0xe0000000, 0x1000, "shared");
    expect(mm, 1, VMIO_MM_DEVICE, 0xe0001800, 0x10, "uart-mmio");
    expect(mm, 2, VMIO_MM_PASSTHROUGH, 0xe0002000, 0x2000, "shared");
    assert_int_equal(vmio_memmap_at(mm, 0)->src, 0);
    assert_int_equal(vmio_memmap_at(mm, 2)->src, 0x2000);
    assert_int_equal(vmio_memmap_at(mm, 1)->hole_gpa, 0xe0001000);
    assert_int_equal(vmio_memmap_at(mm, 1)->hole_size, 0x1000);
    assert_string_equal(vmio_memmap_at(mm, 1)->carved_from, "shared");
    vmio_memmap_free(mm);
}

static void test_carve_start_and_end(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x100000, 0x10000, DEVMEM, 0x100000, "pt");
    dev(mm, 0x100000, 0x1000, "head"); /* first page */
    dev(mm, 0x10f000, 0x1000, "tail"); /* last page */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 3);
    expect(mm, 0, VMIO_MM_DEVICE, 0x100000, 0x1000, "head");
    expect(mm, 1, VMIO_MM_PASSTHROUGH, 0x101000, 0xe000, "pt");
    expect(mm, 2, VMIO_MM_DEVICE, 0x10f000, 0x1000, "tail");
    assert_int_equal(vmio_memmap_at(mm, 1)->src, 0x101000);
    vmio_memmap_free(mm);
}

static void test_carve_unaligned_window_at_end(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x200000, 0x3000, DEVMEM, 0x200000, "pt");
    dev(mm, 0x202ff0, 0x20, "straddle"); /* hangs over the end of the mapping */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 2);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x200000, 0x2000, "pt");
    expect(mm, 1, VMIO_MM_DEVICE, 0x202ff0, 0x20, "straddle");
    assert_int_equal(vmio_memmap_at(mm, 1)->hole_gpa, 0x202000);
    assert_int_equal(vmio_memmap_at(mm, 1)->hole_size, 0x2000);
    vmio_memmap_free(mm);
}

static void test_carve_whole_mapping(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x300000, 0x1000, DEVMEM, 0x300000, "pt");
    dev(mm, 0x300000, 0x1000, "all");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_DEVICE, 0x300000, 0x1000, "all");
    vmio_memmap_free(mm);
}

static void test_carve_two_windows_in_one_page(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    pt(mm, 0x400000, 0x3000, DEVMEM, 0x400000, "pt");
    dev(mm, 0x401000, 0x8, "d1");
    dev(mm, 0x401100, 0x8, "d2");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 4);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x400000, 0x1000, "pt");
    expect(mm, 1, VMIO_MM_DEVICE, 0x401000, 0x8, "d1");
    expect(mm, 2, VMIO_MM_DEVICE, 0x401100, 0x8, "d2");
    expect(mm, 3, VMIO_MM_PASSTHROUGH, 0x402000, 0x1000, "pt");
    /* Both windows say which page was cut for them, and out of what. */
    for (size_t i = 1; i <= 2; i++) {
        assert_int_equal(vmio_memmap_at(mm, i)->hole_gpa, 0x401000);
        assert_int_equal(vmio_memmap_at(mm, i)->hole_size, 0x1000);
        assert_string_equal(vmio_memmap_at(mm, i)->carved_from, "pt");
    }
    vmio_memmap_free(mm);
}

static void test_conflicts(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_memmap *mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 0x10000, false, "ram0", &err), 0);
    pt(mm, 0xf000, 0x2000, DEVMEM, 0xf000, "pt");
    build_fails(mm, -EBUSY,
                "RAM 'ram0' (0x0-0xffff) overlaps pass-through 'pt' (0xf000-0x10fff from "
                "/dev/mem at 0xf000)");
    vmio_memmap_free(mm);

    mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 0x10000, false, "ram0", &err), 0);
    dev(mm, 0xff00, 0x100, "dev");
    build_fails(mm, -EBUSY,
                "device 'dev' (0xff00-0xffff) overlaps RAM 'ram0' (0x0-0xffff) (a device window "
                "inside RAM would never exit)");
    vmio_memmap_free(mm);

    mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 0x10000, false, "ram0", &err), 0);
    assert_int_equal(vmio_memmap_add_ram(mm, 0x8000, 0x10000, false, "ram1", &err), 0);
    build_fails(mm, -EBUSY, "RAM 'ram0' (0x0-0xffff) overlaps RAM 'ram1' (0x8000-0x17fff)");
    vmio_memmap_free(mm);

    mm = new_map();
    dev(mm, 0xd0000000, 0x1000, "a");
    dev(mm, 0xd0000ff8, 0x8, "b");
    build_fails(mm, -EBUSY,
                "device 'a' (0xd0000000-0xd0000fff) overlaps device 'b' (0xd0000ff8-0xd0000fff)");
    vmio_memmap_free(mm);

    mm = new_map();
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_PIO, 0x3f8, 8, "com1", &err), 0);
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_PIO, 0x3fc, 1, "x", &err), 0);
    /* the same numbers in the MMIO space do not conflict with ports */
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, 0x3f8, 8, "m", &err), 0);
    build_fails(mm, -EBUSY,
                "device 'com1' (ports 0x3f8-0x3ff) overlaps device 'x' (ports "
                "0x3fc-0x3fc)");
    vmio_memmap_free(mm);

    /* touching RAM and pass-through is fine */
    mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 0x10000, false, "ram0", &err), 0);
    pt(mm, 0x10000, 0x1000, DEVMEM, 0x10000, "pt");
    build_ok(mm);
    assert_int_equal(vmio_memmap_build(mm, &err), -EALREADY);
    vmio_memmap_free(mm);
}

static void test_add_errors(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_memmap *mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0x800, 0x1000, false, "r", &err), -EINVAL);
    assert_string_equal(err.msg, "RAM 'r' at 0x800 with size 0x1000 is not 4 KiB aligned "
                                 "(address and size must be multiples of 0x1000)");
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 0, false, "r", &err), -EINVAL);
    assert_string_equal(err.msg, "RAM 'r' at 0x0 has size 0");
    assert_int_equal(
        vmio_memmap_add_passthrough(mm, UINT64_MAX - 0xff, 0x200, DEVMEM, 0, false, "p", &err),
        -EINVAL);
    assert_string_equal(err.msg, "pass-through 'p' at 0xffffffffffffff00 with size 0x200 runs "
                                 "past the end of the address space");
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_PIO, 0xfff8, 0x10, "d", &err), -EINVAL);
    assert_string_equal(err.msg, "device 'd': ports 0xfff8+0x10 run past port 0xffff");
    assert_int_equal(vmio_memmap_add_passthrough(mm, 0, 0x1000, "", 0, false, "p", &err), -EINVAL);
    assert_int_equal(vmio_memmap_count(mm), 0);
    /* The last page of the address space is usable. */
    pt(mm, 0xfffffffffffff000, 0x1000, DEVMEM, 0xfffffffffffff000, "top");
    dev(mm, 0xfffffffffffffff0, 0x10, "topdev");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_DEVICE, 0xfffffffffffffff0, 0x10, "topdev");
    vmio_memmap_free(mm);
}

static void test_listing(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_memmap *mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, 0, 64 << 20, false, "ram0", &err), 0);
    assert_int_equal(vmio_memmap_add_ram(mm, 0xfff00000, 0x100000, true, "rom", &err), 0);
    pt(mm, 0xe0000000, 0x3000, "shm:vmio-demo", 0, "shared");
    pt(mm, 0xe0003000, 0x800, "shm:vmio-demo", 0x3000, "shared-tail");
    dev(mm, 0xe0001000, 0x1000, "testdev-mmio");
    dev(mm, 0xd0000000, 0x1000, "testdev");
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_PIO, 0x3f8, 8, "com1", &err), 0);
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_PIO, 0xf4, 1, "debug-exit", &err), 0);
    build_ok(mm);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    vmio_memmap_print(mm, f);
    fclose(f);
    assert_string_equal(
        buf,
        "memory map (guest-physical):\n"
        "  0x0000000000000000-0x0000000003ffffff  64 MiB     ram          ram0\n"
        "  0x00000000d0000000-0x00000000d0000fff  4 KiB      device       testdev\n"
        "  0x00000000e0000000-0x00000000e0000fff  4 KiB      passthrough  shared+shared-tail "
        "<- shm:vmio-demo @ 0x0\n"
        "  0x00000000e0001000-0x00000000e0001fff  4 KiB      device       testdev-mmio (carved "
        "0xe0001000-0xe0001fff out of shared+shared-tail)\n"
        "  0x00000000e0002000-0x00000000e0003fff  8 KiB      passthrough  shared+shared-tail "
        "<- shm:vmio-demo @ 0x2000\n"
        "  0x00000000fff00000-0x00000000ffffffff  1 MiB      ram          rom (read-only)\n"
        "port map:\n"
        "  0x00f4-0x00f4  1 port     device       debug-exit\n"
        "  0x03f8-0x03ff  8 ports    device       com1\n");
    free(buf);
    vmio_memmap_free(mm);

    /* An empty map says so. */
    mm = new_map();
    build_ok(mm);
    f = open_memstream(&buf, &len);
    vmio_memmap_print(mm, f);
    fclose(f);
    assert_string_equal(buf, "memory map (guest-physical):\n  (empty)\nport map:\n  (empty)\n");
    free(buf);
    vmio_memmap_free(mm);
}

static void test_size_format(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(vmio_size_format(0x1800, b, sizeof(b)), "6 KiB");
    assert_string_equal(vmio_size_format(16, b, sizeof(b)), "16 B");
    assert_string_equal(vmio_size_format(3ULL << 30, b, sizeof(b)), "3 GiB");
    assert_string_equal(vmio_size_format(0, b, sizeof(b)), "0 B");
    assert_string_equal(vmio_size_format(UINT64_MAX, b, sizeof(b)), "18446744073709551615 B");
}

/* ---- bounded work and names (hostile configs) ---- */

static unsigned log2_ceil(uint64_t n)
{
    unsigned l = 0;
    while ((1ULL << l) < n)
        l++;
    return l;
}

/*
 * @n touching one-page pass-through mappings that all merge into one, and a
 * device window in every other page: each window cuts the one big mapping.
 * The old builder copied every piece (with its ever longer joined owner) for
 * every window: O(n^2) entries and O(n^2) bytes per copy.
 */
static struct vmio_memmap *comb(size_t n)
{
    struct vmio_memmap *mm = new_map();
    char name[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "pt-%zu", i);
        uint64_t g = 0x100000000ULL + i * 0x2000;
        pt(mm, g, 0x2000, DEVMEM, g, name);
        snprintf(name, sizeof(name), "dev-%zu", i);
        dev(mm, g + 0x1000, 0x50, name);
    }
    return mm;
}

/*
 * @n two-page mappings that cannot merge (their backings alternate) with a
 * window in the second page of each: n mappings, n holes.
 */
static struct vmio_memmap *zebra(size_t n)
{
    struct vmio_memmap *mm = new_map();
    char name[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "pt-%zu", i);
        uint64_t g = 0x100000000ULL + i * 0x2000;
        pt(mm, g, 0x2000, i % 2 ? "shm:odd" : "shm:even", g, name);
        snprintf(name, sizeof(name), "dev-%zu", i);
        dev(mm, g + 0x1000, 0x50, name);
    }
    return mm;
}

static void test_work_is_n_log_n(void **state)
{
    (void)state;
    struct vmio_memmap *(*layouts[])(size_t) = {comb, zebra};
    for (unsigned l = 0; l < 2; l++) {
        size_t n = VMIO_MEMMAP_MAX_ENTRIES / 2;
        struct vmio_memmap *mm = layouts[l](n);
        build_ok(mm);
        assert_int_equal(vmio_memmap_count(mm), 2 * n);
        uint64_t total = 2 * n, work = vmio_memmap_work(mm);
        if (work > 8 * total * log2_ceil(total))
            fail_msg("layout %u: building %" PRIu64 " inputs took %" PRIu64 " steps", l, total,
                     work);
        vmio_memmap_free(mm);
    }

    /* The caps: VMIO_MEMMAP_MAX_ENTRIES inputs, half mappings, half windows. */
    size_t n = VMIO_MEMMAP_MAX_ENTRIES / 2;
    struct vmio_memmap *mm = comb(n);
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 2 * n); /* n windows, n pieces between them */
    uint64_t total = 2 * n, work = vmio_memmap_work(mm);
    /* A few sorts of N entries (N log N comparisons each) plus linear sweeps. */
    uint64_t bound = 8 * total * log2_ceil(total);
    if (work > bound)
        fail_msg("building %" PRIu64 " inputs took %" PRIu64 " steps (bound %" PRIu64 ")", total,
                 work, bound);
    /* Every piece's owner is the merged mapping's, capped. */
    const struct vmio_mm_entry *piece = vmio_memmap_at(mm, 0);
    assert_int_equal(piece->kind, VMIO_MM_PASSTHROUGH);
    char want[64];
    snprintf(want, sizeof(want), "pt-0+pt-1+pt-2+pt-3+%zu more", n - 4);
    assert_string_equal(piece->owner, want);
    assert_string_equal(vmio_memmap_at(mm, 1)->carved_from, want);
    vmio_memmap_free(mm);

    /* Growth: doubling the input a few times multiplies the work by about 2, never 4. */
    uint64_t prev = 0;
    for (size_t k = 512; k <= 4096; k *= 2) {
        mm = comb(k);
        build_ok(mm);
        uint64_t w = vmio_memmap_work(mm);
        if (prev && w > 3 * prev)
            fail_msg("%zu inputs: %" PRIu64 " steps, %zu inputs: %" PRIu64 " steps", k, w, k / 2,
                     prev);
        prev = w;
        vmio_memmap_free(mm);
    }
}

/* One big mapping with many windows inside, and many RAM regions: the conflict checks too. */
static void test_work_conflict_checks(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    struct vmio_error err = {0};
    size_t n = VMIO_MEMMAP_MAX_ENTRIES / 4;
    char name[32];
    pt(mm, 0x100000000ULL, n * 0x2000, DEVMEM, 0x100000000ULL, "big");
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "ram-%zu", i);
        assert_int_equal(vmio_memmap_add_ram(mm, i * 0x2000, 0x1000, false, name, &err), 0);
        snprintf(name, sizeof(name), "d-%zu", i);
        dev(mm, 0x100000000ULL + i * 0x2000 + 0x1000, 8, name);
        snprintf(name, sizeof(name), "p-%zu", i);
        assert_int_equal(
            vmio_memmap_add_device(mm, VMIO_SPACE_PIO, (uint16_t)(i * 4), 4, name, &err), 0);
    }
    build_ok(mm);
    uint64_t total = 3 * n + 1;
    assert_true(vmio_memmap_work(mm) <= 8 * total * log2_ceil(total));
    vmio_memmap_free(mm);

    /* The last RAM region overlapping the last window is still found, with the same words. */
    mm = new_map();
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "d-%zu", i);
        dev(mm, 0x100000000ULL + i * 0x2000, 8, name);
    }
    uint64_t last = 0x100000000ULL + (n - 1) * 0x2000;
    assert_int_equal(vmio_memmap_add_ram(mm, last, 0x1000, false, "late", &err), 0);
    char msg[256];
    snprintf(msg, sizeof(msg),
             "device 'd-%zu' (0x%" PRIx64 "-0x%" PRIx64 ") overlaps RAM 'late' (0x%" PRIx64
             "-0x%" PRIx64 ") (a device window inside RAM would never exit)",
             n - 1, last, last + 7, last, last + 0xfff);
    build_fails(mm, -EBUSY, msg);
    assert_true(vmio_memmap_work(mm) <= 8 * (n + 1) * log2_ceil(n + 1));
    vmio_memmap_free(mm);
}

static void test_name_and_entry_caps(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_memmap *mm = new_map();
    char name[VMIO_MEMMAP_NAME_MAX + 2];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0'; /* one byte too long */
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, 0x1000, 8, name, &err),
                     -ENAMETOOLONG);
    assert_string_equal(err.msg, "device 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' at 0x1000: the "
                                 "name is 129 bytes long (at most 128)");
    name[VMIO_MEMMAP_NAME_MAX] = '\0'; /* exactly the cap */
    assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, 0x1000, 8, name, &err), 0);
    static char backing[VMIO_MEMMAP_BACKING_MAX + 2];
    memset(backing, 'b', sizeof(backing) - 1);
    assert_int_equal(vmio_memmap_add_passthrough(mm, 0, 0x1000, backing, 0, false, "p", &err),
                     -ENAMETOOLONG);
    for (size_t i = 1; i < VMIO_MEMMAP_MAX_ENTRIES; i++)
        assert_int_equal(vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, 0x1000 + i * 8, 8, "d", &err),
                         0);
    assert_int_equal(vmio_memmap_add_ram(mm, 1ULL << 40, 0x1000, false, "one-more", &err), -ENOSPC);
    assert_string_equal(err.msg, "RAM 'one-more': the memory map already has 16384 entries (the "
                                 "most it takes)");
    assert_int_equal(vmio_memmap_count(mm), VMIO_MEMMAP_MAX_ENTRIES);
    vmio_memmap_free(mm);
}

/* ---- end addresses near 2^64 ---- */

static void test_merge_to_whole_space_refused(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    /* Each half is fine; merged they would be a mapping of size 2^64, i.e. 0. */
    pt(mm, 0, 1ULL << 63, "shm:s", 0, "low");
    pt(mm, 1ULL << 63, 1ULL << 63, "shm:s", 1ULL << 63, "high");
    build_fails(mm, -EINVAL, "pass-through 'low+high' covers the whole address space once merged");
    assert_int_equal(vmio_memmap_count(mm), 2); /* unchanged */
    vmio_memmap_free(mm);

    /* Overlapping pieces that reach both ends. */
    mm = new_map();
    pt(mm, 0, 0x10000, DEVMEM, 0, "a");
    pt(mm, 0x8000, UINT64_MAX - 0x8000 + 1, DEVMEM, 0x8000, "b");
    build_fails(mm, -EINVAL, "pass-through 'a+b' covers the whole address space once merged");
    vmio_memmap_free(mm);

    /* One page short of it is a valid (huge) mapping. */
    mm = new_map();
    pt(mm, 0, 1ULL << 63, "shm:s", 0, "low");
    pt(mm, 1ULL << 63, (1ULL << 63) - 0x1000, "shm:s", 1ULL << 63, "high");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 1);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0, UINT64_MAX - 0xfff, "low+high");
    vmio_memmap_free(mm);
}

static void test_touching_sources_that_wrap_stay_separate(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    /* Same delta (gpa - src mod 2^64), touching in the guest, but the first one's
     * source ends at the backing's last offset and the second starts at offset 0:
     * merged, the source range would wrap. */
    pt(mm, 0x10000, 0x1000, "shm:w", UINT64_MAX - 0xfff, "end");
    pt(mm, 0x11000, 0x1000, "shm:w", 0, "start");
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 2);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, 0x10000, 0x1000, "end");
    expect(mm, 1, VMIO_MM_PASSTHROUGH, 0x11000, 0x1000, "start");
    for (size_t i = 0; i < 2; i++) {
        const struct vmio_mm_entry *e = vmio_memmap_at(mm, i);
        assert_true(e->size > 0);
        assert_true(e->src + (e->size - 1) >= e->src); /* no source range wraps */
    }
    vmio_memmap_free(mm);
}

static void test_carve_at_the_top(void **state)
{
    (void)state;
    struct vmio_memmap *mm = new_map();
    uint64_t base = UINT64_MAX - 0x3fff; /* the last four pages */
    pt(mm, base, 0x4000, DEVMEM, base, "top");
    dev(mm, base + 0x1000, 0x10, "mid");
    dev(mm, UINT64_MAX - 0xf, 0x10, "last");   /* hole ends at 2^64 - 1 */
    dev(mm, UINT64_MAX - 0x1f, 0x10, "last2"); /* same page as "last" */
    build_ok(mm);
    assert_int_equal(vmio_memmap_count(mm), 5);
    expect(mm, 0, VMIO_MM_PASSTHROUGH, base, 0x1000, "top");
    expect(mm, 1, VMIO_MM_DEVICE, base + 0x1000, 0x10, "mid");
    expect(mm, 2, VMIO_MM_PASSTHROUGH, base + 0x2000, 0x1000, "top");
    assert_int_equal(vmio_memmap_at(mm, 2)->src, base + 0x2000);
    expect(mm, 3, VMIO_MM_DEVICE, UINT64_MAX - 0x1f, 0x10, "last2");
    expect(mm, 4, VMIO_MM_DEVICE, UINT64_MAX - 0xf, 0x10, "last");
    assert_int_equal(vmio_memmap_at(mm, 4)->hole_gpa, UINT64_MAX - 0xfff);
    assert_int_equal(vmio_memmap_at(mm, 4)->hole_size, 0x1000);
    assert_int_equal(vmio_memmap_at(mm, 5), NULL);
    vmio_memmap_free(mm);

    /* RAM in the last page, against a window ending at 2^64 - 1. */
    struct vmio_error err = {0};
    mm = new_map();
    assert_int_equal(vmio_memmap_add_ram(mm, UINT64_MAX - 0xfff, 0x1000, false, "r", &err), 0);
    dev(mm, UINT64_MAX, 1, "b");
    build_fails(mm, -EBUSY,
                "device 'b' (0xffffffffffffffff-0xffffffffffffffff) overlaps RAM 'r' "
                "(0xfffffffffffff000-0xffffffffffffffff) (a device window inside RAM would never "
                "exit)");
    vmio_memmap_free(mm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unaligned_base_keeps_tail),
        cmocka_unit_test(test_small_unaligned_inside_one_page),
        cmocka_unit_test(test_page_offset_mismatch),
        cmocka_unit_test(test_touching_merge),
        cmocka_unit_test(test_touching_after_alignment_merge),
        cmocka_unit_test(test_touching_different_backing_stays_separate),
        cmocka_unit_test(test_overlap_merge_and_nested),
        cmocka_unit_test(test_chain_merge_same_name_once),
        cmocka_unit_test(test_overlap_different_backing_fails),
        cmocka_unit_test(test_nested_different_delta_fails),
        cmocka_unit_test(test_carve_middle),
        cmocka_unit_test(test_carve_start_and_end),
        cmocka_unit_test(test_carve_unaligned_window_at_end),
        cmocka_unit_test(test_carve_whole_mapping),
        cmocka_unit_test(test_carve_two_windows_in_one_page),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_work_is_n_log_n),
        cmocka_unit_test(test_work_conflict_checks),
        cmocka_unit_test(test_name_and_entry_caps),
        cmocka_unit_test(test_merge_to_whole_space_refused),
        cmocka_unit_test(test_touching_sources_that_wrap_stay_separate),
        cmocka_unit_test(test_carve_at_the_top),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
