/*
 * x86 result injection and emulation tests: register write rules
 * (exhaustive over small widths), load extension, port IN, RFLAGS of every
 * ALU operation against the host CPU's own flags on x86-64 (exhaustive at 8
 * bits, sampled at 16/32/64) or, on other architectures (the cross runs under
 * qemu-user), against a reference model of the flag rules built on exact
 * 128-bit arithmetic, which x86-64 builds check against the CPU too; and
 * emulation steps of decoded assembled vectors (loads, stores, ALU operand
 * order, XCHG, MOVS/STOS with DF and REP).
 */
#include "x86_test.h"

static uint64_t pattern(unsigned i)
{
    return 0x0123456789abcdefULL * (i + 1) ^ 0xf0e1d2c3b4a59687ULL;
}

static void test_set_reg_rules(void **state)
{
    (void)state;
    struct vmio_x86_regs r;
    for (unsigned reg = 0; reg < 16; reg++) {
        for (unsigned wi = 0; wi < 4; wi++) {
            unsigned w = 1u << wi;
            for (unsigned k = 0; k < 64; k++) {
                for (unsigned i = 0; i < 16; i++)
                    r.gpr[i] = pattern(i + k);
                uint64_t old = r.gpr[reg], v = pattern(100 + k * 7 + reg);
                assert_int_equal(vmio_x86_set_reg(&r, reg, w, false, v), VMIO_DECODE_OK);
                uint64_t want;
                switch (w) {
                case 1:
                    want = (old & ~0xffULL) | (uint8_t)v;
                    break;
                case 2:
                    want = (old & ~0xffffULL) | (uint16_t)v;
                    break;
                case 4:
                    want = (uint32_t)v;
                    break;
                default:
                    want = v;
                    break;
                }
                assert_int_equal(r.gpr[reg], want);
                for (unsigned i = 0; i < 16; i++)
                    if (i != reg)
                        assert_int_equal(r.gpr[i], pattern(i + k));
                assert_int_equal(vmio_x86_get_reg(&r, reg, w, false),
                                 w == 8 ? v : v & ((1ULL << (8 * w)) - 1));
                if (reg < 4 && w == 1) {
                    old = r.gpr[reg];
                    assert_int_equal(vmio_x86_set_reg(&r, reg, 1, true, v), VMIO_DECODE_OK);
                    assert_int_equal(r.gpr[reg], (old & ~0xff00ULL) | ((v & 0xff) << 8));
                    assert_int_equal(vmio_x86_get_reg(&r, reg, 1, true), v & 0xff);
                }
            }
        }
    }
    memset(&r, 0, sizeof(r));
    assert_int_equal(vmio_x86_set_reg(&r, 16, 8, false, 1), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_set_reg(&r, 0, 3, false, 1), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_set_reg(&r, 4, 1, true, 1), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_set_reg(&r, 0, 2, true, 1), VMIO_DECODE_INVALID);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(r.gpr[i], 0);
    assert_int_equal(vmio_x86_get_reg(&r, 17, 8, false), 0);
}

static void test_load_value(void **state)
{
    (void)state;
    for (uint32_t d = 0; d < 0x10000; d++) {
        uint64_t junk = 0xdeadbeef00000000ULL | ((uint64_t)d << 16);
        uint64_t data = junk | d;
        if (d < 0x100) {
            assert_int_equal(vmio_x86_load_value(1, 1, false, data), (uint8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 2, false, data), (uint16_t)(uint8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 4, false, data), (uint32_t)(uint8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 8, false, data), (uint64_t)(uint8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 2, true, data), (uint16_t)(int8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 4, true, data), (uint32_t)(int8_t)d);
            assert_int_equal(vmio_x86_load_value(1, 8, true, data), (uint64_t)(int8_t)d);
        }
        assert_int_equal(vmio_x86_load_value(2, 2, false, data), (uint16_t)d);
        assert_int_equal(vmio_x86_load_value(2, 4, false, data), (uint32_t)(uint16_t)d);
        assert_int_equal(vmio_x86_load_value(2, 8, false, data), (uint64_t)(uint16_t)d);
        assert_int_equal(vmio_x86_load_value(2, 4, true, data), (uint32_t)(int16_t)d);
        assert_int_equal(vmio_x86_load_value(2, 8, true, data), (uint64_t)(int16_t)d);
        uint64_t d32 = pattern(d);
        assert_int_equal(vmio_x86_load_value(4, 8, true, d32), (uint64_t)(int32_t)(uint32_t)d32);
        assert_int_equal(vmio_x86_load_value(4, 8, false, d32), (uint32_t)d32);
        assert_int_equal(vmio_x86_load_value(8, 8, true, d32), d32);
    }
    assert_int_equal(vmio_x86_load_value(3, 8, false, 1), 0);
}

