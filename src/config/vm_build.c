/*
 * Building a VM from a parsed config (see vmio/config.h): guest RAM and
 * pass-through mappings from the memory map, the emulated devices, and the
 * kernel (multiboot, or raw at kernel_load_addr) plus dtb and ramdisk.
 * interrupt_mode = "emulated" gives the VM KVM's in-kernel irqchip and wires
 * each 16550 UART's interrupt to the GSI its irq_id names.
 *
 * Invariant: every host resource is released on every path; a backing's fd
 * is closed as soon as it is mapped, and a mapping belongs to the VM
 * (VMIO_MAP_OWNED) from the moment vmio_vm_map_host() accepts it. Loading
 * (vmio_config_load_kernel()) only needs the guest-memory object: every
 * guest write goes through its checked copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "config/models.h"
#include "vmio/boot.h"
#include "vmio/config.h"
#include "vmio/devices.h"
#include "vmio/memmap.h"
#include "vmio/uart16550.h"
#include "vmio/vm.h"

#define MAX_IMAGE_SIZE (512u << 20)

/*
 * Map one pass-through entry's backing: "/dev/mem" at the source address, or
 * the vmio extension "file:PATH" / "shm:NAME" (created if missing and grown,
 * never shrunk, to cover the mapping; MAP_SHARED, so every VM and process
 * mapping the same object sees the same bytes). *@host receives the mapping.
 */
static int map_backing(const struct vmio_mm_entry *e, void **host, struct vmio_error *err)
{
    const char *b = e->backing;
    bool devmem = strcmp(b, "/dev/mem") == 0;
    int prot = PROT_READ | (e->readonly ? 0 : PROT_WRITE);
    if (e->src > (uint64_t)INT64_MAX - e->size)
        return vmio_error_set(err, -EINVAL, "pass-through %s: source 0x%" PRIx64 " is too large",
                              e->owner, e->src);
    int fd;
    if (devmem)
        fd = open("/dev/mem", (e->readonly ? O_RDONLY : O_RDWR) | O_SYNC | O_CLOEXEC);
    else if (strncmp(b, "file:", 5) == 0)
        fd = open(b + 5, O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0666);
    else if (strncmp(b, "shm:", 4) == 0) {
        char name[300];
        snprintf(name, sizeof(name), "/%s", b + 4);
        fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    } else
        return vmio_error_set(err, -EINVAL, "pass-through %s: unknown backing '%s'", e->owner, b);
    if (fd < 0) {
        int e2 = errno;
        return vmio_error_set(err, -e2, "pass-through %s: cannot open %s: %s%s", e->owner,
                              devmem ? "/dev/mem" : b, strerror(e2),
                              devmem ? " (it needs root and a host that allows /dev/mem; or give "
                                       "it a [[devices.passthrough_backing]], see docs/config.md)"
                                     : "");
    }
    if (!devmem) {
        struct stat st;
        uint64_t need = e->src + e->size;
        if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
            close(fd);
            return vmio_error_set(err, -EINVAL,
                                  "pass-through %s: %s is not a regular file (a file: or shm: "
                                  "backing is mapped, grown and shared as a regular file)",
                                  e->owner, b);
        }
        if (fstat(fd, &st) < 0 || ((uint64_t)st.st_size < need && ftruncate(fd, (off_t)need) < 0)) {
            int e2 = errno;
            close(fd);
            return vmio_error_set(err, -e2,
                                  "pass-through %s: cannot size %s to %" PRIu64 " bytes: %s",
                                  e->owner, b, need, strerror(e2));
        }
    }
    void *p = mmap(NULL, e->size, prot, MAP_SHARED, fd, (off_t)e->src);
    int e2 = errno;
    close(fd);
    if (p == MAP_FAILED)
        return vmio_error_set(
            err, -e2, "pass-through %s: cannot map 0x%" PRIx64 " bytes of %s at 0x%" PRIx64 ": %s",
            e->owner, e->size, b, e->src, strerror(e2));
    *host = p;
    return 0;
}

