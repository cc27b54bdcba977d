/*
 * The scripted fake backend (see vmio/backend_fake.h): the ops table of
 * vmio/backend.h over per-vCPU scripts instead of a hypervisor.
 *
 * Invariants:
 *   - One mutex (`lock`) guards every field of the fake, the per-vCPU
 *     records and the scripts; `cond` is broadcast whenever something a
 *     waiter waits for changes (the immediate-exit flag, `blocked`, the
 *     number of BLOCK steps left). Lock order: callers may hold their own
 *     locks (the run loop's kick_lock) when they call in; the fake never
 *     calls out while holding `lock`.
 *   - Each I/O step owns its fake run page (`page`, allocated at push and
 *     never moved, so an exit's access.buf stays valid while the script
 *     grows) and, once captured, a copy of what the run loop left there
 *     (`result`). `pending` is the step whose page is captured at the next
 *     enter or at vcpu_destroy, exactly when KVM would read its run page.
 *   - `blocks_left` counts BLOCK steps not replayed yet; a step becomes
 *     replayed and (for BLOCK) `blocked` in the same critical section, so
 *     vmio_fake_wait_blocked() can tell "not yet" from "never".
 *   - Per-vCPU records (scripts, registers, counters) are kept by index and
 *     survive the backend vCPU and the VM, for tests to read afterwards;
 *     VM-level records (slots, irqchip, lines, ioeventfds, irqfds) start
 *     afresh with each VM.
 *   - An I/O write step that matches an assigned ioeventfd is consumed the
 *     way KVM consumes the write: the eventfd is signalled and the enter
 *     goes on to the next step without an exit (so a test sees exactly the
 *     exits vmio would see). Eventfds are written under `lock` (a write to
 *     an eventfd never blocks unless its counter is about to overflow).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmio/arm64_regs.h"
#include "vmio/backend_fake.h"

struct fake_step_rec {
    struct vmio_fake_step step; /* access.buf cleared: see elems */
    uint8_t *page;              /* I/O: the exit's buf (len bytes, at least 8) */
    uint8_t *result;            /* I/O: page as captured */
    size_t len;                 /* count * width */
    bool replayed;
    bool captured;
    bool by_eventfd; /* consumed by an ioeventfd: no exit */
};

struct fake_cpu {
    struct fake_step_rec *steps;
    unsigned n, cap;
    unsigned next;        /* next step to replay */
    int pending;          /* step whose completion is captured at the next enter, or -1 */
    unsigned blocks_left; /* BLOCK steps not replayed yet */
    bool live, blocked, immediate_exit, sync_regs;
    unsigned mp_state;
    unsigned count; /* the vCPU count it was created for (topology) */
    struct vmio_x86_regs regs;
    struct vmio_x86_sregs sregs;
    uint64_t arm64[VMIO_ARM64_REG_COUNT]; /* AArch64 registers (vmio/arm64_regs.h) */
    unsigned long enters, immediate, ran_out, eventfd_writes;
    unsigned long faults; /* vcpu_fault_access calls (refused system-register accesses) */
};

struct fake_vcpu {
    struct vmio_backend_vcpu base; /* first: the core's handle */
    struct vmio_fake *fake;
    unsigned index;
};

struct vmio_fake {
    struct vmio_backend backend; /* first: what vmio_fake_backend() returns */
    struct vmio_backend_vm vm;   /* the one VM */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool vm_live;
    bool irqchip, pit;
    struct vmio_bus_range sysreg[VMIO_FAKE_MAX_SYSREG_RANGES]; /* set_sysreg_exits */
    unsigned nsysreg;
    bool sysreg_unknown;
    bool slot_set[VMIO_FAKE_MAX_SLOTS];
    struct vmio_fake_slot slots[VMIO_FAKE_MAX_SLOTS];
    unsigned gsis; /* irq_lines: VMIO_FAKE_GSIS unless vmio_fake_set_irq_lines() */
    struct vmio_fake_irq irq[VMIO_FAKE_MAX_GSIS];
    int fail[VMIO_FAKE_NOPS];
    /* Coalesced writes: the zones, and a ring shared by all vCPUs (KVM's model). */
    struct vmio_fake_zone zones[VMIO_FAKE_MAX_ZONES];
    unsigned nzones;
    struct vmio_access ring[VMIO_FAKE_RING_MAX]; /* data holds the bytes; buf unused */
    unsigned ring_size, ring_head, ring_len;
    unsigned long buffered, popped;
    struct vmio_fake_ioeventfd ioev[VMIO_FAKE_MAX_IOEVENTFDS];
    unsigned nioev;
    struct vmio_fake_irqfd irqfd[VMIO_FAKE_MAX_GSIS];
    struct fake_cpu cpu[VMIO_FAKE_MAX_VCPUS];
};

static struct vmio_fake *vm_fake(struct vmio_backend_vm *b)
{
    return (struct vmio_fake *)((char *)b - offsetof(struct vmio_fake, vm));
}

static struct fake_vcpu *to_vcpu(struct vmio_backend_vcpu *b)
{
    return (struct fake_vcpu *)b;
}

/* The injected failure for @op, consumed (0: none). Lock held. */
static int take_fail(struct vmio_fake *f, enum vmio_fake_op op)
{
    int e = f->fail[op];
    f->fail[op] = 0;
    return e;
}

