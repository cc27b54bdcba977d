/*
 * The kvm-probe guest: 32-bit protected-mode code (paging off, CPL0) that
 * uses the x87 FPU, SSE and, when the host asks for it (EAX != 0 at entry),
 * XSETBV/XSAVE, then reports with one port write. A KVM that cannot run
 * these at CPL0 (nested PVM) stops with KVM_EXIT_INTERNAL_ERROR instead.
 * It is data for kvm_probe.c, copied to guest address 0x1000; the absolute
 * addresses below are guest-physical (see kvm_probe.c for the layout).
 */
    .section .rodata
    .globl probe_guest_start, probe_guest_end
    .code32
probe_guest_start:
    fninit
    fld1
    fadd    %st(0), %st(0)          /* 2.0 */
    fstps   0x2000
    movups  0x3000, %xmm0
    addps   %xmm0, %xmm0
    movups  %xmm0, 0x3010
    test    %eax, %eax
    jz      1f
    xor     %ecx, %ecx
    xgetbv
    or      $3, %eax                /* x87 | SSE state */
    xsetbv
    mov     $3, %eax
    xor     %edx, %edx
    xsave   0x4000
    movb    $1, 0x2004
1:  mov     $0x5a, %al
    outb    %al, $0x10
    hlt
probe_guest_end:
    .code64
    .section .note.GNU-stack,"",@progbits
