/*
 * The KVM backend: the only part of vmio that includes <linux/kvm.h>. It
 * implements the ops table of vmio/backend.h on /dev/kvm (x86-64).
 *
 * It owns the /dev/kvm, VM and vCPU file descriptors and each vCPU's shared
 * `kvm_run` page, turns a KVM_RUN exit into a `struct vmio_exit`, and lets
 * the run loop complete reads by writing into the buffer the exit points at.
 *
 * Invariant: between kvmb_vcpu_enter() returning an I/O exit and the next
 * call, `run` still describes that exit, so completing a read is a store into
 * the run page; KVM copies it into the guest's register on the next KVM_RUN.
 * The backend objects embed the base structs of vmio/backend.h first, so a
 * base pointer converts back to this file's state with one cast.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/kvm_common/kvm_common.h"
#include "backend/x86_cpuid.h"
#include "vmio/backend.h"

/* Where the VMX real-mode TSS and identity map live (unused on AMD, harmless). */
#define KVMB_TSS_ADDR 0xfffbd000ULL
#define KVMB_IDENTITY_MAP_ADDR 0xfffbc000ULL

struct kvmb_vm {
    struct vmio_backend_vm base; /* first: the core's handle */
    struct vmio_kvm_vm k;        /* descriptors and common capabilities (kvm_common.h) */
    bool sync_regs_cap;          /* KVM_CAP_SYNC_REGS covers the GPRs */
    bool irqchip;                /* KVM_CREATE_IRQCHIP done: vCPUs get an in-kernel LAPIC */
    struct kvm_cpuid2 *cpuid;    /* supported CPUID, adjusted per vCPU (x86_cpuid.h) */
    /*
     * The coalesced-write ring: one page per VM that KVM appends to at
     * `last` and vmio consumes at `first`; reached through a vCPU's mmap, so
     * mapped (on its own, until the VM goes) when the first vCPU is made.
     * NULL before that, or without KVM_CAP_COALESCED_MMIO.
     */
    int ring_page;     /* KVM_CAP_COALESCED_MMIO: the ring's page offset in a vCPU mmap; 0: none */
    bool coalesce_pio; /* KVM_CAP_COALESCED_PIO */
    struct kvm_coalesced_mmio_ring *ring;
    size_t ring_bytes;
    uint32_t ring_max; /* entries: KVM_COALESCED_MMIO_MAX for this page size */
};

struct kvmb_vcpu {
    struct vmio_backend_vcpu base; /* first: the core's handle */
    int fd;
    struct kvm_run *run;
    int run_size;
    bool sync_regs;
    bool immediate_exit; /* the VM's capability, copied */
    bool sync_regs_cap;  /* the VM's KVM_CAP_SYNC_REGS (GPRs), copied */
};

static const struct vmio_backend_ops kvm_ops;

/* KVM's MSR filter holds at most this many ranges of at most this many MSRs each. */
#define KVMB_MSR_RANGES KVM_MSR_FILTER_MAX_RANGES
#define KVMB_MSR_RANGE_MAX (KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8)

static struct kvmb_vm *to_vm(struct vmio_backend_vm *b)
{
    return (struct kvmb_vm *)b;
}

static struct kvmb_vcpu *to_vcpu(struct vmio_backend_vcpu *b)
{
    return (struct kvmb_vcpu *)b;
}

static void kvmb_vm_free(struct kvmb_vm *vm);

