/*
 * MC146818 CMOS RTC model. See include/vmio/rtc_cmos.h and
 * docs/devices/rtc-cmos.md.
 *
 * State and invariants (all under r->lock):
 *   - The guest's clock is monotonic time + (delta_s, delta_ns), 0 <=
 *     delta_ns < 1e9, kept as seconds and nanoseconds apart so that no year
 *     a guest can write (up to 25755 with binary century 255) overflows.
 *   - The clock "runs" when register A's divider is 010 (32.768 kHz) and
 *     B.SET is clear; otherwise it is frozen: the time registers
 *     (0x00-0x09, 0x32) hold what was last rendered or written, and UIP,
 *     UF and AF never change. While running they are re-rendered from the
 *     clock on every read, so their bytes always follow the current format
 *     (B.DM, B.24H).
 *   - The sub-second phase of (delta) is the divider chain's: it survives
 *     SET (the divider keeps counting) and restarts at half a second when
 *     the divider leaves reset, as the datasheet says.
 *   - last_sec is the guest second up to which UF and AF have been
 *     evaluated; next_alarm is the first second after it whose time of day
 *     matches the alarm registers (ALARM_NEVER if none can); last_tick the
 *     periodic tick up to which PF has been evaluated. Every change of the
 *     time, the alarm registers, the format or the rate resets them, so a
 *     flag is only ever raised for an update that really happened.
 *   - Register C's IRQF bit and irq_level are always
 *     (PF & PIE) | (AF & AIE) | (UF & UIE), recomputed after every change.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/rtc_cmos.h"

#define NS_PER_S 1000000000LL
#define DAY 86400LL
#define ALARM_NEVER INT64_MAX

struct rtc_cmos {
    struct vmio_device dev; /* first: vmio_container_of */
    pthread_mutex_t lock;
    char *name;
    const struct vmio_clock *clock;
    vmio_rtc_cmos_irq_fn irq;
    void *irq_opaque;
    int irq_level;

    uint8_t index; /* bits 6-0 of the last write to port 0x70 */
    bool nmi_masked;
    uint8_t cmos[VMIO_RTC_CMOS_SIZE];

    int64_t delta_s; /* guest time = monotonic + delta */
    int64_t delta_ns;
    int64_t last_sec;
    int64_t next_alarm;
    int64_t last_tick;
};

struct gtime {
    int64_t s;  /* seconds since the Unix epoch */
    int64_t ns; /* 0 .. 1e9 - 1 */
};

static const struct vmio_device_ops rtc_ops;

static struct rtc_cmos *to_rtc(struct vmio_device *dev)
{
    if (!dev || dev->ops != &rtc_ops)
        return NULL;
    return vmio_container_of(dev, struct rtc_cmos, dev);
}

int vmio_rtc_cmos_is(const struct vmio_device *dev)
{
    return dev && dev->ops == &rtc_ops;
}

/* ---- arithmetic ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day linear). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;        /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

/* The inverse: date of day @z since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* ---- the guest's clock ---- */

static uint64_t mono_now(const struct rtc_cmos *r)
{
    return r->clock->monotonic_ns(r->clock->ctx);
}

static struct gtime guest_time(const struct rtc_cmos *r, uint64_t mono)
{
    int64_t ns = (int64_t)(mono % NS_PER_S) + r->delta_ns;
    int64_t carry = ns >= NS_PER_S;
    return (struct gtime){.s = (int64_t)(mono / NS_PER_S) + r->delta_s + carry,
                          .ns = ns - carry * NS_PER_S};
}

/* Make the guest's clock read (@s, @ns) at monotonic time @mono. */
static void set_guest_time(struct rtc_cmos *r, uint64_t mono, int64_t s, int64_t ns)
{
    int64_t d = ns - (int64_t)(mono % NS_PER_S), borrow = 0;
    if (d < 0) {
        d += NS_PER_S;
        borrow = 1;
    }
    r->delta_ns = d;
    r->delta_s = s - (int64_t)(mono / NS_PER_S) - borrow;
}

