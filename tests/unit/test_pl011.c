/*
 * PL011 model tests through the device interface: transmit reaches the
 * chardev, FR's FIFO flags follow input, DR pops in order, the PrimeCell ID
 * a Linux AMBA probe reads, register read-back, narrow accesses, and the
 * interrupt level (RX and TX through IMSC, cleared by ICR) given to the
 * callback only on changes; the input thread raises RX for bytes that
 * arrive while the guest does not touch the UART.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <errno.h>

#include "vmio/exit.h"
#include "vmio/pl011.h"

static int levels[16];
static unsigned nlevels;
static volatile int level_now; /* the input thread's test reads it while the thread sets it */

static void irq(void *opaque, int level)
{
    (void)opaque;
    __atomic_store_n(&level_now, level, __ATOMIC_SEQ_CST);
    if (nlevels < 16)
        levels[nlevels++] = level;
}

static uint64_t rd(struct vmio_device *d, uint64_t off, unsigned w)
{
    uint64_t v = 0xdead;
    struct vmio_io io = {.offset = off, .width = w, .space = VMIO_SPACE_MMIO, .stop_reason = -1};
    assert_int_equal(d->ops->read(d, &io, &v), 0);
    return v;
}

static void wr(struct vmio_device *d, uint64_t off, unsigned w, uint64_t v)
{
    struct vmio_io io = {.offset = off, .width = w, .space = VMIO_SPACE_MMIO, .stop_reason = -1};
    assert_int_equal(d->ops->write(d, &io, v), 0);
}

static void test_tx_rx_and_flags(void **state)
{
    (void)state;
    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_memory("ab", 2, &cd, NULL), 0);
    struct vmio_device *d;
    assert_int_equal(vmio_pl011_create("pl011", cd, NULL, NULL, &d, NULL), 0);
    wr(d, PL011_DR, 4, 'h');
    wr(d, PL011_DR, 1, 'i');
    char out[8] = {0};
    assert_int_equal(vmio_chardev_memory_take_output(cd, out, sizeof(out)), 2);
    assert_string_equal(out, "hi");
    uint64_t fr = rd(d, PL011_FR, 4);
    assert_true(fr & PL011_FR_TXFE);
    assert_false(fr & (PL011_FR_TXFF | PL011_FR_BUSY | PL011_FR_RXFE));
    assert_int_equal(rd(d, PL011_DR, 4), 'a');
    assert_int_equal(rd(d, PL011_DR, 1), 'b');
    assert_true(rd(d, PL011_FR, 4) & PL011_FR_RXFE);
    assert_int_equal(rd(d, PL011_DR, 4), 0);
    d->ops->destroy(d);
    vmio_chardev_close(cd);
}

static void test_ids_and_registers(void **state)
{
    (void)state;
    struct vmio_device *d;
    assert_int_equal(vmio_pl011_create("pl011", NULL, NULL, NULL, &d, NULL), 0);
    static const uint8_t ids[8] = {0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(rd(d, PL011_PERIPH_ID0 + 4 * i, 4), ids[i]);
    assert_int_equal(rd(d, PL011_CR, 4), 0x300);
    assert_int_equal(rd(d, PL011_IFLS, 4), 0x12);
    wr(d, PL011_IBRD, 4, 13);
    wr(d, PL011_FBRD, 4, 1);
    wr(d, PL011_LCR_H, 4, 0x70);
    wr(d, PL011_CR, 4, 0x301);
    assert_int_equal(rd(d, PL011_IBRD, 4), 13);
    assert_int_equal(rd(d, PL011_FBRD, 4), 1);
    assert_int_equal(rd(d, PL011_LCR_H, 4), 0x70);
    assert_int_equal(rd(d, PL011_CR, 2), 0x301);
    assert_int_equal(rd(d, PL011_CR + 1, 1), 0x03);
    assert_int_equal(rd(d, PL011_CR, 8), ~0ull); /* 8-byte accesses are not the PL011's */
    assert_int_equal(rd(d, PL011_FR, 4) & PL011_FR_RXFE, PL011_FR_RXFE);
    d->ops->destroy(d);
}

static void test_interrupts(void **state)
{
    (void)state;
    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_memory("x", 1, &cd, NULL), 0);
    struct vmio_device *d;
    nlevels = 0;
    assert_int_equal(vmio_pl011_create("pl011", cd, irq, NULL, &d, NULL), 0);
    wr(d, PL011_DR, 4, 'a'); /* TX raw, masked */
    assert_int_equal(nlevels, 0);
    assert_int_equal(rd(d, PL011_RIS, 4) & PL011_INT_TX, PL011_INT_TX);
    assert_int_equal(rd(d, PL011_MIS, 4), 0);
    wr(d, PL011_IMSC, 4, PL011_INT_TX);
    assert_int_equal(nlevels, 1);
    assert_int_equal(levels[0], 1);
    wr(d, PL011_ICR, 4, PL011_INT_TX);
    assert_int_equal(nlevels, 2);
    assert_int_equal(levels[1], 0);
    wr(d, PL011_IMSC, 4, PL011_INT_RX);
    (void)rd(d, PL011_FR, 4); /* pulls the input byte: RX rises */
    assert_int_equal(nlevels, 3);
    assert_int_equal(levels[2], 1);
    assert_int_equal(rd(d, PL011_MIS, 4), PL011_INT_RX);
    assert_int_equal(rd(d, PL011_DR, 4), 'x'); /* the FIFO empties: RX falls */
    assert_int_equal(nlevels, 4);
    assert_int_equal(levels[3], 0);
    d->ops->destroy(d);
    vmio_chardev_close(cd);
}

/* Bytes written to the host side arrive with no guest access: the thread pulls them, RX rises. */
static void test_input_thread(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_stdio_fds(fds[0], -1, &cd, NULL), 0);
    struct vmio_device *d;
    assert_int_equal(vmio_pl011_create("pl011", cd, irq, NULL, &d, NULL), 0);
    wr(d, PL011_IMSC, 4, PL011_INT_RX);
    __atomic_store_n(&level_now, 0, __ATOMIC_SEQ_CST);
    struct vmio_uart_input *in = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_pl011_input_start(d, cd, NULL, &in, &err), 0);
    assert_int_equal(write(fds[1], "hi", 2), 2);
    const struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000 && !__atomic_load_n(&level_now, __ATOMIC_SEQ_CST); i++)
        nanosleep(&ms, NULL); /* bounded: the harness's timeout is the real limit */
    assert_int_equal(__atomic_load_n(&level_now, __ATOMIC_SEQ_CST), 1);
    vmio_uart_input_stop(in);
    assert_int_equal(rd(d, PL011_DR, 4), 'h');
    assert_int_equal(rd(d, PL011_DR, 4), 'i');
    assert_int_equal(rd(d, PL011_FR, 4) & PL011_FR_RXFE, PL011_FR_RXFE);
    /* Refusals: not a PL011, a chardev without input. */
    struct vmio_device other = {.name = "other", .ops = NULL};
    assert_int_equal(vmio_pl011_input_start(&other, cd, NULL, &in, &err), -EINVAL);
    assert_null(in);
    struct vmio_chardev *none;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, -1, &none, NULL), 0);
    assert_int_equal(vmio_pl011_input_start(d, none, NULL, &in, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no input"));
    vmio_chardev_close(none);
    d->ops->destroy(d);
    vmio_chardev_close(cd);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_rx_and_flags),
        cmocka_unit_test(test_ids_and_registers),
        cmocka_unit_test(test_interrupts),
        cmocka_unit_test(test_input_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
