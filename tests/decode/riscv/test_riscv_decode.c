/*
 * RV64 decoder tests over assembled vectors (riscv_vectors.h, generated from
 * vectors.txt by tests/decode/cross/gen_vectors.py with the cross assembler):
 * every load/store size and sign, compressed forms, htinst transformed forms,
 * the byte-buffer entry point, and errors. Portable: also compiled against
 * tests/decode/cross/shim/cmocka.h and run under qemu-user.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "riscv_vectors.h"

#define CHECK(v, name, got, want)                                                                  \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_)                                                                              \
            fail_msg("vectors.txt:%d \"%s\" (0x%08x): %s = %lld, want %lld", (v)->line, (v)->text, \
                     (unsigned)(v)->insn, name, g_, w_);                                           \
    } while (0)

static const struct riscv_vector *find(const char *text)
{
    for (size_t i = 0; i < RISCV_NVECTORS; i++)
        if (strcmp(riscv_vectors[i].text, text) == 0 && riscv_vectors[i].src == 0)
            return &riscv_vectors[i];
    fail_msg("no vector \"%s\"", text);
    return &riscv_vectors[0];
}

static int decode(const struct riscv_vector *v, struct vmio_riscv_access *d)
{
    if (v->src != 0)
        return vmio_riscv_decode_htinst(v->insn, d);
    return vmio_riscv_decode_insn(v->insn, d);
}

static void check(const struct riscv_vector *v, const struct vmio_riscv_access *d, int rc)
{
    CHECK(v, "rc", rc, v->rc);
    CHECK(v, "len", d->len, v->len);
    CHECK(v, "transformed", d->transformed, v->src != 0);
    if (v->src == 0)
        CHECK(v, "assembled length", v->asm_len, v->len);
    if (rc != VMIO_DECODE_OK) {
        if (!d->reason)
            fail_msg("vectors.txt:%d: no reason", v->line);
        CHECK(v, "reg on error", d->access.reg, VMIO_REG_NONE);
        return;
    }
    if (d->reason)
        fail_msg("vectors.txt:%d: reason %s on success", v->line, d->reason);
    CHECK(v, "space", d->access.space, VMIO_SPACE_MMIO);
    CHECK(v, "dir", d->access.dir, v->dir);
    CHECK(v, "width", d->access.width, v->width);
    CHECK(v, "reg", d->access.reg, v->reg);
    CHECK(v, "reg_width", d->access.reg_width, 8);
    CHECK(v, "sign_extend", d->access.sign_extend, v->sign_extend);
    CHECK(v, "count", d->access.count, 1);
    CHECK(v, "base", d->base, v->base);
    CHECK(v, "offset", d->offset, v->offset);
    CHECK(v, "addr_offset", d->addr_offset, v->addr_offset);
}

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < RISCV_NVECTORS; i++) {
        const struct riscv_vector *v = &riscv_vectors[i];
        struct vmio_riscv_access d;
        int rc = decode(v, &d);
        check(v, &d, rc);
        if (v->src == 0)
            CHECK(v, "insn", d.insn, v->len == 2 ? (v->insn & 0xffff) : v->insn);
    }
}

/* A compressed instruction read as a 32-bit word ignores the next halfword. */
static void test_compressed_upper_half_ignored(void **state)
{
    (void)state;
    for (size_t i = 0; i < RISCV_NVECTORS; i++) {
        const struct riscv_vector *v = &riscv_vectors[i];
        if (v->src != 0 || v->len != 2)
            continue;
        struct vmio_riscv_access d;
        int rc = vmio_riscv_decode_insn(v->insn | 0xdead0000u, &d);
        check(v, &d, rc);
    }
}

