/*
 * The exit cache (core/exit_cache.h) on the fake backend: the fast path
 * must be indistinguishable from the general one. A random script of
 * accesses runs once in one vmio_vcpu_run() (the cache warm: repeated
 * accesses take the fast path) and once one access per run (every run starts
 * with an empty cache: the general path every time); the devices must see
 * the same calls, the guest the same read results, and the statistics must
 * be identical to the last histogram bucket. Then what only a warm cache can
 * get wrong: a device removed or replaced while the vCPU runs, stops and
 * errors from a cached device, timing off, and the watchdog naming an access
 * the fast path is handling.
 */
#include <pthread.h>
#include <semaphore.h>

#include "fake_vm.h"
#include "vmio/watchdog.h"

#define REC_MMIO 0xc0000000ULL /* two devices side by side: A [0, 0x100), B [0x100, 0x200) */
#define REC_PIO 0x6000
#define REC_LEN 0x100
#define MAX_CALLS 8192
#define STEPS 3000

struct call {
    uint8_t space, dir, width;
    uint64_t base, offset, value;
};

/* Records every call; reads answer a value that depends on the call; time moves per call. */
struct rec {
    struct vmio_device dev;
    struct vmio_manual_clock *clk;
    struct call calls[MAX_CALLS];
    unsigned n;
    int write_ret;            /* returned by writes of stop_value */
    bool bare_stop;           /* VMIO_DEVICE_STOP without vmio_io_stop() (a device bug) */
    uint64_t stop_value;      /* 0: none */
    sem_t *entered, *release; /* non-NULL: block in the call numbered block_at */
    unsigned block_at;
};

static void rec_note(struct rec *r, const struct vmio_io *io, uint8_t dir, uint64_t value)
{
    if (r->n < MAX_CALLS)
        r->calls[r->n] =
            (struct call){(uint8_t)io->space, dir, (uint8_t)io->width, io->base, io->offset, value};
    r->n++;
    /* Deterministic handling times, 0 included (histogram bucket 0). */
    vmio_manual_clock_advance(r->clk, (io->offset % 5) * 300 + io->width * (r->n % 3));
    if (r->entered && r->n == r->block_at) {
        sem_post(r->entered);
        sem_wait(r->release);
    }
}

static int rec_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    struct rec *r = (struct rec *)dev;
    /* All eight bytes set, so a wrong width mask or store shows. */
    *value = 0xa1b2c3d4e5f60718ULL ^ (io->offset << 8) ^ ((uint64_t)r->n << 32) ^ io->base;
    rec_note(r, io, VMIO_READ, *value);
    return 0;
}

static int rec_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    struct rec *r = (struct rec *)dev;
    rec_note(r, io, VMIO_WRITE, value);
    if (value == 0x77) /* a careless device: a stop reason set, then no stop */
        (void)vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value);
    if (r->stop_value && value == r->stop_value) {
        if (r->write_ret == VMIO_DEVICE_STOP && !r->bare_stop)
            return vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value);
        return r->write_ret;
    }
    return 0;
}

static const struct vmio_device_ops rec_ops = {.read = rec_read, .write = rec_write};

/* A fake VM (fake_vm.h) with devices A (MMIO window and ports) and B (MMIO, a spare port). */
struct bench {
    struct fake_vm m;
    struct rec *a, *b;
};

