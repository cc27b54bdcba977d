/*
 * unclaimed: accesses nobody claims. Reads of an unclaimed MMIO address
 * (0xe0000000) and of unclaimed ports read as all-ones at each width and
 * writes are dropped; accesses straddling the end of testdev's windows are
 * unclaimed too; accesses inside testdev's window but outside its registers
 * are answered by testdev (all-ones) and counted in BAD.
 * Run under vmio's default `--unhandled ignore`. Under `--unhandled strict`
 * vmio stops at the first unclaimed access: the line announcing it is the last
 * one printed (the test harness checks this).
 * Invariants: the first unclaimed access is the MMIO read right after the
 * "first unclaimed access" line; unclaimed MMIO is checked only with testdev
 * present (QEMU reads unassigned memory as zero), unclaimed ports always.
 */
#include "guest.h"

#define MMIO VMIO_TESTDEV_MMIO_BASE
#define PIO VMIO_TESTDEV_PIO_BASE
#define NOWHERE ((uint64_t)0xe0000000)
#define FREE_PORT 0x7100 /* first port past testdev's window */

static const unsigned widths[] = {1, 2, 4, 8};

static uint64_t ones(unsigned w)
{
    return w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
}

static void unclaimed_mmio(int vmio)
{
    uint64_t got[4];
    gprint("unclaimed: first unclaimed access: read MMIO 0x%lx\n", NOWHERE);
    for (unsigned i = 0; i < 4; i++)
        got[i] = mmio_read(NOWHERE + 8 * i, widths[i]);
    for (unsigned i = 0; i < 4; i++) {
        if (vmio)
            check_eqf(got[i], ones(widths[i]), "unclaimed MMIO read width %u = all-ones",
                      widths[i]);
        else
            gprint("INFO unclaimed MMIO read width %u = 0x%lx\n", widths[i], got[i]);
    }
    if (!vmio)
        return;
    mmio_write64(NOWHERE, 0);
    mmio_write32(NOWHERE + 0x10, 0);
    check_eq("unclaimed MMIO write dropped (reads all-ones after)", mmio_read64(NOWHERE), ~0ULL);
    check_eq("unclaimed MMIO 0xd0001000 (past testdev) = all-ones",
             mmio_read32(MMIO + VMIO_TESTDEV_MMIO_SIZE), 0xffffffff);
}

static void unclaimed_ports(void)
{
    for (unsigned i = 0; i < 3; i++)
        check_eqf(pio_read(FREE_PORT, widths[i]), (uint32_t)ones(widths[i]),
                  "unclaimed port 0x%x read width %u = all-ones", FREE_PORT, widths[i]);
    outl(FREE_PORT, 0);
    check_eq("unclaimed port write dropped", inl(FREE_PORT), 0xffffffff);
    check_eq("unclaimed port 0x7ff0 read width 2 = all-ones", inw(0x7ff0), 0xffff);
}

static void straddles(void)
{
    uint64_t bad0 = mmio_read64(MMIO + VMIO_TESTDEV_BAD);
    /* Inside the window but across two registers / at no register: testdev says BAD. */
    check_eq("MMIO ECHO+6 width 4 straddles two registers: all-ones",
             mmio_read32(MMIO + VMIO_TESTDEV_ECHO + 6), 0xffffffff);
    check_eq("MMIO offset 0x900 (no register) width 8: all-ones", mmio_read64(MMIO + 0x900), ~0ULL);
    mmio_write16(MMIO + VMIO_TESTDEV_ECHO + 7, 0); /* straddling write: dropped */
    uint64_t bad1 = mmio_read64(MMIO + VMIO_TESTDEV_BAD);
    check_eq("testdev BAD counted 3 rejected accesses", bad1 - bad0, 3);

    /* Across the end of the window: nobody claims the access. */
    check_eq("MMIO 0xd0000ffe width 4 across the window end: all-ones",
             mmio_read32(MMIO + VMIO_TESTDEV_MMIO_SIZE - 2), 0xffffffff);
    check_eq("MMIO 0xd0000ffc width 8 across the window end: all-ones",
             mmio_read64(MMIO + VMIO_TESTDEV_MMIO_SIZE - 4), ~0ULL);
    check_eq("port 0x70fe width 4 across the window end: all-ones",
             inl(PIO + VMIO_TESTDEV_PIO_SIZE - 2), 0xffffffff);
    check_eq("port 0x70ff width 2 across the window end: all-ones",
             inw(PIO + VMIO_TESTDEV_PIO_SIZE - 1), 0xffff);
    mmio_write64(MMIO + VMIO_TESTDEV_MMIO_SIZE - 4, 0);
    outl(PIO + VMIO_TESTDEV_PIO_SIZE - 2, 0);
    check_eq("ECHO unchanged by the straddling writes",
             mmio_read64(MMIO + VMIO_TESTDEV_ECHO) != ~0ULL, 1);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    int vmio = testdev_present();
    gprint("unclaimed: accesses that no device claims\n");
    if (!vmio)
        test_skip("testdev not present (unclaimed MMIO values are VMM-specific)");
    unclaimed_mmio(vmio);
    unclaimed_ports();
    if (vmio)
        straddles();
    return test_summary("unclaimed");
}
