/*
 * The VM's internals, shared by vm.c, vcpu.c and stats.c only.
 *
 * Hot-path rule: a vCPU thread only reads fields of struct vmio_vm that are
 * fixed before vCPUs run (buses are themselves lock-free; policy, trace and
 * timing are set up front). Everything a vCPU mutates lives in its own
 * struct vmio_vcpu.
 */
#ifndef VMIO_VM_INTERNAL_H
#define VMIO_VM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "kvm/kvm_backend.h"
#include "vmio/stats.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define VMIO_MAX_RAM_REGIONS 4
#define VMIO_MAX_VCPUS 64

/* One host mapping: the public view plus whether the VM unmaps it. */
struct vmio_vm_map {
    struct vmio_host_map pub;
    bool owned;
};

struct vmio_vm {
    struct kvmb_vm *kvm;
    struct vmio_bus *mmio;
    struct vmio_bus *pio;
    struct vmio_ram_region ram[VMIO_MAX_RAM_REGIONS];
    unsigned nram;
    unsigned next_slot; /* next free KVM memory slot */
    enum vmio_unclaimed_policy policy;
    FILE *log;
    FILE *trace;
    bool timing;

    pthread_mutex_t lock;         /* devices[], vcpus[], stats_done */
    struct vmio_device **devices; /* owned, destroyed once, by id */
    unsigned ndevices;
    struct vmio_vcpu *vcpus[VMIO_MAX_VCPUS];
    struct vmio_stats stats_done; /* folded in from destroyed vCPUs */

    /* Interrupts: fixed at creation. */
    bool irqchip;
    bool pit;
    struct vmio_irq_line lines[VMIO_IRQCHIP_GSIS]; /* vmio_vm_irq_line() */

    /* Host mappings (pass-through), fixed before vCPUs run. */
    struct vmio_vm_map *maps;
    unsigned nmaps;
};

#endif
