/*
 * What vmio refuses about running a loaded config, decided before anything
 * is created: one function (vmio_config_check_run()) that `vmio run` calls
 * before it opens /dev/kvm and `vmio check` calls for its verdict, so a
 * config check calls runnable is one run accepts, refused with the same
 * message. vmio_config_build_vm() repeats the checks that follow from the
 * config alone (vmio_config_check_layout()), so library callers get them too.
 *
 * Invariants: the layout checks are pure (they read the config and the map
 * its load built); the only file opened is kernel_path, for its first 4 KiB,
 * to learn whether it is a Linux bzImage (which `vmio run` boots on vmio's
 * PC: the PC's ports and interrupt controllers then count). Every message
 * starts with the config's path. The reserved ranges come from the VM's own
 * table (vmio_irqchip_reserved_check()) and the PC's ports from the PC's
 * (vmio_pc_port_ranges()), never from a copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "config/config_internal.h"
#include "vmio/config.h"
#include "vmio/linux_boot.h"
#include "vmio/pc.h"
#include "vmio/vm.h"

/* "RAM 'memory_regions[0]'", "pass-through mapping 'fb'", "device 'com1'". */
static const char *entry_what(const struct vmio_mm_entry *e, char *buf, size_t len)
{
    snprintf(buf, len, "%s '%s'",
             e->kind == VMIO_MM_RAM           ? "RAM"
             : e->kind == VMIO_MM_PASSTHROUGH ? "pass-through mapping"
                                              : "device",
             e->owner);
    return buf;
}

/* A Linux kernel boots on vmio's PC: what that asks of the config. */
static int check_linux(const struct vmio_config *cfg, struct vmio_error *err)
{
    if (cfg->irq_mode != VMIO_IRQ_EMULATED)
        return vmio_error_set(err, -EINVAL,
                              "%s: the Linux kernel %s needs interrupt_mode = \"emulated\" (the "
                              "PC's IOAPIC and local APICs)",
                              cfg->path, cfg->kernel_path);
    if (cfg->has_ramdisk_load_addr)
        return vmio_error_set(err, -EINVAL,
                              "%s: kernel.ramdisk_load_addr does not apply to a Linux kernel: the "
                              "boot protocol places the ramdisk",
                              cfg->path);
    size_t n;
    const struct vmio_pc_port_range *pc = vmio_pc_port_ranges(&n);
    for (size_t i = 0; i < vmio_memmap_count(cfg->memmap); i++) {
        const struct vmio_mm_entry *e = vmio_memmap_at(cfg->memmap, i);
        if (e->kind != VMIO_MM_DEVICE || e->space != VMIO_SPACE_PIO)
            continue;
        uint64_t last = e->gpa + (e->size - 1);
        for (size_t k = 0; k < n; k++)
            if (e->gpa <= pc[k].base + (pc[k].len - 1u) && pc[k].base <= last)
                return vmio_error_set(err, -EBUSY,
                                      "%s: device '%s' (ports 0x%" PRIx64 "-0x%" PRIx64
                                      ") overlaps vmio's PC device %s (ports 0x%x-0x%x), which a "
                                      "Linux kernel gets",
                                      cfg->path, e->owner, e->gpa, last, pc[k].name, pc[k].base,
                                      pc[k].base + pc[k].len - 1u);
    }
    return 0;
}

int vmio_config_check_layout(const struct vmio_config *cfg, bool linux_kernel,
                             struct vmio_error *err)
{
    int rc = vmio_config_runnable(cfg, err);
    if (rc == 0 && linux_kernel)
        rc = check_linux(cfg, err);
    if (rc < 0 || cfg->irq_mode != VMIO_IRQ_EMULATED)
        return rc;
    /* The VM gets the in-kernel irqchip (a config never gets the PIT): keep clear of it. */
    for (size_t i = 0; i < vmio_memmap_count(cfg->memmap); i++) {
        const struct vmio_mm_entry *e = vmio_memmap_at(cfg->memmap, i);
        char what[VMIO_MEMMAP_NAME_MAX * 5 + 64];
        struct vmio_error e2 = {0};
        if (vmio_irqchip_reserved_check(e->space, e->gpa, e->size, false,
                                        entry_what(e, what, sizeof(what)), &e2) < 0)
            return vmio_error_set(err, e2.code, "%s: %s", cfg->path, e2.msg);
    }
    return 0;
}

int vmio_config_check_run(const struct vmio_config *cfg, bool *linux_kernel, struct vmio_error *err)
{
    if (linux_kernel)
        *linux_kernel = false;
    int rc = vmio_config_runnable(cfg, err);
    if (rc < 0)
        return rc;
    struct vmio_error fe = {0};
    int is_linux = vmio_bzimage_detect_file(cfg->kernel_path, &fe);
    if (is_linux < 0)
        return vmio_error_set(err, is_linux, "%s: kernel.kernel_path: %s", cfg->path, fe.msg);
    rc = vmio_config_check_layout(cfg, is_linux == 1, err);
    if (rc == 0 && linux_kernel)
        *linux_kernel = is_linux == 1;
    return rc;
}
