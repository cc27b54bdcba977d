/*
 * Guest-memory object tests (no KVM): regions kept in address order, every
 * refusal of vmio_guest_mem_add() (empty, wrapping, NULL host, overlap on
 * either side, unknown kind) with its message, removal, the one translation
 * (whole span inside one RAM region, edges exact to the byte, len 0,
 * wraparound, pass-through never translated), and copies that cross
 * adjacent RAM regions, fail with -EFAULT on any gap without writing a
 * byte, and write ROM (host writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/guest_mem.h"

static uint8_t a[0x2000], b[0x1000], c[0x1000], pt[0x1000];

/* a at [0x10000, 0x12000), b right after it, a gap, c at 0x20000, pass-through at 0x30000. */
static struct vmio_guest_mem *make(void)
{
    struct vmio_guest_mem *m = NULL;
    assert_int_equal(vmio_guest_mem_create(&m, NULL), 0);
    const struct vmio_mem_region r[] = {
        {.gpa = 0x20000, .size = sizeof(c), .host = c, .readonly = true, .name = "c-rom"},
        {.gpa = 0x10000, .size = sizeof(a), .host = a, .name = "a"},
        {.gpa = 0x30000,
         .size = sizeof(pt),
         .host = pt,
         .kind = VMIO_MEM_PASSTHROUGH,
         .name = "pt"},
        {.gpa = 0x12000, .size = sizeof(b), .host = b, .name = "b"},
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        assert_int_equal(vmio_guest_mem_add(m, &r[i], NULL), 0);
    return m;
}

static void test_add_and_list(void **state)
{
    (void)state;
    struct vmio_guest_mem *m = make();
    assert_int_equal(vmio_guest_mem_count(m), 4);
    const uint64_t order[] = {0x10000, 0x12000, 0x20000, 0x30000};
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vmio_guest_mem_at(m, i)->gpa, order[i]);
    assert_null(vmio_guest_mem_at(m, 4));
    assert_string_equal(vmio_guest_mem_at(m, 2)->name, "c-rom");
    assert_true(vmio_guest_mem_at(m, 2)->readonly);
    assert_int_equal(vmio_guest_mem_at(m, 3)->kind, VMIO_MEM_PASSTHROUGH);

    struct vmio_error err = {0};
    struct vmio_mem_region r = {.gpa = 0x11fff, .size = 2, .host = pt, .name = "x"};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EBUSY); /* overlaps the end of a */
    assert_string_equal(err.msg, "memory region x at 0x11fff-0x12000 overlaps region b at "
                                 "0x12000-0x12fff");
    r.gpa = 0xffff;
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EBUSY); /* the start of a */
    assert_non_null(strstr(err.msg, "overlaps region a at 0x10000-0x11fff"));
    r = (struct vmio_mem_region){.gpa = 0x0, .size = 0x100000, .host = pt};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EBUSY); /* covers everything */
    assert_non_null(strstr(err.msg, "memory region (unnamed)"));
    r = (struct vmio_mem_region){.gpa = 0x13000, .size = 0, .host = pt, .name = "empty"};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "empty or wraps"));
    r = (struct vmio_mem_region){.gpa = ~0ULL - 0xfff, .size = 0x2000, .host = pt, .name = "wrap"};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EINVAL);
    r = (struct vmio_mem_region){.gpa = 0x40000, .size = 0x1000, .host = NULL, .name = "nohost"};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "nohost"));
    r = (struct vmio_mem_region){.gpa = 0x40000, .size = 0x1000, .host = pt, .kind = 7};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), -EINVAL);
    assert_int_equal(vmio_guest_mem_count(m), 4); /* nothing changed */

    /* A region that ends at the very top of the address space is fine. */
    r = (struct vmio_mem_region){.gpa = ~0ULL - 0xfff, .size = 0x1000, .host = pt, .name = "top"};
    assert_int_equal(vmio_guest_mem_add(m, &r, &err), 0);
    assert_ptr_equal(vmio_guest_mem_to_host(m, ~0ULL, 1), pt + 0xfff);
    assert_null(vmio_guest_mem_to_host(m, ~0ULL, 2)); /* would wrap */

    assert_int_equal(vmio_guest_mem_remove(m, 0x12000), 0);
    assert_int_equal(vmio_guest_mem_remove(m, 0x12000), -ENOENT);
    assert_int_equal(vmio_guest_mem_remove(m, 0x10001), -ENOENT); /* not a start */
    assert_int_equal(vmio_guest_mem_count(m), 4);
    assert_null(vmio_guest_mem_to_host(m, 0x12000, 1));
    assert_int_equal(vmio_guest_mem_at(m, 1)->gpa, 0x20000);
    vmio_guest_mem_destroy(m);
    vmio_guest_mem_destroy(NULL);
}

