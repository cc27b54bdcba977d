/*
 * The ACPI table builder (vmio/acpi.h): RSDP, XSDT, FADT, MADT, DSDT from a
 * machine description. Field offsets follow ACPI 6.5, chapter 5.2.
 *
 * Invariants:
 * - The description is validated completely before a byte is written, and
 *   the DSDT is measured (vmio_aml with no buffer) before it is built, so
 *   the layout and the total size are known up front and a too-small
 *   buffer is refused with the exact size needed.
 * - Tables are written with explicit little-endian byte stores at fixed
 *   offsets (no packed structs, no unaligned pointer casts): the output is
 *   the same on any host.
 * - Checksums are computed last, over the finished bytes of each table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmio/acpi.h"
#include "vmio/aml.h"

/* Table sizes and layout constants (ACPI 6.5, 5.2). */
enum {
    RSDP_LEN = 36,    /* revision 2 RSDP */
    RSDP_V1_LEN = 20, /* the part the first checksum covers */
    HDR_LEN = 36,     /* system description table header */
    XSDT_ENTRIES = 2, /* FADT, MADT */
    XSDT_LEN = HDR_LEN + 8 * XSDT_ENTRIES,
    FADT_LEN = 276,      /* revision 6 FADT, through the hypervisor vendor id */
    MADT_FIXED_LEN = 44, /* header + local APIC address + flags */
    MADT_LAPIC_LEN = 8,
    MADT_IOAPIC_LEN = 12,
    MADT_ISO_LEN = 10,
    MADT_LAPIC_NMI_LEN = 6,
    TABLE_ALIGN = 16,
};

/* FADT revision 6, minor version 5: ACPI 6.5. */
#define FADT_REVISION 6
#define FADT_MINOR_VERSION 5
#define DSDT_REVISION 2 /* 64-bit AML integers */
#define XSDT_REVISION 1
#define MADT_REVISION 5 /* read by every ACPI 6 OS; our entries are the classic ones */

/* FADT flags (ACPI 6.5, 5.2.9: the FADT's fixed feature flags). */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PWR_BUTTON (1u << 4) /* 1: no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* 1: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* FADT IAPC_BOOT_ARCH (ACPI 6.5, 5.2.9.3: IA-PC boot architecture flags). */
#define BOOT_ARCH_8042 (1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

/* MADT structure types. */
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define MADT_TYPE_ISO 2
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED 1u
#define MADT_PCAT_COMPAT 1u
#define MADT_ALL_PROCESSORS 0xFF

#define PAGE_4K 0x1000u
#define VMIO_RTC_PORT 0x70u
#define VMIO_RTC_PORTS 2u
#define VMIO_RTC_IRQ 8u
#define ISA_IRQS 16u
#define ISA_CASCADE_IRQ 2u
#define VIRTIO_MMIO_MIN_SIZE 0x100u

static const char OEM_ID[6] = {'V', 'M', 'I', 'O', ' ', ' '};
static const char OEM_TABLE_ID[8] = {'V', 'M', 'I', 'O', ' ', ' ', ' ', ' '};
static const char CREATOR_ID[4] = {'V', 'M', 'I', 'O'};
static const char HYPERVISOR_VENDOR[8] = {'V', 'M', 'I', 'O', 0, 0, 0, 0};

uint8_t vmio_acpi_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0x100 - sum);
}

