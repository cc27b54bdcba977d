/*
 * AArch64 stage-1 walker tests (src/decode/arm64_walk.c): MMU off, the 4, 16
 * and 64 KiB granules at 39/42/47/48-bit VAs through TTBR0 and TTBR1, blocks
 * where allowed, top-byte ignore, and every fault and refusal. Tables are
 * built in a plain buffer standing for guest RAM at RAM_BASE; a few layouts
 * are written with hand-computed indices (so the test does not share the
 * walker's arithmetic), the others through a small builder.
 * Portable: also compiled against tests/decode/cross/shim/cmocka.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/decode.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (4u << 20)

static uint8_t ram[RAM_SIZE] __attribute__((aligned(65536)));
static unsigned reads;

static int read_phys(void *ctx, uint64_t gpa, uint64_t *value)
{
    (void)ctx;
    reads++;
    if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE - 8)
        return -1;
    memcpy(value, ram + (gpa - RAM_BASE), 8);
    return 0;
}

static void put(uint64_t gpa, uint64_t v)
{
    memcpy(ram + (gpa - RAM_BASE), &v, 8);
}

#define VALID 1ull
#define TABLE 3ull /* valid + table (or page at level 3) */

/* TCR_EL1 fields. */
#define TCR_T0SZ(n) ((uint64_t)(n))
#define TCR_T1SZ(n) ((uint64_t)(n) << 16)
#define TCR_TG0_4K (0ull << 14)
#define TCR_TG0_64K (1ull << 14)
#define TCR_TG0_16K (2ull << 14)
#define TCR_TG1_16K (1ull << 30)
#define TCR_TG1_4K (2ull << 30)
#define TCR_TG1_64K (3ull << 30)
#define TCR_EPD0 (1ull << 7)
#define TCR_EPD1 (1ull << 23)
#define TCR_TBI0 (1ull << 37)
#define TCR_DS (1ull << 59)

static struct vmio_arm64_mmu mmu(uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1)
{
    return (struct vmio_arm64_mmu){.sctlr = 1, .tcr = tcr, .ttbr0 = ttbr0, .ttbr1 = ttbr1};
}

static int walk(const struct vmio_arm64_mmu *m, uint64_t va, struct vmio_arm64_walk *w)
{
    return vmio_arm64_translate(m, va, read_phys, NULL, w);
}

static void setup(void)
{
    memset(ram, 0, sizeof(ram));
    reads = 0;
}

static void test_mmu_off_is_identity(void **state)
{
    (void)state;
    setup();
    struct vmio_arm64_mmu m = {.sctlr = 0, .tcr = ~0ull};
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0x123456789abcull, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x123456789abcull);
    assert_null(w.reason);
    assert_int_equal(reads, 0);
}

/* 4 KiB, 48-bit VA through TTBR0, indices computed by hand. */
static void test_4k_48bit_page(void **state)
{
    (void)state;
    setup();
    /* va 0x0000_0080_4020_3abc: L0 idx 1, L1 idx 1, L2 idx 1, L3 idx 3, offset 0xabc */
    uint64_t va = (1ull << 39) | (1ull << 30) | (1ull << 21) | (3ull << 12) | 0xabc;
    uint64_t l0 = RAM_BASE, l1 = RAM_BASE + 0x1000, l2 = RAM_BASE + 0x2000, l3 = RAM_BASE + 0x3000;
    put(l0 + 1 * 8, l1 | TABLE);
    put(l1 + 1 * 8, l2 | TABLE);
    put(l2 + 1 * 8, l3 | TABLE);
    put(l3 + 3 * 8, 0x40123000ull | TABLE | (1ull << 10) /* AF */ | (1ull << 54) /* UXN */);
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(16) | TCR_TG0_4K, l0 | 1 /* CnP */, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, va, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x40123abcull);
    assert_int_equal(w.level, 3);
    assert_int_equal(w.granule, 12);
    assert_int_equal(w.size, 0x1000);
    assert_int_equal(reads, 4);
}

