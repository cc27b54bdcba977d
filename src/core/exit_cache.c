/*
 * The exit cache's cold half (core/exit_cache.h has the design): filling an
 * entry from a bus range, and turning the fast path's counters into the
 * shape of struct vmio_stats when statistics are read.
 */
#include "core/exit_cache.h"
#include "vmio/exit.h"

void vmio_exit_cache_fill(struct exit_cache_entry cache[EXIT_CACHE_SPACES], unsigned space,
                          const struct vmio_bus_range *r, struct exit_counters *counters)
{
    struct exit_cache_entry *h = &cache[space & (EXIT_CACHE_SPACES - 1)];
    struct vmio_device *dev = r->dev;
    unsigned id = dev->id < VMIO_STATS_MAX_DEVICES ? dev->id : VMIO_STATS_MAX_DEVICES - 1;
    h->base = r->base;
    h->len = r->len;
    for (unsigned w = 0; w < 9; w++) /* only 1, 2, 4 and 8 are looked at */
        h->end[w] = w && w <= r->len ? r->len - w + 1 : 0;
    h->dev = dev;
    h->read = dev->ops->read;
    h->write = dev->ops->write;
    h->counters = &counters[id];
    h->rd = &counters[id].by[space][VMIO_READ];
    h->wr = &counters[id].by[space][VMIO_WRITE];
    h->io = (struct vmio_io){.base = r->base, .space = space, .stop_reason = -1};
}

/* The kind of a claimed access by [space][dir] (vmio/stats.h). */
static const enum vmio_stat_kind kinds[3][2] = {
    {VMIO_STAT_MMIO_READ, VMIO_STAT_MMIO_WRITE},
    {VMIO_STAT_PIO_IN, VMIO_STAT_PIO_OUT},
    {VMIO_STAT_SYSREG_READ, VMIO_STAT_SYSREG_WRITE},
};

void vmio_exit_counters_fold(const struct exit_counters *c, unsigned n, struct vmio_stats *out)
{
    for (unsigned id = 0; id < n; id++) {
        const struct exit_counters *src = &c[id];
        struct vmio_stat_counter *dev = &out->device[id];
        uint64_t seen = 0;
        for (unsigned s = 0; s < 3; s++) {
            for (unsigned d = 0; d < 2; d++) {
                const struct exit_counter *x = &src->by[s][d];
                if (!x->count)
                    continue;
                struct vmio_stat_counter *k = &out->kind[kinds[s][d]];
                k->count += x->count;
                k->elements += x->count;
                k->ns += x->ns;
                dev->count += x->count;
                dev->elements += x->count;
                dev->ns += x->ns;
                seen += x->count;
            }
        }
        if (!seen)
            continue;
        for (unsigned b = 0; b < EXIT_HIST_BUCKETS; b++)
            dev->hist[b < VMIO_STAT_HIST_BUCKETS ? b : VMIO_STAT_HIST_BUCKETS - 1] += src->hist[b];
        if (src->max > dev->max_ns)
            dev->max_ns = src->max;
    }
}