static void put_le(uint8_t *out, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static size_t align_up(size_t v)
{
    return (v + TABLE_ALIGN - 1) & ~(size_t)(TABLE_ALIGN - 1);
}

/* ---- Validation ---- */

static const char *space_name(uint8_t space)
{
    return space == VMIO_ACPI_SPACE_IO ? "port" : "memory";
}

static int check_gas(const struct vmio_acpi_gas *g, const char *field, struct vmio_error *err)
{
    if (g->space_id != VMIO_ACPI_SPACE_IO && g->space_id != VMIO_ACPI_SPACE_MEMORY)
        return vmio_error_set(err, -EINVAL,
                              "acpi: %s: address space %u is not SystemIO (1) or SystemMemory (0)",
                              field, g->space_id);
    if (g->bit_width != 8 || g->bit_offset != 0)
        return vmio_error_set(err, -EINVAL,
                              "acpi: %s: bit width %u, offset %u; must be an 8-bit register at "
                              "offset 0",
                              field, g->bit_width, g->bit_offset);
    if (g->access_size != VMIO_ACPI_ACCESS_BYTE && g->access_size != VMIO_ACPI_ACCESS_UNDEFINED)
        return vmio_error_set(err, -EINVAL, "acpi: %s: access size %u; must be 1 (byte) or 0",
                              field, g->access_size);
    if (g->address == 0)
        return vmio_error_set(err, -EINVAL, "acpi: %s: address 0", field);
    if (g->space_id == VMIO_ACPI_SPACE_IO && g->address > 0xFFFF)
        return vmio_error_set(err, -EINVAL, "acpi: %s: port 0x%" PRIx64 " is past 0xffff", field,
                              g->address);
    return 0;
}

/* An address range in one space, for the overlap checks. */
struct range {
    uint8_t space; /* VMIO_ACPI_SPACE_* */
    uint64_t first, last;
    char what[64];
};

/*
 * The @i-th range the description occupies (tables region excluded):
 * 0 LAPIC page, 1 IOAPIC page, 2..4 power registers, 5.. devices.
 * Returns the number of ranges when @r is NULL.
 */
static unsigned range_at(const struct vmio_acpi_machine *m, unsigned i, struct range *r)
{
    const unsigned fixed = 5;
    if (!r)
        return fixed + m->device_count;
    const struct vmio_acpi_gas *gas[3] = {&m->sleep_control, &m->sleep_status, &m->reset_reg};
    static const char *const gas_name[3] = {"the sleep control register",
                                            "the sleep status register", "the reset register"};
    r->space = VMIO_ACPI_SPACE_MEMORY;
    if (i == 0) {
        r->first = m->lapic_addr;
        r->last = (uint64_t)m->lapic_addr + PAGE_4K - 1;
        snprintf(r->what, sizeof(r->what), "the local APIC page");
    } else if (i == 1) {
        r->first = m->ioapic_addr;
        r->last = (uint64_t)m->ioapic_addr + PAGE_4K - 1;
        snprintf(r->what, sizeof(r->what), "the IOAPIC page");
    } else if (i < fixed) {
        const struct vmio_acpi_gas *g = gas[i - 2];
        r->space = g->space_id;
        r->first = r->last = g->address;
        snprintf(r->what, sizeof(r->what), "%s", gas_name[i - 2]);
    } else {
        unsigned d = i - fixed;
        const struct vmio_acpi_device *dev = &m->devices[d];
        switch (dev->kind) {
        case VMIO_ACPI_DEV_UART16550:
            r->space = VMIO_ACPI_SPACE_IO;
            r->first = dev->uart.port;
            r->last = (uint64_t)dev->uart.port + dev->uart.len - 1;
            snprintf(r->what, sizeof(r->what), "devices[%u] (16550 UART)", d);
            break;
        case VMIO_ACPI_DEV_CMOS_RTC:
            r->space = VMIO_ACPI_SPACE_IO;
            r->first = VMIO_RTC_PORT;
            r->last = VMIO_RTC_PORT + VMIO_RTC_PORTS - 1;
            snprintf(r->what, sizeof(r->what), "devices[%u] (CMOS RTC)", d);
            break;
        case VMIO_ACPI_DEV_VIRTIO_MMIO:
            r->first = dev->virtio_mmio.base;
            r->last = dev->virtio_mmio.base + dev->virtio_mmio.size - 1;
            snprintf(r->what, sizeof(r->what), "devices[%u] (virtio-mmio)", d);
            break;
        }
    }
    return 0;
}

static bool overlap(const struct range *a, const struct range *b)
{
    return a->space == b->space && a->first <= b->last && b->first <= a->last;
}

static int check_cpus(const struct vmio_acpi_machine *m, struct vmio_error *err)
{
    if (m->cpu_count == 0 || m->cpu_count > VMIO_ACPI_MAX_CPUS)
        return vmio_error_set(err, -EINVAL, "acpi: cpu_count %u is outside 1..%u", m->cpu_count,
                              VMIO_ACPI_MAX_CPUS);
    if (!m->apic_ids)
        return vmio_error_set(err, -EINVAL, "acpi: apic_ids is NULL");
    for (unsigned i = 0; i < m->cpu_count; i++) {
        if (m->apic_ids[i] > 254)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: CPU %u: APIC id %" PRIu32 " is above 254 (xAPIC ids only)",
                                  i, m->apic_ids[i]);
        for (unsigned j = 0; j < i; j++)
            if (m->apic_ids[j] == m->apic_ids[i])
                return vmio_error_set(err, -EINVAL, "acpi: CPUs %u and %u have APIC id %" PRIu32, j,
                                      i, m->apic_ids[i]);
    }
    if (m->lapic_addr == 0 || m->lapic_addr % PAGE_4K)
        return vmio_error_set(err, -EINVAL,
                              "acpi: local APIC address 0x%" PRIx32 " is 0 or not 4 KiB aligned",
                              m->lapic_addr);
    return 0;
}

