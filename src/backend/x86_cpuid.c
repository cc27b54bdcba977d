/*
 * CPUID topology for one vCPU (see x86_cpuid.h). The layouts are those of
 * the Intel SDM (CPUID leaves 1, 4, 0xB, 0x1F) and the AMD APM (0x80000008,
 * 0x8000001E); the vendor decides which cache leaf applies, the presence of
 * a leaf in the supported set decides the rest.
 */
#include <string.h>

#include "backend/x86_cpuid.h"

unsigned vmio_x86_cpuid_apic_id_bits(unsigned count)
{
    unsigned bits = 0;
    while (bits < 31 && (1u << bits) < count)
        bits++;
    return bits;
}

static int is_intel(const struct x86_cpuid_entry *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].function == 0 && e[i].index == 0)
            return e[i].ebx == 0x756e6547 && e[i].edx == 0x49656e69 && e[i].ecx == 0x6c65746e;
    return 0; /* "GenuineIntel" */
}

/* Leaves 0xB and 0x1F: level 0 is the thread (SMT), level 1 the core. */
static void topology_leaf(struct x86_cpuid_entry *x, unsigned index, unsigned count)
{
    unsigned shift = vmio_x86_cpuid_apic_id_bits(count);
    switch (x->index) {
    case 0: /* SMT: one thread per core */
        x->eax = 0;
        x->ebx = 1;
        x->ecx = (1u << 8) | 0;
        break;
    case 1: /* core: @count cores in the package */
        x->eax = shift;
        x->ebx = count;
        x->ecx = (2u << 8) | 1;
        break;
    default: /* no further level */
        x->eax = 0;
        x->ebx = 0;
        x->ecx = x->index & 0xff;
        break;
    }
    x->edx = index;
}

void vmio_x86_cpuid_for_vcpu(struct x86_cpuid_entry *e, unsigned n, unsigned index, unsigned count)
{
    if (count == 0)
        count = 1;
    if (count > 255)
        count = 255; /* xAPIC IDs: 8 bits, 0xff is the broadcast ID */
    if (index >= count)
        index = count - 1;
    int intel = is_intel(e, n);
    unsigned shift = vmio_x86_cpuid_apic_id_bits(count);
    for (unsigned i = 0; i < n; i++) {
        struct x86_cpuid_entry *x = &e[i];
        switch (x->function) {
        case 1:
            x->ebx = (x->ebx & 0x0000ffffu) | (count << 16) | (index << 24);
            x->ecx |= X86_CPUID_HYPERVISOR;
            x->edx = count > 1 ? x->edx | X86_CPUID_HTT : x->edx & ~X86_CPUID_HTT;
            break;
        case 4: /* deterministic cache parameters (Intel) */
            if (!intel || (x->eax & 0x1f) == 0)
                break;
            {
                unsigned level = (x->eax >> 5) & 7;
                unsigned sharing = level >= 3 ? count - 1 : 0;
                x->eax = (x->eax & 0x3fffu) | (sharing << 14) | ((count - 1) << 26);
            }
            break;
        case 0xb:
        case 0x1f:
            topology_leaf(x, index, count);
            break;
        case 0x80000008: /* AMD: number of cores - 1, APIC ID bits per core */
            x->ecx = (x->ecx & ~0xf0ffu) | ((count - 1) & 0xff) | (shift << 12);
            break;
        case 0x8000001e: /* AMD: extended APIC ID, core (compute unit) id, node */
            x->eax = index;
            x->ebx = (x->ebx & ~0xffffu) | (index & 0xff); /* one thread per core */
            x->ecx &= ~0x7ffu;                             /* node 0, one node */
            break;
        }
    }
}
