/*
 * testdev unit tests: every register's documented behaviour
 * (vmio/testdev_regs.h), driven through its callbacks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/devices.h"
#include "vmio/testdev_regs.h"

static uint64_t rd(struct vmio_device *d, uint64_t off, unsigned w)
{
    uint64_t v = 0xdeadbeefdeadbeefULL;
    assert_int_equal(vmio_device_read(d, off, w, &v), 0);
    return v;
}

static void wr(struct vmio_device *d, uint64_t off, unsigned w, uint64_t v)
{
    assert_int_equal(vmio_device_write(d, off, w, v), 0);
}

static void test_counters_last_and_sum(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    assert_int_equal(vmio_testdev_create("t", &d, NULL), 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_READS, 8), 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_READS, 8), 1);
    wr(d, VMIO_TESTDEV_SUM, 1, 0x1ff); /* only the low byte of a 1-byte write counts */
    wr(d, VMIO_TESTDEV_SUM, 4, 0x100);
    assert_int_equal(rd(d, VMIO_TESTDEV_SUM, 8), 0x1ff);
    assert_int_equal(rd(d, VMIO_TESTDEV_WRITES, 8), 2);
    assert_int_equal(rd(d, VMIO_TESTDEV_LAST, 8), VMIO_TESTDEV_WRITES | (8u << 16));
    wr(d, VMIO_TESTDEV_ECHO + 6, 2, 0xabcd);
    assert_int_equal(rd(d, VMIO_TESTDEV_LAST, 4),
                     (VMIO_TESTDEV_ECHO + 6) | (2u << 16) | (1u << 24));
    wr(d, VMIO_TESTDEV_READS, 1, 0); /* reset */
    assert_int_equal(rd(d, VMIO_TESTDEV_READS, 8), 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_WRITES, 8), 0);
    d->ops->destroy(d);
}

static void test_bad_accesses(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    assert_int_equal(vmio_testdev_create("t", &d, NULL), 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_ECHO + 6, 4), 0xffffffff); /* straddles ECHO/PATTERN */
    assert_int_equal(rd(d, VMIO_TESTDEV_END, 1), 0xff);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF - 8, 8),
                     ~0ULL); /* between the registers and the buffer */
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_END - 4, 8), ~0ULL);      /* runs past the buffer */
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_END + 0x100, 2), 0xffff); /* no register */
    wr(d, VMIO_TESTDEV_ECHO + 7, 2, 0x1234);
    wr(d, VMIO_TESTDEV_WBUF_END - 2, 4, 0x1234);
    assert_int_equal(rd(d, VMIO_TESTDEV_ECHO, 8), 0);       /* the straddling write was dropped */
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_COUNT, 8), 0); /* and so was the one past the buffer */
    assert_int_equal(rd(d, VMIO_TESTDEV_BAD, 8), 7);
    wr(d, VMIO_TESTDEV_PATTERN, 8, 0); /* read-only */
    assert_int_equal(rd(d, VMIO_TESTDEV_PATTERN, 8), VMIO_TESTDEV_PATTERN_VALUE);
    d->ops->destroy(d);
}

static void test_log_fifo(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    assert_int_equal(vmio_testdev_create("t", &d, NULL), 0);
    for (unsigned i = 0; i < VMIO_TESTDEV_LOG_DEPTH + 3; i++)
        wr(d, VMIO_TESTDEV_LOG_PUSH, 4, i);
    assert_int_equal(rd(d, VMIO_TESTDEV_LOG_LEN, 8), VMIO_TESTDEV_LOG_DEPTH);
    assert_int_equal(rd(d, VMIO_TESTDEV_BAD, 8), 3); /* refused while full */
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(rd(d, VMIO_TESTDEV_LOG_POP, 4), i);
    wr(d, VMIO_TESTDEV_LOG_PUSH, 2, 0x77);
    assert_int_equal(rd(d, VMIO_TESTDEV_LOG_LEN, 8), VMIO_TESTDEV_LOG_DEPTH - 4);
    wr(d, VMIO_TESTDEV_LOG_LEN, 1, 0); /* empty it */
    assert_int_equal(rd(d, VMIO_TESTDEV_LOG_LEN, 8), 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_LOG_POP, 8), ~0ULL);
    d->ops->destroy(d);
}

