/*
 * What every test guest needs from memory, on any architecture: memset and
 * memcpy (freestanding: the compiler may still emit calls to them), and
 * mmio_read()/mmio_write() by width on top of the architecture's
 * mmio_readN()/mmio_writeN() inlines in its guest.h.
 * Invariant: memset and memcpy go byte by byte (guests have no SIMD); a
 * width other than 1, 2, 4 or 8 reads 0 and writes nothing.
 */
#include "guest.h"

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

uint64_t mmio_read(uint64_t addr, unsigned width)
{
    switch (width) {
    case 1:
        return mmio_read8(addr);
    case 2:
        return mmio_read16(addr);
    case 4:
        return mmio_read32(addr);
    case 8:
        return mmio_read64(addr);
    }
    return 0;
}

void mmio_write(uint64_t addr, unsigned width, uint64_t v)
{
    switch (width) {
    case 1:
        mmio_write8(addr, (uint8_t)v);
        break;
    case 2:
        mmio_write16(addr, (uint16_t)v);
        break;
    case 4:
        mmio_write32(addr, (uint32_t)v);
        break;
    case 8:
        mmio_write64(addr, v);
        break;
    }
}
