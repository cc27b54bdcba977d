/*
 * x86 result injection and single-step emulation of decoded MMIO
 * instructions (see vmio/decode_x86.h).
 *
 * Register writes follow the x86 rules: 8-bit writes merge into bits 0..7
 * (AH..BH: bits 8..15), 16-bit writes merge into bits 0..15, 32-bit writes
 * zero-extend to 64 bits, 64-bit writes replace. RFLAGS arithmetic flags
 * are computed from carry/borrow vectors so every width shares one formula.
 *
 * Invariants: pure C, no allocation, no global state. vmio_x86_emulate()
 * works on a copy and commits the register file only on success.
 */
#include <string.h>

#include "vmio/decode.h"

static bool valid_width(unsigned w)
{
    return w == 1 || w == 2 || w == 4 || w == 8;
}

static uint64_t mask_of(unsigned width)
{
    return width >= 8 ? ~0ULL : ((1ULL << (8 * width)) - 1);
}

uint64_t vmio_x86_get_reg(const struct vmio_x86_regs *r, unsigned reg, unsigned width,
                          bool high_byte)
{
    if (reg >= VMIO_X86_NGPR || !valid_width(width))
        return 0;
    if (high_byte)
        return (width == 1 && reg < 4) ? (r->gpr[reg] >> 8) & 0xFF : 0;
    return r->gpr[reg] & mask_of(width);
}

int vmio_x86_set_reg(struct vmio_x86_regs *r, unsigned reg, unsigned width, bool high_byte,
                     uint64_t value)
{
    if (reg >= VMIO_X86_NGPR || !valid_width(width) || (high_byte && (width != 1 || reg >= 4)))
        return VMIO_DECODE_INVALID;
    uint64_t *g = &r->gpr[reg];
    switch (width) {
    case 1:
        if (high_byte)
            *g = (*g & ~0xFF00ULL) | ((value & 0xFF) << 8);
        else
            *g = (*g & ~0xFFULL) | (value & 0xFF);
        break;
    case 2:
        *g = (*g & ~0xFFFFULL) | (value & 0xFFFF);
        break;
    case 4:
        *g = value & 0xFFFFFFFFULL;
        break;
    default:
        *g = value;
        break;
    }
    return VMIO_DECODE_OK;
}

uint64_t vmio_x86_load_value(unsigned width, unsigned reg_width, bool sign_extend, uint64_t data)
{
    if (!valid_width(width) || !valid_width(reg_width))
        return 0;
    uint64_t v = data & mask_of(width);
    if (sign_extend && width < 8 && ((v >> (8 * width - 1)) & 1))
        v |= ~mask_of(width);
    return v & mask_of(reg_width);
}

int vmio_x86_inject_read(struct vmio_x86_regs *r, const struct vmio_access *acc, bool high_byte,
                         uint64_t data)
{
    unsigned rw = acc->reg_width ? acc->reg_width : acc->width;
    if (acc->reg >= VMIO_X86_NGPR || !valid_width(acc->width) || !valid_width(rw) ||
        rw < acc->width)
        return VMIO_DECODE_INVALID;
    return vmio_x86_set_reg(r, acc->reg, rw, high_byte,
                            vmio_x86_load_value(acc->width, rw, acc->sign_extend, data));
}

int vmio_x86_inject_pio_in(struct vmio_x86_regs *r, unsigned width, uint64_t data)
{
    if (width != 1 && width != 2 && width != 4)
        return VMIO_DECODE_INVALID;
    return vmio_x86_set_reg(r, VMIO_X86_RAX, width, false, data);
}

/* PF: set when the low byte of the result has an even number of 1 bits. */
static bool parity_even(uint64_t v)
{
    uint8_t x = (uint8_t)v;
    x ^= (uint8_t)(x >> 4);
    x ^= (uint8_t)(x >> 2);
    x ^= (uint8_t)(x >> 1);
    return (x & 1) == 0;
}

uint64_t vmio_x86_alu(enum vmio_x86_op op, unsigned width, uint64_t a, uint64_t b, uint64_t rflags,
                      uint64_t *result)
{
    *result = 0;
    if (!valid_width(width))
        return rflags;
    const uint64_t m = mask_of(width);
    const uint64_t msb = 1ULL << (8 * width - 1);
    const uint64_t cin = rflags & VMIO_X86_CF;
    uint64_t r, cf = 0, of = 0, af = 0;
    a &= m;
    b &= m;
    switch (op) {
    case VMIO_X86_OP_ADD:
    case VMIO_X86_OP_ADC: {
        r = (a + b + (op == VMIO_X86_OP_ADC ? cin : 0)) & m;
        uint64_t carry = (a & b) | ((a | b) & ~r); /* carry out of each bit */
        cf = carry & msb;
        of = (a ^ r) & (b ^ r) & msb;
        af = (a ^ b ^ r) & 0x10;
        break;
    }
    case VMIO_X86_OP_SUB:
    case VMIO_X86_OP_SBB:
    case VMIO_X86_OP_CMP: {
        r = (a - b - (op == VMIO_X86_OP_SBB ? cin : 0)) & m;
        uint64_t borrow = (~a & b) | (~(a ^ b) & r); /* borrow out of each bit */
        cf = borrow & msb;
        of = (a ^ b) & (a ^ r) & msb;
        af = (a ^ b ^ r) & 0x10;
        break;
    }
    case VMIO_X86_OP_AND:
    case VMIO_X86_OP_TEST:
        r = a & b;
        break;
    case VMIO_X86_OP_OR:
        r = a | b;
        break;
    case VMIO_X86_OP_XOR:
        r = a ^ b;
        break;
    default:
        return rflags;
    }
    uint64_t f = rflags & ~VMIO_X86_ARITH_FLAGS;
    if (cf)
        f |= VMIO_X86_CF;
    if (parity_even(r))
        f |= VMIO_X86_PF;
    if (af)
        f |= VMIO_X86_AF;
    if (r == 0)
        f |= VMIO_X86_ZF;
    if (r & msb)
        f |= VMIO_X86_SF;
    if (of)
        f |= VMIO_X86_OF;
    *result = r;
    return f;
}

