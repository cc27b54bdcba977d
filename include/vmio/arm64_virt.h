/*
 * vmio's AArch64 machine ("arm64 virt"): its memory map (vmio/arm64_layout.h),
 * and the device tree that describes it to a guest (built at run time:
 * vmio_arm64_fdt_build()).
 *
 * The layout is QEMU's `-M virt` where the two overlap (GIC, PL011 UART,
 * virtio-mmio window, RAM from 1 GiB), so one guest image runs under both and
 * their outputs can be compared; vmio's own test devices sit in a hole QEMU
 * leaves empty (0x0b000000), where QEMU's guests see no device at all.
 *
 * Everything here is pure: no KVM, no OS call. Values a caller gives are
 * checked (ranges inside the map, no wraparound, no overlap with RAM or the
 * fixed devices) before a byte of the tree is written.
 */
#ifndef VMIO_ARM64_VIRT_H
#define VMIO_ARM64_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/arm64_layout.h"
#include "vmio/error.h"

/* One virtio-mmio transport to describe (the device itself is the caller's). */
struct vmio_arm64_virtio_mmio {
    uint64_t base;
    uint64_t size;
    unsigned spi; /* the SPI number (INTID - 32) it raises */
};

/* What the device tree says. Zero-initialise, then fill in. */
struct vmio_arm64_machine {
    uint64_t ram_base; /* 0: VMIO_ARM64_RAM_BASE */
    uint64_t ram_size;
    unsigned cpus;                      /* 1..VMIO_ARM64_MAX_CPUS (GICv2: ..8) */
    unsigned gic_version;               /* 2 or 3: what the backend created */
    const char *bootargs;               /* the kernel command line; NULL: none */
    uint64_t initrd_start, initrd_size; /* size 0: no initrd */
    unsigned nvirtio;
    struct vmio_arm64_virtio_mmio virtio[VMIO_ARM64_VIRTIO_SLOTS];
};

/*
 * vmio_arm64_machine_add_virtio - describe one virtio-mmio transport at
 * [@base, @base + @size) raising SPI @spi in @m (the next free entry).
 * Errors: -ENOSPC when VMIO_ARM64_VIRTIO_SLOTS are described already;
 * -EINVAL for size 0, a range that wraps or overlaps RAM, the GIC, the UART,
 * vmio's test devices or another transport, or an SPI beyond 987 or in use
 * by the UART or another transport; @err says which.
 */
int vmio_arm64_machine_add_virtio(struct vmio_arm64_machine *m, uint64_t base, uint64_t size,
                                  unsigned spi, struct vmio_error *err);

/*
 * vmio_arm64_virtio_slot - the window and SPI of virtio-mmio slot @i
 * (< VMIO_ARM64_VIRTIO_SLOTS) of the standard layout, as QEMU's virt has them.
 */
struct vmio_arm64_virtio_mmio vmio_arm64_virtio_slot(unsigned i);

/*
 * vmio_arm64_fdt_build - the device tree of @m into @buf (@size bytes,
 * caller-owned): root (compatible "linux,dummy-virt", 2 address and size
 * cells), chosen (bootargs, stdout-path of the UART, linux,initrd-start/end),
 * memory, cpus (one per vCPU, reg = MPIDR affinity, enable-method "psci"),
 * psci (1.0 and 0.2, method "hvc": KVM's in-kernel PSCI), the GIC (v3:
 * distributor and redistributors; v2: distributor and CPU interface), the
 * architected timer (its four PPIs), the APB clock, the PL011 and every
 * virtio-mmio transport of @m. *@out_size receives the blob's size.
 * Errors: -EINVAL for a description that is not consistent (bad CPU count or
 * GIC version, RAM size 0, over VMIO_ARM64_RAM_MAX or wrapping, an initrd
 * outside RAM, a transport that add_virtio would refuse); -ENOSPC when @size
 * is too small. @err says which.
 */
int vmio_arm64_fdt_build(const struct vmio_arm64_machine *m, void *buf, size_t size,
                         size_t *out_size, struct vmio_error *err);

/* ---- Loading a guest and building the machine (src/boot/arm64_load.c,
 * src/machine/arm64_machine.c) ---- */

struct vmio_guest_mem;
struct vmio_vm;
struct vmio_vcpu;
struct vmio_chardev;

