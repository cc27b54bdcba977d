/*
 * The scripted fake backend on its own (no VM layer, no KVM), driven through
 * the ops-table wrappers of vmio/backend.h exactly as the core calls them:
 * one VM per fake, script validation, every step kind and the exit it
 * becomes (reason, code, ip with and without sync regs, the I/O access and
 * its fake run page), completion capture at the next enter and at destroy,
 * the end-of-script exit, the immediate-exit flag (returns at once without
 * replaying; wakes a blocked enter on another thread), memory slots with
 * KVM's rules, the irqchip and its lines, registers and MP state, and
 * one-shot failure injection.
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
#include <pthread.h>

#include "vmio/backend_fake.h"
#include "vmio/vcpu.h"

struct rig {
    struct vmio_fake *fake;
    struct vmio_backend_vm *vm;
    struct vmio_backend_vcpu *vcpu;
};

static void rig_init(struct rig *r)
{
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&r->fake, &err), 0);
    assert_int_equal(vmio_backend_vm_create(vmio_fake_backend(r->fake), &r->vm, &err), 0);
    assert_int_equal(vmio_backend_vcpu_create(r->vm, 0, 1, &r->vcpu, &err), 0);
}

static void rig_fini(struct rig *r)
{
    vmio_backend_vcpu_destroy(r->vcpu);
    vmio_backend_vm_destroy(r->vm);
    vmio_fake_destroy(r->fake);
}

static void test_one_vm_per_fake(void **state)
{
    (void)state;
    struct vmio_fake *fake;
    assert_int_equal(vmio_fake_create(&fake, NULL), 0);
    struct vmio_backend *be = vmio_fake_backend(fake);
    assert_string_equal(be->ops->name, "fake");
    struct vmio_backend_vm *vm, *vm2;
    struct vmio_error err = {0};
    assert_int_equal(vmio_backend_vm_create(be, &vm, &err), 0);
    assert_int_equal(vmio_backend_vm_create(be, &vm2, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "one VM per fake"));
    vmio_backend_vm_destroy(vm);
    assert_int_equal(vmio_backend_vm_create(be, &vm2, &err), 0);
    vmio_backend_vm_destroy(vm2);
    vmio_backend_vm_destroy(NULL);
    vmio_fake_destroy(fake);
    vmio_fake_destroy(NULL);
}

static void test_push_validation(void **state)
{
    (void)state;
    struct vmio_fake *f;
    assert_int_equal(vmio_fake_create(&f, NULL), 0);
    assert_int_equal(vmio_fake_push_kind(f, VMIO_FAKE_MAX_VCPUS, VMIO_FAKE_HLT, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_kind(f, 0, VMIO_FAKE_NKINDS, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_kind(f, 0, VMIO_FAKE_IO, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_kind(f, 0, VMIO_FAKE_HOST_ERROR, 5), -EINVAL); /* not -errno */
    assert_int_equal(vmio_fake_push_kind(f, 0, VMIO_FAKE_HOST_ERROR, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_MMIO, VMIO_READ, 9, 0, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_MMIO, VMIO_READ, 0, 0, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_PIO, VMIO_READ, 8, 0, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_PIO, VMIO_READ, 3, 0, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_PIO, VMIO_READ, 1, 0x10000, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_SYSREG, VMIO_READ, 4, 0, 0), -EINVAL);
    assert_int_equal(vmio_fake_push_io(f, 0, VMIO_SPACE_PIO, (enum vmio_dir)2, 1, 0, 0), -EINVAL);
    struct vmio_fake_step s = {
        .kind = VMIO_FAKE_IO,
        .access = {.space = VMIO_SPACE_MMIO, .dir = VMIO_READ, .width = 4, .count = 2}};
    assert_int_equal(vmio_fake_push(f, 0, &s), -EINVAL); /* MMIO is never a string */
    s.access =
        (struct vmio_access){.space = VMIO_SPACE_PIO, .dir = VMIO_WRITE, .width = 2, .count = 4};
    assert_int_equal(vmio_fake_push(f, 0, &s), -EINVAL); /* string write without elements */
    s.access.dir = VMIO_READ;
    s.access.count = VMIO_FAKE_IO_MAX / 2 + 1;
    assert_int_equal(vmio_fake_push(f, 0, &s), -EINVAL); /* more than a run page */
    s.access.count = VMIO_FAKE_IO_MAX / 2;
    assert_int_equal(vmio_fake_push(f, 0, &s), 0); /* exactly a run page */
    assert_int_equal(vmio_fake_push_kind(f, 0, VMIO_FAKE_HLT, 0), 1);
    assert_int_equal(vmio_fake_push_kind(f, 1, VMIO_FAKE_HLT, 0), 0); /* numbered per vCPU */
    struct vmio_fake_cpu_info info;
    assert_int_equal(vmio_fake_cpu_info(f, 0, &info), 0);
    assert_int_equal(info.steps, 2);
    assert_false(info.live);
    assert_int_equal(vmio_fake_cpu_info(f, VMIO_FAKE_MAX_VCPUS, &info), -EINVAL);
    vmio_fake_destroy(f);
}

