/*
 * kvm-probe: does this host's /dev/kvm run guests fully?
 *
 *   kvm-probe [--quiet]   exit 0 "full", 1 "partial: why", 2 "none: why"
 *
 * "Full" means a guest at CPL0 can use the x87 FPU, SSE and (where the CPU
 * has it) XSAVE, as Linux does early in boot. On a nested "PVM" host KVM
 * emulates CPL0 code and such instructions end the run with
 * KVM_EXIT_INTERNAL_ERROR: that is "partial", and vmio's tests then run in
 * the nested KVM VM instead (docs/testing.md). The probe talks to KVM with
 * raw ioctls on purpose, independent of vmio's own code, so a vmio bug can
 * never make the probe lie. Like bench/bare_kvm.c it is test infrastructure,
 * the documented exception to "only src/kvm includes <linux/kvm.h>".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

extern const uint8_t probe_guest_start[], probe_guest_end[];

#define MEM_SIZE 0x10000
#define CODE 0x1000
#define REPORT_PORT 0x10

static bool quiet;

static int verdict(int code, const char *fmt, const char *detail)
{
    static const char *const names[] = {"full", "partial", "none"};
    if (!quiet || code != 0) {
        fprintf(quiet ? stderr : stdout, "%s", names[code]);
        if (fmt) {
            fprintf(quiet ? stderr : stdout, ": ");
            fprintf(quiet ? stderr : stdout, fmt, detail ? detail : "");
        }
        fprintf(quiet ? stderr : stdout, "\n");
    }
    return code;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm)
{
    for (int n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
        if (!c)
            return NULL;
        c->nent = (uint32_t)n;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        free(c);
        if (errno != E2BIG)
            return NULL;
    }
    return NULL;
}

static bool has_xsave(const struct kvm_cpuid2 *c)
{
    for (uint32_t i = 0; i < c->nent; i++)
        if (c->entries[i].function == 1)
            return c->entries[i].ecx & (1u << 26);
    return false;
}

static void flat(struct kvm_segment *s, uint8_t type, uint16_t sel)
{
    *s = (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
                              .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1};
}

int main(int argc, char **argv)
{
    quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return verdict(2, "cannot open /dev/kvm: %s", strerror(errno));
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return verdict(2, "KVM_CREATE_VM: %s", strerror(errno));
    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return verdict(2, "mmap: %s", strerror(errno));
    struct kvm_userspace_memory_region r = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        return verdict(2, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
    memcpy(mem + CODE, probe_guest_start, (size_t)(probe_guest_end - probe_guest_start));
    const float in[4] = {1.5f, -2.0f, 0.25f, 1024.0f};
    memcpy(mem + 0x3000, in, sizeof(in));

    int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (cpu < 0 || run_size <= 0)
        return verdict(2, "KVM_CREATE_VCPU: %s", strerror(errno));
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
    struct kvm_cpuid2 *cpuid = supported_cpuid(kvm);
    if (run == MAP_FAILED || !cpuid || ioctl(cpu, KVM_SET_CPUID2, cpuid) < 0)
        return verdict(2, "vCPU setup: %s", strerror(errno));
    bool xsave = has_xsave(cpuid);

    struct kvm_sregs s;
    if (ioctl(cpu, KVM_GET_SREGS, &s) < 0)
        return verdict(2, "KVM_GET_SREGS: %s", strerror(errno));
    flat(&s.cs, 0xb, 0x08);
    flat(&s.ds, 0x3, 0x10);
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.cr0 = 0x33; /* PE | MP | ET | NE: FPU present, native x87 errors */
    s.cr4 = (1u << 9) | (1u << 10) | (xsave ? 1u << 18 : 0); /* OSFXSR | OSXMMEXCPT | OSXSAVE */
    struct kvm_regs regs = {.rip = CODE, .rflags = 2, .rax = xsave};
    if (ioctl(cpu, KVM_SET_SREGS, &s) < 0 || ioctl(cpu, KVM_SET_REGS, &regs) < 0)
        return verdict(2, "setting registers: %s", strerror(errno));

    for (int entries = 0; entries < 16; entries++) {
        if (ioctl(cpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return verdict(1, "KVM_RUN: %s", strerror(errno));
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == REPORT_PORT)
            break;
        if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
            return verdict(1, "%s",
                           "the x87/SSE/XSAVE probe stopped with KVM_EXIT_INTERNAL_ERROR "
                           "(KVM emulates CPL0 code here: a nested PVM host?)");
        char why[64];
        snprintf(why, sizeof(why), "unexpected exit reason %u", run->exit_reason);
        return verdict(1, "%s", why);
    }
    if (run->exit_reason != KVM_EXIT_IO)
        return verdict(1, "%s", "the probe guest never reported");
    float x87, out[4];
    memcpy(&x87, mem + 0x2000, sizeof(x87));
    memcpy(out, mem + 0x3010, sizeof(out));
    if (x87 != 2.0f)
        return verdict(1, "%s", "x87 arithmetic gave a wrong result");
    for (int i = 0; i < 4; i++)
        if (out[i] != in[i] * 2)
            return verdict(1, "%s", "SSE arithmetic gave a wrong result");
    if (xsave) {
        float saved[4];
        memcpy(saved, mem + 0x4000 + 160, sizeof(saved)); /* XMM0 in the legacy area */
        if (mem[0x2004] != 1 || memcmp(saved, out, sizeof(out)) != 0)
            return verdict(1, "%s", "XSAVE did not save XMM0");
    }
    return verdict(0, xsave ? NULL : "%s", xsave ? NULL : "(no XSAVE on this CPU: x87 and SSE checked)");
}
