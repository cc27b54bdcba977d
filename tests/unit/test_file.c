/*
 * Reading host files (no KVM): vmio_read_file(), vmio_read_file_head(),
 * vmio_bzimage_detect_file() and the config loader refuse what is not a
 * regular file without blocking: a FIFO nobody writes (open(2) would wait
 * for a writer for ever, and read(2) for data), a directory, a character
 * device that never ends (/dev/zero), a symbolic link to a FIFO; and they
 * read regular files whole, up to their size cap. A regression makes this
 * test hang, which the test harness's timeout reports.
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
#include <sys/stat.h>
#include <unistd.h>

#include "vmio/boot.h"
#include "vmio/config.h"
#include "vmio/linux_boot.h"

static char dir[] = "/tmp/vmio-test-file-XXXXXX";
static char fifo[96], regular[96], link_to_fifo[96], kernel[96];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(regular, sizeof(regular), "%s/file", dir);
    snprintf(link_to_fifo, sizeof(link_to_fifo), "%s/link", dir);
    snprintf(kernel, sizeof(kernel), "%s/bz", dir);
    FILE *f = fopen(regular, "wb");
    if (!f || fwrite("0123456789", 1, 10, f) != 10 || fclose(f) != 0)
        return -1;
    uint8_t bz[0x220] = {0};
    bz[0x1fe] = 0x55;
    bz[0x1ff] = 0xaa;
    memcpy(bz + 0x202, "HdrS", 4);
    f = fopen(kernel, "wb");
    if (!f || fwrite(bz, 1, sizeof(bz), f) != sizeof(bz) || fclose(f) != 0)
        return -1;
    return mkfifo(fifo, 0600) == 0 && symlink(fifo, link_to_fifo) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(fifo);
    unlink(regular);
    unlink(link_to_fifo);
    unlink(kernel);
    return rmdir(dir);
}

static void refused(const char *path, const char *what)
{
    uint8_t *data = (uint8_t *)1;
    size_t size = 7;
    struct vmio_error err = {0};
    assert_int_equal(vmio_read_file(path, 1 << 20, &data, &size, &err), -EINVAL);
    char want[256];
    snprintf(want, sizeof(want),
             "%s: %s, not a regular file (vmio reads images and configs only from regular files)",
             path, what);
    assert_string_equal(err.msg, want);
    assert_ptr_equal(data, (uint8_t *)1); /* untouched */
    uint8_t buf[16];
    size_t got = 0;
    assert_int_equal(vmio_read_file_head(path, buf, sizeof(buf), &got, &err), -EINVAL);
    assert_int_equal(vmio_bzimage_detect_file(path, &err), -EINVAL);
}

static void test_non_regular_refused(void **state)
{
    (void)state;
    refused(fifo, "a FIFO");
    refused(link_to_fifo, "a FIFO"); /* followed, then refused */
    refused(dir, "a directory");
    refused("/dev/zero", "a character device");
    struct vmio_error err = {0};
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal(vmio_read_file("/nonexistent/x", 10, &data, &size, &err), -ENOENT);
    assert_string_equal(err.msg, "/nonexistent/x: No such file or directory");
}

static void test_regular_read(void **state)
{
    (void)state;
    uint8_t *data = NULL;
    size_t size = 0;
    struct vmio_error err = {0};
    assert_int_equal(vmio_read_file(regular, 10, &data, &size, &err), 0);
    assert_int_equal(size, 10);
    assert_memory_equal(data, "0123456789", 10);
    free(data);
    assert_int_equal(vmio_read_file(regular, 9, &data, &size, &err), -EFBIG);
    uint8_t head[4];
    size_t got = 0;
    assert_int_equal(vmio_read_file_head(regular, head, sizeof(head), &got, &err), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(head, "0123", 4);
    uint8_t more[64];
    assert_int_equal(vmio_read_file_head(regular, more, sizeof(more), &got, &err), 0);
    assert_int_equal(got, 10);
    assert_int_equal(vmio_bzimage_detect_file(kernel, &err), 1);
    assert_int_equal(vmio_bzimage_detect_file(regular, &err), 0);
}

static void test_config_fifo_refused(void **state)
{
    (void)state;
    struct vmio_config *cfg = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_config_load(fifo, &cfg, &err), -EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "a FIFO, not a regular file"));
    /* A kernel_path naming a FIFO: the check run makes reads its header, and refuses. */
    char doc[256];
    snprintf(doc, sizeof(doc),
             "[kernel]\nkernel_path = \"fifo\"\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n");
    char cfgpath[128];
    snprintf(cfgpath, sizeof(cfgpath), "%s/vm.toml", dir);
    assert_int_equal(vmio_config_parse(doc, strlen(doc), cfgpath, &cfg, &err), 0);
    assert_int_equal(vmio_config_check_run(cfg, NULL, &err), -EINVAL);
    char want[512];
    snprintf(want, sizeof(want),
             "%s: kernel.kernel_path: %s: a FIFO, not a regular file (vmio reads images and "
             "configs only from regular files)",
             cfgpath, fifo);
    assert_string_equal(err.msg, want);
    vmio_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_regular_refused),
        cmocka_unit_test(test_regular_read),
        cmocka_unit_test(test_config_fifo_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
