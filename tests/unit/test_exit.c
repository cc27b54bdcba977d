/* Exit descriptions: every reason in words, with its code, access and RIP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/exit.h"

static const char *describe(struct vmio_exit e)
{
    static char buf[256];
    int n = vmio_exit_describe(&e, buf, sizeof(buf));
    assert_int_equal((size_t)n, strlen(buf));
    return buf;
}

static void test_every_reason(void **state)
{
    (void)state;
    struct vmio_exit e = {.ip = 0x1000};
    e.reason = VMIO_EXIT_HLT;
    assert_string_equal(describe(e), "guest halted (rip 0x1000)");
    e.reason = VMIO_EXIT_SHUTDOWN;
    assert_string_equal(describe(e), "guest shut down (triple fault?) (rip 0x1000)");
    e.reason = VMIO_EXIT_RESET;
    assert_string_equal(describe(e), "guest requested a reset (rip 0x1000)");
    e.reason = VMIO_EXIT_INTERNAL_ERROR;
    e.code = 1;
    assert_string_equal(describe(e),
                        "KVM internal error 1 (instruction emulation failed) at rip 0x1000");
    e.reason = VMIO_EXIT_FAIL_ENTRY;
    e.code = 0x21;
    assert_string_equal(describe(e), "VM entry failed, hardware reason 0x21 (rip 0x1000)");
    e.reason = VMIO_EXIT_DEBUG_EXIT;
    e.code = 3;
    e.device = "debug-exit";
    assert_string_equal(describe(e), "guest wrote 0x3 to debug-exit: exit status 7");
    e.device = NULL;
    e.reason = VMIO_EXIT_UNKNOWN;
    e.code = 99;
    assert_string_equal(describe(e), "unknown exit reason 99 (rip 0x1000)");
    for (int r = VMIO_EXIT_IO; r <= VMIO_EXIT_UNKNOWN; r++)
        assert_string_not_equal(vmio_exit_reason_name((enum vmio_exit_reason)r), "");
    assert_string_equal(vmio_exit_reason_name(VMIO_EXIT_DEBUG_EXIT), "debug-exit");
}

static void test_access_descriptions(void **state)
{
    (void)state;
    struct vmio_exit e = {.reason = VMIO_EXIT_UNCLAIMED, .ip = 0x100e0d};
    e.access = (struct vmio_access){
        .space = VMIO_SPACE_PIO, .dir = VMIO_READ, .width = 2, .count = 1, .addr = 0x71};
    assert_string_equal(describe(e), "unclaimed port read of 2 bytes at 0x71 (rip 0x100e0d)");
    e.access.dir = VMIO_WRITE;
    e.access.count = 16;
    assert_string_equal(describe(e), "unclaimed port write of 2 bytes x16 at 0x71 (rip 0x100e0d)");
    e.reason = VMIO_EXIT_DEVICE_ERROR;
    e.device = "com1";
    e.access.count = 1;
    e.access.data = 0x41;
    assert_string_equal(describe(e),
                        "device error on port write of 2 bytes at 0x71 value 0x41 by com1 "
                        "(rip 0x100e0d)");
}

static void test_truncation(void **state)
{
    (void)state;
    struct vmio_exit e = {.reason = VMIO_EXIT_HLT, .ip = 0x1000};
    char small[8];
    int n = vmio_exit_describe(&e, small, sizeof(small));
    assert_int_equal(n, (int)strlen("guest halted (rip 0x1000)"));
    assert_string_equal(small, "guest h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_reason),
        cmocka_unit_test(test_access_descriptions),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests_name("exit", tests, NULL, NULL);
}
