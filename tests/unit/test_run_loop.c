/*
 * vmio_vcpu_run() with no /dev/kvm: the run loop on the scripted fake
 * backend (tests/unit/fake_vm.h), as it runs under KVM.
 * Checks: I/O exits dispatched to testdev at every width on both buses with
 * the completion bytes the guest would see; string port I/O in and out
 * (elements in order, an empty FIFO reads all-ones); the unclaimed policies
 * (ignore: all-ones and counted; log: the exact lines, with the decoded
 * instruction of MMIO reads; strict: the stop, its report line, and the
 * read left uncompleted); statistics per kind and per device with handling
 * time from a manual clock advanced by a device (and none with timing off);
 * the stops (debug-exit, device error) and every other exit the loop hands
 * back (with RIP), host errors from enter, the end of a script; trace
 * lines with sync regs; a guest flooding the log policy (10 lines per
 * second per source on the VM's manual clock, the rest counted and
 * summarised when the VM is destroyed), and a trace that is complete in a
 * file but limited on a terminal (a pty).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "fake_vm.h"
#include "vmio/ratelimit.h"
#include "vmio/stats.h"

/* Low @w bytes of @v, little-endian, into @b. */
static void le_bytes(uint8_t *b, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i < w; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Step @step of vCPU 0 completed exactly with @want (@n bytes). */
static void expect_completion(struct fake_vm *m, int step, const uint8_t *want, unsigned n)
{
    uint8_t got[VMIO_FAKE_IO_MAX];
    int len = vmio_fake_completion(m->fake, 0, (unsigned)step, got, sizeof(got));
    if (len != (int)n)
        fail_msg("step %d: completion of %d bytes, expected %u", step, len, n);
    for (unsigned i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("step %d: byte %u is 0x%02x, expected 0x%02x", step, i, got[i], want[i]);
}

struct expect {
    int step;
    uint8_t bytes[8];
    unsigned n;
};

static void test_widths(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, false); /* any stray access would stop the run */
    fake_vm_vcpu(&m, 0);
    const uint64_t v = 0x0123456789abcdefULL;
    const struct {
        enum vmio_space space;
        uint64_t base;
        unsigned maxw;
    } win[] = {{VMIO_SPACE_MMIO, VMIO_TESTDEV_MMIO_BASE, 8},
               {VMIO_SPACE_PIO, VMIO_TESTDEV_PIO_BASE, 4}};
    struct expect ex[64];
    unsigned nex = 0;
    for (unsigned k = 0; k < 2; k++) {
        for (unsigned w = 1; w <= win[k].maxw; w *= 2) {
            struct expect *e = &ex[nex++];
            e->step = vmio_fake_push_io(m.fake, 0, win[k].space, VMIO_WRITE, w,
                                        win[k].base + VMIO_TESTDEV_ECHO, v);
            le_bytes(e->bytes, v, w); /* a write's bytes are left as the guest wrote them */
            e->n = w;
            e = &ex[nex++];
            e->step = vmio_fake_push_io(m.fake, 0, win[k].space, VMIO_READ, w,
                                        win[k].base + VMIO_TESTDEV_ECHO, 0);
            le_bytes(e->bytes, v, w);
            e->n = w;
            for (unsigned off = 0; off + w <= 8; off += 8 - w) {
                e = &ex[nex++];
                e->step = vmio_fake_push_io(m.fake, 0, win[k].space, VMIO_READ, w,
                                            win[k].base + VMIO_TESTDEV_PATTERN + off, 0);
                le_bytes(e->bytes, VMIO_TESTDEV_PATTERN_VALUE >> (8 * off), w);
                e->n = w;
                if (w == 8)
                    break;
            }
        }
    }
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_HLT);
    for (unsigned i = 0; i < nex; i++)
        expect_completion(&m, ex[i].step, ex[i].bytes, ex[i].n);

    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].count, 4);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 4 + 7); /* echo + pattern reads */
    assert_int_equal(st->kind[VMIO_STAT_PIO_OUT].count, 3);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].count, 3 + 6);
    assert_int_equal(st->kind[VMIO_STAT_HLT].count, 1);
    assert_int_equal(st->device[FAKE_VM_TESTDEV_MMIO_ID].count, 15);
    assert_int_equal(st->device[FAKE_VM_TESTDEV_PIO_ID].count, 12);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 0);
    fake_vm_fini(&m);
}

