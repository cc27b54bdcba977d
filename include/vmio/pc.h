/*
 * vmio's PC: the machine a stock x86 Linux kernel boots on.
 *
 * vmio_pc_build() adds to a VM that has the in-kernel irqchip what a kernel
 * finds on a PC without firmware (as QEMU's microvm gives it): COM1 (16550A
 * on IRQ 4), the CMOS RTC (IRQ 8), ports 0x80 and 0x92, an i8042 (reset
 * only), the ACPI power device (sleep and reset registers at 0x600-0x603),
 * vmio's debug-exit (0xf4) and debug console (0xe9), and hardware-reduced
 * ACPI tables (RSDP, XSDT, FADT, MADT with one local APIC per vCPU and the
 * IOAPIC, DSDT with COM1, the RTC and any extra devices such as
 * virtio-mmio transports) written into guest RAM in the BIOS area at
 * VMIO_PC_ACPI_BASE, and at the real-mode reset vector (0xffff0) a few bytes
 * that write the ACPI reset register (Linux's last reboot method on such a
 * machine jumps there). Guest power-off and reset requests (ACPI, port 0x92,
 * the i8042, the reset vector) reach the VM (vmio_vm_power_request()): every
 * vCPU then stops with VMIO_EXIT_POWEROFF or VMIO_EXIT_RESET. See
 * docs/linux-boot.md.
 *
 * Ownership: the VM owns every device added; @cfg's pointers are borrowed
 * for the call (serial, debugcon stream and clock must outlive the VM).
 */
#ifndef VMIO_PC_H
#define VMIO_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/acpi.h"
#include "vmio/clock.h"
#include "vmio/error.h"
#include "vmio/iothread.h"
#include "vmio/vm.h"

struct vmio_chardev;

/* Where the ACPI tables go: the BIOS area, where a kernel also scans for the RSDP. */
#define VMIO_PC_ACPI_BASE 0xe0000ULL
#define VMIO_PC_ACPI_LIMIT 0x10000ULL /* the tables must fit below 0xf0000 */
#define VMIO_PC_RTC_GSI 8

/*
 * The PC's virtio-mmio slots: slot i is the window VMIO_PC_VIRTIO_BASE + i *
 * VMIO_PC_VIRTIO_STRIDE (VMIO_VIRTIO_MMIO_SIZE bytes) on GSI
 * VMIO_PC_VIRTIO_GSI + i, i < VMIO_PC_VIRTIO_SLOTS: above RAM (which ends
 * at 0xc0000000 below 4 GiB), clear of testdev (0xd0000000-0xd0000fff on
 * vmio's standard machine), the IOAPIC (0xfec00000) and the local APIC
 * (0xfee00000); GSIs 16-23 are the IOAPIC pins no ISA device uses, so each
 * level-triggered virtio line is its own.
 */
#define VMIO_PC_VIRTIO_BASE 0xd0001000ULL
#define VMIO_PC_VIRTIO_STRIDE 0x1000ULL
#define VMIO_PC_VIRTIO_GSI 16u
#define VMIO_PC_VIRTIO_SLOTS 8u

struct vmio_pc_config {
    unsigned cpus;                  /* vCPUs, 1..VMIO_ACPI_MAX_CPUS - 1 (one MADT entry each) */
    struct vmio_chardev *serial;    /* COM1's backend; NULL: no output, no input */
    FILE *debugcon;                 /* port 0xe9 output; NULL drops it */
    const struct vmio_clock *clock; /* the RTC's wall clock; NULL: the host's */
    /* Devices the DSDT lists besides COM1 and the RTC (e.g. virtio-mmio): registered elsewhere. */
    const struct vmio_acpi_device *extra_devices;
    unsigned extra_count;
};

/* What vmio_pc_build() placed: for the boot protocol (RSDP pointer, e820). */
struct vmio_pc_info {
    uint64_t rsdp;      /* guest-physical address of the RSDP */
    uint64_t acpi_base; /* the tables: [acpi_base, acpi_base + acpi_size) */
    uint64_t acpi_size;
};

/* A port range vmio_pc_build() gives one of its devices. */
struct vmio_pc_port_range {
    uint16_t base, len;
    const char *name; /* the device's name on the bus */
};

