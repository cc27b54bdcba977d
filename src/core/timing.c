/* Handling-time units (see timing.h). */
#include "core/timing.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

/* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every state. */
static bool tsc_invariant(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0;
}

/* Whether the kernel keeps time with the TSC (it then trusts it: constant, in sync across CPUs). */
static bool kernel_uses_tsc(void)
{
    char name[16] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f)
        return false;
    bool tsc = fgets(name, sizeof(name), f) && strcmp(name, "tsc\n") == 0;
    fclose(f);
    return tsc;
}
#endif

void vmio_timing_init(struct vmio_timing *t, const struct vmio_clock *clock)
{
    *t = (struct vmio_timing){.clock = clock};
#if defined(__x86_64__)
    if (!clock && (tsc_invariant() || kernel_uses_tsc())) {
        t->tsc = true;
        t->tsc0 = __rdtsc();
        t->mono0 = vmio_clock_now(NULL);
    }
#endif
}

double vmio_timing_unit_ns(const struct vmio_timing *t)
{
#if defined(__x86_64__)
    if (t->tsc) {
        uint64_t mono = vmio_clock_now(NULL), tsc = __rdtsc();
        if (tsc <= t->tsc0 || mono <= t->mono0)
            return 0.0; /* too early to say: report no time rather than a made-up one */
        return (double)(mono - t->mono0) / (double)(tsc - t->tsc0);
    }
#endif
    (void)t;
    return 1.0;
}
