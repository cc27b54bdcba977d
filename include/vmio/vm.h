/*
 * A virtual machine: its hypervisor backend, guest memory, the MMIO and PIO
 * buses, the devices on them, the unclaimed-access policy, statistics and
 * tracing.
 *
 * Ownership: the VM owns everything added to it with vmio_vm_add_device()
 * (devices are destroyed by vmio_vm_destroy()), its guest-memory object
 * and the backend VM; its vCPUs must be destroyed before it. The backend
 * and the clock given in the options are borrowed.
 */
#ifndef VMIO_VM_H
#define VMIO_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/backend.h"
#include "vmio/bus.h"
#include "vmio/clock.h"
#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/exit.h"
#include "vmio/power.h"
#include "vmio/guest_mem.h"

struct vmio_vm;

/* What happens to an access that no device claims. */
enum vmio_unclaimed_policy {
    VMIO_UNCLAIMED_IGNORE = 0, /* reads return all-ones, writes are dropped; both counted */
    /* As ignore, and a line on the log stream: at most 10 per second per source
       (vmio/ratelimit.h), the rest counted and summarised. */
    VMIO_UNCLAIMED_LOG,
    VMIO_UNCLAIMED_STRICT, /* the vCPU stops with VMIO_EXIT_UNCLAIMED */
};

/* Guest RAM below 4 GiB ends here; RAM beyond that continues at 4 GiB. */
#define VMIO_LOW_RAM_END 0xC0000000ULL
#define VMIO_HIGH_RAM_BASE 0x100000000ULL

struct vmio_vm_options {
    uint64_t mem_size; /* bytes of guest RAM; 0 means 64 MiB */
    enum vmio_unclaimed_policy unclaimed;
    FILE *log; /* unclaimed-access log (LOG policy; STRICT: the instruction of an
                  unclaimed MMIO read, before the vCPU stops); NULL = stderr */
    /*
     * Interrupt delivery (opt-in; off by default). irqchip: the backend's
     * in-kernel interrupt controllers (KVM's 8259 PIC pair, IOAPIC at
     * 0xfec00000 and local APIC at 0xfee00000; the fake backend records the
     * lines), driven with vmio_vm_set_irq(). Then HLT is handled inside
     * KVM (a halted vCPU waits for an interrupt) and never ends
     * vmio_vcpu_run() with VMIO_EXIT_HLT; the interrupt controllers' ports
     * and windows are reserved (devices and memory there are refused with
     * -EBUSY).
     * Running more than one vCPU needs it (vmio_vm_run(): the local APICs
     * carry the INIT/SIPI that start vCPUs 1..N-1).
     * pit: also KVM's in-kernel 8254 PIT on GSI 0 (ports 0x40-0x43 and 0x61);
     * needs irqchip. Off: guests can only poll, and HLT ends the run loop.
     */
    bool irqchip;
    bool pit;
    /*
     * The hypervisor (include/vmio/backend.h): NULL means KVM
     * (vmio_backend_kvm()); tests pass vmio_fake_backend(). Borrowed: it
     * must outlive the VM.
     */
    struct vmio_backend *backend;
    /*
     * The clock of the per-exit handling-time statistics (vmio/clock.h):
     * NULL means the system's monotonic clock. Borrowed: it must outlive the
     * VM. Tests pass a manual clock and advance it from a device callback.
     */
    const struct vmio_clock *clock;
    /*
     * cpus: how many vCPUs the VM is built for (0 means 1): the topology
     * each vCPU reports to the guest (x86: CPUID's core count; the ACPI
     * MADT of vmio's PC machine lists as many). Creating vCPU n >= cpus
     * still works and counts n + 1 for that vCPU.
     */
    unsigned cpus;
};

/*
 * The x86 in-kernel irqchip's GSIs: 0-15 reach the PICs and IOAPIC, 16-23
 * the IOAPIC only. What a VM's interrupt functions accept is
 * vmio_vm_irq_lines(): this on x86, the SPIs of the vGIC on AArch64.
 */
#define VMIO_IRQCHIP_GSIS 24

/* The most interrupt lines a VM tracks (vmio_vm_irq_line()), whatever its backend offers. */
#define VMIO_MAX_IRQ_LINES 256

