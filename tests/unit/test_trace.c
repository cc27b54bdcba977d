/*
 * The trace's instruction view without KVM (src/core/trace.c): the Intel-
 * syntax formatter over decoded instructions of every form, and the fetch
 * (mode from CS, page walk, page-crossing instructions, code outside RAM,
 * unmapped code, the verified decode cache with self-modifying code) over a
 * guest-memory object with a hole, and vmio_trace_exit_insn() with a fake
 * register accessor (writes, register errors, RIP from the exit or the
 * registers). Bytes are given by hand here; the decoder itself is tested
 * against assembled vectors in tests/decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "core/trace.h"

static const char *fmt(enum vmio_x86_mode mode, const char *hex)
{
    uint8_t b[VMIO_X86_MAX_INSN];
    size_t n = 0;
    for (const char *p = hex; *p && n < sizeof(b);) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        b[n++] = (uint8_t)v;
        p += 2;
    }
    struct vmio_x86_insn insn;
    assert_int_equal(vmio_x86_decode(b, n, mode, &insn), VMIO_DECODE_OK);
    static char buf[128];
    int len = vmio_insn_format(&insn, buf, sizeof(buf));
    assert_int_equal((size_t)len, strlen(buf));
    return buf;
}

static void test_format(void **state)
{
    (void)state;
    const enum vmio_x86_mode m64 = VMIO_X86_MODE_64;
    assert_string_equal(fmt(m64, "8b 43 08"), "mov eax, dword [rbx+0x8]");
    assert_string_equal(fmt(m64, "89 43 f8"), "mov dword [rbx-0x8], eax");
    assert_string_equal(fmt(m64, "c7 03 34 12 00 00"), "mov dword [rbx], 0x1234");
    assert_string_equal(fmt(m64, "c6 00 ff"), "mov byte [rax], 0xff");
    assert_string_equal(fmt(m64, "0f b6 0e"), "movzx ecx, byte [rsi]");
    assert_string_equal(fmt(m64, "48 0f bf 07"), "movsx rax, word [rdi]");
    assert_string_equal(fmt(m64, "48 63 07"), "movsx rax, dword [rdi]");
    assert_string_equal(fmt(m64, "83 03 05"), "add dword [rbx], 0x5");
    assert_string_equal(fmt(m64, "83 3b ff"), "cmp dword [rbx], 0xffffffff");
    assert_string_equal(fmt(m64, "03 03"), "add eax, dword [rbx]");
    assert_string_equal(fmt(m64, "01 03"), "add dword [rbx], eax");
    assert_string_equal(fmt(m64, "85 03"), "test dword [rbx], eax");
    assert_string_equal(fmt(m64, "f0 48 87 08"), "lock xchg qword [rax], rcx");
    assert_string_equal(fmt(m64, "f3 a4"), "rep movs byte [rdi], [rsi]");
    assert_string_equal(fmt(m64, "66 a5"), "movs word [rdi], [rsi]");
    assert_string_equal(fmt(m64, "64 a4"), "movs byte [rdi], [fs:rsi]");
    assert_string_equal(fmt(m64, "67 48 a5"), "movs qword [edi], [esi]");
    assert_string_equal(fmt(m64, "f3 48 ab"), "rep stos qword [rdi], rax");
    assert_string_equal(fmt(m64, "8a 63 01"), "mov ah, byte [rbx+0x1]");
    assert_string_equal(fmt(m64, "40 8a 3f"), "mov dil, byte [rdi]");
    assert_string_equal(fmt(m64, "66 44 8b 4c 24 10"), "mov r9w, word [rsp+0x10]");
    assert_string_equal(fmt(m64, "64 8b 04 8b"), "mov eax, dword [fs:rbx+rcx*4]");
    assert_string_equal(fmt(m64, "8b 04 4d 00 01 00 00"), "mov eax, dword [rcx*2+0x100]");
    assert_string_equal(fmt(m64, "8b 05 10 00 00 00"), "mov eax, dword [rip+0x10]");
    assert_string_equal(fmt(m64, "48 a1 08 00 00 d0 00 00 00 00"), "mov rax, qword [0xd0000008]");
    assert_string_equal(fmt(m64, "67 8b 03"), "mov eax, dword [ebx]");
    assert_string_equal(fmt(VMIO_X86_MODE_32, "8b 43 08"), "mov eax, dword [ebx+0x8]");
    assert_string_equal(fmt(VMIO_X86_MODE_16, "8b 00"), "mov ax, word [bx+si]");
    assert_string_equal(fmt(VMIO_X86_MODE_16, "8b 46 fe"), "mov ax, word [bp-0x2]");

    /* A short buffer: truncated, terminated, and the full length returned. */
    struct vmio_x86_insn insn;
    const uint8_t b[] = {0x8b, 0x43, 0x08};
    assert_int_equal(vmio_x86_decode(b, sizeof(b), m64, &insn), VMIO_DECODE_OK);
    char small[8];
    int n = vmio_insn_format(&insn, small, sizeof(small));
    assert_int_equal(n, (int)strlen("mov eax, dword [rbx+0x8]"));
    assert_string_equal(small, "mov eax");
    assert_int_equal(vmio_insn_format(&insn, NULL, 0), n);
}

