/*
 * TAP opening tests (vmio/tap.h) with no TAP and no privilege: interface
 * names a kernel would refuse or misread are refused before anything is
 * opened; a missing clone device, one vmio may not open, and a file that is
 * not the tun driver each give an error naming the interface, the path and
 * the remedy, and leave no descriptor behind. (Attaching to a real TAP is
 * the Linux network test's: tests/linux/run_virtio.py, mode net.)
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmio/tap.h"

/* Open descriptors of this process. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_names(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    assert_int_equal(vmio_tap_check_name("tap0", &err), 0);
    assert_int_equal(vmio_tap_check_name("vmio-tap.1_x", &err), 0);
    assert_int_equal(vmio_tap_check_name("fifteen-chars15", &err), 0);
    const char *bad[] = {"",    ".",    "..",   "sixteen-chars-16", "a/b", "a:1", "tap%d",
                         "a b", "a\tb", "a\nb", "tap\x7f"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vmio_error_clear(&err);
        assert_int_equal(vmio_tap_check_name(bad[i], &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_true(strlen(err.msg) > 0);
    }
    assert_int_equal(vmio_tap_check_name(NULL, &err), -EINVAL);
    /* A long name is shown cut, not whole. */
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(vmio_tap_check_name(longname, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "longer than 15"));
    /* vmio_tap_open() checks first: nothing is opened for a bad name. */
    int before = open_fds();
    assert_int_equal(vmio_tap_open("tap%d", "/dev/null", NULL, &err), -EINVAL);
    assert_int_equal(open_fds(), before);
}

static void test_clone_device_errors(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    int before = open_fds();
    /* Missing: the tun module is not loaded, or a container without the device. */
    assert_int_equal(vmio_tap_open("vmt0", "/nonexistent/net/tun", NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "TAP vmt0"));
    assert_non_null(strstr(err.msg, "/nonexistent/net/tun"));
    assert_non_null(strstr(err.msg, "modprobe tun"));
    /* Something else: TUNSETIFF is not understood. */
    assert_int_equal(vmio_tap_open("vmt0", "/dev/null", NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "TAP vmt0"));
    assert_non_null(strstr(err.msg, "/dev/null is not the tun driver"));
    /* A directory cannot even be opened for writing. */
    assert_int_equal(vmio_tap_open("vmt0", "/", NULL, &err), -EISDIR);
    assert_non_null(strstr(err.msg, "cannot open /"));
    /* No permission (a file vmio may not write; root may write anything, so only when not
     * root is this a refusal). */
    char path[] = "/tmp/vmio-tap-XXXXXX";
    int f = mkstemp(path);
    assert_true(f >= 0);
    close(f);
    assert_int_equal(chmod(path, 0400), 0);
    int rc = vmio_tap_open("vmt0", path, NULL, &err);
    if (geteuid() != 0) {
        assert_int_equal(rc, -EACCES);
        assert_non_null(strstr(err.msg, "needs read and write access"));
    } else {
        assert_int_equal(rc, -EINVAL); /* opened: a regular file is not the tun driver */
    }
    unlink(path);
    assert_int_equal(open_fds(), before); /* every failure closed what it opened */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_clone_device_errors),
    };
    return cmocka_run_group_tests_name("tap", tests, NULL, NULL);
}