/* A PC's reset state, as KVM gives a new vCPU. */
static void reset_state(struct fake_cpu *c)
{
    memset(&c->regs, 0, sizeof(c->regs));
    memset(&c->sregs, 0, sizeof(c->sregs));
    c->regs.rip = 0xfff0;
    c->regs.rflags = 0x2;
    struct vmio_x86_segment data = {.limit = 0xffff, .type = 0x3, .present = 1, .s = 1};
    c->sregs.ds = c->sregs.es = c->sregs.fs = c->sregs.gs = c->sregs.ss = data;
    c->sregs.cs = data;
    c->sregs.cs.type = 0xb;
    c->sregs.cs.selector = 0xf000;
    c->sregs.cs.base = 0xffff0000;
    c->sregs.tr = (struct vmio_x86_segment){.limit = 0xffff, .type = 0xb, .present = 1};
    c->sregs.ldt = (struct vmio_x86_segment){.limit = 0xffff, .type = 0x2, .present = 1};
    c->sregs.gdt_limit = c->sregs.idt_limit = 0xffff;
    c->sregs.cr0 = 0x60000010;
}

/* Capture the completion of the pending I/O step, if any. Lock held. */
static void capture(struct fake_cpu *c)
{
    if (c->pending < 0)
        return;
    struct fake_step_rec *r = &c->steps[c->pending];
    memcpy(r->result, r->page, r->len);
    r->captured = true;
    c->pending = -1;
}

/* ---- the VM ---- */

static int fake_vm_create(struct vmio_backend *be, struct vmio_backend_vm **out,
                          struct vmio_error *err)
{
    struct vmio_fake *f = (struct vmio_fake *)be;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_VM_CREATE);
    if (rc)
        vmio_error_set(err, rc, "fake vm_create failure");
    else if (f->vm_live)
        rc = vmio_error_set(err, -EBUSY, "the fake backend already has a VM (one VM per fake)");
    if (rc == 0) {
        f->vm_live = true;
        f->irqchip = f->pit = false;
        memset(f->slot_set, 0, sizeof(f->slot_set));
        memset(f->irq, 0, sizeof(f->irq));
        f->nzones = 0;
        f->ring_head = f->ring_len = 0;
        memset(f->irqfd, 0, sizeof(f->irqfd));
        f->nioev = 0;
        *out = &f->vm;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void fake_vm_destroy(struct vmio_backend_vm *b)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    f->vm_live = false;
    pthread_mutex_unlock(&f->lock);
}

