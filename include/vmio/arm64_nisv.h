/*
 * Emulating an AArch64 data abort that came without a syndrome (ISV=0): the
 * load/store pairs, pre/post-index writeback forms and the other
 * instructions whose accesses the hardware does not describe. KVM hands
 * these to vmio (KVM_CAP_ARM_NISV_TO_USER, KVM_EXIT_ARM_NISV: exit reason
 * VMIO_EXIT_ARM_NISV); the run loop then calls vmio_arm64_nisv_handle().
 *
 * One emulation step: translate the PC through the guest's stage-1 tables
 * (vmio_arm64_translate()), fetch the instruction from guest RAM, decode it
 * (vmio_arm64_decode_esr()), compute the address from the registers, and for
 * each transfer (two for a pair) translate its address, make sure the
 * faulting IPA is one of them, and perform it: through the caller's device
 * callback (the VM's buses, so the same devices, policies and statistics as
 * every other access) or, for a transfer that lands in guest RAM, on the
 * RAM itself; then inject loaded values, apply the writeback and advance
 * the PC (vmio_arm64_emulate()).
 *
 * Invariants: nothing the guest controls is trusted: the PC, table entries
 * and addresses go through bounds-checked guest-memory lookups, a transfer
 * that crosses a page or does not match the fault is refused, and a refused
 * or stopped instruction leaves the registers untouched (the guest is not
 * resumed past an instruction vmio did not complete).
 */
#ifndef VMIO_ARM64_NISV_H
#define VMIO_ARM64_NISV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/backend.h"
#include "vmio/decode.h"
#include "vmio/guest_mem.h"

/* The vCPU state an emulation step reads and changes. */
struct vmio_arm64_nisv_cpu {
    struct vmio_arm64_regs regs; /* X0..X30, the SP of the current EL and mode, PC */
    struct vmio_arm64_mmu mmu;   /* SCTLR_EL1, TCR_EL1, TTBR0/1_EL1 */
};

/*
 * How a step reaches memory and devices.
 *   ram    - host pointer to @len bytes of guest RAM at @gpa (writable RAM
 *            when @write), or NULL when that is not (all) RAM.
 *   device - perform one access (*@x: reason VMIO_EXIT_IO, access.space
 *            MMIO, dir, width, addr, data for a write, reg/reg_width/
 *            sign_extend of the destination, buf NULL) and return 0 with a
 *            read's value in x->access.data, or 1 when the vCPU must stop:
 *            *@x then describes why (unclaimed under strict, device error,
 *            debug exit). The run loop gives its own access path here.
 */
struct vmio_arm64_nisv_ops {
    void *(*ram)(void *ctx, uint64_t gpa, uint64_t len, bool write);
    int (*device)(void *ctx, struct vmio_exit *x);
    void *ctx;
};

/* What a step found (also on failure, as far as it got). */
struct vmio_arm64_nisv_result {
    struct vmio_arm64_access insn; /* the decoded instruction */
    uint32_t word;                 /* its encoding, 0 when not fetched */
    uint64_t va;                   /* virtual address of the first transfer */
    uint64_t pa[2];                /* guest-physical address of each transfer */
    unsigned transfers;            /* 1, or 2 for a pair; 0 before the decode */
    const char *reason;            /* NULL, or why the step was refused (static) */
};

/*
 * vmio_arm64_nisv_emulate - one emulation step of the abort with syndrome
 * @esr (EC 0x24/0x25, ISV = 0) at IPA @fault_ipa on @cpu (pure: all guest
 * state comes in @cpu and through @ops).
 * Returns 0: done, @cpu updated (loads, writeback, PC + 4); 1: a device
 * access asked to stop (@stop holds that exit; @cpu is unchanged);
 * VMIO_DECODE_UNSUPPORTED / VMIO_DECODE_INVALID: refused, with
 * res->reason (code not in RAM or not mapped, an instruction vmio does not
 * emulate, an address that does not match the fault or crosses a page),
 * @cpu unchanged. @res and @stop are the caller's; nothing is retained.
 */
int vmio_arm64_nisv_emulate(struct vmio_arm64_nisv_cpu *cpu, uint64_t esr, uint64_t fault_ipa,
                            const struct vmio_arm64_nisv_ops *ops, struct vmio_exit *stop,
                            struct vmio_arm64_nisv_result *res);

/*
 * vmio_arm64_nisv_handle - the run loop's step for a VMIO_EXIT_ARM_NISV
 * exit *@e of backend vCPU @hv: read the registers it needs (backend's arm64
 * register accessor), vmio_arm64_nisv_emulate() on guest memory @mem with
 * @device as the access path, and write back what changed.
 * Returns 0: emulated, re-enter the guest; 1: stop, *@e is the exit to
 * return (a device's stop, or the NISV exit itself when refused, after one
 * line on @log naming the instruction and why, prefixed "vmio: cpu@index:").
 * Errors: a negative errno when the registers cannot be read or written
 * (*@e becomes VMIO_EXIT_HOST_ERROR).
 */
int vmio_arm64_nisv_handle(struct vmio_backend_vcpu *hv, const struct vmio_guest_mem *mem,
                           int (*device)(void *ctx, struct vmio_exit *x), void *ctx, FILE *log,
                           unsigned index, struct vmio_exit *e);

#endif
