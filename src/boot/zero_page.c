/*
 * The zero page (struct boot_params of the Linux boot protocol), built from
 * vmio's own offsets (boot/linux_offsets.h). See vmio/linux_boot.h.
 *
 * Invariants of a built page: every byte vmio does not set on purpose is
 * either 0 or a byte of the image's own setup header (copied at 0x1f1 up to
 * the header's declared end, which the parser bounded by 0x290); the
 * sentinel at 0x1ef stays 0, so the kernel trusts the fields; 64-bit
 * addresses are split into the 32-bit setup-header field and its ext_ half
 * in the page proper, and an address above 4 GiB is only written for an
 * image that declares XLF_CAN_BE_LOADED_ABOVE_4G.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/linux_offsets.h"
#include "vmio/linux_boot.h"

static int check_low(const struct vmio_bzimage *bz, const char *what, uint64_t addr, uint64_t size,
                     struct vmio_error *err)
{
    if (bz->xloadflags & VMIO_BZ_XLF_CAN_BE_LOADED_ABOVE_4G)
        return 0;
    if (addr >= VMIO_LINUX_IDENTITY_MAP_END || size > VMIO_LINUX_IDENTITY_MAP_END - addr)
        return vmio_error_set(err, -ERANGE,
                              "zero page: the %s at 0x%" PRIx64
                              " is above 4 GiB and the image lacks XLF_CAN_BE_LOADED_ABOVE_4G",
                              what, addr);
    return 0;
}

int vmio_linux_zero_page(const struct vmio_bzimage *bz, const struct vmio_linux_layout *lay,
                         const struct vmio_e820_map *e820, uint64_t acpi_rsdp, uint8_t *page,
                         struct vmio_error *err)
{
    if (!bz || !lay || !page)
        return vmio_error_set(err, -EINVAL, "zero page: NULL argument");
    if (bz->header_end <= VMIO_BZ_HEADER_OFFSET || bz->header_end > VMIO_BZ_HEADER_LIMIT)
        return vmio_error_set(err, -EINVAL, "zero page: setup header end 0x%x out of range",
                              bz->header_end);
    if (e820 && e820->count > VMIO_E820_MAX_ENTRIES)
        return vmio_error_set(err, -EINVAL, "zero page: e820 map of %u entries (at most %u)",
                              e820->count, VMIO_E820_MAX_ENTRIES);
    int rc;
    if ((rc = check_low(bz, "kernel", lay->kernel_addr, lay->kernel_size, err)) < 0 ||
        (rc = check_low(bz, "command line", lay->cmdline_addr, lay->cmdline_size, err)) < 0 ||
        (rc = check_low(bz, "initrd", lay->initrd_addr, lay->initrd_size, err)) < 0)
        return rc;

    memset(page, 0, VMIO_LINUX_ZERO_PAGE_SIZE);
    memcpy(page + VMIO_BZ_HEADER_OFFSET, bz->header, bz->header_end - VMIO_BZ_HEADER_OFFSET);

    put16(page + BZ_VID_MODE, ZP_VID_MODE_NORMAL);
    page[BZ_TYPE_OF_LOADER] = ZP_TYPE_OF_LOADER_UNDEFINED;
    page[BZ_LOADFLAGS] |= VMIO_BZ_CAN_USE_HEAP;
    put16(page + BZ_HEAP_END_PTR, ZP_HEAP_END_PTR);
    put32(page + BZ_CODE32_START, (uint32_t)lay->kernel_addr);

    put32(page + BZ_CMD_LINE_PTR, (uint32_t)lay->cmdline_addr);
    put32(page + ZP_EXT_CMD_LINE_PTR, (uint32_t)(lay->cmdline_addr >> 32));
    put32(page + BZ_RAMDISK_IMAGE, (uint32_t)lay->initrd_addr);
    put32(page + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(lay->initrd_addr >> 32));
    put32(page + BZ_RAMDISK_SIZE, (uint32_t)lay->initrd_size);
    put32(page + ZP_EXT_RAMDISK_SIZE, (uint32_t)(lay->initrd_size >> 32));

    put64(page + ZP_ACPI_RSDP_ADDR, acpi_rsdp);

    if (e820) {
        page[ZP_E820_ENTRIES] = (uint8_t)e820->count;
        for (unsigned i = 0; i < e820->count; i++) {
            uint8_t *e = page + ZP_E820_TABLE + i * ZP_E820_ENTRY_SIZE;
            put64(e, e820->entries[i].addr);
            put64(e + 8, e820->entries[i].size);
            put32(e + 16, e820->entries[i].type);
        }
    }
    return 0;
}
