/*
 * VM configuration files in AxVM's schema (AxVMCrateConfig as axvisor users
 * write it in TOML), plus vmio's documented extensions. docs/config.md lists
 * every key.
 *
 *   [base]     id, name, vm_type, cpu_num, phys_cpu_ids, phys_cpu_sets,
 *              arch (vmio extension)
 *   [kernel]   entry_point, image_location, kernel_path, kernel_load_addr,
 *              bios_path, bios_load_addr, dtb_path, dtb_load_addr,
 *              ramdisk_path, ramdisk_load_addr, cmdline, disk_path,
 *              memory_regions = [[gpa, size, flags, map_type], ...]
 *   [devices]  emu_devices = [[name, base_gpa, length, irq_id, emu_type,
 *              cfg_list], ...], passthrough_devices = [[name, base_gpa,
 *              base_hpa, length, irq_id], ...], passthrough_addresses =
 *              [[base_gpa, length], ...], excluded_devices, interrupt_mode,
 *              [[devices.passthrough_backing]] (vmio extension)
 *
 * Invariants of a loaded config: every key was known (unknown keys are
 * errors naming the key and its line), every number is in range, paths are
 * resolved relative to the directory of the config file (and stay inside it
 * unless vmio_config_options.allow_outside_paths), every emulated
 * device has a vmio model (others are rejected by name), and the memory map
 * of vmio_config_memmap() has been built once successfully. Nothing is
 * opened or mapped: loading is pure validation (only the config file itself
 * is read).
 */
#ifndef VMIO_CONFIG_H
#define VMIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/bus.h"
#include "vmio/error.h"
#include "vmio/memmap.h"

enum vmio_arch {
    VMIO_ARCH_X86_64 = 0,
    VMIO_ARCH_AARCH64,
    VMIO_ARCH_RISCV64,
};

/* AxVM's memory-region flag bits (axaddrspace MappingFlags). */
#define VMIO_MEM_READ 0x1
#define VMIO_MEM_WRITE 0x2
#define VMIO_MEM_EXECUTE 0x4
#define VMIO_MEM_USER 0x8
#define VMIO_MEM_DEVICE 0x10
#define VMIO_MEM_UNCACHED 0x20

/* AxVM's VmMemMappingType. */
enum vmio_map_type {
    VMIO_MAP_ALLOC = 0,     /* memory the VMM allocates */
    VMIO_MAP_IDENTICAL = 1, /* guest-physical == host-physical */
    VMIO_MAP_RESERVED = 2,  /* host memory reserved for the guest */
};

/* AxVM's EmulatedDeviceType numbers (axvmconfig), and vmio's own (0xF0..). */
enum vmio_emu_type {
    VMIO_EMU_DUMMY = 0x0,
    VMIO_EMU_INTERRUPT_CONTROLLER = 0x1,
    VMIO_EMU_CONSOLE = 0x2,
    VMIO_EMU_FW_CFG = 0x3,
    VMIO_EMU_IVC_CHANNEL = 0xA,
    VMIO_EMU_GPPT_REDISTRIBUTOR = 0x20,
    VMIO_EMU_GPPT_DISTRIBUTOR = 0x21,
    VMIO_EMU_GPPT_ITS = 0x22,
    VMIO_EMU_X86_IOAPIC = 0x23,
    VMIO_EMU_X86_PIT = 0x24,
    VMIO_EMU_X86_PIC = 0x25,
    VMIO_EMU_X86_LOCAL_APIC = 0x26,
    VMIO_EMU_PPPT_GLOBAL = 0x30,
    VMIO_EMU_VIRTIO_BLK = 0xE1,
    VMIO_EMU_VIRTIO_NET = 0xE2,
    VMIO_EMU_VIRTIO_CONSOLE = 0xE3,
    /* vmio extensions, in AxVM's reserved 0xF0-0xFF range */
    VMIO_EMU_VMIO_TESTDEV = 0xF0,
    VMIO_EMU_VMIO_DEBUG_EXIT = 0xF1,
    VMIO_EMU_VMIO_DEBUGCON = 0xF2,
    VMIO_EMU_VMIO_VIRTIO_RNG = 0xF3,
};