static void bench_init(struct bench *t, enum vmio_unclaimed_policy policy)
{
    fake_vm_init(&t->m, policy, false);
    t->a = calloc(1, sizeof(*t->a));
    t->b = calloc(1, sizeof(*t->b));
    assert_non_null(t->a);
    assert_non_null(t->b);
    t->a->dev = (struct vmio_device){.name = "rec-a", .ops = &rec_ops};
    t->b->dev = (struct vmio_device){.name = "rec-b", .ops = &rec_ops};
    t->a->clk = t->b->clk = &t->m.clk;
    struct vmio_error err = {0};
    assert_int_equal(
        vmio_vm_add_device(t->m.vm, VMIO_SPACE_MMIO, &t->a->dev, REC_MMIO, REC_LEN, &err), 0);
    assert_int_equal(vmio_vm_add_device(t->m.vm, VMIO_SPACE_PIO, &t->a->dev, REC_PIO, 0x10, &err),
                     0);
    assert_int_equal(
        vmio_vm_add_device(t->m.vm, VMIO_SPACE_MMIO, &t->b->dev, REC_MMIO + REC_LEN, REC_LEN, &err),
        0);
    /* B's spare window, for a test to remove while the vCPU sleeps (a removal wakes it). */
    assert_int_equal(
        vmio_vm_add_device(t->m.vm, VMIO_SPACE_PIO, &t->b->dev, REC_PIO + 0x100, 1, &err), 0);
    fake_vm_vcpu(&t->m, 0);
}

static void bench_fini(struct bench *t)
{
    fake_vm_fini(&t->m); /* the VM owns no destroy for rec: freed here */
    free(t->a);
    free(t->b);
}

/* xorshift64*: the script's randomness, reproducible from a seed. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* One random step: mostly accesses a cache can serve, and every kind it must refuse. */
static struct vmio_fake_step random_step(uint64_t *s, uint8_t *elems)
{
    struct vmio_fake_step st = {.kind = VMIO_FAKE_IO};
    struct vmio_access *a = &st.access;
    static const uint8_t mmio_widths[] = {1, 2, 4, 8, 1, 2, 4, 8, 3, 5, 6, 7};
    static const uint8_t pio_widths[] = {1, 2, 4};
    uint64_t r = rnd(s);
    a->dir = (uint8_t)(r & 1);
    a->count = 1;
    a->data = rnd(s);
    if ((r >> 1) % 4 == 0) { /* ports, sometimes string I/O, sometimes past the window */
        a->space = VMIO_SPACE_PIO;
        a->width = pio_widths[(r >> 8) % 3];
        a->addr = REC_PIO + (r >> 16) % 0x14;
        if ((r >> 24) % 8 == 0) {
            a->count = 2 + (uint32_t)((r >> 32) % 3);
            for (unsigned i = 0; i < a->count * a->width; i++)
                elems[i] = (uint8_t)rnd(s);
            a->buf = elems;
        }
    } else { /* A, B, their boundary, and past B */
        a->space = VMIO_SPACE_MMIO;
        a->width = mmio_widths[(r >> 8) % sizeof(mmio_widths)];
        uint64_t where = (r >> 16) % 16;
        a->addr = where < 6    ? REC_MMIO + (r >> 24) % REC_LEN
                  : where < 10 ? REC_MMIO + REC_LEN + (r >> 24) % REC_LEN
                  : where < 13 ? REC_MMIO + REC_LEN - 1 - (r >> 24) % 8
                               : REC_MMIO + 2 * REC_LEN - 4 + (r >> 24) % 8;
        if ((r >> 40) % 8 < 5) /* runs of the same address: the common case */
            a->addr = REC_MMIO + 0x40;
    }
    return st;
}

/* Every step's completion bytes (reads: what the guest got), concatenated, and their length. */
static size_t completions(struct fake_vm *m, unsigned steps, uint8_t *out, size_t size)
{
    size_t len = 0;
    for (unsigned i = 0; i < steps; i++) {
        int n = vmio_fake_completion(m->fake, 0, i, out + len, size - len);
        assert_true(n >= 0);
        len += (size_t)n;
    }
    return len;
}

