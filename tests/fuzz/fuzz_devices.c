/*
 * libFuzzer target: every device model driven through the dispatcher by a
 * guest that does anything: random sequences of reads and writes, single
 * and string (several elements), at widths 1, 2, 4 and 8 and at widths no
 * device has, at offsets inside, across and past the device's window, with
 * host events between them (time passing on the device's clock, serial
 * input arriving, the RTC polled). No KVM: the accesses go through
 * vmio_dispatch() exactly as the run loop hands them over.
 *
 * Input: byte 0 picks the model (uart16550, testdev, debug-exit, debugcon,
 * CMOS RTC, port 0x80, port 0x92, i8042 (its command port 4 ports on), ACPI
 * power device), byte 1 the bus
 * (MMIO or ports), then 4-byte operations until the input ends:
 *   op[0]  bits 0-1: width code (1, 2, 4, 8), bit 2: write, bit 3: an odd
 *          width (3, 5, 6, 7, 16: always unclaimed), bits 4-6: kind
 *          (0-3 access, 4 clock advance, 5 serial input, 6 string access,
 *          7 RTC poll)
 *   op[1]  offset from the window's base, minus 8 (so accesses start before,
 *          inside and after the window); op[2] repeats/size; op[3] value seed
 * Properties checked (a failure traps, which libFuzzer reports and the
 * corpus replay in `make check` turns into a failed test): vmio_dispatch()
 * returns 0 or 1 only; a completed read's value fits the access width; an
 * unclaimed read gives all-ones; a stop names the device; the dispatcher
 * never calls the device for an access outside its window (the device is
 * wrapped and the wrapper checks every call).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmio/acpi_pm.h"
#include "vmio/chardev.h"
#include "vmio/clock.h"
#include "vmio/devices.h"
#include "vmio/dispatch.h"
#include "vmio/legacy_ports.h"
#include "vmio/rtc_cmos.h"
#include "vmio/uart16550.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MMIO_BASE 0xd0000000ULL

/* The device under test, wrapped: every call is checked against its window. */
struct wrap {
    struct vmio_device dev;
    struct vmio_device *inner;
    uint64_t len;
};

static int wrap_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct wrap *w = (struct wrap *)dev;
    CHECK(width == 1 || width == 2 || width == 4 || width == 8);
    CHECK(off < w->len && width <= w->len - off);
    return vmio_device_read(w->inner, off, width, value);
}

static int wrap_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t off = io->offset;
    unsigned width = io->width;
    struct wrap *w = (struct wrap *)dev;
    CHECK(width == 1 || width == 2 || width == 4 || width == 8);
    CHECK(off < w->len && width <= w->len - off);
    CHECK(width == 8 || value >> (8 * width) == 0);
    return vmio_device_write(w->inner, off, width, value);
}

static const struct vmio_device_ops wrap_ops = {.read = wrap_read, .write = wrap_write};

static void power(void *ctx, enum vmio_power_event ev)
{
    (void)ev;
    ++*(unsigned *)ctx;
}

static void irq(void *ctx, int level)
{
    CHECK(level == 0 || level == 1);
    ++*(unsigned *)ctx;
}

/* Make model @which; its window length in *@len; NULL when it cannot be made. */
static struct vmio_device *make(unsigned which, struct vmio_chardev *serial,
                                const struct vmio_clock *clock, unsigned *events, FILE *sink,
                                struct vmio_device **extra, uint64_t *len)
{
    struct vmio_device *dev = NULL;
    *extra = NULL;
    *len = 1;
    switch (which) {
    case 0:
        *len = 8;
        vmio_uart16550_create("uart", serial, irq, events, &dev, NULL);
        break;
    case 1:
        *len = 0x50;
        vmio_testdev_create("testdev", &dev, NULL);
        break;
    case 2:
        *len = 4;
        vmio_debug_exit_create("debug-exit", &dev, NULL);
        break;
    case 3:
        vmio_debugcon_create("debugcon", sink, &dev, NULL);
        break;
    case 4: {
        *len = 2;
        struct vmio_rtc_cmos_config c = {.name = "rtc",
                                         .clock = clock,
                                         .ram_below_4g = 64u << 20,
                                         .irq = irq,
                                         .irq_opaque = events};
        vmio_rtc_cmos_create(&c, &dev, NULL);
        break;
    }
    case 5:
        vmio_port80_create("port80", &dev, NULL);
        break;
    case 6:
        vmio_port92_create("port92", power, events, &dev, NULL);
        break;
    case 7:
        vmio_i8042_create("i8042", power, events, &dev, extra, NULL);
        break;
    default:
        *len = VMIO_ACPI_PM_PORT_COUNT;
        vmio_acpi_pm_create("acpi-pm", power, events, &dev, NULL);
        break;
    }
    return dev;
}

