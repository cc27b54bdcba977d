/*
 * vmio freestanding guest runtime: serial console, gprint, exit and test
 * helpers, the IDT, the interrupt-controller helpers and the SMP helpers
 * (INIT/SIPI, ap_start(); see guest.h).
 * Invariants: integer-only; every loop is bounded so a wedged UART cannot hang
 * a guest forever; the compiler may not turn loops into memset/memcpy calls
 * (built with -ffreestanding -fno-builtin; memset/memcpy are still provided).
 */
#include "guest.h"

#define COM1 VMIO_COM1_PORT
#define LSR_THRE 0x20

void *memcpy(void *d, const void *s, size_t n); /* guest/common/mem.c */


uint32_t pio_read(uint16_t port, unsigned width)
{
    switch (width) {
    case 1:
        return inb(port);
    case 2:
        return inw(port);
    case 4:
        return inl(port);
    }
    return 0;
}

void pio_write(uint16_t port, unsigned width, uint32_t v)
{
    switch (width) {
    case 1:
        outb(port, (uint8_t)v);
        break;
    case 2:
        outw(port, (uint16_t)v);
        break;
    case 4:
        outl(port, v);
        break;
    }
}

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* LCR: DLAB */
    outb(COM1 + 0, 0x01); /* DLL: 115200 */
    outb(COM1 + 1, 0x00); /* DLM */
    outb(COM1 + 3, 0x03); /* LCR: 8N1 */
    outb(COM1 + 2, 0x07); /* FCR: enable and clear FIFOs */
    outb(COM1 + 4, 0x03); /* MCR: DTR | RTS */
}

void serial_putc(char c)
{
    /* Bounded poll: an emulated UART is always ready; never hang on a bad one. */
    for (int i = 0; i < 100000; i++) {
        if (inb(COM1 + 5) & LSR_THRE)
            break;
    }
    outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void debugcon_puts(const char *s)
{
    while (*s)
        outb(VMIO_DEBUGCON_PORT, (uint8_t)*s++);
}

void guest_exit(int code)
{
    outb(VMIO_DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- CPU exceptions ---- */

struct idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

/* 256 entries: 0-31 exceptions, 32-63 and 255 interrupts, the rest not present (#NP). */
static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t exc_stubs[32];
extern const uint64_t irq_stubs[IRQ_VECTOR_COUNT + 1];

static void idt_set(unsigned v, uint64_t a)
{
    idt[v] =
        (struct idt_entry){(uint16_t)a, 0x08, 0, 0x8e, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
}

/* The IDT descriptor for LIDT (the BSP builds the table once, every CPU loads it). */
void idt_load(void);
void idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(desc));
}

void idt_init(void);
void idt_init(void)
{
    for (unsigned v = 0; v < 32; v++)
        idt_set(v, exc_stubs[v]);
    for (unsigned i = 0; i < IRQ_VECTOR_COUNT; i++)
        idt_set(IRQ_VECTOR_FIRST + i, irq_stubs[i]);
    idt_set(IRQ_VECTOR_SPURIOUS, irq_stubs[IRQ_VECTOR_COUNT]);
    idt_load();
}

/* ---- external interrupts ---- */

static irq_handler_fn irq_handlers[IRQ_VECTOR_COUNT + 1];
static volatile unsigned irq_unhandled_count;

static unsigned irq_slot(unsigned vector)
{
    if (vector == IRQ_VECTOR_SPURIOUS)
        return IRQ_VECTOR_COUNT;
    if (vector >= IRQ_VECTOR_FIRST && vector < IRQ_VECTOR_FIRST + IRQ_VECTOR_COUNT)
        return vector - IRQ_VECTOR_FIRST;
    return IRQ_VECTOR_COUNT + 1;
}

int irq_set_handler(unsigned vector, irq_handler_fn fn)
{
    unsigned i = irq_slot(vector);
    if (i > IRQ_VECTOR_COUNT)
        return -1;
    irq_handlers[i] = fn;
    return 0;
}

unsigned irq_unhandled(void)
{
    return irq_unhandled_count;
}

void guest_irq(uint64_t vector);
void guest_irq(uint64_t vector)
{
    unsigned i = irq_slot((unsigned)vector);
    if (i <= IRQ_VECTOR_COUNT && irq_handlers[i])
        irq_handlers[i]((unsigned)vector);
    else
        irq_unhandled_count++;
}

/* 8259A pair: master at 0x20/0x21, slave at 0xa0/0xa1, slave on master input 2. */
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void pic_init(uint8_t base)
{
    outb(PIC1_CMD, 0x11); /* ICW1: edge, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, base);                /* ICW2: vector base of IRQ 0-7 */
    outb(PIC2_DATA, (uint8_t)(base + 8)); /* IRQ 8-15 */
    outb(PIC1_DATA, 0x04);                /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, 0x02);                /* slave identity 2 */
    outb(PIC1_DATA, 0x01);                /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, 0xfb); /* all masked but the cascade */
    outb(PIC2_DATA, 0xff);
}

