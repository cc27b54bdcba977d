/*
 * `vmio run` of vmio built for AArch64 (built instead of cmd_run.c there):
 * an AArch64 ELF (the test guests) or a Linux arm64 Image on vmio's AArch64
 * machine (vmio/arm64_virt.h: GIC, PL011 UART, testdev, debug-exit, a device
 * tree built at run time), vCPU 0 at the image's entry with X0 = the tree,
 * the others powered off until the guest's PSCI CPU_ON.
 *
 * Exit statuses are those of the x86 command (cli.h): (v << 1) | 1 for a
 * debug-exit write of v, 0 for a power-off or reset (PSCI SYSTEM_OFF /
 * SYSTEM_RESET), 2 bad arguments or image, 4 unclaimed under strict, 6 guest
 * dead (also an ISV=0 abort vmio cannot emulate), 8 host error.
 * Each vCPU thread confines itself to the vCPU system-call filter
 * (vmio/seccomp.h) before it runs, unless --no-seccomp, as on x86; so does
 * the I/O thread (its own filter) when there are virtio devices.
 * Statistics (--stats, --stats-json) and the stall watchdog (--stall-timeout,
 * --on-stall) are the x86 command's (cli/run_observe.h); so is the UART's
 * input thread (here the PL011's), for guests that wait for the receive
 * interrupt.
 * virtio (--disk, --rng, --console virtio): the x86 command's devices and options
 * (cli/run_virtio.h), on this machine's windows: slot i at
 * VMIO_ARM64_VIRTIO_BASE + i * RUN_VIRTIO_STRIDE on SPI
 * VMIO_ARM64_VIRTIO_SPI + i, page-strided (not QEMU's 0x200) so that each
 * transport's register page can be mapped read-only for exit-less reads;
 * up to VMIO_ARM64_VIRTIO_SLOTS (32) of them, as the vGIC's SPIs all are
 * interrupt lines of the VM (vmio_vm_irq_lines()).
 * Invariant: every host resource is released on every path.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_observe.h"
#include "cli/run_virtio.h"
#include "vmio/arm64_regs.h"
#include "vmio/arm64_virt.h"
#include "vmio/boot.h"
#include "vmio/chardev.h"
#include "vmio/bus.h"
#include "vmio/iothread.h"
#include "vmio/pl011.h"
#include "vmio/seccomp.h"
#include "vmio/vcpu.h"
#include "vmio/virtio_mmio.h"
#include "vmio/vm.h"
#include "vmio/watchdog.h"

#define MAX_IMAGE_SIZE (512u << 20)
#define MAX_INITRD_SIZE (1024u << 20)
#define MAX_CPUS 64
#define RUN_VIRTIO_STRIDE 0x1000ull

struct run_options {
    uint64_t mem;
    unsigned cpus;
    enum vmio_unclaimed_policy policy;
    const char *serial, *cmdline, *initrd, *image;
    bool stats, trace, no_seccomp;
    const char *stats_json;
    uint64_t stall_ns;        /* --stall-timeout (0: no watchdog) */
    bool stall_exit;          /* --on-stall exit */
    struct run_virtio virtio; /* --disk, --rng, --console virtio, --no-ioeventfd, --no-irqfd */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vmio run [options] IMAGE\n"
            "Run an AArch64 ELF or a Linux arm64 Image on vmio's AArch64 machine (GIC, PL011\n"
            "UART at 0x9000000, testdev at 0xb000000, debug-exit at 0xb001000; docs/arm64.md).\n"
            "\n"
            "  --mem SIZE              guest RAM from 0x40000000, e.g. 256M (default; up to 2G)\n"
            "  --cpus N                vCPUs, 1-64 (default 1); the others start on PSCI CPU_ON\n"
            "  --initrd FILE           the initial RAM disk (its place is in the device tree)\n"
            "  --cmdline STRING        kernel command line (the device tree's bootargs)\n"
            "  --serial SPEC           the PL011's host side: stdio (default), file:PATH or none\n"
            "  --unhandled POLICY      unclaimed accesses: ignore (default), log or strict\n"
            "  --stats                 print exit statistics to stderr at VM exit\n"
            "  --stats-json PATH       write the same statistics as JSON to PATH\n"
            "  --trace                 print one line per exit to stderr\n"
            "  --stall-timeout MS      name a device handler that has not returned after MS\n"
            "                          milliseconds (default 100; 0: no watchdog)\n"
            "  --on-stall log|exit     then log it once (default) or exit with status 10\n"
            "  --no-seccomp            no system-call filters on the vCPU and I/O threads\n"
            "  --disk PATH[,ro]        a virtio-blk disk on a raw image (repeatable)\n"
            "  --rng                   a virtio-rng device (the host's getrandom)\n"
            "  --console uart|virtio   where --serial goes: the PL011 (default) or virtio-console\n"
            "                          (hvc0; without --cmdline the command line becomes\n"
            "                          console=hvc0; the PL011 then only writes to stdout)\n"
            "  --no-ioeventfd          virtio notifications exit to vmio (no ioeventfd)\n"
            "  --no-irqfd              virtio interrupts through vmio's irq line (no irqfd)\n"
            "\n"
            "exit status: (v << 1) | 1 when the guest writes v to debug-exit; 0 when it\n"
            "powers off or resets (PSCI); 2 bad arguments or image; 4 unclaimed access under\n"
            "--unhandled strict; 6 guest crashed or an access vmio cannot emulate; 8 host error;\n"
            "10 a device handler stalled (--on-stall exit).\n");
}