static void destroy(struct vmio_device *dev)
{
    if (dev && dev->ops->destroy)
        dev->ops->destroy(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const unsigned odd_widths[] = {3, 5, 6, 7, 16};
    enum vmio_space space = data[1] & 1 ? VMIO_SPACE_MMIO : VMIO_SPACE_PIO;
    uint64_t base = space == VMIO_SPACE_MMIO ? MMIO_BASE : 0x400;
    struct vmio_manual_clock clk;
    vmio_manual_clock_init(&clk, 1000000000ull, 1700000000000000000ull);
    struct vmio_chardev *serial = NULL;
    if (vmio_chardev_open_memory(NULL, 0, &serial, NULL) < 0)
        return 0;
    FILE *sink = fopen("/dev/null", "w");
    unsigned events = 0;
    struct vmio_device *extra = NULL;
    uint64_t len = 0;
    struct vmio_device *inner = make(data[0] % 9, serial, &clk.clock, &events, sink, &extra, &len);
    struct vmio_bus *bus = vmio_bus_new(space, "bus");
    struct wrap w = {.dev = {.name = "dut", .ops = &wrap_ops}, .inner = inner, .len = len};
    /* The i8042's command port, 4 after its data port as on a PC. */
    struct wrap w2 = {.dev = {.name = "dut", .ops = &wrap_ops}, .inner = extra, .len = 1};
    if (!inner || !bus || !sink || vmio_bus_register(bus, &w.dev, base, len, NULL) < 0 ||
        (extra && vmio_bus_register(bus, &w2.dev, base + 4, 1, NULL) < 0))
        goto out;
    struct vmio_dispatcher d = {.mmio = space == VMIO_SPACE_MMIO ? bus : NULL,
                                .pio = space == VMIO_SPACE_PIO ? bus : NULL,
                                .policy = VMIO_UNCLAIMED_IGNORE};
    for (size_t at = 2; at + 4 <= size; at += 4) {
        const uint8_t *op = data + at;
        unsigned kind = (op[0] >> 4) & 7;
        if (kind == 4) {
            vmio_manual_clock_advance(&clk, (uint64_t)op[2] << (op[3] & 31));
            continue;
        }
        if (kind == 5) {
            vmio_chardev_memory_feed(serial, op + 1, 1 + op[2] % 3);
            continue;
        }
        if (kind == 7) {
            if (vmio_rtc_cmos_is(inner))
                vmio_rtc_cmos_poll(inner);
            uint8_t out[64];
            while (vmio_chardev_memory_take_output(serial, out, sizeof(out)))
                ;
            continue;
        }
        unsigned width = (op[0] & 8) ? odd_widths[op[3] % 5] : 1u << (op[0] & 3);
        bool write = op[0] & 4;
        uint32_t count = kind == 6 ? 1 + op[2] % 16 : 1;
        uint8_t buf[16 * 16];
        memset(buf, 0xa5, sizeof(buf));
        for (unsigned i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(op[3] * 31 + i);
        uint64_t value = 0x0123456789abcdefULL * (op[3] + 1u);
        struct vmio_exit e = {.reason = VMIO_EXIT_IO};
        e.access = (struct vmio_access){.space = space,
                                        .dir = write ? VMIO_WRITE : VMIO_READ,
                                        .width = (uint8_t)width,
                                        .count = count,
                                        .addr = base + op[1] - 8,
                                        .data = write ? value : 0,
                                        .buf = count > 1 ? buf : NULL,
                                        .reg = VMIO_REG_NONE};
        if (width > 8 && count > 1) { /* string elements are at most 8 bytes */
            e.access.count = 1;
            e.access.buf = NULL;
        }
        const struct vmio_bus_range *r = NULL;
        int rc = vmio_dispatch(&d, &e, &r);
        CHECK(rc == 0 || rc == 1);
        if (rc == 1) {
            CHECK(r != NULL && e.device && strcmp(e.device, "dut") == 0);
            CHECK(e.reason == VMIO_EXIT_DEBUG_EXIT || e.reason == VMIO_EXIT_DEVICE_ERROR);
            continue;
        }
        unsigned w8 = e.access.width; /* the dispatcher caps an odd width at 8 */
        if (!write && e.access.count == 1)
            CHECK(w8 >= 8 || e.access.data >> (8 * w8) == 0);
        if (!r && !write && e.access.count == 1)
            CHECK(e.access.data == (w8 >= 8 ? ~0ULL : (1ULL << (8 * w8)) - 1));
    }
out:
    vmio_bus_free(bus);
    destroy(inner);
    destroy(extra);
    if (sink)
        fclose(sink);
    vmio_chardev_close(serial);
    return 0;
}
