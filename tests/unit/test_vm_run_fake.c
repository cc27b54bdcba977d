/*
 * Kicks, vmio_vm_stop() and vmio_vm_run() with several vCPUs, with no
 * /dev/kvm: vCPU threads on the scripted fake backend, where a "block"
 * step models a vCPU halted in the in-kernel irqchip or spinning in the
 * guest (it ends only when kicked, as KVM_RUN does). The same cases run
 * against real KVM in test_vm_run.c.
 * Checks: a kick before a run ends it at once, without entering, and only
 * that run (kicks do not queue); a kick while blocked ends the run and is
 * consumed; a stray EINTR ends a run too; a device that kicks its own vCPU
 * ends the current run; a vCPU that stops by itself while being kicked
 * leaves the kick for its next vmio_vcpu_run(), but not after
 * vmio_vm_run(); the first exit wins (whichever vCPU makes it), the others
 * are kicked and joined and their exits land in opts->exits; vmio_vm_stop();
 * thread_init failures (with and without a message); a host error from
 * enter; argument errors; four vCPUs taking exits while another thread
 * registers and unregisters devices on both buses (for TSan); and a vCPU
 * stuck writing its UART's output to a pipe nobody reads still stops when
 * the VM is stopped (its serial byte is dropped, counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "fake_vm.h"
#include "vmio/chardev.h"
#include "vmio/uart16550.h"

/* A device whose writes kick a vCPU, then return @ret (1: stop with debug-exit). */
struct kicker {
    struct vmio_device dev;
    struct vmio_vcpu *target;
    int ret;
};

static int kicker_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    (void)dev;
    *value = 0;
    return 0;
}

static int kicker_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    struct kicker *k = (struct kicker *)dev;
    vmio_vcpu_kick(k->target);
    return k->ret ? vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value) : 0;
}

static const struct vmio_device_ops kicker_ops = {.read = kicker_read, .write = kicker_write};

static int null_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    (void)dev;
    (void)value;
    return 0;
}

#define KICKER_PORT 0x6100

static void add_kicker(struct fake_vm *m, struct kicker *k, struct vmio_vcpu *target, int ret)
{
    *k = (struct kicker){
        .dev = {.name = "kicker", .ops = &kicker_ops}, .target = target, .ret = ret};
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m->vm, VMIO_SPACE_PIO, &k->dev, KICKER_PORT, 1, &err), 0);
}

/*
 * A device whose reads wait until vCPU @cpu sleeps in a block step (and
 * return what vmio_fake_wait_blocked() said): a vCPU that reads it makes its
 * next exit only once the other one is asleep, so the kick it causes is
 * certain to find that one blocked.
 */
struct gate {
    struct vmio_device dev;
    struct vmio_fake *fake;
    unsigned cpu;
};

static int gate_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    (void)io;
    struct gate *g = (struct gate *)dev;
    *value = (uint64_t)(int64_t)vmio_fake_wait_blocked(g->fake, g->cpu);
    return 0;
}

static const struct vmio_device_ops gate_ops = {.read = gate_read, .write = null_write};

#define GATE_PORT 0x6200

static void add_gate(struct fake_vm *m, struct gate *g, unsigned cpu)
{
    *g = (struct gate){.dev = {.name = "gate", .ops = &gate_ops}, .fake = m->fake, .cpu = cpu};
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_add_device(m->vm, VMIO_SPACE_PIO, &g->dev, GATE_PORT, 1, &err), 0);
}

static struct vmio_fake_cpu_info cpu_info(struct fake_vm *m, unsigned cpu)
{
    struct vmio_fake_cpu_info info;
    assert_int_equal(vmio_fake_cpu_info(m->fake, cpu, &info), 0);
    return info;
}

static void test_kick_before_run(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    vmio_vcpu_kick(m.vcpu[0]);
    vmio_vcpu_kick(m.vcpu[0]); /* kicks do not queue */
    assert_true(cpu_info(&m, 0).immediate_exit);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_INTR);
    assert_int_equal(cpu_info(&m, 0).enters, 0); /* the guest was not entered */
    assert_false(cpu_info(&m, 0).immediate_exit);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    /* vmio_vm_stop() on a VM whose vCPU is not running: its next run returns at once. */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    vmio_vm_stop(m.vm);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_INTR);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fake_vm_fini(&m);
}

struct runner {
    struct vmio_vcpu *vcpu;
    struct vmio_exit exit;
    int rc;
};