static void test_inject_read_and_in(void **state)
{
    (void)state;
    struct vmio_x86_regs r;
    memset(&r, 0, sizeof(r));
    r.gpr[VMIO_X86_RBX] = 0x1122334455667788ULL;
    struct vmio_access a = {.width = 1, .reg = VMIO_X86_RBX, .reg_width = 1};
    assert_int_equal(vmio_x86_inject_read(&r, &a, true, 0xaa), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0x112233445566aa88ULL);
    a.reg_width = 8;
    a.sign_extend = true;
    assert_int_equal(vmio_x86_inject_read(&r, &a, false, 0x80), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0xffffffffffffff80ULL);
    a.reg_width = 0; /* means width */
    assert_int_equal(vmio_x86_inject_read(&r, &a, false, 0x7f), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0xffffffffffffff7fULL);
    a.width = 4;
    a.reg_width = 2; /* narrower register than the access */
    assert_int_equal(vmio_x86_inject_read(&r, &a, false, 0), VMIO_DECODE_INVALID);
    a.reg = VMIO_REG_NONE;
    a.reg_width = 4;
    assert_int_equal(vmio_x86_inject_read(&r, &a, false, 0), VMIO_DECODE_INVALID);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0xffffffffffffff7fULL);

    r.gpr[VMIO_X86_RAX] = 0xffffffffffffffffULL;
    assert_int_equal(vmio_x86_inject_pio_in(&r, 1, 0x1234), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0xffffffffffffff34ULL);
    assert_int_equal(vmio_x86_inject_pio_in(&r, 2, 0x12345678), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0xffffffffffff5678ULL);
    assert_int_equal(vmio_x86_inject_pio_in(&r, 4, 0xabcdef0012345678ULL), VMIO_DECODE_OK);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0x12345678ULL);
    assert_int_equal(vmio_x86_inject_pio_in(&r, 8, 1), VMIO_DECODE_INVALID);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0x12345678ULL);
}

/* ---- RFLAGS against an oracle: the host CPU, or a reference model ---- */

/* vmio_x86_alu's shape: RFLAGS after @a OP @b at @w bytes, result in *@res. */
typedef uint64_t (*alu_fn)(enum vmio_x86_op op, unsigned w, uint64_t a, uint64_t b, uint64_t fin,
                           uint64_t *res);

#if defined(__x86_64__)
/*
 * Runs `insn b, a` (AT&T: a = a OP b) with RFLAGS = fin and returns RFLAGS
 * after it. The stack pointer skips the red zone around pushf/popf.
 */
#define HOST_OP(name, insn, type, cons)                                                            \
    static uint64_t host_##name(type a, type b, uint64_t fin, type *res)                           \
    {                                                                                              \
        uint64_t f;                                                                                \
        __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                              \
                         "push %[fin]\n\t"                                                         \
                         "popfq\n\t" insn " %[b], %[a]\n\t"                                        \
                         "pushfq\n\t"                                                              \
                         "pop %[f]\n\t"                                                            \
                         "lea 128(%%rsp), %%rsp"                                                   \
                         : [a] "+" cons(a), [f] "=&r"(f)                                           \
                         : [b] cons(b), [fin] "r"(fin)                                             \
                         : "cc", "memory");                                                        \
        *res = a;                                                                                  \
        return f;                                                                                  \
    }
