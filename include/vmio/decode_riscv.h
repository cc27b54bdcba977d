/*
 * RISC-V (RV64) trap decoder and result injection.
 *
 * Decodes the integer loads and stores that trap as guest-page / access
 * faults: LB/LH/LW/LD/LBU/LHU/LWU/SB/SH/SW/SD and the compressed
 * C.LW/C.LD/C.SW/C.SD/C.LWSP/C.LDSP/C.SWSP/C.SDSP, either from the
 * instruction bits or from the transformed instruction the hypervisor
 * extension reports in htinst/mtinst; and applies a completed access to a
 * register file.
 *
 * Invariants: pure C, no OS or KVM header, no allocation, no global state.
 * Every decode function fully initialises its output, also on error, and then
 * stores a static reason string. Registers are x0..x31; x0 reads as 0 and
 * discards writes. reg_width is always 8 (RV64).
 */
#ifndef VMIO_DECODE_RISCV_H
#define VMIO_DECODE_RISCV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/exit.h"

/*
 * A decoded RISC-V load or store.
 *
 * access: space MMIO, dir, width (1/2/4/8), reg (rd for loads, rs2 for
 *   stores), reg_width 8, sign_extend (LB/LH/LW; LD counts as not extended),
 *   count 1; addr and data 0 (the caller takes the guest-physical address from
 *   htval/stval).
 * base/offset describe the address (base + offset) when the original
 * instruction was decoded; a transformed htinst instruction has rs1 and the
 * immediate removed, so base is VMIO_REG_NONE and addr_offset holds the
 * transformed "Addr. Offset" field instead.
 */
struct vmio_riscv_access {
    struct vmio_access access;
    uint8_t len;         /* length of the trapping instruction: 2 or 4 */
    bool transformed;    /* decoded from an htinst/mtinst transformed instruction */
    uint8_t base;        /* rs1 (x2 for the SP forms), or VMIO_REG_NONE if transformed */
    int32_t offset;      /* sign-extended immediate offset (0 if transformed) */
    uint8_t addr_offset; /* transformed only: faulting address - original address */
    uint32_t insn;       /* the decoded bits: 16-bit or 32-bit instruction, or htinst */
    const char *reason;  /* NULL on success, else a static description of the error */
};

/* A guest integer register file. x[0] is ignored (x0 is hard-wired to 0). */
struct vmio_riscv_regs {
    uint64_t x[32];
    uint64_t pc;
};

/*
 * vmio_riscv_decode_insn - decode a load/store instruction word.
 * @insn: the instruction: when bits [1:0] are not 0b11 it is a 16-bit
 *        compressed instruction in bits [15:0] and bits [31:16] are ignored
 *        (they may hold the next instruction), else a 32-bit instruction.
 * @out: filled in completely, also on error.
 * Returns VMIO_DECODE_OK, VMIO_DECODE_UNSUPPORTED (not an integer load/store:
 * FP, AMO, other opcodes, 48-bit+ encodings) or VMIO_DECODE_INVALID (reserved
 * encodings such as C.LWSP with rd = 0 or an unallocated funct3).
 */
int vmio_riscv_decode_insn(uint32_t insn, struct vmio_riscv_access *out);

/*
 * vmio_riscv_decode_bytes - decode the instruction at @buf (@size bytes,
 * little-endian, read from guest memory; the caller owns the buffer).
 * Returns as vmio_riscv_decode_insn(), or VMIO_DECODE_TRUNCATED when @size is
 * smaller than the instruction's length (2 or 4) or @buf is NULL.
 */
int vmio_riscv_decode_bytes(const uint8_t *buf, size_t size, struct vmio_riscv_access *out);

/*
 * vmio_riscv_decode_htinst - decode htinst/mtinst after a guest-page fault.
 * @htinst: the CSR value. Bits [1:0] = 0b11: transformed 32-bit instruction
 *          (len 4); 0b01: transformed from a compressed instruction (the
 *          32-bit equivalent with bit 1 cleared; len 2). The rs1 field
 *          [19:15] is the Addr. Offset; the immediate fields must be zero.
 * @out: filled in completely, also on error.
 * Returns VMIO_DECODE_OK; VMIO_DECODE_TRUNCATED when @htinst is 0 (no
 * information: fetch and decode the instruction instead);
 * VMIO_DECODE_UNSUPPORTED for the VS-stage page-table pseudoinstructions
 * (0x2000, 0x2020, 0x3000, 0x3020), custom values and non-load/store
 * instructions; VMIO_DECODE_INVALID for a malformed transformed instruction.
 */
int vmio_riscv_decode_htinst(uint64_t htinst, struct vmio_riscv_access *out);

/*
 * vmio_riscv_address - virtual address base + offset of the access @a from the
 * register file @r (x0 reads 0). Returns VMIO_DECODE_OK and sets *@addr, or
 * VMIO_DECODE_INVALID when @a has no base (decoded from htinst).
 */
int vmio_riscv_address(const struct vmio_riscv_access *a, const struct vmio_riscv_regs *r,
                       uint64_t *addr);

/*
 * vmio_riscv_load_value - the register value a load of @width bytes returning
 * @data produces: low @width bytes, sign-extended to 64 bits when
 * @sign_extend (LB/LH/LW), else zero-extended (LBU/LHU/LWU; LD is the full
 * value). Pure; a width other than 1/2/4/8 gives 0.
 */
uint64_t vmio_riscv_load_value(uint8_t width, bool sign_extend, uint64_t data);

/*
 * vmio_riscv_inject_read - write the read result @data of @acc into register
 * acc->reg of @r per vmio_riscv_load_value(); x0 discards it.
 * Returns VMIO_DECODE_OK, or VMIO_DECODE_INVALID for a register > 31 or a
 * width other than 1/2/4/8 (then @r is unchanged).
 */
int vmio_riscv_inject_read(struct vmio_riscv_regs *r, const struct vmio_access *acc, uint64_t data);

/*
 * vmio_riscv_store_data - the value the store @a writes: register access.reg of
 * @r (x0 = 0) truncated to the width, in *@data. Loads leave *@data untouched.
 * Returns VMIO_DECODE_OK or VMIO_DECODE_INVALID (bad register or width).
 */
int vmio_riscv_store_data(const struct vmio_riscv_access *a, const struct vmio_riscv_regs *r,
                          uint64_t *data);

/*
 * vmio_riscv_emulate - complete @a on @r: a load injects *@data into the
 * destination, a store fills *@data; then pc advances by len (2 or 4).
 * @data is owned by the caller. Returns VMIO_DECODE_OK or VMIO_DECODE_INVALID
 * (bad record, NULL @data) with @r unchanged.
 */
int vmio_riscv_emulate(const struct vmio_riscv_access *a, struct vmio_riscv_regs *r,
                       uint64_t *data);

#endif
