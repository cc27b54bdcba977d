/*
 * x86 page-table walker tests over page tables built in a fake guest memory:
 * paging off, 32-bit paging (4 KiB, 4 MiB), PAE (4 KiB, 2 MiB), 4-level
 * (4 KiB, 2 MiB, 1 GiB), non-present entries, reserved bits, failed reads and
 * LA57.
 */
#include "x86_test.h"

#define MEM_SIZE (64 * 4096)
static uint8_t mem[MEM_SIZE];
static unsigned reads;

static int read_phys(void *ctx, uint64_t gpa, unsigned len, uint64_t *value)
{
    (void)ctx;
    reads++;
    if (gpa + len > MEM_SIZE || gpa + len < gpa)
        return -1;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)mem[gpa + i] << (8 * i);
    *value = v;
    return 0;
}

static void put(uint64_t gpa, unsigned len, uint64_t v)
{
    for (unsigned i = 0; i < len; i++)
        mem[gpa + i] = (uint8_t)(v >> (8 * i));
}

#define P 1ULL
#define RW 2ULL
#define PS 0x80ULL
#define CR0_PG (1ULL << 31)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define EFER_LMA (1ULL << 10)

static uint64_t xlate(const struct vmio_x86_paging *pg, uint64_t la, int want_rc)
{
    uint64_t gpa = 0xdead;
    assert_int_equal(vmio_x86_translate(pg, la, read_phys, NULL, &gpa), want_rc);
    return gpa;
}

static void test_paging_off(void **state)
{
    (void)state;
    struct vmio_x86_paging pg = {.cr0 = 1};
    assert_int_equal(xlate(&pg, 0x12345678, VMIO_DECODE_OK), 0x12345678);
    assert_int_equal(xlate(&pg, 0x1d0000000ULL, VMIO_DECODE_OK), 0xd0000000);
}

static void test_long_mode(void **state)
{
    (void)state;
    memset(mem, 0, sizeof(mem));
    /* PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000. */
    struct vmio_x86_paging pg = {
        .cr0 = CR0_PG | 1, .cr3 = 0x1000, .cr4 = CR4_PAE, .efer = EFER_LMA | (1 << 8)};
    uint64_t la4k = 0x00007f8040201234ULL; /* PML4 255, PDPT 1, PD 1, PT 1 */
    put(0x1000 + 255 * 8, 8, 0x2000 | P | RW);
    put(0x2000 + 1 * 8, 8, 0x3000 | P | RW);
    put(0x3000 + 1 * 8, 8, 0x4000 | P | RW);
    put(0x4000 + 1 * 8, 8, 0x8000000000abc000ULL | P | RW); /* NX bit is not an address bit */
    assert_int_equal(xlate(&pg, la4k, VMIO_DECODE_OK), 0xabc234);
    /* 2 MiB page: PD entry 3 of the same PD. */
    put(0x3000 + 3 * 8, 8, 0x40000000ULL | PS | P | RW);
    assert_int_equal(xlate(&pg, 0x00007f8040600000ULL + 0x12345, VMIO_DECODE_OK), 0x40012345);
    /* 1 GiB page: PDPT entry 5. */
    put(0x2000 + 5 * 8, 8, 0xc0000000ULL | PS | P);
    assert_int_equal(xlate(&pg, 0x00007f8140000000ULL + 0x3456789, VMIO_DECODE_OK), 0xc3456789ULL);
    /* Upper half: PML4 511. */
    put(0x1000 + 511 * 8, 8, 0x2000 | P);
    assert_int_equal(xlate(&pg, 0xffffff8140000010ULL, VMIO_DECODE_OK), 0xc0000010ULL);
    /* Not present at each level. */
    xlate(&pg, 0x0000000000001000ULL, VMIO_DECODE_INVALID);
    xlate(&pg, 0x00007f8000000000ULL, VMIO_DECODE_INVALID);
    xlate(&pg, 0x00007f8040000000ULL, VMIO_DECODE_INVALID);
    xlate(&pg, 0x00007f8040200000ULL, VMIO_DECODE_INVALID);
    /* Reserved bits in a 2 MiB page frame. */
    put(0x3000 + 4 * 8, 8, 0x40002000ULL | PS | P);
    xlate(&pg, 0x00007f8040800000ULL, VMIO_DECODE_INVALID);
    /* A table outside guest memory. */
    put(0x3000 + 5 * 8, 8, 0x7fff000ULL | P);
    xlate(&pg, 0x00007f8040a00000ULL, VMIO_DECODE_INVALID);
    /* PS in a PML4 entry is reserved. */
    put(0x1000 + 1 * 8, 8, 0x2000 | PS | P);
    xlate(&pg, 0x0000008000000000ULL, VMIO_DECODE_INVALID);
    pg.cr4 |= CR4_LA57;
    xlate(&pg, la4k, VMIO_DECODE_UNSUPPORTED);
}

static void test_pae(void **state)
{
    (void)state;
    memset(mem, 0, sizeof(mem));
    /* PDPT (32-byte aligned) at 0x1020, PD at 0x2000, PT at 0x3000. */
    struct vmio_x86_paging pg = {.cr0 = CR0_PG | 1, .cr3 = 0x1020, .cr4 = CR4_PAE};
    put(0x1020 + 3 * 8, 8, 0x2000 | P);
    put(0x2000 + 0x80 * 8, 8, 0xd0000000ULL | PS | P | RW); /* 0xd0000000 2 MiB */
    put(0x2000 + 0x81 * 8, 8, 0x3000 | P);
    put(0x3000 + 7 * 8, 8, 0x123456000ULL | P); /* above 4 GiB */
    assert_int_equal(xlate(&pg, 0xd0001234, VMIO_DECODE_OK), 0xd0001234);
    assert_int_equal(xlate(&pg, 0xd0207abc, VMIO_DECODE_OK), 0x123456abcULL);
    xlate(&pg, 0x10000000, VMIO_DECODE_INVALID);
}

static void test_legacy_32(void **state)
{
    (void)state;
    memset(mem, 0, sizeof(mem));
    struct vmio_x86_paging pg = {.cr0 = CR0_PG | 1, .cr3 = 0x1000, .cr4 = CR4_PSE};
    put(0x1000 + 0x340 * 4, 4, 0xd0000000u | PS | P); /* 4 MiB at 0xd0000000 */
    put(0x1000 + 0x001 * 4, 4, 0x2000 | P);
    put(0x2000 + 0x005 * 4, 4, 0x7000 | P);
    assert_int_equal(xlate(&pg, 0xd0123456, VMIO_DECODE_OK), 0xd0123456);
    assert_int_equal(xlate(&pg, 0x00405678, VMIO_DECODE_OK), 0x7678);
    xlate(&pg, 0x00406000, VMIO_DECODE_INVALID);
    xlate(&pg, 0x80000000, VMIO_DECODE_INVALID);
    /* Without CR4.PSE the PS bit is ignored: the entry is a page table. */
    pg.cr4 = 0;
    put(0x1000 + 0x002 * 4, 4, 0x2000 | PS | P);
    assert_int_equal(xlate(&pg, 0x00805678, VMIO_DECODE_OK), 0x7678);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paging_off),
        cmocka_unit_test(test_long_mode),
        cmocka_unit_test(test_pae),
        cmocka_unit_test(test_legacy_32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
