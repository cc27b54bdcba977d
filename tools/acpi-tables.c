/*
 * acpi-tables: build vmio's ACPI tables for an example machine and write
 * each table to a file, to read them with `iasl -d` (docs/acpi.md).
 *
 *   acpi-tables [--cpus N] [--virtio N] [--rtc] [--base ADDR] OUTDIR
 *
 * The example machine: N CPUs with APIC ids 0..N-1, the IOAPIC and local
 * APIC at their defaults (24 pins), ISA IRQ 0 overridden to GSI 2 (a PIT),
 * COM1 (0x3f8, IRQ 4), the optional CMOS RTC, virtio-mmio device i at
 * 0xd1000000 + i * 0x1000 on GSI 16 + i, and the ACPI power device at its
 * default ports. Files: rsdp.dat xsdt.dat facp.dat apic.dat dsdt.dat.
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/acpi.h"
#include "vmio/acpi_pm.h"

static int write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "acpi-tables: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: acpi-tables [--cpus N] [--virtio N] [--rtc] [--base ADDR] OUTDIR\n");
    return 1;
}

int main(int argc, char **argv)
{
    unsigned cpus = 1, virtio = 0;
    int rtc = 0;
    unsigned long long base = VMIO_ACPI_BIOS_AREA_START;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpus") && i + 1 < argc)
            cpus = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--virtio") && i + 1 < argc)
            virtio = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--base") && i + 1 < argc)
            base = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--rtc"))
            rtc = 1;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return usage();
    }
    if (!dir || cpus > VMIO_ACPI_MAX_CPUS || virtio > 8)
        return usage();

    uint32_t apic_ids[VMIO_ACPI_MAX_CPUS];
    for (unsigned i = 0; i < cpus; i++)
        apic_ids[i] = i;
    struct vmio_acpi_device devs[2 + 8];
    unsigned n = 0;
    devs[n].kind = VMIO_ACPI_DEV_UART16550;
    devs[n].uart.port = 0x3f8;
    devs[n].uart.len = 8;
    devs[n++].uart.isa_irq = 4;
    if (rtc)
        devs[n++].kind = VMIO_ACPI_DEV_CMOS_RTC;
    for (unsigned i = 0; i < virtio; i++, n++) {
        devs[n].kind = VMIO_ACPI_DEV_VIRTIO_MMIO;
        devs[n].virtio_mmio.base = 0xd1000000u + i * 0x1000u;
        devs[n].virtio_mmio.size = 0x1000;
        devs[n].virtio_mmio.gsi = 16 + i;
    }
    const struct vmio_acpi_irq_override pit = {0, 2, 0};
    struct vmio_acpi_machine m = {
        .cpu_count = cpus,
        .apic_ids = apic_ids,
        .lapic_addr = VMIO_ACPI_LAPIC_ADDR_DEFAULT,
        .ioapic_addr = VMIO_ACPI_IOAPIC_ADDR_DEFAULT,
        .ioapic_pins = VMIO_ACPI_IOAPIC_PINS_DEFAULT,
        .overrides = &pit,
        .override_count = 1,
        .devices = devs,
        .device_count = n,
    };
    vmio_acpi_pm_describe(VMIO_ACPI_PM_PORT_BASE, &m);

    struct vmio_acpi_tables t;
    struct vmio_error err = {0};
    if (vmio_acpi_build(&m, base, NULL, 0, &t, &err) != 0) {
        fprintf(stderr, "acpi-tables: %s\n", err.msg);
        return 1;
    }
    uint8_t *buf = malloc(t.size);
    if (!buf || vmio_acpi_build(&m, base, buf, t.size, &t, &err) != 0) {
        fprintf(stderr, "acpi-tables: %s\n", buf ? err.msg : "out of memory");
        free(buf);
        return 1;
    }
    const struct {
        const char *file;
        const struct vmio_acpi_table_loc *loc;
    } files[] = {{"rsdp.dat", &t.rsdp},
                 {"xsdt.dat", &t.xsdt},
                 {"facp.dat", &t.fadt},
                 {"apic.dat", &t.madt},
                 {"dsdt.dat", &t.dsdt}};
    int rc = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++) {
        rc = write_file(dir, files[i].file, buf + files[i].loc->offset, files[i].loc->length);
        if (rc == 0)
            printf("%-9s gpa 0x%08llx  %4zu bytes\n", files[i].file,
                   (unsigned long long)files[i].loc->gpa, files[i].loc->length);
    }
    free(buf);
    return rc ? 1 : 0;
}
