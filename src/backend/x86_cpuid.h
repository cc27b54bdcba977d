/*
 * CPUID for one vCPU of an N-vCPU x86 VM, from what the hypervisor supports.
 *
 * A hypervisor reports the CPUID leaves it can give a guest (KVM:
 * KVM_GET_SUPPORTED_CPUID); a VMM must still fill in what only it knows:
 * which vCPU this is (its APIC ID) and how many there are (the topology
 * leaves a kernel reads to count packages, cores and threads), and that the
 * guest runs under a hypervisor. vmio_x86_cpuid_for_vcpu() does that on a plain
 * array of entries, so it is tested without KVM and shared by every x86
 * backend. The topology it describes: one package, @count cores, one thread
 * per core, APIC ID = vCPU index (what the MADT says, see vmio/acpi.h).
 *
 * Invariant: entries are only changed in place (never added or removed), so
 * the array keeps the hypervisor's exact set of leaves; leaves the function
 * does not know pass through untouched.
 */
#ifndef VMIO_BACKEND_X86_CPUID_H
#define VMIO_BACKEND_X86_CPUID_H

#include <stdint.h>

struct x86_cpuid_entry {
    uint32_t function, index; /* leaf and subleaf */
    uint32_t eax, ebx, ecx, edx;
};

#define X86_CPUID_HYPERVISOR (1u << 31) /* leaf 1 ECX: running under a hypervisor */
#define X86_CPUID_HTT (1u << 28)        /* leaf 1 EDX: more than one logical CPU */

/*
 * vmio_x86_cpuid_for_vcpu - adjust @n entries of @e (a copy of the supported
 * CPUID) for vCPU @index of @count (count >= 1, index < count; other values
 * are clamped so the result is always self-consistent): leaf 1 (initial APIC
 * ID, logical processor count, HTT, hypervisor bit), leaf 4 (Intel cache
 * topology: cores per package, threads sharing each cache), leaves 0xB and
 * 0x1F (x2APIC topology: thread and core levels, x2APIC ID), 0x80000008
 * (AMD core count and APIC ID size) and 0x8000001E (AMD extended APIC ID).
 */
void vmio_x86_cpuid_for_vcpu(struct x86_cpuid_entry *e, unsigned n, unsigned index, unsigned count);

/* vmio_x86_cpuid_apic_id_bits - bits of APIC ID that number @count cores (0 for 1). */
unsigned vmio_x86_cpuid_apic_id_bits(unsigned count);

#endif
