/*
 * ACPI table builder unit tests (vmio/acpi.h).
 *
 * The tables are parsed back here with the layouts of the ACPI 6.5
 * specification (chapter 5.2): every checksum (the RSDP's two), every
 * length, every cross reference (RSDP -> XSDT -> FADT / MADT, FADT -> DSDT),
 * the MADT's entries against the description. Then ACPICA's own tools
 * judge them: `iasl -d` must disassemble the XSDT, FADT, MADT and DSDT
 * without a warning or error, the disassembly must show the devices,
 * _HIDs, resources and _S5, and recompiling the disassembly with
 * `iasl -oa` must give back our bytes (only the compiler id, its version
 * and so the checksum differ). iasl cannot load an RSDP from a file, so
 * the RSDP is compiled by iasl from its fields and compared byte for byte:
 * iasl computes both its checksums. Without iasl these tests FAIL (Debian
 * package acpica-tools).
 *
 * Then every rule of the description's validation, one mutation each.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmio/acpi.h"
#include "vmio/acpi_pm.h"

#define BASE_BIOS 0xE0000u

struct fixture {
    uint32_t apic_ids[VMIO_ACPI_MAX_CPUS + 1];
    struct vmio_acpi_device devs[VMIO_ACPI_MAX_VIRTIO + 8];
    struct vmio_acpi_irq_override ovr[VMIO_ACPI_MAX_OVERRIDES + 1];
    struct vmio_acpi_machine m;
};

/*
 * A PC-like machine: @cpus CPUs with APIC ids (7 i) mod 255 (distinct, and
 * not equal to their UID), the default LAPIC / 24-pin IOAPIC, IRQ 0 -> GSI 2
 * and IRQ 9 -> GSI 9 level/high, COM1, the RTC, a virtio-mmio device below
 * 4 GiB on GSI 16 and one above 4 GiB on GSI 17, the power device at 0x600.
 */
