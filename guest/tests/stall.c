/*
 * stall: one deliberately slow device access, for the stall watchdog.
 * Writes 300 to testdev's DELAY register through the port window: vmio's
 * handling of that single `out` takes 300 ms, so `vmio run` (watchdog
 * timeout 100 ms by default) names testdev-pio on stderr once, and with
 * `--on-stall exit` ends with status 10 before the guest prints its last
 * line. Without testdev (QEMU) it says so and exits the same way.
 */
#include "guest.h"

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    if (!testdev_present()) {
        test_skip("testdev not present");
        guest_exit(0);
    }
    gprint("stall: writing 300 to DELAY: the next port write takes 300 ms\n");
    outl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_DELAY, 300);
    gprint("stall: the write returned; DELAY reads %u\n",
           inl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_DELAY));
    guest_exit(0);
}
