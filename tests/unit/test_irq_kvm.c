/*
 * Interrupt delivery against real KVM (needs /dev/kvm: meson runs it
 * through vmio-kvm-exec, natively or in the nested KVM VM; never skipped):
 * an interrupt vmio raises reaches the guest (tests/unit/irq_guest.c, given
 * as argv[1]: a pulse on GSI 5 through the PIC and on GSI 10 through the
 * IOAPIC and local APIC arrive as their vectors, a pulse on the masked GSI 6
 * does not); vmio_vm_set_irq() and vmio_vm_irq_line() errors with and
 * without the irqchip, the PIT needing the irqchip, the reserved controller
 * ports and windows, the standard machine wiring COM1 to GSI 4, a config
 * with interrupt_mode = "emulated", and lines driven from several threads at
 * once.
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
#include <unistd.h>

#include "vmio/boot.h"
#include "vmio/config.h"
#include "vmio/devices.h"
#include "vmio/uart16550.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

/* A testdev (the constructor's failure fails the test). */
static struct vmio_device *testdev(const char *name)
{
    struct vmio_device *dev = NULL;
    assert_int_equal(vmio_testdev_create(name, &dev, NULL), 0);
    return dev;
}

static const char *irq_guest; /* argv[1] */

/* The guest's request port: a write of N pulses GSI N (from the vCPU thread). */
struct pulser {
    struct vmio_device dev;
    struct vmio_vm *vm;
    unsigned pulses;
    int failures;
};

static int pulser_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)dev, (void)io;
    *value = 0;
    return 0;
}

static int pulser_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t off = io->offset;
    struct pulser *p = (struct pulser *)dev;
    if (off != 0)
        return 0;
    p->pulses++;
    if (vmio_vm_set_irq(p->vm, (unsigned)value, 1) != 0 ||
        vmio_vm_set_irq(p->vm, (unsigned)value, 0) != 0)
        p->failures++;
    return 0;
}

static const struct vmio_device_ops pulser_ops = {.read = pulser_read, .write = pulser_write};

static struct vmio_vm *make_vm(bool irqchip, bool pit);

static void test_interrupt_reaches_guest(void **state)
{
    (void)state;
    if (!irq_guest)
        fail_msg("usage: test_irq_kvm IRQ_GUEST.elf (meson passes it)");
    struct vmio_vm *vm = make_vm(true, false);
    struct vmio_error err = {0};
    assert_int_equal(vmio_add_standard_devices(vm, NULL, NULL, &err), 0);
    struct pulser p = {.dev = {.name = "pulser", .ops = &pulser_ops}, .vm = vm};
    assert_int_equal(vmio_vm_add_device(vm, VMIO_SPACE_PIO, &p.dev, 0x7200, 2, &err), 0);
    uint8_t *image = NULL;
    size_t size = 0;
    if (vmio_read_file(irq_guest, 1 << 20, &image, &size, &err) != 0)
        fail_msg("%s", err.msg);
    struct vmio_boot_info boot;
    if (vmio_multiboot_load(vmio_vm_memory(vm), image, size, NULL, &boot, &err) != 0)
        fail_msg("%s", err.msg);
    free(image);
    struct vmio_vcpu *vcpu = NULL;
    assert_int_equal(vmio_vcpu_create(vm, 0, &vcpu, &err), 0);
    assert_int_equal(vmio_x86_setup_multiboot(vcpu, &boot, &err), 0);
    struct vmio_exit e;
    assert_int_equal(vmio_vcpu_run(vcpu, &e), 0);
    if (e.reason != VMIO_EXIT_DEBUG_EXIT) {
        char what[256];
        vmio_exit_describe(&e, what, sizeof(what));
        fail_msg("the guest stopped with %s", what);
    }
    /* 1: GSI 5 through the PIC; 2: GSI 10 through the IOAPIC; 4 (an error): masked GSI 6. */
    assert_int_equal(e.code, 3);
    assert_int_equal(p.pulses, 3);
    assert_int_equal(p.failures, 0);
    vmio_vcpu_destroy(vcpu);
    vmio_vm_destroy(vm);
}