static bool gsi_on_ioapic(const struct vmio_acpi_machine *m, uint32_t gsi)
{
    return gsi >= m->ioapic_gsi_base && gsi - m->ioapic_gsi_base < m->ioapic_pins;
}

static int check_ioapic(const struct vmio_acpi_machine *m, struct vmio_error *err)
{
    if (m->ioapic_addr == 0 || m->ioapic_addr % PAGE_4K)
        return vmio_error_set(err, -EINVAL,
                              "acpi: IOAPIC address 0x%" PRIx32 " is 0 or not 4 KiB aligned",
                              m->ioapic_addr);
    if (m->ioapic_pins == 0 || m->ioapic_pins > 256)
        return vmio_error_set(err, -EINVAL, "acpi: IOAPIC pins %u is outside 1..256",
                              m->ioapic_pins);
    if ((uint64_t)m->ioapic_gsi_base + m->ioapic_pins - 1 > UINT32_MAX)
        return vmio_error_set(err, -EINVAL,
                              "acpi: IOAPIC GSI base %" PRIu32 " + %u pins passes 2^32",
                              m->ioapic_gsi_base, m->ioapic_pins);
    if (m->override_count > VMIO_ACPI_MAX_OVERRIDES)
        return vmio_error_set(err, -EINVAL, "acpi: %u interrupt source overrides; at most %u",
                              m->override_count, VMIO_ACPI_MAX_OVERRIDES);
    if (m->override_count && !m->overrides)
        return vmio_error_set(err, -EINVAL, "acpi: overrides is NULL");
    for (unsigned i = 0; i < m->override_count; i++) {
        const struct vmio_acpi_irq_override *o = &m->overrides[i];
        if (o->isa_irq >= ISA_IRQS)
            return vmio_error_set(err, -EINVAL, "acpi: override %u: ISA IRQ %u is above 15", i,
                                  o->isa_irq);
        if (!gsi_on_ioapic(m, o->gsi))
            return vmio_error_set(err, -EINVAL,
                                  "acpi: override %u: GSI %" PRIu32 " is not on the IOAPIC "
                                  "(GSIs %" PRIu32 "..%" PRIu64 ")",
                                  i, o->gsi, m->ioapic_gsi_base,
                                  (uint64_t)m->ioapic_gsi_base + m->ioapic_pins - 1);
        if ((o->flags & 0x3) == 0x2 || (o->flags & 0xC) == 0x8 || (o->flags & ~0xFu))
            return vmio_error_set(err, -EINVAL, "acpi: override %u: flags 0x%x use reserved values",
                                  i, o->flags);
        for (unsigned j = 0; j < i; j++) {
            if (m->overrides[j].isa_irq == o->isa_irq)
                return vmio_error_set(err, -EINVAL, "acpi: overrides %u and %u both map ISA IRQ %u",
                                      j, i, o->isa_irq);
            if (m->overrides[j].gsi == o->gsi)
                return vmio_error_set(err, -EINVAL,
                                      "acpi: overrides %u and %u both target GSI %" PRIu32, j, i,
                                      o->gsi);
        }
    }
    return 0;
}

static int check_power(const struct vmio_acpi_machine *m, struct vmio_error *err)
{
    int rc;
    if ((rc = check_gas(&m->sleep_control, "sleep control register", err)) ||
        (rc = check_gas(&m->sleep_status, "sleep status register", err)) ||
        (rc = check_gas(&m->reset_reg, "reset register", err)))
        return rc;
    if (m->s5_sleep_type > 7)
        return vmio_error_set(err, -EINVAL, "acpi: S5 sleep type %u is above 7 (a 3-bit field)",
                              m->s5_sleep_type);
    return 0;
}

