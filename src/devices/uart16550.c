/*
 * 16550A UART model. See include/vmio/uart16550.h and
 * docs/devices/uart16550.md.
 *
 * State and invariants (all under u->lock):
 *   - rx[] is a ring of rx_count bytes starting at rx_head; its capacity is
 *     16 with FIFOs enabled and 1 (the receiver holding register) without.
 *     LSR.DR is not stored: it is rx_count > 0.
 *   - lsr_err holds only LSR.OE/PE/FE/BI (only OE is ever produced). THRE and
 *     TEMT are always 1 because transmission is instantaneous; the TX FIFO is
 *     therefore always empty and is not stored.
 *   - msr bits 7:4 are the current modem inputs (external lines, or MCR bits
 *     in loopback); bits 3:0 are the delta bits, set on changes of bits 7:4
 *     and cleared by reading MSR.
 *   - thre_pending is the THRE interrupt source: set when THR becomes empty
 *     (after each transmission) and when an IER write sets THRI (0 -> 1);
 *     cleared by a THR write, by an IIR read that reports it, and by
 *     clearing IER.THRI.
 *   - irq_level is the last level passed to the irq callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/chardev.h"
#include "vmio/uart16550.h"

struct uart16550 {
    struct vmio_device dev; /* first: vmio_container_of */
    pthread_mutex_t lock;
    char *name;
    struct vmio_chardev *cd; /* not owned; may be NULL */
    vmio_uart16550_irq_fn irq;
    void *irq_opaque;
    int irq_level;

    uint8_t ier, lcr, mcr, fcr, scr;
    uint8_t lsr_err;
    uint8_t msr;
    uint8_t lines; /* external modem inputs (MSR bits 7:4) outside loopback */
    uint16_t divisor;
    bool thre_pending;

    uint8_t rx[VMIO_UART16550_FIFO_SIZE];
    unsigned rx_head, rx_count;
    uint8_t rbr_last; /* last byte read: RBR when empty without FIFOs */

    struct vmio_uart16550_stats stats;
};

static const struct vmio_device_ops uart_ops;

static struct uart16550 *to_uart(struct vmio_device *dev)
{
    if (!dev || dev->ops != &uart_ops)
        return NULL;
    return vmio_container_of(dev, struct uart16550, dev);
}

int vmio_uart16550_is(const struct vmio_device *dev)
{
    return dev && dev->ops == &uart_ops;
}

/* ---- receiver ---- */

static unsigned rx_capacity(const struct uart16550 *u)
{
    return (u->fcr & VMIO_UART_FCR_ENABLE) ? VMIO_UART16550_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    return levels[(u->fcr & VMIO_UART_FCR_TRIGGER_MASK) >> 6];
}

static void rx_clear(struct uart16550 *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
}

/*
 * A byte arrives at the receiver from the wire (chardev or loopback). When
 * the receiver is full it is an overrun: LSR.OE is set and one byte is lost
 * (counted). With FIFOs the FIFO keeps its contents and the new byte is lost;
 * without, the new byte overwrites the holding register (datasheet).
 */
static void rx_put(struct uart16550 *u, uint8_t byte)
{
    unsigned cap = rx_capacity(u);
    if (u->rx_count < cap) {
        u->rx[(u->rx_head + u->rx_count) % VMIO_UART16550_FIFO_SIZE] = byte;
        u->rx_count++;
        return;
    }
    u->lsr_err |= VMIO_UART_LSR_OE;
    u->stats.overruns++;
    if (cap == 1)
        u->rx[u->rx_head] = byte;
}

/*
 * Reading an empty receiver: the datasheet leaves the value open. Without
 * FIFOs the holding register still holds the last byte; with FIFOs 0 is read
 * (both as in QEMU).
 */
static uint8_t rx_get(struct uart16550 *u)
{
    if (u->rx_count == 0)
        return (u->fcr & VMIO_UART_FCR_ENABLE) ? 0 : u->rbr_last;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % VMIO_UART16550_FIFO_SIZE;
    u->rx_count--;
    if (u->rx_count == 0)
        u->rx_head = 0;
    u->rbr_last = b;
    return b;
}

