/*
 * Multiboot v1 loader (see vmio/boot.h).
 *
 * The header is searched in the first 8 KiB, 4-byte aligned, as the
 * specification says. Segments come from the ELF program headers (ELF32 or
 * ELF64, little-endian x86) or, when header flag 16 is set, from the header's
 * a.out-kludge address fields. The information structure, memory map,
 * command line and loader name are placed on the first page after the
 * image. Nothing from the file is trusted: every read goes through
 * file_span() and every guest write through the guest-memory object's
 * checked copies (vmio_guest_mem_write()/fill(): the whole span must be RAM,
 * no wraparound, nothing written on failure). It needs no VM and no
 * hypervisor: any struct vmio_guest_mem will do (the unit test and the fuzz
 * target use plain buffers).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/boot.h"

#define MB_SEARCH_LIMIT 8192
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_KNOWN_REQUIRED (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO)

/* multiboot_info flags vmio sets */
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)
#define MBI_SIZE 88
#define MMAP_ENTRY_SIZE 24 /* 4-byte size field + 20-byte entry */
#define MAX_CMDLINE 4096

struct mb_header {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
    size_t offset; /* where in the file */
};

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Pointer to [off, off+len) of the file, or NULL when it is not all inside. */
static const uint8_t *file_span(const uint8_t *image, size_t size, uint64_t off, uint64_t len)
{
    if (off > size || len > size - off)
        return NULL;
    return image + off;
}

static int find_header(const uint8_t *image, size_t size, struct mb_header *h,
                       struct vmio_error *err)
{
    size_t limit = size < MB_SEARCH_LIMIT ? size : MB_SEARCH_LIMIT;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        if (rd32(image + off) != VMIO_MULTIBOOT_HEADER_MAGIC)
            continue;
        uint32_t flags = rd32(image + off + 4), sum = rd32(image + off + 8);
        if ((uint32_t)(VMIO_MULTIBOOT_HEADER_MAGIC + flags + sum) != 0)
            continue; /* a magic-looking word that is not a header */
        memset(h, 0, sizeof(*h));
        h->magic = VMIO_MULTIBOOT_HEADER_MAGIC;
        h->flags = flags;
        h->checksum = sum;
        h->offset = off;
        if (flags & MB_FLAG_AOUT_KLUDGE) {
            const uint8_t *f = file_span(image, size, off + 12, 20);
            if (!f)
                return vmio_error_set(err, -ENOEXEC,
                                      "multiboot header at offset 0x%zx: address fields are "
                                      "cut off by the end of the file",
                                      off);
            h->header_addr = rd32(f);
            h->load_addr = rd32(f + 4);
            h->load_end_addr = rd32(f + 8);
            h->bss_end_addr = rd32(f + 12);
            h->entry_addr = rd32(f + 16);
        }
        return 0;
    }
    return vmio_error_set(err, -ENOEXEC,
                          "no multiboot header (magic 0x1BADB002 with a valid checksum) in the "
                          "first %zu bytes",
                          limit);
}

/* Copy @filesz bytes from the file and zero up to @memsz at guest @paddr. */
static int load_segment(const struct vmio_guest_mem *mem, const uint8_t *image, size_t size,
                        uint64_t offset, uint64_t filesz, uint64_t paddr, uint64_t memsz,
                        unsigned index, struct vmio_boot_info *info, struct vmio_error *err)
{
    if (filesz > memsz)
        return vmio_error_set(err, -ENOEXEC,
                              "segment %u: file size 0x%" PRIx64 " exceeds memory size 0x%" PRIx64,
                              index, filesz, memsz);
    const uint8_t *src = file_span(image, size, offset, filesz);
    if (!src)
        return vmio_error_set(err, -ENOEXEC,
                              "segment %u: file bytes 0x%" PRIx64 "+0x%" PRIx64
                              " lie beyond the end of the %zu-byte image",
                              index, offset, filesz, size);
    if (memsz == 0)
        return 0;
    /* Zeroing the whole span first also checks all of it before anything is copied. */
    if (memsz > SIZE_MAX || vmio_guest_mem_fill(mem, paddr, 0, (size_t)memsz) < 0)
        return vmio_error_set(err, -ERANGE,
                              "segment %u: guest-physical 0x%" PRIx64 "-0x%" PRIx64
                              " is not inside guest RAM (use a larger --mem?)",
                              index, paddr, paddr + memsz - 1);
    if (vmio_guest_mem_write(mem, paddr, src, (size_t)filesz) < 0) /* checked above */
        return vmio_error_set(err, -ERANGE, "segment %u: guest RAM changed while loading", index);
    if (paddr < info->image_lo)
        info->image_lo = paddr;
    if (paddr + memsz > info->image_hi)
        info->image_hi = paddr + memsz;
    return 0;
}