void pic_set_mask(unsigned irq, int masked)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    uint8_t bit = (uint8_t)(1u << (irq & 7));
    uint8_t m = inb(port);
    outb(port, masked ? (uint8_t)(m | bit) : (uint8_t)(m & ~bit));
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, 0x20);
    outb(PIC1_CMD, 0x20); /* non-specific EOI */
}

uint16_t pic_irr(void)
{
    outb(PIC1_CMD, 0x0a); /* OCW3: read IRR */
    outb(PIC2_CMD, 0x0a);
    return (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
}

uint16_t pic_isr(void)
{
    outb(PIC1_CMD, 0x0b); /* OCW3: read ISR */
    outb(PIC2_CMD, 0x0b);
    uint16_t v = (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
    outb(PIC1_CMD, 0x0a);
    outb(PIC2_CMD, 0x0a);
    return v;
}

/* IOAPIC: index register at +0x00, data window at +0x10. */
uint32_t ioapic_read(unsigned reg)
{
    mmio_write32(IOAPIC_BASE, reg);
    return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(unsigned reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE, reg);
    mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned pin, uint8_t vector, int masked)
{
    /* fixed delivery, physical destination APIC 0, active high, edge */
    ioapic_write(0x11 + 2 * pin, 0);
    ioapic_write(0x10 + 2 * pin, vector | (masked ? 0x10000u : 0));
}

void lapic_enable(void)
{
    /* SVR: software enable (bit 8), spurious vector 255 */
    mmio_write32(LAPIC_BASE + 0xf0, 0x100 | IRQ_VECTOR_SPURIOUS);
    mmio_write32(LAPIC_BASE + 0x80, 0); /* TPR: accept every priority */
}

void lapic_virtual_wire(void)
{
    lapic_enable();
    mmio_write32(LAPIC_BASE + 0x350, 0x700); /* LVT LINT0: ExtINT, unmasked */
    mmio_write32(LAPIC_BASE + 0x360, 0x400); /* LVT LINT1: NMI */
}

void lapic_eoi(void)
{
    mmio_write32(LAPIC_BASE + 0xb0, 0);
}

/* ---- SMP ---- */

uint32_t spin_wait_nonzero(const volatile uint32_t *flag, uint64_t max_cycles)
{
    uint64_t start = rdtsc();
    uint32_t v;
    while ((v = atomic_load32(flag)) == 0 && rdtsc() - start < max_cycles)
        cpu_relax();
    return v;
}

uint32_t lapic_id(void)
{
    return mmio_read32(LAPIC_BASE + 0x20) >> 24;
}

#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_DELIVERY_PENDING 0x1000u
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_LEVEL_ASSERT 0x4000u
#define ICR_TRIGGER_LEVEL 0x8000u

void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
    mmio_write32(LAPIC_BASE + LAPIC_ICR_HIGH, apic_id << 24);
    mmio_write32(LAPIC_BASE + LAPIC_ICR_LOW, icr_low);
    for (int i = 0; i < 1000; i++) {
        if (!(mmio_read32(LAPIC_BASE + LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING))
            break;
        cpu_relax();
    }
}

void lapic_send_init(uint32_t apic_id)
{
    lapic_send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t vector)
{
    lapic_send_ipi(apic_id, ICR_STARTUP | vector);
}

extern const uint8_t ap_tramp_start[], ap_tramp_end[];
extern volatile uint64_t ap_boot_stack;
static volatile uint64_t ap_fn, ap_arg;
static volatile uint32_t ap_arrived;

/* Idle between the SIPIs: the AP normally needs much less. */
#define SIPI_GAP_CYCLES 200000u

/* Where the trampoline lands in 64-bit mode (boot.S ap_long_entry), on the AP's stack. */
__attribute__((noreturn)) void ap_entry(void);
void ap_entry(void)
{
    idt_load();
    ap_entry_fn fn = (ap_entry_fn)(uintptr_t)ap_fn;
    void *arg = (void *)(uintptr_t)ap_arg;
    atomic_store32(&ap_arrived, 1); /* after reading fn/arg: the BSP may reuse them */
    fn(arg);
    for (;;)
        __asm__ volatile("cli; hlt");
}

int ap_start(uint32_t apic_id, ap_entry_fn fn, void *arg, void *stack_top, uint64_t max_cycles)
{
    memcpy((void *)(uintptr_t)AP_TRAMPOLINE_ADDR, ap_tramp_start,
           (size_t)(ap_tramp_end - ap_tramp_start));
    ap_fn = (uint64_t)(uintptr_t)fn;
    ap_arg = (uint64_t)(uintptr_t)arg;
    ap_boot_stack = (uint64_t)(uintptr_t)stack_top;
    atomic_store32(&ap_arrived, 0);
    if (!(mmio_read32(LAPIC_BASE + 0xf0) & 0x100)) /* KVM sends no IPI from a disabled LAPIC */
        lapic_enable();
    uint8_t vector = (uint8_t)(AP_TRAMPOLINE_ADDR >> 12);
    lapic_send_init(apic_id);
    lapic_send_sipi(apic_id, vector);
    if (spin_wait_nonzero(&ap_arrived, SIPI_GAP_CYCLES))
        return 0;
    lapic_send_sipi(apic_id, vector); /* the second SIPI of the MP protocol */
    return spin_wait_nonzero(&ap_arrived, max_cycles) ? 0 : -1;
}

/* The one instruction allowed to fault with #GP, and where to go then (msr_*_safe()). */
static volatile uint64_t gp_fixup_at, gp_fixup_to;
static volatile int gp_faulted;

uint64_t guest_exception(uint64_t vector, uint64_t error, uint64_t rip);
uint64_t guest_exception(uint64_t vector, uint64_t error, uint64_t rip)
{
    if (vector == 13 && gp_fixup_at && rip == gp_fixup_at) {
        gp_faulted = 1;
        return gp_fixup_to;
    }
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    gprint("EXCEPTION vector %lu error 0x%lx rip 0x%lx cr2 0x%lx\n", vector, error, rip, cr2);
    guest_exit(GUEST_EXIT_EXCEPTION);
}

int msr_read_safe(uint32_t index, uint64_t *value)
{
    uint32_t lo = 0, hi = 0;
    gp_faulted = 0;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "movq %%r8, %[at]\n\t"
                     "leaq 2f(%%rip), %%r8\n\t"
                     "movq %%r8, %[to]\n\t"
                     "1: rdmsr\n\t"
                     "2:"
                     : "=a"(lo), "=d"(hi), [at] "=m"(gp_fixup_at), [to] "=m"(gp_fixup_to)
                     : "c"(index)
                     : "r8", "memory");
    gp_fixup_at = 0;
    if (gp_faulted)
        return -1;
    *value = (uint64_t)hi << 32 | lo;
    return 0;
}

int msr_write_safe(uint32_t index, uint64_t value)
{
    gp_faulted = 0;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "movq %%r8, %[at]\n\t"
                     "leaq 2f(%%rip), %%r8\n\t"
                     "movq %%r8, %[to]\n\t"
                     "1: wrmsr\n\t"
                     "2:"
                     : [at] "=m"(gp_fixup_at), [to] "=m"(gp_fixup_to)
                     : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "r8", "memory");
    gp_fixup_at = 0;
    return gp_faulted ? -1 : 0;
}

/* ---- tests ---- */

int testdev_present(void)
{
    return mmio_read64(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_PATTERN) == VMIO_TESTDEV_PATTERN_VALUE;
}
