/*
 * coalesce: buffered (coalesced) writes. vmio lets KVM buffer writes to
 * testdev's write buffer (VMIO_TESTDEV_WBUF..) in MMIO and ports; they reach the
 * device at the next exit, in the guest's order. The guest writes bursts of
 * mixed widths at pseudo-random offsets (unaligned too) and checks, with the
 * device's WBUF_COUNT and WBUF_HASH (FNV-1a over offset, width and value of
 * each write, in order), that every write arrived once and in order: the
 * hash the guest computes must equal the device's. The status page (read
 * without exits) shows that a 64-write burst reached the device only when
 * the guest next did something that exits, and that an exiting write to
 * another register is handled after the writes buffered before it. Bursts
 * longer than KVM's ring check that a full ring keeps order. (The ring has
 * 170 slots, but KVM computes its free space modulo 170 in 32-bit unsigned
 * arithmetic, so from an empty ring it may report "full" after 85 entries:
 * 64 is a burst that always fits.)
 * With `vmio run --coalesce off` every write exits: the "buffered" checks
 * fail and the hashes still match (run_guest.py's coalesce mode checks both).
 */
#include "guest.h"

#define REG(off) (VMIO_TESTDEV_MMIO_BASE + (off))
#define PAGE(off) (VMIO_TESTDEV_STATUS_BASE + (off))
#define PORT(off) ((uint16_t)(VMIO_TESTDEV_PIO_BASE + (off)))

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 17;
}

static uint64_t fnv(uint64_t h, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        h = (h ^ ((v >> (8 * i)) & 0xff)) * VMIO_TESTDEV_WBUF_HASH_PRIME;
    return h;
}

/* What WBUF_HASH becomes after a write of @width bytes of @v at window offset @off. */
static uint64_t fold(uint64_t h, uint64_t off, unsigned width, uint64_t v)
{
    return fnv(fnv(fnv(h, off, 2), width, 1), v, 8);
}

/*
 * @n writes of random width (1, 2, 4 and, for MMIO, 8) and value at random
 * offsets of the write buffer [VMIO_TESTDEV_WBUF, @end); returns the hash the
 * device must report.
 */
static uint64_t burst(int mmio, unsigned n, uint64_t end)
{
    uint64_t h = VMIO_TESTDEV_WBUF_HASH_SEED;
    for (unsigned i = 0; i < n; i++) {
        unsigned width = 1u << (next_random() % (mmio ? 4 : 3));
        uint64_t off = VMIO_TESTDEV_WBUF + next_random() % (end - VMIO_TESTDEV_WBUF - width + 1);
        uint64_t v = next_random() * 0x10001ULL;
        v &= width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
        if (mmio)
            mmio_write(REG(off), width, v);
        else
            pio_write(PORT(off), width, (uint32_t)v);
        h = fold(h, off, width, v);
    }
    return h;
}

static void mmio_bursts(void)
{
    gprint("-- MMIO: 64 writes, then the status page, then a register read\n");
    mmio_write64(REG(VMIO_TESTDEV_WBUF_COUNT), 0);
    uint64_t h = burst(1, 64, VMIO_TESTDEV_WBUF_END);
    check_eq("page WBUF_COUNT after the burst: 0 (all 64 buffered, none exited)",
             mmio_read64(PAGE(VMIO_TESTDEV_WBUF_COUNT)), 0);
    check_eq("WBUF_COUNT read (an exit: the burst arrives first)",
             mmio_read64(REG(VMIO_TESTDEV_WBUF_COUNT)), 64);
    check_eq("WBUF_HASH: the 64 writes, each once, in order", mmio_read64(REG(VMIO_TESTDEV_WBUF_HASH)),
             h);

    gprint("-- MMIO: buffered writes arrive before a later exiting write\n");
    mmio_write64(REG(VMIO_TESTDEV_WBUF_COUNT), 0);
    mmio_write64(REG(VMIO_TESTDEV_READS), 0);
    burst(1, 10, VMIO_TESTDEV_WBUF_END);
    mmio_write64(REG(VMIO_TESTDEV_SUM), 1); /* exits: the 10 must be delivered before it */
    check_eq("page WBUF_COUNT right after the SUM write: 10",
             mmio_read64(PAGE(VMIO_TESTDEV_WBUF_COUNT)), 10);
    check_eq("page WRITES: the 10 buffered writes and SUM's", mmio_read64(PAGE(VMIO_TESTDEV_WRITES)), 11);

    gprint("-- MMIO: 1000 writes, more than KVM's ring holds\n");
    mmio_write64(REG(VMIO_TESTDEV_WBUF_COUNT), 0);
    h = burst(1, 1000, VMIO_TESTDEV_WBUF_END);
    check_eq("WBUF_COUNT 1000", mmio_read64(REG(VMIO_TESTDEV_WBUF_COUNT)), 1000);
    check_eq("WBUF_HASH of the 1000, in order", mmio_read64(REG(VMIO_TESTDEV_WBUF_HASH)), h);
    mmio_write32(REG(VMIO_TESTDEV_WBUF + 0x101), 0x11223344u); /* unaligned, buffered */
    check_eq("a buffered unaligned write reads back", mmio_read32(REG(VMIO_TESTDEV_WBUF + 0x101)),
             0x11223344u);
}

static void port_bursts(void)
{
    gprint("-- ports: 100 and 1000 writes of widths 1, 2 and 4\n");
    outl(PORT(VMIO_TESTDEV_WBUF_COUNT), 0);
    uint64_t h = burst(0, 100, VMIO_TESTDEV_PIO_SIZE);
    check_eq("port WBUF_COUNT 100", inl(PORT(VMIO_TESTDEV_WBUF_COUNT)), 100);
    uint64_t got = inl(PORT(VMIO_TESTDEV_WBUF_HASH)) | (uint64_t)inl(PORT(VMIO_TESTDEV_WBUF_HASH + 4)) << 32;
    check_eq("port WBUF_HASH of the 100, in order", got, h);
    outl(PORT(VMIO_TESTDEV_WBUF_COUNT), 0);
    h = burst(0, 1000, VMIO_TESTDEV_PIO_SIZE);
    check_eq("port WBUF_COUNT 1000", inl(PORT(VMIO_TESTDEV_WBUF_COUNT)), 1000);
    got = inl(PORT(VMIO_TESTDEV_WBUF_HASH)) | (uint64_t)inl(PORT(VMIO_TESTDEV_WBUF_HASH + 4)) << 32;
    check_eq("port WBUF_HASH of the 1000, in order", got, h);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    if (!testdev_present()) {
        test_skip("testdev not present");
        return test_summary("coalesce");
    }
    mmio_bursts();
    port_bursts();
    return test_summary("coalesce");
}