/*
 * vmio_irqchip_reserved_check - whether [@base, @base + @len) in @space is
 * clear of what the in-kernel interrupt controllers decode themselves (the
 * PIC pair at ports 0x20 and 0xa0, the ELCR at 0x4d0, the IOAPIC window at
 * 0xfec00000, the local APIC window at 0xfee00000; with @pit also the PIT at
 * 0x40-0x43 and port 0x61). A VM with the irqchip refuses memory and devices
 * there with exactly this check; configuration checks call it before
 * anything exists. @what names the range in the message ("device com1",
 * "RAM", ...). Returns 0 when clear (also for an empty or wrapping range,
 * which others refuse), else -EBUSY with @err saying
 * "<what> at A-B overlaps the <controller> at C-D (KVM handles those
 * accesses itself)".
 */
int vmio_irqchip_reserved_check(enum vmio_space space, uint64_t base, uint64_t len, bool pit,
                                const char *what, struct vmio_error *err);

/*
 * vmio_vm_create - create a VM with @opts (NULL = defaults) on
 * opts->backend (NULL: KVM, which opens /dev/kvm) and map its RAM. On
 * success *@out owns the VM.
 * Errors: -ENODEV/-EACCES when KVM is missing or not accessible, -EINVAL for
 * a RAM size that is 0 after rounding or beyond what vmio supports, or for
 * opts->pit without opts->irqchip, -ENOMEM, or the errno of a failing
 * backend operation (KVM_CREATE_IRQCHIP / KVM_CREATE_PIT2 included); @err
 * says which.
 */
int vmio_vm_create(const struct vmio_vm_options *opts, struct vmio_vm **out,
                   struct vmio_error *err);

/* vmio_vm_destroy - destroy @vm (may be NULL), its devices and its memory. */
void vmio_vm_destroy(struct vmio_vm *vm);

/* vmio_vm_bus - the VM's bus for @space (MMIO or PIO). Owned by the VM. */
struct vmio_bus *vmio_vm_bus(struct vmio_vm *vm, enum vmio_space space);

/*
 * vmio_vm_add_device - register @dev on the @space bus at [@base, @base+@len)
 * and hand it to the VM. Ownership: from the first successful add the VM
 * owns @dev and destroys it once in vmio_vm_destroy(), however many ranges
 * it has (a device sees which window an access hit in vmio_io.base); a
 * failed add leaves ownership as it was (the caller keeps a device the VM
 * never accepted; a device the VM holds stays the VM's).
 * Errors: those of vmio_bus_register(); -EBUSY when the range overlaps guest
 * RAM (MMIO only; it would never exit); -ENOMEM.
 */
int vmio_vm_add_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                       uint64_t base, uint64_t len, struct vmio_error *err);

/*
 * vmio_vm_attach_device - vmio_vm_add_device() that also takes care of the
 * device on failure: @dev (may be NULL, meaning its constructor ran out of
 * memory: -ENOMEM) is destroyed unless the VM owns it (from this or an
 * earlier add). For building machines in a row of calls without leaking on
 * the error path.
 */
int vmio_vm_attach_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                          uint64_t base, uint64_t len, struct vmio_error *err);

/* vmio_vm_owns_device - whether @vm owns @dev (added successfully at least once). */
bool vmio_vm_owns_device(struct vmio_vm *vm, const struct vmio_device *dev);

/*
 * vmio_vm_remove_device - unregister @dev's window starting at @base on the
 * @space bus, and wait until no vCPU is inside a callback through it or can
 * still make one (vmio_bus_synchronize(), nudging vCPUs out of the guest:
 * they re-enter at once; the run goes on). The VM keeps owning @dev (it is
 * destroyed with the VM); its state may be torn down after the return.
 * While vCPUs run: any thread but a vCPU's (a device callback).
 * Errors: -ENOENT no such window, -EINVAL bad space, -EDEADLK from a vCPU
 * thread; described in @err.
 */
int vmio_vm_remove_device(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                          uint64_t base, struct vmio_error *err);

