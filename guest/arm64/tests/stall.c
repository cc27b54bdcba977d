/*
 * stall: one deliberately slow device access, for the stall watchdog on
 * AArch64. Writes 300 to testdev's DELAY register: vmio's handling of that
 * single store takes 300 ms, so `vmio run` (watchdog timeout 100 ms by
 * default) names testdev on stderr once, and with `--on-stall exit` ends
 * with status 10 before the guest prints its last line. Without testdev
 * (QEMU) it says so and exits the same way.
 */
#include "guest.h"

int guest_main(void)
{
    if (!testdev_present()) {
        test_skip("testdev not present");
        return 0;
    }
    gprint("stall: writing 300 to DELAY: the next store takes 300 ms\n");
    mmio_write32(VMIO_TESTDEV_BASE + VMIO_TESTDEV_DELAY, 300);
    gprint("stall: the store returned; DELAY reads %u\n",
           mmio_read32(VMIO_TESTDEV_BASE + VMIO_TESTDEV_DELAY));
    return 0;
}