/* Pull what the chardev has, up to the receiver's free space. No overrun. */
static void rx_pull(struct uart16550 *u)
{
    if (!u->cd || (u->mcr & VMIO_UART_MCR_LOOP))
        return;
    unsigned room = rx_capacity(u) - u->rx_count;
    if (room == 0 || !vmio_chardev_has_input(u->cd))
        return;
    uint8_t buf[VMIO_UART16550_FIFO_SIZE];
    ssize_t n = vmio_chardev_read_nonblock(u->cd, buf, room);
    if (n < 0) {
        u->stats.rx_errors++;
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        rx_put(u, buf[i]);
    u->stats.rx_bytes += (uint64_t)n;
}

/* ---- interrupts ---- */

/* Interrupt identification (IIR bits 3:0), highest priority first. */
static uint8_t iir_id(const struct uart16550 *u)
{
    if ((u->ier & VMIO_UART_IER_RLSI) &&
        (u->lsr_err & (VMIO_UART_LSR_OE | VMIO_UART_LSR_PE | VMIO_UART_LSR_FE | VMIO_UART_LSR_BI)))
        return VMIO_UART_IIR_RLSI;
    if ((u->ier & VMIO_UART_IER_RDI) && u->rx_count > 0) {
        if (!(u->fcr & VMIO_UART_FCR_ENABLE) || u->rx_count >= rx_trigger(u))
            return VMIO_UART_IIR_RDI;
        /* No character clock: the 4-character timeout has always elapsed. */
        return VMIO_UART_IIR_CTI;
    }
    if ((u->ier & VMIO_UART_IER_THRI) && u->thre_pending)
        return VMIO_UART_IIR_THRI;
    if ((u->ier & VMIO_UART_IER_MSI) && (u->msr & 0x0f))
        return VMIO_UART_IIR_MSI;
    return VMIO_UART_IIR_NO_INT;
}

static void update_irq(struct uart16550 *u)
{
    int level = iir_id(u) != VMIO_UART_IIR_NO_INT && (u->mcr & VMIO_UART_MCR_OUT2) &&
                !(u->mcr & VMIO_UART_MCR_LOOP);
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (level)
        u->stats.irq_raises++;
    if (u->irq)
        u->irq(u->irq_opaque, level);
}

/* ---- modem status ---- */

/* Modem inputs (MSR bits 7:4) for the current MCR. */
static uint8_t modem_inputs(const struct uart16550 *u)
{
    if (!(u->mcr & VMIO_UART_MCR_LOOP))
        return u->lines;
    uint8_t in = 0;
    if (u->mcr & VMIO_UART_MCR_DTR)
        in |= VMIO_UART_MSR_DSR;
    if (u->mcr & VMIO_UART_MCR_RTS)
        in |= VMIO_UART_MSR_CTS;
    if (u->mcr & VMIO_UART_MCR_OUT1)
        in |= VMIO_UART_MSR_RI;
    if (u->mcr & VMIO_UART_MCR_OUT2)
        in |= VMIO_UART_MSR_DCD;
    return in;
}

/* Recompute MSR bits 7:4 and accumulate delta bits for the changes. */
static void update_msr(struct uart16550 *u)
{
    uint8_t old = u->msr & 0xf0, now = modem_inputs(u);
    uint8_t changed = old ^ now, delta = 0;
    if (changed & VMIO_UART_MSR_CTS)
        delta |= VMIO_UART_MSR_DCTS;
    if (changed & VMIO_UART_MSR_DSR)
        delta |= VMIO_UART_MSR_DDSR;
    if ((old & VMIO_UART_MSR_RI) && !(now & VMIO_UART_MSR_RI))
        delta |= VMIO_UART_MSR_TERI; /* trailing edge only */
    if (changed & VMIO_UART_MSR_DCD)
        delta |= VMIO_UART_MSR_DDCD;
    u->msr = (uint8_t)(now | (u->msr & 0x0f) | delta);
}

/* ---- transmitter ---- */

static void transmit(struct uart16550 *u, uint8_t byte)
{
    /* THR written: THRE drops (the line may fall), then the byte is gone at once. */
    u->thre_pending = false;
    update_irq(u);
    if (u->mcr & VMIO_UART_MCR_LOOP) {
        rx_put(u, byte);
        u->stats.loopback_bytes++;
    } else if (u->cd) {
        int rc = vmio_chardev_write(u->cd, &byte, 1);
        if (rc < 0) {
            u->stats.tx_errors++;
            u->stats.last_tx_error = rc;
        } else {
            u->stats.tx_bytes++;
        }
    } else {
        u->stats.tx_bytes++;
    }
    u->thre_pending = true;
    update_irq(u);
}

/* ---- registers ---- */

static void fcr_write(struct uart16550 *u, uint8_t val)
{
    if (!(val & VMIO_UART_FCR_ENABLE)) {
        /* FIFOs off: both FIFOs are cleared; the other bits are not programmed. */
        if (u->fcr & VMIO_UART_FCR_ENABLE)
            rx_clear(u);
        u->fcr = 0;
        return;
    }
    if (!(u->fcr & VMIO_UART_FCR_ENABLE))
        rx_clear(u); /* mode change clears both FIFOs */
    if (val & VMIO_UART_FCR_CLEAR_RX)
        rx_clear(u);
    /* VMIO_UART_FCR_CLEAR_TX: the TX FIFO is always empty (instant transmission). */
    u->fcr = val & (VMIO_UART_FCR_ENABLE | VMIO_UART_FCR_DMA | VMIO_UART_FCR_TRIGGER_MASK);
}

static uint8_t reg_read(struct uart16550 *u, unsigned reg)
{
    switch (reg) {
    case 0:
        if (u->lcr & VMIO_UART_LCR_DLAB)
            return (uint8_t)(u->divisor & 0xff);
        rx_pull(u);
        return rx_get(u);
    case 1:
        if (u->lcr & VMIO_UART_LCR_DLAB)
            return (uint8_t)(u->divisor >> 8);
        return u->ier;
    case 2: {
        rx_pull(u);
        uint8_t id = iir_id(u);
        if (id == VMIO_UART_IIR_THRI)
            u->thre_pending = false;
        return (uint8_t)(id | ((u->fcr & VMIO_UART_FCR_ENABLE) ? VMIO_UART_IIR_FIFO : 0));
    }
    case 3:
        return u->lcr;
    case 4:
        return u->mcr;
    case 5: {
        rx_pull(u);
        uint8_t v = (uint8_t)(u->lsr_err | VMIO_UART_LSR_THRE | VMIO_UART_LSR_TEMT |
                              (u->rx_count ? VMIO_UART_LSR_DR : 0));
        u->lsr_err = 0;
        return v;
    }
    case 6: {
        uint8_t v = u->msr;
        u->msr &= 0xf0;
        return v;
    }
    default:
        return u->scr;
    }
}

static void reg_write(struct uart16550 *u, unsigned reg, uint8_t val)
{
    switch (reg) {
    case 0:
        if (u->lcr & VMIO_UART_LCR_DLAB)
            u->divisor = (uint16_t)((u->divisor & 0xff00) | val);
        else
            transmit(u, val);
        break;
    case 1:
        if (u->lcr & VMIO_UART_LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | (val << 8));
        } else {
            uint8_t old = u->ier;
            u->ier = val & 0x0f;
            /*
             * THR is always empty, so setting IER.THRI (0 -> 1) arms the THRE
             * interrupt, even after an IIR read acknowledged it; rewriting IER
             * with THRI already set does not (as in QEMU and Bochs).
             */
            if ((u->ier & VMIO_UART_IER_THRI) && !(old & VMIO_UART_IER_THRI))
                u->thre_pending = true;
            else if (!(u->ier & VMIO_UART_IER_THRI))
                u->thre_pending = false;
        }
        break;
    case 2:
        fcr_write(u, val);
        break;
    case 3:
        u->lcr = val;
        break;
    case 4:
        u->mcr = val & 0x1f;
        update_msr(u);
        break;
    case 5: /* LSR: factory test on the chip; writes ignored */
    case 6: /* MSR: read-only here; writes ignored */
        break;
    default:
        u->scr = val;
        break;
    }
}

