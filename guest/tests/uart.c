/*
 * uart: 16550 register behaviour of COM1 (0x3f8): reset values, SCR and
 * divisor-latch round trips, FIFO enable in IIR, loopback (MCR bit 4) with
 * MSR following MCR, RX FIFO of 16 then overrun (LSR.OE), and the
 * non-FIFO overrun.
 * Invariants: nothing is printed while the UART is in loopback, with DLAB set
 * or before the reset values are read (printing goes through the same UART);
 * checks made in those windows are recorded and reported afterwards, so the
 * serial output is a complete, comparable list of observed register values.
 * Lines starting with "INFO" are observations the 16550 leaves to the board
 * (modem-status inputs, SCR reset); docs/guests.md lists how VMMs differ there.
 */
#include "guest.h"

#define COM1 VMIO_COM1_PORT
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define LSR_DR 0x01
#define LSR_OE 0x02
#define MCR_LOOP 0x10

static uint8_t rd(unsigned reg)
{
    return inb((uint16_t)(COM1 + reg));
}

static void wr(unsigned reg, uint8_t v)
{
    outb((uint16_t)(COM1 + reg), v);
}

/* Deferred checks: recorded while printing is impossible, reported by flush(). */
struct rec {
    const char *name;
    uint8_t got, expected;
};
static struct rec recs[64];
static unsigned n_recs;

static void rec(const char *name, uint8_t got, uint8_t expected)
{
    if (n_recs < sizeof(recs) / sizeof(recs[0]))
        recs[n_recs++] = (struct rec){name, got, expected};
}

static void flush(void)
{
    for (unsigned i = 0; i < n_recs; i++)
        check_eq(recs[i].name, recs[i].got, recs[i].expected);
    n_recs = 0;
}

/* Leave loopback/DLAB and return to a printable state (8N1, FIFOs on). */
static void restore(void)
{
    wr(LCR, 0x03);
    wr(MCR, 0x03);
    wr(FCR, 0x07);
    for (int i = 0; i < 64 && (rd(LSR) & LSR_DR); i++)
        (void)rd(RBR);
}

static void test_reset(uint8_t ier, uint8_t iir, uint8_t lcr, uint8_t mcr, uint8_t lsr, uint8_t msr,
                       uint8_t scr)
{
    gprint("reset: IER=0x%02x IIR=0x%02x LCR=0x%02x LSR=0x%02x\n", ier, iir, lcr, lsr);
    gprint("INFO reset MCR=0x%02x\n", mcr);
    gprint("INFO reset MSR=0x%02x\n", msr);
    gprint("INFO reset SCR=0x%02x\n", scr);
    check_eq("reset LSR=0x60 (THRE|TEMT)", lsr, 0x60);
    check_eq("reset IIR=0x01 (no interrupt, no FIFO)", iir, 0x01);
    check_eq("reset IER=0x00", ier, 0x00);
    check_eq("reset LCR=0x00", lcr, 0x00);
    check_eq("reset MCR loop bit clear", mcr & MCR_LOOP, 0);
    check_eq("reset MSR no delta bits", msr & 0x0f, 0);
}

static void test_scr(void)
{
    static const uint8_t vals[] = {0x5a, 0xa5, 0x00, 0xff, 0x3c};
    static const char *const names[] = {"SCR round trip 0x5a", "SCR round trip 0xa5",
                                        "SCR round trip 0x00", "SCR round trip 0xff",
                                        "SCR round trip 0x3c"};
    for (unsigned i = 0; i < sizeof(vals); i++) {
        wr(SCR, vals[i]);
        check_eq(names[i], rd(SCR), vals[i]);
    }
}

static void test_dlab(void)
{
    wr(LCR, 0x83);
    wr(DLL, 0x34);
    wr(DLM, 0x12);
    rec("DLAB LCR reads 0x83", rd(LCR), 0x83);
    rec("DLAB DLL=0x34", rd(DLL), 0x34);
    rec("DLAB DLM=0x12", rd(DLM), 0x12);
    wr(DLL, 0x01); /* back to 115200 */
    wr(DLM, 0x00);
    rec("DLAB DLL=0x01", rd(DLL), 0x01);
    rec("DLAB DLM=0x00", rd(DLM), 0x00);
    wr(LCR, 0x03);
    rec("LCR=0x03 after DLAB off", rd(LCR), 0x03);
    rec("IER (not DLM) at offset 1 with DLAB off", rd(IER), 0x00);
    flush();
}

static void test_fifo(void)
{
    wr(FCR, 0x07);
    uint8_t on = rd(IIR);
    wr(FCR, 0x00);
    uint8_t off = rd(IIR);
    wr(FCR, 0x07);
    uint8_t again = rd(IIR);
    gprint("FIFO: IIR on=0x%02x off=0x%02x on=0x%02x\n", on, off, again);
    check_eq("FIFO on: IIR=0xc1", on, 0xc1);
    check_eq("FIFO off: IIR=0x01", off, 0x01);
    check_eq("FIFO on again: IIR=0xc1", again, 0xc1);
}

