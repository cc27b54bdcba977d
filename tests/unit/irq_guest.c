/*
 * The guest of tests/unit/test_irq_kvm.c: proves that an interrupt line vmio
 * drives (vmio_vm_set_irq(), KVM_IRQ_LINE) reaches the guest, through the
 * in-kernel PIC and through the IOAPIC and local APIC, and that a masked
 * line does not.
 *
 * Protocol: a write of N to port IRQ_REQ_PORT asks the host's test device
 * to pulse GSI N (high then low: an edge). The guest exits through the
 * debug-exit port with a bit mask of what it saw: 1 the PIC's vector for
 * GSI 5, 2 the IOAPIC's vector for GSI 10, and 4 if the masked GSI 6
 * delivered anything (an error). Exit code 3 means all is well; any
 * exception exits with GUEST_EXIT_EXCEPTION.
 */
#include "guest.h"

#define IRQ_REQ_PORT 0x7200
#define PIC_BASE 0x20
#define VEC_PIC5 (PIC_BASE + 5)
#define VEC_PIC6 (PIC_BASE + 6)
#define VEC_IOAPIC10 0x3a

static volatile uint32_t seen;

static void on_irq(unsigned vector)
{
    if (vector == VEC_PIC5) {
        seen |= 1;
        pic_eoi(5);
    } else if (vector == VEC_IOAPIC10) {
        seen |= 2;
        lapic_eoi();
    } else if (vector == VEC_PIC6) {
        seen |= 4;
        pic_eoi(6);
    }
}

/* Ask for a pulse on @gsi, then give it up to @tries exits to arrive (interrupts on). */
static void pulse_and_wait(unsigned gsi, uint32_t bit, unsigned tries)
{
    outb(IRQ_REQ_PORT, (uint8_t)gsi);
    for (unsigned i = 0; i < tries && !(seen & bit); i++) {
        irq_enable();
        (void)inb(IRQ_REQ_PORT + 1); /* an exit: the interrupt is injected on re-entry */
        irq_disable();
    }
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    pic_init(PIC_BASE);
    lapic_virtual_wire();
    irq_set_handler(VEC_PIC5, on_irq);
    irq_set_handler(VEC_PIC6, on_irq);
    irq_set_handler(VEC_IOAPIC10, on_irq);

    /* GSI 6 stays masked in the PIC: its edge must not become an interrupt. */
    pulse_and_wait(6, 4, 20);
    /* GSI 5 through the PIC. */
    pic_set_mask(5, 0);
    pulse_and_wait(5, 1, 1000);
    /* GSI 10 through the IOAPIC (pin 10) and the local APIC; the PIC's input 10 stays masked. */
    ioapic_route(10, VEC_IOAPIC10, 0);
    pulse_and_wait(10, 2, 1000);
    guest_exit((int)seen);
}
