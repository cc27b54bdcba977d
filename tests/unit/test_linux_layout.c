/*
 * Linux boot layout tests (pure, no KVM): where the kernel, initrd, command
 * line and low-memory structures go for the synthetic image of
 * bzimage_fixture.h, with plain RAM, RAM with a gap, RAM above 4 GiB,
 * reserved ranges, a non-relocatable kernel and the 32-bit entry; and
 * every refusal (initrd too large, kernel larger than RAM, command line too
 * long, low memory missing or reserved, invalid ranges) with its message.
 * Each successful layout is also checked against the invariants: every span
 * in RAM, outside reserved ranges, below 4 GiB, nothing overlapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "bzimage_fixture.h"
#include "vmio/linux_boot.h"

#define MiB 0x100000ULL
#define GiB 0x40000000ULL

static uint8_t img[FX_SIZE];

static struct vmio_bzimage image(void)
{
    fx_make(img);
    struct vmio_bzimage bz;
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, &bz, NULL), 0);
    return bz;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Whether [a, a + len) is covered by the union of @ram (ranges may touch). */
static int in_ram(const struct vmio_gpa_range *ram, unsigned n, uint64_t a, uint64_t len)
{
    uint64_t pos = a, end = a + len;
    while (pos < end) {
        unsigned i;
        for (i = 0; i < n; i++)
            if (pos >= ram[i].gpa && pos - ram[i].gpa < ram[i].size)
                break;
        if (i == n)
            return 0;
        uint64_t rend = ram[i].gpa + ram[i].size;
        if (rend == 0 || rend >= end) /* wraps: reaches the top of the address space */
            return 1;
        pos = rend;
    }
    return 1;
}

/* The invariants every successful layout keeps. */
static void check_invariants(const struct vmio_linux_layout_request *req,
                             const struct vmio_linux_layout *l)
{
    struct {
        uint64_t a, len;
    } spans[] = {
        {l->kernel_addr, l->kernel_size},
        {l->init_addr, l->init_size},
        {l->initrd_addr, l->initrd_size},
        {l->cmdline_addr, l->cmdline_size},
        {l->zero_page_addr, 0x1000},
        {l->gdt_addr, l->gdt_size},
        {l->page_tables_addr, l->page_tables_size},
        {l->stack_top - 0x1000, 0x1000},
    };
    unsigned n = sizeof(spans) / sizeof(spans[0]);
    for (unsigned i = 0; i < n; i++) {
        if (!spans[i].len)
            continue;
        assert_true(in_ram(req->ram, req->ram_count, spans[i].a, spans[i].len));
        assert_true(spans[i].a + spans[i].len <= 0x100000000ULL);
        for (unsigned r = 0; r < req->reserved_count; r++)
            assert_false(
                overlaps(spans[i].a, spans[i].len, req->reserved[r].gpa, req->reserved[r].size));
        for (unsigned j = i + 1; j < n; j++) {
            if (i == 0 && j == 1)
                continue; /* the kernel's image lies in its own init area */
            if (overlaps(spans[i].a, spans[i].len, spans[j].a, spans[j].len))
                fail_msg("spans %u and %u overlap", i, j);
        }
    }
    if (l->initrd_size) {
        assert_int_equal(l->initrd_addr % 0x1000, 0);
        assert_true(l->initrd_addr >= MiB);
    }
    assert_true(l->kernel_addr >= MiB);
}

static int layout(const struct vmio_bzimage *bz, struct vmio_linux_layout_request *req,
                  struct vmio_linux_layout *out, struct vmio_error *err)
{
    memset(err, 0, sizeof(*err));
    memset(out, 0xa5, sizeof(*out));
    int rc = vmio_linux_layout(bz, req, out, err);
    if (rc == 0)
        check_invariants(req, out);
    return rc;
}

