/*
 * `vmio run`'s virtio devices (see run_virtio.h).
 *
 * Invariant: v->n never exceeds the PC's slots; the console, when asked for,
 * is added last (at attach time, once its chardev exists), so disks and net
 * devices keep the slots (and names vda, vdb, ..., and default MACs) in the
 * order they were given. Disk paths and TAP names are copies owned here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_virtio.h"
#include "vmio/config.h"
#include "vmio/iothread.h"
#include "vmio/tap.h"
#include "vmio/virtio_blk.h"
#include "vmio/virtio_console.h"
#include "vmio/virtio_mmio.h"
#include "vmio/virtio_net.h"
#include "vmio/virtio_rng.h"

/* How many devices this machine takes. */
static unsigned slots(const struct run_virtio *v)
{
    unsigned n = v->max_slots ? v->max_slots : VMIO_PC_VIRTIO_SLOTS;
    return n < RUN_VIRTIO_MAX_SLOTS ? n : RUN_VIRTIO_MAX_SLOTS;
}

/* Room for one more device (keeping one slot for the console when it is asked for). */
static int room(const struct run_virtio *v, const char *what)
{
    if (v->n + (v->console ? 1 : 0) >= slots(v)) {
        fprintf(stderr,
                "vmio run: %s: at most %u virtio devices (disks, --net, --rng, --console "
                "virtio)\n",
                what, slots(v));
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

/* One "key=value" of --net @arg: @item (@len bytes, no comma) into @d. */
static int net_item(struct run_virtio *v, const char *arg, const char *item, size_t len,
                    struct vmio_pc_virtio *d)
{
    char buf[64];
    if (len >= sizeof(buf)) {
        fprintf(stderr, "vmio run: --net '%s': '%.*s...' is too long\n", arg, 20, item);
        return -EINVAL;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    if (!eq) {
        fprintf(stderr, "vmio run: --net '%s': '%s' is not KEY=VALUE (tap=NAME, mac=MAC)\n", arg,
                buf);
        return -EINVAL;
    }
    *eq = '\0';
    const char *val = eq + 1;
    if (strcmp(buf, "tap") == 0) {
        struct vmio_error err = {0};
        if (d->tap) {
            fprintf(stderr, "vmio run: --net '%s': tap= given twice\n", arg);
            return -EINVAL;
        }
        if (vmio_tap_check_name(val, &err) < 0) {
            fprintf(stderr, "vmio run: --net '%s': %s\n", arg, err.msg);
            return -EINVAL;
        }
        for (unsigned i = 0; i < v->n; i++)
            if (v->dev[i].kind == VMIO_PC_VIRTIO_NET && strcmp(v->dev[i].tap, val) == 0) {
                fprintf(stderr,
                        "vmio run: --net '%s': TAP %s is already used by another --net (a TAP "
                        "takes one attachment)\n",
                        arg, val);
                return -EINVAL;
            }
        if (!(d->tap = strdup(val)))
            return -ENOMEM;
        return 0;
    }
    if (strcmp(buf, "mac") == 0) {
        if (d->mac_set) {
            fprintf(stderr, "vmio run: --net '%s': mac= given twice\n", arg);
            return -EINVAL;
        }
        if (vmio_virtio_net_parse_mac(val, d->mac) < 0) {
            fprintf(stderr,
                    "vmio run: --net '%s': MAC '%s': expected six pairs of hex digits (like "
                    "02:00:00:00:00:01) making a unicast (first byte even), non-zero address\n",
                    arg, val);
            return -EINVAL;
        }
        d->mac_set = true;
        return 0;
    }
    fprintf(stderr, "vmio run: --net '%s': unknown key '%s' (tap=NAME, mac=MAC)\n", arg, buf);
    return -EINVAL;
}

int run_virtio_net(struct run_virtio *v, const char *arg)
{
    int rc = room(v, "--net");
    if (rc < 0)
        return rc;
    struct vmio_pc_virtio d = {.kind = VMIO_PC_VIRTIO_NET};
    for (const char *p = arg; rc == 0;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        rc = net_item(v, arg, p, len, &d);
        if (!comma)
            break;
        p = comma + 1;
    }
    if (rc == 0 && !d.tap) {
        fprintf(stderr, "vmio run: --net '%s': expected tap=NAME[,mac=xx:xx:xx:xx:xx:xx]\n", arg);
        rc = -EINVAL;
    }
    if (rc < 0) {
        free((char *)d.tap);
        return rc;
    }
    v->dev[v->n++] = d;
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
    if (!v->console && v->n >= slots(v)) {
        fprintf(stderr, "vmio run: --console virtio: at most %u virtio devices\n", slots(v));
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
    if (v->n >= slots(v)) { /* room() kept a slot; defensive */
        fprintf(stderr, "vmio run: --console virtio: at most %u virtio devices\n", slots(v));
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
        if (v->dev[i].kind == VMIO_PC_VIRTIO_NET && !(v->dev[i].tap = strdup(v->dev[i].tap)))
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
        struct vmio_virtio_net_stats nt;
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
        else if (vmio_virtio_net_stats(m, &nt))
            fprintf(out,
                    " rx_frames=%" PRIu64 " rx_bytes=%" PRIu64 " tx_frames=%" PRIu64
                    " tx_bytes=%" PRIu64 " rx_dropped=%" PRIu64 " rx_waits=%" PRIu64
                    " tx_dropped=%" PRIu64 " tx_errors=%" PRIu64 " tx_waits=%" PRIu64
                    " rx_batches=%" PRIu64 "%s",
                    nt.rx_frames, nt.rx_bytes, nt.tx_frames, nt.tx_bytes, nt.rx_dropped,
                    nt.rx_waits, nt.tx_dropped, nt.tx_errors, nt.tx_waits, nt.rx_batches,
                    nt.backend_closed ? " BACKEND_CLOSED" : "");
        fputc('\n', out);
    }
}

void run_virtio_free(struct run_virtio *v)
{
    for (unsigned i = 0; i < v->n; i++) {
        if (v->dev[i].kind == VMIO_PC_VIRTIO_BLK)
            free((char *)v->dev[i].path);
        if (v->dev[i].kind == VMIO_PC_VIRTIO_NET)
            free((char *)v->dev[i].tap);
    }
    v->n = 0;
    vmio_iothread_destroy(v->io);
    v->io = NULL;
}
