/*
 * `vmio run`: build a VM, load its kernel, run the boot vCPU and turn the
 * exit it returns into words and an exit status.
 *
 * Two ways to describe the VM:
 *   - an image (or nothing: the built-in demo guest): vmio's standard
 *     PC-style devices: COM1 16550A UART (0x3f8), debug-exit (0xf4), debug
 *     console (0xe9), testdev (MMIO 0xd0000000, ports 0x7000), RAM from 0;
 *   - a VM config (an argument ending in ".toml", or --config PATH; AxVM's
 *     schema, docs/config.md): RAM regions, emulated devices, pass-through
 *     mappings (mapped with no exits; /dev/mem or a file/shm backing) and
 *     the kernel, exactly as the config says; nothing else is added.
 * Invariant: every host resource (chardev, mappings, fds, the VM) is
 * released on every path; a mapping's fd is closed as soon as it is mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "demo_embed.h"
#include "vmio/boot.h"
#include "vmio/chardev.h"
#include "vmio/config.h"
#include "vmio/devices.h"
#include "vmio/memmap.h"
#include "vmio/testdev_regs.h"
#include "vmio/uart16550.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define MAX_IMAGE_SIZE (512u << 20)

struct run_options {
    uint64_t mem;
    enum vmio_unclaimed_policy policy;
    const char *serial;
    const char *cmdline;
    const char *stats_json;
    const char *image;
    const char *config; /* a VM config instead of an image */
    bool mem_given;
    bool stats;
    bool trace;
};

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: vmio run [options] [IMAGE | CONFIG.toml]\n"
            "Run a multiboot (v1) ELF image; with no IMAGE, run the built-in demo guest.\n"
            "With a VM config (AxVM schema, docs/config.md), build the VM it describes.\n"
            "\n"
            "  --config PATH           the VM config (same as a last argument ending in .toml)\n"
            "  --mem SIZE              guest RAM, e.g. 64M, 1G (default 64M; not with a config)\n"
            "  --unhandled POLICY      unclaimed accesses: ignore (default), log or strict\n"
            "  --serial SPEC           COM1 (with a config: the first Console device) backend:\n"
            "                          stdio (default), file:PATH or none\n"
            "  --cmdline STRING        kernel command line passed in the multiboot info\n"
            "                          (overrides kernel.cmdline of a config)\n"
            "  --stats                 print exit statistics to stderr at VM exit\n"
            "  --stats-json PATH       write the same statistics as JSON to PATH\n"
            "  --trace                 print one line per exit to stderr\n"
            "\n"
            "exit status: (v << 1) | 1 when the guest writes v to port 0xf4; 0 when it halts;\n"
            "2 bad arguments or image; 4 unclaimed access under --unhandled strict;\n"
            "6 guest crashed (shutdown, KVM internal error, entry failure); 8 host error.\n");
}

/* Parse "64M", "1G", "65536K", "1048576" into bytes. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case '\0':
        break;
    default:
        return -EINVAL;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_run_options(int argc, char **argv, struct run_options *o)
{
    enum {
        OPT_MEM = 256,
        OPT_UNHANDLED,
        OPT_SERIAL,
        OPT_CMDLINE,
        OPT_STATS,
        OPT_STATS_JSON,
        OPT_TRACE,
        OPT_HELP,
        OPT_CONFIG
    };
    static const struct option longopts[] = {
        {"mem", required_argument, NULL, OPT_MEM},
        {"unhandled", required_argument, NULL, OPT_UNHANDLED},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"cmdline", required_argument, NULL, OPT_CMDLINE},
        {"stats", no_argument, NULL, OPT_STATS},
        {"stats-json", required_argument, NULL, OPT_STATS_JSON},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"help", no_argument, NULL, OPT_HELP},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    *o = (struct run_options){.serial = "stdio", .policy = VMIO_UNCLAIMED_IGNORE};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MEM:
            if (parse_size(optarg, &o->mem) < 0) {
                fprintf(stderr, "vmio run: --mem '%s' is not a size like 64M or 1G\n", optarg);
                return -EINVAL;
            }
            o->mem_given = true;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        case OPT_UNHANDLED:
            if (vmio_policy_parse(optarg, &o->policy) < 0) {
                fprintf(stderr, "vmio run: --unhandled '%s': expected ignore, log or strict\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case OPT_SERIAL:
            o->serial = optarg;
            break;
        case OPT_CMDLINE:
            o->cmdline = optarg;
            break;
        case OPT_STATS:
            o->stats = true;
            break;
        case OPT_STATS_JSON:
            o->stats_json = optarg;
            break;
        case OPT_TRACE:
            o->trace = true;
            break;
        case 'h':
        case OPT_HELP:
            run_usage(stdout);
            return 1;
        default:
            run_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        const char *a = argv[optind++];
        size_t l = strlen(a);
        if (!o->config && l > 5 && strcmp(a + l - 5, ".toml") == 0)
            o->config = a;
        else
            o->image = a;
    }
    if (optind < argc) {
        fprintf(stderr, "vmio run: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (o->config && o->image) {
        fprintf(stderr, "vmio run: give an image or a config (%s), not both\n", o->config);
        return -EINVAL;
    }
    if (o->config && o->mem_given) {
        fprintf(stderr, "vmio run: --mem does not apply to a config: its memory comes from "
                        "kernel.memory_regions\n");
        return -EINVAL;
    }
    return 0;
}

/* Create and attach one device; on failure the device is destroyed here. */
static int attach(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev, uint64_t base,
                  uint64_t len, struct vmio_error *err)
{
    if (!dev)
        return vmio_error_set(err, -ENOMEM, "out of memory creating a device");
    int rc = vmio_vm_add_device(vm, space, dev, base, len, err);
    if (rc < 0 && dev->ops->destroy)
        dev->ops->destroy(dev);
    return rc;
}