#define HOST_ALL(type, sfx, cons)                                                                  \
    HOST_OP(add##sfx, "add", type, cons)                                                           \
    HOST_OP(adc##sfx, "adc", type, cons)                                                           \
    HOST_OP(sub##sfx, "sub", type, cons)                                                           \
    HOST_OP(sbb##sfx, "sbb", type, cons)                                                           \
    HOST_OP(cmp##sfx, "cmp", type, cons)                                                           \
    HOST_OP(and##sfx, "and", type, cons)                                                           \
    HOST_OP(or ##sfx, "or", type, cons)                                                            \
    HOST_OP(xor##sfx, "xor", type, cons)                                                           \
    HOST_OP(test##sfx, "test", type, cons)                                                         \
    static uint64_t host##sfx(enum vmio_x86_op op, type a, type b, uint64_t fin, type *r)          \
    {                                                                                              \
        switch (op) {                                                                              \
        case VMIO_X86_OP_ADD:                                                                      \
            return host_add##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_ADC:                                                                      \
            return host_adc##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_SUB:                                                                      \
            return host_sub##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_SBB:                                                                      \
            return host_sbb##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_CMP:                                                                      \
            return host_cmp##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_AND:                                                                      \
            return host_and##sfx(a, b, fin, r);                                                    \
        case VMIO_X86_OP_OR:                                                                       \
            return host_or##sfx(a, b, fin, r);                                                     \
        case VMIO_X86_OP_XOR:                                                                      \
            return host_xor##sfx(a, b, fin, r);                                                    \
        default:                                                                                   \
            return host_test##sfx(a, b, fin, r);                                                   \
        }                                                                                          \
    }
HOST_ALL(uint8_t, 8, "q")
HOST_ALL(uint16_t, 16, "r")
HOST_ALL(uint32_t, 32, "r")
HOST_ALL(uint64_t, 64, "r")

/* The host CPU as an alu_fn: the operands are truncated to @w bytes. */
static uint64_t host_alu(enum vmio_x86_op op, unsigned w, uint64_t a, uint64_t b, uint64_t fin,
                         uint64_t *res)
{
    uint64_t f;
    switch (w) {
    case 1: {
        uint8_t r;
        f = host8(op, (uint8_t)a, (uint8_t)b, fin, &r);
        *res = r;
        break;
    }
    case 2: {
        uint16_t r;
        f = host16(op, (uint16_t)a, (uint16_t)b, fin, &r);
        *res = r;
        break;
    }
    case 4: {
        uint32_t r;
        f = host32(op, (uint32_t)a, (uint32_t)b, fin, &r);
        *res = r;
        break;
    }
    default: {
        uint64_t r;
        f = host64(op, a, b, fin, &r);
        *res = r;
        break;
    }
    }
    return f;
}
#endif

#if defined(__SIZEOF_INT128__)
/*
 * Reference model of the flag rules, from their definitions rather than from
 * carry vectors (and independent of src/decode/inject_x86.c): the operation
 * is done exactly in 128-bit integers, once on the operands read as unsigned
 * and once read as signed (two's complement) @w-byte numbers. CF: the exact
 * unsigned result does not fit in @w bytes (a carry out, or a borrow below
 * 0); OF: the exact signed result does not fit; AF: the same for the low
 * nibbles alone (carry or borrow out of bit 3); ZF, SF and PF from the
 * truncated result (zero, its top bit, an even number of 1 bits in its low
 * byte). AND/OR/XOR/TEST: CF = OF = AF = 0. Other RFLAGS bits are kept. On
 * x86-64 hosts test_reference_vs_host checks this model against the CPU.
 */
__extension__ typedef __int128 wide;

static uint64_t ref_alu(enum vmio_x86_op op, unsigned w, uint64_t a, uint64_t b, uint64_t fin,
                        uint64_t *res)
{
    const unsigned bits = 8 * w;
    const wide span = (wide)1 << bits; /* 2^bits: how many @w-byte values there are */
    const wide umax = span - 1, smax = span / 2 - 1, smin = -(span / 2);
    const wide ua = (wide)a & umax, ub = (wide)b & umax;
    const wide sa = ua > smax ? ua - span : ua, sb = ub > smax ? ub - span : ub;
    const wide c = (op == VMIO_X86_OP_ADC || op == VMIO_X86_OP_SBB) ? (wide)(fin & VMIO_X86_CF) : 0;
    wide u, s; /* the exact result, operands read as unsigned / as signed */
    bool cf = false, of = false, af = false;
    switch (op) {
    case VMIO_X86_OP_ADD:
    case VMIO_X86_OP_ADC:
        u = ua + ub + c;
        s = sa + sb + c;
        cf = u > umax;
        of = s < smin || s > smax;
        af = (ua % 16) + (ub % 16) + c > 15;
        break;
    case VMIO_X86_OP_SUB:
    case VMIO_X86_OP_SBB:
    case VMIO_X86_OP_CMP:
        u = ua - ub - c;
        s = sa - sb - c;
        cf = u < 0;
        of = s < smin || s > smax;
        af = (ua % 16) - (ub % 16) - c < 0;
        break;
    case VMIO_X86_OP_AND:
    case VMIO_X86_OP_TEST:
        u = ua & ub;
        break;
    case VMIO_X86_OP_OR:
        u = ua | ub;
        break;
    case VMIO_X86_OP_XOR:
        u = ua ^ ub;
        break;
    default:
        *res = 0;
        return fin;
    }
    /* The result modulo 2^bits (conversion to unsigned is modular in C). */
    uint64_t r = (uint64_t)u & (uint64_t)umax;
    unsigned ones = 0;
    for (unsigned i = 0; i < 8; i++)
        ones += (r >> i) & 1;
    uint64_t f = fin & ~VMIO_X86_ARITH_FLAGS;
    f |= cf ? VMIO_X86_CF : 0;
    f |= ones % 2 == 0 ? VMIO_X86_PF : 0;
    f |= af ? VMIO_X86_AF : 0;
    f |= r == 0 ? VMIO_X86_ZF : 0;
    f |= (r >> (bits - 1)) & 1 ? VMIO_X86_SF : 0;
    f |= of ? VMIO_X86_OF : 0;
    *res = r;
    return f;
}
#endif

#if defined(__x86_64__) || defined(__SIZEOF_INT128__)
static const enum vmio_x86_op alu_ops[] = {
    VMIO_X86_OP_ADD, VMIO_X86_OP_ADC, VMIO_X86_OP_SUB, VMIO_X86_OP_SBB,  VMIO_X86_OP_CMP,
    VMIO_X86_OP_AND, VMIO_X86_OP_OR,  VMIO_X86_OP_XOR, VMIO_X86_OP_TEST,
};

#define RNG_SEED 0x9e3779b97f4a7c15ULL
static uint64_t rng = RNG_SEED;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Interesting operands: 0, 1, the sign boundary, all-ones, nibble carries. */
static uint64_t edge(unsigned i, unsigned w)
{
    uint64_t m = w == 8 ? ~0ULL : (1ULL << (8 * w)) - 1;
    uint64_t msb = 1ULL << (8 * w - 1);
    const uint64_t e[] = {0, 1, 2, 0xf, 0x10, msb - 1, msb, msb + 1, m - 1, m, m >> 1, 0x7f, 0x80};
    return e[i % (sizeof(e) / sizeof(e[0]))] & m;
}

static int flag_errors;

/* Compares @ours (the tested side) with @want (the oracle) for one operation. */
static void compare_one(alu_fn want, const char *want_name, alu_fn ours, enum vmio_x86_op op,
                        unsigned w, uint64_t a, uint64_t b, uint64_t cin)
{
    uint64_t fin = 0x2 | cin | (cin ? VMIO_X86_ZF | VMIO_X86_OF : VMIO_X86_SF | VMIO_X86_AF);
    uint64_t want_r, ours_r;
    uint64_t want_f = want(op, w, a, b, fin, &want_r);
    uint64_t ours_f = ours(op, w, a, b, fin, &ours_r);
    uint64_t mask = VMIO_X86_ARITH_FLAGS;
    bool logic = op == VMIO_X86_OP_AND || op == VMIO_X86_OP_OR || op == VMIO_X86_OP_XOR ||
                 op == VMIO_X86_OP_TEST;
    if (logic)
        mask &= ~VMIO_X86_AF; /* undefined for logic operations */
    bool result_checked = op != VMIO_X86_OP_CMP && op != VMIO_X86_OP_TEST;
    if ((ours_f & mask) != (want_f & mask) || (result_checked && ours_r != want_r) ||
        (ours_f & ~VMIO_X86_ARITH_FLAGS) != (fin & ~VMIO_X86_ARITH_FLAGS)) {
        if (flag_errors++ < 20)
            printf("%s w%u a=%#llx b=%#llx cf=%llu: ours r=%#llx f=%#llx %s r=%#llx f=%#llx\n",
                   vmio_x86_op_name(op), w, (unsigned long long)a, (unsigned long long)b,
                   (unsigned long long)cin, (unsigned long long)ours_r, (unsigned long long)ours_f,
                   want_name, (unsigned long long)want_r, (unsigned long long)want_f);
    }
}

/*
 * Every ALU operation: at 8 bits every operand pair with both carry-ins; at
 * 16, 32 and 64 bits 338 edge pairs and 40 000 random ones (half of them
 * near-equal). Returns the number of comparisons; flag_errors counts the
 * mismatches. The random operands are the same on every call.
 */
static unsigned long sweep(alu_fn want, const char *want_name, alu_fn ours)
{
    flag_errors = 0;
    rng = RNG_SEED;
    unsigned long n = 0;
    for (size_t k = 0; k < sizeof(alu_ops) / sizeof(alu_ops[0]); k++) {
        enum vmio_x86_op op = alu_ops[k];
        /* 8 bits: every pair, both carry-ins. */
        for (unsigned a = 0; a < 256; a++)
            for (unsigned b = 0; b < 256; b++)
                for (unsigned c = 0; c < 2; c++, n++)
                    compare_one(want, want_name, ours, op, 1, a, b, c);
        for (unsigned w = 2; w <= 8; w *= 2) {
            for (unsigned i = 0; i < 13; i++)
                for (unsigned j = 0; j < 13; j++)
                    for (unsigned c = 0; c < 2; c++, n++)
                        compare_one(want, want_name, ours, op, w, edge(i, w), edge(j, w), c);
            for (unsigned i = 0; i < 40000; i++, n++) {
                uint64_t a = next_rand(), b = next_rand();
                if (i & 1)
                    b = a + (next_rand() & 3) - 1; /* near-equal operands */
                compare_one(want, want_name, ours, op, w, a, b, next_rand() & 1);
            }
        }
    }
    return n;
}
#endif

#if defined(__x86_64__)
/* vmio's flags against the host CPU's own (the strongest check). */
static void test_flags_vs_host(void **state)
{
    (void)state;
    unsigned long n = sweep(host_alu, "host", vmio_x86_alu);
    printf("%lu flag computations compared with the host CPU, %d mismatches\n", n, flag_errors);
    assert_int_equal(flag_errors, 0);
}
#define FLAGS_TEST cmocka_unit_test(test_flags_vs_host)
#elif defined(__SIZEOF_INT128__)
/*
 * Not on x86: vmio's flags against the reference model, which the x86-64
 * host build checks against the CPU (test_reference_vs_host).
 */
static void test_flags_vs_reference(void **state)
{
    (void)state;
    unsigned long n = sweep(ref_alu, "reference", vmio_x86_alu);
    printf("%lu flag computations compared with the reference model, %d mismatches\n", n,
           flag_errors);
    assert_int_equal(flag_errors, 0);
}
#define FLAGS_TEST cmocka_unit_test(test_flags_vs_reference)
#else
static void test_flags_vs_host(void **state)
{
    (void)state;
    skip();
}
#define FLAGS_TEST cmocka_unit_test(test_flags_vs_host)
#endif

#if defined(__x86_64__) && defined(__SIZEOF_INT128__)
/* The reference model (the oracle on other architectures) against the CPU. */
static void test_reference_vs_host(void **state)
{
    (void)state;
    unsigned long n = sweep(host_alu, "host", ref_alu);
    printf("%lu reference-model flag computations compared with the host CPU, %d mismatches\n", n,
           flag_errors);
    assert_int_equal(flag_errors, 0);
}
#endif

static void test_alu_reference(void **state)
{
    (void)state;
    uint64_t r, f;
    f = vmio_x86_alu(VMIO_X86_OP_ADD, 1, 0x7f, 1, 0x2, &r);
    assert_int_equal(r, 0x80);
    assert_int_equal(f, 0x2 | VMIO_X86_SF | VMIO_X86_OF | VMIO_X86_AF);
    f = vmio_x86_alu(VMIO_X86_OP_SUB, 4, 0, 1, 0x2, &r);
    assert_int_equal(r, 0xffffffff);
    assert_int_equal(f, 0x2 | VMIO_X86_CF | VMIO_X86_SF | VMIO_X86_AF | VMIO_X86_PF);
    f = vmio_x86_alu(VMIO_X86_OP_XOR, 8, 5, 5, 0x2 | VMIO_X86_CF | VMIO_X86_OF | VMIO_X86_DF, &r);
    assert_int_equal(r, 0);
    assert_int_equal(f, 0x2 | VMIO_X86_ZF | VMIO_X86_PF | VMIO_X86_DF);
    f = vmio_x86_alu(VMIO_X86_OP_MOV, 4, 1, 2, 0x202, &r);
    assert_int_equal(f, 0x202);
    assert_int_equal(r, 0);
    f = vmio_x86_alu(VMIO_X86_OP_ADD, 3, 1, 2, 0x202, &r);
    assert_int_equal(f, 0x202);
}

/* ---- Emulation steps on decoded instructions ---- */

static void regs_init(struct vmio_x86_regs *r)
{
    for (unsigned i = 0; i < 16; i++)
        r->gpr[i] = pattern(i);
    r->rip = 0x100000;
    r->rflags = 0x2;
}

static void step(const char *text, struct vmio_x86_regs *r, uint64_t read,
                 struct vmio_x86_effect *e, const struct x86_vector **vout, struct vmio_x86_insn *d)
{
    const struct x86_vector *v = decode_vec(text, d);
    assert_int_equal(vmio_x86_emulate(d, r, read, e), VMIO_DECODE_OK);
    if (vout)
        *vout = v;
}

static void test_emulate_mov(void **state)
{
    (void)state;
    struct vmio_x86_regs r, o;
    struct vmio_x86_effect e;
    struct vmio_x86_insn d;
    const struct x86_vector *v;

    regs_init(&r);
    o = r;
    step("mov ah, byte ptr [rbx]", &r, 0xfedcba98765432a5ULL, &e, &v, &d);
    assert_false(e.write);
    assert_true(e.done);
    assert_int_equal(r.gpr[VMIO_X86_RAX], (o.gpr[0] & ~0xff00ULL) | 0xa500);
    assert_int_equal(r.rip, o.rip + v->len);

    o = r;
    step("mov r10w, word ptr [rbx]", &r, 0x12345678, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_R10], (o.gpr[10] & ~0xffffULL) | 0x5678);
    step("mov r11d, dword ptr [rbx]", &r, 0xffffffff87654321ULL, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_R11], 0x87654321ULL);
    step("mov rsp, qword ptr [rbx]", &r, 0xffffffff87654321ULL, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RSP], 0xffffffff87654321ULL);
    step("movzx rdi, word ptr [rbx]", &r, 0xffff8765, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0x8765);
    step("movsx rdi, byte ptr [rbx]", &r, 0x80, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0xffffffffffffff80ULL);
    o = r;
    step("movsx ax, byte ptr [ebx]", &r, 0x80, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RAX], (o.gpr[0] & ~0xffffULL) | 0xff80);
    step("movsxd r15, dword ptr [rbx]", &r, 0x80000000, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_R15], 0xffffffff80000000ULL);
    step("movsxd eax, dword ptr [rbx]", &r, 0x80000000, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0x80000000ULL);

    /* Stores: register (incl. high byte) and immediate. */
    o = r;
    step("mov byte ptr [rbx], bh", &r, 0, &e, &v, &d);
    assert_true(e.write);
    assert_int_equal(e.value, (o.gpr[VMIO_X86_RBX] >> 8) & 0xff);
    assert_memory_equal(r.gpr, o.gpr, sizeof(o.gpr));
    assert_int_equal(r.rip, o.rip + v->len);
    step("mov word ptr [rbx], r13w", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, o.gpr[13] & 0xffff);
    step("mov qword ptr [rbx], r13", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, o.gpr[13]);
    step("mov qword ptr [rbx], -2", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, 0xfffffffffffffffeULL);
    step("mov word ptr [rbx], 0xfedc", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, 0xfedc);
    step("movabs qword ptr [0x10], rax", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, r.gpr[0]);

    /* RIP wraps at 32 bits in 32-bit mode. */
    r.rip = 0xffffffff;
    step("mov al, byte ptr [ebx]", &r, 0x11, &e, &v, &d);
    assert_int_equal(r.rip, (uint64_t)v->len - 1);
}

static void test_emulate_alu(void **state)
{
    (void)state;
    struct vmio_x86_regs r, o;
    struct vmio_x86_effect e;
    struct vmio_x86_insn d;
    uint64_t res, f;

    /* Memory destination: the sum goes to memory, flags to RFLAGS. */
    regs_init(&r);
    r.gpr[VMIO_X86_RSI] = 1;
    o = r;
    step("add dword ptr [rbx], esi", &r, 0xffffffff, &e, NULL, &d);
    assert_true(e.write);
    assert_int_equal(e.value, 0);
    assert_int_equal(r.rflags & VMIO_X86_ARITH_FLAGS,
                     VMIO_X86_CF | VMIO_X86_ZF | VMIO_X86_PF | VMIO_X86_AF);
    assert_memory_equal(r.gpr, o.gpr, sizeof(o.gpr));

    /* Register destination, 8-bit high register. */
    r.gpr[VMIO_X86_RAX] = 0x0300;
    step("sub ah, byte ptr [ebx]", &r, 5, &e, NULL, &d);
    assert_false(e.write);
    assert_int_equal(r.gpr[VMIO_X86_RAX], 0xfe00);
    assert_true(r.rflags & VMIO_X86_CF);
    assert_true(r.rflags & VMIO_X86_SF);

    /* CMP operand order: cmp al, [m] is al - m; cmp [m], al is m - al. */
    r.gpr[VMIO_X86_RAX] = 1;
    o = r;
    step("cmp al, byte ptr [rbx]", &r, 2, &e, NULL, &d);
    assert_false(e.write);
    assert_true(r.rflags & VMIO_X86_CF);
    assert_memory_equal(r.gpr, o.gpr, sizeof(o.gpr));
    step("cmp byte ptr [rbx], al", &r, 2, &e, NULL, &d);
    assert_false(r.rflags & VMIO_X86_CF);
    assert_false(r.rflags & VMIO_X86_ZF);

    /* Immediates: 83 sign-extended, 81 imm32 at 64 bits; ADC/SBB use CF. */
    r.rflags = 0x2 | VMIO_X86_CF;
    step("adc qword ptr [rbx], -0x80", &r, 0x100, &e, NULL, &d);
    assert_int_equal(e.value, 0x81);
    r.rflags = 0x2 | VMIO_X86_CF;
    step("sbb word ptr [rbx], 0x1234", &r, 0x1234, &e, NULL, &d);
    assert_int_equal(e.value, 0xffff);
    f = vmio_x86_alu(VMIO_X86_OP_SBB, 2, 0x1234, 0x1234, 0x2 | VMIO_X86_CF, &res);
    assert_int_equal(r.rflags, f);
    step("or qword ptr [rbx], -0x12345678", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, (uint64_t)-0x12345678LL);
    step("xor rdx, qword ptr [rbx]", &r, r.gpr[VMIO_X86_RDX], &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RDX], 0);
    assert_true(r.rflags & VMIO_X86_ZF);
    r.gpr[VMIO_X86_RSI] = 0xffffffff00000000ULL | 0x0f;
    step("and esi, dword ptr [rbx]", &r, 0xff, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RSI], 0x0f); /* 32-bit result zero-extends */

    /* TEST only sets flags. */
    o = r;
    step("test dword ptr [rbx], 0x80000001", &r, 0x80000000, &e, NULL, &d);
    assert_false(e.write);
    assert_true(r.rflags & VMIO_X86_SF);
    assert_false(r.rflags & VMIO_X86_ZF);
    assert_memory_equal(r.gpr, o.gpr, sizeof(o.gpr));
    step("test byte ptr [rbx], bh", &r, 0, &e, NULL, &d);
    assert_true(r.rflags & VMIO_X86_ZF);

    /* XCHG: memory receives the register, the register the memory. */
    r.gpr[VMIO_X86_R10] = 0x1111222233334444ULL;
    step("xchg r10w, word ptr [rbx]", &r, 0xabcd, &e, NULL, &d);
    assert_true(e.write);
    assert_int_equal(e.value, 0x4444);
    assert_int_equal(r.gpr[VMIO_X86_R10], 0x111122223333abcdULL);
    r.gpr[VMIO_X86_RBX] = 0x1234;
    step("xchg byte ptr [rbx], bh", &r, 0x56, &e, NULL, &d);
    assert_int_equal(e.value, 0x12);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0x5634);
}

static void test_emulate_string(void **state)
{
    (void)state;
    struct vmio_x86_regs r;
    struct vmio_x86_effect e;
    struct vmio_x86_insn d;
    const struct x86_vector *v;

    regs_init(&r);
    r.gpr[VMIO_X86_RSI] = 0x1000;
    r.gpr[VMIO_X86_RDI] = 0x2000;
    step("movsd", &r, 0xfeedface12345678ULL, &e, &v, &d);
    assert_true(e.write && e.done);
    assert_int_equal(e.value, 0x12345678);
    assert_int_equal(r.gpr[VMIO_X86_RSI], 0x1004);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0x2004);
    assert_int_equal(r.rip, 0x100000 + v->len);

    /* DF = 1 walks down. */
    r.rflags |= VMIO_X86_DF;
    step("stosw", &r, 0, &e, NULL, &d);
    assert_int_equal(e.value, r.gpr[VMIO_X86_RAX] & 0xffff);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0x2002);
    r.rflags &= ~VMIO_X86_DF;

    /* REP: one element per step, RIP stays until RCX reaches 0. */
    r.rip = 0x5000;
    r.gpr[VMIO_X86_RCX] = 3;
    for (int i = 3; i > 0; i--) {
        step("rep movsq", &r, (uint64_t)i, &e, &v, &d);
        assert_true(e.write);
        assert_int_equal(e.value, (uint64_t)i);
        assert_int_equal(r.gpr[VMIO_X86_RCX], (uint64_t)i - 1);
        assert_int_equal(e.done, i == 1);
        assert_int_equal(r.rip, i == 1 ? 0x5000u + v->len : 0x5000u);
        assert_int_equal(vmio_x86_rep_count(&d, &r), (uint64_t)i - 1);
    }
    /* Count 0: nothing happens but RIP. */
    uint64_t rdi = r.gpr[VMIO_X86_RDI];
    step("rep stosb", &r, 0, &e, &v, &d);
    assert_true(e.skipped && e.done);
    assert_false(e.write);
    assert_int_equal(r.gpr[VMIO_X86_RDI], rdi);

    /* Address size 32: RDI/RCX wrap and zero-extend; 16-bit code merges. */
    r.gpr[VMIO_X86_RSI] = 0xffffffffffffffffULL;
    r.gpr[VMIO_X86_RCX] = 0xffffffff00000001ULL;
    step("addr32 rep movsd", &r, 7, &e, NULL, &d);
    assert_int_equal(r.gpr[VMIO_X86_RSI], 3);
    assert_int_equal(r.gpr[VMIO_X86_RCX], 0);
    r.gpr[VMIO_X86_RSI] = 0xabcdffff;
    r.gpr[VMIO_X86_RDI] = 0x1234fffe;
    r.gpr[VMIO_X86_RCX] = 0x10000;
    step("rep movs word ptr es:[di], word ptr [si]", &r, 7, &e, NULL, &d); /* 16-bit: CX = 0 */
    assert_true(e.skipped);
    r.gpr[VMIO_X86_RCX] = 0x10002;
    r.rip = 0x1fffe;
    step("rep movs word ptr es:[di], word ptr [si]", &r, 7, &e, &v, &d);
    assert_int_equal(r.gpr[VMIO_X86_RSI], 0xabcd0001);
    assert_int_equal(r.gpr[VMIO_X86_RDI], 0x12340000);
    assert_int_equal(r.gpr[VMIO_X86_RCX], 0x10001);
    assert_false(e.done);
    step("rep movs word ptr es:[di], word ptr [si]", &r, 7, &e, &v, &d);
    assert_true(e.done);
    assert_int_equal(r.rip, (0x1fffe + v->len) & 0xffff);
}

