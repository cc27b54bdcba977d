/*
 * Doorbells (vmio/doorbell.h): one eventfd per doorbell, signalled by the
 * hypervisor's ioeventfd on a matching guest write or by
 * vmio_doorbell_ring(), read on the I/O thread, which calls the device.
 *
 * Invariants: the eventfd is non-blocking, so the callback's read never
 * waits (a second wake-up for rings already counted reads EAGAIN and calls
 * nobody); the ioeventfd is assigned only after the eventfd is registered
 * with the I/O thread, and deassigned before it is removed, so no ring is
 * signalled to a descriptor nobody watches.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmio/doorbell.h"
#include "vmio/iothread.h"
#include "vmio/vm.h"

struct vmio_doorbell {
    struct vmio_vm *vm;
    struct vmio_iothread *io;
    struct vmio_doorbell_config cfg;
    int fd;
    bool registered; /* on the I/O thread */
    bool assigned;   /* the backend's ioeventfd is in place */
};

static void on_ready(void *ctx, int fd, uint32_t events)
{
    struct vmio_doorbell *db = ctx;
    (void)events;
    uint64_t n = 0;
    if (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n > 0)
        db->cfg.fn(db->cfg.ctx, n);
}

static int set_ioeventfd(struct vmio_doorbell *db, bool assign, struct vmio_error *err)
{
    const struct vmio_doorbell_config *c = &db->cfg;
    return vmio_vm_ioeventfd(db->vm, c->space, c->addr, c->len, c->match ? &c->value : NULL,
                             db->fd, assign, err);
}

int vmio_doorbell_create(struct vmio_vm *vm, struct vmio_iothread *io,
                         const struct vmio_doorbell_config *cfg, struct vmio_doorbell **out,
                         struct vmio_error *err)
{
    if (!cfg || !cfg->fn || (cfg->space != VMIO_SPACE_MMIO && cfg->space != VMIO_SPACE_PIO) ||
        (cfg->len != 1 && cfg->len != 2 && cfg->len != 4 && cfg->len != 8) ||
        (cfg->space == VMIO_SPACE_PIO && (cfg->len > 4 || cfg->addr > 0xffff)))
        return vmio_error_set(err, -EINVAL, "doorbell: bad space, width or callback");
    struct vmio_doorbell *db = calloc(1, sizeof(*db));
    if (!db)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    db->vm = vm;
    db->io = io;
    db->cfg = *cfg;
    db->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = 0;
    if (db->fd < 0) {
        rc = vmio_error_set(err, -errno, "doorbell at 0x%" PRIx64 ": eventfd: %s", cfg->addr,
                            strerror(errno));
        goto fail;
    }
    rc = vmio_iothread_add(io, db->fd, EPOLLIN, on_ready, db, err);
    if (rc < 0)
        goto fail;
    db->registered = true;
    if (cfg->use_ioeventfd) {
        struct vmio_error e = {0};
        rc = set_ioeventfd(db, true, &e);
        if (rc == 0) {
            db->assigned = true;
        } else if (rc != -ENOTSUP) {
            if (err)
                *err = e;
            goto fail;
        }
        rc = 0; /* no ioeventfd here: writes exit, the device rings by hand */
    }
    *out = db;
    return 0;
fail:
    vmio_doorbell_destroy(db);
    return rc;
}

int vmio_doorbell_ring(struct vmio_doorbell *db)
{
    uint64_t one = 1;
    return write(db->fd, &one, sizeof(one)) == (ssize_t)sizeof(one) ? 0 : -errno;
}

bool vmio_doorbell_exitless(const struct vmio_doorbell *db)
{
    return db->assigned;
}

void vmio_doorbell_destroy(struct vmio_doorbell *db)
{
    if (!db)
        return;
    if (db->assigned)
        (void)set_ioeventfd(db, false, NULL);
    if (db->registered)
        vmio_iothread_remove(db->io, db->fd);
    if (db->fd >= 0)
        close(db->fd);
    free(db);
}
