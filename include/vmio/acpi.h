/*
 * ACPI tables built at run time from a machine description: RSDP (revision
 * 2), XSDT, FADT (revision 6, hardware-reduced), MADT and DSDT, the set a
 * stock x86 Linux kernel needs to find its CPUs, IOAPIC and devices when it
 * has no MP table and no virtio_mmio command-line devices. docs/acpi.md
 * says what each table holds and why.
 *
 * The builder is pure: no allocation, no OS call, no global state. It writes
 * every table into one caller-supplied buffer that the caller copies into
 * guest memory at a guest-physical base address of its choice; tables point
 * at each other by guest-physical address, so the base is part of the
 * input. The RSDP is always first, at the base itself.
 *
 * How a Linux guest finds the RSDP, and so how to choose the base:
 * - boot_params.acpi_rsdp_addr (x86 boot protocol 2.14 and later): put the
 *   tables anywhere in guest RAM that the e820 map reserves (type 3,
 *   ACPI reclaimable, or type 2) and store the RSDP's address there;
 * - or the BIOS area scan: with the base inside VMIO_ACPI_BIOS_AREA_START ..
 *   VMIO_ACPI_BIOS_AREA_END (16-byte aligned, as the builder requires
 *   anyway), Linux finds the RSDP by scanning that area on 16-byte
 *   boundaries for "RSD PTR " with valid checksums; the whole build must
 *   then fit below VMIO_ACPI_BIOS_AREA_END.
 *
 * Invariant: on success every table's checksum is right (the RSDP's two as
 * well), every length is exact, and every address in a table lies inside
 * [base, base + size). On failure the buffer's content is unspecified.
 */
#ifndef VMIO_ACPI_H
#define VMIO_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

/* The legacy BIOS area Linux scans for the RSDP (end exclusive). */
#define VMIO_ACPI_BIOS_AREA_START 0xE0000u
#define VMIO_ACPI_BIOS_AREA_END 0x100000u

/* The x86 defaults (and where KVM's in-kernel irqchip puts them). */
#define VMIO_ACPI_LAPIC_ADDR_DEFAULT 0xFEE00000u
#define VMIO_ACPI_IOAPIC_ADDR_DEFAULT 0xFEC00000u
#define VMIO_ACPI_IOAPIC_PINS_DEFAULT 24u

/* Limits of a description (see vmio_acpi_build() for every rule). */
#define VMIO_ACPI_MAX_CPUS 255u     /* xAPIC ids 0..254 (255 is broadcast) */
#define VMIO_ACPI_MAX_OVERRIDES 16u /* one per ISA IRQ at most */
#define VMIO_ACPI_MAX_UARTS 4u      /* COM1..COM4 */
#define VMIO_ACPI_MAX_VIRTIO 256u   /* VR00..VRFF (one IOAPIC has GSIs for 240) */

/* Generic Address Structure address spaces the builder accepts. */
#define VMIO_ACPI_SPACE_MEMORY 0 /* SystemMemory */
#define VMIO_ACPI_SPACE_IO 1     /* SystemIO */

/* GAS access sizes. */
#define VMIO_ACPI_ACCESS_UNDEFINED 0
#define VMIO_ACPI_ACCESS_BYTE 1

/*
 * A Generic Address Structure (ACPI 6.x, 5.2.3.2). The FADT's sleep
 * control, sleep status and reset registers must be 8-bit registers at bit
 * offset 0, accessed bytewise (or access size undefined), in SystemIO (port
 * <= 0xFFFF) or SystemMemory, at a non-zero address.
 */
struct vmio_acpi_gas {
    uint8_t space_id;    /* VMIO_ACPI_SPACE_* */
    uint8_t bit_width;   /* 8 */
    uint8_t bit_offset;  /* 0 */
    uint8_t access_size; /* VMIO_ACPI_ACCESS_BYTE or _UNDEFINED */
    uint64_t address;
};

/* MPS INTI flags of an interrupt source override (polarity | trigger). */
#define VMIO_ACPI_INTI_POLARITY_CONFORMS 0x0
#define VMIO_ACPI_INTI_ACTIVE_HIGH 0x1
#define VMIO_ACPI_INTI_ACTIVE_LOW 0x3
#define VMIO_ACPI_INTI_TRIGGER_CONFORMS 0x0
#define VMIO_ACPI_INTI_EDGE 0x4
#define VMIO_ACPI_INTI_LEVEL 0xC

/*
 * An ISA interrupt source override: ISA IRQ @isa_irq (0..15) arrives on
 * @gsi, with @flags (VMIO_ACPI_INTI_*). A PC with a PIT needs
 * {0, 2, VMIO_ACPI_INTI_POLARITY_CONFORMS | VMIO_ACPI_INTI_TRIGGER_CONFORMS}:
 * the PIT's IRQ 0 is wired to IOAPIC pin 2.
 */
struct vmio_acpi_irq_override {
    uint8_t isa_irq;
    uint32_t gsi;
    uint16_t flags;
};

enum vmio_acpi_device_kind {
    /* A 16550 UART (PNP0501): IO ports and an ISA IRQ, edge, active-high. */
    VMIO_ACPI_DEV_UART16550 = 1,
    /*
     * A virtio-mmio transport (LNRO0005): its register window and its GSI,
     * level-triggered and active-high (the device keeps its interrupt
     * asserted until the driver acknowledges it in InterruptACK, which is
     * a level's semantics; the machine must lower the line on that write).
     */
    VMIO_ACPI_DEV_VIRTIO_MMIO,
    /* The CMOS RTC (PNP0B00): ports 0x70-0x71, ISA IRQ 8. */
    VMIO_ACPI_DEV_CMOS_RTC,
};

