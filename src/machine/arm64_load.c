/*
 * Loading an AArch64 guest (vmio/arm64_virt.h, vmio_arm64_load()): a Linux
 * arm64 Image by its header (Documentation/arch/arm64/booting.rst: 2 MiB
 * aligned base plus text_offset, DTB address in X0) or an ELF64 executable
 * by its program headers, then the initrd and the device tree.
 *
 * Invariants: every header field is untrusted: offsets and sizes are
 * checked against the file, load ranges against RAM, in arithmetic that
 * cannot wrap; nothing is written before the whole layout is known to fit
 * (image, initrd and tree do not overlap: the image's place is computed
 * with nothing written, then the initrd's and the tree's, then everything is
 * written); all writes go through the guest-memory object's checked copies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/arm64_virt.h"
#include "vmio/guest_mem.h"

#define SZ_2M 0x200000ull
#define IMAGE_MAGIC 0x644d5241u /* "ARM\x64" */
#define EM_AARCH64 183
#define PT_LOAD 1
#define DTB_MAX (64u << 10)

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Is [a, a + n) inside [base, base + size)? (n > 0; no wrap anywhere) */
static bool inside(uint64_t a, uint64_t n, uint64_t base, uint64_t size)
{
    return n > 0 && a >= base && a - base <= size && n <= size - (a - base);
}

/*
 * The image's place (e->pc, e->kernel_end) from its header; with @write also
 * the copy into RAM (only once the whole layout is known to fit).
 */
static int load_image(const struct vmio_guest_mem *mem, uint64_t base, uint64_t size,
                      const struct vmio_arm64_boot *b, struct vmio_arm64_entry *e, bool write,
                      struct vmio_error *err)
{
    const uint8_t *h = b->image;
    uint64_t text_offset = le(h + 8, 8), image_size = le(h + 16, 8), flags = le(h + 24, 8);
    if (image_size == 0) { /* before Linux 3.17 */
        text_offset = 0x80000;
        image_size = b->image_size;
    }
    if (flags & 1)
        return vmio_error_set(err, -ENOEXEC, "a big-endian arm64 Image (vmio runs little-endian)");
    if (image_size < b->image_size)
        image_size = b->image_size;
    if (text_offset >= size || !inside(base + text_offset, image_size, base, size))
        return vmio_error_set(err, -E2BIG,
                              "the Image (text_offset 0x%" PRIx64 ", 0x%" PRIx64
                              " bytes) does not fit 0x%" PRIx64 " bytes of RAM",
                              text_offset, image_size, size);
    e->pc = base + text_offset;
    e->kernel_end = e->pc + image_size;
    e->linux_image = true;
    if (!write)
        return 0;
    return vmio_guest_mem_write(mem, e->pc, b->image, b->image_size) < 0
               ? vmio_error_set(err, -EFAULT, "cannot write the Image to guest RAM")
               : 0;
}

/* The same for an ELF64: every segment is checked before any is written. */
static int load_elf(const struct vmio_guest_mem *mem, uint64_t base, uint64_t size,
                    const struct vmio_arm64_boot *b, struct vmio_arm64_entry *e, bool write,
                    struct vmio_error *err)
{
    const uint8_t *f = b->image;
    size_t n = b->image_size;
    if (n < 64 || f[4] != 2 || f[5] != 1 || le(f + 18, 2) != EM_AARCH64)
        return vmio_error_set(err, -ENOEXEC, "not a little-endian ELF64 for AArch64");
    uint64_t phoff = le(f + 32, 8), phentsize = le(f + 54, 2), phnum = le(f + 56, 2);
    if (phentsize < 56 || phnum == 0 || phoff > n || phnum > (n - phoff) / phentsize)
        return vmio_error_set(err, -EINVAL, "ELF program headers outside the file");
    uint64_t end = 0;
    for (int pass = 0; pass < (write ? 2 : 1); pass++) {
        for (uint64_t i = 0; i < phnum; i++) {
            const uint8_t *ph = f + phoff + i * phentsize;
            if (le(ph, 4) != PT_LOAD)
                continue;
            uint64_t off = le(ph + 8, 8), paddr = le(ph + 24, 8), filesz = le(ph + 32, 8),
                     memsz = le(ph + 40, 8);
            if (memsz == 0)
                continue;
            if (filesz > memsz || off > n || filesz > n - off)
                return vmio_error_set(err, -EINVAL, "ELF segment %" PRIu64 " outside the file", i);
            if (!inside(paddr, memsz, base, size))
                return vmio_error_set(err, -E2BIG,
                                      "ELF segment %" PRIu64 " at 0x%" PRIx64 "+0x%" PRIx64
                                      " is not inside RAM",
                                      i, paddr, memsz);
            if (pass == 0) {
                end = paddr + memsz > end ? paddr + memsz : end;
                continue;
            }
            if (vmio_guest_mem_write(mem, paddr, f + off, filesz) < 0 ||
                vmio_guest_mem_fill(mem, paddr + filesz, 0, memsz - filesz) < 0)
                return vmio_error_set(err, -EFAULT, "cannot write ELF segment %" PRIu64, i);
        }
    }
    if (end == 0)
        return vmio_error_set(err, -EINVAL, "an ELF file with nothing to load");
    e->pc = le(f + 24, 8);
    e->kernel_end = end;
    e->linux_image = false;
    if (!inside(e->pc, 4, base, size))
        return vmio_error_set(err, -EINVAL, "ELF entry 0x%" PRIx64 " is not inside RAM", e->pc);
    return 0;
}

