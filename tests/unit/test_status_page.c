/*
 * vmio_vm_add_status_page() on the fake backend: the page is a read-only
 * memory slot over the device's own MMIO window (reads never exit, writes
 * reach the device), the standard machine's testdev mirrors its registers
 * there after every access, and windows that collide are refused by name.
 */
#include "fake_vm.h"
#include "vmio/guest_mem.h"

static void test_standard_status_page(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    /* A read-only slot at VMIO_TESTDEV_STATUS_BASE, and testdev-mmio's window over it. */
    int found = 0;
    for (unsigned i = 0; i < 16; i++) {
        struct vmio_fake_slot s;
        if (vmio_fake_slot(m.fake, i, &s) == 0 && s.gpa == VMIO_TESTDEV_STATUS_BASE) {
            assert_int_equal(s.size, VMIO_TESTDEV_STATUS_SIZE);
            assert_true(s.readonly);
            found = 1;
        }
    }
    assert_true(found);
    const struct vmio_bus_range *r =
        vmio_bus_lookup(vmio_vm_bus(m.vm, VMIO_SPACE_MMIO), VMIO_TESTDEV_STATUS_BASE + 0x28, 8);
    assert_non_null(r);
    assert_string_equal(r->dev->name, "testdev-mmio");
    /* A write through the page's window (what a guest write exits as) updates the page. */
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 8,
                      VMIO_TESTDEV_STATUS_BASE + VMIO_TESTDEV_SUM, 1234);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    const struct vmio_guest_mem *mem = vmio_vm_memory(m.vm);
    const struct vmio_mem_region *pg = NULL;
    for (unsigned i = 0; i < vmio_guest_mem_count(mem); i++)
        if (vmio_guest_mem_at(mem, i)->gpa == VMIO_TESTDEV_STATUS_BASE)
            pg = vmio_guest_mem_at(mem, i);
    assert_non_null(pg);
    assert_int_equal(pg->kind, VMIO_MEM_PASSTHROUGH);
    assert_true(pg->readonly);
    const uint64_t *words = pg->host;
    assert_int_equal(words[VMIO_TESTDEV_SUM / 8], 1234);
    assert_int_equal(words[VMIO_TESTDEV_PATTERN / 8], VMIO_TESTDEV_PATTERN_VALUE);
    assert_int_equal(words[VMIO_TESTDEV_WRITES / 8], 1);
    /* Not a RAM translation target: guest pointers never land on it. */
    assert_null(vmio_vm_gpa_to_host(m.vm, VMIO_TESTDEV_STATUS_BASE, 8));
    fake_vm_fini(&m);
}

static void test_refusals(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_device *td = NULL;
    assert_int_equal(vmio_testdev_create("td2", &td, NULL), 0);
    void *page = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_status_page(m.vm, td, VMIO_TESTDEV_MMIO_BASE, 0x1000, &page, &err),
                     -EBUSY); /* testdev-mmio's register window is there */
    assert_non_null(strstr(err.msg, "status page of td2"));
    assert_non_null(strstr(err.msg, "testdev-mmio"));
    assert_int_equal(vmio_vm_add_status_page(m.vm, td, 0xd0020800, 0x1000, &page, &err), -EINVAL);
    assert_int_equal(vmio_vm_add_status_page(m.vm, td, 0x1000, 0x1000, &page, &err),
                     -EBUSY); /* RAM */
    assert_int_equal(vmio_vm_add_status_page(m.vm, td, 0xd0020000, 0x1000, &page, &err), 0);
    assert_non_null(page);
    fake_vm_fini(&m); /* the VM destroys td and unmaps its page */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_status_page),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
