/*
 * Rate limits for guest-caused diagnostic lines (see vmio/ratelimit.h).
 *
 * Invariant: a limit's fields change only under its mutex; `used` counts
 * the lines let through since `window_start`, and `suppressed` the lines
 * refused since the last report, so every refused line is reported exactly
 * once (by the next line let through, or by a final flush).
 */
#include <inttypes.h>

#include "vmio/exit.h"
#include "vmio/ratelimit.h"

void vmio_ratelimit_init(struct vmio_ratelimit *rl, const struct vmio_clock *clock, unsigned burst,
                         uint64_t window_ns)
{
    *rl = (struct vmio_ratelimit){.clock = clock, .window_ns = window_ns, .burst = burst};
    pthread_mutex_init(&rl->lock, NULL);
}

void vmio_ratelimit_destroy(struct vmio_ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

bool vmio_ratelimit_allow(struct vmio_ratelimit *rl, uint64_t *suppressed)
{
    uint64_t now = vmio_clock_now(rl->clock);
    pthread_mutex_lock(&rl->lock);
    if (!rl->started || now - rl->window_start >= rl->window_ns) {
        rl->started = true;
        rl->window_start = now;
        rl->used = 0;
    }
    bool ok = rl->used < rl->burst;
    uint64_t report = 0;
    if (ok) {
        rl->used++;
        report = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&rl->lock);
    if (suppressed)
        *suppressed = report;
    return ok;
}

uint64_t vmio_ratelimit_take_suppressed(struct vmio_ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    uint64_t n = rl->suppressed;
    rl->suppressed = 0;
    pthread_mutex_unlock(&rl->lock);
    return n;
}

void vmio_log_limits_init(struct vmio_log_limits *l, const struct vmio_clock *clock)
{
    for (unsigned s = 0; s < 2; s++)
        vmio_ratelimit_init(&l->unclaimed[s], clock, VMIO_LOG_BURST, VMIO_LOG_WINDOW_NS);
    for (unsigned i = 0; i < VMIO_STATS_MAX_DEVICES; i++)
        vmio_ratelimit_init(&l->device[i], clock, VMIO_LOG_BURST, VMIO_LOG_WINDOW_NS);
}

void vmio_log_suppressed(FILE *out, uint64_t n, enum vmio_space space, const char *device)
{
    if (device)
        fprintf(out,
                "vmio: %" PRIu64 " more unclaimed access lines at device %s were suppressed (at "
                "most %d per second from one source)\n",
                n, device, VMIO_LOG_BURST);
    else
        fprintf(out,
                "vmio: %" PRIu64 " more unclaimed %s access lines were suppressed (at most %d "
                "per second from one source)\n",
                n, vmio_space_name(space), VMIO_LOG_BURST);
}

void vmio_log_limits_flush(struct vmio_log_limits *l, FILE *out, const char *const *names,
                           unsigned nnames)
{
    static const enum vmio_space spaces[] = {VMIO_SPACE_MMIO, VMIO_SPACE_PIO};
    for (unsigned s = 0; s < 2; s++) {
        uint64_t n = vmio_ratelimit_take_suppressed(&l->unclaimed[s]);
        if (n)
            vmio_log_suppressed(out, n, spaces[s], NULL);
    }
    for (unsigned i = 0; i < VMIO_STATS_MAX_DEVICES; i++) {
        uint64_t n = vmio_ratelimit_take_suppressed(&l->device[i]);
        if (n)
            vmio_log_suppressed(out, n, VMIO_SPACE_MMIO,
                                names && i < nnames && names[i] ? names[i] : "(unnamed)");
    }
}

void vmio_log_limits_destroy(struct vmio_log_limits *l)
{
    for (unsigned s = 0; s < 2; s++)
        vmio_ratelimit_destroy(&l->unclaimed[s]);
    for (unsigned i = 0; i < VMIO_STATS_MAX_DEVICES; i++)
        vmio_ratelimit_destroy(&l->device[i]);
}
