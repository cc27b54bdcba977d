/*
 * vmio's AArch64 guest runtime (guest.h): PL011 output, gprint, checks,
 * abort handling and the exit.
 * Invariants: integer-only; every loop is bounded (a wedged UART cannot hang
 * a guest); the compiler may not turn loops into library calls (built with
 * -ffreestanding -fno-builtin; memset/memcpy are provided for it anyway).
 */
#include "guest.h"

#define PL011_DR 0x000
#define PL011_FR 0x018
#define FR_TXFF 0x20

static volatile unsigned probing, probe_faults;

void guest_start(void);
void guest_exception(uint64_t kind, uint64_t *frame);

void serial_putc(char c)
{
    for (int i = 0; i < 100000 && (mmio_read32(UART_BASE + PL011_FR) & FR_TXFF); i++)
        ;
    mmio_write32(UART_BASE + PL011_DR, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static uint64_t read_esr(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(v));
    return v;
}

void probe_begin(void)
{
    probe_faults = 0;
    probing = 1;
}

unsigned probe_end(void)
{
    probing = 0;
    return probe_faults;
}

/* From boot.S: @kind is the vector (0-15), @frame the saved registers. */
void guest_exception(uint64_t kind, uint64_t *frame)
{
    (void)frame;
    uint64_t esr = read_esr(), elr, far;
    __asm__ volatile("mrs %0, elr_el1" : "=r"(elr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    unsigned ec = (unsigned)(esr >> 26) & 0x3f;
    if (probing && (kind == 0 || kind == 4) && (ec == 0x25 || ec == 0x24)) {
        probe_faults++;
        elr += 4;
        __asm__ volatile("msr elr_el1, %0" : : "r"(elr));
        return;
    }
    probing = 0;
    gprint("EXCEPTION vector %lu ESR 0x%lx ELR 0x%lx FAR 0x%lx\n", kind, esr, elr, far);
    guest_exit(GUEST_EXIT_EXCEPTION);
}

void guest_exit(int code)
{
    uint32_t status = ((uint32_t)code << 1) | 1;
    probe_begin();
    mmio_write32(DEBUG_EXIT_BASE, (uint32_t)code); /* vmio: the run ends here */
    probe_end();
    /* QEMU: semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit and the status. */
    uint64_t block[2] = {0x20026, status};
    register uint64_t w0 __asm__("x0") = 0x18;
    register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
    __asm__ volatile("hlt #0xf000" : "+r"(w0) : "r"(x1) : "memory");
    /* PSCI SYSTEM_OFF */
    register uint64_t fn __asm__("x0") = 0x84000008;
    __asm__ volatile("hvc #0" : "+r"(fn) : : "memory");
    for (;;)
        __asm__ volatile("wfi");
}

int testdev_present(void)
{
    probe_begin();
    uint64_t v = mmio_read64(VMIO_TESTDEV_BASE + VMIO_TESTDEV_PATTERN);
    unsigned faults = probe_end();
    return !faults && v == VMIO_TESTDEV_PATTERN_VALUE;
}

void guest_start(void)
{
    guest_exit(guest_main());
}
