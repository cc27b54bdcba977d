/*
 * AArch64 decoder tests over assembled vectors (arm64_vectors.h, generated
 * from vectors.txt by tests/decode/cross/gen_vectors.py with the cross
 * assembler): every instruction form, then ISV=1 syndromes built from field
 * values (Arm ARM ESR_EL2 layout) and cross-checked against the instruction
 * decode, MSR/MRS syndromes built from assembled MRS/MSR words, and errors.
 * Portable: also compiled against tests/decode/cross/shim/cmocka.h and run
 * under qemu-user on aarch64 and riscv64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arm64_vectors.h"

#define CHECK(v, name, got, want)                                                                  \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_)                                                                              \
            fail_msg("vectors.txt:%d \"%s\" (0x%08x): %s = %lld, want %lld", (v)->line, (v)->text, \
                     (unsigned)(v)->insn, name, g_, w_);                                           \
    } while (0)

static bool is_sys(const struct arm64_vector *v)
{
    return v->sys[0] != 0; /* op0 is 2 or 3 for every MRS/MSR register */
}

static uint64_t esr_dabt(unsigned ec, bool il, bool isv, unsigned sas, bool sse, unsigned srt,
                         bool sf, bool ar, bool wnr)
{
    return (uint64_t)ec << 26 | (uint64_t)il << 25 | (uint64_t)isv << 24 | (uint64_t)sas << 22 |
           (uint64_t)sse << 21 | (uint64_t)srt << 16 | (uint64_t)sf << 15 | (uint64_t)ar << 14 |
           (uint64_t)wnr << 6 | 0x07; /* DFSC: translation fault, level 3 */
}

static const struct arm64_vector *find(const char *text)
{
    for (size_t i = 0; i < ARM64_NVECTORS; i++)
        if (strcmp(arm64_vectors[i].text, text) == 0)
            return &arm64_vectors[i];
    fail_msg("no vector \"%s\"", text);
    return &arm64_vectors[0];
}

static void check_fields(const struct arm64_vector *v, const struct vmio_arm64_access *d)
{
    CHECK(v, "space", d->access.space, VMIO_SPACE_MMIO);
    CHECK(v, "dir", d->access.dir, v->dir);
    CHECK(v, "width", d->access.width, v->width);
    CHECK(v, "reg", d->access.reg, v->reg);
    CHECK(v, "reg_width", d->access.reg_width, v->reg_width);
    CHECK(v, "sign_extend", d->access.sign_extend, v->sign_extend);
    CHECK(v, "count", d->access.count, 1);
    CHECK(v, "reg2", d->reg2, v->reg2);
    CHECK(v, "base", d->base, v->base);
    CHECK(v, "wb", d->wb, v->wb);
    CHECK(v, "offset", d->offset, v->offset);
    CHECK(v, "index", d->index, v->index);
    if (v->index != VMIO_REG_NONE) {
        CHECK(v, "extend", d->extend, v->extend);
        CHECK(v, "shift", d->shift, v->shift);
    }
    CHECK(v, "unprivileged", d->unprivileged, v->unprivileged);
    CHECK(v, "len", d->len, 4);
    CHECK(v, "insn", d->insn, v->insn);
    assert_null(d->reason);
}

static void test_insn_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARM64_NVECTORS; i++) {
        const struct arm64_vector *v = &arm64_vectors[i];
        struct vmio_arm64_access d;
        CHECK(v, "assembled length", v->asm_len, 4);
        int rc = vmio_arm64_decode_insn(v->insn, &d);
        if (is_sys(v)) {
            CHECK(v, "rc (bare MRS/MSR)", rc, VMIO_DECODE_UNSUPPORTED);
            continue;
        }
        CHECK(v, "rc", rc, v->rc);
        if (rc != VMIO_DECODE_OK) {
            assert_non_null(d.reason);
            CHECK(v, "reg on error", d.access.reg, VMIO_REG_NONE);
            CHECK(v, "count on error", d.access.count, 1);
            continue;
        }
        CHECK(v, "ec", d.ec, 0);
        CHECK(v, "syndrome", d.syndrome, 0);
        check_fields(v, &d);
    }
}