/* Every non-I/O kind becomes the exit KVM would give for it. */
static void test_kinds(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    const struct {
        enum vmio_fake_kind kind;
        uint64_t code;
        enum vmio_exit_reason reason;
        int rc;
    } cases[] = {
        {VMIO_FAKE_HLT, 0, VMIO_EXIT_HLT, 0},
        {VMIO_FAKE_SHUTDOWN, 0, VMIO_EXIT_SHUTDOWN, 0},
        {VMIO_FAKE_RESET, 2, VMIO_EXIT_RESET, 0},
        {VMIO_FAKE_INTERNAL_ERROR, 1, VMIO_EXIT_INTERNAL_ERROR, 0},
        {VMIO_FAKE_FAIL_ENTRY, 0x80000021, VMIO_EXIT_FAIL_ENTRY, 0},
        {VMIO_FAKE_UNKNOWN, 77, VMIO_EXIT_UNKNOWN, 0},
        {VMIO_FAKE_HOST_ERROR, (uint64_t)-EIO, VMIO_EXIT_HOST_ERROR, -EIO},
        {VMIO_FAKE_EINTR, 0, VMIO_EXIT_INTR, 0},
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        struct vmio_fake_step s = {.kind = cases[i].kind, .code = cases[i].code, .ip = 0x1000 + i};
        assert_int_equal(vmio_fake_push(r.fake, 0, &s), (int)i);
    }
    for (size_t i = 0; i < n; i++) {
        struct vmio_exit e;
        memset(&e, 0x5c, sizeof(e));
        assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), cases[i].rc);
        assert_int_equal(e.reason, cases[i].reason);
        assert_int_equal(e.code, cases[i].code);
        assert_int_equal(e.ip, 0); /* sync regs off */
        assert_null(e.device);
        assert_int_equal(e.access.reg, VMIO_REG_NONE);
        uint64_t ip = 0;
        assert_int_equal(vmio_backend_vcpu_get_ip(r.vcpu, &ip), 0);
        assert_int_equal(ip, 0x1000 + i); /* the step's ip became RIP */
    }
    /* The script has ended: a documented exit, every time, counted. */
    for (int i = 0; i < 2; i++) {
        struct vmio_exit e;
        assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
        assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
        assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    }
    struct vmio_fake_cpu_info info;
    assert_int_equal(vmio_fake_cpu_info(r.fake, 0, &info), 0);
    assert_true(info.live);
    assert_int_equal(info.replayed, n);
    assert_int_equal(info.enters, n + 2);
    assert_int_equal(info.ran_out, 2);
    /* Completions exist only for I/O steps. */
    uint8_t b[8];
    assert_int_equal(vmio_fake_completion(r.fake, 0, 0, b, sizeof(b)), -EINVAL);
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)n, b, sizeof(b)), -ENOENT);
    assert_int_equal(vmio_fake_completion(r.fake, VMIO_FAKE_MAX_VCPUS, 0, b, sizeof(b)), -EINVAL);
    rig_fini(&r);
}

/* With sync regs on, exits carry RIP (not INTR and host errors, as with KVM). */
static void test_sync_regs_ip(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    assert_int_equal(vmio_backend_vcpu_set_sync_regs(r.vcpu, true), 0);
    struct vmio_fake_step s = {.kind = VMIO_FAKE_HLT, .ip = 0x4242};
    vmio_fake_push(r.fake, 0, &s);
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_SHUTDOWN, 0); /* no ip: RIP stays */
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_EINTR, 0);
    struct vmio_exit e;
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.ip, 0x4242);
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_SHUTDOWN);
    assert_int_equal(e.ip, 0x4242);
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_INTR);
    assert_int_equal(e.ip, 0);
    struct vmio_fake_cpu_info info;
    vmio_fake_cpu_info(r.fake, 0, &info);
    assert_true(info.sync_regs);
    rig_fini(&r);
}

