/*
 * RV64 injection and emulation-step unit tests: LB/LH/LW sign-extend to 64,
 * LBU/LHU/LWU zero-extend, LD full; x0 discards and reads as 0; store values
 * truncated to the width; pc advances by 2 or 4; malformed records rejected
 * with the register file unchanged. Portable (cmocka or the cross shim).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/decode.h"

static struct vmio_riscv_access rec(int dir, uint8_t width, uint8_t reg, bool sx, uint8_t len)
{
    struct vmio_riscv_access a = {0};
    a.access = (struct vmio_access){.space = VMIO_SPACE_MMIO,
                                    .dir = (uint8_t)dir,
                                    .width = width,
                                    .reg = reg,
                                    .reg_width = 8,
                                    .sign_extend = sx,
                                    .count = 1};
    a.len = len;
    a.base = VMIO_REG_NONE;
    return a;
}

static struct vmio_riscv_regs filled(void)
{
    struct vmio_riscv_regs r;
    r.x[0] = 0;
    for (unsigned i = 1; i < 32; i++)
        r.x[i] = 0x5a5a5a5a5a5a5a5aull ^ i;
    r.pc = 0x80000000;
    return r;
}

static void test_load_value_rules(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t width;
        bool sx;
        uint64_t data, want;
    } t[] = {
        {"lb neg", 1, true, 0xff80, 0xffffffffffffff80ull},
        {"lb pos", 1, true, 0xff7f, 0x7f},
        {"lh neg", 2, true, 0x18000, 0xffffffffffff8000ull},
        {"lh pos", 2, true, 0x7fff, 0x7fff},
        {"lw neg", 4, true, 0x80000000, 0xffffffff80000000ull},
        {"lw pos", 4, true, 0xffffffff7fffffffull, 0x7fffffff},
        {"lbu", 1, false, 0xffffffffffffff80ull, 0x80},
        {"lhu", 2, false, 0xffffffffffff8000ull, 0x8000},
        {"lwu", 4, false, 0xffffffff80000000ull, 0x80000000},
        {"ld", 8, false, 0x8000000000000000ull, 0x8000000000000000ull},
        {"ld (sign flag irrelevant)", 8, true, 0x1234, 0x1234},
        {"bad width", 5, false, 0x1234, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t got = vmio_riscv_load_value(t[i].width, t[i].sx, t[i].data);
        if (got != t[i].want)
            fail_msg("%s: 0x%llx, want 0x%llx", t[i].what, (unsigned long long)got,
                     (unsigned long long)t[i].want);
    }
}

static void test_inject(void **state)
{
    (void)state;
    struct vmio_riscv_regs r = filled();
    struct vmio_riscv_access a = rec(VMIO_READ, 2, 10, true, 4);
    assert_int_equal(vmio_riscv_inject_read(&r, &a.access, 0xfffe), VMIO_DECODE_OK);
    assert_int_equal(r.x[10], 0xfffffffffffffffeull);
    a = rec(VMIO_READ, 4, 31, false, 4);
    assert_int_equal(vmio_riscv_inject_read(&r, &a.access, 0xdeadbeefcafef00dull), VMIO_DECODE_OK);
    assert_int_equal(r.x[31], 0xcafef00d);

    struct vmio_riscv_regs before = r;
    a = rec(VMIO_READ, 8, 0, false, 4); /* x0 discards */
    assert_int_equal(vmio_riscv_inject_read(&r, &a.access, 0x1234), VMIO_DECODE_OK);
    assert_int_equal(memcmp(&before, &r, sizeof r), 0);
    a = rec(VMIO_READ, 8, 32, false, 4);
    assert_int_equal(vmio_riscv_inject_read(&r, &a.access, 1), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 3, 5, false, 4);
    assert_int_equal(vmio_riscv_inject_read(&r, &a.access, 1), VMIO_DECODE_INVALID);
    assert_int_equal(memcmp(&before, &r, sizeof r), 0);
}

static void test_store_data(void **state)
{
    (void)state;
    struct vmio_riscv_regs r = filled();
    r.x[11] = 0x1122334455667788ull;
    r.x[0] = 0xffff; /* must never be read */
    uint64_t d = 0;
    static const struct {
        uint8_t width, reg;
        uint64_t want;
    } t[] = {{1, 11, 0x88}, {2, 11, 0x7788}, {4, 11, 0x55667788}, {8, 11, 0x1122334455667788ull},
             {8, 0, 0},     {1, 0, 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct vmio_riscv_access a = rec(VMIO_WRITE, t[i].width, t[i].reg, false, 4);
        assert_int_equal(vmio_riscv_store_data(&a, &r, &d), VMIO_DECODE_OK);
        assert_int_equal(d, t[i].want);
    }
    struct vmio_riscv_access a = rec(VMIO_READ, 4, 11, false, 4);
    d = 7;
    assert_int_equal(vmio_riscv_store_data(&a, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(d, 7);
    a = rec(VMIO_WRITE, 4, 40, false, 4);
    assert_int_equal(vmio_riscv_store_data(&a, &r, &d), VMIO_DECODE_INVALID);
}

static void test_emulate(void **state)
{
    (void)state;
    struct vmio_riscv_regs r = filled();
    uint64_t d = 0x80;
    struct vmio_riscv_access a = rec(VMIO_READ, 1, 12, true, 4); /* lb */
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(r.x[12], 0xffffffffffffff80ull);
    assert_int_equal(r.pc, 0x80000004);
    a = rec(VMIO_READ, 4, 13, false, 2); /* c.lw-sized, zero-extended as LWU would be */
    d = 0x80000000;
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(r.x[13], 0x80000000);
    assert_int_equal(r.pc, 0x80000006);
    a = rec(VMIO_WRITE, 2, 13, false, 2); /* c.sw-like store */
    d = 0;
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(d, 0);
    assert_int_equal(r.pc, 0x80000008);
    a = rec(VMIO_READ, 8, 0, false, 4); /* ld x0: discarded, pc still advances */
    d = 5;
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(r.x[0], 0);
    assert_int_equal(r.pc, 0x8000000c);

    /* with a decoded transformed instruction: lw a0 from a compressed original */
    struct vmio_riscv_access h;
    assert_int_equal(vmio_riscv_decode_htinst(0x2501, &h), VMIO_DECODE_OK); /* lw a0 (bit1=0) */
    assert_int_equal(h.len, 2);
    d = 0xffffffff;
    assert_int_equal(vmio_riscv_emulate(&h, &r, &d), VMIO_DECODE_OK);
    assert_int_equal(r.x[10], ~0ull);
    assert_int_equal(r.pc, 0x8000000e);

    struct vmio_riscv_regs before = r;
    a = rec(VMIO_READ, 4, 1, false, 3);
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 4, 1, false, 4);
    assert_int_equal(vmio_riscv_emulate(&a, &r, NULL), VMIO_DECODE_INVALID);
    a = rec(VMIO_READ, 6, 1, false, 4);
    assert_int_equal(vmio_riscv_emulate(&a, &r, &d), VMIO_DECODE_INVALID);
    assert_int_equal(memcmp(&before, &r, sizeof r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_value_rules),
        cmocka_unit_test(test_inject),
        cmocka_unit_test(test_store_data),
        cmocka_unit_test(test_emulate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