/*
 * vmio_vm_memory - @vm's guest memory: its RAM (and ROM) regions and
 * pass-through mappings in address order, named, with the one
 * guest-physical -> host translation (vmio/guest_mem.h). Owned by the VM,
 * valid until vmio_vm_destroy(); read-only to callers: memory is added with
 * vmio_vm_add_ram() / vmio_vm_map_host(), which also map it in the guest.
 * Loaders (vmio_multiboot_load(), vmio_config_load_kernel()) take it.
 * RAM regions the VM allocates are named "ram" ("rom" when read-only);
 * pass-through regions carry the name given to vmio_vm_map_host().
 */
const struct vmio_guest_mem *vmio_vm_memory(const struct vmio_vm *vm);

/*
 * vmio_vm_gpa_to_host - a convenience for
 * vmio_guest_mem_to_host(vmio_vm_memory(@vm), @gpa, @len): the host pointer
 * for guest-physical [@gpa, @gpa + @len), or NULL unless the whole span lies
 * inside one RAM region.
 */
void *vmio_vm_gpa_to_host(struct vmio_vm *vm, uint64_t gpa, uint64_t len);

/* vmio_vm_policy - the VM's unclaimed-access policy. */
enum vmio_unclaimed_policy vmio_vm_policy(const struct vmio_vm *vm);

/*
 * vmio_vm_set_trace - stream one line per exit to @out (NULL turns tracing
 * off). MMIO lines end with the guest instruction of a read, decoded by
 * vmio's x86 decoder, or `insn -` for a write (format: docs/cli.md, "Trace
 * lines"); each vmio_vcpu_run() that decoded something ends with a line of
 * its vCPU's decode-cache counters. The trace is complete unless @out is a
 * terminal, which shows at most 1000 lines per second (on the VM's clock):
 * the rest are counted, and "vmio-trace: N lines suppressed ..." comes with
 * the next line shown, when tracing is turned off or changed, and at
 * vmio_vm_destroy(). Set before vCPUs run, and before they are created so
 * that KVM's sync regs give every line its RIP. @out stays owned by the
 * caller and must stay open until tracing is turned off or the VM is
 * destroyed.
 */
void vmio_vm_set_trace(struct vmio_vm *vm, FILE *out);

/*
 * vmio_vm_set_timing - measure device handling time per exit (on by default:
 * two reads of vmio_vm_options.clock, or of the TSC, per access). Each
 * vmio_vcpu_run() reads the setting when it begins and keeps it to its end.
 */
void vmio_vm_set_timing(struct vmio_vm *vm, bool on);

/*
 * vmio_policy_parse - "ignore", "log" or "strict" into *@out.
 * Errors: -EINVAL for anything else.
 */
int vmio_policy_parse(const char *s, enum vmio_unclaimed_policy *out);

/* ---- Interrupts ---- */

/* vmio_vm_has_irqchip - whether @vm was created with the in-kernel irqchip. */
bool vmio_vm_has_irqchip(const struct vmio_vm *vm);

/*
 * vmio_vm_set_irq - drive interrupt line @gsi of @vm to @level (0 low,
 * anything else high): edge-triggered inputs (the PIC's default, ISA IRQs on
 * the IOAPIC) see a 0->1 transition, level-triggered ones the level.
 * Thread-safe and lock-free in vmio: may be called from device callbacks on
 * vCPU threads (e.g. a UART's irq callback while the vCPU handles an exit)
 * and from host threads.
 * Errors: -EINVAL for @gsi >= vmio_vm_irq_lines(); -ENODEV when @vm has no
 * irqchip; the errno of the backend's irq_line (KVM_IRQ_LINE).
 */
int vmio_vm_set_irq(struct vmio_vm *vm, unsigned gsi, int level);

/*
 * vmio_vm_irq_lines - how many interrupt lines @vm's interrupt functions
 * take (GSIs 0..n-1): the backend's count (x86: VMIO_IRQCHIP_GSIS; the
 * AArch64 vGIC: its SPIs), at most VMIO_MAX_IRQ_LINES.
 */
unsigned vmio_vm_irq_lines(const struct vmio_vm *vm);

