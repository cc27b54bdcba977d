/*
 * signals: job control and debuggers must not end a VM. Run by
 * run_guest.py's signals mode (`vmio run --irqchip`, then `--cpus 2`, COM1
 * on stdio): the guest announces each phase on COM1 and waits for one input
 * byte; meanwhile the runner stops and continues vmio (SIGSTOP/SIGCONT,
 * SIGTSTP/SIGCONT as Ctrl-Z then fg) and attaches to and detaches from
 * every thread like a debugger (ptrace), and only then sends the byte. A
 * VMM that let any of that end the run fails the phase.
 *   1. spinning: the vCPU polls LSR (an exit per poll) until the byte;
 *   2. halted: COM1's receive interrupt through the PIC, `sti; hlt` until
 *      it arrives (the vCPU sleeps inside KVM: in-kernel irqchip);
 *   3. with a second CPU (--cpus 2): the AP sleeps in `cli; hlt` for good
 *      and the BSP waits halted again.
 * Without a second CPU phase 3 says SKIP.
 */
#include "guest.h"

#define COM1 VMIO_COM1_PORT
#define RBR 0
#define IER 1
#define IIR 2
#define MCR 4
#define LSR 5
#define IER_RDI 0x01
#define MCR_ON 0x0b /* DTR, RTS, OUT2 (the PC's interrupt gate) */
#define PIC_BASE 0x20
#define COM1_IRQ 4

static volatile int rx_byte = -1;
static uint8_t ap_stack[4096] __attribute__((aligned(16)));

static void uart_isr(unsigned vector)
{
    (void)vector;
    uint8_t iir = inb(COM1 + IIR);
    if ((iir & 0x0f) == 0x04 || (iir & 0x0f) == 0x0c)
        rx_byte = inb(COM1 + RBR);
    pic_eoi(COM1_IRQ);
}

static int wait_spinning(void)
{
    gprint("signals: phase 1, spinning: send a byte\n");
    while (!(inb(COM1 + LSR) & 0x01))
        ;
    return inb(COM1 + RBR);
}

static int wait_halted(const char *phase)
{
    rx_byte = -1;
    gprint("signals: %s, halted: send a byte\n", phase);
    while (rx_byte < 0)
        irq_wait();
    irq_disable();
    return rx_byte;
}

static void ap_sleep(void *arg)
{
    (void)arg; /* returning parks the AP in `cli; hlt` */
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    check_eq("phase 1: the byte sent while spinning", (uint64_t)wait_spinning(), '1');

    pic_init(PIC_BASE);
    lapic_virtual_wire(); /* the PIC's output through LINT0, as a BIOS leaves it (QEMU needs it) */
    irq_set_handler(PIC_BASE + COM1_IRQ, uart_isr);
    pic_set_mask(COM1_IRQ, 0);
    outb(COM1 + MCR, MCR_ON);
    outb(COM1 + IER, IER_RDI);
    check_eq("phase 2: the byte sent while halted", (uint64_t)wait_halted("phase 2"), '2');

    if (ap_start(1, ap_sleep, 0, ap_stack + sizeof(ap_stack), 2000000000ULL) < 0) {
        test_skip("phase 3: no second CPU");
    } else {
        check_eq("phase 3: the byte sent while both CPUs sleep",
                 (uint64_t)wait_halted("phase 3"), '3');
    }
    outb(COM1 + IER, 0);
    return test_summary("signals");
}
