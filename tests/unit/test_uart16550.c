/*
 * 16550A UART model unit tests (no KVM), qtest style: the UART is registered
 * on a PIO bus at 0x3f8 and every access goes through vmio_bus_lookup() and
 * the device ops with the absolute port translated to an offset, as the run
 * loop does. A memory chardev captures output and provides input.
 * Covers every register: reset values, DLAB and the divisor latch, SCR, IER,
 * FIFO enable/clear, IIR priorities and FIFO bits, THRE interrupt semantics,
 * RX FIFO to 16 then overrun, trigger levels and the character timeout,
 * loopback with MSR following MCR and its delta bits, irq callback levels,
 * wide accesses, host input pulled on LSR/RBR reads, reset, stats, threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>

#include "vmio/bus.h"
#include "vmio/chardev.h"
#include "vmio/uart16550.h"

#define COM1 0x3f8

struct fixture {
    struct vmio_bus *bus;
    struct vmio_chardev *cd;
    struct vmio_device *uart;
    int levels[64]; /* irq callback history */
    unsigned nlevels;
};

static void record_irq(void *opaque, int level)
{
    struct fixture *f = opaque;
    if (f->nlevels < 64)
        f->levels[f->nlevels++] = level;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->bus = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    assert_non_null(f->bus);
    assert_int_equal(vmio_chardev_open_memory(NULL, 0, &f->cd, NULL), 0);
    assert_int_equal(vmio_uart16550_create("com1", f->cd, record_irq, f, &f->uart, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->uart, COM1, VMIO_UART16550_REG_COUNT, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vmio_bus_free(f->bus);
    f->uart->ops->destroy(f->uart);
    vmio_chardev_close(f->cd);
    free(f);
    return 0;
}

/* The run loop's path: lookup, translate, call. */
static uint64_t in(struct fixture *f, uint16_t port, unsigned width)
{
    const struct vmio_bus_range *r = vmio_bus_lookup(f->bus, port, width);
    assert_non_null(r);
    uint64_t v = 0xdeadbeef;
    assert_int_equal(vmio_device_read(r->dev, port - r->base, width, &v), 0);
    return v & vmio_width_mask(width);
}

static void out(struct fixture *f, uint16_t port, unsigned width, uint64_t v)
{
    const struct vmio_bus_range *r = vmio_bus_lookup(f->bus, port, width);
    assert_non_null(r);
    assert_int_equal(vmio_device_write(r->dev, port - r->base, width, v), 0);
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
    return (uint8_t)in(f, (uint16_t)(COM1 + reg), 1);
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
    out(f, (uint16_t)(COM1 + reg), 1, v);
}

static size_t take(struct fixture *f, char *buf, size_t size)
{
    return vmio_chardev_memory_take_output(f->cd, buf, size);
}

static void test_reset_values(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rd(f, VMIO_UART16550_IER), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    assert_int_equal(rd(f, VMIO_UART16550_LCR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_MCR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb0);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb0); /* no delta bits to clear */
    assert_int_equal(rd(f, VMIO_UART16550_SCR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x00); /* empty receiver */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    assert_int_equal(vmio_uart16550_irq_level(f->uart), 0);
    assert_int_equal(f->nlevels, 0);
    /* Reads had no side effects on the output. */
    char buf[8];
    assert_int_equal(take(f, buf, sizeof(buf)), 0);
}

static void test_dlab_divisor(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_IER, 0x05);
    wr(f, VMIO_UART16550_LCR, 0x83);
    assert_int_equal(rd(f, VMIO_UART16550_LCR), 0x83);
    assert_int_equal(rd(f, VMIO_UART16550_DLL), 0x0c); /* 9600 baud default */
    assert_int_equal(rd(f, VMIO_UART16550_DLM), 0x00);
    wr(f, VMIO_UART16550_DLL, 0x34);
    wr(f, VMIO_UART16550_DLM, 0x12);
    assert_int_equal(rd(f, VMIO_UART16550_DLL), 0x34);
    assert_int_equal(rd(f, VMIO_UART16550_DLM), 0x12);
    /* IIR and the other registers are reachable with DLAB set. */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    wr(f, VMIO_UART16550_SCR, 0x77);
    assert_int_equal(rd(f, VMIO_UART16550_SCR), 0x77);
    wr(f, VMIO_UART16550_LCR, 0x03);
    assert_int_equal(rd(f, VMIO_UART16550_LCR), 0x03);
    assert_int_equal(rd(f, VMIO_UART16550_IER), 0x05); /* IER untouched by DLM writes */
    /* Divisor writes did not transmit. */
    char buf[8];
    assert_int_equal(take(f, buf, sizeof(buf)), 0);
    wr(f, VMIO_UART16550_LCR, 0x80);
    assert_int_equal(rd(f, VMIO_UART16550_DLL), 0x34);
    assert_int_equal(rd(f, VMIO_UART16550_DLM), 0x12);
    wr(f, VMIO_UART16550_LCR, 0x00);
}

static void test_scr_and_ier_mask(void **state)
{
    struct fixture *f = *state;
    static const uint8_t vals[] = {0x5a, 0xa5, 0x00, 0xff, 0x3c};
    for (unsigned i = 0; i < sizeof(vals); i++) {
        wr(f, VMIO_UART16550_SCR, vals[i]);
        assert_int_equal(rd(f, VMIO_UART16550_SCR), vals[i]);
    }
    wr(f, VMIO_UART16550_IER, 0xff);
    assert_int_equal(rd(f, VMIO_UART16550_IER), 0x0f);
    wr(f, VMIO_UART16550_IER, 0x00);
    wr(f, VMIO_UART16550_MCR, 0xff);
    assert_int_equal(rd(f, VMIO_UART16550_MCR), 0x1f);
    wr(f, VMIO_UART16550_MCR, 0x00);
    /* LSR and MSR writes are ignored. */
    wr(f, VMIO_UART16550_LSR, 0xff);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    wr(f, VMIO_UART16550_MSR, 0x0f);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb4); /* TERI: RI fell leaving loopback */
    wr(f, VMIO_UART16550_MSR, 0x0f);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb0);
}

