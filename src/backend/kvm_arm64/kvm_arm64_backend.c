/*
 * The AArch64 KVM backend: vmio's backend ops (vmio/backend.h) on /dev/kvm
 * of an AArch64 host. Built instead of src/backend/kvm/ when vmio is built
 * for AArch64 (meson: host_machine.cpu_family()), so it is the only arm64
 * code with <linux/kvm.h>, and vmio_backend_kvm() is this one there.
 *
 * What it does that the x86 backend does not:
 *   - the VM asks for KVM_CAP_ARM_NISV_TO_USER, so a data abort whose
 *     syndrome does not describe the access (ISV=0) comes to vmio as
 *     KVM_EXIT_ARM_NISV instead of an external abort injected into the guest;
 *     it becomes VMIO_EXIT_ARM_NISV (code = ESR rebuilt from KVM's ISS,
 *     access.addr = the faulting IPA), which the run loop emulates;
 *   - the interrupt controller is an in-kernel vGIC (create_irqchip): GICv3
 *     at the layout of vmio/arm64_virt.h, GICv2 where v3 is missing; it is
 *     initialised (KVM_DEV_ARM_VGIC_CTRL_INIT) by irqchip_finalize, or else
 *     at the first entry of any vCPU, once, since KVM wants every vCPU
 *     created first;
 *   - vCPUs are initialised with the host's preferred target and PSCI 0.2+
 *     (in-kernel PSCI: CPU_ON, SYSTEM_OFF, SYSTEM_RESET); every vCPU but 0
 *     starts powered off and waits in KVM_RUN for the guest's CPU_ON;
 *   - registers are reached by KVM_{GET,SET}_ONE_REG through vmio's own
 *     numbering (vmio/arm64_regs.h); irq_line(gsi) drives SPI gsi
 *     (INTID 32 + gsi), the SPI the device tree names, and so does an
 *     irqfd on GSI gsi (KVM's default routing); ioeventfds are MMIO only.
 * Invariant, as on x86: between an MMIO exit and the next enter, `run`
 * describes that exit and a read completes by a store into run->mmio.data.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/kvm_common/kvm_common.h"
#include "vmio/arm64_regs.h"
#include "vmio/arm64_layout.h"
#include "vmio/backend.h"

/*
 * The ESR's exception class of a data abort from a lower EL (the decoder's
 * VMIO_ARM64_EC_DABT_LOW; backends sit below the decode layer).
 */
#define ESR_EC_DABT_LOW 0x24u
#define GIC_NR_IRQS 256 /* 32 private + 224 SPIs: the UART and all virtio-mmio slots fit */

struct kvma_vm {
    struct vmio_backend_vm base; /* first: the core's handle */
    struct vmio_kvm_vm k;        /* descriptors and common capabilities (kvm_common.h) */
    int gic_fd;                  /* -1 until create_irqchip */
    int gic_version;
    pthread_mutex_t gic_lock;
    atomic_bool gic_ready; /* CTRL_INIT done */
    int gic_error;         /* CTRL_INIT's -errno, once it failed */
    struct kvm_vcpu_init target;
};

struct kvma_vcpu {
    struct vmio_backend_vcpu base; /* first */
    struct kvma_vm *vm;
    int fd;
    struct kvm_run *run;
    int run_size;
    bool immediate_exit;
};

static const struct vmio_backend_ops kvm_arm64_ops;

static struct kvma_vm *to_vm(struct vmio_backend_vm *b)
{
    return (struct kvma_vm *)b;
}

static struct kvma_vcpu *to_vcpu(struct vmio_backend_vcpu *b)
{
    return (struct kvma_vcpu *)b;
}

static void vm_free(struct kvma_vm *vm)
{
    if (vm->gic_fd >= 0)
        close(vm->gic_fd);
    vmio_kvm_close_vm(&vm->k);
    pthread_mutex_destroy(&vm->gic_lock);
    free(vm);
}