static void test_string_pio(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, false);
    fake_vm_vcpu(&m, 0);
    struct expect ex[16];
    unsigned nex = 0;
    uint8_t elems[3][5 * 4];
    for (unsigned w = 1, k = 0; w <= 4; w *= 2, k++) {
        for (unsigned i = 0; i < 5 * w; i++)
            elems[k][i] = (uint8_t)(0x10 * (k + 1) + i);
        struct vmio_fake_step s = {.kind = VMIO_FAKE_IO,
                                   .access = {.space = VMIO_SPACE_PIO,
                                              .dir = VMIO_WRITE,
                                              .width = (uint8_t)w,
                                              .count = 5,
                                              .addr = VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_PUSH,
                                              .buf = elems[k]}};
        assert_true(vmio_fake_push(m.fake, 0, &s) >= 0); /* rep outs */
        struct expect *e = &ex[nex++];
        e->step = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 4,
                                    VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_LEN, 0);
        le_bytes(e->bytes, 5, 4);
        e->n = 4;
        /* The first element alone (so neither direction can reverse unnoticed)... */
        e = &ex[nex++];
        e->step = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, w,
                                    VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_POP, 0);
        memcpy(e->bytes, elems[k], w);
        e->n = w;
        /* ...then rep ins of the other four, in order. */
        s.access = (struct vmio_access){.space = VMIO_SPACE_PIO,
                                        .dir = VMIO_READ,
                                        .width = (uint8_t)w,
                                        .count = 4,
                                        .addr = VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_POP};
        int in = vmio_fake_push(m.fake, 0, &s);
        s.access.count = 2;
        int empty = vmio_fake_push(m.fake, 0, &s); /* the FIFO is empty now */
        vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
        struct vmio_exit x = fake_vm_run(&m, 0, 0);
        assert_int_equal(x.reason, VMIO_EXIT_HLT);
        uint8_t got[32];
        assert_int_equal(vmio_fake_completion(m.fake, 0, (unsigned)in, got, sizeof(got)),
                         (int)(4 * w));
        assert_memory_equal(got, elems[k] + w, 4 * w);
        assert_int_equal(vmio_fake_completion(m.fake, 0, (unsigned)empty, got, sizeof(got)),
                         (int)(2 * w));
        for (unsigned i = 0; i < 2 * w; i++)
            assert_int_equal(got[i], 0xff);
    }
    for (unsigned i = 0; i < nex; i++)
        expect_completion(&m, ex[i].step, ex[i].bytes, ex[i].n);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_PIO_OUT].count, 3); /* a string exit counts once */
    assert_int_equal(st->kind[VMIO_STAT_PIO_OUT].elements, 15);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].count, 12);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].elements, 3 * (1 + 1 + 4 + 2));
    assert_int_equal(st->device[FAKE_VM_TESTDEV_PIO_ID].elements, 15 + 24);
    fake_vm_fini(&m);
}

/* The unclaimed accesses of the policy tests; the MMIO reads run "mov eax, [ebx+8]". */
struct unclaimed_script {
    int pio_read, pio_write, mmio_read, mmio_write, straddle;
};

static struct unclaimed_script push_unclaimed(struct fake_vm *m)
{
    fake_vm_flat32(m, 0);
    fake_vm_poke(m, 0x1000, "\x8b\x43\x08", 3);
    struct unclaimed_script s;
    s.pio_read = fake_vm_push_io_at(m, 0, VMIO_SPACE_PIO, VMIO_READ, 2, 0x5000, 0, 0x1100);
    s.pio_write = fake_vm_push_io_at(m, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x5000, 0x42, 0x1102);
    s.mmio_read = fake_vm_push_io_at(m, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, 0xe0000000, 0, 0x1000);
    s.mmio_write =
        fake_vm_push_io_at(m, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, 0xe0000010, 0xdeadbeef, 0x1003);
    /* Runs past the end of testdev's window: no device owns all of it. */
    s.straddle = fake_vm_push_io_at(m, 0, VMIO_SPACE_MMIO, VMIO_READ, 8,
                                    VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_MMIO_SIZE - 4, 0, 0x1000);
    vmio_fake_push_kind(m->fake, 0, VMIO_FAKE_HLT, 0);
    return s;
}