/* Guest RAM: [0, RAM_SIZE) except the page at HOLE (two regions over one buffer). */
#define RAM_SIZE 0x10000u
#define HOLE 0x9000u
static uint8_t ram[RAM_SIZE];
static struct vmio_guest_mem *mem;

static int make_mem(void **state)
{
    (void)state;
    struct vmio_mem_region lo = {.gpa = 0, .size = HOLE, .host = ram, .name = "lo"};
    struct vmio_mem_region hi = {
        .gpa = HOLE + 0x1000, .size = RAM_SIZE - HOLE - 0x1000, .host = ram + HOLE + 0x1000};
    if (vmio_guest_mem_create(&mem, NULL) || vmio_guest_mem_add(mem, &lo, NULL) ||
        vmio_guest_mem_add(mem, &hi, NULL))
        return -1;
    return 0;
}

static int free_mem(void **state)
{
    (void)state;
    vmio_guest_mem_destroy(mem);
    return 0;
}

static struct vmio_x86_sregs flat32(void)
{
    struct vmio_x86_sregs s;
    memset(&s, 0, sizeof(s));
    s.cr0 = 1; /* PE, paging off */
    s.cs.db = 1;
    return s;
}

static void describe(const struct vmio_insn_view *v, char *buf, size_t size)
{
    int n = vmio_insn_describe(v, buf, size);
    assert_int_equal((size_t)n, strlen(buf));
}