static int add_standard_devices(struct vmio_vm *vm, struct chardev *serial, struct vmio_error *err)
{
    struct vmio_device *uart = NULL;
    int rc = uart16550_create("com1", serial, NULL, NULL, &uart, err);
    if (rc == 0)
        rc = attach(vm, VMIO_SPACE_PIO, uart, VMIO_COM1_PORT, 8, err);
    if (rc == 0)
        rc = attach(vm, VMIO_SPACE_PIO, vmio_debug_exit_create("debug-exit"), VMIO_DEBUG_EXIT_PORT,
                    4, err);
    if (rc == 0)
        rc = attach(vm, VMIO_SPACE_PIO, vmio_debugcon_create("debugcon", stdout),
                    VMIO_DEBUGCON_PORT, 1, err);
    if (rc == 0)
        rc = attach(vm, VMIO_SPACE_MMIO, vmio_testdev_create("testdev-mmio"), TESTDEV_MMIO_BASE,
                    TESTDEV_MMIO_SIZE, err);
    if (rc == 0)
        rc = attach(vm, VMIO_SPACE_PIO, vmio_testdev_create("testdev-pio"), TESTDEV_PIO_BASE,
                    TESTDEV_PIO_SIZE, err);
    return rc;
}

/* Map the exit the run loop returned to words on stderr and a status. */
static int report_exit(const struct vmio_exit *e)
{
    char line[512];
    vmio_exit_describe(e, line, sizeof(line));
    switch (e->reason) {
    case VMIO_EXIT_DEBUG_EXIT:
        return (int)(((e->code << 1) | 1) & 0xff);
    case VMIO_EXIT_HLT:
        return VMIO_STATUS_OK;
    case VMIO_EXIT_UNCLAIMED:
        fprintf(stderr, "vmio: stopped: %s\n", line);
        return VMIO_STATUS_UNCLAIMED;
    case VMIO_EXIT_HOST_ERROR:
    case VMIO_EXIT_DEVICE_ERROR:
    case VMIO_EXIT_INTR:
        fprintf(stderr, "vmio: stopped: %s\n", line);
        return VMIO_STATUS_HOST;
    default:
        fprintf(stderr, "vmio: stopped: %s\n", line);
        return VMIO_STATUS_GUEST_DEAD;
    }
}

static void write_stats(struct vmio_vm *vm, const struct run_options *o)
{
    if (!o->stats && !o->stats_json)
        return;
    struct vmio_stats *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    vmio_vm_stats(vm, s);
    if (o->stats)
        vmio_stats_print(vm, s, stderr);
    if (o->stats_json) {
        FILE *f = fopen(o->stats_json, "w");
        if (f) {
            vmio_stats_write_json(vm, s, f);
            fclose(f);
        } else {
            fprintf(stderr, "vmio: cannot write %s: %s\n", o->stats_json, strerror(errno));
        }
    }
    free(s);
}

static int run_config(const struct run_options *o);

