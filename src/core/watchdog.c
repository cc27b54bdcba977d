/*
 * The stall watchdog (see vmio/watchdog.h).
 *
 * A scan reads each vCPU's published handling start (vmio_vcpu_stalled() in
 * vcpu.c, lock-free) and compares it with now, both in the VM's time units
 * (core/timing.h); the device is named by looking the access up on the VM's
 * bus through the watchdog's own readers, which quiesce after every scan so
 * the lookup's result is never a freed range. vm->lock guards the vCPU table
 * while scanning, as for statistics. The thread sleeps on a condition
 * variable, so stopping it is immediate.
 *
 * Time the whole process did not run (SIGSTOP, Ctrl-Z, a debugger holding
 * it, a suspended host) is not a stall: when a scan comes much later, on the
 * monotonic clock the thread sleeps by, than its period asked, the thread
 * was not running either, so handling time before that late scan is not
 * held against any device (check()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus_internal.h"
#include "core/vm_internal.h"
#include "vmio/watchdog.h"

struct vm_watchdog {
    struct vmio_vm *vm;
    struct vmio_watchdog_options opts;
    struct vmio_bus_reader *mmio, *pio;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct watchdog_pacer pacer;
};

bool vmio_watchdog_pacer_held(uint64_t from_ns, uint64_t to_ns, uint64_t late_ns)
{
    return from_ns && to_ns > from_ns && to_ns - from_ns > late_ns;
}

static uint64_t wall_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vmio_stall_log(void *ctx, const struct vmio_stall *s)
{
    const struct vmio_access *a = &s->access;
    fprintf(ctx ? ctx : stderr,
            "vmio: watchdog: vCPU %u has been in device %s for %" PRIu64
            " ms: %s %s of %u bytes at 0x%" PRIx64 "\n",
            s->vcpu, s->device, s->ns / 1000000, vmio_space_name(a->space),
            a->dir == VMIO_WRITE ? "write" : "read", a->width, a->addr);
}

/* The name of the device holding @a, through @w's readers when there are (else a plain lookup). */
static const char *device_name_of(struct vmio_vm *vm, struct vm_watchdog *w,
                                  const struct vmio_access *a)
{
    const struct vmio_bus_range *r = NULL;
    unsigned width = a->width ? a->width : 1;
    if (a->space == VMIO_SPACE_MMIO)
        r = w ? vmio_bus_reader_lookup(w->mmio, a->addr, width)
              : vmio_bus_lookup(vm->mmio, a->addr, width);
    else if (a->space == VMIO_SPACE_PIO)
        r = w ? vmio_bus_reader_lookup(w->pio, a->addr, width)
              : vmio_bus_lookup(vm->pio, a->addr, width);
    return r && r->dev->name ? r->dev->name : "?";
}

/*
 * One scan. With the thread's state @w, time the process was held is
 * forgiven (see the top of the file): a hold before the scan shows as a gap
 * since the last scan (then `resumed` becomes a VM time read after it); a
 * hold during the scan, before a vCPU is judged, as a gap since the scan
 * began (then the scan ends without judging). `now` is read after the
 * scan's start, so a hold after a vCPU's check cannot inflate what it saw.
 */
