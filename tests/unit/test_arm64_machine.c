/*
 * vmio's AArch64 machine and its ISV=0 path in the real run loop, on the
 * fake backend (no KVM): the machine's devices on the bus at the layout's
 * addresses, RAM at 1 GiB, the PL011's interrupt on SPI 1, vCPU 0's entry
 * state; then scripted VMIO_EXIT_ARM_NISV exits that the run loop's hook
 * (core/vcpu.c -> core/arm64_nisv.c) must emulate from the instruction in
 * guest RAM: an LDP on testdev (both registers, writeback, PC, statistics:
 * two reads of testdev), a refused SIMD load (the exit comes back, the log
 * says why, registers untouched) and a pair to an unclaimed address under
 * the strict policy (the vCPU stops, registers untouched).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/arm64_regs.h"
#include "vmio/arm64_virt.h"
#include "vmio/backend_fake.h"
#include "vmio/chardev.h"
#include "vmio/testdev_regs.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define CODE (VMIO_ARM64_RAM_BASE + 0x80000)
#define ESR_DABT_NISV 0x92000010ull /* EC 0x24, IL, ISS: FSC 0x10 (ISV = 0) */

struct rig {
    struct vmio_fake *fake;
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu;
    struct vmio_chardev *serial;
    struct vmio_arm64_machine m;
    char log[2048];
    FILE *logf;
};

static void rig_init(struct rig *r, enum vmio_unclaimed_policy policy)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(vmio_fake_create(&r->fake, NULL), 0);
    assert_int_equal(vmio_chardev_open_memory(NULL, 0, &r->serial, NULL), 0);
    r->logf = fmemopen(r->log, sizeof(r->log), "w");
    assert_non_null(r->logf);
    setvbuf(r->logf, NULL, _IONBF, 0);
    struct vmio_vm_options vo = {
        .backend = vmio_fake_backend(r->fake), .unclaimed = policy, .log = r->logf};
    struct vmio_arm64_machine_options mo = {
        .mem_size = 16u << 20, .cpus = 1, .serial = r->serial, .vm_opts = &vo};
    struct vmio_error err = {0};
    if (vmio_arm64_machine_create(&mo, &r->vm, &r->m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(vmio_vcpu_create(r->vm, 0, &r->vcpu, &err), 0);
}

static void rig_fini(struct rig *r)
{
    vmio_vcpu_destroy(r->vcpu);
    vmio_vm_destroy(r->vm);
    vmio_fake_destroy(r->fake);
    vmio_chardev_close(r->serial);
    fclose(r->logf);
}

static uint64_t reg(struct rig *r, unsigned n)
{
    uint64_t v = 0;
    assert_int_equal(vmio_fake_get_arm64_reg(r->fake, 0, n, &v), 0);
    return v;
}

static void set_reg(struct rig *r, unsigned n, uint64_t v)
{
    assert_int_equal(vmio_fake_set_arm64_reg(r->fake, 0, n, v), 0);
}

static void poke_insn(struct rig *r, uint32_t insn)
{
    void *p = vmio_vm_gpa_to_host(r->vm, CODE, 4);
    assert_non_null(p);
    memcpy(p, &insn, 4);
    set_reg(r, VMIO_ARM64_REG_PC, CODE);
    set_reg(r, VMIO_ARM64_REG_PSTATE, VMIO_ARM64_PSTATE_EL1H);
}

static void test_machine_layout(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, VMIO_UNCLAIMED_IGNORE);
    assert_int_equal(r.m.gic_version, 3);
    assert_int_equal(r.m.ram_base, VMIO_ARM64_RAM_BASE);
    struct vmio_bus *mmio = vmio_vm_bus(r.vm, VMIO_SPACE_MMIO);
    const struct vmio_bus_range *u = vmio_bus_lookup(mmio, VMIO_ARM64_UART_BASE, 4);
    const struct vmio_bus_range *t = vmio_bus_lookup(mmio, VMIO_ARM64_TESTDEV_BASE, 8);
    const struct vmio_bus_range *d = vmio_bus_lookup(mmio, VMIO_ARM64_DEBUG_EXIT_BASE, 4);
    assert_non_null(u);
    assert_non_null(t);
    assert_non_null(d);
    assert_string_equal(u->dev->name, "pl011");
    assert_string_equal(t->dev->name, "testdev");
    assert_string_equal(d->dev->name, "debug-exit");
    assert_non_null(vmio_vm_gpa_to_host(r.vm, VMIO_ARM64_RAM_BASE, 16u << 20));
    assert_null(vmio_vm_gpa_to_host(r.vm, VMIO_ARM64_RAM_BASE + (16u << 20), 1));
    /* the GIC is finished on this thread; a hypervisor failure is described */
    assert_int_equal(vmio_arm64_machine_finalize(r.vm, NULL), 0);
    assert_int_equal(vmio_fake_fail(r.fake, VMIO_FAKE_OP_CREATE_IRQCHIP, -EIO), 0);
    struct vmio_error ferr = {0};
    assert_int_equal(vmio_arm64_machine_finalize(r.vm, &ferr), -EIO);
    assert_non_null(strstr(ferr.msg, "GIC"));
    assert_int_equal(vmio_arm64_machine_finalize(r.vm, NULL), 0);
    /* entry state */
    struct vmio_arm64_entry e = {.pc = CODE, .dtb = 0x40e00000};
    assert_int_equal(vmio_arm64_setup_vcpu(r.vcpu, &e, NULL), 0);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_PC), CODE);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_X0), 0x40e00000);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_PSTATE), 0x3c5);
    /* the UART's transmit interrupt reaches SPI 1 once unmasked */
    vmio_fake_push_io(r.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, VMIO_ARM64_UART_BASE, 'k');
    vmio_fake_push_io(r.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, VMIO_ARM64_UART_BASE + 0x38, 0x20);
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_SHUTDOWN, 0);
    struct vmio_exit x;
    assert_int_equal(vmio_vcpu_run(r.vcpu, &x), 0);
    assert_int_equal(x.reason, VMIO_EXIT_SHUTDOWN);
    struct vmio_fake_irq irq;
    assert_int_equal(vmio_fake_irq(r.fake, VMIO_ARM64_UART_SPI, &irq), 0);
    assert_int_equal(irq.level, 1);
    char out[4] = {0};
    assert_int_equal(vmio_chardev_memory_take_output(r.serial, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'k');
    rig_fini(&r);
}