static void check_same_run(uint64_t seed, bool timing)
{
    static struct bench warm, cold;
    static uint8_t cw[STEPS * 32], cc[STEPS * 32];
    static struct vmio_stats sw, sc;
    bench_init(&warm, VMIO_UNCLAIMED_IGNORE);
    bench_init(&cold, VMIO_UNCLAIMED_IGNORE);
    vmio_vm_set_timing(warm.m.vm, timing);
    vmio_vm_set_timing(cold.m.vm, timing);
    /* Warm: the whole script in one run. Cold: one access per run (pushed, run to its end). */
    uint64_t s = seed;
    uint8_t elems[32];
    struct vmio_exit e;
    for (unsigned i = 0; i < STEPS; i++) {
        struct vmio_fake_step st = random_step(&s, elems);
        assert_true(vmio_fake_push(warm.m.fake, 0, &st) >= 0);
        assert_true(vmio_fake_push(cold.m.fake, 0, &st) >= 0);
        e = fake_vm_run(&cold.m, 0, 0);
        assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
        assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    }
    e = fake_vm_run(&warm.m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
    assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    assert_int_equal(warm.a->n, cold.a->n);
    assert_int_equal(warm.b->n, cold.b->n);
    assert_true(warm.a->n > STEPS / 4); /* the script did reach the devices */
    assert_memory_equal(warm.a->calls, cold.a->calls, sizeof(warm.a->calls));
    assert_memory_equal(warm.b->calls, cold.b->calls, sizeof(warm.b->calls));
    size_t lw = completions(&warm.m, STEPS, cw, sizeof(cw));
    size_t lc = completions(&cold.m, STEPS, cc, sizeof(cc));
    assert_int_equal(lw, lc);
    assert_memory_equal(cw, cc, lw);
    vmio_vcpu_stats(warm.m.vcpu[0], &sw);
    vmio_vcpu_stats(cold.m.vcpu[0], &sc);
    /* Every run ends at the script's end, an exit of kind "other": the cold side had STEPS. */
    assert_int_equal(sw.kind[VMIO_STAT_OTHER].count, 1);
    assert_int_equal(sc.kind[VMIO_STAT_OTHER].count, STEPS);
    sc.kind[VMIO_STAT_OTHER] = sw.kind[VMIO_STAT_OTHER];
    for (unsigned k = 0; k < VMIO_STAT_NKINDS; k++)
        assert_memory_equal(&sw.kind[k], &sc.kind[k], sizeof(sw.kind[k]));
    for (unsigned d = 0; d < VMIO_STATS_MAX_DEVICES; d++)
        assert_memory_equal(&sw.device[d], &sc.device[d], sizeof(sw.device[d]));
    assert_true(sw.kind[VMIO_STAT_MMIO_READ].count > 0 && sw.kind[VMIO_STAT_PIO_OUT].count > 0);
    if (timing) {
        assert_true(sw.device[warm.a->dev.id].max_ns > 0);
        assert_true(sw.device[warm.a->dev.id].hist[0] > 0); /* some handling took no time */
        assert_true(sw.device[warm.a->dev.id].hist[10] > 0);
    }
    bench_fini(&warm);
    bench_fini(&cold);
}

static void test_fast_equals_general(void **state)
{
    (void)state;
    check_same_run(0x9e3779b97f4a7c15ULL, true);
    check_same_run(12345, true);
    check_same_run(0xdeadbeefcafef00dULL, false);
}

/* Remove or replace device A while the vCPU sleeps in the guest with A cached. */
struct swapper {
    struct bench *t;
    struct rec *replacement; /* NULL: only remove */
};

static void *swap_main(void *arg)
{
    struct swapper *sw = arg;
    struct bench *t = sw->t;
    struct vmio_error err = {0};
    /* Removal nudges the vCPU out of its first sleep, into the second. */
    assert_int_equal(vmio_fake_wait_blocked(t->m.fake, 0), 0);
    assert_int_equal(vmio_vm_remove_device(t->m.vm, VMIO_SPACE_MMIO, &t->a->dev, REC_MMIO, &err),
                     0);
    assert_int_equal(vmio_fake_wait_blocked(t->m.fake, 0), 0);
    if (sw->replacement)
        assert_int_equal(vmio_vm_add_device(t->m.vm, VMIO_SPACE_MMIO, &sw->replacement->dev,
                                            REC_MMIO, REC_LEN, &err),
                         0);
    /* A removal is what wakes the vCPU (it nudges), so its next access comes after all of it. */
    assert_int_equal(
        vmio_vm_remove_device(t->m.vm, VMIO_SPACE_PIO, &t->b->dev, REC_PIO + 0x100, &err), 0);
    return NULL;
}

static void run_with_swap(struct bench *t, struct rec *replacement, struct vmio_exit *e)
{
    for (int i = 0; i < 3; i++)
        vmio_fake_push_io(t->m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, REC_MMIO + 8, 0x11);
    vmio_fake_push_kind(t->m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(t->m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_io(t->m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, REC_MMIO + 8, 0x22);
    struct swapper sw = {t, replacement};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, swap_main, &sw), 0);
    *e = fake_vm_run(&t->m, 0, 0);
    pthread_join(th, NULL);
}

static void test_replaced_device(void **state)
{
    (void)state;
    struct bench t;
    bench_init(&t, VMIO_UNCLAIMED_STRICT);
    struct rec *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->dev = (struct vmio_device){.name = "rec-c", .ops = &rec_ops};
    c->clk = &t.m.clk;
    struct vmio_exit e;
    run_with_swap(&t, c, &e);
    assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN); /* the script ran to its end */
    assert_int_equal(t.a->n, 3);                   /* A: before the swap only */
    assert_int_equal(c->n, 1);                     /* the write after it reached C */
    assert_int_equal(c->calls[0].value, 0x22);
    assert_int_equal(c->calls[0].offset, 8);
    bench_fini(&t);
    free(c);
}