static void expect_msg(const struct vmio_error *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void test_plain_ram(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 256 * MiB};
    struct vmio_linux_layout_request req = {
        .ram = &ram, .ram_count = 1, .initrd_size = 0x12345, .cmdline_len = 13};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.mode, VMIO_LINUX_ENTRY_64);
    assert_int_equal(l.kernel_addr, 16 * MiB); /* pref_address */
    assert_int_equal(l.kernel_size, FX_KERNEL_SIZE);
    assert_int_equal(l.init_addr, 16 * MiB);
    assert_int_equal(l.init_size, FX_INIT_SIZE);
    assert_int_equal(l.entry, 16 * MiB + 0x200);
    /* as high as possible, 4 KiB aligned: 256 MiB - 0x12345 rounded down */
    assert_int_equal(l.initrd_addr, 0xffed000);
    assert_int_equal(l.initrd_size, 0x12345);
    assert_int_equal(l.cmdline_addr, 0xa000);
    assert_int_equal(l.cmdline_size, 14);
    assert_int_equal(l.zero_page_addr, 0x9000);
    assert_int_equal(l.gdt_addr, 0x1000);
    assert_int_equal(l.gdt_size, 32);
    assert_int_equal(l.page_tables_addr, 0x2000);
    assert_int_equal(l.page_tables_size, 0x6000);
    assert_int_equal(l.stack_top, 0x9000);

    req.initrd_size = 0;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 0);
    assert_int_equal(l.initrd_size, 0);
}

static void test_initrd_under_initrd_addr_max(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    bz.initrd_addr_max = 0x1fffffff; /* last byte at most 512 MiB - 1 */
    struct vmio_gpa_range ram = {0, 2 * GiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1, .initrd_size = 3 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 512 * MiB - 3 * MiB);
    /* an unaligned limit: the end may touch it, never pass it */
    bz.initrd_addr_max = 0x1fffff00;
    req.initrd_size = 0x100;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_true(l.initrd_addr + l.initrd_size - 1 <= 0x1fffff00);
    assert_int_equal(l.initrd_addr, 0x1ffff000);
}

static void test_initrd_too_large(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 64 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1, .initrd_size = 60 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "initrd of 62914560 bytes does not fit below 0x7fffffff (RAM: 0x0-0x3ffffff; "
                     "kernel at 0x1000000-0x17fffff)");
    /* the largest that fits: above the kernel, 24 MiB to 64 MiB */
    req.initrd_size = 40 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 24 * MiB);
    req.initrd_size = 40 * MiB + 1;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
}

static void test_ram_with_gap(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    /* 96 MiB of low RAM, a hole, then 1 MiB: a 2 MiB initrd must go low. */
    struct vmio_gpa_range ram[] = {{128 * MiB, 1 * MiB}, {0, 96 * MiB}};
    struct vmio_linux_layout_request req = {.ram = ram, .ram_count = 2, .initrd_size = 2 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 94 * MiB);
    /* 1 MiB fits in the top region: it goes there */
    req.initrd_size = 1 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 128 * MiB);
    /* touching regions count as one */
    struct vmio_gpa_range split[] = {{0, 20 * MiB}, {20 * MiB, 44 * MiB}};
    req.ram = split;
    req.initrd_size = 0;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 16 * MiB); /* its 8 MiB cross the 20 MiB seam */
}

static void test_ram_above_4g(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    bz.initrd_addr_max = 0xffffffff;
    struct vmio_gpa_range ram[] = {{0, 3 * GiB}, {4 * GiB, 4 * GiB}};
    struct vmio_linux_layout_request req = {.ram = ram, .ram_count = 2, .initrd_size = 5 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 3 * GiB - 5 * MiB); /* below 4 GiB, never above */
    /* only RAM above 4 GiB besides low memory: nothing can hold the kernel */
    struct vmio_gpa_range high_only[] = {{0, 1 * MiB}, {4 * GiB, 4 * GiB}};
    req.ram = high_only;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "kernel needs 0x800000 bytes");
    expect_msg(&err, "between 1 MiB and 4 GiB");
}

