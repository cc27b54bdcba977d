/*
 * x86 decoder for instructions that fault on MMIO (see vmio/decode_x86.h).
 *
 * Decoding walks legacy prefixes, REX (64-bit mode only, and only when it
 * immediately precedes the opcode), the opcode, ModRM/SIB/displacement and
 * the immediate, never reading past the caller's length or past 15 bytes.
 * Every path either returns VMIO_DECODE_OK with a complete description or a
 * negative status with a static reason; nothing is guessed.
 *
 * Invariants: pure C, no allocation, no global mutable state; the output is
 * fully initialised on every return.
 */
#include <string.h>

#include "vmio/decode.h"

/* Cursor over the instruction bytes. */
struct cursor {
    const uint8_t *p;
    size_t n;   /* usable bytes (<= 15) */
    size_t pos; /* bytes consumed */
};

struct prefixes {
    bool opsize;   /* 66 */
    bool addrsize; /* 67 */
    bool lock;     /* F0 */
    bool rep;      /* F3 */
    bool repne;    /* F2 */
    int seg;       /* enum vmio_x86_seg, or -1 */
    uint8_t rex;   /* 0 or 0x40..0x4F */
};

#define REX_W 8
#define REX_R 4
#define REX_X 2
#define REX_B 1

static int fail(struct vmio_x86_insn *out, int status, const char *reason)
{
    out->reason = reason;
    return status;
}

static int fetch(struct cursor *c, struct vmio_x86_insn *out, uint8_t *b)
{
    if (c->pos >= VMIO_X86_MAX_INSN)
        return fail(out, VMIO_DECODE_INVALID, "instruction longer than 15 bytes");
    if (c->pos >= c->n)
        return fail(out, VMIO_DECODE_TRUNCATED, "instruction bytes end before the instruction");
    *b = c->p[c->pos++];
    return VMIO_DECODE_OK;
}

/* Reads an @size-byte little-endian value, sign-extended to 64 bits. */
static int fetch_signed(struct cursor *c, struct vmio_x86_insn *out, unsigned size, int64_t *v)
{
    uint64_t u = 0;
    for (unsigned i = 0; i < size; i++) {
        uint8_t b;
        int rc = fetch(c, out, &b);
        if (rc)
            return rc;
        u |= (uint64_t)b << (8 * i);
    }
    if (size < 8 && (u >> (8 * size - 1)) & 1)
        u |= ~0ULL << (8 * size);
    *v = (int64_t)u;
    return VMIO_DECODE_OK;
}

static uint64_t mask_of(unsigned width)
{
    return width >= 8 ? ~0ULL : ((1ULL << (8 * width)) - 1);
}

enum vmio_x86_mode vmio_x86_mode_from_cs(bool efer_lma, bool cs_l, bool cs_db)
{
    if (efer_lma && cs_l)
        return VMIO_X86_MODE_64;
    return cs_db ? VMIO_X86_MODE_32 : VMIO_X86_MODE_16;
}

/* Default segment for a base register: SS for rSP/rBP, else DS. */
static uint8_t default_seg(uint8_t base)
{
    return (base == VMIO_X86_RSP || base == VMIO_X86_RBP) ? VMIO_X86_SEG_SS : VMIO_X86_SEG_DS;
}

/* 16-bit addressing: ModRM r/m -> (base, index). */
static const uint8_t rm16_base[8] = {VMIO_X86_RBX,  VMIO_X86_RBX,  VMIO_X86_RBP, VMIO_X86_RBP,
                                     VMIO_REG_NONE, VMIO_REG_NONE, VMIO_X86_RBP, VMIO_X86_RBX};
static const uint8_t rm16_index[8] = {VMIO_X86_RSI,  VMIO_X86_RDI,  VMIO_X86_RSI,  VMIO_X86_RDI,
                                      VMIO_REG_NONE, VMIO_REG_NONE, VMIO_REG_NONE, VMIO_REG_NONE};

/*
 * Decodes ModRM (+SIB, displacement) into *@reg (the reg field with REX.R,
 * 0..15) and out->mem (whose addr_size and seg are preset). mod == 3
 * is left to the caller (*@modrm_out holds the byte), so that group opcodes
 * can reject their reg field first; it is not a memory access.
 */
