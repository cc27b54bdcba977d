/*
 * What both KVM backends (kvm/ for x86-64, kvm_arm64/ for AArch64) do the
 * same way: memory slots, ioeventfds, irqfds, the run page's immediate_exit
 * byte and the exit reasons that mean the same on every architecture. Each
 * backend keeps what is its architecture's own (registers, the irqchip, the
 * exits that describe an access) and calls these with its VM descriptor.
 *
 * Errors are -errno with a message naming the ioctl and its arguments.
 */
#ifndef VMIO_BACKEND_KVM_COMMON_H
#define VMIO_BACKEND_KVM_COMMON_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmio/error.h"
#include "vmio/exit.h"

/* What every KVM VM starts with: the descriptors and the capabilities both backends use. */
struct vmio_kvm_vm {
    int kvm_fd;          /* /dev/kvm */
    int vm_fd;           /* KVM_CREATE_VM */
    int run_size;        /* KVM_GET_VCPU_MMAP_SIZE */
    bool immediate_exit; /* KVM_CAP_IMMEDIATE_EXIT */
    bool ioeventfd;      /* KVM_CAP_IOEVENTFD */
    bool irqfd;          /* KVM_CAP_IRQFD */
    bool resample;       /* KVM_CAP_IRQFD_RESAMPLE */
};

/*
 * vmio_kvm_open_vm - open /dev/kvm, check its API version and run-page size,
 * create a VM and read the capabilities of struct vmio_kvm_vm into *@k.
 * Errors: -ENODEV without /dev/kvm, -ENOTSUP for another API version, -EIO
 * for a bad run-page size, the errno of open(2) or KVM_CREATE_VM; on failure
 * nothing stays open and both descriptors in *@k are -1. The caller closes
 * them (vmio_kvm_close_vm()) when it is done.
 */
int vmio_kvm_open_vm(struct vmio_kvm_vm *k, struct vmio_error *err);

/* vmio_kvm_close_vm - close what vmio_kvm_open_vm() opened (-1 descriptors are skipped). */
void vmio_kvm_close_vm(struct vmio_kvm_vm *k);

/* KVM_SET_USER_MEMORY_REGION on @vm_fd: slot @slot maps [gpa, gpa + size) to @host. */
int vmio_kvm_set_memory(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
                        bool readonly, struct vmio_error *err);

/*
 * KVM_IOEVENTFD on @vm_fd: @fd is signalled by a guest write of @len bytes at
 * @addr in @space (VMIO_SPACE_PIO only where @pio_ok), of @data when
 * @datamatch; @assign false removes it.
 */
int vmio_kvm_ioeventfd(int vm_fd, bool pio_ok, int fd, enum vmio_space space, uint64_t addr,
                       unsigned len, bool datamatch, uint64_t data, bool assign,
                       struct vmio_error *err);

/*
 * KVM_IRQFD on @vm_fd: @fd raises interrupt @gsi (@line_name says what a GSI
 * is on this architecture, for messages: "GSI", "SPI"); with @resample_fd >= 0
 * the line is level-triggered and @resample_fd is signalled at its EOI.
 */
int vmio_kvm_irqfd(int vm_fd, int fd, unsigned gsi, int resample_fd, bool assign,
                   const char *line_name, struct vmio_error *err);

/* The run page's immediate_exit byte (the kicking thread and the vCPU both touch it). */
static inline void vmio_kvm_set_immediate_exit(struct kvm_run *run, bool on)
{
    __atomic_store_n(&run->immediate_exit, (uint8_t)(on ? 1 : 0), __ATOMIC_SEQ_CST);
}

/*
 * vmio_kvm_translate_mmio - @run's KVM_EXIT_MMIO as @exit's access (the
 * reason is the caller's to set): buf is run->mmio.data, where a read
 * completes; a write's value is the low `len` bytes of that 8-byte array,
 * one load and a mask (a len outside 1..8 masks to 0; the dispatcher calls
 * such a width unclaimed).
 */
static inline void vmio_kvm_translate_mmio(struct kvm_run *run, struct vmio_exit *exit)
{
    static const uint64_t masks[16] = {0,
                                       0xff,
                                       0xffff,
                                       0xffffff,
                                       0xffffffffu,
                                       0xffffffffffULL,
                                       0xffffffffffffULL,
                                       0xffffffffffffffULL,
                                       ~0ULL};
    struct vmio_access *a = &exit->access;
    a->space = VMIO_SPACE_MMIO;
    a->dir = run->mmio.is_write ? VMIO_WRITE : VMIO_READ;
    a->width = (uint8_t)run->mmio.len;
    a->count = 1;
    a->addr = run->mmio.phys_addr;
    a->buf = run->mmio.data;
    uint64_t raw;
    memcpy(&raw, run->mmio.data, sizeof(raw)); /* little-endian host */
    a->data = run->mmio.is_write ? raw & masks[run->mmio.len & 15] : 0;
}

/*
 * vmio_kvm_common_exit - translate the exit reasons every architecture shares
 * (system events, internal error, failed entry, EINTR, shutdown; anything
 * else becomes VMIO_EXIT_UNKNOWN with KVM's number as the code) into @exit.
 */
void vmio_kvm_common_exit(const struct kvm_run *run, struct vmio_exit *exit);

#endif
