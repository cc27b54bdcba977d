/*
 * doorbell: testdev's DOORBELL register rung 1000 times through MMIO and
 * 1000 times through a port, then RINGS read until the device has seen them
 * all. `vmio run` makes the 4-byte DOORBELL an ioeventfd (vmio/doorbell.h):
 * a ring costs no exit, the I/O thread counts it a little later, so the
 * guest polls RINGS (each poll is an exit, which also gives the I/O thread
 * time) and then checks that no ring was lost or counted twice. With
 * `--no-ioeventfd` every ring exits and the output is the same
 * (run_guest.py's doorbell mode compares the exit counts).
 */
#include "guest.h"

#define RINGS 1000
#define POLLS 2000000 /* bounded: a lost ring must fail, not hang */

static uint64_t poll_rings(uint64_t (*read_rings)(void))
{
    uint64_t n = 0;
    for (unsigned i = 0; i < POLLS && (n = read_rings()) < RINGS; i++)
        __asm__ volatile("pause");
    return n;
}

static uint64_t mmio_rings(void)
{
    return mmio_read64(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_RINGS);
}

static uint64_t port_rings(void)
{
    return inl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_RINGS);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    if (!testdev_present()) {
        test_skip("testdev not present");
        return test_summary("doorbell");
    }
    gprint("-- MMIO doorbell: %d rings\n", RINGS);
    mmio_write64(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_RINGS, 0);
    for (int i = 0; i < RINGS; i++)
        mmio_write32(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_DOORBELL, (uint32_t)i);
    check_eq("RINGS reaches 1000", poll_rings(mmio_rings), RINGS);
    check_eq("and stays there (no ring counted twice)", mmio_rings(), RINGS);

    gprint("-- port doorbell: %d rings\n", RINGS);
    outl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_RINGS, 0);
    for (int i = 0; i < RINGS; i++)
        outl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_DOORBELL, (uint32_t)i);
    check_eq("port RINGS reaches 1000", poll_rings(port_rings), RINGS);
    check_eq("and stays there", port_rings(), RINGS);
    return test_summary("doorbell");
}