int vmio_arm64_load(const struct vmio_guest_mem *mem, struct vmio_arm64_machine *m,
                    const struct vmio_arm64_boot *b, struct vmio_arm64_entry *e,
                    struct vmio_error *err)
{
    memset(e, 0, sizeof(*e));
    uint64_t base = m->ram_base ? m->ram_base : VMIO_ARM64_RAM_BASE, size = m->ram_size;
    if (base & (SZ_2M - 1) || size < SZ_2M || size > VMIO_ARM64_RAM_MAX)
        return vmio_error_set(
            err, -EINVAL, "RAM at 0x%" PRIx64 " size 0x%" PRIx64 ": 2 MiB aligned, 2 MiB to 2 GiB",
            base, size);
    /* ELF files start with 0x7f 'E' 'L' 'F'. */
    static const uint8_t elf_magic[4] = {0x7f, 'E', 'L', 'F'};
    int (*load)(const struct vmio_guest_mem *, uint64_t, uint64_t, const struct vmio_arm64_boot *,
                struct vmio_arm64_entry *, bool, struct vmio_error *) = NULL;
    if (b->image_size >= 64 && le(b->image + 56, 4) == IMAGE_MAGIC)
        load = load_image;
    else if (b->image_size >= 4 && memcmp(b->image, elf_magic, 4) == 0)
        load = load_elf;
    else
        return vmio_error_set(err, -ENOEXEC, "neither an arm64 Image nor an ELF file");
    int rc = load(mem, base, size, b, e, false, err); /* the layout first: nothing written */
    if (rc < 0)
        return rc;

    /* The tree: the highest 2 MiB boundary that leaves DTB_MAX below the end. */
    uint8_t *dtb = malloc(DTB_MAX);
    if (!dtb)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    uint64_t ram_end = base + size;
    uint64_t dtb_addr = (ram_end - DTB_MAX) & ~(SZ_2M - 1);
    uint64_t initrd = dtb_addr;
    if (b->initrd_size) {
        if (b->initrd_size > dtb_addr - base) {
            free(dtb);
            return vmio_error_set(err, -E2BIG, "the initrd (%zu bytes) does not fit RAM",
                                  b->initrd_size);
        }
        initrd = (dtb_addr - b->initrd_size) & ~0xfffull;
    }
    if (initrd < e->kernel_end || dtb_addr < e->kernel_end) {
        free(dtb);
        return vmio_error_set(err, -E2BIG,
                              "image (to 0x%" PRIx64 "), initrd and device tree (at 0x%" PRIx64
                              ") do not fit 0x%" PRIx64 " bytes of RAM",
                              e->kernel_end, dtb_addr, size);
    }
    m->bootargs = b->cmdline;
    m->initrd_start = b->initrd_size ? initrd : 0;
    m->initrd_size = b->initrd_size;
    size_t dtb_size = 0;
    rc = vmio_arm64_fdt_build(m, dtb, DTB_MAX, &dtb_size, err);
    if (rc == 0)
        rc = load(mem, base, size, b, e, true, err);
    if (rc == 0 && b->initrd_size &&
        vmio_guest_mem_write(mem, initrd, b->initrd, b->initrd_size) < 0)
        rc = vmio_error_set(err, -EFAULT, "cannot write the initrd to guest RAM");
    if (rc == 0 && vmio_guest_mem_write(mem, dtb_addr, dtb, dtb_size) < 0)
        rc = vmio_error_set(err, -EFAULT, "cannot write the device tree to guest RAM");
    free(dtb);
    e->dtb = dtb_addr;
    e->dtb_size = dtb_size;
    return rc;
}