/*
 * Accesses wider than a byte are split as an ISA bus does: byte i of the
 * access goes to register offset + i, low byte first (the bus guarantees
 * offset + width <= 8).
 */
static int uart_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct uart16550 *u = vmio_container_of(dev, struct uart16550, dev);
    uint64_t v = 0;
    pthread_mutex_lock(&u->lock);
    for (unsigned i = 0; i < width && offset + i < VMIO_UART16550_REG_COUNT; i++)
        v |= (uint64_t)reg_read(u, (unsigned)(offset + i)) << (8 * i);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    *value = v;
    return 0;
}

static int uart_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct uart16550 *u = vmio_container_of(dev, struct uart16550, dev);
    pthread_mutex_lock(&u->lock);
    for (unsigned i = 0; i < width && offset + i < VMIO_UART16550_REG_COUNT; i++) {
        reg_write(u, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
        update_irq(u);
    }
    pthread_mutex_unlock(&u->lock);
    return 0;
}

static void uart_destroy(struct vmio_device *dev)
{
    struct uart16550 *u = vmio_container_of(dev, struct uart16550, dev);
    if (u->cd)
        (void)vmio_chardev_flush(u->cd);
    pthread_mutex_destroy(&u->lock);
    free(u->name);
    free(u);
}

static const struct vmio_device_ops uart_ops = {
    .read = uart_read,
    .write = uart_write,
    .destroy = uart_destroy,
};

