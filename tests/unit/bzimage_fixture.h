/*
 * Synthetic bzImages for the Linux boot tests. Offsets are written here as
 * literal numbers from Documentation/arch/x86/boot.rst, independently of
 * src/boot/linux_offsets.h, so a wrong constant in the code is caught.
 *
 * The default image: protocol 2.15, setup_sects 2 (protected-mode code at
 * file offset 0x600), syssize 0x100 (4096 bytes of code, bytes i & 0xff
 * with a marker), followed by 64 bytes of "signature" that must not be
 * loaded; relocatable, 2 MiB alignment, pref_address 16 MiB, init_size
 * 8 MiB, initrd_addr_max 0x7fffffff, cmdline_size 2047, XLF_KERNEL_64 and
 * XLF_CAN_BE_LOADED_ABOVE_4G, header ending at 0x26c.
 */
#ifndef VMIO_TEST_BZIMAGE_FIXTURE_H
#define VMIO_TEST_BZIMAGE_FIXTURE_H

#include <stdint.h>
#include <string.h>

#define FX_SETUP_SECTS 2
#define FX_KERNEL_OFFSET 0x600
#define FX_SYSSIZE 0x100
#define FX_KERNEL_SIZE (FX_SYSSIZE * 16)
#define FX_TRAILER 64
#define FX_SIZE (FX_KERNEL_OFFSET + FX_KERNEL_SIZE + FX_TRAILER)
#define FX_PREF 0x1000000ULL
#define FX_INIT_SIZE 0x800000U
#define FX_ALIGN 0x200000U

static inline void fx_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void fx_put32(uint8_t *p, uint32_t v)
{
    fx_put16(p, (uint16_t)v);
    fx_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void fx_put64(uint8_t *p, uint64_t v)
{
    fx_put32(p, (uint32_t)v);
    fx_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t fx_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t fx_get32(const uint8_t *p)
{
    return (uint32_t)fx_get16(p) | (uint32_t)fx_get16(p + 2) << 16;
}

static inline uint64_t fx_get64(const uint8_t *p)
{
    return (uint64_t)fx_get32(p) | (uint64_t)fx_get32(p + 4) << 32;
}

/* Fill @img (FX_SIZE bytes) with the default image. */
static inline void fx_make(uint8_t *img)
{
    memset(img, 0, FX_SIZE);
    img[0x1ef] = 0xff; /* the file's sentinel byte, as real images have it */
    img[0x1f1] = FX_SETUP_SECTS;
    fx_put32(img + 0x1f4, FX_SYSSIZE);
    fx_put16(img + 0x1fe, 0xaa55);
    img[0x200] = 0xeb;
    img[0x201] = 0x6a; /* header ends at 0x26c */
    memcpy(img + 0x202, "HdrS", 4);
    fx_put16(img + 0x206, 0x020f);
    img[0x211] = 0x01;                   /* LOADED_HIGH */
    fx_put32(img + 0x214, 0x100000);     /* code32_start */
    fx_put32(img + 0x22c, 0x7fffffff);   /* initrd_addr_max */
    fx_put32(img + 0x230, FX_ALIGN);     /* kernel_alignment */
    img[0x234] = 1;                      /* relocatable_kernel */
    img[0x235] = 21;                     /* min_alignment */
    fx_put16(img + 0x236, 0x0003);       /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
    fx_put32(img + 0x238, 2047);         /* cmdline_size */
    fx_put64(img + 0x258, FX_PREF);      /* pref_address */
    fx_put32(img + 0x260, FX_INIT_SIZE); /* init_size */
    fx_put32(img + 0x268, 0x12345);      /* kernel_info_offset: copied, not used */
    for (unsigned i = 0; i < FX_KERNEL_SIZE; i++)
        img[FX_KERNEL_OFFSET + i] = (uint8_t)(i * 7 + 1);
    memset(img + FX_KERNEL_OFFSET + FX_KERNEL_SIZE, 0xee, FX_TRAILER);
}

#endif
