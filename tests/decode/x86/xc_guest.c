/*
 * KVM cross-check guest: sets the FS and GS bases the generated sequence
 * expects (see gen_kvm_guest.py), runs it (xc_run_all, generated assembly)
 * and exits with 0 through the debug-exit port. Every check happens on the
 * host (kvm_crosscheck.c), at each MMIO exit and at each checkpoint port
 * write the sequence makes.
 */
#include "guest.h"

#define MSR_FS_BASE 0xC0000100u
#define MSR_GS_BASE 0xC0000101u

void xc_run_all(void);

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    (void)mb_info;
    wrmsr(MSR_FS_BASE, 0xC0000000ULL);
    wrmsr(MSR_GS_BASE, 0xD0000000ULL - 0x10000);
    xc_run_all();
    return 0;
}
