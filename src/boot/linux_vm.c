/*
 * Booting Linux on a VM (vmio_linux_boot_vm(), vmio/linux_boot.h): the VM's
 * guest memory is what vmio_linux_load() places everything in, and its RAM
 * regions are what the e820 map and the layout are built from, so the
 * kernel is told about exactly the memory it has. The ACPI tables (when the
 * machine has them) are typed ACPI in e820 and kept out of the layout.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmio/e820.h"
#include "vmio/guest_mem.h"
#include "vmio/linux_boot.h"
#include "vmio/vm.h"

static void *mem_to_host(void *ctx, uint64_t gpa, uint64_t len)
{
    return vmio_guest_mem_to_host(ctx, gpa, len);
}

int vmio_linux_boot_vm(struct vmio_vm *vm, const struct vmio_linux_vm_boot *b,
                       struct vmio_linux_layout *out, struct vmio_error *err)
{
    const struct vmio_guest_mem *mem = vmio_vm_memory(vm);
    unsigned n = vmio_guest_mem_count(mem), nram = 0;
    struct vmio_gpa_range *ram = calloc(n ? n : 1, sizeof(*ram));
    struct vmio_e820_map *map = malloc(sizeof(*map));
    int rc = 0;
    if (!ram || !map) {
        rc = vmio_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct vmio_mem_region *r = vmio_guest_mem_at(mem, i);
        if (r->kind == VMIO_MEM_RAM)
            ram[nram++] = (struct vmio_gpa_range){.gpa = r->gpa, .size = r->size};
    }
    struct vmio_gpa_range acpi = {.gpa = b->acpi_base, .size = b->acpi_size};
    struct vmio_e820_entry extra = {
        .addr = b->acpi_base, .size = b->acpi_size, .type = VMIO_E820_ACPI};
    unsigned nacpi = b->acpi_size ? 1 : 0;
    rc = vmio_e820_pc(ram, nram, &extra, nacpi, map, err);
    if (rc < 0)
        goto out;
    struct vmio_linux_boot lb = {
        .image = b->image,
        .image_size = b->image_size,
        .initrd = b->initrd,
        .initrd_size = b->initrd_size,
        .cmdline = b->cmdline,
        .ram = ram,
        .ram_count = nram,
        .reserved = &acpi,
        .reserved_count = nacpi,
        .e820 = map,
        .acpi_rsdp = b->rsdp,
        .mode = VMIO_LINUX_ENTRY_AUTO,
    };
    rc = vmio_linux_load(&lb, mem_to_host, (void *)mem, out, err);
out:
    free(ram);
    free(map);
    return rc;
}
