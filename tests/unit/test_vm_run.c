/*
 * Running several vCPUs against real KVM (needs /dev/kvm: meson runs it
 * through vmio-kvm-exec, natively or in the nested KVM VM; never skipped): vmio_vm_run(),
 * vmio_vcpu_kick() and vmio_vm_stop() on tiny hand-assembled guests (bytes below, with their
 * source). vCPU 0 starts in 32-bit protected mode at 0x1000 (the multiboot
 * state); vCPU 1 waits for SIPI as KVM leaves an application processor with
 * the in-kernel LAPIC, and the code at 0x1000 may start it in real mode at
 * 0x2000 with INIT-SIPI (vector 2) through its local APIC.
 * Checks: the first exit wins and names its vCPU; a vCPU spinning in the
 * guest and one blocked in KVM_RUN waiting for SIPI are both kicked
 * (a kick that never lands shows as the test's timeout: nothing here
 * measures real time); kicks made before a run, vmio_vm_stop(), thread_init
 * failures, argument errors (two vCPUs without the irqchip); and bus
 * registrations from another thread while both vCPUs take exits (TSan
 * builds check it). The same logic runs without KVM on the fake backend in
 * test_vm_run_fake.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "vmio/boot.h"
#include "vmio/devices.h"
#include "vmio/testdev_regs.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define BSP_ENTRY 0x1000
#define AP_ENTRY 0x2000
#define AP_FLAG 0x3000
#define MAGIC_PORT 0x7100
#define MAGIC_VALUE 0x600dcafeu

/*
 * 32-bit: software-enable the local APIC (KVM sends no IPI from a disabled
 * one), INIT then SIPI(2) to APIC 1, wait for the byte at 0x3000, write 0x2a
 * to port 0xf4.
 */
static const uint8_t bsp_start_ap_then_exit[] = {
    0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, /* movl $0x1ff, SVR: enable */
    0xc7, 0x05, 0x10, 0x03, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x01, /* movl $0x01000000, ICR high */
    0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00, 0x45, 0x00, 0x00, /* movl $0x4500, ICR low: INIT */
    0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x02, 0x46, 0x00, 0x00, /* movl $0x4602: SIPI vector 2 */
    0xf3, 0x90,                                                 /* 1: pause */
    0x80, 0x3d, 0x00, 0x30, 0x00, 0x00, 0x00,                   /* cmpb $0, 0x3000 */
    0x74, 0xf5,                                                 /* je 1b */
    0xb0, 0x2a, 0xe6, 0xf4,                                     /* mov $0x2a, %al; out %al, $0xf4 */
    0xf4, 0xeb, 0xfd,                                           /* 2: hlt; jmp 2b */
};

/* 32-bit: write 0x2a to port 0xf4 at once. */
static const uint8_t bsp_exit[] = {0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd};

/* 32-bit: spin forever without exits. */
static const uint8_t bsp_spin[] = {0xf3, 0x90, 0xeb, 0xfc}; /* 1: pause; jmp 1b */

/* 32-bit: enable the LAPIC, start the AP, then read port 0x7100 until it returns MAGIC_VALUE, then
 * exit. */
static const uint8_t bsp_start_ap_poll_magic[] = {
    0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, /* movl $0x1ff, SVR: enable */
    0xc7, 0x05, 0x10, 0x03, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x01, /* ICR high: APIC 1 */
    0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x00, 0x45, 0x00, 0x00, /* INIT */
    0xc7, 0x05, 0x00, 0x03, 0xe0, 0xfe, 0x02, 0x46, 0x00, 0x00, /* SIPI vector 2 */
    0x66, 0xba, 0x00, 0x71,                                     /* mov $0x7100, %dx */
    0xed,                                                       /* 1: in (%dx), %eax */
    0x3d, 0xfe, 0xca, 0x0d, 0x60,                               /* cmp $0x600dcafe, %eax */
    0x75, 0xf8,                                                 /* jne 1b */
    0xb0, 0x2a, 0xe6, 0xf4,                                     /* out 0x2a to 0xf4 */
    0xf4, 0xeb, 0xfd,                                           /* 2: hlt; jmp 2b */
};

/* 16-bit (the AP after SIPI): set the byte at 0x3000, then spin forever. */
static const uint8_t ap_flag_then_spin[] = {
    0xc6, 0x06, 0x00, 0x30, 0x01, /* movb $1, 0x3000 */
    0xeb, 0xfe,                   /* 1: jmp 1b */
};