static int kvma_vm_create(struct vmio_backend *be, struct vmio_backend_vm **out,
                          struct vmio_error *err)
{
    (void)be;
    struct kvma_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    vm->base.ops = &kvm_arm64_ops;
    vm->gic_fd = -1;
    pthread_mutex_init(&vm->gic_lock, NULL);
    atomic_init(&vm->gic_ready, false);
    int rc = vmio_kvm_open_vm(&vm->k, err);
    if (rc < 0)
        goto fail;
    /* ISV=0 aborts to user space: without it vmio could not emulate pairs and writeback forms. */
    struct kvm_enable_cap cap = {.cap = KVM_CAP_ARM_NISV_TO_USER};
    if (ioctl(vm->k.vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
        rc = vmio_error_set(err, -errno,
                            "KVM_ENABLE_CAP(KVM_CAP_ARM_NISV_TO_USER): %s (Linux 5.5 or later "
                            "reports ISV=0 aborts to user space)",
                            strerror(errno));
        goto fail;
    }
    if (ioctl(vm->k.vm_fd, KVM_ARM_PREFERRED_TARGET, &vm->target) < 0) {
        rc = vmio_error_set(err, -errno, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
        goto fail;
    }
    *out = &vm->base;
    return 0;
fail:
    vm_free(vm);
    return rc;
}

static void kvma_vm_destroy(struct vmio_backend_vm *b)
{
    vm_free(to_vm(b));
}

static int kvma_set_memory(struct vmio_backend_vm *b, uint32_t slot, uint64_t gpa, uint64_t size,
                           void *host, bool readonly, struct vmio_error *err)
{
    return vmio_kvm_set_memory(to_vm(b)->k.vm_fd, slot, gpa, size, host, readonly, err);
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, void *addr)
{
    struct kvm_device_attr a = {.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr};
    return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/* Create the vGIC device of @type; -errno when this KVM has none of it. */
static int gic_create(struct kvma_vm *vm, uint32_t type)
{
    struct kvm_create_device d = {.type = type};
    if (ioctl(vm->k.vm_fd, KVM_CREATE_DEVICE, &d) < 0)
        return -errno;
    vm->gic_fd = (int)d.fd;
    return 0;
}

/* The in-kernel GIC (@pit has no meaning here). v3, else v2, at vmio/arm64_virt.h's addresses. */
static int kvma_create_irqchip(struct vmio_backend_vm *b, bool pit, struct vmio_error *err)
{
    (void)pit;
    struct kvma_vm *vm = to_vm(b);
    if (vm->gic_fd >= 0)
        return vmio_error_set(err, -EEXIST, "the vGIC exists already");
    uint64_t dist = VMIO_ARM64_GICD_BASE, redist = VMIO_ARM64_GICR_BASE, cpu = VMIO_ARM64_GICC_BASE;
    int rc3 = gic_create(vm, KVM_DEV_TYPE_ARM_VGIC_V3), rc = 0;
    if (rc3 == 0) {
        vm->gic_version = 3;
        rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
        if (rc == 0)
            rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
                          &redist);
    } else {
        int rc2 = gic_create(vm, KVM_DEV_TYPE_ARM_VGIC_V2);
        if (rc2 < 0)
            return vmio_error_set(err, rc2,
                                  "KVM_CREATE_DEVICE: no in-kernel GICv3 (%s) nor GICv2 (%s)",
                                  strerror(-rc3), strerror(-rc2));
        vm->gic_version = 2;
        rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
        if (rc == 0)
            rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu);
    }
    uint32_t nr = GIC_NR_IRQS;
    if (rc == 0)
        rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr);
    if (rc < 0)
        return vmio_error_set(err, rc, "setting up the in-kernel GICv%d: %s", vm->gic_version,
                              strerror(-rc));
    return 0;
}

static int kvma_irqchip_version(struct vmio_backend_vm *b)
{
    struct kvma_vm *vm = to_vm(b);
    return vm->gic_fd >= 0 ? vm->gic_version : -ENXIO;
}

