/*
 * x86 vCPU register state as vmio exchanges it with a backend: general
 * purpose registers, flags, control registers and segments. Plain data, no
 * KVM types, so boot code and tests can build it without <linux/kvm.h>.
 */
#ifndef VMIO_X86_H
#define VMIO_X86_H

#include <stdint.h>

/* GPR indices in the hardware encoding order (ModRM reg field + REX.R). */
enum vmio_x86_gpr {
    VMIO_X86_RAX = 0,
    VMIO_X86_RCX,
    VMIO_X86_RDX,
    VMIO_X86_RBX,
    VMIO_X86_RSP,
    VMIO_X86_RBP,
    VMIO_X86_RSI,
    VMIO_X86_RDI,
    VMIO_X86_R8,
    VMIO_X86_R9,
    VMIO_X86_R10,
    VMIO_X86_R11,
    VMIO_X86_R12,
    VMIO_X86_R13,
    VMIO_X86_R14,
    VMIO_X86_R15,
    VMIO_X86_NGPR
};

struct vmio_x86_regs {
    uint64_t gpr[VMIO_X86_NGPR]; /* indexed by enum vmio_x86_gpr */
    uint64_t rip;
    uint64_t rflags;
};

struct vmio_x86_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type; /* 4-bit descriptor type */
    uint8_t present, dpl, db, s, l, g;
};

struct vmio_x86_sregs {
    struct vmio_x86_segment cs, ds, es, fs, gs, ss, tr, ldt;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint64_t cr0, cr2, cr3, cr4, efer;
};

#endif
