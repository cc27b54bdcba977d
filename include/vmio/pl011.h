/*
 * ARM PrimeCell PL011 UART model: the console of vmio's AArch64 machine
 * (Linux: ttyAMA0 and earlycon=pl011,0x09000000; the same UART at the same
 * address as QEMU's virt board). See docs/devices/pl011.md.
 *
 * Transmission is instantaneous (the transmit FIFO is always empty: FR.TXFE
 * set, TXFF and BUSY clear); received bytes come from the chardev when the
 * guest reads DR or FR, or when the input thread (vmio_pl011_input_start())
 * sees them arrive, into a 16-byte receive FIFO. Interrupts: RX (bytes
 * waiting) and TX (set by each transmitted byte, as the FIFO drains at
 * once), combined through IMSC into one level given to the irq callback.
 */
#ifndef VMIO_PL011_H
#define VMIO_PL011_H

#include <stdbool.h>

#include "vmio/chardev.h"
#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/uart_input.h"

/* Register offsets. */
#define PL011_DR 0x000
#define PL011_RSR 0x004 /* read: RSR; write: ECR (clears errors) */
#define PL011_FR 0x018
#define PL011_ILPR 0x020
#define PL011_IBRD 0x024
#define PL011_FBRD 0x028
#define PL011_LCR_H 0x02c
#define PL011_CR 0x030
#define PL011_IFLS 0x034
#define PL011_IMSC 0x038
#define PL011_RIS 0x03c
#define PL011_MIS 0x040
#define PL011_ICR 0x044
#define PL011_DMACR 0x048
#define PL011_PERIPH_ID0 0xfe0 /* four ID words, then four PrimeCell ID words at 0xff0 */
#define PL011_SIZE 0x1000

/* FR bits. */
#define PL011_FR_BUSY 0x08
#define PL011_FR_RXFE 0x10
#define PL011_FR_TXFF 0x20
#define PL011_FR_RXFF 0x40
#define PL011_FR_TXFE 0x80
/* Interrupt bits (IMSC, RIS, MIS, ICR). */
#define PL011_INT_RX 0x10
#define PL011_INT_TX 0x20

/* Called with the new level of the combined interrupt output (0 or 1). */
typedef void (*pl011_irq_fn)(void *opaque, int level);

/*
 * vmio_pl011_create - a PL011 in its reset state (CR = 0x300: TX and RX enabled,
 * UART off, as the PL011 resets; IFLS = 0x12) on chardev @cd (borrowed: it
 * must outlive the device; NULL: output is dropped, no input) with interrupt
 * callback @irq(@opaque, level) (may be NULL). *@out is owned by the caller
 * until handed to a VM. Accesses of width 1, 2 or 4 at any register offset
 * are accepted (8 reads all-ones and ignores writes), as Linux uses 32-bit
 * and earlycon 8- or 32-bit accesses.
 * Errors: -ENOMEM; -EINVAL for an empty @name.
 */
int vmio_pl011_create(const char *name, struct vmio_chardev *cd, pl011_irq_fn irq, void *opaque,
                      struct vmio_device **out, struct vmio_error *err);

/* vmio_pl011_is - whether @dev was made by vmio_pl011_create(). */
bool vmio_pl011_is(const struct vmio_device *dev);

/*
 * vmio_pl011_poll_input - pull the chardev's available input into the
 * receive FIFO now (up to its 16 bytes) and update the interrupt; any
 * thread. Nothing for a device that is not a PL011.
 */
void vmio_pl011_poll_input(struct vmio_device *dev);

/*
 * vmio_pl011_input_start - the PL011's input thread (vmio/uart_input.h) on
 * @cd, so that a guest sleeping until the receive interrupt (Linux's
 * ttyAMA0) gets host input as it arrives.
 * @uart: a device from vmio_pl011_create() (not owned; must outlive the thread).
 * @cd:   the chardev the PL011 reads; must have input (not owned).
 * @opts: hooks, or NULL.
 * @out:  receives the handle; stop it with vmio_uart_input_stop().
 * Errors: -EINVAL (not a PL011, no input, NULL @out), -ENOMEM, the errno of
 * pthread_create().
 */
int vmio_pl011_input_start(struct vmio_device *uart, struct vmio_chardev *cd,
                           const struct vmio_uart_input_options *opts, struct vmio_uart_input **out,
                           struct vmio_error *err);

#endif
