/*
 * x86 decoder tests over vectors assembled by GNU as (vectors.txt ->
 * x86_vectors.h): every field of every vector, every truncation of every
 * valid vector, LOCK on every valid vector, trailing bytes, and effective
 * addresses; plus structural invariants over random byte strings. Derived
 * encodings (a prefix added to assembled bytes) are the only bytes built
 * here; none is typed by hand except single prefix bytes.
 */
#include "x86_test.h"

static const char *gpr_name(uint8_t r)
{
    return r == VMIO_REG_NONE ? "none" : vmio_x86_reg_name(r, 8, false);
}

static int errors;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            errors++;                                                                              \
            printf("vectors.txt:%d: %s: ", v->line, v->text);                                      \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

static void check_vector(const struct x86_vector *v)
{
    struct vmio_x86_insn d;
    int rc = vmio_x86_decode(v->bytes, v->len, (enum vmio_x86_mode)v->mode, &d);
    CHECK(rc == v->rc, "status %s (%s), expected %s", vmio_decode_status_name(rc),
          d.reason ? d.reason : "", vmio_decode_status_name(v->rc));
    if (rc != VMIO_DECODE_OK) {
        CHECK(d.reason != NULL, "no reason on error");
        return;
    }
    if (v->rc != VMIO_DECODE_OK)
        return;
    const struct vmio_access *a = &d.access;
    CHECK(d.reason == NULL, "reason set on success");
    CHECK(d.len == v->len, "len %u, expected %u", d.len, v->len);
    CHECK(a->space == VMIO_SPACE_MMIO && a->count == 1 && a->buf == NULL && a->addr == 0,
          "space/count/buf/addr");
    CHECK(a->dir == v->dir, "dir %u", a->dir);
    CHECK(a->width == v->width, "width %u, expected %d", a->width, v->width);
    const char *reg =
        a->reg == VMIO_REG_NONE ? "none" : vmio_x86_reg_name(a->reg, a->reg_width, d.high_byte);
    CHECK(strcmp(reg, v->reg) == 0, "reg %s, expected %s", reg, v->reg);
    CHECK(a->sign_extend == (v->sx != 0), "sign_extend %d", a->sign_extend);
    CHECK(strcmp(vmio_x86_op_name((enum vmio_x86_op)d.op), v->op) == 0, "op %s, expected %s",
          vmio_x86_op_name((enum vmio_x86_op)d.op), v->op);
    CHECK(d.has_imm == (v->has_imm != 0), "has_imm %d", d.has_imm);
    if (v->has_imm) {
        uint64_t want = a->width >= 8 ? v->imm : v->imm & ((1ULL << (8 * a->width)) - 1);
        CHECK(d.imm == want, "imm 0x%llx, expected 0x%llx", (unsigned long long)d.imm,
              (unsigned long long)want);
        if (d.op == VMIO_X86_OP_MOV)
            CHECK(a->data == want, "data 0x%llx", (unsigned long long)a->data);
    }
    CHECK(d.string == (v->str != 0), "string %d", d.string);
    CHECK(d.rep == (v->rep != 0), "rep %d", d.rep);
    CHECK(d.reads_mem == (v->rd != 0), "reads_mem %d", d.reads_mem);
    CHECK(d.writes_mem == (v->wr != 0), "writes_mem %d", d.writes_mem);
    CHECK(d.lock == (v->lock != 0), "lock %d", d.lock);
    CHECK(strcmp(gpr_name(d.mem.base), v->base) == 0, "base %s, expected %s", gpr_name(d.mem.base),
          v->base);
    CHECK(strcmp(gpr_name(d.mem.index), v->index) == 0, "index %s, expected %s",
          gpr_name(d.mem.index), v->index);
    CHECK(d.mem.scale == v->scale, "scale %u", d.mem.scale);
    CHECK(d.mem.disp == v->disp, "disp 0x%llx, expected 0x%llx", (unsigned long long)d.mem.disp,
          (unsigned long long)v->disp);
    CHECK(d.mem.rip_relative == (v->rip != 0), "rip_relative %d", d.mem.rip_relative);
    CHECK(d.mem.seg == v->seg, "seg %u, expected %d", d.mem.seg, v->seg);
    CHECK(d.mem.seg_override == (v->ovr != 0), "seg_override %d", d.mem.seg_override);
    CHECK(d.mem.addr_size == v->asz, "addr_size %u, expected %d", d.mem.addr_size, v->asz);
    if (d.op == VMIO_X86_OP_MOVS) {
        CHECK(d.mem2.base == VMIO_X86_RDI && d.mem2.seg == VMIO_X86_SEG_ES &&
                  !d.mem2.seg_override && d.mem2.addr_size == v->asz &&
                  d.mem2.index == VMIO_REG_NONE && d.mem2.disp == 0,
              "MOVS destination");
    } else {
        CHECK(d.mem2.base == VMIO_REG_NONE && d.mem2.index == VMIO_REG_NONE, "mem2 set");
    }
    if (d.op == VMIO_X86_OP_MOVZX || d.op == VMIO_X86_OP_MOVSX)
        CHECK(d.opsize == a->reg_width, "opsize %u", d.opsize);
    else
        CHECK(d.opsize == a->width, "opsize %u", d.opsize);
    if (a->reg != VMIO_REG_NONE && !d.high_byte && d.op != VMIO_X86_OP_MOVZX &&
        d.op != VMIO_X86_OP_MOVSX)
        CHECK(a->reg_width == a->width, "reg_width %u", a->reg_width);

    /* Every shorter prefix of a valid instruction is truncated. */
    for (uint8_t n = 0; n < v->len; n++) {
        struct vmio_x86_insn t;
        rc = vmio_x86_decode(v->bytes, n, (enum vmio_x86_mode)v->mode, &t);
        CHECK(rc == VMIO_DECODE_TRUNCATED, "%u of %u bytes: %s", n, v->len,
              vmio_decode_status_name(rc));
        CHECK(t.reason != NULL, "no reason for truncation");
    }
    /* Trailing bytes are never consumed. */
    uint8_t padded[15];
    memset(padded, 0xCC, sizeof(padded));
    memcpy(padded, v->bytes, v->len);
    struct vmio_x86_insn p;
    rc = vmio_x86_decode(padded, sizeof(padded), (enum vmio_x86_mode)v->mode, &p);
    CHECK(rc == VMIO_DECODE_OK && p.len == v->len && memcmp(&p, &d, sizeof(d)) == 0,
          "trailing bytes change the decode");

    /* LOCK is accepted exactly on read-modify-write ALU forms and XCHG. */
    if (v->len < 15) {
        uint8_t locked[15];
        locked[0] = 0xF0;
        memcpy(locked + 1, v->bytes, v->len);
        struct vmio_x86_insn l;
        rc = vmio_x86_decode(locked, v->len + 1u, (enum vmio_x86_mode)v->mode, &l);
        bool lockable = d.writes_mem && d.reads_mem && !d.string;
        CHECK(rc == (lockable ? VMIO_DECODE_OK : VMIO_DECODE_INVALID), "with LOCK: %s",
              vmio_decode_status_name(rc));
        if (lockable)
            CHECK(l.lock && l.len == v->len + 1, "LOCK form");
    }
}