static void *run_main(void *arg)
{
    struct runner *r = arg;
    r->rc = vmio_vcpu_run(r->vcpu, &r->exit);
    return NULL;
}

static void test_kick_while_blocked(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 4, VMIO_TESTDEV_PIO_BASE, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    struct runner r = {.vcpu = m.vcpu[0]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    assert_int_equal(vmio_fake_wait_blocked(m.fake, 0), 0); /* asleep inside the backend */
    vmio_vcpu_kick(m.vcpu[0]);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.exit.reason, VMIO_EXIT_INTR);
    struct vmio_fake_cpu_info info = cpu_info(&m, 0);
    assert_int_equal(info.replayed, 2);
    assert_int_equal(info.immediate, 0); /* it was blocked, not stopped before entering */
    assert_false(info.immediate_exit);   /* consumed with the kick */
    /* The kick is gone: the next run goes on with the script. */
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fake_vm_fini(&m);
}

/*
 * A signal that is not a kick (EINTR with nothing pending: SIGSTOP/SIGCONT, a
 * debugger, Ctrl-Z then fg) does not end the run: the vCPU re-enters.
 */
static void test_stray_eintr(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_EINTR, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_EINTR, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    struct vmio_fake_cpu_info info = cpu_info(&m, 0);
    assert_int_equal(info.replayed, 3);
    assert_int_equal(info.enters, 3);
    /* A kick still ends it, stray signals or not. */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_EINTR, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    vmio_vcpu_kick(m.vcpu[0]);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_INTR);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    fake_vm_fini(&m);
}

/* A device callback kicking its own vCPU ends the current run before the next entry. */
static void test_kick_from_device(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    struct kicker k;
    add_kicker(&m, &k, m.vcpu[0], 0);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, KICKER_PORT, 1);
    vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 4, VMIO_TESTDEV_PIO_BASE, 0);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_INTR);
    assert_int_equal(cpu_info(&m, 0).replayed, 1);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);
    assert_int_equal(cpu_info(&m, 0).replayed, 3);
    fake_vm_fini(&m);
}

/*
 * A vCPU kicked while it stops for its own reason: vmio_vcpu_run() leaves
 * the kick for the next run (it says "the one under way, or the next");
 * vmio_vm_run() clears it before returning.
 */
static void test_stopped_while_kicked(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    struct kicker k;
    add_kicker(&m, &k, m.vcpu[0], 1); /* kick, then stop with debug-exit */
    for (int i = 0; i < 2; i++) {
        vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, KICKER_PORT, 7);
        vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    }
    struct vmio_exit e = fake_vm_run(&m, 0, 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 7);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_INTR); /* the leftover kick */
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT);

    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 1, NULL, &res, &err), 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(res.vcpu, 0);
    assert_false(cpu_info(&m, 0).immediate_exit);
    assert_int_equal(fake_vm_run(&m, 0, 0).reason, VMIO_EXIT_HLT); /* no kick left behind */
    fake_vm_fini(&m);
}

static void test_first_exit_wins(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_STRICT, true);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    struct gate g;
    add_gate(&m, &g, 1);
    int rd = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 4,
                               VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_PATTERN, 0);
    int gated = vmio_fake_push_io(m.fake, 0, VMIO_SPACE_PIO, VMIO_READ, 1, GATE_PORT, 0);
    fake_vm_push_io_at(&m, 0, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_DEBUG_EXIT_PORT, 0x2a, 0x1234);
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0); /* an AP that never exits by itself */
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 0);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(res.exit.code, 0x2a);
    assert_int_equal(res.exit.ip, 0x1234);
    assert_int_equal(res.err.code, 0);
    assert_int_equal(exits[0].reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    uint64_t v;
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)rd, &v), 0);
    assert_int_equal(v, (uint32_t)VMIO_TESTDEV_PATTERN_VALUE);
    assert_int_equal(vmio_fake_read_value(m.fake, 0, (unsigned)gated, &v), 0);
    assert_int_equal(v, 0); /* vCPU 1 was asleep in the backend when vCPU 0 ended the run */
    assert_int_equal(cpu_info(&m, 1).replayed, 1);
    assert_int_equal(cpu_info(&m, 1).immediate, 0);
    assert_false(cpu_info(&m, 0).immediate_exit); /* no kick left on either */
    assert_false(cpu_info(&m, 1).immediate_exit);
    /* vCPU 1 goes on alone with its script, not with a stale kick. */
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_HLT, 0);
    struct vmio_vcpu *ap = m.vcpu[1];
    assert_int_equal(vmio_vm_run(m.vm, &ap, 1, NULL, &res, &err), 0);
    assert_int_equal(res.vcpu, 1);
    assert_int_equal(res.exit.reason, VMIO_EXIT_HLT);
    fake_vm_fini(&m);
}