static int decode_modrm(struct cursor *c, const struct prefixes *px, struct vmio_x86_insn *out,
                        uint8_t *reg, uint8_t *modrm_out)
{
    uint8_t modrm;
    int rc = fetch(c, out, &modrm);
    if (rc)
        return rc;
    *modrm_out = modrm;
    uint8_t mod = modrm >> 6, rm = modrm & 7;
    *reg = (uint8_t)(((modrm >> 3) & 7) | ((px->rex & REX_R) ? 8 : 0));

    struct vmio_x86_mem *m = &out->mem;
    m->base = VMIO_REG_NONE;
    m->index = VMIO_REG_NONE;
    m->scale = 1;
    m->disp = 0;
    m->rip_relative = false;
    if (mod == 3)
        return VMIO_DECODE_OK; /* the caller decides (after checking the reg field) */

    if (m->addr_size == 2) {
        if (mod == 0 && rm == 6) {
            rc = fetch_signed(c, out, 2, &m->disp);
        } else {
            m->base = rm16_base[rm];
            m->index = rm16_index[rm];
            if (rm == 4 || rm == 5) { /* [SI] / [DI]: the register is the base */
                m->base = rm == 4 ? VMIO_X86_RSI : VMIO_X86_RDI;
                m->index = VMIO_REG_NONE;
            }
            if (mod == 1)
                rc = fetch_signed(c, out, 1, &m->disp);
            else if (mod == 2)
                rc = fetch_signed(c, out, 2, &m->disp);
        }
        if (rc)
            return rc;
        if (m->base == VMIO_X86_RBP)
            m->seg = VMIO_X86_SEG_SS;
        return VMIO_DECODE_OK;
    }

    bool disp32_only = false;
    if (rm == 4) {
        uint8_t sib;
        rc = fetch(c, out, &sib);
        if (rc)
            return rc;
        uint8_t idx = (uint8_t)(((sib >> 3) & 7) | ((px->rex & REX_X) ? 8 : 0));
        uint8_t base = (uint8_t)((sib & 7) | ((px->rex & REX_B) ? 8 : 0));
        m->scale = (uint8_t)(1u << (sib >> 6));
        if (idx != VMIO_X86_RSP)
            m->index = idx;
        if ((sib & 7) == 5 && mod == 0)
            disp32_only = true;
        else
            m->base = base;
    } else if (rm == 5 && mod == 0) {
        if (out->mode == VMIO_X86_MODE_64)
            m->rip_relative = true;
        disp32_only = true;
    } else {
        m->base = (uint8_t)(rm | ((px->rex & REX_B) ? 8 : 0));
    }
    if (mod == 1)
        rc = fetch_signed(c, out, 1, &m->disp);
    else if (mod == 2 || disp32_only)
        rc = fetch_signed(c, out, 4, &m->disp);
    if (rc)
        return rc;
    if (m->base != VMIO_REG_NONE)
        m->seg = default_seg(m->base);
    return VMIO_DECODE_OK;
}

/* Reads an immediate of @size bytes for an operand of @opsize bytes. */
static int fetch_imm(struct cursor *c, struct vmio_x86_insn *out, unsigned size, unsigned opsize)
{
    int64_t v;
    int rc = fetch_signed(c, out, size, &v);
    if (rc)
        return rc;
    out->imm = (uint64_t)v & mask_of(opsize);
    out->has_imm = true;
    return VMIO_DECODE_OK;
}

/* decode_modrm() for forms whose r/m must be memory: a register operand is INVALID. */
static int decode_mem_modrm(struct cursor *c, const struct prefixes *px, struct vmio_x86_insn *out,
                            uint8_t *reg)
{
    uint8_t modrm;
    int rc = decode_modrm(c, px, out, reg, &modrm);
    if (rc)
        return rc;
    if ((modrm >> 6) == 3)
        return fail(out, VMIO_DECODE_INVALID, "register operand: not a memory access");
    return VMIO_DECODE_OK;
}

/*
 * The operands of a group opcode whose only emulated form is /0 with a
 * memory operand and an immediate of the operand size (at most 4 bytes,
 * sign-extended for 64-bit): C6/C7 (MOV) and F6/F7 (TEST). @other_reg is
 * the reason given for the other reg-field values.
 */
