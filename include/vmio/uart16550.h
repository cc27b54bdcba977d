/*
 * 16550A UART device model (the PC's COM ports), register-compatible with the
 * National Semiconductor PC16550D datasheet. docs/devices/uart16550.md lists
 * the registers, the behaviours, the simplifications and the differences from
 * QEMU's model.
 *
 * The UART occupies 8 consecutive addresses (register offsets 0..7); register
 * it on a bus with length VMIO_UART16550_REG_COUNT, e.g. at 0x3f8 on the PIO bus.
 *
 * Transmission is instantaneous: a byte written to THR goes to the chardev
 * at once (LSR.THRE and LSR.TEMT stay set). Reception is fed from the chardev:
 * when the guest reads LSR, RBR or IIR and the receiver has room, the UART
 * polls the chardev (never blocking), so a polling guest sees host input
 * without any I/O thread. Other threads may push bytes with
 * vmio_uart16550_receive() or trigger a poll with vmio_uart16550_poll_input().
 *
 * Interrupts: the line is computed as on a PC: an interrupt is pending
 * (IIR bit 0 clear) AND MCR.OUT2 is set AND loopback is off (in loopback the
 * OUT2 pin is forced inactive, which disconnects the PC's IRQ driver).
 * To drive a VM's interrupt line, pass vmio_irq_line_set_level and a line
 * from vmio_vm_irq_line() (vmio/vm.h) as @irq and @opaque.
 *
 * Concurrency: every entry point takes the UART's mutex, so vCPU threads and
 * host threads may call them concurrently. The irq callback is called with
 * that mutex held: it must not call back into the UART.
 */
#ifndef VMIO_UART16550_H
#define VMIO_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/uart_input.h"

struct vmio_chardev;

/* Register offsets (DLAB = LCR bit 7). */
#define VMIO_UART16550_RBR 0 /* read, DLAB=0: receiver buffer */
#define VMIO_UART16550_THR 0 /* write, DLAB=0: transmitter holding */
#define VMIO_UART16550_DLL 0 /* DLAB=1: divisor latch, low byte */
#define VMIO_UART16550_IER 1 /* DLAB=0: interrupt enable */
#define VMIO_UART16550_DLM 1 /* DLAB=1: divisor latch, high byte */
#define VMIO_UART16550_IIR 2 /* read: interrupt identification */
#define VMIO_UART16550_FCR 2 /* write: FIFO control */
#define VMIO_UART16550_LCR 3 /* line control */
#define VMIO_UART16550_MCR 4 /* modem control */
#define VMIO_UART16550_LSR 5 /* line status */
#define VMIO_UART16550_MSR 6 /* modem status */
#define VMIO_UART16550_SCR 7 /* scratch */
#define VMIO_UART16550_REG_COUNT 8

#define VMIO_UART16550_FIFO_SIZE 16

/* IER bits */
#define VMIO_UART_IER_RDI 0x01  /* received data available (and character timeout) */
#define VMIO_UART_IER_THRI 0x02 /* transmitter holding register empty */
#define VMIO_UART_IER_RLSI 0x04 /* receiver line status */
#define VMIO_UART_IER_MSI 0x08  /* modem status */

/* IIR values (bits 3:0) and FIFO bits */
#define VMIO_UART_IIR_NO_INT 0x01
#define VMIO_UART_IIR_MSI 0x00
#define VMIO_UART_IIR_THRI 0x02
#define VMIO_UART_IIR_RDI 0x04
#define VMIO_UART_IIR_RLSI 0x06
#define VMIO_UART_IIR_CTI 0x0c
#define VMIO_UART_IIR_FIFO 0xc0

/* FCR bits */
#define VMIO_UART_FCR_ENABLE 0x01
#define VMIO_UART_FCR_CLEAR_RX 0x02
#define VMIO_UART_FCR_CLEAR_TX 0x04
#define VMIO_UART_FCR_DMA 0x08
#define VMIO_UART_FCR_TRIGGER_MASK 0xc0 /* 0x00: 1, 0x40: 4, 0x80: 8, 0xc0: 14 bytes */

/* LCR bits */
#define VMIO_UART_LCR_BREAK 0x40
#define VMIO_UART_LCR_DLAB 0x80

/* MCR bits */
#define VMIO_UART_MCR_DTR 0x01
#define VMIO_UART_MCR_RTS 0x02
#define VMIO_UART_MCR_OUT1 0x04
#define VMIO_UART_MCR_OUT2 0x08
#define VMIO_UART_MCR_LOOP 0x10

/* LSR bits */
#define VMIO_UART_LSR_DR 0x01
#define VMIO_UART_LSR_OE 0x02
#define VMIO_UART_LSR_PE 0x04
#define VMIO_UART_LSR_FE 0x08
#define VMIO_UART_LSR_BI 0x10
#define VMIO_UART_LSR_THRE 0x20
#define VMIO_UART_LSR_TEMT 0x40
#define VMIO_UART_LSR_RXFE 0x80

/* MSR bits */
#define VMIO_UART_MSR_DCTS 0x01
#define VMIO_UART_MSR_DDSR 0x02
#define VMIO_UART_MSR_TERI 0x04
#define VMIO_UART_MSR_DDCD 0x08
#define VMIO_UART_MSR_CTS 0x10
#define VMIO_UART_MSR_DSR 0x20
#define VMIO_UART_MSR_RI 0x40
#define VMIO_UART_MSR_DCD 0x80