/* The GSI an ISA IRQ arrives on: its override's target, else the same number. */
static uint32_t isa_gsi(const struct vmio_acpi_machine *m, unsigned irq)
{
    for (unsigned i = 0; i < m->override_count; i++)
        if (m->overrides[i].isa_irq == irq)
            return m->overrides[i].gsi;
    return irq;
}

/* The GSI device @d uses (its ISA IRQ's, or its own); *@isa_irq = IRQ or -1. */
static uint32_t device_gsi(const struct vmio_acpi_machine *m, const struct vmio_acpi_device *d,
                           int *isa_irq)
{
    *isa_irq = -1;
    switch (d->kind) {
    case VMIO_ACPI_DEV_UART16550:
        *isa_irq = d->uart.isa_irq;
        return isa_gsi(m, d->uart.isa_irq);
    case VMIO_ACPI_DEV_CMOS_RTC:
        *isa_irq = VMIO_RTC_IRQ;
        return isa_gsi(m, VMIO_RTC_IRQ);
    case VMIO_ACPI_DEV_VIRTIO_MMIO:
        break;
    }
    return d->virtio_mmio.gsi;
}

static int check_device(const struct vmio_acpi_machine *m, unsigned i, struct vmio_error *err)
{
    const struct vmio_acpi_device *d = &m->devices[i];
    switch (d->kind) {
    case VMIO_ACPI_DEV_UART16550:
        if (d->uart.len == 0 || (uint32_t)d->uart.port + d->uart.len - 1 > 0xFFFF)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u] (16550 UART): ports 0x%x+%u are empty or "
                                  "pass 0xffff",
                                  i, d->uart.port, d->uart.len);
        if (d->uart.isa_irq == 0 || d->uart.isa_irq >= ISA_IRQS ||
            d->uart.isa_irq == ISA_CASCADE_IRQ)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u] (16550 UART): ISA IRQ %u is not in 1..15 or "
                                  "is 2 (the PIC cascade)",
                                  i, d->uart.isa_irq);
        break;
    case VMIO_ACPI_DEV_CMOS_RTC:
        break;
    case VMIO_ACPI_DEV_VIRTIO_MMIO:
        if (d->virtio_mmio.size < VIRTIO_MMIO_MIN_SIZE || d->virtio_mmio.base % 4 ||
            d->virtio_mmio.base + (d->virtio_mmio.size - 1) < d->virtio_mmio.base)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u] (virtio-mmio): window 0x%" PRIx64 "+0x%" PRIx64
                                  " is smaller than 0x100 bytes, not 4-byte "
                                  "aligned or wraps past 2^64",
                                  i, d->virtio_mmio.base, d->virtio_mmio.size);
        if (d->virtio_mmio.gsi < ISA_IRQS || !gsi_on_ioapic(m, d->virtio_mmio.gsi))
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u] (virtio-mmio): GSI %" PRIu32
                                  " is below 16 (the ISA IRQs) or not on the IOAPIC",
                                  i, d->virtio_mmio.gsi);
        break;
    default:
        return vmio_error_set(err, -EINVAL, "acpi: devices[%u]: unknown kind %d", i, (int)d->kind);
    }
    int isa_irq;
    uint32_t gsi = device_gsi(m, d, &isa_irq);
    if (!gsi_on_ioapic(m, gsi))
        return vmio_error_set(err, -EINVAL,
                              "acpi: devices[%u]: ISA IRQ %d arrives on GSI %" PRIu32
                              ", which is not on the IOAPIC",
                              i, isa_irq, gsi);
    /* One device per interrupt: ISA edge lines and exclusive GSIs are not shared. */
    for (unsigned j = 0; j < i; j++) {
        int other_irq;
        if (device_gsi(m, &m->devices[j], &other_irq) == gsi)
            return vmio_error_set(
                err, -EINVAL, "acpi: devices[%u] and devices[%u] share GSI %" PRIu32, j, i, gsi);
    }
    for (unsigned k = 0; k < m->override_count; k++)
        if (m->overrides[k].gsi == gsi && m->overrides[k].isa_irq != isa_irq)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u] uses GSI %" PRIu32
                                  ", which override %u gives to ISA IRQ %u",
                                  i, gsi, k, m->overrides[k].isa_irq);
    return 0;
}