static int load_elf(const struct vmio_guest_mem *mem, const uint8_t *image, size_t size,
                    struct vmio_boot_info *info, struct vmio_error *err)
{
    if (size < 52 || memcmp(image,
                            "\x7f"
                            "ELF",
                            4) != 0)
        return vmio_error_set(err, -ENOEXEC, "not an ELF file and no a.out-kludge header");
    bool is64 = image[4] == 2;
    if ((image[4] != 1 && image[4] != 2) || image[5] != 1)
        return vmio_error_set(err, -ENOEXEC,
                              "ELF class %u / data %u: need little-endian ELF32 "
                              "or ELF64",
                              image[4], image[5]);
    uint16_t machine = rd16(image + 18);
    if (machine != 3 && machine != 62)
        return vmio_error_set(err, -ENOEXEC, "ELF machine %u is not x86 (3) or x86-64 (62)",
                              machine);
    uint64_t phoff, entry;
    uint16_t phentsize, phnum;
    if (is64) {
        if (size < 64)
            return vmio_error_set(err, -ENOEXEC, "ELF64 header cut off");
        entry = rd64(image + 24);
        phoff = rd64(image + 32);
        phentsize = rd16(image + 54);
        phnum = rd16(image + 56);
    } else {
        entry = rd32(image + 24);
        phoff = rd32(image + 28);
        phentsize = rd16(image + 42);
        phnum = rd16(image + 44);
    }
    if (phentsize < (is64 ? 56 : 32) || phnum == 0)
        return vmio_error_set(err, -ENOEXEC, "ELF program headers: %u entries of %u bytes", phnum,
                              phentsize);
    if (!file_span(image, size, phoff, (uint64_t)phnum * phentsize))
        return vmio_error_set(err, -ENOEXEC,
                              "ELF program headers at 0x%" PRIx64 " lie beyond the end of file",
                              phoff);
    unsigned loaded = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = image + phoff + (uint64_t)i * phentsize;
        uint32_t type = rd32(ph);
        if (type != 1 /* PT_LOAD */)
            continue;
        uint64_t off, paddr, filesz, memsz;
        if (is64) {
            off = rd64(ph + 8);
            paddr = rd64(ph + 24);
            filesz = rd64(ph + 32);
            memsz = rd64(ph + 40);
        } else {
            off = rd32(ph + 4);
            paddr = rd32(ph + 12);
            filesz = rd32(ph + 16);
            memsz = rd32(ph + 20);
        }
        int rc = load_segment(mem, image, size, off, filesz, paddr, memsz, i, info, err);
        if (rc < 0)
            return rc;
        loaded++;
    }
    if (!loaded)
        return vmio_error_set(err, -ENOEXEC, "ELF has no loadable segment");
    info->entry = entry;
    return 0;
}

static int load_aout_kludge(const struct vmio_guest_mem *mem, const uint8_t *image, size_t size,
                            const struct mb_header *h, struct vmio_boot_info *info,
                            struct vmio_error *err)
{
    /* The header's own address says where the file offset of the header lands. */
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > h->offset)
        return vmio_error_set(err, -ENOEXEC,
                              "multiboot header: load_addr 0x%x / header_addr 0x%x do not match "
                              "the header's file offset 0x%zx",
                              h->load_addr, h->header_addr, h->offset);
    uint64_t file_off = h->offset - (h->header_addr - h->load_addr);
    uint64_t end = h->load_end_addr ? h->load_end_addr : h->load_addr + (size - file_off);
    if (end < h->load_addr)
        return vmio_error_set(err, -ENOEXEC,
                              "multiboot header: load_end_addr 0x%" PRIx64 " below load_addr 0x%x",
                              end, h->load_addr);
    uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : end;
    if (bss_end < end)
        return vmio_error_set(err, -ENOEXEC,
                              "multiboot header: bss_end_addr 0x%x below the end "
                              "of the loaded data",
                              h->bss_end_addr);
    int rc = load_segment(mem, image, size, file_off, end - h->load_addr, h->load_addr,
                          bss_end - h->load_addr, 0, info, err);
    info->entry = h->entry_addr;
    return rc;
}

