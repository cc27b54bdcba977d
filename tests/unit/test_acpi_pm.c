/*
 * ACPI power device unit tests (vmio/acpi_pm.h): the sleep control, sleep
 * status and reset registers at every offset and width, the power events
 * they raise (exactly when the specification says, never otherwise), the
 * device on a PIO bus through vmio_dispatch(), the FADT built from
 * vmio_acpi_pm_describe() pointing at the registers that act, and its ports
 * clashing with none of vmio's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/acpi.h"
#include "vmio/acpi_pm.h"
#include "vmio/bus.h"
#include "vmio/dispatch.h"

struct events {
    unsigned off, reset, other;
    enum vmio_power_event order[8];
    unsigned n;
};

static void on_power(void *ctx, enum vmio_power_event ev)
{
    struct events *e = ctx;
    if (ev == VMIO_POWER_OFF)
        e->off++;
    else if (ev == VMIO_POWER_RESET)
        e->reset++;
    else
        e->other++;
    if (e->n < 8)
        e->order[e->n++] = ev;
}

static struct vmio_device *make(struct events *e)
{
    memset(e, 0, sizeof(*e));
    struct vmio_device *d = NULL;
    assert_int_equal(vmio_acpi_pm_create("acpi-pm", on_power, e, &d, NULL), 0);
    assert_non_null(d);
    assert_string_equal(d->name, "acpi-pm");
    return d;
}

static uint64_t rd(struct vmio_device *d, uint64_t off, unsigned w)
{
    uint64_t v = 0xdeadbeefdeadbeefULL;
    assert_int_equal(vmio_device_read(d, off, w, &v), 0);
    return v;
}

static void wr(struct vmio_device *d, uint64_t off, unsigned w, uint64_t v)
{
    assert_int_equal(vmio_device_write(d, off, w, v), 0);
}

#define S5_EN ((VMIO_ACPI_PM_S5_SLP_TYP << 2) | 0x20) /* what Linux writes for poweroff */

static void test_create_errors(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_acpi_pm_create(NULL, NULL, NULL, &d, &err), -EINVAL);
    assert_int_equal(vmio_acpi_pm_create("", NULL, NULL, &d, &err), -EINVAL);
    assert_int_equal(vmio_acpi_pm_create("pm", NULL, NULL, NULL, &err), -EINVAL);
    assert_null(d);
    /* No callback: events are dropped, nothing breaks. */
    assert_int_equal(vmio_acpi_pm_create("pm", NULL, NULL, &d, &err), 0);
    wr(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1, S5_EN);
    wr(d, VMIO_ACPI_PM_RESET, 1, VMIO_ACPI_PM_RESET_VALUE);
    d->ops->destroy(d);
}

static void test_power_on_state_reads_zero(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    for (unsigned off = 0; off < VMIO_ACPI_PM_PORT_COUNT; off++)
        assert_int_equal(rd(d, off, 1), 0);
    assert_int_equal(rd(d, 0, 4), 0);
    assert_int_equal(rd(d, 0, 2), 0);
    assert_int_equal(rd(d, 2, 2), 0);
    assert_int_equal(e.off + e.reset + e.other, 0);
    d->ops->destroy(d);
}

static void test_s5_powers_off(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    /* ACPICA's sequence: clear WAK_STS, then SLP_TYP | SLP_EN. */
    wr(d, VMIO_ACPI_PM_SLEEP_STATUS, 1, VMIO_ACPI_PM_WAK_STS);
    assert_int_equal(e.off, 0);
    wr(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1, S5_EN);
    assert_int_equal(e.off, 1);
    assert_int_equal(e.reset + e.other, 0);
    /* SLP_TYP reads back; SLP_EN is write-only and reads 0. */
    assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1), VMIO_ACPI_PM_S5_SLP_TYP << 2);
    /* Not a sleep: WAK_STS stays clear (the machine is going off). */
    assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_STATUS, 1), 0);
    d->ops->destroy(d);
}