static void test_removed_device(void **state)
{
    (void)state;
    struct bench t;
    bench_init(&t, VMIO_UNCLAIMED_STRICT);
    struct vmio_exit e;
    run_with_swap(&t, NULL, &e);
    assert_int_equal(e.reason, VMIO_EXIT_UNCLAIMED); /* not A's cached range */
    assert_int_equal(e.access.addr, REC_MMIO + 8);
    assert_int_equal(t.a->n, 3);
    bench_fini(&t);
}

/* A cached device that stops the vCPU, or fails: the same exits as the general path gives. */
static void test_stops_from_cached_device(void **state)
{
    (void)state;
    struct bench t;
    bench_init(&t, VMIO_UNCLAIMED_STRICT);
    static const struct {
        int ret;
        enum vmio_exit_reason reason;
        uint64_t code;
    } cases[] = {
        {VMIO_DEVICE_STOP, VMIO_EXIT_DEBUG_EXIT, 0x5a},
        {2, VMIO_EXIT_DEVICE_ERROR, (uint64_t)(int64_t)-EPROTO}, /* a bogus return */
        {-EIO, VMIO_EXIT_DEVICE_ERROR, (uint64_t)(int64_t)-EIO},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t.a->write_ret = cases[i].ret;
        t.a->stop_value = 0x5a;
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 1);
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 2);
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 0x5a);
        struct vmio_exit e = fake_vm_run(&t.m, 0, 0);
        assert_int_equal(e.reason, cases[i].reason);
        assert_int_equal(e.code, cases[i].code);
        assert_int_equal(e.access.addr, REC_PIO + 2);
        if (cases[i].reason == VMIO_EXIT_DEVICE_ERROR)
            assert_string_equal(e.device, "rec-a");
    }
    /* A reason left behind by an earlier call is not this stop's: still a bogus return. */
    t.a->write_ret = VMIO_DEVICE_STOP;
    t.a->bare_stop = true;
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 1);
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 0x77);
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, REC_PIO + 2, 0x5a);
    struct vmio_exit e = fake_vm_run(&t.m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEVICE_ERROR);
    assert_int_equal(e.code, (uint64_t)(int64_t)-EPROTO);
    const struct vmio_stats *st = fake_vm_stats(t.m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_PIO_OUT].count, 12); /* stopped accesses count too */
    assert_int_equal(st->device[t.a->dev.id].count, 12);
    bench_fini(&t);
}

