/*
 * AML builder unit tests (vmio/aml.h). Every expected byte sequence is
 * derived by hand from the ACPI 6.5 specification (20.2 AML grammar, 6.4
 * resource descriptors), not taken from the builder: PkgLength at each
 * size boundary, integers at each prefix boundary, name paths, nested
 * bodies, resource descriptors; and the builder's failure rules: a full
 * buffer is never overrun, errors are sticky, malformed builds are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/aml.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static uint8_t out[4096];

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* The bytes at @got start with @want. */
static void expect_at(const uint8_t *got, const uint8_t *want, size_t want_len)
{
    assert_memory_equal(got, want, want_len);
}

/* Finish @a successfully and compare its bytes with @want. */
static void expect_build(const struct vmio_aml *a, const uint8_t *want, size_t want_len)
{
    size_t len = 0;
    struct vmio_error err = {0};
    int rc = vmio_aml_finish(a, &len, &err);
    if (rc)
        fail_msg("build failed: %s", err.msg);
    expect_bytes(a->buf, len, want, want_len);
}

static int finish_code(const struct vmio_aml *a)
{
    return vmio_aml_finish(a, NULL, NULL);
}

/* ---- PkgLength ---- */

static void pkglength_is(uint32_t value, const uint8_t *want, size_t want_len)
{
    uint8_t enc[4];
    int n = vmio_aml_pkglength(value, enc);
    assert_int_equal(n, (int)want_len);
    assert_memory_equal(enc, want, want_len);
}

static void test_pkglength_values(void **state)
{
    (void)state;
    /* One byte holds 0..63 in bits 5:0. */
    pkglength_is(0, BYTES(0x00));
    pkglength_is(63, BYTES(0x3F));
    /* Then bits 7:6 count the following bytes; the lead byte keeps bits 3:0. */
    pkglength_is(64, BYTES(0x40, 0x04));
    pkglength_is(4095, BYTES(0x4F, 0xFF));
    pkglength_is(4096, BYTES(0x80, 0x00, 0x01));
    pkglength_is(0xFFFFF, BYTES(0x8F, 0xFF, 0xFF));
    pkglength_is(0x100000, BYTES(0xC0, 0x00, 0x00, 0x01)); /* 1 MiB */
    pkglength_is(0x0FFFFFFF, BYTES(0xCF, 0xFF, 0xFF, 0xFF));
    uint8_t enc[4];
    assert_int_equal(vmio_aml_pkglength(0x10000000, enc), -E2BIG);
}

static void body_is(size_t body, const uint8_t *want, size_t want_len)
{
    uint8_t enc[4];
    int n = vmio_aml_pkglength_for_body(body, enc);
    assert_int_equal(n, (int)want_len);
    assert_memory_equal(enc, want, want_len);
}

static void test_pkglength_counts_itself(void **state)
{
    (void)state;
    body_is(0, BYTES(0x01));
    body_is(62, BYTES(0x3F));                          /* 62 + 1 = 63 fits one byte */
    body_is(63, BYTES(0x41, 0x04));                    /* 63 + 2 = 65 */
    body_is(4093, BYTES(0x4F, 0xFF));                  /* 4093 + 2 = 4095 */
    body_is(4094, BYTES(0x81, 0x00, 0x01));            /* 4094 + 3 = 4097 */
    body_is(0xFFFFC, BYTES(0x8F, 0xFF, 0xFF));         /* + 3 = 0xFFFFF */
    body_is(0xFFFFD, BYTES(0xC1, 0x00, 0x00, 0x01));   /* + 4 = 0x100001 */
    body_is(0xFFFFFFB, BYTES(0xCF, 0xFF, 0xFF, 0xFF)); /* + 4 = the maximum */
    uint8_t enc[4];
    assert_int_equal(vmio_aml_pkglength_for_body(0xFFFFFFC, enc), -E2BIG);
}

/*
 * A Scope whose body crosses each PkgLength size: the prefix written in front
 * of the body grows and the body (a Buffer) is moved intact behind it.
 */
