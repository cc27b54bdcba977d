/*
 * What every vmio test guest reports, on any architecture: gprint (a printf
 * subset) on top of the architecture's serial_putc(), and the check helpers
 * whose "PASS"/"FAIL"/"SKIP"/"DONE" lines the runners parse. Built into each
 * architecture's runtime (guest/runtime for x86, guest/arm64 for AArch64),
 * whose guest.h includes report.h.
 * Invariants: integer-only, no library calls, every loop bounded.
 */
#include "guest.h"

static unsigned n_pass, n_fail, n_skip;

static void put_uint(uint64_t v, unsigned base, int width, char pad, int neg)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v && n < (int)sizeof(buf));
    int len = n + (neg ? 1 : 0);
    if (neg && pad == '0')
        serial_putc('-');
    for (; len < width; len++)
        serial_putc(pad);
    if (neg && pad != '0')
        serial_putc('-');
    while (n)
        serial_putc(buf[--n]);
}

void gvprint(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t v = lng ? va_arg(ap, long) : va_arg(ap, int);
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_uint(u, 10, width, pad, v < 0);
            break;
        }
        case 'u':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad, 0);
            break;
        case 'x':
            put_uint(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad, 0);
            break;
        case 'p':
            serial_puts("0x");
            put_uint((uint64_t)(uintptr_t)va_arg(ap, void *), 16, width, pad, 0);
            break;
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int len = 0;
            if (!s)
                s = "(null)";
            while (s[len])
                len++;
            for (; len < width; len++)
                serial_putc(' ');
            serial_puts(s);
            break;
        }
        case '%':
            serial_putc('%');
            break;
        case '\0':
            return;
        default:
            serial_putc('%');
            serial_putc(*fmt);
            break;
        }
    }
}

void gprint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gvprint(fmt, ap);
    va_end(ap);
}

int check_eq(const char *name, uint64_t got, uint64_t expected)
{
    if (got == expected) {
        n_pass++;
        gprint("PASS %s\n", name);
        return 1;
    }
    n_fail++;
    gprint("FAIL %s: got 0x%lx expected 0x%lx\n", name, got, expected);
    return 0;
}

int check_eqf(uint64_t got, uint64_t expected, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (got == expected) {
        n_pass++;
        serial_puts("PASS ");
        gvprint(fmt, ap);
        serial_putc('\n');
    } else {
        n_fail++;
        serial_puts("FAIL ");
        gvprint(fmt, ap);
        gprint(": got 0x%lx expected 0x%lx\n", got, expected);
    }
    va_end(ap);
    return got == expected;
}

int check_true(const char *name, int cond)
{
    if (cond) {
        n_pass++;
        gprint("PASS %s\n", name);
        return 1;
    }
    n_fail++;
    gprint("FAIL %s\n", name);
    return 0;
}

void test_skip(const char *reason)
{
    n_skip++;
    gprint("SKIP %s\n", reason);
}

unsigned test_failures(void)
{
    return n_fail;
}

int test_summary(const char *guest)
{
    gprint("DONE %s: %u passed, %u failed, %u skipped\n", guest, n_pass, n_fail, n_skip);
    return n_fail > GUEST_EXIT_MAX_FAILURES ? GUEST_EXIT_MAX_FAILURES : (int)n_fail;
}