/* ISV=0 data aborts (both ECs) decode the instruction word exactly like decode_insn. */
static void test_esr_isv0_uses_insn(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARM64_NVECTORS; i++) {
        const struct arm64_vector *v = &arm64_vectors[i];
        if (is_sys(v))
            continue;
        for (unsigned ec = VMIO_ARM64_EC_DABT_LOW; ec <= VMIO_ARM64_EC_DABT_CUR; ec++) {
            struct vmio_arm64_access d;
            uint64_t esr = esr_dabt(ec, true, false, 0, false, 0, false, false, false);
            int rc = vmio_arm64_decode_esr(esr, &v->insn, &d);
            CHECK(v, "rc", rc, v->rc);
            CHECK(v, "ec", d.ec, ec);
            if (rc == VMIO_DECODE_OK) {
                CHECK(v, "syndrome", d.syndrome, 0);
                check_fields(v, &d);
            } else {
                assert_non_null(d.reason);
            }
        }
    }
}

/*
 * Single-register forms without writeback are the ones hardware reports with
 * ISV=1: build their syndrome from the expected fields and check the syndrome
 * decode agrees with the instruction decode.
 */
static void test_esr_isv1_crosscheck(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (size_t i = 0; i < ARM64_NVECTORS; i++) {
        const struct arm64_vector *v = &arm64_vectors[i];
        if (is_sys(v) || v->rc != VMIO_DECODE_OK || v->reg2 != VMIO_REG_NONE ||
            v->wb != VMIO_ARM64_WB_NONE)
            continue;
        struct vmio_arm64_access di, ds;
        assert_int_equal(vmio_arm64_decode_insn(v->insn, &di), VMIO_DECODE_OK);
        unsigned sas = v->width == 1 ? 0 : v->width == 2 ? 1 : v->width == 4 ? 2 : 3;
        for (int ar = 0; ar < 2; ar++) {
            uint64_t esr = esr_dabt(VMIO_ARM64_EC_DABT_LOW, true, true, sas, v->sign_extend,
                                    (unsigned)v->reg, v->reg_width == 8, ar, v->dir == VMIO_WRITE);
            CHECK(v, "rc (ISV=1)", vmio_arm64_decode_esr(esr, NULL, &ds), VMIO_DECODE_OK);
            CHECK(v, "syndrome", ds.syndrome, 1);
            CHECK(v, "acq_rel", ds.acq_rel, ar);
            CHECK(v, "dir", ds.access.dir, di.access.dir);
            CHECK(v, "width", ds.access.width, di.access.width);
            CHECK(v, "reg", ds.access.reg, di.access.reg);
            CHECK(v, "reg_width", ds.access.reg_width, di.access.reg_width);
            CHECK(v, "sign_extend", ds.access.sign_extend, di.access.sign_extend);
            CHECK(v, "base", ds.base, VMIO_REG_NONE);
            CHECK(v, "reg2", ds.reg2, VMIO_REG_NONE);
            CHECK(v, "len", ds.len, 4);
            /* The instruction word is not needed (and not used) when ISV=1. */
            uint32_t junk = 0;
            CHECK(v, "rc (ISV=1, junk insn)", vmio_arm64_decode_esr(esr, &junk, &ds),
                  VMIO_DECODE_OK);
            CHECK(v, "reg (junk insn)", ds.access.reg, di.access.reg);
        }
        checked++;
    }
    assert_true(checked > 50);
}