/* 4 KiB, 39-bit VA: starts at level 1; 1 GiB and 2 MiB blocks. */
static void test_4k_39bit_blocks(void **state)
{
    (void)state;
    setup();
    uint64_t l1 = RAM_BASE, l2 = RAM_BASE + 0x1000;
    put(l1 + 0 * 8, 0x0ull | VALID);          /* va 0..1G: 1 GiB block at pa 0 */
    put(l1 + 2 * 8, l2 | TABLE);              /* va 2G..3G: a level-2 table */
    put(l2 + 5 * 8, 0x40a00000ull | VALID);   /* va 2G + 10M: 2 MiB block */
    put(l1 + 511 * 8, 0x80000000ull | VALID); /* the last GiB of the 39-bit range */
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(25) | TCR_TG0_4K, l1, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0x09000123ull, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x09000123ull);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.size, 1ull << 30);
    assert_int_equal(walk(&m, 0x80000000ull + (5ull << 21) + 0x1234, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x40a01234ull);
    assert_int_equal(w.level, 2);
    assert_int_equal(w.size, 2u << 20);
    assert_int_equal(walk(&m, (1ull << 39) - 8, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x80000000ull + (1ull << 30) - 8);
    /* bit 39 set: outside a 39-bit TTBR0 range */
    assert_int_equal(walk(&m, 1ull << 39, &w), VMIO_DECODE_INVALID);
    assert_non_null(w.reason);
    assert_int_equal(w.pa, 0);
}

/* 4 KiB, 48-bit kernel address through TTBR1 (TG1 has its own encoding). */
static void test_4k_ttbr1(void **state)
{
    (void)state;
    setup();
    uint64_t l0 = RAM_BASE + 0x10000, l1 = l0 + 0x1000, l2 = l0 + 0x2000;
    /* 0xffff_8000_0020_0000 + 0x345: L0 idx 256, L1 idx 0, L2 idx 1 (2 MiB block) */
    put(l0 + 256 * 8, l1 | TABLE);
    put(l1 + 0 * 8, l2 | TABLE);
    put(l2 + 1 * 8, 0x41200000ull | VALID);
    struct vmio_arm64_mmu m =
        mmu(TCR_T0SZ(16) | TCR_TG0_4K | TCR_T1SZ(16) | TCR_TG1_4K | TCR_EPD0, 0, l0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0xffff800000200345ull, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x41200345ull);
    /* TTBR0 walks are disabled (EPD0) */
    assert_int_equal(walk(&m, 0x200345ull, &w), VMIO_DECODE_INVALID);
    assert_string_equal(w.reason, "walks through TTBR0 are disabled (TCR_EL1.EPD0)");
    /* bits 63:48 not all ones */
    assert_int_equal(walk(&m, 0xfffe800000200345ull, &w), VMIO_DECODE_INVALID);
    /* TTBR1 disabled too */
    m.tcr |= TCR_EPD1;
    assert_int_equal(walk(&m, 0xffff800000200345ull, &w), VMIO_DECODE_INVALID);
}

/* 64 KiB, 42-bit VA: two levels (2 and 3), indices by hand; 512 MiB block at level 2. */
static void test_64k_42bit(void **state)
{
    (void)state;
    setup();
    uint64_t l2 = RAM_BASE, l3 = RAM_BASE + 0x10000;
    /* va = idx2 3 (<< 29), idx3 7 (<< 16), offset 0xfedc */
    put(l2 + 3 * 8, l3 | TABLE);
    put(l3 + 7 * 8, 0x40370000ull | TABLE);
    put(l2 + 4 * 8, 0x60000000ull | VALID);
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(22) | TCR_TG0_64K, l2, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, (3ull << 29) | (7ull << 16) | 0xfedc, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x4037fedcull);
    assert_int_equal(w.level, 3);
    assert_int_equal(w.size, 0x10000);
    assert_int_equal(w.granule, 16);
    assert_int_equal(walk(&m, (4ull << 29) | 0x1234567, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x61234567ull);
    assert_int_equal(w.level, 2);
    assert_int_equal(w.size, 512u << 20);
}

/* 64 KiB, 48-bit VA: starts at level 1 with a 64-entry table. */
static void test_64k_48bit(void **state)
{
    (void)state;
    setup();
    uint64_t l1 = RAM_BASE, l2 = RAM_BASE + 0x10000, l3 = RAM_BASE + 0x20000;
    uint64_t va = (63ull << 42) | (8191ull << 29) | (1ull << 16) | 0x10;
    put(l1 + 63 * 8, l2 | TABLE);
    put(l2 + 8191 * 8, l3 | TABLE);
    put(l3 + 1 * 8, 0x40550000ull | TABLE);
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(16) | TCR_TG0_64K, l1, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, va, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x40550010ull);
    /* A level-1 block is not allowed with 64 KiB pages (without 52-bit addresses). */
    put(l1 + 0, 0x0ull | VALID);
    assert_int_equal(walk(&m, 0x1000, &w), VMIO_DECODE_INVALID);
    assert_string_equal(w.reason, "block descriptor at a level without blocks");
}

