/*
 * `vmio run`: build a VM with vmio's standard PC-style devices, load a
 * multiboot image (or the built-in demo guest), run the boot vCPU and turn
 * the exit it returns into words and an exit status.
 *
 * Devices: COM1 16550A UART (0x3f8), debug-exit (0xf4), debug console
 * (0xe9), testdev (MMIO 0xd0000000, ports 0x7000).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "demo_embed.h"
#include "vmio/boot.h"
#include "vmio/chardev.h"
#include "vmio/devices.h"
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
    bool stats;
    bool trace;
};

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: vmio run [options] [IMAGE]\n"
            "Run a multiboot (v1) ELF image; with no IMAGE, run the built-in demo guest.\n"
            "\n"
            "  --mem SIZE              guest RAM, e.g. 64M, 1G (default 64M)\n"
            "  --unhandled POLICY      unclaimed accesses: ignore (default), log or strict\n"
            "  --serial SPEC           COM1 backend: stdio (default), file:PATH or none\n"
            "  --cmdline STRING        kernel command line passed in the multiboot info\n"
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
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case '\0': break;
    default: return -EINVAL;
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
    enum { OPT_MEM = 256, OPT_UNHANDLED, OPT_SERIAL, OPT_CMDLINE, OPT_STATS, OPT_STATS_JSON,
           OPT_TRACE, OPT_HELP };
    static const struct option longopts[] = {
        {"mem", required_argument, NULL, OPT_MEM},
        {"unhandled", required_argument, NULL, OPT_UNHANDLED},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"cmdline", required_argument, NULL, OPT_CMDLINE},
        {"stats", no_argument, NULL, OPT_STATS},
        {"stats-json", required_argument, NULL, OPT_STATS_JSON},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"help", no_argument, NULL, OPT_HELP},
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
    if (optind < argc)
        o->image = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "vmio run: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* Create and attach one device; on failure the device is destroyed here. */
static int attach(struct vmio_vm *vm, enum vmio_space space, struct vmio_device *dev,
                  uint64_t base, uint64_t len, struct vmio_error *err)
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

int cli_run(int argc, char **argv)
{
    struct run_options o;
    int rc = parse_run_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : VMIO_STATUS_USAGE;

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
