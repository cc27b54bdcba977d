/*
 * AArch64 stage-1 translation (the EL1&0 regime of VMSAv8-64) for the
 * hypervisor: where does a guest virtual address live in guest-physical
 * memory? The NISV path uses it to fetch the instruction of an abort that
 * came without a syndrome (docs/arm64.md).
 *
 * Invariants: pure (no OS header, no allocation, no global state); every
 * field of the result is set on every path; every descriptor comes from the
 * caller's read function (which bounds-checks guest memory), and no value
 * read from the guest can make the walk loop, index past a table, or go
 * below level 0 or past level 3. Field positions follow the Arm ARM (TCR_EL1,
 * TTBRn_EL1, VMSAv8-64 descriptor formats).
 */
#include "vmio/decode.h"

#define OA_MASK 0x0000fffffffff000ull /* output address bits [47:12] of descriptors and TTBRs */

static uint64_t field(uint64_t v, unsigned hi, unsigned lo)
{
    return (v >> lo) & ((1ull << (hi - lo + 1)) - 1);
}

static int fail(struct vmio_arm64_walk *out, int status, const char *reason)
{
    out->pa = 0;
    out->level = 0;
    out->size = 0;
    out->reason = reason;
    return status;
}

/* Page-size shift of a TG0 (@upper false) or TG1 encoding; 0 for a reserved one. */
static unsigned granule_shift(unsigned tg, bool upper)
{
    static const unsigned tg0[4] = {12, 16, 14, 0};
    static const unsigned tg1[4] = {0, 14, 12, 16};
    return upper ? tg1[tg & 3] : tg0[tg & 3];
}

int vmio_arm64_translate(const struct vmio_arm64_mmu *mmu, uint64_t va,
                         vmio_arm64_read_phys_fn read, void *ctx, struct vmio_arm64_walk *out)
{
    *out = (struct vmio_arm64_walk){0};
    if (!(mmu->sctlr & 1)) { /* MMU off: flat */
        out->pa = va;
        return VMIO_DECODE_OK;
    }
    if (mmu->sctlr & (1ull << 25))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "big-endian translation tables (SCTLR_EL1.EE)");
    if (field(mmu->tcr, 59, 59))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "52-bit addressing (TCR_EL1.DS)");

    bool upper = field(va, 55, 55);
    unsigned txsz = (unsigned)(upper ? field(mmu->tcr, 21, 16) : field(mmu->tcr, 5, 0));
    bool epd = upper ? field(mmu->tcr, 23, 23) : field(mmu->tcr, 7, 7);
    bool tbi = upper ? field(mmu->tcr, 38, 38) : field(mmu->tcr, 37, 37);
    unsigned shift =
        granule_shift((unsigned)(upper ? field(mmu->tcr, 31, 30) : field(mmu->tcr, 15, 14)), upper);
    if (!shift)
        return fail(out, VMIO_DECODE_UNSUPPORTED, "reserved translation granule (TCR_EL1.TGn)");
    if (txsz < 16)
        return fail(out, VMIO_DECODE_UNSUPPORTED, "VA size above 48 bits (TCR_EL1.TnSZ < 16)");
    if (txsz > 48)
        return fail(out, VMIO_DECODE_INVALID, "VA size below 16 bits (TCR_EL1.TnSZ > 48)");
    unsigned va_bits = 64 - txsz;
    if (va_bits <= shift)
        return fail(out, VMIO_DECODE_INVALID, "VA size not above the page size (TCR_EL1.TnSZ)");

    /* Bits [63 (or 55 with top-byte ignore) : va_bits] must all equal bit 55. */
    unsigned top = tbi ? 55 : 63;
    uint64_t high = field(va, top, va_bits);
    uint64_t ones = (1ull << (top - va_bits + 1)) - 1;
    if (high != (upper ? ones : 0))
        return fail(out, VMIO_DECODE_INVALID, "address outside both translation ranges");
    if (epd)
        return fail(out, VMIO_DECODE_INVALID,
                    upper ? "walks through TTBR1 are disabled (TCR_EL1.EPD1)"
                          : "walks through TTBR0 are disabled (TCR_EL1.EPD0)");

    unsigned stride = shift - 3; /* index bits per level */
    unsigned levels = (va_bits - shift + stride - 1) / stride;
    unsigned level = 4 - levels; /* 0..3: va_bits - shift is 1..36, stride >= 9 */
    unsigned lvl_shift = shift + stride * (3 - level);
    unsigned idx_bits = va_bits - lvl_shift; /* the first table may be smaller */
    uint64_t ttbr = upper ? mmu->ttbr1 : mmu->ttbr0;
    /* BADDR: bits below the first table's size (at least 64 bytes) are RES0, taken as 0. */
    unsigned align = idx_bits + 3 > 6 ? idx_bits + 3 : 6;
    uint64_t table = ttbr & 0x0000fffffffffffeull & ~((1ull << align) - 1);

    for (;;) {
        uint64_t idx = field(va, lvl_shift + idx_bits - 1, lvl_shift);
        uint64_t desc;
        if (read(ctx, table + idx * 8, &desc) != 0)
            return fail(out, VMIO_DECODE_INVALID, "a translation table is not in guest RAM");
        if (!(desc & 1))
            return fail(out, VMIO_DECODE_INVALID, "invalid descriptor (translation fault)");
        uint64_t oa_mask = OA_MASK & ~((1ull << shift) - 1);
        if (level == 3) {
            if (!(desc & 2))
                return fail(out, VMIO_DECODE_INVALID, "reserved descriptor at level 3");
            out->pa = (desc & oa_mask) | (va & ((1ull << shift) - 1));
            break;
        }
        if (!(desc & 2)) { /* block */
            bool allowed = level == 2 || (level == 1 && shift == 12);
            if (!allowed)
                return fail(out, VMIO_DECODE_INVALID, "block descriptor at a level without blocks");
            uint64_t bmask = (1ull << lvl_shift) - 1;
            out->pa = (desc & OA_MASK & ~bmask) | (va & bmask);
            break;
        }
        table = desc & oa_mask;
        level++;
        lvl_shift -= stride;
        idx_bits = stride;
    }
    out->level = (uint8_t)level;
    out->granule = (uint8_t)shift;
    out->size = 1ull << lvl_shift;
    out->reason = NULL;
    return VMIO_DECODE_OK;
}
