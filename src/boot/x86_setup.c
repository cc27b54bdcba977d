/*
 * x86 boot CPU state: the machine state the multiboot specification
 * promises a kernel at its entry point (32-bit protected mode, flat 4 GiB
 * segments, paging and interrupts off).
 */
#include <string.h>

#include "vmio/boot.h"

#define SEL_CODE32 0x10
#define SEL_DATA32 0x18
#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)

static struct vmio_x86_segment flat_segment(uint16_t selector, uint8_t type)
{
    return (struct vmio_x86_segment){.base = 0,
                                     .limit = 0xffffffff,
                                     .selector = selector,
                                     .type = type,
                                     .present = 1,
                                     .dpl = 0,
                                     .db = 1,
                                     .s = 1,
                                     .l = 0,
                                     .g = 1};
}

int vmio_x86_setup_multiboot(struct vmio_vcpu *vcpu, const struct vmio_boot_info *info,
                             struct vmio_error *err)
{
    struct vmio_x86_sregs s;
    int rc = vmio_vcpu_get_sregs(vcpu, &s);
    if (rc < 0)
        return vmio_error_set(err, rc, "reading the segment registers: %s", strerror(-rc));
    s.cs = flat_segment(SEL_CODE32, 0xb);                             /* execute/read, accessed */
    s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(SEL_DATA32, 0x3); /* read/write, accessed */
    /* A present busy 32-bit TSS and an unusable LDT satisfy VM-entry checks. */
    s.tr = (struct vmio_x86_segment){.limit = 0x67, .type = 0xb, .present = 1};
    s.ldt = (struct vmio_x86_segment){.type = 0x2, .present = 0};
    s.gdt_base = s.idt_base = 0;
    s.gdt_limit = s.idt_limit = 0;
    s.cr0 = CR0_PE | CR0_ET;
    s.cr2 = s.cr3 = s.cr4 = 0;
    s.efer = 0;
    rc = vmio_vcpu_set_sregs(vcpu, &s);
    if (rc < 0)
        return vmio_error_set(err, rc, "setting the segment registers (multiboot state): %s",
                              strerror(-rc));

    struct vmio_x86_regs r;
    memset(&r, 0, sizeof(r));
    r.gpr[VMIO_X86_RAX] = VMIO_MULTIBOOT_BOOT_MAGIC;
    r.gpr[VMIO_X86_RBX] = info->mbi_addr;
    r.rip = info->entry;
    r.rflags = 0x2; /* reserved bit 1; IF clear */
    rc = vmio_vcpu_set_regs(vcpu, &r);
    if (rc < 0)
        return vmio_error_set(err, rc, "setting the registers (multiboot state): %s",
                              strerror(-rc));
    return 0;
}