static int decode_group0_mem_imm(struct cursor *c, const struct prefixes *px,
                                 struct vmio_x86_insn *out, unsigned width, const char *other_reg)
{
    uint8_t reg, modrm;
    int rc = decode_modrm(c, px, out, &reg, &modrm);
    if (rc)
        return rc;
    if ((reg & 7) != 0)
        return fail(out, VMIO_DECODE_UNSUPPORTED, other_reg);
    if ((modrm >> 6) == 3)
        return fail(out, VMIO_DECODE_INVALID, "register operand: not a memory access");
    return fetch_imm(c, out, width == 1 ? 1 : width == 2 ? 2 : 4, width);
}

/* Sets the register operand of an @width-byte access (8-bit high registers). */
static void set_reg(struct vmio_x86_insn *out, const struct prefixes *px, uint8_t reg,
                    unsigned width)
{
    out->access.reg = reg;
    out->access.reg_width = (uint8_t)width;
    if (width == 1 && !px->rex && reg >= 4 && reg <= 7) {
        out->access.reg = (uint8_t)(reg - 4);
        out->high_byte = true;
    }
}

static const uint8_t alu_ops[8] = {VMIO_X86_OP_ADD, VMIO_X86_OP_OR,  VMIO_X86_OP_ADC,
                                   VMIO_X86_OP_SBB, VMIO_X86_OP_AND, VMIO_X86_OP_SUB,
                                   VMIO_X86_OP_XOR, VMIO_X86_OP_CMP};

static void string_mem(struct vmio_x86_mem *m, uint8_t reg, uint8_t seg, bool override,
                       uint8_t addr_size)
{
    m->base = reg;
    m->index = VMIO_REG_NONE;
    m->scale = 1;
    m->disp = 0;
    m->seg = seg;
    m->seg_override = override;
    m->addr_size = addr_size;
    m->rip_relative = false;
}

int vmio_x86_decode(const uint8_t *bytes, size_t len, enum vmio_x86_mode mode,
                    struct vmio_x86_insn *out)
{
    memset(out, 0, sizeof(*out));
    out->access.space = VMIO_SPACE_MMIO;
    out->access.reg = VMIO_REG_NONE;
    out->access.count = 1;
    out->mem.base = out->mem.index = VMIO_REG_NONE;
    out->mem2.base = out->mem2.index = VMIO_REG_NONE;
    out->mem.scale = out->mem2.scale = 1;
    out->op = VMIO_X86_NOP;
    out->mode = (uint8_t)mode;
    if (mode != VMIO_X86_MODE_64 && mode != VMIO_X86_MODE_32 && mode != VMIO_X86_MODE_16)
        return fail(out, VMIO_DECODE_INVALID, "unknown CPU mode");
    if (!bytes)
        len = 0;
    struct cursor c = {bytes, len > VMIO_X86_MAX_INSN ? VMIO_X86_MAX_INSN : len, 0};
    struct prefixes px = {.seg = -1};
    bool m64 = mode == VMIO_X86_MODE_64;
    uint8_t b;
    int rc;

    /* Legacy prefixes in any order; a REX counts only right before the opcode. */
    for (;;) {
        rc = fetch(&c, out, &b);
        if (rc)
            return rc;
        if (m64 && (b & 0xF0) == 0x40) {
            px.rex = b;
            continue;
        }
        bool legacy = true;
        switch (b) {
        case 0x66:
            px.opsize = true;
            break;
        case 0x67:
            px.addrsize = true;
            break;
        case 0xF0:
            px.lock = true;
            break;
        case 0xF2:
            px.repne = true;
            px.rep = false;
            break;
        case 0xF3:
            px.rep = true;
            px.repne = false;
            break;
        case 0x26:
            px.seg = VMIO_X86_SEG_ES;
            break;
        case 0x2E:
            px.seg = VMIO_X86_SEG_CS;
            break;
        case 0x36:
            px.seg = VMIO_X86_SEG_SS;
            break;
        case 0x3E:
            px.seg = VMIO_X86_SEG_DS;
            break;
        case 0x64:
            px.seg = VMIO_X86_SEG_FS;
            break;
        case 0x65:
            px.seg = VMIO_X86_SEG_GS;
            break;
        default:
            legacy = false;
            break;
        }
        if (!legacy)
            break;
        px.rex = 0; /* a REX followed by a legacy prefix is ignored */
    }
    out->rex = px.rex != 0;
    out->lock = px.lock;

