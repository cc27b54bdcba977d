/*
 * Constructors of vmio's small built-in device models. Each returns a
 * `struct vmio_device *` (or NULL when out of memory) that the caller either
 * hands to a VM with vmio_vm_add_device() (the VM then destroys it) or
 * destroys itself with dev->ops->destroy(dev).
 *
 * The 16550A UART has its own header, vmio/uart16550.h.
 */
#ifndef VMIO_DEVICES_H
#define VMIO_DEVICES_H

#include <stdio.h>

#include <stdbool.h>

#include "vmio/device.h"
#include "vmio/error.h"

/*
 * vmio_testdev_create - a test device with the register file described in
 * vmio/testdev_regs.h (echo, fixed pattern, access counters, last-access
 * descriptor, adder, log FIFO). One instance serves one window; register
 * one for MMIO and another for PIO. @name is not copied (use a literal).
 * Errors: -EINVAL (NULL @out), -ENOMEM. Ownership: as every device
 * constructor, the caller owns *@out (destroy with its ops->destroy, or let
 * the VM do it once added).
 */
int vmio_testdev_create(const char *name, struct vmio_device **out, struct vmio_error *err);

/*
 * vmio_testdev_attach_page - keep a copy of @dev's registers (register at
 * offset 8 * i in 64-bit word i; LOG_POP shows the oldest entry without
 * popping) in @page (@size bytes, 8-byte aligned; not owned) after every
 * access: the status page of vmio_vm_add_status_page(), read by the guest
 * without exits. Errors: -EINVAL for a device that is not a testdev, a NULL
 * or misaligned page.
 */
int vmio_testdev_attach_page(struct vmio_device *dev, void *page, size_t size);

struct vmio_doorbell;

/*
 * vmio_testdev_attach_doorbell - @dev's DOORBELL register rings @bell (made
 * with vmio_doorbell_create(), callback vmio_testdev_rung(), context @dev):
 * a write that exits rings it by hand, one that does not (ioeventfd) rings
 * it in the hypervisor; either way RINGS counts on the I/O thread. @dev
 * owns @bell from then on (destroyed with it). Errors: -EINVAL for a device
 * that is not a testdev, -EBUSY when it has a doorbell already.
 */
int vmio_testdev_attach_doorbell(struct vmio_device *dev, struct vmio_doorbell *bell);

/* vmio_testdev_rung - a doorbell callback (vmio_doorbell_fn): @rings more rings of testdev @dev. */
void vmio_testdev_rung(void *dev, uint64_t rings);

/*
 * vmio_msr_window_create - show @inner's register file as consecutive x86
 * MSRs, for the system-register bus (VMIO_SPACE_SYSREG): MSR base + i (i
 * being the offset the bus gives) is @inner's register at offset i * @stride,
 * read and written 8 bytes at a time. Takes ownership of @inner (also on
 * failure). @name is not copied.
 * Errors: -EINVAL (NULL @inner or @out, @stride 0), -ENOMEM.
 */
int vmio_msr_window_create(const char *name, struct vmio_device *inner, unsigned stride,
                           struct vmio_device **out, struct vmio_error *err);

/*
 * vmio_debug_exit_create - QEMU isa-debug-exit compatible device: a write of
 * value v at offset 0 (any width; v is the written bytes) stops the vCPU with
 * VMIO_EXIT_DEBUG_EXIT and code v; the vmio command then exits with status
 * (v << 1) | 1. Reads return all-ones. Writes at other offsets are ignored.
 * Errors: -EINVAL (NULL @out), -ENOMEM.
 */
int vmio_debug_exit_create(const char *name, struct vmio_device **out, struct vmio_error *err);

/*
 * vmio_debugcon_create - Bochs/QEMU debug console (port 0xe9): each byte
 * written is copied to @out (not owned; NULL drops output); reads return
 * 0xe9 so guests can detect it. Errors: -EINVAL (NULL @dev), -ENOMEM.
 */
int vmio_debugcon_create(const char *name, FILE *out, struct vmio_device **dev,
                         struct vmio_error *err);

struct vmio_vm;
struct vmio_chardev;
struct vmio_error;

/* COM1's interrupt: ISA IRQ 4, which is GSI 4 in KVM's default routing. */
#define VMIO_COM1_GSI 4

/*
 * vmio_add_com1 - COM1: a 16550A UART at ports 0x3f8-0x3ff on @serial (not
 * owned; may be NULL), its interrupt driving GSI 4 when @vm has the in-kernel
 * irqchip. The VM owns the device. Errors: those of vmio_vm_add_device(),
 * -ENOMEM.
 */
int vmio_add_com1(struct vmio_vm *vm, struct vmio_chardev *serial, struct vmio_error *err);

/*
 * vmio_add_standard_devices - vmio's standard PC-style machine, what
 * `vmio run IMAGE` gives a guest: COM1 16550A UART at port 0x3f8 on @serial
 * (not owned; may be NULL; its interrupt line drives GSI 4 when @vm has the
 * in-kernel irqchip, see vmio_vm_options.irqchip), debug-exit at 0xf4-0xf7, debug console at 0xe9
 * writing to @debugcon_out (not owned; NULL drops it), testdev at MMIO
 * 0xd0000000 and ports 0x7000-0x70ff (its MMIO registers also readable without
 * exits on the status page at VMIO_TESTDEV_STATUS_BASE), and where the backend can route system
 * registers, testdev's registers as MSRs VMIO_TESTDEV_MSR_BASE.. (one MSR per
 * register). The VM owns the devices.
 * Errors: those of vmio_vm_add_device() (a port or window already taken),
 * -ENOMEM.
 */
int vmio_add_standard_devices(struct vmio_vm *vm, struct vmio_chardev *serial, FILE *debugcon_out,
                              struct vmio_error *err);

/*
 * vmio_coalesce_standard_devices - let the hypervisor buffer the guest's
 * writes to the write buffers (VMIO_TESTDEV_WBUF..) of the standard machine's
 * MMIO and port testdevs (vmio_vm_coalesce()): a burst of them costs an exit
 * only when the guest next reads the device. What `vmio run` does unless
 * told --coalesce off. A backend that cannot buffer writes in a space is not
 * an error (that space's writes exit one by one). Errors: those of
 * vmio_vm_coalesce() other than -ENOTSUP.
 */
int vmio_coalesce_standard_devices(struct vmio_vm *vm, struct vmio_error *err);

struct vmio_iothread;

/*
 * vmio_doorbell_standard_devices - give the standard machine's MMIO and port
 * testdevs their doorbells (4-byte writes to VMIO_TESTDEV_DOORBELL), run on @io
 * (started by the caller with the vCPUs); with @use_ioeventfd the backend's
 * ioeventfd makes a ring exit-less where it can. What `vmio run` does
 * (--no-ioeventfd: every ring exits). Errors: -ENOENT without the standard
 * devices; those of vmio_doorbell_create().
 */
int vmio_doorbell_standard_devices(struct vmio_vm *vm, struct vmio_iothread *io, bool use_ioeventfd,
                                   struct vmio_error *err);

#endif