static void test_emulate_errors(void **state)
{
    (void)state;
    struct vmio_x86_regs r, o;
    struct vmio_x86_effect e;
    struct vmio_x86_insn d;
    regs_init(&r);
    o = r;
    decode_vec("add dword ptr [rbx], esi", &d);
    d.access.width = 3;
    assert_int_equal(vmio_x86_emulate(&d, &r, 0, &e), VMIO_DECODE_INVALID);
    decode_vec("add dword ptr [rbx], esi", &d);
    d.op = VMIO_X86_NOP;
    assert_int_equal(vmio_x86_emulate(&d, &r, 0, &e), VMIO_DECODE_INVALID);
    decode_vec("xchg qword ptr [rbx], r15", &d);
    d.access.reg = VMIO_REG_NONE;
    assert_int_equal(vmio_x86_emulate(&d, &r, 0, &e), VMIO_DECODE_INVALID);
    decode_vec("mov byte ptr [rbx], bh", &d);
    d.access.reg = VMIO_REG_NONE;
    assert_int_equal(vmio_x86_emulate(&d, &r, 0, &e), VMIO_DECODE_INVALID);
    assert_memory_equal(&r, &o, sizeof(r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_reg_rules),
        cmocka_unit_test(test_load_value),
        cmocka_unit_test(test_inject_read_and_in),
        FLAGS_TEST,
#if defined(__x86_64__) && defined(__SIZEOF_INT128__)
        cmocka_unit_test(test_reference_vs_host),
#endif
        cmocka_unit_test(test_alu_reference),
        cmocka_unit_test(test_emulate_mov),
        cmocka_unit_test(test_emulate_alu),
        cmocka_unit_test(test_emulate_string),
        cmocka_unit_test(test_emulate_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