static void check_all_ones(struct fake_vm *m, const struct unclaimed_script *s)
{
    static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_completion(m, s->pio_read, ones, 2);
    expect_completion(m, s->mmio_read, ones, 4);
    expect_completion(m, s->straddle, ones, 8);
    const struct vmio_stats *st = fake_vm_stats(m->vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 3);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_WRITE].count, 2);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 0);
}

static void test_unclaimed_ignore(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    struct unclaimed_script s = push_unclaimed(&m);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    check_all_ones(&m, &s);
    assert_string_equal(fake_vm_log(&m), "");
    fake_vm_fini(&m);
}

static void test_unclaimed_log(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_LOG, false);
    fake_vm_vcpu(&m, 0);
    struct unclaimed_script s = push_unclaimed(&m);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    check_all_ones(&m, &s);
    assert_string_equal(
        fake_vm_log(&m),
        "vmio: unclaimed port read of 2 bytes at 0x5000 (rip 0x1100)\n"
        "vmio: unclaimed port write of 1 bytes at 0x5000 value 0x42 (rip 0x1102)\n"
        "vmio: unclaimed mmio read of 4 bytes at 0xe0000000 (rip 0x1000) insn \"mov eax, dword "
        "[ebx+0x8]\" (8b 43 08)\n"
        "vmio: unclaimed mmio write of 4 bytes at 0xe0000010 value 0xdeadbeef (rip 0x1003)\n"
        "vmio: unclaimed mmio read of 8 bytes at 0xd0000ffc (rip 0x1000) insn \"mov eax, dword "
        "[ebx+0x8]\" (8b 43 08)\n");
    fake_vm_fini(&m);
}

static void test_unclaimed_strict(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, false);
    fake_vm_vcpu(&m, 0);
    struct unclaimed_script s = push_unclaimed(&m);
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED);
    assert_int_equal(e.access.space, VMIO_SPACE_PIO);
    assert_int_equal(e.access.dir, VMIO_READ);
    assert_int_equal(e.access.addr, 0x5000);
    assert_int_equal(e.access.width, 2);
    assert_int_equal(e.ip, 0x1100);
    assert_string_equal(fake_vm_log(&m), ""); /* port accesses: the exit says it all */
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED);
    assert_int_equal(e.access.dir, VMIO_WRITE);
    assert_int_equal(e.access.data, 0x42);
    /* The strict stop left the read uncompleted: what the guest sees is untouched. */
    static const uint8_t poison[2] = {VMIO_FAKE_POISON, VMIO_FAKE_POISON};
    expect_completion(&m, s.pio_read, poison, 2);
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED);
    assert_int_equal(e.access.space, VMIO_SPACE_MMIO);
    assert_int_equal(e.access.addr, 0xe0000000);
    assert_int_equal(e.ip, 0x1000);
    assert_string_equal(fake_vm_log(&m), "vmio: cpu0: unclaimed mmio read 0xe0000000 w4 by rip "
                                         "0x1000 insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)\n");
    char words[256];
    vmio_exit_describe(&e, words, sizeof(words));
    assert_string_equal(words, "unclaimed mmio read of 4 bytes at 0xe0000000 (rip 0x1000)");
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED); /* the MMIO write: no extra line */
    assert_int_equal(strlen(fake_vm_log(&m)), strlen("vmio: cpu0: unclaimed mmio read 0xe0000000 "
                                                     "w4 by rip 0x1000 insn \"mov eax, dword "
                                                     "[ebx+0x8]\" (8b 43 08)\n"));
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_UNCLAIMED); /* the straddle */
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 3);
    fake_vm_fini(&m);
}

