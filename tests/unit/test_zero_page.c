/*
 * Zero page (boot_params) tests (pure): every field vmio writes is read
 * back at its offset from Documentation/arch/x86/boot.rst and zero-page.rst,
 * written here as literal numbers; the image's setup header is copied and
 * nothing past its end; the sentinel stays 0; the e820 table has the right
 * layout; 64-bit addresses are split into the header field and its ext_
 * half, and refused above 4 GiB for images that cannot take them.
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

static uint8_t img[FX_SIZE];
static uint8_t zp[4096];

static struct vmio_bzimage image(void)
{
    fx_make(img);
    struct vmio_bzimage bz;
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, &bz, NULL), 0);
    return bz;
}

static struct vmio_linux_layout layout_for(const struct vmio_bzimage *bz)
{
    struct vmio_gpa_range ram = {0, 256 << 20};
    struct vmio_linux_layout_request req = {
        .ram = &ram, .ram_count = 1, .initrd_size = 0x12345, .cmdline_len = 13};
    struct vmio_linux_layout l;
    assert_int_equal(vmio_linux_layout(bz, &req, &l, NULL), 0);
    return l;
}

static void test_fields(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_linux_layout l = layout_for(&bz);
    struct vmio_e820_map e820 = {
        .count = 3,
        .entries = {{0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0x100000, 0xff00000, 1}},
    };
    memset(zp, 0xcc, sizeof(zp));
    assert_int_equal(vmio_linux_zero_page(&bz, &l, &e820, 0xe0000, zp, NULL), 0);

    /* loader fields */
    assert_int_equal(fx_get16(zp + 0x1fa), 0xffff);    /* vid_mode: normal */
    assert_int_equal(zp[0x210], 0xff);                 /* type_of_loader: undefined */
    assert_int_equal(zp[0x211], 0x81);                 /* LOADED_HIGH | CAN_USE_HEAP */
    assert_int_equal(fx_get32(zp + 0x214), 0x1000000); /* code32_start = load address */
    assert_int_equal(fx_get16(zp + 0x224), 0xde00);    /* heap_end_ptr */
    assert_int_equal(fx_get32(zp + 0x228), 0xa000);    /* cmd_line_ptr */
    assert_int_equal(fx_get32(zp + 0x0c8), 0);         /* ext_cmd_line_ptr */
    assert_int_equal(fx_get32(zp + 0x218), 0xffed000); /* ramdisk_image */
    assert_int_equal(fx_get32(zp + 0x21c), 0x12345);   /* ramdisk_size */
    assert_int_equal(fx_get32(zp + 0x0c0), 0);         /* ext_ramdisk_image */
    assert_int_equal(fx_get32(zp + 0x0c4), 0);         /* ext_ramdisk_size */
    assert_int_equal(fx_get64(zp + 0x070), 0xe0000);   /* acpi_rsdp_addr */
    assert_int_equal(zp[0x1ef], 0);                    /* sentinel */

    /* e820 */
    assert_int_equal(zp[0x1e8], 3);
    const uint8_t *t = zp + 0x2d0;
    assert_int_equal(fx_get64(t), 0);
    assert_int_equal(fx_get64(t + 8), 0x9fc00);
    assert_int_equal(fx_get32(t + 16), 1);
    assert_int_equal(fx_get64(t + 20), 0x9fc00);
    assert_int_equal(fx_get64(t + 28), 0x400);
    assert_int_equal(fx_get32(t + 36), 2);
    assert_int_equal(fx_get64(t + 40), 0x100000);
    assert_int_equal(fx_get64(t + 48), 0xff00000);
    assert_int_equal(fx_get32(t + 56), 1);

    /* the image's header, except the fields written above */
    static const unsigned written[][2] = {{0x1fa, 2}, {0x210, 2}, {0x214, 4},
                                          {0x218, 8}, {0x224, 2}, {0x228, 4}};
    for (unsigned off = 0x1f1; off < 0x26c; off++) {
        int w = 0;
        for (unsigned k = 0; k < sizeof(written) / sizeof(written[0]); k++)
            if (off >= written[k][0] && off < written[k][0] + written[k][1])
                w = 1;
        if (!w && zp[off] != img[off])
            fail_msg("header byte 0x%x: 0x%02x, image has 0x%02x", off, zp[off], img[off]);
    }
    assert_int_equal(fx_get32(zp + 0x268), 0x12345); /* kernel_info_offset, copied */
    assert_int_equal(fx_get64(zp + 0x258), FX_PREF);
    /* zero everywhere else */
    for (unsigned off = 0; off < 4096; off++) {
        int in_header = off >= 0x1f1 && off < 0x26c;
        int in_e820 = off >= 0x2d0 && off < 0x2d0 + 3 * 20;
        int field = off == 0x1e8 || (off >= 0x70 && off < 0x78);
        if (!in_header && !in_e820 && !field && zp[off] != 0)
            fail_msg("byte 0x%x is 0x%02x, not 0", off, zp[off]);
    }
}