int cli_run(int argc, char **argv)
{
    struct run_options o;
    int rc = parse_run_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : VMIO_STATUS_USAGE;
    if (o.config)
        return run_config(&o);

    struct vmio_error err = {0};
    uint8_t *image = NULL;
    size_t image_size = 0;
    const uint8_t *img = vmio_demo_guest_start;
    size_t img_size = (size_t)(vmio_demo_guest_end - vmio_demo_guest_start);
    if (o.image) {
        if (vmio_read_file(o.image, MAX_IMAGE_SIZE, &image, &image_size, &err) < 0) {
            fprintf(stderr, "vmio: %s\n", err.msg);
            return VMIO_STATUS_USAGE;
        }
        img = image;
        img_size = image_size;
    }

    int status = VMIO_STATUS_HOST;
    struct chardev *serial = NULL;
    struct vmio_vm *vm = NULL;
    struct vmio_vcpu *vcpu = NULL;
    struct vmio_vm_options vo = {.mem_size = o.mem, .unclaimed = o.policy, .log = stderr};
    struct vmio_boot_info boot;
    if (chardev_open(o.serial, &serial, &err) < 0) {
        status = VMIO_STATUS_USAGE;
        goto out;
    }
    if (vmio_vm_create(&vo, &vm, &err) < 0)
        goto out;
    if (o.trace)
        vmio_vm_set_trace(vm, stderr);
    if (add_standard_devices(vm, serial, &err) < 0)
        goto out;
    if (vmio_multiboot_load(vm, img, img_size, o.cmdline, &boot, &err) < 0) {
        status = VMIO_STATUS_USAGE;
        if (o.image) {
            char prefix[VMIO_ERROR_MSG_MAX];
            snprintf(prefix, sizeof(prefix), "%s", err.msg);
            vmio_error_set(&err, err.code, "%s: %s", o.image, prefix);
        }
        goto out;
    }
    if (vmio_vcpu_create(vm, 0, &vcpu, &err) < 0 || vmio_x86_setup_multiboot(vcpu, &boot, &err) < 0)
        goto out;

    struct vmio_exit e;
    rc = vmio_vcpu_run(vcpu, &e);
    status = report_exit(&e);
    vmio_vcpu_destroy(vcpu);
    vcpu = NULL;
    write_stats(vm, &o);
out:
    if (err.code)
        fprintf(stderr, "vmio: %s\n", err.msg);
    vmio_vcpu_destroy(vcpu);
    vmio_vm_destroy(vm);
    chardev_close(serial);
    free(image);
    return status;
}

/* ---- VMs described by a config file ---- */

/*
 * Map one pass-through entry's backing: "/dev/mem" at the source address, or
 * the vmio extension "file:PATH" / "shm:NAME" (created if missing and grown,
 * never shrunk, to cover the mapping; MAP_SHARED, so every VM and process
 * mapping the same object sees the same bytes). *@host receives the mapping.
 */
