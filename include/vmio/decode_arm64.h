/*
 * AArch64 trap decoder and result injection.
 *
 * Decodes what an AArch64 hypervisor sees on a trap to EL2:
 *  - data aborts from a lower or the current EL (ESR_EL2.EC 0x24 / 0x25), from
 *    the syndrome when ISV=1, or from the A64 instruction word when ISV=0;
 *  - MSR/MRS traps (EC 0x18) into a system-register access;
 * and applies a completed access to a register file (load result injection,
 * store value, base writeback, PC advance).
 *
 * Invariants: pure C, no OS or KVM header, no allocation, no global state.
 * Every decode function fully initialises its output (also on error), and on
 * error stores a static reason string in `reason`. Register numbers are
 * 0..31; 31 means XZR/WZR for a data register (`access.reg`, `reg2`, `index`)
 * and SP for a base register (`base`). See docs/decode-arm64-riscv.md.
 */
#ifndef VMIO_DECODE_ARM64_H
#define VMIO_DECODE_ARM64_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/exit.h"

/* ESR_ELx.EC values the decoder accepts. */
#define VMIO_ARM64_EC_SYSREG 0x18   /* MSR, MRS or system instruction trap */
#define VMIO_ARM64_EC_DABT_LOW 0x24 /* data abort from a lower exception level */
#define VMIO_ARM64_EC_DABT_CUR 0x25 /* data abort taken without a change of EL */

/* Register 31: the zero register as a data/index register, SP as a base. */
#define VMIO_ARM64_XZR 31
#define VMIO_ARM64_SP 31

/*
 * System-register id used as `access.addr` for VMIO_SPACE_SYSREG:
 *   op0[15:14] op1[13:11] CRn[10:7] CRm[6:3] op2[2:0]
 * which equals bits [20:5] of the MRS/MSR instruction word and the low 16 bits
 * of KVM's ARM64_SYS_REG() index. E.g. MIDR_EL1 (3,0,0,0,0) is 0xc000.
 */
#define VMIO_ARM64_SYSREG_ID(op0, op1, crn, crm, op2)                                              \
    ((uint16_t)((((op0)&3u) << 14) | (((op1)&7u) << 11) | (((crn)&15u) << 7) |                     \
                (((crm)&15u) << 3) | ((op2)&7u)))

/* Base-register writeback of a pre- or post-indexed form. */
enum vmio_arm64_wb {
    VMIO_ARM64_WB_NONE = 0, /* no writeback: address = base + offset (or + index) */
    VMIO_ARM64_WB_PRE = 1,  /* address = base + offset, then base = address */
    VMIO_ARM64_WB_POST = 2, /* address = base, then base = base + offset */
};

/* Extension applied to an index register (the instruction's `option` field). */
enum vmio_arm64_extend {
    VMIO_ARM64_EXT_UXTW = 2, /* zero-extend Wm */
    VMIO_ARM64_EXT_LSL = 3,  /* Xm as is (UXTX) */
    VMIO_ARM64_EXT_SXTW = 6, /* sign-extend Wm */
    VMIO_ARM64_EXT_SXTX = 7, /* Xm as is */
};

/* Fields of an MSR/MRS trap (ESR_EL2.ISS for EC 0x18). */
struct vmio_arm64_sysreg {
    uint8_t op0, op1, crn, crm, op2;
    uint16_t id; /* VMIO_ARM64_SYSREG_ID(op0, op1, crn, crm, op2) */
};

/*
 * A decoded AArch64 trap.
 *
 * access: space (MMIO or SYSREG), dir, width (bytes per register transfer),
 *   reg (Rt; 31 = XZR), reg_width (4 for W, 8 for X), sign_extend, count = 1.
 *   addr is 0 for MMIO (the caller takes it from FAR_EL2/HPFAR_EL2 or from
 *   vmio_arm64_address()); for SYSREG it is the sysreg id. data is 0.
 * For a pair (LDP/STP/LDNP/STNP/LDPSW) the second transfer goes to/from reg2
 * at address + width; otherwise reg2 is VMIO_REG_NONE.
 */
