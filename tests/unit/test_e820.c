/*
 * e820 map tests (pure): sorting, merging of touching and overlapping
 * same-type ranges, refusal of overlapping different types (the message
 * names both), of empty, wrapping and unknown-type entries and of maps over
 * 128 entries; the PC map: the holes and reserved areas below 1 MiB, RAM
 * above 4 GiB, caller ranges carved out of RAM and out of the BIOS area.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/e820.h"

#define MiB 0x100000ULL
#define GiB 0x40000000ULL

static struct vmio_e820_map map;

static void expect_entry(unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    assert_true(i < map.count);
    if (map.entries[i].addr != addr || map.entries[i].size != size || map.entries[i].type != type)
        fail_msg("entry %u: 0x%llx+0x%llx type %u, want 0x%llx+0x%llx type %u", i,
                 (unsigned long long)map.entries[i].addr, (unsigned long long)map.entries[i].size,
                 map.entries[i].type, (unsigned long long)addr, (unsigned long long)size, type);
}

static void expect_msg(const struct vmio_error *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void test_sort_and_merge(void **state)
{
    (void)state;
    struct vmio_e820_entry in[] = {
        {0x100000, 0x100000, VMIO_E820_RAM}, /* touches the next RAM: merged */
        {0x200000, 0x100000, VMIO_E820_RAM},  {0x0, 0x1000, VMIO_E820_RAM},
        {0x1000, 0x1000, VMIO_E820_RESERVED}, /* touches RAM of another type: kept apart */
        {0x150000, 0x10, VMIO_E820_RAM},      /* inside RAM: absorbed */
        {0x280000, 0x100000, VMIO_E820_RAM},  /* overlaps RAM: merged */
        {0x500000, 0x1000, VMIO_E820_ACPI},   {0x501000, 0x1000, VMIO_E820_NVS},
    };
    struct vmio_error err = {0};
    assert_int_equal(vmio_e820_build(in, 8, &map, &err), 0);
    assert_int_equal(map.count, 5);
    expect_entry(0, 0x0, 0x1000, VMIO_E820_RAM);
    expect_entry(1, 0x1000, 0x1000, VMIO_E820_RESERVED);
    expect_entry(2, 0x100000, 0x280000, VMIO_E820_RAM);
    expect_entry(3, 0x500000, 0x1000, VMIO_E820_ACPI);
    expect_entry(4, 0x501000, 0x1000, VMIO_E820_NVS);
    assert_int_equal(vmio_e820_build(NULL, 0, &map, &err), 0);
    assert_int_equal(map.count, 0);
}

static void test_overlap_of_types(void **state)
{
    (void)state;
    struct vmio_e820_entry in[] = {
        {0x0, 0x100000, VMIO_E820_RAM},
        {0x9fc00, 0x400, VMIO_E820_RESERVED},
    };
    struct vmio_error err = {0};
    map.count = 77;
    assert_int_equal(vmio_e820_build(in, 2, &map, &err), -EINVAL);
    expect_msg(&err, "e820: 0x9fc00-0x9ffff (reserved) overlaps 0x0-0xfffff (RAM)");
    assert_int_equal(map.count, 77); /* untouched on failure */
    /* the overlap is found against a merged run, not only the previous entry */
    struct vmio_e820_entry in2[] = {
        {0x0, 0x1000, VMIO_E820_ACPI},
        {0x800, 0x10000, VMIO_E820_ACPI},
        {0x2000, 0x10, VMIO_E820_NVS},
    };
    assert_int_equal(vmio_e820_build(in2, 3, &map, &err), -EINVAL);
    expect_msg(&err, "(NVS) overlaps 0x0-0x107ff (ACPI)");
}

