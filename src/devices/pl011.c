/*
 * PL011 UART model (include/vmio/pl011.h, docs/devices/pl011.md).
 *
 * State and invariants (under p->lock): rx[] is a ring of rx_count <= 16
 * bytes from rx_head; FR.RXFE is rx_count == 0 and FR.RXFF rx_count == 16,
 * never stored; ris holds the raw interrupt bits, RX recomputed from the
 * FIFO after every change; the level given to the irq callback is
 * (ris & imsc) != 0 and the callback runs only when that level changes.
 * Registers the model does not act on (baud divisors, LCR_H, IFLS, DMACR,
 * ILPR) are stored and read back, so a driver's setup sequence sees its own
 * values.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/pl011.h"

#define RX_DEPTH 16

struct pl011 {
    struct vmio_device dev; /* first */
    pthread_mutex_t lock;
    struct vmio_chardev *cd;
    pl011_irq_fn irq;
    void *opaque;
    int level;
    uint8_t rx[RX_DEPTH];
    unsigned rx_head, rx_count;
    uint32_t ibrd, fbrd, lcr_h, cr, ifls, imsc, ris, dmacr, ilpr;
};

/* PrimeCell identification: part 0x011, designer ARM (0x41), revision 1; then 0xb105f00d. */
static const uint8_t id_words[8] = {0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

static void update_irq(struct pl011 *p)
{
    p->ris = (p->ris & ~(uint32_t)PL011_INT_RX) | (p->rx_count ? PL011_INT_RX : 0);
    int level = (p->ris & p->imsc) != 0;
    if (level != p->level) {
        p->level = level;
        if (p->irq)
            p->irq(p->opaque, level);
    }
}

/* Pull host input into the receive FIFO. */
static void pull_input(struct pl011 *p)
{
    if (!p->cd || p->rx_count == RX_DEPTH || !vmio_chardev_has_input(p->cd))
        return;
    uint8_t buf[RX_DEPTH];
    ssize_t n = vmio_chardev_read_nonblock(p->cd, buf, RX_DEPTH - p->rx_count);
    for (ssize_t i = 0; i < n; i++)
        p->rx[(p->rx_head + p->rx_count++) % RX_DEPTH] = buf[i];
}

static uint32_t reg_read(struct pl011 *p, uint64_t off)
{
    switch (off) {
    case PL011_DR: {
        pull_input(p);
        if (!p->rx_count)
            return 0;
        uint8_t b = p->rx[p->rx_head];
        p->rx_head = (p->rx_head + 1) % RX_DEPTH;
        p->rx_count--;
        return b;
    }
    case PL011_RSR:
        return 0;
    case PL011_FR:
        pull_input(p);
        return PL011_FR_TXFE | (p->rx_count ? 0 : PL011_FR_RXFE) |
               (p->rx_count == RX_DEPTH ? PL011_FR_RXFF : 0);
    case PL011_ILPR:
        return p->ilpr;
    case PL011_IBRD:
        return p->ibrd;
    case PL011_FBRD:
        return p->fbrd;
    case PL011_LCR_H:
        return p->lcr_h;
    case PL011_CR:
        return p->cr;
    case PL011_IFLS:
        return p->ifls;
    case PL011_IMSC:
        return p->imsc;
    case PL011_RIS:
        return p->ris;
    case PL011_MIS:
        return p->ris & p->imsc;
    case PL011_DMACR:
        return p->dmacr;
    }
    if (off >= PL011_PERIPH_ID0 && off < PL011_PERIPH_ID0 + 32 && (off & 3) == 0)
        return id_words[(off - PL011_PERIPH_ID0) / 4];
    return 0;
}

static void reg_write(struct pl011 *p, uint64_t off, uint32_t v)
{
    switch (off) {
    case PL011_DR: {
        uint8_t b = (uint8_t)v;
        if (p->cd)
            (void)vmio_chardev_write(p->cd, &b, 1);
        p->ris |= PL011_INT_TX; /* the FIFO drained at once */
        break;
    }
    case PL011_ILPR:
        p->ilpr = v & 0xff;
        break;
    case PL011_IBRD:
        p->ibrd = v & 0xffff;
        break;
    case PL011_FBRD:
        p->fbrd = v & 0x3f;
        break;
    case PL011_LCR_H:
        p->lcr_h = v & 0xff;
        break;
    case PL011_CR:
        p->cr = v & 0xffff;
        break;
    case PL011_IFLS:
        p->ifls = v & 0x3f;
        break;
    case PL011_IMSC:
        p->imsc = v & 0x7ff;
        break;
    case PL011_ICR:
        p->ris &= ~v;
        break;
    case PL011_DMACR:
        p->dmacr = v & 7;
        break;
    default: /* RSR/ECR (no errors are produced), FR, RIS, MIS, IDs: read-only */
        break;
    }
    update_irq(p);
}

/* Accesses: widths 1, 2, 4 on a register; a narrow access sees the register's low bytes shifted. */
static int pl011_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    struct pl011 *p = (struct pl011 *)dev;
    uint64_t offset = io->offset;
    unsigned width = io->width;
    if (width == 8 || offset >= PL011_SIZE) {
        *value = ~0ull;
        return 0;
    }
    pthread_mutex_lock(&p->lock);
    uint32_t r = reg_read(p, offset & ~3ull);
    update_irq(p);
    pthread_mutex_unlock(&p->lock);
    *value = (r >> (8 * (offset & 3))) & (width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1);
    return 0;
}

static int pl011_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    struct pl011 *p = (struct pl011 *)dev;
    uint64_t offset = io->offset;
    unsigned width = io->width;
    if (width == 8 || offset >= PL011_SIZE || (offset & 3) + width > 4)
        return 0;
    pthread_mutex_lock(&p->lock);
    reg_write(p, offset & ~3ull, (uint32_t)(value << (8 * (offset & 3))));
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void pl011_destroy(struct vmio_device *dev)
{
    struct pl011 *p = (struct pl011 *)dev;
    if (p->cd)
        (void)vmio_chardev_flush(p->cd);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static const struct vmio_device_ops pl011_ops = {
    .read = pl011_read, .write = pl011_write, .destroy = pl011_destroy};

int vmio_pl011_create(const char *name, struct vmio_chardev *cd, pl011_irq_fn irq, void *opaque,
                      struct vmio_device **out, struct vmio_error *err)
{
    if (!name || !*name)
        return vmio_error_set(err, -EINVAL, "pl011: a device needs a name");
    struct pl011 *p = calloc(1, sizeof(*p));
    if (!p)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    p->dev.name = name;
    p->dev.ops = &pl011_ops;
    pthread_mutex_init(&p->lock, NULL);
    p->cd = cd;
    p->irq = irq;
    p->opaque = opaque;
    p->cr = 0x300;
    p->ifls = 0x12;
    *out = &p->dev;
    return 0;
}

bool vmio_pl011_is(const struct vmio_device *dev)
{
    return dev && dev->ops == &pl011_ops;
}

void vmio_pl011_poll_input(struct vmio_device *dev)
{
    if (!vmio_pl011_is(dev))
        return;
    struct pl011 *p = (struct pl011 *)dev;
    pthread_mutex_lock(&p->lock);
    pull_input(p);
    update_irq(p);
    pthread_mutex_unlock(&p->lock);
}
