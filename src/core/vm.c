/*
 * VM lifetime: the backend VM (KVM unless vmio_vm_options.backend says
 * otherwise), guest memory, the two buses and the devices on them.
 *
 * Guest RAM is anonymous memory mapped at 0 up to VMIO_LOW_RAM_END and the
 * rest (if any) from 4 GiB, leaving the space below 4 GiB for device windows
 * (testdev at 0xd0000000, the usual 0xfec00000 / 0xfee00000 regions).
 *
 * Memory invariant: every region of vm->mem (RAM and pass-through) is also
 * exactly one backend memory slot, numbered in the order regions were
 * added; a region enters vm->mem only if its slot was accepted, and host
 * memory the VM must unmap is listed in vm->owned from the moment the VM
 * takes it over. The guest-memory object is the only gpa -> host
 * translation (vmio_vm_gpa_to_host() is a one-line convenience over it).
 *
 * Interrupts (opt-in, vmio_vm_options.irqchip): the backend's in-kernel PIC,
 * IOAPIC and LAPIC (and optionally PIT) are created with the VM, before any
 * vCPU; their ports and windows are then reserved so that no vmio device or
 * memory silently shadows them (or is shadowed). vmio_vm_set_irq() is one
 * backend call (one ioctl with KVM) and reads only fields fixed at
 * creation, so any thread may call it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/bus_internal.h"
#include "core/trace.h"
#include "core/vm_internal.h"
#include "vmio/watchdog.h"

#define DEFAULT_MEM_SIZE (64ULL << 20)
#define MAX_MEM_SIZE (1ULL << 40)

/* Make room for one more entry in vm->owned (so recording it later cannot fail). */
static int reserve_owned(struct vmio_vm *vm, struct vmio_error *err)
{
    struct vmio_vm_owned *grown = realloc(vm->owned, (vm->nowned + 1) * sizeof(*grown));
    if (!grown)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    vm->owned = grown;
    return 0;
}

/* Add @r to vm->mem and give it the next backend memory slot; all or nothing. */
static int map_region(struct vmio_vm *vm, const struct vmio_mem_region *r, struct vmio_error *err)
{
    int rc = vmio_guest_mem_add(vm->mem, r, err);
    if (rc < 0)
        return rc;
    rc = vmio_backend_set_memory(vm->hv, vm->next_slot, r->gpa, r->size, r->host, r->readonly, err);
    if (rc < 0) {
        vmio_guest_mem_remove(vm->mem, r->gpa);
        return rc;
    }
    vm->next_slot++;
    return 0;
}

/* Allocate anonymous memory for [gpa, gpa+size) and map it as guest RAM. */
static int add_ram(struct vmio_vm *vm, uint64_t gpa, uint64_t size, bool readonly,
                   struct vmio_error *err)
{
    if (vm->nram == VMIO_MAX_RAM_REGIONS)
        return vmio_error_set(err, -ENOSPC, "too many RAM regions (at most %d)",
                              VMIO_MAX_RAM_REGIONS);
    int rc = reserve_owned(vm, err);
    if (rc < 0)
        return rc;
    void *host = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (host == MAP_FAILED)
        return vmio_error_set(err, -errno, "cannot allocate %" PRIu64 " KiB of guest %s: %s",
                              size >> 10, readonly ? "ROM" : "RAM", strerror(errno));
    struct vmio_mem_region r = {.gpa = gpa,
                                .size = size,
                                .host = host,
                                .readonly = readonly,
                                .kind = VMIO_MEM_RAM,
                                .name = readonly ? "rom" : "ram"};
    rc = map_region(vm, &r, err);
    if (rc < 0) {
        munmap(host, size);
        return rc;
    }
    vm->owned[vm->nowned++] = (struct vmio_vm_owned){.host = host, .size = size};
    vm->nram++;
    return 0;
}

int vmio_policy_parse(const char *s, enum vmio_unclaimed_policy *out)
{
    static const char *const names[] = {"ignore", "log", "strict"};
    for (unsigned i = 0; i < 3; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (enum vmio_unclaimed_policy)i;
            return 0;
        }
    }
    return -EINVAL;
}