/* I/O steps: the exit, the run page, and completions captured at the next enter. */
static void test_io_and_completions(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int w = vmio_fake_push_io(r.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, 0x3f8, 0xabcd1234);
    int rd = vmio_fake_push_io(r.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 8, 0xd0000000, 0);
    const uint8_t elems[6] = {1, 2, 3, 4, 5, 6};
    struct vmio_fake_step s = {.kind = VMIO_FAKE_IO,
                               .access = {.space = VMIO_SPACE_PIO,
                                          .dir = VMIO_WRITE,
                                          .width = 2,
                                          .count = 3,
                                          .addr = 0x70,
                                          .buf = (uint8_t *)elems}};
    int sw = vmio_fake_push(r.fake, 0, &s);
    s.access = (struct vmio_access){
        .space = VMIO_SPACE_PIO, .dir = VMIO_READ, .width = 4, .count = 2, .addr = 0x71};
    int sr = vmio_fake_push(r.fake, 0, &s);
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_HLT, 0);

    struct vmio_exit e;
    uint8_t b[16];
    uint64_t v;
    /* A single write: data is the low width bytes, buf holds them too. */
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_IO);
    assert_int_equal(e.access.space, VMIO_SPACE_PIO);
    assert_int_equal(e.access.dir, VMIO_WRITE);
    assert_int_equal(e.access.width, 2);
    assert_int_equal(e.access.count, 1);
    assert_int_equal(e.access.addr, 0x3f8);
    assert_int_equal(e.access.data, 0x1234);
    assert_int_equal(e.access.reg, VMIO_REG_NONE);
    assert_memory_equal(e.access.buf, "\x34\x12", 2);
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)w, b, sizeof(b)), -EAGAIN);
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)rd, b, sizeof(b)), -ENOENT);
    /* A read: poisoned buf, no data; what the "run loop" stores is captured next time. */
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(vmio_fake_read_value(r.fake, 0, (unsigned)w, &v), 0);
    assert_int_equal(v, 0x1234);
    assert_int_equal(e.access.space, VMIO_SPACE_MMIO);
    assert_int_equal(e.access.dir, VMIO_READ);
    assert_int_equal(e.access.data, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(e.access.buf[i], VMIO_FAKE_POISON);
    memcpy(e.access.buf, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    assert_int_equal(vmio_fake_read_value(r.fake, 0, (unsigned)rd, &v), -EAGAIN);
    /* String write: the elements in buf, count as given. */
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(vmio_fake_read_value(r.fake, 0, (unsigned)rd, &v), 0);
    assert_int_equal(v, 0x8877665544332211ULL);
    assert_int_equal(e.access.count, 3);
    assert_int_equal(e.access.data, 0);
    assert_memory_equal(e.access.buf, elems, 6);
    /* String read: count * width poisoned bytes. */
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)sw, b, sizeof(b)), 6);
    assert_memory_equal(b, elems, 6);
    assert_int_equal(e.access.count, 2);
    memset(e.access.buf, 0, 7); /* the "run loop" completes 7 of 8 bytes */
    /* Captured on destroy when the vCPU never enters again. */
    vmio_backend_vcpu_destroy(r.vcpu);
    r.vcpu = NULL;
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)sr, b, 4), 8); /* size given: 4 */
    assert_int_equal(vmio_fake_completion(r.fake, 0, (unsigned)sr, b, sizeof(b)), 8);
    assert_memory_equal(b, "\0\0\0\0\0\0\0", 7);
    assert_int_equal(b[7], VMIO_FAKE_POISON);
    assert_int_equal(vmio_fake_read_value(r.fake, 0, (unsigned)sr, &v), -EINVAL); /* a string */
    struct vmio_fake_cpu_info info;
    vmio_fake_cpu_info(r.fake, 0, &info);
    assert_false(info.live);
    rig_fini(&r);
}

struct enter_thread {
    struct vmio_backend_vcpu *vcpu;
    struct vmio_exit exit;
    int rc;
};

static void *enter_main(void *arg)
{
    struct enter_thread *t = arg;
    t->rc = vmio_backend_vcpu_enter(t->vcpu, &t->exit);
    return NULL;
}