static struct vmio_vm *make_vm(bool irqchip, bool pit)
{
    struct vmio_vm_options o = {.mem_size = 4u << 20, .irqchip = irqchip, .pit = pit};
    struct vmio_vm *vm = NULL;
    struct vmio_error err = {0};
    if (vmio_vm_create(&o, &vm, &err) != 0)
        fail_msg("vmio_vm_create: %s", err.msg);
    return vm;
}

static void test_without_irqchip(void **state)
{
    (void)state;
    struct vmio_vm *vm = make_vm(false, false);
    assert_false(vmio_vm_has_irqchip(vm));
    assert_int_equal(vmio_vm_set_irq(vm, 4, 1), -ENODEV);
    assert_int_equal(vmio_vm_set_irq(vm, 24, 1), -EINVAL);
    struct vmio_error err = {0};
    assert_null(vmio_vm_irq_line(vm, 4, &err));
    assert_int_equal(err.code, -ENODEV);
    /* No controller: its ports are free for devices, as before. */
    assert_int_equal(vmio_vm_attach_device(vm, VMIO_SPACE_PIO, testdev("at-0x20"), 0x20, 2, &err),
                     0);
    assert_int_equal(vmio_add_standard_devices(vm, NULL, NULL, &err), 0);
    vmio_vm_destroy(vm);
}

static void test_with_irqchip(void **state)
{
    (void)state;
    struct vmio_vm *vm = make_vm(true, true);
    assert_true(vmio_vm_has_irqchip(vm));
    for (unsigned gsi = 0; gsi < VMIO_IRQCHIP_GSIS; gsi++) {
        assert_int_equal(vmio_vm_set_irq(vm, gsi, 1), 0);
        assert_int_equal(vmio_vm_set_irq(vm, gsi, 0), 0);
    }
    assert_int_equal(vmio_vm_set_irq(vm, VMIO_IRQCHIP_GSIS, 1), -EINVAL);
    assert_int_equal(vmio_vm_set_irq(vm, ~0u, 0), -EINVAL);

    struct vmio_error err = {0};
    struct vmio_irq_line *line = vmio_vm_irq_line(vm, 4, &err);
    assert_non_null(line);
    assert_int_equal(line->gsi, 4);
    assert_ptr_equal(vmio_vm_irq_line(vm, 4, NULL), line); /* one line per GSI */
    vmio_irq_line_set_level(line, 1);
    vmio_irq_line_set_level(line, 0);
    assert_int_equal(line->errors, 0);
    assert_null(vmio_vm_irq_line(vm, 24, &err));
    assert_int_equal(err.code, -EINVAL);

    /* The standard machine fits around the controllers and wires COM1. */
    assert_int_equal(vmio_add_standard_devices(vm, NULL, NULL, &err), 0);

    /* The controllers' ports and windows are reserved. */
    static const struct {
        enum vmio_space space;
        uint64_t base, len;
    } taken[] = {
        {VMIO_SPACE_PIO, 0x21, 1},        {VMIO_SPACE_PIO, 0x9f, 2},
        {VMIO_SPACE_PIO, 0x4d0, 2},       {VMIO_SPACE_PIO, 0x40, 1},
        {VMIO_SPACE_PIO, 0x61, 1},        {VMIO_SPACE_MMIO, 0xfec00000, 0x20},
        {VMIO_SPACE_MMIO, 0xfee00ff0, 8},
    };
    for (unsigned i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        struct vmio_error e = {0};
        int rc = vmio_vm_attach_device(vm, taken[i].space, testdev("intruder"), taken[i].base,
                                       taken[i].len, &e);
        if (rc != -EBUSY || !strstr(e.msg, "in-kernel"))
            fail_msg("range %u: got %d \"%s\"", i, rc, e.msg);
    }
    assert_int_equal(vmio_vm_attach_device(vm, VMIO_SPACE_PIO, testdev("at-0x22"), 0x22, 2, &err),
                     0);
    vmio_vm_destroy(vm);

    /* RAM over the IOAPIC window is refused too. */
    struct vmio_vm_options o = {.irqchip = true};
    assert_int_equal(vmio_vm_create_empty(&o, &vm, &err), 0);
    struct vmio_error e = {0};
    assert_int_equal(vmio_vm_add_ram(vm, 0xfe000000, 0x1000000, false, &e), -EBUSY);
    assert_non_null(strstr(e.msg, "in-kernel IOAPIC"));
    vmio_vm_destroy(vm);
}

