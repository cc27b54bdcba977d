/*
 * widths: every access width on testdev. MMIO: movb/movw/movl/movq loads and
 * stores at each byte offset of ECHO and PATTERN, the READS/WRITES counters,
 * LAST (offset/width/direction), SUM (zero-extended adds). Ports: in/out
 * b/w/l on the same registers. Then, in inline asm, what a narrow load leaves
 * in the rest of RAX: IN AL keeps bits 8-63, IN AX keeps 16-63, IN EAX
 * zero-extends to 64 (likewise MOV r8/r16/r32 from MMIO, and MOVZX/MOVSX).
 * Invariants: each register test first puts testdev in a known state within
 * the window under test; the register-preservation checks compute their
 * expected value from a plain read of the same location, so they also run
 * under QEMU (no testdev), where the MMIO/port checks are skipped.
 */
#include "guest.h"

#define MMIO VMIO_TESTDEV_MMIO_BASE
#define PIO VMIO_TESTDEV_PIO_BASE

static const unsigned widths[] = {1, 2, 4, 8};

static uint64_t mask(unsigned w)
{
    return w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
}

static uint64_t slice(uint64_t reg, unsigned k, unsigned w)
{
    return (reg >> (8 * k)) & mask(w);
}

static uint64_t last_desc(unsigned off, unsigned w, int write)
{
    return off | ((uint64_t)w << 16) | ((uint64_t)(write ? 1 : 0) << 24);
}

/* ---- MMIO ---- */

static void mmio_echo(void)
{
    const uint64_t base = 0x0123456789abcdefULL, val = 0xf1e2d3c4b5a69788ULL;
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i];
        for (unsigned k = 0; k + w <= 8; k++) {
            mmio_write64(MMIO + VMIO_TESTDEV_ECHO, base);
            mmio_write(MMIO + VMIO_TESTDEV_ECHO + k, w, val & mask(w));
            uint64_t m = mask(w) << (8 * k);
            uint64_t expect = (base & ~m) | ((val << (8 * k)) & m);
            uint64_t back = mmio_read(MMIO + VMIO_TESTDEV_ECHO + k, w);
            uint64_t whole = mmio_read64(MMIO + VMIO_TESTDEV_ECHO);
            check_eqf(back, val & mask(w), "mmio ECHO+%u store/load width %u", k, w);
            check_eqf(whole, expect, "mmio ECHO+%u width %u merges into 0x%016lx", k, w, expect);
        }
    }
}

static void mmio_pattern(void)
{
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i];
        for (unsigned k = 0; k + w <= 8; k++) {
            uint64_t expect = slice(VMIO_TESTDEV_PATTERN_VALUE, k, w);
            check_eqf(mmio_read(MMIO + VMIO_TESTDEV_PATTERN + k, w), expect,
                      "mmio PATTERN+%u width %u = 0x%0*lx", k, w, (int)(2 * w), expect);
        }
    }
    mmio_write64(MMIO + VMIO_TESTDEV_PATTERN, 0);
    check_eq("mmio PATTERN ignores writes", mmio_read64(MMIO + VMIO_TESTDEV_PATTERN),
             VMIO_TESTDEV_PATTERN_VALUE);
}

static void mmio_counters(void)
{
    mmio_write8(MMIO + VMIO_TESTDEV_READS, 0); /* resets READS and WRITES */
    (void)mmio_read8(MMIO + VMIO_TESTDEV_PATTERN);
    (void)mmio_read16(MMIO + VMIO_TESTDEV_PATTERN);
    (void)mmio_read32(MMIO + VMIO_TESTDEV_PATTERN);
    mmio_write16(MMIO + VMIO_TESTDEV_ECHO, 1);
    mmio_write64(MMIO + VMIO_TESTDEV_ECHO, 2);
    uint64_t reads = mmio_read32(MMIO + VMIO_TESTDEV_READS);
    uint64_t writes = mmio_read64(MMIO + VMIO_TESTDEV_WRITES);
    uint64_t reads2 = mmio_read8(MMIO + VMIO_TESTDEV_READS);
    check_eq("mmio READS after 3 reads = 3", reads, 3);
    check_eq("mmio WRITES after 2 writes = 2", writes, 2);
    check_eq("mmio READS counts its own reads = 5", reads2, 5);
}