static void test_invalid_entries(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_e820_entry e = {0x1000, 0, VMIO_E820_RAM};
    assert_int_equal(vmio_e820_build(&e, 1, &map, &err), -EINVAL);
    expect_msg(&err, "e820 entry 0 at 0x1000 has size 0");
    e = (struct vmio_e820_entry){UINT64_MAX, 2, VMIO_E820_RAM};
    assert_int_equal(vmio_e820_build(&e, 1, &map, &err), -EINVAL);
    expect_msg(&err, "wraps past the end of the address space");
    e = (struct vmio_e820_entry){UINT64_MAX, 1, VMIO_E820_RAM}; /* the last byte: fine */
    assert_int_equal(vmio_e820_build(&e, 1, &map, &err), 0);
    expect_entry(0, UINT64_MAX, 1, VMIO_E820_RAM);
    e = (struct vmio_e820_entry){0, 0x1000, 12};
    assert_int_equal(vmio_e820_build(&e, 1, &map, &err), -EINVAL);
    expect_msg(&err, "unknown type 12");
    e.type = 0;
    assert_int_equal(vmio_e820_build(&e, 1, &map, &err), -EINVAL);
    /* two ranges that together cover all 2^64 bytes cannot be one entry */
    struct vmio_e820_entry all[] = {{0, 1ULL << 63, VMIO_E820_RAM},
                                    {1ULL << 63, 1ULL << 63, VMIO_E820_RAM}};
    assert_int_equal(vmio_e820_build(all, 2, &map, &err), -EINVAL);
    assert_int_equal(vmio_e820_build(NULL, 1, &map, &err), -EINVAL);
    assert_int_equal(vmio_e820_build(&e, 1, NULL, &err), -EINVAL);
}

static void test_capacity(void **state)
{
    (void)state;
    struct vmio_e820_entry in[129];
    for (unsigned i = 0; i < 129; i++) /* disjoint, alternating types: nothing merges */
        in[i] = (struct vmio_e820_entry){i * 0x2000ULL, 0x1000, i % 2 ? 2 : 1};
    struct vmio_error err = {0};
    assert_int_equal(vmio_e820_build(in, 128, &map, &err), 0);
    assert_int_equal(map.count, 128);
    expect_entry(127, 127 * 0x2000ULL, 0x1000, VMIO_E820_RESERVED);
    assert_int_equal(vmio_e820_build(in, 129, &map, &err), -E2BIG);
    expect_msg(&err, "e820 map needs 129 entries; the zero page holds 128");
    /* 129 inputs that merge into fewer are fine */
    for (unsigned i = 0; i < 129; i++)
        in[i] = (struct vmio_e820_entry){i * 0x1000ULL, 0x1000, VMIO_E820_RAM};
    assert_int_equal(vmio_e820_build(in, 129, &map, &err), 0);
    assert_int_equal(map.count, 1);
    expect_entry(0, 0, 129 * 0x1000ULL, VMIO_E820_RAM);
}

static void test_pc_map(void **state)
{
    (void)state;
    struct vmio_gpa_range ram = {0, 256 * MiB};
    struct vmio_error err = {0};
    assert_int_equal(vmio_e820_pc(&ram, 1, NULL, 0, &map, &err), 0);
    assert_int_equal(map.count, 4);
    expect_entry(0, 0, 0x9fc00, VMIO_E820_RAM);
    expect_entry(1, 0x9fc00, 0x400, VMIO_E820_RESERVED);
    expect_entry(2, 0xf0000, 0x10000, VMIO_E820_RESERVED); /* 0xa0000-0xeffff: a hole */
    expect_entry(3, 0x100000, 256 * MiB - 0x100000, VMIO_E820_RAM);
}

static void test_pc_map_high_ram(void **state)
{
    (void)state;
    struct vmio_gpa_range ram[] = {{4 * GiB, 2 * GiB}, {0, 3 * GiB}};
    struct vmio_error err = {0};
    assert_int_equal(vmio_e820_pc(ram, 2, NULL, 0, &map, &err), 0);
    assert_int_equal(map.count, 5);
    expect_entry(3, 0x100000, 3 * GiB - 0x100000, VMIO_E820_RAM);
    expect_entry(4, 4 * GiB, 2 * GiB, VMIO_E820_RAM);
    /* RAM that starts inside the legacy window is clipped to 1 MiB */
    struct vmio_gpa_range odd = {0xc0000, 2 * MiB};
    assert_int_equal(vmio_e820_pc(&odd, 1, NULL, 0, &map, &err), 0);
    assert_int_equal(map.count, 3);
    expect_entry(2, 0x100000, 0xc0000 + 2 * MiB - 0x100000, VMIO_E820_RAM);
}