static void test_transmit(void **state)
{
    struct fixture *f = *state;
    const char *msg = "hello\r\n";
    for (const char *p = msg; *p; p++) {
        assert_int_equal(rd(f, VMIO_UART16550_LSR) & 0x60, 0x60);
        wr(f, VMIO_UART16550_THR, (uint8_t)*p);
        assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60); /* instantaneous */
    }
    char buf[32];
    size_t n = take(f, buf, sizeof(buf));
    assert_int_equal(n, strlen(msg));
    assert_memory_equal(buf, msg, n);
    /* FIFO mode: same. */
    wr(f, VMIO_UART16550_FCR, 0x07);
    for (int i = 0; i < 40; i++)
        wr(f, VMIO_UART16550_THR, (uint8_t)('A' + i % 26));
    assert_int_equal(take(f, buf, sizeof(buf)), 32);
    assert_int_equal(take(f, buf, sizeof(buf)), 8);
    struct vmio_uart16550_stats st;
    assert_int_equal(vmio_uart16550_get_stats(f->uart, &st), 0);
    assert_int_equal(st.tx_bytes, strlen(msg) + 40);
    assert_int_equal(st.tx_errors, 0);
}

static void test_fifo_enable_clear(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_FCR, 0x01);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
    wr(f, VMIO_UART16550_FCR, 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    wr(f, VMIO_UART16550_FCR, 0x07);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);

    const uint8_t data[5] = {1, 2, 3, 4, 5};
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 5), 5);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    /* TX clear alone leaves the RX FIFO. */
    wr(f, VMIO_UART16550_FCR, 0x05);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    /* RX clear empties it. */
    wr(f, VMIO_UART16550_FCR, 0x03);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    /* Turning FIFOs off clears them too. */
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 5), 5);
    wr(f, VMIO_UART16550_FCR, 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    /* Without FIFOs the receiver holds one byte. */
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 5), 1);
    assert_int_equal(vmio_uart16550_receive(f->uart, data + 1, 4), 0);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 1);
    /* Turning FIFOs on clears the holding register. */
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 1), 1);
    wr(f, VMIO_UART16550_FCR, 0x01);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    /* Rewriting FCR with the FIFO still on keeps the contents. */
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 3), 3);
    wr(f, VMIO_UART16550_FCR, 0xc1);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 1);
}

