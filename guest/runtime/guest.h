/*
 * vmio freestanding guest runtime: port and MMIO helpers, COM1 serial,
 * gprint, debug-exit, a small test-assertion helper, and interrupt helpers
 * (IDT handlers for vectors 32-63/255, PIC, IOAPIC, local APIC, sti/hlt),
 * and SMP helpers (LOCK-prefixed atomics, PAUSE spin-waits, INIT/SIPI IPIs,
 * an AP trampoline that brings another vCPU to 64-bit mode).
 * Invariants: no floating point, no SSE (guests are built with
 * -mgeneral-regs-only), no libc; every device access is a single instruction
 * of the exact width named by the helper (inline asm, volatile).
 * The image is identity-mapped (first 4 GiB), so a guest-physical address is
 * usable directly as a pointer.
 */
#ifndef VMIO_GUEST_H
#define VMIO_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h" /* guest/common: gprint and the check helpers */
#include "vmio/testdev_regs.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* ---- port I/O ---- */

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

/* String forms: rep ins/outs of `count` elements from/to `buf` (DF = 0). */
static inline void outsb(uint16_t port, const void *buf, size_t count)
{
    __asm__ volatile("cld; rep outsb" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}
static inline void outsw(uint16_t port, const void *buf, size_t count)
{
    __asm__ volatile("cld; rep outsw" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}
static inline void outsl(uint16_t port, const void *buf, size_t count)
{
    __asm__ volatile("cld; rep outsl" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}
static inline void insb(uint16_t port, void *buf, size_t count)
{
    __asm__ volatile("cld; rep insb" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}
static inline void insw(uint16_t port, void *buf, size_t count)
{
    __asm__ volatile("cld; rep insw" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}
static inline void insl(uint16_t port, void *buf, size_t count)
{
    __asm__ volatile("cld; rep insl" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

/* ---- MMIO: one mov of the named width to/from guest-physical `addr` ---- */

static inline uint8_t mmio_read8(uint64_t addr)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
    return v;
}
static inline uint16_t mmio_read16(uint64_t addr)
{
    uint16_t v;
    __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}
static inline uint64_t mmio_read64(uint64_t addr)
{
    uint64_t v;
    __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}
static inline void mmio_write8(uint64_t addr, uint8_t v)
{
    __asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}
static inline void mmio_write16(uint64_t addr, uint16_t v)
{
    __asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}
static inline void mmio_write64(uint64_t addr, uint64_t v)
{
    __asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

/* Width-generic forms (width 1, 2, 4 or 8); other widths read 0 / do nothing. */
uint64_t mmio_read(uint64_t addr, unsigned width);
void mmio_write(uint64_t addr, unsigned width, uint64_t v);
/* Width-generic port forms (width 1, 2 or 4), zero-extended. */
uint32_t pio_read(uint16_t port, unsigned width);
void pio_write(uint16_t port, unsigned width, uint32_t v);

/* ---- console ---- */

/* Program COM1 for 115200 8N1 with FIFOs on; optional (output works without). */
void serial_init(void);
/* Write one byte to COM1, polling LSR.THRE first ("\n" is sent as-is). */
void serial_putc(char c);
void serial_puts(const char *s);
/* Write a string to the debug console port 0xe9 (one outb per byte). */
void debugcon_puts(const char *s);
/* gprint() and gvprint() (to COM1) are in report.h. */

/* ---- exit ---- */

/* Exit code of a guest stopped by a CPU exception (vectors 0-31). */
#define GUEST_EXIT_EXCEPTION 0x7e
/* test_summary() caps the failure count here, below GUEST_EXIT_EXCEPTION. */
#define GUEST_EXIT_MAX_FAILURES 0x7d

/*
 * RDMSR / WRMSR of MSR @index that survive a #GP (an MSR nobody implements):
 * 0 on success, -1 when the instruction faulted (then *@value is untouched).
 */
int msr_read_safe(uint32_t index, uint64_t *value);
int msr_write_safe(uint32_t index, uint64_t value);

/* Write `code` to the debug-exit port 0xf4, then cli; hlt forever. */
__attribute__((noreturn)) void guest_exit(int code);

/* ---- interrupts ---- */

/*
 * The IDT routes vectors 32-63 (IRQ_VECTOR_FIRST..) and 255 to handlers
 * registered here; other vectors above 31 are not present (#NP, printed as
 * an exception). A handler runs with interrupts off and must send the EOI
 * (pic_eoi() or lapic_eoi()) itself.
 */
#define IRQ_VECTOR_FIRST 32
#define IRQ_VECTOR_COUNT 32
#define IRQ_VECTOR_SPURIOUS 255
typedef void (*irq_handler_fn)(unsigned vector);
/* Register @fn (NULL: none) for @vector; returns -1 for a vector without a stub. */
int irq_set_handler(unsigned vector, irq_handler_fn fn);
/* Interrupts that arrived on a vector without a handler. */
unsigned irq_unhandled(void);

static inline void irq_enable(void)
{
    __asm__ volatile("sti" : : : "memory");
}
static inline void irq_disable(void)
{
    __asm__ volatile("cli" : : : "memory");
}
/*
 * Wait for the next interrupt: `sti; hlt` (the STI shadow covers HLT, so an
 * interrupt pending already is not lost). Returns with interrupts enabled.
 * Without an interrupt controller (vmio without --irqchip) HLT ends the VM.
 */
static inline void irq_wait(void)
{
    __asm__ volatile("sti; hlt" : : : "memory");
}

/*
 * 8259A PIC pair: pic_init() remaps IRQ 0-7 to @base..@base+7 and IRQ 8-15
 * to @base+8.., edge-triggered, and masks every input but the cascade (2).
 */
void pic_init(uint8_t base);
void pic_set_mask(unsigned irq, int masked);
/* Non-specific EOI to the master (and the slave for IRQ 8-15). */
void pic_eoi(unsigned irq);
/* Interrupt request / in-service registers, slave in bits 15:8 (OCW3). */
uint16_t pic_irr(void);
uint16_t pic_isr(void);

/* IOAPIC at 0xfec00000 and the local APIC at 0xfee00000 (xAPIC MMIO). */
#define IOAPIC_BASE 0xfec00000u
#define LAPIC_BASE 0xfee00000u
uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
/* Redirection entry of @pin: @vector, fixed, edge, active high, to APIC 0. */
void ioapic_route(unsigned pin, uint8_t vector, int masked);
/* Software-enable the local APIC (spurious vector 255, TPR 0). */
void lapic_enable(void);
/*
 * Virtual-wire mode, as a PC BIOS leaves it: the local APIC enabled, LINT0 =
 * ExtINT (the PIC's output reaches the CPU), LINT1 = NMI. KVM's reset state
 * already routes the PIC to vCPU 0; QEMU's microvm needs this.
 */
void lapic_virtual_wire(void);
void lapic_eoi(void);

/* ---- SMP: atomics, local APIC IPIs, starting application processors ---- */

/* PAUSE: the spin-wait hint (also lets KVM see a spinning vCPU). */
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" : : : "memory");
}
/* Loads and stores of aligned 32-bit values are atomic on x86; these also stop the compiler. */
static inline uint32_t atomic_load32(const volatile uint32_t *p)
{
    uint32_t v;
    __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*p) : "memory");
    return v;
}
static inline void atomic_store32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("movl %1, %0" : "=m"(*p) : "r"(v) : "memory");
}
/* LOCK XADD: adds @v to *@p and returns the old value (a full barrier). */
static inline uint32_t atomic_fetch_add32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}
/* LOCK INC. */
static inline void atomic_inc32(volatile uint32_t *p)
{
    __asm__ volatile("lock incl %0" : "+m"(*p) : : "memory");
}
/* LOCK CMPXCHG: if *@p == @old store @new; returns the value *@p had. */
static inline uint32_t atomic_cmpxchg32(volatile uint32_t *p, uint32_t old, uint32_t new_value)
{
    __asm__ volatile("lock cmpxchgl %2, %1" : "+a"(old), "+m"(*p) : "r"(new_value) : "memory");
    return old;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
/*
 * Spin with PAUSE until *@flag != 0 or @max_cycles TSC cycles have passed.
 * Returns the flag's value (0 on timeout).
 */
uint32_t spin_wait_nonzero(const volatile uint32_t *flag, uint64_t max_cycles);

/* This CPU's local APIC ID (bits 31:24 of the xAPIC ID register). */
uint32_t lapic_id(void);
/*
 * Send an IPI through the local APIC's ICR: @icr_low (vector, delivery mode,
 * level, trigger) to @apic_id (physical destination). Writes ICR high, then
 * ICR low (which sends), then waits (bounded) for the delivery-status bit.
 */
void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
/* INIT (assert, level) and STARTUP with @vector (the AP starts at @vector * 4 KiB). */
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t vector);

/*
 * Starting an application processor: ap_start() copies the real-mode
 * trampoline (boot.S) to AP_TRAMPOLINE_ADDR (below 1 MiB; that page and the
 * next are the runtime's), software-enables this CPU's local APIC if it is
 * not (lapic_enable(): KVM sends no IPI from a disabled one), sends
 * INIT-SIPI-SIPI to @apic_id, and the AP
 * switches to 64-bit long mode with the BSP's GDT, IDT and page tables, its
 * own stack (@stack_top, 16-byte aligned, owned by the caller) and calls
 * @fn(@arg); if @fn returns the AP does `cli; hlt` forever. Returns 0 once
 * the AP has reached long mode (before @fn runs), -1 when it has not after
 * about @max_cycles TSC cycles (no such CPU, no local APIC, no SMP: e.g.
 * vmio without --cpus). One AP at a time: call again only after it returned.
 */
#define AP_TRAMPOLINE_ADDR 0x8000u
typedef void (*ap_entry_fn)(void *arg);
int ap_start(uint32_t apic_id, ap_entry_fn fn, void *arg, void *stack_top, uint64_t max_cycles);

/* ---- tests ---- */

/* check_eq(), check_eqf(), check_true(), test_skip(), test_failures(), test_summary(): report.h */

/* True when vmio's testdev answers at VMIO_TESTDEV_MMIO_BASE (PATTERN reads right). */
int testdev_present(void);

/* The entry point each guest defines; its return value is the exit code. */
int guest_main(uint32_t mb_magic, uint32_t mb_info);

#endif