static void test_kernel_placement(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 12 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1};
    struct vmio_linux_layout l;
    struct vmio_error err;
    /* pref_address (16 MiB) is not RAM: the lowest 2 MiB-aligned fit from 1 MiB */
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 2 * MiB);
    assert_int_equal(l.entry, 2 * MiB + 0x200);
    /* a reserved range where it would go pushes it to the next aligned address */
    struct vmio_gpa_range res = {3 * MiB, 4096};
    req.reserved = &res;
    req.reserved_count = 1;
    ram.size = 16 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 4 * MiB);
    /* an unaligned pref_address is rounded up to kernel_alignment */
    bz.pref_address = 0x1100000;
    ram.size = 64 * MiB;
    req.reserved_count = 0;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 0x1200000);
    /* pref_address 0 means 1 MiB, rounded up */
    bz.pref_address = 0;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 2 * MiB);
    /* a huge pref_address whose rounding would wrap: the search takes over */
    bz.pref_address = UINT64_MAX - 5;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 2 * MiB);
}

static void test_kernel_larger_than_ram(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    bz.init_size = 0x3f98000; /* the Debian kernel's */
    struct vmio_gpa_range ram = {0, 64 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "kernel needs 0x3f98000 bytes (init_size 0x3f98000, image 0x1000) aligned "
                     "to 0x200000 between 1 MiB and 4 GiB; no free RAM holds it "
                     "(RAM: 0x0-0x3ffffff)");
    /* an image bigger than init_size: the image size counts */
    bz.init_size = 0x1000;
    bz.kernel_size = 80 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "kernel needs 0x5000000 bytes");
}

static void test_initrd_avoids_kernel_and_reserved(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    bz.init_size = 16 * MiB;
    struct vmio_gpa_range ram = {0, 32 * MiB}; /* the kernel takes 16-32 MiB */
    struct vmio_gpa_range res = {14 * MiB, 1 * MiB};
    struct vmio_linux_layout_request req = {
        .ram = &ram, .ram_count = 1, .reserved = &res, .reserved_count = 1, .initrd_size = 1 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 16 * MiB);
    assert_int_equal(l.initrd_addr, 15 * MiB); /* between the reserved MiB and the kernel */
    req.initrd_size = 2 * MiB;                 /* too big for that gap: below the reserved MiB */
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 12 * MiB);
    /* an initrd never goes below 1 MiB, even when free RAM there would make it fit */
    req.initrd_size = 13 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.initrd_addr, 1 * MiB);
    req.initrd_size = 13 * MiB + 4096;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
}

static void test_non_relocatable(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    bz.relocatable = false;
    bz.kernel_alignment = 0;
    struct vmio_gpa_range ram = {0, 64 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1, .initrd_size = 1 * MiB};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.kernel_addr, 1 * MiB);
    assert_int_equal(l.init_addr, 16 * MiB);
    assert_int_equal(l.init_size, FX_INIT_SIZE);
    assert_int_equal(l.entry, 1 * MiB + 0x200);
    /* its runtime area must be RAM */
    ram.size = 20 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "non-relocatable kernel needs 0x800000 bytes (init_size) at pref_address "
                     "0x1000000");
    bz.pref_address = 0x80000;
    ram.size = 64 * MiB;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
}

static void test_command_line_limits(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 64 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1, .cmdline_len = 2047};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.cmdline_size, 2048);
    req.cmdline_len = 2048;
    assert_int_equal(layout(&bz, &req, &l, &err), -E2BIG);
    expect_msg(&err, "command line of 2048 bytes is longer than the kernel's cmdline_size (2047)");
    /* a kernel that accepts anything is still bounded by the room below the EBDA */
    bz.cmdline_size = 0xffffffff;
    req.cmdline_len = 0x9fc00 - 0xa000 - 1;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    req.cmdline_len++;
    assert_int_equal(layout(&bz, &req, &l, &err), -E2BIG);
    expect_msg(&err, "does not fit at 0xa000 below 0x9fc00");
}

static void test_low_memory(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {1 * MiB, 63 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "the boot GDT at 0x1000-0x101f is not in free guest RAM "
                     "(RAM: 0x100000-0x3ffffff)");
    struct vmio_gpa_range ram2 = {0, 64 * MiB}, res = {0x9800, 0x100};
    req.ram = &ram2;
    req.reserved = &res;
    req.reserved_count = 1;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "the zero page at 0x9000-0x9fff is not in free guest RAM");
    res.gpa = 0xa000 + 100;
    req.cmdline_len = 99;
    assert_int_equal(layout(&bz, &req, &l, &err), 0); /* the NUL is the 100th byte */
    req.cmdline_len = 100;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "the command line at 0xa000-0xa064");
}