static void test_rx_fifo_backpressure(void **state)
{
    struct fixture *f = *state;
    uint8_t data[20];
    for (int i = 0; i < 20; i++)
        data[i] = (uint8_t)(0x40 + i);
    wr(f, VMIO_UART16550_FCR, 0x07);
    assert_int_equal(vmio_uart16550_receive(f->uart, data, 20), 16);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61); /* full, but nothing lost: no OE */
    assert_int_equal(vmio_uart16550_receive(f->uart, data + 16, 4), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x40 + i);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    /* Empty receiver: 0 with FIFOs... */
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x00);
    assert_int_equal(vmio_uart16550_receive(f->uart, data + 16, 4), 4);
    for (int i = 16; i < 20; i++)
        assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x40 + i);
    /* ...the last byte again without (the holding register keeps it). */
    wr(f, VMIO_UART16550_FCR, 0x00);
    assert_int_equal(vmio_uart16550_receive(f->uart, (const uint8_t *)"q", 1), 1);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'q');
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'q');
    struct vmio_uart16550_stats st;
    vmio_uart16550_get_stats(f->uart, &st);
    assert_int_equal(st.rx_bytes, 21);
    assert_int_equal(st.overruns, 0);
}

static void test_overrun_fifo(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_FCR, 0x07);
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_LOOP);
    for (int i = 0; i < 16; i++)
        wr(f, VMIO_UART16550_THR, (uint8_t)(0x30 + i));
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    wr(f, VMIO_UART16550_THR, 0x7e); /* 17th: lost */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x63);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61); /* OE cleared by the read */
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x30 + i);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    struct vmio_uart16550_stats st;
    vmio_uart16550_get_stats(f->uart, &st);
    assert_int_equal(st.overruns, 1);
    assert_int_equal(st.loopback_bytes, 17);
    assert_int_equal(st.tx_bytes, 0);
    char buf[4];
    assert_int_equal(take(f, buf, sizeof(buf)), 0); /* nothing reached the sink */
}

static void test_overrun_nofifo(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_LOOP);
    wr(f, VMIO_UART16550_THR, 'X');
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    wr(f, VMIO_UART16550_THR, 'Y');
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x63);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'Y'); /* the newest byte overwrote RBR */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    struct vmio_uart16550_stats st;
    vmio_uart16550_get_stats(f->uart, &st);
    assert_int_equal(st.overruns, 1);
}

static void test_iir_priorities(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_FCR, 0x07);                   /* trigger 1 */
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_LOOP);     /* inputs drop from 0xb0 to 0: delta bits */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1); /* IER = 0: nothing */
    wr(f, VMIO_UART16550_IER, 0x0f);
    /* THRE (armed by the IER write) outranks modem status. */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc2);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc0); /* THRE cleared by the read: MSI */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc0); /* MSI stays until MSR is read */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x0b); /* DCD, DSR, CTS fell */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
    /* A byte received: data available outranks THRE (re-armed by the write). */
    wr(f, VMIO_UART16550_THR, 0x11);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc4);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc4); /* does not clear THRE either */
    /* Overrun: line status outranks everything. */
    for (int i = 0; i < 16; i++)
        wr(f, VMIO_UART16550_THR, (uint8_t)i);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc6);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc6);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x63);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc4);
    for (int i = 0; i < 16; i++)
        (void)rd(f, VMIO_UART16550_RBR);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc2);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
    /* Masked sources do not show. */
    wr(f, VMIO_UART16550_IER, 0x00);
    wr(f, VMIO_UART16550_THR, 0x22);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    /* Without FIFOs, bits 7:6 are clear. */
    wr(f, VMIO_UART16550_FCR, 0x00);
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_RDI);
    wr(f, VMIO_UART16550_THR, 0x33);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x04);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 0x33);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
}

static void test_thre_interrupt(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_THRI);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x02);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01); /* cleared by reading IIR */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60); /* THRE itself stays */
    wr(f, VMIO_UART16550_IER,
       VMIO_UART_IER_THRI | VMIO_UART_IER_RDI); /* THRI already set: not re-armed */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    wr(f, VMIO_UART16550_IER, 0x00);
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_THRI); /* re-armed by setting THRI again (0 -> 1) */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x02);
    wr(f, VMIO_UART16550_THR, 'a'); /* THR empty again after the transmission */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x02);
    wr(f, VMIO_UART16550_THR, 'b');
    wr(f, VMIO_UART16550_IER, 0x00); /* disabling drops it */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_THRI);
    wr(f, VMIO_UART16550_FCR, 0x01);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc2);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
}

