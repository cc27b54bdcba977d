/*
 * The VM layer on the scripted fake backend (no /dev/kvm): what the VM asks
 * of its backend and how it copes when the backend says no.
 * Checks: guest RAM, ROM and pass-through mappings become memory slots (in
 * order, read-only flag passed on) and regions of vmio_vm_memory(); a slot
 * the backend refuses leaves no region behind and no slot number used up;
 * the RAM region limit; backend failures while creating the VM, its
 * irqchip and vCPUs (and the index is free again after); the irqchip and
 * PIT flags reaching the backend; COM1's interrupt reaching the backend's
 * GSI 4 when the guest programs the UART (and nothing without the irqchip,
 * and a failing line counted on it); MP state; tracing needing sync regs;
 * device ranges that are empty or wrap past 2^64 refused with the bus's
 * reason before any overlap arithmetic (which would wrap too); the VM's
 * interrupt lines are as many as its backend has (x86's 24 by default, more
 * for a backend like the AArch64 vGIC).
 */
#include <errno.h>
#include <sys/mman.h>

#include "fake_vm.h"

static void test_memory_slots(void **state)
{
    (void)state;
    struct vmio_fake *fake;
    assert_int_equal(vmio_fake_create(&fake, NULL), 0);
    struct vmio_vm_options o = {.mem_size = 4u << 20, .backend = vmio_fake_backend(fake)};
    struct vmio_vm *vm;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_create(&o, &vm, &err), 0);
    struct vmio_fake_slot s;
    assert_int_equal(vmio_fake_slot(fake, 0, &s), 0);
    assert_int_equal(s.gpa, 0);
    assert_int_equal(s.size, 4u << 20);
    assert_ptr_equal(s.host, vmio_vm_gpa_to_host(vm, 0, 1));
    assert_false(s.readonly);
    assert_int_equal(vmio_fake_slot(fake, 1, &s), -ENOENT);
    const struct vmio_guest_mem *mem = vmio_vm_memory(vm);
    assert_int_equal(vmio_guest_mem_count(mem), 1);
    assert_string_equal(vmio_guest_mem_at(mem, 0)->name, "ram");
    vmio_vm_destroy(vm);

    /* An explicit layout: RAM, a pass-through mapping, ROM. */
    assert_int_equal(vmio_vm_create_empty(&o, &vm, &err), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x100000, 0x200000, false, &err), 0);
    void *host = mmap(NULL, 0x3000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(host != MAP_FAILED);
    assert_int_equal(vmio_vm_map_host(vm, 0xe0000000, 0x3000, host,
                                      VMIO_MAP_OWNED | VMIO_MAP_READONLY, "shared", &err),
                     0);
    assert_int_equal(vmio_vm_add_ram(vm, 0xfffff000, 0x1000, true, &err), 0);
    assert_int_equal(vmio_fake_slot(fake, 1, &s), 0);
    assert_int_equal(s.gpa, 0xe0000000);
    assert_ptr_equal(s.host, host);
    assert_true(s.readonly);
    assert_int_equal(vmio_fake_slot(fake, 2, &s), 0);
    assert_int_equal(s.gpa, 0xfffff000);
    assert_true(s.readonly);
    mem = vmio_vm_memory(vm);
    assert_int_equal(vmio_guest_mem_count(mem), 3);
    assert_int_equal(vmio_guest_mem_at(mem, 1)->kind, VMIO_MEM_PASSTHROUGH);
    assert_string_equal(vmio_guest_mem_at(mem, 1)->name, "shared");
    assert_string_equal(vmio_guest_mem_at(mem, 2)->name, "rom");
    assert_null(vmio_vm_gpa_to_host(vm, 0xe0000000, 1)); /* pass-through: never translated */
    assert_non_null(vmio_vm_gpa_to_host(vm, 0xfffff000, 0x1000));

    /* The backend refuses a slot: no region, and the slot number is not used up. */
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_SET_MEMORY, -ENOSPC), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x100000000ULL, 0x1000, false, &err), -ENOSPC);
    assert_string_equal(err.msg, "fake set_memory failure");
    assert_int_equal(vmio_guest_mem_count(mem), 3);
    assert_null(vmio_vm_gpa_to_host(vm, 0x100000000ULL, 1));
    void *h2 = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(h2 != MAP_FAILED);
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_SET_MEMORY, -EFAULT), 0);
    assert_int_equal(vmio_vm_map_host(vm, 0xe8000000, 0x1000, h2, VMIO_MAP_OWNED, "x", &err),
                     -EFAULT);
    assert_int_equal(vmio_guest_mem_count(mem), 3);
    memset(h2, 1, 0x1000); /* still the caller's, still mapped */
    munmap(h2, 0x1000);
    assert_int_equal(vmio_vm_add_ram(vm, 0x100000000ULL, 0x1000, false, &err), 0);
    assert_int_equal(vmio_fake_slot(fake, 3, &s), 0);
    assert_int_equal(s.gpa, 0x100000000ULL);
    assert_int_equal(vmio_fake_slot(fake, 4, &s), -ENOENT);
    /* At most four RAM regions. */
    assert_int_equal(vmio_vm_add_ram(vm, 0x200000000ULL, 0x1000, false, &err), 0);
    assert_int_equal(vmio_fake_slot(fake, 4, &s), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x300000000ULL, 0x1000, false, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "too many RAM regions"));
    /* Overlaps are refused by the VM before the backend sees them. */
    assert_int_equal(vmio_vm_add_ram(vm, 0x80000000, 0x1000, false, &err), -EINVAL); /* order */
    vmio_vm_destroy(vm); /* unmaps "shared" (owned) */
    vmio_fake_destroy(fake);
}