/* One device of the DSDT. */
struct vmio_acpi_device {
    enum vmio_acpi_device_kind kind;
    union {
        struct {
            uint16_t port;   /* first port */
            uint8_t len;     /* number of ports (8 for a 16550) */
            uint8_t isa_irq; /* 1..15 but not 2 (the PIC cascade) */
        } uart;
        struct {
            uint64_t base; /* window start, 4-byte aligned */
            uint64_t size; /* at least 0x100 (the registers) */
            uint32_t gsi;  /* 16 or more (0..15 are the ISA IRQs), on the IOAPIC */
        } virtio_mmio;
    };
};

/*
 * The machine the tables describe. The builder reads it and keeps no
 * pointer to it. CPU i gets ACPI processor UID i.
 */
struct vmio_acpi_machine {
    unsigned cpu_count;       /* 1..VMIO_ACPI_MAX_CPUS */
    const uint32_t *apic_ids; /* cpu_count distinct local APIC ids, each <= 254 */
    uint32_t lapic_addr;      /* local APIC base, 4 KiB aligned */

    uint8_t ioapic_id;
    uint32_t ioapic_addr;     /* 4 KiB aligned */
    uint32_t ioapic_gsi_base; /* GSI of pin 0 */
    unsigned ioapic_pins;     /* 1..256 */

    bool pcat_compat; /* MADT PCAT_COMPAT: a dual 8259 PIC is present too */
    bool i8042;       /* FADT IAPC_BOOT_ARCH: an 8042 keyboard controller exists */

    const struct vmio_acpi_irq_override *overrides;
    unsigned override_count; /* 0..VMIO_ACPI_MAX_OVERRIDES */

    /* The ACPI power registers (vmio_acpi_pm_describe() fills these five). */
    struct vmio_acpi_gas sleep_control;
    struct vmio_acpi_gas sleep_status;
    struct vmio_acpi_gas reset_reg;
    uint8_t reset_value;   /* written to reset_reg to reset the machine */
    uint8_t s5_sleep_type; /* SLP_TYP of \_S5, 0..7 */

    const struct vmio_acpi_device *devices;
    unsigned device_count; /* at most 4 UARTs, 1 RTC, 256 virtio-mmio */
};

/* Where one table went: guest-physical address, offset in the buffer, length. */
struct vmio_acpi_table_loc {
    uint64_t gpa;
    size_t offset;
    size_t length;
};

/* The result of a build. rsdp.gpa is what boot_params.acpi_rsdp_addr takes. */
struct vmio_acpi_tables {
    struct vmio_acpi_table_loc rsdp, xsdt, fadt, madt, dsdt;
    size_t size; /* bytes of the buffer used, from offset 0 */
};

/*
 * vmio_acpi_build - write the tables for @m into @buf.
 * @m:    the machine; every field is validated (below).
 * @base: guest-physical address @buf will be copied to; 16-byte aligned.
 *        The RSDP is at @base.
 * @buf:  destination, @cap bytes; may be NULL with @cap 0 to only compute
 *        the size (then out->size is set and the other fields are not).
 * @out:  receives where each table is and the total size.
 * @err:  optional message naming the field and the value at fault.
 * Errors:
 *  -EINVAL: a NULL @m / @out; @base not 16-byte aligned or the tables
 *           wrapping past 2^64; no CPU or more than VMIO_ACPI_MAX_CPUS, a
 *           NULL apic_ids, an APIC id above 254 or used twice; a LAPIC or
 *           IOAPIC address that is 0 or not 4 KiB aligned; IOAPIC pins
 *           outside 1..256 or GSIs past 2^32; an override whose IRQ is above
 *           15 or overridden twice, whose GSI is off the IOAPIC or already
 *           a target, or whose flags are reserved values; a power register
 *           GAS that is not an 8-bit byte register at offset 0 in SystemIO
 *           or SystemMemory at a non-zero address, or two power registers
 *           at the same address; an S5 sleep type above 7; an unknown device
 *           kind, too many devices of a kind, a UART with no ports or a
 *           port range past 0xFFFF or an IRQ outside 1..15 or 2, a
 *           virtio-mmio window smaller than 0x100 bytes, unaligned or
 *           wrapping, or a GSI below 16 or off the IOAPIC; two devices on
 *           one IRQ or GSI; port or memory ranges that overlap each other,
 *           the power registers, the LAPIC / IOAPIC pages or the tables.
 *  -ENOSPC: @cap is smaller than the tables (the message says how much
 *           is needed; a NULL @buf gives the size without this error).
 *  -E2BIG:  the DSDT would exceed what its length field holds.
 *  -EIO:    the DSDT built to a different size than measured (a bug in
 *           the builder; never expected).
 * Ownership: nothing is kept; @buf stays the caller's.
 */
int vmio_acpi_build(const struct vmio_acpi_machine *m, uint64_t base, void *buf, size_t cap,
                    struct vmio_acpi_tables *out, struct vmio_error *err);

/*
 * vmio_acpi_checksum - the byte that makes @len bytes at @data sum to 0
 * modulo 256 (what a table's checksum field must hold when the field itself
 * is counted as 0). A table with a right checksum gives 0 here.
 */
uint8_t vmio_acpi_checksum(const void *data, size_t len);

#endif
