/*
 * status: exit-less reads. testdev's MMIO registers are mirrored on a status
 * page (VMIO_TESTDEV_STATUS_BASE) that vmio maps read-only into the guest: reads
 * there are memory reads, writes still reach the device. The guest polls the
 * page 1000 times and checks, through the register window, that none of
 * those reads reached the device (its READS counter did not move), that the
 * page follows every change made through the register window, and that a
 * write to the page is a write to the register. Without testdev (QEMU) it
 * says so.
 */
#include "guest.h"

#define REG(off) (VMIO_TESTDEV_MMIO_BASE + (off))
#define PAGE(off) (VMIO_TESTDEV_STATUS_BASE + (off))
#define POLLS 1000

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    if (!testdev_present()) {
        test_skip("testdev not present");
        return test_summary("status");
    }
    gprint("-- the status page at 0x%lx mirrors testdev's registers\n",
           (unsigned long)VMIO_TESTDEV_STATUS_BASE);
    check_eq("page PATTERN", mmio_read64(PAGE(VMIO_TESTDEV_PATTERN)), VMIO_TESTDEV_PATTERN_VALUE);
    mmio_write64(REG(VMIO_TESTDEV_READS), 0); /* counters to 0 */
    mmio_write64(REG(VMIO_TESTDEV_SUM), 5);
    check_eq("page SUM follows a register write", mmio_read64(PAGE(VMIO_TESTDEV_SUM)), 5);
    check_eq("page WRITES: the SUM write since the reset", mmio_read64(PAGE(VMIO_TESTDEV_WRITES)),
             1);
    uint64_t reads0 = mmio_read64(REG(VMIO_TESTDEV_READS)); /* this read counts after itself */
    uint64_t acc = 0;
    for (int i = 0; i < POLLS; i++)
        acc += mmio_read64(PAGE(VMIO_TESTDEV_SUM));
    check_eq("1000 polls of the page read SUM every time", acc, 5ULL * POLLS);
    uint64_t reads1 = mmio_read64(REG(VMIO_TESTDEV_READS));
    check_eq("the polls never reached the device (READS moved by the one register read)",
             reads1 - reads0, 1);
    gprint("-- a write to the page is a write to the register\n");
    mmio_write64(PAGE(VMIO_TESTDEV_SUM), 37);
    check_eq("register SUM after a page write", mmio_read64(REG(VMIO_TESTDEV_SUM)), 42);
    check_eq("page SUM too", mmio_read64(PAGE(VMIO_TESTDEV_SUM)), 42);
    mmio_write32(PAGE(VMIO_TESTDEV_ECHO + 4), 0xabcd1234u);
    check_eq("a 4-byte page write lands in ECHO's high half",
             mmio_read64(PAGE(VMIO_TESTDEV_ECHO)) >> 32, 0xabcd1234u);
    return test_summary("status");
}