/* A device whose accesses take a known time: it advances the VM's manual clock. */
struct slow_dev {
    struct vmio_device dev;
    struct vmio_manual_clock *clk;
};

static int slow_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    vmio_manual_clock_advance(((struct slow_dev *)dev)->clk, 1000);
    *value = 7;
    return 0;
}

static int slow_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    (void)value;
    vmio_manual_clock_advance(((struct slow_dev *)dev)->clk, 250);
    return 0;
}

static const struct vmio_device_ops slow_ops = {.read = slow_read, .write = slow_write};

static void test_stats_time(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct slow_dev slow = {.dev = {.name = "slow", .ops = &slow_ops}, .clk = &m.clk};
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_PIO, &slow.dev, 0x6000, 4, &err), 0);
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_MMIO, &slow.dev, 0xe1000000, 0x1000, &err),
                     0);
    const unsigned id = slow.dev.id;
    assert_int_equal(id, 6); /* after the standard machine's six */
    fake_vm_vcpu(&m, 0);
    for (int i = 0; i < 3; i++)
        vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, 0x6000, 0);
    for (int i = 0; i < 2; i++)
        vmio_fake_push_io(m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, 0xe1000010, 1);
    struct vmio_fake_step s = {
        .kind = VMIO_FAKE_IO,
        .access = {
            .space = VMIO_SPACE_PIO, .dir = VMIO_READ, .width = 2, .count = 4, .addr = 0x6002}};
    vmio_fake_push(m.fake, 0, &s); /* one exit, four device calls */
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, 0x5000, 0); /* unclaimed: 0 ns */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_SHUTDOWN, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_SHUTDOWN);

    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].count, 4);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].elements, 7);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].ns, 3 * 1000 + 4 * 1000);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].count, 2);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_WRITE].ns, 2 * 250);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 1);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].ns, 0);
    assert_int_equal(st->device[id].count, 6);
    assert_int_equal(st->device[id].elements, 9);
    assert_int_equal(st->device[id].ns, 7500);
    assert_int_equal(st->kind[VMIO_STAT_HLT].count, 1);
    assert_int_equal(st->kind[VMIO_STAT_OTHER].count, 1);

    /* Timing off: still counted, no time. */
    vmio_vm_set_timing(m.vm, false);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, 0x6000, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->device[id].count, 7);
    assert_int_equal(st->device[id].ns, 7500);
    /* Latency: 3 x 1000 ns, 2 x 250, the string exit 4 x 1000 in one; the untimed one is none. */
    assert_true(st->unit_ns == 1.0); /* the manual clock: units are ns */
    assert_int_equal(st->device[id].max_ns, 4000);
    assert_int_equal(st->device[id].hist[0], 0);
    assert_int_equal(st->device[id].hist[8], 2);  /* 128 <= 250 < 256 */
    assert_int_equal(st->device[id].hist[10], 3); /* 512 <= 1000 < 1024 */
    assert_int_equal(st->device[id].hist[12], 1); /* 2048 <= 4000 < 4096 */
    assert_true(vmio_stat_percentile_ns(&st->device[id], st->unit_ns, 50) == 1024.0);
    assert_true(vmio_stat_percentile_ns(&st->device[id], st->unit_ns, 99) == 4000.0);
    assert_true(vmio_stat_percentile_ns(&st->kind[VMIO_STAT_HLT], st->unit_ns, 50) == 0.0);

    /* The VM's totals keep a destroyed vCPU's numbers. */
    vmio_vcpu_destroy(m.vcpu[0]);
    m.vcpu[0] = NULL;
    struct vmio_stats *sum = calloc(1, sizeof(*sum));
    assert_non_null(sum);
    vmio_vm_stats(m.vm, sum);
    assert_int_equal(sum->device[id].count, 7);
    assert_int_equal(sum->device[id].ns, 7500);
    assert_int_equal(sum->kind[VMIO_STAT_PIO_IN].ns, 7000);
    free(sum);
    fake_vm_fini(&m); /* the slow device has no destroy op: the VM frees nothing of it */
}