/*
 * KVM_DEV_ARM_VGIC_CTRL_INIT, once per VM: at irqchip_finalize (setup), else at
 * the first entry (every vCPU exists by then).
 */
static int gic_ready(struct kvma_vm *vm)
{
    if (vm->gic_fd < 0 || atomic_load_explicit(&vm->gic_ready, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&vm->gic_lock);
    int rc = vm->gic_error;
    if (rc == 0 && !atomic_load(&vm->gic_ready)) {
        rc = gic_attr(vm->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
        if (rc == 0)
            atomic_store_explicit(&vm->gic_ready, true, memory_order_release);
        else
            vm->gic_error = rc;
    }
    pthread_mutex_unlock(&vm->gic_lock);
    return rc;
}

/* irqchip_finalize: CTRL_INIT on the setup thread (vCPU threads run under their filter). */
static int kvma_irqchip_finalize(struct vmio_backend_vm *b)
{
    struct kvma_vm *vm = to_vm(b);
    return vm->gic_fd < 0 ? -ENXIO : gic_ready(vm);
}

/*
 * KVM_IOEVENTFD on the VM descriptor (any thread). AArch64 has no port
 * space: only MMIO. A write matched in the kernel never reaches user space,
 * so it cannot be an ISV=0 form (those always exit as KVM_EXIT_ARM_NISV).
 */
static int kvma_ioeventfd(struct vmio_backend_vm *b, int fd, enum vmio_space space, uint64_t addr,
                          unsigned len, bool datamatch, uint64_t data, bool assign,
                          struct vmio_error *err)
{
    struct kvma_vm *vm = to_vm(b);
    if (!vm->k.ioeventfd)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IOEVENTFD");
    return vmio_kvm_ioeventfd(vm->k.vm_fd, false, fd, space, addr, len, datamatch, data, assign,
                              err);
}

/*
 * KVM_IRQFD: KVM's default routing on arm64 takes GSI n to SPI n (INTID
 * 32 + n), the numbering of irq_line; resampling (KVM_IRQFD_FLAG_RESAMPLE)
 * where the kernel offers it, for level-triggered SPIs.
 */
static int kvma_irqfd(struct vmio_backend_vm *b, int fd, unsigned gsi, int resample_fd, bool assign,
                      struct vmio_error *err)
{
    struct kvma_vm *vm = to_vm(b);
    if (!vm->k.irqfd)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IRQFD");
    if (assign && resample_fd >= 0 && !vm->k.resample)
        return vmio_error_set(err, -ENOTSUP, "this KVM has no KVM_CAP_IRQFD_RESAMPLE");
    if (vm->gic_fd < 0)
        return vmio_error_set(err, -ENXIO, "KVM_IRQFD: the VM has no vGIC");
    if (gsi >= GIC_NR_IRQS - 32)
        return vmio_error_set(err, -EINVAL, "KVM_IRQFD: SPI %u is past the vGIC's %d", gsi,
                              GIC_NR_IRQS - 32);
    return vmio_kvm_irqfd(vm->k.vm_fd, fd, gsi, resample_fd, assign, "SPI", err);
}

/* The SPIs the vGIC is given: what irq_line and irqfd take. */
static unsigned kvma_irq_lines(struct vmio_backend_vm *b)
{
    (void)b;
    return GIC_NR_IRQS - 32;
}

/* SPI @gsi (INTID 32 + gsi) to @level. Any thread. */
static int kvma_irq_line(struct vmio_backend_vm *b, unsigned gsi, int level)
{
    struct kvma_vm *vm = to_vm(b);
    if (vm->gic_fd < 0)
        return -ENXIO;
    if (gsi >= GIC_NR_IRQS - 32)
        return -EINVAL;
    struct kvm_irq_level l = {.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + gsi),
                              .level = level ? 1 : 0};
    return ioctl(vm->k.vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

static void vcpu_free(struct kvma_vcpu *v)
{
    if (v->run && v->run != MAP_FAILED)
        munmap(v->run, (size_t)v->run_size);
    if (v->fd >= 0)
        close(v->fd);
    free(v);
}

/* vCPU @index: preferred target, PSCI 0.2+, powered off unless it is vCPU 0. */
static int kvma_vcpu_create(struct vmio_backend_vm *b, unsigned index, unsigned count,
                            struct vmio_backend_vcpu **out, struct vmio_error *err)
{
    (void)count; /* the device tree, not the vCPU, tells the guest how many there are */
    struct kvma_vm *vm = to_vm(b);
    struct kvma_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    v->base.ops = &kvm_arm64_ops;
    v->vm = vm;
    v->run_size = vm->k.run_size;
    v->immediate_exit = vm->k.immediate_exit;
    int rc;
    v->fd = ioctl(vm->k.vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (v->fd < 0) {
        rc = vmio_error_set(err, -errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
        free(v);
        return rc;
    }
    v->run = mmap(NULL, (size_t)vm->k.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        rc = vmio_error_set(err, -errno, "mmap of vCPU %u run page: %s", index, strerror(errno));
        vcpu_free(v);
        return rc;
    }
    struct kvm_vcpu_init init = vm->target;
    init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (index > 0)
        init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
    if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
        rc =
            vmio_error_set(err, -errno, "KVM_ARM_VCPU_INIT on vCPU %u: %s", index, strerror(errno));
        vcpu_free(v);
        return rc;
    }
    *out = &v->base;
    return 0;
}

static void kvma_vcpu_destroy(struct vmio_backend_vcpu *b)
{
    vcpu_free(to_vcpu(b));
}

#define CORE_REG(field)                                                                            \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                         \
     (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))
/* KVM's own encoding (asm/kvm.h): the backend sits below the decode layer's. */
#define SYS_REG(op0, op1, crn, crm, op2) ARM64_SYS_REG(op0, op1, crn, crm, op2)

/* KVM's ONE_REG id of vmio's register @reg; 0 for none. */
static uint64_t one_reg_id(unsigned reg)
{
    if (reg <= VMIO_ARM64_REG_X30)
        return CORE_REG(regs.regs[0]) + 2 * (uint64_t)reg; /* 64-bit registers: 2 words apart */
    switch (reg) {
    case VMIO_ARM64_REG_SP_EL0:
        return CORE_REG(regs.sp);
    case VMIO_ARM64_REG_PC:
        return CORE_REG(regs.pc);
    case VMIO_ARM64_REG_PSTATE:
        return CORE_REG(regs.pstate);
    case VMIO_ARM64_REG_SP_EL1:
        return CORE_REG(sp_el1);
    case VMIO_ARM64_REG_SCTLR_EL1:
        return SYS_REG(3, 0, 1, 0, 0);
    case VMIO_ARM64_REG_TCR_EL1:
        return SYS_REG(3, 0, 2, 0, 2);
    case VMIO_ARM64_REG_TTBR0_EL1:
        return SYS_REG(3, 0, 2, 0, 0);
    case VMIO_ARM64_REG_TTBR1_EL1:
        return SYS_REG(3, 0, 2, 0, 1);
    case VMIO_ARM64_REG_MPIDR_EL1:
        return SYS_REG(3, 0, 0, 0, 5);
    }
    return 0;
}

static int kvma_get_reg(struct vmio_backend_vcpu *b, unsigned reg, uint64_t *value)
{
    uint64_t id = one_reg_id(reg);
    if (!id)
        return -EINVAL;
    struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)value};
    return ioctl(to_vcpu(b)->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int kvma_set_reg(struct vmio_backend_vcpu *b, unsigned reg, uint64_t value)
{
    uint64_t id = one_reg_id(reg);
    if (!id)
        return -EINVAL;
    struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)&value};
    return ioctl(to_vcpu(b)->fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int kvma_get_ip(struct vmio_backend_vcpu *b, uint64_t *ip)
{
    return kvma_get_reg(b, VMIO_ARM64_REG_PC, ip);
}

/*
 * KVM_RUN and its exit. MMIO: access.buf is run->mmio.data. ARM_NISV: the
 * ESR of a data abort from a lower EL, 32-bit instruction, with KVM's
 * sanitised ISS (WnR, CM, FSC); ISV stays 0.
 */
static int kvma_vcpu_enter(struct vmio_backend_vcpu *b, struct vmio_exit *exit)
{
    struct kvma_vcpu *v = to_vcpu(b);
    struct kvm_run *run = v->run;
    exit->access.reg = VMIO_REG_NONE;
    exit->access.reg_width = 0;
    exit->access.sign_extend = false;
    exit->device = NULL;
    exit->code = 0;
    exit->ip = 0;
    int rc = gic_ready(v->vm);
    if (rc < 0) {
        exit->reason = VMIO_EXIT_HOST_ERROR;
        exit->code = (uint64_t)(-rc);
        return rc;
    }
    if (ioctl(v->fd, KVM_RUN, 0) < 0) {
        rc = -errno;
        if (rc == -EINTR || rc == -EAGAIN) {
            exit->reason = VMIO_EXIT_INTR;
            return 0;
        }
        exit->reason = VMIO_EXIT_HOST_ERROR;
        exit->code = (uint64_t)(-rc);
        return rc;
    }
    struct vmio_access *a = &exit->access;
    switch (run->exit_reason) {
    case KVM_EXIT_MMIO:
        exit->reason = VMIO_EXIT_IO;
        vmio_kvm_translate_mmio(run, exit);
        break;
    case KVM_EXIT_ARM_NISV:
        exit->reason = VMIO_EXIT_ARM_NISV;
        exit->code = ((uint64_t)ESR_EC_DABT_LOW << 26) | (1ull << 25) |
                     (run->arm_nisv.esr_iss & 0x1ffffffull & ~(1ull << 24));
        memset(a, 0, sizeof(*a));
        a->space = VMIO_SPACE_MMIO;
        a->reg = VMIO_REG_NONE;
        a->count = 1;
        a->addr = run->arm_nisv.fault_ipa;
        break;
    default: /* the reasons every architecture shares */
        vmio_kvm_common_exit(run, exit);
        break;
    }
    return 0;
}

static int kvma_set_immediate_exit(struct vmio_backend_vcpu *b, bool on)
{
    struct kvma_vcpu *v = to_vcpu(b);
    if (!v->immediate_exit)
        return -ENOTSUP;
    vmio_kvm_set_immediate_exit(v->run, on);
    return 0;
}

static int kvma_mp_state(struct vmio_backend_vcpu *b, unsigned *state)
{
    struct kvm_mp_state mp;
    if (ioctl(to_vcpu(b)->fd, KVM_GET_MP_STATE, &mp) < 0)
        return -errno;
    *state = mp.mp_state;
    return 0;
}

static const struct vmio_backend_ops kvm_arm64_ops = {
    .name = "kvm-arm64",
    .vm_create = kvma_vm_create,
    .vm_destroy = kvma_vm_destroy,
    .set_memory = kvma_set_memory,
    .create_irqchip = kvma_create_irqchip,
    .irq_line = kvma_irq_line,
    .vcpu_create = kvma_vcpu_create,
    .vcpu_destroy = kvma_vcpu_destroy,
    .vcpu_enter = kvma_vcpu_enter,
    .vcpu_set_immediate_exit = kvma_set_immediate_exit,
    .vcpu_mp_state = kvma_mp_state,
    .vcpu_get_ip = kvma_get_ip,
    .vcpu_get_arm64_reg = kvma_get_reg,
    .vcpu_set_arm64_reg = kvma_set_reg,
    .irqchip_version = kvma_irqchip_version,
    .irqchip_finalize = kvma_irqchip_finalize,
    .ioeventfd = kvma_ioeventfd,
    .irqfd = kvma_irqfd,
    .irq_lines = kvma_irq_lines,
};

static struct vmio_backend kvm_arm64_backend = {.ops = &kvm_arm64_ops};

struct vmio_backend *vmio_backend_kvm(void)
{
    return &kvm_arm64_backend;
}
