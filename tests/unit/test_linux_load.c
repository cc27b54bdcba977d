/*
 * vmio_linux_load() tests with plain malloc'd memory as guest RAM (no KVM):
 * the gpa-to-host callback hands out pointers into a 64 MiB buffer and
 * refuses anything outside it (or, in one test, a chosen span). Checks that
 * the kernel's code (and not the signature after it), the initrd, the
 * command line, the zero page, the GDT and the page tables land where the
 * layout says, with the content the pure builders produce; that a refused
 * span fails with -EFAULT before anything is written; that the e820 map is
 * built from the RAM and reserved ranges when none is given.
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

#define RAM_SIZE (64ULL << 20)

struct guest {
    uint8_t *mem;
    uint64_t refuse_gpa; /* a span containing this address is refused (0: none) */
    unsigned calls;
};

static void *gpa_to_host(void *ctx, uint64_t gpa, uint64_t len)
{
    struct guest *g = ctx;
    g->calls++;
    if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return NULL;
    if (g->refuse_gpa && g->refuse_gpa >= gpa && g->refuse_gpa - gpa < len)
        return NULL;
    return g->mem + gpa;
}

static uint8_t img[FX_SIZE];
static uint8_t initrd[0x3000];

static int setup(void **state)
{
    struct guest *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->mem = calloc(1, RAM_SIZE);
    assert_non_null(g->mem);
    fx_make(img);
    for (unsigned i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i ^ 0x5a);
    *state = g;
    return 0;
}

static int teardown(void **state)
{
    struct guest *g = *state;
    free(g->mem);
    free(g);
    return 0;
}

static struct vmio_linux_boot boot_params(const struct vmio_gpa_range *ram)
{
    return (struct vmio_linux_boot){.image = img,
                                    .image_size = FX_SIZE,
                                    .initrd = initrd,
                                    .initrd_size = sizeof(initrd),
                                    .cmdline = "console=ttyS0 quiet",
                                    .ram = ram,
                                    .ram_count = 1,
                                    .acpi_rsdp = 0xf0000};
}

static void test_everything_lands(void **state)
{
    struct guest *g = *state;
    struct vmio_gpa_range ram = {0, RAM_SIZE};
    struct vmio_linux_boot b = boot_params(&ram);
    struct vmio_linux_layout l;
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), 0);
    assert_int_equal(g->calls, 6);

    /* kernel: the protected-mode code only */
    assert_int_equal(l.kernel_addr, 0x1000000);
    assert_memory_equal(g->mem + l.kernel_addr, img + FX_KERNEL_OFFSET, FX_KERNEL_SIZE);
    for (unsigned i = 0; i < FX_TRAILER; i++)
        assert_int_equal(g->mem[l.kernel_addr + FX_KERNEL_SIZE + i], 0);
    /* initrd, at the top of RAM */
    assert_int_equal(l.initrd_addr, RAM_SIZE - 0x3000);
    assert_memory_equal(g->mem + l.initrd_addr, initrd, sizeof(initrd));
    /* command line with its NUL */
    assert_string_equal((char *)g->mem + 0xa000, "console=ttyS0 quiet");
    assert_int_equal(l.cmdline_size, 20);

    /* zero page: what the builder makes for the default e820 */
    struct vmio_bzimage bz;
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, &bz, NULL), 0);
    struct vmio_e820_map e820;
    assert_int_equal(vmio_e820_pc(&ram, 1, NULL, 0, &e820, NULL), 0);
    uint8_t zp[4096];
    assert_int_equal(vmio_linux_zero_page(&bz, &l, &e820, 0xf0000, zp, NULL), 0);
    assert_memory_equal(g->mem + 0x9000, zp, 4096);
    assert_int_equal(g->mem[0x9000 + 0x1e8], 4);
    assert_int_equal(fx_get32(g->mem + 0x9000 + 0x228), 0xa000);
    assert_int_equal(fx_get32(g->mem + 0x9000 + 0x218), RAM_SIZE - 0x3000);
    assert_int_equal(fx_get64(g->mem + 0x9000 + 0x70), 0xf0000);

    /* GDT and page tables */
    uint8_t gdt[32];
    vmio_linux_gdt(VMIO_LINUX_ENTRY_64, gdt);
    assert_memory_equal(g->mem + 0x1000, gdt, 32);
    static uint8_t pt[0x6000];
    assert_int_equal(vmio_linux_page_tables(0x2000, pt, NULL), 0);
    assert_memory_equal(g->mem + 0x2000, pt, sizeof(pt));
}

