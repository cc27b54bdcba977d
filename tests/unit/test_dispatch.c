/*
 * Dispatch unit tests (no KVM): the run loop's access path driven directly,
 * QEMU-qtest style. Width handling, string I/O order, the three unclaimed
 * policies, device stop requests and device errors; the log policy's rate
 * limits per device window and per space, with their "suppressed" summaries,
 * driven by a manual clock (time is an input: nothing here sleeps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/clock.h"
#include "vmio/devices.h"
#include "vmio/dispatch.h"
#include "vmio/testdev_regs.h"

struct fixture {
    struct vmio_bus *mmio, *pio;
    struct vmio_device *td_mmio, *td_pio, *exitdev;
    struct vmio_dispatcher d;
};

static uint64_t fake_ip(void *ctx)
{
    (void)ctx;
    return 0x1234;
}

static void fake_insn(void *ctx, const struct vmio_exit *e, char *buf, size_t size)
{
    (void)ctx;
    snprintf(buf, size, " insn \"mov ax, word [rbx]\"%s", e->access.width == 2 ? "" : "?");
}

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.mmio = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
    f.pio = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    assert_int_equal(vmio_testdev_create("testdev-mmio", &f.td_mmio, NULL), 0);
    assert_int_equal(vmio_testdev_create("testdev-pio", &f.td_pio, NULL), 0);
    assert_int_equal(vmio_debug_exit_create("debug-exit", &f.exitdev, NULL), 0);
    assert_int_equal(
        vmio_bus_register(f.mmio, f.td_mmio, VMIO_TESTDEV_MMIO_BASE, VMIO_TESTDEV_MMIO_SIZE, NULL),
        0);
    assert_int_equal(
        vmio_bus_register(f.pio, f.td_pio, VMIO_TESTDEV_PIO_BASE, VMIO_TESTDEV_PIO_SIZE, NULL), 0);
    assert_int_equal(vmio_bus_register(f.pio, f.exitdev, 0xf4, 1, NULL), 0);
    f.d = (struct vmio_dispatcher){.mmio = f.mmio, .pio = f.pio, .get_ip = fake_ip};
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vmio_bus_free(f->mmio);
    vmio_bus_free(f->pio);
    f->td_mmio->ops->destroy(f->td_mmio);
    f->td_pio->ops->destroy(f->td_pio);
    f->exitdev->ops->destroy(f->exitdev);
    return 0;
}

static struct vmio_exit io(enum vmio_space space, enum vmio_dir dir, uint64_t addr, unsigned width,
                           uint64_t data)
{
    struct vmio_exit e = {.reason = VMIO_EXIT_IO};
    e.access = (struct vmio_access){.space = space,
                                    .dir = dir,
                                    .width = (uint8_t)width,
                                    .count = 1,
                                    .addr = addr,
                                    .data = data,
                                    .reg = VMIO_REG_NONE};
    return e;
}

static uint64_t rd(struct fixture *f, enum vmio_space s, uint64_t addr, unsigned width)
{
    struct vmio_exit e = io(s, VMIO_READ, addr, width, 0);
    uint8_t buf[8];
    memset(buf, 0xaa, sizeof(buf));
    e.access.buf = buf;
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 0);
    uint64_t from_buf = 0;
    memcpy(&from_buf, buf, width);
    assert_int_equal(from_buf, e.access.data); /* completion buffer agrees with data */
    if (width < 8)
        assert_int_equal(buf[width], 0xaa); /* nothing written past the access width */
    return e.access.data;
}

static void wr(struct fixture *f, enum vmio_space s, uint64_t addr, unsigned width, uint64_t v)
{
    struct vmio_exit e = io(s, VMIO_WRITE, addr, width, v);
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 0);
}