/* The ESR from the CLI example, and syndromes built from field values. */
static void test_esr_isv1_table(void **state)
{
    (void)state;
    struct vmio_arm64_access d;
    static const struct {
        uint64_t esr;
        int dir, width, reg, reg_width, sign_extend, len, ar;
    } t[] = {
        /* STR W1: EC 0x24, IL, ISV, SAS=2, SRT=1, WnR, DFSC 7 (= 0x93810047) */
        {0x93810047, VMIO_WRITE, 4, 1, 4, 0, 4, 0},
        {0, VMIO_READ, 1, 0, 4, 0, 4, 0},
    };
    assert_int_equal(esr_dabt(0x24, 1, 1, 2, 0, 1, 0, 0, 1), 0x93810047);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t esr = t[i].esr ? t[i].esr : esr_dabt(0x24, 1, 1, 0, 0, 0, 0, 0, 0);
        assert_int_equal(vmio_arm64_decode_esr(esr, NULL, &d), VMIO_DECODE_OK);
        assert_int_equal(d.access.dir, t[i].dir);
        assert_int_equal(d.access.width, t[i].width);
        assert_int_equal(d.access.reg, t[i].reg);
        assert_int_equal(d.access.reg_width, t[i].reg_width);
        assert_int_equal(d.access.sign_extend, t[i].sign_extend);
        assert_int_equal(d.len, t[i].len);
    }
    /* every SAS/SSE/SF/WnR combination and SRT 31 (XZR) */
    for (unsigned sas = 0; sas < 4; sas++)
        for (int sse = 0; sse < 2; sse++)
            for (int sf = 0; sf < 2; sf++)
                for (int wnr = 0; wnr < 2; wnr++) {
                    uint64_t esr = esr_dabt(0x25, 1, 1, sas, sse, 31, sf, 0, wnr);
                    int rc = vmio_arm64_decode_esr(esr, NULL, &d);
                    bool bad = sas == 3 && !sf;
                    assert_int_equal(rc, bad ? VMIO_DECODE_INVALID : VMIO_DECODE_OK);
                    if (bad) {
                        assert_non_null(d.reason);
                        continue;
                    }
                    assert_int_equal(d.ec, 0x25);
                    assert_int_equal(d.access.width, 1u << sas);
                    assert_int_equal(d.access.sign_extend, sse && sas < 3 && !wnr);
                    assert_int_equal(d.access.reg_width, sf ? 8 : 4);
                    assert_int_equal(d.access.dir, wnr ? VMIO_WRITE : VMIO_READ);
                    assert_int_equal(d.access.reg, VMIO_ARM64_XZR);
                }
    /* IL = 0: a 16-bit (AArch32 T32) instruction */
    assert_int_equal(vmio_arm64_decode_esr(esr_dabt(0x24, 0, 1, 1, 0, 3, 0, 0, 0), NULL, &d),
                     VMIO_DECODE_OK);
    assert_int_equal(d.len, 2);
    assert_int_equal(d.access.width, 2);
    assert_int_equal(d.access.reg, 3);
    /* ISS2 bits above 31 are ignored */
    assert_int_equal(vmio_arm64_decode_esr((1ull << 33) | 0x93810047, NULL, &d), VMIO_DECODE_OK);
    assert_int_equal(d.access.reg, 1);
}

static void test_esr_errors(void **state)
{
    (void)state;
    struct vmio_arm64_access d;
    const struct arm64_vector *v = find("ldr w1, [x2, #4]");
    uint64_t base = esr_dabt(0x24, 1, 1, 2, 0, 1, 0, 0, 0);
    static const struct {
        uint64_t esr;
        int rc;
    } t[] = {
        {(uint64_t)0x16 << 26 | 1u << 25, VMIO_DECODE_UNSUPPORTED}, /* HVC */
        {(uint64_t)0x20 << 26 | 1u << 25, VMIO_DECODE_UNSUPPORTED}, /* instruction abort */
        {(uint64_t)0x01 << 26 | 1u << 25, VMIO_DECODE_UNSUPPORTED}, /* WFI/WFE */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(vmio_arm64_decode_esr(t[i].esr, &v->insn, &d), t[i].rc);
        assert_non_null(d.reason);
        assert_int_equal(d.access.reg, VMIO_REG_NONE);
    }
    assert_int_equal(vmio_arm64_decode_esr(base | 1u << 8, NULL, &d), VMIO_DECODE_UNSUPPORTED);
    assert_int_equal(vmio_arm64_decode_esr(base | 1u << 7, NULL, &d), VMIO_DECODE_UNSUPPORTED);
    assert_int_equal(vmio_arm64_decode_esr(base | 1u << 13, NULL, &d), VMIO_DECODE_UNSUPPORTED);
    /* ISV=0 needs the instruction */
    uint64_t isv0 = base & ~(1ull << 24);
    assert_int_equal(vmio_arm64_decode_esr(isv0, NULL, &d), VMIO_DECODE_TRUNCATED);
    assert_non_null(d.reason);
    assert_int_equal(vmio_arm64_decode_esr(isv0, &v->insn, &d), VMIO_DECODE_OK);
    /* ISV=0 with IL=0: no T32 decoder */
    assert_int_equal(vmio_arm64_decode_esr(isv0 & ~(1ull << 25), &v->insn, &d),
                     VMIO_DECODE_UNSUPPORTED);
    assert_int_equal(d.len, 2);
}