static void test_translate(void **state)
{
    (void)state;
    struct vmio_guest_mem *m = make();
    /* Inside one region, exactly to its last byte. */
    assert_ptr_equal(vmio_guest_mem_to_host(m, 0x10000, 0x2000), a);
    assert_ptr_equal(vmio_guest_mem_to_host(m, 0x11fff, 1), a + 0x1fff);
    assert_ptr_equal(vmio_guest_mem_find(m, 0x10800, 8), vmio_guest_mem_at(m, 0));
    /* One byte too many, even into an adjacent region: one span, one region. */
    assert_null(vmio_guest_mem_to_host(m, 0x10000, 0x2001));
    assert_null(vmio_guest_mem_to_host(m, 0x11fff, 2));
    /* Below, between and above the regions. */
    assert_null(vmio_guest_mem_to_host(m, 0xffff, 1));
    assert_null(vmio_guest_mem_to_host(m, 0x13000, 1));
    assert_null(vmio_guest_mem_to_host(m, 0x40000, 1));
    /* Wraparound: a huge length from inside a region. */
    assert_null(vmio_guest_mem_to_host(m, 0x10000, ~0ULL));
    assert_null(vmio_guest_mem_to_host(m, 0x10010, ~0ULL - 8));
    /* Length 0 needs its address inside RAM. */
    assert_ptr_equal(vmio_guest_mem_to_host(m, 0x12fff, 0), b + 0xfff);
    assert_null(vmio_guest_mem_to_host(m, 0x13000, 0));
    /* ROM translates (the readonly flag is for guest writes); pass-through never does. */
    assert_ptr_equal(vmio_guest_mem_to_host(m, 0x20000, 4), c);
    assert_null(vmio_guest_mem_to_host(m, 0x30000, 4));
    assert_null(vmio_guest_mem_find(m, 0x30000, 0));
    vmio_guest_mem_destroy(m);

    struct vmio_guest_mem *empty;
    assert_int_equal(vmio_guest_mem_create(&empty, NULL), 0);
    assert_null(vmio_guest_mem_to_host(empty, 0, 1));
    assert_int_equal(vmio_guest_mem_count(empty), 0);
    vmio_guest_mem_destroy(empty);
}

static void test_copies(void **state)
{
    (void)state;
    struct vmio_guest_mem *m = make();
    uint8_t src[0x100], dst[0x100];
    for (unsigned i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 1);
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    /* Across the a/b boundary. */
    assert_int_equal(vmio_guest_mem_write(m, 0x11f80, src, sizeof(src)), 0);
    assert_memory_equal(a + 0x1f80, src, 0x80);
    assert_memory_equal(b, src + 0x80, 0x80);
    memset(dst, 0, sizeof(dst));
    assert_int_equal(vmio_guest_mem_read(m, 0x11f80, dst, sizeof(dst)), 0);
    assert_memory_equal(dst, src, sizeof(dst));
    assert_int_equal(vmio_guest_mem_fill(m, 0x11ff0, 0xee, 0x20), 0);
    assert_int_equal(a[0x1fff], 0xee);
    assert_int_equal(b[0xf], 0xee);
    assert_int_equal(b[0x10], src[0x90]);

    /* Into the gap after b: -EFAULT and not one byte written. */
    memset(b, 0x11, sizeof(b));
    assert_int_equal(vmio_guest_mem_write(m, 0x12f80, src, sizeof(src)), -EFAULT);
    assert_int_equal(vmio_guest_mem_fill(m, 0x12fff, 0, 2), -EFAULT);
    for (unsigned i = 0; i < sizeof(b); i++)
        assert_int_equal(b[i], 0x11);
    assert_int_equal(vmio_guest_mem_read(m, 0x12f80, dst, sizeof(dst)), -EFAULT);
    /* Pass-through is a gap for copies; wraparound too. */
    memset(pt, 0x22, sizeof(pt));
    assert_int_equal(vmio_guest_mem_write(m, 0x30000, src, 1), -EFAULT);
    assert_int_equal(vmio_guest_mem_read(m, 0x30000, dst, 1), -EFAULT);
    assert_int_equal(pt[0], 0x22);
    assert_int_equal(vmio_guest_mem_read(m, ~0ULL, dst, 2), -EFAULT);
    vmio_guest_mem_destroy(m);
    /* RAM at the top of the address space and at 0: a span never wraps from one to the other. */
    static uint8_t top[0x1000], low[0x1000];
    struct vmio_mem_region rt = {.gpa = ~0ULL - 0xfff, .size = sizeof(top), .host = top};
    struct vmio_mem_region rl = {.gpa = 0, .size = sizeof(low), .host = low};
    assert_int_equal(vmio_guest_mem_create(&m, NULL), 0);
    assert_int_equal(vmio_guest_mem_add(m, &rt, NULL), 0);
    assert_int_equal(vmio_guest_mem_add(m, &rl, NULL), 0);
    memset(low, 0x33, sizeof(low));
    assert_int_equal(vmio_guest_mem_write(m, ~0ULL - 1, src, 4), -EFAULT);
    assert_int_equal(vmio_guest_mem_fill(m, ~0ULL, 0, 2), -EFAULT);
    assert_int_equal(low[0], 0x33);
    assert_int_equal(low[1], 0x33);
    assert_int_equal(vmio_guest_mem_write(m, ~0ULL - 1, src, 2), 0); /* up to the last byte */
    assert_memory_equal(top + 0xffe, src, 2);
    vmio_guest_mem_destroy(m);
    m = make();
    /* ROM is written by the host (loading a firmware image). */
    assert_int_equal(vmio_guest_mem_write(m, 0x20010, src, 4), 0);
    assert_memory_equal(c + 0x10, src, 4);
    /* Nothing to copy always succeeds. */
    assert_int_equal(vmio_guest_mem_write(m, 0x99999999, src, 0), 0);
    assert_int_equal(vmio_guest_mem_read(m, 0x99999999, dst, 0), 0);
    vmio_guest_mem_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_list),
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_copies),
    };
    return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