static int fake_set_memory(struct vmio_backend_vm *b, uint32_t slot, uint64_t gpa, uint64_t size,
                           void *host, bool readonly, struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_SET_MEMORY);
    if (rc) {
        vmio_error_set(err, rc, "fake set_memory failure");
    } else if (slot >= VMIO_FAKE_MAX_SLOTS) {
        rc = vmio_error_set(err, -EINVAL, "fake set_memory: slot %u beyond the last (%u)", slot,
                            VMIO_FAKE_MAX_SLOTS - 1);
    } else if (size == 0) {
        f->slot_set[slot] = false;
    } else if (((gpa | size | (uintptr_t)host) & 0xfff) || gpa + (size - 1) < gpa) {
        rc = vmio_error_set(err, -EINVAL,
                            "fake set_memory slot %u gpa 0x%" PRIx64 " size 0x%" PRIx64
                            " host %p: not 4 KiB aligned or wraps",
                            slot, gpa, size, host);
    } else {
        for (unsigned i = 0; i < VMIO_FAKE_MAX_SLOTS && rc == 0; i++) {
            const struct vmio_fake_slot *s = &f->slots[i];
            if (i != slot && f->slot_set[i] && gpa <= s->gpa + (s->size - 1) &&
                s->gpa <= gpa + (size - 1))
                rc = vmio_error_set(err, -EEXIST,
                                    "fake set_memory slot %u gpa 0x%" PRIx64
                                    " overlaps slot %u at 0x%" PRIx64,
                                    slot, gpa, i, s->gpa);
        }
        if (rc == 0) {
            f->slots[slot] = (struct vmio_fake_slot){
                .gpa = gpa, .size = size, .host = host, .readonly = readonly};
            f->slot_set[slot] = true;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_create_irqchip(struct vmio_backend_vm *b, bool pit, struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_CREATE_IRQCHIP);
    if (rc)
        vmio_error_set(err, rc, "fake create_irqchip failure");
    else if (f->irqchip)
        rc = vmio_error_set(err, -EEXIST, "fake create_irqchip: already created");
    for (unsigned i = 0; i < VMIO_FAKE_MAX_VCPUS && rc == 0; i++)
        if (f->cpu[i].live)
            rc = vmio_error_set(err, -EINVAL, "fake create_irqchip: vCPU %u already exists", i);
    if (rc == 0) {
        f->irqchip = true;
        f->pit = pit;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_set_sysreg_exits(struct vmio_backend_vm *b, const struct vmio_bus_range *ranges,
                                 unsigned n, bool unknown, struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    if (n > VMIO_FAKE_MAX_SYSREG_RANGES)
        return vmio_error_set(err, -E2BIG, "fake set_sysreg_exits: %u ranges (at most %d)", n,
                              VMIO_FAKE_MAX_SYSREG_RANGES);
    pthread_mutex_lock(&f->lock);
    memcpy(f->sysreg, ranges, n * sizeof(*ranges));
    f->nsysreg = n;
    f->sysreg_unknown = unknown;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int fake_vcpu_fault_access(struct vmio_backend_vcpu *b)
{
    struct fake_vcpu *v = to_vcpu(b);
    pthread_mutex_lock(&v->fake->lock);
    v->fake->cpu[v->index].faults++;
    pthread_mutex_unlock(&v->fake->lock);
    return 0;
}

static int fake_coalesce(struct vmio_backend_vm *b, enum vmio_space space, uint64_t base,
                         uint64_t len, bool on, struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    if (space != VMIO_SPACE_MMIO && space != VMIO_SPACE_PIO)
        return vmio_error_set(err, -ENOTSUP, "fake coalesce: only MMIO and ports buffer writes");
    if (len == 0 || base + len < base)
        return vmio_error_set(err, -EINVAL, "fake coalesce: bad zone 0x%" PRIx64 "+0x%" PRIx64,
                              base, len);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_COALESCE);
    if (rc) {
        vmio_error_set(err, rc, "fake coalesce failure");
    } else if (on) {
        if (f->nzones == VMIO_FAKE_MAX_ZONES)
            rc = vmio_error_set(err, -ENOSPC, "fake coalesce: %d zones already",
                                VMIO_FAKE_MAX_ZONES);
        else
            f->zones[f->nzones++] = (struct vmio_fake_zone){space, base, len};
    } else {
        rc = vmio_error_set(err, -ENOENT, "fake coalesce: no zone 0x%" PRIx64 "+0x%" PRIx64, base,
                            len);
        for (unsigned i = 0; i < f->nzones; i++) {
            struct vmio_fake_zone *z = &f->zones[i];
            if (z->space == space && z->base == base && z->len == len) {
                *z = f->zones[--f->nzones];
                vmio_error_clear(err);
                rc = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static bool fake_coalesced_pending(struct vmio_backend_vm *b)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    bool pending = f->ring_len > 0;
    pthread_mutex_unlock(&f->lock);
    return pending;
}

static int fake_coalesced_pop(struct vmio_backend_vm *b, struct vmio_access *a, uint8_t data[8])
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int got = f->ring_len > 0;
    if (got) {
        *a = f->ring[f->ring_head];
        f->ring_head = (f->ring_head + 1) % f->ring_size;
        f->ring_len--;
        f->popped++;
        memset(data, 0, 8);
        for (unsigned i = 0; i < a->width; i++)
            data[i] = (uint8_t)(a->data >> (8 * i));
        a->buf = data;
    }
    pthread_mutex_unlock(&f->lock);
    return got;
}

/*
 * Whether I/O step @r is a write KVM would buffer now (a single write wholly
 * inside a zone, room in the ring); if so it is buffered. Lock held.
 */
static bool try_buffer(struct vmio_fake *f, struct fake_step_rec *r)
{
    const struct vmio_access *s = &r->step.access;
    if (s->dir != VMIO_WRITE || s->count != 1 || f->ring_len == f->ring_size)
        return false;
    for (unsigned i = 0; i < f->nzones; i++) {
        const struct vmio_fake_zone *z = &f->zones[i];
        if (z->space == s->space && s->addr >= z->base && s->addr + s->width <= z->base + z->len) {
            struct vmio_access *a = &f->ring[(f->ring_head + f->ring_len) % f->ring_size];
            *a = *s;
            a->reg = VMIO_REG_NONE;
            a->buf = NULL;
            a->data = 0;
            memcpy(&a->data, r->page, s->width);
            f->ring_len++;
            f->buffered++;
            memcpy(r->result, r->page, r->len); /* its completion: the bytes written */
            r->captured = true;
            return true;
        }
    }
    return false;
}

unsigned vmio_fake_sysreg_exits(struct vmio_fake *fake, struct vmio_bus_range *out, unsigned max,
                                bool *unknown)
{
    pthread_mutex_lock(&fake->lock);
    unsigned n = fake->nsysreg;
    for (unsigned i = 0; i < n && i < max; i++)
        out[i] = fake->sysreg[i];
    if (unknown)
        *unknown = fake->sysreg_unknown;
    pthread_mutex_unlock(&fake->lock);
    return n;
}

static int fake_irq_line(struct vmio_backend_vm *b, unsigned gsi, int level)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_IRQ_LINE);
    if (rc == 0 && !f->irqchip)
        rc = -ENXIO;
    else if (rc == 0 && gsi >= f->gsis)
        rc = -EINVAL;
    if (rc == 0) {
        struct vmio_fake_irq *l = &f->irq[gsi];
        int lv = level ? 1 : 0;
        if (lv && !l->level)
            l->rises++;
        l->level = lv;
        l->calls++;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* Signal eventfd @fd once (best effort: a full counter just stays full). */
static void signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n;
}

static int fake_ioeventfd(struct vmio_backend_vm *b, int fd, enum vmio_space space, uint64_t addr,
                          unsigned len, bool datamatch, uint64_t data, bool assign,
                          struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    if (space != VMIO_SPACE_MMIO && space != VMIO_SPACE_PIO)
        return vmio_error_set(err, -EINVAL, "fake ioeventfd: address space %d", (int)space);
    if (len != 1 && len != 2 && len != 4 && len != 8)
        return vmio_error_set(err, -EINVAL, "fake ioeventfd: width %u", len);
    if (datamatch)
        data &= len >= 8 ? ~0ULL : ((1ULL << (len * 8)) - 1);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_IOEVENTFD);
    unsigned i = 0;
    while (i < f->nioev &&
           !(f->ioev[i].space == space && f->ioev[i].addr == addr && f->ioev[i].len == len &&
             f->ioev[i].datamatch == datamatch && (!datamatch || f->ioev[i].data == data)))
        i++;
    if (rc) {
        vmio_error_set(err, rc, "fake ioeventfd failure");
    } else if (assign && i < f->nioev) {
        rc = vmio_error_set(err, -EEXIST, "fake ioeventfd: 0x%" PRIx64 " already registered", addr);
    } else if (assign && f->nioev == VMIO_FAKE_MAX_IOEVENTFDS) {
        rc = vmio_error_set(err, -ENOSPC, "fake ioeventfd: more than %d", VMIO_FAKE_MAX_IOEVENTFDS);
    } else if (assign) {
        f->ioev[f->nioev++] = (struct vmio_fake_ioeventfd){.fd = fd,
                                                           .space = space,
                                                           .addr = addr,
                                                           .len = len,
                                                           .datamatch = datamatch,
                                                           .data = datamatch ? data : 0};
    } else if (i == f->nioev || f->ioev[i].fd != fd) {
        rc = vmio_error_set(err, -ENOENT, "fake ioeventfd: 0x%" PRIx64 " is not registered", addr);
    } else {
        f->ioev[i] = f->ioev[--f->nioev];
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_irqfd(struct vmio_backend_vm *b, int fd, unsigned gsi, int resample_fd, bool assign,
                      struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_IRQFD);
    if (rc)
        vmio_error_set(err, rc, "fake irqfd failure");
    else if (!f->irqchip)
        rc = vmio_error_set(err, -ENXIO, "fake irqfd: no irqchip");
    else if (gsi >= f->gsis)
        rc = vmio_error_set(err, -EINVAL, "fake irqfd: GSI %u", gsi);
    else if (assign && f->irqfd[gsi].assigned)
        rc = vmio_error_set(err, -EBUSY, "fake irqfd: GSI %u has one already", gsi);
    else if (!assign && (!f->irqfd[gsi].assigned || f->irqfd[gsi].fd != fd))
        rc = vmio_error_set(err, -ENOENT, "fake irqfd: not registered on GSI %u", gsi);
    if (rc == 0 && assign)
        f->irqfd[gsi] = (struct vmio_fake_irqfd){
            .assigned = true, .fd = fd, .resample_fd = resample_fd < 0 ? -1 : resample_fd};
    else if (rc == 0)
        f->irqfd[gsi].assigned = false;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* ---- vCPUs ---- */

static const struct vmio_backend_ops fake_ops;

static int fake_vcpu_create(struct vmio_backend_vm *b, unsigned index, unsigned count,
                            struct vmio_backend_vcpu **out, struct vmio_error *err)
{
    struct vmio_fake *f = vm_fake(b);
    struct fake_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    v->base.ops = &fake_ops;
    v->fake = f;
    v->index = index;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_VCPU_CREATE);
    if (rc)
        vmio_error_set(err, rc, "fake vcpu_create failure");
    else if (index >= VMIO_FAKE_MAX_VCPUS)
        rc = vmio_error_set(err, -EINVAL, "fake vcpu_create: index %u beyond the last (%u)", index,
                            VMIO_FAKE_MAX_VCPUS - 1);
    else if (f->cpu[index].live)
        rc = vmio_error_set(err, -EEXIST, "fake vcpu_create: vCPU %u exists", index);
    if (rc == 0) {
        struct fake_cpu *c = &f->cpu[index];
        c->live = true;
        c->count = count;
        c->pending = -1;
        c->immediate_exit = false;
        c->sync_regs = false;
    }
    pthread_mutex_unlock(&f->lock);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = &v->base;
    return 0;
}

static void fake_vcpu_destroy(struct vmio_backend_vcpu *b)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    struct fake_cpu *c = &f->cpu[v->index];
    capture(c);
    c->live = false;
    c->immediate_exit = false;
    c->sync_regs = false;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    free(v);
}

/*
 * Consume the I/O write steps at the head of @c's script that an ioeventfd
 * matches, as the hypervisor would while the guest runs. Lock held.
 */
static void eventfd_steps(struct vmio_fake *f, struct fake_cpu *c)
{
    while (c->next < c->n) {
        struct fake_step_rec *r = &c->steps[c->next];
        const struct vmio_access *a = &r->step.access;
        if (r->step.kind != VMIO_FAKE_IO || a->dir != VMIO_WRITE || a->count != 1)
            return;
        uint64_t v = 0;
        memcpy(&v, r->page, a->width);
        unsigned i = 0;
        while (i < f->nioev &&
               !(f->ioev[i].space == a->space && f->ioev[i].addr == a->addr &&
                 f->ioev[i].len == a->width && (!f->ioev[i].datamatch || f->ioev[i].data == v)))
            i++;
        if (i == f->nioev)
            return;
        signal_fd(f->ioev[i].fd);
        f->ioev[i].hits++;
        c->eventfd_writes++;
        memcpy(r->result, r->page, r->len);
        r->replayed = r->captured = r->by_eventfd = true;
        if (r->step.ip)
            c->regs.rip = r->step.ip;
        c->next++;
    }
}

/* Fill @e for I/O step @r (see the contract in vmio/backend.h). */
static void io_exit(struct fake_step_rec *r, struct vmio_exit *e)
{
    struct vmio_access *a = &e->access;
    *a = r->step.access;
    a->reg = VMIO_REG_NONE;
    a->reg_width = 0;
    a->sign_extend = false;
    a->buf = r->page;
    a->data = 0;
    if (a->dir == VMIO_WRITE && a->count == 1)
        memcpy(&a->data, r->page, a->width);
    e->reason = VMIO_EXIT_IO;
}

static int fake_vcpu_enter(struct vmio_backend_vcpu *b, struct vmio_exit *e)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    memset(e, 0, sizeof(*e));
    e->access.reg = VMIO_REG_NONE;
    pthread_mutex_lock(&f->lock);
    struct fake_cpu *c = &f->cpu[v->index];
    c->enters++;
    capture(c);
    int rc = 0;
    bool has_ip = true; /* whether the exit reports RIP (not for INTR / host errors, as KVM) */
    /*
     * Writes KVM would not exit for: an ioeventfd's (the eventfd is
     * signalled) or a coalesced zone's (buffered in the ring); the enter goes on.
     */
    while (!c->immediate_exit && c->next < c->n) {
        unsigned before = c->next;
        eventfd_steps(f, c);
        while (c->next < c->n && c->steps[c->next].step.kind == VMIO_FAKE_IO &&
               try_buffer(f, &c->steps[c->next])) {
            struct fake_step_rec *r = &c->steps[c->next++];
            r->replayed = true;
            if (r->step.ip)
                c->regs.rip = r->step.ip;
        }
        if (c->next == before)
            break;
    }
    if (c->immediate_exit) {
        c->immediate++;
        e->reason = VMIO_EXIT_INTR;
        has_ip = false;
    } else if (c->next >= c->n) {
        c->ran_out++;
        e->reason = VMIO_EXIT_UNKNOWN;
        e->code = VMIO_FAKE_SCRIPT_END;
    } else {
        unsigned idx = c->next++;
        struct fake_step_rec *r = &c->steps[idx];
        r->replayed = true;
        if (r->step.ip)
            c->regs.rip = r->step.ip;
        switch (r->step.kind) {
        case VMIO_FAKE_IO:
            io_exit(r, e);
            c->pending = (int)idx;
            break;
        case VMIO_FAKE_HLT:
            e->reason = VMIO_EXIT_HLT;
            break;
        case VMIO_FAKE_SHUTDOWN:
            e->reason = VMIO_EXIT_SHUTDOWN;
            e->code = r->step.code;
            break;
        case VMIO_FAKE_RESET:
            e->reason = VMIO_EXIT_RESET;
            e->code = r->step.code;
            break;
        case VMIO_FAKE_INTERNAL_ERROR:
            e->reason = VMIO_EXIT_INTERNAL_ERROR;
            e->code = r->step.code;
            break;
        case VMIO_FAKE_FAIL_ENTRY:
            e->reason = VMIO_EXIT_FAIL_ENTRY;
            e->code = r->step.code;
            break;
        case VMIO_FAKE_UNKNOWN:
            e->reason = VMIO_EXIT_UNKNOWN;
            e->code = r->step.code;
            break;
        case VMIO_FAKE_ARM_NISV:
            e->reason = VMIO_EXIT_ARM_NISV;
            e->code = r->step.code;
            e->access.space = VMIO_SPACE_MMIO;
            e->access.count = 1;
            e->access.addr = r->step.access.addr;
            break;
        case VMIO_FAKE_HOST_ERROR:
            e->reason = VMIO_EXIT_HOST_ERROR;
            e->code = r->step.code;
            rc = (int)(int64_t)r->step.code;
            has_ip = false;
            break;
        case VMIO_FAKE_EINTR:
            e->reason = VMIO_EXIT_INTR;
            has_ip = false;
            break;
        case VMIO_FAKE_BLOCK:
            c->blocks_left--;
            c->blocked = true;
            pthread_cond_broadcast(&f->cond);
            while (!c->immediate_exit)
                pthread_cond_wait(&f->cond, &f->lock);
            c->blocked = false;
            pthread_cond_broadcast(&f->cond);
            e->reason = VMIO_EXIT_INTR;
            has_ip = false;
            break;
        case VMIO_FAKE_NKINDS:
            break; /* rejected at push */
        }
    }
    if (has_ip && c->sync_regs)
        e->ip = c->regs.rip;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_set_immediate_exit(struct vmio_backend_vcpu *b, bool on)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    f->cpu[v->index].immediate_exit = on;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int fake_set_sync_regs(struct vmio_backend_vcpu *b, bool on)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_SYNC_REGS);
    if (rc == 0)
        f->cpu[v->index].sync_regs = on;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_mp_state(struct vmio_backend_vcpu *b, unsigned *state)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_MP_STATE);
    if (rc == 0)
        *state = f->cpu[v->index].mp_state;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_get_ip(struct vmio_backend_vcpu *b, uint64_t *ip)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_GET_IP);
    if (rc == 0)
        *ip = f->cpu[v->index].regs.rip;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* Copy @size bytes between a vCPU record field and the caller, with failure injection. */
