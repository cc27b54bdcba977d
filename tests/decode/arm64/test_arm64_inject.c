/*
 * AArch64 injection and emulation-step unit tests: every width, sign- and
 * zero-extension rule, W-register upper-half clearing, XZR discard, store
 * values (XZR = 0), base writeback (pre/post, SP), pairs, PC advance, and
 * rejection of malformed records with the register file unchanged.
 * Portable: also compiled against tests/decode/cross/shim/cmocka.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/decode.h"

static struct vmio_access acc(uint8_t width, uint8_t reg, uint8_t reg_width, bool sx)
{
    return (struct vmio_access){.space = VMIO_SPACE_MMIO,
                                .dir = VMIO_READ,
                                .width = width,
                                .reg = reg,
                                .reg_width = reg_width,
                                .sign_extend = sx,
                                .count = 1};
}

static struct vmio_arm64_regs filled(void)
{
    struct vmio_arm64_regs r;
    for (unsigned i = 0; i < 31; i++)
        r.x[i] = 0xa5a5a5a5a5a5a5a5ull ^ i;
    r.sp = 0x8000;
    r.pc = 0x1000;
    return r;
}

static void test_load_value_rules(void **state)
{
    (void)state;
    static const struct {
        uint8_t width, reg_width;
        bool sx;
        uint64_t data, want;
    } t[] = {
        /* zero extension (LDRB/LDRH/LDR W/LDR X): garbage above width dropped */
        {1, 4, false, 0xffffffffffffff80ull, 0x80},
        {2, 4, false, 0x1234ffffull, 0xffff},
        {4, 4, false, 0xdeadbeef80000000ull, 0x80000000},
        {4, 8, false, 0xdeadbeef80000000ull, 0x80000000},
        {8, 8, false, 0x8000000000000001ull, 0x8000000000000001ull},
        /* LDRS* to W: sign-extend to 32, upper 32 zero */
        {1, 4, true, 0x80, 0xffffff80},
        {1, 4, true, 0x7f, 0x7f},
        {2, 4, true, 0x8001, 0xffff8001},
        {2, 4, true, 0x7fff, 0x7fff},
        /* LDRS* to X: sign-extend to 64 */
        {1, 8, true, 0xff, 0xffffffffffffffffull},
        {2, 8, true, 0xabcd8000ull, 0xffffffffffff8000ull},
        {4, 8, true, 0x80000000, 0xffffffff80000000ull},
        {4, 8, true, 0x7fffffff, 0x7fffffff},
        /* bad width */
        {3, 8, false, 0x1234, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t got = vmio_arm64_load_value(t[i].width, t[i].reg_width, t[i].sx, t[i].data);
        if (got != t[i].want)
            fail_msg("case %zu: 0x%llx, want 0x%llx", i, (unsigned long long)got,
                     (unsigned long long)t[i].want);
    }
}

static void test_inject_read(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = filled();
    struct vmio_access a = acc(4, 5, 4, false);
    assert_int_equal(vmio_arm64_inject_read(&r, &a, 0xffffffff12345678ull), VMIO_DECODE_OK);
    assert_int_equal(r.x[5], 0x12345678); /* W destination: zero-extended to 64 */
    a = acc(2, 6, 8, true);
    assert_int_equal(vmio_arm64_inject_read(&r, &a, 0x8000), VMIO_DECODE_OK);
    assert_int_equal(r.x[6], 0xffffffffffff8000ull);
    a = acc(1, 7, 4, true);
    assert_int_equal(vmio_arm64_inject_read(&r, &a, 0x90), VMIO_DECODE_OK);
    assert_int_equal(r.x[7], 0xffffff90);
    a = acc(8, 30, 0, false); /* reg_width unknown: 64-bit */
    assert_int_equal(vmio_arm64_inject_read(&r, &a, 0x0123456789abcdefull), VMIO_DECODE_OK);
    assert_int_equal(r.x[30], 0x0123456789abcdefull);

    /* XZR discards: nothing changes, not even SP */
    struct vmio_arm64_regs before = filled(), after = filled();
    a = acc(8, VMIO_ARM64_XZR, 8, false);
    assert_int_equal(vmio_arm64_inject_read(&after, &a, 0x1111), VMIO_DECODE_OK);
    assert_int_equal(memcmp(&before, &after, sizeof before), 0);

    /* malformed: register > 31, width 3, width > register, reg_width 2 */
    struct vmio_access bad[] = {acc(4, 32, 4, false), acc(3, 1, 8, false), acc(8, 1, 4, false),
                                acc(1, 1, 2, false)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vmio_arm64_inject_read(&after, &bad[i], 1), VMIO_DECODE_INVALID);
        assert_int_equal(memcmp(&before, &after, sizeof before), 0);
    }
}

