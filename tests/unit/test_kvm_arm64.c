/*
 * The AArch64 KVM backend's exit-less notifications on a real /dev/kvm (the
 * AArch64 build only; in the nested AArch64 VM on an x86-64 host):
 *   - ioeventfd: a guest store that matches (address, width, value) signals
 *     the eventfd without an exit, one that does not match still exits with
 *     its value, and after deassign the matching store exits too; port
 *     space is refused (AArch64 has none);
 *   - irqfd: refused without the vGIC, assigned on an SPI once it exists,
 *     a second assign of the same eventfd refused by KVM, deassigned, and
 *     an SPI past the vGIC refused.
 * The guest is six instructions in RAM, run through the backend alone.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmio/arm64_regs.h"
#include "vmio/backend.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (2u << 20)
#define DOORBELL 0x0c000000ull /* no memory there: an MMIO exit unless an ioeventfd matches */

struct rig {
    struct vmio_backend_vm *vm;
    struct vmio_backend_vcpu *vcpu;
    void *ram;
};

static void rig_init(struct rig *r, bool gic)
{
    memset(r, 0, sizeof(*r));
    struct vmio_error err = {0};
    assert_int_equal(vmio_backend_vm_create(vmio_backend_kvm(), &r->vm, &err), 0);
    r->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(r->ram != MAP_FAILED);
    assert_int_equal(vmio_backend_set_memory(r->vm, 0, RAM_GPA, RAM_SIZE, r->ram, false, &err), 0);
    if (gic)
        assert_int_equal(vmio_backend_create_irqchip(r->vm, false, &err), 0);
    assert_int_equal(vmio_backend_vcpu_create(r->vm, 0, 1, &r->vcpu, &err), 0);
    if (gic)
        assert_int_equal(vmio_backend_irqchip_finalize(r->vm), 0);
}

static void rig_fini(struct rig *r)
{
    vmio_backend_vcpu_destroy(r->vcpu);
    vmio_backend_vm_destroy(r->vm);
    munmap(r->ram, RAM_SIZE);
}

/* movz x0, #0x0c00, lsl #16; movz w1, #5; str w1, [x0]; movz w1, #6; str w1, [x0]; b . */
static void load_guest(struct rig *r)
{
    static const uint32_t code[] = {0xd2a18000, 0x528000a1, 0xb9000001,
                                    0x528000c1, 0xb9000001, 0x14000000};
    memcpy(r->ram, code, sizeof(code));
    assert_int_equal(vmio_backend_vcpu_set_arm64_reg(r->vcpu, VMIO_ARM64_REG_PC, RAM_GPA), 0);
    assert_int_equal(
        vmio_backend_vcpu_set_arm64_reg(r->vcpu, VMIO_ARM64_REG_PSTATE,
                                        VMIO_ARM64_PSTATE_EL1H | VMIO_ARM64_PSTATE_DAIF),
        0);
}

/* Enter until the first MMIO exit; returns the value written. */
static uint64_t next_write(struct rig *r)
{
    struct vmio_exit x;
    for (int tries = 0; tries < 100; tries++) {
        memset(&x, 0, sizeof(x));
        assert_int_equal(vmio_backend_vcpu_enter(r->vcpu, &x), 0);
        if (x.reason == VMIO_EXIT_INTR)
            continue;
        assert_int_equal(x.reason, VMIO_EXIT_IO);
        assert_int_equal(x.access.space, VMIO_SPACE_MMIO);
        assert_int_equal(x.access.dir, VMIO_WRITE);
        assert_int_equal(x.access.addr, DOORBELL);
        assert_int_equal(x.access.width, 4);
        return x.access.data;
    }
    fail_msg("no MMIO exit");
    return 0;
}

static void test_ioeventfd(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, false);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct vmio_error err = {0};
    assert_int_equal(
        vmio_backend_ioeventfd(r.vm, efd, VMIO_SPACE_PIO, 0x60, 1, false, 0, true, &err), -EINVAL);
    assert_int_equal(
        vmio_backend_ioeventfd(r.vm, efd, VMIO_SPACE_MMIO, DOORBELL, 4, true, 5, true, &err), 0);
    load_guest(&r);
    assert_int_equal(next_write(&r), 6); /* the store of 5 matched: no exit */
    uint64_t count = 0;
    assert_int_equal(read(efd, &count, sizeof(count)), (ssize_t)sizeof(count));
    assert_int_equal(count, 1);
    /* deassigned: the same guest's first store exits now, and the eventfd stays quiet */
    assert_int_equal(
        vmio_backend_ioeventfd(r.vm, efd, VMIO_SPACE_MMIO, DOORBELL, 4, true, 5, false, &err), 0);
    load_guest(&r);
    assert_int_equal(next_write(&r), 5);
    assert_int_equal(read(efd, &count, sizeof(count)), -1);
    assert_int_equal(errno, EAGAIN);
    close(efd);
    rig_fini(&r);
}

static void test_irqfd(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct rig r;
    rig_init(&r, false);
    assert_int_equal(vmio_backend_irqfd(r.vm, efd, 3, -1, true, &err), -ENXIO);
    rig_fini(&r);
    rig_init(&r, true);
    assert_int_equal(vmio_backend_irqfd(r.vm, efd, 3, -1, true, &err), 0);
    assert_int_equal(vmio_backend_irqfd(r.vm, efd, 3, -1, true, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "SPI 3"));
    assert_int_equal(vmio_backend_irqfd(r.vm, efd, 3, -1, false, &err), 0);
    assert_int_equal(vmio_backend_irqfd(r.vm, efd, 224, -1, true, &err), -EINVAL);
    uint64_t one = 1; /* an edge on an unassigned eventfd reaches nobody and harms nothing */
    assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
    rig_fini(&r);
    close(efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioeventfd),
        cmocka_unit_test(test_irqfd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