static void test_backend_failures(void **state)
{
    (void)state;
    struct vmio_fake *fake;
    assert_int_equal(vmio_fake_create(&fake, NULL), 0);
    struct vmio_vm_options o = {.mem_size = 2u << 20, .backend = vmio_fake_backend(fake)};
    struct vmio_vm *vm = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_VM_CREATE, -ENODEV), 0);
    assert_int_equal(vmio_vm_create(&o, &vm, &err), -ENODEV);
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_SET_MEMORY, -ENOMEM), 0);
    assert_int_equal(vmio_vm_create(&o, &vm, &err), -ENOMEM);
    o.irqchip = true;
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_CREATE_IRQCHIP, -EEXIST), 0);
    assert_int_equal(vmio_vm_create(&o, &vm, &err), -EEXIST);
    o.pit = true;
    assert_int_equal(vmio_vm_create(&o, &vm, &err), 0); /* and the fake is free again */
    bool pit = false;
    assert_true(vmio_fake_irqchip(fake, &pit));
    assert_true(pit);
    assert_true(vmio_vm_has_irqchip(vm));

    struct vmio_vcpu *v = NULL;
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_VCPU_CREATE, -EMFILE), 0);
    assert_int_equal(vmio_vcpu_create(vm, 0, &v, &err), -EMFILE);
    assert_string_equal(err.msg, "fake vcpu_create failure");
    assert_int_equal(vmio_vcpu_create(vm, 0, &v, &err), 0); /* index 0 is free again */
    struct vmio_vcpu *v2 = NULL;
    assert_int_equal(vmio_vcpu_create(vm, 0, &v2, &err), -EEXIST);
    assert_int_equal(vmio_vcpu_index(v), 0);
    unsigned mp = 99;
    assert_int_equal(vmio_fake_set_mp_state(fake, 0, VMIO_MP_HALTED), 0);
    assert_int_equal(vmio_vcpu_mp_state(v, &mp), 0);
    assert_int_equal(mp, VMIO_MP_HALTED);
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_MP_STATE, -EBADF), 0);
    assert_int_equal(vmio_vcpu_mp_state(v, &mp), -EBADF);
    struct vmio_x86_regs r;
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_GET_REGS, -EIO), 0);
    assert_int_equal(vmio_vcpu_get_regs(v, &r), -EIO);
    assert_int_equal(vmio_vcpu_get_regs(v, &r), 0);
    vmio_vcpu_destroy(v);
    vmio_vm_destroy(vm);
    vmio_fake_destroy(fake);
}

