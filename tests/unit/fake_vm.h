/*
 * A VM on the scripted fake backend, for the unit tests that drive vmio's
 * run loop with no /dev/kvm (test_run_loop.c, test_vm_fake.c,
 * test_vm_run_fake.c): vmio's standard machine (COM1 id 0, debug-exit 1,
 * debugcon 2, testdev-mmio 3, testdev-pio 4, testdev-msr 5), 2 MiB of RAM, a manual clock
 * for the handling-time statistics (it only moves when a test or a device
 * advances it) and the unclaimed-access log captured in memory.
 *
 * Invariant: fake_vm_fini() releases everything fake_vm_init() made, so the
 * tests stay clean under ASan; the fake outlives the VM.
 */
#ifndef VMIO_TEST_FAKE_VM_H
#define VMIO_TEST_FAKE_VM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/backend_fake.h"
#include "vmio/clock.h"
#include "vmio/devices.h"
#include "vmio/testdev_regs.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define FAKE_VM_COM1_ID 0
#define FAKE_VM_TESTDEV_MMIO_ID 3
#define FAKE_VM_TESTDEV_PIO_ID 4

struct fake_vm {
    struct vmio_fake *fake;
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu[4];
    struct vmio_manual_clock clk;
    FILE *log; /* the VM's unclaimed-access log */
    char *logbuf;
    size_t loglen;
};

/* A VM with @policy and, with @irqchip, the (fake) in-kernel irqchip; no vCPU yet. */
static inline void fake_vm_init(struct fake_vm *m, enum vmio_unclaimed_policy policy, bool irqchip)
{
    memset(m, 0, sizeof(*m));
    struct vmio_error err = {0};
    assert_int_equal(vmio_fake_create(&m->fake, &err), 0);
    vmio_manual_clock_init(&m->clk, 1000000, 0);
    m->log = open_memstream(&m->logbuf, &m->loglen);
    assert_non_null(m->log);
    struct vmio_vm_options o = {.mem_size = 2u << 20,
                                .unclaimed = policy,
                                .log = m->log,
                                .irqchip = irqchip,
                                .backend = vmio_fake_backend(m->fake),
                                .clock = &m->clk.clock};
    if (vmio_vm_create(&o, &m->vm, &err) != 0)
        fail_msg("vmio_vm_create: %s", err.msg);
    if (vmio_add_standard_devices(m->vm, NULL, NULL, &err) != 0)
        fail_msg("vmio_add_standard_devices: %s", err.msg);
}

/* vCPU @i of the VM into m->vcpu[i]. */
static inline void fake_vm_vcpu(struct fake_vm *m, unsigned i)
{
    struct vmio_error err = {0};
    if (vmio_vcpu_create(m->vm, i, &m->vcpu[i], &err) != 0)
        fail_msg("vmio_vcpu_create %u: %s", i, err.msg);
}

/* vCPU @v's statistics (vmio_vcpu_stats()) in a static copy, valid until the next call. */
static inline const struct vmio_stats *fake_vm_stats(const struct vmio_vcpu *v)
{
    static struct vmio_stats s;
    vmio_vcpu_stats(v, &s);
    return &s;
}

/* Everything written to the log so far (NUL-terminated). */
static inline const char *fake_vm_log(struct fake_vm *m)
{
    fflush(m->log);
    return m->logbuf ? m->logbuf : "";
}

static inline void fake_vm_fini(struct fake_vm *m)
{
    for (unsigned i = 0; i < sizeof(m->vcpu) / sizeof(m->vcpu[0]); i++)
        vmio_vcpu_destroy(m->vcpu[i]);
    vmio_vm_destroy(m->vm);
    vmio_fake_destroy(m->fake);
    fclose(m->log);
    free(m->logbuf);
}

/* vmio_vcpu_run() of vCPU @i, expecting return code @rc; the exit. */
static inline struct vmio_exit fake_vm_run(struct fake_vm *m, unsigned i, int rc)
{
    struct vmio_exit e;
    memset(&e, 0, sizeof(e));
    assert_int_equal(vmio_vcpu_run(m->vcpu[i], &e), rc);
    return e;
}

/* Flat 32-bit protected mode (paging off) for vCPU @cpu, so RIP is a guest-physical address. */
static inline void fake_vm_flat32(struct fake_vm *m, unsigned cpu)
{
    struct vmio_x86_sregs s;
    assert_int_equal(vmio_fake_get_sregs(m->fake, cpu, &s), 0);
    s.cs.base = 0;
    s.cs.limit = 0xffffffff;
    s.cs.db = 1;
    s.cr0 = 1;
    assert_int_equal(vmio_fake_set_sregs(m->fake, cpu, &s), 0);
}

/* Copy @len bytes of @bytes to guest-physical @gpa. */
static inline void fake_vm_poke(struct fake_vm *m, uint64_t gpa, const void *bytes, size_t len)
{
    assert_int_equal(vmio_guest_mem_write(vmio_vm_memory(m->vm), gpa, bytes, len), 0);
}

/* A step with a RIP: what the guest was executing at that exit. */
static inline int fake_vm_push_io_at(struct fake_vm *m, unsigned cpu, enum vmio_space space,
                                     enum vmio_dir dir, unsigned width, uint64_t addr,
                                     uint64_t data, uint64_t ip)
{
    struct vmio_fake_step s = {.kind = VMIO_FAKE_IO,
                               .access = {.space = (uint8_t)space,
                                          .dir = (uint8_t)dir,
                                          .width = (uint8_t)width,
                                          .count = 1,
                                          .addr = addr,
                                          .data = data},
                               .ip = ip};
    int n = vmio_fake_push(m->fake, cpu, &s);
    assert_true(n >= 0);
    return n;
}

#endif
