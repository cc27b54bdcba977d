/*
 * RISC-V (RV64) load/store decoder: 32-bit and compressed instruction words,
 * and the transformed instructions of htinst/mtinst, into
 * struct vmio_riscv_access.
 *
 * Invariants: pure (no OS header, no allocation, no global state); every
 * entry point initialises the whole output first and sets a static reason on
 * error. Encodings follow the unprivileged ISA (RV64I, "C" quadrants 0 and 2)
 * and the privileged ISA's "transformed instruction" rules for htinst.
 */
#include "vmio/decode.h"

enum {
    OP_LOAD = 0x03,
    OP_LOAD_FP = 0x07,
    OP_STORE = 0x23,
    OP_STORE_FP = 0x27,
    OP_AMO = 0x2f,
    OP_SYSTEM = 0x73,
};

static uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
    return (v >> lo) & (uint32_t)((1ull << (hi - lo + 1)) - 1);
}

static int32_t sext12(uint32_t v)
{
    int32_t x = (int32_t)(v & 0xfff);
    return (v & 0x800) ? x - 0x1000 : x;
}

static void reset(struct vmio_riscv_access *out, uint32_t insn, uint8_t len)
{
    *out = (struct vmio_riscv_access){0};
    out->access.space = VMIO_SPACE_MMIO;
    out->access.reg = VMIO_REG_NONE;
    out->access.count = 1;
    out->base = VMIO_REG_NONE;
    out->len = len;
    out->insn = insn;
}

static int fail(struct vmio_riscv_access *out, int status, const char *reason)
{
    reset(out, out->insn, out->len);
    out->reason = reason;
    return status;
}

/* Sets dir/width/sign from a load funct3; false if unallocated on RV64. */
static bool load_kind(struct vmio_riscv_access *out, unsigned funct3)
{
    if (funct3 == 7)
        return false;
    out->access.dir = VMIO_READ;
    out->access.width = (uint8_t)(1u << (funct3 & 3));
    out->access.sign_extend = funct3 < 3; /* LB, LH, LW; LD is full width */
    out->access.reg_width = 8;
    return true;
}

static bool store_kind(struct vmio_riscv_access *out, unsigned funct3)
{
    if (funct3 > 3)
        return false;
    out->access.dir = VMIO_WRITE;
    out->access.width = (uint8_t)(1u << funct3);
    out->access.reg_width = 8;
    return true;
}

/* Reason for a 32-bit opcode that is not an integer load/store. */
static int not_ldst(struct vmio_riscv_access *out, unsigned opcode)
{
    switch (opcode) {
    case OP_LOAD_FP:
    case OP_STORE_FP:
        return fail(out, VMIO_DECODE_UNSUPPORTED, "floating-point or vector load/store");
    case OP_AMO:
        return fail(out, VMIO_DECODE_UNSUPPORTED, "atomic memory operation (AMO/LR/SC)");
    case OP_SYSTEM:
        return fail(out, VMIO_DECODE_UNSUPPORTED, "system instruction (e.g. HLV/HSV)");
    default:
        return fail(out, VMIO_DECODE_UNSUPPORTED, "not a load/store instruction");
    }
}

static int decode32(uint32_t insn, struct vmio_riscv_access *out)
{
    unsigned opcode = bits(insn, 6, 0);
    unsigned funct3 = bits(insn, 14, 12);

    if (bits(insn, 4, 2) == 7)
        return fail(out, VMIO_DECODE_UNSUPPORTED, "instruction longer than 32 bits");
    if (opcode == OP_LOAD) {
        if (!load_kind(out, funct3))
            return fail(out, VMIO_DECODE_INVALID, "unallocated load funct3");
        out->access.reg = (uint8_t)bits(insn, 11, 7);
        out->offset = sext12(bits(insn, 31, 20));
    } else if (opcode == OP_STORE) {
        if (!store_kind(out, funct3))
            return fail(out, VMIO_DECODE_INVALID, "unallocated store funct3");
        out->access.reg = (uint8_t)bits(insn, 24, 20);
        out->offset = sext12(bits(insn, 31, 25) << 5 | bits(insn, 11, 7));
    } else {
        return not_ldst(out, opcode);
    }
    out->base = (uint8_t)bits(insn, 19, 15);
    return VMIO_DECODE_OK;
}

