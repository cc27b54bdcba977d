/*
 * The stall watchdog (vmio/watchdog.h) on the fake backend with a manual
 * clock: a device whose write blocks until the test releases it is named
 * (vCPU, device, access, duration) once per stall and only past the timeout;
 * an idle vCPU or one that returned is never reported; the watchdog thread
 * reports through its callback and stops cleanly; the default log line.
 */
#include <pthread.h>
#include <semaphore.h>

#include "fake_vm.h"
#include "core/vm_internal.h"
#include "vmio/watchdog.h"

#define STUCK_PORT 0x6100
#define MS 1000000ULL

struct stuck {
    struct vmio_device dev;
    sem_t entered, release;
};

static int stuck_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *v)
{
    (void)io;
    (void)dev;
    *v = 0;
    return 0;
}

static int stuck_write(struct vmio_device *dev, struct vmio_io *io, uint64_t v)
{
    (void)io;
    (void)v;
    struct stuck *s = vmio_container_of(dev, struct stuck, dev);
    sem_post(&s->entered);
    sem_wait(&s->release);
    return 0;
}

static const struct vmio_device_ops stuck_ops = {.read = stuck_read, .write = stuck_write};

struct seen {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned n;
    struct vmio_stall last;
};

static void on_stall(void *ctx, const struct vmio_stall *s)
{
    struct seen *seen = ctx;
    pthread_mutex_lock(&seen->lock);
    seen->n++;
    seen->last = *s;
    pthread_cond_broadcast(&seen->cond);
    pthread_mutex_unlock(&seen->lock);
}

static void *run_vcpu(void *arg)
{
    struct fake_vm *m = arg;
    struct vmio_exit e;
    vmio_vcpu_run(m->vcpu[0], &e);
    return NULL;
}

static void setup(struct fake_vm *m, struct stuck *s)
{
    fake_vm_init(m, VMIO_UNCLAIMED_IGNORE, false);
    *s = (struct stuck){.dev = {.name = "stuck", .ops = &stuck_ops}};
    sem_init(&s->entered, 0, 0);
    sem_init(&s->release, 0, 0);
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m->vm, VMIO_SPACE_PIO, &s->dev, STUCK_PORT, 4, &err), 0);
    fake_vm_vcpu(m, 0);
    vmio_fake_push_io(m->fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 2, STUCK_PORT + 2, 0xbeef);
}

static void teardown(struct fake_vm *m, struct stuck *s)
{
    vmio_vm_watchdog_stop(m->vm);
    struct vmio_error err = {0};
    assert_int_equal(
        vmio_bus_unregister(vmio_vm_bus(m->vm, VMIO_SPACE_PIO), &s->dev, STUCK_PORT, &err), 0);
    fake_vm_fini(m);
    sem_destroy(&s->entered);
    sem_destroy(&s->release);
}

static void test_check(void **state)
{
    (void)state;
    struct fake_vm m;
    struct stuck s;
    struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    setup(&m, &s);
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 0); /* idle */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_vcpu, &m), 0);
    sem_wait(&s.entered); /* the vCPU is inside the device now */
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 0);
    vmio_manual_clock_advance(&m.clk, 99 * MS);
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 0); /* not yet */
    vmio_manual_clock_advance(&m.clk, 51 * MS);
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.last.vcpu, 0);
    assert_string_equal(seen.last.device, "stuck");
    assert_int_equal(seen.last.access.space, VMIO_SPACE_PIO);
    assert_int_equal(seen.last.access.dir, VMIO_WRITE);
    assert_int_equal(seen.last.access.width, 2);
    assert_int_equal(seen.last.access.addr, STUCK_PORT + 2);
    assert_true(seen.last.ns >= 150 * MS - 1 && seen.last.ns <= 150 * MS); /* start | 1 */
    vmio_manual_clock_advance(&m.clk, 500 * MS);
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 0); /* once */
    sem_post(&s.release);
    pthread_join(th, NULL);
    vmio_manual_clock_advance(&m.clk, 500 * MS);
    assert_int_equal(vmio_vm_watchdog_check(m.vm, 100 * MS, on_stall, &seen), 0); /* returned */
    assert_int_equal(seen.n, 1);
    teardown(&m, &s);
}

