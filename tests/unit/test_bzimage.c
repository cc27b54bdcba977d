/*
 * bzImage setup-header parser tests (no KVM): a synthetic image
 * (bzimage_fixture.h) parsed whole, then made hostile one field at a time:
 * truncated at every length, bad signatures, old protocols, jumps that give
 * wrong header lengths, no LOADED_HIGH, setup_sects and syssize pointing
 * past the file (and syssize large enough to overflow 32-bit arithmetic),
 * alignments that are not powers of two. Every error message is checked
 * for the field and the file offset it must name.
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

static uint8_t img[FX_SIZE + 0x1000];

static int parse(size_t size, struct vmio_bzimage *bz, struct vmio_error *err)
{
    memset(err, 0, sizeof(*err));
    return vmio_bzimage_parse(img, size, bz, err);
}

/* Parse must fail with -ENOEXEC and a message containing @needle. */
static void expect_refused(size_t size, const char *needle)
{
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(size, &bz, &err), -ENOEXEC);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_valid_image(void **state)
{
    (void)state;
    fx_make(img);
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.version, 0x020f);
    assert_int_equal(bz.setup_sects, FX_SETUP_SECTS);
    assert_int_equal(bz.loadflags, 0x01);
    assert_int_equal(bz.xloadflags, 0x0003);
    assert_true(bz.relocatable);
    assert_int_equal(bz.min_alignment, 21);
    assert_int_equal(bz.syssize, FX_SYSSIZE);
    assert_int_equal(bz.kernel_alignment, FX_ALIGN);
    assert_int_equal(bz.initrd_addr_max, 0x7fffffff);
    assert_int_equal(bz.cmdline_size, 2047);
    assert_int_equal(bz.pref_address, FX_PREF);
    assert_int_equal(bz.init_size, FX_INIT_SIZE);
    assert_int_equal(bz.kernel_offset, FX_KERNEL_OFFSET);
    /* syssize counts the code; the 64 trailing bytes are not part of it */
    assert_int_equal(bz.kernel_size, FX_KERNEL_SIZE);
    assert_int_equal(bz.header_end, 0x26c);
    assert_memory_equal(bz.header, img + 0x1f1, 0x26c - 0x1f1);
    for (unsigned i = 0x26c - 0x1f1; i < sizeof(bz.header); i++)
        assert_int_equal(bz.header[i], 0);
    assert_true(vmio_bzimage_detect(img, FX_SIZE));
}

static void test_setup_sects_zero_means_four(void **state)
{
    (void)state;
    fx_make(img);
    img[0x1f1] = 0;
    /* the code now starts at (4 + 1) * 512 = 0xa00: move it there */
    memmove(img + 0xa00, img + FX_KERNEL_OFFSET, FX_KERNEL_SIZE);
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(0xa00 + FX_KERNEL_SIZE, &bz, &err), 0);
    assert_int_equal(bz.setup_sects, 4);
    assert_int_equal(bz.kernel_offset, 0xa00);
}

/* Every proper prefix of the image is refused, with a message about the right thing. */
static void test_truncated_at_every_length(void **state)
{
    (void)state;
    fx_make(img);
    const size_t full = FX_KERNEL_OFFSET + FX_KERNEL_SIZE;
    for (size_t n = 0; n < full; n++) {
        struct vmio_bzimage bz;
        struct vmio_error err;
        if (parse(n, &bz, &err) != -ENOEXEC)
            fail_msg("a %zu-byte prefix was accepted", n);
        const char *want = n < 0x26c               ? "truncated setup header"
                           : n <= FX_KERNEL_OFFSET ? "setup_sects at file offset 0x1f1"
                                                   : "truncated kernel";
        if (!strstr(err.msg, want))
            fail_msg("%zu bytes: \"%s\" lacks \"%s\"", n, err.msg, want);
    }
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(full, &bz, &err), 0); /* the trailer is optional */
    /* Truncation messages name the field and its offset. */
    expect_refused(0x1ff, "boot_flag at file offset 0x1fe");
    expect_refused(0x205, "header magic at file offset 0x202");
    expect_refused(0x207, "version at file offset 0x206");
    expect_refused(0x26b, "ends at file offset 0x26c");
}

static void test_bad_signatures(void **state)
{
    (void)state;
    fx_make(img);
    img[0x1fe] = 0x55;
    img[0x1ff] = 0xab;
    expect_refused(FX_SIZE, "boot_flag at file offset 0x1fe is 0xab55, not 0xaa55");
    assert_false(vmio_bzimage_detect(img, FX_SIZE));
    fx_make(img);
    memcpy(img + 0x202, "HdrZ", 4);
    expect_refused(FX_SIZE, "\"HdrS\" missing at file offset 0x202");
    assert_false(vmio_bzimage_detect(img, FX_SIZE));
    assert_false(vmio_bzimage_detect(img, 0x205));
    assert_false(vmio_bzimage_detect(NULL, 0));
}

