/*
 * MC146818 CMOS RTC tests (no KVM), qtest style through a PIO bus at 0x70,
 * with a manual clock (vmio/clock.h) so that time only moves when a test
 * says so and no assertion depends on real elapsed time.
 *
 * The clock starts at monotonic 1000 s and wall time 2024-02-29 13:45:56.25
 * UTC (a Thursday). Covered: power-on registers, BCD and binary, 12- and
 * 24-hour modes, rollover across a century, the UIP window to the
 * nanosecond and Linux's read loop around it, SET freezing and guest-set
 * time kept as an offset (immune to host clock steps), the divider reset's
 * half second, register C's flags and read-to-clear with the IRQ line,
 * update/alarm/periodic interrupts and vmio_rtc_cmos_next_event(), the NMI bit
 * and reads of the index port, CMOS RAM and the BIOS memory-size bytes,
 * 16-bit accesses, and garbage written to every time register.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/bus.h"
#include "vmio/rtc_cmos.h"

#define NS 1000000000ULL
#define MONO0 (1000 * NS)
#define WALL0 (1709214356LL * 1000000000LL + 250000000LL) /* 2024-02-29 13:45:56.25 UTC */

struct fixture {
    struct vmio_manual_clock clock;
    struct vmio_bus *bus;
    struct vmio_device *rtc;
    int levels[64];
    unsigned nlevels;
};

static void record_irq(void *opaque, int level)
{
    struct fixture *f = opaque;
    if (f->nlevels < 64)
        f->levels[f->nlevels++] = level;
}

static struct fixture *make(int64_t wall, uint64_t below, uint64_t above)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    vmio_manual_clock_init(&f->clock, MONO0, wall);
    f->bus = vmio_bus_new(VMIO_SPACE_PIO, "pio");
    assert_non_null(f->bus);
    struct vmio_rtc_cmos_config cfg = {.name = "rtc",
                                       .clock = &f->clock.clock,
                                       .ram_below_4g = below,
                                       .ram_above_4g = above,
                                       .irq = record_irq,
                                       .irq_opaque = f};
    assert_int_equal(vmio_rtc_cmos_create(&cfg, &f->rtc, NULL), 0);
    assert_int_equal(vmio_bus_register(f->bus, f->rtc, 0x70, 2, NULL), 0);
    return f;
}

static int setup(void **state)
{
    *state = make(WALL0, 256 << 20, 0);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vmio_bus_free(f->bus);
    f->rtc->ops->destroy(f->rtc);
    free(f);
    return 0;
}

/* The run loop's path: lookup, translate, call. */
static uint64_t in(struct fixture *f, uint16_t port, unsigned width)
{
    const struct vmio_bus_range *r = vmio_bus_lookup(f->bus, port, width);
    assert_non_null(r);
    uint64_t v = 0xdeadbeef;
    assert_int_equal(vmio_device_read(r->dev, port - r->base, width, &v), 0);
    return v & vmio_width_mask(width);
}

static void out(struct fixture *f, uint16_t port, unsigned width, uint64_t v)
{
    const struct vmio_bus_range *r = vmio_bus_lookup(f->bus, port, width);
    assert_non_null(r);
    assert_int_equal(vmio_device_write(r->dev, port - r->base, width, v), 0);
}

static uint8_t rd(struct fixture *f, uint8_t idx)
{
    out(f, 0x70, 1, idx);
    return (uint8_t)in(f, 0x71, 1);
}

static void wr(struct fixture *f, uint8_t idx, uint8_t v)
{
    out(f, 0x70, 1, idx);
    out(f, 0x71, 1, v);
}

static void advance(struct fixture *f, uint64_t ns)
{
    vmio_manual_clock_advance(&f->clock, ns);
}

static void expect_time(struct fixture *f, uint8_t sec, uint8_t min, uint8_t hour, uint8_t dow,
                        uint8_t dom, uint8_t mon, uint8_t year, uint8_t century)
{
    uint8_t got[8] = {rd(f, 0), rd(f, 2), rd(f, 4), rd(f, 6),
                      rd(f, 7), rd(f, 8), rd(f, 9), rd(f, 0x32)};
    uint8_t want[8] = {sec, min, hour, dow, dom, mon, year, century};
    if (memcmp(got, want, 8))
        fail_msg("time %02x:%02x:%02x dow %x %02x-%02x-%02x%02x, want %02x:%02x:%02x dow %x "
                 "%02x-%02x-%02x%02x",
                 got[2], got[1], got[0], got[3], got[4], got[5], got[7], got[6], want[2], want[1],
                 want[0], want[3], want[4], want[5], want[7], want[6]);
}