static void test_vectors(void **state)
{
    (void)state;
    errors = 0;
    size_t ok = 0;
    for (size_t i = 0; i < NVEC; i++) {
        check_vector(&x86_vectors[i]);
        ok += x86_vectors[i].rc == VMIO_DECODE_OK;
    }
    printf("%zu vectors (%zu valid), %d mismatches\n", NVEC, ok, errors);
    assert_int_equal(errors, 0);
}

static void test_prefix_rules(void **state)
{
    (void)state;
    struct vmio_x86_insn d;
    /* A REX followed by a legacy prefix is ignored: 4C 66 8B 0B is mov cx, [rbx]. */
    const struct x86_vector *v = find("mov r9, qword ptr [rbx]");
    assert_int_equal(v->len, 3);
    uint8_t b[15] = {v->bytes[0], 0x66, v->bytes[1], v->bytes[2]};
    assert_int_equal(vmio_x86_decode(b, 4, VMIO_X86_MODE_64, &d), VMIO_DECODE_OK);
    assert_string_equal(vmio_x86_reg_name(d.access.reg, d.access.reg_width, d.high_byte), "cx");
    assert_false(d.rex);
    assert_int_equal(d.len, 4);

    /* The same bytes in 32-bit mode: 4C is DEC ESP. */
    assert_int_equal(vmio_x86_decode(v->bytes, v->len, VMIO_X86_MODE_32, &d),
                     VMIO_DECODE_UNSUPPORTED);

    /* 16 bytes (14 operand-size prefixes + mov) are too long. */
    v = find("mov eax, dword ptr [rbx]");
    uint8_t longi[16];
    memset(longi, 0x66, 14);
    memcpy(longi + 14, v->bytes, 2);
    assert_int_equal(vmio_x86_decode(longi, 16, VMIO_X86_MODE_64, &d), VMIO_DECODE_INVALID);
    /* 13 of them + mov = 15 bytes is fine. */
    assert_int_equal(vmio_x86_decode(longi + 1, 15, VMIO_X86_MODE_64, &d), VMIO_DECODE_OK);
    assert_int_equal(d.len, 15);
    assert_int_equal(d.access.width, 2);

    /* Opcode 82 (an alias of 80) outside 64-bit mode only. */
    v = find("add byte ptr [rbx], 0x81");
    memcpy(b, v->bytes, v->len);
    assert_int_equal(b[0], 0x80);
    b[0] = 0x82;
    assert_int_equal(vmio_x86_decode(b, v->len, VMIO_X86_MODE_64, &d), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_decode(b, v->len, VMIO_X86_MODE_32, &d), VMIO_DECODE_OK);
    assert_int_equal(d.op, VMIO_X86_OP_ADD);
    assert_int_equal(d.imm, 0x81);

    /* Last segment override wins; F2 on STOS is a REP. */
    v = find("mov eax, dword ptr fs:[rbx]");
    b[0] = 0x65;
    memcpy(b + 1, v->bytes, v->len);
    assert_int_equal(vmio_x86_decode(b, v->len + 1u, VMIO_X86_MODE_64, &d), VMIO_DECODE_OK);
    assert_int_equal(d.mem.seg, VMIO_X86_SEG_FS);

    /* Bad mode and NULL bytes. */
    assert_int_equal(vmio_x86_decode(v->bytes, v->len, (enum vmio_x86_mode)7, &d),
                     VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_decode(NULL, 5, VMIO_X86_MODE_64, &d), VMIO_DECODE_TRUNCATED);
}