static void test_pit_needs_irqchip(void **state)
{
    (void)state;
    struct vmio_vm_options o = {.pit = true};
    struct vmio_vm *vm = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_create(&o, &vm, &err), -EINVAL);
    assert_null(vm);
    assert_non_null(strstr(err.msg, "PIT"));
    /* Without the PIT, its ports stay free. */
    vm = make_vm(true, false);
    assert_int_equal(vmio_vm_attach_device(vm, VMIO_SPACE_PIO, testdev("at-0x40"), 0x40, 4, &err),
                     0);
    vmio_vm_destroy(vm);
}

/* A config with interrupt_mode = "emulated" gets the irqchip; "no_irq" does not. */
static void test_config_vm(void **state)
{
    (void)state;
    static const char *const modes[] = {"emulated", "no_irq"};
    for (unsigned m = 0; m < 2; m++) {
        char doc[512];
        snprintf(doc, sizeof(doc),
                 "[kernel]\nkernel_path = \"k.elf\"\nmemory_regions = [[0, 0x400000, 7, 0]]\n"
                 "[devices]\nemu_devices = [[\"com1\", 0x3f8, 8, 4, 0x2, []], "
                 "[\"com2\", 0x2f8, 8, 3, 0x2, []]]\ninterrupt_mode = \"%s\"\n",
                 modes[m]);
        struct vmio_config *cfg = NULL;
        struct vmio_error err = {0};
        if (vmio_config_parse(doc, strlen(doc), "t/vm.toml", &cfg, &err) != 0)
            fail_msg("parse: %s", err.msg);
        struct vmio_vm_options o = {.irqchip = m == 1, .pit = m == 1}; /* the config decides */
        struct vmio_vm *vm = NULL;
        if (vmio_config_build_vm(cfg, &o, NULL, &vm, &err) != 0)
            fail_msg("build: %s", err.msg);
        assert_int_equal(vmio_vm_has_irqchip(vm), m == 0);
        vmio_vm_destroy(vm);
        vmio_config_free(cfg);
    }
}

struct toggler {
    struct vmio_vm *vm;
    unsigned gsi;
    int failures;
};

static void *toggle(void *arg)
{
    struct toggler *t = arg;
    for (int i = 0; i < 2000; i++)
        if (vmio_vm_set_irq(t->vm, t->gsi, i & 1) != 0)
            t->failures++;
    return NULL;
}

/* vmio_vm_set_irq() from several threads at once (TSan/ASan builds check it). */
static void test_threads(void **state)
{
    (void)state;
    struct vmio_vm *vm = make_vm(true, false);
    struct vmio_vcpu *vcpu = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vcpu_create(vm, 0, &vcpu, &err), 0);
    pthread_t th[4];
    struct toggler t[4];
    for (unsigned i = 0; i < 4; i++) {
        t[i] = (struct toggler){.vm = vm, .gsi = 3 + i};
        assert_int_equal(pthread_create(&th[i], NULL, toggle, &t[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    vmio_vcpu_destroy(vcpu);
    vmio_vm_destroy(vm);
}

int main(int argc, char **argv)
{
    irq_guest = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interrupt_reaches_guest),
        cmocka_unit_test(test_without_irqchip),
        cmocka_unit_test(test_with_irqchip),
        cmocka_unit_test(test_pit_needs_irqchip),
        cmocka_unit_test(test_config_vm),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