/* Unallocated encodings, derived from assembled words by changing one field. */
static void test_unallocated(void **state)
{
    (void)state;
    struct vmio_arm64_access d;
    static const struct {
        const char *text;
        uint32_t clear, set;
    } t[] = {
        {"ldrsw x1, [x2, #4]", 3u << 22, 3u << 22},     /* opc 11 with size 10 */
        {"ldur w1, [x2, #-1]", 3u << 22, 3u << 22},     /* LDURSW to W */
        {"ldr x1, [x2], #8", 3u << 22, 2u << 22},       /* size 11, opc 10, post-index */
        {"ldr x1, [sp, #-8]!", 3u << 22, 3u << 22},     /* size 11, opc 11 */
        {"ldtr x1, [x2, #-256]", 3u << 22, 2u << 22},   /* size 11 LDTRS */
        {"ldr w1, [x2, x3]", 7u << 13, 0},              /* option 000 */
        {"ldr w1, [x2, x3]", 7u << 13, 4u << 13},       /* option 100 */
        {"ldp x1, x2, [x3, #504]", 3u << 30, 3u << 30}, /* pair opc 11 */
        {"ldpsw x1, x2, [x3, #8]", 3u << 23, 0},        /* LDPSW, no-allocate */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint32_t w = (find(t[i].text)->insn & ~t[i].clear) | t[i].set;
        if (vmio_arm64_decode_insn(w, &d) != VMIO_DECODE_INVALID)
            fail_msg("%s with 0x%08x: not rejected", t[i].text, (unsigned)w);
        assert_non_null(d.reason);
    }
}

static void test_sysreg_vectors(void **state)
{
    (void)state;
    unsigned n = 0;
    for (size_t i = 0; i < ARM64_NVECTORS; i++) {
        const struct arm64_vector *v = &arm64_vectors[i];
        if (!is_sys(v))
            continue;
        uint32_t w = v->insn;
        /* MRS/MSR: L[21] op0[20:19] op1[18:16] CRn[15:12] CRm[11:8] op2[7:5] Rt[4:0] */
        uint32_t iss = ((w >> 19) & 3) << 20 | ((w >> 5) & 7) << 17 | ((w >> 16) & 7) << 14 |
                       ((w >> 12) & 15) << 10 | (w & 31) << 5 | ((w >> 8) & 15) << 1 |
                       ((w >> 21) & 1);
        uint64_t esr = (uint64_t)VMIO_ARM64_EC_SYSREG << 26 | 1u << 25 | iss;
        struct vmio_arm64_access d;
        CHECK(v, "rc", vmio_arm64_decode_esr(esr, NULL, &d), VMIO_DECODE_OK);
        CHECK(v, "space", d.access.space, VMIO_SPACE_SYSREG);
        CHECK(v, "ec", d.ec, VMIO_ARM64_EC_SYSREG);
        CHECK(v, "op0", d.sysreg.op0, v->sys[0]);
        CHECK(v, "op1", d.sysreg.op1, v->sys[1]);
        CHECK(v, "crn", d.sysreg.crn, v->sys[2]);
        CHECK(v, "crm", d.sysreg.crm, v->sys[3]);
        CHECK(v, "op2", d.sysreg.op2, v->sys[4]);
        CHECK(v, "dir", d.access.dir, v->dir);
        CHECK(v, "reg", d.access.reg, v->reg);
        CHECK(v, "width", d.access.width, 8);
        CHECK(v, "reg_width", d.access.reg_width, 8);
        CHECK(v, "len", d.len, 4);
        CHECK(v, "id = insn[20:5]", d.sysreg.id, (w >> 5) & 0xffff);
        CHECK(v, "addr = id", d.access.addr, d.sysreg.id);
        CHECK(v, "id macro", d.sysreg.id,
              VMIO_ARM64_SYSREG_ID(v->sys[0], v->sys[1], v->sys[2], v->sys[3], v->sys[4]));
        n++;
    }
    assert_true(n >= 10);
    assert_int_equal(VMIO_ARM64_SYSREG_ID(3, 0, 0, 0, 0), 0xc000);
}