static void test_trigger_levels(void **state)
{
    struct fixture *f = *state;
    static const uint8_t fcr[] = {0x01, 0x41, 0x81, 0xc1};
    static const unsigned level[] = {1, 4, 8, 14};
    uint8_t data[16];
    memset(data, 'z', sizeof(data));
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_RDI);
    for (unsigned t = 0; t < 4; t++) {
        wr(f, VMIO_UART16550_FCR, (uint8_t)(fcr[t] | VMIO_UART_FCR_CLEAR_RX));
        assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
        if (level[t] > 1) {
            assert_int_equal(vmio_uart16550_receive(f->uart, data, level[t] - 1), level[t] - 1);
            /* Below the trigger level: character timeout (no character clock). */
            assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xcc);
            assert_int_equal(vmio_uart16550_receive(f->uart, data, 1), 1);
        } else {
            assert_int_equal(vmio_uart16550_receive(f->uart, data, 1), 1);
        }
        assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc4);
        /* Reading one byte drops below the trigger: timeout, or nothing. */
        (void)rd(f, VMIO_UART16550_RBR);
        assert_int_equal(rd(f, VMIO_UART16550_IIR), level[t] > 1 ? 0xcc : 0xc1);
    }
}

static void test_loopback_msr(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_MCR, 0x10);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x0b); /* DCD/DSR/CTS fell: deltas */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x00);
    wr(f, VMIO_UART16550_MCR, 0x11); /* DTR -> DSR */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x22);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x20);
    wr(f, VMIO_UART16550_MCR, 0x13); /* RTS -> CTS */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x31);
    wr(f, VMIO_UART16550_MCR, 0x17); /* OUT1 -> RI, leading edge: no TERI */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x70);
    wr(f, VMIO_UART16550_MCR, 0x13); /* RI trailing edge: TERI */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0x34);
    wr(f, VMIO_UART16550_MCR, 0x1b); /* OUT2 -> DCD */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb8);
    wr(f, VMIO_UART16550_MCR, 0x1f);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xf0);
    assert_int_equal(rd(f, VMIO_UART16550_MCR), 0x1f);
    /* Deltas accumulate until read. */
    wr(f, VMIO_UART16550_MCR, 0x10);
    wr(f, VMIO_UART16550_MCR, 0x1f);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xff); /* RI fell then rose: TERI too */
    /* Leaving loopback: back to the external lines (0xb0): RI fell. */
    wr(f, VMIO_UART16550_MCR, 0x0b);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb4);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb0);
    /* Modem status interrupt. */
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_MSI);
    wr(f, VMIO_UART16550_MCR, 0x1b); /* loop inputs DCD|DSR|CTS = the external lines: no delta */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    wr(f, VMIO_UART16550_MCR, 0x19); /* RTS off: CTS falls */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x00); /* IIR read does not clear it */
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xa1);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
}

static void test_loopback_data(void **state)
{
    struct fixture *f = *state;
    vmio_chardev_memory_feed(f->cd, "host", 4);
    wr(f, VMIO_UART16550_FCR, 0x07);
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_LOOP);
    /* The line is disconnected: host input is neither pulled nor accepted. */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    assert_int_equal(vmio_uart16550_receive(f->uart, (const uint8_t *)"x", 1), 0);
    static const uint8_t bytes[] = {'v', 'm', 'i', 'o', 0x00, 0xff};
    for (unsigned i = 0; i < sizeof(bytes); i++)
        wr(f, VMIO_UART16550_THR, bytes[i]);
    for (unsigned i = 0; i < sizeof(bytes); i++) {
        assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
        assert_int_equal(rd(f, VMIO_UART16550_RBR), bytes[i]);
    }
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    char buf[8];
    assert_int_equal(take(f, buf, sizeof(buf)), 0);
    /* Back on the line: the host input arrives. */
    wr(f, VMIO_UART16550_MCR, 0x03);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rd(f, VMIO_UART16550_RBR), "host"[i]);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
}

