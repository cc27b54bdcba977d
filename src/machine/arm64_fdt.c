/*
 * The device tree of vmio's AArch64 machine (include/vmio/arm64_virt.h),
 * written with the FDT writer (vmio/fdt.h).
 *
 * Invariants: the description is validated completely before the tree is
 * started, with the same overlap rules vmio_arm64_machine_add_virtio()
 * applies, so a tree is never written for a machine that cannot exist;
 * every address in the tree is one the memory map defines, so what the tree
 * says is what answers on the bus; phandles are fixed (GIC 1, clock 2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "vmio/arm64_virt.h"
#include "vmio/fdt.h"
#include "vmio/testdev_regs.h"

#define PHANDLE_GIC 1
#define PHANDLE_CLK 2
/* Interrupt specifier: type (0 SPI, 1 PPI), number, flags (1 rising edge, 4 level high). */
#define IRQ_SPI 0
#define IRQ_PPI 1
#define IRQ_EDGE 1
#define IRQ_LEVEL 4
#define SPI_LAST 987 /* INTID 1019 */

struct range {
    uint64_t base, size;
    const char *name;
};

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a <= b + (bs - 1) && b <= a + (as - 1);
}

/* Check one transport against RAM, the fixed devices and the transports before @upto. */
static int check_virtio(const struct vmio_arm64_machine *m, const struct vmio_arm64_virtio_mmio *v,
                        unsigned upto, struct vmio_error *err)
{
    if (v->size == 0 || v->base + (v->size - 1) < v->base)
        return vmio_error_set(err, -EINVAL,
                              "virtio-mmio transport at 0x%" PRIx64 " size 0x%" PRIx64
                              ": empty or wrapping",
                              v->base, v->size);
    if (v->spi > SPI_LAST || v->spi == VMIO_ARM64_UART_SPI)
        return vmio_error_set(err, -EINVAL,
                              "virtio-mmio transport at 0x%" PRIx64
                              ": SPI %u is out of range or the UART's",
                              v->base, v->spi);
    uint64_t ram_base = m->ram_base ? m->ram_base : VMIO_ARM64_RAM_BASE;
    const struct range fixed[] = {
        {ram_base, m->ram_size ? m->ram_size : 1, "RAM"},
        {VMIO_ARM64_GICD_BASE, VMIO_ARM64_UART_BASE - VMIO_ARM64_GICD_BASE, "the GIC"},
        {VMIO_ARM64_UART_BASE, VMIO_ARM64_UART_SIZE, "the UART"},
        {VMIO_ARM64_TESTDEV_BASE,
         VMIO_ARM64_DEBUG_EXIT_BASE + VMIO_ARM64_DEBUG_EXIT_SIZE - VMIO_ARM64_TESTDEV_BASE,
         "vmio's test devices"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (overlaps(v->base, v->size, fixed[i].base, fixed[i].size))
            return vmio_error_set(err, -EINVAL,
                                  "virtio-mmio transport at 0x%" PRIx64 " size 0x%" PRIx64
                                  " overlaps %s",
                                  v->base, v->size, fixed[i].name);
    for (unsigned i = 0; i < upto; i++) {
        const struct vmio_arm64_virtio_mmio *o = &m->virtio[i];
        if (overlaps(v->base, v->size, o->base, o->size) || v->spi == o->spi)
            return vmio_error_set(err, -EINVAL,
                                  "virtio-mmio transport at 0x%" PRIx64
                                  " (SPI %u) collides with the one at 0x%" PRIx64 " (SPI %u)",
                                  v->base, v->spi, o->base, o->spi);
    }
    return 0;
}

int vmio_arm64_machine_add_virtio(struct vmio_arm64_machine *m, uint64_t base, uint64_t size,
                                  unsigned spi, struct vmio_error *err)
{
    if (m->nvirtio >= VMIO_ARM64_VIRTIO_SLOTS)
        return vmio_error_set(err, -ENOSPC, "more than %d virtio-mmio transports",
                              VMIO_ARM64_VIRTIO_SLOTS);
    struct vmio_arm64_virtio_mmio v = {.base = base, .size = size, .spi = spi};
    int rc = check_virtio(m, &v, m->nvirtio, err);
    if (rc < 0)
        return rc;
    m->virtio[m->nvirtio++] = v;
    return 0;
}

struct vmio_arm64_virtio_mmio vmio_arm64_virtio_slot(unsigned i)
{
    return (struct vmio_arm64_virtio_mmio){.base = VMIO_ARM64_VIRTIO_BASE +
                                                   (uint64_t)i * VMIO_ARM64_VIRTIO_SLOT,
                                           .size = VMIO_ARM64_VIRTIO_SLOT,
                                           .spi = VMIO_ARM64_VIRTIO_SPI + i};
}

static int check_machine(const struct vmio_arm64_machine *m, struct vmio_error *err)
{
    unsigned max = m->gic_version == 2 ? VMIO_ARM64_GICV2_MAX_CPUS : VMIO_ARM64_MAX_CPUS;
    if (m->gic_version != 2 && m->gic_version != 3)
        return vmio_error_set(err, -EINVAL, "GIC version %u (expected 2 or 3)", m->gic_version);
    if (m->cpus == 0 || m->cpus > max)
        return vmio_error_set(err, -EINVAL, "%u vCPUs: the GICv%u machine takes 1 to %u", m->cpus,
                              m->gic_version, max);
    uint64_t base = m->ram_base ? m->ram_base : VMIO_ARM64_RAM_BASE;
    if (m->ram_size == 0 || m->ram_size > VMIO_ARM64_RAM_MAX || base + (m->ram_size - 1) < base ||
        base < VMIO_ARM64_RAM_BASE)
        return vmio_error_set(err, -EINVAL,
                              "RAM at 0x%" PRIx64 " size 0x%" PRIx64
                              ": must be 1 byte to 2 GiB from 0x%llx",
                              base, m->ram_size, (unsigned long long)VMIO_ARM64_RAM_BASE);
    if (m->initrd_size) {
        uint64_t last = m->initrd_start + (m->initrd_size - 1);
        if (last < m->initrd_start || m->initrd_start < base || last > base + (m->ram_size - 1))
            return vmio_error_set(err, -EINVAL,
                                  "initrd at 0x%" PRIx64 " size 0x%" PRIx64 " is not inside RAM",
                                  m->initrd_start, m->initrd_size);
    }
    if (m->nvirtio > VMIO_ARM64_VIRTIO_SLOTS)
        return vmio_error_set(err, -EINVAL, "%u virtio-mmio transports", m->nvirtio);
    for (unsigned i = 0; i < m->nvirtio; i++) {
        int rc = check_virtio(m, &m->virtio[i], i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* reg = <base size> with two address and two size cells. */
static void reg2(struct vmio_fdt *f, uint64_t base, uint64_t size)
{
    const uint32_t c[4] = {(uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32),
                           (uint32_t)size};
    vmio_fdt_prop_cells(f, "reg", c, 4);
}

static void node_at(struct vmio_fdt *f, const char *name, uint64_t addr)
{
    char n[32];
    snprintf(n, sizeof(n), "%s@%" PRIx64, name, addr);
    vmio_fdt_begin_node(f, n);
}

static void gic_node(struct vmio_fdt *f, const struct vmio_arm64_machine *m)
{
    node_at(f, "intc", VMIO_ARM64_GICD_BASE);
    if (m->gic_version == 3) {
        vmio_fdt_prop_string(f, "compatible", "arm,gic-v3");
        const uint32_t r[8] = {
            0, (uint32_t)VMIO_ARM64_GICD_BASE, 0, (uint32_t)VMIO_ARM64_GICD_SIZE,
            0, (uint32_t)VMIO_ARM64_GICR_BASE, 0, (uint32_t)(VMIO_ARM64_GICR_STRIDE * m->cpus)};
        vmio_fdt_prop_cells(f, "reg", r, 8);
        vmio_fdt_prop_u32(f, "#redistributor-regions", 1);
    } else {
        vmio_fdt_prop_string(f, "compatible", "arm,cortex-a15-gic");
        const uint32_t r[8] = {
            0, (uint32_t)VMIO_ARM64_GICD_BASE, 0, 0x1000,
            0, (uint32_t)VMIO_ARM64_GICC_BASE, 0, (uint32_t)VMIO_ARM64_GICC_SIZE};
        vmio_fdt_prop_cells(f, "reg", r, 8);
    }
    vmio_fdt_prop_u32(f, "#interrupt-cells", 3);
    vmio_fdt_prop_empty(f, "interrupt-controller");
    vmio_fdt_prop_u32(f, "#address-cells", 2);
    vmio_fdt_prop_u32(f, "#size-cells", 2);
    vmio_fdt_prop_empty(f, "ranges");
    vmio_fdt_prop_u32(f, "phandle", PHANDLE_GIC);
    vmio_fdt_end_node(f);
}

static void timer_node(struct vmio_fdt *f, const struct vmio_arm64_machine *m)
{
    /* GICv2 PPIs name the CPUs they reach in bits [15:8] of the flags. */
    uint32_t flags = IRQ_LEVEL;
    if (m->gic_version == 2)
        flags |= ((1u << m->cpus) - 1) << 8;
    const uint32_t irqs[12] = {
        IRQ_PPI, VMIO_ARM64_TIMER_PPI_S,    flags, IRQ_PPI, VMIO_ARM64_TIMER_PPI_NS,  flags,
        IRQ_PPI, VMIO_ARM64_TIMER_PPI_VIRT, flags, IRQ_PPI, VMIO_ARM64_TIMER_PPI_HYP, flags};
    vmio_fdt_begin_node(f, "timer");
    vmio_fdt_prop_string(f, "compatible", "arm,armv8-timer");
    vmio_fdt_prop_cells(f, "interrupts", irqs, 12);
    vmio_fdt_prop_empty(f, "always-on");
    vmio_fdt_end_node(f);
}

static void cpus_node(struct vmio_fdt *f, const struct vmio_arm64_machine *m)
{
    vmio_fdt_begin_node(f, "cpus");
    vmio_fdt_prop_u32(f, "#address-cells", 1);
    vmio_fdt_prop_u32(f, "#size-cells", 0);
    for (unsigned i = 0; i < m->cpus; i++) {
        /* KVM's MPIDR for vCPU i: Aff0 = i % 16, Aff1 = i / 16. */
        uint32_t mpidr = (i & 15u) | ((i >> 4) << 8);
        node_at(f, "cpu", mpidr);
        vmio_fdt_prop_string(f, "device_type", "cpu");
        vmio_fdt_prop_string(f, "compatible", "arm,arm-v8");
        vmio_fdt_prop_u32(f, "reg", mpidr);
        vmio_fdt_prop_string(f, "enable-method", "psci");
        vmio_fdt_end_node(f);
    }
    vmio_fdt_end_node(f);
}

int vmio_arm64_fdt_build(const struct vmio_arm64_machine *m, void *buf, size_t size,
                         size_t *out_size, struct vmio_error *err)
{
    int rc = check_machine(m, err);
    if (rc < 0)
        return rc;
    struct vmio_fdt fdt, *f = &fdt;
    rc = vmio_fdt_init(f, buf, size, err);
    if (rc < 0)
        return rc;
    uint64_t ram_base = m->ram_base ? m->ram_base : VMIO_ARM64_RAM_BASE;
    char uart_path[48];
    snprintf(uart_path, sizeof(uart_path), "/pl011@%llx", (unsigned long long)VMIO_ARM64_UART_BASE);

    vmio_fdt_begin_node(f, "");
    vmio_fdt_prop_string(f, "compatible", "linux,dummy-virt");
    vmio_fdt_prop_string(f, "model", "vmio arm64 virt");
    vmio_fdt_prop_u32(f, "#address-cells", 2);
    vmio_fdt_prop_u32(f, "#size-cells", 2);
    vmio_fdt_prop_u32(f, "interrupt-parent", PHANDLE_GIC);

    vmio_fdt_begin_node(f, "chosen");
    if (m->bootargs)
        vmio_fdt_prop_string(f, "bootargs", m->bootargs);
    vmio_fdt_prop_string(f, "stdout-path", uart_path);
    if (m->initrd_size) {
        vmio_fdt_prop_u64(f, "linux,initrd-start", m->initrd_start);
        vmio_fdt_prop_u64(f, "linux,initrd-end", m->initrd_start + m->initrd_size);
    }
    vmio_fdt_end_node(f);

    node_at(f, "memory", ram_base);
    vmio_fdt_prop_string(f, "device_type", "memory");
    reg2(f, ram_base, m->ram_size);
    vmio_fdt_end_node(f);

    cpus_node(f, m);

    vmio_fdt_begin_node(f, "psci");
    static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
    vmio_fdt_prop(f, "compatible", psci_compat, sizeof(psci_compat));
    vmio_fdt_prop_string(f, "method", "hvc");
    vmio_fdt_end_node(f);

    gic_node(f, m);
    timer_node(f, m);

    vmio_fdt_begin_node(f, "apb-pclk");
    vmio_fdt_prop_string(f, "compatible", "fixed-clock");
    vmio_fdt_prop_u32(f, "#clock-cells", 0);
    vmio_fdt_prop_u32(f, "clock-frequency", VMIO_ARM64_APB_CLOCK_HZ);
    vmio_fdt_prop_string(f, "clock-output-names", "clk24mhz");
    vmio_fdt_prop_u32(f, "phandle", PHANDLE_CLK);
    vmio_fdt_end_node(f);

    node_at(f, "pl011", VMIO_ARM64_UART_BASE);
    static const char uart_compat[] = "arm,pl011\0arm,primecell";
    vmio_fdt_prop(f, "compatible", uart_compat, sizeof(uart_compat));
    reg2(f, VMIO_ARM64_UART_BASE, VMIO_ARM64_UART_SIZE);
    const uint32_t uart_irq[3] = {IRQ_SPI, VMIO_ARM64_UART_SPI, IRQ_LEVEL};
    vmio_fdt_prop_cells(f, "interrupts", uart_irq, 3);
    const uint32_t clocks[2] = {PHANDLE_CLK, PHANDLE_CLK};
    vmio_fdt_prop_cells(f, "clocks", clocks, 2);
    static const char clock_names[] = "uartclk\0apb_pclk";
    vmio_fdt_prop(f, "clock-names", clock_names, sizeof(clock_names));
    vmio_fdt_end_node(f);

    for (unsigned i = 0; i < m->nvirtio; i++) {
        const struct vmio_arm64_virtio_mmio *v = &m->virtio[i];
        node_at(f, "virtio_mmio", v->base);
        vmio_fdt_prop_string(f, "compatible", "virtio,mmio");
        reg2(f, v->base, v->size);
        const uint32_t irq[3] = {IRQ_SPI, v->spi, IRQ_EDGE};
        vmio_fdt_prop_cells(f, "interrupts", irq, 3);
        vmio_fdt_prop_empty(f, "dma-coherent");
        vmio_fdt_end_node(f);
    }

    vmio_fdt_end_node(f);
    return vmio_fdt_finish(f, out_size);
}
