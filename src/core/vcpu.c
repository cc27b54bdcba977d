/*
 * The vCPU run loop: vmio's counterpart of AxVM's run_vcpu.
 *
 * Each iteration: enter the guest; if something asked for attention (a bus
 * published: quiesce, i.e. announce that this thread holds no range; coalesced
 * writes exist: drain them), see to it; then, for an access, find its device
 * (the exit cache, core/exit_cache.h, else the bus), call it once per
 * element, complete reads into the backend's buffer, count and time it, and
 * go round again. Any other exit (or an access the loop must not swallow) is
 * returned to the caller.
 *
 * Everything mutated here lives in struct vmio_vcpu: a second vCPU thread
 * shares only the VM's read-only setup and the lock-free buses.
 *
 * The hypervisor is reached only through the backend ops table
 * (vmio/backend.h): entering the guest costs one indirect call per exit.
 * Handling time is read in the VM's time units (core/timing.h: TSC ticks or
 * the VM's clock), turned into ns only when reported. This loop is the exit
 * path: bench/exit_insns.py counts its instructions per exit (callgrind), so
 * keep anything that is not needed for every access out of it. The loop is
 * compiled once per timing mode (core/timing.h), chosen at each
 * vmio_vcpu_run(); an access the exit cache serves takes fast_access(),
 * everything else general_access().
 *
 * Attention (`attn`): a word only other threads' rare events set and only
 * this thread clears, so the loop tests one word it owns per exit instead of
 * polling the buses and the VM: VCPU_ATTN_BUS is set by each bus after a
 * publication (vmio_bus_reader_notify()), VCPU_ATTN_DRAIN while the VM has
 * coalesced writes. Kicks need no bit: a kick sets the backend's
 * immediate-exit flag, so the next enter returns VMIO_EXIT_INTR at once.
 *
 * Stall watchdog: while a device handles an access, `busy_since` holds the
 * handling's start (in time units, never 0) and `busy_exit` the access
 * (the run's exit record, set once per run; the ISV=0 hook, nisv_access(),
 * points it at its own record for its calls and back); busy_since is
 * published with a release store and cleared after the call, so
 * vmio_vm_watchdog_check() on another thread can name a handler that has not
 * returned (it re-reads busy_since after copying the access to make sure the
 * copy belongs to that same call).
 *
 * Kicks: `kick_lock` guards the kick state, which other threads change:
 * `kick` (a kick not yet consumed), the backend's immediate-exit flag (set
 * iff `kick` is, both changed together under the lock), `hv` as kickers see
 * it, and `thread`/`in_run` (who to signal). The loop reads `kick` without
 * the lock only where it must decide (an interrupted enter); a kick stops
 * the next enter through the immediate-exit flag or, inside it, through the
 * signal.
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

#include "core/dispatch_internal.h"
#include "core/exit_cache.h"
#include "core/trace.h"
#include "core/vm_internal.h"
#include "vmio/arm64_nisv.h"
#include "vmio/dispatch.h"

struct vmio_vcpu {
    /* First, so an entry's address (and its io's) is the vCPU's plus a shift. */
    struct exit_cache_entry cache[EXIT_CACHE_SPACES];
    struct vmio_vm *vm;
    struct vmio_backend_vcpu *hv; /* set under kick_lock (kickers read it there) */
    unsigned index;
    struct vmio_bus_reader *mmio_reader;
    struct vmio_bus_reader *pio_reader;
    struct vmio_bus_reader *sysreg_reader;
    _Atomic unsigned attn; /* VCPU_ATTN_*: see the top of this file */
    uint64_t nexits;
    struct exit_counters *counters; /* [VMIO_STATS_MAX_DEVICES]: the fast path's */
    struct vmio_dispatcher dispatcher;
    _Atomic uint64_t busy_since;               /* see the top of this file */
    const struct vmio_exit *_Atomic busy_exit; /* the access being handled */
    bool timing;                               /* vm->timing as the current run began */
    _Atomic uint64_t stall_reported;           /* busy_since of the last stall reported */
    struct vmio_stats stats;                   /* everything the fast path does not count */
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

#define VCPU_ATTN_BUS 1u   /* a bus published: quiesce before the next lookup */
#define VCPU_ATTN_DRAIN 2u /* the VM has coalesced writes: drain after every exit (sticky) */

