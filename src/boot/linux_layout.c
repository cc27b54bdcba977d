/*
 * Where a Linux boot puts everything in guest RAM (see vmio/linux_boot.h and
 * docs/linux-boot.md, "Where everything goes"). Pure: no guest memory is
 * touched, only addresses are chosen.
 *
 * Invariants of a successful layout: every placed span lies inside one RAM
 * range given by the caller, outside every reserved range, and below 4 GiB
 * (the identity map of the 64-bit entry covers all of it); the kernel's load
 * span and its init_size span start at or above 1 MiB; the initrd overlaps
 * neither of them nor anything in low memory; the low-memory structures lie
 * below the EBDA (0x9fc00). Every end is computed after checking that it
 * cannot wrap.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/range_set.h"
#include "vmio/linux_boot.h"

#define MIB 0x100000ULL
#define BELOW_4G (VMIO_LINUX_IDENTITY_MAP_END - 1)

struct ctx {
    const struct vmio_bzimage *bz;
    const struct vmio_linux_layout_request *req;
    struct range_set ram;  /* the caller's RAM, normalized */
    struct range_set free; /* RAM minus reserved ranges */
    struct vmio_error *err;
    char ram_text[200];
};

static int add_ranges(struct range_set *s, const struct vmio_gpa_range *r, unsigned n,
                      const char *what, struct vmio_error *err)
{
    for (unsigned i = 0; i < n; i++) {
        if (r[i].size == 0 || r[i].size - 1 > UINT64_MAX - r[i].gpa)
            return vmio_error_set(
                err, -EINVAL, "%s range %u (0x%" PRIx64 ", size 0x%" PRIx64 ") is empty or wraps",
                what, i, r[i].gpa, r[i].size);
        if (vmio_range_set_add(s, r[i].gpa, r[i].gpa + (r[i].size - 1)) < 0)
            return vmio_error_set(err, -ENOMEM, "layout: out of memory");
    }
    vmio_range_set_normalize(s);
    return 0;
}

static int build_sets(struct ctx *c)
{
    const struct vmio_linux_layout_request *req = c->req;
    int rc = add_ranges(&c->ram, req->ram, req->ram_count, "RAM", c->err);
    if (rc < 0)
        return rc;
    if ((rc = add_ranges(&c->free, req->ram, req->ram_count, "RAM", c->err)) < 0)
        return rc;
    struct range_set res = {0};
    rc = add_ranges(&res, req->reserved, req->reserved_count, "reserved", c->err);
    for (unsigned i = 0; rc == 0 && i < res.n; i++)
        if (vmio_range_set_remove(&c->free, res.r[i].lo, res.r[i].hi) < 0)
            rc = vmio_error_set(c->err, -ENOMEM, "layout: out of memory");
    vmio_range_set_free(&res);
    vmio_range_set_format(&c->ram, c->ram_text, sizeof(c->ram_text));
    return rc;
}

/* One fixed low-memory structure must be free RAM. */
static int place_low(struct ctx *c, const char *what, uint64_t addr, uint64_t size)
{
    if (!vmio_range_set_contains(&c->free, addr, addr + size - 1))
        return vmio_error_set(c->err, -ENOMEM,
                              "the %s at 0x%" PRIx64 "-0x%" PRIx64
                              " is not in free guest RAM (RAM: %s)",
                              what, addr, addr + size - 1, c->ram_text);
    return 0;
}