static void scope_with_buffer(size_t data_len, const uint8_t *pkg, size_t pkg_len)
{
    uint8_t *data = malloc(data_len ? data_len : 1);
    assert_non_null(data);
    for (size_t i = 0; i < data_len; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    size_t cap = data_len + 64;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    struct vmio_aml a;
    vmio_aml_init(&a, buf, cap);
    vmio_aml_scope(&a, "S");
    vmio_aml_name(&a, "B");
    vmio_aml_buffer_data(&a, data, data_len);
    vmio_aml_end(&a);
    size_t len;
    assert_int_equal(vmio_aml_finish(&a, &len, NULL), 0);
    assert_int_equal(buf[0], 0x10); /* ScopeOp */
    assert_memory_equal(buf + 1, pkg, pkg_len);
    assert_memory_equal(buf + 1 + pkg_len, "S___", 4);
    assert_int_equal(buf[5 + pkg_len], 0x08); /* NameOp */
    assert_memory_equal(buf + 6 + pkg_len, "B___", 4);
    assert_int_equal(buf[10 + pkg_len], 0x11); /* BufferOp */
    assert_memory_equal(buf + len - data_len, data, data_len);
    free(buf);
    free(data);
}

static void test_pkglength_in_nested_bodies(void **state)
{
    (void)state;
    /*
     * Scope body = NameSeg 4 + NameOp 1 + NameSeg 4 + Buffer (1 + pkg + size + data).
     * data 0: buffer = 11 02 00 (3 bytes) -> scope body 12 -> PkgLength 0x0D.
     */
    scope_with_buffer(0, BYTES(0x0D));
    /* data 47: size 0A 2F (2), buffer pkg 1, buffer 51 -> body 60 -> value 61. */
    scope_with_buffer(47, BYTES(0x3D));
    /* data 49: buffer 53 -> body 62 -> value 63, the largest 1-byte PkgLength. */
    scope_with_buffer(49, BYTES(0x3F));
    /* data 50: buffer 54 -> body 63 -> value 65 in two bytes. */
    scope_with_buffer(50, BYTES(0x41, 0x04));
    /* data 4075: size 0B EB 0F (3), pkg 2 -> buffer 4081 -> body 4090 -> 4092. */
    scope_with_buffer(4075, BYTES(0x4C, 0xFF));
    /* data 4078: buffer 4084 -> body 4093 -> 4095, the largest 2-byte value. */
    scope_with_buffer(4078, BYTES(0x4F, 0xFF));
    /* data 4079: buffer 4085 -> body 4094 -> 4097 in three bytes. */
    scope_with_buffer(4079, BYTES(0x81, 0x00, 0x01));
    /* data 1 MiB: size 0C 00 00 10 00 (5), pkg 4 -> buffer 1048586 -> body 1048595 -> +4. */
    scope_with_buffer(0x100000, BYTES(0xC7, 0x01, 0x00, 0x01));
}

/* ---- Integers ---- */

static void integer_is(uint64_t v, const uint8_t *want, size_t want_len)
{
    uint8_t enc[9];
    int n = vmio_aml_integer_encode(v, enc);
    assert_int_equal(n, (int)want_len);
    assert_memory_equal(enc, want, want_len);
}

static void test_integer_smallest_encoding(void **state)
{
    (void)state;
    integer_is(0, BYTES(0x00));
    integer_is(1, BYTES(0x01));
    integer_is(2, BYTES(0x0A, 0x02));
    integer_is(0xFF, BYTES(0x0A, 0xFF));
    integer_is(0x100, BYTES(0x0B, 0x00, 0x01));
    integer_is(0xFFFF, BYTES(0x0B, 0xFF, 0xFF));
    integer_is(0x10000, BYTES(0x0C, 0x00, 0x00, 0x01, 0x00));
    integer_is(0xFFFFFFFF, BYTES(0x0C, 0xFF, 0xFF, 0xFF, 0xFF));
    integer_is(0x100000000ULL, BYTES(0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00));
    integer_is(0xFFFFFFFFFFFFFFFEULL, BYTES(0x0E, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF));
    integer_is(UINT64_MAX, BYTES(0xFF)); /* Ones (64-bit AML) */
}

/* ---- Names ---- */

static void name_ref_is(const char *path, const uint8_t *want, size_t want_len)
{
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "X");
    vmio_aml_name_ref(&a, path);
    size_t len;
    assert_int_equal(vmio_aml_finish(&a, &len, NULL), 0);
    expect_at(out, BYTES(0x08, 'X', '_', '_', '_'));
    expect_bytes(out + 5, len - 5, want, want_len);
}