/* 16-bit: read testdev-pio's READS register forever (one exit each). */
static const uint8_t ap_read_testdev[] = {
    0xba, 0x10, 0x70, /* mov $0x7010, %dx */
    0x66, 0xed,       /* 1: in (%dx), %eax */
    0xeb, 0xfc,       /* jmp 1b */
};

struct machine {
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu[2];
    struct vmio_device *testdev_pio; /* owned by the VM */
    uint64_t own_reads;              /* READS reads made by testdev_reads() itself */
};

static void put(struct vmio_vm *vm, uint64_t gpa, const uint8_t *code, size_t len)
{
    void *p = vmio_vm_gpa_to_host(vm, gpa, len);
    assert_non_null(p);
    memcpy(p, code, len);
}

/* A VM with the irqchip, debug-exit and testdev-pio, @ncpus vCPUs, vCPU 0 entering @bsp. */
static void machine_init(struct machine *m, unsigned ncpus, bool irqchip, const uint8_t *bsp,
                         size_t bsp_len, const uint8_t *ap, size_t ap_len)
{
    memset(m, 0, sizeof(*m));
    struct vmio_vm_options o = {.mem_size = 4u << 20, .irqchip = irqchip};
    struct vmio_error err = {0};
    if (vmio_vm_create(&o, &m->vm, &err) != 0)
        fail_msg("vmio_vm_create: %s", err.msg);
    struct vmio_device *dbg = NULL;
    assert_int_equal(vmio_debug_exit_create("debug-exit", &dbg, NULL), 0);
    assert_int_equal(
        vmio_vm_attach_device(m->vm, VMIO_SPACE_PIO, dbg, VMIO_DEBUG_EXIT_PORT, 1, &err), 0);
    assert_int_equal(vmio_testdev_create("testdev-pio", &m->testdev_pio, NULL), 0);
    assert_int_equal(vmio_vm_attach_device(m->vm, VMIO_SPACE_PIO, m->testdev_pio,
                                           VMIO_TESTDEV_PIO_BASE, VMIO_TESTDEV_PIO_SIZE, &err),
                     0);
    put(m->vm, BSP_ENTRY, bsp, bsp_len);
    if (ap)
        put(m->vm, AP_ENTRY, ap, ap_len);
    for (unsigned i = 0; i < ncpus; i++)
        if (vmio_vcpu_create(m->vm, i, &m->vcpu[i], &err) != 0)
            fail_msg("vmio_vcpu_create %u: %s", i, err.msg);
    struct vmio_boot_info boot = {.entry = BSP_ENTRY};
    assert_int_equal(vmio_x86_setup_multiboot(m->vcpu[0], &boot, &err), 0);
}

static void machine_fini(struct machine *m)
{
    for (unsigned i = 0; i < 2; i++)
        vmio_vcpu_destroy(m->vcpu[i]);
    vmio_vm_destroy(m->vm);
}

struct stopper {
    struct vmio_vm *vm;
    uint64_t delay_ns;
    atomic_bool stopped; /* set just before vmio_vm_stop() */
};

/* Thread: vmio_vm_stop() after a delay (pacing only: nothing measures it). */
static void *stop_later(void *arg)
{
    struct stopper *s = arg;
    struct timespec ts = {.tv_sec = (time_t)(s->delay_ns / 1000000000ULL),
                          .tv_nsec = (long)(s->delay_ns % 1000000000ULL)};
    nanosleep(&ts, NULL);
    atomic_store(&s->stopped, true);
    vmio_vm_stop(s->vm);
    return NULL;
}

/*
 * Reads of testdev's port window by the guest. READS counts every read before
 * the current one, this helper's own included: a host that polls it while a
 * slow guest (the nested VM) has made few reads must not count its polls.
 * Called by one thread at a time.
 */
static uint64_t testdev_reads(struct machine *m)
{
    uint64_t v = 0;
    assert_int_equal(vmio_device_read(m->testdev_pio, VMIO_TESTDEV_READS, 8, &v), 0);
    return v - m->own_reads++;
}