static void test_pc_map_extras(void **state)
{
    (void)state;
    struct vmio_gpa_range ram = {0, 256 * MiB};
    struct vmio_e820_entry extra[] = {
        {256 * MiB - 0x10000, 0x10000, VMIO_E820_ACPI}, /* tables at the top of RAM */
        {128 * MiB, 0x1000, VMIO_E820_NVS},             /* splits RAM */
        {0xe0000, 0x20000, VMIO_E820_RESERVED},         /* covers the BIOS area: merged */
        {0xfee00000, 0x1000, VMIO_E820_RESERVED},       /* outside RAM: just listed */
    };
    struct vmio_error err = {0};
    assert_int_equal(vmio_e820_pc(&ram, 1, extra, 4, &map, &err), 0);
    assert_int_equal(map.count, 8);
    expect_entry(0, 0, 0x9fc00, VMIO_E820_RAM);
    expect_entry(1, 0x9fc00, 0x400, VMIO_E820_RESERVED);
    expect_entry(2, 0xe0000, 0x20000, VMIO_E820_RESERVED);
    expect_entry(3, 0x100000, 127 * MiB, VMIO_E820_RAM);
    expect_entry(4, 128 * MiB, 0x1000, VMIO_E820_NVS);
    expect_entry(5, 128 * MiB + 0x1000, 128 * MiB - 0x11000, VMIO_E820_RAM);
    expect_entry(6, 256 * MiB - 0x10000, 0x10000, VMIO_E820_ACPI);
    expect_entry(7, 0xfee00000, 0x1000, VMIO_E820_RESERVED);
    /* an ACPI range over the BIOS area wins over vmio's reserved default */
    struct vmio_e820_entry acpi = {0xf0000, 0x10000, VMIO_E820_ACPI};
    assert_int_equal(vmio_e820_pc(&ram, 1, &acpi, 1, &map, &err), 0);
    expect_entry(2, 0xf0000, 0x10000, VMIO_E820_ACPI);
    /* extras of different types must not overlap each other */
    struct vmio_e820_entry clash[] = {{0x200000, 0x2000, VMIO_E820_ACPI},
                                      {0x201000, 0x2000, VMIO_E820_NVS}};
    assert_int_equal(vmio_e820_pc(&ram, 1, clash, 2, &map, &err), -EINVAL);
    expect_msg(&err, "(NVS) overlaps 0x200000-0x201fff (ACPI)");
    /* an invalid extra is reported by its own index */
    struct vmio_e820_entry bad[] = {acpi, {0x300000, 0, VMIO_E820_ACPI}};
    assert_int_equal(vmio_e820_pc(&ram, 1, bad, 2, &map, &err), -EINVAL);
    expect_msg(&err, "e820 entry 1 at 0x300000 has size 0");
    struct vmio_gpa_range wrap = {UINT64_MAX - 1, 3};
    assert_int_equal(vmio_e820_pc(&wrap, 1, NULL, 0, &map, &err), -EINVAL);
    expect_msg(&err, "RAM range 0");
    assert_int_equal(vmio_e820_pc(NULL, 1, NULL, 0, &map, &err), -EINVAL);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(vmio_e820_type_name(1), "RAM");
    assert_string_equal(vmio_e820_type_name(2), "reserved");
    assert_string_equal(vmio_e820_type_name(3), "ACPI");
    assert_string_equal(vmio_e820_type_name(4), "NVS");
    assert_string_equal(vmio_e820_type_name(9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_and_merge),  cmocka_unit_test(test_overlap_of_types),
        cmocka_unit_test(test_invalid_entries), cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_pc_map),          cmocka_unit_test(test_pc_map_high_ram),
        cmocka_unit_test(test_pc_map_extras),   cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
