/*
 * vmio's AArch64 machine on a VM (vmio/arm64_virt.h): the in-kernel GIC, RAM
 * from 1 GiB, the PL011 on its SPI, testdev and debug-exit; and vCPU 0's
 * entry state. Pure assembly of library calls: the backend decides which
 * GIC exists (irqchip_version), and the device tree is written from what was
 * built (vmio_arm64_load()), so the tree and the bus cannot disagree.
 *
 * Invariant: on failure nothing is left behind (the VM is destroyed; a
 * device the VM did not accept is destroyed by vmio_vm_attach_device()).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmio/arm64_regs.h"
#include "vmio/arm64_virt.h"
#include "vmio/devices.h"
#include "vmio/pl011.h"
#include "vmio/testdev_regs.h"
#include "vmio/vcpu.h"

int vmio_arm64_machine_create(const struct vmio_arm64_machine_options *o, struct vmio_vm **out,
                              struct vmio_arm64_machine *m, struct vmio_error *err)
{
    uint64_t mem = o->mem_size ? o->mem_size : 256ull << 20;
    unsigned cpus = o->cpus ? o->cpus : 1;
    if (mem % (2u << 20) || mem > VMIO_ARM64_RAM_MAX)
        return vmio_error_set(err, -EINVAL,
                              "%" PRIu64 " bytes of RAM: the arm64 machine takes a multiple of "
                              "2 MiB up to 2 GiB",
                              mem);
    if (cpus > VMIO_ARM64_MAX_CPUS)
        return vmio_error_set(err, -EINVAL, "%u vCPUs: the arm64 machine takes 1 to %d", cpus,
                              VMIO_ARM64_MAX_CPUS);
    struct vmio_vm_options vo = o->vm_opts ? *o->vm_opts : (struct vmio_vm_options){0};
    vo.irqchip = true; /* the GIC: interrupts, the timer, and PSCI CPU_ON for secondaries */
    vo.pit = false;
    vo.cpus = cpus;
    struct vmio_vm *vm = NULL;
    int rc = vmio_vm_create_empty(&vo, &vm, err);
    if (rc < 0)
        return rc;
    *m =
        (struct vmio_arm64_machine){.ram_base = VMIO_ARM64_RAM_BASE, .ram_size = mem, .cpus = cpus};
    rc = vmio_vm_irqchip_version(vm);
    if (rc != 2 && rc != 3) {
        rc = vmio_error_set(err, rc < 0 ? rc : -EINVAL, "the backend reports no GIC version (%d)",
                            rc);
        goto fail;
    }
    m->gic_version = (unsigned)rc;
    rc = vmio_vm_add_ram(vm, VMIO_ARM64_RAM_BASE, mem, false, err);
    if (rc < 0)
        goto fail;
    struct vmio_irq_line *line = vmio_vm_irq_line(vm, VMIO_ARM64_UART_SPI, err);
    struct vmio_device *uart = NULL;
    rc = line ? vmio_pl011_create("pl011", o->serial, vmio_irq_line_set_level, line, &uart, err)
              : -ENODEV;
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_MMIO, uart, VMIO_ARM64_UART_BASE,
                                   VMIO_ARM64_UART_SIZE, err);
    struct vmio_device *dev = NULL;
    if (rc == 0)
        rc = vmio_testdev_create("testdev", &dev, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_MMIO, dev, VMIO_ARM64_TESTDEV_BASE,
                                   VMIO_TESTDEV_MMIO_SIZE, err);
    if (rc == 0)
        rc = vmio_debug_exit_create("debug-exit", &dev, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_MMIO, dev, VMIO_ARM64_DEBUG_EXIT_BASE,
                                   VMIO_ARM64_DEBUG_EXIT_SIZE, err);
    if (rc < 0)
        goto fail;
    *out = vm;
    return 0;
fail:
    vmio_vm_destroy(vm);
    return rc;
}

int vmio_arm64_machine_finalize(struct vmio_vm *vm, struct vmio_error *err)
{
    struct vmio_error e = {0};
    int rc = vmio_vm_irqchip_finalize(vm, &e);
    if (rc < 0)
        return vmio_error_set(err, rc, "the in-kernel GIC: %s", e.msg);
    return 0;
}

int vmio_arm64_setup_vcpu(struct vmio_vcpu *vcpu, const struct vmio_arm64_entry *e,
                          struct vmio_error *err)
{
    const struct {
        unsigned reg;
        uint64_t value;
    } set[] = {
        {VMIO_ARM64_REG_PSTATE, VMIO_ARM64_PSTATE_EL1H | VMIO_ARM64_PSTATE_DAIF},
        {VMIO_ARM64_REG_X0, e->dtb},
        {VMIO_ARM64_REG_X0 + 1, 0},
        {VMIO_ARM64_REG_X0 + 2, 0},
        {VMIO_ARM64_REG_X0 + 3, 0},
        {VMIO_ARM64_REG_PC, e->pc},
    };
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
        int rc = vmio_vcpu_set_arm64_reg(vcpu, set[i].reg, set[i].value);
        if (rc < 0)
            return vmio_error_set(err, rc, "setting arm64 register %u of vCPU %u: %s", set[i].reg,
                                  vmio_vcpu_index(vcpu), strerror(-rc));
    }
    return 0;
}