static void test_nisv_ldp_emulated(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, VMIO_UNCLAIMED_STRICT);
    poke_insn(&r, 0xa8c10801); /* ldp x1, x2, [x0], #16 */
    set_reg(&r, VMIO_ARM64_REG_X0, VMIO_ARM64_TESTDEV_BASE + VMIO_TESTDEV_ECHO);
    vmio_fake_push_io(r.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 8,
                      VMIO_ARM64_TESTDEV_BASE + VMIO_TESTDEV_ECHO, 0x1234);
    struct vmio_fake_step s = {.kind = VMIO_FAKE_ARM_NISV, .code = ESR_DABT_NISV};
    s.access.addr =
        VMIO_ARM64_TESTDEV_BASE + VMIO_TESTDEV_PATTERN; /* the second transfer faulted */
    assert_true(vmio_fake_push(r.fake, 0, &s) >= 0);
    vmio_fake_push_kind(r.fake, 0, VMIO_FAKE_SHUTDOWN, 0);
    struct vmio_exit x;
    assert_int_equal(vmio_vcpu_run(r.vcpu, &x), 0);
    assert_int_equal(x.reason, VMIO_EXIT_SHUTDOWN);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_X0 + 1), 0x1234);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_X0 + 2), VMIO_TESTDEV_PATTERN_VALUE);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_X0), VMIO_ARM64_TESTDEV_BASE + 16);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_PC), CODE + 4);
    struct vmio_stats st;
    vmio_vcpu_stats(r.vcpu, &st);
    assert_int_equal(st.kind[VMIO_STAT_MMIO_READ].elements, 2);
    assert_int_equal(st.kind[VMIO_STAT_MMIO_WRITE].elements, 1);
    rig_fini(&r);
}

static void test_nisv_refused_and_strict(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r, VMIO_UNCLAIMED_STRICT);
    poke_insn(&r, 0x4c407000); /* ld1 {v0.16b}, [x0]: not emulated */
    set_reg(&r, VMIO_ARM64_REG_X0, VMIO_ARM64_TESTDEV_BASE);
    struct vmio_fake_step s = {.kind = VMIO_FAKE_ARM_NISV, .code = ESR_DABT_NISV};
    s.access.addr = VMIO_ARM64_TESTDEV_BASE;
    vmio_fake_push(r.fake, 0, &s);
    struct vmio_exit x;
    assert_int_equal(vmio_vcpu_run(r.vcpu, &x), 0);
    assert_int_equal(x.reason, VMIO_EXIT_ARM_NISV);
    assert_int_equal(x.ip, CODE);
    assert_non_null(strstr(r.log, "data abort without syndrome at IPA 0xb000000"));
    assert_non_null(strstr(r.log, "SIMD"));
    assert_int_equal(reg(&r, VMIO_ARM64_REG_PC), CODE);

    poke_insn(&r, 0xa9400801); /* ldp x1, x2, [x0] where nothing is: strict stops */
    set_reg(&r, VMIO_ARM64_REG_X0, 0x0c800000);
    set_reg(&r, VMIO_ARM64_REG_X0 + 1, 77);
    s.access.addr = 0x0c800000;
    vmio_fake_push(r.fake, 0, &s);
    assert_int_equal(vmio_vcpu_run(r.vcpu, &x), 0);
    assert_int_equal(x.reason, VMIO_EXIT_UNCLAIMED);
    assert_int_equal(x.access.addr, 0x0c800000);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_X0 + 1), 77);
    assert_int_equal(reg(&r, VMIO_ARM64_REG_PC), CODE);
    rig_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_machine_layout),
        cmocka_unit_test(test_nisv_ldp_emulated),
        cmocka_unit_test(test_nisv_refused_and_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