/* Tracing wants RIP in every exit: sync regs; a backend without them still traces. */
static void test_trace_sync_regs(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    vmio_vm_set_trace(m.vm, m.log);
    struct vmio_error err = {0};
    struct vmio_vcpu *v = NULL;
    assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_SYNC_REGS, -EIO), 0);
    assert_int_equal(vmio_vcpu_create(m.vm, 0, &v, &err), -EIO);
    assert_non_null(strstr(err.msg, "vCPU 0: cannot turn on sync regs for tracing"));
    assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_SYNC_REGS, -ENOTSUP), 0);
    assert_int_equal(vmio_vcpu_create(m.vm, 0, &m.vcpu[0], &err), 0);
    struct vmio_fake_cpu_info info;
    vmio_fake_cpu_info(m.fake, 0, &info);
    assert_false(info.sync_regs);
    fake_vm_vcpu(&m, 1); /* and when the backend has them, they are on */
    vmio_fake_cpu_info(m.fake, 1, &info);
    assert_true(info.sync_regs);
    fake_vm_fini(&m);
}

/* Program COM1 to interrupt on THR empty, acknowledge it: GSI 4 goes up and down. */
static void push_uart_thre_irq(struct fake_vm *m, int *iir1, int *iir2)
{
    vmio_fake_push_io(m->fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_COM1_PORT + 4,
                      0x08); /* OUT2 */
    vmio_fake_push_io(m->fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_COM1_PORT + 1,
                      0x02); /* IER */
    *iir1 = vmio_fake_push_io(m->fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, VMIO_COM1_PORT + 2, 0);
    *iir2 = vmio_fake_push_io(m->fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, VMIO_COM1_PORT + 2, 0);
    vmio_fake_push_kind(m->fake, 0, VMIO_FAKE_HLT, 0);
}

static void test_uart_irq_reaches_backend(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    fake_vm_vcpu(&m, 0);
    int iir1, iir2;
    push_uart_thre_irq(&m, &iir1, &iir2);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    uint64_t v;
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)iir1, &v), 0);
    assert_int_equal(v, 0x02); /* THR empty */
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)iir2, &v), 0);
    assert_int_equal(v, 0x01); /* acknowledged by the first read: none pending */
    struct vmio_fake_irq l;
    assert_int_equal(vmio_fake_irq(m.fake, VMIO_COM1_GSI, &l), 0);
    assert_int_equal(l.rises, 1);
    assert_int_equal(l.calls, 2);
    assert_int_equal(l.level, 0);
    for (unsigned gsi = 0; gsi < VMIO_FAKE_GSIS; gsi++) {
        assert_int_equal(vmio_fake_irq(m.fake, gsi, &l), 0);
        if (gsi != VMIO_COM1_GSI)
            assert_int_equal(l.calls, 0);
    }
    /* A line the backend refuses is counted on the line, not lost silently. */
    struct vmio_irq_line *line = vmio_vm_irq_line(m.vm, VMIO_COM1_GSI, NULL);
    assert_non_null(line);
    assert_int_equal(vmio_fake_fail(m.fake, VMIO_FAKE_OP_IRQ_LINE, -EIO), 0);
    vmio_irq_line_set_level(line, 1);
    assert_int_equal(line->errors, 1);
    assert_int_equal(line->last_error, -EIO);
    assert_int_equal(vmio_vm_set_irq(m.vm, VMIO_COM1_GSI, 1), 0);
    assert_int_equal(vmio_fake_irq(m.fake, VMIO_COM1_GSI, &l), 0);
    assert_int_equal(l.level, 1);
    /* The controllers' ports and windows are reserved. */
    struct vmio_error err = {0};
    struct vmio_device *td = NULL;
    assert_int_equal(vmio_testdev_create("td", &td, NULL), 0);
    assert_int_equal(vmio_vm_attach_device(m.vm, VMIO_SPACE_PIO, td, 0xa0, 2, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "in-kernel PIC (slave)"));
    fake_vm_fini(&m);

    /* Without the irqchip COM1 has no line: the same program touches no GSI. */
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, false);
    fake_vm_vcpu(&m, 0);
    push_uart_thre_irq(&m, &iir1, &iir2);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)iir1, &v), 0);
    assert_int_equal(v, 0x02);
    assert_false(vmio_fake_irqchip(m.fake, NULL));
    assert_int_equal(vmio_fake_irq(m.fake, VMIO_COM1_GSI, &l), 0);
    assert_int_equal(l.calls, 0);
    assert_int_equal(vmio_vm_set_irq(m.vm, VMIO_COM1_GSI, 1), -ENODEV);
    fake_vm_fini(&m);
}