static void machine_init(struct fixture *f, unsigned cpus)
{
    memset(f, 0, sizeof(*f));
    for (unsigned i = 0; i < VMIO_ACPI_MAX_CPUS; i++)
        f->apic_ids[i] = (7 * i) % 255;
    f->ovr[0] = (struct vmio_acpi_irq_override){0, 2, 0};
    f->ovr[1] =
        (struct vmio_acpi_irq_override){9, 9, VMIO_ACPI_INTI_ACTIVE_HIGH | VMIO_ACPI_INTI_LEVEL};
    f->devs[0].kind = VMIO_ACPI_DEV_UART16550;
    f->devs[0].uart.port = 0x3f8;
    f->devs[0].uart.len = 8;
    f->devs[0].uart.isa_irq = 4;
    f->devs[1].kind = VMIO_ACPI_DEV_CMOS_RTC;
    f->devs[2].kind = VMIO_ACPI_DEV_VIRTIO_MMIO;
    f->devs[2].virtio_mmio.base = 0xd1000000;
    f->devs[2].virtio_mmio.size = 0x1000;
    f->devs[2].virtio_mmio.gsi = 16;
    f->devs[3].kind = VMIO_ACPI_DEV_VIRTIO_MMIO;
    f->devs[3].virtio_mmio.base = 0x100000000ULL;
    f->devs[3].virtio_mmio.size = 0x200;
    f->devs[3].virtio_mmio.gsi = 17;
    f->m = (struct vmio_acpi_machine){
        .cpu_count = cpus,
        .apic_ids = f->apic_ids,
        .lapic_addr = VMIO_ACPI_LAPIC_ADDR_DEFAULT,
        .ioapic_id = 1,
        .ioapic_addr = VMIO_ACPI_IOAPIC_ADDR_DEFAULT,
        .ioapic_gsi_base = 0,
        .ioapic_pins = VMIO_ACPI_IOAPIC_PINS_DEFAULT,
        .overrides = f->ovr,
        .override_count = 2,
        .devices = f->devs,
        .device_count = 4,
    };
    vmio_acpi_pm_describe(VMIO_ACPI_PM_PORT_BASE, &f->m);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Sum of @n bytes mod 256, computed here independently of vmio_acpi_checksum(). */
static uint8_t byte_sum(const uint8_t *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return (uint8_t)s;
}

/* Build @f's tables at @base into a fresh exact-size buffer (caller frees). */
static uint8_t *build(const struct fixture *f, uint64_t base, struct vmio_acpi_tables *t)
{
    struct vmio_error err = {0};
    struct vmio_acpi_tables size_only;
    if (vmio_acpi_build(&f->m, base, NULL, 0, &size_only, &err) != 0)
        fail_msg("size query: %s", err.msg);
    uint8_t *buf = malloc(size_only.size);
    assert_non_null(buf);
    memset(buf, 0xA5, size_only.size);
    if (vmio_acpi_build(&f->m, base, buf, size_only.size, t, &err) != 0)
        fail_msg("build: %s", err.msg);
    assert_int_equal(t->size, size_only.size);
    return buf;
}

/* The table at guest-physical @gpa: in the build, aligned, signed @sig, checksum 0. */
static const uint8_t *table_at(const uint8_t *buf, uint64_t base, const struct vmio_acpi_tables *t,
                               uint64_t gpa, const char *sig)
{
    assert_true(gpa >= base && gpa - base < t->size);
    size_t off = (size_t)(gpa - base);
    assert_int_equal(off % 16, 0);
    const uint8_t *p = buf + off;
    assert_memory_equal(p, sig, 4);
    uint32_t len = rd32(p + 4);
    assert_true(len >= 36 && len <= t->size - off);
    assert_int_equal(byte_sum(p, len), 0);
    assert_memory_equal(p + 10, "VMIO  ", 6);
    return p;
}

static void check_gas(const uint8_t *p, const struct vmio_acpi_gas *g)
{
    assert_int_equal(p[0], g->space_id);
    assert_int_equal(p[1], g->bit_width);
    assert_int_equal(p[2], g->bit_offset);
    assert_int_equal(p[3], g->access_size);
    assert_int_equal(rd64(p + 4), g->address);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Everything a table consumer follows, from the RSDP down. */
static void check_tables(const struct vmio_acpi_machine *m, uint64_t base, const uint8_t *buf,
                         const struct vmio_acpi_tables *t)
{
    /* Layout: in order, aligned, not overlapping, sizes as reported. */
    const struct vmio_acpi_table_loc *locs[] = {&t->rsdp, &t->xsdt, &t->fadt, &t->madt, &t->dsdt};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(locs[i]->gpa, base + locs[i]->offset);
        assert_int_equal(locs[i]->offset % 16, 0);
        if (i > 0)
            assert_true(locs[i - 1]->offset + locs[i - 1]->length <= locs[i]->offset);
    }
    assert_int_equal(t->size, t->dsdt.offset + t->dsdt.length);
    assert_int_equal(t->rsdp.gpa, base);

    /* RSDP: signature, revision 2, both checksums, length, the XSDT. */
    const uint8_t *r = buf;
    assert_memory_equal(r, "RSD PTR ", 8);
    assert_int_equal(byte_sum(r, 20), 0);
    assert_int_equal(byte_sum(r, 36), 0);
    assert_int_equal(r[15], 2);
    assert_int_equal(rd32(r + 16), 0); /* no RSDT */
    assert_int_equal(rd32(r + 20), 36);
    assert_int_equal(t->rsdp.length, 36);
    assert_int_equal(rd64(r + 24), t->xsdt.gpa);

    /* XSDT: two entries, the FADT and the MADT. */
    const uint8_t *x = table_at(buf, base, t, rd64(r + 24), "XSDT");
    assert_int_equal(rd32(x + 4), 36 + 2 * 8);
    assert_int_equal(rd32(x + 4), t->xsdt.length);
    const uint8_t *fadt = table_at(buf, base, t, rd64(x + 36), "FACP");
    const uint8_t *madt = table_at(buf, base, t, rd64(x + 44), "APIC");
    assert_ptr_equal(fadt, buf + t->fadt.offset);
    assert_ptr_equal(madt, buf + t->madt.offset);

    /* FADT: revision 6.5, hardware-reduced, reset register, sleep registers, DSDT. */
    assert_int_equal(rd32(fadt + 4), 276);
    assert_int_equal(fadt[8], 6);
    assert_int_equal(fadt[131], 5);
    uint32_t flags = rd32(fadt + 112);
    assert_true(flags & (1u << 20));      /* HW_REDUCED_ACPI */
    assert_true(flags & (1u << 10));      /* RESET_REG_SUP */
    assert_int_equal(rd32(fadt + 36), 0); /* no FACS */
    assert_int_equal(rd64(fadt + 132), 0);
    assert_true(all_zero(fadt + 46, 2));          /* SCI_INT: none */
    assert_true(all_zero(fadt + 48, 108 - 48));   /* SMI, PM1/PM2/PM_TMR/GPE blocks and lengths */
    assert_true(all_zero(fadt + 148, 244 - 148)); /* the X_ legacy PM blocks */
    check_gas(fadt + 116, &m->reset_reg);
    assert_int_equal(fadt[128], m->reset_value);
    check_gas(fadt + 244, &m->sleep_control);
    check_gas(fadt + 256, &m->sleep_status);
    uint64_t dsdt_gpa = rd64(fadt + 140);
    assert_int_equal(dsdt_gpa, t->dsdt.gpa);
    assert_int_equal(rd32(fadt + 40), dsdt_gpa <= UINT32_MAX ? dsdt_gpa : 0);
    const uint8_t *dsdt = table_at(buf, base, t, dsdt_gpa, "DSDT");
    assert_int_equal(rd32(dsdt + 4), t->dsdt.length);
    assert_int_equal(dsdt[8], 2);
    assert_memory_equal(dsdt + 36, "\x08_S5_\x12", 6); /* Name (_S5, Package ...) first */

    /* MADT: one enabled local APIC per CPU in order, the IOAPIC, the overrides, the NMI. */
    uint32_t mlen = rd32(madt + 4);
    assert_int_equal(mlen, t->madt.length);
    assert_int_equal(rd32(madt + 36), m->lapic_addr);
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    size_t off = 44;
    while (off < mlen) {
        const uint8_t *e = madt + off;
        assert_true(off + 2 <= mlen && e[1] >= 2 && off + e[1] <= mlen);
        switch (e[0]) {
        case 0:
            assert_int_equal(e[1], 8);
            assert_true(lapics < m->cpu_count);
            assert_int_equal(e[2], lapics);
            assert_int_equal(e[3], m->apic_ids[lapics]);
            assert_int_equal(rd32(e + 4), 1);
            lapics++;
            break;
        case 1:
            assert_int_equal(e[1], 12);
            assert_int_equal(e[2], m->ioapic_id);
            assert_int_equal(rd32(e + 4), m->ioapic_addr);
            assert_int_equal(rd32(e + 8), m->ioapic_gsi_base);
            ioapics++;
            break;
        case 2:
            assert_int_equal(e[1], 10);
            assert_true(isos < m->override_count);
            assert_int_equal(e[2], 0);
            assert_int_equal(e[3], m->overrides[isos].isa_irq);
            assert_int_equal(rd32(e + 4), m->overrides[isos].gsi);
            assert_int_equal(rd16(e + 8), m->overrides[isos].flags);
            isos++;
            break;
        case 4:
            assert_int_equal(e[1], 6);
            assert_int_equal(e[2], 0xFF);
            assert_int_equal(e[5], 1); /* LINT1 */
            nmis++;
            break;
        default:
            fail_msg("unexpected MADT entry type %u", e[0]);
        }
        off += e[1];
    }
    assert_int_equal(off, mlen);
    assert_int_equal(lapics, m->cpu_count);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, m->override_count);
    assert_int_equal(nmis, 1);
}

