/*
 * The PC's virtio slots (vmio_pc_add_virtio(), vmio/pc.h), no KVM: devices
 * on a fake VM with the irqchip. Checked: automatic slots (windows from
 * 0xd0001000 a page apart, GSIs from 16) in the order given, disks named
 * vda, vdb, ..., the DSDT entries made from the same window and GSI as the
 * transports, explicit windows (configs), read-only disks, the 8-slot limit,
 * an image or a TAP that cannot be opened, a net device without a TAP, and a
 * console without a chardev.
 */
#include "fake_vm.h"

#include <errno.h>
#include <unistd.h>

#include "vmio/chardev.h"
#include "vmio/iothread.h"
#include "vmio/pc.h"
#include "vmio/virtio_mmio.h"

/* A 64 KiB scratch image; returns its path in @path. */
static void image(char *path)
{
    strcpy(path, "/tmp/vmio-pcv-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 64 << 10), 0);
    close(fd);
}

static void test_slots(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    struct vmio_iothread *io;
    assert_int_equal(vmio_iothread_create("t-pcv", &io, NULL), 0);
    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_memory(NULL, 0, &cd, NULL), 0);
    char a[32], b[32];
    image(a);
    image(b);
    struct vmio_pc_virtio devs[] = {
        {.kind = VMIO_PC_VIRTIO_BLK, .path = a},
        {.kind = VMIO_PC_VIRTIO_RNG},
        {.kind = VMIO_PC_VIRTIO_BLK, .path = b, .readonly = true},
        {.kind = VMIO_PC_VIRTIO_CONSOLE, .chardev = cd},
        {.kind = VMIO_PC_VIRTIO_RNG, .base = 0xd0020000, .gsi = 23}, /* explicit */
    };
    struct vmio_acpi_device acpi[5];
    struct vmio_device *t[5];
    struct vmio_pc_virtio_options o = {.io = io, .log = m.log};
    struct vmio_error err = {0};
    if (vmio_pc_add_virtio(m.vm, devs, 5, &o, acpi, t, &err) != 0)
        fail_msg("vmio_pc_add_virtio: %s", err.msg);
    const char *names[] = {"virtio-blk vda", "virtio-rng", "virtio-blk vdb", "virtio-console",
                           "virtio-rng"};
    const uint64_t bases[] = {0xd0001000, 0xd0002000, 0xd0003000, 0xd0004000, 0xd0020000};
    const unsigned gsis[] = {16, 17, 18, 19, 23};
    for (unsigned i = 0; i < 5; i++) {
        assert_true(vmio_virtio_mmio_is(t[i]));
        assert_string_equal(t[i]->name, names[i]);
        assert_int_equal(acpi[i].kind, VMIO_ACPI_DEV_VIRTIO_MMIO);
        assert_int_equal(acpi[i].virtio_mmio.base, bases[i]);
        assert_int_equal(acpi[i].virtio_mmio.size, VMIO_VIRTIO_MMIO_SIZE);
        assert_int_equal(acpi[i].virtio_mmio.gsi, gsis[i]);
        /* The transport answers at that window, and interrupts on that GSI. */
        const struct vmio_bus_range *r =
            vmio_bus_lookup(vmio_vm_bus(m.vm, VMIO_SPACE_MMIO), bases[i], 4);
        assert_non_null(r);
        assert_ptr_equal(r->dev, t[i]);
        struct vmio_fake_irqfd q;
        assert_int_equal(vmio_fake_irqfd_get(m.fake, gsis[i], &q), 0);
        assert_true(q.assigned);
    }
    /* The read-only disk offers VIRTIO_BLK_F_RO (bit 5). */
    uint64_t v;
    assert_int_equal(vmio_device_write(t[2], VMIO_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, 0), 0);
    assert_int_equal(vmio_device_read(t[2], VMIO_VIRTIO_MMIO_DEVICE_FEATURES, 4, &v), 0);
    assert_true(v & (1u << 5));
    assert_int_equal(vmio_device_read(t[0], VMIO_VIRTIO_MMIO_DEVICE_FEATURES, 4, &v), 0);
    assert_false(v & (1u << 5));
    fake_vm_fini(&m);

    /* Refusals: an image that is not there, a console without a chardev, a 9th slot. */
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    struct vmio_pc_virtio bad = {.kind = VMIO_PC_VIRTIO_BLK, .path = "/nonexistent/x.img"};
    assert_int_equal(vmio_pc_add_virtio(m.vm, &bad, 1, &o, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "disk /nonexistent/x.img: cannot open it"));
    /* A TAP that cannot be opened (here: no tun driver at the path given): the TAP is named. */
    struct vmio_pc_virtio net = {.kind = VMIO_PC_VIRTIO_NET, .tap = "vmt0"};
    struct vmio_pc_virtio_options no_tun = o;
    no_tun.tun_path = "/nonexistent/net/tun";
    assert_int_equal(vmio_pc_add_virtio(m.vm, &net, 1, &no_tun, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "TAP vmt0: cannot open /nonexistent/net/tun"));
    net.tap = NULL;
    assert_int_equal(vmio_pc_add_virtio(m.vm, &net, 1, &no_tun, NULL, NULL, &err), -EINVAL);
    struct vmio_pc_virtio con = {.kind = VMIO_PC_VIRTIO_CONSOLE};
    assert_int_equal(vmio_pc_add_virtio(m.vm, &con, 1, &o, NULL, NULL, &err), -EINVAL);
    struct vmio_pc_virtio many[9];
    for (unsigned i = 0; i < 9; i++)
        many[i] = (struct vmio_pc_virtio){.kind = VMIO_PC_VIRTIO_RNG};
    assert_int_equal(vmio_pc_add_virtio(m.vm, many, 9, &o, NULL, NULL, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "more than 8 virtio devices"));
    fake_vm_fini(&m);
    vmio_iothread_destroy(io);
    vmio_chardev_close(cd);
    unlink(a);
    unlink(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots),
    };
    return cmocka_run_group_tests_name("pc_virtio", tests, NULL, NULL);
}
