/*
 * vmio's AArch64 freestanding guest runtime: the PL011 console (0x09000000,
 * as on QEMU's virt board), gprint, checks, MMIO helpers that compile to
 * exactly one load or store of the named width, a probe that survives an
 * abort (QEMU has no device at vmio's test addresses), and the exit.
 * Invariants: no floating point or SIMD (built with -mgeneral-regs-only),
 * no libc, no unaligned accesses (-mstrict-align: the MMU stays off, so all
 * of memory is Device memory); every device access is one instruction.
 */
#ifndef VMIO_GUEST_ARM64_H
#define VMIO_GUEST_ARM64_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h" /* guest/common: gprint and the check helpers */
#include "vmio/testdev_regs.h"

#define UART_BASE 0x09000000ull
#define VMIO_TESTDEV_BASE 0x0b000000ull    /* VMIO_ARM64_TESTDEV_BASE */
#define DEBUG_EXIT_BASE 0x0b001000ull /* VMIO_ARM64_DEBUG_EXIT_BASE */
#define UNCLAIMED_BASE 0x0c800000ull  /* nothing there, under vmio or QEMU */

/* ---- one access of the named width (ISV=1 aborts: the syndrome describes them) ---- */

static inline uint8_t mmio_read8(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return (uint8_t)v;
}
static inline uint16_t mmio_read16(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return (uint16_t)v;
}
static inline uint32_t mmio_read32(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline uint64_t mmio_read64(uint64_t a)
{
    uint64_t v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void mmio_write8(uint64_t a, uint8_t v)
{
    __asm__ volatile("strb %w0, [%1]" : : "r"((uint32_t)v), "r"(a) : "memory");
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
    __asm__ volatile("strh %w0, [%1]" : : "r"((uint32_t)v), "r"(a) : "memory");
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(a) : "memory");
}
static inline void mmio_write64(uint64_t a, uint64_t v)
{
    __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(a) : "memory");
}
uint64_t mmio_read(uint64_t addr, unsigned width);
void mmio_write(uint64_t addr, unsigned width, uint64_t v);

/* ---- console ---- */
void serial_putc(char c);
void serial_puts(const char *s);
/* gprint() and gvprint() (to the PL011) are in report.h. */

/* ---- aborts ---- */
/*
 * Probing: while probe_begin() is in effect a synchronous data abort is not
 * fatal: the faulting instruction is skipped (its destination keeps what it
 * had) and probe_end() returns the number of aborts taken. Any other
 * exception (or an abort outside a probe) prints ESR/ELR/FAR and exits with
 * GUEST_EXIT_EXCEPTION.
 */
void probe_begin(void);
unsigned probe_end(void);
#define GUEST_EXIT_EXCEPTION 0x7e
#define GUEST_EXIT_MAX_FAILURES 0x7d

/*
 * Stop with @code: vmio's debug-exit (status (code << 1) | 1); where it is
 * missing (QEMU), semihosting's SYS_EXIT with that same status (QEMU with
 * -semihosting), then PSCI SYSTEM_OFF, then WFI forever.
 */
__attribute__((noreturn)) void guest_exit(int code);

/* ---- tests ---- */
/* check_eq(), check_eqf(), check_true(), test_skip(), test_failures(), test_summary(): report.h */
/* True when vmio's testdev answers at VMIO_TESTDEV_BASE (a probe: QEMU aborts there). */
int testdev_present(void);

/* Each guest defines it; its return value is the exit code. */
int guest_main(void);

#endif