/* The vmio device model an emulated device becomes. */
enum vmio_emu_model {
    VMIO_MODEL_UART16550 = 0,
    VMIO_MODEL_TESTDEV,
    VMIO_MODEL_DEBUG_EXIT,
    VMIO_MODEL_DEBUGCON,
    VMIO_MODEL_VIRTIO_BLK,     /* VirtioBlk: virtio-mmio, image kernel.disk_path */
    VMIO_MODEL_VIRTIO_CONSOLE, /* VirtioConsole: virtio-mmio, on --serial */
    VMIO_MODEL_VIRTIO_RNG,     /* VmioVirtioRng (vmio's 0xF3): virtio-mmio */
    VMIO_MODEL_VIRTIO_NET,     /* VirtioNet: virtio-mmio on the TAP its name names */
};

/* The window a virtio-mmio device needs in a config. */
#define VMIO_CONFIG_VIRTIO_MIN_LENGTH 0x200

enum vmio_irq_mode {
    VMIO_IRQ_NONE = 0,    /* "no_irq" (also "no", "none"); AxVM's default */
    VMIO_IRQ_EMULATED,    /* "emu" (also "emulated") */
    VMIO_IRQ_PASSTHROUGH, /* "passthrough" (also "pt") */
};

struct vmio_cfg_mem_region {
    uint64_t gpa, size, flags;
    enum vmio_map_type map_type;
    unsigned line, column; /* where it was written */
};

struct vmio_cfg_emu_device {
    char *name;
    uint64_t base_gpa, length, irq_id;
    unsigned emu_type;
    enum vmio_emu_model model;
    enum vmio_space space; /* PIO for x86 windows ending at or below 0x10000 */
    uint64_t *cfg_list;
    size_t ncfg;
    unsigned line, column;
};

struct vmio_cfg_pt_device {
    char *name; /* "passthrough_addresses[i]" for entries of that list */
    uint64_t base_gpa, base_hpa, length, irq_id;
    char *backing;            /* NULL: /dev/mem; else "file:/abs/path" or "shm:NAME" */
    bool backing_set;         /* a [[devices.passthrough_backing]] named it */
    bool from_memory_regions; /* a DEVICE-flagged memory region */
    bool hpa_is_gpa;          /* no base_hpa of its own (addresses, memory regions): with a
                                 backing object the offset is then the page offset of gpa */
    bool readonly;            /* DEVICE-flagged memory region without WRITE */
    unsigned line, column;
};

struct vmio_config {
    char *path; /* the config file as given */
    char *dir;  /* its directory: relative paths are resolved against it */
    enum vmio_arch arch;
    char *arch_reason; /* how the architecture was decided, for messages */

    /* [base] */
    uint64_t id;
    char *name;
    uint64_t vm_type;
    uint64_t cpu_num;
    uint64_t *phys_cpu_ids, *phys_cpu_sets;
    size_t nphys_cpu_ids, nphys_cpu_sets;

    /* [kernel]; paths are absolute or NULL; has_* say whether a key was given */
    uint64_t entry_point, kernel_load_addr, bios_load_addr, dtb_load_addr, ramdisk_load_addr;
    bool has_entry_point, has_kernel_load_addr, has_bios_load_addr, has_dtb_load_addr,
        has_ramdisk_load_addr;
    char *image_location; /* "fs" (default) or "memory" */
    char *kernel_path, *bios_path, *dtb_path, *ramdisk_path, *disk_path;
    char *cmdline;
    bool enable_bios;    /* newer AxVM keys, accepted and refused by */
    char *boot_protocol; /* vmio_config_runnable() unless "direct" */
    char *uefi_firmware_path;
    struct vmio_cfg_mem_region *mem;
    size_t nmem;

    /* [devices] */
    struct vmio_cfg_emu_device *emu;
    size_t nemu;
    struct vmio_cfg_pt_device *pt;
    size_t npt;
    char ***excluded; /* excluded_devices: lists of device-tree paths */
    size_t *nexcluded_each;
    size_t nexcluded;
    enum vmio_irq_mode irq_mode;
    uint64_t *passthrough_ports; /* [base, length] pairs (newer AxVM key) */
    size_t npassthrough_ports;

    /* The memory and port map (vmio_config_memmap()), built once by the load; owned. */
    struct vmio_memmap *memmap;
};

/*
 * How a config is loaded. All false (or a NULL pointer) is the default.
 *   allow_outside_paths: relative paths (kernel_path, dtb_path, ...,
 *     file: backings) may lead outside the config's folder ("../x", or a
 *     symbolic link inside the folder that points out). By default they are
 *     refused (-EPERM, naming the key and its line): a config file is
 *     privileged (it names files vmio reads, creates and maps into the
 *     guest, and /dev/mem), so one that reaches outside its folder must be
 *     let do so by whoever runs it (`--allow-outside-paths`). Absolute paths
 *     are always taken as written.
 */
