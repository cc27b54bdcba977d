/*
 * Entry and exception vectors of vmio's AArch64 test guests.
 * Entered at EL1 with the MMU off (vmio: X0 = the device tree; QEMU -kernel
 * with an ELF: nothing in X0), on the boot CPU only. Invariants: the stack
 * is set before any C code; VBAR_EL1 points at `vectors` before any device
 * access, so an abort (QEMU has no device at vmio's test addresses) reaches
 * guest_exception() with its syndrome instead of looping.
 */
    .section .text.boot, "ax"
    .global _start
_start:
    ldr x1, =_stack_top
    mov sp, x1
    adr x1, vectors
    msr vbar_el1, x1
    isb
    bl guest_start
1:  wfi
    b 1b

/* Save the caller-saved registers and x29/x30, call guest_exception(kind, frame). */
.macro vector kind
    .balign 0x80
    stp x29, x30, [sp, #-16]!
    stp x0, x1, [sp, #-16]!
    stp x2, x3, [sp, #-16]!
    stp x4, x5, [sp, #-16]!
    stp x6, x7, [sp, #-16]!
    stp x8, x9, [sp, #-16]!
    stp x10, x11, [sp, #-16]!
    stp x12, x13, [sp, #-16]!
    stp x14, x15, [sp, #-16]!
    stp x16, x17, [sp, #-16]!
    stp x18, xzr, [sp, #-16]!
    mov x0, #\kind
    mov x1, sp
    b vector_common
.endm

    .balign 0x800
    .global vectors
vectors:
    vector 0    /* current EL, SP_EL0: sync */
    vector 1    /* irq */
    vector 2    /* fiq */
    vector 3    /* serror */
    vector 4    /* current EL, SP_ELx: sync */
    vector 5
    vector 6
    vector 7
    vector 8    /* lower EL (unused) */
    vector 9
    vector 10
    vector 11
    vector 12
    vector 13
    vector 14
    vector 15

vector_common:
    bl guest_exception
    ldp x18, xzr, [sp], #16
    ldp x16, x17, [sp], #16
    ldp x14, x15, [sp], #16
    ldp x12, x13, [sp], #16
    ldp x10, x11, [sp], #16
    ldp x8, x9, [sp], #16
    ldp x6, x7, [sp], #16
    ldp x4, x5, [sp], #16
    ldp x2, x3, [sp], #16
    ldp x0, x1, [sp], #16
    ldp x29, x30, [sp], #16
    eret