static bool divider_running(const struct rtc_cmos *r)
{
    return (r->cmos[VMIO_RTC_REG_A] & VMIO_RTC_A_DV_MASK) == VMIO_RTC_A_DV_32K;
}

static bool frozen(const struct rtc_cmos *r)
{
    return !divider_running(r) || (r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_SET);
}

/* Periodic rate in Hz for register A's RS bits (32.768 kHz time base); 0 = off. */
static int64_t periodic_rate(const struct rtc_cmos *r)
{
    unsigned rs = r->cmos[VMIO_RTC_REG_A] & VMIO_RTC_A_RS_MASK;
    if (rs == 0)
        return 0;
    if (rs <= 2)
        return 256 >> (rs - 1); /* 1: 256 Hz, 2: 128 Hz */
    return 32768 >> (rs - 1);   /* 3: 8192 Hz .. 15: 2 Hz */
}

/* Index of the last periodic tick at or before @g (ticks start at each second). */
static int64_t tick_index(struct gtime g, int64_t rate)
{
    return g.s * rate + g.ns * rate / NS_PER_S;
}

/* ---- register formats ---- */

static bool binary_mode(const struct rtc_cmos *r)
{
    return r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_DM;
}

static uint8_t to_reg(const struct rtc_cmos *r, int64_t v)
{
    if (binary_mode(r))
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* A register's value, without validation (BCD digits above 9 count as their value). */
static int64_t from_reg(const struct rtc_cmos *r, uint8_t v)
{
    if (binary_mode(r))
        return v;
    return (v >> 4) * 10 + (v & 0xf);
}

/* A register's value, or -1 when it is not a valid number up to @max in the current format. */
static int checked_reg(const struct rtc_cmos *r, uint8_t v, int min, int max)
{
    if (!binary_mode(r) && ((v >> 4) > 9 || (v & 0xf) > 9))
        return -1;
    int64_t x = from_reg(r, v);
    return x < min || x > max ? -1 : (int)x;
}

static uint8_t hour_to_reg(const struct rtc_cmos *r, int64_t h24)
{
    if (r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_24H)
        return to_reg(r, h24);
    int64_t h12 = h24 % 12 == 0 ? 12 : h24 % 12;
    return (uint8_t)(to_reg(r, h12) | (h24 >= 12 ? 0x80 : 0));
}

static int64_t hour_from_reg(const struct rtc_cmos *r, uint8_t v)
{
    if (r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_24H)
        return from_reg(r, v);
    return from_reg(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/* An alarm hour: 0..23, -2 for "don't care", -1 for a value that never matches. */
static int alarm_hour(const struct rtc_cmos *r, uint8_t v)
{
    if ((v & VMIO_RTC_ALARM_DONT_CARE) == VMIO_RTC_ALARM_DONT_CARE)
        return -2;
    if (r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_24H)
        return checked_reg(r, v, 0, 23);
    int h = checked_reg(r, v & 0x7f, 1, 12);
    return h < 0 ? -1 : h % 12 + ((v & 0x80) ? 12 : 0);
}

static int alarm_ms(const struct rtc_cmos *r, uint8_t v)
{
    if ((v & VMIO_RTC_ALARM_DONT_CARE) == VMIO_RTC_ALARM_DONT_CARE)
        return -2;
    return checked_reg(r, v, 0, 59);
}

/* Write the time registers for guest second @s in the current format. */
static void render(struct rtc_cmos *r, int64_t s)
{
    int64_t days = floor_div(s, DAY), tod = s - days * DAY, y, m, d;
    civil_from_days(days, &y, &m, &d);
    r->cmos[VMIO_RTC_SECONDS] = to_reg(r, tod % 60);
    r->cmos[VMIO_RTC_MINUTES] = to_reg(r, tod / 60 % 60);
    r->cmos[VMIO_RTC_HOURS] = hour_to_reg(r, tod / 3600);
    r->cmos[VMIO_RTC_DAY_OF_WEEK] =
        to_reg(r, floor_mod(days + 4, 7) + 1); /* 1970-01-01: Thursday */
    r->cmos[VMIO_RTC_DAY_OF_MONTH] = to_reg(r, d);
    r->cmos[VMIO_RTC_MONTH] = to_reg(r, m);
    r->cmos[VMIO_RTC_YEAR] = to_reg(r, floor_mod(y, 100));
    r->cmos[VMIO_RTC_CENTURY] = to_reg(r, floor_mod(floor_div(y, 100), 100));
}

/* The guest second the time registers say (any byte values: plain arithmetic). */
static int64_t parse(const struct rtc_cmos *r)
{
    int64_t year =
        from_reg(r, r->cmos[VMIO_RTC_CENTURY]) * 100 + from_reg(r, r->cmos[VMIO_RTC_YEAR]);
    int64_t mon = from_reg(r, r->cmos[VMIO_RTC_MONTH]) - 1; /* 0-based, normalized below */
    year += floor_div(mon, 12);
    mon = floor_mod(mon, 12) + 1;
    int64_t days = days_from_civil(year, mon, from_reg(r, r->cmos[VMIO_RTC_DAY_OF_MONTH]));
    return days * DAY + hour_from_reg(r, r->cmos[VMIO_RTC_HOURS]) * 3600 +
           from_reg(r, r->cmos[VMIO_RTC_MINUTES]) * 60 + from_reg(r, r->cmos[VMIO_RTC_SECONDS]);
}

/* The first second after @s whose time of day matches the alarm, or ALARM_NEVER. */
static int64_t alarm_after(const struct rtc_cmos *r, int64_t s)
{
    int as = alarm_ms(r, r->cmos[VMIO_RTC_SECONDS_ALARM]);
    int am = alarm_ms(r, r->cmos[VMIO_RTC_MINUTES_ALARM]);
    int ah = alarm_hour(r, r->cmos[VMIO_RTC_HOURS_ALARM]);
    if (as == -1 || am == -1 || ah == -1)
        return ALARM_NEVER;
    int64_t day = floor_div(s, DAY);
    int start = (int)(s - day * DAY) + 1; /* first time of day to consider, 1..86400 */
    for (int pass = 0; pass < 2; pass++, day++, start = 0) {
        int sh = start / 3600, sm = start / 60 % 60, ss = start % 60;
        for (int h = sh; h < 24; h++) {
            if (ah >= 0 && h != ah)
                continue;
            for (int m = h == sh ? sm : 0; m < 60; m++) {
                if (am >= 0 && m != am)
                    continue;
                for (int sec = (h == sh && m == sm) ? ss : 0; sec < 60; sec++) {
                    if (as >= 0 && sec != as)
                        continue;
                    return day * DAY + h * 3600 + m * 60 + sec;
                }
            }
        }
    }
    return ALARM_NEVER; /* unreachable: every valid alarm matches once a day */
}

/* ---- interrupts ---- */

static void update_irq(struct rtc_cmos *r)
{
    uint8_t b = r->cmos[VMIO_RTC_REG_B],
            c = r->cmos[VMIO_RTC_REG_C] & (VMIO_RTC_C_PF | VMIO_RTC_C_AF | VMIO_RTC_C_UF);
    int level = ((c & VMIO_RTC_C_PF) && (b & VMIO_RTC_B_PIE)) ||
                ((c & VMIO_RTC_C_AF) && (b & VMIO_RTC_B_AIE)) ||
                ((c & VMIO_RTC_C_UF) && (b & VMIO_RTC_B_UIE));
    r->cmos[VMIO_RTC_REG_C] = (uint8_t)(c | (level ? VMIO_RTC_C_IRQF : 0));
    if (level == r->irq_level)
        return;
    r->irq_level = level;
    if (r->irq)
        r->irq(r->irq_opaque, level);
}

/* Forget pending evaluation: flags are only raised for updates after now. */
static void restart_evaluation(struct rtc_cmos *r, struct gtime g)
{
    r->last_sec = g.s;
    r->next_alarm = alarm_after(r, g.s);
    int64_t rate = periodic_rate(r);
    r->last_tick = rate ? tick_index(g, rate) : 0;
}

/* Raise the flags of every update and tick between the last evaluation and @mono. */
static void catch_up(struct rtc_cmos *r, uint64_t mono)
{
    if (divider_running(r)) {
        struct gtime g = guest_time(r, mono);
        if (!(r->cmos[VMIO_RTC_REG_B] & VMIO_RTC_B_SET) && g.s > r->last_sec) {
            r->cmos[VMIO_RTC_REG_C] |= VMIO_RTC_C_UF;
            if (r->next_alarm <= g.s) {
                r->cmos[VMIO_RTC_REG_C] |= VMIO_RTC_C_AF;
                r->next_alarm = alarm_after(r, g.s);
            }
            r->last_sec = g.s;
        }
        int64_t rate = periodic_rate(r);
        if (rate) {
            int64_t t = tick_index(g, rate);
            if (t > r->last_tick)
                r->cmos[VMIO_RTC_REG_C] |= VMIO_RTC_C_PF;
            r->last_tick = t;
        }
    }
    update_irq(r);
}

/* ---- register access ---- */

static bool is_time_reg(unsigned idx)
{
    return idx <= VMIO_RTC_YEAR ? (idx != VMIO_RTC_SECONDS_ALARM && idx != VMIO_RTC_MINUTES_ALARM &&
                                   idx != VMIO_RTC_HOURS_ALARM)
                                : idx == VMIO_RTC_CENTURY;
}

/* Apply a change of A or B to @value at @idx, freezing or thawing the clock as needed. */
static void write_control(struct rtc_cmos *r, unsigned idx, uint8_t value, uint64_t mono)
{
    struct gtime g = guest_time(r, mono);
    bool was_frozen = frozen(r), was_running_divider = divider_running(r);
    if (idx == VMIO_RTC_REG_B && (value & VMIO_RTC_B_SET))
        value &= (uint8_t)~VMIO_RTC_B_UIE; /* setting SET clears UIE (datasheet) */
    if (idx == VMIO_RTC_REG_A)
        value &= (uint8_t)~VMIO_RTC_A_UIP; /* read-only; computed on reads */

    /* If this freezes the clock, the registers keep this instant's time in the old format. */
    if (!was_frozen)
        render(r, g.s);
    r->cmos[idx] = value;
    if (idx == VMIO_RTC_REG_A && !was_running_divider && divider_running(r)) {
        /* Out of divider reset: the first update comes half a second later. */
        set_guest_time(r, mono, g.s, NS_PER_S / 2);
        g = guest_time(r, mono);
    }
    if (was_frozen && !frozen(r)) {
        /* Thawing: the registers (as the guest left them) become the time, phase kept. */
        set_guest_time(r, mono, parse(r), g.ns);
        g = guest_time(r, mono);
    }
    restart_evaluation(r, g);
    update_irq(r);
}

static void write_time(struct rtc_cmos *r, unsigned idx, uint8_t value, uint64_t mono)
{
    if (frozen(r)) {
        r->cmos[idx] = value; /* becomes the time when the clock thaws */
        return;
    }
    struct gtime g = guest_time(r, mono);
    render(r, g.s);
    r->cmos[idx] = value;
    set_guest_time(r, mono, parse(r), g.ns);
    restart_evaluation(r, guest_time(r, mono));
}

static uint8_t data_read(struct rtc_cmos *r, uint64_t mono)
{
    unsigned idx = r->index;
    switch (idx) {
    case VMIO_RTC_REG_A: {
        uint8_t a = r->cmos[VMIO_RTC_REG_A] & (uint8_t)~VMIO_RTC_A_UIP;
        if (!frozen(r) && guest_time(r, mono).ns >= NS_PER_S - (int64_t)VMIO_RTC_CMOS_UIP_NS)
            a |= VMIO_RTC_A_UIP;
        return a;
    }
    case VMIO_RTC_REG_C: {
        uint8_t c = r->cmos[VMIO_RTC_REG_C];
        r->cmos[VMIO_RTC_REG_C] = 0;
        update_irq(r);
        return c;
    }
    case VMIO_RTC_REG_D:
        return VMIO_RTC_D_VRT;
    default:
        if (is_time_reg(idx) && !frozen(r))
            render(r, guest_time(r, mono).s);
        return r->cmos[idx];
    }
}

static void data_write(struct rtc_cmos *r, uint8_t value, uint64_t mono)
{
    unsigned idx = r->index;
    switch (idx) {
    case VMIO_RTC_REG_A:
    case VMIO_RTC_REG_B:
        write_control(r, idx, value, mono);
        return;
    case VMIO_RTC_REG_C:
    case VMIO_RTC_REG_D:
        return; /* read-only */
    case VMIO_RTC_SECONDS_ALARM:
    case VMIO_RTC_MINUTES_ALARM:
    case VMIO_RTC_HOURS_ALARM:
        r->cmos[idx] = value;
        r->next_alarm = alarm_after(r, r->last_sec);
        return;
    default:
        if (is_time_reg(idx))
            write_time(r, idx, value, mono);
        else
            r->cmos[idx] = value;
    }
}

static int rtc_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct rtc_cmos *r = to_rtc(dev);
    pthread_mutex_lock(&r->lock);
    uint64_t mono = mono_now(r), v = 0;
    catch_up(r, mono);
    for (unsigned i = 0; i < width; i++) {
        uint8_t b = offset + i == 0 ? 0xff : data_read(r, mono);
        v |= (uint64_t)b << (8 * i);
    }
    pthread_mutex_unlock(&r->lock);
    *value = v;
    return 0;
}

static int rtc_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct rtc_cmos *r = to_rtc(dev);
    pthread_mutex_lock(&r->lock);
    uint64_t mono = mono_now(r);
    catch_up(r, mono);
    for (unsigned i = 0; i < width; i++) {
        uint8_t b = (uint8_t)(value >> (8 * i));
        if (offset + i == 0) {
            r->index = b & 0x7f;
            r->nmi_masked = b & 0x80;
        } else {
            data_write(r, b, mono);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void rtc_destroy(struct vmio_device *dev)
{
    struct rtc_cmos *r = to_rtc(dev);
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->name);
    free(r);
}

static const struct vmio_device_ops rtc_ops = {
    .read = rtc_read,
    .write = rtc_write,
    .destroy = rtc_destroy,
};

/* ---- creation: the bytes a PC BIOS leaves in CMOS RAM ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t cap(uint64_t v, uint64_t max)
{
    return v > max ? max : v;
}

static void fill_memory_size(struct rtc_cmos *r, uint64_t below, uint64_t above)
{
    const uint64_t kib = 1024, mib = 1024 * kib;
    uint64_t base_kib = cap(below / kib, 640);
    uint64_t ext_kib = below > mib ? cap((below - mib) / kib, 0xffff) : 0;
    uint64_t ext16 = below > 16 * mib ? cap((below - 16 * mib) / (64 * kib), 0xffff) : 0;
    uint64_t high = cap(above / (64 * kib), 0xffffff);
    put_le(&r->cmos[0x15], base_kib, 2); /* base memory, KiB */
    put_le(&r->cmos[0x17], ext_kib, 2);  /* memory from 1 MiB, KiB (at most 0xffff) */
    put_le(&r->cmos[0x30], ext_kib, 2);  /* the same, as POST found it */
    put_le(&r->cmos[0x34], ext16, 2);    /* memory from 16 MiB below 4 GiB, 64 KiB units */
    put_le(&r->cmos[0x5b], high, 3);     /* memory from 4 GiB, 64 KiB units */
    unsigned sum = 0;                    /* AT checksum over 0x10-0x2d, big-endian at 0x2e */
    for (unsigned i = 0x10; i <= 0x2d; i++)
        sum += r->cmos[i];
    r->cmos[0x2e] = (uint8_t)(sum >> 8);
    r->cmos[0x2f] = (uint8_t)sum;
}

int vmio_rtc_cmos_create(const struct vmio_rtc_cmos_config *cfg, struct vmio_device **out,
                         struct vmio_error *err)
{
    if (!cfg || !out || !cfg->name || !cfg->name[0])
        return vmio_error_set(err, -EINVAL, "rtc: NULL config, result or empty name");
    struct rtc_cmos *r = calloc(1, sizeof(*r));
    char *name = strdup(cfg->name);
    if (!r || !name) {
        free(r);
        free(name);
        return vmio_error_set(err, -ENOMEM, "rtc %s: out of memory", cfg->name);
    }
    pthread_mutex_init(&r->lock, NULL);
    r->name = name;
    r->dev.name = name;
    r->dev.ops = &rtc_ops;
    r->clock = cfg->clock ? cfg->clock : vmio_clock_system();
    r->irq = cfg->irq;
    r->irq_opaque = cfg->irq_opaque;
    r->cmos[VMIO_RTC_REG_A] = VMIO_RTC_REG_A_RESET;
    r->cmos[VMIO_RTC_REG_B] = VMIO_RTC_REG_B_RESET;
    r->cmos[VMIO_RTC_REG_D] = VMIO_RTC_D_VRT;
    fill_memory_size(r, cfg->ram_below_4g, cfg->ram_above_4g);

    uint64_t mono = mono_now(r);
    int64_t real = r->clock->realtime_ns(r->clock->ctx);
    set_guest_time(r, mono, floor_div(real, NS_PER_S), floor_mod(real, NS_PER_S));
    struct gtime g = guest_time(r, mono);
    render(r, g.s);
    restart_evaluation(r, g);
    *out = &r->dev;
    return 0;
}

/* ---- host-side entry points ---- */

int vmio_rtc_cmos_poll(struct vmio_device *dev)
{
    struct rtc_cmos *r = to_rtc(dev);
    if (!r)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    catch_up(r, mono_now(r));
    int level = r->irq_level;
    pthread_mutex_unlock(&r->lock);
    return level;
}

/* Monotonic time at which the guest clock reads (@s, @ns); false if not representable. */
static bool to_mono(const struct rtc_cmos *r, int64_t s, int64_t ns, uint64_t *mono)
{
    int64_t ms = s - r->delta_s, mns = ns - r->delta_ns;
    if (mns < 0) {
        mns += NS_PER_S;
        ms--;
    }
    if (ms < 0 || (uint64_t)ms > (UINT64_MAX - (uint64_t)mns) / NS_PER_S)
        return false;
    *mono = (uint64_t)ms * NS_PER_S + (uint64_t)mns;
    return true;
}

int vmio_rtc_cmos_next_event(struct vmio_device *dev, uint64_t *mono_ns)
{
    struct rtc_cmos *r = to_rtc(dev);
    if (!r || !mono_ns)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    catch_up(r, mono_now(r));
    uint8_t b = r->cmos[VMIO_RTC_REG_B];
    bool found = false;
    uint64_t best = UINT64_MAX, t;
    if (!r->irq_level && divider_running(r)) {
        if (!(b & VMIO_RTC_B_SET) && (b & VMIO_RTC_B_UIE) && to_mono(r, r->last_sec + 1, 0, &t) &&
            t < best)
            best = t, found = true;
        if (!(b & VMIO_RTC_B_SET) && (b & VMIO_RTC_B_AIE) && r->next_alarm != ALARM_NEVER &&
            to_mono(r, r->next_alarm, 0, &t) && t < best)
            best = t, found = true;
        int64_t rate = periodic_rate(r);
        if ((b & VMIO_RTC_B_PIE) && rate) {
            int64_t next = r->last_tick + 1, s = floor_div(next, rate);
            int64_t ns = ((next - s * rate) * NS_PER_S + rate - 1) / rate; /* round up */
            if (to_mono(r, s, ns, &t) && t < best)
                best = t, found = true;
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (found)
        *mono_ns = best;
    return found;
}

int vmio_rtc_cmos_nmi_masked(struct vmio_device *dev)
{
    struct rtc_cmos *r = to_rtc(dev);
    if (!r)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    int v = r->nmi_masked;
    pthread_mutex_unlock(&r->lock);
    return v;
}

int vmio_rtc_cmos_irq_level(struct vmio_device *dev)
{
    struct rtc_cmos *r = to_rtc(dev);
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    int v = r->irq_level;
    pthread_mutex_unlock(&r->lock);
    return v;
}
