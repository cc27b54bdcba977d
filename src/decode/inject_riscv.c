/*
 * RISC-V (RV64) result injection and single-step emulation of a decoded
 * load/store on a register file (struct vmio_riscv_regs).
 *
 * Invariants: pure (no OS header, no allocation, no global state); x0 reads
 * as zero and discards writes (x[0] is never written); failing calls leave the
 * register file unchanged.
 */
#include "vmio/decode.h"

static bool valid_width(unsigned w)
{
    return w == 1 || w == 2 || w == 4 || w == 8;
}

uint64_t vmio_riscv_load_value(uint8_t width, bool sign_extend, uint64_t data)
{
    if (!valid_width(width))
        return 0;
    if (width == 8)
        return data;
    uint64_t v = data & ((1ull << (width * 8)) - 1);
    if (sign_extend) {
        uint64_t sign = 1ull << (width * 8 - 1);
        v = (v ^ sign) - sign;
    }
    return v;
}

int vmio_riscv_address(const struct vmio_riscv_access *a, const struct vmio_riscv_regs *r,
                       uint64_t *addr)
{
    if (a->base > 31)
        return VMIO_DECODE_INVALID;
    uint64_t base = a->base == 0 ? 0 : r->x[a->base];
    *addr = base + (uint64_t)(int64_t)a->offset;
    return VMIO_DECODE_OK;
}

int vmio_riscv_inject_read(struct vmio_riscv_regs *r, const struct vmio_access *acc, uint64_t data)
{
    if (acc->reg > 31 || !valid_width(acc->width))
        return VMIO_DECODE_INVALID;
    if (acc->reg != 0) /* x0 discards */
        r->x[acc->reg] = vmio_riscv_load_value(acc->width, acc->sign_extend, data);
    return VMIO_DECODE_OK;
}

int vmio_riscv_store_data(const struct vmio_riscv_access *a, const struct vmio_riscv_regs *r,
                          uint64_t *data)
{
    const struct vmio_access *acc = &a->access;
    if (acc->reg > 31 || !valid_width(acc->width))
        return VMIO_DECODE_INVALID;
    if (acc->dir != VMIO_WRITE)
        return VMIO_DECODE_OK;
    uint64_t v = acc->reg == 0 ? 0 : r->x[acc->reg];
    *data = acc->width == 8 ? v : v & ((1ull << (acc->width * 8)) - 1);
    return VMIO_DECODE_OK;
}

int vmio_riscv_emulate(const struct vmio_riscv_access *a, struct vmio_riscv_regs *r, uint64_t *data)
{
    const struct vmio_access *acc = &a->access;
    if (!data || (a->len != 2 && a->len != 4) || acc->reg > 31 || !valid_width(acc->width))
        return VMIO_DECODE_INVALID;
    if (acc->dir == VMIO_WRITE)
        vmio_riscv_store_data(a, r, data);
    else
        vmio_riscv_inject_read(r, acc, *data);
    r->pc += a->len;
    return VMIO_DECODE_OK;
}