static void mmio_last(void)
{
    static const unsigned offs[] = {3, 6, 4, 0};
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i], k = offs[i];
        mmio_write(MMIO + VMIO_TESTDEV_ECHO + k, w, 0);
        uint64_t lw = mmio_read64(MMIO + VMIO_TESTDEV_LAST);
        (void)mmio_read(MMIO + VMIO_TESTDEV_PATTERN + k, w);
        uint64_t lr = mmio_read64(MMIO + VMIO_TESTDEV_LAST);
        check_eqf(lw, last_desc(VMIO_TESTDEV_ECHO + k, w, 1),
                  "mmio LAST after %u-byte store at 0x%x", w, VMIO_TESTDEV_ECHO + k);
        check_eqf(lr, last_desc(VMIO_TESTDEV_PATTERN + k, w, 0),
                  "mmio LAST after %u-byte load at 0x%x", w, VMIO_TESTDEV_PATTERN + k);
    }
    (void)mmio_read16(MMIO + VMIO_TESTDEV_LAST + 2);
    check_eq("mmio LAST after reading LAST+2 width 2", mmio_read64(MMIO + VMIO_TESTDEV_LAST),
             last_desc(VMIO_TESTDEV_LAST + 2, 2, 0));
}

static void mmio_sum(void)
{
    uint64_t s0 = mmio_read64(MMIO + VMIO_TESTDEV_SUM);
    mmio_write8(MMIO + VMIO_TESTDEV_SUM, 0xff);
    mmio_write16(MMIO + VMIO_TESTDEV_SUM, 0xffff);
    mmio_write32(MMIO + VMIO_TESTDEV_SUM, 0xffffffff);
    mmio_write64(MMIO + VMIO_TESTDEV_SUM, 0x100000000ULL);
    uint64_t s1 = mmio_read64(MMIO + VMIO_TESTDEV_SUM);
    check_eq("mmio SUM adds zero-extended 1/2/4/8-byte stores", s1 - s0,
             0xffULL + 0xffffULL + 0xffffffffULL + 0x100000000ULL);
    check_eq("mmio SUM high half read width 4", mmio_read32(MMIO + VMIO_TESTDEV_SUM + 4), s1 >> 32);
}

/* ---- ports ---- */

static void pio_echo(void)
{
    const uint32_t val = 0xc4b5a697;
    for (unsigned i = 0; i < 3; i++) {
        unsigned w = widths[i];
        for (unsigned k = 0; k + w <= 8; k++) {
            pio_write(PIO + VMIO_TESTDEV_ECHO, 4, 0x89abcdef);
            pio_write(PIO + VMIO_TESTDEV_ECHO + 4, 4, 0x01234567);
            pio_write((uint16_t)(PIO + VMIO_TESTDEV_ECHO + k), w, (uint32_t)(val & mask(w)));
            uint64_t base = 0x0123456789abcdefULL, m = mask(w) << (8 * k);
            uint64_t expect = (base & ~m) | (((uint64_t)val << (8 * k)) & m);
            uint64_t back = pio_read((uint16_t)(PIO + VMIO_TESTDEV_ECHO + k), w);
            uint64_t whole = pio_read(PIO + VMIO_TESTDEV_ECHO, 4) |
                             (uint64_t)pio_read(PIO + VMIO_TESTDEV_ECHO + 4, 4) << 32;
            check_eqf(back, val & mask(w), "port ECHO+%u out/in width %u", k, w);
            check_eqf(whole, expect, "port ECHO+%u width %u merges into 0x%016lx", k, w, expect);
        }
    }
}

static void pio_pattern(void)
{
    for (unsigned i = 0; i < 3; i++) {
        unsigned w = widths[i];
        for (unsigned k = 0; k + w <= 8; k++) {
            uint64_t expect = slice(VMIO_TESTDEV_PATTERN_VALUE, k, w);
            check_eqf(pio_read((uint16_t)(PIO + VMIO_TESTDEV_PATTERN + k), w), expect,
                      "port PATTERN+%u width %u = 0x%0*lx", k, w, (int)(2 * w), expect);
        }
    }
}