/* 16 KiB, 48-bit VA: four levels, a 2-entry level-0 table; through TTBR1 too. */
static void test_16k(void **state)
{
    (void)state;
    setup();
    uint64_t l0 = RAM_BASE, l1 = RAM_BASE + 0x4000, l2 = RAM_BASE + 0x8000, l3 = RAM_BASE + 0xc000;
    /* va: L0 idx 1 (bit 47), L1 idx 2047 (<< 36), L2 idx 5 (<< 25), L3 idx 9 (<< 14), 0x3ff */
    uint64_t va = (1ull << 47) | (2047ull << 36) | (5ull << 25) | (9ull << 14) | 0x3ff;
    put(l0 + 1 * 8, l1 | TABLE);
    put(l1 + 2047 * 8, l2 | TABLE);
    put(l2 + 5 * 8, l3 | TABLE);
    put(l3 + 9 * 8, 0x40abc000ull | TABLE);
    put(l2 + 6 * 8, 0x42000000ull | VALID); /* a 32 MiB block */
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(16) | TCR_TG0_16K, l0, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, va, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x40abc3ffull);
    assert_int_equal(w.granule, 14);
    assert_int_equal(walk(&m, (1ull << 47) | (2047ull << 36) | (6ull << 25) | 0x1abcdef, &w),
                     VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x43abcdefull);
    assert_int_equal(w.size, 32u << 20);
    /* The same tables as the upper range with 16 KiB TG1 encoding (47-bit: start level 1). */
    struct vmio_arm64_mmu k = mmu(TCR_T1SZ(17) | TCR_TG1_16K | TCR_EPD0, 0, l1);
    uint64_t kva = 0xffff800000000000ull | (2047ull << 36) | (5ull << 25) | (9ull << 14) | 0x3ff;
    assert_int_equal(walk(&k, kva, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x40abc3ffull);
}

static void test_top_byte_ignore(void **state)
{
    (void)state;
    setup();
    uint64_t l1 = RAM_BASE;
    put(l1, 0x0ull | VALID);
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(25) | TCR_TG0_4K, l1, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0x5a00000000001000ull, &w), VMIO_DECODE_INVALID);
    m.tcr |= TCR_TBI0;
    assert_int_equal(walk(&m, 0x5a00000000001000ull, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, 0x1000);
    /* bit 55 still selects TTBR1 even with a tag */
    assert_int_equal(walk(&m, 0x5a80000000001000ull, &w), VMIO_DECODE_UNSUPPORTED);
}