static void test_power_on(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rd(f, 0x0a), 0x26);
    assert_int_equal(rd(f, 0x0b), 0x02);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(rd(f, 0x0d), 0x80);
    expect_time(f, 0x56, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20);
    assert_int_equal(f->nlevels, 0);
    assert_int_equal(vmio_rtc_cmos_irq_level(f->rtc), 0);
    assert_true(vmio_rtc_cmos_is(f->rtc));
}

static void test_binary_and_12_hour(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x06); /* binary, 24 h: the time is shown in the new format at once */
    expect_time(f, 56, 45, 13, 5, 29, 2, 24, 20);
    wr(f, 0x0b, 0x00); /* BCD, 12 h: 1 PM */
    assert_int_equal(rd(f, 4), 0x81);
    wr(f, 0x0b, 0x04); /* binary, 12 h */
    assert_int_equal(rd(f, 4), 0x81);
    wr(f, 0x0b, 0x00);
    /* to 00:30 the next day (2024 is a leap year: March 1st): 12 AM */
    advance(f, (10 * 3600 + 14 * 60 + 4 + 30 * 60) * NS);
    expect_time(f, 0x00, 0x30, 0x12, 6, 0x01, 0x03, 0x24, 0x20);
    /* to 12:30: 12 PM */
    advance(f, 12 * 3600 * NS);
    assert_int_equal(rd(f, 4), 0x92);
    advance(f, 11 * 3600 * NS); /* 23:30 = 11 PM */
    assert_int_equal(rd(f, 4), 0x91);
}

static void test_century_rollover(void **state)
{
    (void)state;
    struct fixture *f = make(946684799LL * 1000000000LL + 500000000LL, 64 << 20, 0);
    expect_time(f, 0x59, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19);
    advance(f, NS / 2);
    expect_time(f, 0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20);
    void *s = f;
    teardown(&s);
}

static void test_uip_window(void **state)
{
    struct fixture *f = *state;
    /* phase 0.25 s; the window is the last 2228 us of each second */
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    advance(f, NS - 250000000 - 2228000 - 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    advance(f, 1);
    assert_int_equal(rd(f, 0x0a), 0xa6);
    assert_int_equal(rd(f, 0), 0x56); /* the registers change at the window's end */
    advance(f, 2228000 - 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x80);
    assert_int_equal(rd(f, 0), 0x56);
    advance(f, 1);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    assert_int_equal(rd(f, 0), 0x57);
}

/* Linux's mc146818_avoid_UIP(): seconds, UIP (wait 1 ms if set), values, UIP, seconds. */
static void test_linux_read_loop(void **state)
{
    struct fixture *f = *state;
    advance(f, NS - 250000000 - 1500000); /* 1.5 ms before the boundary: inside the window */
    unsigned loops = 0;
    uint8_t sec, min;
    for (;;) {
        assert_true(++loops < 10);
        sec = rd(f, 0);
        if (rd(f, 0x0a) & 0x80) {
            advance(f, 1000000); /* mdelay(1) */
            continue;
        }
        min = rd(f, 2);
        if (rd(f, 0x0a) & 0x80 || sec != rd(f, 0)) {
            advance(f, 1000000);
            continue;
        }
        break;
    }
    assert_int_equal(loops, 3); /* UIP seen twice, then the new second */
    assert_int_equal(sec, 0x57);
    assert_int_equal(min, 0x45);
}

static void test_set_freezes_and_guest_time_persists(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x82); /* SET */
    advance(f, 5 * NS);
    assert_int_equal(rd(f, 0), 0x56);
    advance(f, NS - 250000000 - 1000); /* inside what would be the window */
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    /* 2030-01-01 00:00:00 */
    wr(f, 0x00, 0x00);
    wr(f, 0x02, 0x00);
    wr(f, 0x04, 0x00);
    wr(f, 0x07, 0x01);
    wr(f, 0x08, 0x01);
    wr(f, 0x09, 0x30);
    wr(f, 0x32, 0x20);
    assert_int_equal(rd(f, 0x09), 0x30);
    wr(f, 0x0b, 0x02); /* run: the phase goes on (the divider never stopped) */
    expect_time(f, 0x00, 0x00, 0x00, 3, 0x01, 0x01, 0x30, 0x20); /* a Tuesday */
    advance(f, 1000); /* the next second starts 1000 ns later */
    assert_int_equal(rd(f, 0), 0x01);
    advance(f, 3600 * NS);
    expect_time(f, 0x01, 0x00, 0x01, 3, 0x01, 0x01, 0x30, 0x20);
    /* the guest's time is an offset on the monotonic clock: host clock steps do not reach it */
    f->clock.real_ns -= 86400LL * 1000000000LL;
    assert_int_equal(rd(f, 4), 0x01);
    assert_int_equal(rd(f, 7), 0x01);
}