uint64_t vmio_x86_rep_count(const struct vmio_x86_insn *insn, const struct vmio_x86_regs *r)
{
    if (!insn->rep)
        return 1;
    return r->gpr[VMIO_X86_RCX] & mask_of(insn->mem.addr_size);
}

/* Writes a pointer/count register at the address size (16: merge, 32: zero-extend). */
static void set_at_addr_size(struct vmio_x86_regs *r, unsigned reg, unsigned asz, uint64_t v)
{
    (void)vmio_x86_set_reg(r, reg, asz, false, v);
}

static bool is_alu(uint8_t op)
{
    return op >= VMIO_X86_OP_ADD && op <= VMIO_X86_OP_TEST;
}

int vmio_x86_emulate(const struct vmio_x86_insn *insn, struct vmio_x86_regs *r, uint64_t read_data,
                     struct vmio_x86_effect *eff)
{
    memset(eff, 0, sizeof(*eff));
    const struct vmio_access *acc = &insn->access;
    const unsigned w = acc->width;
    const uint64_t m = mask_of(w);
    if (!valid_width(w) || insn->len == 0 || insn->len > VMIO_X86_MAX_INSN)
        return VMIO_DECODE_INVALID;
    struct vmio_x86_regs n = *r;
    bool advance = true;
    int rc = VMIO_DECODE_OK;

    switch (insn->op) {
    case VMIO_X86_OP_MOV:
    case VMIO_X86_OP_MOVZX:
    case VMIO_X86_OP_MOVSX:
        if (insn->reads_mem) {
            rc = vmio_x86_inject_read(&n, acc, insn->high_byte, read_data);
        } else if (insn->has_imm) {
            eff->write = true;
            eff->value = insn->imm;
        } else {
            if (acc->reg >= VMIO_X86_NGPR)
                return VMIO_DECODE_INVALID;
            eff->write = true;
            eff->value = vmio_x86_get_reg(r, acc->reg, w, insn->high_byte);
        }
        break;
    case VMIO_X86_OP_MOVS:
    case VMIO_X86_OP_STOS: {
        unsigned asz = insn->mem.addr_size;
        if (asz != 2 && asz != 4 && asz != 8)
            return VMIO_DECODE_INVALID;
        uint64_t count = vmio_x86_rep_count(insn, r);
        if (count == 0) {
            eff->skipped = true;
            break;
        }
        eff->write = true;
        uint64_t delta = (r->rflags & VMIO_X86_DF) ? (uint64_t)0 - w : w;
        if (insn->op == VMIO_X86_OP_MOVS) {
            eff->value = read_data;
            set_at_addr_size(&n, VMIO_X86_RSI, asz, r->gpr[VMIO_X86_RSI] + delta);
        } else {
            eff->value = vmio_x86_get_reg(r, VMIO_X86_RAX, w, false);
        }
        set_at_addr_size(&n, VMIO_X86_RDI, asz, r->gpr[VMIO_X86_RDI] + delta);
        if (insn->rep) {
            set_at_addr_size(&n, VMIO_X86_RCX, asz, count - 1);
            advance = count - 1 == 0;
        }
        break;
    }
    case VMIO_X86_OP_XCHG:
        if (acc->reg >= VMIO_X86_NGPR)
            return VMIO_DECODE_INVALID;
        eff->write = true;
        eff->value = vmio_x86_get_reg(r, acc->reg, w, insn->high_byte);
        rc = vmio_x86_set_reg(&n, acc->reg, w, insn->high_byte, read_data);
        break;
    default: {
        if (!is_alu(insn->op))
            return VMIO_DECODE_INVALID;
        uint64_t src;
        if (insn->has_imm)
            src = insn->imm;
        else if (acc->reg < VMIO_X86_NGPR)
            src = vmio_x86_get_reg(r, acc->reg, w, insn->high_byte);
        else
            return VMIO_DECODE_INVALID;
        uint64_t mem = read_data & m, res;
        bool reg_dest = insn->reg_dest && !insn->has_imm;
        n.rflags = vmio_x86_alu((enum vmio_x86_op)insn->op, w, reg_dest ? src : mem,
                                reg_dest ? mem : src, r->rflags, &res);
        if (insn->op == VMIO_X86_OP_CMP || insn->op == VMIO_X86_OP_TEST)
            break;
        if (reg_dest) {
            rc = vmio_x86_set_reg(&n, acc->reg, w, insn->high_byte, res);
        } else {
            eff->write = true;
            eff->value = res;
        }
        break;
    }
    }
    if (rc)
        return rc;
    eff->value &= m;
    if (advance) {
        uint64_t rip = r->rip + insn->len;
        if (insn->mode == VMIO_X86_MODE_32)
            rip &= 0xFFFFFFFFULL;
        else if (insn->mode == VMIO_X86_MODE_16)
            rip &= 0xFFFFULL;
        n.rip = rip;
    }
    eff->done = advance;
    *r = n;
    return VMIO_DECODE_OK;
}
