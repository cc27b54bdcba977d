/*
 * decode_arm_riscv_bench: cost of the AArch64 and RV64 trap decoders and of
 * the emulation step, per trap, in ns. Prints a table, then one JSON object
 * (bench_json_open(): --json PATH, $VMIO_BENCH_JSON or stdout). Never
 * decides pass or fail; exits non-zero only if a sample instruction does not
 * decode (the sample words are built from encoding fields, and checked here).
 *
 * Invariants: each case runs REPS times over a small ring of inputs; the
 * median ns/op is reported. A volatile sink keeps the work observable.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_common.h"
#include "vmio/decode.h"

#define REPS 7
#define ITERS 2000000u

static volatile uint64_t sink;

/* A64 load/store words from their encoding fields (Arm ARM "Loads and Stores"). */
static uint32_t a64_ldst_uimm(unsigned size, unsigned opc, unsigned imm12, unsigned rn, unsigned rt)
{
    return size << 30 | 0x39u << 24 | opc << 22 | imm12 << 10 | rn << 5 | rt;
}
static uint32_t a64_ldst_reg(unsigned size, unsigned opc, unsigned rm, unsigned option, unsigned s,
                             unsigned rn, unsigned rt)
{
    return size << 30 | 0x38u << 24 | opc << 22 | 1u << 21 | rm << 16 | option << 13 | s << 12 |
           2u << 10 | rn << 5 | rt;
}
static uint32_t a64_ldst_idx(unsigned size, unsigned opc, unsigned imm9, bool pre, unsigned rn,
                             unsigned rt)
{
    return size << 30 | 0x38u << 24 | opc << 22 | (imm9 & 0x1ff) << 12 | (pre ? 3u : 1u) << 10 |
           rn << 5 | rt;
}
static uint32_t a64_pair(unsigned opc, unsigned idx, bool load, unsigned imm7, unsigned rt2,
                         unsigned rn, unsigned rt)
{
    return opc << 30 | 0x5u << 27 | idx << 23 | (unsigned)load << 22 | (imm7 & 0x7f) << 15 |
           rt2 << 10 | rn << 5 | rt;
}

