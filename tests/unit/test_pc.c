/*
 * vmio's PC (src/machine/pc.c) and the power path, on the scripted fake
 * backend (no /dev/kvm): which devices answer where, that the ACPI tables in
 * guest RAM are the ones a kernel needs (RSDP found in the BIOS area, MADT
 * with one local APIC per vCPU, the DSDT's COM1), the reset stub at the reset
 * vector, every power request path (ACPI sleep/reset registers, port 0x92,
 * the i8042, the reset stub's own write) ending every vCPU's run with
 * VMIO_EXIT_POWEROFF / VMIO_EXIT_RESET, and vmio_linux_boot_vm() placing a
 * kernel with the ACPI tables typed in e820 and the RSDP in the zero page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bzimage_fixture.h"
#include "vmio/acpi.h"
#include "vmio/acpi_pm.h"
#include "vmio/backend_fake.h"
#include "vmio/bus.h"
#include "vmio/guest_mem.h"
#include "vmio/linux_boot.h"
#include "vmio/pc.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

struct pc {
    struct vmio_fake *fake;
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu[2];
    struct vmio_pc_info info;
};

static void pc_init(struct pc *p, unsigned cpus)
{
    memset(p, 0, sizeof(*p));
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&p->fake, &err), 0);
    struct vmio_vm_options o = {.mem_size = 64u << 20,
                                .irqchip = true,
                                .pit = true,
                                .cpus = cpus,
                                .backend = vmio_fake_backend(p->fake)};
    assert_int_equal(vmio_vm_create(&o, &p->vm, &err), 0);
    struct vmio_pc_config c = {.cpus = cpus};
    if (vmio_pc_build(p->vm, &c, &p->info, &err) != 0)
        fail_msg("vmio_pc_build: %s", err.msg);
    for (unsigned i = 0; i < cpus; i++)
        assert_int_equal(vmio_vcpu_create(p->vm, i, &p->vcpu[i], &err), 0);
}

static void pc_fini(struct pc *p)
{
    for (unsigned i = 0; i < 2; i++)
        vmio_vcpu_destroy(p->vcpu[i]);
    vmio_vm_destroy(p->vm);
    vmio_fake_destroy(p->fake);
}

static const char *device_at(struct vmio_vm *vm, enum vmio_space space, uint64_t addr)
{
    const struct vmio_bus_range *r = vmio_bus_lookup(vmio_vm_bus(vm, space), addr, 1);
    return r ? r->dev->name : NULL;
}

static void test_devices(void **state)
{
    (void)state;
    struct pc p;
    pc_init(&p, 2);
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x3f8), "com1");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x3ff), "com1");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x70), "rtc");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x71), "rtc");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x80), "port80");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x92), "port92");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x60), "i8042-data");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x64), "i8042-cmd");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x600), "acpi-pm");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0x603), "acpi-pm");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0xf4), "debug-exit");
    assert_string_equal(device_at(p.vm, VMIO_SPACE_PIO, 0xe9), "debugcon");
    assert_null(device_at(p.vm, VMIO_SPACE_PIO, 0x604));
    assert_null(device_at(p.vm, VMIO_SPACE_MMIO, 0xd0000000)); /* no testdev on the PC */
    pc_fini(&p);
}

