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
 *
 * The hypervisor is reached only through the backend ops table
 * (vmio/backend.h): entering the guest costs one indirect call per exit.
 * Handling time is read from the VM's clock (vmio_vm_options.clock).
 *
 * Kicks: `kick_lock` guards the kick state, which other threads change:
 * `kick` (a kick not yet consumed), the backend's immediate-exit flag (set
 * iff `kick` is, both changed together under the lock), `hv` as kickers see
 * it, and `thread`/`in_run` (who to signal). The loop reads `kick` without
 * the lock before each entry (one atomic load); a kick that lands after
 * that read still stops the enter through the immediate-exit flag or,
 * inside it, through the signal.
 *
 * vmio_vm_run(): one thread per vCPU; the first to return records its exit
 * in the shared result under `run.lock` and kicks the rest; the caller's
 * thread joins them all, then clears leftover kicks.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"
#include "core/vm_internal.h"
#include "vmio/dispatch.h"

struct vmio_vcpu {
    struct vmio_vm *vm;
    struct vmio_backend_vcpu *hv; /* set under kick_lock (kickers read it there) */
    unsigned index;
    struct vmio_bus_reader *mmio_reader;
    struct vmio_bus_reader *pio_reader;
    uint64_t nexits;
    struct vmio_dispatcher dispatcher;
    struct vmio_stats stats;
    struct vmio_insn_cache *icache; /* decodes for traces and reports; NULL until needed */

    pthread_mutex_t kick_lock;
    atomic_bool kick; /* written under kick_lock */
    bool in_run;      /* under kick_lock: `thread` is in vmio_vcpu_run() */
    pthread_t thread;
};

/* The kick signal's handler: its only job is to make KVM_RUN (a blocking enter) return EINTR. */
static void kick_handler(int sig)
{
    (void)sig;
}

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static void kick_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sa.sa_flags = SA_RESTART; /* a kick in user space must not break the thread's syscalls */
    sigemptyset(&sa.sa_mask);
    sigaction(vmio_vcpu_kick_signal(), &sa, NULL);
}

int vmio_vcpu_kick_signal(void)
{
    return SIGRTMIN;
}

static uint64_t vcpu_ip(void *ctx);
static void vcpu_describe_insn(void *ctx, const struct vmio_exit *e, char *buf, size_t size);

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
    pthread_mutex_init(&v->kick_lock, NULL);
    atomic_init(&v->kick, false);
    pthread_once(&kick_once, kick_install);
    pthread_mutex_lock(&vm->lock);
    int rc = 0;
    if (vm->vcpus[index])
        rc = vmio_error_set(err, -EEXIST, "vCPU %u already exists", index);
    else
        vm->vcpus[index] = v;
    pthread_mutex_unlock(&vm->lock);
    if (rc < 0) {
        pthread_mutex_destroy(&v->kick_lock);
        free(v);
        return rc;
    }
    struct vmio_backend_vcpu *hv = NULL;
    unsigned count = vm->cpus > index ? vm->cpus : index + 1;
    rc = vmio_backend_vcpu_create(vm->hv, index, count, &hv, err);
    pthread_mutex_lock(&v->kick_lock);
    v->hv = hv;
    pthread_mutex_unlock(&v->kick_lock);
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
                                             .describe_insn = vcpu_describe_insn,
                                             .ctx = v,
                                             .limits = &vm->log_limits};
    if (rc == 0 && vm->trace) {
        rc = vmio_backend_vcpu_set_sync_regs(v->hv, true);
        if (rc == -ENOTSUP) /* RIP then costs a register read per traced exit */
            rc = 0;
        else if (rc < 0)
            vmio_error_set(err, rc, "vCPU %u: cannot turn on sync regs for tracing: %s", index,
                           strerror(-rc));
    }
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
    vmio_backend_vcpu_destroy(v->hv);
    pthread_mutex_destroy(&v->kick_lock);
    free(v->icache);
    free(v);
}

void vmio_vcpu_kick(struct vmio_vcpu *v)
{
    pthread_mutex_lock(&v->kick_lock);
    atomic_store(&v->kick, true);
    if (v->hv)
        vmio_backend_vcpu_set_immediate_exit(v->hv, true);
    if (v->in_run)
        pthread_kill(v->thread, vmio_vcpu_kick_signal());
    pthread_mutex_unlock(&v->kick_lock);
}