struct vmio_config_options {
    bool allow_outside_paths;
};

/*
 * vmio_config_load - read and validate the config file @path.
 * On success *@out owns a new config (vmio_config_free()).
 * Errors: -errno when the file cannot be read; -EINVAL for malformed TOML
 * or a schema error; the message starts with @path and says the line (and
 * column) and what was expected, e.g.
 *   "vm.toml: line 4, column 1: unknown key 'base.nmae'".
 * -ENOTSUP for an emu_type vmio does not model (the message names it).
 */
int vmio_config_load(const char *path, struct vmio_config **out, struct vmio_error *err);

/*
 * vmio_config_load_with - vmio_config_load() with @opts (NULL: defaults).
 * Errors: also -EPERM for a relative path that leaves the config's folder
 * without opts->allow_outside_paths.
 */
int vmio_config_load_with(const char *path, const struct vmio_config_options *opts,
                          struct vmio_config **out, struct vmio_error *err);

/*
 * vmio_config_parse - as vmio_config_load() for a document already in memory
 * (@buf, @len bytes, not retained). @path names it in messages and its
 * directory anchors relative paths (it is not opened).
 */
int vmio_config_parse(const char *buf, size_t len, const char *path, struct vmio_config **out,
                      struct vmio_error *err);

/* vmio_config_parse_with - vmio_config_parse() with @opts (NULL: defaults). */
int vmio_config_parse_with(const char *buf, size_t len, const char *path,
                           const struct vmio_config_options *opts, struct vmio_config **out,
                           struct vmio_error *err);

/* vmio_config_free - free @cfg (may be NULL) and everything in it. */
void vmio_config_free(struct vmio_config *cfg);

/*
 * vmio_config_memmap - build the VM's guest-physical memory and port map
 * from @cfg: RAM from memory_regions (DEVICE-flagged regions become
 * pass-through), pass-through mappings (aligned, merged, device windows
 * carved out) and the emulated device windows. *@out is owned by the caller
 * (vmio_memmap_free()). Errors: those of vmio_memmap_build(), prefixed with
 * the config's path.
 */
int vmio_config_memmap(const struct vmio_config *cfg, struct vmio_memmap **out,
                       struct vmio_error *err);

/*
 * vmio_config_backing_name - the backing string of @pt as the memory map
 * shows it: "/dev/mem" or the extension's "file:/abs/path" / "shm:NAME".
 */
const char *vmio_config_backing_name(const struct vmio_cfg_pt_device *pt);

/*
 * vmio_config_runnable - whether this host (x86-64 with KVM) can run @cfg.
 * Errors: -ENOTSUP with a message naming the reason: another architecture
 * ("...: this VM is for aarch64 (decided by ...); this x86_64 host cannot
 * run it"), or a feature vmio does not implement (more
 * than 4 RAM regions, BIOS/UEFI boot, interrupt or port pass-through,
 * device-tree node references; more than one vCPU
 * without interrupt_mode = "emulated", whose local APICs start them), or
 * virtio devices it cannot wire (without interrupt_mode = "emulated", an
 * irq_id outside 16-23 or shared, a VirtioBlk without kernel.disk_path or
 * more than one, kernel.disk_path without a VirtioBlk, more than 8).
 */
int vmio_config_runnable(const struct vmio_config *cfg, struct vmio_error *err);

/*
 * vmio_config_check_run - everything vmio refuses about running @cfg on this
 * host that can be known before anything is created. `vmio run` calls it
 * before it opens /dev/kvm or any other host resource and `vmio check` calls
 * it for its "runnable" verdict, so the two agree and print the same
 * message. In order:
 *   - vmio_config_runnable() (architecture, features vmio lacks);
 *   - the kernel's kind: the first 4 KiB of kernel_path are read (the only
 *     file opened; a FIFO or other non-regular file is refused without
 *     blocking) to learn whether it is a Linux bzImage, which `vmio run`
 *     boots on vmio's PC (vmio_pc_build()); *@linux_kernel (may be NULL)
 *     receives the answer;
 *   - a Linux kernel needs interrupt_mode = "emulated", takes no
 *     ramdisk_load_addr, and the config's port windows must leave the PC's
 *     ports (vmio_pc_port_ranges()) free;
 *   - with interrupt_mode = "emulated" the VM gets the in-kernel interrupt
 *     controllers: no RAM region, pass-through mapping or emulated device
 *     (as the memory map has them) may overlap the ports and windows they
 *     decode (vmio_irqchip_reserved_check(), the check the VM itself makes).
 * Errors (the message starts with the config's path): those of
 * vmio_config_runnable(); -errno when the kernel cannot be read; -EINVAL or
 * -EBUSY for the Linux and irqchip rules.
 * What it cannot know (host resources: /dev/kvm, memory, backings, a kernel
 * image too big for RAM) still fails later in the run, as a host error.
 */
