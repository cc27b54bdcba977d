/*
 * AArch64 trap decoder: ESR_EL2 data aborts (ISV=1 syndromes and ISV=0 A64
 * instruction words) and MSR/MRS traps, into struct vmio_arm64_access.
 *
 * Invariants: pure (no OS header, no allocation, no global state); every
 * entry point initialises the whole output before looking at its input, so
 * callers see a defined record even on error, with a static `reason`.
 * Field positions follow the Arm ARM (ESR_EL2 ISS encodings for EC 0x18 and
 * 0x24/0x25; A64 "Loads and Stores" encoding index).
 */
#include "vmio/decode.h"

/* Bits [hi:lo] of @v. */
static uint32_t bits(uint64_t v, unsigned hi, unsigned lo)
{
    return (uint32_t)((v >> lo) & ((1ull << (hi - lo + 1)) - 1));
}

/* Sign-extend the low @n bits of @v, without relying on implementation-defined shifts. */
static int64_t sext(uint32_t v, unsigned n)
{
    int64_t x = (int64_t)(v & ((1ull << n) - 1));
    if (v & (1ull << (n - 1)))
        x -= (int64_t)(1ull << n);
    return x;
}

static void reset(struct vmio_arm64_access *out)
{
    *out = (struct vmio_arm64_access){0};
    out->access.space = VMIO_SPACE_MMIO;
    out->access.reg = VMIO_REG_NONE;
    out->access.count = 1;
    out->len = 4;
    out->reg2 = VMIO_REG_NONE;
    out->base = VMIO_REG_NONE;
    out->index = VMIO_REG_NONE;
}

static int fail(struct vmio_arm64_access *out, int status, const char *reason)
{
    uint8_t ec = out->ec, len = out->len;
    uint32_t insn = out->insn;
    reset(out);
    out->ec = ec;
    out->len = len;
    out->insn = insn;
    out->reason = reason;
    return status;
}

int vmio_arm64_decode_sysreg(uint32_t iss, struct vmio_arm64_access *out)
{
    reset(out);
    out->ec = VMIO_ARM64_EC_SYSREG;
    struct vmio_arm64_sysreg *s = &out->sysreg;
    s->op0 = (uint8_t)bits(iss, 21, 20);
    s->op2 = (uint8_t)bits(iss, 19, 17);
    s->op1 = (uint8_t)bits(iss, 16, 14);
    s->crn = (uint8_t)bits(iss, 13, 10);
    s->crm = (uint8_t)bits(iss, 4, 1);
    s->id = VMIO_ARM64_SYSREG_ID(s->op0, s->op1, s->crn, s->crm, s->op2);
    out->access.space = VMIO_SPACE_SYSREG;
    out->access.dir = (iss & 1) ? VMIO_READ : VMIO_WRITE; /* Direction: 1 = MRS */
    out->access.width = 8;
    out->access.reg_width = 8;
    out->access.reg = (uint8_t)bits(iss, 9, 5);
    out->access.addr = s->id;
    return VMIO_DECODE_OK;
}