static void test_address(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = {0};
    for (unsigned i = 0; i < 31; i++)
        r.x[i] = 0x10000ull * i;
    r.sp = 0x80000;
    r.x[3] = 0xfffffffffffffff0ull; /* index: -16 as X, 0xfffffff0 as UXTW, -16 as SXTW */
    static const struct {
        const char *text;
        uint64_t addr;
    } t[] = {
        {"ldr w1, [x2, #4]", 0x20004},
        {"ldur w1, [x2, #-1]", 0x1ffff},
        {"ldr x1, [x2], #8", 0x20000},   /* post: base */
        {"ldr x1, [sp, #-8]!", 0x7fff8}, /* pre: base + off, SP */
        {"ldr w1, [x2, x3]", 0x20000 - 16},
        {"ldr w1, [x2, x3, lsl #2]", 0x20000 - 64},
        {"ldr x1, [x2, w3, uxtw]", 0x20000 + 0xfffffff0ull},
        {"ldr x1, [x2, w3, uxtw #3]", 0x20000 + 0x7ffffff80ull},
        {"ldr x1, [x2, w3, sxtw #3]", 0x20000 - 128},
        {"ldr x1, [x2, x3, sxtx]", 0x20000 - 16},
        {"str x1, [sp, xzr]", 0x80000}, /* XZR index reads 0, SP base */
        {"ldp x1, x2, [sp, #-512]", 0x80000 - 512},
        {"ldp x29, x30, [sp], #16", 0x80000},
        {"ldpsw x1, x2, [x3, #-8]!", 0xfffffffffffffff0ull - 8},
        {"ldtr x1, [x2, #-256]", 0x20000 - 256},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct vmio_arm64_access d;
        uint64_t a = 0;
        assert_int_equal(vmio_arm64_decode_insn(find(t[i].text)->insn, &d), VMIO_DECODE_OK);
        assert_int_equal(vmio_arm64_address(&d, &r, &a), VMIO_DECODE_OK);
        if (a != t[i].addr)
            fail_msg("%s: address 0x%llx, want 0x%llx", t[i].text, (unsigned long long)a,
                     (unsigned long long)t[i].addr);
    }
    /* No base for syndrome or sysreg decodes. */
    struct vmio_arm64_access d;
    uint64_t a;
    assert_int_equal(vmio_arm64_decode_esr(0x93810047, NULL, &d), VMIO_DECODE_OK);
    assert_int_equal(vmio_arm64_address(&d, &r, &a), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_arm64_decode_sysreg(0x300001, &d), VMIO_DECODE_OK);
    assert_int_equal(vmio_arm64_address(&d, &r, &a), VMIO_DECODE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insn_vectors),        cmocka_unit_test(test_esr_isv0_uses_insn),
        cmocka_unit_test(test_esr_isv1_crosscheck), cmocka_unit_test(test_esr_isv1_table),
        cmocka_unit_test(test_esr_errors),          cmocka_unit_test(test_unallocated),
        cmocka_unit_test(test_sysreg_vectors),      cmocka_unit_test(test_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
