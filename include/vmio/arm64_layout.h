/*
 * Where vmio's AArch64 machine puts its fixed parts: constants only, in the
 * base layer so that the AArch64 KVM backend (which places the in-kernel
 * vGIC) and the machine (vmio/arm64_virt.h, which builds the rest and the
 * device tree) read one map. The layout is QEMU's `-M virt` where the two
 * overlap; docs/arm64.md, "The machine".
 */
#ifndef VMIO_ARM64_LAYOUT_H
#define VMIO_ARM64_LAYOUT_H

/* Interrupt controller: GICv3 distributor and redistributors, or GICv2 CPU interface. */
#define VMIO_ARM64_GICD_BASE 0x08000000ull
#define VMIO_ARM64_GICD_SIZE 0x10000ull
#define VMIO_ARM64_GICC_BASE 0x08010000ull /* GICv2 only */
#define VMIO_ARM64_GICC_SIZE 0x2000ull
#define VMIO_ARM64_GICR_BASE 0x080a0000ull /* GICv3: one 128 KiB frame pair per vCPU */
#define VMIO_ARM64_GICR_STRIDE 0x20000ull
/* The PL011 UART (Linux: ttyAMA0, earlycon=pl011,0x09000000) on SPI 1. */
#define VMIO_ARM64_UART_BASE 0x09000000ull
#define VMIO_ARM64_UART_SIZE 0x1000ull
#define VMIO_ARM64_UART_SPI 1
/* virtio-mmio transports: 32 slots of 0x200 bytes, slot i on SPI 16 + i. */
#define VMIO_ARM64_VIRTIO_BASE 0x0a000000ull
#define VMIO_ARM64_VIRTIO_SLOT 0x200ull
#define VMIO_ARM64_VIRTIO_SLOTS 32
#define VMIO_ARM64_VIRTIO_SPI 16
/* vmio's test devices: testdev (VMIO_TESTDEV_MMIO_SIZE) and debug-exit (4 bytes). */
#define VMIO_ARM64_TESTDEV_BASE 0x0b000000ull
#define VMIO_ARM64_DEBUG_EXIT_BASE 0x0b001000ull
#define VMIO_ARM64_DEBUG_EXIT_SIZE 0x4ull
/* Guest RAM starts at 1 GiB; at most 2 GiB of it. */
#define VMIO_ARM64_RAM_BASE 0x40000000ull
#define VMIO_ARM64_RAM_MAX (2ull << 30)
/* vCPUs: GICv3 redistributor frames fit 123 below the UART; vmio runs at most 64. */
#define VMIO_ARM64_MAX_CPUS 64
#define VMIO_ARM64_GICV2_MAX_CPUS 8
/* PPIs of the architected timer (INTID - 16): secure, non-secure, virtual, hypervisor. */
#define VMIO_ARM64_TIMER_PPI_S 13
#define VMIO_ARM64_TIMER_PPI_NS 14
#define VMIO_ARM64_TIMER_PPI_VIRT 11
#define VMIO_ARM64_TIMER_PPI_HYP 10
/* The fixed clock the PL011 node names (Linux's AMBA bus needs one). */
#define VMIO_ARM64_APB_CLOCK_HZ 24000000u

#endif