/* Byte-buffer decoding: little-endian, length from bits [1:0], truncation. */
static void test_bytes(void **state)
{
    (void)state;
    for (size_t i = 0; i < RISCV_NVECTORS; i++) {
        const struct riscv_vector *v = &riscv_vectors[i];
        if (v->src != 0)
            continue;
        uint8_t b[4] = {(uint8_t)v->insn, (uint8_t)(v->insn >> 8), (uint8_t)(v->insn >> 16),
                        (uint8_t)(v->insn >> 24)};
        struct vmio_riscv_access d;
        check(v, &d, vmio_riscv_decode_bytes(b, v->len, &d));
        CHECK(v, "rc (short)", vmio_riscv_decode_bytes(b, v->len - 1u, &d), VMIO_DECODE_TRUNCATED);
        if (!d.reason)
            fail_msg("no reason");
    }
    struct vmio_riscv_access d;
    assert_int_equal(vmio_riscv_decode_bytes(NULL, 4, &d), VMIO_DECODE_TRUNCATED);
}

/* The transformed forms, derived from the assembled originals, agree with them. */
static void test_htinst_matches_original(void **state)
{
    (void)state;
    static const struct {
        const char *orig;
        bool compressed;
    } t[] = {
        {"lb a0, 0(a1)", false},    {"lh a0, 2047(a1)", false},  {"lw a0, -4(sp)", false},
        {"ld ra, 8(sp)", false},    {"lbu s11, 1(t6)", false},   {"lhu a0, -2(zero)", false},
        {"lwu t3, 100(a5)", false}, {"sb a0, 0(a1)", false},     {"sh a2, -1(a3)", false},
        {"sw a0, 0(a0)", false},    {"sd s0, -2048(sp)", false}, {"c.lw a0, 4(a1)", true},
        {"c.ld a0, 248(a1)", true}, {"c.sw a2, 0(a3)", true},    {"c.sd a4, 248(a5)", true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const struct riscv_vector *v = find(t[i].orig);
        struct vmio_riscv_access o, h;
        assert_int_equal(vmio_riscv_decode_insn(v->insn, &o), VMIO_DECODE_OK);
        /* Rebuild the 32-bit equivalent's transformed form from the decoded fields. */
        uint32_t opcode = o.access.dir == VMIO_READ ? 0x03 : 0x23;
        uint32_t funct3 =
            (o.access.width == 1   ? 0
             : o.access.width == 2 ? 1
             : o.access.width == 4 ? 2
                                   : 3) |
            (o.access.dir == VMIO_READ && !o.access.sign_extend && o.access.width < 8 ? 4 : 0);
        uint32_t w = opcode | funct3 << 12 |
                     (o.access.dir == VMIO_READ ? (uint32_t)o.access.reg << 7
                                                : (uint32_t)o.access.reg << 20);
        if (t[i].compressed)
            w &= ~2u;
        assert_int_equal(vmio_riscv_decode_htinst(w, &h), VMIO_DECODE_OK);
        assert_int_equal(h.access.dir, o.access.dir);
        assert_int_equal(h.access.width, o.access.width);
        assert_int_equal(h.access.reg, o.access.reg);
        assert_int_equal(h.access.sign_extend, o.access.sign_extend);
        assert_int_equal(h.len, o.len);
        assert_int_equal(h.base, VMIO_REG_NONE);
    }
}

static void test_htinst_special(void **state)
{
    (void)state;
    struct vmio_riscv_access d;
    /* Zero: no information. */
    assert_int_equal(vmio_riscv_decode_htinst(0, &d), VMIO_DECODE_TRUNCATED);
    assert_non_null(d.reason);
    /* Pseudoinstructions for implicit VS-stage page-table accesses (priv spec). */
    static const uint32_t pseudo[] = {0x2000, 0x2020, 0x3000, 0x3020};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(vmio_riscv_decode_htinst(pseudo[i], &d), VMIO_DECODE_UNSUPPORTED);
        assert_non_null(d.reason);
    }
    /* Bits [1:0] = 0b10 or 0b00 otherwise: a custom value. */
    assert_int_equal(vmio_riscv_decode_htinst(0x1232, &d), VMIO_DECODE_UNSUPPORTED);
    /* More than 32 bits. */
    assert_int_equal(vmio_riscv_decode_htinst(find("lw a0, -4(sp)")->insn | (1ull << 40), &d),
                     VMIO_DECODE_INVALID);
    /* An original (untransformed) load or store with an offset is malformed. */
    assert_int_equal(vmio_riscv_decode_htinst(find("lw a0, -4(sp)")->insn, &d),
                     VMIO_DECODE_INVALID);
    assert_int_equal(vmio_riscv_decode_htinst(find("sh a2, -1(a3)")->insn, &d),
                     VMIO_DECODE_INVALID);
    assert_non_null(d.reason);
}