/* vCPU 1 runs (spins in real mode, no exits); vCPU 0's debug-exit ends the run and kicks it. */
static void test_first_exit_kicks_spinning_ap(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, true, bsp_start_ap_then_exit, sizeof(bsp_start_ap_then_exit),
                 ap_flag_then_spin, sizeof(ap_flag_then_spin));
    unsigned mp = 99;
    assert_int_equal(vmio_vcpu_mp_state(m.vcpu[1], &mp), 0);
    assert_int_equal(mp, VMIO_MP_WAIT_SIPI);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 0);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(res.exit.code, 0x2a);
    assert_int_equal(exits[0].reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    uint8_t *flag = vmio_vm_gpa_to_host(m.vm, AP_FLAG, 1);
    assert_int_equal(*flag, 1); /* the AP really ran */
    assert_int_equal(vmio_vcpu_mp_state(m.vcpu[1], &mp), 0);
    assert_int_equal(mp, VMIO_MP_RUNNABLE);

    /*
     * No kick is left behind: vCPU 1 alone (still spinning) now runs until
     * vmio_vm_stop() from another thread: the run cannot end before the
     * stopper says it stopped it.
     */
    struct stopper st = {.vm = m.vm, .delay_ns = 100000000};
    atomic_init(&st.stopped, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_later, &st), 0);
    struct vmio_vcpu *ap = m.vcpu[1];
    assert_int_equal(vmio_vm_run(m.vm, &ap, 1, NULL, &res, &err), 0);
    assert_true(atomic_load(&st.stopped));
    pthread_join(th, NULL);
    assert_int_equal(res.vcpu, 1);
    assert_int_equal(res.exit.reason, VMIO_EXIT_INTR);
    machine_fini(&m);
}

/* vCPU 1 never started: it sleeps in KVM_RUN waiting for SIPI and must be kicked out. */
static void test_first_exit_kicks_ap_waiting_for_sipi(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, true, bsp_exit, sizeof(bsp_exit), NULL, 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(res.vcpu, 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    unsigned mp = 99;
    assert_int_equal(vmio_vcpu_mp_state(m.vcpu[1], &mp), 0);
    assert_int_equal(mp, VMIO_MP_WAIT_SIPI);
    machine_fini(&m);
}

/* A kick made before a run ends that run at once, and only that one. */
static void test_kick_before_run(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 1, false, bsp_exit, sizeof(bsp_exit), NULL, 0);
    vmio_vcpu_kick(m.vcpu[0]);
    vmio_vcpu_kick(m.vcpu[0]); /* kicks do not queue */
    struct vmio_exit e;
    assert_int_equal(vmio_vcpu_run(m.vcpu[0], &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_INTR);
    assert_int_equal(vmio_vcpu_run(m.vcpu[0], &e), 0);
    assert_int_equal(e.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(e.code, 0x2a);
    assert_int_equal(vmio_vcpu_index(m.vcpu[0]), 0);
    machine_fini(&m);
}

/* vmio_vm_stop() ends a run of two vCPUs: one spinning, one waiting for SIPI. */
static void test_vm_stop(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, true, bsp_spin, sizeof(bsp_spin), NULL, 0);
    struct stopper st = {.vm = m.vm, .delay_ns = 50000000};
    atomic_init(&st.stopped, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_later, &st), 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_true(atomic_load(&st.stopped));
    pthread_join(th, NULL);
    assert_int_equal(res.exit.reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[0].reason, VMIO_EXIT_INTR);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    machine_fini(&m);
}

/* thread_init failing on vCPU 1 stops the run; its message comes back. */
static int fail_on_vcpu1(void *ctx, unsigned index, struct vmio_error *err)
{
    atomic_fetch_add((atomic_uint *)ctx, 1);
    if (index == 1)
        return vmio_error_set(err, -EPERM, "vCPU %u: not allowed", index);
    return 0;
}

static void test_thread_init_failure(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, true, bsp_spin, sizeof(bsp_spin), NULL, 0);
    atomic_uint calls;
    atomic_init(&calls, 0);
    struct vmio_run_options ro = {.thread_init = fail_on_vcpu1, .ctx = &calls};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    assert_int_equal(atomic_load(&calls), 2);
    assert_int_equal(res.vcpu, 1);
    assert_int_equal(res.exit.reason, VMIO_EXIT_HOST_ERROR);
    assert_int_equal(res.err.code, -EPERM);
    assert_string_equal(res.err.msg, "vCPU 1: not allowed");
    machine_fini(&m);
}