/* RAM and pass-through mappings, in address order. */
static int build_memory(struct vmio_vm *vm, const struct vmio_memmap *mm, struct vmio_error *err)
{
    for (size_t i = 0; i < vmio_memmap_count(mm); i++) {
        const struct vmio_mm_entry *e = vmio_memmap_at(mm, i);
        int rc = 0;
        if (e->kind == VMIO_MM_RAM) {
            rc = vmio_vm_add_ram(vm, e->gpa, e->size, e->readonly, err);
        } else if (e->kind == VMIO_MM_PASSTHROUGH) {
            void *host = NULL;
            rc = map_backing(e, &host, err);
            if (rc == 0) {
                unsigned flags = VMIO_MAP_OWNED | (e->readonly ? VMIO_MAP_READONLY : 0);
                rc = vmio_vm_map_host(vm, e->gpa, e->size, host, flags, e->owner, err);
                if (rc < 0)
                    munmap(host, e->size);
            }
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * The emulated devices, each built by its row of the model table
 * (config/models.c); the virtio ones need an I/O thread and are added by
 * vmio_pc_add_virtio() from vmio_config_virtio(). The first Console gets
 * @serial, later ones no backend.
 */
static int build_devices(struct vmio_vm *vm, const struct vmio_config *cfg,
                         struct vmio_chardev *serial, struct vmio_error *err)
{
    struct model_build b = {.vm = vm, .cfg = cfg, .serial = serial};
    for (size_t i = 0; i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        const struct model_row *row = vmio_model_row_of(d->model);
        if (!row)
            return vmio_error_set(err, -EINVAL, "%s: device '%s': unknown model %d", cfg->path,
                                  d->name, (int)d->model);
        if (!row->create)
            continue;
        struct vmio_device *dev = NULL;
        int rc = row->create(&b, d, &dev, err);
        if (rc == 0)
            rc = vmio_vm_attach_device(vm, d->space, dev, d->base_gpa, d->length, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Copy @size bytes of @data to guest RAM at @gpa; an empty file must still
 * land on RAM. Returns 0 or -ERANGE (nothing written).
 */
static int copy_to_guest(const struct vmio_guest_mem *mem, uint64_t gpa, const uint8_t *data,
                         size_t size)
{
    if (size == 0)
        return vmio_guest_mem_find(mem, gpa, 1) ? 0 : -ERANGE;
    return vmio_guest_mem_write(mem, gpa, data, size) == 0 ? 0 : -ERANGE;
}

/* Copy the file @path into guest RAM at @gpa (dtb, ramdisk). */
static int load_at(const struct vmio_guest_mem *mem, const char *what, const char *path,
                   uint64_t gpa, struct vmio_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = vmio_read_file(path, MAX_IMAGE_SIZE, &data, &size, err);
    if (rc < 0)
        return rc;
    if (copy_to_guest(mem, gpa, data, size) < 0)
        rc = vmio_error_set(err, -ERANGE,
                            "%s %s (%zu bytes) does not fit in guest RAM at 0x%" PRIx64, what, path,
                            size, gpa);
    free(data);
    return rc;
}

/*
 * The kernel: a multiboot image is loaded as its header says (entry_point
 * and kernel_load_addr are then not used); anything else needs
 * kernel_load_addr and is copied there raw, entered at entry_point (default:
 * the load address) in the same 32-bit state with EBX = 0 (no info).
 */
int vmio_config_load_kernel(const struct vmio_guest_mem *mem, const struct vmio_config *cfg,
                            const char *cmdline, struct vmio_boot_info *boot,
                            struct vmio_error *err)
{
    uint8_t *image = NULL;
    size_t size = 0;
    int rc = vmio_read_file(cfg->kernel_path, MAX_IMAGE_SIZE, &image, &size, err);
    if (rc < 0)
        return rc;
    struct vmio_error mberr = {0};
    if (!vmio_guest_mem_find(mem, 0, 2u << 20)) {
        rc = vmio_error_set(&mberr, -ERANGE,
                            "multiboot needs guest RAM from 0x0 covering the first 2 MiB");
    } else {
        rc = vmio_multiboot_load(mem, image, size, cmdline, boot, &mberr);
    }
    if (rc == -ENOEXEC && cfg->has_kernel_load_addr) {
        if (copy_to_guest(mem, cfg->kernel_load_addr, image, size) < 0) {
            rc = vmio_error_set(err, -ERANGE,
                                "%s: kernel %s (%zu bytes, not multiboot) does not fit in guest "
                                "RAM at kernel_load_addr 0x%" PRIx64,
                                cfg->path, cfg->kernel_path, size, cfg->kernel_load_addr);
        } else {
            *boot = (struct vmio_boot_info){
                .entry = cfg->has_entry_point ? cfg->entry_point : cfg->kernel_load_addr,
                .mbi_addr = 0,
                .image_lo = cfg->kernel_load_addr,
                .image_hi = cfg->kernel_load_addr + size,
            };
            rc = 0;
        }
    } else if (rc < 0) {
        rc = vmio_error_set(err, rc, "%s: %s%s", cfg->kernel_path, mberr.msg,
                            rc == -ENOEXEC ? " (for a raw binary, set kernel.kernel_load_addr)"
                                           : "");
    }
    free(image);
    if (rc == 0 && cfg->dtb_path)
        rc = load_at(mem, "dtb", cfg->dtb_path, cfg->dtb_load_addr, err);
    if (rc == 0 && cfg->ramdisk_path && !cfg->has_ramdisk_load_addr)
        rc = vmio_error_set(err, -EINVAL,
                            "%s: kernel.ramdisk_path needs kernel.ramdisk_load_addr for a kernel "
                            "that is not a Linux bzImage",
                            cfg->path);
    if (rc == 0 && cfg->ramdisk_path)
        rc = load_at(mem, "ramdisk", cfg->ramdisk_path, cfg->ramdisk_load_addr, err);
    return rc;
}

int vmio_config_build_vm(const struct vmio_config *cfg, const struct vmio_vm_options *opts,
                         struct vmio_chardev *serial, struct vmio_vm **out, struct vmio_error *err)
{
    struct vmio_vm *vm = NULL;
    struct vmio_vm_options o = {0};
    if (opts)
        o = *opts;
    o.irqchip = cfg->irq_mode == VMIO_IRQ_EMULATED; /* the config decides */
    o.pit = false;
    int rc = vmio_config_check_layout(cfg, false, err);
    if (rc == 0)
        rc = vmio_vm_create_empty(&o, &vm, err);
    if (rc == 0)
        rc = build_memory(vm, cfg->memmap, err);
    if (rc == 0)
        rc = build_devices(vm, cfg, serial, err);
    if (rc < 0) {
        vmio_vm_destroy(vm);
        return rc;
    }
    *out = vm;
    return 0;
}
