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

#include "exit_script.h"
#include "fake_vm.h"
#include "vmio/watchdog.h"

#define STEPS 3000

/* A fake VM (fake_vm.h) with devices A (MMIO window and ports) and B (MMIO, a spare port). */
struct bench {
    struct fake_vm m;
    struct es_rec *a, *b;
};

static void bench_init(struct bench *t, enum vmio_unclaimed_policy policy)
{
    fake_vm_init(&t->m, policy, false);
    struct vmio_error err = {0};
    if (es_add_devices(t->m.vm, &t->m.clk, &t->a, &t->b, &err) < 0)
        fail_msg("es_add_devices: %s", err.msg);
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

/* One random step: ES_STEP_BYTES random bytes through es_step(). */
static struct vmio_fake_step random_step(uint64_t *s, uint8_t *elems, uint8_t *bytes)
{
    uint64_t r[2] = {rnd(s), rnd(s)};
    memcpy(bytes, r, ES_STEP_BYTES);
    return es_step(bytes, elems);
}

static void check_same_run(uint64_t seed, bool timing)
{
    static struct bench warm, cold;
    static struct vmio_stats sw;
    bench_init(&warm, VMIO_UNCLAIMED_IGNORE);
    bench_init(&cold, VMIO_UNCLAIMED_IGNORE);
    vmio_vm_set_timing(warm.m.vm, timing);
    vmio_vm_set_timing(cold.m.vm, timing);
    /* Warm: the whole script in one run. Cold: one access per run (pushed, run to its end). */
    uint64_t s = seed;
    uint8_t elems[32], bytes[ES_STEP_BYTES];
    struct vmio_exit e;
    for (unsigned i = 0; i < STEPS; i++) {
        struct vmio_fake_step st = random_step(&s, elems, bytes);
        assert_true(vmio_fake_push(warm.m.fake, 0, &st) >= 0);
        assert_true(vmio_fake_push(cold.m.fake, 0, &st) >= 0);
        e = fake_vm_run(&cold.m, 0, 0);
        assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
        assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    }
    e = fake_vm_run(&warm.m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_UNKNOWN);
    assert_int_equal(e.code, VMIO_FAKE_SCRIPT_END);
    struct es_side w = {warm.m.fake, warm.m.vcpu[0], warm.a, warm.b, 1};
    struct es_side c = {cold.m.fake, cold.m.vcpu[0], cold.a, cold.b, STEPS};
    assert_int_equal(es_differs(&w, &c, STEPS), 0);
    /* The script did reach the devices, both ways, and took time. */
    assert_true(warm.a->n > STEPS / 4);
    vmio_vcpu_stats(warm.m.vcpu[0], &sw);
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
    struct es_rec *replacement; /* NULL: only remove */
};

static void *swap_main(void *arg)
{
    struct swapper *sw = arg;
    struct bench *t = sw->t;
    struct vmio_error err = {0};
    /* Removal nudges the vCPU out of its first sleep, into the second. */
    assert_int_equal(vmio_fake_wait_blocked(t->m.fake, 0), 0);
    assert_int_equal(vmio_vm_remove_device(t->m.vm, VMIO_SPACE_MMIO, &t->a->dev, ES_MMIO, &err), 0);
    assert_int_equal(vmio_fake_wait_blocked(t->m.fake, 0), 0);
    if (sw->replacement)
        assert_int_equal(vmio_vm_add_device(t->m.vm, VMIO_SPACE_MMIO, &sw->replacement->dev,
                                            ES_MMIO, ES_LEN, &err),
                         0);
    /* A removal is what wakes the vCPU (it nudges), so its next access comes after all of it. */
    assert_int_equal(
        vmio_vm_remove_device(t->m.vm, VMIO_SPACE_PIO, &t->b->dev, ES_PIO + 0x100, &err), 0);
    return NULL;
}

static void run_with_swap(struct bench *t, struct es_rec *replacement, struct vmio_exit *e)
{
    for (int i = 0; i < 3; i++)
        vmio_fake_push_io(t->m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, ES_MMIO + 8, 0x11);
    vmio_fake_push_kind(t->m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(t->m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_io(t->m.fake, 0, VMIO_SPACE_MMIO, VMIO_WRITE, 4, ES_MMIO + 8, 0x22);
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
    struct es_rec *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->dev = (struct vmio_device){.name = "rec-c", .ops = &es_rec_ops};
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
    assert_int_equal(e.access.addr, ES_MMIO + 8);
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
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 1);
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 2);
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 0x5a);
        struct vmio_exit e = fake_vm_run(&t.m, 0, 0);
        assert_int_equal(e.reason, cases[i].reason);
        assert_int_equal(e.code, cases[i].code);
        assert_int_equal(e.access.addr, ES_PIO + 2);
        if (cases[i].reason == VMIO_EXIT_DEVICE_ERROR)
            assert_string_equal(e.device, "rec-a");
    }
    /* A reason left behind by an earlier call is not this stop's: still a bogus return. */
    t.a->write_ret = VMIO_DEVICE_STOP;
    t.a->bare_stop = true;
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 1);
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 0x77);
    vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, ES_PIO + 2, 0x5a);
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
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, ES_MMIO + 0x11, 0);
    assert_int_equal(fake_vm_run(&t.m, 0, 0).reason, VMIO_EXIT_UNKNOWN);
    const struct vmio_stats *st = fake_vm_stats(t.m.vcpu[0]);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, 5);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].ns, 0);
    assert_int_equal(st->device[t.a->dev.id].max_ns, 0);
    vmio_vm_set_timing(t.m.vm, true);
    for (int i = 0; i < 5; i++)
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_MMIO, VMIO_READ, 4, ES_MMIO + 0x11, 0);
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
        vmio_fake_push_io(t.m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, ES_PIO + 4, 0x100 + i);
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
    assert_int_equal(seen.s.access.addr, ES_PIO + 4);
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