static void test_widths_reach_device(void **state)
{
    struct fixture *f = *state;
    const enum vmio_space spaces[] = {VMIO_SPACE_MMIO, VMIO_SPACE_PIO};
    const uint64_t bases[] = {VMIO_TESTDEV_MMIO_BASE, VMIO_TESTDEV_PIO_BASE};
    for (unsigned s = 0; s < 2; s++) {
        uint64_t b = bases[s];
        for (unsigned w = 1; w <= 8; w *= 2) {
            for (unsigned k = 0; k + w <= 8; k += w) {
                uint64_t got = rd(f, spaces[s], b + VMIO_TESTDEV_PATTERN + k, w);
                assert_int_equal(got, (VMIO_TESTDEV_PATTERN_VALUE >> (8 * k)) & vmio_width_mask(w));
                uint64_t last = rd(f, spaces[s], b + VMIO_TESTDEV_LAST, 8);
                assert_int_equal(last, (VMIO_TESTDEV_PATTERN + k) | ((uint64_t)w << 16));
            }
        }
        wr(f, spaces[s], b + VMIO_TESTDEV_ECHO, 8, 0x0102030405060708ULL);
        wr(f, spaces[s], b + VMIO_TESTDEV_ECHO + 2, 2, 0xbeef);
        wr(f, spaces[s], b + VMIO_TESTDEV_ECHO + 7, 1, 0xff);
        assert_int_equal(rd(f, spaces[s], b + VMIO_TESTDEV_ECHO, 8), 0xff020304beef0708ULL);
        assert_int_equal(rd(f, spaces[s], b + VMIO_TESTDEV_ECHO + 4, 4), 0xff020304);
        assert_int_equal(rd(f, spaces[s], b + VMIO_TESTDEV_LAST, 4),
                         (VMIO_TESTDEV_ECHO + 4) | (4u << 16));
    }
}

static void test_string_io_in_order(void **state)
{
    struct fixture *f = *state;
    uint16_t elems[10];
    for (unsigned i = 0; i < 10; i++)
        elems[i] = (uint16_t)(0x1000 + i * 3);
    struct vmio_exit e =
        io(VMIO_SPACE_PIO, VMIO_WRITE, VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_PUSH, 2, 0);
    e.access.count = 10;
    e.access.buf = (uint8_t *)elems;
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 0);
    assert_int_equal(rd(f, VMIO_SPACE_PIO, VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_LEN, 4), 10);

    uint32_t out[10];
    memset(out, 0, sizeof(out));
    e = io(VMIO_SPACE_PIO, VMIO_READ, VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_POP, 4, 0);
    e.access.count = 10;
    e.access.buf = (uint8_t *)out;
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 0);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(out[i], 0x1000 + i * 3);
    assert_int_equal(rd(f, VMIO_SPACE_PIO, VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_POP, 2),
                     0xffff); /* empty */
}

static void test_unclaimed_ignore_and_log(void **state)
{
    struct fixture *f = *state;
    const struct vmio_bus_range *claimed = (void *)1;
    for (unsigned w = 1; w <= 8; w *= 2) {
        struct vmio_exit e = io(VMIO_SPACE_MMIO, VMIO_READ, 0xe0000000, w, 0);
        uint8_t buf[8] = {0};
        e.access.buf = buf;
        assert_int_equal(vmio_dispatch(&f->d, &e, &claimed), 0);
        assert_null(claimed);
        assert_int_equal(e.access.data, vmio_width_mask(w));
        assert_int_equal(buf[w - 1], 0xff);
        if (w < 8)
            assert_int_equal(buf[w], 0);
    }
    /* straddling the end of testdev's window is unclaimed */
    assert_int_equal(rd(f, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_MMIO_SIZE - 2, 4),
                     0xffffffff);
    char logbuf[512] = {0};
    FILE *log = fmemopen(logbuf, sizeof(logbuf), "w");
    f->d.policy = VMIO_UNCLAIMED_LOG;
    f->d.log = log;
    wr(f, VMIO_SPACE_PIO, 0x80, 1, 0x42);
    fclose(log);
    assert_non_null(strstr(logbuf, "unclaimed port write of 1 bytes at 0x80 value 0x42"));
    assert_non_null(strstr(logbuf, "rip 0x1234"));

    /* describe_insn appends the instruction to the line */
    memset(logbuf, 0, sizeof(logbuf));
    log = fmemopen(logbuf, sizeof(logbuf), "w");
    f->d.log = log;
    f->d.describe_insn = fake_insn;
    rd(f, VMIO_SPACE_MMIO, 0xe0000020, 2);
    fclose(log);
    assert_non_null(strstr(logbuf, "unclaimed mmio read of 2 bytes at 0xe0000020 (rip 0x1234) "
                                   "insn \"mov ax, word [rbx]\"\n"));
    f->d.describe_insn = NULL;
    f->d.policy = VMIO_UNCLAIMED_IGNORE;
    f->d.log = NULL;
}

