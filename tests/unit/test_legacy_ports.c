/*
 * Port 0x80, port 0x92 and i8042 tests (no KVM), through a PIO bus as the
 * run loop reaches them. A recording power callback stands in for the
 * machine. Covers: 0x80 reads all-ones at every width and counts writes;
 * 0x92's A20 bit reads back and bit 0 requests one reset per write; the
 * i8042's status register, CTR read/write, self and interface tests, the
 * output port, the loopback output-buffer writes, every reset path (0xfe,
 * the other pulse commands, output-port bit 0) and what must not reset,
 * bytes for the absent keyboard dropped, IBF never set, and the two devices
 * destroyed in either order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/bus.h"
#include "vmio/legacy_ports.h"

struct fixture {
    struct vmio_bus *bus;
    struct vmio_device *p80, *p92, *kbd_data, *kbd_cmd;
    unsigned resets, others;
};

static void power(void *ctx, enum vmio_power_event ev)
{
    struct fixture *f = ctx;
    if (ev == VMIO_POWER_RESET)
        f->resets++;
    else
        f->others++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->bus = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    assert_non_null(f->bus);
    assert_int_equal(vmio_port80_create("port80", &f->p80, NULL), 0);
    assert_int_equal(vmio_port92_create("port92", power, f, &f->p92, NULL), 0);
    assert_int_equal(vmio_i8042_create("i8042", power, f, &f->kbd_data, &f->kbd_cmd, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->p80, 0x80, 1, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->p92, 0x92, 1, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->kbd_data, 0x60, 1, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->kbd_cmd, 0x64, 1, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vmio_bus_free(f->bus);
    f->p80->ops->destroy(f->p80);
    f->p92->ops->destroy(f->p92);
    f->kbd_data->ops->destroy(f->kbd_data);
    f->kbd_cmd->ops->destroy(f->kbd_cmd);
    free(f);
    return 0;
}

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

static void test_port80(void **state)
{
    struct fixture *f = *state;
    uint64_t v;
    for (unsigned w = 1; w <= 8; w *= 2) { /* the device answers any width it is asked */
        assert_int_equal(vmio_device_read(f->p80, 0, w, &v), 0);
        assert_int_equal(v, vmio_width_mask(w));
    }
    uint8_t last = 7;
    uint64_t writes = 7;
    assert_int_equal(vmio_port80_get(f->p80, &last, &writes), 0);
    assert_int_equal(last, 0);
    assert_int_equal(writes, 0);
    out(f, 0x80, 1, 0x12);
    out(f, 0x80, 1, 0x34);
    assert_int_equal(vmio_port80_get(f->p80, &last, &writes), 0);
    assert_int_equal(last, 0x34);
    assert_int_equal(writes, 2);
    assert_int_equal(in(f, 0x80, 1), 0xff);
    assert_int_equal(vmio_port80_get(f->p92, &last, NULL), -EINVAL);
    assert_int_equal(vmio_port80_get(f->p80, NULL, NULL), 0);
}

static void test_port92(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(in(f, 0x92, 1), 0x02); /* A20 on */
    out(f, 0x92, 1, 0x00);
    assert_int_equal(in(f, 0x92, 1), 0x00);
    assert_int_equal(f->resets, 0);
    out(f, 0x92, 1, 0x03); /* A20 on + fast reset */
    assert_int_equal(f->resets, 1);
    assert_int_equal(in(f, 0x92, 1), 0x02); /* bit 0 reads back 0 */
    out(f, 0x92, 1, 0x01);
    assert_int_equal(f->resets, 2);
    out(f, 0x92, 1, 0xf2);
    assert_int_equal(in(f, 0x92, 1), 0xf2);
    assert_int_equal(f->resets, 2);
    assert_int_equal(f->others, 0);
}

static uint8_t status(struct fixture *f)
{
    return (uint8_t)in(f, 0x64, 1);
}

static void command(struct fixture *f, uint8_t cmd)
{
    out(f, 0x64, 1, cmd);
}

/* Read the answer to a command: OBF must be set, and clears once read. */
static uint8_t answer(struct fixture *f)
{
    assert_int_equal(status(f) & 0x01, 0x01);
    uint8_t v = (uint8_t)in(f, 0x60, 1);
    assert_int_equal(status(f) & 0x01, 0);
    return v;
}

static void test_i8042_status_and_ctr(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(status(f), 0x14); /* unlocked, system flag; nothing pending */
    command(f, 0x20);
    assert_int_equal(status(f), 0x1d); /* + OBF, + last write was a command */
    assert_int_equal(answer(f), 0x45);
    command(f, 0x60);
    out(f, 0x60, 1, 0x00); /* CTR without the system flag */
    assert_int_equal(status(f), 0x10);
    command(f, 0x20);
    assert_int_equal(answer(f), 0x00);
    command(f, 0xa7); /* aux off, then on */
    command(f, 0x20);
    assert_int_equal(answer(f), 0x20);
    command(f, 0xa8);
    command(f, 0xad); /* keyboard off */
    command(f, 0x20);
    assert_int_equal(answer(f), 0x10);
    command(f, 0xae);
    command(f, 0x20);
    assert_int_equal(answer(f), 0x00);
    command(f, 0x25); /* other internal RAM: reads 0, writes dropped */
    assert_int_equal(answer(f), 0x00);
    command(f, 0x65);
    out(f, 0x60, 1, 0x77);
    command(f, 0x20);
    assert_int_equal(answer(f), 0x00);
}