/* The thread: reports through the callback, then stops at once when asked. */
static void test_thread(void **state)
{
    (void)state;
    struct fake_vm m;
    struct stuck s;
    struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    setup(&m, &s);
    struct vmio_watchdog_options o = {
        .timeout_ns = 100 * MS, .period_ns = 1 * MS, .on_stall = on_stall, .ctx = &seen};
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_watchdog_start(m.vm, &o, &err), 0);
    assert_int_equal(vmio_vm_watchdog_start(m.vm, &o, &err), -EEXIST);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_vcpu, &m), 0);
    sem_wait(&s.entered);
    /*
     * VM time moves 10 ms per real millisecond or so, as if the device really
     * stalled: in small steps, since the thread does not hold handling time
     * from before its first scan, nor across a jump it sees as the process
     * having been held, against the device. No time limit here: a hang is
     * the test timeout's business.
     */
    pthread_mutex_lock(&seen.lock);
    while (seen.n == 0) {
        vmio_manual_clock_advance(&m.clk, 10 * MS);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&seen.cond, &seen.lock, &ts);
    }
    pthread_mutex_unlock(&seen.lock);
    assert_string_equal(seen.last.device, "stuck");
    vmio_vm_watchdog_stop(m.vm);
    vmio_vm_watchdog_stop(m.vm); /* twice is fine */
    sem_post(&s.release);
    pthread_join(th, NULL);
    assert_int_equal(seen.n, 1);
    teardown(&m, &s);
}

/*
 * The pacing rule: a scan that comes late on the wall clock (the process was
 * stopped or traced) moves the floor to a VM time after the hold, and then
 * the handler's time before it does not count: no stall until a full
 * timeout after the resumption.
 */
static void test_pause_is_not_a_stall(void **state)
{
    (void)state;
    uint64_t late = 150 * MS;
    assert_false(vmio_watchdog_pacer_held(0, 1000 * MS, late));         /* no scan before */
    assert_false(vmio_watchdog_pacer_held(1000 * MS, 1025 * MS, late)); /* on time */
    assert_false(vmio_watchdog_pacer_held(1025 * MS, 1175 * MS, late)); /* 150: not late */
    assert_true(vmio_watchdog_pacer_held(1175 * MS, 3000 * MS, late));  /* held 1.8 s */
    assert_false(vmio_watchdog_pacer_held(3000 * MS, 2000 * MS, late)); /* clock went back */

    /* vmio_vcpu_stalled() with that floor: the device's time before it is forgiven. */
    struct fake_vm m;
    struct stuck s;
    setup(&m, &s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_vcpu, &m), 0);
    sem_wait(&s.entered);
    uint64_t t0 = m.clk.mono_ns;                 /* the VM counts in ns on a manual clock */
    vmio_manual_clock_advance(&m.clk, 500 * MS); /* "stopped" for 500 ms */
    uint64_t resumed = t0 + 500 * MS;
    struct vmio_access a;
    uint64_t since;
    assert_false(vmio_vcpu_stalled(m.vcpu[0], resumed + 50 * MS, 100 * MS, resumed, &a, &since));
    assert_true(vmio_vcpu_stalled(m.vcpu[0], resumed + 100 * MS, 100 * MS, resumed, &a, &since));
    assert_int_equal(since, resumed);
    sem_post(&s.release);
    pthread_join(th, NULL);
    teardown(&m, &s);
}

static void test_log_line(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct vmio_stall s = {
        .vcpu = 1,
        .device = "blk0",
        .access = {.space = VMIO_SPACE_MMIO, .dir = VMIO_READ, .width = 4, .addr = 0xd0001050},
        .ns = 250 * MS + 7};
    vmio_stall_log(f, &s);
    fclose(f);
    assert_string_equal(buf, "vmio: watchdog: vCPU 1 has been in device blk0 for 250 ms: mmio "
                             "read of 4 bytes at 0xd0001050\n");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_thread),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_pause_is_not_a_stall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