static void test_no_initrd_no_cmdline(void **state)
{
    struct guest *g = *state;
    struct vmio_gpa_range ram = {0, RAM_SIZE};
    struct vmio_linux_boot b = boot_params(&ram);
    b.initrd = NULL;
    b.initrd_size = 0;
    b.cmdline = NULL;
    b.mode = VMIO_LINUX_ENTRY_32;
    memset(g->mem + 0xa000, 0xcc, 16);
    struct vmio_linux_layout l;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, NULL), 0);
    assert_int_equal(g->calls, 4); /* kernel, command line, zero page, GDT */
    assert_int_equal(g->mem[0xa000], 0);
    assert_int_equal(g->mem[0xa001], 0xcc);
    assert_int_equal(fx_get32(g->mem + 0x9000 + 0x218), 0);
    assert_int_equal(fx_get32(g->mem + 0x9000 + 0x21c), 0);
    for (unsigned i = 0; i < 0x6000; i++) /* no page tables for the 32-bit entry */
        assert_int_equal(g->mem[0x2000 + i], 0);
}

static void test_refused_span_writes_nothing(void **state)
{
    struct guest *g = *state;
    struct vmio_gpa_range ram = {0, RAM_SIZE};
    struct vmio_linux_boot b = boot_params(&ram);
    g->refuse_gpa = 0x9800; /* inside the zero page */
    struct vmio_linux_layout l;
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -EFAULT);
    if (!strstr(err.msg, "guest RAM does not hold the zero page at 0x9000-0x9fff (4096 bytes)"))
        fail_msg("%s", err.msg);
    for (uint64_t i = 0; i < RAM_SIZE; i += 8) {
        uint64_t w;
        memcpy(&w, g->mem + i, 8);
        if (w)
            fail_msg("guest byte 0x%llx was written", (unsigned long long)i);
    }
}

static void test_ram_list_larger_than_memory(void **state)
{
    struct guest *g = *state;
    /* The caller claims 128 MiB, the callback only backs 64: the initrd is refused. */
    struct vmio_gpa_range ram = {0, 2 * RAM_SIZE};
    struct vmio_linux_boot b = boot_params(&ram);
    struct vmio_linux_layout l;
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -EFAULT);
    if (!strstr(err.msg, "the initrd at 0x7ffd000-0x7ffffff"))
        fail_msg("%s", err.msg);
}

static void test_errors_pass_through(void **state)
{
    struct guest *g = *state;
    struct vmio_gpa_range ram = {0, RAM_SIZE};
    struct vmio_linux_boot b = boot_params(&ram);
    struct vmio_linux_layout l;
    struct vmio_error err = {0};
    b.image_size = 0x100;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -ENOEXEC);
    b = boot_params(&ram);
    char longline[3000];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = 0;
    b.cmdline = longline;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -E2BIG);
    assert_int_equal(g->calls, 0);
    b = boot_params(&ram);
    b.initrd = NULL;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -EINVAL);
    assert_int_equal(vmio_linux_load(NULL, gpa_to_host, g, &l, &err), -EINVAL);
    b = boot_params(&ram);
    assert_int_equal(vmio_linux_load(&b, NULL, g, &l, &err), -EINVAL);
    /* a caller e820 map is used as given; an invalid default one is an error */
    struct vmio_gpa_range res = {0x5000000, 0};
    b.reserved = &res;
    b.reserved_count = 1;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, &err), -EINVAL);
}

static void test_caller_e820_and_reserved(void **state)
{
    struct guest *g = *state;
    struct vmio_gpa_range ram = {0, RAM_SIZE};
    struct vmio_gpa_range res = {RAM_SIZE - 0x10000, 0x10000}; /* e.g. ACPI tables */
    struct vmio_linux_boot b = boot_params(&ram);
    b.reserved = &res;
    b.reserved_count = 1;
    struct vmio_linux_layout l;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, NULL), 0);
    assert_int_equal(l.initrd_addr, RAM_SIZE - 0x10000 - 0x3000);
    const uint8_t *zp = g->mem + 0x9000;
    assert_int_equal(zp[0x1e8], 5); /* RAM, EBDA, BIOS, RAM, reserved */
    const uint8_t *last = zp + 0x2d0 + 4 * 20;
    assert_int_equal(fx_get64(last), RAM_SIZE - 0x10000);
    assert_int_equal(fx_get32(last + 16), 2);

    struct vmio_e820_map mine = {.count = 1, .entries = {{0, RAM_SIZE, 1}}};
    b.e820 = &mine;
    assert_int_equal(vmio_linux_load(&b, gpa_to_host, g, &l, NULL), 0);
    assert_int_equal(zp[0x1e8], 1);
    assert_int_equal(fx_get64(zp + 0x2d0 + 8), RAM_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_everything_lands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_initrd_no_cmdline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_span_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ram_list_larger_than_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_pass_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caller_e820_and_reserved, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