/* The first exit may come from an application processor. */
static void test_first_exit_from_ap(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    for (unsigned i = 0; i < 3; i++)
        fake_vm_vcpu(&m, i);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0);
    struct vmio_fake_step s = {.kind = VMIO_FAKE_SHUTDOWN, .ip = 0x9000};
    vmio_fake_push(m.fake, 2, &s);
    struct vmio_exit exits[3];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 3, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 2);
    assert_int_equal(res.exit.reason, VMIO_EXIT_SHUTDOWN);
    assert_int_equal(res.exit.ip, 0x9000);
    assert_int_equal(exits[0].reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[2].reason, VMIO_EXIT_SHUTDOWN);
    fake_vm_fini(&m);
}

struct stopper {
    struct fake_vm *m;
    unsigned n;
    atomic_bool stopped;
};

/* Thread: once every vCPU sleeps in the backend, vmio_vm_stop(). */
static void *stop_when_blocked(void *arg)
{
    struct stopper *s = arg;
    for (unsigned i = 0; i < s->n; i++)
        if (vmio_fake_wait_blocked(s->m->fake, i) != 0)
            return NULL;
    atomic_store(&s->stopped, true);
    vmio_vm_stop(s->m->vm);
    return NULL;
}

static void test_vm_stop(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0);
    struct stopper st = {.m = &m, .n = 2};
    atomic_init(&st.stopped, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_when_blocked, &st), 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    pthread_join(th, NULL);
    assert_true(atomic_load(&st.stopped)); /* nothing but the stop ended the run */
    assert_int_equal(res.exit.reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[0].reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    /*
     * No check that the kicks are gone: vmio_vm_stop() may still have been
     * kicking vCPU 1 after vCPU 0's kick had ended the run, and a kick made
     * when no run is under way is kept for the next run, as documented.
     */
    fake_vm_fini(&m);
}

static int fail_on_vcpu1(void *ctx, unsigned index, struct vmio_error *err)
{
    atomic_fetch_add((atomic_uint *)ctx, 1);
    if (index == 1)
        return vmio_error_set(err, -EPERM, "vCPU %u: not allowed", index);
    return 0;
}

static int fail_quietly(void *ctx, unsigned index, struct vmio_error *err)
{
    (void)ctx;
    (void)err;
    return index == 1 ? -EACCES : 0;
}

static void test_thread_init_failure(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    for (int i = 0; i < 2; i++)
        vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    atomic_uint calls;
    atomic_init(&calls, 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.thread_init = fail_on_vcpu1, .ctx = &calls, .exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(atomic_load(&calls), 2);
    assert_int_equal(res.vcpu, 1);
    assert_int_equal(res.rc, -EPERM);
    assert_int_equal(res.exit.reason, VMIO_EXIT_HOST_ERROR);
    assert_int_equal((int64_t)res.exit.code, -EPERM);
    assert_int_equal(res.err.code, -EPERM);
    assert_string_equal(res.err.msg, "vCPU 1: not allowed");
    assert_int_equal(exits[0].reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[1].reason, VMIO_EXIT_HOST_ERROR);
    assert_int_equal(cpu_info(&m, 1).enters, 0); /* vCPU 1 never ran */

    ro = (struct vmio_run_options){.thread_init = fail_quietly};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 1);
    assert_int_equal(res.err.code, -EACCES);
    assert_non_null(strstr(res.err.msg, "vCPU 1: thread setup failed: "));
    fake_vm_fini(&m);
}

static void test_host_error_from_enter(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HOST_ERROR, (uint64_t)-EFAULT);
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 0);
    assert_int_equal(res.rc, -EFAULT);
    assert_int_equal(res.exit.reason, VMIO_EXIT_HOST_ERROR);
    assert_int_equal((int64_t)res.exit.code, -EFAULT);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    fake_vm_fini(&m);
}

