/*
 * vmio's standard machine: the devices `vmio run IMAGE` gives every guest,
 * at the addresses the test guests and QEMU's microvm command line expect.
 * When the VM has the in-kernel irqchip, COM1's interrupt line drives ISA
 * IRQ 4 (GSI 4) as on a PC; without it the line stays unconnected.
 */
#include <errno.h>

#include "vmio/bus.h"
#include "vmio/devices.h"
#include "vmio/doorbell.h"
#include "vmio/testdev_regs.h"
#include "vmio/uart16550.h"
#include "vmio/vm.h"

int vmio_add_com1(struct vmio_vm *vm, struct vmio_chardev *serial, struct vmio_error *err)
{
    struct vmio_device *uart = NULL;
    struct vmio_irq_line *line = NULL;
    if (vmio_vm_has_irqchip(vm)) {
        line = vmio_vm_irq_line(vm, VMIO_COM1_GSI, err);
        if (!line)
            return err ? err->code : -EINVAL;
    }
    int rc = vmio_uart16550_create("com1", serial, line ? vmio_irq_line_set_level : NULL, line,
                                   &uart, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, uart, VMIO_COM1_PORT, 8, err);
    return rc;
}

int vmio_add_standard_devices(struct vmio_vm *vm, struct vmio_chardev *serial, FILE *debugcon_out,
                              struct vmio_error *err)
{
    int rc = vmio_add_com1(vm, serial, err);
    struct vmio_device *dev = NULL;
    if (rc == 0)
        rc = vmio_debug_exit_create("debug-exit", &dev, err);
    if (rc == 0) /* 4 ports: wide writes exit as under QEMU (docs/devices/debug-ports.md) */
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_DEBUG_EXIT_PORT, 4, err);
    if (rc == 0)
        rc = vmio_debugcon_create("debugcon", debugcon_out, &dev, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_DEBUGCON_PORT, 1, err);
    struct vmio_device *td = NULL;
    if (rc == 0)
        rc = vmio_testdev_create("testdev-mmio", &td, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_MMIO, td, VMIO_TESTDEV_MMIO_BASE,
                                   VMIO_TESTDEV_MMIO_SIZE, err);
    if (rc == 0) { /* the VM owns td now: on failure here nothing more to free */
        void *page = NULL;
        rc = vmio_vm_add_status_page(vm, td, VMIO_TESTDEV_STATUS_BASE, VMIO_TESTDEV_STATUS_SIZE,
                                     &page, err);
        if (rc == 0)
            rc = vmio_testdev_attach_page(td, page, VMIO_TESTDEV_STATUS_SIZE);
    }
    if (rc == 0)
        rc = vmio_testdev_create("testdev-pio", &dev, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, dev, VMIO_TESTDEV_PIO_BASE,
                                   VMIO_TESTDEV_PIO_SIZE, err);
    struct vmio_device *msr = NULL;
    if (rc == 0)
        rc = vmio_testdev_create("testdev-msr-regs", &dev, err);
    if (rc == 0)
        rc = vmio_msr_window_create("testdev-msr", dev, 8, &msr, err);
    if (rc == 0) {
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_SYSREG, msr, VMIO_TESTDEV_MSR_BASE,
                                   VMIO_TESTDEV_MSR_COUNT, err);
        if (rc == -ENOTSUP) { /* a backend without system-register exits: no MSR window */
            rc = 0;
            vmio_error_clear(err);
        }
    }
    return rc;
}

int vmio_coalesce_standard_devices(struct vmio_vm *vm, struct vmio_error *err)
{
    static const struct {
        enum vmio_space space;
        uint64_t base, end;
    } zones[] = {
        {VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_WBUF,
         VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_WBUF_END},
        {VMIO_SPACE_PIO, VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_WBUF,
         VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_PIO_SIZE},
    };
    for (unsigned i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        int rc =
            vmio_vm_coalesce(vm, zones[i].space, zones[i].base, zones[i].end - zones[i].base, err);
        if (rc == -ENOTSUP)
            vmio_error_clear(err);
        else if (rc < 0)
            return rc;
    }
    return 0;
}

int vmio_doorbell_standard_devices(struct vmio_vm *vm, struct vmio_iothread *io, bool use_ioeventfd,
                                   struct vmio_error *err)
{
    static const struct {
        enum vmio_space space;
        uint64_t base;
    } windows[] = {{VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE},
                   {VMIO_SPACE_PIO, VMIO_TESTDEV_PIO_BASE}};
    for (unsigned i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        uint64_t addr = windows[i].base + VMIO_TESTDEV_DOORBELL;
        const struct vmio_bus_range *r =
            vmio_bus_lookup(vmio_vm_bus(vm, windows[i].space), addr, 4);
        if (!r)
            return vmio_error_set(err, -ENOENT, "no testdev at %s 0x%llx for its doorbell",
                                  windows[i].space == VMIO_SPACE_PIO ? "port" : "MMIO",
                                  (unsigned long long)addr);
        struct vmio_doorbell_config c = {.space = windows[i].space,
                                         .addr = addr,
                                         .len = 4,
                                         .use_ioeventfd = use_ioeventfd,
                                         .fn = vmio_testdev_rung,
                                         .ctx = r->dev};
        struct vmio_doorbell *db = NULL;
        int rc = vmio_doorbell_create(vm, io, &c, &db, err);
        if (rc == 0 && (rc = vmio_testdev_attach_doorbell(r->dev, db)) < 0) {
            vmio_doorbell_destroy(db);
            vmio_error_set(err, rc, "testdev at 0x%llx: cannot take a doorbell",
                           (unsigned long long)addr);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}