/* Timing off: counted, no time; back on at the next run. */
static void test_timing_off(void **state)
{
    (void)state;
    struct bench t;
    bench_init(&t, VMIO_UNCLAIMED_STRICT);
    vmio_vm_set_timing(t.m.vm, false);
    for (int i = 0; i < 5; i++)
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, REC_MMIO + 0x11, 0);
    assert_int_equal(fake_vm_run(&t.m, 0, 0).reason, VMIO_EXIT_UNKNOWN);
    const struct vmio_stats *st = fake_vm_stats(t.m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 5);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].ns, 0);
    assert_int_equal(st->device[t.a->dev.id].max_ns, 0);
    vmio_vm_set_timing(t.m.vm, true);
    for (int i = 0; i < 5; i++)
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, REC_MMIO + 0x11, 0);
    assert_int_equal(fake_vm_run(&t.m, 0, 0).reason, VMIO_EXIT_UNKNOWN);
    st = fake_vm_stats(t.m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 10);
    /* offset 0x11 % 5 = 2: 600 ns plus width * (n % 3) per call, n = 6..10. */
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].ns, 5 * 600 + 4 * (0 + 1 + 2 + 0 + 1));
    assert_int_equal(st->device[t.a->dev.id].max_ns, 608);
    bench_fini(&t);
}

/* The watchdog names an access the fast path is inside. */
struct stall_seen {
    int n;
    struct vmio_stall s;
};

static void on_stall(void *ctx, const struct vmio_stall *s)
{
    struct stall_seen *seen = ctx;
    seen->n++;
    seen->s = *s;
}

static void *run_main(void *arg)
{
    struct bench *t = arg;
    struct vmio_exit e;
    memset(&e, 0, sizeof(e));
    vmio_vcpu_run(t->m.vcpu[0], &e);
    return NULL;
}

static void test_watchdog_names_fast_access(void **state)
{
    (void)state;
    struct bench t;
    bench_init(&t, VMIO_UNCLAIMED_STRICT);
    sem_t entered, release;
    sem_init(&entered, 0, 0);
    sem_init(&release, 0, 0);
    t.a->entered = &entered;
    t.a->release = &release;
    t.a->block_at = 3; /* the third write: the cache serves it */
    for (int i = 0; i < 4; i++)
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, REC_PIO + 4, 0x100 + i);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_main, &t), 0);
    sem_wait(&entered);
    struct stall_seen seen = {0};
    assert_int_equal(vmio_vm_watchdog_check(t.m.vm, 100000000, on_stall, &seen), 0);
    vmio_manual_clock_advance(&t.m.clk, 250000000);
    assert_int_equal(vmio_vm_watchdog_check(t.m.vm, 100000000, on_stall, &seen), 1);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.s.device, "rec-a");
    assert_int_equal(seen.s.access.space, VMIO_SPACE_PIO);
    assert_int_equal(seen.s.access.dir, VMIO_WRITE);
    assert_int_equal(seen.s.access.addr, REC_PIO + 4);
    assert_int_equal(seen.s.access.width, 2);
    assert_int_equal(seen.s.access.data, 0x102);
    assert_true(seen.s.ns >= 250000000);
    sem_post(&release);
    pthread_join(th, NULL);
    assert_int_equal(t.a->n, 4);
    sem_destroy(&entered);
    sem_destroy(&release);
    bench_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_equals_general),
        cmocka_unit_test(test_replaced_device),
        cmocka_unit_test(test_removed_device),
        cmocka_unit_test(test_stops_from_cached_device),
        cmocka_unit_test(test_timing_off),
        cmocka_unit_test(test_watchdog_names_fast_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