static void test_fetch_flat(void **state)
{
    (void)state;
    static struct vmio_insn_cache c;
    vmio_insn_cache_init(&c);
    struct vmio_x86_sregs s = flat32();
    struct vmio_insn_view v;
    char line[256];
    memset(ram, 0x90, sizeof(ram));

    memcpy(ram + 0x100, "\x8b\x43\x08", 3);
    vmio_insn_fetch(&c, &s, 0x100, mem, &v);
    assert_true(v.ok);
    assert_int_equal(v.gpa, 0x100);
    assert_int_equal(v.nbytes, 3);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)");
    assert_int_equal(c.cache.misses, 1);
    vmio_insn_fetch(&c, &s, 0x100, mem, &v);
    assert_true(v.ok);
    assert_int_equal(c.cache.hits, 1);

    /* Self-modifying code: the cached decode is never returned for new bytes. */
    memcpy(ram + 0x100, "\x0f\xb6\x0e", 3);
    vmio_insn_fetch(&c, &s, 0x100, mem, &v);
    assert_true(v.ok);
    assert_int_equal(c.cache.stale, 1);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn \"movzx ecx, byte [esi]\" (0f b6 0e)");
    assert_int_equal(v.insn.op, VMIO_X86_OP_MOVZX);

    /* CS base applies outside 64-bit mode; 16-bit code wraps IP at 64 KiB. */
    s.cs.base = 0x1000;
    memcpy(ram + 0x1010, "\x8b\x03", 2);
    vmio_insn_fetch(&c, &s, 0x10, mem, &v);
    assert_true(v.ok);
    assert_int_equal(v.gpa, 0x1010);
    s.cs.db = 0;
    vmio_insn_fetch(&c, &s, 0x10010, mem, &v);
    assert_true(v.ok);
    assert_int_equal(v.insn.mode, VMIO_X86_MODE_16);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn \"mov ax, word [bp+di]\" (8b 03)");
    s = flat32();

    /* An instruction across a page boundary: both pages read, not cached. */
    uint64_t uncached = c.uncached;
    memcpy(ram + 0x1ffe, "\x8b\x43\x08", 3);
    vmio_insn_fetch(&c, &s, 0x1ffe, mem, &v);
    assert_true(v.ok);
    assert_int_equal(v.insn.len, 3);
    assert_int_equal(c.uncached, uncached + 1);

    /* ... and into a page that is not RAM. */
    memcpy(ram + 0x8fff, "\x8b", 1);
    vmio_insn_fetch(&c, &s, 0x8fff, mem, &v);
    assert_false(v.ok);
    describe(&v, line, sizeof(line));
    assert_string_equal(line,
                        " insn ? (instruction crosses a page: code at gpa 0x9000 is not guest RAM)"
                        " (8b)");
    /* A one-byte tail that decodes on its own needs no second page. */
    memcpy(ram + 0x8ffe, "\xf3\xa4", 2);
    vmio_insn_fetch(&c, &s, 0x8ffe, mem, &v);
    assert_true(v.ok);

    /* Code outside RAM, and past the end of it. */
    vmio_insn_fetch(&c, &s, 0x9010, mem, &v);
    assert_false(v.ok);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn ? (code at gpa 0x9010 is not guest RAM)");
    vmio_insn_fetch(&c, &s, 0xd0000000, mem, &v);
    assert_false(v.ok);

    /* Undecodable: the reason and the bytes. */
    memcpy(ram + 0x200, "\x0f\x28\x03", 3);
    vmio_insn_fetch(&c, &s, 0x200, mem, &v);
    assert_false(v.ok);
    describe(&v, line, sizeof(line));
    assert_non_null(strstr(line, " insn ? (unsupported: "));
    assert_non_null(strstr(line, ") (0f 28 03 90 90 90 90 90 90 90 90 90 90 90 90)"));

    /* Without a cache. */
    vmio_insn_fetch(NULL, &s, 0x100, mem, &v);
    assert_true(v.ok);
}

static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8);
}

static void test_fetch_long_mode(void **state)
{
    (void)state;
    static struct vmio_insn_cache c;
    vmio_insn_cache_init(&c);
    memset(ram, 0, sizeof(ram));
    /* PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; linear 0x400000 + i*4K -> 0x5000 +
     * i*4K. */
    put64(0x1000, 0x2000 | 3);
    put64(0x2000, 0x3000 | 3);
    put64(0x3000 + 2 * 8, 0x4000 | 3);
    put64(0x4000, 0x5000 | 3);
    put64(0x4008, 0x7000 | 3); /* not contiguous: the second page is translated on its own */
    struct vmio_x86_sregs s;
    memset(&s, 0, sizeof(s));
    s.cr0 = 0x80000001;
    s.cr4 = 0x20;
    s.efer = 0x500;
    s.cr3 = 0x1000;
    s.cs.l = 1;
    s.cs.base = 0x12345; /* ignored in 64-bit mode */

    memcpy(ram + 0x5ffd, "\x48\x8b\x43", 3);
    ram[0x7000] = 0x08;
    struct vmio_insn_view v;
    char line[256];
    vmio_insn_fetch(&c, &s, 0x400ffd, mem, &v);
    assert_true(v.ok);
    assert_int_equal(v.gpa, 0x5ffd);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn \"mov rax, qword [rbx+0x8]\" (48 8b 43 08)");

    /* The next linear page is not mapped. */
    memcpy(ram + 0x7ffe, "\x48\x8b", 2);
    vmio_insn_fetch(&c, &s, 0x401ffe, mem, &v);
    assert_false(v.ok);
    describe(&v, line, sizeof(line));
    assert_string_equal(line,
                        " insn ? (instruction crosses a page: linear 0x402000 is not mapped by the "
                        "guest's page tables) (48 8b)");
    vmio_insn_fetch(&c, &s, 0x800000, mem, &v);
    assert_false(v.ok);
    describe(&v, line, sizeof(line));
    assert_string_equal(line, " insn ? (linear 0x800000 is not mapped by the guest's page tables)");

    /* Page tables pointing outside RAM fail cleanly. */
    s.cr3 = 0xfffff000;
    vmio_insn_fetch(&c, &s, 0x400000, mem, &v);
    assert_false(v.ok);
}

