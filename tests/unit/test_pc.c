/*
 * vmio's PC (no KVM: built on the fake backend): the port ranges
 * vmio_pc_build() registers are exactly those vmio_pc_port_ranges() lists,
 * which is what configuration checks compare a config against before any VM
 * exists (vmio_config_check_run()). A PC device added without updating the
 * table, or a table entry that drifts from the device, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/backend_fake.h"
#include "vmio/bus.h"
#include "vmio/pc.h"
#include "vmio/vm.h"

static void test_port_table_matches_the_bus(void **state)
{
    (void)state;
    struct vmio_fake *fake = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&fake, &err), 0);
    struct vmio_vm_options o = {
        .mem_size = 16u << 20, .irqchip = true, .pit = true, .backend = vmio_fake_backend(fake)};
    struct vmio_vm *vm = NULL;
    assert_int_equal(vmio_vm_create(&o, &vm, &err), 0);
    struct vmio_pc_config pc = {.cpus = 2};
    struct vmio_pc_info info;
    if (vmio_pc_build(vm, &pc, &info, &err) != 0)
        fail_msg("vmio_pc_build: %s", err.msg);

    size_t n = 0;
    const struct vmio_pc_port_range *t = vmio_pc_port_ranges(&n);
    const struct vmio_bus *pio = vmio_vm_bus(vm, VMIO_SPACE_PIO);
    assert_int_equal(vmio_bus_count(pio), n); /* nothing registered that the table lacks */
    for (size_t i = 0; i < n; i++) {
        const struct vmio_bus_range *r = NULL;
        for (unsigned k = 0; k < vmio_bus_count(pio) && !r; k++)
            if (vmio_bus_range_at(pio, k)->base == t[i].base)
                r = vmio_bus_range_at(pio, k);
        if (!r)
            fail_msg("%s at 0x%x: not on the port bus", t[i].name, t[i].base);
        assert_int_equal(r->len, t[i].len);
        assert_string_equal(r->dev->name, t[i].name);
    }
    /* No MMIO device: the PC's only windows are the irqchip's (checked as reserved). */
    assert_int_equal(vmio_bus_count(vmio_vm_bus(vm, VMIO_SPACE_MMIO)), 0);
    vmio_vm_destroy(vm);
    vmio_fake_destroy(fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_table_matches_the_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
