/*
 * The ACPI power device (vmio/acpi_pm.h): sleep control, sleep status and
 * reset registers of a hardware-reduced ACPI platform.
 *
 * Invariants:
 * - The only state is SLP_TYP and WAK_STS, each an atomic byte; nothing
 *   else is remembered (SLP_EN is a command, the reset register a trigger),
 *   so concurrent vCPUs need no lock and the power callback never runs
 *   under one.
 * - Every access is answered at its width, byte lane by byte lane; no
 *   guest value can make a callback fail.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "vmio/acpi_pm.h"

struct acpi_pm {
    struct vmio_device dev;
    vmio_power_fn power;
    void *ctx;
    _Atomic uint8_t slp_typ; /* bits 4:2 of the sleep control register, in place */
    _Atomic uint8_t wak_sts; /* VMIO_ACPI_PM_WAK_STS or 0 */
};

static struct acpi_pm *to_pm(struct vmio_device *dev)
{
    return vmio_container_of(dev, struct acpi_pm, dev);
}

static uint8_t read_reg(struct acpi_pm *pm, unsigned offset)
{
    switch (offset) {
    case VMIO_ACPI_PM_SLEEP_CONTROL:
        return atomic_load(&pm->slp_typ); /* SLP_EN reads 0 */
    case VMIO_ACPI_PM_SLEEP_STATUS:
        return atomic_load(&pm->wak_sts);
    default:
        return 0; /* the reset register and the reserved byte */
    }
}

static void signal_power(struct acpi_pm *pm, enum vmio_power_event event)
{
    if (pm->power)
        pm->power(pm->ctx, event);
}

static void write_reg(struct acpi_pm *pm, unsigned offset, uint8_t v)
{
    switch (offset) {
    case VMIO_ACPI_PM_SLEEP_CONTROL: {
        uint8_t typ = v & VMIO_ACPI_PM_SLP_TYP_MASK;
        atomic_store(&pm->slp_typ, typ);
        if (!(v & VMIO_ACPI_PM_SLP_EN))
            break;
        if (typ >> VMIO_ACPI_PM_SLP_TYP_SHIFT == VMIO_ACPI_PM_S5_SLP_TYP)
            signal_power(pm, VMIO_POWER_OFF);
        else
            atomic_store(&pm->wak_sts, VMIO_ACPI_PM_WAK_STS); /* no such state: awake at once */
        break;
    }
    case VMIO_ACPI_PM_SLEEP_STATUS:
        if (v & VMIO_ACPI_PM_WAK_STS)
            atomic_store(&pm->wak_sts, 0); /* write 1 to clear; 0 bits change nothing */
        break;
    case VMIO_ACPI_PM_RESET:
        if (v == VMIO_ACPI_PM_RESET_VALUE)
            signal_power(pm, VMIO_POWER_RESET);
        break;
    default:
        break;
    }
}

static int acpi_pm_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct acpi_pm *pm = to_pm(dev);
    uint64_t v = 0;
    for (unsigned i = 0; i < width && i < 8; i++)
        v |= (uint64_t)read_reg(pm, (unsigned)offset + i) << (8 * i);
    *value = v;
    return 0;
}

static int acpi_pm_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct acpi_pm *pm = to_pm(dev);
    for (unsigned i = 0; i < width && i < 8; i++)
        write_reg(pm, (unsigned)offset + i, (uint8_t)(value >> (8 * i)));
    return 0;
}

static void acpi_pm_destroy(struct vmio_device *dev)
{
    free(to_pm(dev));
}

static const struct vmio_device_ops acpi_pm_ops = {
    .read = acpi_pm_read,
    .write = acpi_pm_write,
    .destroy = acpi_pm_destroy,
};

int vmio_acpi_pm_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **out,
                        struct vmio_error *err)
{
    if (!name || !*name || !out)
        return vmio_error_set(err, -EINVAL, "acpi-pm: NULL or empty name, or NULL result");
    struct acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm)
        return vmio_error_set(err, -ENOMEM, "acpi-pm %s: out of memory", name);
    pm->dev.name = name;
    pm->dev.ops = &acpi_pm_ops;
    pm->power = power;
    pm->ctx = ctx;
    atomic_init(&pm->slp_typ, 0);
    atomic_init(&pm->wak_sts, 0);
    *out = &pm->dev;
    return 0;
}

void vmio_acpi_pm_describe(uint16_t port_base, struct vmio_acpi_machine *m)
{
    const struct vmio_acpi_gas reg = {
        .space_id = VMIO_ACPI_SPACE_IO,
        .bit_width = 8,
        .bit_offset = 0,
        .access_size = VMIO_ACPI_ACCESS_BYTE,
    };
    m->sleep_control = reg;
    m->sleep_control.address = (uint64_t)port_base + VMIO_ACPI_PM_SLEEP_CONTROL;
    m->sleep_status = reg;
    m->sleep_status.address = (uint64_t)port_base + VMIO_ACPI_PM_SLEEP_STATUS;
    m->reset_reg = reg;
    m->reset_reg.address = (uint64_t)port_base + VMIO_ACPI_PM_RESET;
    m->reset_value = VMIO_ACPI_PM_RESET_VALUE;
    m->s5_sleep_type = VMIO_ACPI_PM_S5_SLP_TYP;
}