static void test_host_input_pull(void **state)
{
    struct fixture *f = *state;
    /* FIFOs off: one byte at a time. */
    vmio_chardev_memory_feed(f->cd, "abc", 3);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'a');
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'b'); /* RBR read pulls too */
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x61);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'c');
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    /* FIFOs on: up to 16 per pull, the rest stays in the chardev. */
    wr(f, VMIO_UART16550_FCR, 0x07);
    char many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (char)('0' + i);
    vmio_chardev_memory_feed(f->cd, many, sizeof(many));
    for (int i = 0; i < 40; i++) {
        assert_int_equal(rd(f, VMIO_UART16550_LSR) & VMIO_UART_LSR_DR, VMIO_UART_LSR_DR);
        assert_int_equal(rd(f, VMIO_UART16550_RBR), '0' + i);
    }
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    struct vmio_uart16550_stats st;
    vmio_uart16550_get_stats(f->uart, &st);
    assert_int_equal(st.rx_bytes, 43);
    assert_int_equal(st.overruns, 0);
    /* poll_input for host threads. */
    vmio_chardev_memory_feed(f->cd, "Z", 1);
    vmio_uart16550_poll_input(f->uart);
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_RDI);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc4); /* trigger level 1 */
    wr(f, VMIO_UART16550_FCR, 0x41);                   /* level 4: below it, timeout */
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xcc);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'Z');
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0xc1);
}

static void test_irq_levels(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_THRI);
    assert_int_equal(f->nlevels, 0); /* OUT2 clear: the PC's IRQ driver is off */
    assert_int_equal(vmio_uart16550_irq_level(f->uart), 0);
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2);
    assert_int_equal(f->nlevels, 1);
    assert_int_equal(f->levels[0], 1);
    assert_int_equal(vmio_uart16550_irq_level(f->uart), 1);
    (void)rd(f, VMIO_UART16550_IIR); /* acknowledges THRE */
    assert_int_equal(f->nlevels, 2);
    assert_int_equal(f->levels[1], 0);
    wr(f, VMIO_UART16550_THR, 'q'); /* THR empties again: a new rising edge */
    assert_int_equal(f->nlevels, 3);
    assert_int_equal(f->levels[2], 1);
    wr(f, VMIO_UART16550_THR, 'r'); /* pending -> write drops it -> transmitted -> rises */
    assert_int_equal(f->nlevels, 5);
    assert_int_equal(f->levels[3], 0);
    assert_int_equal(f->levels[4], 1);
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2 | VMIO_UART_MCR_LOOP); /* loopback gates it */
    assert_int_equal(f->nlevels, 6);
    assert_int_equal(f->levels[5], 0);
    wr(f, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2);
    assert_int_equal(f->nlevels, 7);
    assert_int_equal(f->levels[6], 1);
    wr(f, VMIO_UART16550_IER, 0);
    assert_int_equal(f->nlevels, 8);
    assert_int_equal(f->levels[7], 0);
    /* Receive data with RDI enabled. */
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_RDI);
    assert_int_equal(f->nlevels, 8);
    assert_int_equal(vmio_uart16550_receive(f->uart, (const uint8_t *)"k", 1), 1);
    assert_int_equal(f->nlevels, 9);
    assert_int_equal(f->levels[8], 1);
    assert_int_equal(rd(f, VMIO_UART16550_RBR), 'k');
    assert_int_equal(f->nlevels, 10);
    assert_int_equal(f->levels[9], 0);
    struct vmio_uart16550_stats st;
    vmio_uart16550_get_stats(f->uart, &st);
    assert_int_equal(st.irq_raises, 5);
    /* Reset lowers the line. */
    wr(f, VMIO_UART16550_IER, VMIO_UART_IER_THRI);
    assert_int_equal(vmio_uart16550_irq_level(f->uart), 1);
    vmio_uart16550_reset(f->uart);
    assert_int_equal(vmio_uart16550_irq_level(f->uart), 0);
}