static void test_name_paths(void **state)
{
    (void)state;
    name_ref_is("_S5", BYTES('_', 'S', '5', '_'));
    name_ref_is("A", BYTES('A', '_', '_', '_'));
    name_ref_is("COM1", BYTES('C', 'O', 'M', '1'));
    name_ref_is("\\", BYTES(0x5C, 0x00));
    name_ref_is("^", BYTES(0x5E, 0x00));
    name_ref_is("\\_SB", BYTES(0x5C, '_', 'S', 'B', '_'));
    name_ref_is("^^FOO", BYTES(0x5E, 0x5E, 'F', 'O', 'O', '_'));
    name_ref_is("\\_SB.PCI0", BYTES(0x5C, 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'));
    name_ref_is("_SB.PCI0.S08",
                BYTES(0x2F, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'));
    name_ref_is("^A.B.C.D", BYTES(0x5E, 0x2F, 0x04, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C',
                                  '_', '_', '_', 'D', '_', '_', '_'));
}

static void test_name_paths_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"",     "a",   "1AB",   "ABCDE", "A.",  ".A",  "\\^A",
                         "A..B", "A-B", "\\\\A", "^\\A",  "A.b", "A B", "_SB.PCI0.ABCDE"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vmio_aml a;
        memset(out, 0xAA, sizeof(out));
        vmio_aml_init(&a, out, sizeof(out));
        vmio_aml_name(&a, bad[i]);
        vmio_aml_integer(&a, 1);
        struct vmio_error err = {0};
        assert_int_equal(vmio_aml_finish(&a, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "malformed name"));
    }
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, NULL);
    assert_int_equal(finish_code(&a), -EINVAL);
}

/* ---- Objects ---- */

static void test_s5_package(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "_S5");
    vmio_aml_package(&a);
    vmio_aml_integer(&a, 5);
    vmio_aml_integer(&a, 0);
    vmio_aml_integer(&a, 0);
    vmio_aml_integer(&a, 0);
    vmio_aml_end(&a);
    /* Package body: NumElements 04, 0A 05, 00, 00, 00 = 6 bytes; PkgLength 7. */
    expect_build(&a,
                 BYTES(0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00));
}

static void test_nested_packages_and_strings(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "PKG");
    vmio_aml_package(&a);
    vmio_aml_string(&a, "LNRO0005");
    vmio_aml_package(&a);
    vmio_aml_integer(&a, 0x1234);
    vmio_aml_end(&a);
    vmio_aml_name_ref(&a, "\\_S5");
    vmio_aml_buffer_data(&a, (const uint8_t[]){1, 2, 3}, 3);
    vmio_aml_end(&a);
    /*
     * Inner package: 12 05 01 0B 34 12 (body 4 -> 5). String: 0D + 8 + 00 = 10.
     * Name ref: 5C _S5_ = 5. Buffer: body 0A 03 01 02 03 = 5 -> 11 06 ... = 7 bytes.
     * Outer body: count 1 + 10 + 6 + 5 + 7 = 29 -> PkgLength 30 = 0x1E.
     */
    expect_build(&a, BYTES(0x08, 'P', 'K', 'G', '_', 0x12, 0x1E, 0x04, 0x0D, 'L', 'N', 'R', 'O',
                           '0', '0', '0', '5', 0x00, 0x12, 0x05, 0x01, 0x0B, 0x34, 0x12, 0x5C, '_',
                           'S', '5', '_', 0x11, 0x06, 0x0A, 0x03, 0x01, 0x02, 0x03));
}

static void test_string_rules(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "S");
    vmio_aml_string(&a, "");
    expect_build(&a, BYTES(0x08, 'S', '_', '_', '_', 0x0D, 0x00));

    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "S");
    vmio_aml_string(&a, "caf\xc3\xa9");
    assert_int_equal(finish_code(&a), -EINVAL);
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "S");
    vmio_aml_string(&a, NULL);
    assert_int_equal(finish_code(&a), -EINVAL);
}

