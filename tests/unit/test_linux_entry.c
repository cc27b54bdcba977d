/*
 * Linux entry state tests (pure): the boot GDT's descriptors decoded bit by
 * bit (by the Intel SDM's layout, written out here) and compared with the
 * segment registers; the identity page tables walked the way the CPU walks
 * them (PML4 -> PDPT -> PD with 2 MiB pages) for addresses across the first
 * 4 GiB, and found absent at 4 GiB; the 64-bit and 32-bit register states
 * the boot protocol asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "bzimage_fixture.h"
#include "vmio/linux_boot.h"

/* A descriptor decoded from its 8 bytes. */
struct desc {
    uint32_t base, limit; /* limit in bytes, G applied */
    unsigned type, s, dpl, p, l, db, g;
};

static struct desc decode(const uint8_t *p)
{
    uint64_t d = fx_get64(p);
    struct desc x;
    uint32_t raw = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 48) & 0xf) << 16;
    x.base = (uint32_t)((d >> 16) & 0xffffff) | (uint32_t)((d >> 56) & 0xff) << 24;
    x.type = (d >> 40) & 0xf;
    x.s = (d >> 44) & 1;
    x.dpl = (d >> 45) & 3;
    x.p = (d >> 47) & 1;
    x.l = (d >> 53) & 1;
    x.db = (d >> 54) & 1;
    x.g = (d >> 55) & 1;
    x.limit = x.g ? (raw << 12) | 0xfff : raw;
    return x;
}

static void expect_same(const struct desc *d, const struct vmio_x86_segment *s)
{
    assert_int_equal(d->base, s->base);
    assert_int_equal(d->limit, s->limit);
    assert_int_equal(d->type, s->type);
    assert_int_equal(d->s, s->s);
    assert_int_equal(d->dpl, s->dpl);
    assert_int_equal(d->p, s->present);
    assert_int_equal(d->l, s->l);
    assert_int_equal(d->db, s->db);
    assert_int_equal(d->g, s->g);
}

static struct vmio_linux_layout make_layout(enum vmio_linux_entry_mode mode)
{
    static uint8_t img[FX_SIZE];
    fx_make(img);
    struct vmio_bzimage bz;
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, &bz, NULL), 0);
    struct vmio_gpa_range ram = {0, 64 << 20};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1, .mode = mode};
    struct vmio_linux_layout l;
    assert_int_equal(vmio_linux_layout(&bz, &req, &l, NULL), 0);
    return l;
}

static void test_gdt_64(void **state)
{
    (void)state;
    uint8_t gdt[32];
    memset(gdt, 0xcc, sizeof(gdt));
    vmio_linux_gdt(VMIO_LINUX_ENTRY_64, gdt);
    for (unsigned i = 0; i < 16; i++) /* two null descriptors */
        assert_int_equal(gdt[i], 0);
    assert_int_equal(fx_get64(gdt + 0x10), 0x00af9b000000ffffULL); /* flat 64-bit code */
    assert_int_equal(fx_get64(gdt + 0x18), 0x00cf93000000ffffULL); /* flat data */
    struct desc cs = decode(gdt + 0x10), ds = decode(gdt + 0x18);
    assert_int_equal(cs.base, 0);
    assert_int_equal(cs.limit, 0xffffffff);
    assert_int_equal(cs.type, 0xb); /* execute/read, accessed */
    assert_int_equal(cs.s, 1);
    assert_int_equal(cs.p, 1);
    assert_int_equal(cs.dpl, 0);
    assert_int_equal(cs.l, 1);
    assert_int_equal(cs.db, 0);
    assert_int_equal(ds.type, 0x3); /* read/write, accessed */
    assert_int_equal(ds.limit, 0xffffffff);
    assert_int_equal(ds.db, 1);
    assert_int_equal(ds.l, 0);

    /* the registers hold exactly what the GDT says */
    struct vmio_linux_layout l = make_layout(VMIO_LINUX_ENTRY_64);
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    vmio_linux_entry_state(&l, &r, &s);
    expect_same(&cs, &s.cs);
    expect_same(&ds, &s.ds);
    expect_same(&ds, &s.ss);
    assert_int_equal(s.cs.selector, 0x10);
    assert_int_equal(s.ds.selector, 0x18);
}

static void test_gdt_32(void **state)
{
    (void)state;
    uint8_t gdt[32];
    vmio_linux_gdt(VMIO_LINUX_ENTRY_32, gdt);
    assert_int_equal(fx_get64(gdt + 0x10), 0x00cf9b000000ffffULL); /* flat 32-bit code */
    struct desc cs = decode(gdt + 0x10);
    assert_int_equal(cs.l, 0);
    assert_int_equal(cs.db, 1);
    struct vmio_linux_layout l = make_layout(VMIO_LINUX_ENTRY_32);
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    vmio_linux_entry_state(&l, &r, &s);
    expect_same(&cs, &s.cs);
}

/* Walk @pt (placed at @base) for virtual address @va like the CPU; -1 if not mapped. */
static int64_t walk(const uint8_t *pt, uint64_t base, uint64_t va)
{
    const uint64_t addr_mask = 0x000ffffffffff000ULL;
    if (va >> 48)
        return -1;
    uint64_t pml4e = fx_get64(pt + ((va >> 39) & 511) * 8);
    if (!(pml4e & 1) || !(pml4e & 2))
        return -1;
    uint64_t pdpt = (pml4e & addr_mask) - base;
    if (pdpt + 4096 > VMIO_LINUX_PT_SIZE)
        return -1;
    uint64_t pdpte = fx_get64(pt + pdpt + ((va >> 30) & 511) * 8);
    if (!(pdpte & 1) || (pdpte & 0x80)) /* present; not a 1 GiB page */
        return -1;
    uint64_t pd = (pdpte & addr_mask) - base;
    if (pd + 4096 > VMIO_LINUX_PT_SIZE)
        return -1;
    uint64_t pde = fx_get64(pt + pd + ((va >> 21) & 511) * 8);
    if (!(pde & 1) || !(pde & 2) || !(pde & 0x80)) /* present, writable, 2 MiB page */
        return -1;
    if (pde & 4) /* supervisor only */
        return -1;
    return (int64_t)((pde & 0x000fffffffe00000ULL) | (va & 0x1fffff));
}

