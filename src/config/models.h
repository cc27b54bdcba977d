/*
 * The table of device models a VM config can name: one row per model, with
 * its AxVM emu_type, its name, the window it needs and how it is built. The
 * config parser (vmconfig.c), the VM builder (vm_build.c) and the virtio
 * plan (virtio_config.c) all read this table and nothing else, so adding a
 * model is one row in models.c (plus its enum vmio_emu_model value).
 *
 * Invariant: each emu_type and each model appears in exactly one row; a row
 * has exactly one way to be built (create, or virtio_kind for the devices
 * that need the I/O thread and are added by vmio_pc_add_virtio()).
 */
#ifndef VMIO_CONFIG_MODELS_H
#define VMIO_CONFIG_MODELS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/config.h"
#include "vmio/pc.h"

/* What a model's constructor may use: the VM and the serial backend, once. */
struct model_build {
    struct vmio_vm *vm;
    const struct vmio_config *cfg;
    struct vmio_chardev *serial; /* the first Console takes it; then NULL */
};

struct model_row {
    unsigned emu_type; /* AxVM's VMIO_EMU_* */
    enum vmio_emu_model model;
    const char *name;       /* in messages: "16550A UART", "virtio-blk (virtio-mmio)" */
    const char *short_name; /* in the list of what vmio models: "debug-exit" */
    uint64_t min_length;    /* the window's least length */
    uint64_t port_length;   /* in port space: exactly this many ports (0: any) */
    bool mmio_only;         /* needs an MMIO window */
    /* create - make the device for @d; NULL for virtio rows. Errors: -errno + message. */
    int (*create)(struct model_build *b, const struct vmio_cfg_emu_device *d,
                  struct vmio_device **out, struct vmio_error *err);
    /* For virtio rows: the PC slot kind, and the row's own fields of @v (may be NULL). */
    enum vmio_pc_virtio_kind virtio_kind;
    void (*virtio_fill)(const struct vmio_config *cfg, const struct vmio_cfg_emu_device *d,
                        struct vmio_pc_virtio *v);
};

/* vmio_model_by_emu_type - the row of @emu_type, or NULL when vmio does not model it. */
const struct model_row *vmio_model_by_emu_type(unsigned emu_type);

/* vmio_model_row_of - the row of @model, or NULL for a value outside the table. */
const struct model_row *vmio_model_row_of(enum vmio_emu_model model);

/* vmio_model_list - "0x2 Console as a 16550A UART, 0xe1 VirtioBlk, ..." into @buf. */
void vmio_model_list(char *buf, size_t size);

#endif