    unsigned opsize;
    if (px.rex & REX_W)
        opsize = 8;
    else if (mode == VMIO_X86_MODE_16)
        opsize = px.opsize ? 4 : 2;
    else
        opsize = px.opsize ? 2 : 4;
    uint8_t asz;
    if (m64)
        asz = px.addrsize ? 4 : 8;
    else if (mode == VMIO_X86_MODE_32)
        asz = px.addrsize ? 2 : 4;
    else
        asz = px.addrsize ? 4 : 2;
    out->mem.addr_size = asz;
    out->mem.seg = VMIO_X86_SEG_DS;

    uint16_t opcode = b;
    if (b == 0x0F) {
        rc = fetch(&c, out, &b);
        if (rc)
            return rc;
        opcode = (uint16_t)(0x0F00 | b);
    }
    out->opcode = opcode;

    uint8_t reg = 0;
    unsigned width = 0;
    bool lock_ok = false;
    struct vmio_access *a = &out->access;

    if (opcode < 0x40 && (opcode & 7) < 4) {
        /* ALU r/m, r (00/01 forms) or r, r/m (02/03 forms). */
        out->op = alu_ops[opcode >> 3];
        width = (opcode & 1) ? opsize : 1;
        rc = decode_mem_modrm(&c, &px, out, &reg);
        if (rc)
            return rc;
        set_reg(out, &px, reg, width);
        out->reads_mem = true;
        bool mem_dest = (opcode & 2) == 0;
        out->reg_dest = !mem_dest;
        out->writes_mem = mem_dest && out->op != VMIO_X86_OP_CMP;
        lock_ok = out->writes_mem;
    } else if (opcode < 0x40 && (opcode & 7) < 6) {
        return fail(out, VMIO_DECODE_INVALID, "AL/eAX immediate form has no memory operand");
    } else {
        switch (opcode) {
        case 0x80:
        case 0x81:
        case 0x82:
        case 0x83:
            if (opcode == 0x82 && m64)
                return fail(out, VMIO_DECODE_INVALID, "opcode 82 is invalid in 64-bit mode");
            width = opcode == 0x81 || opcode == 0x83 ? opsize : 1;
            rc = decode_mem_modrm(&c, &px, out, &reg);
            if (rc)
                return rc;
            out->op = alu_ops[reg & 7];
            rc = fetch_imm(&c, out, opcode == 0x81 ? (width == 2 ? 2 : 4) : 1, width);
            if (rc)
                return rc;
            out->reads_mem = true;
            out->writes_mem = out->op != VMIO_X86_OP_CMP;
            lock_ok = out->writes_mem;
            break;
        case 0x84:
        case 0x85:
        case 0x86:
        case 0x87:
            width = (opcode & 1) ? opsize : 1;
            rc = decode_mem_modrm(&c, &px, out, &reg);
            if (rc)
                return rc;
            set_reg(out, &px, reg, width);
            out->reads_mem = true;
            if (opcode >= 0x86) {
                out->op = VMIO_X86_OP_XCHG;
                out->writes_mem = true;
                lock_ok = true;
            } else {
                out->op = VMIO_X86_OP_TEST;
            }
            break;
        case 0x88:
        case 0x89:
        case 0x8A:
        case 0x8B:
            width = (opcode & 1) ? opsize : 1;
            rc = decode_mem_modrm(&c, &px, out, &reg);
            if (rc)
                return rc;
            set_reg(out, &px, reg, width);
            out->op = VMIO_X86_OP_MOV;
            out->reads_mem = opcode >= 0x8A;
            out->writes_mem = opcode < 0x8A;
            break;
        case 0xA0:
        case 0xA1:
        case 0xA2:
        case 0xA3: {
            width = (opcode & 1) ? opsize : 1;
            int64_t off;
            rc = fetch_signed(&c, out, asz, &off);
            if (rc)
                return rc;
            out->mem.disp = (int64_t)((uint64_t)off & mask_of(asz));
            set_reg(out, &px, VMIO_X86_RAX, width);
            out->op = VMIO_X86_OP_MOV;
            out->reads_mem = opcode <= 0xA1;
            out->writes_mem = opcode >= 0xA2;
            break;
        }
        case 0xA4:
        case 0xA5:
        case 0xAA:
        case 0xAB:
            width = (opcode & 1) ? opsize : 1;
            out->string = true;
            out->rep = px.rep || px.repne;
            if (opcode <= 0xA5) {
                out->op = VMIO_X86_OP_MOVS;
                string_mem(&out->mem, VMIO_X86_RSI, px.seg >= 0 ? (uint8_t)px.seg : VMIO_X86_SEG_DS,
                           px.seg >= 0, asz);
                string_mem(&out->mem2, VMIO_X86_RDI, VMIO_X86_SEG_ES, false, asz);
                out->reads_mem = true;
                out->writes_mem = true;
            } else {
                out->op = VMIO_X86_OP_STOS;
                string_mem(&out->mem, VMIO_X86_RDI, VMIO_X86_SEG_ES, false, asz);
                set_reg(out, &px, VMIO_X86_RAX, width);
                out->writes_mem = true;
            }
            px.seg = -1; /* already applied (and never to ES:[rDI]) */
            break;
        case 0xC6:
        case 0xC7:
            width = (opcode & 1) ? opsize : 1;
            rc = decode_group0_mem_imm(&c, &px, out, width,
                                       "C6/C7 with reg field != 0 (XABORT/XBEGIN or undefined)");
            if (rc)
                return rc;
            out->op = VMIO_X86_OP_MOV;
            out->writes_mem = true;
            a->data = out->imm;
            break;
        case 0xF6:
        case 0xF7:
            width = (opcode & 1) ? opsize : 1;
            rc = decode_group0_mem_imm(
                &c, &px, out, width,
                "F6/F7 group 3 other than TEST (NOT/NEG/MUL/DIV) not emulated");
            if (rc)
                return rc;
            out->op = VMIO_X86_OP_TEST;
            out->reads_mem = true;
            break;
        case 0x63:
            if (!m64)
                return fail(out, VMIO_DECODE_UNSUPPORTED, "ARPL (63 outside 64-bit mode)");
            rc = decode_mem_modrm(&c, &px, out, &reg);
            if (rc)
                return rc;
            width = opsize == 8 ? 4 : opsize;
            out->access.reg = reg;
            out->access.reg_width = (uint8_t)opsize;
            out->access.sign_extend = opsize > width;
            out->op = opsize > width ? VMIO_X86_OP_MOVSX : VMIO_X86_OP_MOV;
            out->reads_mem = true;
            break;
        case 0x0FB6:
        case 0x0FB7:
        case 0x0FBE:
        case 0x0FBF:
            width = (opcode & 1) ? 2 : 1;
            rc = decode_mem_modrm(&c, &px, out, &reg);
            if (rc)
                return rc;
            out->access.reg = reg;
            out->access.reg_width = (uint8_t)opsize;
            if (opsize < width) /* 66 0F B7: a 16-bit move */
                out->access.reg_width = (uint8_t)width;
            out->access.sign_extend = opcode >= 0x0FBE && out->access.reg_width > width;
            out->op = opcode >= 0x0FBE ? VMIO_X86_OP_MOVSX : VMIO_X86_OP_MOVZX;
            out->reads_mem = true;
            break;
        default:
            if (!m64 && opcode >= 0x40 && opcode <= 0x4F)
                return fail(out, VMIO_DECODE_UNSUPPORTED, "INC/DEC r32 has no memory operand");
            if (opcode == 0xA6 || opcode == 0xA7 || (opcode >= 0xAC && opcode <= 0xAF))
                return fail(out, VMIO_DECODE_UNSUPPORTED, "CMPS/LODS/SCAS are not emulated");
            if (opcode == 0xA8 || opcode == 0xA9)
                return fail(out, VMIO_DECODE_INVALID,
                            "AL/eAX immediate form has no memory operand");
            if (opcode == 0xD7)
                return fail(out, VMIO_DECODE_UNSUPPORTED, "XLAT is not emulated");
            if (opcode > 0xFF)
                return fail(out, VMIO_DECODE_UNSUPPORTED, "two-byte opcode not emulated");
            return fail(out, VMIO_DECODE_UNSUPPORTED, "opcode not emulated");
        }
    }