/*
 * An interrupt line as a device model's callback sees it: set(ctx, gsi, level)
 * is called for every level change. Lines made by vmio_vm_irq_line() call
 * vmio_vm_set_irq(); tests may fill one with their own setter.
 * `errors` and `last_error` count failing set() calls (the device callback
 * that drives the line has no way to return an error).
 */
struct vmio_irq_line {
    int (*set)(void *ctx, unsigned gsi, int level);
    void *ctx;
    unsigned gsi;
    unsigned long errors;
    int last_error;
};

/*
 * vmio_irq_line_set_level - drive the line @opaque (a struct vmio_irq_line *)
 * to @level. Its signature is that of a device irq callback
 * (vmio_uart16550_irq_fn), so a UART is wired with
 * vmio_uart16550_create(..., vmio_irq_line_set_level, line, ...). A NULL @opaque
 * does nothing. Not locked: one device drives one line (the UART calls it
 * under its own lock).
 */
void vmio_irq_line_set_level(void *opaque, int level);

/*
 * vmio_vm_irq_line - the line of @vm for @gsi, owned by the VM (valid until
 * vmio_vm_destroy()), for wiring device callbacks. One line per GSI: wire at
 * most one device to each (the level of a shared line is the last one set).
 * Errors (NULL, with @err set): -EINVAL for @gsi >= vmio_vm_irq_lines(),
 * -ENODEV without an irqchip.
 */
struct vmio_irq_line *vmio_vm_irq_line(struct vmio_vm *vm, unsigned gsi, struct vmio_error *err);

/* ---- Power: the guest switching itself off or resetting ---- */

/*
 * vmio_vm_power_request - the guest asked to power off or reset (@event):
 * remember the first request and stop every vCPU (vmio_vm_stop()). Each
 * vCPU's vmio_vcpu_run() then returns VMIO_EXIT_POWEROFF or VMIO_EXIT_RESET
 * (code = @event) instead of VMIO_EXIT_INTR, so the vCPU whose access asked
 * for it stops right after that access. Later requests are ignored.
 * Thread-safe; called from device callbacks on vCPU threads.
 */
void vmio_vm_power_request(struct vmio_vm *vm, enum vmio_power_event event);

/*
 * vmio_vm_power_fn - vmio_vm_power_request() as a vmio_power_fn (vmio/power.h)
 * with the VM as @ctx: what platform devices (ACPI power registers, port
 * 0x92, the i8042) are given so that their requests reach the VM.
 */
void vmio_vm_power_fn(void *ctx, enum vmio_power_event event);

/* vmio_vm_power_event - the first power request made, or 0 for none. */
enum vmio_power_event vmio_vm_power_event(struct vmio_vm *vm);

/* ---- Explicit memory layouts and pass-through mappings (VM configs) ---- */

/* Flags of vmio_vm_map_host(). */
#define VMIO_MAP_READONLY 0x1u /* guest writes exit (read-only memory slot) */
#define VMIO_MAP_OWNED 0x2u    /* the VM munmap()s the host range when destroyed */

/*
 * vmio_vm_create_empty - like vmio_vm_create() but with no guest RAM at all
 * (opts->mem_size is ignored): add RAM with vmio_vm_add_ram() and host
 * mappings with vmio_vm_map_host() before loading an image.
 * Errors: as vmio_vm_create().
 */
int vmio_vm_create_empty(const struct vmio_vm_options *opts, struct vmio_vm **out,
                         struct vmio_error *err);

/*
 * vmio_vm_add_ram - allocate guest RAM [@gpa, @gpa + @size) (anonymous
 * memory the VM owns) and map it; @readonly makes guest writes exit (ROM;
 * the host may still write it, e.g. to load an image). Regions must be added
 * in address order (as the multiboot memory map lists them).
 * Errors: -EINVAL for an unaligned, empty or out-of-order region; -EBUSY when
 * it overlaps RAM, a host mapping or an MMIO device (the message names it);
 * -ENOSPC past 4 RAM regions; -ENOMEM; the backend's set_memory errno.
 */
int vmio_vm_add_ram(struct vmio_vm *vm, uint64_t gpa, uint64_t size, bool readonly,
                    struct vmio_error *err);

