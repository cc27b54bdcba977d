/*
 * widths: single loads and stores of every width on testdev (the hardware
 * describes these in the abort's syndrome, ISV=1): ECHO round trips at
 * every byte offset, PATTERN slices, the READS/WRITES counters, and the
 * extension rules: LDRB/LDRH/LDR W zero-extend into X, LDRSB/LDRSH/LDRSW to
 * X sign-extend to 64 bits, LDRSB/LDRSH to W sign-extend to 32 and clear the
 * upper half. Without testdev (QEMU) every check is skipped.
 */
#include "guest.h"

#define T VMIO_TESTDEV_BASE

static uint64_t mask(unsigned w)
{
    return w == 8 ? ~0ull : (1ull << (8 * w)) - 1;
}

static void echo(void)
{
    static const unsigned widths[] = {1, 2, 4, 8};
    const uint64_t base = 0x0123456789abcdefull, val = 0xf1e2d3c4b5a69788ull;
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i];
        for (unsigned k = 0; k + w <= 8; k += w) {
            mmio_write64(T + VMIO_TESTDEV_ECHO, base);
            mmio_write(T + VMIO_TESTDEV_ECHO + k, w, val & mask(w));
            uint64_t m = mask(w) << (8 * k);
            uint64_t expect = (base & ~m) | ((val << (8 * k)) & m);
            check_eqf(mmio_read(T + VMIO_TESTDEV_ECHO + k, w), val & mask(w),
                      "ECHO+%u store/load width %u", k, w);
            check_eqf(mmio_read64(T + VMIO_TESTDEV_ECHO), expect, "ECHO+%u width %u merges", k, w);
        }
    }
}

static void pattern_and_counters(void)
{
    for (unsigned k = 0; k < 8; k++)
        check_eqf(mmio_read8(T + VMIO_TESTDEV_PATTERN + k), (VMIO_TESTDEV_PATTERN_VALUE >> (8 * k)) & 0xff,
                  "PATTERN+%u byte", k);
    check_eq("PATTERN+6 halfword", mmio_read16(T + VMIO_TESTDEV_PATTERN + 6), 0x8877);
    check_eq("PATTERN+4 word", mmio_read32(T + VMIO_TESTDEV_PATTERN + 4), 0x88776655);
    check_eq("PATTERN doubleword", mmio_read64(T + VMIO_TESTDEV_PATTERN), VMIO_TESTDEV_PATTERN_VALUE);
    mmio_write8(T + VMIO_TESTDEV_READS, 0);
    (void)mmio_read8(T + VMIO_TESTDEV_PATTERN);
    (void)mmio_read32(T + VMIO_TESTDEV_PATTERN);
    mmio_write16(T + VMIO_TESTDEV_ECHO, 1);
    check_eq("READS after 2 reads", mmio_read32(T + VMIO_TESTDEV_READS), 2);
    check_eq("WRITES after 1 write", mmio_read64(T + VMIO_TESTDEV_WRITES), 1);
}

/*
 * A sign-extending load: PASS when sign-extended. The nested AArch64 VM
 * (QEMU 7.2 TCG under its KVM) zero-extends these: the syndrome QEMU's
 * emulated CPU gives its KVM leaves SSE clear, and for ISV=1 aborts KVM, not
 * vmio, extends the value (docs/arm64.md, "Known differences"). That result
 * is reported as KNOWN, not counted as a failure; anything else fails.
 */
static void check_sext(const char *name, uint64_t got, uint64_t sext, uint64_t zext)
{
    if (got == zext && got != sext)
        gprint("KNOWN %s: zero-extended (0x%lx): the syndrome said SSE=0\n", name, got);
    else
        check_eq(name, got, sext);
}

static void extension(void)
{
    uint64_t p = T + VMIO_TESTDEV_PATTERN, r;
    __asm__ volatile("mov %0, #-1\n\tldrb %w0, [%1, #7]" : "=&r"(r) : "r"(p) : "memory");
    check_eq("LDRB zero-extends into X", r, 0x88);
    __asm__ volatile("mov %0, #-1\n\tldrh %w0, [%1, #6]" : "=&r"(r) : "r"(p) : "memory");
    check_eq("LDRH zero-extends into X", r, 0x8877);
    __asm__ volatile("mov %0, #-1\n\tldr %w0, [%1, #4]" : "=&r"(r) : "r"(p) : "memory");
    check_eq("LDR W zero-extends into X", r, 0x88776655);
    __asm__ volatile("ldrsb %0, [%1, #7]" : "=r"(r) : "r"(p) : "memory");
    check_sext("LDRSB X sign-extends to 64", r, 0xffffffffffffff88ull, 0x88);
    __asm__ volatile("ldrsh %0, [%1, #6]" : "=r"(r) : "r"(p) : "memory");
    check_sext("LDRSH X sign-extends to 64", r, 0xffffffffffff8877ull, 0x8877);
    __asm__ volatile("ldrsw %0, [%1, #4]" : "=r"(r) : "r"(p) : "memory");
    check_sext("LDRSW sign-extends to 64", r, 0xffffffff88776655ull, 0x88776655);
    __asm__ volatile("mov %0, #-1\n\tldrsb %w0, [%1, #7]" : "=&r"(r) : "r"(p) : "memory");
    check_sext("LDRSB W sign-extends to 32, upper half zero", r, 0xffffff88ull, 0x88);
    __asm__ volatile("mov %0, #-1\n\tldrsh %w0, [%1, #6]" : "=&r"(r) : "r"(p) : "memory");
    check_sext("LDRSH W sign-extends to 32, upper half zero", r, 0xffff8877ull, 0x8877);
    __asm__ volatile("ldrsb %0, [%1]" : "=r"(r) : "r"(p) : "memory");
    check_eq("LDRSB X of a positive byte", r, 0x11);
}

int guest_main(void)
{
    gprint("widths: single loads and stores on testdev at 0x%lx\n", (uint64_t)T);
    if (!testdev_present()) {
        test_skip("testdev not present");
        return test_summary("widths");
    }
    echo();
    pattern_and_counters();
    extension();
    return test_summary("widths");
}
