/*
 * `vmio run`: build a VM, load its kernel, run its vCPUs (one thread each,
 * vmio_vm_run()) and turn the first exit one of them returns into words and
 * an exit status.
 *
 * Three ways to describe the VM, one run path after that:
 *   - a Linux bzImage (detected by its setup header) on vmio's PC
 *     (vmio_pc_build(): COM1, RTC, ACPI power device and tables, ...; the
 *     in-kernel irqchip and PIT always), with --initrd and --cmdline
 *     (default "console=ttyS0"), 256 MiB of RAM unless --mem says otherwise;
 *     guest power-off and reset end the run with status 0;
 *   - any other image (or nothing: the built-in demo guest) on vmio's
 *     standard machine (vmio_add_standard_devices(): COM1, debug-exit,
 *     debugcon, testdev) with RAM from 0, loaded by the multiboot rules;
 *   - a VM config (an argument ending in ".toml", or --config PATH; AxVM's
 *     schema, docs/config.md), built by vmio_config_build_vm() exactly as
 *     the config says; nothing else is added.
 * Several vCPUs (--cpus N, or base.cpu_num of a config) need the in-kernel
 * irqchip: --cpus N > 1 implies --irqchip; a config must say
 * interrupt_mode = "emulated". vCPU 0 boots the kernel; the others wait for
 * the INIT/SIPI it sends. A config's phys_cpu_sets[i] pins vCPU i's thread.
 * With an interrupt controller (--irqchip, or interrupt_mode = "emulated"),
 * the UART's input thread (vmio_uart16550_input_start()) pulls stdio input
 * into the serial UART while the vCPUs run, so a guest sleeping in HLT gets
 * its receive interrupt.
 * Linux guests may have virtio devices (--disk, --net, --rng, --console virtio;
 * run_virtio.c): virtio-mmio transports in the PC's slots, listed in the
 * DSDT, their work on an I/O thread that runs exactly while the vCPUs do.
 * With --console virtio the --serial backend is hvc0's and COM1 only writes
 * to the same place (it takes no input).
 * Invariant: every host resource (chardevs, config, the VM, the input and I/O
 * threads) is released on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_observe.h"
#include "cli/run_virtio.h"
#include "demo_embed.h"
#include "vmio/boot.h"
#include "vmio/chardev.h"
#include "vmio/config.h"
#include "vmio/devices.h"
#include "vmio/linux_boot.h"
#include "vmio/iothread.h"
#include "vmio/pc.h"
#include "vmio/seccomp.h"
#include "vmio/testdev_regs.h"
#include "vmio/uart16550.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"
#include "vmio/watchdog.h"

#define MAX_IMAGE_SIZE (512u << 20)
#define MAX_INITRD_SIZE (2048u << 20)
#define LINUX_DEFAULT_MEM (256ull << 20)
#define LINUX_DEFAULT_CMDLINE "console=ttyS0"
#define LINUX_VIRTIO_CONSOLE_CMDLINE "console=hvc0"
#define VMIO_RUN_MAX_CPUS 64 /* as base.cpu_num */
/* --mem: a page multiple from 2 MiB (multiboot images load at 1 MiB) to 1 TiB. */
#define VMIO_RUN_MIN_MEM (2ull << 20)
#define VMIO_RUN_MAX_MEM (1ull << 40)

