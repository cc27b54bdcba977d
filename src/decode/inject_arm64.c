/*
 * AArch64 result injection and single-step emulation of a decoded access on
 * a register file (struct vmio_arm64_regs).
 *
 * Invariants: pure (no OS header, no allocation, no global state). Register
 * 31 is XZR for data and index registers (reads 0, writes discarded) and SP
 * for base registers. Functions that fail leave the register file unchanged.
 */
#include "vmio/decode.h"

static bool valid_width(unsigned w)
{
    return w == 1 || w == 2 || w == 4 || w == 8;
}

static uint64_t low_mask(unsigned width)
{
    return width >= 8 ? ~0ull : (1ull << (width * 8)) - 1;
}

uint64_t vmio_arm64_load_value(uint8_t width, uint8_t reg_width, bool sign_extend, uint64_t data)
{
    if (!valid_width(width))
        return 0;
    uint64_t v = data & low_mask(width);
    if (sign_extend && width < 8) {
        uint64_t sign = 1ull << (width * 8 - 1);
        v = (v ^ sign) - sign; /* two's-complement sign extension to 64 bits */
    }
    if (reg_width == 4)
        v &= 0xffffffffull; /* W destination: upper 32 bits become zero */
    return v;
}

/* Value of data/index register @n: XZR reads as zero. */
static uint64_t xreg(const struct vmio_arm64_regs *r, unsigned n)
{
    return n == VMIO_ARM64_XZR ? 0 : r->x[n];
}

/* Value of base register @n: 31 is SP. */
static uint64_t basereg(const struct vmio_arm64_regs *r, unsigned n)
{
    return n == VMIO_ARM64_SP ? r->sp : r->x[n];
}

int vmio_arm64_address(const struct vmio_arm64_access *a, const struct vmio_arm64_regs *r,
                       uint64_t *addr)
{
    if (a->base > 31 || a->access.space != VMIO_SPACE_MMIO)
        return VMIO_DECODE_INVALID;
    uint64_t base = basereg(r, a->base);
    if (a->index != VMIO_REG_NONE) {
        if (a->index > 31 || a->shift > 3)
            return VMIO_DECODE_INVALID;
        uint64_t m = xreg(r, a->index);
        switch (a->extend) {
        case VMIO_ARM64_EXT_UXTW:
            m &= 0xffffffffull;
            break;
        case VMIO_ARM64_EXT_SXTW:
            m = ((m & 0xffffffffull) ^ 0x80000000ull) - 0x80000000ull;
            break;
        case VMIO_ARM64_EXT_LSL:
        case VMIO_ARM64_EXT_SXTX:
            break;
        default:
            return VMIO_DECODE_INVALID;
        }
        *addr = base + (m << a->shift);
        return VMIO_DECODE_OK;
    }
    *addr = a->wb == VMIO_ARM64_WB_POST ? base : base + (uint64_t)a->offset;
    return VMIO_DECODE_OK;
}

/* Checks shared by the functions below. */
static bool access_ok(const struct vmio_arm64_access *a)
{
    const struct vmio_access *acc = &a->access;
    if (!valid_width(acc->width) || acc->reg > 31)
        return false;
    if (acc->reg_width != 0 && acc->reg_width != 4 && acc->reg_width != 8)
        return false;
    if (acc->reg_width && acc->width > acc->reg_width)
        return false;
    if (a->reg2 != VMIO_REG_NONE && a->reg2 > 31)
        return false;
    if (a->wb != VMIO_ARM64_WB_NONE && a->base > 31)
        return false;
    return a->wb <= VMIO_ARM64_WB_POST;
}

int vmio_arm64_inject_read(struct vmio_arm64_regs *r, const struct vmio_access *acc, uint64_t data)
{
    uint8_t rw = acc->reg_width ? acc->reg_width : 8;
    if (!valid_width(acc->width) || acc->reg > 31 || (rw != 4 && rw != 8) || acc->width > rw)
        return VMIO_DECODE_INVALID;
    if (acc->reg == VMIO_ARM64_XZR)
        return VMIO_DECODE_OK; /* XZR: discard */
    r->x[acc->reg] = vmio_arm64_load_value(acc->width, rw, acc->sign_extend, data);
    return VMIO_DECODE_OK;
}

int vmio_arm64_store_data(const struct vmio_arm64_access *a, const struct vmio_arm64_regs *r,
                          uint64_t data[2])
{
    if (!access_ok(a))
        return VMIO_DECODE_INVALID;
    if (a->access.dir != VMIO_WRITE)
        return VMIO_DECODE_OK;
    uint64_t mask = low_mask(a->access.width);
    data[0] = xreg(r, a->access.reg) & mask;
    if (a->reg2 != VMIO_REG_NONE)
        data[1] = xreg(r, a->reg2) & mask;
    return VMIO_DECODE_OK;
}

int vmio_arm64_emulate(const struct vmio_arm64_access *a, struct vmio_arm64_regs *r, uint64_t *data)
{
    if (!access_ok(a) || !data || (a->len != 2 && a->len != 4))
        return VMIO_DECODE_INVALID;
    bool pair = a->reg2 != VMIO_REG_NONE;
    if (a->access.dir == VMIO_WRITE) {
        vmio_arm64_store_data(a, r, data);
    }
    /* Writeback first, so a loaded register that is also the base keeps the loaded value. */
    if (a->wb != VMIO_ARM64_WB_NONE) {
        uint64_t nb = basereg(r, a->base) + (uint64_t)a->offset;
        if (a->base == VMIO_ARM64_SP)
            r->sp = nb;
        else
            r->x[a->base] = nb;
    }
    if (a->access.dir == VMIO_READ) {
        struct vmio_access acc = a->access;
        vmio_arm64_inject_read(r, &acc, data[0]);
        if (pair) {
            acc.reg = a->reg2;
            vmio_arm64_inject_read(r, &acc, data[1]);
        }
    }
    r->pc += a->len;
    return VMIO_DECODE_OK;
}