static int reg_copy(struct vmio_backend_vcpu *b, enum vmio_fake_op op, size_t field, void *dst,
                    const void *src, size_t size)
{
    struct fake_vcpu *v = to_vcpu(b);
    struct vmio_fake *f = v->fake;
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, op);
    if (rc == 0) {
        uint8_t *rec = (uint8_t *)&f->cpu[v->index] + field;
        memcpy(dst ? dst : rec, src ? src : rec, size);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_get_regs(struct vmio_backend_vcpu *b, struct vmio_x86_regs *regs)
{
    return reg_copy(b, VMIO_FAKE_OP_GET_REGS, offsetof(struct fake_cpu, regs), regs, NULL,
                    sizeof(*regs));
}

static int fake_set_regs(struct vmio_backend_vcpu *b, const struct vmio_x86_regs *regs)
{
    return reg_copy(b, VMIO_FAKE_OP_SET_REGS, offsetof(struct fake_cpu, regs), NULL, regs,
                    sizeof(*regs));
}

static int fake_get_sregs(struct vmio_backend_vcpu *b, struct vmio_x86_sregs *sregs)
{
    return reg_copy(b, VMIO_FAKE_OP_GET_SREGS, offsetof(struct fake_cpu, sregs), sregs, NULL,
                    sizeof(*sregs));
}

static int fake_set_sregs(struct vmio_backend_vcpu *b, const struct vmio_x86_sregs *sregs)
{
    return reg_copy(b, VMIO_FAKE_OP_SET_SREGS, offsetof(struct fake_cpu, sregs), NULL, sregs,
                    sizeof(*sregs));
}

static int fake_get_arm64_reg(struct vmio_backend_vcpu *b, unsigned reg, uint64_t *value)
{
    if (reg >= VMIO_ARM64_REG_COUNT)
        return -EINVAL;
    return reg_copy(b, VMIO_FAKE_OP_GET_REGS, offsetof(struct fake_cpu, arm64) + 8 * reg, value,
                    NULL, 8);
}

static int fake_set_arm64_reg(struct vmio_backend_vcpu *b, unsigned reg, uint64_t value)
{
    if (reg >= VMIO_ARM64_REG_COUNT)
        return -EINVAL;
    return reg_copy(b, VMIO_FAKE_OP_SET_REGS, offsetof(struct fake_cpu, arm64) + 8 * reg, NULL,
                    &value, 8);
}

/* The fake's interrupt controller stands for a GICv3 to vmio's AArch64 machine. */
static int fake_irqchip_version(struct vmio_backend_vm *b)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int v = f->irqchip ? 3 : -ENXIO;
    pthread_mutex_unlock(&f->lock);
    return v;
}

