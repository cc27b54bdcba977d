/*
 * string_io: rep outsb/outsw/outsl into testdev's LOG_PUSH port and rep
 * insb/insw/insl from LOG_POP, checking every element arrives once and in
 * order; rep insw from PATTERN; then rep outsb to the debug console (0xe9)
 * and to the COM1 transmit register (its text appears in the serial output).
 * Invariants: each transfer starts with an emptied log (write to LOG_LEN) and
 * stays below VMIO_TESTDEV_LOG_DEPTH elements; without testdev (QEMU) only the
 * console transfers run.
 */
#include "guest.h"

#define PIO VMIO_TESTDEV_PIO_BASE
#define N 16

static void log_reset(void)
{
    outb(PIO + VMIO_TESTDEV_LOG_LEN, 0);
}

/* Pop `n` entries with inl and compare against the expected element values. */
static void check_log(const char *what, const uint32_t *expect, unsigned n)
{
    check_eqf(inl(PIO + VMIO_TESTDEV_LOG_LEN), n, "%s: LOG_LEN = %u", what, n);
    unsigned bad = 0, first_bad = 0;
    uint32_t got_bad = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = inl(PIO + VMIO_TESTDEV_LOG_POP);
        if (v != expect[i] && !bad++) {
            first_bad = i;
            got_bad = v;
        }
    }
    if (bad)
        check_eqf(got_bad, expect[first_bad], "%s: element %u (of %u wrong)", what, first_bad, bad);
    else
        check_true(what, 1);
    check_eqf(inl(PIO + VMIO_TESTDEV_LOG_LEN), 0, "%s: log empty afterwards", what);
}

static void outs_tests(void)
{
    uint8_t b[N];
    uint16_t w[N];
    uint32_t l[N], e[N];

    for (unsigned i = 0; i < N; i++) {
        b[i] = (uint8_t)(0xa0 + i);
        w[i] = (uint16_t)(0xb000 + 0x101 * i);
        l[i] = 0xc0000000u + 0x01010101u * i;
    }
    log_reset();
    outsb(PIO + VMIO_TESTDEV_LOG_PUSH, b, N);
    for (unsigned i = 0; i < N; i++)
        e[i] = b[i];
    check_log("rep outsb x16 in order", e, N);

    log_reset();
    outsw(PIO + VMIO_TESTDEV_LOG_PUSH, w, N);
    for (unsigned i = 0; i < N; i++)
        e[i] = w[i];
    check_log("rep outsw x16 in order", e, N);

    log_reset();
    outsl(PIO + VMIO_TESTDEV_LOG_PUSH, l, N);
    check_log("rep outsl x16 in order", l, N);

    /* A single-element rep and a full-depth transfer. */
    log_reset();
    outsl(PIO + VMIO_TESTDEV_LOG_PUSH, l, 1);
    check_log("rep outsl x1", l, 1);
}

static void ins_tests(void)
{
    uint8_t b[N + 1];
    uint16_t w[N + 1];
    uint32_t l[N + 1];
    unsigned bad;

    /* Fill the log one element at a time, then drain it with one rep ins. */
    log_reset();
    for (unsigned i = 0; i < N; i++)
        outl(PIO + VMIO_TESTDEV_LOG_PUSH, 0x11111100u + i);
    b[N] = 0x5a; /* guard: the instruction must not write past the count */
    insb(PIO + VMIO_TESTDEV_LOG_POP, b, N);
    bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += b[i] != (uint8_t)i;
    check_eqf(bad, 0, "rep insb x16 pops low bytes in order (b[0]=0x%02x b[15]=0x%02x)", b[0],
              b[N - 1]);
    check_eq("rep insb stops at the count", b[N], 0x5a);
    check_eq("rep insb: LOG_LEN = 0", inl(PIO + VMIO_TESTDEV_LOG_LEN), 0);

    log_reset();
    for (unsigned i = 0; i < N; i++)
        outl(PIO + VMIO_TESTDEV_LOG_PUSH, 0x22220000u + 0x101 * i);
    w[N] = 0x5a5a;
    insw(PIO + VMIO_TESTDEV_LOG_POP, w, N);
    bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += w[i] != (uint16_t)(0x101 * i);
    check_eqf(bad, 0, "rep insw x16 pops low words in order (w[15]=0x%04x)", w[N - 1]);
    check_eq("rep insw stops at the count", w[N], 0x5a5a);

    log_reset();
    for (unsigned i = 0; i < N; i++)
        outl(PIO + VMIO_TESTDEV_LOG_PUSH, 0x33000000u + 0x10101 * i);
    l[N] = 0x5a5a5a5a;
    insl(PIO + VMIO_TESTDEV_LOG_POP, l, N);
    bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += l[i] != 0x33000000u + 0x10101 * i;
    check_eqf(bad, 0, "rep insl x16 pops dwords in order (l[15]=0x%08x)", l[N - 1]);
    check_eq("rep insl stops at the count", l[N], 0x5a5a5a5a);

    /* Popping an empty log reads all-ones. */
    insl(PIO + VMIO_TESTDEV_LOG_POP, l, 2);
    check_eq("rep insl from empty log: all-ones", l[0] & l[1], 0xffffffff);

    /* rep insw from PATTERN+2 reads bytes 2-3 every time. */
    insw(PIO + VMIO_TESTDEV_PATTERN + 2, w, 8);
    bad = 0;
    for (unsigned i = 0; i < 8; i++)
        bad += w[i] != 0x4433;
    check_eq("rep insw x8 from PATTERN+2 = 0x4433 each", bad, 0);

    /* Counters see one access per element. */
    outb(PIO + VMIO_TESTDEV_READS, 0);
    insb(PIO + VMIO_TESTDEV_PATTERN, b, 10);
    outsw(PIO + VMIO_TESTDEV_ECHO, w, 7);
    check_eq("READS counts 10 rep insb elements", inl(PIO + VMIO_TESTDEV_READS), 10);
    check_eq("WRITES counts 7 rep outsw elements", inl(PIO + VMIO_TESTDEV_WRITES), 7);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    static const char thr_msg[] = "string_io: this line was sent by one rep outsb to COM1 THR\n";
    static const char dbg_msg[] = "string_io: this line was sent by one rep outsb to port 0xe9\n";
    (void)mb_magic;
    (void)mb_info;
    gprint("string_io: rep ins/outs on testdev ports 0x%x\n", PIO);
    if (testdev_present()) {
        outs_tests();
        ins_tests();
    } else {
        test_skip("testdev not present");
    }
    outsb(VMIO_COM1_PORT, thr_msg, sizeof(thr_msg) - 1);
    outsb(VMIO_DEBUGCON_PORT, dbg_msg, sizeof(dbg_msg) - 1);
    gprint("string_io: sent %u bytes to port 0xe9 with rep outsb\n",
           (unsigned)(sizeof(dbg_msg) - 1));
    return test_summary("string_io");
}
