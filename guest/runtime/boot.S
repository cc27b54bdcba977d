/*
 * Multiboot v1 entry of vmio's freestanding test guests.
 * Entered in 32-bit protected mode with paging off (EAX = 0x2BADB002,
 * EBX = multiboot info). Switches to 64-bit long mode with a static GDT and
 * static page tables identity-mapping the first 4 GiB with 2 MiB pages (so
 * testdev MMIO at 0xd0000000 is reachable), then calls
 * guest_main(mb_magic, mb_info) and exits with its return value. An IDT
 * (filled by idt_init() in runtime.c) turns CPU exceptions 0-31 into a
 * printed line and exit code GUEST_EXIT_EXCEPTION instead of a triple fault;
 * vectors 32-63 and 255 (external interrupts) go through irq_common to
 * guest_irq(vector) in runtime.c, which calls the handler registered with
 * irq_set_handler() and returns with iretq (caller-saved registers kept).
 * Also the application-processor trampoline (ap_tramp_start..ap_tramp_end,
 * 16-bit code copied below 1 MiB by ap_start()) and its 64-bit landing.
 * Invariants: every table is built by the assembler, not at run time, because
 * CPL0 guest code may be executed by KVM's instruction emulator; the boot
 * path is about twenty instructions.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000002 /* bit 1: request memory information */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    mov %eax, %edi              /* guest_main arg 1: multiboot magic */
    mov %ebx, %esi              /* guest_main arg 2: multiboot info */
    lgdt gdt_desc
    mov %cr4, %eax
    or $0x20, %eax              /* CR4.PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx       /* EFER */
    rdmsr
    or $0x100, %eax             /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* CR0.PG | CR0.PE */
    mov %eax, %cr0
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $stack_top, %esp        /* zero-extends into RSP */
    mov %edi, %edi              /* upper halves are undefined after the switch */
    mov %esi, %esi
    push %rdi
    push %rsi
    call idt_init               /* CPU exceptions print a line and exit (runtime.c) */
    pop %rsi
    pop %rdi
    call guest_main
    mov %eax, %edi
    call guest_exit             /* does not return */
1:  hlt
    jmp 1b

/*
 * Application processor (AP) trampoline. ap_start() (runtime.c) copies
 * ap_tramp_start..ap_tramp_end to AP_TRAMPOLINE_ADDR (0x8000, below 1 MiB)
 * and sends INIT-SIPI-SIPI with vector 0x08, so the AP starts here in real
 * mode with CS = 0x0800, IP = 0. The code only uses offsets from its start
 * (CS-relative data, absolute far-jump target in the linked image), so it
 * runs from its copy. It goes straight from real mode to long mode: the
 * BSP's GDT (lgdtl with a 32-bit base), CR4.PAE, the BSP's page tables,
 * EFER.LME, then CR0.PE | CR0.PG together and a far jump to the 64-bit code
 * selector at ap_long_entry, which loads the data segments, the stack the
 * BSP left in ap_boot_stack, and calls ap_entry() (runtime.c).
 */
    .code16
    .globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (ap_tramp_gdt_desc - ap_tramp_start)
    mov %cr4, %eax
    or $0x20, %eax              /* CR4.PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx       /* EFER */
    rdmsr
    or $0x100, %eax             /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* CR0.PG | CR0.PE: long mode (compatibility) */
    mov %eax, %cr0
    ljmpl $0x08, $ap_long_entry
    .balign 4
ap_tramp_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
ap_tramp_end:

    .code64
ap_long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov ap_boot_stack(%rip), %rsp
    and $-16, %rsp
    call ap_entry               /* does not return */
3:  cli
    hlt
    jmp 3b

/*
 * Exception stubs for vectors 0-31: push a zero error code where the CPU
 * does not, push the vector, save the registers the C ABI lets
 * guest_exception(vector, error, rip) clobber and call it. It returns the
 * RIP to resume at (a fixup: msr_read_safe() and msr_write_safe() expect a
 * #GP); fatal exceptions never return from it.
 */
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exc_stub_\v:
    .if (\v == 8) || ((\v >= 10) && (\v <= 14)) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
    .else
    push $0
    .endif
    push $\v
    jmp exc_common
    .endr
exc_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbp
    mov %rsp, %rbp
    mov 80(%rsp), %edi          /* vector, above the 10 saved registers */
    mov 88(%rsp), %rsi          /* error code */
    mov 96(%rsp), %rdx          /* RIP pushed by the CPU */
    and $-16, %rsp
    cld
    call guest_exception        /* returns the RIP to resume at */
    mov %rbp, %rsp
    mov %rax, 96(%rsp)
    pop %rbp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp               /* the vector and the error code */
    iretq

/*
 * Interrupt stubs for vectors 32-63 and 255: push the vector, save the
 * registers the C ABI lets guest_irq() clobber, call guest_irq(vector) on a
 * 16-byte aligned stack with DF clear, restore and iretq.
 */
    .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,255
irq_stub_\v:
    push $\v
    jmp irq_common
    .endr
irq_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbp
    mov %rsp, %rbp
    mov 80(%rsp), %edi          /* the vector, above the 10 saved registers */
    and $-16, %rsp
    cld
    call guest_irq
    mov %rbp, %rsp
    pop %rbp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $8, %rsp                /* the vector */
    iretq

    .section .rodata
    .balign 8
    .globl irq_stubs
irq_stubs:                      /* vectors 32-63, then 255, for idt_init() */
    .irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,255
    .quad irq_stub_\v
    .endr

    .balign 8
    .globl exc_stubs
exc_stubs:                      /* addresses of the 32 stubs, for idt_init() */
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exc_stub_\v
    .endr

    .balign 8
gdt:
    .quad 0                     /* null */
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code, DPL0 */
    .quad 0x00CF92000000FFFF    /* 0x10: data, DPL0 */
gdt_end:
    .balign 8
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

    .section .data.pagetables, "aw"
    .balign 4096
pml4:
    .quad pdpt + 0x3            /* present, writable */
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + 0x3
    .quad pd + 0x1000 + 0x3
    .quad pd + 0x2000 + 0x3
    .quad pd + 0x3000 + 0x3
    .fill 508, 8, 0
pd:                             /* 4 x 512 entries of 2 MiB: 0 .. 4 GiB */
    .set addr, 0
    .rept 2048
    .quad addr + 0x83           /* present, writable, page size */
    .set addr, addr + 0x200000
    .endr

    .section .data
    .balign 8
    .globl ap_boot_stack
ap_boot_stack:                  /* top of the next AP's stack (set by ap_start()) */
    .quad 0

    .section .bss
    .balign 16
stack:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
