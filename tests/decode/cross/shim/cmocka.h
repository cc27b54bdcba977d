/*
 * A tiny cmocka-compatible shim for cross-compiled decoder tests.
 *
 * Debian has no cmocka for the cross targets, so tests/decode/cross/run.sh
 * compiles the very same test sources with this header first on the include
 * path. It implements only what the decoder tests (arm64, riscv and x86)
 * use: cmocka_unit_test, cmocka_run_group_tests (no setup/teardown),
 * assert_int_equal, assert_int_not_equal, assert_true, assert_false,
 * assert_null, assert_non_null, assert_string_equal, assert_memory_equal,
 * assert_memory_not_equal, fail, fail_msg, skip and print_message.
 * Invariants: header-only, C11, a failed assertion (or skip) ends the current
 * test via longjmp and the run returns the number of failed tests, like
 * cmocka; a skipped test is reported as "[ SKIPPED ]" and does not count as
 * failed (run.sh treats a skip in a test that must pass as a failure).
 */
#ifndef VMIO_CMOCKA_SHIM_H
#define VMIO_CMOCKA_SHIM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
};

#define cmocka_unit_test(f)                                                                        \
    {                                                                                              \
#f, f                                                                                      \
    }

static jmp_buf shim_jmp;

/* longjmp values: a failed assertion, a skip(). */
enum { SHIM_FAILED = 1, SHIM_SKIPPED = 2 };

static inline void print_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static inline _Noreturn void shim_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("%s:%d: error: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    longjmp(shim_jmp, SHIM_FAILED);
}

static inline _Noreturn void shim_skip(void)
{
    longjmp(shim_jmp, SHIM_SKIPPED);
}

/* First differing byte of @a and @b (@n bytes), or -1 if they are equal. */
static inline long shim_memdiff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

#define fail() shim_fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) shim_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() shim_skip()
#define assert_true(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            shim_fail(__FILE__, __LINE__, "%s is false", #c);                                      \
    } while (0)
#define assert_false(c)                                                                            \
    do {                                                                                           \
        if (c)                                                                                     \
            shim_fail(__FILE__, __LINE__, "%s is true", #c);                                       \
    } while (0)
#define assert_int_equal(a, b)                                                                     \
    do {                                                                                           \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                        \
        if (a_ != b_)                                                                              \
            shim_fail(__FILE__, __LINE__, "%#jx != %#jx", a_, b_);                                 \
    } while (0)
#define assert_int_not_equal(a, b)                                                                 \
    do {                                                                                           \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                        \
        if (a_ == b_)                                                                              \
            shim_fail(__FILE__, __LINE__, "%#jx == %#jx", a_, b_);                                 \
    } while (0)
#define assert_null(p) assert_true((p) == NULL)
#define assert_non_null(p) assert_true((p) != NULL)
#define assert_string_equal(a, b)                                                                  \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            shim_fail(__FILE__, __LINE__, "\"%s\" != \"%s\"", a_, b_);                             \
    } while (0)
#define assert_memory_equal(a, b, n)                                                               \
    do {                                                                                           \
        long d_ = shim_memdiff((a), (b), (n));                                                     \
        if (d_ >= 0)                                                                               \
            shim_fail(__FILE__, __LINE__, "%s and %s differ at byte %ld of %zu", #a, #b, d_,       \
                      (size_t)(n));                                                                \
    } while (0)
#define assert_memory_not_equal(a, b, n)                                                           \
    do {                                                                                           \
        if (shim_memdiff((a), (b), (n)) < 0)                                                       \
            shim_fail(__FILE__, __LINE__, "%s and %s are equal (%zu bytes)", #a, #b, (size_t)(n)); \
    } while (0)

/*
 * Runs one test: 0 if it passed, SHIM_FAILED or SHIM_SKIPPED. setjmp lives
 * here so no caller local is clobbered.
 */
static inline int shim_run_one(const struct CMUnitTest *t)
{
    int jumped = setjmp(shim_jmp);
    if (jumped != 0)
        return jumped;
    void *state = NULL;
    t->test_func(&state);
    return 0;
}

static inline int shim_run(const char *group, const struct CMUnitTest *t, size_t n)
{
    static const char *const tag[] = {"     OK", " FAILED", "SKIPPED"}; /* by shim_run_one() */
    int failed = 0, skipped = 0;
    printf("[==========] %s: running %zu test(s).\n", group, n);
    for (size_t i = 0; i < n; i++) {
        int rc = shim_run_one(&t[i]);
        printf("[ %s ] %s\n", tag[rc], t[i].name);
        failed += rc == SHIM_FAILED;
        skipped += rc == SHIM_SKIPPED;
    }
    printf("[==========] %s: %zu test(s), %d failed, %d skipped.\n", group, n, failed, skipped);
    return failed;
}

#define cmocka_run_group_tests(tests, setup, teardown)                                             \
    ((void)(setup), (void)(teardown), shim_run(#tests, tests, sizeof(tests) / sizeof((tests)[0])))

#endif