static void test_entry_modes(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 64 * MiB};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1};
    struct vmio_linux_layout l;
    struct vmio_error err;
    req.mode = VMIO_LINUX_ENTRY_32;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.mode, VMIO_LINUX_ENTRY_32);
    assert_int_equal(l.entry, 16 * MiB);
    assert_int_equal(l.page_tables_size, 0);
    bz.xloadflags = 0;
    req.mode = VMIO_LINUX_ENTRY_AUTO;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    assert_int_equal(l.mode, VMIO_LINUX_ENTRY_32);
    req.mode = VMIO_LINUX_ENTRY_64;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOTSUP);
    expect_msg(&err, "no 64-bit entry point");
    req.mode = 7;
    assert_int_equal(layout(&bz, &req, &l, &err), -EINVAL);
    /* without the page tables, their pages need not be RAM: only what is used is checked */
    struct vmio_gpa_range res = {0x2000, 0x6000};
    req.mode = VMIO_LINUX_ENTRY_32;
    req.reserved = &res;
    req.reserved_count = 1;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    req.mode = VMIO_LINUX_ENTRY_AUTO;
    bz.xloadflags = 1;
    assert_int_equal(layout(&bz, &req, &l, &err), -ENOMEM);
    expect_msg(&err, "page tables");
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_gpa_range ram = {0, 0};
    struct vmio_linux_layout_request req = {.ram = &ram, .ram_count = 1};
    struct vmio_linux_layout l;
    struct vmio_error err;
    assert_int_equal(layout(&bz, &req, &l, &err), -EINVAL);
    expect_msg(&err, "RAM range 0 (0x0, size 0x0) is empty or wraps");
    ram = (struct vmio_gpa_range){UINT64_MAX - 10, 12};
    assert_int_equal(layout(&bz, &req, &l, &err), -EINVAL);
    ram = (struct vmio_gpa_range){UINT64_MAX - 10, 11}; /* ends exactly at 2^64 - 1: valid */
    struct vmio_gpa_range both[] = {{0, 64 * MiB}, {UINT64_MAX - 10, 11}};
    req.ram = both;
    req.ram_count = 2;
    assert_int_equal(layout(&bz, &req, &l, &err), 0);
    struct vmio_gpa_range res = {5, 0};
    req.reserved = &res;
    req.reserved_count = 1;
    assert_int_equal(layout(&bz, &req, &l, &err), -EINVAL);
    expect_msg(&err, "reserved range 0");
    req.ram_count = 0;
    assert_int_equal(vmio_linux_layout(&bz, &req, &l, &err), -EINVAL);
    assert_int_equal(vmio_linux_layout(NULL, &req, &l, &err), -EINVAL);
    assert_int_equal(vmio_linux_layout(&bz, NULL, &l, &err), -EINVAL);
    req.ram_count = 1;
    req.reserved_count = 0;
    bz.kernel_alignment = 3;
    req.ram = both;
    assert_int_equal(vmio_linux_layout(&bz, &req, &l, &err), -EINVAL);
    expect_msg(&err, "kernel_alignment 0x3 is not a power of two");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_ram),
        cmocka_unit_test(test_initrd_under_initrd_addr_max),
        cmocka_unit_test(test_initrd_too_large),
        cmocka_unit_test(test_ram_with_gap),
        cmocka_unit_test(test_ram_above_4g),
        cmocka_unit_test(test_kernel_placement),
        cmocka_unit_test(test_kernel_larger_than_ram),
        cmocka_unit_test(test_initrd_avoids_kernel_and_reserved),
        cmocka_unit_test(test_non_relocatable),
        cmocka_unit_test(test_command_line_limits),
        cmocka_unit_test(test_low_memory),
        cmocka_unit_test(test_entry_modes),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
