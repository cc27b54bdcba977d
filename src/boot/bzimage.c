/*
 * bzImage setup-header parser (see vmio/linux_boot.h).
 *
 * The file is untrusted. Invariants of a successful parse: every field read
 * lay inside the file and inside the header length the jump at 0x200
 * declares; the header fits the zero page's hole (ends at or before 0x290);
 * the protected-mode code [kernel_offset, kernel_offset + kernel_size) lies
 * inside the file and is not empty; a relocatable kernel's alignment is a
 * power of two. Fields the image's protocol version does not define are
 * never read: they get the protocol's documented defaults instead.
 * All arithmetic is in 64 bits on values of at most 32 bits, so no sum
 * below can wrap.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/linux_offsets.h"
#include "vmio/file.h"
#include "vmio/linux_boot.h"

#define MIB 0x100000ULL

/* A short jump reaches at most 0x202 + 127: the header always fits boot_params' hole. */
_Static_assert(BZ_HEADER_MAGIC + 127 <= VMIO_BZ_HEADER_LIMIT, "setup header hole too small");

struct reader {
    const uint8_t *image;
    size_t size;
    unsigned header_end; /* 0 until the jump has been read */
    struct vmio_error *err;
};

/*
 * Check that the field @name at [@off, @off + @len) is inside the file and
 * (once known) inside the declared header. Returns 0 or -ENOEXEC.
 */
static int need(struct reader *r, unsigned off, unsigned len, const char *name)
{
    if ((uint64_t)off + len > r->size)
        return vmio_error_set(r->err, -ENOEXEC,
                              "truncated setup header: %s at file offset 0x%x needs %u bytes, "
                              "the file has %zu",
                              name, off, len, r->size);
    if (r->header_end && off + len > r->header_end)
        return vmio_error_set(r->err, -ENOEXEC,
                              "setup header too short: %s at file offset 0x%x is past its end "
                              "at 0x%x (jump at 0x200)",
                              name, off, r->header_end);
    return 0;
}

bool vmio_bzimage_detect(const uint8_t *image, size_t size)
{
    if (!image || size < BZ_HEADER_MAGIC + 4)
        return false;
    return le16(image + BZ_BOOT_FLAG) == BZ_BOOT_FLAG_VALUE &&
           le32(image + BZ_HEADER_MAGIC) == BZ_HEADER_MAGIC_VALUE;
}

/* Signature, version and header length: what decides which fields exist. */
static int parse_identity(struct reader *r, struct vmio_bzimage *bz)
{
    const uint8_t *img = r->image;
    int rc;
    if ((rc = need(r, BZ_BOOT_FLAG, 2, "boot_flag")) < 0)
        return rc;
    uint16_t flag = le16(img + BZ_BOOT_FLAG);
    if (flag != BZ_BOOT_FLAG_VALUE)
        return vmio_error_set(r->err, -ENOEXEC,
                              "not a Linux kernel image: boot_flag at file offset 0x1fe is "
                              "0x%04x, not 0xaa55",
                              flag);
    if ((rc = need(r, BZ_JUMP, 2, "jump")) < 0 ||
        (rc = need(r, BZ_HEADER_MAGIC, 4, "header magic")) < 0)
        return rc;
    if (le32(img + BZ_HEADER_MAGIC) != BZ_HEADER_MAGIC_VALUE)
        return vmio_error_set(r->err, -ENOEXEC,
                              "no setup header: \"HdrS\" missing at file offset 0x202 (a kernel "
                              "older than boot protocol 2.00)");
    if ((rc = need(r, BZ_VERSION, 2, "version")) < 0)
        return rc;
    bz->version = le16(img + BZ_VERSION);
    if (bz->version < VMIO_BZ_MIN_VERSION)
        return vmio_error_set(r->err, -ENOEXEC,
                              "boot protocol %u.%02u is too old (need 2.06): version at file "
                              "offset 0x206",
                              bz->version >> 8, bz->version & 0xff);

    /* The jump's signed offset byte, counted from 0x202, ends the header. */
    if (img[BZ_JUMP] != BZ_JUMP_SHORT)
        return vmio_error_set(r->err, -ENOEXEC,
                              "jump at file offset 0x200 is 0x%02x, not a short jump (0xeb): "
                              "the setup header's length is unknown",
                              img[BZ_JUMP]);
    int8_t rel = (int8_t)img[BZ_JUMP + 1];
    unsigned end = (unsigned)(BZ_HEADER_MAGIC + rel);
    unsigned want = bz->version >= 0x020a ? BZ_INIT_SIZE + 4 : BZ_CMDLINE_SIZE + 4;
    if (end < want) /* a backwards jump ends it before 0x202 */
        return vmio_error_set(r->err, -ENOEXEC,
                              "setup header too short: the jump at file offset 0x200 ends it at "
                              "0x%x, protocol %u.%02u defines fields up to 0x%x",
                              end, bz->version >> 8, bz->version & 0xff, want);
    if (end > r->size)
        return vmio_error_set(r->err, -ENOEXEC,
                              "truncated setup header: it ends at file offset 0x%x, the file "
                              "has %zu bytes",
                              end, r->size);
    r->header_end = end;
    bz->header_end = end;
    return 0;
}