struct run_options {
    uint64_t mem;
    enum vmio_unclaimed_policy policy;
    const char *serial;
    const char *cmdline;
    const char *initrd; /* --initrd FILE (Linux images) */
    const char *stats_json;
    const char *image;
    const char *config; /* a VM config instead of an image */
    bool mem_given;
    bool stats;
    bool trace;
    bool irqchip;             /* --irqchip: in-kernel PIC/IOAPIC/LAPIC + PIT, COM1 on IRQ 4 */
    unsigned cpus;            /* --cpus N (0: not given) */
    bool allow_outside_paths; /* --allow-outside-paths: a config's relative paths may leave it */
    uint64_t stall_ns;        /* --stall-timeout (0: no watchdog) */
    bool stall_exit;          /* --on-stall exit */
    bool no_coalesce;         /* --coalesce off */
    bool no_seccomp;          /* --no-seccomp */
    struct run_virtio virtio; /* --disk, --net, --rng, --console virtio, --no-ioeventfd/irqfd */
};

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: vmio run [options] [IMAGE | CONFIG.toml]\n"
            "Run a Linux bzImage, a multiboot (v1) ELF or (from a config) a raw image; with\n"
            "no IMAGE, run the built-in demo guest. With a VM config (AxVM schema,\n"
            "docs/config.md), build the VM it describes.\n"
            "\n"
            "  --config PATH           the VM config (same as a last argument ending in .toml)\n"
            "  --allow-outside-paths   let the config's relative paths lead outside its folder\n"
            "  --mem SIZE              guest RAM, e.g. 64M, 1G (default 64M, 256M for Linux;\n"
            "                          not with a config)\n"
            "  --initrd FILE           Linux: the initial RAM disk\n"
            "  --unhandled POLICY      unclaimed accesses: ignore (default), log or strict\n"
            "  --serial SPEC           COM1 (with a config: the first Console device) backend:\n"
            "                          stdio (default), file:PATH or none\n"
            "  --cmdline STRING        kernel command line (Linux default: console=ttyS0;\n"
            "                          multiboot: in the multiboot info; overrides\n"
            "                          kernel.cmdline of a config)\n"
            "  --stats                 print exit statistics to stderr at VM exit\n"
            "  --stats-json PATH       write the same statistics as JSON to PATH\n"
            "  --trace                 print one line per exit to stderr\n"
            "  --irqchip               interrupts: KVM's in-kernel PIC, IOAPIC, local APIC and\n"
            "                          PIT, COM1 on IRQ 4 (not with a config: it uses\n"
            "                          devices.interrupt_mode); HLT then waits for an\n"
            "                          interrupt instead of ending the run\n"
            "  --stall-timeout MS      name a device handler that has not returned after MS\n"
            "                          milliseconds (default 100; 0: no watchdog)\n"
            "  --on-stall log|exit     then log it once (default) or exit with status 10\n"
            "  --coalesce on|off       let KVM buffer writes to testdev's write buffers and\n"
            "                          deliver them at the next exit (default on)\n"
            "  --no-seccomp            no system-call filters on the vCPU and I/O threads\n"
            "                          (default: each keeps only the calls its job needs)\n"
            "  --cpus N                vCPUs, 1-64 (default 1; not with a config: it uses\n"
            "                          base.cpu_num); N > 1 implies --irqchip; vCPU 0 boots,\n"
            "                          the others wait for its INIT/SIPI\n"
            "Linux guests (virtio-mmio devices, up to 8, found through the ACPI DSDT):\n"
            "  --disk PATH[,ro]        a raw disk image as virtio-blk (vda, vdb, ... in order;\n"
            "                          ,ro: read-only); repeatable\n"
            "  --net tap=NAME[,mac=MAC]\n"
            "                          virtio-net on the TAP interface NAME (no offloads;\n"
            "                          MAC default 02:76:6d:69:6f:NN, NN = 0, 1, ... in\n"
            "                          order); repeatable, one TAP each\n"
            "  --rng                   virtio-rng (entropy from the host's getrandom)\n"
            "  --console uart|virtio   where --serial goes: COM1 (default) or virtio-console\n"
            "                          (hvc0; the default command line becomes console=hvc0;\n"
            "                          COM1 then only writes to the same place)\n"
            "  --no-ioeventfd          queue notifications, register reads and (any image)\n"
            "                          testdev's doorbells exit to vmio (instead of eventfds\n"
            "                          in KVM and a read-only view of the registers: the\n"
            "                          fallback path)\n"
            "  --no-irqfd              virtio interrupts through KVM_IRQ_LINE and every\n"
            "                          InterruptACK exits (instead of an irqfd and ACK\n"
            "                          eventfds: the fallback path)\n"
            "\n"
            "exit status (from the first vCPU that stops; the others are then stopped):\n"
            "(v << 1) | 1 when the guest writes v to port 0xf4; 0 when it halts\n"
            "(never with --irqchip: HLT waits for an interrupt), powers off or resets (ACPI,\n"
            "port 0x92, i8042: vmio does not reboot); 2 bad arguments or image;\n"
            "4 unclaimed access under --unhandled strict;\n"
            "6 guest crashed (shutdown, KVM internal error, entry failure); 8 host error;\n"
            "10 a device handler stalled (--on-stall exit).\n");
}