/* A device whose writes fail (and whose reads are never made). */
static int failing_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    (void)dev;
    *value = 0;
    return 0;
}

static int failing_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    (void)dev;
    (void)value;
    return -EIO;
}

static const struct vmio_device_ops failing_ops = {.read = failing_read, .write = failing_write};

/* Every exit the loop does not handle comes back, with RIP; host errors are returned. */
static void test_stops_and_exits(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    struct vmio_device failing = {.name = "failing", .ops = &failing_ops}; /* no destroy op */
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m.vm, VMIO_SPACE_PIO, &failing, 0x6300, 1, &err), 0);
    fake_vm_vcpu(&m, 0);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_DEBUG_EXIT_PORT, 0x2a, 0x500);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, 0x6300, 9, 0x510);
    const struct {
        enum vmio_fake_kind kind;
        uint64_t code;
        enum vmio_exit_reason reason;
    } others[] = {
        {VMIO_FAKE_HLT, 0, VMIO_EXIT_HLT},
        {VMIO_FAKE_SHUTDOWN, 0, VMIO_EXIT_SHUTDOWN},
        {VMIO_FAKE_RESET, 2, VMIO_EXIT_RESET},
        {VMIO_FAKE_INTERNAL_ERROR, 3, VMIO_EXIT_INTERNAL_ERROR},
        {VMIO_FAKE_FAIL_ENTRY, 0x80000021, VMIO_EXIT_FAIL_ENTRY},
        {VMIO_FAKE_UNKNOWN, 99, VMIO_EXIT_UNKNOWN},
    };
    const size_t n = sizeof(others) / sizeof(others[0]);
    for (size_t i = 0; i < n; i++) {
        struct vmio_fake_step s = {.kind = others[i].kind, .code = others[i].code, .ip = 0x600 + i};
        vmio_fake_push(m.fake, 0, &s);
    }
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HOST_ERROR, (uint64_t)-EIO);

    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 0x2a);
    assert_string_equal(e.device, "debug-exit");
    assert_int_equal(e.ip, 0x500);
    char words[160];
    vmio_exit_describe(&e, words, sizeof(words));
    assert_string_equal(words, "guest wrote 0x2a to debug-exit: exit status 85");
    e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEVICE_ERROR);
    assert_int_equal((int64_t)e.code, -EIO);
    assert_string_equal(e.device, "failing");
    assert_int_equal(e.ip, 0x510);
    assert_int_equal(e.access.addr, 0x6300);
    for (size_t i = 0; i < n; i++) {
        e = fake_vm_run(&m, 0, 0);
        assert_int_equal(e.reason, others[i].reason);
        assert_int_equal(e.code, others[i].code);
        assert_int_equal(e.ip, 0x600 + i); /* no sync regs: the loop asked for RIP */
    }
    e = fake_vm_run(&m, 0, -EIO);
    assert_int_equal(e.reason, VMIO_EXIT_HOST_ERROR);
    assert_int_equal((int64_t)e.code, -EIO);
    e = fake_vm_run(&m, 0, 0); /* the script is over */
    assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
    assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_HLT].count, 1);
    assert_int_equal(st->kind[VMIO_STAT_OTHER].count, n - 1 + 1); /* the others + script end */
    assert_int_equal(st->kind[VMIO_STAT_PIO_OUT].count, 2);
    fake_vm_fini(&m);
}

