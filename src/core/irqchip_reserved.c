/*
 * The ports and windows the backend's in-kernel interrupt controllers (and
 * PIT) decode themselves (see vmio_vm_options.irqchip): one table, used by
 * the VM when memory or a device is added (vm.c) and by configuration checks
 * before anything is built (src/config), so both refuse the same ranges with
 * the same words.
 *
 * Invariant: the table lists every range KVM's in-kernel PIC, IOAPIC, local
 * APIC and PIT answer; a range enters the table or is not reserved at all.
 */
#include <errno.h>
#include <inttypes.h>

#include "vmio/vm.h"

struct reserved_range {
    enum vmio_space space;
    uint64_t base, len;
    bool pit; /* reserved only with the PIT */
    const char *name;
};

static const struct reserved_range reserved_ranges[] = {
    {VMIO_SPACE_PIO, 0x20, 2, false, "in-kernel PIC (master)"},
    {VMIO_SPACE_PIO, 0xa0, 2, false, "in-kernel PIC (slave)"},
    {VMIO_SPACE_PIO, 0x4d0, 2, false, "in-kernel PIC ELCR"},
    {VMIO_SPACE_PIO, 0x40, 4, true, "in-kernel PIT"},
    {VMIO_SPACE_PIO, 0x61, 1, true, "in-kernel PIT speaker port"},
    {VMIO_SPACE_MMIO, 0xfec00000, 0x1000, false, "in-kernel IOAPIC"},
    {VMIO_SPACE_MMIO, 0xfee00000, 0x1000, false, "in-kernel local APIC"},
};

int vmio_irqchip_reserved_check(enum vmio_space space, uint64_t base, uint64_t len, bool pit,
                                const char *what, struct vmio_error *err)
{
    if (len == 0 || base + (len - 1) < base)
        return 0; /* empty or wrapping: refused by whoever takes the range */
    uint64_t last = base + (len - 1);
    for (size_t i = 0; i < sizeof(reserved_ranges) / sizeof(reserved_ranges[0]); i++) {
        const struct reserved_range *r = &reserved_ranges[i];
        if (r->space != space || (r->pit && !pit))
            continue;
        if (base <= r->base + (r->len - 1) && r->base <= last)
            return vmio_error_set(err, -EBUSY,
                                  "%s at 0x%" PRIx64 "-0x%" PRIx64 " overlaps the %s at 0x%" PRIx64
                                  "-0x%" PRIx64 " (KVM handles those accesses itself)",
                                  what, base, last, r->name, r->base, r->base + (r->len - 1));
    }
    return 0;
}