static void test_faults(void **state)
{
    (void)state;
    setup();
    uint64_t l1 = RAM_BASE, l2 = RAM_BASE + 0x1000, l3 = RAM_BASE + 0x2000;
    put(l1 + 0, l2 | TABLE);
    put(l2 + 0, l3 | TABLE);
    put(l3 + 0, 0x40000000ull | VALID);    /* bit 1 clear at level 3: reserved */
    put(l2 + 8, 0xfff00000000ull | TABLE); /* a table outside RAM */
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(25) | TCR_TG0_4K, l1, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0x0, &w), VMIO_DECODE_INVALID);
    assert_string_equal(w.reason, "reserved descriptor at level 3");
    assert_int_equal(walk(&m, 0x1000, &w), VMIO_DECODE_INVALID); /* l3[1] is 0 */
    assert_string_equal(w.reason, "invalid descriptor (translation fault)");
    assert_int_equal(walk(&m, 0x200000, &w), VMIO_DECODE_INVALID);
    assert_string_equal(w.reason, "a translation table is not in guest RAM");
    /* A TTBR outside RAM. */
    m.ttbr0 = 0x1000;
    assert_int_equal(walk(&m, 0x0, &w), VMIO_DECODE_INVALID);
    /* 4 KiB level-0 block (48-bit VA) */
    setup();
    put(RAM_BASE, 0x0ull | VALID);
    m = mmu(TCR_T0SZ(16) | TCR_TG0_4K, RAM_BASE, 0);
    assert_int_equal(walk(&m, 0x0, &w), VMIO_DECODE_INVALID);
    assert_string_equal(w.reason, "block descriptor at a level without blocks");
    /* VA size not above a 64 KiB page */
    m = mmu(TCR_T0SZ(48) | TCR_TG0_64K, RAM_BASE, 0);
    assert_int_equal(walk(&m, 0x0, &w), VMIO_DECODE_INVALID);
}

static void test_unsupported(void **state)
{
    (void)state;
    setup();
    struct vmio_arm64_walk w;
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(16) | TCR_TG0_4K | TCR_DS, RAM_BASE, 0);
    assert_int_equal(walk(&m, 0, &w), VMIO_DECODE_UNSUPPORTED);
    m = mmu(TCR_T0SZ(12) | TCR_TG0_4K, RAM_BASE, 0);
    assert_int_equal(walk(&m, 0, &w), VMIO_DECODE_UNSUPPORTED);
    m = mmu(TCR_T0SZ(16) | (3ull << 14), RAM_BASE, 0); /* TG0 = 0b11 reserved */
    assert_int_equal(walk(&m, 0, &w), VMIO_DECODE_UNSUPPORTED);
    m = mmu(TCR_T1SZ(16), 0, RAM_BASE); /* TG1 = 0b00 reserved */
    assert_int_equal(walk(&m, 0xffff000000000000ull, &w), VMIO_DECODE_UNSUPPORTED);
    m = mmu(TCR_T0SZ(16) | TCR_TG0_4K, RAM_BASE, 0);
    m.sctlr |= 1ull << 25;
    assert_int_equal(walk(&m, 0, &w), VMIO_DECODE_UNSUPPORTED);
    assert_int_equal(reads, 0);
}

/* Every table entry points back at the same table: the walk still ends by level 3. */
static void test_self_referencing_tables_end(void **state)
{
    (void)state;
    setup();
    for (unsigned i = 0; i < 512; i++)
        put(RAM_BASE + i * 8, RAM_BASE | TABLE);
    struct vmio_arm64_mmu m = mmu(TCR_T0SZ(16) | TCR_TG0_4K, RAM_BASE, 0);
    struct vmio_arm64_walk w;
    assert_int_equal(walk(&m, 0x123456789000ull, &w), VMIO_DECODE_OK);
    assert_int_equal(w.pa, RAM_BASE);
    assert_int_equal(reads, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmu_off_is_identity),
        cmocka_unit_test(test_4k_48bit_page),
        cmocka_unit_test(test_4k_39bit_blocks),
        cmocka_unit_test(test_4k_ttbr1),
        cmocka_unit_test(test_64k_42bit),
        cmocka_unit_test(test_64k_48bit),
        cmocka_unit_test(test_16k),
        cmocka_unit_test(test_top_byte_ignore),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_self_referencing_tables_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