/* --trace on the fake: one line per exit with RIP from sync regs, the MMIO read's instruction. */
static void test_trace_lines(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    char *buf = NULL;
    size_t len = 0;
    FILE *trace = open_memstream(&buf, &len);
    assert_non_null(trace);
    vmio_vm_set_trace(m.vm, trace); /* before the vCPU: sync regs on */
    fake_vm_vcpu(&m, 0);
    struct vmio_fake_cpu_info info;
    vmio_fake_cpu_info(m.fake, 0, &info);
    assert_true(info.sync_regs);
    fake_vm_flat32(&m, 0);
    fake_vm_poke(&m, 0x1000, "\x8b\x43\x08", 3);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_MMIO, VMIO_READ, 4,
                       VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_PATTERN, 0, 0x1000);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, VMIO_TESTDEV_PIO_BASE, 0xbeef, 0x1003);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, VMIO_TESTDEV_MMIO_BASE, 0x11223344,
                       0x1005);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_MMIO, VMIO_READ, 4,
                       VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_PATTERN, 0, 0x1000);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fflush(trace);
    assert_string_equal(
        buf, "vmio-trace: cpu0 #1 mmio read 0xd0000008 w4 x1 val 0x44332211 dev testdev-mmio rip "
             "0x1000 insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)\n"
             "vmio-trace: cpu0 #2 pio write 0x7000 w2 x1 val 0xbeef dev testdev-pio rip 0x1003\n"
             "vmio-trace: cpu0 #3 mmio write 0xd0000000 w4 x1 val 0x11223344 dev testdev-mmio rip "
             "0x1005 insn -\n"
             "vmio-trace: cpu0 #4 mmio read 0xd0000008 w4 x1 val 0x44332211 dev testdev-mmio rip "
             "0x1000 insn \"mov eax, dword [ebx+0x8]\" (8b 43 08)\n"
             "vmio-trace: cpu0 insn-cache hits 1 misses 1 stale 0 uncached 0\n");
    fake_vm_fini(&m);
    fclose(trace);
    free(buf);
}

/*
 * System registers (x86 MSRs) on the sysreg bus: testdev's registers as MSRs
 * read and written whole, counted as sysreg_read/write; the backend asked to
 * exit on exactly that range (and on unknown registers unless ignored);
 * an unclaimed register is refused with the architectural fault under every
 * policy (and stops the vCPU under strict).
 */
static void run_sysreg(enum vmio_unclaimed_policy policy)
{
    struct fake_vm m;
    fake_vm_init(&m, policy, false);
    struct vmio_bus_range ranges[4];
    bool unknown = true;
    assert_int_equal(vmio_fake_sysreg_exits(m.fake, ranges, 4, &unknown), 1);
    assert_int_equal(ranges[0].base, VMIO_TESTDEV_MSR_BASE);
    assert_int_equal(ranges[0].len, VMIO_TESTDEV_MSR_COUNT);
    assert_int_equal(unknown, policy != VMIO_UNCLAIMED_IGNORE);
    fake_vm_vcpu(&m, 0);
    const uint64_t echo = VMIO_TESTDEV_MSR_BASE + VMIO_TESTDEV_ECHO / 8;
    int pat = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_SYSREG, VMIO_READ, 8,
                                VMIO_TESTDEV_MSR_BASE + VMIO_TESTDEV_PATTERN / 8, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_SYSREG, VMIO_WRITE, 8, echo, 0x1122334455667788ULL);
    int back = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_SYSREG, VMIO_READ, 8, echo, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_SYSREG, VMIO_READ, 8, 0xc0001234, 0); /* nobody's */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    uint64_t v = 0;
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)pat, &v), 0);
    assert_int_equal(v, VMIO_TESTDEV_PATTERN_VALUE);
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)back, &v), 0);
    assert_int_equal(v, 0x1122334455667788ULL);
    struct vmio_fake_cpu_info ci;
    assert_int_equal(vmio_fake_cpu_info(m.fake, 0, &ci), 0);
    assert_int_equal(ci.faults, 1); /* the unclaimed register: #GP, as the hardware */
    const struct vmio_stats *st = fake_vm_stats(m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_SYSREG_READ].count, 2);
    assert_int_equal(st->kind[VMIO_STAT_SYSREG_WRITE].count, 1);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 1);
    if (policy == VMIO_UNCLAIMED_STRICT) {
        assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED);
        assert_int_equal(e.access.space, VMIO_SPACE_SYSREG);
        assert_int_equal(e.access.addr, 0xc0001234);
    } else {
        assert_int_equal(e.reason, VMIO_EXIT_HLT);
    }
    if (policy == VMIO_UNCLAIMED_LOG)
        assert_non_null(strstr(fake_vm_log(&m), "unclaimed sysreg read of 8 bytes at 0xc0001234"));
    fake_vm_fini(&m);
}