static void pio_counters_last_sum(void)
{
    outb(PIO + VMIO_TESTDEV_READS, 0);
    (void)inb(PIO + VMIO_TESTDEV_PATTERN);
    (void)inw(PIO + VMIO_TESTDEV_PATTERN);
    outl(PIO + VMIO_TESTDEV_ECHO, 5);
    check_eq("port READS after 2 reads = 2", inl(PIO + VMIO_TESTDEV_READS), 2);
    check_eq("port WRITES after 1 write = 1", inw(PIO + VMIO_TESTDEV_WRITES), 1);

    static const unsigned offs[] = {5, 2, 4};
    for (unsigned i = 0; i < 3; i++) {
        unsigned w = widths[i], k = offs[i];
        pio_write((uint16_t)(PIO + VMIO_TESTDEV_ECHO + k), w, 0);
        uint64_t lw = inl(PIO + VMIO_TESTDEV_LAST);
        (void)pio_read((uint16_t)(PIO + VMIO_TESTDEV_PATTERN + k), w);
        uint64_t lr = inl(PIO + VMIO_TESTDEV_LAST);
        check_eqf(lw, last_desc(VMIO_TESTDEV_ECHO + k, w, 1),
                  "port LAST after %u-byte out at +0x%x", w, VMIO_TESTDEV_ECHO + k);
        check_eqf(lr, last_desc(VMIO_TESTDEV_PATTERN + k, w, 0),
                  "port LAST after %u-byte in at +0x%x", w, VMIO_TESTDEV_PATTERN + k);
    }

    uint64_t s0 = inl(PIO + VMIO_TESTDEV_SUM) | (uint64_t)inl(PIO + VMIO_TESTDEV_SUM + 4) << 32;
    outb(PIO + VMIO_TESTDEV_SUM, 0x80);
    outw(PIO + VMIO_TESTDEV_SUM, 0x8000);
    outl(PIO + VMIO_TESTDEV_SUM, 0x80000000);
    uint64_t s1 = inl(PIO + VMIO_TESTDEV_SUM) | (uint64_t)inl(PIO + VMIO_TESTDEV_SUM + 4) << 32;
    check_eq("port SUM adds zero-extended 1/2/4-byte outs", s1 - s0,
             0x80ULL + 0x8000ULL + 0x80000000ULL);
}

/* ---- what narrow loads leave in RAX (inline asm: the instruction form matters) ---- */

#define FILL 0x1122334455667788ULL

static void rax_rules(void)
{
    uint16_t port = PIO + VMIO_TESTDEV_PATTERN;
    uint64_t mem = MMIO + VMIO_TESTDEV_PATTERN + 7; /* byte 0x88, negative */
    uint64_t b = inb(port), w = inw(port), l = inl(port);
    uint64_t r;

    __asm__ volatile("movabs %2, %%rax\n\tinb %%dx, %%al\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "d"(port), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (FILL & ~0xffULL) | b, "IN AL keeps RAX bits 8-63 (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tinw %%dx, %%ax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "d"(port), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (FILL & ~0xffffULL) | w, "IN AX keeps RAX bits 16-63 (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tinl %%dx, %%eax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "d"(port), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, l, "IN EAX zero-extends into RAX (0x%016lx)", r);

    uint64_t mb = mmio_read8(mem), mw = mmio_read16(mem - 1), ml = mmio_read32(mem - 3);
    __asm__ volatile("movabs %2, %%rax\n\tmovb (%1), %%al\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (FILL & ~0xffULL) | mb, "MOV AL,[mmio] keeps RAX bits 8-63 (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tmovw (%1), %%ax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem - 1), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (FILL & ~0xffffULL) | mw, "MOV AX,[mmio] keeps RAX bits 16-63 (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tmovl (%1), %%eax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem - 3), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, ml, "MOV EAX,[mmio] zero-extends into RAX (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tmovzbl (%1), %%eax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, mb, "MOVZX EAX,byte [mmio] (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tmovsbq (%1), %%rax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (uint64_t)(int64_t)(int8_t)mb, "MOVSX RAX,byte [mmio] (0x%016lx)", r);
    __asm__ volatile("movabs %2, %%rax\n\tmovswq (%1), %%rax\n\tmov %%rax, %0"
                     : "=r"(r)
                     : "r"(mem - 1), "i"(FILL)
                     : "rax", "memory");
    check_eqf(r, (uint64_t)(int64_t)(int16_t)mw, "MOVSX RAX,word [mmio] (0x%016lx)", r);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    gprint("widths: access widths on testdev MMIO 0x%lx and ports 0x%x\n", (uint64_t)MMIO, PIO);
    if (testdev_present()) {
        mmio_echo();
        mmio_pattern();
        mmio_counters();
        mmio_last();
        mmio_sum();
        pio_echo();
        pio_pattern();
        pio_counters_last_sum();
    } else {
        test_skip("testdev not present");
    }
    rax_rules();
    return test_summary("widths");
}
