/*
 * `vmio run`'s virtio devices (see run_virtio.h).
 *
 * Invariant: v->n never exceeds the PC's slots; the console, when asked for,
 * is added last (at attach time, once its chardev exists), so disks keep the
 * slots (and names vda, vdb, ...) in the order they were given.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_virtio.h"
#include "vmio/config.h"
#include "vmio/iothread.h"
#include "vmio/virtio_blk.h"
#include "vmio/virtio_console.h"
#include "vmio/virtio_mmio.h"
#include "vmio/virtio_rng.h"

/* Room for one more device (keeping one slot for the console when it is asked for). */
static int room(const struct run_virtio *v, const char *what)
{
    if (v->n + (v->console ? 1 : 0) >= VMIO_PC_VIRTIO_SLOTS) {
        fprintf(stderr,
                "vmio run: %s: at most %u virtio devices (disks, --rng, --console "
                "virtio)\n",
                what, VMIO_PC_VIRTIO_SLOTS);
        return -ENOSPC;
    }
    return 0;
}

int run_virtio_disk(struct run_virtio *v, const char *arg)
{
    int rc = room(v, "--disk");
    if (rc < 0)
        return rc;
    size_t len = strlen(arg);
    bool ro = len > 3 && strcmp(arg + len - 3, ",ro") == 0;
    if (ro)
        len -= 3;
    if (len == 0) {
        fprintf(stderr, "vmio run: --disk '%s': expected PATH or PATH,ro\n", arg);
        return -EINVAL;
    }
    char *path = strndup(arg, len); /* argv outlives the run; the copy is freed with it */
    if (!path)
        return -ENOMEM;
    v->dev[v->n++] =
        (struct vmio_pc_virtio){.kind = VMIO_PC_VIRTIO_BLK, .path = path, .readonly = ro};
    return 0;
}

int run_virtio_rng(struct run_virtio *v)
{
    if (v->rng)
        return 0;
    int rc = room(v, "--rng");
    if (rc < 0)
        return rc;
    v->rng = true;
    v->dev[v->n++] = (struct vmio_pc_virtio){.kind = VMIO_PC_VIRTIO_RNG};
    return 0;
}

int run_virtio_console(struct run_virtio *v, const char *arg)
{
    if (strcmp(arg, "uart") == 0) {
        v->console = false;
        return 0;
    }
    if (strcmp(arg, "virtio") != 0) {
        fprintf(stderr, "vmio run: --console '%s': expected uart or virtio\n", arg);
        return -EINVAL;
    }
    if (!v->console && v->n >= VMIO_PC_VIRTIO_SLOTS) {
        fprintf(stderr, "vmio run: --console virtio: at most %u virtio devices\n",
                VMIO_PC_VIRTIO_SLOTS);
        return -ENOSPC;
    }
    v->console = true;
    return 0;
}

bool run_virtio_any(const struct run_virtio *v)
{
    return v->n > 0 || v->console;
}

int run_virtio_finish(struct run_virtio *v)
{
    if (!v->console)
        return 0;
    if (v->n >= VMIO_PC_VIRTIO_SLOTS) { /* room() kept a slot; defensive */
        fprintf(stderr, "vmio run: --console virtio: at most %u virtio devices\n",
                VMIO_PC_VIRTIO_SLOTS);
        return -ENOSPC;
    }
    v->dev[v->n++] = (struct vmio_pc_virtio){.kind = VMIO_PC_VIRTIO_CONSOLE};
    return 0;
}

int run_virtio_from_config(struct run_virtio *v, const struct vmio_config *cfg,
                           struct vmio_error *err)
{
    int rc = vmio_config_virtio(cfg, v->dev, VMIO_PC_VIRTIO_SLOTS, &v->n, err);
    for (unsigned i = 0; rc == 0 && i < v->n; i++) {
        if (v->dev[i].kind == VMIO_PC_VIRTIO_CONSOLE)
            v->console = true;
        if (v->dev[i].kind == VMIO_PC_VIRTIO_BLK && !(v->dev[i].path = strdup(v->dev[i].path)))
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
    }
    if (rc < 0)
        v->n = 0;
    return rc;
}

