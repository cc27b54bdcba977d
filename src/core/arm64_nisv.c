/*
 * AArch64 ISV=0 data aborts, emulated from the instruction
 * (include/vmio/arm64_nisv.h; docs/arm64.md, "Aborts without a syndrome").
 *
 * Invariants: the registers change only when every transfer of the
 * instruction has been performed; each transfer is translated on its own
 * (a pair may straddle a page, or RAM and a device) and must not cross a
 * page itself; the faulting IPA must be one of the transfers' addresses, so
 * a guest that changed its tables under the abort (or a stale TLB) is
 * refused rather than emulated at the wrong address.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmio/arm64_nisv.h"
#include "vmio/arm64_regs.h"

static int refuse(struct vmio_arm64_nisv_result *res, int status, const char *reason)
{
    res->reason = reason;
    return status;
}

struct walk_ctx {
    const struct vmio_arm64_nisv_ops *ops;
};

static int read_desc(void *ctx, uint64_t gpa, uint64_t *value)
{
    const struct vmio_arm64_nisv_ops *ops = ((struct walk_ctx *)ctx)->ops;
    const void *p = ops->ram(ops->ctx, gpa, 8, false);
    if (!p)
        return -1;
    memcpy(value, p, 8);
    return 0;
}

static int translate(const struct vmio_arm64_nisv_cpu *cpu, const struct vmio_arm64_nisv_ops *ops,
                     uint64_t va, uint64_t *pa, const char **reason)
{
    struct walk_ctx w = {.ops = ops};
    struct vmio_arm64_walk out;
    int rc = vmio_arm64_translate(&cpu->mmu, va, read_desc, &w, &out);
    *pa = out.pa;
    *reason = out.reason;
    return rc;
}

/* Little-endian value of @width bytes at @p, and the reverse. */
static uint64_t load_le(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int vmio_arm64_nisv_emulate(struct vmio_arm64_nisv_cpu *cpu, uint64_t esr, uint64_t fault_ipa,
                            const struct vmio_arm64_nisv_ops *ops, struct vmio_exit *stop,
                            struct vmio_arm64_nisv_result *res)
{
    memset(res, 0, sizeof(*res));
    const char *why;
    uint64_t pc_pa;
    if (cpu->regs.pc & 3)
        return refuse(res, VMIO_DECODE_INVALID, "the PC is not 4-byte aligned");
    int rc = translate(cpu, ops, cpu->regs.pc, &pc_pa, &why);
    if (rc != VMIO_DECODE_OK)
        return refuse(res, rc, why);
    const uint8_t *code = ops->ram(ops->ctx, pc_pa, 4, false);
    if (!code)
        return refuse(res, VMIO_DECODE_INVALID, "the instruction is not in guest RAM");
    res->word = (uint32_t)load_le(code, 4);
    rc = vmio_arm64_decode_esr(esr, &res->word, &res->insn);
    if (rc != VMIO_DECODE_OK)
        return refuse(res, rc, res->insn.reason);
    const struct vmio_arm64_access *a = &res->insn;
    if (a->access.space != VMIO_SPACE_MMIO || a->syndrome)
        return refuse(res, VMIO_DECODE_INVALID, "not an instruction-decoded memory access");
    if (vmio_arm64_address(a, &cpu->regs, &res->va) != VMIO_DECODE_OK)
        return refuse(res, VMIO_DECODE_INVALID, "no address for the access");

    unsigned width = a->access.width;
    res->transfers = a->reg2 != VMIO_REG_NONE ? 2 : 1;
    bool hit = false;
    for (unsigned i = 0; i < res->transfers; i++) {
        uint64_t va = res->va + (uint64_t)i * width, last_pa;
        rc = translate(cpu, ops, va, &res->pa[i], &why);
        if (rc == VMIO_DECODE_OK)
            rc = translate(cpu, ops, va + (width - 1), &last_pa, &why);
        if (rc != VMIO_DECODE_OK)
            return refuse(res, rc, why);
        if (last_pa != res->pa[i] + (width - 1))
            return refuse(res, VMIO_DECODE_UNSUPPORTED, "a transfer crosses a page boundary");
        if (fault_ipa >= res->pa[i] && fault_ipa - res->pa[i] < width)
            hit = true;
    }
    if (!hit)
        return refuse(res, VMIO_DECODE_INVALID,
                      "the instruction's address does not match the faulting IPA");

    uint64_t data[2] = {0, 0};
    bool write = a->access.dir == VMIO_WRITE;
    if (write && vmio_arm64_store_data(a, &cpu->regs, data) != VMIO_DECODE_OK)
        return refuse(res, VMIO_DECODE_INVALID, "bad store register");
    for (unsigned i = 0; i < res->transfers; i++) {
        uint8_t *mem = ops->ram(ops->ctx, res->pa[i], width, write);
        if (mem) { /* a transfer of a pair that lands in RAM */
            if (write)
                store_le(mem, data[i], width);
            else
                data[i] = load_le(mem, width);
            continue;
        }
        struct vmio_exit x;
        memset(&x, 0, sizeof(x));
        x.reason = VMIO_EXIT_IO;
        x.ip = cpu->regs.pc;
        x.access = a->access;
        x.access.reg = i ? a->reg2 : a->access.reg;
        x.access.addr = res->pa[i];
        x.access.data = write ? data[i] : 0;
        x.access.count = 1;
        x.access.buf = NULL;
        if (ops->device(ops->ctx, &x)) {
            *stop = x;
            return 1;
        }
        if (!write)
            data[i] = x.access.data;
    }
    if (vmio_arm64_emulate(a, &cpu->regs, data) != VMIO_DECODE_OK)
        return refuse(res, VMIO_DECODE_INVALID, "the decoded access cannot be applied");
    return 0;
}

/* ---- The run loop's side: registers through the backend ---- */

struct mem_ctx {
    const struct vmio_guest_mem *mem;
    int (*device)(void *ctx, struct vmio_exit *x);
    void *ctx;
};

static void *ram_at(void *ctx, uint64_t gpa, uint64_t len, bool write)
{
    const struct vmio_guest_mem *mem = ((struct mem_ctx *)ctx)->mem;
    if (write) {
        const struct vmio_mem_region *r = vmio_guest_mem_find(mem, gpa, len);
        if (!r || r->readonly)
            return NULL; /* ROM and status pages: a write goes to the device */
    }
    return vmio_guest_mem_to_host(mem, gpa, len);
}

static int device_at(void *ctx, struct vmio_exit *x)
{
    struct mem_ctx *m = ctx;
    return m->device(m->ctx, x);
}

/* The SP register 31 means as a base: SP_EL1 at EL1 with SPSel set (EL1h), else SP_EL0. */
static unsigned sp_reg(uint64_t pstate)
{
    return (pstate & VMIO_ARM64_PSTATE_MODE_MASK) == VMIO_ARM64_PSTATE_EL1H ? VMIO_ARM64_REG_SP_EL1
                                                                            : VMIO_ARM64_REG_SP_EL0;
}

int vmio_arm64_nisv_handle(struct vmio_backend_vcpu *hv, const struct vmio_guest_mem *mem,
                           int (*device)(void *ctx, struct vmio_exit *x), void *ctx, FILE *log,
                           unsigned index, struct vmio_exit *e)
{
    struct vmio_arm64_nisv_cpu cpu, before;
    uint64_t pstate = 0;
    int rc = 0;
    for (unsigned r = 0; r <= VMIO_ARM64_REG_X30 && rc == 0; r++)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, r, &cpu.regs.x[r]);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_PC, &cpu.regs.pc);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_PSTATE, &pstate);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, sp_reg(pstate), &cpu.regs.sp);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_SCTLR_EL1, &cpu.mmu.sctlr);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_TCR_EL1, &cpu.mmu.tcr);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_TTBR0_EL1, &cpu.mmu.ttbr0);
    if (rc == 0)
        rc = vmio_backend_vcpu_get_arm64_reg(hv, VMIO_ARM64_REG_TTBR1_EL1, &cpu.mmu.ttbr1);
    if (rc < 0)
        goto host_error;
    e->ip = cpu.regs.pc;
    before = cpu;
    struct mem_ctx m = {.mem = mem, .device = device, .ctx = ctx};
    struct vmio_arm64_nisv_ops ops = {.ram = ram_at, .device = device_at, .ctx = &m};
    struct vmio_arm64_nisv_result res;
    struct vmio_exit stop;
    int st = vmio_arm64_nisv_emulate(&cpu, e->code, e->access.addr, &ops, &stop, &res);
    if (st == 1) {
        *e = stop;
        return 1;
    }
    if (st != 0) {
        fprintf(log ? log : stderr,
                "vmio: cpu%u: data abort without syndrome at IPA 0x%" PRIx64 " by pc 0x%" PRIx64
                " (instruction 0x%08" PRIx32 "): %s\n",
                index, e->access.addr, cpu.regs.pc, res.word,
                res.reason ? res.reason : "not emulated");
        return 1;
    }
    for (unsigned r = 0; r <= VMIO_ARM64_REG_X30 && rc == 0; r++)
        if (cpu.regs.x[r] != before.regs.x[r])
            rc = vmio_backend_vcpu_set_arm64_reg(hv, r, cpu.regs.x[r]);
    if (rc == 0 && cpu.regs.sp != before.regs.sp)
        rc = vmio_backend_vcpu_set_arm64_reg(hv, sp_reg(pstate), cpu.regs.sp);
    if (rc == 0)
        rc = vmio_backend_vcpu_set_arm64_reg(hv, VMIO_ARM64_REG_PC, cpu.regs.pc);
    if (rc == 0)
        return 0;
host_error:
    memset(e, 0, sizeof(*e));
    e->reason = VMIO_EXIT_HOST_ERROR;
    e->code = (uint64_t)(-rc); /* as backends report a failed enter */
    e->access.reg = VMIO_REG_NONE;
    return rc;
}