/* The expected WBUF_HASH after writes (offset, width, value) in this order. */
static uint64_t wbuf_hash(const uint64_t (*w)[3], unsigned n)
{
    uint64_t h = VMIO_TESTDEV_WBUF_HASH_SEED;
    for (unsigned i = 0; i < n; i++) {
        uint64_t parts[3][2] = {{w[i][0], 2}, {w[i][1], 1}, {w[i][2], 8}};
        for (unsigned p = 0; p < 3; p++)
            for (unsigned b = 0; b < parts[p][1]; b++)
                h = (h ^ ((parts[p][0] >> (8 * b)) & 0xff)) * VMIO_TESTDEV_WBUF_HASH_PRIME;
    }
    return h;
}

static void test_write_buffer(void **state)
{
    (void)state;
    struct vmio_device *d = NULL;
    assert_int_equal(vmio_testdev_create("t", &d, NULL), 0);
    static const uint64_t w[][3] = {{VMIO_TESTDEV_WBUF, 1, 0xab},
                                    {VMIO_TESTDEV_WBUF + 2, 2, 0xbeef},
                                    {VMIO_TESTDEV_WBUF_END - 8, 8, 0x0102030405060708ULL}};
    for (unsigned i = 0; i < 3; i++)
        wr(d, w[i][0], (unsigned)w[i][1], w[i][2]);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_COUNT, 8), 3);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_HASH, 8), wbuf_hash(w, 3));
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF, 4), 0xbeef00ab); /* the bytes back */
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_END - 8, 8), 0x0102030405060708ULL);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_END - 2, 2), 0x0102);
    /* The same writes in another order give another hash: the order is seen. */
    wr(d, VMIO_TESTDEV_WBUF_COUNT, 1, 0);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_COUNT, 8), 0);
    static const uint64_t swapped[][3] = {{VMIO_TESTDEV_WBUF + 2, 2, 0xbeef},
                                          {VMIO_TESTDEV_WBUF, 1, 0xab},
                                          {VMIO_TESTDEV_WBUF_END - 8, 8, 0x0102030405060708ULL}};
    for (unsigned i = 0; i < 3; i++)
        wr(d, swapped[i][0], (unsigned)swapped[i][1], swapped[i][2]);
    assert_int_equal(rd(d, VMIO_TESTDEV_WBUF_HASH, 8), wbuf_hash(swapped, 3));
    assert_true(wbuf_hash(swapped, 3) != wbuf_hash(w, 3));
    d->ops->destroy(d);
}

/* Constructors share one shape: int, *out set only on success, a message on failure. */
static void test_constructor_refusals(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    assert_int_equal(vmio_testdev_create("t", NULL, &err), -EINVAL);
    struct vmio_device *out = (struct vmio_device *)&err;
    assert_int_equal(vmio_msr_window_create("w", NULL, 8, &out, &err), -EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "no inner device"));
    struct vmio_device *inner = NULL;
    assert_int_equal(vmio_testdev_create("t", &inner, NULL), 0);
    /* Stride 0: refused, and the inner device is released (ASan sees a leak otherwise). */
    assert_int_equal(vmio_msr_window_create("w", inner, 0, &out, &err), -EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "stride 0"));
    assert_int_equal(vmio_debug_exit_create("d", NULL, &err), -EINVAL);
    assert_int_equal(vmio_debugcon_create("c", NULL, NULL, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructor_refusals),
        cmocka_unit_test(test_counters_last_and_sum),
        cmocka_unit_test(test_bad_accesses),
        cmocka_unit_test(test_write_buffer),
        cmocka_unit_test(test_log_fifo),
    };
    return cmocka_run_group_tests_name("testdev", tests, NULL, NULL);
}