static void test_page_tables(void **state)
{
    (void)state;
    static uint8_t pt[0x6000];
    assert_int_equal(vmio_linux_page_tables(0x2000, pt, NULL), 0);
    static const uint64_t probes[] = {0x0,        0x1000,     0x9000,     0x1000200,
                                      0x1234567,  0x3fffffff, 0x40000000, 0x7fffffff,
                                      0xc0123456, 0xfee00000, 0xffffffff};
    for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        if (walk(pt, 0x2000, probes[i]) != (int64_t)probes[i])
            fail_msg("0x%llx maps to 0x%llx", (unsigned long long)probes[i],
                     (unsigned long long)walk(pt, 0x2000, probes[i]));
    assert_int_equal(walk(pt, 0x2000, 0x100000000ULL), -1);
    assert_int_equal(walk(pt, 0x2000, 0x8000000000ULL), -1); /* PML4 entry 1 */
    assert_int_equal(fx_get64(pt), 0x3003);                  /* PML4[0] -> PDPT at 0x3000 */
    assert_int_equal(fx_get64(pt + 0x1000 + 3 * 8), 0x7003); /* PDPT[3] -> PD at 0x7000 */
    assert_int_equal(fx_get64(pt + 0x1000 + 4 * 8), 0);
    /* another base: the tables point at each other through it */
    assert_int_equal(vmio_linux_page_tables(0x100000, pt, NULL), 0);
    assert_int_equal(walk(pt, 0x100000, 0xabcdef12), 0xabcdef12);
    assert_int_equal(fx_get64(pt), 0x101003);
}

static void test_page_tables_bad_base(void **state)
{
    (void)state;
    static uint8_t pt[0x6000];
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_page_tables(0x2800, pt, &err), -EINVAL);
    assert_int_equal(vmio_linux_page_tables(0xffffb000, pt, &err), -EINVAL); /* crosses 4 GiB */
    assert_int_equal(vmio_linux_page_tables(0xffffa000, pt, &err), 0);       /* ends at 4 GiB */
    assert_int_equal(vmio_linux_page_tables(0x100000000ULL, pt, &err), -EINVAL);
    assert_int_equal(vmio_linux_page_tables(0x2000, NULL, &err), -EINVAL);
}

static void test_entry_64(void **state)
{
    (void)state;
    struct vmio_linux_layout l = make_layout(VMIO_LINUX_ENTRY_64);
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    memset(&r, 0xcc, sizeof(r));
    vmio_linux_entry_state(&l, &r, &s);
    assert_int_equal(r.rip, 0x1000200); /* load address + 0x200 */
    assert_int_equal(r.gpr[VMIO_X86_RSI], 0x9000);
    assert_int_equal(r.gpr[VMIO_X86_RSP], 0x9000);
    for (unsigned i = 0; i < VMIO_X86_NGPR; i++)
        if (i != VMIO_X86_RSI && i != VMIO_X86_RSP)
            assert_int_equal(r.gpr[i], 0);
    assert_int_equal(r.rflags, 0x2);                  /* IF clear */
    assert_int_equal(s.cr0 & 0x80000001, 0x80000001); /* PG, PE */
    assert_int_equal(s.cr4 & 0x20, 0x20);             /* PAE */
    assert_int_equal(s.efer & 0x500, 0x500);          /* LME, LMA */
    assert_int_equal(s.cr3, 0x2000);
    assert_int_equal(s.gdt_base, 0x1000);
    assert_int_equal(s.gdt_limit, 31);
    assert_int_equal(s.idt_limit, 0);
    assert_int_equal(s.cs.selector, 0x10);
    assert_int_equal(s.cs.l, 1);
    assert_int_equal(s.es.selector, 0x18);
    assert_int_equal(s.fs.selector, 0x18);
    assert_int_equal(s.gs.selector, 0x18);
    assert_int_equal(s.ss.selector, 0x18);
    assert_int_equal(s.tr.type, 0xb);
    assert_int_equal(s.tr.present, 1);
    assert_int_equal(s.ldt.present, 0);
}

static void test_entry_32(void **state)
{
    (void)state;
    struct vmio_linux_layout l = make_layout(VMIO_LINUX_ENTRY_32);
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    vmio_linux_entry_state(&l, &r, &s);
    assert_int_equal(r.rip, 0x1000000); /* the load address itself */
    assert_int_equal(r.gpr[VMIO_X86_RSI], 0x9000);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0);
    assert_int_equal(r.gpr[VMIO_X86_RBP], 0);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0);
    assert_int_equal(s.cr0 & 0x80000001, 0x1); /* PE, no paging */
    assert_int_equal(s.efer, 0);
    assert_int_equal(s.cr4, 0);
    assert_int_equal(s.cs.l, 0);
    assert_int_equal(s.cs.db, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gdt_64),      cmocka_unit_test(test_gdt_32),
        cmocka_unit_test(test_page_tables), cmocka_unit_test(test_page_tables_bad_base),
        cmocka_unit_test(test_entry_64),    cmocka_unit_test(test_entry_32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