static int parse(int argc, char **argv, struct run_options *o)
{
    enum {
        O_MEM = 256,
        O_CPUS,
        O_INITRD,
        O_CMDLINE,
        O_SERIAL,
        O_UNHANDLED,
        O_STATS,
        O_TRACE,
        O_NO_SECCOMP,
        O_DISK,
        O_RNG,
        O_NO_IOEVENTFD,
        O_NO_IRQFD,
        O_STATS_JSON,
        O_STALL_TIMEOUT,
        O_ON_STALL,
        O_CONSOLE
    };
    static const struct option longopts[] = {
        {"mem", required_argument, NULL, O_MEM},
        {"cpus", required_argument, NULL, O_CPUS},
        {"initrd", required_argument, NULL, O_INITRD},
        {"cmdline", required_argument, NULL, O_CMDLINE},
        {"serial", required_argument, NULL, O_SERIAL},
        {"unhandled", required_argument, NULL, O_UNHANDLED},
        {"stats", no_argument, NULL, O_STATS},
        {"trace", no_argument, NULL, O_TRACE},
        {"no-seccomp", no_argument, NULL, O_NO_SECCOMP},
        {"disk", required_argument, NULL, O_DISK},
        {"rng", no_argument, NULL, O_RNG},
        {"no-ioeventfd", no_argument, NULL, O_NO_IOEVENTFD},
        {"no-irqfd", no_argument, NULL, O_NO_IRQFD},
        {"stats-json", required_argument, NULL, O_STATS_JSON},
        {"stall-timeout", required_argument, NULL, O_STALL_TIMEOUT},
        {"on-stall", required_argument, NULL, O_ON_STALL},
        {"console", required_argument, NULL, O_CONSOLE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct run_options){.serial = "stdio",
                              .cpus = 1,
                              .stall_ns = VMIO_WATCHDOG_DEFAULT_TIMEOUT_NS,
                              .virtio = {.max_slots = VMIO_ARM64_VIRTIO_SLOTS}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case O_MEM:
            if (cli_parse_size(optarg, &o->mem) < 0) {
                fprintf(stderr, "vmio run: --mem '%s' is not a size like 256M\n", optarg);
                return -EINVAL;
            }
            break;
        case O_CPUS:
            errno = 0;
            o->cpus = (unsigned)strtoul(optarg, &end, 10);
            if (errno || *end || optarg[0] == '-' || o->cpus < 1 || o->cpus > MAX_CPUS) {
                fprintf(stderr, "vmio run: --cpus '%s': expected 1-%d\n", optarg, MAX_CPUS);
                return -EINVAL;
            }
            break;
        case O_INITRD:
            o->initrd = optarg;
            break;
        case O_CMDLINE:
            o->cmdline = optarg;
            break;
        case O_SERIAL:
            o->serial = optarg;
            break;
        case O_UNHANDLED:
            if (vmio_policy_parse(optarg, &o->policy) < 0) {
                fprintf(stderr, "vmio run: --unhandled '%s': expected ignore, log or strict\n",
                        optarg);
                return -EINVAL;
            }
            break;
        case O_STATS:
            o->stats = true;
            break;
        case O_TRACE:
            o->trace = true;
            break;
        case O_NO_SECCOMP:
            o->no_seccomp = true;
            break;
        case O_DISK:
            if (run_virtio_disk(&o->virtio, optarg) < 0)
                return -EINVAL;
            break;
        case O_RNG:
            if (run_virtio_rng(&o->virtio) < 0)
                return -EINVAL;
            break;
        case O_NO_IOEVENTFD:
            o->virtio.no_ioeventfd = true;
            break;
        case O_NO_IRQFD:
            o->virtio.no_irqfd = true;
            break;
        case O_STATS_JSON:
            o->stats_json = optarg;
            break;
        case O_STALL_TIMEOUT:
            if (cli_parse_stall_timeout(optarg, &o->stall_ns) < 0)
                return -EINVAL;
            break;
        case O_ON_STALL:
            if (cli_parse_on_stall(optarg, &o->stall_exit) < 0)
                return -EINVAL;
            break;
        case O_CONSOLE:
            if (run_virtio_console(&o->virtio, optarg) < 0)
                return -EINVAL;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "vmio run: expected one IMAGE (an AArch64 ELF or a Linux arm64 Image)\n");
        return -EINVAL;
    }
    o->image = argv[optind];
    if (o->stats_json && cli_check_output_file("--stats-json", o->stats_json) < 0)
        return -EINVAL;
    if (run_virtio_finish(&o->virtio) < 0) /* the console takes the last slot */
        return -EINVAL;
    if (o->virtio.console && !o->cmdline)
        o->cmdline = "console=hvc0";
    return 0;
}