static uint64_t ea_of(const char *text, const struct vmio_x86_regs *r, const uint64_t *seg,
                      bool second)
{
    const struct x86_vector *v = find(text);
    struct vmio_x86_insn d;
    assert_int_equal(vmio_x86_decode(v->bytes, v->len, (enum vmio_x86_mode)v->mode, &d),
                     VMIO_DECODE_OK);
    return vmio_x86_linear_address(&d, second ? &d.mem2 : &d.mem, r, seg);
}

static void test_effective_address(void **state)
{
    (void)state;
    struct vmio_x86_regs r;
    memset(&r, 0, sizeof(r));
    uint64_t seg[VMIO_X86_NSEG] = {0x1000000, 0x2000000,         0x3000000,
                                   0x4000000, 0x7f0000000000ULL, 0xffff800000000000ULL};
    r.gpr[VMIO_X86_R13] = 0x1000;
    r.gpr[VMIO_X86_R14] = 0x10;
    assert_int_equal(ea_of("mov ecx, dword ptr [r13+r14*2+0x12345678]", &r, NULL, false),
                     0x12346698);
    /* Segment bases other than FS/GS are ignored in 64-bit mode. */
    assert_int_equal(ea_of("mov ecx, dword ptr [r13+r14*2+0x12345678]", &r, seg, false),
                     0x12346698);
    r.gpr[VMIO_X86_RBX] = 0x123;
    assert_int_equal(ea_of("mov eax, dword ptr fs:[rbx]", &r, seg, false), 0x7f0000000123ULL);
    assert_int_equal(ea_of("mov eax, dword ptr es:[rbx]", &r, seg, false), 0x123);
    assert_int_equal(ea_of("add dword ptr gs:[0x30], 1", &r, seg, false), 0xffff800000000030ULL);
    /* Negative displacement and no base. */
    r.gpr[VMIO_X86_R9] = 0x40;
    assert_int_equal(ea_of("mov ecx, dword ptr [r9*8-0x100]", &r, NULL, false), 0x100);
    assert_int_equal(ea_of("mov ecx, dword ptr [0xfffffffff0000000]", &r, NULL, false),
                     0xfffffffff0000000ULL);
    /* RIP-relative: from the next instruction. */
    r.rip = 0x400000;
    const struct x86_vector *v = find("mov rcx, qword ptr [rip+0x100]");
    assert_int_equal(ea_of(v->text, &r, NULL, false), 0x400000 + v->len + 0x100);
    v = find("mov byte ptr [rip-0x80000000], r8b");
    assert_int_equal(ea_of(v->text, &r, NULL, false), 0x400000ULL + v->len - 0x80000000ULL);
    /* 67: EIP-relative and 32-bit truncation. */
    r.rip = 0xfffffff0;
    v = find("mov eax, dword ptr [eip+0x10]");
    assert_int_equal(ea_of(v->text, &r, NULL, false), (0xfffffff0ULL + v->len + 0x10) & 0xffffffff);
    r.gpr[VMIO_X86_RBX] = 0xffffffff00001000ULL;
    assert_int_equal(ea_of("mov eax, dword ptr [ebx]", &r, NULL, false), 0x1000);
    r.gpr[VMIO_X86_RSP] = 0xfffffffe;
    assert_int_equal(ea_of("mov eax, dword ptr [esp+4]", &r, NULL, false), 2);
    /* moffs */
    assert_int_equal(ea_of("movabs eax, dword ptr [0xd0000000]", &r, NULL, false), 0xd0000000);
    assert_int_equal(ea_of("movabs eax, dword ptr gs:[0x20]", &r, seg, false),
                     0xffff800000000020ULL);
    /* String operands. */
    r.gpr[VMIO_X86_RSI] = 0x5000;
    r.gpr[VMIO_X86_RDI] = 0x6000;
    assert_int_equal(ea_of("fs movsb", &r, seg, false), 0x7f0000005000ULL);
    assert_int_equal(ea_of("fs movsb", &r, seg, true), 0x6000);
    r.gpr[VMIO_X86_RDI] = 0x100000006000ULL;
    assert_int_equal(ea_of("addr32 stosw", &r, seg, false), 0x6000);

    /* 32-bit mode: every segment base counts; 32-bit wrap. */
    r.gpr[VMIO_X86_RBX] = 0xfffff000;
    assert_int_equal(ea_of("mov al, byte ptr [ebx]", &r, seg, false), 0x3fff000);
    assert_int_equal(ea_of("mov eax, dword ptr fs:[ebx]", &r, seg, false), 0xfffff000);
    r.gpr[VMIO_X86_RBP] = 0x100;
    r.gpr[VMIO_X86_RAX] = 0x10;
    assert_int_equal(ea_of("mov eax, dword ptr [ebp+eax*4-4]", &r, seg, false), 0x300013c);
    /* 16-bit addressing wraps at 64 KiB. */
    r.gpr[VMIO_X86_RBP] = 0xfff0;
    r.gpr[VMIO_X86_RDI] = 0x10;
    assert_int_equal(ea_of("mov eax, dword ptr [bp+di+0x10]", &r, seg, false), 0x3000010);
    r.gpr[VMIO_X86_RBX] = 0x8000;
    r.gpr[VMIO_X86_RSI] = 0x8001;
    assert_int_equal(ea_of("mov ax, word ptr [bx+si]", &r, NULL, false), 1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(vmio_x86_reg_name(0, 1, true), "ah");
    assert_string_equal(vmio_x86_reg_name(3, 1, true), "bh");
    assert_string_equal(vmio_x86_reg_name(4, 1, true), "?");
    assert_string_equal(vmio_x86_reg_name(4, 1, false), "spl");
    assert_string_equal(vmio_x86_reg_name(8, 1, false), "r8b");
    assert_string_equal(vmio_x86_reg_name(8, 2, false), "r8w");
    assert_string_equal(vmio_x86_reg_name(8, 4, false), "r8d");
    assert_string_equal(vmio_x86_reg_name(8, 8, false), "r8");
    assert_string_equal(vmio_x86_reg_name(16, 8, false), "?");
    assert_string_equal(vmio_x86_reg_name(0, 3, false), "?");
    assert_string_equal(vmio_x86_op_name(VMIO_X86_OP_XCHG), "xchg");
    assert_string_equal(vmio_x86_op_name((enum vmio_x86_op)99), "?");
    assert_int_equal(vmio_x86_mode_from_cs(true, true, false), VMIO_X86_MODE_64);
    assert_int_equal(vmio_x86_mode_from_cs(true, false, true), VMIO_X86_MODE_32);
    assert_int_equal(vmio_x86_mode_from_cs(false, true, false), VMIO_X86_MODE_16);
}

/* ---- random byte strings: structural invariants (run under ASan/UBSan too) ---- */

static uint64_t fuzz_state = 0x243f6a8885a308d3ULL;
static uint8_t fuzz_byte(void)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return (uint8_t)(fuzz_state >> 24);
}