static void test_set_clears_uie(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x12);
    assert_int_equal(rd(f, 0x0b), 0x12);
    wr(f, 0x0b, 0x92);
    assert_int_equal(rd(f, 0x0b), 0x82);
}

static void test_divider_reset_half_second(void **state)
{
    struct fixture *f = *state;
    /* Linux's mc146818_set_time() on Intel: SET, divider reset, registers, B, then A. */
    wr(f, 0x0b, 0x82);
    wr(f, 0x0a, 0x76);
    wr(f, 0x00, 0x10);
    wr(f, 0x0b, 0x02); /* SET clear, divider still in reset: frozen */
    advance(f, 10 * NS);
    assert_int_equal(rd(f, 0), 0x10);
    assert_int_equal(rd(f, 0x0a), 0x76);
    wr(f, 0x0a, 0x26); /* released: the first update comes 500 ms later */
    advance(f, 500000000 - 1);
    assert_int_equal(rd(f, 0), 0x10);
    advance(f, 1);
    assert_int_equal(rd(f, 0), 0x11);
    assert_int_equal(rd(f, 2), 0x45);
}

static void test_update_interrupt_and_reg_c(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0a, 0x20); /* no periodic rate: only update flags below */
    wr(f, 0x0b, 0x12); /* UIE */
    assert_int_equal(f->nlevels, 0);
    advance(f, 750000000 - 1);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 0);
    advance(f, 1);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 1);
    assert_int_equal(f->nlevels, 1);
    assert_int_equal(f->levels[0], 1);
    assert_int_equal(rd(f, 0x0c), 0x90); /* IRQF | UF */
    assert_int_equal(f->nlevels, 2);
    assert_int_equal(f->levels[1], 0);
    assert_int_equal(rd(f, 0x0c), 0x00); /* cleared by the read */
    /* several seconds unobserved: one flag, one edge */
    advance(f, 5 * NS);
    assert_int_equal(rd(f, 0x0c), 0x90);
    assert_int_equal(f->nlevels, 4);
    /* writes to C and D are ignored */
    wr(f, 0x0c, 0xff);
    wr(f, 0x0d, 0x00);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(rd(f, 0x0d), 0x80);
}

static void test_flags_without_enables(void **state)
{
    struct fixture *f = *state;
    advance(f, NS);
    /* UF and PF (the power-on 1024 Hz rate) set, IRQF not: flags do not need enables */
    assert_int_equal(rd(f, 0x0c), 0x50);
    wr(f, 0x0a, 0x20);
    assert_int_equal(f->nlevels, 0);
    /* enabling a source whose flag is already set raises the line at once */
    advance(f, NS);
    wr(f, 0x0b, 0x12);
    assert_int_equal(vmio_rtc_cmos_irq_level(f->rtc), 1);
    assert_int_equal(rd(f, 0x0c), 0x90);
    assert_int_equal(vmio_rtc_cmos_irq_level(f->rtc), 0);
}

static void test_alarm(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x01, 0x00); /* 13:46:00 */
    wr(f, 0x03, 0x46);
    wr(f, 0x05, 0x13);
    wr(f, 0x0b, 0x22); /* AIE */
    wr(f, 0x0a, 0x20); /* no periodic flag */
    uint64_t when;
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    assert_int_equal(when, MONO0 + 3 * NS + 750000000); /* 13:46:00.000 */
    advance(f, 3 * NS);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 0);
    assert_int_equal(rd(f, 0x0c), 0x10); /* updates, no alarm yet */
    advance(f, NS);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 1);
    assert_int_equal(rd(f, 0x0c), 0xb0); /* IRQF | AF | UF */
    /* the same alarm in 12-hour mode: 1 PM */
    wr(f, 0x0b, 0x20);
    wr(f, 0x05, 0x81);
    wr(f, 0x03, 0x46);
    wr(f, 0x01, 0x05);
    advance(f, 5 * NS);
    assert_int_equal(rd(f, 0x0c), 0xb0);
    /* don't-care in every field: every second */
    wr(f, 0x0b, 0x22);
    wr(f, 0x01, 0xc0);
    wr(f, 0x03, 0xff);
    wr(f, 0x05, 0xc0);
    advance(f, NS);
    assert_int_equal(rd(f, 0x0c), 0xb0);
    /* an alarm no time can match never fires and has no next event */
    wr(f, 0x01, 0x75);
    advance(f, 3 * 86400 * NS);
    assert_int_equal(rd(f, 0x0c), 0x10);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 0);
}