/* Append one memory-map entry at *p. */
static uint8_t *mmap_entry(uint8_t *p, uint64_t base, uint64_t len, uint32_t type)
{
    uint32_t sz = 20;
    memcpy(p, &sz, 4);
    memcpy(p + 4, &base, 8);
    memcpy(p + 12, &len, 8);
    memcpy(p + 20, &type, 4);
    return p + MMAP_ENTRY_SIZE;
}

/* Emit the part of [lo, hi) that lies inside [from, to) with @type. */
static uint8_t *mmap_clip(uint8_t *p, uint64_t lo, uint64_t hi, uint64_t from, uint64_t to,
                          uint32_t type)
{
    uint64_t a = lo > from ? lo : from, b = hi < to ? hi : to;
    return a < b ? mmap_entry(p, a, b - a, type) : p;
}

/*
 * The memory map a PC firmware would give: each RAM region as available
 * (reserved if it is ROM; pass-through regions are not listed, as before
 * they were part of vmio's memory), with the legacy area carved the usual way: the
 * EBDA (0x9fc00-0xa0000) and BIOS area (0xf0000-0x100000) reserved, VGA and
 * option ROM space (0xa0000-0xf0000) not listed. Returns the end of the list.
 */
#define EBDA_START 0x9fc00ULL
#define VGA_START 0xa0000ULL
#define BIOS_START 0xf0000ULL
#define HIGH_START 0x100000ULL
#define MMAP_MAX_PER_REGION 4

static uint8_t *write_mmap(const struct vmio_guest_mem *mem, uint8_t *p)
{
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++) {
        const struct vmio_mem_region *r = vmio_guest_mem_at(mem, i);
        if (r->kind != VMIO_MEM_RAM)
            continue;
        uint64_t lo = r->gpa, hi = lo + (r->size - 1) + 1; /* a region ending at 2^64: hi = 0 */
        if (hi == 0)
            hi = UINT64_MAX;
        uint32_t type = r->readonly ? 2 : 1;
        p = mmap_clip(p, lo, hi, 0, EBDA_START, type);
        p = mmap_clip(p, lo, hi, EBDA_START, VGA_START, 2);
        p = mmap_clip(p, lo, hi, BIOS_START, HIGH_START, 2);
        p = mmap_clip(p, lo, hi, HIGH_START, UINT64_MAX, type);
    }
    return p;
}

/* KiB of writable RAM that starts at @base and runs on contiguously, capped at @limit. */
static uint32_t ram_kib_from(const struct vmio_guest_mem *mem, uint64_t base, uint64_t limit)
{
    uint64_t end = base;
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++) { /* address order */
        const struct vmio_mem_region *r = vmio_guest_mem_at(mem, i);
        uint64_t last = r->gpa + (r->size - 1);
        if (r->kind == VMIO_MEM_RAM && !r->readonly && r->gpa <= end && last >= end)
            end = last == UINT64_MAX ? UINT64_MAX : last + 1;
    }
    if (end > limit)
        end = limit;
    uint64_t kib = (end - base) / 1024;
    return kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* RAM regions in @mem: each gives at most MMAP_MAX_PER_REGION map entries. */
static unsigned ram_regions(const struct vmio_guest_mem *mem)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++)
        n += vmio_guest_mem_at(mem, i)->kind == VMIO_MEM_RAM;
    return n;
}