/* Consume pending kicks; returns whether there was one. */
static bool kick_consume(struct vmio_vcpu *v)
{
    if (!atomic_load(&v->kick))
        return false;
    pthread_mutex_lock(&v->kick_lock);
    bool was = atomic_exchange(&v->kick, false);
    vmio_backend_vcpu_set_immediate_exit(v->hv, false);
    pthread_mutex_unlock(&v->kick_lock);
    return was;
}

unsigned vmio_vcpu_index(const struct vmio_vcpu *v)
{
    return v->index;
}

int vmio_vcpu_mp_state(struct vmio_vcpu *v, unsigned *state)
{
    return vmio_backend_vcpu_mp_state(v->hv, state);
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

/* Register accessors for the trace decoder (ctx is the vCPU). */
static int trace_get_regs(void *ctx, struct vmio_x86_regs *regs)
{
    return vmio_backend_vcpu_get_regs(((struct vmio_vcpu *)ctx)->hv, regs);
}

static int trace_get_sregs(void *ctx, struct vmio_x86_sregs *sregs)
{
    return vmio_backend_vcpu_get_sregs(((struct vmio_vcpu *)ctx)->hv, sregs);
}

/*
 * The " insn ..." suffix of an MMIO exit: the decoded instruction for a read
 * (core/trace.c); "" for port I/O and for writes in reports. Only for traces
 * and unclaimed-access reports.
 */
static void exit_insn(struct vmio_vcpu *v, const struct vmio_exit *e, char *buf, size_t size)
{
    buf[0] = '\0';
    if (e->access.space == VMIO_SPACE_MMIO) {
        struct vmio_trace_regs regs = {
            .get_regs = trace_get_regs, .get_sregs = trace_get_sregs, .ctx = v};
        vmio_trace_exit_insn(&v->icache, v->vm->mem, &regs, e, buf, size);
    }
}

/* The guest RIP now, 0 when the backend cannot say. */
static uint64_t current_ip(struct vmio_vcpu *v)
{
    uint64_t ip = 0;
    return vmio_backend_vcpu_get_ip(v->hv, &ip) == 0 ? ip : 0;
}

/* Dispatcher callbacks (ctx is the vCPU). */
static uint64_t vcpu_ip(void *ctx)
{
    return current_ip(ctx);
}

static void vcpu_describe_insn(void *ctx, const struct vmio_exit *e, char *buf, size_t size)
{
    buf[0] = '\0';
    if (e->access.dir == VMIO_READ) /* a write's RIP is already past its instruction */
        exit_insn(ctx, e, buf, size);
}

/* A strict stop at an unclaimed MMIO read: one more line, naming the instruction. */
static void report_strict_stop(struct vmio_vcpu *v, const struct vmio_exit *e)
{
    char insn[256];
    vcpu_describe_insn(v, e, insn, sizeof(insn));
    fprintf(v->vm->log ? v->vm->log : stderr,
            "vmio: cpu%u: unclaimed mmio read 0x%" PRIx64 " w%u by rip 0x%" PRIx64 "%s\n", v->index,
            e->access.addr, e->access.width, e->ip, insn);
}

/* Handle one I/O exit. Returns 1 when vmio_vcpu_run() must return it. */
static int handle_access(struct vmio_vcpu *v, struct vmio_exit *e)
{
    struct vmio_access *a = &e->access;
    struct vmio_vm *vm = v->vm;
    uint64_t t0 = vm->timing ? vmio_clock_now(vm->clock) : 0;
    const struct vmio_bus_range *r;
    int stop = vmio_dispatch(&v->dispatcher, e, &r);
    uint64_t dt = vm->timing ? vmio_clock_now(vm->clock) - t0 : 0;

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
    if (stop && e->reason == VMIO_EXIT_UNCLAIMED && a->space == VMIO_SPACE_MMIO &&
        a->dir == VMIO_READ)
        report_strict_stop(v, e);
    if (vm->trace && vmio_trace_allow(vm->trace_limit, vm->trace)) { /* never untraced */
        char insn[256];
        exit_insn(v, e, insn, sizeof(insn));
        vmio_trace_exit(vm->trace, v->index, v->nexits, e, r ? r->dev->name : NULL, insn);
    }
    return stop;
}

/*
 * Why a kicked vCPU stops: the guest's power request when one was made
 * (vmio_vm_power_request() kicks every vCPU), else a plain interruption.
 */
static enum vmio_exit_reason stopped_reason(struct vmio_vm *vm)
{
    switch (atomic_load(&vm->power_event)) {
    case VMIO_POWER_OFF:
        return VMIO_EXIT_POWEROFF;
    case VMIO_POWER_RESET:
        return VMIO_EXIT_RESET;
    default:
        return VMIO_EXIT_INTR;
    }
}

/* The loop proper (the thread is registered for kicks). */
static int run_loop(struct vmio_vcpu *v, struct vmio_exit *e)
{
    for (;;) {
        if (kick_consume(v)) {
            memset(e, 0, sizeof(*e));
            e->reason = stopped_reason(v->vm);
            e->code = (uint64_t)atomic_load(&v->vm->power_event);
            e->access.reg = VMIO_REG_NONE;
            return 0;
        }
        vmio_bus_reader_quiesce(v->mmio_reader);
        vmio_bus_reader_quiesce(v->pio_reader);
        int rc = vmio_backend_vcpu_enter(v->hv, e);
        v->nexits++;
        if (rc < 0)
            return rc;
        if (e->reason == VMIO_EXIT_IO) {
            if (handle_access(v, e))
                return 0;
            continue;
        }
        if (e->reason == VMIO_EXIT_INTR) {
            kick_consume(v); /* a kick's or another signal's: either way the run ends */
            e->reason = stopped_reason(v->vm);
            e->code = (uint64_t)atomic_load(&v->vm->power_event);
            return 0;
        }
        enum vmio_stat_kind kind = e->reason == VMIO_EXIT_HLT ? VMIO_STAT_HLT : VMIO_STAT_OTHER;
        v->stats.kind[kind].count++;
        v->stats.kind[kind].elements++;
        if (!e->ip)
            e->ip = current_ip(v);
        return 0;
    }
}

int vmio_vcpu_run(struct vmio_vcpu *v, struct vmio_exit *e)
{
    sigset_t kick_set, old;
    sigemptyset(&kick_set);
    sigaddset(&kick_set, vmio_vcpu_kick_signal());
    pthread_sigmask(SIG_UNBLOCK, &kick_set, &old);
    pthread_mutex_lock(&v->kick_lock);
    v->thread = pthread_self();
    v->in_run = true;
    pthread_mutex_unlock(&v->kick_lock);

    int rc = run_loop(v, e);
    if (v->vm->trace)
        vmio_trace_cache_stats(v->vm->trace, v->index, v->icache);

    pthread_mutex_lock(&v->kick_lock);
    v->in_run = false;
    pthread_mutex_unlock(&v->kick_lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- vmio_vm_run(): one thread per vCPU ---- */

struct run_shared {
    struct vmio_vcpu *const *vcpus;
    unsigned n;
    const struct vmio_run_options *opts;
    struct vmio_run_result *out;
    pthread_mutex_t lock; /* have_first and *out */
    bool have_first;
};

struct run_thread {
    struct run_shared *sh;
    unsigned i; /* position in vcpus[] */
    pthread_t tid;
};

/* Record @e as vCPU @i's last exit; the first one ends the run: kick the others. */
static void run_finish(struct run_shared *sh, unsigned i, int rc, const struct vmio_exit *e,
                       const struct vmio_error *init_err)
{
    if (sh->opts && sh->opts->exits)
        sh->opts->exits[i] = *e;
    pthread_mutex_lock(&sh->lock);
    bool first = !sh->have_first;
    if (first) {
        sh->have_first = true;
        sh->out->exit = *e;
        sh->out->vcpu = sh->vcpus[i]->index;
        sh->out->rc = rc;
        if (init_err)
            sh->out->err = *init_err;
    }
    pthread_mutex_unlock(&sh->lock);
    if (first)
        for (unsigned j = 0; j < sh->n; j++)
            if (j != i)
                vmio_vcpu_kick(sh->vcpus[j]);
}

static void *run_thread_main(void *arg)
{
    struct run_thread *t = arg;
    struct run_shared *sh = t->sh;
    struct vmio_vcpu *v = sh->vcpus[t->i];
    struct vmio_exit e;
    memset(&e, 0, sizeof(e));
    e.access.reg = VMIO_REG_NONE;
    if (sh->opts && sh->opts->thread_init) {
        struct vmio_error ierr = {0};
        int rc = sh->opts->thread_init(sh->opts->ctx, v->index, &ierr);
        if (rc < 0) {
            if (!ierr.code)
                vmio_error_set(&ierr, rc, "vCPU %u: thread setup failed: %s", v->index,
                               strerror(-rc));
            e.reason = VMIO_EXIT_HOST_ERROR;
            e.code = (uint64_t)(int64_t)rc;
            run_finish(sh, t->i, rc, &e, &ierr);
            return NULL;
        }
    }
    int rc = vmio_vcpu_run(v, &e);
    run_finish(sh, t->i, rc, &e, NULL);
    return NULL;
}

int vmio_vm_run(struct vmio_vm *vm, struct vmio_vcpu *const *vcpus, unsigned n,
                const struct vmio_run_options *opts, struct vmio_run_result *out,
                struct vmio_error *err)
{
    if (n == 0 || n > VMIO_MAX_VCPUS || !vcpus || !out)
        return vmio_error_set(err, -EINVAL, "vmio_vm_run: %u vCPUs (expected 1..%u)", n,
                              VMIO_MAX_VCPUS);
    for (unsigned i = 0; i < n; i++) {
        if (!vcpus[i] || vcpus[i]->vm != vm)
            return vmio_error_set(err, -EINVAL, "vmio_vm_run: vcpus[%u] is %s", i,
                                  vcpus[i] ? "a vCPU of another VM" : "NULL");
        for (unsigned j = 0; j < i; j++)
            if (vcpus[j] == vcpus[i])
                return vmio_error_set(err, -EINVAL, "vmio_vm_run: vCPU %u is given twice",
                                      vcpus[i]->index);
    }
    if (n > 1 && !vm->irqchip)
        return vmio_error_set(err, -EINVAL,
                              "running %u vCPUs needs the in-kernel irqchip (each vCPU's local "
                              "APIC carries the INIT/SIPI that starts it): create the VM with "
                              "vmio_vm_options.irqchip",
                              n);
    struct run_thread *th = calloc(n, sizeof(*th));
    if (!th)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    memset(out, 0, sizeof(*out));
    struct run_shared sh = {.vcpus = vcpus, .n = n, .opts = opts, .out = out};
    pthread_mutex_init(&sh.lock, NULL);
    unsigned started = 0;
    int rc = 0;
    for (; started < n; started++) {
        th[started] = (struct run_thread){.sh = &sh, .i = started};
        int e = pthread_create(&th[started].tid, NULL, run_thread_main, &th[started]);
        if (e) {
            rc = vmio_error_set(err, -EAGAIN, "cannot start a thread for vCPU %u: %s",
                                vcpus[started]->index, strerror(e));
            break;
        }
    }
    if (rc < 0) /* stop what runs: the kick reaches a thread before or inside its run */
        for (unsigned i = 0; i < started; i++)
            vmio_vcpu_kick(vcpus[i]);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i].tid, NULL);
    for (unsigned i = 0; i < n; i++) /* a vCPU that stopped by itself may still hold a kick */
        kick_consume(vcpus[i]);
    pthread_mutex_destroy(&sh.lock);
    free(th);
    return rc;
}

void vmio_vm_stop(struct vmio_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++)
        if (vm->vcpus[i])
            vmio_vcpu_kick(vm->vcpus[i]);
    pthread_mutex_unlock(&vm->lock);
}