static void test_tables_and_cross_references(void **state)
{
    (void)state;
    static struct fixture f;
    const unsigned counts[] = {1, 2, 4, 255};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        machine_init(&f, counts[i]);
        struct vmio_acpi_tables t;
        uint8_t *buf = build(&f, BASE_BIOS, &t);
        check_tables(&f.m, BASE_BIOS, buf, &t);
        assert_int_equal(t.madt.length, 44 + 8 * counts[i] + 12 + 2 * 10 + 6);
        free(buf);
    }
}

static void test_high_base_uses_x_dsdt_only(void **state)
{
    (void)state;
    static struct fixture f;
    machine_init(&f, 2);
    const uint64_t base = 0x200000000ULL;
    struct vmio_acpi_tables t;
    uint8_t *buf = build(&f, base, &t);
    check_tables(&f.m, base, buf, &t);
    const uint8_t *fadt = buf + t.fadt.offset;
    assert_int_equal(rd32(fadt + 40), 0);
    assert_int_equal(rd64(fadt + 140), base + t.dsdt.offset);
    free(buf);
}

static void test_largest_machine_fits_the_bios_area(void **state)
{
    (void)state;
    static struct fixture f;
    machine_init(&f, VMIO_ACPI_MAX_CPUS);
    /*
     * 4 UARTs, the RTC, and as many virtio-mmio devices as one IOAPIC can
     * give GSIs to (256 pins, GSIs 16..255: 240); 15 overrides (IRQs 0..15
     * but 2, the cascade, whose pin IRQ 0 takes).
     */
    unsigned n = 0;
    const uint16_t ports[4] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
    const uint8_t irqs[4] = {4, 3, 5, 6};
    for (unsigned i = 0; i < 4; i++, n++) {
        f.devs[n].kind = VMIO_ACPI_DEV_UART16550;
        f.devs[n].uart.port = ports[i];
        f.devs[n].uart.len = 8;
        f.devs[n].uart.isa_irq = irqs[i];
    }
    f.devs[n++].kind = VMIO_ACPI_DEV_CMOS_RTC;
    for (unsigned i = 0; i < 240; i++, n++) {
        f.devs[n].kind = VMIO_ACPI_DEV_VIRTIO_MMIO;
        f.devs[n].virtio_mmio.base = 0xd1000000u + i * 0x200u;
        f.devs[n].virtio_mmio.size = 0x200;
        f.devs[n].virtio_mmio.gsi = 16 + i;
    }
    f.m.device_count = n;
    f.m.ioapic_pins = 256;
    unsigned k = 0;
    for (unsigned irq = 0; irq < 16; irq++) {
        if (irq == 2)
            continue;
        f.ovr[k++] = (struct vmio_acpi_irq_override){
            (uint8_t)irq, irq == 0 ? 2u : irq, VMIO_ACPI_INTI_ACTIVE_HIGH | VMIO_ACPI_INTI_EDGE};
    }
    f.m.override_count = k;
    struct vmio_acpi_tables t;
    uint8_t *buf = build(&f, BASE_BIOS, &t);
    check_tables(&f.m, BASE_BIOS, buf, &t);
    assert_true(BASE_BIOS + t.size <= VMIO_ACPI_BIOS_AREA_END);
    free(buf);
}

static void test_boot_flags_follow_the_description(void **state)
{
    (void)state;
    static struct fixture f;
    machine_init(&f, 1);
    struct vmio_acpi_tables t;
    uint8_t *buf = build(&f, BASE_BIOS, &t);
    /* RTC present, no 8042, no VGA; no PIC. */
    assert_int_equal(rd16(buf + t.fadt.offset + 109), 1u << 2);
    assert_int_equal(rd32(buf + t.madt.offset + 40), 0);
    free(buf);

    f.m.device_count = 1; /* COM1 only: no RTC */
    f.m.i8042 = true;
    f.m.pcat_compat = true;
    buf = build(&f, BASE_BIOS, &t);
    assert_int_equal(rd16(buf + t.fadt.offset + 109), (1u << 1) | (1u << 2) | (1u << 5));
    assert_int_equal(rd32(buf + t.madt.offset + 40), 1);
    free(buf);
}

