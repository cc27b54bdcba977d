/*
 * x86 guest page-table walker (see vmio/decode_x86.h): linear to
 * guest-physical translation for paging off, 32-bit, PAE and 4-level paging.
 *
 * Invariants: pure C, no allocation, no global state; guest memory is only
 * read through the caller's callback, entries are never written (no A/D
 * updates) and no permission is checked.
 */
#include "vmio/decode.h"

#define CR0_PG (1ULL << 31)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define EFER_LMA (1ULL << 10)
#define PTE_P 1ULL
#define PTE_PS (1ULL << 7)
#define ADDR_MASK 0x000FFFFFFFFFF000ULL /* bits 51:12 */

int vmio_x86_translate(const struct vmio_x86_paging *pg, uint64_t la, vmio_x86_read_phys_fn read,
                       void *ctx, uint64_t *gpa)
{
    *gpa = 0;
    if (!(pg->cr0 & CR0_PG)) {
        *gpa = la & 0xFFFFFFFFULL;
        return VMIO_DECODE_OK;
    }
    uint64_t e;
    if (!(pg->cr4 & CR4_PAE)) {
        /* 32-bit paging: 10/10/12, 4 MiB pages with CR4.PSE (PSE-36 ignored). */
        uint32_t l = (uint32_t)la;
        uint64_t pde_addr = (pg->cr3 & 0xFFFFF000ULL) + ((l >> 22) & 0x3FF) * 4;
        if (read(ctx, pde_addr, 4, &e) || !(e & PTE_P))
            return VMIO_DECODE_INVALID;
        if ((e & PTE_PS) && (pg->cr4 & CR4_PSE)) {
            *gpa = (e & 0xFFC00000ULL) | (l & 0x3FFFFF);
            return VMIO_DECODE_OK;
        }
        uint64_t pte_addr = (e & 0xFFFFF000ULL) + ((l >> 12) & 0x3FF) * 4;
        if (read(ctx, pte_addr, 4, &e) || !(e & PTE_P))
            return VMIO_DECODE_INVALID;
        *gpa = (e & 0xFFFFF000ULL) | (l & 0xFFF);
        return VMIO_DECODE_OK;
    }
    int levels;
    uint64_t table;
    if (pg->efer & EFER_LMA) {
        if (pg->cr4 & CR4_LA57)
            return VMIO_DECODE_UNSUPPORTED;
        levels = 4;
        table = pg->cr3 & ADDR_MASK;
    } else {
        /* PAE: the 4 PDPTEs at CR3[31:5]. */
        la &= 0xFFFFFFFFULL;
        uint64_t pdpte_addr = (pg->cr3 & 0xFFFFFFE0ULL) + ((la >> 30) & 3) * 8;
        if (read(ctx, pdpte_addr, 8, &e) || !(e & PTE_P))
            return VMIO_DECODE_INVALID;
        levels = 2;
        table = e & ADDR_MASK;
    }
    for (int lvl = levels; lvl >= 1; lvl--) {
        unsigned shift = 12 + 9 * (unsigned)(lvl - 1);
        uint64_t addr = table + ((la >> shift) & 0x1FF) * 8;
        if (read(ctx, addr, 8, &e) || !(e & PTE_P))
            return VMIO_DECODE_INVALID;
        if (lvl == 1 || ((e & PTE_PS) && lvl <= 3)) {
            if ((e & PTE_PS) && lvl == 3 && !(pg->efer & EFER_LMA))
                return VMIO_DECODE_INVALID;
            uint64_t page_mask = (1ULL << shift) - 1;
            uint64_t frame = e & ADDR_MASK & ~page_mask;
            if (lvl > 1 && (e & ADDR_MASK & page_mask & ~0x1000ULL))
                return VMIO_DECODE_INVALID; /* reserved bits of a large page */
            *gpa = frame | (la & page_mask);
            return VMIO_DECODE_OK;
        }
        if ((e & PTE_PS) && lvl == 4)
            return VMIO_DECODE_INVALID;
        table = e & ADDR_MASK;
    }
    return VMIO_DECODE_INVALID;
}