int vmio_vm_create(const struct vmio_vm_options *opts, struct vmio_vm **out, struct vmio_error *err)
{
    struct vmio_vm_options defaults = {0};
    if (!opts)
        opts = &defaults;
    uint64_t mem = opts->mem_size ? opts->mem_size : DEFAULT_MEM_SIZE;
    mem &= ~0xfffULL;
    if (mem < (2ULL << 20) || mem > MAX_MEM_SIZE)
        return vmio_error_set(err, -EINVAL,
                              "guest RAM size %" PRIu64 " bytes is outside 2 MiB..1 TiB",
                              opts->mem_size);
    struct vmio_vm *vm;
    int rc = vmio_vm_create_empty(opts, &vm, err);
    if (rc < 0)
        return rc;
    uint64_t low = mem < VMIO_LOW_RAM_END ? mem : VMIO_LOW_RAM_END;
    rc = add_ram(vm, 0, low, false, err);
    if (rc == 0 && mem > low)
        rc = add_ram(vm, VMIO_HIGH_RAM_BASE, mem - low, false, err);
    if (rc < 0) {
        vmio_vm_destroy(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

void vmio_vm_destroy(struct vmio_vm *vm)
{
    if (!vm)
        return;
    vmio_vm_watchdog_stop(vm);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++)
        vmio_vcpu_destroy(vm->vcpus[i]);
    /* The end of a flood that stopped: its count, naming the devices while they exist. */
    const char *names[VMIO_STATS_MAX_DEVICES] = {0};
    for (unsigned i = 0; i < vm->ndevices && i < VMIO_STATS_MAX_DEVICES; i++)
        names[i] = vm->devices[i]->name;
    vmio_log_limits_flush(&vm->log_limits, vm->log ? vm->log : stderr, names,
                          VMIO_STATS_MAX_DEVICES);
    vmio_log_limits_destroy(&vm->log_limits);
    vmio_vm_set_trace(vm, NULL); /* reports trace lines still unreported */
    vmio_ratelimit_destroy(&vm->trace_tty_limit);
    vmio_bus_free(vm->mmio);
    vmio_bus_free(vm->pio);
    vmio_bus_free(vm->sysreg);
    for (unsigned i = 0; i < vm->ndevices; i++) {
        struct vmio_device *dev = vm->devices[i];
        if (dev->ops->destroy)
            dev->ops->destroy(dev);
    }
    free(vm->devices);
    vmio_backend_vm_destroy(vm->hv); /* its slots go before the memory behind them */
    for (unsigned i = 0; i < vm->nowned; i++)
        munmap(vm->owned[i].host, vm->owned[i].size);
    free(vm->owned);
    vmio_guest_mem_destroy(vm->mem);
    pthread_mutex_destroy(&vm->drain_lock);
    pthread_mutex_destroy(&vm->lock);
    free(vm);
}

struct vmio_bus *vmio_vm_bus(struct vmio_vm *vm, enum vmio_space space)
{
    switch (space) {
    case VMIO_SPACE_MMIO:
        return vm->mmio;
    case VMIO_SPACE_PIO:
        return vm->pio;
    case VMIO_SPACE_SYSREG:
        return vm->sysreg;
    default:
        return NULL;
    }
}

/*
 * The backend's system-register exits: the sysreg bus's ranges, merged where
 * they touch, and (unless the policy ignores unclaimed accesses) the
 * registers the hypervisor does not know, so they are logged or stop the
 * vCPU. Lock held (vm->lock).
 */
static int update_sysreg_exits_locked(struct vmio_vm *vm, struct vmio_error *err)
{
    unsigned n = vmio_bus_count(vm->sysreg), m = 0;
    struct vmio_bus_range *merged = calloc(n ? n : 1, sizeof(*merged));
    if (!merged)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    for (unsigned i = 0; i < n; i++) {
        const struct vmio_bus_range *r = vmio_bus_range_at(vm->sysreg, i);
        if (m && merged[m - 1].base + merged[m - 1].len == r->base)
            merged[m - 1].len += r->len;
        else
            merged[m++] = *r;
    }
    int rc =
        vmio_backend_set_sysreg_exits(vm->hv, merged, m, vm->policy != VMIO_UNCLAIMED_IGNORE, err);
    free(merged);
    return rc;
}

/*
 * -EBUSY (described, naming @what) when [base, base + len) overlaps a range
 * the VM's in-kernel irqchip/PIT decode (vmio_irqchip_reserved_check()): KVM
 * would answer those accesses itself and the device or memory there would
 * never see them.
 */
static int check_reserved(const struct vmio_vm *vm, enum vmio_space space, const char *what,
                          uint64_t base, uint64_t len, struct vmio_error *err)
{
    if (!vm->irqchip)
        return 0;
    return vmio_irqchip_reserved_check(space, base, len, vm->pit, what, err);
}

/*
 * The first memory region (RAM or pass-through) that overlaps
 * [base, base + len) (len > 0), or NULL. Memory is fixed before vCPUs run,
 * so no lock.
 */
static const struct vmio_mem_region *overlapping_region(const struct vmio_vm *vm, uint64_t base,
                                                        uint64_t len)
{
    uint64_t last = base + (len - 1);
    for (unsigned i = 0; i < vmio_guest_mem_count(vm->mem); i++) {
        const struct vmio_mem_region *m = vmio_guest_mem_at(vm->mem, i);
        if (base <= m->gpa + (m->size - 1) && m->gpa <= last)
            return m;
    }
    return NULL;
}

/* Find @dev in the owned list; returns its index or ndevices. Lock held. */
static unsigned find_device_locked(struct vmio_vm *vm, const struct vmio_device *dev)
{
    unsigned i = 0;
    while (i < vm->ndevices && vm->devices[i] != dev)
        i++;
    return i;
}

int vmio_vm_add_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                       uint64_t base, uint64_t len, struct vmio_error *err)
{
    struct vmio_bus *bus = vmio_vm_bus(vm, space);
    if (!bus)
        return vmio_error_set(err, -EINVAL, "device %s: no bus for address space %d",
                              dev && dev->name ? dev->name : "(unnamed)", (int)space);
    if (!dev || len == 0 || base + (len - 1) < base)
        return vmio_bus_register(bus, dev, base, len, err); /* refuses it, with the reason */
    if (vm->irqchip) {
        char what[96];
        snprintf(what, sizeof(what), "device %s", dev && dev->name ? dev->name : "(unnamed)");
        int rc = check_reserved(vm, space, what, base, len, err);
        if (rc < 0)
            return rc;
    }
    if (space == VMIO_SPACE_MMIO && len > 0) {
        const struct vmio_mem_region *m = overlapping_region(vm, base, len);
        if (m && m->kind == VMIO_MEM_RAM)
            return vmio_error_set(err, -EBUSY,
                                  "device %s at 0x%" PRIx64 "-0x%" PRIx64
                                  " overlaps guest RAM at 0x%" PRIx64 "-0x%" PRIx64
                                  " (it would never exit)",
                                  dev->name, base, base + len - 1, m->gpa, m->gpa + m->size - 1);
        if (m)
            return vmio_error_set(err, -EBUSY,
                                  "device %s at 0x%" PRIx64 "-0x%" PRIx64
                                  " overlaps pass-through mapping %s at 0x%" PRIx64 "-0x%" PRIx64
                                  " (it would never exit)",
                                  dev->name, base, base + len - 1, m->name, m->gpa,
                                  m->gpa + m->size - 1);
    }
    pthread_mutex_lock(&vm->lock);
    unsigned idx = find_device_locked(vm, dev);
    bool is_new = idx == vm->ndevices;
    if (is_new) {
        struct vmio_device **grown =
            realloc(vm->devices, (vm->ndevices + 1) * sizeof(vm->devices[0]));
        if (!grown) {
            pthread_mutex_unlock(&vm->lock);
            return vmio_error_set(err, -ENOMEM, "out of memory");
        }
        vm->devices = grown;
        dev->id = vm->ndevices;
    }
    int rc = vmio_bus_register(bus, dev, base, len, err);
    if (rc == 0 && space == VMIO_SPACE_SYSREG && (rc = update_sysreg_exits_locked(vm, err)) < 0)
        vmio_bus_unregister(bus, dev, base, NULL); /* the hypervisor cannot route it: refuse */
    if (rc == 0 && is_new)
        vm->devices[vm->ndevices++] = dev;
    pthread_mutex_unlock(&vm->lock);
    return rc;
}

bool vmio_vm_owns_device(struct vmio_vm *vm, const struct vmio_device *dev)
{
    pthread_mutex_lock(&vm->lock);
    bool owned = dev && find_device_locked(vm, dev) < vm->ndevices;
    pthread_mutex_unlock(&vm->lock);
    return owned;
}

int vmio_vm_attach_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                          uint64_t base, uint64_t len, struct vmio_error *err)
{
    if (!dev)
        return vmio_error_set(err, -ENOMEM, "out of memory creating a device");
    int rc = vmio_vm_add_device(vm, space, dev, base, len, err);
    /* A device the VM holds already (another range) stays the VM's: never destroyed here. */
    if (rc < 0 && dev->ops->destroy && !vmio_vm_owns_device(vm, dev))
        dev->ops->destroy(dev);
    return rc;
}