/*
 * vmio_pc_port_ranges - every port range vmio_pc_build() registers (a static
 * table of *@n entries, in the order it registers them), so that a machine
 * description (a VM config with a Linux kernel) can be checked against the PC
 * before anything is built. The IOAPIC and local APIC windows are the
 * irqchip's (vmio_irqchip_reserved_check()).
 */
const struct vmio_pc_port_range *vmio_pc_port_ranges(size_t *n);

/*
 * vmio_pc_build - add the PC platform to @vm (created with the irqchip, its
 * RAM covering VMIO_PC_ACPI_BASE) as described above, fill *@out.
 * Errors: -EINVAL without the irqchip, for a bad vCPU count or when RAM does
 * not cover the ACPI area (the message says which); those of
 * vmio_vm_add_device() (a port already taken) and vmio_acpi_build(); -ENOMEM.
 * On failure the VM may hold some of the devices (destroy the VM).
 */
int vmio_pc_build(struct vmio_vm *vm, const struct vmio_pc_config *cfg, struct vmio_pc_info *out,
                  struct vmio_error *err);

/* ---- virtio devices ---- */

enum vmio_pc_virtio_kind {
    VMIO_PC_VIRTIO_BLK = 1, /* vmio/virtio_blk.h */
    VMIO_PC_VIRTIO_RNG,     /* vmio/virtio_rng.h */
    VMIO_PC_VIRTIO_CONSOLE, /* vmio/virtio_console.h */
    VMIO_PC_VIRTIO_NET,     /* vmio/virtio_net.h, on a TAP */
};

/* One virtio device to put on the machine. */
struct vmio_pc_virtio {
    enum vmio_pc_virtio_kind kind;
    const char *path;             /* BLK: the raw image */
    bool readonly;                /* BLK */
    struct vmio_chardev *chardev; /* CONSOLE: its backend (borrowed: must outlive the VM) */
    const char *tap;              /* NET: the TAP interface to attach to */
    uint8_t mac[6];               /* NET: the guest's address, when mac_set */
    bool mac_set;                 /* NET: else vmio_virtio_net_default_mac(its net number) */
    uint64_t base;                /* the window; 0: the next free PC slot (and its GSI) */
    unsigned gsi;                 /* with a base: its interrupt line */
};

/* How the devices run. */
struct vmio_pc_virtio_options {
    struct vmio_iothread *io; /* their work (borrowed: stop it before destroying the VM) */
    bool no_ioeventfd;        /* QueueNotify and register reads exit to vmio (fallback path) */
    bool no_irqfd;            /* interrupts through vmio_vm_set_irq(), ACKs exit (fallback) */
    FILE *log;                /* DEVICE_NEEDS_RESET and host I/O error lines; NULL = stderr */
    const char *tun_path;     /* NET: the tun clone device; NULL: /dev/net/tun (tests) */
};

/*
 * vmio_pc_add_virtio - create the @n devices @devs (disks are named vda, vdb,
 * ... in the order given; net devices after their TAP, with the default MAC
 * of their number among the net devices unless one is given) and attach each behind a virtio-mmio
 * transport on
 * @vm (which has the irqchip), at its base and GSI or, with base 0, in the
 * next free PC slot. Fills @acpi[i] (may be NULL) with the DSDT entry of
 * device i, for vmio_pc_config.extra_devices, and @transports[i] (may be
 * NULL) with its transport (for vmio_virtio_mmio_stats()).
 * Errors: -ENOSPC past VMIO_PC_VIRTIO_SLOTS automatic slots; -EINVAL for an
 * unknown kind or a console without a chardev; those of the device
 * constructors (an image or a TAP that cannot be opened: the message names
 * it and says why) and
 * of vmio_virtio_mmio_attach(). On failure the devices already attached
 * stay with the VM (destroy the VM).
 */
int vmio_pc_add_virtio(struct vmio_vm *vm, const struct vmio_pc_virtio *devs, unsigned n,
                       const struct vmio_pc_virtio_options *o, struct vmio_acpi_device *acpi,
                       struct vmio_device **transports, struct vmio_error *err);

#endif