/* --initrd FILE and the like: a readable regular file, or a usage error naming @opt. */
static int check_input_file(const char *opt, const char *path)
{
    struct stat st;
    struct vmio_error err = {0};
    int fd = vmio_open_regular(path, &st, &err);
    if (fd < 0) {
        fprintf(stderr, "vmio run: %s: %s\n", opt, err.msg);
        return -EINVAL;
    }
    close(fd);
    return 0;
}

/*
 * Everything about the options that can be known without a VM: checked
 * before vmio opens /dev/kvm or any other host resource, so every usage
 * mistake is status 2 with the option named.
 */
static int validate_run_options(const struct run_options *o)
{
    if (o->mem_given &&
        (o->mem < VMIO_RUN_MIN_MEM || o->mem > VMIO_RUN_MAX_MEM || o->mem % 4096 != 0)) {
        fprintf(stderr,
                "vmio run: --mem %" PRIu64 " bytes: expected a multiple of 4 KiB from 2M to 1T\n",
                o->mem);
        return -EINVAL;
    }
    if (o->initrd && check_input_file("--initrd", o->initrd) < 0)
        return -EINVAL;
    if (o->stats_json && cli_check_output_file("--stats-json", o->stats_json) < 0)
        return -EINVAL;
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
        OPT_CONFIG,
        OPT_IRQCHIP,
        OPT_CPUS,
        OPT_INITRD,
        OPT_STALL_TIMEOUT,
        OPT_ON_STALL,
        OPT_COALESCE,
        OPT_NO_SECCOMP,
        OPT_ALLOW_OUTSIDE,
        OPT_DISK,
        OPT_NET,
        OPT_RNG,
        OPT_CONSOLE,
        OPT_NO_IOEVENTFD,
        OPT_NO_IRQFD
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
        {"irqchip", no_argument, NULL, OPT_IRQCHIP},
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT},
        {"on-stall", required_argument, NULL, OPT_ON_STALL},
        {"coalesce", required_argument, NULL, OPT_COALESCE},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"allow-outside-paths", no_argument, NULL, OPT_ALLOW_OUTSIDE},
        {"disk", required_argument, NULL, OPT_DISK},
        {"net", required_argument, NULL, OPT_NET},
        {"rng", no_argument, NULL, OPT_RNG},
        {"console", required_argument, NULL, OPT_CONSOLE},
        {"no-ioeventfd", no_argument, NULL, OPT_NO_IOEVENTFD},
        {"no-irqfd", no_argument, NULL, OPT_NO_IRQFD},
        {NULL, 0, NULL, 0},
    };
    *o = (struct run_options){.serial = "stdio",
                              .policy = VMIO_UNCLAIMED_IGNORE,
                              .stall_ns = VMIO_WATCHDOG_DEFAULT_TIMEOUT_NS};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MEM:
            if (cli_parse_size(optarg, &o->mem) < 0) {
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
        case OPT_INITRD:
            o->initrd = optarg;
            break;
        case OPT_STALL_TIMEOUT:
            if (cli_parse_stall_timeout(optarg, &o->stall_ns) < 0)
                return -EINVAL;
            break;
        case OPT_ON_STALL:
            if (cli_parse_on_stall(optarg, &o->stall_exit) < 0)
                return -EINVAL;
            break;
        case OPT_NO_SECCOMP:
            o->no_seccomp = true;
            break;
        case OPT_COALESCE:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "vmio run: --coalesce '%s': expected on or off\n", optarg);
                return -EINVAL;
            }
            o->no_coalesce = strcmp(optarg, "off") == 0;
            break;
        case OPT_ALLOW_OUTSIDE:
            o->allow_outside_paths = true;
            break;
        case OPT_DISK:
            if (run_virtio_disk(&o->virtio, optarg) < 0)
                return -EINVAL;
            break;
        case OPT_NET:
            if (run_virtio_net(&o->virtio, optarg) < 0)
                return -EINVAL;
            break;
        case OPT_RNG:
            if (run_virtio_rng(&o->virtio) < 0)
                return -EINVAL;
            break;
        case OPT_CONSOLE:
            if (run_virtio_console(&o->virtio, optarg) < 0)
                return -EINVAL;
            break;
        case OPT_NO_IOEVENTFD:
            o->virtio.no_ioeventfd = true;
            break;
        case OPT_NO_IRQFD:
            o->virtio.no_irqfd = true;
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
        case OPT_IRQCHIP:
            o->irqchip = true;
            break;
        case OPT_CPUS: {
            char *end;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || n < 1 ||
                n > VMIO_RUN_MAX_CPUS) {
                fprintf(stderr, "vmio run: --cpus '%s': expected a number of vCPUs, 1-%d\n", optarg,
                        VMIO_RUN_MAX_CPUS);
                return -EINVAL;
            }
            o->cpus = (unsigned)n;
            break;
        }
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
    if (o->config && o->initrd) {
        fprintf(stderr, "vmio run: --initrd does not apply to a config: set kernel.ramdisk_path "
                        "in it\n");
        return -EINVAL;
    }
    if (o->config && o->mem_given) {
        fprintf(stderr, "vmio run: --mem does not apply to a config: its memory comes from "
                        "kernel.memory_regions\n");
        return -EINVAL;
    }
    if (o->config && o->cpus) {
        fprintf(stderr, "vmio run: --cpus does not apply to a config: set base.cpu_num in it\n");
        return -EINVAL;
    }
    if (o->cpus > 1)
        o->irqchip = true; /* INIT/SIPI need the in-kernel local APICs */
    if (o->config && o->irqchip) {
        fprintf(stderr, "vmio run: --irqchip does not apply to a config: set "
                        "devices.interrupt_mode = \"emulated\" in it\n");
        return -EINVAL;
    }
    if (o->config && run_virtio_any(&o->virtio)) {
        fprintf(stderr, "vmio run: --disk, --net, --rng and --console virtio do not apply to a "
                        "config: list the devices in devices.emu_devices (docs/config.md)\n");
        return -EINVAL;
    }
    if (run_virtio_finish(&o->virtio) < 0)
        return -EINVAL;
    return validate_run_options(o);
}