static int check_devices(const struct vmio_acpi_machine *m, struct vmio_error *err)
{
    if (m->device_count && !m->devices)
        return vmio_error_set(err, -EINVAL, "acpi: devices is NULL");
    unsigned uarts = 0, rtcs = 0, virtio = 0;
    for (unsigned i = 0; i < m->device_count; i++) {
        enum vmio_acpi_device_kind k = m->devices[i].kind;
        uarts += k == VMIO_ACPI_DEV_UART16550;
        rtcs += k == VMIO_ACPI_DEV_CMOS_RTC;
        virtio += k == VMIO_ACPI_DEV_VIRTIO_MMIO;
        if (uarts > VMIO_ACPI_MAX_UARTS || rtcs > 1 || virtio > VMIO_ACPI_MAX_VIRTIO)
            return vmio_error_set(err, -EINVAL,
                                  "acpi: devices[%u]: too many of its kind (at most %u UARTs, "
                                  "1 RTC, %u virtio-mmio)",
                                  i, VMIO_ACPI_MAX_UARTS, VMIO_ACPI_MAX_VIRTIO);
        int rc = check_device(m, i, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_overlaps(const struct vmio_acpi_machine *m, const struct range *tables,
                          struct vmio_error *err)
{
    unsigned n = range_at(m, 0, NULL);
    struct range a, b;
    for (unsigned i = 0; i < n; i++) {
        range_at(m, i, &a);
        if (tables && overlap(&a, tables))
            return vmio_error_set(
                err, -EINVAL,
                "acpi: %s [0x%" PRIx64 "-0x%" PRIx64 "] overlaps %s [0x%" PRIx64 "-0x%" PRIx64 "]",
                a.what, a.first, a.last, tables->what, tables->first, tables->last);
        for (unsigned j = 0; j < i && !tables; j++) {
            range_at(m, j, &b);
            if (overlap(&a, &b))
                return vmio_error_set(err, -EINVAL,
                                      "acpi: %s (%s 0x%" PRIx64 "-0x%" PRIx64 ") overlaps %s (%s "
                                      "0x%" PRIx64 "-0x%" PRIx64 ")",
                                      a.what, space_name(a.space), a.first, a.last, b.what,
                                      space_name(b.space), b.first, b.last);
        }
    }
    return 0;
}

static int validate(const struct vmio_acpi_machine *m, struct vmio_error *err)
{
    int rc;
    if ((rc = check_cpus(m, err)) || (rc = check_ioapic(m, err)) || (rc = check_power(m, err)) ||
        (rc = check_devices(m, err)) || (rc = check_overlaps(m, NULL, err)))
        return rc;
    return 0;
}

/* ---- DSDT ---- */

static void dsdt_uart(struct vmio_aml *a, const struct vmio_acpi_device *d, unsigned number)
{
    char name[5];
    snprintf(name, sizeof(name), "COM%u", number);
    vmio_aml_device(a, name);
    vmio_aml_name(a, "_HID");
    vmio_aml_eisa_id(a, "PNP0501");
    vmio_aml_name(a, "_UID");
    vmio_aml_integer(a, number);
    vmio_aml_name(a, "_CRS");
    vmio_aml_resource_template(a);
    vmio_aml_io(a, d->uart.port, d->uart.port, 1, d->uart.len);
    vmio_aml_irq_noflags(a, (uint16_t)(1u << d->uart.isa_irq));
    vmio_aml_end(a);
    vmio_aml_end(a);
}

static void dsdt_rtc(struct vmio_aml *a)
{
    vmio_aml_device(a, "RTC");
    vmio_aml_name(a, "_HID");
    vmio_aml_eisa_id(a, "PNP0B00");
    vmio_aml_name(a, "_CRS");
    vmio_aml_resource_template(a);
    vmio_aml_io(a, VMIO_RTC_PORT, VMIO_RTC_PORT, 1, VMIO_RTC_PORTS);
    vmio_aml_irq_noflags(a, 1u << VMIO_RTC_IRQ);
    vmio_aml_end(a);
    vmio_aml_end(a);
}

static void dsdt_virtio(struct vmio_aml *a, const struct vmio_acpi_device *d, unsigned index)
{
    char name[5];
    snprintf(name, sizeof(name), "VR%02X", index & 0xFF);
    vmio_aml_device(a, name);
    vmio_aml_name(a, "_HID");
    vmio_aml_string(a, "LNRO0005");
    vmio_aml_name(a, "_UID");
    vmio_aml_integer(a, index);
    vmio_aml_name(a, "_CRS");
    vmio_aml_resource_template(a);
    uint64_t base = d->virtio_mmio.base, size = d->virtio_mmio.size;
    if (size <= UINT32_MAX && base + (size - 1) <= UINT32_MAX)
        vmio_aml_memory32_fixed(a, (uint32_t)base, (uint32_t)size, true);
    else
        vmio_aml_qword_memory(a, base, size, VMIO_AML_MEM_NON_CACHEABLE, true);
    uint32_t gsi = d->virtio_mmio.gsi;
    vmio_aml_interrupt(a, 0 /* level, active-high, exclusive */, &gsi, 1);
    vmio_aml_end(a);
    vmio_aml_end(a);
}

/* The DSDT's AML: \_S5 and the devices under \_SB. */
static void dsdt_aml(struct vmio_aml *a, const struct vmio_acpi_machine *m)
{
    /* \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved}; HW-reduced uses only SLP_TYPa. */
    vmio_aml_name(a, "_S5");
    vmio_aml_package(a);
    vmio_aml_integer(a, m->s5_sleep_type);
    vmio_aml_integer(a, 0);
    vmio_aml_integer(a, 0);
    vmio_aml_integer(a, 0);
    vmio_aml_end(a);

    vmio_aml_scope(a, "\\_SB");
    unsigned uarts = 0, virtio = 0;
    for (unsigned i = 0; i < m->device_count; i++) {
        const struct vmio_acpi_device *d = &m->devices[i];
        switch (d->kind) {
        case VMIO_ACPI_DEV_UART16550:
            dsdt_uart(a, d, ++uarts);
            break;
        case VMIO_ACPI_DEV_CMOS_RTC:
            dsdt_rtc(a);
            break;
        case VMIO_ACPI_DEV_VIRTIO_MMIO:
            dsdt_virtio(a, d, virtio++);
            break;
        }
    }
    vmio_aml_end(a);
}

/* ---- Tables ---- */

static bool has_rtc(const struct vmio_acpi_machine *m)
{
    for (unsigned i = 0; i < m->device_count; i++)
        if (m->devices[i].kind == VMIO_ACPI_DEV_CMOS_RTC)
            return true;
    return false;
}

/* The standard header; the checksum is filled by finish_table(). */
static void put_header(uint8_t *t, const char sig[4], size_t len, uint8_t revision)
{
    memcpy(t, sig, 4);
    put_le(t + 4, len, 4);
    t[8] = revision;
    t[9] = 0;
    memcpy(t + 10, OEM_ID, sizeof(OEM_ID));
    memcpy(t + 16, OEM_TABLE_ID, sizeof(OEM_TABLE_ID));
    put_le(t + 24, 1, 4); /* OEM revision */
    memcpy(t + 28, CREATOR_ID, sizeof(CREATOR_ID));
    put_le(t + 32, 1, 4); /* creator revision */
}

static void finish_table(uint8_t *t, size_t len)
{
    t[9] = vmio_acpi_checksum(t, len);
}

static void put_gas(uint8_t *out, const struct vmio_acpi_gas *g)
{
    out[0] = g->space_id;
    out[1] = g->bit_width;
    out[2] = g->bit_offset;
    out[3] = g->access_size;
    put_le(out + 4, g->address, 8);
}

static void write_rsdp(uint8_t *t, uint64_t xsdt)
{
    memcpy(t, "RSD PTR ", 8);
    memcpy(t + 9, OEM_ID, sizeof(OEM_ID));
    t[15] = 2;            /* revision: ACPI 2.0+ RSDP, with XSDT */
    put_le(t + 16, 0, 4); /* no RSDT: the XSDT is the root */
    put_le(t + 20, RSDP_LEN, 4);
    put_le(t + 24, xsdt, 8);
    t[8] = vmio_acpi_checksum(t, RSDP_V1_LEN);
    t[32] = vmio_acpi_checksum(t, RSDP_LEN);
}

static void write_xsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
    put_header(t, "XSDT", XSDT_LEN, XSDT_REVISION);
    put_le(t + HDR_LEN, fadt, 8);
    put_le(t + HDR_LEN + 8, madt, 8);
    finish_table(t, XSDT_LEN);
}

static void write_fadt(uint8_t *t, const struct vmio_acpi_machine *m, uint64_t dsdt)
{
    put_header(t, "FACP", FADT_LEN, FADT_REVISION);
    /* FIRMWARE_CTRL (36), X_FIRMWARE_CTRL (132): 0, no FACS on a HW-reduced platform. */
    put_le(t + 40, dsdt <= UINT32_MAX ? dsdt : 0, 4); /* DSDT, equal to X_DSDT when it fits */
    /* Preferred PM profile (45): 0 unspecified. SCI_INT (46): 0, no SCI.
     * SMI_CMD, ACPI_ENABLE/DISABLE, PM1/PM2/PM_TMR/GPE blocks (48..95): 0, none. */
    uint16_t boot_arch = BOOT_ARCH_VGA_NOT_PRESENT;
    if (m->i8042)
        boot_arch |= BOOT_ARCH_8042;
    if (!has_rtc(m))
        boot_arch |= BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
    put_le(t + 109, boot_arch, 2);
    put_le(t + 112,
           FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
               FADT_F_HW_REDUCED_ACPI,
           4);
    put_gas(t + 116, &m->reset_reg);
    t[128] = m->reset_value;
    /* ARM_BOOT_ARCH (129): 0. */
    t[131] = FADT_MINOR_VERSION;
    put_le(t + 140, dsdt, 8); /* X_DSDT */
    /* X_PM1a_EVT_BLK .. X_GPE1_BLK (148..243): 0, no legacy PM blocks. */
    put_gas(t + 244, &m->sleep_control);
    put_gas(t + 256, &m->sleep_status);
    memcpy(t + 268, HYPERVISOR_VENDOR, sizeof(HYPERVISOR_VENDOR));
    finish_table(t, FADT_LEN);
}

static size_t madt_length(const struct vmio_acpi_machine *m)
{
    return MADT_FIXED_LEN + (size_t)m->cpu_count * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
           (size_t)m->override_count * MADT_ISO_LEN + MADT_LAPIC_NMI_LEN;
}

static void write_madt(uint8_t *t, const struct vmio_acpi_machine *m, size_t len)
{
    put_header(t, "APIC", len, MADT_REVISION);
    put_le(t + 36, m->lapic_addr, 4);
    put_le(t + 40, m->pcat_compat ? MADT_PCAT_COMPAT : 0, 4);
    uint8_t *e = t + MADT_FIXED_LEN;
    for (unsigned i = 0; i < m->cpu_count; i++, e += MADT_LAPIC_LEN) {
        e[0] = MADT_TYPE_LAPIC;
        e[1] = MADT_LAPIC_LEN;
        e[2] = (uint8_t)i; /* ACPI processor UID */
        e[3] = (uint8_t)m->apic_ids[i];
        put_le(e + 4, MADT_LAPIC_ENABLED, 4);
    }
    e[0] = MADT_TYPE_IOAPIC;
    e[1] = MADT_IOAPIC_LEN;
    e[2] = m->ioapic_id;
    e[3] = 0;
    put_le(e + 4, m->ioapic_addr, 4);
    put_le(e + 8, m->ioapic_gsi_base, 4);
    e += MADT_IOAPIC_LEN;
    for (unsigned i = 0; i < m->override_count; i++, e += MADT_ISO_LEN) {
        e[0] = MADT_TYPE_ISO;
        e[1] = MADT_ISO_LEN;
        e[2] = 0; /* bus: ISA */
        e[3] = m->overrides[i].isa_irq;
        put_le(e + 4, m->overrides[i].gsi, 4);
        put_le(e + 8, m->overrides[i].flags, 2);
    }
    /* NMI on every CPU's LINT1, edge-triggered, active-high (as on a PC). */
    e[0] = MADT_TYPE_LAPIC_NMI;
    e[1] = MADT_LAPIC_NMI_LEN;
    e[2] = MADT_ALL_PROCESSORS;
    put_le(e + 3, VMIO_ACPI_INTI_ACTIVE_HIGH | VMIO_ACPI_INTI_EDGE, 2);
    e[5] = 1; /* LINT1 */
    finish_table(t, len);
}

int vmio_acpi_build(const struct vmio_acpi_machine *m, uint64_t base, void *buf, size_t cap,
                    struct vmio_acpi_tables *out, struct vmio_error *err)
{
    if (!m || !out)
        return vmio_error_set(err, -EINVAL, "acpi: NULL machine or result");
    if (!buf && cap)
        return vmio_error_set(err, -EINVAL, "acpi: NULL buffer of %zu bytes", cap);
    if (base % TABLE_ALIGN)
        return vmio_error_set(err, -EINVAL,
                              "acpi: base 0x%" PRIx64 " is not 16-byte aligned (the RSDP must be)",
                              base);
    int rc = validate(m, err);
    if (rc)
        return rc;

    /* Measure the DSDT's AML, then lay the tables out. */
    struct vmio_aml a;
    size_t aml_len;
    vmio_aml_init(&a, NULL, 0);
    dsdt_aml(&a, m);
    if ((rc = vmio_aml_finish(&a, &aml_len, err)))
        return rc;
    if (aml_len > UINT32_MAX - HDR_LEN)
        return vmio_error_set(err, -E2BIG, "acpi: the DSDT's AML is %zu bytes, too long", aml_len);

    struct vmio_acpi_tables t;
    memset(&t, 0, sizeof(t));
    t.rsdp = (struct vmio_acpi_table_loc){.offset = 0, .length = RSDP_LEN};
    t.xsdt = (struct vmio_acpi_table_loc){.offset = align_up(RSDP_LEN), .length = XSDT_LEN};
    t.fadt = (struct vmio_acpi_table_loc){.offset = align_up(t.xsdt.offset + XSDT_LEN),
                                          .length = FADT_LEN};
    t.madt = (struct vmio_acpi_table_loc){.offset = align_up(t.fadt.offset + FADT_LEN),
                                          .length = madt_length(m)};
    t.dsdt = (struct vmio_acpi_table_loc){.offset = align_up(t.madt.offset + t.madt.length),
                                          .length = HDR_LEN + aml_len};
    t.size = t.dsdt.offset + t.dsdt.length;
    if (t.size - 1 > UINT64_MAX - base)
        return vmio_error_set(err, -EINVAL,
                              "acpi: %zu bytes of tables at 0x%" PRIx64 " wrap past 2^64", t.size,
                              base);
    struct range tables = {
        .space = VMIO_ACPI_SPACE_MEMORY, .first = base, .last = base + (t.size - 1)};
    snprintf(tables.what, sizeof(tables.what), "the ACPI tables");
    if ((rc = check_overlaps(m, &tables, err)))
        return rc;
    struct vmio_acpi_table_loc *locs[] = {&t.rsdp, &t.xsdt, &t.fadt, &t.madt, &t.dsdt};
    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++)
        locs[i]->gpa = base + locs[i]->offset;

    if (!buf) {
        out->size = t.size;
        return 0;
    }
    if (cap < t.size)
        return vmio_error_set(err, -ENOSPC,
                              "acpi: the tables need %zu bytes (%u CPUs, %u devices) but the "
                              "buffer holds %zu",
                              t.size, m->cpu_count, m->device_count, cap);

    uint8_t *b = buf;
    memset(b, 0, t.size);
    vmio_aml_init(&a, b + t.dsdt.offset + HDR_LEN, aml_len);
    dsdt_aml(&a, m);
    size_t written;
    if ((rc = vmio_aml_finish(&a, &written, err)))
        return rc;
    if (written != aml_len)
        return vmio_error_set(err, -EIO, "acpi: the DSDT measured %zu bytes but built %zu", aml_len,
                              written);
    put_header(b + t.dsdt.offset, "DSDT", t.dsdt.length, DSDT_REVISION);
    finish_table(b + t.dsdt.offset, t.dsdt.length);
    write_madt(b + t.madt.offset, m, t.madt.length);
    write_fadt(b + t.fadt.offset, m, t.dsdt.gpa);
    write_xsdt(b + t.xsdt.offset, t.fadt.gpa, t.madt.gpa);
    write_rsdp(b + t.rsdp.offset, t.xsdt.gpa);
    *out = t;
    return 0;
}
