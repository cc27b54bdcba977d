/*
 * The e820 memory map: the list of typed physical ranges a PC firmware gives
 * its operating system (BIOS INT 15h, AX=E820h), which the Linux boot
 * protocol carries in the zero page (at most 128 entries).
 *
 * Invariants of a built map (struct vmio_e820_map after vmio_e820_build()):
 * entries are sorted by address, never overlap, never have size 0, never
 * wrap past 2^64 - 1, have a known type, and two entries of the same type
 * never touch (adjacent or overlapping same-type inputs are merged). Ranges
 * of different types that overlap are refused, never silently resolved: a
 * RAM range that covers an ACPI table would let the kernel reuse the table.
 *
 * docs/linux-boot.md ("The e820 map") lists what vmio_e820_pc() reserves and
 * why.
 */
#ifndef VMIO_E820_H
#define VMIO_E820_H

#include <stdint.h>

#include "vmio/error.h"
#include "vmio/gpa_range.h"

/* Types (ACPI "address range types"). */
enum vmio_e820_type {
    VMIO_E820_RAM = 1,      /* usable RAM */
    VMIO_E820_RESERVED = 2, /* not for the OS (firmware, holes with memory in them) */
    VMIO_E820_ACPI = 3,     /* ACPI tables: the OS may reclaim it after reading them */
    VMIO_E820_NVS = 4,      /* ACPI non-volatile storage: preserved across sleep */
};

/* What the zero page can hold (e820_table at 0x2d0, 20 bytes each, up to 0xd00). */
#define VMIO_E820_MAX_ENTRIES 128

/* The classic PC layout below 1 MiB that vmio_e820_pc() produces. */
#define VMIO_E820_EBDA_START 0x9fc00ULL  /* RAM ends here: 639 KiB of base memory */
#define VMIO_E820_VGA_START 0xa0000ULL   /* 0xa0000-0xeffff: hole (VGA window, option ROMs) */
#define VMIO_E820_BIOS_START 0xf0000ULL  /* 0xf0000-0xfffff: reserved (system BIOS area) */
#define VMIO_E820_HIGH_START 0x100000ULL /* RAM again from 1 MiB */

struct vmio_e820_entry {
    uint64_t addr; /* first byte */
    uint64_t size; /* bytes */
    uint32_t type; /* enum vmio_e820_type */
};

struct vmio_e820_map {
    unsigned count;
    struct vmio_e820_entry entries[VMIO_E820_MAX_ENTRIES];
};

/*
 * vmio_e820_build - validate, sort and merge the @n typed ranges @in into
 * *@out (see the invariants above). @in is not modified or retained.
 * Errors (message names the entry or both overlapping ranges):
 * -EINVAL for NULL @out, NULL @in with @n > 0, an entry of size 0, one whose
 * end wraps past 2^64, an unknown type, or two overlapping ranges of
 * different types; -E2BIG when the merged map needs more than 128 entries;
 * -ENOMEM.
 */
int vmio_e820_build(const struct vmio_e820_entry *in, unsigned n, struct vmio_e820_map *out,
                    struct vmio_error *err);

/*
 * vmio_e820_pc - the map of a PC with guest RAM @ram (@n_ram ranges, any
 * order, may touch or overlap each other) plus the caller's typed ranges
 * @extra (@n_extra; e.g. ACPI tables, reserved MMIO windows):
 *   - RAM below 0x9fc00 and from 0x100000 up is listed as RAM; RAM in
 *     0x9fc00-0xfffff is not (the EBDA and the legacy window);
 *   - 0x9fc00-0x9ffff (the EBDA) and 0xf0000-0xfffff (the system BIOS area,
 *     where the kernel scans for the ACPI RSDP and the MP table) are
 *     reserved; 0xa0000-0xeffff is left out (a hole);
 *   - every @extra range that is not RAM takes precedence: RAM and the two
 *     reserved areas are cut around it. @extra ranges of different types
 *     must not overlap each other.
 * Then vmio_e820_build(). Errors: those of vmio_e820_build() (an invalid
 * @ram range is reported as such); -EINVAL for NULL arrays with counts > 0.
 */
int vmio_e820_pc(const struct vmio_gpa_range *ram, unsigned n_ram,
                 const struct vmio_e820_entry *extra, unsigned n_extra, struct vmio_e820_map *out,
                 struct vmio_error *err);

/* vmio_e820_type_name - "RAM", "reserved", "ACPI", "NVS", or "?" for other types (static). */
const char *vmio_e820_type_name(uint32_t type);

#endif