static void test_unclaimed_strict_stops(void **state)
{
    struct fixture *f = *state;
    f->d.policy = VMIO_UNCLAIMED_STRICT;
    struct vmio_exit e = io(VMIO_SPACE_MMIO, VMIO_WRITE, 0xe0000010, 4, 0xdeadbeef);
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 1);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED);
    assert_int_equal(e.ip, 0x1234);
    char line[256];
    vmio_exit_describe(&e, line, sizeof(line));
    assert_string_equal(line, "unclaimed mmio write of 4 bytes at 0xe0000010 value 0xdeadbeef "
                              "(rip 0x1234)");
    /* a claimed access still goes through under strict */
    assert_int_equal(rd(f, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_PATTERN, 1),
                     0x11);
    f->d.policy = VMIO_UNCLAIMED_IGNORE;
}

static void test_bad_width_is_unclaimed(void **state)
{
    struct fixture *f = *state;
    struct vmio_exit e = io(VMIO_SPACE_MMIO, VMIO_READ, VMIO_TESTDEV_MMIO_BASE, 3, 0);
    const struct vmio_bus_range *claimed = (void *)1;
    assert_int_equal(vmio_dispatch(&f->d, &e, &claimed), 0);
    assert_null(claimed);
    e = io(VMIO_SPACE_MMIO, VMIO_READ, VMIO_TESTDEV_MMIO_BASE, 16, 0);
    uint8_t buf[16] = {0};
    e.access.buf = buf;
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 0);
    assert_int_equal(buf[8], 0); /* never completes more than 8 bytes */
}

static void test_debug_exit_stops_with_value(void **state)
{
    struct fixture *f = *state;
    struct vmio_exit e = io(VMIO_SPACE_PIO, VMIO_WRITE, 0xf4, 1, 0x2a);
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 1);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 0x2a);
    assert_string_equal(e.device, "debug-exit");
    char line[256];
    vmio_exit_describe(&e, line, sizeof(line));
    assert_non_null(strstr(line, "exit status 85"));
}

static int failing_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *v)
{
    (void)dev, (void)io;
    *v = 0x55;
    return -EIO;
}

static int plain_write(struct vmio_device *dev, struct vmio_io *io, uint64_t v)
{
    uint64_t o = io->offset;
    unsigned w = io->width;
    (void)dev, (void)o, (void)w, (void)v;
    return 0;
}

static void test_device_error_reported(void **state)
{
    struct fixture *f = *state;
    static const struct vmio_device_ops no_write = {.read = failing_read};
    static const struct vmio_device_ops ops = {.read = failing_read, .write = plain_write};
    struct vmio_device half = {.name = "half", .ops = &no_write};
    struct vmio_device broken = {.name = "broken", .ops = &ops};
    struct vmio_error err = {0};
    assert_int_equal(vmio_bus_register(f->pio, &half, 0x100, 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "half"));
    assert_int_equal(vmio_bus_register(f->pio, &broken, 0x100, 1, NULL), 0);
    struct vmio_exit e = io(VMIO_SPACE_PIO, VMIO_READ, 0x100, 1, 0);
    uint8_t buf[1] = {0};
    e.access.buf = buf;
    assert_int_equal(vmio_dispatch(&f->d, &e, NULL), 1);
    assert_int_equal(e.reason, VMIO_EXIT_DEVICE_ERROR);
    assert_string_equal(e.device, "broken");
    assert_int_equal((int64_t)e.code, -EIO);
    assert_int_equal(buf[0], 0); /* a failed read completes nothing */
    assert_int_equal(vmio_bus_unregister(f->pio, &broken, 0x100, NULL), 0);
}