static int place_low_memory(struct ctx *c, struct vmio_linux_layout *out)
{
    const struct vmio_bzimage *bz = c->bz;
    uint64_t len = c->req->cmdline_len;
    if (len > bz->cmdline_size)
        return vmio_error_set(c->err, -E2BIG,
                              "command line of %" PRIu64
                              " bytes is longer than the kernel's cmdline_size (%" PRIu32 ")",
                              len, bz->cmdline_size);
    if (len >= VMIO_LINUX_CMDLINE_LIMIT - VMIO_LINUX_CMDLINE_ADDR)
        return vmio_error_set(c->err, -E2BIG,
                              "command line of %" PRIu64 " bytes does not fit at 0x%llx below "
                              "0x%llx",
                              len, VMIO_LINUX_CMDLINE_ADDR, VMIO_LINUX_CMDLINE_LIMIT);
    out->gdt_addr = VMIO_LINUX_GDT_ADDR;
    out->gdt_size = VMIO_LINUX_GDT_SIZE;
    out->stack_top = VMIO_LINUX_STACK_TOP;
    out->zero_page_addr = VMIO_LINUX_ZERO_PAGE_ADDR;
    out->cmdline_addr = VMIO_LINUX_CMDLINE_ADDR;
    out->cmdline_size = len + 1;
    if (out->mode == VMIO_LINUX_ENTRY_64) {
        out->page_tables_addr = VMIO_LINUX_PT_ADDR;
        out->page_tables_size = VMIO_LINUX_PT_SIZE;
    } else {
        out->page_tables_addr = out->page_tables_size = 0;
    }
    int rc;
    if ((rc = place_low(c, "boot GDT", out->gdt_addr, out->gdt_size)) < 0 ||
        (out->page_tables_size &&
         (rc = place_low(c, "page tables", out->page_tables_addr, out->page_tables_size)) < 0) ||
        (rc = place_low(c, "boot stack", VMIO_LINUX_STACK_TOP - 0x1000, 0x1000)) < 0 ||
        (rc = place_low(c, "zero page", out->zero_page_addr, VMIO_LINUX_ZERO_PAGE_SIZE)) < 0 ||
        (rc = place_low(c, "command line", out->cmdline_addr, out->cmdline_size)) < 0)
        return rc;
    return 0;
}

/* Free RAM where the kernel and the initrd may go: [1 MiB, 4 GiB) of the free set. */
static int high_set(struct ctx *c, struct range_set *high)
{
    for (unsigned i = 0; i < c->free.n; i++)
        if (vmio_range_set_add(high, c->free.r[i].lo, c->free.r[i].hi) < 0)
            return vmio_error_set(c->err, -ENOMEM, "layout: out of memory");
    if (vmio_range_set_remove(high, 0, MIB - 1) < 0 ||
        vmio_range_set_remove(high, VMIO_LINUX_IDENTITY_MAP_END, UINT64_MAX) < 0)
        return vmio_error_set(c->err, -ENOMEM, "layout: out of memory");
    return 0;
}

static bool fits(const struct range_set *s, uint64_t addr, uint64_t len)
{
    return len - 1 <= UINT64_MAX - addr && vmio_range_set_contains(s, addr, addr + (len - 1));
}

static int place_kernel(struct ctx *c, const struct range_set *high, struct vmio_linux_layout *out)
{
    const struct vmio_bzimage *bz = c->bz;
    uint64_t need = bz->init_size > bz->kernel_size ? bz->init_size : bz->kernel_size;
    out->kernel_size = bz->kernel_size;
    if (!bz->relocatable) {
        /* Loaded at 1 MiB; it moves itself to pref_address and needs init_size there. */
        out->kernel_addr = MIB;
        out->init_addr = bz->pref_address;
        out->init_size = bz->init_size ? bz->init_size : bz->kernel_size;
        if (!fits(high, MIB, bz->kernel_size))
            return vmio_error_set(c->err, -ENOMEM,
                                  "kernel of %" PRIu64 " bytes does not fit at 1 MiB "
                                  "(non-relocatable; RAM: %s)",
                                  bz->kernel_size, c->ram_text);
        if (out->init_addr < MIB || !fits(high, out->init_addr, out->init_size))
            return vmio_error_set(c->err, -ENOMEM,
                                  "non-relocatable kernel needs 0x%" PRIx64 " bytes (init_size) "
                                  "at pref_address 0x%" PRIx64
                                  ": not free RAM between 1 MiB and 4 GiB (RAM: %s)",
                                  out->init_size, out->init_addr, c->ram_text);
        return 0;
    }
    uint64_t align = bz->kernel_alignment;
    if (align == 0 || (align & (align - 1)))
        return vmio_error_set(c->err, -EINVAL,
                              "kernel_alignment 0x%" PRIx64 " is not a power of two", align);
    uint64_t pref = bz->pref_address > MIB ? bz->pref_address : MIB, at;
    bool ok = false;
    if (pref <= UINT64_MAX - (align - 1)) {
        at = (pref + align - 1) & ~(align - 1);
        ok = fits(high, at, need);
    }
    if (!ok)
        ok = vmio_range_set_lowest_fit(high, MIB, need, align, &at);
    if (!ok)
        return vmio_error_set(c->err, -ENOMEM,
                              "kernel needs 0x%" PRIx64 " bytes (init_size 0x%" PRIx32
                              ", image 0x%" PRIx64 ") aligned to 0x%" PRIx64
                              " between 1 MiB and 4 GiB; no free RAM holds it (RAM: %s)",
                              need, bz->init_size, bz->kernel_size, align, c->ram_text);
    out->kernel_addr = out->init_addr = at;
    out->init_size = need;
    return 0;
}