/* Reserved and unallocated encodings, derived from assembled words. */
static void test_reserved(void **state)
{
    (void)state;
    struct vmio_riscv_access d;
    /* C.LWSP / C.LDSP with rd = x0 */
    assert_int_equal(vmio_riscv_decode_insn(find("c.lwsp ra, 0(sp)")->insn & ~(31u << 7), &d),
                     VMIO_DECODE_INVALID);
    assert_non_null(d.reason);
    assert_int_equal(vmio_riscv_decode_insn(find("c.ldsp ra, 8(sp)")->insn & ~(31u << 7), &d),
                     VMIO_DECODE_INVALID);
    /* load funct3 111, store funct3 1xx */
    assert_int_equal(vmio_riscv_decode_insn(find("lb a0, 0(a1)")->insn | 7u << 12, &d),
                     VMIO_DECODE_INVALID);
    assert_int_equal(vmio_riscv_decode_insn(find("sb a0, 0(a1)")->insn | 4u << 12, &d),
                     VMIO_DECODE_INVALID);
    /* a 48-bit+ encoding (bits [4:2] = 111) */
    assert_int_equal(vmio_riscv_decode_insn(find("lb a0, 0(a1)")->insn | 0x1f, &d),
                     VMIO_DECODE_UNSUPPORTED);
}

static void test_address(void **state)
{
    (void)state;
    struct vmio_riscv_regs r = {0};
    for (unsigned i = 1; i < 32; i++)
        r.x[i] = 0x1000ull * i;
    r.x[0] = 0x5555; /* must be ignored: x0 reads as zero */
    static const struct {
        const char *text;
        uint64_t addr;
    } t[] = {
        {"lb t0, -2048(t1)", 0x6000 - 2048},  {"lhu a0, -2(zero)", (uint64_t)-2},
        {"sd s0, -2048(sp)", 0x2000 - 2048},  {"c.lw s0, 124(a5)", 0xf000 + 124},
        {"c.ldsp s1, 504(sp)", 0x2000 + 504}, {"c.swsp t6, 68(sp)", 0x2000 + 68},
        {"sw t0, 2047(t1)", 0x6000 + 2047},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct vmio_riscv_access d;
        uint64_t a = 0;
        assert_int_equal(vmio_riscv_decode_insn(find(t[i].text)->insn, &d), VMIO_DECODE_OK);
        assert_int_equal(vmio_riscv_address(&d, &r, &a), VMIO_DECODE_OK);
        if (a != t[i].addr)
            fail_msg("%s: address 0x%llx, want 0x%llx", t[i].text, (unsigned long long)a,
                     (unsigned long long)t[i].addr);
    }
    struct vmio_riscv_access d;
    uint64_t a;
    assert_int_equal(vmio_riscv_decode_htinst(0x3003, &d), VMIO_DECODE_OK); /* ld x0, transformed */
    assert_int_equal(vmio_riscv_address(&d, &r, &a), VMIO_DECODE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),        cmocka_unit_test(test_compressed_upper_half_ignored),
        cmocka_unit_test(test_bytes),          cmocka_unit_test(test_htinst_matches_original),
        cmocka_unit_test(test_htinst_special), cmocka_unit_test(test_reserved),
        cmocka_unit_test(test_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
