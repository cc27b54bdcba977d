/*
 * vmio's standard machine: the devices `vmio run IMAGE` gives every guest,
 * at the addresses the test guests and QEMU's microvm command line expect.
 */
#include "vmio/devices.h"
#include "vmio/testdev_regs.h"
#include "vmio/uart16550.h"
#include "vmio/vm.h"

int vmio_add_standard_devices(struct vmio_vm *vm, struct chardev *serial, FILE *debugcon_out,
                              struct vmio_error *err)
{
    struct vmio_device *uart = NULL;
    int rc = uart16550_create("com1", serial, NULL, NULL, &uart, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, uart, VMIO_COM1_PORT, 8, err);
    if (rc == 0) /* 4 ports: wide writes exit as under QEMU (docs/devices/debug-ports.md) */
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, vmio_debug_exit_create("debug-exit"),
                                   VMIO_DEBUG_EXIT_PORT, 4, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO,
                                   vmio_debugcon_create("debugcon", debugcon_out),
                                   VMIO_DEBUGCON_PORT, 1, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_MMIO, vmio_testdev_create("testdev-mmio"),
                                   TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE, err);
    if (rc == 0)
        rc = vmio_vm_attach_device(vm, VMIO_SPACE_PIO, vmio_testdev_create("testdev-pio"),
                                   TESTDEV_PIO_BASE, TESTDEV_PIO_SIZE, err);
    return rc;
}