static void test_i8042_tests_and_loopback(void **state)
{
    struct fixture *f = *state;
    command(f, 0xaa);
    assert_int_equal(answer(f), 0x55);
    command(f, 0xab);
    assert_int_equal(answer(f), 0x00);
    command(f, 0xa9);
    assert_int_equal(answer(f), 0x00);
    command(f, 0xd2); /* echo as keyboard data */
    out(f, 0x60, 1, 0x5a);
    assert_int_equal(status(f) & 0x21, 0x01);
    assert_int_equal(answer(f), 0x5a);
    command(f, 0xd3); /* echo as mouse data */
    out(f, 0x60, 1, 0xa5);
    assert_int_equal(status(f) & 0x21, 0x21);
    assert_int_equal(answer(f), 0xa5);
    assert_int_equal(status(f) & 0x20, 0);
    command(f, 0xd0);
    assert_int_equal(answer(f), 0x03); /* reset line high, A20 on */
}

static void test_i8042_resets(void **state)
{
    struct fixture *f = *state;
    command(f, 0xfe);
    assert_int_equal(f->resets, 1);
    command(f, 0xff); /* pulses nothing */
    assert_int_equal(f->resets, 1);
    command(f, 0xf0); /* pulses all four lines, the reset line included */
    assert_int_equal(f->resets, 2);
    command(f, 0xf1);
    assert_int_equal(f->resets, 2);
    command(f, 0xd1);
    out(f, 0x60, 1, 0x03); /* output port with the reset line high: A20 only */
    assert_int_equal(f->resets, 2);
    command(f, 0xd0);
    assert_int_equal(answer(f), 0x03);
    command(f, 0xd1);
    out(f, 0x60, 1, 0x02); /* reset line low */
    assert_int_equal(f->resets, 3);
    /* a data byte with no command pending never resets (the CTR write is not the output port) */
    out(f, 0x60, 1, 0x00);
    command(f, 0x60);
    out(f, 0x60, 1, 0x00);
    assert_int_equal(f->resets, 3);
    assert_int_equal(f->others, 0);
}

static void test_i8042_no_keyboard(void **state)
{
    struct fixture *f = *state;
    /* keyboard commands (reset, identify) go nowhere: nothing to read, never busy */
    out(f, 0x60, 1, 0xff);
    out(f, 0x60, 1, 0xf2);
    assert_int_equal(status(f) & 0x03, 0);
    assert_int_equal(status(f) & 0x08, 0); /* last write was data */
    command(f, 0xd4);                      /* to the mouse: dropped too */
    out(f, 0x60, 1, 0xf4);
    assert_int_equal(status(f) & 0x03, 0);
    /* unknown commands are accepted and change nothing */
    command(f, 0xc0);
    command(f, 0xe0);
    assert_int_equal(status(f), 0x1c);
    /* a polling guest: IBF is never set, whatever it writes */
    for (unsigned v = 0; v < 256; v++) {
        command(f, (uint8_t)v == 0xfe || ((v & 0xf0) == 0xf0 && !(v & 1)) ? 0x00 : (uint8_t)v);
        assert_int_equal(status(f) & 0x02, 0);
        out(f, 0x60, 1, v | 1); /* bit 0 set: an output-port write keeps the reset line high */
        assert_int_equal(status(f) & 0x02, 0);
    }
    assert_int_equal(f->resets, 0);
    /* an empty output buffer reads its last byte */
    command(f, 0xaa);
    assert_int_equal(answer(f), 0x55);
    assert_int_equal(in(f, 0x60, 1), 0x55);
}

static void test_create_errors_and_destroy_order(void **state)
{
    (void)state;
    struct vmio_device *a, *b;
    assert_int_equal(vmio_i8042_create("", NULL, NULL, &a, &b, NULL), -EINVAL);
    assert_int_equal(vmio_i8042_create("k", NULL, NULL, NULL, &b, NULL), -EINVAL);
    assert_int_equal(vmio_port80_create("", &a, NULL), -EINVAL);
    assert_int_equal(vmio_port92_create("p", NULL, NULL, NULL, NULL), -EINVAL);
    /* the command device first this time; NULL power callbacks are fine */
    assert_int_equal(vmio_i8042_create("k", NULL, NULL, &a, &b, NULL), 0);
    assert_string_equal(a->name, "k-data");
    assert_string_equal(b->name, "k-cmd");
    assert_int_equal(vmio_device_write(b, 0, 1, 0xfe), 0);
    b->ops->destroy(b);
    uint64_t v;
    assert_int_equal(vmio_device_read(a, 0, 1, &v), 0); /* still usable until its own destroy */
    a->ops->destroy(a);
    assert_int_equal(vmio_port92_create("p", NULL, NULL, &a, NULL), 0);
    assert_int_equal(vmio_device_write(a, 0, 1, 0x01), 0);
    a->ops->destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port80, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port92, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_status_and_ctr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_tests_and_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_i8042_no_keyboard, setup, teardown),
        cmocka_unit_test(test_create_errors_and_destroy_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