    if (px.lock && !lock_ok)
        return fail(out, VMIO_DECODE_INVALID, "LOCK prefix on an instruction that cannot take it");
    if (!out->string && px.seg >= 0) {
        out->mem.seg = (uint8_t)px.seg;
        out->mem.seg_override = true;
    }
    out->opsize =
        (uint8_t)(out->op == VMIO_X86_OP_MOVZX || out->op == VMIO_X86_OP_MOVSX ? a->reg_width
                                                                               : width);
    a->width = (uint8_t)width;
    a->dir = out->reads_mem ? VMIO_READ : VMIO_WRITE;
    out->len = (uint8_t)c.pos;
    return VMIO_DECODE_OK;
}

uint64_t vmio_x86_linear_address(const struct vmio_x86_insn *insn, const struct vmio_x86_mem *mem,
                                 const struct vmio_x86_regs *regs, const uint64_t *seg_base)
{
    uint64_t ea = (uint64_t)mem->disp;
    if (mem->rip_relative)
        ea += regs->rip + insn->len;
    if (mem->base < VMIO_X86_NGPR)
        ea += regs->gpr[mem->base];
    if (mem->index < VMIO_X86_NGPR)
        ea += regs->gpr[mem->index] * mem->scale;
    ea &= mask_of(mem->addr_size);

    uint64_t base = 0;
    if (seg_base && mem->seg < VMIO_X86_NSEG) {
        if (insn->mode != VMIO_X86_MODE_64 || mem->seg == VMIO_X86_SEG_FS ||
            mem->seg == VMIO_X86_SEG_GS)
            base = seg_base[mem->seg];
    }
    uint64_t la = base + ea;
    if (insn->mode != VMIO_X86_MODE_64)
        la &= 0xFFFFFFFFULL;
    return la;
}