static void test_wide_accesses(void **state)
{
    struct fixture *f = *state;
    /* 2 bytes at MSR: MSR write ignored, SCR written; read MSR | SCR << 8. */
    out(f, COM1 + 6, 2, 0xab00);
    assert_int_equal(rd(f, VMIO_UART16550_SCR), 0xab);
    assert_int_equal(in(f, COM1 + 6, 2), 0xabb0);
    /* 4 bytes at MCR: MCR, LSR, MSR, SCR. */
    assert_int_equal(in(f, COM1 + 4, 4), 0xabb06000);
    /* 8 bytes at 0: every register once, low byte first. */
    wr(f, VMIO_UART16550_LCR, 0x03);
    assert_int_equal(in(f, COM1, 8), 0xabb0600003010000ULL);
    /* 2-byte write with DLAB: DLL and DLM together. */
    wr(f, VMIO_UART16550_LCR, 0x83);
    out(f, COM1, 2, 0x0201);
    assert_int_equal(in(f, COM1, 2), 0x0201);
    wr(f, VMIO_UART16550_LCR, 0x03);
    /* 2-byte write at THR: transmits the low byte and writes IER with the high. */
    out(f, COM1, 2, 0x0041);
    char buf[4];
    assert_int_equal(take(f, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'A');
    /* Accesses running off the UART are unclaimed by the bus. */
    assert_null(vmio_bus_lookup(f->bus, COM1 + 7, 2));
    assert_null(vmio_bus_lookup(f->bus, COM1 + 4, 8));
    assert_non_null(vmio_bus_lookup(f->bus, COM1 + 7, 1));
}

static void test_reset_api(void **state)
{
    struct fixture *f = *state;
    wr(f, VMIO_UART16550_LCR, 0x80);
    wr(f, VMIO_UART16550_DLL, 0x01);
    wr(f, VMIO_UART16550_LCR, 0x1b);
    wr(f, VMIO_UART16550_IER, 0x0f);
    wr(f, VMIO_UART16550_FCR, 0xc7);
    wr(f, VMIO_UART16550_MCR, 0x1f);
    wr(f, VMIO_UART16550_SCR, 0x99);
    wr(f, VMIO_UART16550_THR, 1);
    vmio_uart16550_reset(f->uart);
    assert_int_equal(rd(f, VMIO_UART16550_IER), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_IIR), 0x01);
    assert_int_equal(rd(f, VMIO_UART16550_LCR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_MCR), 0x00);
    assert_int_equal(rd(f, VMIO_UART16550_LSR), 0x60);
    assert_int_equal(rd(f, VMIO_UART16550_MSR), 0xb0);
    assert_int_equal(rd(f, VMIO_UART16550_SCR), 0x99); /* kept, as on the chip */
    wr(f, VMIO_UART16550_LCR, 0x80);
    assert_int_equal(rd(f, VMIO_UART16550_DLL), 0x01); /* kept */
}

static void test_api_errors(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_uart16550_create(NULL, NULL, NULL, NULL, &d, &err), -EINVAL);
    assert_int_equal(vmio_uart16550_create("", NULL, NULL, NULL, &d, NULL), -EINVAL);
    assert_int_equal(vmio_uart16550_create("x", NULL, NULL, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "x"));
    /* No chardev: output dropped, no input, no crash. */
    assert_int_equal(vmio_uart16550_create("bare", NULL, NULL, NULL, &d, NULL), 0);
    assert_string_equal(d->name, "bare");
    assert_true(vmio_uart16550_is(d));
    uint64_t v;
    vmio_device_write(d, 0, 1, 'x');
    vmio_device_read(d, 5, 1, &v);
    assert_int_equal(v, 0x60);
    struct vmio_uart16550_stats st;
    assert_int_equal(vmio_uart16550_get_stats(d, &st), 0);
    assert_int_equal(st.tx_bytes, 1);
    /* The other entry points refuse non-UART devices. */
    struct vmio_device other = {.name = "other", .ops = NULL};
    assert_false(vmio_uart16550_is(&other));
    assert_int_equal(vmio_uart16550_receive(&other, (const uint8_t *)"a", 1), 0);
    assert_int_equal(vmio_uart16550_get_stats(&other, &st), -EINVAL);
    assert_int_equal(vmio_uart16550_irq_level(&other), 0);
    vmio_uart16550_reset(&other);
    vmio_uart16550_poll_input(&other);
    d->ops->destroy(d);
}

struct thread_arg {
    struct fixture *f;
    char c;
};

static void *writer(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 2000; i++) {
        (void)rd(a->f, VMIO_UART16550_LSR);
        wr(a->f, VMIO_UART16550_THR, (uint8_t)a->c);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){f, (char)('a' + i)};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    static char buf[9000];
    size_t n = take(f, buf, sizeof(buf));
    assert_int_equal(n, 8000);
    unsigned counts[4] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(buf[i] >= 'a' && buf[i] <= 'd');
        counts[buf[i] - 'a']++;
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(counts[i], 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlab_divisor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scr_and_ier_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_enable_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_fifo_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun_nofifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trigger_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_msr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_input_pull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wide_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_api, setup, teardown),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