static void test_no_e820_no_rsdp(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_linux_layout l = layout_for(&bz);
    memset(zp, 0xcc, sizeof(zp));
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, NULL), 0);
    assert_int_equal(zp[0x1e8], 0);
    assert_int_equal(fx_get64(zp + 0x70), 0);
    assert_int_equal(fx_get32(zp + 0x2d0), 0);
}

static void test_full_e820(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_linux_layout l = layout_for(&bz);
    static struct vmio_e820_map e820;
    e820.count = 128;
    for (unsigned i = 0; i < 128; i++)
        e820.entries[i] = (struct vmio_e820_entry){0x1000ULL * 2 * i, 0x1000, 1 + i % 4};
    assert_int_equal(vmio_linux_zero_page(&bz, &l, &e820, 0, zp, NULL), 0);
    assert_int_equal(zp[0x1e8], 128);
    const uint8_t *last = zp + 0x2d0 + 127 * 20; /* ends at 0xcd0, before eddbuf at 0xd00 */
    assert_int_equal(fx_get64(last), 0x1000ULL * 254);
    assert_int_equal(fx_get32(last + 16), 4);
    for (unsigned off = 0xcd0; off < 4096; off++)
        assert_int_equal(zp[off], 0);
    e820.count = 129;
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_zero_page(&bz, &l, &e820, 0, zp, &err), -EINVAL);
}

static void test_addresses_above_4g(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_linux_layout l = layout_for(&bz);
    l.initrd_addr = 0x123456000ULL;
    l.initrd_size = 0x100000001ULL;
    l.cmdline_addr = 0x200000000ULL;
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, NULL), 0);
    assert_int_equal(fx_get32(zp + 0x218), 0x23456000);
    assert_int_equal(fx_get32(zp + 0x0c0), 0x1);
    assert_int_equal(fx_get32(zp + 0x21c), 0x1);
    assert_int_equal(fx_get32(zp + 0x0c4), 0x1);
    assert_int_equal(fx_get32(zp + 0x228), 0);
    assert_int_equal(fx_get32(zp + 0x0c8), 0x2);
    /* an image without XLF_CAN_BE_LOADED_ABOVE_4G cannot take them */
    bz.xloadflags = 0x1;
    struct vmio_error err = {0};
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, &err), -ERANGE);
    if (!strstr(err.msg, "the command line at 0x200000000 is above 4 GiB"))
        fail_msg("%s", err.msg);
    l.cmdline_addr = 0xa000;
    l.initrd_addr = 0xfffff000; /* starts below 4 GiB, ends above */
    l.initrd_size = 0x2000;
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, &err), -ERANGE);
    l.initrd_size = 0x1000; /* ends exactly at 4 GiB */
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, &err), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct vmio_bzimage bz = image();
    struct vmio_linux_layout l = layout_for(&bz);
    assert_int_equal(vmio_linux_zero_page(NULL, &l, NULL, 0, zp, NULL), -EINVAL);
    assert_int_equal(vmio_linux_zero_page(&bz, NULL, NULL, 0, zp, NULL), -EINVAL);
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, NULL, NULL), -EINVAL);
    bz.header_end = 0x291; /* a hand-made image description: never copy past the hole */
    assert_int_equal(vmio_linux_zero_page(&bz, &l, NULL, 0, zp, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),        cmocka_unit_test(test_no_e820_no_rsdp),
        cmocka_unit_test(test_full_e820),     cmocka_unit_test(test_addresses_above_4g),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
