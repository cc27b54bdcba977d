/*
 * Address bus: a sorted, immutable array of non-overlapping ranges
 * (a "snapshot") published through an atomic pointer.
 *
 * Readers (vCPU threads) load the current snapshot and search it; they never
 * lock. Writers serialise on a mutex, build a new snapshot, publish it and
 * retire the old one tagged with the new generation. A retired snapshot is
 * freed once every registered reader has announced (quiesce) that it has
 * seen that generation, i.e. it can no longer hold a pointer into the old
 * array. Readers announce when they hold nothing (a vCPU: after a guest exit,
 * before it handles the exit, when its bus told it a publication happened).
 *
 * The search: besides ranges[] (sorted, for listings), each snapshot keeps
 * the range bases in Eytzinger order (the implicit binary tree of a heap,
 * ekeys[1..count], node k's children at 2k and 2k+1) with each key's sorted
 * position (eidx[]). Descending it is branch-free (the child is chosen by a
 * comparison, not a jump) and touches one small, prefetchable array: the
 * binary search over ranges[] mispredicted half of its branches on random
 * addresses. A reader also remembers the range its last lookup found, with
 * the generation of the snapshot it came from: while that snapshot is still
 * the one the reader announced at its last quiesce, the range cannot have
 * been freed or changed, and an access inside it needs no search at all.
 *
 * Invariants: ranges[] sorted by base; ranges never overlap; len > 0 and
 * base + len - 1 does not wrap; PIO ranges lie within 0..0xffff; a snapshot's
 * gen is the bus generation its publication made current.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "core/bus_internal.h"

/* One allocation: the header, ranges[count], ekeys[count + 1], eidx[count + 1]. */
static struct snapshot *snapshot_alloc(unsigned count)
{
    size_t ranges = sizeof(struct snapshot) + (size_t)count * sizeof(struct vmio_bus_range);
    size_t keys = (ranges + 63) & ~(size_t)63; /* the search array starts a cache line */
    size_t idx = keys + ((size_t)count + 1) * sizeof(uint64_t);
    size_t size = (idx + ((size_t)count + 1) * sizeof(uint32_t) + 63) & ~(size_t)63;
    struct snapshot *s = aligned_alloc(64, size);
    if (s) {
        memset(s, 0, size);
        s->count = count;
        s->ekeys = (uint64_t *)((char *)s + keys);
        s->eidx = (uint32_t *)((char *)s + idx);
    }
    return s;
}

/* Fill node @k's subtree of the Eytzinger array in order from ranges[@i...]; next i. */
static unsigned eytzinger_fill(struct snapshot *s, unsigned i, unsigned k)
{
    if (k > s->count)
        return i;
    i = eytzinger_fill(s, i, 2 * k);
    s->ekeys[k] = s->ranges[i].base;
    s->eidx[k] = i;
    return eytzinger_fill(s, i + 1, 2 * k + 1);
}

struct vmio_bus *vmio_bus_new(enum vmio_space space, const char *name)
{
    struct vmio_bus *bus = calloc(1, sizeof(*bus));
    struct snapshot *empty = snapshot_alloc(0);
    if (!bus || !empty) {
        free(bus);
        free(empty);
        return NULL;
    }
    atomic_init(&bus->current, empty);
    atomic_init(&bus->gen, 1);
    bus->space = space;
    snprintf(bus->name, sizeof(bus->name), "%s", name ? name : vmio_space_name(space));
    pthread_mutex_init(&bus->lock, NULL);
    return bus;
}

static void free_retired_list(struct snapshot *s)
{
    while (s) {
        struct snapshot *next = s->next_retired;
        free(s);
        s = next;
    }
}

void vmio_bus_free(struct vmio_bus *bus)
{
    if (!bus)
        return;
    free(atomic_load(&bus->current));
    free_retired_list(bus->retired);
    struct vmio_bus_reader *r = bus->readers;
    while (r) {
        struct vmio_bus_reader *next = r->next;
        free(r);
        r = next;
    }
    pthread_mutex_destroy(&bus->lock);
    free(bus);
}

/* Free retired snapshots that no reader can still hold. Called with lock held. */
static void reclaim_locked(struct vmio_bus *bus)
{
    uint64_t oldest = atomic_load(&bus->gen);
    for (struct vmio_bus_reader *r = bus->readers; r; r = r->next) {
        uint64_t seen = atomic_load(&r->seen_gen);
        if (seen < oldest)
            oldest = seen;
    }
    struct snapshot **link = &bus->retired;
    while (*link) {
        struct snapshot *s = *link;
        if (s->retired_gen <= oldest) {
            *link = s->next_retired;
            free(s);
        } else {
            link = &s->next_retired;
        }
    }
}