/* Load/store register: unsigned immediate, unscaled, pre/post, unprivileged, register offset. */
static int decode_ldst_reg(uint32_t insn, struct vmio_arm64_access *out)
{
    unsigned size = bits(insn, 31, 30);
    unsigned opc = bits(insn, 23, 22);
    unsigned width = 1u << size;
    bool uimm = bits(insn, 24, 24);
    bool prefetch_form = false;
    struct vmio_access *acc = &out->access;

    if (bits(insn, 26, 26))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "SIMD&FP load/store");

    if (uimm) {
        out->offset = (int64_t)bits(insn, 21, 10) << size;
        prefetch_form = true;
    } else if (bits(insn, 21, 21) == 0) {
        out->offset = sext(bits(insn, 20, 12), 9);
        switch (bits(insn, 11, 10)) {
        case 0: /* LDUR/STUR */
            prefetch_form = true;
            break;
        case 1:
            out->wb = VMIO_ARM64_WB_POST;
            break;
        case 2:
            out->unprivileged = true;
            break;
        case 3:
            out->wb = VMIO_ARM64_WB_PRE;
            break;
        }
    } else {
        switch (bits(insn, 11, 10)) {
        case 0:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "atomic memory operation");
        case 2:
            break;
        default:
            return fail(out, VMIO_DECODE_UNSUPPORTED, "pointer-authenticated load (LDRAA/LDRAB)");
        }
        unsigned option = bits(insn, 15, 13);
        if (option != VMIO_ARM64_EXT_UXTW && option != VMIO_ARM64_EXT_LSL &&
            option != VMIO_ARM64_EXT_SXTW && option != VMIO_ARM64_EXT_SXTX)
            return fail(out, VMIO_DECODE_INVALID, "unallocated index extend option");
        out->index = (uint8_t)bits(insn, 20, 16);
        out->extend = (uint8_t)option;
        out->shift = bits(insn, 12, 12) ? (uint8_t)size : 0;
        prefetch_form = true;
    }

    acc->width = (uint8_t)width;
    switch (opc) {
    case 0: /* STR* */
        acc->dir = VMIO_WRITE;
        acc->reg_width = size == 3 ? 8 : 4;
        break;
    case 1: /* LDR*, zero-extending */
        acc->dir = VMIO_READ;
        acc->reg_width = size == 3 ? 8 : 4;
        break;
    case 2: /* LDRS* to X; PRFM/PRFUM for size 3 */
        if (size == 3) {
            if (prefetch_form)
                return fail(out, VMIO_DECODE_UNSUPPORTED, "prefetch (PRFM/PRFUM)");
            return fail(out, VMIO_DECODE_INVALID, "unallocated load/store encoding");
        }
        acc->dir = VMIO_READ;
        acc->sign_extend = true;
        acc->reg_width = 8;
        break;
    case 3: /* LDRS* to W (B and H only) */
        if (size >= 2)
            return fail(out, VMIO_DECODE_INVALID, "unallocated load/store encoding");
        acc->dir = VMIO_READ;
        acc->sign_extend = true;
        acc->reg_width = 4;
        break;
    }
    acc->reg = (uint8_t)bits(insn, 4, 0);
    out->base = (uint8_t)bits(insn, 9, 5);
    return VMIO_DECODE_OK;
}

/* Load/store pair: LDP/STP/LDNP/STNP (W, X) and LDPSW. */
static int decode_ldst_pair(uint32_t insn, struct vmio_arm64_access *out)
{
    unsigned opc = bits(insn, 31, 30);
    unsigned idx = bits(insn, 24, 23);
    bool load = bits(insn, 22, 22);
    struct vmio_access *acc = &out->access;

    if (bits(insn, 26, 26))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "SIMD&FP load/store pair");
    if (opc == 3)
        return fail(out, VMIO_DECODE_INVALID, "unallocated load/store pair encoding");
    if (opc == 1 && !load)
        return fail(out, VMIO_DECODE_UNSUPPORTED, "STGP (memory tagging)");
    if (opc == 1 && idx == 0)
        return fail(out, VMIO_DECODE_INVALID, "unallocated load/store pair encoding");

    unsigned scale = opc == 2 ? 3 : 2;
    acc->width = (uint8_t)(1u << scale);
    acc->dir = load ? VMIO_READ : VMIO_WRITE;
    acc->reg_width = opc == 0 ? 4 : 8;
    acc->sign_extend = opc == 1;
    acc->reg = (uint8_t)bits(insn, 4, 0);
    out->reg2 = (uint8_t)bits(insn, 14, 10);
    out->base = (uint8_t)bits(insn, 9, 5);
    out->offset = sext(bits(insn, 21, 15), 7) * (int64_t)(1u << scale);
    out->wb = idx == 1 ? VMIO_ARM64_WB_POST : idx == 3 ? VMIO_ARM64_WB_PRE : VMIO_ARM64_WB_NONE;
    return VMIO_DECODE_OK;
}