static void test_sysreg(void **state)
{
    (void)state;
    run_sysreg(VMIO_UNCLAIMED_IGNORE);
    run_sysreg(VMIO_UNCLAIMED_LOG);
    run_sysreg(VMIO_UNCLAIMED_STRICT);
}

static size_t count(const char *buf, const char *needle)
{
    size_t n = 0;
    for (const char *p = buf; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_log_flood_limited(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_LOG, false);
    fake_vm_vcpu(&m, 0);
    for (unsigned i = 0; i < 1000; i++) /* a guest polling a port nothing answers */
        vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, 0x5000, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(count(fake_vm_log(&m), "unclaimed port read"), VMIO_LOG_BURST);
    /* Every access still completed (all-ones) and counted. */
    struct vmio_stats st;
    vmio_vm_stats(m.vm, &st);
    assert_int_equal(st.kind[VMIO_STAT_UNCLAIMED_READ].count, 1000);
    /* The flood's end is summarised when the VM goes. */
    vmio_vcpu_destroy(m.vcpu[0]);
    m.vcpu[0] = NULL;
    vmio_vm_destroy(m.vm);
    m.vm = NULL;
    assert_non_null(strstr(fake_vm_log(&m), "vmio: 990 more unclaimed pio access lines were "
                                            "suppressed (at most 10 per second from one "
                                            "source)\n"));
    fake_vm_fini(&m);
}

struct drain {
    int fd;
    char *buf;
    size_t len, cap;
};

static void *drain_main(void *arg)
{
    struct drain *d = arg;
    for (;;) {
        if (d->len + 4096 > d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1 << 16;
            d->buf = realloc(d->buf, d->cap + 1);
        }
        ssize_t n = read(d->fd, d->buf + d->len, 4096);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    d->buf[d->len] = '\0';
    return NULL;
}

/* 2500 traced exits to @out; the trace's text (through a pty master or a file). */
static void trace_run(FILE *out)
{
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    vmio_vm_set_trace(m.vm, out);
    fake_vm_vcpu(&m, 0);
    for (unsigned i = 0; i < 2500; i++)
        vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, VMIO_TESTDEV_PIO_BASE, i);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fake_vm_fini(&m); /* reports what the terminal did not show */
    fflush(out);
}

static void test_trace_complete_in_file_limited_on_terminal(void **state)
{
    (void)state;
    /* A file: every line (the manual clock never moves, so a limit would bite). */
    char *buf = NULL;
    size_t len = 0;
    FILE *file = open_memstream(&buf, &len);
    trace_run(file);
    fclose(file);
    assert_int_equal(count(buf, "pio write 0x7000"), 2500);
    assert_null(strstr(buf, "suppressed"));
    free(buf);

    /* A terminal: VMIO_TRACE_TTY_BURST lines per second, then the count. */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct drain d = {.fd = master};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_main, &d), 0);
    FILE *tty = fdopen(slave, "w");
    assert_non_null(tty);
    trace_run(tty);
    fclose(tty); /* the master reads EIO once the slave is gone */
    pthread_join(th, NULL);
    close(master);
    assert_int_equal(count(d.buf, "pio write 0x7000"), 1000);
    assert_non_null(strstr(d.buf, "vmio-trace: 1500 lines suppressed (a terminal shows at most "
                                  "1000 per second; --trace 2>FILE keeps every line)"));
    free(d.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths),
        cmocka_unit_test(test_string_pio),
        cmocka_unit_test(test_unclaimed_ignore),
        cmocka_unit_test(test_unclaimed_log),
        cmocka_unit_test(test_unclaimed_strict),
        cmocka_unit_test(test_stats_time),
        cmocka_unit_test(test_stops_and_exits),
        cmocka_unit_test(test_trace_lines),
        cmocka_unit_test(test_log_flood_limited),
        cmocka_unit_test(test_trace_complete_in_file_limited_on_terminal),
        cmocka_unit_test(test_sysreg),
    };
    return cmocka_run_group_tests_name("run_loop", tests, NULL, NULL);
}