/* The immediate-exit flag: INTR at once without replaying; it wakes a blocked enter. */
static void test_immediate_exit_and_block(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    assert_int_equal(vmio_fake_wait_blocked(r.fake, 0), -ENOENT); /* no BLOCK step at all */
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_HLT, 0);
    struct vmio_exit e;
    assert_int_equal(vmio_backend_vcpu_set_immediate_exit(r.vcpu, true), 0);
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_INTR);
    struct vmio_fake_cpu_info info;
    vmio_fake_cpu_info(r.fake, 0, &info);
    assert_int_equal(info.replayed, 0);
    assert_int_equal(info.immediate, 1);
    assert_true(info.immediate_exit);
    assert_int_equal(vmio_backend_vcpu_set_immediate_exit(r.vcpu, false), 0);

    struct enter_thread t = {.vcpu = r.vcpu};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, enter_main, &t), 0);
    assert_int_equal(vmio_fake_wait_blocked(r.fake, 0), 0);
    vmio_fake_cpu_info(r.fake, 0, &info);
    assert_true(info.blocked);
    assert_int_equal(vmio_backend_vcpu_set_immediate_exit(r.vcpu, true), 0); /* the kick */
    pthread_join(th, NULL);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.exit.reason, VMIO_EXIT_INTR);
    vmio_fake_cpu_info(r.fake, 0, &info);
    assert_false(info.blocked);
    assert_int_equal(info.replayed, 1);
    assert_int_equal(vmio_fake_wait_blocked(r.fake, 0), -ENOENT); /* never again */
    vmio_backend_vcpu_set_immediate_exit(r.vcpu, false);
    assert_int_equal(vmio_backend_vcpu_enter(r.vcpu, &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_HLT);
    assert_int_equal(vmio_fake_wait_blocked(r.fake, VMIO_FAKE_MAX_VCPUS), -EINVAL);
    rig_fini(&r);
}

static void test_memory_slots(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    static uint8_t host[0x3000] __attribute__((aligned(4096)));
    struct vmio_error err = {0};
    struct vmio_fake_slot s;
    assert_int_equal(vmio_fake_slot(r.fake, 0, &s), -ENOENT);
    assert_int_equal(vmio_backend_set_memory(r.vm, 0, 0x100000, 0x2000, host, false, &err), 0);
    assert_int_equal(vmio_backend_set_memory(r.vm, 3, 0x200000, 0x1000, host, true, &err), 0);
    assert_int_equal(vmio_fake_slot(r.fake, 0, &s), 0);
    assert_int_equal(s.gpa, 0x100000);
    assert_int_equal(s.size, 0x2000);
    assert_ptr_equal(s.host, host);
    assert_false(s.readonly);
    assert_int_equal(vmio_fake_slot(r.fake, 3, &s), 0);
    assert_true(s.readonly);
    /* KVM's rules: no overlap with another slot, 4 KiB alignment. */
    assert_int_equal(vmio_backend_set_memory(r.vm, 1, 0x101000, 0x1000, host, false, &err),
                     -EEXIST);
    assert_non_null(strstr(err.msg, "overlaps slot 0"));
    assert_int_equal(vmio_backend_set_memory(r.vm, 1, 0x300800, 0x1000, host, false, &err),
                     -EINVAL);
    assert_int_equal(vmio_backend_set_memory(r.vm, 1, 0x300000, 0x1000, host + 1, false, &err),
                     -EINVAL);
    assert_int_equal(
        vmio_backend_set_memory(r.vm, VMIO_FAKE_MAX_SLOTS, 0x300000, 0x1000, host, false, &err),
        -EINVAL);
    /* Size 0 deletes; a slot may then be set again. */
    assert_int_equal(vmio_backend_set_memory(r.vm, 0, 0, 0, NULL, false, &err), 0);
    assert_int_equal(vmio_fake_slot(r.fake, 0, &s), -ENOENT);
    assert_int_equal(vmio_backend_set_memory(r.vm, 1, 0x101000, 0x1000, host, false, &err), 0);
    assert_int_equal(vmio_fake_slot(r.fake, VMIO_FAKE_MAX_SLOTS, &s), -EINVAL);
    rig_fini(&r);
}