static void test_size_query_and_no_space(void **state)
{
    (void)state;
    static struct fixture f;
    machine_init(&f, 1);
    struct vmio_acpi_tables t;
    struct vmio_error err = {0};
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, NULL, 0, &t, &err), 0);
    size_t one_cpu = t.size;

    /* One byte short: refused, and the buffer is not touched. */
    uint8_t *buf = malloc(one_cpu);
    assert_non_null(buf);
    memset(buf, 0xA5, one_cpu);
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, buf, one_cpu - 1, &t, &err), -ENOSPC);
    char need[64];
    snprintf(need, sizeof(need), "need %zu bytes", one_cpu);
    assert_non_null(strstr(err.msg, need));
    for (size_t i = 0; i < one_cpu; i++)
        assert_int_equal(buf[i], 0xA5);

    /* Too many CPUs for the buffer. */
    f.m.cpu_count = VMIO_ACPI_MAX_CPUS;
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, buf, one_cpu, &t, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "255 CPUs"));

    /* A NULL buffer with a size is a caller bug. */
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, NULL, 16, &t, &err), -EINVAL);
    assert_int_equal(vmio_acpi_build(NULL, BASE_BIOS, buf, one_cpu, &t, &err), -EINVAL);
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, buf, one_cpu, NULL, &err), -EINVAL);
    free(buf);
}

static void test_build_is_deterministic(void **state)
{
    (void)state;
    static struct fixture f;
    machine_init(&f, 3);
    struct vmio_acpi_tables t1, t2;
    uint8_t *a = build(&f, BASE_BIOS, &t1);
    /* A second buffer full of other garbage: padding and unused fields must not leak it. */
    uint8_t *b = malloc(t1.size);
    assert_non_null(b);
    memset(b, 0x3C, t1.size);
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, b, t1.size, &t2, NULL), 0);
    assert_memory_equal(a, b, t1.size);
    free(a);
    free(b);
}

static void test_checksum_helper(void **state)
{
    (void)state;
    uint8_t t[5] = {1, 2, 3, 0, 4};
    t[3] = vmio_acpi_checksum(t, sizeof(t));
    assert_int_equal(byte_sum(t, sizeof(t)), 0);
    assert_int_equal(vmio_acpi_checksum(t, sizeof(t)), 0);
}

/* ---- Validation: one rule broken at a time ---- */

enum bad_case {
    B_NO_CPU,
    B_TOO_MANY_CPUS,
    B_NULL_IDS,
    B_APIC_ID_255,
    B_DUP_APIC,
    B_LAPIC_ALIGN,
    B_IOAPIC_0,
    B_PINS_0,
    B_PINS_257,
    B_GSI_WRAP,
    B_TOO_MANY_OVR,
    B_OVR_IRQ,
    B_OVR_GSI,
    B_OVR_DUP_IRQ,
    B_OVR_DUP_GSI,
    B_OVR_POLARITY,
    B_OVR_TRIGGER,
    B_OVR_HIGH_BITS,
    B_OVR_NULL,
    B_GAS_SPACE,
    B_GAS_WIDTH,
    B_GAS_ACCESS,
    B_GAS_ZERO,
    B_GAS_PORT,
    B_GAS_SAME,
    B_S5,
    B_UART_IRQ0,
    B_UART_IRQ2,
    B_UART_IRQ16,
    B_UART_LEN0,
    B_UART_WRAP,
    B_UART_OVERLAP,
    B_UART_ON_PM,
    B_UART_ON_RTC,
    B_TWO_RTC,
    B_FIVE_UARTS,
    B_VIRTIO_SMALL,
    B_VIRTIO_ALIGN,
    B_VIRTIO_WRAP,
    B_VIRTIO_GSI15,
    B_VIRTIO_GSI_OFF,
    B_VIRTIO_SAME_GSI,
    B_VIRTIO_OVR_GSI,
    B_UART_OVR_GSI,
    B_VIRTIO_OVERLAP,
    B_VIRTIO_ON_IOAPIC,
    B_VIRTIO_ON_TABLES,
    B_KIND,
    B_DEVS_NULL,
    B_MEM_GAS_ON_VIRTIO,
    B_ISA_OFF_IOAPIC,
    B_COUNT
};