static void test_eisa_id(void **state)
{
    (void)state;
    uint32_t v = 0;
    /* "PNP": P=16, N=14, P=16 in 5 bits each, then 0x0501: 0x41D00501, stored MSB first. */
    assert_int_equal(vmio_aml_eisa_id_value("PNP0501", &v), 0);
    assert_int_equal(v, 0x0105D041);
    assert_int_equal(vmio_aml_eisa_id_value("PNP0B00", &v), 0);
    assert_int_equal(v, 0x000BD041);
    assert_int_equal(vmio_aml_eisa_id_value("ABC1234", &v), 0);
    /* A=1 B=2 C=3: 0b0_00001_00010_00011 = 0x0443, then 0x1234 -> bytes 04 43 12 34. */
    assert_int_equal(v, 0x34124304);
    const char *bad[] = {"pnp0501", "PNP050", "PNP05011", "PNP05G1", "PN10501", "PNP0b00", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 0x5a5a5a5a;
        assert_int_equal(vmio_aml_eisa_id_value(bad[i], &v), -EINVAL);
        assert_int_equal(v, 0x5a5a5a5a);
    }
    assert_int_equal(vmio_aml_eisa_id_value(NULL, &v), -EINVAL);

    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "_HID");
    vmio_aml_eisa_id(&a, "PNP0501");
    expect_build(&a, BYTES(0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01));
}

static void test_device_with_resources(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_device(&a, "COM1");
    vmio_aml_name(&a, "_HID");
    vmio_aml_eisa_id(&a, "PNP0501");
    vmio_aml_name(&a, "_CRS");
    vmio_aml_resource_template(&a);
    vmio_aml_io(&a, 0x3F8, 0x3F8, 1, 8);
    vmio_aml_irq_noflags(&a, 1u << 4);
    vmio_aml_end(&a);
    vmio_aml_end(&a);
    /*
     * Resources: IO 47 01 F8 03 F8 03 01 08 (8), IRQNoFlags 22 10 00 (3), End 79 00 (2) = 13.
     * Buffer body: BufferSize 0A 0D (2) + 13 = 15 -> PkgLength 16.
     * Device body: "COM1" 4 + Name _HID 10 + Name _CRS (5 + 17) = 36 -> PkgLength 37.
     */
    expect_build(&a,
                 BYTES(0x5B, 0x82, 0x25, 'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0C, 0x41,
                       0xD0, 0x05, 0x01, 0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0A, 0x0D, 0x47,
                       0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00));
}

static void test_method_return(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_scope(&a, "\\_SB");
    vmio_aml_method(&a, "_STA", 0, false);
    vmio_aml_return(&a);
    vmio_aml_integer(&a, 0x0F);
    vmio_aml_end(&a);
    vmio_aml_method(&a, "M2", 2, true);
    vmio_aml_return(&a);
    vmio_aml_name_ref(&a, "^_STA");
    vmio_aml_end(&a);
    vmio_aml_end(&a);
    /*
     * _STA: 14 09 "_STA" 00 A4 0A 0F (body 8). M2: 14 0C "M2__" 0A A4 5E "_STA" (body 11).
     * Scope body: 5C "_SB_" (5) + 10 + 13 = 28 -> PkgLength 29.
     */
    expect_build(&a, BYTES(0x10, 0x1D, 0x5C, '_', 'S', 'B', '_', 0x14, 0x09, '_', 'S', 'T', 'A',
                           0x00, 0xA4, 0x0A, 0x0F, 0x14, 0x0C, 'M', '2', '_', '_', 0x0A, 0xA4, 0x5E,
                           '_', 'S', 'T', 'A'));
}

/* Build a ResourceTemplate holding what @fill adds; return the descriptors only. */
static size_t resources(void (*fill)(struct vmio_aml *), const uint8_t **desc)
{
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "_CRS");
    vmio_aml_resource_template(&a);
    fill(&a);
    vmio_aml_end(&a);
    size_t len;
    struct vmio_error err = {0};
    if (vmio_aml_finish(&a, &len, &err))
        fail_msg("%s", err.msg);
    /* 08 _CRS 11 pkg(1) 0A size: the descriptors start at 9 when all fits one byte. */
    assert_int_equal(out[5], 0x11);
    assert_int_equal(out[7], 0x0A);
    assert_int_equal(out[8], len - 9); /* BufferSize counts descriptors + End Tag */
    assert_int_equal(out[6], len - 6); /* PkgLength (one byte here) */
    expect_at(out + len - 2, BYTES(0x79, 0x00));
    *desc = out + 9;
    return len - 9 - 2;
}