/* A register accessor with canned answers. */
struct canned_regs {
    struct vmio_x86_sregs s;
    uint64_t rip;
    int sregs_rc, regs_rc;
    unsigned regs_calls;
};

static int canned_sregs(void *ctx, struct vmio_x86_sregs *s)
{
    struct canned_regs *c = ctx;
    *s = c->s;
    return c->sregs_rc;
}

static int canned_get_regs(void *ctx, struct vmio_x86_regs *r)
{
    struct canned_regs *c = ctx;
    c->regs_calls++;
    memset(r, 0, sizeof(*r));
    r->rip = c->rip;
    return c->regs_rc;
}

static void test_exit_insn(void **state)
{
    (void)state;
    memset(ram, 0x90, sizeof(ram));
    memcpy(ram + 0x300, "\x8b\x43\x08", 3);
    struct canned_regs c = {.s = flat32(), .rip = 0x300};
    struct vmio_trace_regs regs = {
        .get_sregs = canned_sregs, .get_regs = canned_get_regs, .ctx = &c};
    struct vmio_exit e = {.reason = VMIO_EXIT_IO,
                          .access = {.space = VMIO_SPACE_MMIO, .dir = VMIO_READ, .width = 4}};
    struct vmio_insn_cache *cache = NULL;
    char buf[256];

    /* RIP 0 in the exit: asked from the registers; the cache is allocated on first use. */
    vmio_trace_exit_insn(&cache, mem, &regs, &e, buf, sizeof(buf));
    assert_string_equal(buf, " insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)");
    assert_int_equal(c.regs_calls, 1);
    assert_non_null(cache);
    /* RIP in the exit (sync regs): no register read. */
    e.ip = 0x300;
    c.rip = 0x5000; /* would decode something else */
    vmio_trace_exit_insn(&cache, mem, &regs, &e, buf, sizeof(buf));
    assert_string_equal(buf, " insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)");
    assert_int_equal(c.regs_calls, 1);
    assert_int_equal(cache->cache.hits, 1);
    /* Writes: the instruction is already done. */
    e.access.dir = VMIO_WRITE;
    vmio_trace_exit_insn(&cache, mem, &regs, &e, buf, sizeof(buf));
    assert_string_equal(buf, " insn -");
    e.access.dir = VMIO_READ;
    /* Register errors become text. */
    c.sregs_rc = -EIO;
    vmio_trace_exit_insn(&cache, mem, &regs, &e, buf, sizeof(buf));
    assert_non_null(strstr(buf, " insn ? (cannot read the segment registers: "));
    c.sregs_rc = 0;
    c.regs_rc = -EBADF;
    e.ip = 0;
    vmio_trace_exit_insn(&cache, mem, &regs, &e, buf, sizeof(buf));
    assert_non_null(strstr(buf, " insn ? (cannot read RIP: "));
    free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_fetch_flat),
        cmocka_unit_test(test_fetch_long_mode),
        cmocka_unit_test(test_exit_insn),
    };
    return cmocka_run_group_tests(tests, make_mem, free_mem);
}