/* vmio_bus_synchronize()'s nudge: every vCPU inside the guest leaves it (and re-enters). */
static void nudge_vcpus(void *ctx)
{
    struct vmio_vm *vm = ctx;
    pthread_mutex_lock(&vm->lock);
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++)
        if (vm->vcpus[i])
            vmio_vcpu_nudge(vm->vcpus[i]);
    pthread_mutex_unlock(&vm->lock);
}

int vmio_vm_remove_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                          uint64_t base, struct vmio_error *err)
{
    struct vmio_bus *bus = vmio_vm_bus(vm, space);
    if (!bus || !dev)
        return vmio_error_set(err, -EINVAL, "remove device: no bus for space %d or no device",
                              (int)space);
    if (vmio_vcpu_current_of(vm))
        return vmio_error_set(err, -EDEADLK,
                              "remove device %s: called from a vCPU thread, which would wait "
                              "for itself",
                              dev->name ? dev->name : "(unnamed)");
    pthread_mutex_lock(&vm->lock);
    int rc = vmio_bus_unregister(bus, dev, base, err);
    if (rc == 0 && space == VMIO_SPACE_SYSREG)
        rc = update_sysreg_exits_locked(vm, err);
    pthread_mutex_unlock(&vm->lock);
    if (rc == 0)
        vmio_bus_synchronize(bus, nudge_vcpus, vm);
    return rc;
}