/* A VM takes as many interrupt lines as its backend offers. */
static void test_irq_lines_from_backend(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    assert_int_equal(vmio_vm_irq_lines(m.vm), VMIO_IRQCHIP_GSIS);
    assert_int_equal(vmio_vm_set_irq(m.vm, VMIO_IRQCHIP_GSIS, 1), -EINVAL);
    struct vmio_error err = {0};
    assert_null(vmio_vm_irq_line(m.vm, VMIO_IRQCHIP_GSIS, &err));
    assert_int_equal(err.code, -EINVAL);
    assert_int_equal(vmio_fake_set_irq_lines(m.fake, 48), -EBUSY); /* the VM exists */
    fake_vm_fini(&m);

    /* A backend with 48 lines (the fake as the vGIC would be): 24-47 work too. */
    memset(&m, 0, sizeof(m));
    assert_int_equal(vmio_fake_create(&m.fake, NULL), 0);
    assert_int_equal(vmio_fake_set_irq_lines(m.fake, 0), -EINVAL);
    assert_int_equal(vmio_fake_set_irq_lines(m.fake, VMIO_FAKE_MAX_GSIS + 1), -EINVAL);
    assert_int_equal(vmio_fake_set_irq_lines(m.fake, 48), 0);
    struct vmio_vm_options o = {
        .mem_size = 2u << 20, .irqchip = true, .backend = vmio_fake_backend(m.fake)};
    assert_int_equal(vmio_vm_create(&o, &m.vm, &err), 0);
    assert_int_equal(vmio_vm_irq_lines(m.vm), 48);
    assert_int_equal(vmio_vm_set_irq(m.vm, 40, 1), 0);
    struct vmio_fake_irq l;
    assert_int_equal(vmio_fake_irq(m.fake, 40, &l), 0);
    assert_int_equal(l.level, 1);
    struct vmio_irq_line *line = vmio_vm_irq_line(m.vm, 47, &err);
    assert_non_null(line);
    vmio_irq_line_set_level(line, 1);
    assert_int_equal(line->errors, 0);
    assert_int_equal(vmio_fake_irq(m.fake, 47, &l), 0);
    assert_int_equal(l.rises, 1);
    assert_int_equal(vmio_vm_set_irq(m.vm, 48, 1), -EINVAL);
    assert_int_equal(vmio_vm_irqfd(m.vm, 48, 3, -1, true, &err), -EINVAL);
    vmio_vm_destroy(m.vm);
    vmio_fake_destroy(m.fake);
}

static void test_device_range_wraps(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    struct vmio_device *td = NULL;
    assert_int_equal(vmio_testdev_create("td", &td, NULL), 0);
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, td, UINT64_MAX - 0xf, 0x20, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "mmio bus: device td: range 0xfffffffffffffff0+0x20 wraps "
                                 "around the address space");
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, td, 0xfee00000, 0, &err), -EINVAL);
    assert_string_equal(err.msg, "mmio bus: device td: empty range at 0xfee00000");
    /* The last 16 bytes of the address space are a valid window. */
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, td, UINT64_MAX - 0xf, 0x10, &err),
                     0);
    fake_vm_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_slots),       cmocka_unit_test(test_backend_failures),
        cmocka_unit_test(test_trace_sync_regs),    cmocka_unit_test(test_uart_irq_reaches_backend),
        cmocka_unit_test(test_device_range_wraps), cmocka_unit_test(test_irq_lines_from_backend),
    };
    return cmocka_run_group_tests_name("vm_fake", tests, NULL, NULL);
}
