/*
 * vmio's PC (see vmio/pc.h): devices at their PC addresses, and ACPI tables
 * that describe exactly those devices. The tables and the devices come from
 * the same constants here, so what the kernel reads in the DSDT is what
 * answers on the bus.
 *
 * Interrupts: KVM's default routing (GSI n = IOAPIC pin n, ISA IRQ n = GSI
 * n), so the MADT has no interrupt source override: COM1 is pin 4, the RTC
 * pin 8. A hardware-reduced kernel never programs the PIT or the PIC.
 *
 * The reset vector: on a hardware-reduced ACPI machine Linux reboots through
 * EFI and, without EFI, by jumping to the BIOS at the real-mode reset vector
 * (F000:FFF0); a panic with panic=-1 ends the same way. There is no BIOS,
 * so that address holds a few bytes of real-mode code that write the ACPI
 * reset value to the reset register: every "jump to the BIOS" reset becomes
 * a reset request the VM sees (VMIO_EXIT_RESET).
 */
#include <errno.h>
#include <stdlib.h>

#include "vmio/acpi_pm.h"
#include "vmio/devices.h"
#include "vmio/guest_mem.h"
#include "vmio/legacy_ports.h"
#include "vmio/pc.h"
#include "vmio/rtc_cmos.h"
#include "vmio/testdev_regs.h"
#include "vmio/uart16550.h"

#define PC_IOAPIC_ADDR 0xfec00000u
#define PC_LAPIC_ADDR 0xfee00000u
#define PC_IOAPIC_PINS 24
#define PC_RTC_PORT 0x70
#define PC_PORT80 0x80
#define PC_PORT92 0x92
#define PC_I8042_DATA 0x60
#define PC_I8042_CMD 0x64
#define PC_RESET_VECTOR 0xffff0ULL

/* What add_devices() registers, in its order (tests/unit/test_config_run.c compares them). */
static const struct vmio_pc_port_range pc_ports[] = {
    {VMIO_COM1_PORT, 8, "com1"},
    {VMIO_DEBUG_EXIT_PORT, 4, "debug-exit"},
    {VMIO_DEBUGCON_PORT, 1, "debugcon"},
    {PC_RTC_PORT, 2, "rtc"},
    {PC_PORT80, 1, "port80"},
    {PC_PORT92, 1, "port92"},
    {PC_I8042_DATA, 1, "i8042-data"},
    {PC_I8042_CMD, 1, "i8042-cmd"},
    {VMIO_ACPI_PM_PORT_BASE, VMIO_ACPI_PM_PORT_COUNT, "acpi-pm"},
};

const struct vmio_pc_port_range *vmio_pc_port_ranges(size_t *n)
{
    *n = sizeof(pc_ports) / sizeof(pc_ports[0]);
    return pc_ports;
}

/* RAM below and above 4 GiB, for the RTC's CMOS memory-size bytes. */
static void ram_sizes(struct vmio_vm *vm, uint64_t *below, uint64_t *above)
{
    const struct vmio_guest_mem *mem = vmio_vm_memory(vm);
    *below = *above = 0;
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++) {
        const struct vmio_mem_region *r = vmio_guest_mem_at(mem, i);
        if (r->kind != VMIO_MEM_RAM)
            continue;
        if (r->gpa >= VMIO_HIGH_RAM_BASE)
            *above += r->size;
        else
            *below += r->size;
    }
}

static int add_devices(struct vmio_vm *vm, const struct vmio_pc_config *cfg, struct vmio_error *err)
{
    int rc = vmio_add_com1(vm, cfg->serial, err);
    struct vmio_device *dev = NULL, *cmd = NULL;
    if (rc == 0)
        rc = vmio_debug_exit_create("debug-exit", &dev, err);
    if (rc == 0) /* 4 ports: wide writes exit as under QEMU (docs/devices/debug-ports.md) */
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_DEBUG_EXIT_PORT, 4, err);
    if (rc == 0)
        rc = vmio_debugcon_create("debugcon", cfg->debugcon, &dev, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_DEBUGCON_PORT, 1, err);
    if (rc == 0) {
        struct vmio_irq_line *line = vmio_vm_irq_line(vm, VMIO_PC_RTC_GSI, err);
        struct vmio_rtc_cmos_config rtc = {
            .name = "rtc", .clock = cfg->clock, .irq = vmio_irq_line_set_level, .irq_opaque = line};
        ram_sizes(vm, &rtc.ram_below_4g, &rtc.ram_above_4g);
        rc = line ? vmio_rtc_cmos_create(&rtc, &dev, err) : err->code;
        if (rc == 0)
            rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, PC_RTC_PORT, 2, err);
    }
    if (rc == 0 && (rc = vmio_port80_create("port80", &dev, err)) == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, PC_PORT80, 1, err);
    if (rc == 0 && (rc = vmio_port92_create("port92", vmio_vm_power_fn, vm, &dev, err)) == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, PC_PORT92, 1, err);
    if (rc == 0 && (rc = vmio_i8042_create("i8042", vmio_vm_power_fn, vm, &dev, &cmd, err)) == 0) {
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, PC_I8042_DATA, 1, err);
        if (rc == 0)
            rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, cmd, PC_I8042_CMD, 1, err);
        else if (cmd->ops->destroy)
            cmd->ops->destroy(cmd);
    }
    if (rc == 0 && (rc = vmio_acpi_pm_create("acpi-pm", vmio_vm_power_fn, vm, &dev, err)) == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_ACPI_PM_PORT_BASE,
                                   VMIO_ACPI_PM_PORT_COUNT, err);
    return rc;
}