static void test_run_errors(void **state)
{
    (void)state;
    struct fake_vm m, other;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_init(&other, VMIO_UNCLAIMED_IGNORE, false);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    fake_vm_vcpu(&other, 0);
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, NULL, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "running 2 vCPUs needs the in-kernel irqchip"));
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 0, NULL, &res, &err), -EINVAL);
    assert_int_equal(vmio_vm_run(m.vm, NULL, 1, NULL, &res, &err), -EINVAL);
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 1, NULL, NULL, &err), -EINVAL);
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 65, NULL, &res, &err), -EINVAL);
    struct vmio_vcpu *twice[2] = {m.vcpu[0], m.vcpu[0]};
    assert_int_equal(vmio_vm_run(m.vm, twice, 2, NULL, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "vCPU 0 is given twice"));
    struct vmio_vcpu *foreign[1] = {other.vcpu[0]};
    assert_int_equal(vmio_vm_run(m.vm, foreign, 1, NULL, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "a vCPU of another VM"));
    struct vmio_vcpu *holes[2] = {m.vcpu[0], NULL};
    assert_int_equal(vmio_vm_run(m.vm, holes, 2, NULL, &res, &err), -EINVAL);
    /* Nothing ran. */
    assert_int_equal(cpu_info(&m, 0).enters, 0);
    assert_int_equal(cpu_info(&m, 1).enters, 0);
    /* One vCPU without the irqchip is the classic run. */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_HLT, 0);
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 1, NULL, &res, &err), 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_HLT);
    fake_vm_fini(&other);
    fake_vm_fini(&m);
}

#define CHURN_VCPUS 4
#define CHURN_READS 2000

/* A device that answers anything (never reached by the script); the churn thread moves it. */
static const struct vmio_device_ops null_ops = {.read = kicker_read, .write = null_write};

struct churner {
    struct fake_vm *m;
    struct vmio_device magic;
    int failures;
};

static void *churn(void *arg)
{
    struct churner *c = arg;
    struct vmio_bus *pio = vmio_vm_bus(c->m->vm, VMIO_SPACE_PIO);
    struct vmio_bus *mmio = vmio_vm_bus(c->m->vm, VMIO_SPACE_MMIO);
    for (int i = 0; i < 300; i++) {
        struct vmio_error err = {0};
        uint64_t port = 0x7200 + (uint64_t)(i % 16) * 4;
        uint64_t gpa = 0xe0000000ULL + (uint64_t)(i % 16) * 0x1000;
        if (vmio_bus_register(pio, &c->magic, port, 4, &err) != 0 ||
            vmio_bus_register(mmio, &c->magic, gpa, 0x1000, &err) != 0 ||
            vmio_bus_unregister(pio, &c->magic, port, &err) != 0 ||
            vmio_bus_unregister(mmio, &c->magic, gpa, &err) != 0)
            c->failures++;
    }
    /* Then stop everything: every vCPU is blocked or about to be. */
    for (unsigned i = 0; i < CHURN_VCPUS; i++)
        if (vmio_fake_wait_blocked(c->m->fake, i) != 0)
            c->failures++;
    vmio_vm_stop(c->m->vm);
    return NULL;
}

/* Four vCPUs taking exits while another thread changes both buses. */
static void test_many_vcpus_with_bus_churn(void **state)
{
    (void)state;
    struct fake_vm m;
    fake_vm_init(&m, VMIO_UNCLAIMED_IGNORE, true);
    for (unsigned i = 0; i < CHURN_VCPUS; i++) {
        fake_vm_vcpu(&m, i);
        for (int j = 0; j < CHURN_READS; j++)
            vmio_fake_push_io(
                m.fake, i, j % 2 ? VMIO_SPACE_MMIO : VMIO_SPACE_PIO, VMIO_READ, 4,
                (j % 2 ? VMIO_TESTDEV_MMIO_BASE : VMIO_TESTDEV_PIO_BASE) + VMIO_TESTDEV_PATTERN, 0);
        vmio_fake_push_kind(m.fake, i, VMIO_FAKE_BLOCK, 0);
    }
    struct churner c = {.m = &m, .magic = {.name = "magic", .ops = &null_ops}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, churn, &c), 0);
    struct vmio_exit exits[CHURN_VCPUS];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, CHURN_VCPUS, &ro, &res, &err), 0);
    pthread_join(th, NULL);
    assert_int_equal(c.failures, 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_INTR);
    for (unsigned i = 0; i < CHURN_VCPUS; i++) {
        assert_int_equal(exits[i].reason, VMIO_EXIT_INTR);
        assert_int_equal(cpu_info(&m, i).replayed, CHURN_READS + 1);
    }
    struct vmio_stats *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    vmio_vm_stats(m.vm, st);
    assert_int_equal(st->kind[VMIO_STAT_PIO_IN].count, CHURN_VCPUS * CHURN_READS / 2);
    assert_int_equal(st->kind[VMIO_STAT_MMIO_READ].count, CHURN_VCPUS * CHURN_READS / 2);
    assert_int_equal(st->kind[VMIO_STAT_UNCLAIMED_READ].count, 0);
    free(st);
    fake_vm_fini(&m);
}

