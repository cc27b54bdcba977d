/*
 * Loading a bzImage into guest memory (see vmio/linux_boot.h): the one call
 * that chains parse, layout, e820, zero page and entry structures, and the
 * only code of the Linux boot that writes guest memory.
 *
 * Invariants: guest memory is reached only through the caller's gpa_to_host
 * callback, once per span, for exactly the span written; every span is
 * resolved before the first byte is copied, so a refused span leaves guest
 * memory untouched; the bytes copied from the image are
 * [kernel_offset, kernel_offset + kernel_size), which the parser proved to
 * lie inside the file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/linux_boot.h"

struct span {
    const char *what;
    uint64_t gpa, len;
    const void *src;
    void *host;
};

/* The e820 map vmio_linux_load() builds when the caller gives none. */
static int default_e820(const struct vmio_linux_boot *b, struct vmio_e820_map *map,
                        struct vmio_error *err)
{
    struct vmio_e820_entry *res = NULL;
    if (b->reserved_count) {
        res = calloc(b->reserved_count, sizeof(*res));
        if (!res)
            return vmio_error_set(err, -ENOMEM, "linux boot: out of memory");
        for (unsigned i = 0; i < b->reserved_count; i++)
            res[i] = (struct vmio_e820_entry){.addr = b->reserved[i].gpa,
                                              .size = b->reserved[i].size,
                                              .type = VMIO_E820_RESERVED};
    }
    int rc = vmio_e820_pc(b->ram, b->ram_count, res, b->reserved_count, map, err);
    free(res);
    return rc;
}

int vmio_linux_load(const struct vmio_linux_boot *boot, vmio_gpa_to_host_fn gpa_to_host, void *ctx,
                    struct vmio_linux_layout *out, struct vmio_error *err)
{
    if (!boot || !gpa_to_host || !out || !boot->image || (boot->initrd_size && !boot->initrd))
        return vmio_error_set(err, -EINVAL, "linux boot: NULL argument");
    const char *cmdline = boot->cmdline ? boot->cmdline : "";
    /* A command line this long is refused by the layout; do not read further. */
    size_t cmdline_len = strnlen(cmdline, VMIO_LINUX_CMDLINE_LIMIT);

    struct vmio_bzimage bz;
    int rc = vmio_bzimage_parse(boot->image, boot->image_size, &bz, err);
    if (rc < 0)
        return rc;
    struct vmio_linux_layout_request req = {.ram = boot->ram,
                                            .ram_count = boot->ram_count,
                                            .reserved = boot->reserved,
                                            .reserved_count = boot->reserved_count,
                                            .initrd_size = boot->initrd_size,
                                            .cmdline_len = cmdline_len,
                                            .mode = boot->mode};
    struct vmio_linux_layout lay;
    if ((rc = vmio_linux_layout(&bz, &req, &lay, err)) < 0)
        return rc;

    struct vmio_e820_map *map = malloc(sizeof(*map));
    uint8_t *zp = malloc(VMIO_LINUX_ZERO_PAGE_SIZE);
    uint8_t *pt = malloc(VMIO_LINUX_PT_SIZE);
    uint8_t gdt[VMIO_LINUX_GDT_SIZE];
    if (!map || !zp || !pt) {
        rc = vmio_error_set(err, -ENOMEM, "linux boot: out of memory");
        goto out;
    }
    const struct vmio_e820_map *e820 = boot->e820;
    if (!e820) {
        if ((rc = default_e820(boot, map, err)) < 0)
            goto out;
        e820 = map;
    }
    if ((rc = vmio_linux_zero_page(&bz, &lay, e820, boot->acpi_rsdp, zp, err)) < 0)
        goto out;
    vmio_linux_gdt(lay.mode, gdt);
    if (lay.page_tables_size && (rc = vmio_linux_page_tables(lay.page_tables_addr, pt, err)) < 0)
        goto out;

    struct span spans[] = {
        {"kernel", lay.kernel_addr, lay.kernel_size, boot->image + bz.kernel_offset, NULL},
        {"initrd", lay.initrd_addr, lay.initrd_size, boot->initrd, NULL},
        {"command line", lay.cmdline_addr, cmdline_len + 1, cmdline, NULL},
        {"zero page", lay.zero_page_addr, VMIO_LINUX_ZERO_PAGE_SIZE, zp, NULL},
        {"boot GDT", lay.gdt_addr, lay.gdt_size, gdt, NULL},
        {"page tables", lay.page_tables_addr, lay.page_tables_size, pt, NULL},
    };
    unsigned n = sizeof(spans) / sizeof(spans[0]);
    for (unsigned i = 0; i < n; i++) {
        struct span *s = &spans[i];
        if (s->len == 0)
            continue;
        s->host = gpa_to_host(ctx, s->gpa, s->len);
        if (!s->host) {
            rc = vmio_error_set(err, -EFAULT,
                                "guest RAM does not hold the %s at 0x%" PRIx64 "-0x%" PRIx64
                                " (%" PRIu64 " bytes)",
                                s->what, s->gpa, s->gpa + s->len - 1, s->len);
            goto out;
        }
    }
    for (unsigned i = 0; i < n; i++)
        if (spans[i].len)
            memcpy(spans[i].host, spans[i].src, spans[i].len);
    *out = lay;
    rc = 0;
out:
    free(map);
    free(zp);
    free(pt);
    return rc;
}