/* The registers of a vCPU whose guest died, for the report. */
static void print_registers(struct vmio_vcpu *vcpu)
{
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    if (!vcpu || vmio_vcpu_get_regs(vcpu, &r) < 0 || vmio_vcpu_get_sregs(vcpu, &s) < 0)
        return;
    static const char *const names[VMIO_X86_NGPR] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                                     "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                                     "r12", "r13", "r14", "r15"};
    fprintf(stderr,
            "vmio: rip %016" PRIx64 " rflags %08" PRIx64 " cs %04x (base %" PRIx64 ", %s)\n", r.rip,
            r.rflags, s.cs.selector, s.cs.base,
            s.cs.l    ? "64-bit"
            : s.cs.db ? "32-bit"
                      : "16-bit");
    for (unsigned i = 0; i < VMIO_X86_NGPR; i += 4)
        fprintf(stderr,
                "vmio: %-3s %016" PRIx64 " %-3s %016" PRIx64 " %-3s %016" PRIx64 " %-3s %016" PRIx64
                "\n",
                names[i], r.gpr[i], names[i + 1], r.gpr[i + 1], names[i + 2], r.gpr[i + 2],
                names[i + 3], r.gpr[i + 3]);
    fprintf(stderr,
            "vmio: cr0 %08" PRIx64 " cr2 %016" PRIx64 " cr3 %016" PRIx64 " cr4 %08" PRIx64
            " efer %" PRIx64 "\n",
            s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

/*
 * Map the exit that ended the run to words on stderr and a status. With
 * several vCPUs the words say which vCPU stopped; a guest that died gets its
 * registers printed (@vcpu: the vCPU that stopped).
 */
static int report_exit(const struct vmio_exit *e, unsigned vcpu, unsigned ncpus,
                       struct vmio_vcpu *stopped)
{
    char desc[480], line[512];
    vmio_exit_describe(e, desc, sizeof(desc));
    if (ncpus > 1)
        snprintf(line, sizeof(line), "vCPU %u: %s", vcpu, desc);
    else
        snprintf(line, sizeof(line), "%s", desc);
    switch (e->reason) {
    case VMIO_EXIT_DEBUG_EXIT:
        return (int)(((e->code << 1) | 1) & 0xff);
    case VMIO_EXIT_HLT:
    case VMIO_EXIT_POWEROFF:
        return VMIO_STATUS_OK;
    case VMIO_EXIT_RESET: /* as QEMU -no-reboot: the run ends */
        fprintf(stderr, "vmio: the guest asked for a reset; vmio does not reboot: exiting\n");
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
        print_registers(stopped);
        return VMIO_STATUS_GUEST_DEAD;
    }
}

/* What each vCPU thread does before it runs (vmio_vm_run()'s thread_init). */
struct vcpu_setup {
    const struct vmio_config *cfg; /* phys_cpu_sets, or NULL */
    bool seccomp;
};

/*
 * thread_init: pin the calling thread (vCPU @index's) to phys_cpu_sets[index]
 * of the config, a bit mask of host CPUs; then, unless --no-seccomp, confine
 * it to the vCPU system-call filter (vmio/seccomp.h).
 */
static int setup_vcpu_thread(void *ctx, unsigned index, struct vmio_error *err)
{
    const struct vcpu_setup *s = ctx;
    const struct vmio_config *cfg = s->cfg;
    if (cfg && index < cfg->nphys_cpu_sets) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned b = 0; b < 64 && b < CPU_SETSIZE; b++)
            if (cfg->phys_cpu_sets[index] & (1ULL << b))
                CPU_SET(b, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
            return vmio_error_set(
                err, -errno,
                "%s: cannot pin vCPU %u to host CPU mask 0x%" PRIx64 " (phys_cpu_sets[%u]): %s",
                cfg->path, index, cfg->phys_cpu_sets[index], index, strerror(errno));
    }
    return s->seccomp ? cli_confine(VMIO_SECCOMP_VCPU, err) : 0;
}

/*
 * The host side of a run: the chardevs and the virtio devices. With
 * --console virtio, serial is hvc0's and com1 an output-only stdio chardev on
 * the same stdout (or serial itself for file: and none, which have no input);
 * otherwise both are the same.
 */
struct run_ctx {
    struct vmio_chardev *serial;
    struct vmio_chardev *com1;
    struct run_virtio *virtio;
};

/* How vCPU 0 starts: the multiboot machine state, or Linux's 64-bit entry. */
struct boot_plan {
    bool linux_kernel;
    struct vmio_boot_info mb;
    struct vmio_linux_layout lx;
};

/* Put "FILE: " in front of @err's message. */
static void prefix_error(struct vmio_error *err, const char *file)
{
    char msg[VMIO_ERROR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    vmio_error_set(err, err->code, "%s: %s", file, msg);
}

/*
 * Put vmio's PC (devices and ACPI tables for @ncpus vCPUs) on @vm (it has the
 * irqchip) and load the bzImage @img (o->image names it), o->initrd and the
 * command line (default LINUX_DEFAULT_CMDLINE).
 */
static int add_linux(const struct run_options *o, struct run_ctx *rc, unsigned ncpus,
                     const uint8_t *img, size_t img_size, struct vmio_vm *vm,
                     struct boot_plan *plan, struct vmio_error *err)
{
    uint8_t *initrd = NULL;
    size_t initrd_size = 0;
    if (o->initrd && vmio_read_file(o->initrd, MAX_INITRD_SIZE, &initrd, &initrd_size, err) < 0)
        return VMIO_STATUS_USAGE;
    struct vmio_pc_config pc = {.cpus = ncpus, .serial = rc->com1, .debugcon = stdout};
    struct vmio_pc_info info;
    int status = VMIO_STATUS_USAGE;
    const char *cmdline = o->cmdline            ? o->cmdline
                          : rc->virtio->console ? LINUX_VIRTIO_CONSOLE_CMDLINE
                                                : LINUX_DEFAULT_CMDLINE;
    int vrc = run_virtio_attach(rc->virtio, vm, rc->serial, err);
    pc.extra_devices = rc->virtio->acpi;
    pc.extra_count = rc->virtio->n;
    if (vrc == 0 && vmio_pc_build(vm, &pc, &info, err) == 0) {
        struct vmio_linux_vm_boot b = {.image = img,
                                       .image_size = img_size,
                                       .initrd = initrd,
                                       .initrd_size = initrd_size,
                                       .cmdline = cmdline,
                                       .rsdp = info.rsdp,
                                       .acpi_base = info.acpi_base,
                                       .acpi_size = info.acpi_size};
        status = 0;
        plan->linux_kernel = true;
        if (vmio_linux_boot_vm(vm, &b, &plan->lx, err) < 0) {
            status = VMIO_STATUS_USAGE;
            prefix_error(err, o->image);
        }
    }
    if (status != 0 && err->code == -ENOMEM)
        status = VMIO_STATUS_HOST;
    free(initrd);
    return status;
}

/* A Linux bzImage @img on a new VM: irqchip and PIT, 256 MiB unless --mem, add_linux(). */
static int build_linux_vm(const struct run_options *o, struct run_ctx *rc,
                          const struct vmio_vm_options *vo, unsigned ncpus, const uint8_t *img,
                          size_t img_size, struct vmio_vm **vm, struct boot_plan *plan,
                          struct vmio_error *err)
{
    struct vmio_vm_options lo = *vo;
    lo.irqchip = lo.pit = true;
    lo.cpus = ncpus;
    if (!o->mem_given)
        lo.mem_size = LINUX_DEFAULT_MEM;
    if (vmio_vm_create(&lo, vm, err) < 0)
        return VMIO_STATUS_HOST;
    return add_linux(o, rc, ncpus, img, img_size, *vm, plan, err);
}

/*
 * Build the machine an image runs on: a Linux bzImage on the PC
 * (build_linux_vm()); anything else on default RAM with the standard
 * devices, the image (or the built-in demo guest) loaded by the multiboot
 * rules. Returns a VMIO_STATUS_* for the failure, or 0.
 */
static int build_image_vm(const struct run_options *o, struct run_ctx *rc,
                          const struct vmio_vm_options *vo, unsigned ncpus, struct vmio_vm **vm,
                          struct boot_plan *plan, struct vmio_error *err)
{
    const uint8_t *img = vmio_demo_guest_start;
    size_t img_size = (size_t)(vmio_demo_guest_end - vmio_demo_guest_start);
    uint8_t *file = NULL;
    if (o->image) {
        if (vmio_read_file(o->image, MAX_IMAGE_SIZE, &file, &img_size, err) < 0)
            return VMIO_STATUS_USAGE;
        img = file;
    }
    int status = VMIO_STATUS_HOST;
    if (o->image && vmio_bzimage_detect(img, img_size)) {
        status = build_linux_vm(o, rc, vo, ncpus, img, img_size, vm, plan, err);
    } else if (o->initrd) {
        status = VMIO_STATUS_USAGE;
        vmio_error_set(err, -EINVAL,
                       "--initrd %s: %s is not a Linux bzImage (multiboot images "
                       "take no initrd)",
                       o->initrd, o->image ? o->image : "the demo guest");
    } else if (run_virtio_any(rc->virtio)) {
        status = VMIO_STATUS_USAGE;
        vmio_error_set(err, -EINVAL,
                       "--disk, --net, --rng and --console virtio: %s is not a Linux bzImage "
                       "(virtio devices are on vmio's PC, found through its ACPI tables)",
                       o->image ? o->image : "the demo guest");
    } else if (vmio_vm_create(vo, vm, err) == 0 &&
               vmio_add_standard_devices(*vm, rc->serial, stdout, err) == 0 &&
               (o->no_coalesce || vmio_coalesce_standard_devices(*vm, err) == 0) &&
               run_virtio_iothread(rc->virtio, err) &&
               vmio_doorbell_standard_devices(*vm, rc->virtio->io, !rc->virtio->no_ioeventfd,
                                              err) == 0) {
        status = 0;
        if (vmio_multiboot_load(vmio_vm_memory(*vm), img, img_size, o->cmdline, &plan->mb, err) <
            0) {
            status = VMIO_STATUS_USAGE;
            if (o->image)
                prefix_error(err, o->image);
        }
    }
    free(file);
    return status;
}

/*
 * The same for a VM config. A Linux kernel (kernel_path a bzImage) also gets
 * vmio's PC (COM1 on --serial, RTC, ACPI: vmio_pc_build()) besides the
 * config's devices, which must then leave the PC's ports free; its initrd is
 * kernel.ramdisk_path, placed by the boot protocol.
 */
static int build_config_vm(const struct run_options *o, const struct vmio_config *cfg,
                           bool linux_kernel, struct run_ctx *rc, const struct vmio_vm_options *vo,
                           struct vmio_vm **vm, struct boot_plan *plan, struct vmio_error *err)
{
    const char *cmdline = o->cmdline ? o->cmdline : cfg->cmdline;
    /* What the config asks of the PC was checked by vmio_config_check_run(). */
    if (vmio_config_build_vm(cfg, vo, linux_kernel ? NULL : rc->com1, vm, err) < 0)
        return err->code == -ENOMEM ? VMIO_STATUS_HOST : VMIO_STATUS_USAGE;
    if (!linux_kernel) {
        if (run_virtio_attach(rc->virtio, *vm, rc->serial, err) < 0)
            return err->code == -ENOMEM ? VMIO_STATUS_HOST : VMIO_STATUS_USAGE;
        if (vmio_config_load_kernel(vmio_vm_memory(*vm), cfg, cmdline, &plan->mb, err) < 0)
            return VMIO_STATUS_USAGE;
        return 0;
    }
    struct run_options lo = *o;
    lo.image = cfg->kernel_path;
    lo.initrd = cfg->ramdisk_path;
    lo.cmdline = cmdline;
    uint8_t *img = NULL;
    size_t size = 0;
    if (vmio_read_file(cfg->kernel_path, MAX_IMAGE_SIZE, &img, &size, err) < 0)
        return VMIO_STATUS_USAGE;
    int status = add_linux(&lo, rc, (unsigned)cfg->cpu_num, img, size, *vm, plan, err);
    free(img);
    return status;
}

/* Does the config have a Console (or a VirtioConsole)? Only then is --serial opened (stdio goes
 * raw). */
static bool config_has_console(const struct vmio_config *cfg)
{
    for (size_t i = 0; i < cfg->nemu; i++)
        if (cfg->emu[i].model == VMIO_MODEL_UART16550 ||
            cfg->emu[i].model == VMIO_MODEL_VIRTIO_CONSOLE)
            return true;
    return false;
}

/*
 * The UART that owns @serial when a pump is useful: the VM has an irqchip and
 * @serial has input (stdio). Image VMs: COM1; configs: the first Console.
 */
static struct vmio_device *pump_uart(struct vmio_vm *vm, const struct vmio_config *cfg,
                                     struct vmio_chardev *serial)
{
    if (!vmio_vm_has_irqchip(vm) || !serial || vmio_chardev_kind(serial) != VMIO_CHARDEV_STDIO)
        return NULL;
    enum vmio_space space = VMIO_SPACE_PIO;
    uint64_t base = VMIO_COM1_PORT;
    if (cfg) {
        size_t i = 0;
        while (i < cfg->nemu && cfg->emu[i].model != VMIO_MODEL_UART16550)
            i++;
        if (i == cfg->nemu)
            return NULL;
        space = cfg->emu[i].space;
        base = cfg->emu[i].base_gpa;
    }
    /* Before any vCPU runs: nothing registers concurrently, the range is stable. */
    const struct vmio_bus_range *r = vmio_bus_lookup(vmio_vm_bus(vm, space), base, 1);
    return r && vmio_uart16550_is(r->dev) ? r->dev : NULL;
}

/*
 * Run @ncpus vCPUs of a built VM (vCPU 0 set up to boot, the others waiting
 * for SIPI) until the first one stops; @cfg (may be NULL) pins them.
 */
static int run_vcpus(struct vmio_vm *vm, unsigned ncpus, const struct vmio_config *cfg,
                     const struct boot_plan *plan, const struct run_options *o,
                     struct vmio_device *pump, struct vmio_chardev *serial, struct vmio_error *err)
{
    struct vmio_vcpu *vcpus[VMIO_RUN_MAX_CPUS] = {0};
    int status = 0;
    for (unsigned i = 0; i < ncpus && status == 0; i++)
        if (vmio_vcpu_create(vm, i, &vcpus[i], err) < 0)
            status = VMIO_STATUS_HOST;
    struct vmio_vcpu *vcpu = vcpus[0];
    if (status == 0 && (plan->linux_kernel ? vmio_linux_setup_vcpu(vcpu, &plan->lx, err)
                                           : vmio_x86_setup_multiboot(vcpu, &plan->mb, err)) < 0)
        status = VMIO_STATUS_HOST;
    if (status != 0) {
        for (unsigned i = 0; i < ncpus; i++)
            vmio_vcpu_destroy(vcpus[i]);
        return status;
    }
    if (!plan->linux_kernel && plan->mb.mbi_addr == 0) { /* raw: no multiboot magic, no info */
        struct vmio_x86_regs regs;
        if (vmio_vcpu_get_regs(vcpu, &regs) == 0) {
            regs.gpr[VMIO_X86_RAX] = 0;
            regs.gpr[VMIO_X86_RBX] = 0;
            vmio_vcpu_set_regs(vcpu, &regs);
        }
    }
    struct vmio_uart_input *input = NULL;
    if (pump)
        input = cli_uart_input_start(vmio_uart16550_input_start, pump, serial, !o->no_seccomp);
    cli_watchdog_start(vm, o->stall_ns, o->stall_exit);
    struct vcpu_setup setup = {.cfg = cfg, .seccomp = !o->no_seccomp};
    struct vmio_run_options ro = {.thread_init = setup_vcpu_thread, .ctx = &setup};
    struct vmio_run_result res;
    int rc = vmio_vm_run(vm, vcpus, ncpus, &ro, &res, err);
    vmio_vm_watchdog_stop(vm);
    vmio_uart_input_stop(input);
    if (rc < 0) {
        status = VMIO_STATUS_HOST;
    } else if (res.err.code) { /* thread_init (pinning, seccomp) stopped the run */
        *err = res.err;
        status = VMIO_STATUS_HOST;
    } else {
        status = report_exit(&res.exit, res.vcpu, ncpus, res.vcpu < ncpus ? vcpus[res.vcpu] : NULL);
    }
    for (unsigned i = 0; i < ncpus; i++)
        vmio_vcpu_destroy(vcpus[i]);
    cli_write_stats(vm, o->stats, o->stats_json);
    return status;
}

int cli_run(int argc, char **argv)
{
    struct run_options o;
    int rc = parse_run_options(argc, argv, &o);
    if (rc != 0) {
        run_virtio_free(&o.virtio);
        return rc > 0 ? 0 : VMIO_STATUS_USAGE;
    }

    struct vmio_error err = {0};
    struct vmio_config *cfg = NULL;
    struct vmio_chardev *serial = NULL, *com1 = NULL;
    struct run_ctx rctx = {.virtio = &o.virtio};
    struct vmio_vm *vm = NULL;
    struct boot_plan plan = {0};
    struct vmio_vm_options vo = {.mem_size = o.mem,
                                 .unclaimed = o.policy,
                                 .log = stderr,
                                 .irqchip = o.irqchip,
                                 .pit = o.irqchip};
    int status = VMIO_STATUS_USAGE;
    bool linux_config = false; /* the config's kernel is a bzImage */
    struct vmio_config_options co = {.allow_outside_paths = o.allow_outside_paths};
    if (o.config && vmio_config_load_with(o.config, &co, &cfg, &err) < 0)
        goto out;
    /* The same validation as `vmio check`, before any host resource. */
    if (cfg && vmio_config_check_run(cfg, &linux_config, &err) < 0)
        goto out;
    if (cfg && run_virtio_from_config(&o.virtio, cfg, &err) < 0)
        goto out;
    if ((!cfg || linux_config || config_has_console(cfg)) &&
        vmio_chardev_open(o.serial, &serial, &err) < 0)
        goto out;
    rctx.serial = rctx.com1 = serial;
    if (o.virtio.console && serial && vmio_chardev_kind(serial) == VMIO_CHARDEV_STDIO) {
        if (vmio_chardev_open_stdio_fds(-1, STDOUT_FILENO, &com1, &err) < 0) {
            status = VMIO_STATUS_HOST;
            goto out;
        }
        rctx.com1 = com1;
    }
    unsigned ncpus = cfg ? (unsigned)cfg->cpu_num : (o.cpus ? o.cpus : 1);
    vo.cpus = ncpus;
    status = cfg ? build_config_vm(&o, cfg, linux_config, &rctx, &vo, &vm, &plan, &err)
                 : build_image_vm(&o, &rctx, &vo, ncpus, &vm, &plan, &err);
    if (status == 0) {
        if (o.trace)
            vmio_vm_set_trace(vm, stderr);
        if (o.virtio.io && !o.no_seccomp)
            vmio_iothread_set_init(o.virtio.io, cli_confine_io, NULL);
        if (run_virtio_start(&o.virtio, &err) < 0)
            status = VMIO_STATUS_HOST;
        else
            status = run_vcpus(vm, ncpus, cfg, &plan, &o, pump_uart(vm, cfg, rctx.com1), rctx.com1,
                               &err);
        run_virtio_stop(&o.virtio); /* no device work once the vCPUs have stopped */
        if (o.stats)
            run_virtio_print_stats(&o.virtio, stderr);
    }
out:
    if (err.code)
        fprintf(stderr, "vmio: %s\n", err.msg);
    vmio_vm_destroy(vm);
    run_virtio_free(&o.virtio);
    vmio_chardev_close(com1);
    vmio_chardev_close(serial);
    vmio_config_free(cfg);
    return status;
}