static void test_random_bytes(void **state)
{
    (void)state;
    static const uint8_t prefixes[] = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E,
                                       0x36, 0x3E, 0x26, 0x64, 0x65, 0x48};
    static const uint8_t opcodes[] = {0x00, 0x01, 0x02, 0x03, 0x08, 0x11, 0x1A, 0x23, 0x29, 0x30,
                                      0x39, 0x3B, 0x63, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                      0x87, 0x88, 0x89, 0x8A, 0x8B, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4,
                                      0xA5, 0xAA, 0xAB, 0xC6, 0xC7, 0xF6, 0xF7, 0x0F};
    unsigned ok = 0, counts[4] = {0};
    for (unsigned n = 0; n < 400000; n++) {
        uint8_t b[15];
        for (unsigned i = 0; i < 15; i++)
            b[i] = fuzz_byte();
        unsigned pos = 0, np = fuzz_byte() % 5;
        for (unsigned i = 0; i < np; i++)
            b[pos++] = prefixes[fuzz_byte() % sizeof(prefixes)];
        if (fuzz_byte() & 1)
            b[pos++] = (uint8_t)(0x40 | (fuzz_byte() & 15));
        if (fuzz_byte() % 4 != 0)
            b[pos++] = opcodes[fuzz_byte() % sizeof(opcodes)];
        if (pos && b[pos - 1] == 0x0F)
            b[pos] = (uint8_t)(0xB6 | (fuzz_byte() & 1) | ((fuzz_byte() & 1) << 3));
        enum vmio_x86_mode mode = (enum vmio_x86_mode)(fuzz_byte() % 3);
        struct vmio_x86_insn d, e;
        int rc = vmio_x86_decode(b, sizeof(b), mode, &d);
        assert_true(rc == VMIO_DECODE_OK || rc == VMIO_DECODE_INVALID ||
                    rc == VMIO_DECODE_UNSUPPORTED);
        counts[-rc]++;
        if (rc != VMIO_DECODE_OK) {
            assert_non_null(d.reason);
            continue;
        }
        ok++;
        const struct vmio_access *a = &d.access;
        assert_null(d.reason);
        assert_true(d.len >= 1 && d.len <= 15);
        assert_true(a->width == 1 || a->width == 2 || a->width == 4 || a->width == 8);
        assert_true(a->reg == VMIO_REG_NONE || a->reg < 16);
        assert_true(!d.high_byte || (a->reg < 4 && a->width == 1 && !d.rex));
        assert_true(d.reads_mem || d.writes_mem);
        assert_int_equal(a->dir, d.reads_mem ? VMIO_READ : VMIO_WRITE);
        assert_true(d.mem.addr_size == 2 || d.mem.addr_size == 4 || d.mem.addr_size == 8);
        assert_true(d.mem.seg < VMIO_X86_NSEG);
        assert_true(!d.mem.rip_relative || mode == VMIO_X86_MODE_64);
        assert_true(!d.rex || mode == VMIO_X86_MODE_64);
        /* Exactly len bytes decode the same; one fewer is truncated. */
        assert_int_equal(vmio_x86_decode(b, d.len, mode, &e), VMIO_DECODE_OK);
        assert_memory_equal(&d, &e, sizeof(d));
        assert_int_equal(vmio_x86_decode(b, d.len - 1u, mode, &e), VMIO_DECODE_TRUNCATED);
        /* The emulation step accepts every successful decode. */
        struct vmio_x86_regs r;
        memset(&r, 0, sizeof(r));
        r.gpr[VMIO_X86_RCX] = 1;
        struct vmio_x86_effect eff;
        assert_int_equal(vmio_x86_emulate(&d, &r, 0x8000000000001234ULL, &eff), VMIO_DECODE_OK);
        assert_true(eff.write == (d.writes_mem && d.op != VMIO_X86_OP_CMP) || eff.skipped);
    }
    printf("random: %u ok, %u invalid, %u unsupported\n", ok, counts[2], counts[3]);
    assert_true(ok > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),           cmocka_unit_test(test_prefix_rules),
        cmocka_unit_test(test_effective_address), cmocka_unit_test(test_names),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