static struct vmio_arm64_access rec(int dir, uint8_t width, uint8_t reg, uint8_t rw, bool sx)
{
    struct vmio_arm64_access a = {0};
    a.access = acc(width, reg, rw, sx);
    a.access.dir = (uint8_t)dir;
    a.len = 4;
    a.reg2 = VMIO_REG_NONE;
    a.base = VMIO_REG_NONE;
    a.index = VMIO_REG_NONE;
    return a;
}

static void test_store_data(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = filled();
    r.x[1] = 0x1122334455667788ull;
    r.x[2] = 0x99aabbccddeeff00ull;
    uint64_t d[2] = {0, 0};
    struct vmio_arm64_access a = rec(VMIO_WRITE, 2, 1, 4, false);
    assert_int_equal(vmio_arm64_store_data(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0x7788); /* truncated to the width */
    a = rec(VMIO_WRITE, 8, VMIO_ARM64_XZR, 8, false);
    d[0] = 5;
    assert_int_equal(vmio_arm64_store_data(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0); /* XZR reads as zero */
    a = rec(VMIO_WRITE, 4, 2, 4, false);
    a.reg2 = 1;
    assert_int_equal(vmio_arm64_store_data(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0xddeeff00);
    assert_int_equal(d[1], 0x55667788);
    a = rec(VMIO_READ, 4, 2, 4, false); /* loads leave data alone */
    d[0] = 42;
    assert_int_equal(vmio_arm64_store_data(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 42);
    a = rec(VMIO_WRITE, 4, 40, 4, false);
    assert_int_equal(vmio_arm64_store_data(&a, &r, d), VMIO_DECODE_INVALID);
}

static void test_emulate_loads(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = filled();
    /* LDRSW X1, [X2], #4 */
    struct vmio_arm64_access a = rec(VMIO_READ, 4, 1, 8, true);
    a.base = 2;
    a.wb = VMIO_ARM64_WB_POST;
    a.offset = 4;
    r.x[2] = 0x100;
    uint64_t d[2] = {0x80000000, 0};
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(r.x[1], 0xffffffff80000000ull);
    assert_int_equal(r.x[2], 0x104);
    assert_int_equal(r.pc, 0x1004);

    /* LDP W3, W4, [SP, #-8]!: SP base, both registers, W zero-extension */
    a = rec(VMIO_READ, 4, 3, 4, false);
    a.reg2 = 4;
    a.base = VMIO_ARM64_SP;
    a.wb = VMIO_ARM64_WB_PRE;
    a.offset = -8;
    d[0] = 0xffffffff00000001ull;
    d[1] = 0x2;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(r.x[3], 1);
    assert_int_equal(r.x[4], 2);
    assert_int_equal(r.sp, 0x8000 - 8);
    assert_int_equal(r.pc, 0x1008);

    /* LDPSW with XZR first: discarded, second sign-extended */
    a = rec(VMIO_READ, 4, VMIO_ARM64_XZR, 8, true);
    a.reg2 = 5;
    a.base = 6;
    struct vmio_arm64_regs before = r;
    d[0] = 0xffffffff;
    d[1] = 0xfffffffe;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(r.x[5], 0xfffffffffffffffeull);
    assert_int_equal(r.x[6], before.x[6]); /* no writeback */
    r.x[5] = before.x[5];
    r.pc = before.pc;
    assert_int_equal(memcmp(&before, &r, sizeof r), 0);

    /* base == destination with writeback: the loaded value wins */
    a = rec(VMIO_READ, 8, 7, 8, false);
    a.base = 7;
    a.wb = VMIO_ARM64_WB_PRE;
    a.offset = 8;
    d[0] = 0x77;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(r.x[7], 0x77);

    /* MRS X9, <sysreg>: 64-bit result */
    struct vmio_arm64_access s;
    assert_int_equal(vmio_arm64_decode_sysreg(9u << 5 | 1u | 3u << 20, &s), VMIO_DECODE_OK);
    d[0] = 0xfedcba9876543210ull;
    uint64_t pc = r.pc;
    assert_int_equal(vmio_arm64_emulate(&s, &r, d), VMIO_DECODE_OK);
    assert_int_equal(r.x[9], 0xfedcba9876543210ull);
    assert_int_equal(r.pc, pc + 4);
}

static void test_emulate_stores(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = filled();
    /* STP X29, X30, [SP, #-16]! */
    struct vmio_arm64_access a = rec(VMIO_WRITE, 8, 29, 8, false);
    a.reg2 = 30;
    a.base = VMIO_ARM64_SP;
    a.wb = VMIO_ARM64_WB_PRE;
    a.offset = -16;
    uint64_t d[2] = {0, 0};
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], r.x[29]);
    assert_int_equal(d[1], r.x[30]);
    assert_int_equal(r.sp, 0x8000 - 16);
    assert_int_equal(r.pc, 0x1004);

    /* STR X3, [X3], #8: the pre-writeback value is stored */
    a = rec(VMIO_WRITE, 8, 3, 8, false);
    a.base = 3;
    a.wb = VMIO_ARM64_WB_POST;
    a.offset = 8;
    r.x[3] = 0x4000;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0x4000);
    assert_int_equal(r.x[3], 0x4008);

    /* STRB WZR, [X1]; len 2 advances the PC by 2 */
    a = rec(VMIO_WRITE, 1, VMIO_ARM64_XZR, 4, false);
    a.base = 1;
    a.len = 2;
    uint64_t pc = r.pc;
    d[0] = 99;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0);
    assert_int_equal(r.pc, pc + 2);

    /* MSR <sysreg>, XZR writes 0 */
    struct vmio_arm64_access s;
    assert_int_equal(vmio_arm64_decode_sysreg(31u << 5 | 3u << 20, &s), VMIO_DECODE_OK);
    assert_int_equal(s.access.dir, VMIO_WRITE);
    d[0] = 1;
    assert_int_equal(vmio_arm64_emulate(&s, &r, d), VMIO_DECODE_OK);
    assert_int_equal(d[0], 0);
}

static void test_emulate_rejects(void **state)
{
    (void)state;
    struct vmio_arm64_regs r = filled(), before = filled();
    uint64_t d[2] = {1, 2};
    struct vmio_arm64_access a = rec(VMIO_READ, 4, 1, 4, false);
    a.len = 3;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 4, 1, 4, false);
    assert_int_equal(vmio_arm64_emulate(&a, &r, NULL), VMIO_DECODE_INVALID);
    a.wb = VMIO_ARM64_WB_PRE; /* writeback without a base */
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 8, 1, 4, false);
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 4, 1, 4, false);
    a.reg2 = 33;
    assert_int_equal(vmio_arm64_emulate(&a, &r, d), VMIO_DECODE_INVALID);
    assert_int_equal(memcmp(&before, &r, sizeof r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_value_rules), cmocka_unit_test(test_inject_read),
        cmocka_unit_test(test_store_data),       cmocka_unit_test(test_emulate_loads),
        cmocka_unit_test(test_emulate_stores),   cmocka_unit_test(test_emulate_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