/* The fields every protocol from 2.06 has. */
static int parse_fields(struct reader *r, struct vmio_bzimage *bz)
{
    const uint8_t *img = r->image;
    int rc;
    if ((rc = need(r, BZ_SETUP_SECTS, 1, "setup_sects")) < 0 ||
        (rc = need(r, BZ_SYSSIZE, 4, "syssize")) < 0 ||
        (rc = need(r, BZ_LOADFLAGS, 1, "loadflags")) < 0 ||
        (rc = need(r, BZ_INITRD_ADDR_MAX, 4, "initrd_addr_max")) < 0 ||
        (rc = need(r, BZ_KERNEL_ALIGNMENT, 4, "kernel_alignment")) < 0 ||
        (rc = need(r, BZ_RELOCATABLE, 1, "relocatable_kernel")) < 0 ||
        (rc = need(r, BZ_CMDLINE_SIZE, 4, "cmdline_size")) < 0)
        return rc;
    bz->setup_sects = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
    bz->syssize = le32(img + BZ_SYSSIZE);
    bz->loadflags = img[BZ_LOADFLAGS];
    bz->initrd_addr_max = le32(img + BZ_INITRD_ADDR_MAX);
    bz->kernel_alignment = le32(img + BZ_KERNEL_ALIGNMENT);
    bz->relocatable = img[BZ_RELOCATABLE] != 0;
    bz->cmdline_size = le32(img + BZ_CMDLINE_SIZE);

    if (bz->version >= 0x020a) {
        if ((rc = need(r, BZ_MIN_ALIGNMENT, 1, "min_alignment")) < 0 ||
            (rc = need(r, BZ_PREF_ADDRESS, 8, "pref_address")) < 0 ||
            (rc = need(r, BZ_INIT_SIZE, 4, "init_size")) < 0)
            return rc;
        bz->min_alignment = img[BZ_MIN_ALIGNMENT];
        bz->pref_address = le64(img + BZ_PREF_ADDRESS);
        bz->init_size = le32(img + BZ_INIT_SIZE);
    } else {
        bz->min_alignment = 0;
        bz->pref_address = MIB; /* the bzImage load address before 2.10 */
        bz->init_size = 0;      /* set from kernel_size below */
    }
    if (bz->version >= 0x020c) {
        if ((rc = need(r, BZ_XLOADFLAGS, 2, "xloadflags")) < 0)
            return rc;
        bz->xloadflags = le16(img + BZ_XLOADFLAGS);
    } else {
        bz->xloadflags = 0;
    }
    return 0;
}

/* Where the protected-mode code is and whether the file holds all of it. */
static int check_kernel(struct reader *r, struct vmio_bzimage *bz)
{
    if (!(bz->loadflags & VMIO_BZ_LOADED_HIGH))
        return vmio_error_set(r->err, -ENOEXEC,
                              "loadflags at file offset 0x211 is 0x%02x, without LOADED_HIGH: "
                              "a zImage (loaded below 1 MiB); vmio boots bzImages only",
                              bz->loadflags);
    bz->kernel_offset = ((uint64_t)bz->setup_sects + 1) * BZ_SECTOR;
    if (bz->kernel_offset >= r->size)
        return vmio_error_set(r->err, -ENOEXEC,
                              "setup_sects at file offset 0x1f1 says %u sectors: the kernel "
                              "would start at 0x%" PRIx64 ", past the end of the %zu-byte file",
                              bz->setup_sects, bz->kernel_offset, r->size);
    if (bz->syssize == 0)
        return vmio_error_set(r->err, -ENOEXEC,
                              "syssize at file offset 0x1f4 is 0: no protected-mode kernel");
    bz->kernel_size = (uint64_t)bz->syssize * 16;
    uint64_t avail = r->size - bz->kernel_offset;
    if (bz->kernel_size > avail)
        return vmio_error_set(r->err, -ENOEXEC,
                              "truncated kernel: syssize at file offset 0x1f4 says %" PRIu64
                              " bytes from file offset 0x%" PRIx64 ", the file has %" PRIu64,
                              bz->kernel_size, bz->kernel_offset, avail);
    if (bz->version < 0x020a)
        bz->init_size = bz->kernel_size > UINT32_MAX ? UINT32_MAX : (uint32_t)bz->kernel_size;
    if (bz->relocatable &&
        (bz->kernel_alignment == 0 || (bz->kernel_alignment & (bz->kernel_alignment - 1))))
        return vmio_error_set(r->err, -ENOEXEC,
                              "kernel_alignment at file offset 0x230 is 0x%x, not a power of two",
                              bz->kernel_alignment);
    return 0;
}

int vmio_bzimage_parse(const uint8_t *image, size_t size, struct vmio_bzimage *out,
                       struct vmio_error *err)
{
    if (!image || !out)
        return vmio_error_set(err, -EINVAL, "bzImage: NULL image or result");
    struct vmio_bzimage bz;
    memset(&bz, 0, sizeof(bz));
    struct reader r = {.image = image, .size = size, .err = err};
    int rc;
    if ((rc = parse_identity(&r, &bz)) < 0 || (rc = parse_fields(&r, &bz)) < 0 ||
        (rc = check_kernel(&r, &bz)) < 0)
        return rc;
    memcpy(bz.header, image + VMIO_BZ_HEADER_OFFSET, bz.header_end - VMIO_BZ_HEADER_OFFSET);
    *out = bz;
    return 0;
}

int vmio_bzimage_detect_file(const char *path, struct vmio_error *err)
{
    uint8_t head[4096];
    size_t got = 0;
    int rc = vmio_read_file_head(path, head, sizeof(head), &got, err);
    if (rc < 0)
        return rc;
    return vmio_bzimage_detect(head, got) ? 1 : 0;
}
