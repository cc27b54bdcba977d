/*
 * Interrupt wiring unit tests (no KVM): a 16550's irq callback connected to
 * a struct vmio_irq_line whose setter is a fake that records (gsi, level),
 * exactly as vmio_add_standard_devices() and vmio_config_build_vm() connect
 * COM1 to the VM's GSI 4; failing setters are counted on the line; and what
 * vmio_config_runnable() accepts and refuses for interrupt_mode and irq_id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/config.h"
#include "vmio/uart16550.h"
#include "vmio/vm.h"

#define MAX_CALLS 32

struct fake_chip {
    unsigned gsi[MAX_CALLS];
    int level[MAX_CALLS];
    unsigned n;
    int fail; /* returned by the setter when non-zero */
};

static int fake_set(void *ctx, unsigned gsi, int level)
{
    struct fake_chip *c = ctx;
    if (c->n < MAX_CALLS) {
        c->gsi[c->n] = gsi;
        c->level[c->n] = level;
    }
    c->n++;
    return c->fail;
}

static void wr(struct vmio_device *d, unsigned reg, uint8_t v)
{
    assert_int_equal(vmio_device_write(d, reg, 1, v), 0);
}

static uint8_t rd(struct vmio_device *d, unsigned reg)
{
    uint64_t v = 0;
    assert_int_equal(vmio_device_read(d, reg, 1, &v), 0);
    return (uint8_t)v;
}

/* The UART's line levels reach the setter with the line's GSI, edge by edge. */
static void test_uart_drives_line(void **state)
{
    (void)state;
    struct fake_chip chip = {0};
    struct vmio_irq_line line = {.set = fake_set, .ctx = &chip, .gsi = 4};
    struct vmio_device *u = NULL;
    assert_int_equal(vmio_uart16550_create("com1", NULL, vmio_irq_line_set_level, &line, &u, NULL),
                     0);

    wr(u, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2);
    wr(u, VMIO_UART16550_IER, VMIO_UART_IER_THRI); /* arms THRE: line rises */
    assert_int_equal(chip.n, 1);
    assert_int_equal(chip.gsi[0], 4);
    assert_int_equal(chip.level[0], 1);

    assert_int_equal(rd(u, VMIO_UART16550_IIR), VMIO_UART_IIR_THRI); /* clears it: line falls */
    assert_int_equal(chip.n, 2);
    assert_int_equal(chip.level[1], 0);

    wr(u, VMIO_UART16550_THR, 'x'); /* THRE again after the byte: one rising edge */
    assert_int_equal(chip.n, 3);
    assert_int_equal(chip.level[2], 1);

    wr(u, VMIO_UART16550_MCR, 0); /* OUT2 off: the PC's driver releases the line */
    assert_int_equal(chip.n, 4);
    assert_int_equal(chip.level[3], 0);
    wr(u, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2 | VMIO_UART_MCR_LOOP); /* loopback: still low */
    assert_int_equal(chip.n, 4);
    wr(u, VMIO_UART16550_MCR, VMIO_UART_MCR_OUT2);
    assert_int_equal(chip.n, 5);
    assert_int_equal(chip.level[4], 1);

    wr(u, VMIO_UART16550_IER, 0);
    assert_int_equal(chip.n, 6);
    assert_int_equal(chip.level[5], 0);
    for (unsigned i = 0; i < chip.n; i++)
        assert_int_equal(chip.gsi[i], 4);
    assert_int_equal(line.errors, 0);
    u->ops->destroy(u);
}

/* A failing setter is counted on the line, never crashes the device. */
static void test_line_errors(void **state)
{
    (void)state;
    struct fake_chip chip = {.fail = -EIO};
    struct vmio_irq_line line = {.set = fake_set, .ctx = &chip, .gsi = 9};
    vmio_irq_line_set_level(&line, 1);
    vmio_irq_line_set_level(&line, 0);
    assert_int_equal(chip.n, 2);
    assert_int_equal(chip.gsi[0], 9);
    assert_int_equal(line.errors, 2);
    assert_int_equal(line.last_error, -EIO);

    /* Any non-zero level is "high". */
    chip.fail = 0;
    vmio_irq_line_set_level(&line, 7);
    assert_int_equal(chip.level[2], 1);
    assert_int_equal(line.errors, 2);

    /* No line, or a line without a setter: nothing happens. */
    vmio_irq_line_set_level(NULL, 1);
    struct vmio_irq_line empty = {0};
    vmio_irq_line_set_level(&empty, 1);
    assert_int_equal(empty.errors, 0);
}

#define KERNEL "[kernel]\nkernel_path = \"k.elf\"\nmemory_regions = [[0, 0x4000000, 7, 0]]\n"
#define COM(name, port, irq) "[\"" name "\", " port ", 8, " irq ", 0x2, []]"

/* vmio_config_runnable() on @doc: 0, or the error whose message must be @msg. */
static void runnable_is(const char *doc, int code, const char *msg)
{
    struct vmio_config *c = NULL;
    struct vmio_error err = {0};
    if (vmio_config_parse(doc, strlen(doc), "t/vm.toml", &c, &err) != 0)
        fail_msg("parse failed: %s", err.msg);
    int rc = vmio_config_runnable(c, &err);
    if (rc != code || (msg && strcmp(err.msg, msg) != 0))
        fail_msg("runnable: got %d \"%s\", expected %d \"%s\"", rc, err.msg, code, msg ? msg : "");
    vmio_config_free(c);
}

static void test_config_interrupt_mode(void **state)
{
    (void)state;
    /* "emulated" (and "emu") with Consoles on distinct GSIs below 24 run. */
    runnable_is(KERNEL "[devices]\nemu_devices = [" COM("com1", "0x3f8", "4") ", " COM(
                    "com2", "0x2f8", "3") "]\ninterrupt_mode = \"emulated\"\n",
                0, NULL);
    runnable_is(KERNEL "[devices]\nemu_devices = [" COM("com1", "0x3f8",
                                                        "23") "]\ninterrupt_mode = \"emu\"\n",
                0, NULL);
    /* irq_id is not checked without interrupts (AxVM configs often write 0). */
    runnable_is(KERNEL "[devices]\nemu_devices = [" COM("com1", "0x3f8", "99") "]\n", 0, NULL);
    /* A GSI the irqchip does not have. */
    runnable_is(KERNEL "[devices]\nemu_devices = [" COM("com1", "0x3f8",
                                                        "24") "]\ninterrupt_mode = \"emulated\"\n",
                -ENOTSUP,
                "t/vm.toml: line 5, column 16: device 'com1': irq_id 24 with interrupt_mode = "
                "\"emulated\": vmio's interrupt controllers (PIC + IOAPIC) have GSIs 0-23");
    /* Two UARTs on one line. */
    runnable_is(KERNEL "[devices]\nemu_devices = [" COM("com1", "0x3f8", "4") ", " COM(
                    "com3", "0x3e8", "4") "]\ninterrupt_mode = \"emulated\"\n",
                -ENOTSUP,
                "t/vm.toml: line 5, column 48: devices 'com1' and 'com3' share irq_id 4; vmio "
                "wires one device per interrupt line");
    /* Pass-through interrupts stay refused. */
    runnable_is(KERNEL "[devices]\ninterrupt_mode = \"passthrough\"\n", -ENOTSUP,
                "t/vm.toml: interrupt_mode = \"passthrough\" needs host interrupt forwarding, "
                "which vmio does not do");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uart_drives_line),
        cmocka_unit_test(test_line_errors),
        cmocka_unit_test(test_config_interrupt_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