static void test_loop_msr(void)
{
    static const uint8_t mcr[] = {0x10, 0x11, 0x12, 0x14, 0x18, 0x1f};
    static const uint8_t msr_hi[] = {0x00, 0x20, 0x10, 0x40, 0x80, 0xf0};
    static const char *const names[] = {"loop MCR=0x10: MSR[7:4]=0x0",
                                        "loop MCR=0x11 (DTR): MSR[7:4]=0x2 (DSR)",
                                        "loop MCR=0x12 (RTS): MSR[7:4]=0x1 (CTS)",
                                        "loop MCR=0x14 (OUT1): MSR[7:4]=0x4 (RI)",
                                        "loop MCR=0x18 (OUT2): MSR[7:4]=0x8 (DCD)",
                                        "loop MCR=0x1f: MSR[7:4]=0xf"};
    uint8_t got[6];
    for (unsigned i = 0; i < 6; i++) {
        wr(MCR, mcr[i]);
        got[i] = rd(MSR) & 0xf0;
        rec(names[i], got[i], msr_hi[i]);
    }
    uint8_t mcr_read = rd(MCR);
    rec("loop MCR reads back 0x1f", mcr_read, 0x1f);
    restore();
    gprint("loopback MSR[7:4]:");
    for (unsigned i = 0; i < 6; i++)
        gprint(" MCR=0x%02x->0x%02x", mcr[i], got[i]);
    gprint("\n");
    flush();
}

static void test_loop_data(void)
{
    static const uint8_t bytes[] = {'v', 'm', 'i', 'o', 0x00, 0xff};
    static const char *const names[] = {"loop RBR 'v'", "loop RBR 'm'",  "loop RBR 'i'",
                                        "loop RBR 'o'", "loop RBR 0x00", "loop RBR 0xff"};
    uint8_t lsr_before, lsr_after[6], lsr_end;
    wr(FCR, 0x07);
    wr(MCR, MCR_LOOP);
    lsr_before = rd(LSR);
    for (unsigned i = 0; i < sizeof(bytes); i++)
        wr(THR, bytes[i]);
    for (unsigned i = 0; i < sizeof(bytes); i++) {
        lsr_after[i] = rd(LSR);
        rec(names[i], rd(RBR), bytes[i]);
    }
    lsr_end = rd(LSR);
    rec("loop LSR before send=0x60", lsr_before, 0x60);
    rec("loop LSR with data=0x61", lsr_after[0], 0x61);
    rec("loop LSR before last byte=0x61", lsr_after[5], 0x61);
    rec("loop LSR drained=0x60", lsr_end, 0x60);
    restore();
    gprint("loopback: LSR before=0x%02x, while reading:", lsr_before);
    for (unsigned i = 0; i < 6; i++)
        gprint(" 0x%02x", lsr_after[i]);
    gprint(", after=0x%02x\n", lsr_end);
    flush();
}

static void test_overrun_fifo(void)
{
    uint8_t lsr16, lsr17, lsr_again, data[16], lsr_end;
    wr(FCR, 0x07);
    wr(MCR, MCR_LOOP);
    for (unsigned i = 0; i < 16; i++)
        wr(THR, (uint8_t)(0x30 + i));
    lsr16 = rd(LSR);
    wr(THR, 0x7e); /* the 17th byte: the FIFO is full, so it is lost */
    lsr17 = rd(LSR);
    lsr_again = rd(LSR); /* reading LSR clears OE */
    for (unsigned i = 0; i < 16; i++)
        data[i] = rd(RBR);
    lsr_end = rd(LSR);
    restore();
    gprint("FIFO overrun: LSR after 16=0x%02x after 17=0x%02x reread=0x%02x drained=0x%02x\n",
           lsr16, lsr17, lsr_again, lsr_end);
    gprint("FIFO overrun: RBR:");
    unsigned in_order = 1;
    for (unsigned i = 0; i < 16; i++) {
        gprint(" %02x", data[i]);
        in_order &= data[i] == 0x30 + i;
    }
    gprint("\n");
    check_eq("FIFO 16 bytes: LSR=0x61 (no OE)", lsr16, 0x61);
    check_eq("FIFO 17th byte: LSR=0x63 (OE)", lsr17, 0x63);
    check_eq("LSR read clears OE: 0x61", lsr_again, 0x61);
    check_true("FIFO keeps the first 16 bytes in order", (int)in_order);
    check_eq("FIFO drained: LSR=0x60", lsr_end, 0x60);
}

static void test_overrun_nofifo(void)
{
    uint8_t lsr1, lsr2, lsr3, rbr, lsr_end;
    wr(FCR, 0x00);
    wr(MCR, MCR_LOOP);
    wr(THR, 'X');
    lsr1 = rd(LSR);
    wr(THR, 'Y'); /* overwrites the holding register */
    lsr2 = rd(LSR);
    lsr3 = rd(LSR);
    rbr = rd(RBR);
    lsr_end = rd(LSR);
    restore();
    gprint("no-FIFO overrun: LSR=0x%02x then 0x%02x then 0x%02x, RBR=0x%02x, LSR=0x%02x\n", lsr1,
           lsr2, lsr3, rbr, lsr_end);
    check_eq("no FIFO: one byte: LSR=0x61", lsr1, 0x61);
    check_eq("no FIFO: second byte: LSR=0x63 (OE)", lsr2, 0x63);
    check_eq("no FIFO: OE cleared by read: 0x61", lsr3, 0x61);
    check_eq("no FIFO: RBR holds the newest byte 'Y'", rbr, 'Y');
    check_eq("no FIFO: drained: LSR=0x60", lsr_end, 0x60);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    /* Read the reset values before anything (printing included) touches COM1. */
    uint8_t ier = rd(IER), iir = rd(IIR), lcr = rd(LCR), mcr = rd(MCR);
    uint8_t lsr = rd(LSR), msr = rd(MSR), scr = rd(SCR);
    gprint("uart: 16550 at 0x%x\n", COM1);
    test_reset(ier, iir, lcr, mcr, lsr, msr, scr);
    test_scr();
    test_dlab();
    test_fifo();
    test_loop_msr();
    test_loop_data();
    test_overrun_fifo();
    test_overrun_nofifo();
    restore();
    return test_summary("uart");
}