static int decode16(uint32_t c, struct vmio_riscv_access *out)
{
    unsigned quadrant = bits(c, 1, 0);
    unsigned funct3 = bits(c, 15, 13);
    unsigned rdp = 8 + bits(c, 4, 2);  /* rd' / rs2' */
    unsigned rs1p = 8 + bits(c, 9, 7); /* rs1' */
    unsigned r = bits(c, 11, 7);       /* rd (C.LWSP/C.LDSP) */
    unsigned rs2 = bits(c, 6, 2);      /* rs2 (C.SWSP/C.SDSP) */

    if (quadrant == 0) {
        switch (funct3) {
        case 2: /* C.LW: uimm[5:3] = 12:10, uimm[2] = 6, uimm[6] = 5 */
        case 6: /* C.SW */
            out->offset = (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6);
            break;
        case 3: /* C.LD: uimm[5:3] = 12:10, uimm[7:6] = 6:5 */
        case 7: /* C.SD */
            out->offset = (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6);
            break;
        case 1:
        case 5:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "compressed floating-point load/store");
        case 4:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "compressed Zcb/reserved encoding");
        default:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "not a load/store instruction");
        }
        if (funct3 & 4)
            store_kind(out, funct3 & 3);
        else
            load_kind(out, funct3 & 3);
        out->access.reg = (uint8_t)rdp;
        out->base = (uint8_t)rs1p;
        return VMIO_DECODE_OK;
    }
    if (quadrant == 2) {
        switch (funct3) {
        case 2: /* C.LWSP: uimm[5] = 12, uimm[4:2] = 6:4, uimm[7:6] = 3:2 */
            if (r == 0)
                return fail(out, VMIO_DECODE_INVALID, "C.LWSP with rd = x0 is reserved");
            out->offset = (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6);
            load_kind(out, 2);
            out->access.reg = (uint8_t)r;
            break;
        case 3: /* C.LDSP: uimm[5] = 12, uimm[4:3] = 6:5, uimm[8:6] = 4:2 */
            if (r == 0)
                return fail(out, VMIO_DECODE_INVALID, "C.LDSP with rd = x0 is reserved");
            out->offset = (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6);
            load_kind(out, 3);
            out->access.reg = (uint8_t)r;
            break;
        case 6: /* C.SWSP: uimm[5:2] = 12:9, uimm[7:6] = 8:7 */
            out->offset = (int32_t)(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6);
            store_kind(out, 2);
            out->access.reg = (uint8_t)rs2;
            break;
        case 7: /* C.SDSP: uimm[5:3] = 12:10, uimm[8:6] = 9:7 */
            out->offset = (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6);
            store_kind(out, 3);
            out->access.reg = (uint8_t)rs2;
            break;
        case 1:
        case 5:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "compressed floating-point load/store");
        default:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "not a load/store instruction");
        }
        out->base = 2; /* sp */
        return VMIO_DECODE_OK;
    }
    return fail(out, VMIO_DECODE_UNSUPPORTED, "not a load/store instruction");
}

int vmio_riscv_decode_insn(uint32_t insn, struct vmio_riscv_access *out)
{
    if ((insn & 3) != 3) {
        reset(out, insn & 0xffff, 2);
        return decode16(insn & 0xffff, out);
    }
    reset(out, insn, 4);
    return decode32(insn, out);
}

int vmio_riscv_decode_bytes(const uint8_t *buf, size_t size, struct vmio_riscv_access *out)
{
    reset(out, 0, 0);
    if (!buf || size < 2)
        return fail(out, VMIO_DECODE_TRUNCATED, "fewer than 2 instruction bytes");
    uint32_t insn = (uint32_t)buf[0] | (uint32_t)buf[1] << 8;
    if ((insn & 3) == 3) {
        if (size < 4)
            return fail(out, VMIO_DECODE_TRUNCATED, "32-bit instruction with fewer than 4 bytes");
        insn |= (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    }
    return vmio_riscv_decode_insn(insn, out);
}

int vmio_riscv_decode_htinst(uint64_t htinst, struct vmio_riscv_access *out)
{
    uint32_t t = (uint32_t)htinst;
    reset(out, t, (t & 3) == 1 ? 2 : 4);
    out->transformed = true;
    if (htinst == 0)
        return fail(out, VMIO_DECODE_TRUNCATED, "htinst is 0: decode the trapping instruction");
    if (htinst >> 32)
        return fail(out, VMIO_DECODE_INVALID, "htinst wider than 32 bits");
    if ((t & 3) == 0 || (t & 3) == 2) {
        if (t == 0x2000 || t == 0x2020 || t == 0x3000 || t == 0x3020)
            return fail(out, VMIO_DECODE_UNSUPPORTED,
                        "htinst pseudoinstruction: implicit VS-stage page-table access");
        return fail(out, VMIO_DECODE_UNSUPPORTED, "htinst custom value");
    }
    uint32_t insn = t | 2; /* the 32-bit form of the (possibly compressed) original */
    unsigned opcode = bits(insn, 6, 0);
    if (bits(insn, 4, 2) == 7)
        return fail(out, VMIO_DECODE_INVALID, "transformed instruction longer than 32 bits");
    if (opcode == OP_LOAD && bits(insn, 31, 20) != 0)
        return fail(out, VMIO_DECODE_INVALID, "transformed load with nonzero offset field");
    if (opcode == OP_STORE && (bits(insn, 31, 25) != 0 || bits(insn, 11, 7) != 0))
        return fail(out, VMIO_DECODE_INVALID, "transformed store with nonzero offset field");
    uint8_t len = out->len;
    int rc = decode32(insn, out);
    out->insn = t;
    out->len = len;
    out->transformed = true;
    if (rc != VMIO_DECODE_OK)
        return rc;
    out->addr_offset = (uint8_t)out->base; /* rs1 field holds the Addr. Offset */
    out->base = VMIO_REG_NONE;
    out->offset = 0;
    return VMIO_DECODE_OK;
}
