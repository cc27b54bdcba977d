/*
 * The test guests' reporting, the same on every architecture (report.c):
 * gprint on the architecture's console and the check helpers whose lines the
 * runners (tests/guest/run_guest.py, tests/arm64/run_arm64.py) parse.
 * Each architecture's guest.h includes this and provides serial_putc(),
 * serial_puts() and GUEST_EXIT_MAX_FAILURES.
 */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H

#include <stdarg.h>
#include <stdint.h>

/*
 * printf subset to the console: %s %c %d %u %x %p %%, with an optional '0'
 * flag, field width (or '*') and 'l'/'ll' length (%lx, %lu, %ld, %016lx).
 * No floating point.
 */
void gprint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gvprint(const char *fmt, va_list ap);

/* Print "PASS name" or "FAIL name: got X expected Y" (hex); count failures. */
int check_eq(const char *name, uint64_t got, uint64_t expected);
/* check_eq with a gprint-formatted name. */
int check_eqf(uint64_t got, uint64_t expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like check_eq for a condition; on failure prints "FAIL name". */
int check_true(const char *name, int cond);
/* Print "SKIP reason" (counted, not a failure). */
void test_skip(const char *reason);
/* Number of failed checks so far. */
unsigned test_failures(void);
/*
 * Print the summary line ("DONE guest: P passed, F failed, S skipped") and
 * return the exit code: 0, or min(failures, GUEST_EXIT_MAX_FAILURES).
 */
int test_summary(const char *guest);

#endif