/* ---- public API ---- */

static void reset_locked(struct uart16550 *u)
{
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->fcr = 0;
    u->lsr_err = 0;
    u->lines = VMIO_UART16550_MSR_LINES_DEFAULT;
    u->msr = u->lines;
    u->thre_pending = false;
    rx_clear(u);
    update_irq(u);
}

int vmio_uart16550_create(const char *name, struct vmio_chardev *cd, vmio_uart16550_irq_fn irq,
                          void *opaque, struct vmio_device **out, struct vmio_error *err)
{
    if (!name || !*name)
        return vmio_error_set(err, -EINVAL, "uart16550: a device name is required");
    if (!out)
        return vmio_error_set(err, -EINVAL, "uart16550 '%s': no output pointer", name);
    struct uart16550 *u = calloc(1, sizeof(*u));
    if (!u)
        return vmio_error_set(err, -ENOMEM, "uart16550 '%s': out of memory", name);
    u->name = strdup(name);
    if (!u->name) {
        free(u);
        return vmio_error_set(err, -ENOMEM, "uart16550 '%s': out of memory", name);
    }
    pthread_mutex_init(&u->lock, NULL);
    u->dev.name = u->name;
    u->dev.ops = &uart_ops;
    u->cd = cd;
    u->irq = irq;
    u->irq_opaque = opaque;
    u->divisor = 12; /* 9600 baud with the PC's 1.8432 MHz clock */
    reset_locked(u);
    *out = &u->dev;
    return 0;
}

size_t vmio_uart16550_receive(struct vmio_device *dev, const uint8_t *buf, size_t n)
{
    struct uart16550 *u = to_uart(dev);
    if (!u || !buf)
        return 0;
    pthread_mutex_lock(&u->lock);
    size_t k = 0;
    if (!(u->mcr & VMIO_UART_MCR_LOOP)) {
        size_t room = rx_capacity(u) - u->rx_count;
        k = n < room ? n : room;
        for (size_t i = 0; i < k; i++)
            rx_put(u, buf[i]);
        u->stats.rx_bytes += k;
        update_irq(u);
    }
    pthread_mutex_unlock(&u->lock);
    return k;
}

void vmio_uart16550_poll_input(struct vmio_device *dev)
{
    struct uart16550 *u = to_uart(dev);
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    rx_pull(u);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

void vmio_uart16550_reset(struct vmio_device *dev)
{
    struct uart16550 *u = to_uart(dev);
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    reset_locked(u);
    pthread_mutex_unlock(&u->lock);
}

int vmio_uart16550_get_stats(struct vmio_device *dev, struct vmio_uart16550_stats *out)
{
    struct uart16550 *u = to_uart(dev);
    if (!u || !out)
        return -EINVAL;
    pthread_mutex_lock(&u->lock);
    *out = u->stats;
    pthread_mutex_unlock(&u->lock);
    return 0;
}

int vmio_uart16550_irq_level(struct vmio_device *dev)
{
    struct uart16550 *u = to_uart(dev);
    if (!u)
        return 0;
    pthread_mutex_lock(&u->lock);
    int level = u->irq_level;
    pthread_mutex_unlock(&u->lock);
    return level;
}