/* irqchip_finalize: nothing to finish, but the irqchip must exist (fails as CREATE_IRQCHIP). */
static int fake_irqchip_finalize(struct vmio_backend_vm *b)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    int rc = take_fail(f, VMIO_FAKE_OP_CREATE_IRQCHIP);
    if (rc == 0 && !f->irqchip)
        rc = -ENXIO;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

/* irq_lines: what irq_line and irqfd take. */
static unsigned fake_irq_lines(struct vmio_backend_vm *b)
{
    struct vmio_fake *f = vm_fake(b);
    pthread_mutex_lock(&f->lock);
    unsigned n = f->gsis;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static const struct vmio_backend_ops fake_ops = {
    .name = "fake",
    .vm_create = fake_vm_create,
    .vm_destroy = fake_vm_destroy,
    .set_memory = fake_set_memory,
    .create_irqchip = fake_create_irqchip,
    .set_sysreg_exits = fake_set_sysreg_exits,
    .vcpu_fault_access = fake_vcpu_fault_access,
    .irq_line = fake_irq_line,
    .coalesce = fake_coalesce,
    .coalesced_pending = fake_coalesced_pending,
    .coalesced_pop = fake_coalesced_pop,
    .vcpu_create = fake_vcpu_create,
    .vcpu_destroy = fake_vcpu_destroy,
    .vcpu_enter = fake_vcpu_enter,
    .vcpu_set_immediate_exit = fake_set_immediate_exit,
    .vcpu_set_sync_regs = fake_set_sync_regs,
    .vcpu_mp_state = fake_mp_state,
    .vcpu_get_ip = fake_get_ip,
    .vcpu_get_regs = fake_get_regs,
    .vcpu_set_regs = fake_set_regs,
    .vcpu_get_sregs = fake_get_sregs,
    .vcpu_set_sregs = fake_set_sregs,
    .ioeventfd = fake_ioeventfd,
    .irqfd = fake_irqfd,
    .irq_lines = fake_irq_lines,
    .vcpu_get_arm64_reg = fake_get_arm64_reg,
    .vcpu_set_arm64_reg = fake_set_arm64_reg,
    .irqchip_version = fake_irqchip_version,
    .irqchip_finalize = fake_irqchip_finalize,
};

/* ---- the test's side ---- */

int vmio_fake_create(struct vmio_fake **out, struct vmio_error *err)
{
    struct vmio_fake *f = calloc(1, sizeof(*f));
    if (!f)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    f->backend.ops = &fake_ops;
    f->vm.ops = &fake_ops;
    f->ring_size = VMIO_FAKE_RING_DEFAULT;
    f->gsis = VMIO_FAKE_GSIS;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    for (unsigned i = 0; i < VMIO_FAKE_MAX_VCPUS; i++) {
        f->cpu[i].pending = -1;
        f->cpu[i].mp_state = VMIO_MP_RUNNABLE;
        reset_state(&f->cpu[i]);
    }
    *out = f;
    return 0;
}

int vmio_fake_set_irq_lines(struct vmio_fake *fake, unsigned n)
{
    if (n == 0 || n > VMIO_FAKE_MAX_GSIS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    int rc = fake->vm_live ? -EBUSY : 0;
    if (rc == 0)
        fake->gsis = n;
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

void vmio_fake_destroy(struct vmio_fake *fake)
{
    if (!fake)
        return;
    for (unsigned i = 0; i < VMIO_FAKE_MAX_VCPUS; i++) {
        struct fake_cpu *c = &fake->cpu[i];
        for (unsigned j = 0; j < c->n; j++) {
            free(c->steps[j].page);
            free(c->steps[j].result);
        }
        free(c->steps);
    }
    pthread_cond_destroy(&fake->cond);
    pthread_mutex_destroy(&fake->lock);
    free(fake);
}

struct vmio_backend *vmio_fake_backend(struct vmio_fake *fake)
{
    return &fake->backend;
}

/* Whether I/O step @a is one a backend could produce; normalises count. */
static bool io_step_ok(struct vmio_access *a)
{
    if (a->count == 0)
        a->count = 1;
    if (a->dir != VMIO_READ && a->dir != VMIO_WRITE)
        return false;
    if (a->space == VMIO_SPACE_MMIO) {
        if (a->width < 1 || a->width > 8 || a->count != 1)
            return false;
    } else if (a->space == VMIO_SPACE_PIO) {
        if ((a->width != 1 && a->width != 2 && a->width != 4) || a->addr > 0xffff)
            return false;
    } else if (a->space == VMIO_SPACE_SYSREG) { /* x86 RDMSR/WRMSR: 8 bytes, one register */
        if (a->width != 8 || a->count != 1)
            return false;
    } else {
        return false;
    }
    if ((uint64_t)a->count * a->width > VMIO_FAKE_IO_MAX)
        return false;
    return !(a->dir == VMIO_WRITE && a->count > 1 && !a->buf);
}

int vmio_fake_push(struct vmio_fake *fake, unsigned cpu, const struct vmio_fake_step *step)
{
    if (cpu >= VMIO_FAKE_MAX_VCPUS || (unsigned)step->kind >= VMIO_FAKE_NKINDS)
        return -EINVAL;
    struct fake_step_rec r = {.step = *step};
    if (step->kind == VMIO_FAKE_HOST_ERROR &&
        ((int64_t)step->code >= 0 || (int64_t)step->code < -4095))
        return -EINVAL;
    if (step->kind == VMIO_FAKE_IO) {
        struct vmio_access *a = &r.step.access;
        if (!io_step_ok(a))
            return -EINVAL;
        r.len = (size_t)a->count * a->width;
        size_t alloc = r.len < 8 ? 8 : r.len;
        r.page = malloc(alloc);
        r.result = calloc(1, alloc);
        if (!r.page || !r.result) {
            free(r.page);
            free(r.result);
            return -ENOMEM;
        }
        memset(r.page, VMIO_FAKE_POISON, alloc);
        if (a->dir == VMIO_WRITE) {
            if (a->count > 1)
                memcpy(r.page, a->buf, r.len);
            else
                memcpy(r.page, &a->data, a->width); /* little-endian host */
        }
        a->buf = NULL;
    }
    pthread_mutex_lock(&fake->lock);
    struct fake_cpu *c = &fake->cpu[cpu];
    int rc = 0;
    if (c->n == c->cap) {
        unsigned ncap = c->cap ? c->cap * 2 : 16;
        struct fake_step_rec *grown = realloc(c->steps, ncap * sizeof(*grown));
        if (grown) {
            c->steps = grown;
            c->cap = ncap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        rc = (int)c->n;
        c->steps[c->n++] = r;
        if (step->kind == VMIO_FAKE_BLOCK)
            c->blocks_left++;
        pthread_cond_broadcast(&fake->cond);
    }
    pthread_mutex_unlock(&fake->lock);
    if (rc < 0) {
        free(r.page);
        free(r.result);
    }
    return rc;
}

int vmio_fake_push_io(struct vmio_fake *fake, unsigned cpu, enum vmio_space space,
                      enum vmio_dir dir, unsigned width, uint64_t addr, uint64_t data)
{
    if (width > 0xff)
        return -EINVAL;
    struct vmio_fake_step s = {.kind = VMIO_FAKE_IO,
                               .access = {.space = (uint8_t)space,
                                          .dir = (uint8_t)dir,
                                          .width = (uint8_t)width,
                                          .count = 1,
                                          .addr = addr,
                                          .data = data}};
    return vmio_fake_push(fake, cpu, &s);
}

int vmio_fake_push_kind(struct vmio_fake *fake, unsigned cpu, enum vmio_fake_kind kind,
                        uint64_t code)
{
    if (kind == VMIO_FAKE_IO)
        return -EINVAL;
    struct vmio_fake_step s = {.kind = kind, .code = code};
    return vmio_fake_push(fake, cpu, &s);
}

/*
 * The captured completion of step @step of vCPU @cpu into @buf (at most
 * @size bytes); *@count receives the step's count. Returns its length or
 * -errno as vmio_fake_completion().
 */
static int completion(struct vmio_fake *fake, unsigned cpu, unsigned step, void *buf, size_t size,
                      uint32_t *count)
{
    if (cpu >= VMIO_FAKE_MAX_VCPUS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    struct fake_cpu *c = &fake->cpu[cpu];
    int rc;
    if (step >= c->n || !c->steps[step].replayed) {
        rc = -ENOENT;
    } else if (c->steps[step].step.kind != VMIO_FAKE_IO) {
        rc = -EINVAL;
    } else if (!c->steps[step].captured) {
        rc = -EAGAIN;
    } else {
        const struct fake_step_rec *r = &c->steps[step];
        memcpy(buf, r->result, r->len < size ? r->len : size);
        *count = r->step.access.count;
        rc = (int)r->len;
    }
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

int vmio_fake_completion(struct vmio_fake *fake, unsigned cpu, unsigned step, void *buf,
                         size_t size)
{
    uint32_t count;
    return completion(fake, cpu, step, buf, size, &count);
}

int vmio_fake_read_value(struct vmio_fake *fake, unsigned cpu, unsigned step, uint64_t *value)
{
    uint8_t b[8];
    uint32_t count = 0;
    int n = completion(fake, cpu, step, b, sizeof(b), &count);
    if (n < 0)
        return n;
    if (count != 1)
        return -EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    *value = v;
    return 0;
}

int vmio_fake_cpu_info(struct vmio_fake *fake, unsigned cpu, struct vmio_fake_cpu_info *out)
{
    if (cpu >= VMIO_FAKE_MAX_VCPUS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    const struct fake_cpu *c = &fake->cpu[cpu];
    *out = (struct vmio_fake_cpu_info){.live = c->live,
                                       .blocked = c->blocked,
                                       .immediate_exit = c->immediate_exit,
                                       .sync_regs = c->sync_regs,
                                       .steps = c->n,
                                       .replayed = c->next,
                                       .enters = c->enters,
                                       .immediate = c->immediate,
                                       .ran_out = c->ran_out,
                                       .faults = c->faults,
                                       .count = c->count,
                                       .eventfd_writes = c->eventfd_writes};
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int vmio_fake_wait_blocked(struct vmio_fake *fake, unsigned cpu)
{
    if (cpu >= VMIO_FAKE_MAX_VCPUS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    struct fake_cpu *c = &fake->cpu[cpu];
    while (!c->blocked && c->blocks_left > 0)
        pthread_cond_wait(&fake->cond, &fake->lock);
    int rc = c->blocked ? 0 : -ENOENT;
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

/* Copy a vCPU record field to or from the test (dst or src NULL: the record). */
static int cpu_copy(struct vmio_fake *fake, unsigned cpu, size_t field, void *dst, const void *src,
                    size_t size)
{
    if (cpu >= VMIO_FAKE_MAX_VCPUS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    uint8_t *rec = (uint8_t *)&fake->cpu[cpu] + field;
    memcpy(dst ? dst : rec, src ? src : rec, size);
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int vmio_fake_get_regs(struct vmio_fake *fake, unsigned cpu, struct vmio_x86_regs *regs)
{
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, regs), regs, NULL, sizeof(*regs));
}

int vmio_fake_get_arm64_reg(struct vmio_fake *fake, unsigned cpu, unsigned reg, uint64_t *value)
{
    if (reg >= VMIO_ARM64_REG_COUNT)
        return -EINVAL;
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, arm64) + 8 * reg, value, NULL, 8);
}

int vmio_fake_set_arm64_reg(struct vmio_fake *fake, unsigned cpu, unsigned reg, uint64_t value)
{
    if (reg >= VMIO_ARM64_REG_COUNT)
        return -EINVAL;
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, arm64) + 8 * reg, NULL, &value, 8);
}

int vmio_fake_set_regs(struct vmio_fake *fake, unsigned cpu, const struct vmio_x86_regs *regs)
{
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, regs), NULL, regs, sizeof(*regs));
}

int vmio_fake_get_sregs(struct vmio_fake *fake, unsigned cpu, struct vmio_x86_sregs *sregs)
{
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, sregs), sregs, NULL, sizeof(*sregs));
}

int vmio_fake_set_sregs(struct vmio_fake *fake, unsigned cpu, const struct vmio_x86_sregs *sregs)
{
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, sregs), NULL, sregs, sizeof(*sregs));
}

