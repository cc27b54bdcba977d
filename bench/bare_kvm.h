/*
 * bare_kvm: the comparator for bench/exit_bench.c, a minimal KVM_RUN loop
 * written straight against <linux/kvm.h> with the device handled inline.
 *
 * This is the one place outside src/kvm that uses the KVM API, and it exists
 * only to measure vmio against it: it is never linked into libvmio or the
 * vmio command. The header itself includes no KVM header.
 *
 * Invariants: one VM with one vCPU and RAM at guest-physical 0; no in-kernel
 * irqchip (so HLT exits to user space, as in vmio); the guest runs in flat
 * 32-bit protected mode with paging off, the state vmio's multiboot setup
 * gives a vCPU.
 */
#ifndef VMIO_BENCH_BARE_KVM_H
#define VMIO_BENCH_BARE_KVM_H

#include <stddef.h>
#include <stdint.h>

struct bare_vm;

/* What the inline "device" saw during one bare_vm_run(). */
struct bare_result {
    uint64_t exits;    /* KVM_RUN returns, the final HLT included */
    uint64_t accesses; /* PIO or MMIO exits that hit the device window */
    uint64_t sum;      /* sum of written values (the trivial device's state) */
};

/*
 * bare_vm_create - open /dev/kvm, create a VM with @mem_size bytes of RAM at
 * 0 and one vCPU in flat 32-bit protected mode. The inline device answers
 * ports [@port, @port + 0x100) and MMIO [@mmio, @mmio + 0x1000).
 * Returns 0 or -errno (a message is printed to stderr).
 */
int bare_vm_create(struct bare_vm **out, size_t mem_size, uint16_t port, uint64_t mmio);

/* bare_vm_mem - host address of guest-physical 0 (mem_size bytes). */
uint8_t *bare_vm_mem(struct bare_vm *vm);

/* bare_vm_reset - set EIP to @entry, the other GPRs to 0, RFLAGS to 0x2. */
int bare_vm_reset(struct bare_vm *vm, uint64_t entry);

/*
 * bare_vm_run - KVM_RUN until the guest halts, handling device exits inline.
 * Returns 0, or -errno for a failing ioctl or an exit it does not expect.
 */
int bare_vm_run(struct bare_vm *vm, struct bare_result *res);

/* bare_vm_destroy - close and unmap everything (@vm may be NULL). */
void bare_vm_destroy(struct bare_vm *vm);

#endif