static const char *const bad_msg[B_COUNT] = {
    [B_NO_CPU] = "cpu_count 0 is outside",
    [B_TOO_MANY_CPUS] = "cpu_count 256 is outside",
    [B_NULL_IDS] = "apic_ids is NULL",
    [B_APIC_ID_255] = "APIC id 255 is above 254",
    [B_DUP_APIC] = "CPUs 0 and 2 have APIC id 0",
    [B_LAPIC_ALIGN] = "local APIC address 0xfee00800",
    [B_IOAPIC_0] = "IOAPIC address 0x0",
    [B_PINS_0] = "IOAPIC pins 0",
    [B_PINS_257] = "IOAPIC pins 257",
    [B_GSI_WRAP] = "passes 2^32",
    [B_TOO_MANY_OVR] = "17 interrupt source overrides",
    [B_OVR_IRQ] = "override 0: ISA IRQ 16 is above 15",
    [B_OVR_GSI] = "override 0: GSI 24 is not on the IOAPIC",
    [B_OVR_DUP_IRQ] = "overrides 0 and 1 both map ISA IRQ 0",
    [B_OVR_DUP_GSI] = "overrides 0 and 1 both target GSI 2",
    [B_OVR_POLARITY] = "override 1: flags 0x2 use reserved values",
    [B_OVR_TRIGGER] = "override 1: flags 0x8 use reserved values",
    [B_OVR_HIGH_BITS] = "override 1: flags 0x10 use reserved values",
    [B_OVR_NULL] = "overrides is NULL",
    [B_GAS_SPACE] = "sleep control register: address space 2",
    [B_GAS_WIDTH] = "sleep status register: bit width 16",
    [B_GAS_ACCESS] = "reset register: access size 2",
    [B_GAS_ZERO] = "reset register: address 0",
    [B_GAS_PORT] = "port 0x10000 is past 0xffff",
    [B_GAS_SAME] = "the sleep status register (port 0x600-0x600) overlaps the sleep control",
    [B_S5] = "S5 sleep type 8",
    [B_UART_IRQ0] = "ISA IRQ 0 is not in 1..15",
    [B_UART_IRQ2] = "ISA IRQ 2 is not in 1..15",
    [B_UART_IRQ16] = "ISA IRQ 16 is not in 1..15",
    [B_UART_LEN0] = "ports 0x3f8+0 are empty",
    [B_UART_WRAP] = "ports 0xfffc+8 are empty or pass 0xffff",
    [B_UART_OVERLAP] =
        "devices[4] (16550 UART) (port 0x3fc-0x403) overlaps devices[0] (16550 UART)",
    [B_UART_ON_PM] = "overlaps the sleep control register",
    [B_UART_ON_RTC] = "devices[4] (16550 UART) (port 0x6e-0x71) overlaps devices[1] (CMOS RTC)",
    [B_TWO_RTC] = "devices[4]: too many of its kind",
    [B_FIVE_UARTS] = "devices[7]: too many of its kind",
    [B_VIRTIO_SMALL] = "window 0xd1000000+0xff is smaller than 0x100",
    [B_VIRTIO_ALIGN] = "window 0xd1000002+0x1000",
    [B_VIRTIO_WRAP] = "wraps past 2^64",
    [B_VIRTIO_GSI15] = "GSI 15 is below 16",
    [B_VIRTIO_GSI_OFF] = "GSI 24 is below 16 (the ISA IRQs) or not on the IOAPIC",
    [B_VIRTIO_SAME_GSI] = "devices[2] and devices[3] share GSI 16",
    [B_VIRTIO_OVR_GSI] = "devices[3] uses GSI 20, which override 1 gives to ISA IRQ 5",
    [B_UART_OVR_GSI] = "devices[0] uses GSI 4, which override 0 gives to ISA IRQ 0",
    [B_VIRTIO_OVERLAP] = "devices[3] (virtio-mmio) (memory 0xd1000800-0xd10009ff) overlaps "
                         "devices[2] (virtio-mmio)",
    [B_VIRTIO_ON_IOAPIC] = "overlaps the IOAPIC page",
    [B_VIRTIO_ON_TABLES] = "devices[2] (virtio-mmio) [0xe0000-0xe0fff] overlaps the ACPI tables",
    [B_KIND] = "devices[1]: unknown kind 99",
    [B_DEVS_NULL] = "devices is NULL",
    [B_MEM_GAS_ON_VIRTIO] = "devices[2] (virtio-mmio) (memory 0xd1000000-0xd1000fff) overlaps "
                            "the sleep control register",
    [B_ISA_OFF_IOAPIC] = "ISA IRQ 4 arrives on GSI 4, which is not on the IOAPIC",
};