const struct vmio_guest_mem *vmio_vm_memory(const struct vmio_vm *vm)
{
    return vm->mem;
}

void *vmio_vm_gpa_to_host(struct vmio_vm *vm, uint64_t gpa, uint64_t len)
{
    return vmio_guest_mem_to_host(vm->mem, gpa, len);
}

enum vmio_unclaimed_policy vmio_vm_policy(const struct vmio_vm *vm)
{
    return vm->policy;
}

void vmio_vm_set_trace(struct vmio_vm *vm, FILE *out)
{
    uint64_t n = vmio_ratelimit_take_suppressed(&vm->trace_tty_limit);
    if (n && vm->trace)
        fprintf(vm->trace,
                "vmio-trace: %" PRIu64 " lines suppressed (a terminal shows at most %d "
                "per second; --trace 2>FILE keeps every line)\n",
                n, VMIO_TRACE_TTY_BURST);
    vm->trace = out;
    vm->trace_limit = out && isatty(fileno(out)) ? &vm->trace_tty_limit : NULL;
}

void vmio_vm_set_timing(struct vmio_vm *vm, bool on)
{
    vm->timing = on;
}

/* ---- Interrupts ---- */

bool vmio_vm_has_irqchip(const struct vmio_vm *vm)
{
    return vm->irqchip;
}

unsigned vmio_vm_irq_lines(const struct vmio_vm *vm)
{
    return vm->irq_lines;
}

int vmio_vm_set_irq(struct vmio_vm *vm, unsigned gsi, int level)
{
    if (gsi >= vm->irq_lines)
        return -EINVAL;
    if (!vm->irqchip)
        return -ENODEV;
    return vmio_backend_irq_line(vm->hv, gsi, level);
}

/* The setter of the VM's own lines. */
static int vm_line_set(void *ctx, unsigned gsi, int level)
{
    return vmio_vm_set_irq(ctx, gsi, level);
}

void vmio_irq_line_set_level(void *opaque, int level)
{
    struct vmio_irq_line *line = opaque;
    if (!line || !line->set)
        return;
    int rc = line->set(line->ctx, line->gsi, level ? 1 : 0);
    if (rc < 0) {
        line->errors++;
        line->last_error = rc;
    }
}

struct vmio_irq_line *vmio_vm_irq_line(struct vmio_vm *vm, unsigned gsi, struct vmio_error *err)
{
    if (gsi >= vm->irq_lines) {
        vmio_error_set(err, -EINVAL, "interrupt line %u is beyond the last GSI (%u)", gsi,
                       vm->irq_lines - 1);
        return NULL;
    }
    if (!vm->irqchip) {
        vmio_error_set(err, -ENODEV, "interrupt line %u: the VM has no interrupt controller", gsi);
        return NULL;
    }
    return &vm->lines[gsi];
}