/* Open /dev/kvm and create a VM. Errors: -errno, described (-ENODEV: no /dev/kvm). */
static int kvmb_vm_create(struct vmio_backend *be, struct vmio_backend_vm **out,
                          struct vmio_error *err)
{
    (void)be;
    struct kvmb_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    vm->base.ops = &kvm_ops;
    int rc = vmio_kvm_open_vm(&vm->k, err);
    if (rc < 0)
        goto fail;
    if (ioctl(vm->k.vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVMB_TSS_ADDR) < 0) {
        rc = vmio_error_set(err, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
        goto fail;
    }
    int ring_page = ioctl(vm->k.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
    vm->ring_page = ring_page > 0 ? ring_page : 0;
    vm->coalesce_pio = ioctl(vm->k.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
    int sync = ioctl(vm->k.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    vm->sync_regs_cap = sync > 0 && (sync & KVM_SYNC_X86_REGS);
    uint64_t idmap = KVMB_IDENTITY_MAP_ADDR;
    (void)ioctl(vm->k.vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap); /* optional: VMX only */

    /* Ask for the supported CPUID, growing the buffer until KVM is satisfied. */
    for (int n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
        if (!c) {
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        c->nent = (uint32_t)n;
        if (ioctl(vm->k.kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            vm->cpuid = c;
            break;
        }
        int e = errno;
        free(c);
        if (e != E2BIG) {
            rc = vmio_error_set(err, -e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
            goto fail;
        }
    }
    if (!vm->cpuid) {
        rc = vmio_error_set(err, -E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
        goto fail;
    }
    *out = &vm->base;
    return 0;
fail:
    kvmb_vm_free(vm);
    return rc;
}

static void kvmb_vm_free(struct kvmb_vm *vm)
{
    if (vm->ring)
        munmap(vm->ring, vm->ring_bytes);
    vmio_kvm_close_vm(&vm->k);
    free(vm->cpuid);
    free(vm);
}

static void kvmb_vm_destroy(struct vmio_backend_vm *b)
{
    kvmb_vm_free(to_vm(b));
}

/* @readonly needs KVM_CAP_READONLY_MEM. */
static int kvmb_vm_set_memory(struct vmio_backend_vm *b, uint32_t slot, uint64_t gpa, uint64_t size,
                              void *host, bool readonly, struct vmio_error *err)
{
    return vmio_kvm_set_memory(to_vm(b)->k.vm_fd, slot, gpa, size, host, readonly, err);
}

/* KVM_CREATE_IRQCHIP, and KVM_CREATE_PIT2 (port 0x61 as a dummy speaker) with @pit. */
static int kvmb_vm_create_irqchip(struct vmio_backend_vm *b, bool pit, struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    if (ioctl(vm->k.vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return vmio_error_set(err, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
    vm->irqchip = true;
    if (pit) {
        struct kvm_pit_config cfg = {.flags = KVM_PIT_SPEAKER_DUMMY};
        if (ioctl(vm->k.vm_fd, KVM_CREATE_PIT2, &cfg) < 0)
            return vmio_error_set(err, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
    }
    return 0;
}

/*
 * User-space MSR exits: KVM_CAP_X86_USER_SPACE_MSR (exit on filtered MSRs, and
 * with @unknown on those KVM does not know), then a filter whose ranges deny
 * (all-zero bitmaps) exactly the MSRs in @ranges, reads and writes: KVM then
 * exits with KVM_EXIT_X86_RDMSR/WRMSR instead of handling them. Everything
 * else stays as KVM has it (default allow).
 */
static int kvmb_vm_set_sysreg_exits(struct vmio_backend_vm *b, const struct vmio_bus_range *ranges,
                                    unsigned n, bool unknown, struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    if (n > KVMB_MSR_RANGES)
        return vmio_error_set(err, -E2BIG,
                              "%u MSR ranges on the system-register bus; KVM filters at most %d", n,
                              KVMB_MSR_RANGES);
    static const uint8_t deny[KVM_MSR_FILTER_MAX_BITMAP_SIZE]; /* all zero: deny every MSR */
    struct kvm_msr_filter f;
    memset(&f, 0, sizeof(f));
    f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
    for (unsigned i = 0; i < n; i++) {
        if (ranges[i].len > KVMB_MSR_RANGE_MAX || ranges[i].base > UINT32_MAX ||
            ranges[i].len > (uint64_t)UINT32_MAX + 1 - ranges[i].base)
            return vmio_error_set(err, -E2BIG,
                                  "MSRs 0x%llx+%llu: KVM filters at most %d MSRs per range, "
                                  "indices below 2^32",
                                  (unsigned long long)ranges[i].base,
                                  (unsigned long long)ranges[i].len, KVMB_MSR_RANGE_MAX);
        f.ranges[i] =
            (struct kvm_msr_filter_range){.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
                                          .nmsrs = (uint32_t)ranges[i].len,
                                          .base = (uint32_t)ranges[i].base,
                                          .bitmap = (uint8_t *)deny};
    }
    struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR};
    cap.args[0] =
        (n ? KVM_MSR_EXIT_REASON_FILTER : 0) | (unknown ? KVM_MSR_EXIT_REASON_UNKNOWN : 0);
    if (ioctl(vm->k.vm_fd, KVM_ENABLE_CAP, &cap) < 0)
        return vmio_error_set(err, errno == EINVAL ? -ENOTSUP : -errno,
                              "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR): %s", strerror(errno));
    if (ioctl(vm->k.vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
        return vmio_error_set(err, -errno, "KVM_X86_SET_MSR_FILTER (%u ranges): %s", n,
                              strerror(errno));
    return 0;
}

/* One KVM_IRQ_LINE on the VM descriptor: thread-safe. */
static int kvmb_vm_irq_line(struct vmio_backend_vm *b, unsigned gsi, int level)
{
    struct kvmb_vm *vm = to_vm(b);
    struct kvm_irq_level l = {.irq = gsi, .level = level ? 1 : 0};
    return ioctl(vm->k.vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

/* KVM_(UN)REGISTER_COALESCED_MMIO for a zone of MMIO or (with the capability) ports. */
static int kvmb_vm_coalesce(struct vmio_backend_vm *b, enum vmio_space space, uint64_t base,
                            uint64_t len, bool on, struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    const char *what = space == VMIO_SPACE_PIO ? "ports" : "MMIO";
    if (!vm->ring_page || (space == VMIO_SPACE_PIO && !vm->coalesce_pio) ||
        (space != VMIO_SPACE_PIO && space != VMIO_SPACE_MMIO))
        return vmio_error_set(err, -ENOTSUP, "this KVM cannot buffer writes to %s",
                              space == VMIO_SPACE_SYSREG ? "system registers" : what);
    if (len == 0 || len > UINT32_MAX || base + len < base)
        return vmio_error_set(err, -EINVAL, "coalesced %s zone 0x%llx+0x%llx: bad size", what,
                              (unsigned long long)base, (unsigned long long)len);
    struct kvm_coalesced_mmio_zone z = {.addr = base, .size = (uint32_t)len};
    z.pio = space == VMIO_SPACE_PIO;
    if (ioctl(vm->k.vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO, &z) <
        0)
        return vmio_error_set(err, -errno, "KVM_%sREGISTER_COALESCED_MMIO %s 0x%llx+0x%llx: %s",
                              on ? "" : "UN", what, (unsigned long long)base,
                              (unsigned long long)len, strerror(errno));
    return 0;
}

static bool kvmb_vm_coalesced_pending(struct vmio_backend_vm *b)
{
    struct kvm_coalesced_mmio_ring *r = to_vm(b)->ring;
    return r && __atomic_load_n(&r->last, __ATOMIC_ACQUIRE) != r->first;
}

/*
 * Take the entry at `first`. KVM wrote it before it published `last`
 * (acquire above pairs with its barrier); `first` moves on only after the
 * entry is copied (release), or KVM could overwrite it. Indices are
 * bounds-checked: a ring that makes no sense reads as empty.
 */
static int kvmb_vm_coalesced_pop(struct vmio_backend_vm *b, struct vmio_access *a, uint8_t data[8])
{
    struct kvmb_vm *vm = to_vm(b);
    struct kvm_coalesced_mmio_ring *r = vm->ring;
    if (!r)
        return 0;
    uint32_t first = r->first, last = __atomic_load_n(&r->last, __ATOMIC_ACQUIRE);
    if (first == last || first >= vm->ring_max || last >= vm->ring_max)
        return 0;
    const struct kvm_coalesced_mmio *m = &r->coalesced_mmio[first];
    uint32_t len = m->len;
    memset(a, 0, sizeof(*a));
    a->space = m->pio ? VMIO_SPACE_PIO : VMIO_SPACE_MMIO;
    a->dir = VMIO_WRITE;
    a->addr = m->phys_addr;
    a->width = len >= 1 && len <= 8 ? len : 8;
    a->count = 1;
    a->reg = VMIO_REG_NONE;
    memset(data, 0, 8);
    for (unsigned i = 0; i < a->width; i++)
        data[i] = m->data[i];
    for (unsigned i = 0; i < a->width; i++)
        a->data |= (uint64_t)data[i] << (8 * i);
    a->buf = data;
    __atomic_store_n(&r->first, (first + 1) % vm->ring_max, __ATOMIC_RELEASE);
    return 1;
}

/*
 * Map the coalesced ring through @fd (vCPU @index's), once per VM. Failing
 * fails the vCPU: zones may already be registered, and writes KVM buffers
 * that vmio cannot read would be lost.
 */
static int map_ring(struct kvmb_vm *vm, int fd, unsigned index, struct vmio_error *err)
{
    long page = sysconf(_SC_PAGESIZE);
    if (vm->ring || !vm->ring_page || page <= 0)
        return 0;
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)vm->ring_page * page);
    if (p == MAP_FAILED)
        return vmio_error_set(err, -errno, "mmap of the coalesced-write ring through vCPU %u: %s",
                              index, strerror(errno));
    vm->ring = p;
    vm->ring_bytes = (size_t)page;
    vm->ring_max = (uint32_t)(((size_t)page - sizeof(struct kvm_coalesced_mmio_ring)) /
                              sizeof(struct kvm_coalesced_mmio));
    return 0;
}

/* KVM_IOEVENTFD on the VM descriptor (any thread). */
static int kvmb_ioeventfd(struct vmio_backend_vm *b, int fd, enum vmio_space space, uint64_t addr,
                          unsigned len, bool datamatch, uint64_t data, bool assign,
                          struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    if (!vm->k.ioeventfd)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IOEVENTFD");
    return vmio_kvm_ioeventfd(vm->k.vm_fd, true, fd, space, addr, len, datamatch, data, assign,
                              err);
}

/* KVM_IRQFD (with KVM_IRQFD_FLAG_RESAMPLE for a level-triggered line). */
static int kvmb_irqfd(struct vmio_backend_vm *b, int fd, unsigned gsi, int resample_fd, bool assign,
                      struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    if (!vm->k.irqfd)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IRQFD");
    if (assign && resample_fd >= 0 && !vm->k.resample)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IRQFD_RESAMPLE");
    if (!vm->irqchip)
        return vmio_error_set(err, -ENXIO, "KVM_IRQFD: the VM has no in-kernel irqchip");
    return vmio_kvm_irqfd(vm->k.vm_fd, fd, gsi, resample_fd, assign, "GSI", err);
}

static void kvmb_vcpu_free(struct kvmb_vcpu *vcpu);

/* The supported CPUID with vCPU @index of @count's topology (x86_cpuid.h), set on @fd. */
static int set_cpuid(struct kvmb_vm *vm, int fd, unsigned index, unsigned count,
                     struct vmio_error *err)
{
    uint32_t n = vm->cpuid->nent;
    struct kvm_cpuid2 *c = malloc(sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
    struct x86_cpuid_entry *e = malloc((size_t)n * sizeof(*e) + 1);
    int rc = 0;
    if (!c || !e) {
        rc = vmio_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    memcpy(c, vm->cpuid, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
    for (uint32_t i = 0; i < n; i++)
        e[i] = (struct x86_cpuid_entry){c->entries[i].function, c->entries[i].index,
                                        c->entries[i].eax,      c->entries[i].ebx,
                                        c->entries[i].ecx,      c->entries[i].edx};
    vmio_x86_cpuid_for_vcpu(e, n, index, count);
    for (uint32_t i = 0; i < n; i++) {
        c->entries[i].eax = e[i].eax;
        c->entries[i].ebx = e[i].ebx;
        c->entries[i].ecx = e[i].ecx;
        c->entries[i].edx = e[i].edx;
    }
    if (ioctl(fd, KVM_SET_CPUID2, c) < 0)
        rc = vmio_error_set(err, -errno, "KVM_SET_CPUID2 on vCPU %u: %s", index, strerror(errno));
out:
    free(c);
    free(e);
    return rc;
}

/* MSRs a kernel expects firmware to have set (the rest are KVM's reset values). */
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 0x1ull
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_MTRR_ENABLE_WB ((1ull << 11) | 6) /* MTRRs on, default type write-back */

static int set_msrs(int fd, unsigned index, struct vmio_error *err)
{
    static const struct {
        uint32_t index;
        uint64_t value;
        const char *name;
    } msrs[] = {
        {MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE_FAST_STRING, "IA32_MISC_ENABLE"},
        {MSR_MTRR_DEF_TYPE, MSR_MTRR_ENABLE_WB, "MTRRdefType"},
    };
    enum { N = sizeof(msrs) / sizeof(msrs[0]) };
    /* struct kvm_msrs ends in a flexible array: give it room for N entries (a union, since a
     * struct with a flexible array may not be followed by another field in ISO C). */
    union {
        struct kvm_msrs hdr;
        uint8_t room[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
    } m;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = N;
    for (unsigned i = 0; i < N; i++)
        m.hdr.entries[i] = (struct kvm_msr_entry){.index = msrs[i].index, .data = msrs[i].value};
    int done = ioctl(fd, KVM_SET_MSRS, &m);
    if (done < 0)
        return vmio_error_set(err, -errno, "KVM_SET_MSRS on vCPU %u: %s", index, strerror(errno));
    if (done < N)
        return vmio_error_set(err, -EINVAL, "KVM_SET_MSRS on vCPU %u: KVM refused MSR %s (0x%x)",
                              index, msrs[done].name, msrs[done].index);
    return 0;
}

/* x87 and SSE control words as after FNINIT / reset (KVM starts them at 0). */
static int set_fpu(int fd, unsigned index, struct vmio_error *err)
{
    struct kvm_fpu fpu;
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
        return vmio_error_set(err, -errno, "KVM_SET_FPU on vCPU %u: %s", index, strerror(errno));
    return 0;
}

/*
 * The local APIC's LINT0 as ExtINT and LINT1 as NMI, as PC firmware leaves
 * them (virtual-wire mode: the PIC's interrupts reach the CPU through LINT0).
 */
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x700u
#define APIC_MODE_NMI 0x400u
#define APIC_LVT_MODE_MASK 0x700u

static int set_lapic(int fd, unsigned index, struct vmio_error *err)
{
    struct kvm_lapic_state s;
    if (ioctl(fd, KVM_GET_LAPIC, &s) < 0)
        return vmio_error_set(err, -errno, "KVM_GET_LAPIC on vCPU %u: %s", index, strerror(errno));
    uint32_t lvt0, lvt1;
    memcpy(&lvt0, s.regs + APIC_LVT0, 4);
    memcpy(&lvt1, s.regs + APIC_LVT1, 4);
    lvt0 = (lvt0 & ~APIC_LVT_MODE_MASK) | APIC_MODE_EXTINT;
    lvt1 = (lvt1 & ~APIC_LVT_MODE_MASK) | APIC_MODE_NMI;
    memcpy(s.regs + APIC_LVT0, &lvt0, 4);
    memcpy(s.regs + APIC_LVT1, &lvt1, 4);
    if (ioctl(fd, KVM_SET_LAPIC, &s) < 0)
        return vmio_error_set(err, -errno, "KVM_SET_LAPIC on vCPU %u: %s", index, strerror(errno));
    return 0;
}

/*
 * vCPU @index of @count: CPUID with its topology, the MSRs, FPU control words
 * and (with the irqchip) LAPIC LINT pins a kernel expects of firmware.
 */
static int kvmb_vcpu_create(struct vmio_backend_vm *b, unsigned index, unsigned count,
                            struct vmio_backend_vcpu **out, struct vmio_error *err)
{
    struct kvmb_vm *vm = to_vm(b);
    struct kvmb_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    v->base.ops = &kvm_ops;
    int rc;
    v->fd = ioctl(vm->k.vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (v->fd < 0) {
        rc = vmio_error_set(err, -errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
        free(v);
        return rc;
    }
    v->run_size = vm->k.run_size;
    v->immediate_exit = vm->k.immediate_exit;
    v->sync_regs_cap = vm->sync_regs_cap;
    v->run = mmap(NULL, (size_t)vm->k.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        rc = vmio_error_set(err, -errno, "mmap of vCPU %u run page: %s", index, strerror(errno));
        close(v->fd);
        free(v);
        return rc;
    }
    rc = map_ring(vm, v->fd, index, err);
    if (rc == 0)
        rc = set_cpuid(vm, v->fd, index, count, err);
    if (rc == 0)
        rc = set_msrs(v->fd, index, err);
    if (rc == 0)
        rc = set_fpu(v->fd, index, err);
    if (rc == 0 && vm->irqchip)
        rc = set_lapic(v->fd, index, err);
    if (rc < 0) {
        kvmb_vcpu_free(v);
        return rc;
    }
    *out = &v->base;
    return 0;
}

static void kvmb_vcpu_free(struct kvmb_vcpu *vcpu)
{
    munmap(vcpu->run, (size_t)vcpu->run_size);
    close(vcpu->fd);
    free(vcpu);
}

static void kvmb_vcpu_destroy(struct vmio_backend_vcpu *b)
{
    kvmb_vcpu_free(to_vcpu(b));
}

/*
 * KVM copies the GPRs into the run page on every exit (cheap RIP for tracing).
 * -ENOTSUP without KVM_CAP_SYNC_REGS (Linux < 4.17): KVM_RUN would then refuse
 * the run page's kvm_valid_regs, so the caller reads RIP with KVM_GET_REGS.
 */
static int kvmb_vcpu_set_sync_regs(struct vmio_backend_vcpu *b, bool on)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    if (on && !vcpu->sync_regs_cap)
        return -ENOTSUP;
    vcpu->sync_regs = on;
    vcpu->run->kvm_valid_regs = on ? KVM_SYNC_X86_REGS : 0;
    return 0;
}

_Static_assert(KVM_EXIT_IO_OUT == VMIO_WRITE && KVM_EXIT_IO_IN == VMIO_READ,
               "KVM's I/O direction is vmio's");

/* The low @width bytes at @p (little-endian), for width 1, 2, 4 or 8; 0 for others. */
/*
 * A port access. KVM's port data area is the whole page at
 * KVM_PIO_PAGE_OFFSET of the run mapping, so the 4 bytes at data_offset are
 * always mapped: the written value is one load and a mask by size (1, 2 or
 * 4; anything else masks to 0 and the dispatcher calls it unclaimed).
 */
static inline void translate_io(struct kvm_run *run, struct vmio_exit *exit)
{
    static const uint32_t masks[8] = {0, 0xff, 0xffff, 0, 0xffffffffu};
    struct vmio_access *a = &exit->access;
    a->space = VMIO_SPACE_PIO;
    a->dir = run->io.direction;
    a->width = run->io.size;
    a->count = run->io.count ? run->io.count : 1;
    a->addr = run->io.port;
    a->buf = (uint8_t *)run + run->io.data_offset;
    uint32_t raw;
    memcpy(&raw, a->buf, sizeof(raw));
    a->data = a->dir == VMIO_WRITE && a->count == 1 ? raw & masks[a->width & 7] : 0;
}

/*
 * KVM_RUN on @fd: 0 or -errno. On x86-64 the system call is made inline: the
 * C library's ioctl() wrapper (errno, cancellation point) was a tenth of
 * vmio's user-space instructions per exit (bench/exit_insns.py).
 */
static inline long kvm_run_ioctl(int fd)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_ioctl), "D"((long)fd), "S"((long)KVM_RUN), "d"(0L)
                     : "rcx", "r11", "memory");
    return ret;
#else
    return ioctl(fd, KVM_RUN, 0) < 0 ? -errno : 0;
#endif
}

/*
 * KVM_RUN and the exit it ends with. For I/O exits access.buf points into the
 * run page. EINTR is VMIO_EXIT_INTR; EAGAIN (an application processor left
 * the wait-for-SIPI state inside KVM_RUN) is not an exit: the guest is
 * entered again.
 */
static int kvmb_vcpu_enter(struct vmio_backend_vcpu *b, struct vmio_exit *exit)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    struct kvm_run *run = vcpu->run;
    exit->access.reg = VMIO_REG_NONE;
    exit->access.reg_width = 0;
    exit->access.sign_extend = false;
    exit->device = NULL;
    exit->code = 0;
    long rc;
    do /* EAGAIN: KVM_RUN woke an AP waiting for SIPI; enter it again */
        rc = kvm_run_ioctl(vcpu->fd);
    while (rc == -EAGAIN);
    if (rc < 0) {
        if (rc == -EINTR) {
            exit->reason = VMIO_EXIT_INTR;
            exit->ip = 0;
            return 0;
        }
        exit->reason = VMIO_EXIT_HOST_ERROR;
        exit->code = (uint64_t)(-rc);
        return (int)rc;
    }
    exit->ip = vcpu->sync_regs ? run->s.regs.regs.rip : 0;
    if (__builtin_expect(run->exit_reason == KVM_EXIT_IO, 1)) { /* the commonest, tested first */
        exit->reason = VMIO_EXIT_IO;
        translate_io(run, exit);
        return 0;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO:
        exit->reason = VMIO_EXIT_IO;
        vmio_kvm_translate_mmio(run, exit);
        break;
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR: {
        struct vmio_access *a = &exit->access;
        exit->reason = VMIO_EXIT_IO;
        a->space = VMIO_SPACE_SYSREG;
        a->dir = run->exit_reason == KVM_EXIT_X86_WRMSR ? VMIO_WRITE : VMIO_READ;
        a->width = 8;
        a->count = 1;
        a->addr = run->msr.index;
        a->buf = (uint8_t *)&run->msr.data; /* a read completes into it */
        a->data = a->dir == VMIO_WRITE ? run->msr.data : 0;
        run->msr.error = 0;
        break;
    }
    case KVM_EXIT_HLT:
        exit->reason = VMIO_EXIT_HLT;
        break;
    default: /* the reasons every architecture shares */
        vmio_kvm_common_exit(run, exit);
        break;
    }
    return 0;
}

/* The run page's immediate_exit byte; -ENOTSUP without KVM_CAP_IMMEDIATE_EXIT (Linux < 4.11). */
static int kvmb_vcpu_set_immediate_exit(struct vmio_backend_vcpu *b, bool on)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    if (!vcpu->immediate_exit)
        return -ENOTSUP;
    vmio_kvm_set_immediate_exit(vcpu->run, on);
    return 0;
}

/* #GP for the RDMSR/WRMSR of the last exit (KVM injects it on the next KVM_RUN). */
static int kvmb_vcpu_fault_access(struct vmio_backend_vcpu *b)
{
    struct kvm_run *run = to_vcpu(b)->run;
    if (run->exit_reason != KVM_EXIT_X86_RDMSR && run->exit_reason != KVM_EXIT_X86_WRMSR)
        return -EINVAL;
    run->msr.error = 1;
    return 0;
}

static int kvmb_vcpu_mp_state(struct vmio_backend_vcpu *b, unsigned *state)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    struct kvm_mp_state mp;
    if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0)
        return -errno;
    *state = mp.mp_state;
    return 0;
}

static int kvmb_vcpu_get_regs(struct vmio_backend_vcpu *b, struct vmio_x86_regs *regs)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    struct kvm_regs r;
    if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0)
        return -errno;
    const uint64_t g[VMIO_X86_NGPR] = {r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
                                       r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
    memcpy(regs->gpr, g, sizeof(g));
    regs->rip = r.rip;
    regs->rflags = r.rflags;
    return 0;
}

static int kvmb_vcpu_set_regs(struct vmio_backend_vcpu *b, const struct vmio_x86_regs *regs)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    const uint64_t *g = regs->gpr;
    struct kvm_regs r = {
        .rax = g[VMIO_X86_RAX],
        .rcx = g[VMIO_X86_RCX],
        .rdx = g[VMIO_X86_RDX],
        .rbx = g[VMIO_X86_RBX],
        .rsp = g[VMIO_X86_RSP],
        .rbp = g[VMIO_X86_RBP],
        .rsi = g[VMIO_X86_RSI],
        .rdi = g[VMIO_X86_RDI],
        .r8 = g[VMIO_X86_R8],
        .r9 = g[VMIO_X86_R9],
        .r10 = g[VMIO_X86_R10],
        .r11 = g[VMIO_X86_R11],
        .r12 = g[VMIO_X86_R12],
        .r13 = g[VMIO_X86_R13],
        .r14 = g[VMIO_X86_R14],
        .r15 = g[VMIO_X86_R15],
        .rip = regs->rip,
        .rflags = regs->rflags,
    };
    return ioctl(vcpu->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

/* One KVM_GET_REGS. */
static int kvmb_vcpu_get_ip(struct vmio_backend_vcpu *b, uint64_t *ip)
{
    struct kvm_regs r;
    if (ioctl(to_vcpu(b)->fd, KVM_GET_REGS, &r) < 0)
        return -errno;
    *ip = r.rip;
    return 0;
}

static void seg_from_kvm(struct vmio_x86_segment *d, const struct kvm_segment *s)
{
    *d = (struct vmio_x86_segment){.base = s->base,
                                   .limit = s->limit,
                                   .selector = s->selector,
                                   .type = s->type,
                                   .present = s->present,
                                   .dpl = s->dpl,
                                   .db = s->db,
                                   .s = s->s,
                                   .l = s->l,
                                   .g = s->g};
}

static void seg_to_kvm(struct kvm_segment *d, const struct vmio_x86_segment *s)
{
    d->base = s->base;
    d->limit = s->limit;
    d->selector = s->selector;
    d->type = s->type;
    d->present = s->present;
    d->dpl = s->dpl;
    d->db = s->db;
    d->s = s->s;
    d->l = s->l;
    d->g = s->g;
    d->avl = 0;
    d->unusable = !s->present;
}

static int kvmb_vcpu_get_sregs(struct vmio_backend_vcpu *b, struct vmio_x86_sregs *out)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    struct kvm_sregs s;
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    seg_from_kvm(&out->cs, &s.cs);
    seg_from_kvm(&out->ds, &s.ds);
    seg_from_kvm(&out->es, &s.es);
    seg_from_kvm(&out->fs, &s.fs);
    seg_from_kvm(&out->gs, &s.gs);
    seg_from_kvm(&out->ss, &s.ss);
    seg_from_kvm(&out->tr, &s.tr);
    seg_from_kvm(&out->ldt, &s.ldt);
    out->gdt_base = s.gdt.base;
    out->gdt_limit = s.gdt.limit;
    out->idt_base = s.idt.base;
    out->idt_limit = s.idt.limit;
    out->cr0 = s.cr0;
    out->cr2 = s.cr2;
    out->cr3 = s.cr3;
    out->cr4 = s.cr4;
    out->efer = s.efer;
    return 0;
}

static int kvmb_vcpu_set_sregs(struct vmio_backend_vcpu *b, const struct vmio_x86_sregs *in)
{
    struct kvmb_vcpu *vcpu = to_vcpu(b);
    struct kvm_sregs s;
    /* Start from KVM's state so fields vmio does not model (APIC base...) stay valid. */
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    seg_to_kvm(&s.cs, &in->cs);
    seg_to_kvm(&s.ds, &in->ds);
    seg_to_kvm(&s.es, &in->es);
    seg_to_kvm(&s.fs, &in->fs);
    seg_to_kvm(&s.gs, &in->gs);
    seg_to_kvm(&s.ss, &in->ss);
    seg_to_kvm(&s.tr, &in->tr);
    seg_to_kvm(&s.ldt, &in->ldt);
    s.gdt.base = in->gdt_base;
    s.gdt.limit = in->gdt_limit;
    s.idt.base = in->idt_base;
    s.idt.limit = in->idt_limit;
    s.cr0 = in->cr0;
    s.cr2 = in->cr2;
    s.cr3 = in->cr3;
    s.cr4 = in->cr4;
    s.efer = in->efer;
    return ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0 ? -errno : 0;
}

static const struct vmio_backend_ops kvm_ops = {
    .name = "kvm",
    .vm_create = kvmb_vm_create,
    .vm_destroy = kvmb_vm_destroy,
    .set_memory = kvmb_vm_set_memory,
    .create_irqchip = kvmb_vm_create_irqchip,
    .set_sysreg_exits = kvmb_vm_set_sysreg_exits,
    .irq_line = kvmb_vm_irq_line,
    .coalesce = kvmb_vm_coalesce,
    .coalesced_pending = kvmb_vm_coalesced_pending,
    .coalesced_pop = kvmb_vm_coalesced_pop,
    .vcpu_create = kvmb_vcpu_create,
    .vcpu_destroy = kvmb_vcpu_destroy,
    .vcpu_enter = kvmb_vcpu_enter,
    .vcpu_set_immediate_exit = kvmb_vcpu_set_immediate_exit,
    .vcpu_set_sync_regs = kvmb_vcpu_set_sync_regs,
    .vcpu_mp_state = kvmb_vcpu_mp_state,
    .vcpu_fault_access = kvmb_vcpu_fault_access,
    .vcpu_get_ip = kvmb_vcpu_get_ip,
    .vcpu_get_regs = kvmb_vcpu_get_regs,
    .vcpu_set_regs = kvmb_vcpu_set_regs,
    .vcpu_get_sregs = kvmb_vcpu_get_sregs,
    .vcpu_set_sregs = kvmb_vcpu_set_sregs,
    .ioeventfd = kvmb_ioeventfd,
    .irqfd = kvmb_irqfd,
};

static struct vmio_backend kvm_backend = {.ops = &kvm_ops};

struct vmio_backend *vmio_backend_kvm(void)
{
    return &kvm_backend;
}