struct vmio_arm64_access {
    struct vmio_access access;
    uint8_t ec;        /* ESR EC the decode came from, 0 for a bare instruction */
    uint8_t len;       /* instruction length: 4, or 2 when ESR.IL = 0 (16-bit T32) */
    bool syndrome;     /* true: fields came from the ISS (ISV=1), no base known */
    bool acq_rel;      /* ISS.AR: acquire/release semantics */
    bool unprivileged; /* LDTR/STTR family */
    uint8_t reg2;      /* second register of a pair (31 = XZR), or VMIO_REG_NONE */
    uint8_t base;      /* base register Rn (31 = SP), or VMIO_REG_NONE if unknown */
    uint8_t wb;        /* enum vmio_arm64_wb */
    int64_t offset;    /* signed byte offset (already scaled) of immediate forms */
    uint8_t index;     /* index register Rm (31 = XZR) of register-offset forms, or
                          VMIO_REG_NONE */
    uint8_t extend;    /* enum vmio_arm64_extend, when index is set */
    uint8_t shift;     /* left shift applied to the extended index, when index is set */
    struct vmio_arm64_sysreg sysreg; /* valid when access.space == VMIO_SPACE_SYSREG */
    uint32_t insn;                   /* the instruction word decoded, 0 when decoded from the ISS */
    const char *reason;              /* NULL on success, else a static description of the error */
};

/* A guest general-purpose register file (the SP of the EL that trapped). */
struct vmio_arm64_regs {
    uint64_t x[31]; /* X0..X30 */
    uint64_t sp;    /* the stack pointer register 31 means as a base */
    uint64_t pc;
};

/*
 * vmio_arm64_decode_esr - decode a trap from its ESR_EL2 value.
 * @esr: the syndrome (EC, IL, ISS; ISS2 bits above 31 are ignored).
 * @insn: the A64 instruction word at the faulting PC, or NULL if not fetched.
 *        Only read for a data abort with ISV=0.
 * @out: filled in completely, also on error (then `reason` says why).
 * Returns VMIO_DECODE_OK; VMIO_DECODE_TRUNCATED when ISV=0 and @insn is NULL;
 * VMIO_DECODE_UNSUPPORTED for another EC, cache maintenance, stage-1 walk or
 * VNCR aborts, or an instruction vmio does not emulate; VMIO_DECODE_INVALID for
 * inconsistent syndromes or unallocated encodings. No ownership is taken.
 */
int vmio_arm64_decode_esr(uint64_t esr, const uint32_t *insn, struct vmio_arm64_access *out);

/*
 * vmio_arm64_decode_insn - decode an A64 load/store instruction word.
 * @insn: the instruction. Supported: LDR/STR (B/H/W/X) with unsigned immediate,
 *        unscaled (LDUR/STUR), pre/post-index and register offset; LDRS{B,H,W}
 *        to W or X; LDTR/STTR forms; LDP/STP/LDNP/STNP (W/X) and LDPSW.
 * @out: filled in completely, also on error; ec = 0, len = 4.
 * Returns VMIO_DECODE_OK, VMIO_DECODE_UNSUPPORTED (SIMD&FP, atomics,
 * exclusives, prefetch, other instruction classes) or VMIO_DECODE_INVALID
 * (unallocated load/store encodings), with a static `reason`.
 */
int vmio_arm64_decode_insn(uint32_t insn, struct vmio_arm64_access *out);

/*
 * vmio_arm64_decode_sysreg - decode the ISS of an MSR/MRS trap (EC 0x18).
 * @iss: ESR_EL2.ISS (bits [24:0]).
 * @out: filled in completely; access.space = VMIO_SPACE_SYSREG, width 8,
 *       reg = Rt (31 = XZR), dir VMIO_READ for MRS, VMIO_WRITE for MSR.
 * Returns VMIO_DECODE_OK (every ISS value is a valid access).
 */
int vmio_arm64_decode_sysreg(uint32_t iss, struct vmio_arm64_access *out);

/*
 * vmio_arm64_address - virtual address of the first transfer of @a, computed
 * from the registers @r before any writeback: base (SP for 31) plus the
 * immediate offset (not for post-index) or the extended, shifted index
 * register (XZR for 31). A pair's second transfer is at address + width.
 * Returns VMIO_DECODE_OK and sets *@addr, or VMIO_DECODE_INVALID when @a has
 * no base register (decoded from a syndrome, or a sysreg access).
 */
int vmio_arm64_address(const struct vmio_arm64_access *a, const struct vmio_arm64_regs *r,
                       uint64_t *addr);

/*
 * vmio_arm64_load_value - the 64-bit register value a load of @width bytes
 * returning @data produces: the low @width bytes, sign-extended when
 * @sign_extend (to 32 bits then zero-extended when @reg_width is 4, to 64 bits
 * when it is 8), else zero-extended. Pure; no errors (bad widths give 0).
 */
uint64_t vmio_arm64_load_value(uint8_t width, uint8_t reg_width, bool sign_extend, uint64_t data);

