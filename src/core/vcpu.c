/*
 * The vCPU run loop: vmio's counterpart of AxVM's run_vcpu.
 *
 * Each iteration: announce a quiescent point to both buses (this thread holds
 * no range pointer now), enter the guest, and if the exit is an access,
 * look the address up, call the device once per element, complete reads into
 * the backend's buffer, count and time it, and go round again. Any other exit
 * (or an access the loop must not swallow) is returned to the caller.
 *
 * Everything mutated here lives in struct vmio_vcpu: a second vCPU thread
 * shares only the VM's read-only setup and the lock-free buses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/vm_internal.h"
#include "vmio/dispatch.h"

struct vmio_vcpu {
    struct vmio_vm *vm;
    struct kvmb_vcpu *kvm;
    unsigned index;
    struct vmio_bus_reader *mmio_reader;
    struct vmio_bus_reader *pio_reader;
    uint64_t nexits;
    struct vmio_dispatcher dispatcher;
    struct vmio_stats stats;
};

static uint64_t vcpu_ip(void *ctx)
{
    return kvmb_vcpu_ip(ctx);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vmio_vcpu_create(struct vmio_vm *vm, unsigned index, struct vmio_vcpu **out,
                     struct vmio_error *err)
{
    if (index >= VMIO_MAX_VCPUS)
        return vmio_error_set(err, -EINVAL, "vCPU index %u beyond the maximum of %u", index,
                              VMIO_MAX_VCPUS - 1);
    struct vmio_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    v->vm = vm;
    v->index = index;
    pthread_mutex_lock(&vm->lock);
    int rc = 0;
    if (vm->vcpus[index])
        rc = vmio_error_set(err, -EEXIST, "vCPU %u already exists", index);
    else
        vm->vcpus[index] = v;
    pthread_mutex_unlock(&vm->lock);
    if (rc < 0) {
        free(v);
        return rc;
    }
    rc = kvmb_vcpu_create(vm->kvm, index, &v->kvm, err);
    if (rc == 0) {
        v->mmio_reader = vmio_bus_reader_add(vm->mmio);
        v->pio_reader = vmio_bus_reader_add(vm->pio);
        if (!v->mmio_reader || !v->pio_reader)
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
    }
    v->dispatcher = (struct vmio_dispatcher){.mmio = vm->mmio,
                                             .pio = vm->pio,
                                             .policy = vm->policy,
                                             .log = vm->log,
                                             .get_ip = vcpu_ip,
                                             .ctx = v->kvm};
    if (rc == 0 && vm->trace)
        rc = kvmb_vcpu_set_sync_regs(v->kvm, true);
    if (rc < 0) {
        vmio_vcpu_destroy(v);
        return rc;
    }
    *out = v;
    return 0;
}

void vmio_vcpu_destroy(struct vmio_vcpu *v)
{
    if (!v)
        return;
    struct vmio_vm *vm = v->vm;
    pthread_mutex_lock(&vm->lock);
    if (vm->vcpus[v->index] == v)
        vm->vcpus[v->index] = NULL;
    vmio_stats_add(&vm->stats_done, &v->stats);
    pthread_mutex_unlock(&vm->lock);
    vmio_bus_reader_remove(vm->mmio, v->mmio_reader);
    vmio_bus_reader_remove(vm->pio, v->pio_reader);
    kvmb_vcpu_destroy(v->kvm);
    free(v);
}

/* Stats bucket of an access: which kind it is, claimed or not. */
static enum vmio_stat_kind access_kind(const struct vmio_access *a, bool claimed)
{
    if (!claimed)
        return a->dir == VMIO_WRITE ? VMIO_STAT_UNCLAIMED_WRITE : VMIO_STAT_UNCLAIMED_READ;
    if (a->space == VMIO_SPACE_PIO)
        return a->dir == VMIO_WRITE ? VMIO_STAT_PIO_OUT : VMIO_STAT_PIO_IN;
    return a->dir == VMIO_WRITE ? VMIO_STAT_MMIO_WRITE : VMIO_STAT_MMIO_READ;
}

static void trace_exit(struct vmio_vcpu *v, const struct vmio_exit *e, const char *dev)
{
    const struct vmio_access *a = &e->access;
    uint64_t value = a->count == 1 ? a->data : 0; /* string I/O: see the elements' device */
    fprintf(v->vm->trace,
            "vmio-trace: cpu%u #%" PRIu64 " %s %s 0x%" PRIx64 " w%u x%" PRIu32 " val 0x%" PRIx64
            " dev %s rip 0x%" PRIx64 "\n",
            v->index, v->nexits, vmio_space_name(a->space), a->dir == VMIO_WRITE ? "write" : "read",
            a->addr, a->width, a->count, value, dev ? dev : "-", e->ip);
}

/* Handle one I/O exit. Returns 1 when vmio_vcpu_run() must return it. */
static int handle_access(struct vmio_vcpu *v, struct vmio_exit *e)
{
    struct vmio_access *a = &e->access;
    struct vmio_vm *vm = v->vm;
    uint64_t t0 = vm->timing ? now_ns() : 0;
    const struct vmio_bus_range *r;
    int stop = vmio_dispatch(&v->dispatcher, e, &r);
    uint64_t dt = vm->timing ? now_ns() - t0 : 0;

    struct vmio_stat_counter *k = &v->stats.kind[access_kind(a, r != NULL)];
    k->count++;
    k->elements += a->count;
    k->ns += dt;
    if (r) {
        unsigned id = r->dev->id < VMIO_STATS_MAX_DEVICES ? r->dev->id : VMIO_STATS_MAX_DEVICES - 1;
        struct vmio_stat_counter *d = &v->stats.device[id];
        d->count++;
        d->elements += a->count;
        d->ns += dt;
    }
    if (vm->trace)
        trace_exit(v, e, r ? r->dev->name : NULL);
    return stop;
}

int vmio_vcpu_run(struct vmio_vcpu *v, struct vmio_exit *e)
{
    for (;;) {
        vmio_bus_reader_quiesce(v->mmio_reader);
        vmio_bus_reader_quiesce(v->pio_reader);
        int rc = kvmb_vcpu_enter(v->kvm, e);
        v->nexits++;
        if (rc < 0)
            return rc;
        if (e->reason == VMIO_EXIT_IO) {
            if (handle_access(v, e))
                return 0;
            continue;
        }
        enum vmio_stat_kind kind = e->reason == VMIO_EXIT_HLT ? VMIO_STAT_HLT : VMIO_STAT_OTHER;
        v->stats.kind[kind].count++;
        v->stats.kind[kind].elements++;
        if (!e->ip && e->reason != VMIO_EXIT_INTR)
            e->ip = kvmb_vcpu_ip(v->kvm);
        return 0;
    }
}

int vmio_vcpu_get_regs(struct vmio_vcpu *v, struct vmio_x86_regs *regs)
{
    return kvmb_vcpu_get_regs(v->kvm, regs);
}

int vmio_vcpu_set_regs(struct vmio_vcpu *v, const struct vmio_x86_regs *regs)
{
    return kvmb_vcpu_set_regs(v->kvm, regs);
}

int vmio_vcpu_get_sregs(struct vmio_vcpu *v, struct vmio_x86_sregs *sregs)
{
    return kvmb_vcpu_get_sregs(v->kvm, sregs);
}

int vmio_vcpu_set_sregs(struct vmio_vcpu *v, const struct vmio_x86_sregs *sregs)
{
    return kvmb_vcpu_set_sregs(v->kvm, sregs);
}

const struct vmio_stats *vmio_vcpu_stats(const struct vmio_vcpu *v)
{
    return &v->stats;
}
