/*
 * Byte offsets of the Linux x86 boot protocol's structures, written from
 * Documentation/arch/x86/boot.rst and zero-page.rst (vmio includes no Linux
 * header). The setup header has the same offsets in the bzImage file and in
 * the zero page (boot_params), which embeds it at 0x1f1. Little-endian
 * helpers go with them: every multi-byte field is read and written byte by
 * byte, never through a cast pointer, so nothing depends on the host's
 * alignment rules or byte order.
 */
#ifndef VMIO_LINUX_OFFSETS_H
#define VMIO_LINUX_OFFSETS_H

#include <stdint.h>

/* ---- setup header (file and zero page) ---- */
#define BZ_SETUP_SECTS 0x1f1      /* 1 byte */
#define BZ_SYSSIZE 0x1f4          /* 4 */
#define BZ_VID_MODE 0x1fa         /* 2 */
#define BZ_BOOT_FLAG 0x1fe        /* 2: 0xaa55 */
#define BZ_JUMP 0x200             /* 2: 0xeb, offset to the end of the header from 0x202 */
#define BZ_HEADER_MAGIC 0x202     /* 4: "HdrS" */
#define BZ_VERSION 0x206          /* 2 */
#define BZ_TYPE_OF_LOADER 0x210   /* 1 */
#define BZ_LOADFLAGS 0x211        /* 1 */
#define BZ_CODE32_START 0x214     /* 4 */
#define BZ_RAMDISK_IMAGE 0x218    /* 4 */
#define BZ_RAMDISK_SIZE 0x21c     /* 4 */
#define BZ_HEAP_END_PTR 0x224     /* 2 */
#define BZ_CMD_LINE_PTR 0x228     /* 4 */
#define BZ_INITRD_ADDR_MAX 0x22c  /* 4 */
#define BZ_KERNEL_ALIGNMENT 0x230 /* 4 */
#define BZ_RELOCATABLE 0x234      /* 1 */
#define BZ_MIN_ALIGNMENT 0x235    /* 1, 2.10+ */
#define BZ_XLOADFLAGS 0x236       /* 2, 2.12+ */
#define BZ_CMDLINE_SIZE 0x238     /* 4, 2.06+ */
#define BZ_PREF_ADDRESS 0x258     /* 8, 2.10+ */
#define BZ_INIT_SIZE 0x260        /* 4, 2.10+ */

#define BZ_BOOT_FLAG_VALUE 0xaa55
#define BZ_HEADER_MAGIC_VALUE 0x53726448u /* "HdrS" little-endian */
#define BZ_JUMP_SHORT 0xeb
#define BZ_SECTOR 512

/* ---- zero page (boot_params) outside the setup header ---- */
#define ZP_ACPI_RSDP_ADDR 0x070    /* 8 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0 /* 4: high half of ramdisk_image */
#define ZP_EXT_RAMDISK_SIZE 0x0c4  /* 4 */
#define ZP_EXT_CMD_LINE_PTR 0x0c8  /* 4 */
#define ZP_E820_ENTRIES 0x1e8      /* 1 */
#define ZP_SENTINEL 0x1ef          /* 1: must stay 0 (the kernel checks it) */
#define ZP_E820_TABLE 0x2d0        /* 128 entries of 20 bytes */
#define ZP_E820_ENTRY_SIZE 20

/* Values vmio writes. */
#define ZP_TYPE_OF_LOADER_UNDEFINED 0xff /* no assigned boot loader id */
#define ZP_VID_MODE_NORMAL 0xffff
/*
 * heap_end_ptr: end of the real-mode setup heap minus 0x200, relative to
 * the real-mode code. Only the 16-bit setup code reads it and vmio never
 * runs that code; the value is the protocol's sample (heap to 0xe000).
 */
#define ZP_HEAP_END_PTR 0xde00

static inline uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

#endif