/*
 * vmio_arm64_inject_read - write the read result @data of the access @acc
 * into register acc->reg of @r per vmio_arm64_load_value(). Register 31 is
 * XZR: the value is discarded. reg_width 0 is taken as 8.
 * Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID for a register > 31, a width
 * other than 1/2/4/8, or a width larger than the register.
 */
int vmio_arm64_inject_read(struct vmio_arm64_regs *r, const struct vmio_access *acc, uint64_t data);

/*
 * vmio_arm64_store_data - the values a store @a writes, read from @r before
 * writeback: data[0] from access.reg, data[1] from reg2 (pairs only), each
 * truncated to the access width; XZR reads as 0. Loads leave @data untouched.
 * Returns VMIO_DECODE_OK or VMIO_DECODE_INVALID (bad register number).
 */
int vmio_arm64_store_data(const struct vmio_arm64_access *a, const struct vmio_arm64_regs *r,
                          uint64_t data[2]);

/*
 * vmio_arm64_emulate - complete the access @a on the register file @r: for a
 * load, inject data[0] into access.reg and (pairs) data[1] into reg2; for a
 * store, fill data[0..1] as vmio_arm64_store_data() does; then apply the base
 * writeback (pre/post) and advance pc by len. Call vmio_arm64_address() first
 * if you need the address: writeback changes the base. When writeback and a
 * loaded register are the same, the loaded value wins (an allowed choice for
 * this CONSTRAINED UNPREDICTABLE case); a store writes the pre-writeback value.
 * @data must hold 2 elements for a pair, 1 otherwise; the caller owns it.
 * Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID with @r unchanged.
 */
int vmio_arm64_emulate(const struct vmio_arm64_access *a, struct vmio_arm64_regs *r,
                       uint64_t *data);

/* ---- Guest stage-1 page-table walk (src/decode/arm64_walk.c) ---- */

/*
 * Reads the 8-byte little-endian word at guest-physical @gpa into *@value.
 * Returns 0, or nonzero when @gpa is not guest RAM.
 */
typedef int (*vmio_arm64_read_phys_fn)(void *ctx, uint64_t gpa, uint64_t *value);

/* The EL1&0 translation regime's controls (the guest's system registers). */
struct vmio_arm64_mmu {
    uint64_t sctlr; /* SCTLR_EL1: M (bit 0) turns translation on, EE (bit 25) big-endian tables */
    uint64_t tcr;   /* TCR_EL1: T0SZ/T1SZ, EPD0/EPD1, TG0/TG1, TBI0/TBI1, DS */
    uint64_t ttbr0; /* TTBR0_EL1: table base for addresses whose bit 55 is 0 */
    uint64_t ttbr1; /* TTBR1_EL1: table base for addresses whose bit 55 is 1 */
};

/* Result of a translation. */
struct vmio_arm64_walk {
    uint64_t pa;        /* the guest-physical address */
    uint8_t level;      /* level of the descriptor that mapped it (0-3); 0 with the MMU off */
    uint8_t granule;    /* page-size shift of the regime (12, 14, 16); 0 with the MMU off */
    uint64_t size;      /* bytes that descriptor maps (page or block); 0 with the MMU off */
    const char *reason; /* NULL on success, else a static description of the failure */
};

/*
 * vmio_arm64_translate - translate virtual address @va to a guest-physical
 * address through the guest's stage-1 tables, as an access at EL1 would (no
 * permission, access-flag or TLB semantics). SCTLR_EL1.M = 0: identity.
 * Else the range comes from VA bit 55 (TTBR0 or TTBR1, honouring EPD0/1 and
 * the top-byte-ignore bits), the granule from TG0/TG1 (4, 16 or 64 KiB) and
 * the VA size from T0SZ/T1SZ (16..48: 48- down to 16-bit VAs, so 39- and
 * 48-bit VAs and everything between), with the start level that implies;
 * blocks where the granule allows them (4 KiB: levels 1 and 2; 16 and 64 KiB:
 * level 2). Output addresses are 48-bit.
 * @read: reads descriptors through @ctx; never retained.
 * @out: filled in completely, also on error.
 * Returns VMIO_DECODE_OK; VMIO_DECODE_INVALID for a translation fault (VA
 * outside both ranges, a disabled walk, an invalid or reserved descriptor, a
 * block where none is allowed, a descriptor that is not in RAM);
 * VMIO_DECODE_UNSUPPORTED for 52-bit addressing (TCR.DS, TxSZ < 16),
 * big-endian tables (SCTLR.EE) or a reserved granule encoding.
 */
int vmio_arm64_translate(const struct vmio_arm64_mmu *mmu, uint64_t va,
                         vmio_arm64_read_phys_fn read, void *ctx, struct vmio_arm64_walk *out);

#endif