static void test_acpi_in_ram(void **state)
{
    (void)state;
    struct pc p;
    pc_init(&p, 2);
    const struct vmio_guest_mem *mem = vmio_vm_memory(p.vm);
    assert_int_equal(p.info.rsdp, VMIO_PC_ACPI_BASE);
    assert_int_equal(p.info.acpi_base, VMIO_PC_ACPI_BASE);
    assert_true(p.info.acpi_size > 36 && p.info.acpi_size <= VMIO_PC_ACPI_LIMIT);
    /* The RSDP as a kernel scanning 0xe0000-0xfffff finds it: signature, checksums. */
    uint8_t rsdp[36];
    assert_int_equal(vmio_guest_mem_read(mem, p.info.rsdp, rsdp, sizeof(rsdp)), 0);
    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_int_equal(vmio_acpi_checksum(rsdp, 20), 0);
    assert_int_equal(vmio_acpi_checksum(rsdp, 36), 0);
    /* Follow the XSDT to the MADT: 2 local APICs and the IOAPIC at 0xfec00000. */
    uint64_t xsdt;
    memcpy(&xsdt, rsdp + 24, 8);
    uint8_t hdr[36];
    assert_int_equal(vmio_guest_mem_read(mem, xsdt, hdr, sizeof(hdr)), 0);
    assert_memory_equal(hdr, "XSDT", 4);
    uint32_t xlen;
    memcpy(&xlen, hdr + 4, 4);
    unsigned lapics = 0, ioapics = 0, found = 0;
    for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
        uint64_t t;
        assert_int_equal(vmio_guest_mem_read(mem, xsdt + off, &t, 8), 0);
        uint8_t th[44];
        assert_int_equal(vmio_guest_mem_read(mem, t, th, sizeof(th)), 0);
        if (memcmp(th, "APIC", 4) != 0)
            continue;
        found++;
        uint32_t len;
        memcpy(&len, th + 4, 4);
        uint8_t *madt = malloc(len);
        assert_non_null(madt);
        assert_int_equal(vmio_guest_mem_read(mem, t, madt, len), 0);
        assert_int_equal(vmio_acpi_checksum(madt, len), 0);
        for (uint32_t e = 44; e + 2 <= len && madt[e + 1] >= 2; e += madt[e + 1]) {
            if (madt[e] == 0) /* processor local APIC: enabled, APIC id = index */
                assert_int_equal(madt[e + 3], lapics++);
            if (madt[e] == 1) {
                uint32_t a;
                memcpy(&a, madt + e + 4, 4);
                assert_int_equal(a, 0xfec00000u);
                ioapics++;
            }
        }
        free(madt);
    }
    assert_int_equal(found, 1);
    assert_int_equal(lapics, 2);
    assert_int_equal(ioapics, 1);
    /* The reset stub: mov dx, 0x602; mov al, 6; out dx, al; hlt. */
    uint8_t stub[7];
    assert_int_equal(vmio_guest_mem_read(mem, 0xffff0, stub, sizeof(stub)), 0);
    const uint8_t want[] = {0xba, 0x02, 0x06, 0xb0, 0x06, 0xee, 0xf4};
    assert_memory_equal(stub, want, sizeof(want));
    pc_fini(&p);
}

/* A port write by vCPU 0 (with vCPU 1 blocked in the guest) ends both runs with @reason. */
static void power_by_port_write(uint16_t port, uint8_t value, enum vmio_exit_reason reason,
                                enum vmio_power_event event)
{
    struct pc p;
    pc_init(&p, 2);
    vmio_fake_push_io(p.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, port, value);
    vmio_fake_push_kind(p.fake, 0, VMIO_FAKE_HLT, 0); /* never reached */
    vmio_fake_push_kind(p.fake, 1, VMIO_FAKE_BLOCK, 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(p.vm, p.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.exit.reason, reason);
    assert_int_equal(res.exit.code, event);
    assert_int_equal(exits[0].reason, reason);
    assert_int_equal(exits[1].reason, reason); /* the kicked vCPU says why too */
    assert_int_equal(vmio_vm_power_event(p.vm), event);
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_cpu_info(p.fake, 0, &ci), 0);
    assert_int_equal(ci.replayed, 1); /* the vCPU stopped right after the write */
    pc_fini(&p);
}

static void test_power_paths(void **state)
{
    (void)state;
    /* ACPI: SLP_TYP 5 (S5) with SLP_EN. */
    power_by_port_write(VMIO_ACPI_PM_PORT_BASE + VMIO_ACPI_PM_SLEEP_CONTROL,
                        (uint8_t)((VMIO_ACPI_PM_S5_SLP_TYP << 2) | (1u << 5)), VMIO_EXIT_POWEROFF,
                        VMIO_POWER_OFF);
    power_by_port_write(VMIO_ACPI_PM_PORT_BASE + VMIO_ACPI_PM_RESET, VMIO_ACPI_PM_RESET_VALUE,
                        VMIO_EXIT_RESET, VMIO_POWER_RESET);
    power_by_port_write(0x92, 0x01, VMIO_EXIT_RESET, VMIO_POWER_RESET); /* fast reset */
    power_by_port_write(0x64, 0xfe, VMIO_EXIT_RESET, VMIO_POWER_RESET); /* pulse reset */
}