/* Build the tables for @cfg and copy them into guest RAM at VMIO_PC_ACPI_BASE. */
static int add_acpi(struct vmio_vm *vm, const struct vmio_pc_config *cfg, struct vmio_pc_info *out,
                    struct vmio_error *err)
{
    uint32_t apic_ids[VMIO_ACPI_MAX_CPUS];
    for (unsigned i = 0; i < cfg->cpus; i++)
        apic_ids[i] = i;
    unsigned ndev = 2 + cfg->extra_count;
    struct vmio_acpi_device *devs = calloc(ndev, sizeof(*devs));
    if (!devs)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    devs[0] = (struct vmio_acpi_device){
        .kind = VMIO_ACPI_DEV_UART16550,
        .uart = {.port = VMIO_COM1_PORT, .len = 8, .isa_irq = VMIO_COM1_GSI}};
    devs[1] = (struct vmio_acpi_device){.kind = VMIO_ACPI_DEV_CMOS_RTC};
    for (unsigned i = 0; i < cfg->extra_count; i++)
        devs[2 + i] = cfg->extra_devices[i];
    struct vmio_acpi_machine m = {
        .cpu_count = cfg->cpus,
        .apic_ids = apic_ids,
        .lapic_addr = PC_LAPIC_ADDR,
        .ioapic_id = (uint8_t)cfg->cpus, /* after the local APIC ids (cpus <= 254) */
        .ioapic_addr = PC_IOAPIC_ADDR,
        .ioapic_gsi_base = 0,
        .ioapic_pins = PC_IOAPIC_PINS,
        .pcat_compat = true, /* KVM's irqchip has the 8259 pair */
        /*
         * No 8042 in the FADT: the i8042 here only resets the machine (the
         * kernel's last reboot method writes 0xfe to port 0x64 anyway), so
         * the kernel must not probe it for a keyboard (it prints "i8042:
         * PNP: No PS/2 controller found." and moves on).
         */
        .i8042 = false,
        .devices = devs,
        .device_count = ndev,
    };
    vmio_acpi_pm_describe(VMIO_ACPI_PM_PORT_BASE, &m);
    struct vmio_acpi_tables t;
    int rc = vmio_acpi_build(&m, VMIO_PC_ACPI_BASE, NULL, 0, &t, err);
    uint8_t *buf = NULL;
    if (rc == 0 && t.size > VMIO_PC_ACPI_LIMIT)
        rc = vmio_error_set(err, -E2BIG, "ACPI tables of %zu bytes do not fit in the BIOS area",
                            t.size);
    if (rc == 0 && !(buf = malloc(t.size)))
        rc = vmio_error_set(err, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = vmio_acpi_build(&m, VMIO_PC_ACPI_BASE, buf, t.size, &t, err);
    if (rc == 0 && vmio_guest_mem_write(vmio_vm_memory(vm), VMIO_PC_ACPI_BASE, buf, t.size) < 0)
        rc = vmio_error_set(err, -EINVAL,
                            "ACPI tables at 0x%llx-0x%llx: that is not guest RAM (give the VM "
                            "RAM from address 0)",
                            (unsigned long long)VMIO_PC_ACPI_BASE,
                            (unsigned long long)(VMIO_PC_ACPI_BASE + t.size - 1));
    if (rc == 0)
        *out = (struct vmio_pc_info){
            .rsdp = t.rsdp.gpa, .acpi_base = VMIO_PC_ACPI_BASE, .acpi_size = t.size};
    free(buf);
    free(devs);
    return rc;
}

/* The real-mode reset stub at the reset vector (see the top of this file). */
static int add_reset_stub(struct vmio_vm *vm, struct vmio_error *err)
{
    const uint16_t port = VMIO_ACPI_PM_PORT_BASE + VMIO_ACPI_PM_RESET;
    const uint8_t stub[] = {
        0xba,
        (uint8_t)port,
        (uint8_t)(port >> 8), /* mov dx, reset register */
        0xb0,
        VMIO_ACPI_PM_RESET_VALUE, /* mov al, reset value */
        0xee,                     /* out dx, al */
        0xf4,                     /* 1: hlt */
        0xeb,
        0xfd, /* jmp 1b */
    };
    if (vmio_guest_mem_write(vmio_vm_memory(vm), PC_RESET_VECTOR, stub, sizeof(stub)) < 0)
        return vmio_error_set(err, -EINVAL,
                              "the reset vector 0x%llx is not guest RAM (give the VM RAM from "
                              "address 0 through 1 MiB)",
                              (unsigned long long)PC_RESET_VECTOR);
    return 0;
}

int vmio_pc_build(struct vmio_vm *vm, const struct vmio_pc_config *cfg, struct vmio_pc_info *out,
                  struct vmio_error *err)
{
    if (!vmio_vm_has_irqchip(vm))
        return vmio_error_set(err, -EINVAL,
                              "the PC machine needs the in-kernel irqchip (its IOAPIC and local "
                              "APICs are what the ACPI tables describe)");
    if (cfg->cpus < 1 || cfg->cpus >= VMIO_ACPI_MAX_CPUS) /* the IOAPIC takes id cpus */
        return vmio_error_set(err, -EINVAL, "%u vCPUs: the PC machine takes 1 to %u", cfg->cpus,
                              VMIO_ACPI_MAX_CPUS - 1);
    int rc = add_devices(vm, cfg, err);
    if (rc == 0)
        rc = add_reset_stub(vm, err);
    return rc < 0 ? rc : add_acpi(vm, cfg, out, err);
}