/* ---- Explicit memory layouts and pass-through mappings ---- */

int vmio_vm_create_empty(const struct vmio_vm_options *opts, struct vmio_vm **out,
                         struct vmio_error *err)
{
    struct vmio_vm_options defaults = {0};
    if (!opts)
        opts = &defaults;
    struct vmio_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->drain_lock, NULL);
    atomic_init(&vm->drain, false);
    vmio_log_limits_init(&vm->log_limits, opts->clock);
    vmio_ratelimit_init(&vm->trace_tty_limit, opts->clock, VMIO_TRACE_TTY_BURST,
                        VMIO_LOG_WINDOW_NS);
    vm->policy = opts->unclaimed;
    vm->log = opts->log ? opts->log : stderr;
    vm->timing = true;
    vmio_timing_init(&vm->clock, opts->clock);
    vm->irqchip = opts->irqchip;
    vm->cpus = opts->cpus ? opts->cpus : 1;
    atomic_init(&vm->power_event, 0);
    vm->pit = opts->irqchip && opts->pit;
    for (unsigned i = 0; i < VMIO_MAX_IRQ_LINES; i++)
        vm->lines[i] = (struct vmio_irq_line){.set = vm_line_set, .ctx = vm, .gsi = i};
    int rc = 0;
    if (opts->pit && !opts->irqchip)
        rc = vmio_error_set(err, -EINVAL, "the in-kernel PIT needs the in-kernel irqchip");
    if (rc == 0 && opts->cpus > VMIO_MAX_VCPUS)
        rc = vmio_error_set(err, -EINVAL, "%u vCPUs: vmio supports at most %u", opts->cpus,
                            VMIO_MAX_VCPUS);
    if (rc == 0)
        rc = vmio_guest_mem_create(&vm->mem, err);
    if (rc == 0)
        rc = vmio_backend_vm_create(opts->backend ? opts->backend : vmio_backend_kvm(), &vm->hv,
                                    err);
    if (rc == 0) {
        unsigned n = vmio_backend_irq_lines(vm->hv);
        vm->irq_lines = n < VMIO_MAX_IRQ_LINES ? n : VMIO_MAX_IRQ_LINES;
    }
    if (rc == 0 && vm->irqchip)
        rc = vmio_backend_create_irqchip(vm->hv, vm->pit, err);
    if (rc == 0) {
        vm->mmio = vmio_bus_new(VMIO_SPACE_MMIO, "mmio");
        vm->pio = vmio_bus_new(VMIO_SPACE_PIO, "pio");
        vm->sysreg = vmio_bus_new(VMIO_SPACE_SYSREG, "sysreg");
        if (!vm->mmio || !vm->pio || !vm->sysreg)
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
    }
    if (rc == 0 && vm->policy != VMIO_UNCLAIMED_IGNORE) {
        /* log/strict see unknown system registers too; a backend without the exits faults them */
        rc = update_sysreg_exits_locked(vm, err);
        if (rc == -ENOTSUP) {
            rc = 0;
            vmio_error_clear(err);
        }
    }
    if (rc < 0) {
        vmio_vm_destroy(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

/*
 * Whether [gpa, gpa + size) (size > 0, no wrap) overlaps RAM, a host mapping
 * or an MMIO device; if so describe it in @err (as @what) and return -EBUSY.
 */
static int check_free_range(struct vmio_vm *vm, const char *what, uint64_t gpa, uint64_t size,
                            struct vmio_error *err)
{
    uint64_t last = gpa + (size - 1);
    int rc = check_reserved(vm, VMIO_SPACE_MMIO, what, gpa, size, err);
    if (rc < 0)
        return rc;
    const struct vmio_mem_region *m = overlapping_region(vm, gpa, size);
    if (m && m->kind == VMIO_MEM_RAM)
        return vmio_error_set(err, -EBUSY,
                              "%s at 0x%" PRIx64 "-0x%" PRIx64 " overlaps guest RAM at 0x%" PRIx64
                              "-0x%" PRIx64,
                              what, gpa, last, m->gpa, m->gpa + (m->size - 1));
    if (m)
        return vmio_error_set(err, -EBUSY,
                              "%s at 0x%" PRIx64 "-0x%" PRIx64
                              " overlaps pass-through mapping %s at 0x%" PRIx64 "-0x%" PRIx64,
                              what, gpa, last, m->name, m->gpa, m->gpa + (m->size - 1));
    unsigned n = vmio_bus_count(vm->mmio);
    for (unsigned i = 0; i < n; i++) {
        const struct vmio_bus_range *r = vmio_bus_range_at(vm->mmio, i);
        if (r && gpa <= r->base + (r->len - 1) && r->base <= last)
            return vmio_error_set(err, -EBUSY,
                                  "%s at 0x%" PRIx64 "-0x%" PRIx64
                                  " overlaps device %s at 0x%" PRIx64 "-0x%" PRIx64
                                  " (its accesses must exit)",
                                  what, gpa, last, r->dev->name, r->base, r->base + (r->len - 1));
    }
    return 0;
}

/* The RAM region with the highest address, or NULL. */
static const struct vmio_mem_region *last_ram(const struct vmio_vm *vm)
{
    for (unsigned i = vmio_guest_mem_count(vm->mem); i > 0; i--) {
        const struct vmio_mem_region *m = vmio_guest_mem_at(vm->mem, i - 1);
        if (m->kind == VMIO_MEM_RAM)
            return m;
    }
    return NULL;
}

static int check_aligned(const char *what, uint64_t gpa, uint64_t size, struct vmio_error *err)
{
    if (size == 0 || ((gpa | size) & 0xfff) || gpa + (size - 1) < gpa)
        return vmio_error_set(err, -EINVAL,
                              "%s at 0x%" PRIx64 " with size 0x%" PRIx64
                              " is empty, not 4 KiB aligned or wraps",
                              what, gpa, size);
    return 0;
}

int vmio_vm_add_ram(struct vmio_vm *vm, uint64_t gpa, uint64_t size, bool readonly,
                    struct vmio_error *err)
{
    int rc = check_aligned("RAM", gpa, size, err);
    if (rc < 0)
        return rc;
    const struct vmio_mem_region *prev = last_ram(vm);
    if (prev && gpa < prev->gpa)
        return vmio_error_set(err, -EINVAL,
                              "RAM at 0x%" PRIx64 " added after RAM at 0x%" PRIx64
                              " (add regions in address order)",
                              gpa, prev->gpa);
    rc = check_free_range(vm, "RAM", gpa, size, err);
    if (rc < 0)
        return rc;
    return add_ram(vm, gpa, size, readonly, err);
}

int vmio_vm_map_host(struct vmio_vm *vm, uint64_t gpa, uint64_t size, void *host, unsigned flags,
                     const char *name, struct vmio_error *err)
{
    char what[160];
    snprintf(what, sizeof(what), "pass-through mapping %s", name ? name : "(unnamed)");
    int rc = check_aligned(what, gpa, size, err);
    if (rc < 0)
        return rc;
    if (!host || ((uintptr_t)host & 0xfff))
        return vmio_error_set(err, -EINVAL, "%s: host address %p is not 4 KiB aligned", what, host);
    rc = check_free_range(vm, what, gpa, size, err);
    if (rc == 0 && (flags & VMIO_MAP_OWNED))
        rc = reserve_owned(vm, err);
    if (rc < 0)
        return rc;
    struct vmio_mem_region r = {.gpa = gpa,
                                .size = size,
                                .host = host,
                                .readonly = (flags & VMIO_MAP_READONLY) != 0,
                                .kind = VMIO_MEM_PASSTHROUGH,
                                .name = name ? name : "(unnamed)"};
    rc = map_region(vm, &r, err);
    if (rc < 0)
        return rc;
    if (flags & VMIO_MAP_OWNED)
        vm->owned[vm->nowned++] = (struct vmio_vm_owned){.host = host, .size = size};
    return 0;
}

int vmio_vm_add_status_page(struct vmio_vm *vm, struct vmio_device *dev, uint64_t gpa,
                            uint64_t size, void **page, struct vmio_error *err)
{
    char what[160];
    snprintf(what, sizeof(what), "status page of %s", dev && dev->name ? dev->name : "(unnamed)");
    int rc = check_aligned(what, gpa, size, err);
    if (rc == 0)
        rc = check_free_range(vm, what, gpa, size, err);
    if (rc == 0)
        rc = reserve_owned(vm, err);
    if (rc < 0)
        return rc;
    void *host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host == MAP_FAILED)
        return vmio_error_set(err, -errno, "%s: cannot allocate %" PRIu64 " bytes: %s", what, size,
                              strerror(errno));
    /* The device first (a window over no memory yet), then the read-only memory over it. */
    rc = vmio_vm_add_device(vm, VMIO_SPACE_MMIO, dev, gpa, size, err);
    if (rc == 0) {
        struct vmio_mem_region r = {.gpa = gpa,
                                    .size = size,
                                    .host = host,
                                    .readonly = true,
                                    .kind = VMIO_MEM_PASSTHROUGH,
                                    .name = what};
        rc = map_region(vm, &r, err);
        if (rc < 0)
            vmio_bus_unregister(vm->mmio, dev, gpa, NULL);
    }
    if (rc < 0) {
        munmap(host, size);
        return rc;
    }
    vm->owned[vm->nowned++] = (struct vmio_vm_owned){.host = host, .size = size};
    *page = host;
    return 0;
}

/* ---- Exit-less notifications ---- */

int vmio_vm_ioeventfd(struct vmio_vm *vm, enum vmio_space space, uint64_t addr, unsigned len,
                      const uint64_t *datamatch, int fd, bool assign, struct vmio_error *err)
{
    return vmio_backend_ioeventfd(vm->hv, fd, space, addr, len, datamatch != NULL,
                                  datamatch ? *datamatch : 0, assign, err);
}

int vmio_vm_irqfd(struct vmio_vm *vm, unsigned gsi, int fd, int resample_fd, bool assign,
                  struct vmio_error *err)
{
    if (gsi >= vm->irq_lines)
        return vmio_error_set(err, -EINVAL, "irqfd: GSI %u is beyond the last (%u)", gsi,
                              vm->irq_lines - 1);
    if (!vm->irqchip)
        return vmio_error_set(err, -ENODEV, "irqfd: the VM has no interrupt controller");
    return vmio_backend_irqfd(vm->hv, fd, gsi, resample_fd, assign, err);
}

int vmio_vm_map_device_view(struct vmio_vm *vm, const struct vmio_device *dev, uint64_t gpa,
                            uint64_t size, void *host, const char *name, struct vmio_error *err)
{
    char what[160];
    snprintf(what, sizeof(what), "register view %s", name ? name : "(unnamed)");
    int rc = check_aligned(what, gpa, size, err);
    if (rc < 0)
        return rc;
    if (!host || ((uintptr_t)host & 0xfff))
        return vmio_error_set(err, -EINVAL, "%s: host address %p is not 4 KiB aligned", what, host);
    rc = check_reserved(vm, VMIO_SPACE_MMIO, what, gpa, size, err);
    if (rc < 0)
        return rc;
    const struct vmio_mem_region *m = overlapping_region(vm, gpa, size);
    if (m)
        return vmio_error_set(err, -EBUSY,
                              "%s at 0x%" PRIx64 " overlaps memory %s at 0x%" PRIx64 "-0x%" PRIx64,
                              what, gpa, m->name, m->gpa, m->gpa + (m->size - 1));
    bool mine = false;
    uint64_t last = gpa + (size - 1);
    for (unsigned i = 0; i < vmio_bus_count(vm->mmio); i++) {
        const struct vmio_bus_range *r = vmio_bus_range_at(vm->mmio, i);
        if (!r || gpa > r->base + (r->len - 1) || r->base > last)
            continue;
        if (r->dev != dev)
            return vmio_error_set(
                err, -EBUSY, "%s at 0x%" PRIx64 "-0x%" PRIx64 " overlaps device %s at 0x%" PRIx64,
                what, gpa, last, r->dev->name, r->base);
        mine = true;
    }
    if (!mine)
        return vmio_error_set(err, -ENOENT, "%s at 0x%" PRIx64 ": the device is not there", what,
                              gpa);
    rc = reserve_owned(vm, err);
    if (rc < 0)
        return rc;
    struct vmio_mem_region r = {.gpa = gpa,
                                .size = size,
                                .host = host,
                                .readonly = true,
                                .kind = VMIO_MEM_PASSTHROUGH,
                                .name = name ? name : "(unnamed)"};
    rc = map_region(vm, &r, err);
    if (rc < 0)
        return rc;
    vm->owned[vm->nowned++] = (struct vmio_vm_owned){.host = host, .size = size};
    return 0;
}