static void test_periodic(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x42); /* PIE, 1024 Hz (A = 0x26) */
    uint64_t when;
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    /* phase 0.25 s is tick 256 exactly; tick 257 is at ceil(257e9 / 1024) ns */
    assert_int_equal(when, MONO0 + 976563);
    advance(f, 976562);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 0);
    advance(f, 1);
    assert_int_equal(vmio_rtc_cmos_poll(f->rtc), 1);
    assert_int_equal(rd(f, 0x0c), 0xc0); /* IRQF | PF */
    /* SET stops updates, not the periodic interrupt */
    wr(f, 0x0b, 0xc2);
    advance(f, NS / 1024 + 1);
    assert_int_equal(rd(f, 0x0c), 0xc0);
    /* rate select 0: no ticks */
    wr(f, 0x0a, 0x20);
    advance(f, NS);
    assert_int_equal(rd(f, 0x0c), 0x00);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 0);
    /* RS 1 and 2 are 256 and 128 Hz (not 16384 and 8192: the 32.768 kHz time base) */
    wr(f, 0x0a, 0x21);
    wr(f, 0x0b, 0x42);
    uint64_t base = f->clock.mono_ns, phase = (f->clock.mono_ns - MONO0 + 250000000) % NS;
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    assert_int_equal(when - base, (phase / 3906250 + 1) * 3906250 - phase);
    wr(f, 0x0a, 0x22);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    assert_int_equal(when - base, (phase / 7812500 + 1) * 7812500 - phase);
    /* 2 Hz (RS 15) */
    wr(f, 0x0a, 0x2f);
    wr(f, 0x0b, 0x42);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    uint64_t now = f->clock.mono_ns;
    assert_true(when > now && when <= now + NS / 2);
}

static void test_next_event(void **state)
{
    struct fixture *f = *state;
    uint64_t when = 0;
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 0); /* nothing enabled */
    wr(f, 0x0b, 0x12);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    assert_int_equal(when, MONO0 + 750000000);
    advance(f, NS); /* the line is now high: nothing can change until C is read */
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 0);
    rd(f, 0x0c);
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 1);
    assert_int_equal(when, MONO0 + NS + 750000000);
    wr(f, 0x0b, 0x82); /* SET: no updates, and UIE cleared */
    assert_int_equal(vmio_rtc_cmos_next_event(f->rtc, &when), 0);
    assert_int_equal(vmio_rtc_cmos_next_event(NULL, &when), -EINVAL);
    assert_int_equal(vmio_rtc_cmos_poll(NULL), -EINVAL);
}

static void test_index_port_and_nmi(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(vmio_rtc_cmos_nmi_masked(f->rtc), 0);
    out(f, 0x70, 1, 0x8a); /* NMI off, register A */
    assert_int_equal(vmio_rtc_cmos_nmi_masked(f->rtc), 1);
    assert_int_equal(in(f, 0x71, 1), 0x26);
    assert_int_equal(in(f, 0x70, 1), 0xff); /* the index register is write-only */
    out(f, 0x70, 1, 0x0b);
    assert_int_equal(vmio_rtc_cmos_nmi_masked(f->rtc), 0);
    assert_int_equal(in(f, 0x71, 1), 0x02);
    /* a 16-bit access is the index byte, then the data byte */
    out(f, 0x70, 2, 0x5a40);
    assert_int_equal(rd(f, 0x40), 0x5a);
    out(f, 0x70, 1, 0x40);
    assert_int_equal(in(f, 0x70, 2), 0x5aff);
    out(f, 0x70, 2, 0x00c1); /* NMI bit set, then register 0x41 written */
    assert_int_equal(vmio_rtc_cmos_nmi_masked(f->rtc), 1);
    assert_int_equal(rd(f, 0x41), 0x00);
    assert_int_equal(vmio_rtc_cmos_nmi_masked(NULL), -EINVAL);
}