int vmio_fake_set_mp_state(struct vmio_fake *fake, unsigned cpu, unsigned state)
{
    return cpu_copy(fake, cpu, offsetof(struct fake_cpu, mp_state), NULL, &state, sizeof(state));
}

int vmio_fake_slot(struct vmio_fake *fake, unsigned slot, struct vmio_fake_slot *out)
{
    if (slot >= VMIO_FAKE_MAX_SLOTS)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    int rc = fake->slot_set[slot] ? 0 : -ENOENT;
    if (rc == 0)
        *out = fake->slots[slot];
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

bool vmio_fake_irqchip(struct vmio_fake *fake, bool *pit)
{
    pthread_mutex_lock(&fake->lock);
    bool chip = fake->irqchip;
    if (pit)
        *pit = fake->pit;
    pthread_mutex_unlock(&fake->lock);
    return chip;
}

int vmio_fake_irq(struct vmio_fake *fake, unsigned gsi, struct vmio_fake_irq *out)
{
    if (gsi >= fake->gsis)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    *out = fake->irq[gsi];
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int vmio_fake_fail(struct vmio_fake *fake, enum vmio_fake_op op, int error)
{
    if ((unsigned)op >= VMIO_FAKE_NOPS || error > 0)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    fake->fail[op] = error;
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int vmio_fake_set_ring_size(struct vmio_fake *fake, unsigned entries)
{
    if (entries < 1 || entries > VMIO_FAKE_RING_MAX)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    int rc = fake->ring_len ? -EBUSY : 0;
    if (rc == 0) {
        fake->ring_size = entries;
        fake->ring_head = 0;
    }
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

int vmio_fake_ioeventfd_count(struct vmio_fake *fake)
{
    pthread_mutex_lock(&fake->lock);
    int n = (int)fake->nioev;
    pthread_mutex_unlock(&fake->lock);
    return n;
}

int vmio_fake_ioeventfd_at(struct vmio_fake *fake, unsigned i, struct vmio_fake_ioeventfd *out)
{
    pthread_mutex_lock(&fake->lock);
    int rc = i < fake->nioev ? 0 : -ENOENT;
    if (rc == 0)
        *out = fake->ioev[i];
    pthread_mutex_unlock(&fake->lock);
    return rc;
}

void vmio_fake_coalesced(struct vmio_fake *fake, struct vmio_fake_coalesce_info *out)
{
    pthread_mutex_lock(&fake->lock);
    out->nzones = fake->nzones;
    memcpy(out->zones, fake->zones, sizeof(out->zones));
    out->queued = fake->ring_len;
    out->buffered = fake->buffered;
    out->popped = fake->popped;
    pthread_mutex_unlock(&fake->lock);
}

int vmio_fake_irqfd_get(struct vmio_fake *fake, unsigned gsi, struct vmio_fake_irqfd *out)
{
    if (gsi >= fake->gsis)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    *out = fake->irqfd[gsi];
    pthread_mutex_unlock(&fake->lock);
    return 0;
}

int vmio_fake_irqfd_poll(struct vmio_fake *fake)
{
    int fired = 0;
    pthread_mutex_lock(&fake->lock);
    for (unsigned g = 0; g < fake->gsis; g++) {
        struct vmio_fake_irqfd *q = &fake->irqfd[g];
        uint64_t v;
        if (!q->assigned || read(q->fd, &v, sizeof(v)) != (ssize_t)sizeof(v) || v == 0)
            continue;
        fired++;
        q->injections++;
        struct vmio_fake_irq *l = &fake->irq[g];
        l->calls++;
        if (!l->level)
            l->rises++;
        l->level = q->resample_fd >= 0; /* level: held until the EOI; edge: a pulse */
    }
    pthread_mutex_unlock(&fake->lock);
    return fired;
}

int vmio_fake_eoi(struct vmio_fake *fake, unsigned gsi)
{
    if (gsi >= fake->gsis)
        return -EINVAL;
    pthread_mutex_lock(&fake->lock);
    struct vmio_fake_irqfd *q = &fake->irqfd[gsi];
    int rc = q->assigned && q->resample_fd >= 0 ? 0 : -ENOENT;
    if (rc == 0) {
        q->eois++;
        fake->irq[gsi].level = 0;
        signal_fd(q->resample_fd);
    }
    pthread_mutex_unlock(&fake->lock);
    return rc;
}