struct run_thread {
    struct fake_vm *m;
    struct vmio_exit exits[2];
    struct vmio_run_result res;
    int rc;
    atomic_int done;
};

static void *run_vm_main(void *arg)
{
    struct run_thread *r = arg;
    struct vmio_run_options ro = {.exits = r->exits};
    r->rc = vmio_vm_run(r->m->vm, r->m->vcpu, 2, &ro, &r->res, NULL);
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_stop_while_serial_output_blocked(void **state)
{
    (void)state;
    /* COM1's output is a pipe whose buffer is full and that nobody reads. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
    static char chunk[4096];
    while (write(p[1], chunk, sizeof(chunk)) > 0)
        ;
    while (write(p[1], chunk, 1) > 0)
        ;
    assert_int_equal(fcntl(p[1], F_SETFL, 0), 0);
    struct vmio_chardev *serial = NULL;
    assert_int_equal(vmio_chardev_open_stdio_fds(-1, p[1], &serial, NULL), 0);

    struct fake_vm m;
    memset(&m, 0, sizeof(m));
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&m.fake, &err), 0);
    vmio_manual_clock_init(&m.clk, 1000000, 0);
    m.log = open_memstream(&m.logbuf, &m.loglen);
    struct vmio_vm_options o = {.mem_size = 2u << 20,
                                .log = m.log,
                                .irqchip = true,
                                .backend = vmio_fake_backend(m.fake),
                                .clock = &m.clk.clock};
    assert_int_equal(vmio_vm_create(&o, &m.vm, &err), 0);
    assert_int_equal(vmio_add_com1(m.vm, serial, &err), 0);
    fake_vm_vcpu(&m, 0);
    fake_vm_vcpu(&m, 1);
    /* vCPU 0 sleeps in the guest; vCPU 1 prints a line: the newline flushes into the pipe. */
    vmio_fake_push_kind(m.fake, 0, VMIO_FAKE_BLOCK, 0);
    vmio_fake_push_io(m.fake, 1, VMIO_SPACE_PIO, VMIO_WRITE, 1, VMIO_COM1_PORT + VMIO_UART16550_THR,
                      '\n');
    vmio_fake_push_kind(m.fake, 1, VMIO_FAKE_BLOCK, 0);

    struct run_thread r = {.m = &m};
    atomic_init(&r.done, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_vm_main, &r), 0);
    /* Wait until vCPU 1 has taken its THR write (it is then writing, or past it). */
    const struct timespec ms = {0, 1000000};
    while (cpu_info(&m, 1).replayed < 1)
        nanosleep(&ms, NULL);
    /* Stop until it stops: a kick may land before vCPU 1 starts waiting, and kicks do not
     * queue. Before the fix vCPU 1 sat in write(2) for ever (SA_RESTART restarts it). */
    while (!atomic_load(&r.done)) {
        vmio_vm_stop(m.vm);
        nanosleep(&ms, NULL);
    }
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.exits[0].reason, VMIO_EXIT_INTR);
    assert_int_equal(r.exits[1].reason, VMIO_EXIT_INTR);
    assert_int_equal(vmio_chardev_output_dropped(serial), 1); /* the newline, not written */
    fake_vm_fini(&m);
    vmio_chardev_close(serial);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_before_run),
        cmocka_unit_test(test_kick_while_blocked),
        cmocka_unit_test(test_stray_eintr),
        cmocka_unit_test(test_kick_from_device),
        cmocka_unit_test(test_stopped_while_kicked),
        cmocka_unit_test(test_first_exit_wins),
        cmocka_unit_test(test_first_exit_from_ap),
        cmocka_unit_test(test_vm_stop),
        cmocka_unit_test(test_thread_init_failure),
        cmocka_unit_test(test_host_error_from_enter),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_many_vcpus_with_bus_churn),
        cmocka_unit_test(test_stop_while_serial_output_blocked),
    };
    return cmocka_run_group_tests_name("vm_run_fake", tests, NULL, NULL);
}