/*
 * vmio_vm_map_host - map host memory [@host, @host + @size) at guest-physical
 * @gpa as its own memory slot: guest accesses there never exit. @gpa,
 * @size and @host must be 4 KiB aligned. @name (copied) names the mapping in
 * errors and listings. @flags: VMIO_MAP_READONLY, VMIO_MAP_OWNED (on success
 * the VM munmap()s the range in vmio_vm_destroy(); without it the caller
 * keeps the memory and must keep it mapped until the VM is destroyed; on
 * failure the caller always keeps it).
 * Errors: -EINVAL for unaligned or empty ranges; -EBUSY when the range
 * overlaps RAM, another host mapping or an MMIO device window (the message
 * names both); -ENOMEM; the backend's set_memory errno (described).
 * The mapping is listed in vmio_vm_memory() as a VMIO_MEM_PASSTHROUGH region,
 * which vmio never reads or writes itself.
 */
int vmio_vm_map_host(struct vmio_vm *vm, uint64_t gpa, uint64_t size, void *host, unsigned flags,
                     const char *name, struct vmio_error *err);

/*
 * vmio_vm_add_status_page - exit-less reads of a device's read-mostly
 * registers: guest-physical [@gpa, @gpa + @size) (4 KiB aligned, free) becomes
 * @dev's MMIO window AND a read-only memory slot over a zeroed page the VM
 * owns. Guest reads there are memory reads: no exit. Guest writes still exit
 * and reach @dev (offsets relative to @gpa) like any MMIO write. *@page is
 * the host view of that memory: the device keeps its contents up to date
 * (aligned 8-byte stores are seen whole by the guest), e.g. on every state
 * change. Suits status and counter registers a guest polls (a virtio
 * transport's InterruptStatus and ConfigGeneration, a UART's line status
 * seen by a polling driver); not registers whose read has side effects
 * (read-to-clear), since a memory read tells the device nothing.
 * The VM owns @dev as with vmio_vm_add_device() (on failure the caller
 * keeps it) and unmaps the page when destroyed.
 * Errors: -EINVAL unaligned or empty; -EBUSY overlapping RAM, a mapping or a
 * device (named); those of vmio_vm_add_device(); -ENOMEM; the backend's
 * (a read-only slot needs KVM_CAP_READONLY_MEM).
 */
int vmio_vm_add_status_page(struct vmio_vm *vm, struct vmio_device *dev, uint64_t gpa,
                            uint64_t size, void **page, struct vmio_error *err);

/*
 * vmio_vm_coalesce - let the hypervisor buffer guest writes to [@base, @base
 * + @len) of @space (VMIO_SPACE_MMIO, or VMIO_SPACE_PIO for ports) instead
 * of exiting on each one (KVM: the coalesced MMIO/PIO ring). Buffered writes
 * reach the device later, one write() call each, in the order the guest
 * made them (across vCPUs too), on the thread of whichever vCPU exits next,
 * and always before vmio handles any later exit: a read of the device, or
 * any other exit, first delivers every write buffered before it. So a burst
 * of writes followed by a read (a doorbell, a status poll) costs one exit
 * instead of one per write. Suits registers whose writes have no effect the
 * guest can observe before its next exit: write buffers, index/data pairs
 * written ahead of a read, framebuffers, log FIFOs; not a doorbell that must
 * act at once (use an ioeventfd) or a register whose write must stop the VM.
 * Reads in the zone still exit. Buffered writes count as the
 * "coalesced_write" kind in the statistics, not as exits.
 * The zone must lie inside one device's window on that bus and overlap no
 * other zone; the VM holds no reference to the device (a write that finds
 * no device is unclaimed, reported per the VM's policy; it cannot stop the
 * run).
 * Errors: -EINVAL for another space or an empty/out-of-range zone, -ENOENT
 * when no one device window holds it, -EBUSY overlapping a zone, -ENOSPC
 * beyond 32 zones, -ENOTSUP when the backend cannot buffer writes there
 * (ports need KVM_CAP_COALESCED_PIO), the backend's -errno; all described.
 */
int vmio_vm_coalesce(struct vmio_vm *vm, enum vmio_space space, uint64_t base, uint64_t len,
                     struct vmio_error *err);