static int place_initrd(struct ctx *c, struct range_set *high, struct vmio_linux_layout *out)
{
    uint64_t size = c->req->initrd_size;
    out->initrd_addr = out->initrd_size = 0;
    if (size == 0)
        return 0;
    if (vmio_range_set_remove(high, out->kernel_addr, out->kernel_addr + out->kernel_size - 1) <
            0 ||
        vmio_range_set_remove(high, out->init_addr, out->init_addr + out->init_size - 1) < 0)
        return vmio_error_set(c->err, -ENOMEM, "layout: out of memory");
    uint64_t max = c->bz->initrd_addr_max < BELOW_4G ? c->bz->initrd_addr_max : BELOW_4G;
    uint64_t at;
    if (!vmio_range_set_highest_fit(high, max, size, VMIO_LINUX_INITRD_ALIGN, &at))
        return vmio_error_set(c->err, -ENOMEM,
                              "initrd of %" PRIu64 " bytes does not fit below 0x%" PRIx64
                              " (RAM: %s; kernel at 0x%" PRIx64 "-0x%" PRIx64 ")",
                              size, max, c->ram_text, out->init_addr,
                              out->init_addr + out->init_size - 1);
    out->initrd_addr = at;
    out->initrd_size = size;
    return 0;
}

int vmio_linux_layout(const struct vmio_bzimage *bz, const struct vmio_linux_layout_request *req,
                      struct vmio_linux_layout *out, struct vmio_error *err)
{
    if (!bz || !req || !out || (req->ram_count && !req->ram) ||
        (req->reserved_count && !req->reserved))
        return vmio_error_set(err, -EINVAL, "layout: NULL argument");
    if (req->ram_count == 0)
        return vmio_error_set(err, -EINVAL, "layout: no guest RAM");
    if (bz->kernel_size == 0)
        return vmio_error_set(err, -EINVAL, "layout: the image has no kernel (kernel_size 0)");
    struct vmio_linux_layout lay;
    memset(&lay, 0, sizeof(lay));
    bool has64 = bz->xloadflags & VMIO_BZ_XLF_KERNEL_64;
    switch (req->mode) {
    case VMIO_LINUX_ENTRY_AUTO:
        lay.mode = has64 ? VMIO_LINUX_ENTRY_64 : VMIO_LINUX_ENTRY_32;
        break;
    case VMIO_LINUX_ENTRY_64:
        if (!has64)
            return vmio_error_set(err, -ENOTSUP,
                                  "the image has no 64-bit entry point (xloadflags 0x%x lacks "
                                  "XLF_KERNEL_64)",
                                  bz->xloadflags);
        lay.mode = VMIO_LINUX_ENTRY_64;
        break;
    case VMIO_LINUX_ENTRY_32:
        lay.mode = VMIO_LINUX_ENTRY_32;
        break;
    default:
        return vmio_error_set(err, -EINVAL, "layout: unknown entry mode %d", (int)req->mode);
    }

    struct ctx c = {.bz = bz, .req = req, .err = err};
    struct range_set high = {0};
    int rc = build_sets(&c);
    if (rc == 0)
        rc = place_low_memory(&c, &lay);
    if (rc == 0)
        rc = high_set(&c, &high);
    if (rc == 0)
        rc = place_kernel(&c, &high, &lay);
    if (rc == 0)
        rc = place_initrd(&c, &high, &lay);
    vmio_range_set_free(&high);
    vmio_range_set_free(&c.ram);
    vmio_range_set_free(&c.free);
    if (rc < 0)
        return rc;
    lay.entry = lay.mode == VMIO_LINUX_ENTRY_64 ? lay.kernel_addr + 0x200 : lay.kernel_addr;
    *out = lay;
    return 0;
}