static void test_old_protocols(void **state)
{
    (void)state;
    fx_make(img);
    fx_put16(img + 0x206, 0x0204);
    expect_refused(FX_SIZE, "protocol 2.04 is too old (need 2.06)");
    fx_put16(img + 0x206, 0x0205);
    expect_refused(FX_SIZE, "protocol 2.05 is too old (need 2.06)");
    expect_refused(FX_SIZE, "version at file offset 0x206");

    /* 2.06: no pref_address, init_size, min_alignment or xloadflags. */
    fx_make(img);
    fx_put16(img + 0x206, 0x0206);
    img[0x201] = 0x3a; /* header to 0x23c: through cmdline_size */
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.pref_address, 0x100000);
    assert_int_equal(bz.init_size, FX_KERNEL_SIZE);
    assert_int_equal(bz.min_alignment, 0);
    assert_int_equal(bz.xloadflags, 0);
    assert_int_equal(bz.cmdline_size, 2047);
    assert_int_equal(bz.header_end, 0x23c);

    /* 2.11: pref_address and init_size, but xloadflags only from 2.12. */
    fx_make(img);
    fx_put16(img + 0x206, 0x020b);
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.xloadflags, 0);
    assert_int_equal(bz.pref_address, FX_PREF);
    fx_put16(img + 0x206, 0x020c);
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.xloadflags, 3);
}

static void test_header_length(void **state)
{
    (void)state;
    fx_make(img);
    img[0x200] = 0xe9; /* a near jump: no length byte */
    expect_refused(FX_SIZE, "jump at file offset 0x200 is 0xe9, not a short jump");
    fx_make(img);
    img[0x201] = 0xf0; /* backwards */
    expect_refused(FX_SIZE, "setup header too short");
    fx_make(img);
    img[0x201] = 0x61; /* ends at 0x263: init_size (0x260-0x263) cut */
    expect_refused(FX_SIZE, "ends it at 0x263, protocol 2.15 defines fields up to 0x264");
    img[0x201] = 0x62; /* exactly through init_size */
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.header_end, 0x264);
    fx_make(img);
    fx_put16(img + 0x206, 0x0206);
    img[0x201] = 0x39; /* 2.06 needs cmdline_size through 0x23b */
    expect_refused(FX_SIZE, "defines fields up to 0x23c");
    /* The longest header a short jump can declare still fits boot_params. */
    fx_make(img);
    img[0x201] = 0x7f;
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_int_equal(bz.header_end, 0x281);
    assert_memory_equal(bz.header, img + 0x1f1, 0x281 - 0x1f1);
}

static void test_zimage_refused(void **state)
{
    (void)state;
    fx_make(img);
    img[0x211] = 0x80;
    expect_refused(FX_SIZE, "loadflags at file offset 0x211 is 0x80, without LOADED_HIGH");
}

static void test_sizes_past_the_file(void **state)
{
    (void)state;
    fx_make(img);
    img[0x1f1] = 0xff; /* 256 sectors: code at 0x20000, past the file */
    expect_refused(FX_SIZE, "setup_sects at file offset 0x1f1 says 255 sectors");
    fx_make(img);
    fx_put32(img + 0x1f4, 0);
    expect_refused(FX_SIZE, "syssize at file offset 0x1f4 is 0");
    fx_make(img);
    fx_put32(img + 0x1f4, FX_SYSSIZE + 5); /* 80 bytes more than the file holds */
    expect_refused(FX_SIZE, "truncated kernel: syssize at file offset 0x1f4 says 4176 bytes");
    /* 0xffffffff * 16 wraps to 0xfffffff0 in 32 bits: must not look small. */
    fx_make(img);
    fx_put32(img + 0x1f4, 0xffffffff);
    expect_refused(FX_SIZE, "says 68719476720 bytes");
    fx_put32(img + 0x1f4, 0x10000001); /* * 16 = 0x100000010: wraps to 16 in 32 bits */
    expect_refused(FX_SIZE, "truncated kernel");
}

static void test_alignment(void **state)
{
    (void)state;
    fx_make(img);
    fx_put32(img + 0x230, 0x300000);
    expect_refused(FX_SIZE,
                   "kernel_alignment at file offset 0x230 is 0x300000, not a power of two");
    fx_put32(img + 0x230, 0);
    expect_refused(FX_SIZE, "kernel_alignment at file offset 0x230 is 0x0");
    /* Not relocatable: the alignment does not matter. */
    img[0x234] = 0;
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(parse(FX_SIZE, &bz, &err), 0);
    assert_false(bz.relocatable);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct vmio_bzimage bz;
    struct vmio_error err;
    assert_int_equal(vmio_bzimage_parse(NULL, 10, &bz, &err), -EINVAL);
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, NULL, &err), -EINVAL);
    /* a refused parse leaves *out alone */
    fx_make(img);
    memset(&bz, 0x5a, sizeof(bz));
    img[0x211] = 0;
    assert_int_equal(vmio_bzimage_parse(img, FX_SIZE, &bz, NULL), -ENOEXEC);
    assert_int_equal(bz.version, 0x5a5a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_image),
        cmocka_unit_test(test_setup_sects_zero_means_four),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_old_protocols),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_zimage_refused),
        cmocka_unit_test(test_sizes_past_the_file),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
