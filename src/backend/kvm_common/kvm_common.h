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

#include "vmio/error.h"
#include "vmio/exit.h"

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
 * vmio_kvm_common_exit - translate the exit reasons every architecture shares
 * (system events, internal error, failed entry, EINTR, shutdown; anything
 * else becomes VMIO_EXIT_UNKNOWN with KVM's number as the code) into @exit.
 */
void vmio_kvm_common_exit(const struct kvm_run *run, struct vmio_exit *exit);

#endif