int vmio_arm64_decode_insn(uint32_t insn, struct vmio_arm64_access *out)
{
    reset(out);
    out->insn = insn;
    /* Loads and stores: op0 (bits 28:25) = x1x0. */
    if (bits(insn, 27, 27) != 1 || bits(insn, 25, 25) != 0)
        return fail(out, VMIO_DECODE_UNSUPPORTED, "not a load/store instruction");
    switch (bits(insn, 29, 28)) {
    case 3:
        return decode_ldst_reg(insn, out);
    case 2:
        return decode_ldst_pair(insn, out);
    case 1:
        if (bits(insn, 24, 24) == 0)
            return fail(out, VMIO_DECODE_UNSUPPORTED, "load literal (PC-relative)");
        return fail(out, VMIO_DECODE_UNSUPPORTED, "memory-copy/set or RCpc load/store");
    default:
        if (bits(insn, 26, 26))
            return fail(out, VMIO_DECODE_UNSUPPORTED, "SIMD structure load/store");
        return fail(out, VMIO_DECODE_UNSUPPORTED,
                    "exclusive, ordered or compare-and-swap load/store");
    }
}

/* Data abort with ISV=1: everything comes from the ISS. */
static int decode_dabt_isv(uint32_t iss, struct vmio_arm64_access *out)
{
    struct vmio_access *acc = &out->access;
    unsigned sas = bits(iss, 23, 22);
    bool sse = bits(iss, 21, 21);
    bool sf = bits(iss, 15, 15);

    if (sas == 3 && !sf)
        return fail(out, VMIO_DECODE_INVALID, "syndrome: doubleword access to a 32-bit register");
    out->syndrome = true;
    acc->dir = bits(iss, 6, 6) ? VMIO_WRITE : VMIO_READ;
    acc->width = (uint8_t)(1u << sas);
    /* SSE only means something for byte/halfword/word loads; ignore it elsewhere. */
    acc->sign_extend = sse && sas < 3 && acc->dir == VMIO_READ;
    acc->reg = (uint8_t)bits(iss, 20, 16);
    acc->reg_width = sf ? 8 : 4;
    out->acq_rel = bits(iss, 14, 14);
    return VMIO_DECODE_OK;
}

int vmio_arm64_decode_esr(uint64_t esr, const uint32_t *insn, struct vmio_arm64_access *out)
{
    unsigned ec = bits(esr, 31, 26);
    uint32_t iss = bits(esr, 24, 0);
    uint8_t len = bits(esr, 25, 25) ? 4 : 2;

    if (ec == VMIO_ARM64_EC_SYSREG) {
        int rc = vmio_arm64_decode_sysreg(iss, out);
        out->len = len;
        return rc;
    }
    reset(out);
    out->ec = (uint8_t)ec;
    out->len = len;
    if (ec != VMIO_ARM64_EC_DABT_LOW && ec != VMIO_ARM64_EC_DABT_CUR)
        return fail(out, VMIO_DECODE_UNSUPPORTED,
                    "exception class is not a data abort or MSR/MRS trap");
    if (bits(iss, 13, 13))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "VNCR_EL2 data abort");
    if (bits(iss, 8, 8))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "cache maintenance data abort");
    if (bits(iss, 7, 7))
        return fail(out, VMIO_DECODE_UNSUPPORTED, "stage-1 translation table walk abort");
    if (bits(iss, 24, 24))
        return decode_dabt_isv(iss, out);

    if (len != 4)
        return fail(out, VMIO_DECODE_UNSUPPORTED,
                    "ISV=0 with a 16-bit instruction (AArch32 T32 decode not supported)");
    if (!insn)
        return fail(out, VMIO_DECODE_TRUNCATED, "ISV=0: the instruction word is needed");
    int rc = vmio_arm64_decode_insn(*insn, out);
    out->ec = (uint8_t)ec;
    out->len = len;
    return rc;
}
