/*
 * AArch64 vCPU registers as the backend seam names them (vmio/backend.h's
 * vcpu_get_arm64_reg / vcpu_set_arm64_reg): vmio's own numbering, so the
 * core and tests never see a hypervisor's register ids (the KVM arm64
 * backend maps them to KVM_{GET,SET}_ONE_REG ids).
 *
 * Pure: no OS or KVM header.
 */
#ifndef VMIO_ARM64_REGS_H
#define VMIO_ARM64_REGS_H

enum vmio_arm64_reg {
    VMIO_ARM64_REG_X0 = 0, /* X0..X30 are 0..30 */
    VMIO_ARM64_REG_X30 = 30,
    VMIO_ARM64_REG_SP_EL0 = 31,
    VMIO_ARM64_REG_PC,
    VMIO_ARM64_REG_PSTATE, /* SPSR format: M[3:0] = EL and SP selection, DAIF, NZCV */
    VMIO_ARM64_REG_SP_EL1,
    VMIO_ARM64_REG_SCTLR_EL1,
    VMIO_ARM64_REG_TCR_EL1,
    VMIO_ARM64_REG_TTBR0_EL1,
    VMIO_ARM64_REG_TTBR1_EL1,
    VMIO_ARM64_REG_MPIDR_EL1,
    VMIO_ARM64_REG_COUNT
};

/* PSTATE.M values: EL0t, EL1t (SP_EL0), EL1h (SP_EL1). */
#define VMIO_ARM64_PSTATE_MODE_MASK 0xfull
#define VMIO_ARM64_PSTATE_EL0T 0x0ull
#define VMIO_ARM64_PSTATE_EL1T 0x4ull
#define VMIO_ARM64_PSTATE_EL1H 0x5ull
/* D, A, I, F masked: the state a kernel is entered with. */
#define VMIO_ARM64_PSTATE_DAIF 0x3c0ull

#endif
