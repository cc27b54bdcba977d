/*
 * The machine state at a Linux kernel's entry (see vmio/linux_boot.h and
 * docs/linux-boot.md, "The entry state"): the boot GDT, the identity page
 * tables and the register values. Pure data, no vCPU.
 *
 * Invariants: the GDT bytes and the segment registers come from the same
 * struct vmio_x86_segment values (encode_descriptor() below), so the hidden
 * segment state a vCPU starts with is exactly what reloading a selector from
 * the GDT would give; the page tables map [0, 4 GiB) one to one and nothing
 * else (PDPT entries 4..511 and PML4 entries 1..511 are 0).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "boot/linux_offsets.h"
#include "vmio/linux_boot.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL /* in a page directory entry: a 2 MiB page */
#define PAGE 0x1000ULL
#define PAGE_2M 0x200000ULL

static struct vmio_x86_segment code_segment(enum vmio_linux_entry_mode mode)
{
    bool long_mode = mode == VMIO_LINUX_ENTRY_64;
    return (struct vmio_x86_segment){.base = 0,
                                     .limit = 0xffffffff,
                                     .selector = VMIO_LINUX_BOOT_CS,
                                     .type = 0xb, /* execute/read, accessed */
                                     .present = 1,
                                     .dpl = 0,
                                     .db = long_mode ? 0 : 1, /* D must be 0 when L is 1 */
                                     .s = 1,
                                     .l = long_mode ? 1 : 0,
                                     .g = 1};
}

static struct vmio_x86_segment data_segment(void)
{
    return (struct vmio_x86_segment){.base = 0,
                                     .limit = 0xffffffff,
                                     .selector = VMIO_LINUX_BOOT_DS,
                                     .type = 0x3, /* read/write, accessed */
                                     .present = 1,
                                     .dpl = 0,
                                     .db = 1,
                                     .s = 1,
                                     .l = 0,
                                     .g = 1};
}

/* The 8-byte descriptor for @s (limit in bytes; stored in 4 KiB units when G is set). */
static uint64_t encode_descriptor(const struct vmio_x86_segment *s)
{
    uint64_t limit = s->g ? (uint64_t)s->limit >> 12 : s->limit;
    uint64_t d = limit & 0xffff;
    d |= (s->base & 0xffffffULL) << 16;
    d |= (uint64_t)(s->type & 0xf) << 40;
    d |= (uint64_t)(s->s & 1) << 44;
    d |= (uint64_t)(s->dpl & 3) << 45;
    d |= (uint64_t)(s->present & 1) << 47;
    d |= ((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(s->l & 1) << 53;
    d |= (uint64_t)(s->db & 1) << 54;
    d |= (uint64_t)(s->g & 1) << 55;
    d |= ((s->base >> 24) & 0xff) << 56;
    return d;
}

void vmio_linux_gdt(enum vmio_linux_entry_mode mode, uint8_t *gdt)
{
    struct vmio_x86_segment cs = code_segment(mode), ds = data_segment();
    memset(gdt, 0, VMIO_LINUX_GDT_SIZE);
    put64(gdt + VMIO_LINUX_BOOT_CS, encode_descriptor(&cs));
    put64(gdt + VMIO_LINUX_BOOT_DS, encode_descriptor(&ds));
}

int vmio_linux_page_tables(uint64_t base, uint8_t *buf, struct vmio_error *err)
{
    if (!buf)
        return vmio_error_set(err, -EINVAL, "page tables: NULL buffer");
    if ((base & (PAGE - 1)) || base >= VMIO_LINUX_IDENTITY_MAP_END ||
        VMIO_LINUX_PT_SIZE > VMIO_LINUX_IDENTITY_MAP_END - base)
        return vmio_error_set(
            err, -EINVAL, "page tables at 0x%" PRIx64 " must be 4 KiB aligned and lie below 4 GiB",
            base);
    memset(buf, 0, VMIO_LINUX_PT_SIZE);
    uint8_t *pml4 = buf, *pdpt = buf + PAGE, *pd = buf + 2 * PAGE;
    put64(pml4, (base + PAGE) | PTE_P | PTE_RW);
    for (uint64_t i = 0; i < 4; i++) {
        put64(pdpt + i * 8, (base + (2 + i) * PAGE) | PTE_P | PTE_RW);
        for (uint64_t j = 0; j < 512; j++)
            put64(pd + i * PAGE + j * 8, ((i << 30) | (j * PAGE_2M)) | PTE_P | PTE_RW | PTE_PS);
    }
    return 0;
}

void vmio_linux_entry_state(const struct vmio_linux_layout *lay, struct vmio_x86_regs *regs,
                            struct vmio_x86_sregs *sregs)
{
    bool long_mode = lay->mode == VMIO_LINUX_ENTRY_64;
    memset(sregs, 0, sizeof(*sregs));
    sregs->cs = code_segment(lay->mode);
    sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data_segment();
    /* VM entry wants a usable busy TSS and accepts an unusable LDT. */
    sregs->tr = (struct vmio_x86_segment){.limit = 0x67, .type = 0xb, .present = 1};
    sregs->ldt = (struct vmio_x86_segment){.type = 0x2, .present = 0};
    sregs->gdt_base = lay->gdt_addr;
    sregs->gdt_limit = (uint16_t)(lay->gdt_size - 1);
    sregs->idt_base = 0;
    sregs->idt_limit = 0;
    sregs->cr0 = CR0_PE | CR0_ET | (long_mode ? CR0_PG : 0);
    sregs->cr3 = long_mode ? lay->page_tables_addr : 0;
    sregs->cr4 = long_mode ? CR4_PAE : 0;
    sregs->efer = long_mode ? EFER_LME | EFER_LMA : 0;

    memset(regs, 0, sizeof(*regs));
    regs->gpr[VMIO_X86_RSI] = lay->zero_page_addr;
    regs->gpr[VMIO_X86_RSP] = lay->stack_top;
    regs->rip = lay->entry;
    regs->rflags = 0x2; /* reserved bit 1; IF clear */
}
