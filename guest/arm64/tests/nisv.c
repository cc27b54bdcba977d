/*
 * nisv: the accesses whose data abort carries no syndrome (ISV=0), which vmio
 * emulates from the instruction (docs/arm64.md): load/store pairs (LDP/STP
 * of X and W, LDPSW, LDNP/STNP), pre- and post-index writeback of single
 * loads and stores (LDR/STR X, W, B, H, LDRSH) and of pairs, with the base
 * register's new value, the loaded registers, what testdev received (ECHO,
 * its READS/WRITES counters: a pair is two accesses, LAST: the second
 * transfer's offset and width) all checked here. Then the guest turns its
 * MMU on (4 KiB granule, 39-bit VAs: RAM and devices identity-mapped by
 * 1 GiB blocks, testdev also at VA 0xc0000000 through a level-3 page) and
 * repeats pairs and writeback forms through both mappings, so vmio must walk
 * the guest's own tables to find the instruction and the address. Without
 * testdev (QEMU) every check is skipped.
 */
#include "guest.h"

#define T VMIO_TESTDEV_BASE
#define PV VMIO_TESTDEV_PATTERN_VALUE

static uint64_t last_desc(unsigned off, unsigned w, int write)
{
    return off | ((uint64_t)w << 16) | ((uint64_t)(write ? 1 : 0) << 24);
}