/* The first request wins; a plain kick after it still reports it; no request means INTR. */
static void test_first_request_wins(void **state)
{
    (void)state;
    struct pc p;
    pc_init(&p, 1);
    assert_int_equal(vmio_vm_power_event(p.vm), 0);
    vmio_vcpu_kick(p.vcpu[0]);
    struct vmio_exit e;
    assert_int_equal(vmio_vcpu_run(p.vcpu[0], &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_INTR);
    vmio_vm_power_request(p.vm, VMIO_POWER_RESET);
    vmio_vm_power_request(p.vm, VMIO_POWER_OFF);
    assert_int_equal(vmio_vm_power_event(p.vm), VMIO_POWER_RESET);
    assert_int_equal(vmio_vcpu_run(p.vcpu[0], &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_RESET);
    pc_fini(&p);
}

static void test_errors(void **state)
{
    (void)state;
    struct vmio_fake *fake;
    struct vmio_vm *vm;
    struct vmio_error err = {0};
    struct vmio_pc_info info;
    assert_int_equal(vmio_fake_create(&fake, &err), 0);
    struct vmio_vm_options o = {.mem_size = 64u << 20, .backend = vmio_fake_backend(fake)};
    assert_int_equal(vmio_vm_create(&o, &vm, &err), 0);
    struct vmio_pc_config c = {.cpus = 1};
    assert_int_equal(vmio_pc_build(vm, &c, &info, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "needs the in-kernel irqchip"));
    vmio_vm_destroy(vm);
    vmio_fake_destroy(fake);

    /* RAM that does not start at 0: no reset vector, no BIOS area. */
    assert_int_equal(vmio_fake_create(&fake, &err), 0);
    struct vmio_vm_options e = {.irqchip = true, .backend = vmio_fake_backend(fake)};
    assert_int_equal(vmio_vm_create_empty(&e, &vm, &err), 0);
    assert_int_equal(vmio_vm_add_ram(vm, 0x200000, 0x200000, false, &err), 0);
    c.cpus = 0;
    assert_int_equal(vmio_pc_build(vm, &c, &info, &err), -EINVAL);
    assert_string_equal(err.msg, "0 vCPUs: the PC machine takes 1 to 254");
    c.cpus = 1;
    assert_int_equal(vmio_pc_build(vm, &c, &info, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "reset vector 0xffff0 is not guest RAM"));
    vmio_vm_destroy(vm);
    vmio_fake_destroy(fake);
}

/* vmio_linux_boot_vm(): the synthetic kernel, the RSDP in the zero page, ACPI typed in e820. */
static void test_linux_boot_vm(void **state)
{
    (void)state;
    struct pc p;
    pc_init(&p, 1);
    uint8_t *img = calloc(1, FX_SIZE);
    assert_non_null(img);
    fx_make(img);
    const uint8_t initrd[] = "initrd!";
    struct vmio_linux_vm_boot b = {.image = img,
                                   .image_size = FX_SIZE,
                                   .initrd = initrd,
                                   .initrd_size = sizeof(initrd),
                                   .cmdline = "console=ttyS0",
                                   .rsdp = p.info.rsdp,
                                   .acpi_base = p.info.acpi_base,
                                   .acpi_size = p.info.acpi_size};
    struct vmio_linux_layout lay;
    struct vmio_error err = {0};
    if (vmio_linux_boot_vm(p.vm, &b, &lay, &err) != 0)
        fail_msg("vmio_linux_boot_vm: %s", err.msg);
    const struct vmio_guest_mem *mem = vmio_vm_memory(p.vm);
    uint8_t zp[4096];
    assert_int_equal(vmio_guest_mem_read(mem, lay.zero_page_addr, zp, sizeof(zp)), 0);
    assert_int_equal(fx_get64(zp + 0x070), p.info.rsdp); /* acpi_rsdp_addr */
    unsigned n = zp[0x1e8], acpi = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = zp + 0x2d0 + 20 * i;
        if (fx_get32(e + 16) == 3) { /* ACPI */
            assert_int_equal(fx_get64(e), p.info.acpi_base);
            assert_int_equal(fx_get64(e + 8), p.info.acpi_size);
            acpi++;
        }
        /* No RAM entry may cover the tables or the reset vector. */
        if (fx_get32(e + 16) == 1)
            assert_true(fx_get64(e) + fx_get64(e + 8) <= p.info.acpi_base ||
                        fx_get64(e) >= 0x100000);
    }
    assert_int_equal(acpi, 1);
    uint8_t got[sizeof(initrd)];
    assert_int_equal(fx_get32(zp + 0x21c), sizeof(initrd)); /* ramdisk_size */
    assert_int_equal(vmio_guest_mem_read(mem, fx_get32(zp + 0x218), got, sizeof(got)), 0);
    assert_memory_equal(got, initrd, sizeof(initrd));
    /* Too little RAM for the initrd: a clear error, nothing half-done reported as success. */
    b.initrd_size = 200u << 20;
    uint8_t *big = calloc(1, b.initrd_size);
    assert_non_null(big);
    b.initrd = big;
    assert_true(vmio_linux_boot_vm(p.vm, &b, &lay, &err) < 0);
    assert_non_null(strstr(err.msg, "initrd"));
    free(big);
    free(img);
    pc_fini(&p);
}

/*
 * The port ranges vmio_pc_build() registers are exactly those
 * vmio_pc_port_ranges() lists, which configuration checks compare a config
 * against before any VM exists (vmio_config_check_run()): a PC device added
 * without updating the table, or an entry that drifts, fails here.
 */
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
        cmocka_unit_test(test_devices),       cmocka_unit_test(test_acpi_in_ram),
        cmocka_unit_test(test_power_paths),   cmocka_unit_test(test_first_request_wins),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_linux_boot_vm),
        cmocka_unit_test(test_port_table_matches_the_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