int vmio_config_check_run(const struct vmio_config *cfg, bool *linux_kernel,
                          struct vmio_error *err);

/* vmio_arch_name - "x86_64", "aarch64" or "riscv64". */
const char *vmio_arch_name(enum vmio_arch arch);

/*
 * vmio_emu_type_name - AxVM's name for an emu_type number ("Console",
 * "X86Pit", ...; "VmioTestdev" for vmio's extensions), or NULL for a number
 * that is not an emulated device type.
 */
const char *vmio_emu_type_name(unsigned emu_type);

/* vmio_irq_mode_name - "no_irq", "emu" or "passthrough". */
const char *vmio_irq_mode_name(enum vmio_irq_mode mode);

/*
 * vmio_config_describe - a short summary of @cfg (name, arch, vCPUs,
 * kernel, cmdline, interrupt mode, devices with their models) to @out.
 */
void vmio_config_describe(const struct vmio_config *cfg, FILE *out);

struct vmio_chardev;
struct vmio_boot_info;
struct vmio_guest_mem;
struct vmio_vm;
struct vmio_vm_options;

/*
 * vmio_config_build_vm - create the VM @cfg describes: its RAM regions,
 * pass-through mappings (after alignment, merging and carving; backed by
 * /dev/mem or the file/shm extension) and emulated devices. The first
 * Console (16550) device gets @serial (not owned; may be NULL), later ones
 * no backend. @opts gives the unclaimed policy and log (its mem_size is
 * ignored). On success *@out owns the VM; nothing is left behind on failure.
 * Errors: those of vmio_config_check_run() for a kernel that is not a Linux
 * bzImage (this builds no PC; the kernel file is not read here), then those
 * of vmio_vm_add_ram(), vmio_vm_map_host() and device creation, each with a
 * message naming the region or device.
 */
int vmio_config_build_vm(const struct vmio_config *cfg, const struct vmio_vm_options *opts,
                         struct vmio_chardev *serial, struct vmio_vm **out, struct vmio_error *err);

/*
 * vmio_config_load_kernel - load @cfg's kernel into the guest memory @mem
 * (the VM's: vmio_vm_memory()): a multiboot image as its header says (with
 * @cmdline, may be NULL; it needs one RAM region covering [0, 2 MiB)),
 * anything else raw at kernel_load_addr, entered at entry_point
 * (boot->mbi_addr is then 0); then the dtb and ramdisk at their load
 * addresses. Fills *@boot. Files may span adjacent RAM regions.
 * Errors: -ENOEXEC for a non-multiboot kernel without kernel_load_addr,
 * -ERANGE for anything that does not fit in guest RAM, file errors (-errno
 * with the path).
 */
int vmio_config_load_kernel(const struct vmio_guest_mem *mem, const struct vmio_config *cfg,
                            const char *cmdline, struct vmio_boot_info *boot,
                            struct vmio_error *err);

/* ---- virtio devices (src/config/virtio_config.c) ---- */

struct vmio_pc_virtio;

/*
 * vmio_config_virtio - the virtio devices of @cfg (VirtioBlk, VirtioNet,
 * VirtioConsole, VmioVirtioRng in emu_devices order) as vmio_pc_virtio
 * entries (vmio/pc.h) in @out (room for @max), with their window and GSI
 * (irq_id); the disk is kernel.disk_path, read-only when cfg_list[0] has bit
 * 0 set; a net device's TAP is its name (a pointer into @cfg) and its MAC
 * cfg_list[0] when given; a console's chardev is left NULL for the caller.
 * *@n receives the count. Pure: opens nothing. Errors: -ENOSPC for more than
 * @max.
 */
int vmio_config_virtio(const struct vmio_config *cfg, struct vmio_pc_virtio *out, unsigned max,
                       unsigned *n, struct vmio_error *err);

/* vmio_config_is_virtio - whether @model is one of the virtio models. */
bool vmio_config_is_virtio(enum vmio_emu_model model);

#endif