static void test_cmos_memory(void **state)
{
    (void)state;
    struct fixture *f = make(WALL0, 512ULL << 20, 64ULL << 30);
    assert_int_equal(rd(f, 0x15) | rd(f, 0x16) << 8, 640);
    assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 0xffff); /* capped */
    assert_int_equal(rd(f, 0x30) | rd(f, 0x31) << 8, 0xffff);
    assert_int_equal(rd(f, 0x34) | rd(f, 0x35) << 8, (512 - 16) * 16);
    assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 0x100000);
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2d; i++)
        sum += rd(f, (uint8_t)i);
    assert_int_equal(rd(f, 0x2e) << 8 | rd(f, 0x2f), sum);
    for (unsigned i = 0x0e; i < 0x80; i++) /* all of CMOS RAM is writable */
        if (i != 0x32) {
            wr(f, (uint8_t)i, (uint8_t)(i ^ 0xa5));
            assert_int_equal(rd(f, (uint8_t)i), (uint8_t)(i ^ 0xa5));
        }
    void *s = f;
    teardown(&s);

    f = make(WALL0, 32 << 20, 1ULL << 50); /* more than 3 bytes of 64 KiB units: capped */
    assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 31 * 1024);
    assert_int_equal(rd(f, 0x34) | rd(f, 0x35) << 8, 256);
    assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 0xffffff);
    s = f;
    teardown(&s);

    f = make(WALL0, 512 << 10, 0);
    assert_int_equal(rd(f, 0x15) | rd(f, 0x16) << 8, 512);
    assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 0);
    s = f;
    teardown(&s);
}

static void test_guest_write_while_running(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x02, 0x00); /* minutes to 00, seconds and phase kept */
    assert_int_equal(rd(f, 0), 0x56);
    assert_int_equal(rd(f, 2), 0x00);
    advance(f, 750000000);
    assert_int_equal(rd(f, 0), 0x57);
    assert_int_equal(rd(f, 2), 0x00);
    assert_int_equal(rd(f, 4), 0x13);
}

static void test_garbage_time(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x0b, 0x82);
    for (uint8_t i = 0; i <= 9; i++)
        wr(f, i, 0xff);
    wr(f, 0x32, 0xff);
    wr(f, 0x0b, 0x02); /* thaw: BCD 0xff reads as 165 in every field */
    /* whatever it means, the registers come back as a valid BCD time */
    uint8_t sec = rd(f, 0), min = rd(f, 2), hour = rd(f, 4), mon = rd(f, 8);
    assert_true((sec >> 4) <= 5 && (sec & 15) <= 9);
    assert_true((min >> 4) <= 5 && (min & 15) <= 9);
    assert_true(hour <= 0x23 && (hour & 15) <= 9);
    assert_true(mon >= 1 && mon <= 0x12);
    wr(f, 0x0b, 0x86); /* binary garbage too */
    for (uint8_t i = 0; i <= 9; i++)
        wr(f, i, 0xff);
    wr(f, 0x32, 0xff);
    wr(f, 0x0b, 0x06);
    advance(f, 100 * 86400 * NS);
    assert_true(rd(f, 0) < 60);
    assert_true(rd(f, 8) >= 1 && rd(f, 8) <= 12);
}

static void test_create_errors(void **state)
{
    (void)state;
    struct vmio_device *d;
    struct vmio_rtc_cmos_config cfg = {.name = ""};
    assert_int_equal(vmio_rtc_cmos_create(&cfg, &d, NULL), -EINVAL);
    assert_int_equal(vmio_rtc_cmos_create(NULL, &d, NULL), -EINVAL);
    cfg.name = "rtc";
    assert_int_equal(vmio_rtc_cmos_create(&cfg, NULL, NULL), -EINVAL);
    /* the system clock when none is given */
    assert_int_equal(vmio_rtc_cmos_create(&cfg, &d, NULL), 0);
    uint64_t v;
    assert_int_equal(vmio_device_write(d, 0, 1, 0x0d), 0);
    assert_int_equal(vmio_device_read(d, 1, 1, &v), 0);
    assert_int_equal(v, 0x80);
    d->ops->destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_12_hour, setup, teardown),
        cmocka_unit_test(test_century_rollover),
        cmocka_unit_test_setup_teardown(test_uip_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linux_read_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_freezes_and_guest_time_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_clears_uie, setup, teardown),
        cmocka_unit_test_setup_teardown(test_divider_reset_half_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_interrupt_and_reg_c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags_without_enables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_port_and_nmi, setup, teardown),
        cmocka_unit_test(test_cmos_memory),
        cmocka_unit_test_setup_teardown(test_guest_write_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_time, setup, teardown),
        cmocka_unit_test(test_create_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
