/*
 * The ACPI power device: the sleep control, sleep status and reset
 * registers a hardware-reduced FADT points to (ACPI 6.5 chapter 4: "Reset
 * Register", "Sleep Control and Status Registers"), on four I/O ports.
 * docs/acpi.md explains the choice of ports.
 *
 *   offset 0  sleep control  bits 4:2 SLP_TYP (read/write), bit 5 SLP_EN
 *                            (write-only, reads 0), others reserved (read 0)
 *   offset 1  sleep status   bit 7 WAK_STS (write 1 to clear), others
 *                            reserved (read 0)
 *   offset 2  reset          write VMIO_ACPI_PM_RESET_VALUE to reset; reads 0
 *   offset 3  reserved       reads 0, writes ignored
 *
 * A write that sets SLP_EN with SLP_TYP = VMIO_ACPI_PM_S5_SLP_TYP (what
 * \_S5 declares) calls the machine's power callback with VMIO_POWER_OFF; a
 * write of VMIO_ACPI_PM_RESET_VALUE to the reset register calls it with
 * VMIO_POWER_RESET. SLP_EN with any other SLP_TYP asks for a sleeping
 * state vmio does not have (the DSDT declares none): the platform "wakes"
 * at once, setting WAK_STS, so an OS polling for the end of its sleep
 * (ACPICA does) goes on instead of hanging.
 *
 * An access wider than a byte is split into byte lanes, each an access to
 * the register at its offset, lowest offset first (as an 8-bit device on a
 * wider bus sees it). The state is two atomic bytes: several vCPUs may
 * access the device at once and no lock is held when the callback runs.
 */
#ifndef VMIO_ACPI_PM_H
#define VMIO_ACPI_PM_H

#include <stdint.h>

#include "vmio/acpi.h"
#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/power.h"

/* Where vmio puts the device: ports 0x600-0x603 (see docs/acpi.md). */
#define VMIO_ACPI_PM_PORT_BASE 0x600u
#define VMIO_ACPI_PM_PORT_COUNT 4u

/* Register offsets. */
#define VMIO_ACPI_PM_SLEEP_CONTROL 0u
#define VMIO_ACPI_PM_SLEEP_STATUS 1u
#define VMIO_ACPI_PM_RESET 2u

/* Sleep control and status bits. */
#define VMIO_ACPI_PM_SLP_TYP_SHIFT 2u
#define VMIO_ACPI_PM_SLP_TYP_MASK 0x1Cu
#define VMIO_ACPI_PM_SLP_EN 0x20u
#define VMIO_ACPI_PM_WAK_STS 0x80u

/* The SLP_TYP value of \_S5, and the reset register's reset value. */
#define VMIO_ACPI_PM_S5_SLP_TYP 5u
#define VMIO_ACPI_PM_RESET_VALUE 0x06u

/*
 * vmio_acpi_pm_create - create the power device in its power-on state
 * (SLP_TYP 0, WAK_STS clear). Register it on the PIO bus with length
 * VMIO_ACPI_PM_PORT_COUNT (at VMIO_ACPI_PM_PORT_BASE, or wherever
 * vmio_acpi_pm_describe() is told).
 * @name:  device name for errors, stats and traces; not copied (use a literal).
 * @power: called with VMIO_POWER_OFF / VMIO_POWER_RESET from the vCPU
 *         thread that made the access; may be NULL (events are dropped).
 * @ctx:   passed to @power.
 * @out:   receives the device.
 * @err:   optional message.
 * Errors: -EINVAL for a NULL/empty @name or a NULL @out; -ENOMEM.
 * Ownership: the caller owns *@out and frees it with (*out)->ops->destroy()
 * (vmio_vm_destroy() does it for a device added to a VM).
 */
int vmio_acpi_pm_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **out,
                        struct vmio_error *err);

/*
 * vmio_acpi_pm_describe - fill the power fields of @m (sleep_control,
 * sleep_status, reset_reg, reset_value, s5_sleep_type) for a power device
 * registered at I/O port @port_base, so the FADT and \_S5 match the device.
 * Leaves the other fields of @m alone.
 */
void vmio_acpi_pm_describe(uint16_t port_base, struct vmio_acpi_machine *m);

#endif