/*
 * Modem-status inputs seen outside loopback: DCD, DSR and CTS asserted, RI
 * not (a connected, ready peer), so MSR reads 0xb0 after reset.
 */
#define VMIO_UART16550_MSR_LINES_DEFAULT (VMIO_UART_MSR_DCD | VMIO_UART_MSR_DSR | VMIO_UART_MSR_CTS)

/*
 * Interrupt line callback: @level is 1 (asserted) or 0. Called only when the
 * level changes, with the UART's mutex held (do not call into the UART).
 */
typedef void (*vmio_uart16550_irq_fn)(void *opaque, int level);

/* Counters since creation (not cleared by vmio_uart16550_reset()). */
struct vmio_uart16550_stats {
    uint64_t tx_bytes;       /* bytes handed to the chardev */
    uint64_t tx_errors;      /* bytes the chardev failed to write (dropped) */
    int last_tx_error;       /* -errno of the last failed write, 0 if none */
    uint64_t rx_bytes;       /* bytes received from the line (chardev or vmio_uart16550_receive) */
    uint64_t loopback_bytes; /* bytes transmitted in loopback (into the receiver) */
    uint64_t overruns;       /* bytes lost to receiver overrun (LSR.OE set each time) */
    uint64_t rx_errors;      /* chardev read errors (input then treated as ended) */
    uint64_t irq_raises;     /* rising edges of the interrupt line */
};

/*
 * vmio_uart16550_create - create a UART in its reset state.
 * @name:   device name for errors, stats and traces; copied. Must be non-empty.
 * @cd:     host backend for output and input, or NULL (output dropped, no
 *          input). The UART does NOT own it: the caller closes it after
 *          destroying the UART, and it must outlive the UART.
 * @irq:    interrupt line callback, or NULL.
 * @opaque: passed to @irq.
 * @out:    receives the device (a struct vmio_device embedded in the UART).
 * @err:    optional message.
 * Errors: -EINVAL for a NULL/empty @name or NULL @out; -ENOMEM.
 * Ownership: the caller owns *@out and releases it with
 * (*out)->ops->destroy(*out) (usually done by vmio_vm_destroy() for a
 * registered device), once no vCPU can access it.
 */
int vmio_uart16550_create(const char *name, struct vmio_chardev *cd, vmio_uart16550_irq_fn irq,
                          void *opaque, struct vmio_device **out, struct vmio_error *err);

/*
 * vmio_uart16550_is - whether @dev was made by vmio_uart16550_create(). The functions
 * below check this and do nothing (returning 0 / -EINVAL) on other devices.
 */
int vmio_uart16550_is(const struct vmio_device *dev);

/*
 * vmio_uart16550_receive - deliver up to @n bytes of @buf from the line into the
 * receiver. Accepts only what fits (the RX FIFO's free space, or 1 byte in
 * the empty holding register when FIFOs are off; nothing in loopback, where
 * the receiver is disconnected from the line), so no byte is ever lost: the
 * caller keeps the rest and retries later. Updates LSR.DR and the interrupt.
 * Returns the number of bytes accepted (0 for a non-UART @dev).
 */
size_t vmio_uart16550_receive(struct vmio_device *dev, const uint8_t *buf, size_t n);

/*
 * vmio_uart16550_poll_input - pull available chardev input into the receiver now
 * (what a guest read of LSR/RBR/IIR does), e.g. from an I/O thread before
 * interrupts are wired. Non-blocking.
 */
void vmio_uart16550_poll_input(struct vmio_device *dev);

/*
 * vmio_uart16550_input_start - the UART's input thread (vmio/uart_input.h)
 * on @cd, for a VM with an interrupt controller, whose guest may sleep until
 * a receive interrupt instead of polling LSR.
 * @uart: a device from vmio_uart16550_create() (not owned; must outlive the thread).
 * @cd:   the chardev the UART reads; must have input (not owned).
 * @opts: hooks, or NULL.
 * @out:  receives the handle; stop it with vmio_uart_input_stop().
 * Errors: -EINVAL (not a 16550, no input, NULL @out), -ENOMEM, the errno of
 * pthread_create().
 */
int vmio_uart16550_input_start(struct vmio_device *uart, struct vmio_chardev *cd,
                               const struct vmio_uart_input_options *opts,
                               struct vmio_uart_input **out, struct vmio_error *err);

/*
 * vmio_uart16550_reset - master reset: IER=0, IIR=0x01, FCR=0 (FIFOs off and
 * empty), LCR=0, MCR=0, LSR=0x60, MSR=0xb0 (no delta bits); the divisor latch
 * and SCR keep their values, as on the chip. Lowers the interrupt line.
 */
void vmio_uart16550_reset(struct vmio_device *dev);

/*
 * vmio_uart16550_get_stats - copy the UART's counters into *@out.
 * Errors: -EINVAL if @dev is not a UART.
 */
int vmio_uart16550_get_stats(struct vmio_device *dev, struct vmio_uart16550_stats *out);

/* vmio_uart16550_irq_level - current level of the interrupt line (0/1; 0 for a non-UART). */
int vmio_uart16550_irq_level(struct vmio_device *dev);

#endif