/* RV64 words from their fields (unprivileged ISA, RV64I and C). */
static uint32_t rv_load(unsigned funct3, unsigned rd, unsigned rs1, unsigned imm)
{
    return (imm & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | 0x03;
}
static uint32_t rv_store(unsigned funct3, unsigned rs2, unsigned rs1, unsigned imm)
{
    return ((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (imm & 0x1f) << 7 |
           0x23;
}

enum { N_A64 = 8, N_RV = 8, N_ESR = 4 };
static uint32_t a64[N_A64], rv[N_RV], rvc[N_RV], ht[N_RV];
static uint64_t esr_isv[N_ESR], esr_sys[N_ESR];

static bool build_inputs(void)
{
    a64[0] = a64_ldst_uimm(2, 1, 1, 2, 1);            /* ldr w1, [x2, #4] */
    a64[1] = a64_ldst_uimm(3, 0, 3, 31, 7);           /* str x7, [sp, #24] */
    a64[2] = a64_ldst_uimm(0, 3, 0, 2, 1);            /* ldrsb w1, [x2] */
    a64[3] = a64_ldst_reg(3, 1, 3, 6, 1, 2, 1);       /* ldr x1, [x2, w3, sxtw #3] */
    a64[4] = a64_ldst_idx(2, 2, 4, false, 2, 1);      /* ldrsw x1, [x2], #4 */
    a64[5] = a64_ldst_idx(1, 0, 0x1fe, true, 2, 1);   /* strh w1, [x2, #-2]! */
    a64[6] = a64_pair(2, 3, false, 0x7e, 30, 31, 29); /* stp x29, x30, [sp, #-16]! */
    a64[7] = a64_pair(0, 2, true, 1, 2, 3, 1);        /* ldp w1, w2, [x3, #4] */
    for (unsigned i = 0; i < N_ESR; i++) {
        /* EC 0x24, IL, ISV, SAS = i, SRT = i, WnR = i & 1, SF for doublewords */
        esr_isv[i] = 0x24ull << 26 | 1u << 25 | 1u << 24 | (uint64_t)i << 22 | (uint64_t)i << 16 |
                     (i == 3 ? 1u << 15 : 0) | (i & 1u) << 6 | 7;
        /* EC 0x18: op0 3, CRn i, Rt i, direction i & 1 */
        esr_sys[i] =
            0x18ull << 26 | 1u << 25 | 3u << 20 | (uint64_t)i << 10 | (uint64_t)i << 5 | (i & 1u);
    }
    static const unsigned f3[N_RV] = {0, 1, 2, 3, 4, 5, 6, 2};
    for (unsigned i = 0; i < N_RV; i++) {
        rv[i] = i < 7 ? rv_load(f3[i], 10 + i, 2, 8 * i) : rv_store(3, 11, 2, 0x7f8);
        /* the transformed (htinst) form: immediates and rs1 zeroed */
        ht[i] = i < 7 ? rv_load(f3[i], 10 + i, 0, 0) : rv_store(3, 11, 0, 0);
    }
    /* compressed: c.lw/c.ld/c.sw/c.sd (quadrant 0) and c.lwsp/c.ldsp/c.swsp/c.sdsp (2) */
    static const unsigned cf[N_RV] = {2, 3, 6, 7, 2, 3, 6, 7};
    for (unsigned i = 0; i < N_RV; i++)
        rvc[i] = i < 4 ? (cf[i] << 13 | 1u << 10 | 1u << 7 | 2u << 2)
                       : (cf[i] << 13 | (i < 6 ? 10u << 7 | 1u << 4 : 1u << 9 | 10u << 2) | 2u);

    struct vmio_arm64_access a;
    struct vmio_riscv_access r;
    for (unsigned i = 0; i < N_A64; i++)
        if (vmio_arm64_decode_insn(a64[i], &a) != VMIO_DECODE_OK)
            return false;
    for (unsigned i = 0; i < N_ESR; i++)
        if (vmio_arm64_decode_esr(esr_isv[i], NULL, &a) ||
            vmio_arm64_decode_esr(esr_sys[i], NULL, &a))
            return false;
    for (unsigned i = 0; i < N_RV; i++)
        if (vmio_riscv_decode_insn(rv[i], &r) || vmio_riscv_decode_insn(rvc[i], &r) ||
            vmio_riscv_decode_htinst(ht[i], &r))
            return false;
    return true;
}

static void case_a64_esr(unsigned i)
{
    struct vmio_arm64_access a;
    vmio_arm64_decode_esr(esr_isv[i % N_ESR], NULL, &a);
    sink += a.access.reg;
}
static void case_a64_insn(unsigned i)
{
    struct vmio_arm64_access a;
    uint64_t esr = 0x24ull << 26 | 1u << 25 | 7; /* ISV = 0 */
    vmio_arm64_decode_esr(esr, &a64[i % N_A64], &a);
    sink += a.access.reg;
}
static void case_a64_sys(unsigned i)
{
    struct vmio_arm64_access a;
    vmio_arm64_decode_esr(esr_sys[i % N_ESR], NULL, &a);
    sink += a.access.addr;
}
static void case_a64_emulate(unsigned i)
{
    static struct vmio_arm64_regs regs = {.sp = 0x80000};
    struct vmio_arm64_access a;
    uint64_t addr = 0, d[2] = {i, ~(uint64_t)i};
    vmio_arm64_decode_insn(a64[i % N_A64], &a);
    vmio_arm64_address(&a, &regs, &addr);
    vmio_arm64_emulate(&a, &regs, d);
    sink += addr + regs.pc;
}
static void case_rv_insn(unsigned i)
{
    struct vmio_riscv_access r;
    vmio_riscv_decode_insn(rv[i % N_RV], &r);
    sink += r.access.reg;
}
static void case_rv_c(unsigned i)
{
    struct vmio_riscv_access r;
    vmio_riscv_decode_insn(rvc[i % N_RV], &r);
    sink += r.access.reg;
}
static void case_rv_htinst(unsigned i)
{
    struct vmio_riscv_access r;
    vmio_riscv_decode_htinst(ht[i % N_RV], &r);
    sink += r.access.reg;
}
static void case_rv_emulate(unsigned i)
{
    static struct vmio_riscv_regs regs;
    struct vmio_riscv_access r;
    uint64_t addr = 0, d = i;
    vmio_riscv_decode_insn(i & 1 ? rvc[i % N_RV] : rv[i % N_RV], &r);
    vmio_riscv_address(&r, &regs, &addr);
    vmio_riscv_emulate(&r, &regs, &d);
    sink += addr + regs.pc;
}

static const struct {
    const char *name, *what;
    void (*fn)(unsigned);
} cases[] = {
    {"arm64_esr_isv1", "data abort, ISV=1 syndrome", case_a64_esr},
    {"arm64_esr_isv0", "data abort, ISV=0 + A64 word", case_a64_insn},
    {"arm64_sysreg", "MSR/MRS trap (EC 0x18)", case_a64_sys},
    {"arm64_emulate", "decode + address + emulate", case_a64_emulate},
    {"riscv_insn32", "32-bit load/store word", case_rv_insn},
    {"riscv_insn16", "compressed load/store", case_rv_c},
    {"riscv_htinst", "htinst transformed form", case_rv_htinst},
    {"riscv_emulate", "decode + address + emulate", case_rv_emulate},
};
#define NCASES (sizeof cases / sizeof cases[0])

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    if (!build_inputs()) {
        fprintf(stderr, "decode_arm_riscv_bench: a sample instruction did not decode\n");
        bench_json_close(json);
        return 1;
    }
    double med[NCASES], lo[NCASES], hi[NCASES];
    printf("%-16s %-30s %10s %10s %10s\n", "case", "what", "median ns", "min ns", "max ns");
    for (size_t c = 0; c < NCASES; c++) {
        double s[REPS];
        for (unsigned r = 0; r < REPS; r++) {
            uint64_t t0 = bench_now_ns();
            for (unsigned i = 0; i < ITERS; i++)
                cases[c].fn(i);
            s[r] = (double)(bench_now_ns() - t0) / ITERS;
        }
        lo[c] = bench_min(s, REPS);
        hi[c] = bench_max(s, REPS);
        med[c] = bench_median(s, REPS);
        printf("%-16s %-30s %10.2f %10.2f %10.2f\n", cases[c].name, cases[c].what, med[c], lo[c],
               hi[c]);
    }
    fprintf(json,
            "{\"benchmark\": \"decode_arm_riscv\", \"unit\": \"ns_per_trap\", \"iters\": %u, "
            "\"reps\": %u, \"cases\": {",
            ITERS, REPS);
    for (size_t c = 0; c < NCASES; c++) {
        fprintf(json, "%s\"%s\": {\"median\": ", c ? ", " : "", cases[c].name);
        bench_json_number(json, med[c]);
        fprintf(json, ", \"min\": ");
        bench_json_number(json, lo[c]);
        fprintf(json, ", \"max\": ");
        bench_json_number(json, hi[c]);
        fprintf(json, "}");
    }
    fprintf(json, "}}\n");
    bench_json_close(json);
    return 0;
}