static void fill_fixed_io(struct vmio_aml *a)
{
    vmio_aml_fixed_io(a, 0x80, 0x10);
}
static void fill_irq(struct vmio_aml *a)
{
    vmio_aml_irq(a, (1u << 3) | (1u << 4),
                 VMIO_AML_IRQ_EDGE | VMIO_AML_IRQ_ACTIVE_LOW | VMIO_AML_IRQ_SHARED);
    vmio_aml_irq(a, 1u << 15, VMIO_AML_IRQ_WAKE);
}
static void fill_memory32(struct vmio_aml *a)
{
    vmio_aml_memory32_fixed(a, 0xD0000000, 0x1000, true);
    vmio_aml_memory32_fixed(a, 0xFFFFF000, 0x1000, false);
}
static void fill_interrupt(struct vmio_aml *a)
{
    uint32_t one = 16, two[2] = {5, 0x12345678};
    vmio_aml_interrupt(a, 0, &one, 1);
    vmio_aml_interrupt(
        a, VMIO_AML_IRQ_EDGE | VMIO_AML_IRQ_ACTIVE_LOW | VMIO_AML_IRQ_SHARED | VMIO_AML_IRQ_WAKE,
        two, 2);
}
static void fill_qword(struct vmio_aml *a)
{
    vmio_aml_qword_memory(a, 0x100000000ULL, 0x2000, VMIO_AML_MEM_CACHEABLE, true);
}

static void test_resource_descriptors(void **state)
{
    (void)state;
    const uint8_t *d;
    size_t n;

    n = resources(fill_fixed_io, &d);
    expect_bytes(d, n, BYTES(0x4B, 0x80, 0x00, 0x10));

    /* IRQ info: bit 0 edge, bit 3 active-low, bit 4 shared, bit 5 wake. */
    n = resources(fill_irq, &d);
    expect_bytes(d, n, BYTES(0x23, 0x18, 0x00, 0x19, 0x23, 0x00, 0x80, 0x20));

    n = resources(fill_memory32, &d);
    expect_bytes(d, n,
                 BYTES(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00, 0x86,
                       0x09, 0x00, 0x00, 0x00, 0xF0, 0xFF, 0xFF, 0x00, 0x10, 0x00, 0x00));

    /* Interrupt flags: bit 0 consumer, 1 edge, 2 active-low, 3 shared, 4 wake. */
    n = resources(fill_interrupt, &d);
    expect_bytes(d, n,
                 BYTES(0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00, 0x89, 0x0A, 0x00, 0x1F,
                       0x02, 0x05, 0x00, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12));

    /*
     * QWord memory: type 0, general flags consumer|MIF|MAF = 0x0D, type-specific
     * cacheable (1 << 1) | RW = 0x03, granularity 0, min, max, translation 0, length.
     */
    n = resources(fill_qword, &d);
    expect_bytes(d, n,
                 BYTES(0x8A, 0x2B, 0x00, 0x00, 0x0D, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, /* gran */
                       0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,             /* min */
                       0xFF, 0x1F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,             /* max */
                       0, 0, 0, 0, 0, 0, 0, 0,                                     /* tra */
                       0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00));           /* len */
}

static void bad_resource(void (*fill)(struct vmio_aml *))
{
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "_CRS");
    vmio_aml_resource_template(&a);
    size_t before = a.len;
    fill(&a);
    assert_int_equal(a.len, before); /* nothing of the bad descriptor was written */
    vmio_aml_end(&a);
    assert_int_equal(finish_code(&a), -EINVAL);
}