static void pairs(void)
{
    uint64_t a, b, p = T;
    mmio_write64(T + VMIO_TESTDEV_ECHO, 0x0123456789abcdefull);
    mmio_write8(T + VMIO_TESTDEV_READS, 0);
    __asm__ volatile("ldp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(p) : "memory");
    check_eq("LDP X: first register from ECHO", a, 0x0123456789abcdefull);
    check_eq("LDP X: second register from PATTERN", b, PV);
    check_eq("LDP X: testdev saw two reads", mmio_read64(T + VMIO_TESTDEV_READS), 2);

    __asm__ volatile("mov %0, #-1\n\tmov %1, #-1\n\tldp %w0, %w1, [%2, #8]"
                     : "=&r"(a), "=&r"(b)
                     : "r"(p)
                     : "memory");
    check_eq("LDP W: low half of PATTERN, upper half zero", a, 0x44332211);
    check_eq("LDP W: high half of PATTERN", b, 0x88776655);
    __asm__ volatile("ldpsw %0, %1, [%2, #8]" : "=&r"(a), "=&r"(b) : "r"(p) : "memory");
    check_eq("LDPSW: positive word", a, 0x44332211);
    check_eq("LDPSW: negative word sign-extended", b, 0xffffffff88776655ull);
    __asm__ volatile("ldnp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(p) : "memory");
    check_eq("LDNP: second register from PATTERN", b, PV);

    mmio_write8(T + VMIO_TESTDEV_READS, 0); /* resets WRITES too */
    a = 0xa1a2a3a4a5a6a7a8ull;
    b = 0x1111111111111111ull;
    __asm__ volatile("stp %0, %1, [%2]" : : "r"(a), "r"(b), "r"(p) : "memory");
    check_eq("STP X: ECHO holds the first register", mmio_read64(T + VMIO_TESTDEV_ECHO), a);
    check_eq("STP X: testdev saw two writes", mmio_read64(T + VMIO_TESTDEV_WRITES), 2);
    __asm__ volatile("stp %w0, %w1, [%2]"
                     :
                     : "r"(0x55667788u), "r"(0x11223344u), "r"(p)
                     : "memory");
    check_eq("STP W: LAST is the second 4-byte write", mmio_read64(T + VMIO_TESTDEV_LAST),
             last_desc(VMIO_TESTDEV_ECHO + 4, 4, 1));
    check_eq("STP W: ECHO = second << 32 | first", mmio_read64(T + VMIO_TESTDEV_ECHO),
             0x1122334455667788ull);
    __asm__ volatile("stnp %0, %1, [%2]" : : "r"(0x77ull), "r"(0ull), "r"(p) : "memory");
    check_eq("STNP: ECHO", mmio_read64(T + VMIO_TESTDEV_ECHO), 0x77);
    __asm__ volatile("stp xzr, xzr, [%0]" : : "r"(p) : "memory");
    check_eq("STP XZR: ECHO is zero", mmio_read64(T + VMIO_TESTDEV_ECHO), 0);
}

static void writeback(void)
{
    uint64_t v, p;
    mmio_write64(T + VMIO_TESTDEV_ECHO, 0x0badc0de12345678ull);

    p = T;
    __asm__ volatile("ldr %0, [%1, #8]!" : "=&r"(v), "+r"(p) : : "memory");
    check_eq("LDR X pre-index: value", v, PV);
    check_eq("LDR X pre-index: base += 8", p, T + 8);
    p = T;
    __asm__ volatile("ldr %0, [%1], #8" : "=&r"(v), "+r"(p) : : "memory");
    check_eq("LDR X post-index: value", v, 0x0badc0de12345678ull);
    check_eq("LDR X post-index: base += 8", p, T + 8);
    __asm__ volatile("mov %0, #-1\n\tldr %w0, [%1, #-4]!" : "=&r"(v), "+r"(p) : : "memory");
    check_eq("LDR W pre-index (negative): value", v, 0x0badc0de);
    check_eq("LDR W pre-index (negative): base -= 4", p, T + 4);
    p = T + 6;
    __asm__ volatile("ldrsh %0, [%1, #8]!" : "=&r"(v), "+r"(p) : : "memory");
    check_eq("LDRSH X pre-index: sign-extended", v, 0xffffffffffff8877ull);
    check_eq("LDRSH X pre-index: base", p, T + 14);
    p = T + 15;
    __asm__ volatile("mov %0, #-1\n\tldrb %w0, [%1], #-15" : "=&r"(v), "+r"(p) : : "memory");
    check_eq("LDRB post-index: value", v, 0x88);
    check_eq("LDRB post-index: base -= 15", p, T);

    p = T + 8;
    __asm__ volatile("str %1, [%0, #-8]!" : "+r"(p) : "r"(0xfeedfacecafebeefull) : "memory");
    check_eq("STR X pre-index: ECHO", mmio_read64(T + VMIO_TESTDEV_ECHO), 0xfeedfacecafebeefull);
    check_eq("STR X pre-index: base", p, T);
    __asm__ volatile("strb %w1, [%0], #1" : "+r"(p) : "r"(0x11u) : "memory");
    __asm__ volatile("strh %w1, [%0], #2" : "+r"(p) : "r"(0x3322u) : "memory");
    __asm__ volatile("str %w1, [%0], #4" : "+r"(p) : "r"(0x77665544u) : "memory");
    check_eq("STRB/STRH/STR W post-index: ECHO", mmio_read64(T + VMIO_TESTDEV_ECHO),
             0xfe77665544332211ull); /* byte 7 is still the earlier STR's */
    check_eq("STRB/STRH/STR W post-index: base", p, T + 7);
    __asm__ volatile("str %1, [%0], #0" : "+r"(p) : "r"(0x0ull) : "memory");
    check_eq("STR post-index #0: base unchanged", p, T + 7);
}

static void pair_writeback(void)
{
    uint64_t a, b, p = T;
    mmio_write64(T + VMIO_TESTDEV_ECHO, 42);
    __asm__ volatile("ldp %0, %1, [%2], #16" : "=&r"(a), "=&r"(b), "+r"(p) : : "memory");
    check_eq("LDP post-index: first", a, 42);
    check_eq("LDP post-index: second", b, PV);
    check_eq("LDP post-index: base += 16", p, T + 16);
    __asm__ volatile("stp %2, %3, [%0, #-16]!" : "+r"(p) : "0"(p), "r"(7ull), "r"(8ull) : "memory");
    check_eq("STP pre-index: ECHO", mmio_read64(T + VMIO_TESTDEV_ECHO), 7);
    check_eq("STP pre-index: base -= 16", p, T);
    __asm__ volatile("ldp %w0, %w1, [%2, #8]!" : "=&r"(a), "=&r"(b), "+r"(p) : : "memory");
    check_eq("LDP W pre-index: first", a, 0x44332211);
    check_eq("LDP W pre-index: base", p, T + 8);
    __asm__ volatile("ldpsw %0, %1, [%2], #-8" : "=&r"(a), "=&r"(b), "+r"(p) : : "memory");
    check_eq("LDPSW post-index: second sign-extended", b, 0xffffffff88776655ull);
    check_eq("LDPSW post-index: base", p, T);
    /* The base is also the first destination: the loaded value wins. */
    __asm__ volatile("mov x0, %2\n\tldp x0, x1, [x0]\n\tmov %0, x0\n\tmov %1, x1"
                     : "=r"(a), "=r"(b)
                     : "r"(T)
                     : "x0", "x1", "memory");
    check_eq("LDP x0, x1, [x0]: x0 is the loaded value", a, 7);
    check_eq("LDP x0, x1, [x0]: x1", b, PV);
}

/* ---- the same with the MMU on ---- */

#define ALIAS_VA 0xc0000000ull /* testdev through a 4 KiB page at level 3 */
#define DESC_TABLE 3ull
#define DESC_BLOCK 1ull
#define DESC_AF (1ull << 10)
#define DESC_ATTR(i) ((uint64_t)(i) << 2)
#define DESC_SH_INNER (3ull << 8)

static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l2[512] __attribute__((aligned(4096)));
static uint64_t l3[512] __attribute__((aligned(4096)));

static void mmu_on(void)
{
    l1[0] = 0x00000000ull | DESC_BLOCK | DESC_AF | DESC_ATTR(0);                 /* devices */
    l1[1] = 0x40000000ull | DESC_BLOCK | DESC_AF | DESC_ATTR(1) | DESC_SH_INNER; /* RAM */
    l1[3] = (uint64_t)(uintptr_t)l2 | DESC_TABLE;
    l2[0] = (uint64_t)(uintptr_t)l3 | DESC_TABLE;
    l3[0] = T | DESC_TABLE | DESC_AF | DESC_ATTR(0); /* a page: bits [1:0] = 11 at level 3 */
    uint64_t mair = 0x00ull | (0xffull << 8);        /* attr 0 Device-nGnRnE, attr 1 Normal WB */
    uint64_t tcr = 25 | (1ull << 8) | (1ull << 10) | (3ull << 12) | (1ull << 23) | (1ull << 32);
    __asm__ volatile("dsb ish\n\t"
                     "msr mair_el1, %0\n\t"
                     "msr tcr_el1, %1\n\t"
                     "msr ttbr0_el1, %2\n\t"
                     "isb\n\t"
                     "tlbi vmalle1\n\t"
                     "dsb ish\n\t"
                     "isb\n\t"
                     "mrs x9, sctlr_el1\n\t"
                     "orr x9, x9, #1\n\t"         /* M */
                     "orr x9, x9, #(1 << 2)\n\t"  /* C */
                     "orr x9, x9, #(1 << 12)\n\t" /* I */
                     "msr sctlr_el1, x9\n\t"
                     "isb"
                     :
                     : "r"(mair), "r"(tcr), "r"((uint64_t)(uintptr_t)l1)
                     : "x9", "memory");
}

static void with_mmu(void)
{
    mmu_on();
    uint64_t sctlr;
    __asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
    check_eq("MMU on (SCTLR_EL1.M)", sctlr & 1, 1);
    uint64_t a, b, p = T;
    mmio_write64(T + VMIO_TESTDEV_ECHO, 0x600dcafe600dcafeull);
    __asm__ volatile("ldp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(p) : "memory");
    check_eq("MMU on, identity block: LDP first", a, 0x600dcafe600dcafeull);
    check_eq("MMU on, identity block: LDP second", b, PV);
    p = ALIAS_VA;
    __asm__ volatile("ldp %0, %1, [%2]" : "=&r"(a), "=&r"(b) : "r"(p) : "memory");
    check_eq("MMU on, level-3 page alias: LDP first", a, 0x600dcafe600dcafeull);
    check_eq("MMU on, level-3 page alias: LDP second", b, PV);
    uint64_t sum0 = mmio_read64(T + VMIO_TESTDEV_SUM);
    mmio_write8(T + VMIO_TESTDEV_LOG_LEN, 0); /* empties the log */
    __asm__ volatile("stp %2, %3, [%0, #0x28]!"
                     : "+r"(p)
                     : "0"(p), "r"(5ull), "r"(6ull)
                     : "memory");
    check_eq("MMU on, alias: STP pre-index base", p, ALIAS_VA + 0x28);
    check_eq("MMU on, alias: STP's first register added to SUM",
             mmio_read64(T + VMIO_TESTDEV_SUM) - sum0, 5);
    check_eq("MMU on, alias: STP's second register pushed to the log",
             mmio_read64(T + VMIO_TESTDEV_LOG_LEN), 1);
    check_eq("MMU on, alias: the log holds it", mmio_read64(T + VMIO_TESTDEV_LOG_POP), 6);
    p = ALIAS_VA + 0x10;
    __asm__ volatile("ldr %0, [%1, #-8]!" : "=&r"(a), "+r"(p) : : "memory");
    check_eq("MMU on, alias: LDR pre-index value (PATTERN)", a, PV);
    check_eq("MMU on, alias: LDR pre-index base", p, ALIAS_VA + 8);
    mmio_write8(T + VMIO_TESTDEV_READS, 0);
    p = ALIAS_VA;
    __asm__ volatile("ldp %w0, %w1, [%2], #8" : "=&r"(a), "=&r"(b), "+r"(p) : : "memory");
    check_eq("MMU on, alias: LDP W post-index second", b, 0x600dcafe);
    check_eq("MMU on, alias: LDP W post-index base", p, ALIAS_VA + 8);
    check_eq("MMU on, alias: testdev saw two reads", mmio_read64(T + VMIO_TESTDEV_READS), 2);
}

int guest_main(void)
{
    gprint("nisv: pairs and writeback forms on testdev at 0x%lx\n", (uint64_t)T);
    if (!testdev_present()) {
        test_skip("testdev not present");
        return test_summary("nisv");
    }
    pairs();
    writeback();
    pair_writeback();
    with_mmu();
    return test_summary("nisv");
}