/* What to boot: an AArch64 ELF64 executable or a Linux arm64 Image. */
struct vmio_arm64_boot {
    const uint8_t *image;
    size_t image_size;
    const uint8_t *initrd; /* NULL: none */
    size_t initrd_size;
    const char *cmdline; /* NULL: no bootargs */
};

/* Where vCPU 0 starts: PC, with X0 = the device tree's address (Linux's boot protocol). */
struct vmio_arm64_entry {
    uint64_t pc;
    uint64_t dtb;
    uint64_t dtb_size;
    uint64_t kernel_end; /* first byte after the loaded image (its memory size for an Image) */
    bool linux_image;
};

/*
 * vmio_arm64_load - load @b into guest memory @mem (RAM of @m: m->ram_base,
 * m->ram_size) and write @m's device tree there, with bootargs and the
 * initrd's place filled in (m->bootargs, m->initrd_* are set here).
 * An Image (magic "ARM\x64" at byte 56) goes to RAM base + text_offset (RAM
 * is 2 MiB aligned; an image_size of 0 means a pre-3.17 kernel: text_offset
 * 0x80000, the file's size); an ELF64 for EM_AARCH64 is loaded by its
 * program headers (PT_LOAD at their physical addresses, bss zeroed), entry
 * e_entry. The device tree goes at the highest 2 MiB boundary of RAM that
 * leaves it whole (it must not cross one), the initrd page-aligned just
 * below it. Everything is checked against the file and RAM (no overlap of
 * image, initrd and tree; no wraparound).
 * Errors: -ENOEXEC (neither format, a big-endian Image, an ELF for another
 * machine or class), -E2BIG (does not fit RAM), -EINVAL (inconsistent
 * headers), or the errors of vmio_arm64_fdt_build(); @err says which.
 */
int vmio_arm64_load(const struct vmio_guest_mem *mem, struct vmio_arm64_machine *m,
                    const struct vmio_arm64_boot *b, struct vmio_arm64_entry *entry,
                    struct vmio_error *err);

/* Options of vmio_arm64_machine_create(). */
struct vmio_arm64_machine_options {
    uint64_t mem_size; /* bytes of RAM (2 MiB multiple, <= VMIO_ARM64_RAM_MAX); 0: 256 MiB */
    unsigned cpus;     /* 0: 1 */
    struct vmio_chardev *serial;           /* the PL011's host side (borrowed), NULL: none */
    const struct vmio_vm_options *vm_opts; /* policy, log, backend, clock (irqchip forced on) */
};

/*
 * vmio_arm64_machine_create - a VM with vmio's AArch64 machine: the in-kernel
 * GIC (the backend's create_irqchip: v3 or v2), RAM at VMIO_ARM64_RAM_BASE,
 * the PL011 on SPI VMIO_ARM64_UART_SPI, testdev and debug-exit at their
 * addresses. *@m is filled in for the device tree (RAM, CPUs, GIC version;
 * add virtio-mmio transports to it before loading). *@out owns the VM.
 * Errors: -EINVAL for a RAM size or CPU count out of range; those of
 * vmio_vm_create_empty(), vmio_vm_add_ram() and vmio_vm_add_device().
 */
int vmio_arm64_machine_create(const struct vmio_arm64_machine_options *o, struct vmio_vm **out,
                              struct vmio_arm64_machine *m, struct vmio_error *err);

/*
 * vmio_arm64_machine_finalize - call once every vCPU of @vm is created
 * (vmio_vcpu_create()) and before vmio_vm_run(): finishes the in-kernel GIC
 * on the calling thread, so that vCPU threads confined to their system-call
 * filter (vmio/seccomp.h) never need to. Without it the first vCPU entry
 * does it. A backend with nothing to finish (the fake) is fine.
 * Errors: -errno of the hypervisor, described in @err.
 */
int vmio_arm64_machine_finalize(struct vmio_vm *vm, struct vmio_error *err);

/*
 * vmio_arm64_setup_vcpu - put vCPU 0 at @entry: PC, X0 = the device tree,
 * X1..X3 = 0, PSTATE = EL1h with D, A, I, F masked (the Image protocol's
 * entry state; the other vCPUs wait for PSCI CPU_ON). Errors: those of
 * vmio_vcpu_set_arm64_reg().
 */
int vmio_arm64_setup_vcpu(struct vmio_vcpu *vcpu, const struct vmio_arm64_entry *entry,
                          struct vmio_error *err);

#endif