static void break_rule(struct fixture *f, enum bad_case c)
{
    struct vmio_acpi_machine *m = &f->m;
    switch (c) {
    case B_NO_CPU:
        m->cpu_count = 0;
        break;
    case B_TOO_MANY_CPUS:
        m->cpu_count = 256;
        break;
    case B_NULL_IDS:
        m->apic_ids = NULL;
        break;
    case B_APIC_ID_255:
        f->apic_ids[1] = 255;
        break;
    case B_DUP_APIC:
        f->apic_ids[2] = f->apic_ids[0];
        break;
    case B_LAPIC_ALIGN:
        m->lapic_addr = 0xFEE00800;
        break;
    case B_IOAPIC_0:
        m->ioapic_addr = 0;
        break;
    case B_PINS_0:
        m->ioapic_pins = 0;
        break;
    case B_PINS_257:
        m->ioapic_pins = 257;
        break;
    case B_GSI_WRAP:
        m->ioapic_gsi_base = 0xFFFFFFF0u;
        break;
    case B_TOO_MANY_OVR:
        m->override_count = 17;
        break;
    case B_OVR_IRQ:
        f->ovr[0].isa_irq = 16;
        break;
    case B_OVR_GSI:
        f->ovr[0].gsi = 24;
        break;
    case B_OVR_DUP_IRQ:
        f->ovr[1].isa_irq = 0;
        break;
    case B_OVR_DUP_GSI:
        f->ovr[1].gsi = 2;
        break;
    case B_OVR_POLARITY:
        f->ovr[1].flags = 0x2;
        break;
    case B_OVR_TRIGGER:
        f->ovr[1].flags = 0x8;
        break;
    case B_OVR_HIGH_BITS:
        f->ovr[1].flags = 0x10;
        break;
    case B_OVR_NULL:
        m->overrides = NULL;
        break;
    case B_GAS_SPACE:
        m->sleep_control.space_id = 2;
        break;
    case B_GAS_WIDTH:
        m->sleep_status.bit_width = 16;
        break;
    case B_GAS_ACCESS:
        m->reset_reg.access_size = 2;
        break;
    case B_GAS_ZERO:
        m->reset_reg.address = 0;
        break;
    case B_GAS_PORT:
        m->sleep_control.address = 0x10000;
        break;
    case B_GAS_SAME:
        m->sleep_status.address = m->sleep_control.address;
        break;
    case B_S5:
        m->s5_sleep_type = 8;
        break;
    case B_UART_IRQ0:
        f->devs[0].uart.isa_irq = 0;
        break;
    case B_UART_IRQ2:
        f->devs[0].uart.isa_irq = 2;
        break;
    case B_UART_IRQ16:
        f->devs[0].uart.isa_irq = 16;
        break;
    case B_UART_LEN0:
        f->devs[0].uart.len = 0;
        break;
    case B_UART_WRAP:
        f->devs[0].uart.port = 0xFFFC;
        break;
    case B_UART_OVERLAP:
    case B_UART_ON_PM:
    case B_UART_ON_RTC:
        f->devs[4].kind = VMIO_ACPI_DEV_UART16550;
        f->devs[4].uart.port = c == B_UART_OVERLAP ? 0x3FC : c == B_UART_ON_PM ? 0x600 : 0x6E;
        f->devs[4].uart.len = c == B_UART_ON_RTC ? 4 : 8;
        f->devs[4].uart.isa_irq = 3;
        m->device_count = 5;
        break;
    case B_TWO_RTC:
        f->devs[4].kind = VMIO_ACPI_DEV_CMOS_RTC;
        m->device_count = 5;
        break;
    case B_FIVE_UARTS:
        for (unsigned i = 4; i < 8; i++) {
            f->devs[i].kind = VMIO_ACPI_DEV_UART16550;
            f->devs[i].uart.port = (uint16_t)(0x2000 + i * 8);
            f->devs[i].uart.len = 8;
            f->devs[i].uart.isa_irq = (uint8_t)(i + 6); /* 10..13 */
        }
        m->device_count = 8;
        break;
    case B_VIRTIO_SMALL:
        f->devs[2].virtio_mmio.size = 0xFF;
        break;
    case B_VIRTIO_ALIGN:
        f->devs[2].virtio_mmio.base = 0xd1000002;
        break;
    case B_VIRTIO_WRAP:
        f->devs[2].virtio_mmio.base = UINT64_MAX - 0xFF;
        break;
    case B_VIRTIO_GSI15:
        f->devs[2].virtio_mmio.gsi = 15;
        break;
    case B_VIRTIO_GSI_OFF:
        f->devs[2].virtio_mmio.gsi = 24;
        break;
    case B_VIRTIO_SAME_GSI:
        f->devs[3].virtio_mmio.gsi = 16;
        break;
    case B_VIRTIO_OVR_GSI:
        f->ovr[1] = (struct vmio_acpi_irq_override){5, 20, 0};
        f->devs[3].virtio_mmio.gsi = 20;
        break;
    case B_UART_OVR_GSI:
        f->ovr[0].gsi = 4;
        break;
    case B_VIRTIO_OVERLAP:
        f->devs[3].virtio_mmio.base = 0xd1000800;
        break;
    case B_VIRTIO_ON_IOAPIC:
        f->devs[2].virtio_mmio.base = 0xfec00000;
        break;
    case B_VIRTIO_ON_TABLES:
        f->devs[2].virtio_mmio.base = BASE_BIOS;
        break;
    case B_KIND:
        f->devs[1].kind = (enum vmio_acpi_device_kind)99;
        break;
    case B_DEVS_NULL:
        m->devices = NULL;
        break;
    case B_MEM_GAS_ON_VIRTIO:
        m->sleep_control.space_id = VMIO_ACPI_SPACE_MEMORY;
        m->sleep_control.address = 0xd1000010;
        break;
    case B_ISA_OFF_IOAPIC:
        m->ioapic_gsi_base = 16;
        m->override_count = 0;
        break;
    case B_COUNT:
        break;
    }
}

static void test_every_rule_is_enforced(void **state)
{
    (void)state;
    static struct fixture f;
    uint8_t buf[8192];
    for (int c = 0; c < B_COUNT; c++) {
        machine_init(&f, 4);
        break_rule(&f, (enum bad_case)c);
        struct vmio_acpi_tables t;
        struct vmio_error err = {0};
        memset(buf, 0x5A, sizeof(buf));
        int rc = vmio_acpi_build(&f.m, BASE_BIOS, buf, sizeof(buf), &t, &err);
        if (rc != -EINVAL)
            fail_msg("case %d: rc %d (%s), expected -EINVAL", c, rc, err.msg);
        assert_non_null(bad_msg[c]);
        if (!strstr(err.msg, bad_msg[c]))
            fail_msg("case %d: \"%s\" does not say \"%s\"", c, err.msg, bad_msg[c]);
        for (size_t i = 0; i < sizeof(buf); i++)
            if (buf[i] != 0x5A)
                fail_msg("case %d: the buffer was written at %zu", c, i);
        /* The size query applies the same rules. */
        assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS, NULL, 0, &t, NULL), -EINVAL);
    }
    /* The base itself. */
    machine_init(&f, 1);
    struct vmio_acpi_tables t;
    struct vmio_error err = {0};
    assert_int_equal(vmio_acpi_build(&f.m, BASE_BIOS + 8, buf, sizeof(buf), &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "base 0xe0008 is not 16-byte aligned"));
    assert_int_equal(vmio_acpi_build(&f.m, UINT64_MAX - 15, buf, sizeof(buf), &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "wrap past 2^64"));
}

/* ---- iasl ---- */

struct tmpdir {
    char path[64];
};

static void require_iasl(void)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        fail_msg("iasl not found: install the Debian package acpica-tools "
                 "(apt-get install acpica-tools); these tests need it");
}