static void test_irqchip_and_lines(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct vmio_error err = {0};
    assert_int_equal(vmio_backend_irq_line(r.vm, 4, 1), -ENXIO);               /* no irqchip */
    assert_int_equal(vmio_backend_create_irqchip(r.vm, false, &err), -EINVAL); /* vCPU exists */
    vmio_backend_vcpu_destroy(r.vcpu);
    r.vcpu = NULL;
    bool pit = true;
    assert_false(vmio_fake_irqchip(r.fake, &pit));
    assert_int_equal(vmio_backend_create_irqchip(r.vm, true, &err), 0);
    assert_int_equal(vmio_backend_create_irqchip(r.vm, true, &err), -EEXIST);
    assert_true(vmio_fake_irqchip(r.fake, &pit));
    assert_true(pit);
    assert_int_equal(vmio_backend_irq_line(r.vm, 4, 1), 0);
    assert_int_equal(vmio_backend_irq_line(r.vm, 4, 7), 0); /* any non-zero is high */
    assert_int_equal(vmio_backend_irq_line(r.vm, 4, 0), 0);
    assert_int_equal(vmio_backend_irq_line(r.vm, 4, 1), 0);
    assert_int_equal(vmio_backend_irq_line(r.vm, VMIO_FAKE_GSIS, 1), -EINVAL);
    struct vmio_fake_irq l;
    assert_int_equal(vmio_fake_irq(r.fake, 4, &l), 0);
    assert_int_equal(l.level, 1);
    assert_int_equal(l.calls, 4);
    assert_int_equal(l.rises, 2);
    assert_int_equal(vmio_fake_irq(r.fake, 5, &l), 0);
    assert_int_equal(l.calls, 0);
    assert_int_equal(vmio_fake_irq(r.fake, VMIO_FAKE_GSIS, &l), -EINVAL);
    /* A new VM starts with fresh VM-level records. */
    vmio_backend_vm_destroy(r.vm);
    assert_int_equal(vmio_backend_vm_create(vmio_fake_backend(r.fake), &r.vm, &err), 0);
    assert_false(vmio_fake_irqchip(r.fake, NULL));
    assert_int_equal(vmio_fake_irq(r.fake, 4, &l), 0);
    assert_int_equal(l.calls, 0);
    rig_fini(&r);
}

static void test_registers(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    /* A PC's reset state until set. */
    struct vmio_x86_regs regs;
    struct vmio_x86_sregs sregs;
    assert_int_equal(vmio_backend_vcpu_get_regs(r.vcpu, &regs), 0);
    assert_int_equal(vmio_backend_vcpu_get_sregs(r.vcpu, &sregs), 0);
    assert_int_equal(regs.rip, 0xfff0);
    assert_int_equal(regs.rflags, 2);
    assert_int_equal(sregs.cs.selector, 0xf000);
    assert_int_equal(sregs.cs.base, 0xffff0000);
    assert_int_equal(sregs.cr0, 0x60000010);
    regs.gpr[VMIO_X86_RBX] = 0x1234;
    sregs.cr3 = 0x5000;
    assert_int_equal(vmio_backend_vcpu_set_regs(r.vcpu, &regs), 0);
    assert_int_equal(vmio_backend_vcpu_set_sregs(r.vcpu, &sregs), 0);
    struct vmio_x86_regs regs2;
    struct vmio_x86_sregs sregs2;
    assert_int_equal(vmio_fake_get_regs(r.fake, 0, &regs2), 0);
    assert_int_equal(vmio_fake_get_sregs(r.fake, 0, &sregs2), 0);
    assert_int_equal(regs2.gpr[VMIO_X86_RBX], 0x1234);
    assert_int_equal(sregs2.cr3, 0x5000);
    regs2.rip = 0x7777;
    assert_int_equal(vmio_fake_set_regs(r.fake, 0, &regs2), 0);
    sregs2.efer = 0x500;
    assert_int_equal(vmio_fake_set_sregs(r.fake, 0, &sregs2), 0);
    uint64_t ip = 0;
    assert_int_equal(vmio_backend_vcpu_get_ip(r.vcpu, &ip), 0);
    assert_int_equal(ip, 0x7777);
    assert_int_equal(vmio_backend_vcpu_get_sregs(r.vcpu, &sregs), 0);
    assert_int_equal(sregs.efer, 0x500);
    unsigned mp = 99;
    assert_int_equal(vmio_backend_vcpu_mp_state(r.vcpu, &mp), 0);
    assert_int_equal(mp, VMIO_MP_RUNNABLE);
    assert_int_equal(vmio_fake_set_mp_state(r.fake, 0, VMIO_MP_WAIT_SIPI), 0);
    assert_int_equal(vmio_backend_vcpu_mp_state(r.vcpu, &mp), 0);
    assert_int_equal(mp, VMIO_MP_WAIT_SIPI);
    assert_int_equal(vmio_fake_get_regs(r.fake, VMIO_FAKE_MAX_VCPUS, &regs), -EINVAL);
    assert_int_equal(vmio_fake_set_mp_state(r.fake, VMIO_FAKE_MAX_VCPUS, 0), -EINVAL);
    rig_fini(&r);
}

