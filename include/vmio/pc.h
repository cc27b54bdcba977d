/*
 * vmio's PC: the machine a stock x86 Linux kernel boots on.
 *
 * vmio_pc_build() adds to a VM that has the in-kernel irqchip what a kernel
 * finds on a PC without firmware (as QEMU's microvm gives it): COM1 (16550A
 * on IRQ 4), the CMOS RTC (IRQ 8), ports 0x80 and 0x92, an i8042 (reset
 * only), the ACPI power device (sleep and reset registers at 0x600-0x603),
 * vmio's debug-exit (0xf4) and debug console (0xe9), and hardware-reduced
 * ACPI tables (RSDP, XSDT, FADT, MADT with one local APIC per vCPU and the
 * IOAPIC, DSDT with COM1, the RTC and any extra devices such as
 * virtio-mmio transports) written into guest RAM in the BIOS area at
 * VMIO_PC_ACPI_BASE, and at the real-mode reset vector (0xffff0) a few bytes
 * that write the ACPI reset register (Linux's last reboot method on such a
 * machine jumps there). Guest power-off and reset requests (ACPI, port 0x92,
 * the i8042, the reset vector) reach the VM (vmio_vm_power_request()): every
 * vCPU then stops with VMIO_EXIT_POWEROFF or VMIO_EXIT_RESET. See
 * docs/linux-boot.md.
 *
 * Ownership: the VM owns every device added; @cfg's pointers are borrowed
 * for the call (serial, debugcon stream and clock must outlive the VM).
 */
#ifndef VMIO_PC_H
#define VMIO_PC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/acpi.h"
#include "vmio/clock.h"
#include "vmio/error.h"
#include "vmio/vm.h"

struct chardev;

/* Where the ACPI tables go: the BIOS area, where a kernel also scans for the RSDP. */
#define VMIO_PC_ACPI_BASE 0xe0000ULL
#define VMIO_PC_ACPI_LIMIT 0x10000ULL /* the tables must fit below 0xf0000 */
#define VMIO_PC_RTC_GSI 8

struct vmio_pc_config {
    unsigned cpus;                  /* vCPUs, 1..VMIO_ACPI_MAX_CPUS - 1 (one MADT entry each) */
    struct chardev *serial;         /* COM1's backend; NULL: no output, no input */
    FILE *debugcon;                 /* port 0xe9 output; NULL drops it */
    const struct vmio_clock *clock; /* the RTC's wall clock; NULL: the host's */
    /* Devices the DSDT lists besides COM1 and the RTC (e.g. virtio-mmio): registered elsewhere. */
    const struct vmio_acpi_device *extra_devices;
    unsigned extra_count;
};

/* What vmio_pc_build() placed: for the boot protocol (RSDP pointer, e820). */
struct vmio_pc_info {
    uint64_t rsdp;      /* guest-physical address of the RSDP */
    uint64_t acpi_base; /* the tables: [acpi_base, acpi_base + acpi_size) */
    uint64_t acpi_size;
};

/* A port range vmio_pc_build() gives one of its devices. */
struct vmio_pc_port_range {
    uint16_t base, len;
    const char *name; /* the device's name on the bus */
};

/*
 * vmio_pc_port_ranges - every port range vmio_pc_build() registers (a static
 * table of *@n entries, in the order it registers them), so that a machine
 * description (a VM config with a Linux kernel) can be checked against the PC
 * before anything is built. The IOAPIC and local APIC windows are the
 * irqchip's (vmio_irqchip_reserved_check()).
 */
const struct vmio_pc_port_range *vmio_pc_port_ranges(size_t *n);

/*
 * vmio_pc_build - add the PC platform to @vm (created with the irqchip, its
 * RAM covering VMIO_PC_ACPI_BASE) as described above, fill *@out.
 * Errors: -EINVAL without the irqchip, for a bad vCPU count or when RAM does
 * not cover the ACPI area (the message says which); those of
 * vmio_vm_add_device() (a port already taken) and vmio_acpi_build(); -ENOMEM.
 * On failure the VM may hold some of the devices (destroy the VM).
 */
int vmio_pc_build(struct vmio_vm *vm, const struct vmio_pc_config *cfg, struct vmio_pc_info *out,
                  struct vmio_error *err);

#endif