/*
 * thread_init of each vCPU: the vCPU filter. A build without filters
 * (-ENOTSUP: no libseccomp, a sanitizer build) says so once and runs
 * unconfined; any other failure stops the run.
 */
static int confine_vcpu(void *ctx, unsigned index, struct vmio_error *err)
{
    (void)ctx;
    (void)index;
    return cli_confine(VMIO_SECCOMP_VCPU, err);
}

/*
 * The PL011's input thread when the serial port has input (stdio): Linux
 * sleeps until the receive interrupt, so host input must arrive without the
 * guest polling. A failure is reported; guest reads still poll.
 */
static struct vmio_uart_input *start_uart_input(struct vmio_vm *vm, struct vmio_chardev *serial,
                                                bool confine)
{
    if (!serial || !vmio_chardev_has_input(serial))
        return NULL;
    /* Before any vCPU runs: nothing registers concurrently, the range is stable. */
    const struct vmio_bus_range *r =
        vmio_bus_lookup(vmio_vm_bus(vm, VMIO_SPACE_MMIO), VMIO_ARM64_UART_BASE, 1);
    return cli_uart_input_start(vmio_pl011_input_start, r ? r->dev : NULL, serial, confine);
}

/*
 * The virtio devices of the options into slots 0..n-1, described in the
 * device tree (*@m, before loading). They are attached (run_virtio_attach())
 * only after vmio_arm64_machine_finalize(): KVM on arm64 refuses an irqfd
 * (EAGAIN) until the vGIC is initialised, and the transports would quietly
 * fall back to interrupts through vmio.
 */