/*
 * Publish @next (ranges[] filled) in place of the current snapshot. Called
 * with lock held. next->gen is set before it becomes visible, so a reader
 * that finds it sees the generation it belongs to.
 */
static void publish_locked(struct vmio_bus *bus, struct snapshot *next)
{
    eytzinger_fill(next, 0, 1);
    next->gen = atomic_load(&bus->gen) + 1;
    struct snapshot *old = atomic_exchange(&bus->current, next);
    old->retired_gen = atomic_fetch_add(&bus->gen, 1) + 1;
    old->next_retired = bus->retired;
    bus->retired = old;
    /* After gen: a reader told here quiesces onto the new generation (or a later one). */
    for (struct vmio_bus_reader *r = bus->readers; r; r = r->next)
        if (r->notify)
            atomic_fetch_or_explicit(r->notify, r->notify_bit, memory_order_release);
    reclaim_locked(bus);
}

void vmio_bus_reader_notify(struct vmio_bus_reader *reader, _Atomic unsigned *word, unsigned bit)
{
    pthread_mutex_lock(&reader->bus->lock);
    reader->notify = word;
    reader->notify_bit = bit;
    pthread_mutex_unlock(&reader->bus->lock);
}

static uint64_t range_last(const struct vmio_bus_range *r)
{
    return r->base + (r->len - 1);
}

int vmio_bus_register(struct vmio_bus *bus, struct vmio_device *dev, uint64_t base, uint64_t len,
                      struct vmio_error *err)
{
    const char *devname = dev && dev->name ? dev->name : "(unnamed)";
    if (!dev || !dev->ops || !dev->ops->read || !dev->ops->write)
        return vmio_error_set(err, -EINVAL, "%s bus: device %s has no read/write callbacks",
                              bus->name, devname);
    if (len == 0)
        return vmio_error_set(err, -EINVAL, "%s bus: device %s: empty range at 0x%" PRIx64,
                              bus->name, devname, base);
    if (base + (len - 1) < base)
        return vmio_error_set(err, -EINVAL,
                              "%s bus: device %s: range 0x%" PRIx64 "+0x%" PRIx64
                              " wraps around the address space",
                              bus->name, devname, base, len);
    if (bus->space == VMIO_SPACE_PIO && base + (len - 1) > 0xffff)
        return vmio_error_set(err, -EINVAL,
                              "%s bus: device %s: ports 0x%" PRIx64 "-0x%" PRIx64
                              " go beyond port 0xffff",
                              bus->name, devname, base, base + (len - 1));

    pthread_mutex_lock(&bus->lock);
    struct snapshot *cur = atomic_load(&bus->current);
    unsigned pos = bus_upper_bound(cur, base);
    /* Overlap can only be with the range just before or just after pos. */
    const struct vmio_bus_range *clash = NULL;
    if (pos > 0 && range_last(&cur->ranges[pos - 1]) >= base)
        clash = &cur->ranges[pos - 1];
    else if (pos < cur->count && cur->ranges[pos].base <= base + (len - 1))
        clash = &cur->ranges[pos];
    if (clash) {
        int rc = vmio_error_set(err, -EEXIST,
                                "%s bus: device %s at 0x%" PRIx64 "-0x%" PRIx64
                                " overlaps device %s at 0x%" PRIx64 "-0x%" PRIx64,
                                bus->name, devname, base, base + (len - 1),
                                clash->dev->name ? clash->dev->name : "(unnamed)", clash->base,
                                range_last(clash));
        pthread_mutex_unlock(&bus->lock);
        return rc;
    }
    struct snapshot *next = snapshot_alloc(cur->count + 1);
    if (!next) {
        pthread_mutex_unlock(&bus->lock);
        return vmio_error_set(err, -ENOMEM, "%s bus: out of memory registering %s", bus->name,
                              devname);
    }
    memcpy(next->ranges, cur->ranges, pos * sizeof(cur->ranges[0]));
    next->ranges[pos] = (struct vmio_bus_range){.base = base, .len = len, .dev = dev};
    memcpy(next->ranges + pos + 1, cur->ranges + pos, (cur->count - pos) * sizeof(cur->ranges[0]));
    publish_locked(bus, next);
    pthread_mutex_unlock(&bus->lock);
    return 0;
}