/* Run @cmd (in a shell) with its output in @out; returns its exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Read a whole file (NUL-terminated; caller frees); *@len its size. */
static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static const char *const complaints[] = {"Warning", "Error", "error",   "Incorrect",
                                         "Invalid", "****",  "Unknown", "Could not"};

static void no_complaint(const char *what, const char *text)
{
    for (size_t i = 0; i < sizeof(complaints) / sizeof(complaints[0]); i++)
        if (strstr(text, complaints[i]))
            fail_msg("%s: iasl says \"%s\":\n%s", what, complaints[i], text);
}

static void contains(const char *what, const char *text, const char *needle)
{
    if (!text)
        fail_msg("%s: no disassembly", what);
    else if (!strstr(text, needle))
        fail_msg("%s: the disassembly lacks \"%s\":\n%s", what, needle, text);
}

static unsigned count_of(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/*
 * Disassemble @name.dat with iasl -d (no complaint, status 0), recompile the
 * disassembly without optimisations and compare the result with @table:
 * only the compiler id and revision (bytes 28-35) and the checksum may
 * differ. Returns the disassembly (caller frees).
 */
static char *disassemble(const char *dir, const char *name, const uint8_t *table, size_t len)
{
    char file[32], cmd[512], out[16384];
    snprintf(file, sizeof(file), "%s.dat", name);
    write_file(dir, file, table, len);
    snprintf(cmd, sizeof(cmd), "cd '%s' && iasl -d %s.dat", dir, name);
    int st = run(cmd, out, sizeof(out));
    if (st != 0)
        fail_msg("%s: iasl -d exited with %d:\n%s", name, st, out);
    no_complaint(name, out);
    snprintf(file, sizeof(file), "%s.dsl", name);
    char *dsl = read_file(dir, file, NULL);
    no_complaint(name, dsl);

    snprintf(cmd, sizeof(cmd), "cd '%s' && iasl -oa -p rc_%s %s.dsl", dir, name, name);
    st = run(cmd, out, sizeof(out));
    if (st != 0 || !strstr(out, "0 Errors, 0 Warnings, 0 Remarks"))
        fail_msg("%s: recompiling the disassembly: status %d:\n%s", name, st, out);
    snprintf(file, sizeof(file), "rc_%s.aml", name);
    size_t rlen;
    uint8_t *again = (uint8_t *)read_file(dir, file, &rlen);
    assert_int_equal(rlen, len);
    assert_memory_equal(again, table, 9);
    assert_memory_equal(again + 10, table + 10, 28 - 10);
    assert_memory_equal(again + 36, table + 36, len - 36);
    assert_int_equal(byte_sum(again, rlen), 0);
    free(again);
    return dsl;
}

/*
 * The RSDP: iasl's data table compiler builds one from our fields (it
 * computes both checksums itself); the result must equal ours.
 */
static void rsdp_through_iasl(const char *dir, const uint8_t *r)
{
    char src[1024], out[4096], cmd[512];
    snprintf(src, sizeof(src),
             "[0008]                          Signature : \"RSD PTR \"\n"
             "[0001]                           Checksum : 00\n"
             "[0006]                             Oem ID : \"%.6s\"\n"
             "[0001]                           Revision : %02X\n"
             "[0004]                       RSDT Address : %08X\n"
             "[0004]                             Length : %08X\n"
             "[0008]                       XSDT Address : %016llX\n"
             "[0001]                  Extended Checksum : 00\n"
             "[0003]                           Reserved : 000000\n",
             (const char *)r + 9, r[15], rd32(r + 16), rd32(r + 20),
             (unsigned long long)rd64(r + 24));
    write_file(dir, "rsdp.asl", src, strlen(src));
    snprintf(cmd, sizeof(cmd), "cd '%s' && iasl rsdp.asl", dir);
    int st = run(cmd, out, sizeof(out));
    if (st != 0 || !strstr(out, "0 Errors, 0 Warnings, 0 Remarks"))
        fail_msg("rsdp: iasl status %d:\n%s", st, out);
    size_t len;
    uint8_t *iasl_rsdp = (uint8_t *)read_file(dir, "rsdp.aml", &len);
    assert_int_equal(len, 36);
    assert_memory_equal(iasl_rsdp, r, 36);
    free(iasl_rsdp);
}

/* cmocka setup: a fresh temporary directory in *@state (removed by teardown, even on failure). */
static int make_tmpdir(void **state)
{
    struct tmpdir *d = malloc(sizeof(*d));
    if (!d)
        return -1;
    snprintf(d->path, sizeof(d->path), "/tmp/vmio-acpi-XXXXXX");
    if (!mkdtemp(d->path)) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

/* cmocka teardown: remove the directory and the flat files iasl and the test left in it. */
static int remove_tmpdir(void **state)
{
    struct tmpdir *d = *state;
    int rc = 0;
    DIR *dir = opendir(d->path);
    if (dir) {
        struct dirent *e;
        char path[sizeof(d->path) + 256 + 2];
        while ((e = readdir(dir))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(path, sizeof(path), "%s/%s", d->path, e->d_name);
            rc |= unlink(path);
        }
        closedir(dir);
    }
    rc |= rmdir(d->path);
    free(d);
    return rc == 0 ? 0 : -1;
}

static void test_iasl_accepts_every_table(void **state)
{
    const struct tmpdir *d = *state;
    require_iasl();
    static struct fixture f;
    machine_init(&f, 4);
    struct vmio_acpi_tables t;
    uint8_t *buf = build(&f, BASE_BIOS, &t);

    rsdp_through_iasl(d->path, buf + t.rsdp.offset);

    char *x = disassemble(d->path, "xsdt", buf + t.xsdt.offset, t.xsdt.length);
    contains("xsdt", x, "ACPI Table Address   0 : 00000000000E0070");
    contains("xsdt", x, "ACPI Table Address   1 : 00000000000E0190");
    free(x);

    char *fa = disassemble(d->path, "facp", buf + t.fadt.offset, t.fadt.length);
    contains("facp", fa, "Revision : 06");
    contains("facp", fa, "FADT Minor Revision : 05");
    contains("facp", fa, "Hardware Reduced (V5) : 1");
    contains("facp", fa, "Reset Register Supported (V2) : 1");
    contains("facp", fa, "Value to cause reset : 06");
    contains("facp", fa, "Address : 0000000000000602");
    contains("facp", fa, "Sleep Control Register : [Generic Address Structure]");
    contains("facp", fa, "Address : 0000000000000600");
    contains("facp", fa, "Sleep Status Register : [Generic Address Structure]");
    contains("facp", fa, "Address : 0000000000000601");
    contains("facp", fa, "SCI Interrupt : 0000");
    free(fa);

    char *ap = disassemble(d->path, "apic", buf + t.madt.offset, t.madt.length);
    assert_int_equal(count_of(ap, "[Processor Local APIC]"), 4);
    contains("apic", ap, "Local Apic ID : 15"); /* CPU 3: 7 * 3 = 21 */
    assert_int_equal(count_of(ap, "[I/O APIC]"), 1);
    contains("apic", ap, "Address : FEC00000");
    assert_int_equal(count_of(ap, "[Interrupt Source Override]"), 2);
    contains("apic", ap, "Interrupt : 00000002");
    assert_int_equal(count_of(ap, "[Local APIC NMI]"), 1);
    contains("apic", ap, "Interrupt Input LINT : 01");
    free(ap);

    char *ds = disassemble(d->path, "dsdt", buf + t.dsdt.offset, t.dsdt.length);
    const char *want[] = {
        "Name (_S5, Package (0x04)",
        "0x05, \n        Zero, \n        Zero, \n        Zero\n",
        "Scope (\\_SB)",
        "Device (COM1)",
        "Name (_HID, EisaId (\"PNP0501\")",
        "Name (_UID, One)",
        "IO (Decode16,\n                    0x03F8,             // Range Minimum\n"
        "                    0x03F8,             // Range Maximum\n"
        "                    0x01,               // Alignment\n"
        "                    0x08,               // Length",
        "IRQNoFlags ()\n                    {4}",
        "Device (RTC)",
        "Name (_HID, EisaId (\"PNP0B00\")",
        "0x0070,             // Range Minimum",
        "IRQNoFlags ()\n                    {8}",
        "Device (VR00)",
        "Name (_HID, \"LNRO0005\")",
        "Name (_UID, Zero)",
        "Memory32Fixed (ReadWrite,\n                    0xD1000000,         // Address Base\n"
        "                    0x00001000,         // Address Length",
        "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )\n"
        "                {\n                    0x00000010,",
        "Device (VR01)",
        "QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,",
        "0x0000000100000000, // Range Minimum",
        "0x00000001000001FF, // Range Maximum",
        "0x0000000000000200, // Length",
        "0x00000011,",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        contains("dsdt", ds, want[i]);
    assert_int_equal(count_of(ds, "Device ("), 4);
    free(ds);

    free(buf);
}

static void test_iasl_accepts_the_smallest_machine(void **state)
{
    const struct tmpdir *d = *state;
    require_iasl();
    static struct fixture f;
    machine_init(&f, 1);
    f.m.device_count = 0;
    f.m.override_count = 0;
    struct vmio_acpi_tables t;
    uint8_t *buf = build(&f, 0x7FFF0000, &t);
    check_tables(&f.m, 0x7FFF0000, buf, &t);
    rsdp_through_iasl(d->path, buf);
    free(disassemble(d->path, "xsdt", buf + t.xsdt.offset, t.xsdt.length));
    char *fa = disassemble(d->path, "facp", buf + t.fadt.offset, t.fadt.length);
    contains("facp", fa, "CMOS RTC Not Present (V5) : 1");
    free(fa);
    free(disassemble(d->path, "apic", buf + t.madt.offset, t.madt.length));
    char *ds = disassemble(d->path, "dsdt", buf + t.dsdt.offset, t.dsdt.length);
    contains("dsdt", ds, "Name (_S5, Package (0x04)");
    contains("dsdt", ds, "Scope (\\_SB)");
    assert_int_equal(count_of(ds, "Device ("), 0);
    free(ds);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_and_cross_references),
        cmocka_unit_test(test_high_base_uses_x_dsdt_only),
        cmocka_unit_test(test_largest_machine_fits_the_bios_area),
        cmocka_unit_test(test_boot_flags_follow_the_description),
        cmocka_unit_test(test_size_query_and_no_space),
        cmocka_unit_test(test_build_is_deterministic),
        cmocka_unit_test(test_checksum_helper),
        cmocka_unit_test(test_every_rule_is_enforced),
        cmocka_unit_test_setup_teardown(test_iasl_accepts_every_table, make_tmpdir, remove_tmpdir),
        cmocka_unit_test_setup_teardown(test_iasl_accepts_the_smallest_machine, make_tmpdir,
                                        remove_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
