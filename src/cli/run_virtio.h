/*
 * `vmio run`'s virtio devices: the --disk, --net, --rng, --console virtio,
 * --no-ioeventfd and --no-irqfd options, the I/O thread that runs the
 * devices, attaching them to the PC (vmio_pc_add_virtio()), and their lines
 * in --stats.
 *
 * Life: options are parsed into a struct run_virtio; run_virtio_attach()
 * creates the I/O thread (only when there is a device) and the devices on a
 * VM; run_virtio_start() starts the thread before the vCPUs run and
 * run_virtio_stop() stops it when they have stopped (no device work runs
 * after that); run_virtio_free() releases the thread after the VM is
 * destroyed (the VM owns the devices).
 */
#ifndef VMIO_CLI_RUN_VIRTIO_H
#define VMIO_CLI_RUN_VIRTIO_H

#include <stdbool.h>
#include <stdio.h>

#include "vmio/acpi.h"
#include "vmio/pc.h"

struct vmio_chardev;
struct vmio_config;

/* The most devices any machine's `vmio run` takes (x86: VMIO_PC_VIRTIO_SLOTS, AArch64: 32). */
#define RUN_VIRTIO_MAX_SLOTS 32

struct run_virtio {
    struct vmio_pc_virtio dev[RUN_VIRTIO_MAX_SLOTS]; /* as given (options: console last) */
    unsigned n;
    unsigned max_slots; /* this machine's limit, set before the options; 0: VMIO_PC_VIRTIO_SLOTS */
    bool rng;
    bool console; /* --console virtio */
    bool no_ioeventfd, no_irqfd;
    /* After run_virtio_attach(): */
    struct vmio_iothread *io;
    struct vmio_acpi_device acpi[RUN_VIRTIO_MAX_SLOTS];
    struct vmio_device *transport[RUN_VIRTIO_MAX_SLOTS];
};

/*
 * run_virtio_disk - "--disk @arg": PATH or PATH,ro. Returns 0, or -EINVAL /
 * -ENOSPC with a message on stderr.
 */
int run_virtio_disk(struct run_virtio *v, const char *arg);

/*
 * run_virtio_net - "--net @arg": tap=NAME[,mac=xx:xx:xx:xx:xx:xx] (keys in any
 * order, each once). The TAP name and the MAC are checked here (the TAP is
 * opened when the devices are attached); a TAP given twice is refused (a TAP
 * takes one attachment). Returns 0, or -EINVAL / -ENOSPC / -ENOMEM with a
 * message on stderr.
 */
int run_virtio_net(struct run_virtio *v, const char *arg);

/* run_virtio_rng - "--rng". Returns 0, or -EINVAL / -ENOSPC with a message on stderr. */
int run_virtio_rng(struct run_virtio *v);

/* run_virtio_console - "--console @arg": "uart" or "virtio". -EINVAL with a message otherwise. */
int run_virtio_console(struct run_virtio *v, const char *arg);

/* run_virtio_any - whether any virtio device was asked for. */
bool run_virtio_any(const struct run_virtio *v);

/*
 * run_virtio_finish - after the options: put the console (--console virtio)
 * after the other devices. Returns 0 or -ENOSPC (message on stderr).
 */
int run_virtio_finish(struct run_virtio *v);

/*
 * run_virtio_from_config - the devices of a VM config instead of options
 * (vmio_config_virtio(): explicit windows and GSIs). Errors: -ENOSPC,
 * -ENOMEM, described in @err.
 */
int run_virtio_from_config(struct run_virtio *v, const struct vmio_config *cfg,
                           struct vmio_error *err);

/*
 * run_virtio_attach - create the I/O thread and attach the devices to @vm
 * (a console on @console); afterwards v->acpi[0 .. v->n) are the DSDT entries
 * for the PC. Nothing without devices. Errors: those of vmio_iothread_create() and
 * vmio_pc_add_virtio(), described in @err.
 */
int run_virtio_attach(struct run_virtio *v, struct vmio_vm *vm, struct vmio_chardev *console,
                      struct vmio_error *err);

/*
 * run_virtio_iothread - the I/O thread, made on first use (also for devices
 * other than virtio's: the standard machine's doorbells). NULL on failure,
 * described in @err.
 */
struct vmio_iothread *run_virtio_iothread(struct run_virtio *v, struct vmio_error *err);

/* run_virtio_start - start the I/O thread (nothing without devices). Errors: as
 * vmio_iothread_start(). */
int run_virtio_start(struct run_virtio *v, struct vmio_error *err);

/* run_virtio_stop - stop the I/O thread (idempotent). */
void run_virtio_stop(struct run_virtio *v);

/* run_virtio_print_stats - one line per device (transport and model counters) to @out. */
void run_virtio_print_stats(const struct run_virtio *v, FILE *out);

/* run_virtio_free - destroy the I/O thread (after the VM). */
void run_virtio_free(struct run_virtio *v);

#endif