static void test_slp_typ_without_slp_en_does_nothing(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    wr(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1, VMIO_ACPI_PM_S5_SLP_TYP << 2);
    assert_int_equal(e.off + e.reset + e.other, 0);
    assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1), VMIO_ACPI_PM_S5_SLP_TYP << 2);
    /* Reserved bits (0, 1, 6, 7) are not kept and do not act. */
    wr(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1, 0xC3);
    assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1), 0);
    assert_int_equal(e.off + e.reset + e.other, 0);
    d->ops->destroy(d);
}

static void test_other_sleep_types_wake_at_once(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    for (unsigned typ = 0; typ < 8; typ++) {
        if (typ == VMIO_ACPI_PM_S5_SLP_TYP)
            continue;
        wr(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1, (typ << 2) | VMIO_ACPI_PM_SLP_EN);
        assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_STATUS, 1), VMIO_ACPI_PM_WAK_STS);
        assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_CONTROL, 1), typ << 2);
        /* Write-1-to-clear: 0 bits change nothing, the 1 in bit 7 clears. */
        wr(d, VMIO_ACPI_PM_SLEEP_STATUS, 1, 0x00);
        wr(d, VMIO_ACPI_PM_SLEEP_STATUS, 1, 0x7F);
        assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_STATUS, 1), VMIO_ACPI_PM_WAK_STS);
        wr(d, VMIO_ACPI_PM_SLEEP_STATUS, 1, 0xFF);
        assert_int_equal(rd(d, VMIO_ACPI_PM_SLEEP_STATUS, 1), 0);
    }
    assert_int_equal(e.off + e.reset + e.other, 0);
    d->ops->destroy(d);
}

static void test_reset_register(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    const uint8_t others[] = {0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x0E, 0x86, 0xFF};
    for (size_t i = 0; i < sizeof(others); i++)
        wr(d, VMIO_ACPI_PM_RESET, 1, others[i]);
    assert_int_equal(e.reset, 0);
    wr(d, VMIO_ACPI_PM_RESET, 1, VMIO_ACPI_PM_RESET_VALUE);
    assert_int_equal(e.reset, 1);
    assert_int_equal(e.off + e.other, 0);
    assert_int_equal(rd(d, VMIO_ACPI_PM_RESET, 1), 0); /* write-only: reads 0 */
    /* The reserved byte: reads 0, writes do nothing. */
    wr(d, 3, 1, VMIO_ACPI_PM_RESET_VALUE);
    wr(d, 3, 1, S5_EN);
    assert_int_equal(rd(d, 3, 1), 0);
    assert_int_equal(e.reset, 1);
    assert_int_equal(e.off, 0);
    d->ops->destroy(d);
}

static void test_wide_accesses_are_byte_lanes(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);

    /* Set WAK_STS and SLP_TYP 3 through a 2-byte write at 0 (lane 1 writes 0: no clear). */
    wr(d, 0, 2, (3u << 2) | VMIO_ACPI_PM_SLP_EN);
    assert_int_equal(rd(d, 0, 4), (3u << 2) | (VMIO_ACPI_PM_WAK_STS << 8));
    assert_int_equal(rd(d, 0, 2), (3u << 2) | (VMIO_ACPI_PM_WAK_STS << 8));
    assert_int_equal(rd(d, 1, 2), VMIO_ACPI_PM_WAK_STS);
    assert_int_equal(rd(d, 1, 1), VMIO_ACPI_PM_WAK_STS);
    assert_int_equal(rd(d, 2, 2), 0);

    /* One dword: lane 0 powers off, lane 1 clears WAK_STS, lane 2 resets, lowest first. */
    wr(d, 0, 4, S5_EN | (VMIO_ACPI_PM_WAK_STS << 8) | ((uint32_t)VMIO_ACPI_PM_RESET_VALUE << 16));
    assert_int_equal(e.n, 2);
    assert_int_equal(e.order[0], VMIO_POWER_OFF);
    assert_int_equal(e.order[1], VMIO_POWER_RESET);
    assert_int_equal(rd(d, 1, 1), 0);

    /* A word at offset 2 reaches the reset register in its low lane only. */
    wr(d, 2, 2, (uint32_t)VMIO_ACPI_PM_RESET_VALUE << 8);
    assert_int_equal(e.reset, 1);
    wr(d, 2, 2, VMIO_ACPI_PM_RESET_VALUE);
    assert_int_equal(e.reset, 2);
    /* A word at offset 1: sleep status, then reset. */
    wr(d, 1, 2, (uint32_t)VMIO_ACPI_PM_RESET_VALUE << 8);
    assert_int_equal(e.reset, 3);
    assert_int_equal(e.off, 1);
    d->ops->destroy(d);
}