void vmio_vm_power_request(struct vmio_vm *vm, enum vmio_power_event event)
{
    int none = 0;
    atomic_compare_exchange_strong(&vm->power_event, &none, (int)event);
    vmio_vm_stop(vm);
}

void vmio_vm_power_fn(void *ctx, enum vmio_power_event event)
{
    vmio_vm_power_request(ctx, event);
}

enum vmio_power_event vmio_vm_power_event(struct vmio_vm *vm)
{
    return (enum vmio_power_event)atomic_load(&vm->power_event);
}

int vmio_vcpu_get_regs(struct vmio_vcpu *v, struct vmio_x86_regs *regs)
{
    return vmio_backend_vcpu_get_regs(v->hv, regs);
}

int vmio_vcpu_set_regs(struct vmio_vcpu *v, const struct vmio_x86_regs *regs)
{
    return vmio_backend_vcpu_set_regs(v->hv, regs);
}

int vmio_vcpu_get_sregs(struct vmio_vcpu *v, struct vmio_x86_sregs *sregs)
{
    return vmio_backend_vcpu_get_sregs(v->hv, sregs);
}

int vmio_vcpu_set_sregs(struct vmio_vcpu *v, const struct vmio_x86_sregs *sregs)
{
    return vmio_backend_vcpu_set_sregs(v->hv, sregs);
}

const struct vmio_stats *vmio_vcpu_stats(const struct vmio_vcpu *v)
{
    return &v->stats;
}