const char *vmio_x86_op_name(enum vmio_x86_op op)
{
    static const char *const names[] = {
        [VMIO_X86_OP_MOV] = "mov",   [VMIO_X86_OP_MOVZX] = "movzx", [VMIO_X86_OP_MOVSX] = "movsx",
        [VMIO_X86_OP_MOVS] = "movs", [VMIO_X86_OP_STOS] = "stos",   [VMIO_X86_OP_ADD] = "add",
        [VMIO_X86_OP_OR] = "or",     [VMIO_X86_OP_ADC] = "adc",     [VMIO_X86_OP_SBB] = "sbb",
        [VMIO_X86_OP_AND] = "and",   [VMIO_X86_OP_SUB] = "sub",     [VMIO_X86_OP_XOR] = "xor",
        [VMIO_X86_OP_CMP] = "cmp",   [VMIO_X86_OP_TEST] = "test",   [VMIO_X86_OP_XCHG] = "xchg",
    };
    if ((unsigned)op < sizeof(names) / sizeof(names[0]) && names[op])
        return names[op];
    return "?";
}

const char *vmio_x86_reg_name(unsigned reg, unsigned width, bool high_byte)
{
    static const char *const r64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
    static const char *const r32[16] = {"eax",  "ecx",  "edx",  "ebx", "esp",  "ebp",
                                        "esi",  "edi",  "r8d",  "r9d", "r10d", "r11d",
                                        "r12d", "r13d", "r14d", "r15d"};
    static const char *const r16[16] = {"ax",   "cx",   "dx",   "bx",  "sp",   "bp",
                                        "si",   "di",   "r8w",  "r9w", "r10w", "r11w",
                                        "r12w", "r13w", "r14w", "r15w"};
    static const char *const r8[16] = {"al",   "cl",   "dl",   "bl",  "spl",  "bpl",
                                       "sil",  "dil",  "r8b",  "r9b", "r10b", "r11b",
                                       "r12b", "r13b", "r14b", "r15b"};
    static const char *const r8h[4] = {"ah", "ch", "dh", "bh"};
    if (reg >= 16)
        return "?";
    if (high_byte)
        return width == 1 && reg < 4 ? r8h[reg] : "?";
    switch (width) {
    case 1:
        return r8[reg];
    case 2:
        return r16[reg];
    case 4:
        return r32[reg];
    case 8:
        return r64[reg];
    default:
        return "?";
    }
}