static int map_backing(const struct vmio_mm_entry *e, void **host, struct vmio_error *err)
{
    const char *b = e->backing;
    bool devmem = strcmp(b, "/dev/mem") == 0;
    int prot = PROT_READ | (e->readonly ? 0 : PROT_WRITE);
    if (e->src > (uint64_t)INT64_MAX - e->size)
        return vmio_error_set(err, -EINVAL, "pass-through %s: source 0x%" PRIx64 " is too large",
                              e->owner, e->src);
    int fd;
    if (devmem)
        fd = open("/dev/mem", (e->readonly ? O_RDONLY : O_RDWR) | O_SYNC | O_CLOEXEC);
    else if (strncmp(b, "file:", 5) == 0)
        fd = open(b + 5, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    else if (strncmp(b, "shm:", 4) == 0) {
        char name[300];
        snprintf(name, sizeof(name), "/%s", b + 4);
        fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    } else
        return vmio_error_set(err, -EINVAL, "pass-through %s: unknown backing '%s'", e->owner, b);
    if (fd < 0) {
        int e2 = errno;
        return vmio_error_set(err, -e2, "pass-through %s: cannot open %s: %s%s", e->owner,
                              devmem ? "/dev/mem" : b, strerror(e2),
                              devmem ? " (it needs root and a host that allows /dev/mem; or give "
                                       "it a [[devices.passthrough_backing]], see docs/config.md)"
                                     : "");
    }
    if (!devmem) {
        struct stat st;
        uint64_t need = e->src + e->size;
        if (fstat(fd, &st) < 0 || ((uint64_t)st.st_size < need && ftruncate(fd, (off_t)need) < 0)) {
            int e2 = errno;
            close(fd);
            return vmio_error_set(err, -e2,
                                  "pass-through %s: cannot size %s to %" PRIu64 " bytes: %s",
                                  e->owner, b, need, strerror(e2));
        }
    }
    void *p = mmap(NULL, e->size, prot, MAP_SHARED, fd, (off_t)e->src);
    int e2 = errno;
    close(fd);
    if (p == MAP_FAILED)
        return vmio_error_set(
            err, -e2, "pass-through %s: cannot map 0x%" PRIx64 " bytes of %s at 0x%" PRIx64 ": %s",
            e->owner, e->size, b, e->src, strerror(e2));
    *host = p;
    return 0;
}

/* RAM and pass-through mappings, in address order. */
static int build_memory(struct vmio_vm *vm, const struct vmio_memmap *mm, struct vmio_error *err)
{
    for (size_t i = 0; i < vmio_memmap_count(mm); i++) {
        const struct vmio_mm_entry *e = vmio_memmap_at(mm, i);
        int rc = 0;
        if (e->kind == VMIO_MM_RAM) {
            rc = vmio_vm_add_ram(vm, e->gpa, e->size, e->readonly, err);
        } else if (e->kind == VMIO_MM_PASSTHROUGH) {
            void *host = NULL;
            rc = map_backing(e, &host, err);
            if (rc == 0) {
                unsigned flags = VMIO_MAP_OWNED | (e->readonly ? VMIO_MAP_READONLY : 0);
                rc = vmio_vm_map_host(vm, e->gpa, e->size, host, flags, e->owner, err);
                if (rc < 0)
                    munmap(host, e->size);
            }
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The emulated devices; the first Console gets @serial, later ones no backend. */
static int build_devices(struct vmio_vm *vm, const struct vmio_config *cfg, struct chardev *serial,
                         struct vmio_error *err)
{
    bool serial_used = false;
    for (size_t i = 0; i < cfg->nemu; i++) {
        const struct vmio_cfg_emu_device *d = &cfg->emu[i];
        struct vmio_device *dev = NULL;
        int rc = 0;
        switch (d->model) {
        case VMIO_MODEL_UART16550:
            rc = uart16550_create(d->name, serial_used ? NULL : serial, NULL, NULL, &dev, err);
            serial_used = true;
            break;
        case VMIO_MODEL_TESTDEV:
            dev = vmio_testdev_create(d->name);
            break;
        case VMIO_MODEL_DEBUG_EXIT:
            dev = vmio_debug_exit_create(d->name);
            break;
        case VMIO_MODEL_DEBUGCON:
            dev = vmio_debugcon_create(d->name, stdout);
            break;
        }
        if (rc == 0)
            rc = attach(vm, d->space, dev, d->base_gpa, d->length, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Copy the file @path into guest RAM at @gpa (dtb, ramdisk, raw kernels). */
static int load_at(struct vmio_vm *vm, const char *what, const char *path, uint64_t gpa,
                   struct vmio_error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = vmio_read_file(path, MAX_IMAGE_SIZE, &data, &size, err);
    if (rc < 0)
        return rc;
    uint8_t *dst = vmio_vm_gpa_to_host(vm, gpa, size ? size : 1);
    if (!dst)
        rc = vmio_error_set(err, -ERANGE,
                            "%s %s (%zu bytes) does not fit in guest RAM at 0x%" PRIx64, what, path,
                            size, gpa);
    else
        memcpy(dst, data, size);
    free(data);
    return rc;
}

/*
 * The kernel: a multiboot image is loaded as its header says (entry_point
 * and kernel_load_addr are then not used); anything else needs
 * kernel_load_addr and is copied there raw, entered at entry_point (default:
 * the load address) in the same 32-bit state with EBX = 0 (no info).
 */
static int load_kernel(struct vmio_vm *vm, const struct vmio_config *cfg, const char *cmdline,
                       struct vmio_boot_info *boot, struct vmio_error *err)
{
    const struct vmio_ram_region *low = vmio_vm_ram_at(vm, 0);
    uint8_t *image = NULL;
    size_t size = 0;
    int rc = vmio_read_file(cfg->kernel_path, MAX_IMAGE_SIZE, &image, &size, err);
    if (rc < 0)
        return rc;
    struct vmio_error mberr = {0};
    if (!low || low->gpa != 0 || low->size < (2u << 20)) {
        rc = vmio_error_set(&mberr, -ERANGE,
                            "multiboot needs guest RAM from 0x0 covering the first 2 MiB");
    } else {
        rc = vmio_multiboot_load(vm, image, size, cmdline, boot, &mberr);
    }
    if (rc == -ENOEXEC && cfg->has_kernel_load_addr) {
        uint8_t *dst = vmio_vm_gpa_to_host(vm, cfg->kernel_load_addr, size ? size : 1);
        if (!dst) {
            rc = vmio_error_set(err, -ERANGE,
                                "%s: kernel %s (%zu bytes, not multiboot) does not fit in guest "
                                "RAM at kernel_load_addr 0x%" PRIx64,
                                cfg->path, cfg->kernel_path, size, cfg->kernel_load_addr);
        } else {
            memcpy(dst, image, size);
            *boot = (struct vmio_boot_info){
                .entry = cfg->has_entry_point ? cfg->entry_point : cfg->kernel_load_addr,
                .mbi_addr = 0,
                .image_lo = cfg->kernel_load_addr,
                .image_hi = cfg->kernel_load_addr + size,
            };
            rc = 0;
        }
    } else if (rc < 0) {
        rc = vmio_error_set(err, rc, "%s: %s%s", cfg->kernel_path, mberr.msg,
                            rc == -ENOEXEC ? " (for a raw binary, set kernel.kernel_load_addr)"
                                           : "");
    }
    free(image);
    if (rc == 0 && cfg->dtb_path)
        rc = load_at(vm, "dtb", cfg->dtb_path, cfg->dtb_load_addr, err);
    if (rc == 0 && cfg->ramdisk_path)
        rc = load_at(vm, "ramdisk", cfg->ramdisk_path, cfg->ramdisk_load_addr, err);
    return rc;
}

/* Pin the calling (vCPU 0) thread to phys_cpu_sets[0], a bit mask of host CPUs. */
static int pin_vcpu(const struct vmio_config *cfg, struct vmio_error *err)
{
    if (cfg->nphys_cpu_sets == 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned b = 0; b < 64 && b < CPU_SETSIZE; b++)
        if (cfg->phys_cpu_sets[0] & (1ULL << b))
            CPU_SET(b, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        return vmio_error_set(err, -errno,
                              "%s: cannot pin vCPU 0 to host CPU mask 0x%" PRIx64
                              " (phys_cpu_sets[0]): %s",
                              cfg->path, cfg->phys_cpu_sets[0], strerror(errno));
    return 0;
}

static int run_config(const struct run_options *o)
{
    struct vmio_error err = {0};
    struct vmio_config *cfg = NULL;
    struct vmio_memmap *mm = NULL;
    struct chardev *serial = NULL;
    struct vmio_vm *vm = NULL;
    struct vmio_vcpu *vcpu = NULL;
    int status = VMIO_STATUS_USAGE;
    struct vmio_boot_info boot;
    if (vmio_config_load(o->config, &cfg, &err) < 0 || vmio_config_runnable(cfg, &err) < 0 ||
        vmio_config_memmap(cfg, &mm, &err) < 0)
        goto out;
    bool has_console = false; /* open --serial only for a Console (stdio goes raw) */
    for (size_t i = 0; i < cfg->nemu; i++)
        has_console |= cfg->emu[i].model == VMIO_MODEL_UART16550;
    if (has_console && chardev_open(o->serial, &serial, &err) < 0)
        goto out;
    status = VMIO_STATUS_HOST;
    struct vmio_vm_options vo = {.unclaimed = o->policy, .log = stderr};
    if (vmio_vm_create_empty(&vo, &vm, &err) < 0)
        goto out;
    if (o->trace)
        vmio_vm_set_trace(vm, stderr);
    if (build_memory(vm, mm, &err) < 0 || build_devices(vm, cfg, serial, &err) < 0)
        goto out;
    if (load_kernel(vm, cfg, o->cmdline ? o->cmdline : cfg->cmdline, &boot, &err) < 0) {
        status = VMIO_STATUS_USAGE;
        goto out;
    }
    if (pin_vcpu(cfg, &err) < 0 || vmio_vcpu_create(vm, 0, &vcpu, &err) < 0 ||
        vmio_x86_setup_multiboot(vcpu, &boot, &err) < 0)
        goto out;
    if (boot.mbi_addr == 0) { /* a raw kernel: no multiboot magic, no info */
        struct vmio_x86_regs regs;
        if (vmio_vcpu_get_regs(vcpu, &regs) == 0) {
            regs.gpr[VMIO_X86_RAX] = 0;
            regs.gpr[VMIO_X86_RBX] = 0;
            vmio_vcpu_set_regs(vcpu, &regs);
        }
    }

    struct vmio_exit e;
    vmio_vcpu_run(vcpu, &e);
    status = report_exit(&e);
    vmio_vcpu_destroy(vcpu);
    vcpu = NULL;
    write_stats(vm, o);
out:
    if (err.code)
        fprintf(stderr, "vmio: %s\n", err.msg);
    vmio_vcpu_destroy(vcpu);
    vmio_vm_destroy(vm);
    chardev_close(serial);
    vmio_memmap_free(mm);
    vmio_config_free(cfg);
    return status;
}
