/*
 * msr: testdev's registers as x86 MSRs (VMIO_TESTDEV_MSR_BASE + register / 8),
 * reached by RDMSR and WRMSR, whose exits vmio dispatches to a device on its
 * system-register bus. Checks every register the instructions can reach in
 * both halves (EDX:EAX is the one width they have): the pattern, a 64-bit
 * echo both halves at once and each half with the other zero, the adder, the
 * read and write counters, the LOG FIFO in order; then an MSR nobody
 * implements faults with #GP (as on hardware), which the guest catches.
 * Without the MSR window (QEMU: the first RDMSR faults) it says so.
 */
#include "guest.h"

#define MSR(reg) (VMIO_TESTDEV_MSR_BASE + (reg) / 8)

static uint64_t rd(uint32_t index)
{
    uint64_t v = ~0ULL;
    if (msr_read_safe(index, &v) < 0)
        check_true("RDMSR did not fault", 0);
    return v;
}

static void wr(uint32_t index, uint64_t v)
{
    if (msr_write_safe(index, v) < 0)
        check_true("WRMSR did not fault", 0);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    uint64_t v;
    if (msr_read_safe(MSR(VMIO_TESTDEV_PATTERN), &v) < 0) {
        test_skip("no testdev MSR window (RDMSR of the pattern faulted)");
        return test_summary("msr");
    }
    gprint("-- testdev registers as MSRs 0x%x..\n", VMIO_TESTDEV_MSR_BASE);
    check_eq("RDMSR PATTERN (EDX:EAX)", v, VMIO_TESTDEV_PATTERN_VALUE);
    wr(MSR(VMIO_TESTDEV_ECHO), 0x0123456789abcdefULL);
    check_eq("WRMSR/RDMSR ECHO, both halves", rd(MSR(VMIO_TESTDEV_ECHO)), 0x0123456789abcdefULL);
    wr(MSR(VMIO_TESTDEV_ECHO), 0xdeadbeefULL);
    check_eq("ECHO, low half only (EDX 0)", rd(MSR(VMIO_TESTDEV_ECHO)), 0xdeadbeefULL);
    wr(MSR(VMIO_TESTDEV_ECHO), 0xcafef00d00000000ULL);
    check_eq("ECHO, high half only (EAX 0)", rd(MSR(VMIO_TESTDEV_ECHO)), 0xcafef00d00000000ULL);
    wr(MSR(VMIO_TESTDEV_READS), 0); /* resets both counters */
    wr(MSR(VMIO_TESTDEV_SUM), 40);
    wr(MSR(VMIO_TESTDEV_SUM), 0x100000002ULL);
    check_eq("SUM adds whole 64-bit writes", rd(MSR(VMIO_TESTDEV_SUM)), 0x10000002aULL);
    check_eq("WRITES counts the WRMSRs since the reset", rd(MSR(VMIO_TESTDEV_WRITES)), 2);
    check_eq("READS counts the RDMSRs before it", rd(MSR(VMIO_TESTDEV_READS)), 2);
    wr(MSR(VMIO_TESTDEV_LOG_LEN), 0);
    for (uint64_t i = 1; i <= 3; i++)
        wr(MSR(VMIO_TESTDEV_LOG_PUSH), i * 0x1111111111ULL);
    check_eq("LOG_LEN", rd(MSR(VMIO_TESTDEV_LOG_LEN)), 3);
    int order = 1;
    for (uint64_t i = 1; i <= 3; i++)
        order &= rd(MSR(VMIO_TESTDEV_LOG_POP)) == i * 0x1111111111ULL;
    check_true("LOG FIFO pops in WRMSR order", order);
    check_eq("LAST: the previous access was an 8-byte read of LOG_POP",
             rd(MSR(VMIO_TESTDEV_LAST)) & 0x1ffffff, (8u << 16) | VMIO_TESTDEV_LOG_POP);
    gprint("-- an MSR nobody implements\n");
    check_true("RDMSR of an unknown MSR faults with #GP",
               msr_read_safe(VMIO_TESTDEV_MSR_BASE + 0x100, &v) < 0);
    check_true("WRMSR faults with #GP", msr_write_safe(VMIO_TESTDEV_MSR_BASE + 0x100, 1) < 0);
    return test_summary("msr");
}