int run_virtio_attach(struct run_virtio *v, struct vmio_vm *vm, struct vmio_chardev *console,
                      struct vmio_error *err)
{
    if (v->n == 0)
        return 0;
    for (unsigned i = 0; i < v->n; i++)
        if (v->dev[i].kind == VMIO_PC_VIRTIO_CONSOLE)
            v->dev[i].chardev = console;
    if (!run_virtio_iothread(v, err))
        return err ? err->code : -ENOMEM;
    struct vmio_pc_virtio_options o = {
        .io = v->io, .no_ioeventfd = v->no_ioeventfd, .no_irqfd = v->no_irqfd, .log = stderr};
    return vmio_pc_add_virtio(vm, v->dev, v->n, &o, v->acpi, v->transport, err);
}

struct vmio_iothread *run_virtio_iothread(struct run_virtio *v, struct vmio_error *err)
{
    if (!v->io && vmio_iothread_create("vmio-io", &v->io, err) < 0)
        v->io = NULL;
    return v->io;
}

int run_virtio_start(struct run_virtio *v, struct vmio_error *err)
{
    return v->io ? vmio_iothread_start(v->io, err) : 0;
}

void run_virtio_stop(struct run_virtio *v)
{
    if (v->io)
        vmio_iothread_stop(v->io);
}

void run_virtio_print_stats(const struct run_virtio *v, FILE *out)
{
    for (unsigned i = 0; i < v->n; i++) {
        if (!v->transport[i])
            continue;
        struct vmio_virtio_mmio_stats t;
        vmio_virtio_mmio_stats(v->transport[i], &t);
        struct vmio_virtio_device *m = vmio_virtio_mmio_model(v->transport[i]);
        fprintf(out,
                "virtio %s: ioeventfd=%s irqfd=%s regview=%s ackfd=%s kicks=%" PRIu64
                " notify_exits=%" PRIu64 " interrupts=%" PRIu64 " resamples=%" PRIu64 "%s",
                m->name, t.ioeventfd ? "on" : "off", t.irqfd ? "on" : "off",
                t.reads_mapped ? "on" : "off", t.ack_eventfds ? "on" : "off", t.kicks,
                t.notify_exits, t.interrupts, t.resamples, t.needs_reset ? " NEEDS_RESET" : "");
        struct vmio_virtio_blk_stats b;
        struct vmio_virtio_rng_stats r;
        struct vmio_virtio_console_stats c;
        if (vmio_virtio_blk_stats(m, &b))
            fprintf(out,
                    " requests=%" PRIu64 " reads=%" PRIu64 " writes=%" PRIu64 " flushes=%" PRIu64
                    " bytes_read=%" PRIu64 " bytes_written=%" PRIu64 " io_errors=%" PRIu64
                    " batches=%" PRIu64 " max_batch=%" PRIu64,
                    b.requests, b.reads, b.writes, b.flushes, b.bytes_read, b.bytes_written,
                    b.io_errors, b.batches, b.max_batch);
        else if (vmio_virtio_rng_stats(m, &r))
            fprintf(out, " requests=%" PRIu64 " bytes=%" PRIu64, r.requests, r.bytes);
        else if (vmio_virtio_console_stats(m, &c))
            fprintf(out, " tx_bytes=%" PRIu64 " rx_bytes=%" PRIu64, c.tx_bytes, c.rx_bytes);
        fputc('\n', out);
    }
}

void run_virtio_free(struct run_virtio *v)
{
    for (unsigned i = 0; i < v->n; i++)
        if (v->dev[i].kind == VMIO_PC_VIRTIO_BLK)
            free((char *)v->dev[i].path);
    v->n = 0;
    vmio_iothread_destroy(v->io);
    v->io = NULL;
}