/* The vCPU's readers hold nothing and look nothing up until the next quiesce. */
static void readers_offline(struct vmio_vcpu *v)
{
    exit_cache_clear(v->cache);
    bus_reader_offline(v->mmio_reader);
    bus_reader_offline(v->pio_reader);
    bus_reader_offline(v->sysreg_reader);
}

/*
 * When the vCPU holds no range (between exits): announce what the three
 * buses have published, and forget the ranges cached from older snapshots.
 * The bit is cleared first, so a publication that lands meanwhile sets it
 * again and is seen at the next exit.
 */
static void readers_quiesce(struct vmio_vcpu *v)
{
    atomic_fetch_and_explicit(&v->attn, ~VCPU_ATTN_BUS, memory_order_acquire);
    exit_cache_clear(v->cache);
    bus_reader_quiesce(v->mmio_reader);
    bus_reader_quiesce(v->pio_reader);
    bus_reader_quiesce(v->sysreg_reader);
}

void vmio_vcpu_note_drain(struct vmio_vcpu *v)
{
    atomic_fetch_or(&v->attn, VCPU_ATTN_DRAIN);
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
        v->sysreg_reader = vmio_bus_reader_add(vm->sysreg);
        v->counters = calloc(VMIO_STATS_MAX_DEVICES, sizeof(*v->counters));
        if (!v->mmio_reader || !v->pio_reader || !v->sysreg_reader || !v->counters) {
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
        } else {
            vmio_bus_reader_notify(v->mmio_reader, &v->attn, VCPU_ATTN_BUS);
            vmio_bus_reader_notify(v->pio_reader, &v->attn, VCPU_ATTN_BUS);
            vmio_bus_reader_notify(v->sysreg_reader, &v->attn, VCPU_ATTN_BUS);
            readers_offline(v); /* online only inside vmio_vcpu_run() */
        }
    }
    v->dispatcher = (struct vmio_dispatcher){.mmio = vm->mmio,
                                             .pio = vm->pio,
                                             .mmio_reader = v->mmio_reader,
                                             .pio_reader = v->pio_reader,
                                             .sysreg = vm->sysreg,
                                             .sysreg_reader = v->sysreg_reader,
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
    vmio_vcpu_add_raw_stats(v, &vm->stats_done); /* both in time units */
    pthread_mutex_unlock(&vm->lock);
    vmio_bus_reader_remove(vm->mmio, v->mmio_reader);
    vmio_bus_reader_remove(vm->pio, v->pio_reader);
    vmio_bus_reader_remove(vm->sysreg, v->sysreg_reader);
    vmio_backend_vcpu_destroy(v->hv);
    pthread_mutex_destroy(&v->kick_lock);
    free(v->icache);
    free(v->counters);
    free(v);
}

bool vmio_vcpu_current_of(struct vmio_vm *vm)
{
    bool mine = false;
    pthread_mutex_lock(&vm->lock);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS && !mine; i++) {
        struct vmio_vcpu *v = vm->vcpus[i];
        if (!v)
            continue;
        pthread_mutex_lock(&v->kick_lock);
        mine = v->in_run && pthread_equal(v->thread, pthread_self());
        pthread_mutex_unlock(&v->kick_lock);
    }
    pthread_mutex_unlock(&vm->lock);
    return mine;
}