/*
 * vmio_vm_uncoalesce - remove the zone vmio_vm_coalesce() made with exactly
 * these @space, @base and @len. Writes buffered before still arrive.
 * Errors: -ENOENT when there is no such zone, the backend's -errno.
 */
int vmio_vm_uncoalesce(struct vmio_vm *vm, enum vmio_space space, uint64_t base, uint64_t len,
                       struct vmio_error *err);

/* ---- Exit-less notifications (ioeventfd, irqfd) ---- */

/*
 * vmio_vm_ioeventfd - with @assign, make a guest write of exactly @len bytes
 * at @addr in @space (MMIO or PIO) signal the eventfd @fd instead of exiting
 * to vmio; @datamatch (may be NULL) restricts it to writes of *@datamatch.
 * Without @assign, remove the registration made with the same arguments.
 * One call of the backend's ioeventfd (KVM_IOEVENTFD). Any thread.
 * Errors: -ENOTSUP when the backend lacks it; those of the backend
 * (vmio/backend.h), described in @err. @fd stays the caller's.
 */
int vmio_vm_ioeventfd(struct vmio_vm *vm, enum vmio_space space, uint64_t addr, unsigned len,
                      const uint64_t *datamatch, int fd, bool assign, struct vmio_error *err);

/*
 * vmio_vm_irqfd - with @assign, a write to the eventfd @fd raises GSI @gsi
 * of the VM's in-kernel irqchip; with @resample_fd >= 0 the line is
 * level-triggered and @resample_fd is signalled each time the guest's EOI
 * lowers it (see the backend's irqfd). Without @assign, remove it. Any
 * thread. Errors: -EINVAL for @gsi >= vmio_vm_irq_lines(); -ENODEV without an
 * irqchip; -ENOTSUP when the backend lacks it (or lacks resampling); those of
 * the backend, described in @err. The descriptors stay the caller's.
 */
int vmio_vm_irqfd(struct vmio_vm *vm, unsigned gsi, int fd, int resample_fd, bool assign,
                  struct vmio_error *err);

/*
 * vmio_vm_map_device_view - a read-only view of device registers: guest reads
 * of [@gpa, @gpa + @size) read the host memory at @host (a read-only memory
 * slot), so they cost no exit, while guest writes there still exit as MMIO
 * writes to the devices registered on the bus (or reach an ioeventfd).
 * For a device whose registers are plain values it keeps current in that
 * memory (the virtio-mmio transport). @host must come from mmap(2) (4 KiB
 * aligned, @size bytes); on success the VM owns it and munmap()s it in
 * vmio_vm_destroy(), after the slot is gone. The range must be 4 KiB aligned,
 * overlap a range of @dev on the MMIO bus and no other device's, and overlap
 * no memory; it is listed in vmio_vm_memory() as a pass-through region named
 * @name (never translated: a guest cannot point a device at it). Before
 * vCPUs run.
 * Errors: -EINVAL (alignment), -ENOENT (@dev is not there), -EBUSY (another
 * device, memory, a reserved window), -ENOMEM, the backend's set_memory
 * errno (a hypervisor without read-only slots); described. On failure the
 * caller keeps @host.
 */
int vmio_vm_map_device_view(struct vmio_vm *vm, const struct vmio_device *dev, uint64_t gpa,
                            uint64_t size, void *host, const char *name, struct vmio_error *err);

/*
 * vmio_vm_irqchip_version - which in-kernel interrupt controller @vm has
 * (AArch64: the GIC architecture version, 3 or 2; the backend's
 * irqchip_version). Errors: -ENXIO without one, -ENOTSUP when the backend
 * does not say.
 */
int vmio_vm_irqchip_version(struct vmio_vm *vm);

/*
 * vmio_vm_irqchip_finalize - every vCPU of @vm is created: finish the
 * in-kernel interrupt controller now, on the calling thread (AArch64: the
 * vGIC's initialisation, which KVM wants after the vCPUs and before an
 * irqfd), rather than at the first vCPU entry. Returns 0, also when the
 * backend has nothing to finish. Errors: -ENXIO without an irqchip, the
 * backend's -errno; described in @err.
 */
int vmio_vm_irqchip_finalize(struct vmio_vm *vm, struct vmio_error *err);

#endif
