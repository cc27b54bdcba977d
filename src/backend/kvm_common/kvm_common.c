/*
 * The KVM ioctls and exit reasons both KVM backends share (kvm_common.h).
 * Pure wrappers: no state, so each backend keeps its own capabilities and
 * decides whether to call them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/kvm_common/kvm_common.h"

int vmio_kvm_open_vm(struct vmio_kvm_vm *k, struct vmio_error *err)
{
    *k = (struct vmio_kvm_vm){.kvm_fd = -1, .vm_fd = -1};
    int rc;
    k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (k->kvm_fd < 0) {
        rc = errno == ENOENT ? -ENODEV : -errno;
        return vmio_error_set(err, rc, "cannot open /dev/kvm: %s", strerror(errno));
    }
    int version = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
    k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (version != KVM_API_VERSION) {
        rc = vmio_error_set(err, -ENOTSUP, "/dev/kvm speaks API version %d, vmio needs %d", version,
                            KVM_API_VERSION);
    } else if (k->run_size < (int)sizeof(struct kvm_run)) {
        rc = vmio_error_set(err, -EIO, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    } else if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
        /* The run loop stops a vCPU only through it (core/vcpu.c, "Kicks"): required. */
        rc = vmio_error_set(err, -ENOTSUP,
                            "this KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11 or later), "
                            "which vmio needs to stop vCPUs");
    } else if ((k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0)) < 0) {
        rc = vmio_error_set(err, -errno, "KVM_CREATE_VM: %s", strerror(errno));
    } else {
        k->immediate_exit = true;
        k->ioeventfd = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
        k->irqfd = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0;
        k->resample = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE) > 0;
        return 0;
    }
    vmio_kvm_close_vm(k);
    return rc;
}

void vmio_kvm_close_vm(struct vmio_kvm_vm *k)
{
    if (k->vm_fd >= 0)
        close(k->vm_fd);
    if (k->kvm_fd >= 0)
        close(k->kvm_fd);
    k->vm_fd = k->kvm_fd = -1;
}

int vmio_kvm_set_memory(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
                        bool readonly, struct vmio_error *err)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot,
        .flags = readonly ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return vmio_error_set(err, -errno,
                              "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size 0x%llx: %s", slot,
                              (unsigned long long)gpa, (unsigned long long)size, strerror(errno));
    return 0;
}

int vmio_kvm_ioeventfd(int vm_fd, bool pio_ok, int fd, enum vmio_space space, uint64_t addr,
                       unsigned len, bool datamatch, uint64_t data, bool assign,
                       struct vmio_error *err)
{
    if (space != VMIO_SPACE_MMIO && !(pio_ok && space == VMIO_SPACE_PIO))
        return vmio_error_set(err, -EINVAL,
                              "KVM_IOEVENTFD: address space %s (this architecture: %s)",
                              vmio_space_name(space), pio_ok ? "MMIO or ports" : "MMIO only");
    struct kvm_ioeventfd k = {
        .datamatch = datamatch ? data : 0,
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (space == VMIO_SPACE_PIO ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };
    if (ioctl(vm_fd, KVM_IOEVENTFD, &k) < 0)
        return vmio_error_set(err, -errno, "KVM_IOEVENTFD %s %s 0x%llx width %u: %s",
                              assign ? "assign" : "deassign",
                              space == VMIO_SPACE_PIO ? "port" : "MMIO", (unsigned long long)addr,
                              len, strerror(errno));
    return 0;
}

int vmio_kvm_irqfd(int vm_fd, int fd, unsigned gsi, int resample_fd, bool assign,
                   const char *line_name, struct vmio_error *err)
{
    struct kvm_irqfd k = {.fd = (uint32_t)fd, .gsi = gsi};
    if (!assign) {
        k.flags = KVM_IRQFD_FLAG_DEASSIGN;
    } else if (resample_fd >= 0) {
        k.flags = KVM_IRQFD_FLAG_RESAMPLE;
        k.resamplefd = (uint32_t)resample_fd;
    }
    if (ioctl(vm_fd, KVM_IRQFD, &k) < 0)
        return vmio_error_set(err, -errno, "KVM_IRQFD %s %s %u: %s", assign ? "assign" : "deassign",
                              line_name, gsi, strerror(errno));
    return 0;
}

void vmio_kvm_common_exit(const struct kvm_run *run, struct vmio_exit *exit)
{
    switch (run->exit_reason) {
    case KVM_EXIT_SYSTEM_EVENT:
        exit->reason = run->system_event.type == KVM_SYSTEM_EVENT_RESET      ? VMIO_EXIT_RESET
                       : run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? VMIO_EXIT_POWEROFF
                                                                             : VMIO_EXIT_SHUTDOWN;
        exit->code = run->system_event.type;
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        exit->reason = VMIO_EXIT_INTERNAL_ERROR;
        exit->code = run->internal.suberror;
        break;
    case KVM_EXIT_FAIL_ENTRY:
        exit->reason = VMIO_EXIT_FAIL_ENTRY;
        exit->code = run->fail_entry.hardware_entry_failure_reason;
        break;
    case KVM_EXIT_INTR:
        exit->reason = VMIO_EXIT_INTR;
        break;
    case KVM_EXIT_SHUTDOWN:
        exit->reason = VMIO_EXIT_SHUTDOWN;
        break;
    default:
        exit->reason = VMIO_EXIT_UNKNOWN;
        exit->code = run->exit_reason;
        break;
    }
}