void vmio_vcpu_nudge(struct vmio_vcpu *v)
{
    /* A kick without the kick flag: KVM_RUN returns EINTR, the run loop re-enters. */
    pthread_mutex_lock(&v->kick_lock);
    if (v->in_run && v->hv) {
        vmio_backend_vcpu_set_immediate_exit(v->hv, true);
        pthread_kill(v->thread, vmio_vcpu_kick_signal());
    }
    pthread_mutex_unlock(&v->kick_lock);
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
static bool kick_take(struct vmio_vcpu *v)
{
    pthread_mutex_lock(&v->kick_lock);
    bool was = atomic_exchange(&v->kick, false);
    vmio_backend_vcpu_set_immediate_exit(v->hv, false);
    pthread_mutex_unlock(&v->kick_lock);
    return was;
}

/* Consume a pending kick if there is one: one relaxed load when none (kick_take() re-checks). */
static inline bool kick_consume(struct vmio_vcpu *v)
{
    if (__builtin_expect(!atomic_load_explicit(&v->kick, memory_order_relaxed), 1))
        return false;
    return kick_take(v);
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
static inline enum vmio_stat_kind access_kind(const struct vmio_access *a, bool claimed)
{
    /* A claimed access is on the MMIO (0), PIO (1) or system-register (2) bus; dir is 0 or 1. */
    static const uint8_t kinds[3][2] = {{VMIO_STAT_MMIO_READ, VMIO_STAT_MMIO_WRITE},
                                        {VMIO_STAT_PIO_IN, VMIO_STAT_PIO_OUT},
                                        {VMIO_STAT_SYSREG_READ, VMIO_STAT_SYSREG_WRITE}};
    if (__builtin_expect(!claimed, 0))
        return a->dir == VMIO_WRITE ? VMIO_STAT_UNCLAIMED_WRITE : VMIO_STAT_UNCLAIMED_READ;
    return (enum vmio_stat_kind)kinds[a->space][a->dir & 1];
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

/* Histogram bucket of a handling time: floor(log2(t)) + 1, the last bucket open-ended. */
static inline unsigned hist_bucket(uint64_t t)
{
    unsigned b = t ? 64u - (unsigned)__builtin_clzll(t) : 0;
    return b < VMIO_STAT_HIST_BUCKETS ? b : VMIO_STAT_HIST_BUCKETS - 1;
}

/*
 * Count (and time) one access in @kind and, when claimed (@r), its device's
 * counters; @exits is 1 for an exit, 0 for a buffered write (an access that
 * cost no exit of its own).
 */
static inline void count_access_as(struct vmio_vcpu *v, enum vmio_stat_kind kind,
                                   const struct vmio_access *a, const struct vmio_bus_range *r,
                                   uint64_t dt, unsigned exits)
{
    struct vmio_stat_counter *k = &v->stats.kind[kind];
    k->count += exits;
    k->elements += a->count;
    k->ns += dt;
    if (!r)
        return;
    unsigned id = r->dev->id < VMIO_STATS_MAX_DEVICES ? r->dev->id : VMIO_STATS_MAX_DEVICES - 1;
    struct vmio_stat_counter *d = &v->stats.device[id];
    d->count += exits;
    d->elements += a->count;
    d->ns += dt;
    if (!v->timing)
        return; /* no time measured: nothing for the histogram (the fast path agrees) */
    d->hist[hist_bucket(dt)]++;
    if (dt > d->max_ns)
        d->max_ns = dt;
}

/* Count one access in its own kind (by bus and direction, or unclaimed). */
static inline void count_access(struct vmio_vcpu *v, const struct vmio_access *a,
                                const struct vmio_bus_range *r, uint64_t dt)
{
    count_access_as(v, access_kind(a, r != NULL), a, r, dt, 1);
}

/*
 * The rare parts of an access: the fault of an unclaimed system register (as
 * the hardware: x86 #GP), strict-stop report, trace line.
 */
static void access_extras(struct vmio_vcpu *v, struct vmio_exit *e, const struct vmio_bus_range *r,
                          int stop)
{
    const struct vmio_access *a = &e->access;
    if (!r && a->space == VMIO_SPACE_SYSREG)
        vmio_backend_vcpu_fault_access(v->hv);
    if (stop && e->reason == VMIO_EXIT_UNCLAIMED && a->space == VMIO_SPACE_MMIO &&
        a->dir == VMIO_READ)
        report_strict_stop(v, e);
    struct vmio_vm *vm = v->vm;
    if (vm->trace && vmio_trace_allow(vm->trace_limit, vm->trace)) { /* never untraced */
        char insn[256];
        exit_insn(v, e, insn, sizeof(insn));
        vmio_trace_exit(v->vm->trace, v->index, v->nexits, e, r ? r->dev->name : NULL, insn);
    }
}

/*
 * An access by the general path: dispatch (remembered range, else bus
 * search), counted in the vCPU's struct vmio_stats. Returns 1 when
 * vmio_vcpu_run() must return it; sets *@hit to the range that claimed it.
 * busy_exit must already name @e (see the top of this file).
 */
static int handle_access(struct vmio_vcpu *v, struct vmio_exit *e,
                         const struct vmio_bus_range **hit)
{
    struct vmio_vm *vm = v->vm;
    uint64_t t0 = 0;
    if (v->timing) {
        t0 = timing_now(&vm->clock);
        /* | 1: never 0, which means idle to the watchdog (one unit of skew there only) */
        atomic_store_explicit(&v->busy_since, t0 | 1, memory_order_release);
    }
    const struct vmio_bus_range *r;
    int stop = dispatch_access(&v->dispatcher, e, &r);
    uint64_t dt = 0;
    if (v->timing) {
        atomic_store_explicit(&v->busy_since, 0, memory_order_release);
        dt = timing_now(&vm->clock) - t0;
    }
    count_access(v, &e->access, r, dt);
    if (__builtin_expect(stop || vm->trace || !r, 0))
        access_extras(v, e, r, stop);
    *hit = r;
    return stop;
}

/*
 * An access the exit cache did not serve: the general path, then, when the
 * fast path can serve the next one like it, the cache learns the range.
 */
static __attribute__((noinline)) int general_access(struct vmio_vcpu *v, struct vmio_exit *e)
{
    const struct vmio_bus_range *r;
    int stop = handle_access(v, e, &r);
    const struct vmio_access *a = &e->access;
    if (r && !stop && a->count == 1 && a->space != VMIO_SPACE_SYSREG && !v->vm->trace)
        vmio_exit_cache_fill(v->cache, a->space, r, v->counters);
    return stop;
}

/*
 * A device call of the fast path did not return 0: count the access like
 * the general path would (the fast counters count only completed ones), stop
 * as vmio_dispatch() would. Returns 1.
 */
static __attribute__((noinline)) int fast_stopped(struct vmio_vcpu *v, struct vmio_exit *e,
                                                  struct exit_cache_entry *h, int rc, uint64_t dt)
{
    const struct vmio_bus_range r = {.base = h->base, .len = h->len, .dev = h->dev};
    int stop = vmio_dispatch_stopped_by(&v->dispatcher, e, h->dev, rc, &h->io);
    count_access(v, &e->access, &r, dt);
    access_extras(v, e, &r, stop);
    return 1;
}

/*
 * Handling-time bookkeeping of the fast path around a device call: the
 * start, published for the watchdog; the end, returned as the duration.
 * A TSC reading is never 0 (it counts from the host's reset), so it is
 * published as is; a clock's is made odd, never 0 (0 means idle to the
 * watchdog: one unit of skew there only).
 */
static inline __attribute__((always_inline)) uint64_t fast_begin(struct vmio_vcpu *v,
                                                                 enum timing_mode mode)
{
    if (mode == TIMING_OFF)
        return 0;
    uint64_t t0 = timing_now_as(&v->vm->clock, mode);
    atomic_store_explicit(&v->busy_since, mode == TIMING_TSC ? t0 : t0 | 1, memory_order_release);
    return t0;
}

static inline __attribute__((always_inline)) uint64_t fast_end(struct vmio_vcpu *v,
                                                               enum timing_mode mode, uint64_t t0)
{
    if (mode == TIMING_OFF)
        return 0;
    atomic_store_explicit(&v->busy_since, 0, memory_order_release);
    return timing_now_as(&v->vm->clock, mode) - t0;
}

/* A completed fast access's counters: its kind's slot @c of the device, and the device's. */
static inline __attribute__((always_inline)) void
fast_count(struct exit_counter *c, struct exit_counters *k, uint64_t dt, enum timing_mode mode)
{
    c->count++;
    if (mode == TIMING_OFF)
        return; /* no time: the histogram and the maximum count times only */
    c->ns += dt;
    exit_hist_count(k, dt);
    if (dt > k->max)
        k->max = dt;
}

/*
 * The exit fast path: a single access of a width the fast path serves,
 * inside the range the cache holds for its space. Returns 0 when done, 1
 * when vmio_vcpu_run() must return, -1 when the general path must take it.
 * @mode is a constant in each copy of the loop. Writes and reads are two
 * separate paths so that neither carries the direction across the call.
 */
static inline __attribute__((always_inline)) int
fast_access(struct vmio_vcpu *v, struct vmio_exit *e, enum timing_mode mode)
{
    struct vmio_access *a = &e->access;
    struct exit_cache_entry *h = &v->cache[a->space & (EXIT_CACHE_SPACES - 1)];
    __asm__("" : "+r"(h)); /* one register for h: gcc otherwise rebuilds it from the index */
    unsigned w = a->width;
    uint64_t mask = dispatch_width_masks[w];
    uint64_t off = a->addr - h->base;
    if (__builtin_expect(a->count != 1 || !mask || off >= h->end[w], 0))
        return -1;
    h->io.offset = off;
    h->io.width = w;
    h->io.stop_reason = -1; /* as fresh as the general path's: a callback may have set it */
    int rc;
    uint64_t t0, dt;
    if (a->dir == VMIO_WRITE) {
        t0 = fast_begin(v, mode);
        rc = h->write(h->dev, &h->io, a->data & mask);
        dt = fast_end(v, mode, t0);
        if (__builtin_expect(rc == 0, 1)) {
            fast_count(h->wr, h->counters, dt, mode);
            return 0;
        }
    } else {
        uint64_t value = 0;
        t0 = fast_begin(v, mode);
        rc = h->read(h->dev, &h->io, &value);
        dt = fast_end(v, mode, t0);
        if (__builtin_expect(rc == 0, 1)) {
            /* Width and mask again from the record: cheaper than keeping them across the call. */
            unsigned rw = a->width;
            uint64_t got = value & dispatch_width_masks[rw];
            a->data = got;
            if (a->buf)
                store_width(a->buf, got, rw);
            fast_count(h->rd, h->counters, dt, mode);
            return 0;
        }
    }
    return fast_stopped(v, e, h, rc, dt);
}

/*
 * Deliver the writes the backend buffered (vmio_vm_coalesce()), oldest first,
 * under the VM's drain lock so that each reaches its device once and in
 * order. Each counts as an access, not an exit, of the "coalesced_write"
 * kind (or unclaimed write) and of its device. Returns 1 when a device asked to stop (debug exit,
 * device error):
 * *@e becomes that stop; the exit that was pending is abandoned (a read of
 * it completes as all-ones), since the run ends.
 */
static int coalesced_drain(struct vmio_vcpu *v, struct vmio_exit *e)
{
    struct vmio_vm *vm = v->vm;
    if (!vmio_backend_coalesced_pending(vm->hv))
        return 0;
    int stop = 0;
    pthread_mutex_lock(&vm->drain_lock);
    uint8_t data[8];
    struct vmio_exit w;
    memset(&w, 0, sizeof(w));
    while (!stop && vmio_backend_coalesced_pop(vm->hv, &w.access, data) > 0) {
        w.reason = VMIO_EXIT_IO;
        w.ip = 0;
        w.code = 0;
        w.device = NULL;
        uint64_t t0 = v->timing ? timing_now(&vm->clock) : 0;
        const struct vmio_bus_range *r;
        int s = vmio_dispatch(&v->dispatcher, &w, &r); /* cold: not the inline hot path */
        uint64_t dt = v->timing ? timing_now(&vm->clock) - t0 : 0;
        /* A buffered write is its own kind: it was no exit of the bus's kinds. */
        count_access_as(v, r ? VMIO_STAT_COALESCED_WRITE : VMIO_STAT_UNCLAIMED_WRITE, &w.access, r,
                        dt, 0);
        if (vm->trace && vmio_trace_allow(vm->trace_limit, vm->trace))
            vmio_trace_exit(vm->trace, v->index, v->nexits, &w, r ? r->dev->name : NULL,
                            " buffered");
        if (s && w.reason == VMIO_EXIT_UNCLAIMED) { /* strict, but a past write cannot stop */
            char line[256];
            w.ip = 0;
            vmio_exit_describe(&w, line, sizeof(line));
            fprintf(vm->log, "vmio: %s (buffered: dropped, the run goes on)\n", line);
        } else if (s) {
            stop = 1;
        }
    }
    pthread_mutex_unlock(&vm->drain_lock);
    if (!stop)
        return 0;
    if (e->reason == VMIO_EXIT_IO && e->access.dir == VMIO_READ && e->access.buf &&
        e->access.count && e->access.width <= 8)
        memset(e->access.buf, 0xff, (size_t)e->access.count * e->access.width);
    *e = w;
    e->access.buf = NULL; /* it pointed at this frame's data */
    e->ip = current_ip(v);
    return 1;
}

/*
 * AArch64 ISV=0 aborts (VMIO_EXIT_ARM_NISV) are emulated from the instruction
 * by core/arm64_nisv.c; each transfer it makes (two for a pair) comes back
 * here and takes the normal access path: dispatch, statistics, trace.
 */
static int nisv_access(void *ctx, struct vmio_exit *x)
{
    struct vmio_vcpu *v = ctx;
    const struct vmio_exit *run_exit = atomic_load_explicit(&v->busy_exit, memory_order_relaxed);
    atomic_store_explicit(&v->busy_exit, x, memory_order_relaxed); /* before busy_since */
    const struct vmio_bus_range *r;
    int stop = handle_access(v, x, &r);
    atomic_store_explicit(&v->busy_exit, run_exit, memory_order_relaxed);
    return stop;
}

/*
 * *@e becomes why a kicked vCPU stops: the guest's power request when one
 * was made (vmio_vm_power_request() kicks every vCPU), else a plain
 * interruption; code is the power event (0 for none).
 */
static void kicked_exit(struct vmio_vm *vm, struct vmio_exit *e)
{
    int event = atomic_load(&vm->power_event);
    e->reason = event == VMIO_POWER_OFF     ? VMIO_EXIT_POWEROFF
                : event == VMIO_POWER_RESET ? VMIO_EXIT_RESET
                                            : VMIO_EXIT_INTR;
    e->code = (uint64_t)event;
}

/*
 * What an attention bit asks for, after an enter that returned @rc: quiesce
 * (a bus published), drain coalesced writes. Returns 1 when the run ends
 * with *@e (a buffered write stopped it).
 */
static __attribute__((noinline)) int attend(struct vmio_vcpu *v, struct vmio_exit *e, int rc)
{
    unsigned bits = atomic_load_explicit(&v->attn, memory_order_acquire);
    if (bits & VCPU_ATTN_BUS)
        readers_quiesce(v);
    if ((bits & VCPU_ATTN_DRAIN) && rc == 0 && coalesced_drain(v, e))
        return 1;
    return 0;
}

/*
 * Any exit but an access. Returns 0 to enter the guest again, 1 when
 * vmio_vcpu_run() returns *@e, or @rc (< 0) when the enter failed.
 */
static __attribute__((noinline)) int other_exit(struct vmio_vcpu *v, struct vmio_exit *e, int rc)
{
    if (rc < 0)
        return rc;
    if (e->reason == VMIO_EXIT_ARM_NISV) { /* arm64 hook: see nisv_access() */
        int s = vmio_arm64_nisv_handle(v->hv, v->vm->mem, nisv_access, v, v->vm->log, v->index, e);
        return s == 0 ? 0 : s < 0 ? s : 1;
    }
    if (e->reason == VMIO_EXIT_INTR) {
        /*
         * Only a kick ends the run. Any other signal (SIGSTOP/SIGCONT,
         * Ctrl-Z then fg, a debugger attaching, a handler of the
         * embedder's) interrupts KVM_RUN with EINTR too: re-enter.
         */
        if (!kick_take(v)) /* clears the immediate-exit flag a nudge may have set */
            return 0;
        kicked_exit(v->vm, e);
        return 1;
    }
    enum vmio_stat_kind kind = e->reason == VMIO_EXIT_HLT ? VMIO_STAT_HLT : VMIO_STAT_OTHER;
    v->stats.kind[kind].count++;
    v->stats.kind[kind].elements++;
    if (!e->ip)
        e->ip = current_ip(v);
    return 1;
}

/*
 * The loop proper (the thread is registered for kicks), one copy per timing
 * @mode. The backend's contract makes an access exit's rc 0, so rc is looked
 * at only for other exits.
 */
static inline __attribute__((always_inline)) int run_loop(struct vmio_vcpu *v, struct vmio_exit *e,
                                                          enum timing_mode mode)
{
    for (;;) {
        int rc = vmio_backend_vcpu_enter(v->hv, e);
        v->nexits++;
        if (__builtin_expect(atomic_load_explicit(&v->attn, memory_order_relaxed) != 0, 0) &&
            attend(v, e, rc))
            return 0;
        int s;
        if (__builtin_expect(e->reason == VMIO_EXIT_IO, 1)) {
            s = fast_access(v, e, mode);
            if (__builtin_expect(s == 0, 1))
                continue;
            if (s < 0)
                s = general_access(v, e);
        } else {
            s = other_exit(v, e, rc);
            if (s < 0)
                return s;
        }
        if (s)
            return 0;
    }
}

static __attribute__((noinline)) int run_loop_untimed(struct vmio_vcpu *v, struct vmio_exit *e)
{
    return run_loop(v, e, TIMING_OFF);
}

static __attribute__((noinline)) int run_loop_tsc(struct vmio_vcpu *v, struct vmio_exit *e)
{
    return run_loop(v, e, TIMING_TSC);
}

static __attribute__((noinline)) int run_loop_clock(struct vmio_vcpu *v, struct vmio_exit *e)
{
    return run_loop(v, e, TIMING_CLOCK);
}

static int (*const run_loops[])(struct vmio_vcpu *, struct vmio_exit *) = {
    [TIMING_OFF] = run_loop_untimed,
    [TIMING_TSC] = run_loop_tsc,
    [TIMING_CLOCK] = run_loop_clock,
};

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

    /* Before the first enter: no range held, nothing cached, drain if the VM coalesces. */
    v->timing = v->vm->timing; /* the whole run measures, or does not */
    atomic_store_explicit(&v->busy_exit, e, memory_order_relaxed);
    if (atomic_load(&v->vm->drain))
        vmio_vcpu_note_drain(v);
    readers_quiesce(v);
    int rc = 0;
    if (kick_consume(v)) { /* kicked before the run: return without entering the guest */
        memset(e, 0, sizeof(*e));
        e->access.reg = VMIO_REG_NONE;
        kicked_exit(v->vm, e);
    } else {
        rc = run_loops[timing_mode_of(&v->vm->clock, v->timing)](v, e);
    }
    readers_offline(v); /* between runs the vCPU holds no range: nobody waits for it */
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

int vmio_vcpu_get_arm64_reg(struct vmio_vcpu *v, unsigned reg, uint64_t *value)
{
    return vmio_backend_vcpu_get_arm64_reg(v->hv, reg, value);
}

int vmio_vcpu_set_arm64_reg(struct vmio_vcpu *v, unsigned reg, uint64_t value)
{
    return vmio_backend_vcpu_set_arm64_reg(v->hv, reg, value);
}

bool vmio_vcpu_stalled(struct vmio_vcpu *v, uint64_t now, uint64_t timeout, uint64_t floor,
                       struct vmio_access *a, uint64_t *since)
{
    uint64_t s = atomic_load_explicit(&v->busy_since, memory_order_acquire);
    uint64_t from = s > floor ? s : floor;
    if (!s || now < from || now - from < timeout)
        return false;
    const struct vmio_exit *e = atomic_load_explicit(&v->busy_exit, memory_order_relaxed);
    *a = e->access; /* the exit outlives the call: it is the run loop caller's */
    a->buf = NULL;
    if (atomic_load_explicit(&v->busy_since, memory_order_acquire) != s)
        return false; /* the call ended meanwhile: the copy may mix two accesses */
    if (atomic_exchange(&v->stall_reported, s) == s)
        return false; /* reported already */
    *since = from;
    return true;
}

void vmio_vcpu_add_raw_stats(const struct vmio_vcpu *v, struct vmio_stats *out)
{
    vmio_stats_add(out, &v->stats);
    if (v->counters) /* NULL only in a vCPU whose creation failed */
        vmio_exit_counters_fold(v->counters, VMIO_STATS_MAX_DEVICES, out);
}

void vmio_vcpu_stats(const struct vmio_vcpu *v, struct vmio_stats *out)
{
    memset(out, 0, sizeof(*out));
    vmio_vcpu_add_raw_stats(v, out);
    vmio_stats_to_ns(out, vmio_timing_unit_ns(&v->vm->clock));
}