/* Argument errors: nothing runs. */
static void test_run_errors(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, false, bsp_exit, sizeof(bsp_exit), NULL, 0);
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, NULL, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "irqchip"));
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 0, NULL, &res, &err), -EINVAL);
    struct vmio_vcpu *twice[2] = {m.vcpu[0], m.vcpu[0]};
    assert_int_equal(vmio_vm_run(m.vm, twice, 2, NULL, &res, &err), -EINVAL);
    /* One vCPU without the irqchip is the classic run. */
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 1, NULL, &res, &err), 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    machine_fini(&m);
}

/* The magic device: every read returns MAGIC_VALUE. */
static int magic_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    unsigned width = io->width;
    (void)dev;
    *value = MAGIC_VALUE & (width >= 4 ? 0xffffffffu : (1u << (8 * width)) - 1);
    return 0;
}

static int ignore_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    (void)dev;
    (void)value;
    return 0;
}

static const struct vmio_device_ops magic_ops = {.read = magic_read, .write = ignore_write};

struct churner {
    struct machine *m;
    struct vmio_device *magic;
    int registrations;
    int failures;
};

/*
 * Register and unregister ranges on both buses while the vCPUs take exits,
 * then put the magic device where vCPU 0 polls: that ends the run.
 */
static void *churn(void *arg)
{
    struct churner *c = arg;
    struct machine *m = c->m;
    struct vmio_bus *pio = vmio_vm_bus(m->vm, VMIO_SPACE_PIO);
    struct vmio_bus *mmio = vmio_vm_bus(m->vm, VMIO_SPACE_MMIO);
    /* Wait until the AP is taking exits on the PIO bus (a hang is the test's timeout). */
    while (testdev_reads(m) < 100)
        usleep(1000);
    for (int i = 0; i < 300; i++) {
        struct vmio_error err = {0};
        uint64_t port = 0x7200 + (uint64_t)(i % 16) * 4;
        uint64_t gpa = 0xe0000000ULL + (uint64_t)(i % 16) * 0x1000;
        if (vmio_bus_register(pio, c->magic, port, 4, &err) != 0 ||
            vmio_bus_register(mmio, c->magic, gpa, 0x1000, &err) != 0 ||
            vmio_bus_unregister(pio, c->magic, port, &err) != 0 ||
            vmio_bus_unregister(mmio, c->magic, gpa, &err) != 0)
            c->failures++;
        c->registrations += 2;
    }
    struct vmio_error err = {0};
    if (vmio_bus_register(pio, c->magic, MAGIC_PORT, 4, &err) != 0)
        c->failures++;
    return NULL;
}

static void test_bus_registration_while_running(void **state)
{
    (void)state;
    struct machine m;
    machine_init(&m, 2, true, bsp_start_ap_poll_magic, sizeof(bsp_start_ap_poll_magic),
                 ap_read_testdev, sizeof(ap_read_testdev));
    struct vmio_device magic = {.name = "magic", .ops = &magic_ops};
    struct churner c = {.m = &m, .magic = &magic};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, churn, &c), 0);
    struct vmio_exit exits[2];
    struct vmio_run_options ro = {.exits = exits};
    struct vmio_run_result res;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_run(m.vm, m.vcpu, 2, &ro, &res, &err), 0);
    pthread_join(th, NULL);
    assert_int_equal(c.failures, 0);
    assert_int_equal(c.registrations, 600);
    assert_int_equal(res.vcpu, 0);
    assert_int_equal(res.exit.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_int_equal(exits[1].reason, VMIO_EXIT_INTR);
    assert_true(testdev_reads(&m) >= 100); /* the AP took exits throughout */
    /* Both vCPUs' exits are in the VM's totals. */
    struct vmio_stats *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    vmio_vm_stats(m.vm, st);
    assert_true(st->kind[VMIO_STAT_PIO_IN].count >= 100 + 1);
    free(st);
    /* Unregister the magic device before it goes out of scope (the VM does not own it). */
    assert_int_equal(
        vmio_bus_unregister(vmio_vm_bus(m.vm, VMIO_SPACE_PIO), &magic, MAGIC_PORT, &err), 0);
    machine_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_exit_kicks_spinning_ap),
        cmocka_unit_test(test_first_exit_kicks_ap_waiting_for_sipi),
        cmocka_unit_test(test_kick_before_run),
        cmocka_unit_test(test_vm_stop),
        cmocka_unit_test(test_thread_init_failure),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_bus_registration_while_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