static int describe_virtio(struct vmio_arm64_machine *m, struct run_virtio *v,
                           struct vmio_error *err)
{
    for (unsigned i = 0; i < v->n; i++) {
        v->dev[i].base = VMIO_ARM64_VIRTIO_BASE + i * RUN_VIRTIO_STRIDE;
        v->dev[i].gsi = VMIO_ARM64_VIRTIO_SPI + i;
        int rc = vmio_arm64_machine_add_virtio(m, v->dev[i].base, VMIO_VIRTIO_MMIO_SIZE,
                                               v->dev[i].gsi, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* PC and the registers of the vCPU that stopped, for a guest that died. */
static void print_registers(struct vmio_vcpu *v)
{
    uint64_t pc = 0, pstate = 0, x[31] = {0};
    if (!v || vmio_vcpu_get_arm64_reg(v, VMIO_ARM64_REG_PC, &pc) < 0)
        return;
    vmio_vcpu_get_arm64_reg(v, VMIO_ARM64_REG_PSTATE, &pstate);
    for (unsigned i = 0; i < 31; i++)
        vmio_vcpu_get_arm64_reg(v, i, &x[i]);
    fprintf(stderr, "vmio: pc %016" PRIx64 " pstate %08" PRIx64 "\n", pc, pstate);
    for (unsigned i = 0; i < 31; i += 4) {
        fprintf(stderr, "vmio:");
        for (unsigned j = i; j < i + 4 && j < 31; j++)
            fprintf(stderr, " x%-2u %016" PRIx64, j, x[j]);
        fprintf(stderr, "\n");
    }
}

static int report(const struct vmio_exit *e, unsigned vcpu, unsigned n, struct vmio_vcpu *who)
{
    char desc[480];
    vmio_exit_describe(e, desc, sizeof(desc));
    switch (e->reason) {
    case VMIO_EXIT_DEBUG_EXIT:
        return (int)(((e->code << 1) | 1) & 0xff);
    case VMIO_EXIT_POWEROFF:
        return VMIO_STATUS_OK;
    case VMIO_EXIT_RESET:
        fprintf(stderr, "vmio: the guest asked for a reset; vmio does not reboot: exiting\n");
        return VMIO_STATUS_OK;
    case VMIO_EXIT_UNCLAIMED:
        fprintf(stderr, "vmio: stopped: %s%s\n", n > 1 ? "vCPU " : "", desc);
        return VMIO_STATUS_UNCLAIMED;
    case VMIO_EXIT_HOST_ERROR:
    case VMIO_EXIT_DEVICE_ERROR:
    case VMIO_EXIT_INTR:
        fprintf(stderr, "vmio: stopped: vCPU %u: %s\n", vcpu, desc);
        return VMIO_STATUS_HOST;
    default:
        fprintf(stderr, "vmio: stopped: vCPU %u: %s\n", vcpu, desc);
        print_registers(who);
        return VMIO_STATUS_GUEST_DEAD;
    }
}

int cli_run(int argc, char **argv)
{
    struct run_options o;
    int rc = parse(argc, argv, &o);
    if (rc != 0) {
        run_virtio_free(&o.virtio);
        return rc > 0 ? 0 : VMIO_STATUS_USAGE;
    }
    struct vmio_error err = {0};
    struct vmio_chardev *serial = NULL, *pl011_out = NULL;
    struct vmio_vm *vm = NULL;
    uint8_t *image = NULL, *initrd = NULL;
    size_t image_size = 0, initrd_size = 0;
    struct vmio_vcpu *vcpus[MAX_CPUS] = {0};
    int status = VMIO_STATUS_USAGE;
    if (vmio_read_file(o.image, MAX_IMAGE_SIZE, &image, &image_size, &err) < 0)
        goto out;
    if (o.initrd && vmio_read_file(o.initrd, MAX_INITRD_SIZE, &initrd, &initrd_size, &err) < 0)
        goto out;
    if (vmio_chardev_open(o.serial, &serial, &err) < 0)
        goto out;
    /* --console virtio: --serial is hvc0's; the PL011 (earlycon, a kernel without hvc0) only
     * writes, to the same stdout, or shares a file: or none backend, which has no input. */
    struct vmio_chardev *uart_cd = serial;
    if (o.virtio.console && vmio_chardev_kind(serial) == VMIO_CHARDEV_STDIO) {
        if (vmio_chardev_open_stdio_fds(-1, STDOUT_FILENO, &pl011_out, &err) < 0) {
            status = VMIO_STATUS_HOST;
            goto out;
        }
        uart_cd = pl011_out;
    }
    struct vmio_vm_options vo = {.unclaimed = o.policy, .log = stderr};
    struct vmio_arm64_machine_options mo = {
        .mem_size = o.mem, .cpus = o.cpus, .serial = uart_cd, .vm_opts = &vo};
    struct vmio_arm64_machine m;
    status = VMIO_STATUS_HOST;
    rc = vmio_arm64_machine_create(&mo, &vm, &m, &err);
    if (rc < 0) {
        if (rc == -EINVAL)
            status = VMIO_STATUS_USAGE;
        goto out;
    }
    if (describe_virtio(&m, &o.virtio, &err) < 0) /* before loading: the tree names them */
        goto out;
    struct vmio_arm64_boot b = {.image = image,
                                .image_size = image_size,
                                .initrd = initrd,
                                .initrd_size = initrd_size,
                                .cmdline = o.cmdline};
    struct vmio_arm64_entry entry;
    if (vmio_arm64_load(vmio_vm_memory(vm), &m, &b, &entry, &err) < 0) {
        status = VMIO_STATUS_USAGE;
        goto out;
    }
    if (o.trace)
        vmio_vm_set_trace(vm, stderr);
    for (unsigned i = 0; i < o.cpus; i++)
        if (vmio_vcpu_create(vm, i, &vcpus[i], &err) < 0)
            goto out;
    if (vmio_arm64_setup_vcpu(vcpus[0], &entry, &err) < 0)
        goto out;
    if (vmio_arm64_machine_finalize(vm, &err) < 0) /* before the vCPU threads' filters */
        goto out;
    if (run_virtio_attach(&o.virtio, vm, serial, &err) < 0) /* after: see describe_virtio() */
        goto out;
    struct vmio_run_options ro = {.thread_init = o.no_seccomp ? NULL : confine_vcpu};
    if (o.virtio.io && !o.no_seccomp)
        vmio_iothread_set_init(o.virtio.io, cli_confine_io, NULL);
    if (run_virtio_start(&o.virtio, &err) < 0)
        goto out;
    struct vmio_uart_input *input = start_uart_input(vm, uart_cd, !o.no_seccomp);
    cli_watchdog_start(vm, o.stall_ns, o.stall_exit);
    struct vmio_run_result res;
    rc = vmio_vm_run(vm, vcpus, o.cpus, &ro, &res, &err);
    vmio_vm_watchdog_stop(vm);
    vmio_uart_input_stop(input);
    run_virtio_stop(&o.virtio); /* no device work once the vCPUs have stopped */
    if (rc < 0)
        goto out;
    if (res.err.code) { /* thread_init (seccomp) stopped the run */
        err = res.err;
        goto out;
    }
    status = report(&res.exit, res.vcpu, o.cpus, res.vcpu < o.cpus ? vcpus[res.vcpu] : NULL);
    if (o.stats || o.stats_json) {
        for (unsigned i = 0; i < o.cpus; i++) { /* their counters fold into the VM's */
            vmio_vcpu_destroy(vcpus[i]);
            vcpus[i] = NULL;
        }
        cli_write_stats(vm, o.stats, o.stats_json);
        if (o.stats)
            run_virtio_print_stats(&o.virtio, stderr);
    }
out:
    if (err.code)
        fprintf(stderr, "vmio: %s\n", err.msg);
    for (unsigned i = 0; i < MAX_CPUS; i++)
        vmio_vcpu_destroy(vcpus[i]);
    vmio_vm_destroy(vm);
    run_virtio_free(&o.virtio); /* the I/O thread, after the VM (which owns the devices) */
    vmio_chardev_close(pl011_out);
    vmio_chardev_close(serial);
    free(image);
    free(initrd);
    return status;
}