static unsigned check(struct vmio_vm *vm, struct vm_watchdog *w, uint64_t timeout_ns,
                      vmio_stall_fn on_stall, void *ctx)
{
    uint64_t late_ns = w ? w->opts.period_ns + timeout_ns / 2 : 0;
    double unit_ns = vmio_timing_unit_ns(&vm->clock);
    if (unit_ns <= 0) { /* the TSC's rate is not known yet: nothing can have stalled */
        if (w)
            w->pacer.last_wall_ns = 0; /* and what comes before the first real scan is forgiven */
        return 0;
    }
    uint64_t timeout = (uint64_t)((double)timeout_ns / unit_ns);
    unsigned found = 0;
    pthread_mutex_lock(&vm->lock);
    uint64_t w0 = w ? wall_now_ns() : 0;
    /* Held since the last scan, or no scan yet (nobody watched before this one). */
    if (w &&
        (!w->pacer.last_wall_ns || vmio_watchdog_pacer_held(w->pacer.last_wall_ns, w0, late_ns)))
        w->pacer.resumed = timing_now(&vm->clock);
    uint64_t floor = w ? w->pacer.resumed : 0;
    uint64_t now = timing_now(&vm->clock);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++) {
        struct vmio_vcpu *v = vm->vcpus[i];
        if (!v)
            continue;
        if (w && vmio_watchdog_pacer_held(w0, wall_now_ns(), late_ns)) {
            w->pacer.resumed = timing_now(&vm->clock); /* held mid-scan: judge next time */
            break;
        }
        struct vmio_stall s;
        uint64_t since;
        if (!vmio_vcpu_stalled(v, now, timeout, floor, &s.access, &since))
            continue;
        s.vcpu = vmio_vcpu_index(v);
        s.device = device_name_of(vm, w, &s.access);
        s.ns = (uint64_t)((double)(now - since) * unit_ns);
        if (on_stall)
            on_stall(ctx, &s);
        else
            vmio_stall_log(vm->log, &s);
        found++;
    }
    if (w)
        w->pacer.last_wall_ns = wall_now_ns();
    pthread_mutex_unlock(&vm->lock);
    if (w) {
        bus_reader_quiesce(w->mmio);
        bus_reader_quiesce(w->pio);
    }
    return found;
}

unsigned vmio_vm_watchdog_check(struct vmio_vm *vm, uint64_t timeout_ns, vmio_stall_fn on_stall,
                                void *ctx)
{
    return check(vm, NULL, timeout_ns ? timeout_ns : VMIO_WATCHDOG_DEFAULT_TIMEOUT_NS, on_stall,
                 ctx);
}

static void *watchdog_main(void *arg)
{
    struct vm_watchdog *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + w->opts.period_ns;
        ts.tv_sec += (time_t)(t / 1000000000ULL);
        ts.tv_nsec = (long)(t % 1000000000ULL);
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        check(w->vm, w, w->opts.timeout_ns, w->opts.on_stall, w->opts.ctx);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void watchdog_free(struct vm_watchdog *w)
{
    vmio_bus_reader_remove(w->vm->mmio, w->mmio);
    vmio_bus_reader_remove(w->vm->pio, w->pio);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int vmio_vm_watchdog_start(struct vmio_vm *vm, const struct vmio_watchdog_options *opts,
                           struct vmio_error *err)
{
    if (vm->watchdog)
        return vmio_error_set(err, -EEXIST, "the VM's watchdog runs already");
    struct vm_watchdog *w = calloc(1, sizeof(*w));
    if (!w)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    w->vm = vm;
    if (opts)
        w->opts = *opts;
    if (!w->opts.timeout_ns)
        w->opts.timeout_ns = VMIO_WATCHDOG_DEFAULT_TIMEOUT_NS;
    if (!w->opts.period_ns)
        w->opts.period_ns = w->opts.timeout_ns / 4 ? w->opts.timeout_ns / 4 : 1;
    if (!w->opts.on_stall) {
        w->opts.on_stall = vmio_stall_log;
        w->opts.ctx = vm->log;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    w->mmio = vmio_bus_reader_add(vm->mmio);
    w->pio = vmio_bus_reader_add(vm->pio);
    if (!w->mmio || !w->pio) {
        watchdog_free(w);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    int e = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (e) {
        watchdog_free(w);
        return vmio_error_set(err, -EAGAIN, "cannot start the watchdog thread: %s", strerror(e));
    }
    vm->watchdog = w;
    return 0;
}

void vmio_vm_watchdog_stop(struct vmio_vm *vm)
{
    struct vm_watchdog *w = vm->watchdog;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    vm->watchdog = NULL;
    watchdog_free(w);
}