static void bad_io_range(struct vmio_aml *a)
{
    vmio_aml_io(a, 0xFFFC, 0xFFFC, 1, 8);
}
static void bad_io_order(struct vmio_aml *a)
{
    vmio_aml_io(a, 0x3F8, 0x2F8, 1, 8);
}
static void bad_fixed_io(struct vmio_aml *a)
{
    vmio_aml_fixed_io(a, 0x3FC, 8);
}
static void bad_irq_mask(struct vmio_aml *a)
{
    vmio_aml_irq_noflags(a, 0);
}
static void bad_irq_flags_mask(struct vmio_aml *a)
{
    vmio_aml_irq(a, 0, VMIO_AML_IRQ_EDGE);
}
static void bad_mem32_wrap(struct vmio_aml *a)
{
    vmio_aml_memory32_fixed(a, 0xFFFFF000, 0x2000, true);
}
static void bad_mem32_empty(struct vmio_aml *a)
{
    vmio_aml_memory32_fixed(a, 0x1000, 0, true);
}
static void bad_interrupt_none(struct vmio_aml *a)
{
    uint32_t g = 1;
    vmio_aml_interrupt(a, 0, &g, 0);
}
static void bad_interrupt_null(struct vmio_aml *a)
{
    vmio_aml_interrupt(a, 0, NULL, 1);
}
static void bad_qword_wrap(struct vmio_aml *a)
{
    vmio_aml_qword_memory(a, UINT64_MAX - 0xFFE, 0x1000, VMIO_AML_MEM_NON_CACHEABLE, true);
}
static void bad_qword_cache(struct vmio_aml *a)
{
    vmio_aml_qword_memory(a, 0x1000, 0x1000, (enum vmio_aml_mem_cache)4, true);
}

static void test_resource_descriptors_rejected(void **state)
{
    (void)state;
    void (*bad[])(struct vmio_aml *) = {
        bad_io_range,       bad_io_order,   bad_fixed_io,    bad_irq_mask,
        bad_irq_flags_mask, bad_mem32_wrap, bad_mem32_empty, bad_interrupt_none,
        bad_interrupt_null, bad_qword_wrap, bad_qword_cache,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        bad_resource(bad[i]);
    /* The largest valid ones at the edges are accepted. */
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "_CRS");
    vmio_aml_resource_template(&a);
    vmio_aml_io(&a, 0xFFF8, 0xFFF8, 1, 8);
    vmio_aml_fixed_io(&a, 0x3F8, 8);
    vmio_aml_memory32_fixed(&a, 0xFFFFF000, 0x1000, true);
    vmio_aml_qword_memory(&a, UINT64_MAX - 0xFFF, 0x1000, VMIO_AML_MEM_PREFETCHABLE, false);
    vmio_aml_end(&a);
    assert_int_equal(finish_code(&a), 0);
}

/* ---- Failure rules ---- */

/* A build that uses every construct; @a decides where it goes. */
static void big_build(struct vmio_aml *a)
{
    vmio_aml_name(a, "_S5");
    vmio_aml_package(a);
    vmio_aml_integer(a, 5);
    vmio_aml_integer(a, 0x123456789ULL);
    vmio_aml_end(a);
    vmio_aml_scope(a, "\\_SB");
    for (unsigned i = 0; i < 3; i++) {
        char name[5] = {'V', 'R', '0', (char)('0' + i), 0};
        vmio_aml_device(a, name);
        vmio_aml_name(a, "_HID");
        vmio_aml_string(a, "LNRO0005");
        vmio_aml_name(a, "_UID");
        vmio_aml_integer(a, i);
        vmio_aml_name(a, "_CRS");
        vmio_aml_resource_template(a);
        vmio_aml_memory32_fixed(a, 0xD0000000 + i * 0x1000, 0x1000, true);
        uint32_t gsi = 16 + i;
        vmio_aml_interrupt(a, 0, &gsi, 1);
        vmio_aml_end(a);
        vmio_aml_method(a, "_STA", 0, false);
        vmio_aml_return(a);
        vmio_aml_integer(a, 0x0F);
        vmio_aml_end(a);
        vmio_aml_end(a);
    }
    vmio_aml_end(a);
}