static void test_on_a_pio_bus(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    struct vmio_bus *pio = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    struct vmio_bus *mmio = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    assert_non_null(pio);
    assert_non_null(mmio);
    assert_int_equal(
        vmio_bus_register(pio, d, VMIO_ACPI_PM_PORT_BASE, VMIO_ACPI_PM_PORT_COUNT, NULL), 0);
    struct vmio_dispatcher disp = {.mmio = mmio, .pio = pio, .policy = VMIO_UNCLAIMED_IGNORE};

    /* outb(0x14 | 0x20, 0x600): the guest's poweroff. */
    struct vmio_exit x = {.reason = VMIO_EXIT_IO};
    x.access = (struct vmio_access){.space = VMIO_SPACE_PIO,
                                    .dir = VMIO_WRITE,
                                    .width = 1,
                                    .count = 1,
                                    .addr = VMIO_ACPI_PM_PORT_BASE,
                                    .data = S5_EN,
                                    .reg = VMIO_REG_NONE};
    assert_int_equal(vmio_dispatch(&disp, &x, NULL), 0);
    assert_int_equal(e.off, 1);

    /* inl(0x600) covers all four registers. */
    x.access.dir = VMIO_READ;
    x.access.width = 4;
    x.access.data = 0;
    assert_int_equal(vmio_dispatch(&disp, &x, NULL), 0);
    assert_int_equal(x.access.data, VMIO_ACPI_PM_S5_SLP_TYP << 2);

    /* outb(6, 0x602): reset. */
    x.access.dir = VMIO_WRITE;
    x.access.width = 1;
    x.access.addr = VMIO_ACPI_PM_PORT_BASE + VMIO_ACPI_PM_RESET;
    x.access.data = VMIO_ACPI_PM_RESET_VALUE;
    assert_int_equal(vmio_dispatch(&disp, &x, NULL), 0);
    assert_int_equal(e.reset, 1);

    vmio_bus_free(pio);
    vmio_bus_free(mmio);
    d->ops->destroy(d);
}

