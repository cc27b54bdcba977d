/*
 * Doorbells: "tell me when the guest writes here" without a vCPU exit.
 *
 * A device registers an address (MMIO or port), a width and optionally the
 * one value that rings; each guest write that matches signals an eventfd
 * inside the hypervisor (KVM_IOEVENTFD) and the vCPU goes on at once. The
 * I/O thread (vmio/iothread.h) reads the eventfd and calls the device's
 * callback with the number of rings since the last call (rings that come
 * close together arrive as one call with a count: a doorbell says "look",
 * it is not a queue). The device then does its work off the vCPU thread,
 * as virtio's queue notifications do.
 *
 *     struct vmio_doorbell_config c = {.space = VMIO_SPACE_MMIO, .addr = A, .len = 4,
 *                                      .fn = on_ring, .ctx = dev};
 *     vmio_doorbell_create(vm, io, &c, &db, &err);   // -ENOTSUP: no ioeventfd here
 *     ... device write handler (the exit path, if the write exits anyway):
 *     vmio_doorbell_ring(db);                        // the same callback, on the I/O thread
 *
 * Without ioeventfd in the backend (or with `use_ioeventfd` false) the
 * doorbell still works: writes exit to the device window as usual, and the
 * device's write handler calls vmio_doorbell_ring(), so the callback always
 * runs on the I/O thread and the device has one code path.
 *
 * Ownership and threads: the creator owns the doorbell and destroys it
 * before the VM's backend and the I/O thread go (a device that owns one
 * destroys it in its destroy callback, which the VM calls first).
 * vmio_doorbell_ring() is thread-safe and async-signal-safe.
 */
#ifndef VMIO_DOORBELL_H
#define VMIO_DOORBELL_H

#include <stdbool.h>
#include <stdint.h>

#include "vmio/bus.h"
#include "vmio/error.h"

struct vmio_vm;
struct vmio_iothread;
struct vmio_doorbell;

/* Called on the I/O thread with the rings counted since the last call (>= 1). */
typedef void (*vmio_doorbell_fn)(void *ctx, uint64_t rings);

struct vmio_doorbell_config {
    enum vmio_space space; /* VMIO_SPACE_MMIO or VMIO_SPACE_PIO */
    uint64_t addr;         /* guest address (or port) of the register */
    unsigned len;          /* the write width that rings: 1, 2, 4 or 8 */
    bool match;            /* only a write of exactly `value` rings */
    uint64_t value;
    bool use_ioeventfd;    /* false: every write exits (the device rings by hand) */
    vmio_doorbell_fn fn;
    void *ctx;
};

/*
 * vmio_doorbell_create - a doorbell on @vm whose callback runs on @io, as
 * @cfg says (copied). With cfg->use_ioeventfd the backend's ioeventfd is
 * asked for; when it has none (-ENOTSUP) the doorbell is still made and
 * works through vmio_doorbell_ring() (vmio_doorbell_exitless() says which).
 * Errors: -EINVAL for a bad space, width or missing callback; -errno of
 * eventfd(2) and of the I/O thread's registration; the backend's other
 * errors; all described in @err. Ownership: the caller owns *@out.
 */
int vmio_doorbell_create(struct vmio_vm *vm, struct vmio_iothread *io,
                         const struct vmio_doorbell_config *cfg, struct vmio_doorbell **out,
                         struct vmio_error *err);

/*
 * vmio_doorbell_ring - ring @db by hand (its device's write handler, when
 * the write exited): the callback runs on the I/O thread. Any thread.
 * Returns 0 or -errno of write(2).
 */
int vmio_doorbell_ring(struct vmio_doorbell *db);

/* vmio_doorbell_exitless - whether guest writes ring @db without an exit (ioeventfd in place). */
bool vmio_doorbell_exitless(const struct vmio_doorbell *db);

/*
 * vmio_doorbell_destroy - unregister and free @db (NULL is fine). When it
 * returns the callback is not running and never runs again. Not from the
 * callback itself while other threads may still ring.
 */
void vmio_doorbell_destroy(struct vmio_doorbell *db);

#endif