static int write_info(const struct vmio_guest_mem *mem, const char *cmdline,
                      struct vmio_boot_info *info, struct vmio_error *err)
{
    static const char loader[] = "vmio";
    size_t cmdlen = cmdline ? strlen(cmdline) : 0;
    if (cmdlen >= MAX_CMDLINE)
        return vmio_error_set(err, -E2BIG, "command line is %zu bytes; at most %d", cmdlen,
                              MAX_CMDLINE - 1);
    uint64_t nmmap = (uint64_t)MMAP_MAX_PER_REGION * ram_regions(mem);
    uint64_t total = MBI_SIZE + nmmap * MMAP_ENTRY_SIZE + cmdlen + 1 + sizeof(loader);
    uint64_t base = (info->image_hi + 0xfff) & ~0xfffULL;
    if (info->image_hi > UINT32_MAX || base + total > UINT32_MAX)
        return vmio_error_set(err, -ERANGE,
                              "image ends at 0x%" PRIx64 ": no room below 4 GiB "
                              "for the multiboot information",
                              info->image_hi);
    /* Built on the host, then copied in: the span is checked before a byte lands. */
    uint8_t *mbi = calloc(1, (size_t)total);
    if (!mbi)
        return vmio_error_set(err, -ENOMEM, "out of memory");

    uint8_t *mm = mbi + MBI_SIZE, *p = write_mmap(mem, mm);
    uint8_t *cmd = p;
    if (cmdlen)
        memcpy(cmd, cmdline, cmdlen);
    cmd[cmdlen] = 0;
    uint8_t *name = cmd + cmdlen + 1;
    memcpy(name, loader, sizeof(loader));

    uint32_t gpa = (uint32_t)base;
    wr32(mbi + 0, MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
    wr32(mbi + 4, ram_kib_from(mem, 0, EBDA_START));          /* mem_lower, KiB */
    wr32(mbi + 8, ram_kib_from(mem, HIGH_START, UINT64_MAX)); /* mem_upper, KiB above 1 MiB */
    wr32(mbi + 16, gpa + (uint32_t)(cmd - mbi));              /* cmdline */
    wr32(mbi + 20, 0);                                        /* mods_count */
    wr32(mbi + 24, 0);                                        /* mods_addr */
    wr32(mbi + 44, (uint32_t)(p - mm));                       /* mmap_length */
    wr32(mbi + 48, gpa + MBI_SIZE);                           /* mmap_addr */
    wr32(mbi + 64, gpa + (uint32_t)(name - mbi));             /* boot_loader_name */
    int rc = vmio_guest_mem_write(mem, base, mbi, (size_t)total);
    free(mbi);
    if (rc < 0)
        return vmio_error_set(err, -ERANGE,
                              "no guest RAM at 0x%" PRIx64 " for the multiboot information "
                              "(%" PRIu64 " bytes after the image)",
                              base, total);
    info->mbi_addr = base;
    return 0;
}

int vmio_multiboot_load(const struct vmio_guest_mem *mem, const uint8_t *image, size_t size,
                        const char *cmdline, struct vmio_boot_info *info, struct vmio_error *err)
{
    struct mb_header h;
    int rc = find_header(image, size, &h, err);
    if (rc < 0)
        return rc;
    uint32_t required = h.flags & 0xffff;
    if (required & MB_FLAG_VIDEO_MODE)
        return vmio_error_set(err, -ENOTSUP,
                              "multiboot header asks for a video mode (flag 2); "
                              "vmio has no display");
    if (required & ~(MB_KNOWN_REQUIRED | MB_FLAG_VIDEO_MODE))
        return vmio_error_set(err, -ENOTSUP,
                              "multiboot header requires unknown features "
                              "(flags 0x%x)",
                              required & ~(MB_KNOWN_REQUIRED | MB_FLAG_VIDEO_MODE));
    *info = (struct vmio_boot_info){.image_lo = UINT64_MAX, .image_hi = 0};
    rc = (h.flags & MB_FLAG_AOUT_KLUDGE) ? load_aout_kludge(mem, image, size, &h, info, err)
                                         : load_elf(mem, image, size, info, err);
    if (rc < 0)
        return rc;
    if (info->entry < info->image_lo || info->entry >= info->image_hi)
        return vmio_error_set(err, -ENOEXEC,
                              "entry point 0x%" PRIx64 " is outside the loaded image "
                              "0x%" PRIx64 "-0x%" PRIx64,
                              info->entry, info->image_lo, info->image_hi);
    if (info->entry > UINT32_MAX)
        return vmio_error_set(err, -ENOEXEC,
                              "entry point 0x%" PRIx64 " is above 4 GiB; a "
                              "multiboot kernel starts in 32-bit mode",
                              info->entry);
    return write_info(mem, cmdline, info, err);
}