/* The FADT and \_S5 built from vmio_acpi_pm_describe() point at registers that act. */
static void test_described_registers_match_the_device(void **state)
{
    (void)state;
    struct events e;
    struct vmio_device *d = make(&e);
    uint32_t apic_id = 0;
    struct vmio_acpi_machine m = {
        .cpu_count = 1,
        .apic_ids = &apic_id,
        .lapic_addr = VMIO_ACPI_LAPIC_ADDR_DEFAULT,
        .ioapic_addr = VMIO_ACPI_IOAPIC_ADDR_DEFAULT,
        .ioapic_pins = VMIO_ACPI_IOAPIC_PINS_DEFAULT,
    };
    vmio_acpi_pm_describe(0x1200, &m);
    assert_int_equal(m.sleep_control.space_id, VMIO_ACPI_SPACE_IO);
    assert_int_equal(m.sleep_control.bit_width, 8);
    assert_int_equal(m.sleep_control.access_size, VMIO_ACPI_ACCESS_BYTE);
    assert_int_equal(m.sleep_control.address, 0x1200);
    assert_int_equal(m.sleep_status.address, 0x1201);
    assert_int_equal(m.reset_reg.address, 0x1202);
    assert_int_equal(m.reset_value, VMIO_ACPI_PM_RESET_VALUE);
    assert_int_equal(m.s5_sleep_type, VMIO_ACPI_PM_S5_SLP_TYP);

    uint8_t buf[1024];
    struct vmio_acpi_tables t;
    assert_int_equal(vmio_acpi_build(&m, 0xE0000, buf, sizeof(buf), &t, NULL), 0);
    const uint8_t *fadt = buf + t.fadt.offset;
    /* What an OS does: SLP_TYPa from \_S5 (first element: 0A <typ> after the package header). */
    const uint8_t *aml = buf + t.dsdt.offset + 36;
    assert_memory_equal(aml, "\x08_S5_\x12", 6);
    assert_int_equal(aml[8], 0x0A);
    uint8_t slp_typ = aml[9];
    uint16_t ctl = (uint16_t)(fadt[248] | fadt[249] << 8);
    uint16_t rst = (uint16_t)(fadt[120] | fadt[121] << 8);
    wr(d, ctl - 0x1200u, 1, ((unsigned)slp_typ << 2) | VMIO_ACPI_PM_SLP_EN);
    assert_int_equal(e.off, 1);
    wr(d, rst - 0x1200u, 1, fadt[128]);
    assert_int_equal(e.reset, 1);
    d->ops->destroy(d);
}

static void test_ports_clash_with_nothing_of_vmio(void **state)
{
    (void)state;
    /* vmio's and the PC's fixed ports (first, last). */
    const uint16_t taken[][2] = {
        {0x3f8, 0x3ff},   /* COM1 */
        {0x2f8, 0x2ff},   /* COM2 */
        {0x3e8, 0x3ef},   /* COM3 */
        {0x2e8, 0x2ef},   /* COM4 */
        {0xe9, 0xe9},     /* debugcon */
        {0xf4, 0xf7},     /* debug-exit */
        {0x7000, 0x70ff}, /* testdev */
        {0x20, 0x21},     /* PIC */
        {0xa0, 0xa1},     /* PIC */
        {0x4d0, 0x4d1},   /* ELCR */
        {0x40, 0x43},     /* PIT */
        {0x61, 0x61},     /* port B */
        {0x70, 0x71},     /* RTC */
        {0x60, 0x60},     /* i8042 */
        {0x64, 0x64},     /* i8042 */
        {0x80, 0x80},     /* POST */
        {0x92, 0x92},     /* fast A20 / reset */
        {0xcf8, 0xcff},   /* PCI configuration mechanism 1 */
        {0x510, 0x511},   /* QEMU fw_cfg, which guests may probe */
    };
    const unsigned first = VMIO_ACPI_PM_PORT_BASE;
    const unsigned last = VMIO_ACPI_PM_PORT_BASE + VMIO_ACPI_PM_PORT_COUNT - 1;
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
        if (first <= taken[i][1] && taken[i][0] <= last)
            fail_msg("ports 0x%x-0x%x clash with 0x%x-0x%x", first, last, taken[i][0], taken[i][1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_power_on_state_reads_zero),
        cmocka_unit_test(test_s5_powers_off),
        cmocka_unit_test(test_slp_typ_without_slp_en_does_nothing),
        cmocka_unit_test(test_other_sleep_types_wake_at_once),
        cmocka_unit_test(test_reset_register),
        cmocka_unit_test(test_wide_accesses_are_byte_lanes),
        cmocka_unit_test(test_on_a_pio_bus),
        cmocka_unit_test(test_described_registers_match_the_device),
        cmocka_unit_test(test_ports_clash_with_nothing_of_vmio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