/* Each operation can be made to fail once, with its own message where it has one. */
static void test_failure_injection(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_NOPS, -EIO), -EINVAL);
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_GET_IP, EIO), -EINVAL);

    struct vmio_backend_vcpu *v2;
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_VCPU_CREATE, -ENOMEM), 0);
    assert_int_equal(vmio_backend_vcpu_create(r.vm, 1, 2, &v2, &err), -ENOMEM);
    assert_string_equal(err.msg, "fake vcpu_create failure");
    assert_int_equal(vmio_backend_vcpu_create(r.vm, 1, 2, &v2, &err), 0); /* once only */
    assert_int_equal(vmio_backend_vcpu_create(r.vm, 1, 2, &v2, &err), -EEXIST);
    vmio_backend_vcpu_destroy(v2);

    static uint8_t host[0x1000] __attribute__((aligned(4096)));
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_SET_MEMORY, -EFAULT), 0);
    assert_int_equal(vmio_backend_set_memory(r.vm, 0, 0, 0x1000, host, false, &err), -EFAULT);
    assert_string_equal(err.msg, "fake set_memory failure");
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_CREATE_IRQCHIP, -ENODEV), 0);
    assert_int_equal(vmio_backend_create_irqchip(r.vm, false, &err), -ENODEV);
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_IRQ_LINE, -EBADF), 0);
    assert_int_equal(vmio_backend_irq_line(r.vm, 0, 1), -EBADF);

    struct vmio_x86_regs regs;
    struct vmio_x86_sregs sregs;
    uint64_t ip;
    unsigned mp;
    const struct {
        enum vmio_fake_op op;
        int err;
    } ops[] = {
        {VMIO_FAKE_OP_SYNC_REGS, -ENOTSUP}, {VMIO_FAKE_OP_MP_STATE, -EINTR},
        {VMIO_FAKE_OP_GET_IP, -ESRCH},      {VMIO_FAKE_OP_GET_REGS, -EIO},
        {VMIO_FAKE_OP_SET_REGS, -EPERM},    {VMIO_FAKE_OP_GET_SREGS, -EACCES},
        {VMIO_FAKE_OP_SET_SREGS, -EAGAIN},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        assert_int_equal(vmio_fake_fail(r.fake, ops[i].op, ops[i].err), 0);
    assert_int_equal(vmio_backend_vcpu_set_sync_regs(r.vcpu, true), -ENOTSUP);
    assert_int_equal(vmio_backend_vcpu_mp_state(r.vcpu, &mp), -EINTR);
    assert_int_equal(vmio_backend_vcpu_get_ip(r.vcpu, &ip), -ESRCH);
    assert_int_equal(vmio_backend_vcpu_get_regs(r.vcpu, &regs), -EIO);
    assert_int_equal(vmio_backend_vcpu_set_regs(r.vcpu, &regs), -EPERM);
    assert_int_equal(vmio_backend_vcpu_get_sregs(r.vcpu, &sregs), -EACCES);
    assert_int_equal(vmio_backend_vcpu_set_sregs(r.vcpu, &sregs), -EAGAIN);
    /* All consumed. */
    assert_int_equal(vmio_backend_vcpu_get_regs(r.vcpu, &regs), 0);
    assert_int_equal(vmio_backend_vcpu_get_ip(r.vcpu, &ip), 0);
    /* 0 cancels a pending failure. */
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_GET_IP, -EIO), 0);
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_GET_IP, 0), 0);
    assert_int_equal(vmio_backend_vcpu_get_ip(r.vcpu, &ip), 0);
    rig_fini(&r);

    struct vmio_fake *f;
    struct vmio_backend_vm *vm;
    assert_int_equal(vmio_fake_create(&f, NULL), 0);
    assert_int_equal(vmio_fake_fail(f, VMIO_FAKE_OP_VM_CREATE, -ENODEV), 0);
    assert_int_equal(vmio_backend_vm_create(vmio_fake_backend(f), &vm, &err), -ENODEV);
    assert_string_equal(err.msg, "fake vm_create failure");
    vmio_fake_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_vm_per_fake),
        cmocka_unit_test(test_push_validation),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_sync_regs_ip),
        cmocka_unit_test(test_io_and_completions),
        cmocka_unit_test(test_immediate_exit_and_block),
        cmocka_unit_test(test_memory_slots),
        cmocka_unit_test(test_irqchip_and_lines),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_failure_injection),
    };
    return cmocka_run_group_tests_name("backend_fake", tests, NULL, NULL);
}