static void test_overflow_never_writes_past_the_buffer(void **state)
{
    (void)state;
    struct vmio_aml a;
    size_t full;
    vmio_aml_init(&a, NULL, 0); /* measuring */
    big_build(&a);
    assert_int_equal(vmio_aml_finish(&a, &full, NULL), 0);
    uint8_t *ref = malloc(full);
    assert_non_null(ref);
    vmio_aml_init(&a, ref, full);
    big_build(&a);
    size_t len;
    assert_int_equal(vmio_aml_finish(&a, &len, NULL), 0);
    assert_int_equal(len, full); /* measured == built */

    for (size_t cap = 0; cap < full; cap++) {
        /* An exact-size heap block (ASan sees any overrun) plus a canary copy. */
        uint8_t *buf = malloc(cap ? cap : 1);
        uint8_t canary[64];
        assert_non_null(buf);
        memset(buf, 0xEE, cap ? cap : 1);
        vmio_aml_init(&a, buf, cap);
        big_build(&a);
        struct vmio_error err = {0};
        assert_int_equal(vmio_aml_finish(&a, NULL, &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "buffer is full"));
        assert_true(a.len <= cap);
        free(buf);

        uint8_t *big = malloc(cap + sizeof(canary));
        assert_non_null(big);
        memset(canary, 0xC5, sizeof(canary));
        memcpy(big + cap, canary, sizeof(canary));
        vmio_aml_init(&a, big, cap);
        big_build(&a);
        assert_int_equal(finish_code(&a), -ENOSPC);
        assert_memory_equal(big + cap, canary, sizeof(canary));
        free(big);
    }
    free(ref);
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "OK");
    vmio_aml_integer(&a, 1);
    size_t good = a.len;
    vmio_aml_name(&a, "bad!");
    vmio_aml_name(&a, "X");
    vmio_aml_integer(&a, 7);
    vmio_aml_scope(&a, "Y");
    vmio_aml_end(&a);
    /* Later failures of other kinds do not replace the first. */
    vmio_aml_method(&a, "M", 9, false);
    vmio_aml_io(&a, 2, 1, 1, 1);
    vmio_aml_string(&a, NULL);
    vmio_aml_eisa_id(&a, "bad");
    assert_int_equal(a.len, good); /* nothing after the first error */
    struct vmio_error err = {0};
    assert_int_equal(vmio_aml_finish(&a, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "malformed name"));
    assert_non_null(strstr(err.msg, "at byte 6"));
}

static void grammar_error(void (*build)(struct vmio_aml *), const char *what)
{
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    build(&a);
    struct vmio_error err = {0};
    assert_int_equal(vmio_aml_finish(&a, NULL, &err), -EINVAL);
    if (!strstr(err.msg, what))
        fail_msg("expected \"%s\" in \"%s\"", what, err.msg);
}

static void g_bare_data(struct vmio_aml *a)
{
    vmio_aml_integer(a, 1);
}
static void g_name_in_package(struct vmio_aml *a)
{
    vmio_aml_name(a, "P");
    vmio_aml_package(a);
    vmio_aml_name(a, "X");
}
static void g_device_in_template(struct vmio_aml *a)
{
    vmio_aml_name(a, "_CRS");
    vmio_aml_resource_template(a);
    vmio_aml_device(a, "X");
}
static void g_data_in_template(struct vmio_aml *a)
{
    vmio_aml_name(a, "_CRS");
    vmio_aml_resource_template(a);
    vmio_aml_integer(a, 1);
}
static void g_resource_outside(struct vmio_aml *a)
{
    vmio_aml_io(a, 0x60, 0x60, 1, 1);
}
static void g_resource_in_package(struct vmio_aml *a)
{
    vmio_aml_name(a, "P");
    vmio_aml_package(a);
    vmio_aml_irq_noflags(a, 1);
}
static void g_return_outside(struct vmio_aml *a)
{
    vmio_aml_device(a, "D");
    vmio_aml_return(a);
}
static void g_name_name(struct vmio_aml *a)
{
    vmio_aml_name(a, "A");
    vmio_aml_name(a, "B");
}
static void g_end_pending(struct vmio_aml *a)
{
    vmio_aml_method(a, "M", 0, false);
    vmio_aml_return(a);
    vmio_aml_end(a);
}
static void g_finish_pending(struct vmio_aml *a)
{
    vmio_aml_name(a, "A");
}
static void g_end_nothing(struct vmio_aml *a)
{
    vmio_aml_end(a);
}
static void g_still_open(struct vmio_aml *a)
{
    vmio_aml_scope(a, "S");
}
static void g_too_deep(struct vmio_aml *a)
{
    for (int i = 0; i <= VMIO_AML_MAX_DEPTH; i++)
        vmio_aml_scope(a, "S");
}
static void g_too_many_args(struct vmio_aml *a)
{
    vmio_aml_method(a, "M", 8, false);
}
static void g_big_package(struct vmio_aml *a)
{
    vmio_aml_name(a, "P");
    vmio_aml_package(a);
    for (int i = 0; i < 256; i++)
        vmio_aml_integer(a, 0);
    vmio_aml_end(a);
}
static void g_bad_eisa(struct vmio_aml *a)
{
    vmio_aml_name(a, "_HID");
    vmio_aml_eisa_id(a, "PNP05011");
}
static void g_null_buffer(struct vmio_aml *a)
{
    vmio_aml_name(a, "B");
    vmio_aml_buffer_data(a, NULL, 4);
}