static size_t count_lines(const char *buf, const char *needle)
{
    size_t n = 0;
    for (const char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_log_rate_limited(void **state)
{
    struct fixture *f = *state;
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 5000000000ull, 0);
    static struct vmio_log_limits limits;
    vmio_log_limits_init(&limits, &clk.clock);
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    f->d.policy = VMIO_UNCLAIMED_LOG;
    f->d.log = log;
    f->d.limits = &limits;

    /* A guest spinning on an unclaimed port: 10 lines a second, the rest counted. */
    for (unsigned i = 0; i < 100; i++)
        wr(f, VMIO_SPACE_PIO, 0x80, 1, i);
    /* Meanwhile a driver keeps straddling testdev's MMIO window: its own limit. */
    for (unsigned i = 0; i < 30; i++)
        rd(f, VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_MMIO_SIZE - 2, 4);
    /* ... and an unclaimed MMIO address elsewhere still shows: another source. */
    rd(f, VMIO_SPACE_MMIO, 0xe0000000, 4);
    fflush(log);
    assert_int_equal(count_lines(logbuf, "unclaimed port write"), VMIO_LOG_BURST);
    assert_int_equal(count_lines(logbuf, "unclaimed mmio read of 4 bytes at 0xd0000ffe"),
                     VMIO_LOG_BURST);
    assert_int_equal(count_lines(logbuf, "at 0xe0000000"), 1);
    assert_null(strstr(logbuf, "suppressed"));

    /* A second later the next line carries the count of what was left out. */
    vmio_manual_clock_advance(&clk, VMIO_LOG_WINDOW_NS);
    wr(f, VMIO_SPACE_PIO, 0x80, 1, 0x77);
    fflush(log);
    assert_non_null(strstr(logbuf, "vmio: 90 more unclaimed pio access lines were suppressed (at "
                                   "most 10 per second from one source)\nvmio: unclaimed port "
                                   "write of 1 bytes at 0x80 value 0x77"));
    /* The flood at testdev's window is reported at the end, by name. */
    const char *names[] = {"testdev-mmio"};
    vmio_log_limits_flush(&limits, log, names, 1);
    fflush(log);
    assert_non_null(strstr(logbuf, "vmio: 20 more unclaimed access lines at device testdev-mmio "
                                   "were suppressed (at most 10 per second from one source)\n"));
    assert_int_equal(count_lines(logbuf, "suppressed"), 2); /* each counted once */
    vmio_log_limits_flush(&limits, log, names, 1);
    fflush(log);
    assert_int_equal(count_lines(logbuf, "suppressed"), 2);
    fclose(log);
    free(logbuf);
    vmio_log_limits_destroy(&limits);
    f->d.limits = NULL;
    f->d.policy = VMIO_UNCLAIMED_IGNORE;
    f->d.log = NULL;
}

static void test_ratelimit_windows(void **state)
{
    (void)state;
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 0, 0);
    struct vmio_ratelimit rl;
    vmio_ratelimit_init(&rl, &clk.clock, 2, 100);
    uint64_t s = 99;
    assert_true(vmio_ratelimit_allow(&rl, &s));
    assert_int_equal(s, 0);
    assert_true(vmio_ratelimit_allow(&rl, &s));
    assert_false(vmio_ratelimit_allow(&rl, &s));
    assert_false(vmio_ratelimit_allow(&rl, NULL));
    vmio_manual_clock_advance(&clk, 99); /* still the same window */
    assert_false(vmio_ratelimit_allow(&rl, &s));
    vmio_manual_clock_advance(&clk, 1);
    assert_true(vmio_ratelimit_allow(&rl, &s));
    assert_int_equal(s, 3);
    assert_true(vmio_ratelimit_allow(&rl, &s));
    assert_int_equal(s, 0);
    assert_false(vmio_ratelimit_allow(&rl, &s));
    assert_int_equal(vmio_ratelimit_take_suppressed(&rl), 1);
    assert_int_equal(vmio_ratelimit_take_suppressed(&rl), 0);
    vmio_ratelimit_destroy(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths_reach_device),
        cmocka_unit_test(test_string_io_in_order),
        cmocka_unit_test(test_unclaimed_ignore_and_log),
        cmocka_unit_test(test_unclaimed_strict_stops),
        cmocka_unit_test(test_bad_width_is_unclaimed),
        cmocka_unit_test(test_debug_exit_stops_with_value),
        cmocka_unit_test(test_device_error_reported),
        cmocka_unit_test(test_log_rate_limited),
        cmocka_unit_test(test_ratelimit_windows),
    };
    return cmocka_run_group_tests_name("dispatch", tests, setup, teardown);
}
