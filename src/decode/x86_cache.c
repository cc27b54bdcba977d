/*
 * Direct-mapped cache of decoded x86 instructions keyed by the guest-physical
 * address of their first byte and the CPU mode (see vmio/decode_x86.h).
 *
 * Invariants: storage belongs to the caller, nothing is allocated. An entry
 * is valid only for an instruction whose bytes lie in one 4 KiB page, and it
 * stores those bytes, so (a) invalidating that page drops it and (b) a lookup
 * given the current bytes can verify it. A slot holds at most one entry; an
 * insert evicts whatever was there.
 */
#include <string.h>

#include "vmio/decode.h"

#define PAGE_SHIFT 12

static uint32_t slot_of(const struct vmio_x86_cache *c, uint64_t gpa, unsigned mode)
{
    uint64_t h = (gpa ^ ((uint64_t)mode << 62)) * 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(h >> 32) & (c->nslots - 1);
}

int vmio_x86_cache_init(struct vmio_x86_cache *c, struct vmio_x86_cache_entry *slots,
                        uint32_t nslots)
{
    memset(c, 0, sizeof(*c));
    if (!slots || nslots == 0)
        return VMIO_DECODE_INVALID;
    uint32_t n = 1;
    while (n <= nslots / 2)
        n *= 2;
    c->slots = slots;
    c->nslots = n;
    vmio_x86_cache_clear(c);
    return VMIO_DECODE_OK;
}

const struct vmio_x86_insn *vmio_x86_cache_lookup(struct vmio_x86_cache *c, uint64_t gpa,
                                                  enum vmio_x86_mode mode, const uint8_t *bytes,
                                                  size_t len)
{
    if (!c->slots) {
        c->misses++;
        return NULL;
    }
    struct vmio_x86_cache_entry *e = &c->slots[slot_of(c, gpa, (unsigned)mode)];
    if (!e->valid || e->gpa != gpa || e->mode != (uint8_t)mode) {
        c->misses++;
        return NULL;
    }
    if (bytes && (len < e->insn.len || memcmp(bytes, e->bytes, e->insn.len) != 0)) {
        e->valid = 0;
        c->stale++;
        c->misses++;
        return NULL;
    }
    c->hits++;
    return &e->insn;
}

int vmio_x86_cache_insert(struct vmio_x86_cache *c, uint64_t gpa, const struct vmio_x86_insn *insn,
                          const uint8_t *bytes)
{
    if (!c->slots || !insn || !bytes || insn->reason || insn->len == 0 ||
        insn->len > VMIO_X86_MAX_INSN)
        return VMIO_DECODE_INVALID;
    if ((gpa >> PAGE_SHIFT) != ((gpa + insn->len - 1) >> PAGE_SHIFT))
        return VMIO_DECODE_INVALID;
    struct vmio_x86_cache_entry *e = &c->slots[slot_of(c, gpa, insn->mode)];
    e->gpa = gpa;
    e->mode = insn->mode;
    memset(e->bytes, 0, sizeof(e->bytes));
    memcpy(e->bytes, bytes, insn->len);
    e->insn = *insn;
    e->valid = 1;
    return VMIO_DECODE_OK;
}

unsigned vmio_x86_cache_invalidate_page(struct vmio_x86_cache *c, uint64_t gpa)
{
    unsigned dropped = 0;
    uint64_t page = gpa >> PAGE_SHIFT;
    for (uint32_t i = 0; i < c->nslots; i++) {
        struct vmio_x86_cache_entry *e = &c->slots[i];
        if (e->valid && (e->gpa >> PAGE_SHIFT) == page) {
            e->valid = 0;
            dropped++;
        }
    }
    c->invalidated += dropped;
    return dropped;
}

void vmio_x86_cache_clear(struct vmio_x86_cache *c)
{
    for (uint32_t i = 0; i < c->nslots; i++)
        c->slots[i].valid = 0;
}