static void test_grammar_is_checked(void **state)
{
    (void)state;
    grammar_error(g_bare_data, "data term outside a Package");
    grammar_error(g_name_in_package, "declaration inside a Package");
    grammar_error(g_device_in_template, "declaration inside a Package or ResourceTemplate");
    grammar_error(g_data_in_template, "data term outside a Package");
    grammar_error(g_resource_outside, "resource descriptor outside");
    grammar_error(g_resource_in_package, "resource descriptor outside");
    grammar_error(g_return_outside, "Return outside a Method");
    grammar_error(g_name_name, "no operand");
    grammar_error(g_end_pending, "no operand");
    grammar_error(g_finish_pending, "no operand");
    grammar_error(g_end_nothing, "nothing open");
    grammar_error(g_still_open, "still open");
    grammar_error(g_too_deep, "nesting deeper");
    grammar_error(g_too_many_args, "more than 7 arguments");
    grammar_error(g_big_package, "more than 255 elements");
    grammar_error(g_bad_eisa, "EISA id");
    grammar_error(g_null_buffer, "NULL buffer");
}

static void test_limits_accepted(void **state)
{
    (void)state;
    /* 255 elements fit NumElements; 16 levels of nesting are allowed. */
    struct vmio_aml a;
    vmio_aml_init(&a, out, sizeof(out));
    vmio_aml_name(&a, "P");
    vmio_aml_package(&a);
    for (int i = 0; i < 255; i++)
        vmio_aml_integer(&a, 0);
    vmio_aml_end(&a);
    size_t len;
    assert_int_equal(vmio_aml_finish(&a, &len, NULL), 0);
    /* body: 1 + 255 = 256 -> PkgLength 258 = 0x102: 42 10, then NumElements FF. */
    expect_at(out + 5, BYTES(0x12, 0x42, 0x10, 0xFF));
    assert_int_equal(len, 5 + 3 + 256);

    vmio_aml_init(&a, out, sizeof(out));
    for (int i = 0; i < VMIO_AML_MAX_DEPTH; i++)
        vmio_aml_scope(&a, "S");
    for (int i = 0; i < VMIO_AML_MAX_DEPTH; i++)
        vmio_aml_end(&a);
    assert_int_equal(vmio_aml_finish(&a, &len, NULL), 0);
    /*
     * Scope k (innermost k = 1) has body 4 + size(k - 1): the ten innermost
     * fit a 1-byte PkgLength (6 bytes each, body <= 58), the six outer ones
     * (bodies 64, 71, ... 99) need 2 bytes (7 bytes each more).
     */
    assert_int_equal(len, 10 * 6 + 6 * 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkglength_values),
        cmocka_unit_test(test_pkglength_counts_itself),
        cmocka_unit_test(test_pkglength_in_nested_bodies),
        cmocka_unit_test(test_integer_smallest_encoding),
        cmocka_unit_test(test_name_paths),
        cmocka_unit_test(test_name_paths_malformed),
        cmocka_unit_test(test_s5_package),
        cmocka_unit_test(test_nested_packages_and_strings),
        cmocka_unit_test(test_string_rules),
        cmocka_unit_test(test_eisa_id),
        cmocka_unit_test(test_device_with_resources),
        cmocka_unit_test(test_method_return),
        cmocka_unit_test(test_resource_descriptors),
        cmocka_unit_test(test_resource_descriptors_rejected),
        cmocka_unit_test(test_overflow_never_writes_past_the_buffer),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_grammar_is_checked),
        cmocka_unit_test(test_limits_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