int vmio_bus_unregister(struct vmio_bus *bus, struct vmio_device *dev, uint64_t base,
                        struct vmio_error *err)
{
    pthread_mutex_lock(&bus->lock);
    struct snapshot *cur = atomic_load(&bus->current);
    unsigned pos = bus_upper_bound(cur, base);
    if (pos == 0 || cur->ranges[pos - 1].base != base || cur->ranges[pos - 1].dev != dev) {
        pthread_mutex_unlock(&bus->lock);
        return vmio_error_set(err, -ENOENT, "%s bus: device %s has no range at 0x%" PRIx64,
                              bus->name, dev && dev->name ? dev->name : "(unnamed)", base);
    }
    pos--;
    struct snapshot *next = snapshot_alloc(cur->count - 1);
    if (!next) {
        pthread_mutex_unlock(&bus->lock);
        return vmio_error_set(err, -ENOMEM, "%s bus: out of memory", bus->name);
    }
    memcpy(next->ranges, cur->ranges, pos * sizeof(cur->ranges[0]));
    memcpy(next->ranges + pos, cur->ranges + pos + 1,
           (cur->count - pos - 1) * sizeof(cur->ranges[0]));
    publish_locked(bus, next);
    pthread_mutex_unlock(&bus->lock);
    return 0;
}

const struct vmio_bus_range *vmio_bus_lookup(const struct vmio_bus *bus, uint64_t addr,
                                             uint64_t width)
{
    if (width == 0)
        return NULL;
    return bus_search(atomic_load_explicit(&bus->current, memory_order_acquire), addr, width);
}

const struct vmio_bus_range *vmio_bus_reader_lookup(struct vmio_bus_reader *reader, uint64_t addr,
                                                    uint64_t width)
{
    return width ? bus_reader_lookup(reader, addr, width) : NULL;
}

unsigned vmio_bus_count(const struct vmio_bus *bus)
{
    return atomic_load_explicit(&bus->current, memory_order_acquire)->count;
}

const struct vmio_bus_range *vmio_bus_range_at(const struct vmio_bus *bus, unsigned i)
{
    const struct snapshot *s = atomic_load_explicit(&bus->current, memory_order_acquire);
    return i < s->count ? &s->ranges[i] : NULL;
}

enum vmio_space vmio_bus_space(const struct vmio_bus *bus)
{
    return bus->space;
}

const char *vmio_bus_name(const struct vmio_bus *bus)
{
    return bus->name;
}

struct vmio_bus_reader *vmio_bus_reader_add(struct vmio_bus *bus)
{
    struct vmio_bus_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_lock(&bus->lock);
    atomic_init(&r->seen_gen, atomic_load(&bus->gen));
    r->bus = bus;
    r->next = bus->readers;
    bus->readers = r;
    pthread_mutex_unlock(&bus->lock);
    return r;
}

unsigned vmio_bus_retired_count(struct vmio_bus *bus)
{
    unsigned n = 0;
    pthread_mutex_lock(&bus->lock);
    for (const struct snapshot *s = bus->retired; s; s = s->next_retired)
        n++;
    pthread_mutex_unlock(&bus->lock);
    return n;
}

void vmio_bus_reader_quiesce(struct vmio_bus_reader *reader)
{
    bus_reader_quiesce(reader);
}

void vmio_bus_reader_remove(struct vmio_bus *bus, struct vmio_bus_reader *reader)
{
    if (!reader)
        return;
    pthread_mutex_lock(&bus->lock);
    for (struct vmio_bus_reader **link = &bus->readers; *link; link = &(*link)->next) {
        if (*link == reader) {
            *link = reader->next;
            break;
        }
    }
    reclaim_locked(bus);
    pthread_mutex_unlock(&bus->lock);
    free(reader);
}

void vmio_bus_synchronize(struct vmio_bus *bus, void (*nudge)(void *ctx), void *ctx)
{
    uint64_t target = atomic_load(&bus->gen);
    for (;;) {
        bool lagging = false;
        pthread_mutex_lock(&bus->lock);
        for (struct vmio_bus_reader *r = bus->readers; r && !lagging; r = r->next)
            lagging = atomic_load(&r->seen_gen) < target;
        pthread_mutex_unlock(&bus->lock);
        if (!lagging)
            return;
        if (nudge)
            nudge(ctx);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}
