/*
 * Address bus: a sorted, immutable array of non-overlapping ranges
 * (a "snapshot") published through an atomic pointer.
 *
 * Readers (vCPU threads) load the current snapshot and binary-search it; they
 * never lock. Writers serialise on a mutex, build a new snapshot, publish it
 * and retire the old one tagged with the new generation. A retired snapshot
 * is freed once every registered reader has announced (quiesce) that it has
 * seen that generation, i.e. it can no longer hold a pointer into the old
 * array. Readers announce before every guest entry, when they hold nothing.
 *
 * Invariants: ranges[] sorted by base; ranges never overlap; len > 0 and
 * base + len - 1 does not wrap; PIO ranges lie within 0..0xffff.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/bus.h"

struct snapshot {
    unsigned count;
    struct snapshot *next_retired; /* writer-only: retired list link */
    uint64_t retired_gen;          /* writer-only: generation that replaced it */
    struct vmio_bus_range ranges[];
};

struct vmio_bus_reader {
    _Atomic uint64_t seen_gen; /* last generation this reader observed while holding nothing */
    struct vmio_bus *bus;
    struct vmio_bus_reader *next;
    /* Keep readers on their own cache lines: each vCPU writes only its own. */
    char pad[64 - sizeof(uint64_t) - 2 * sizeof(void *)];
};

struct vmio_bus {
    _Atomic(struct snapshot *) current;
    _Atomic uint64_t gen;
    enum vmio_space space;
    char name[16];
    pthread_mutex_t lock; /* serialises writers and the reader list */
    struct vmio_bus_reader *readers;
    struct snapshot *retired;
};

static struct snapshot *snapshot_alloc(unsigned count)
{
    struct snapshot *s = calloc(1, sizeof(*s) + (size_t)count * sizeof(s->ranges[0]));
    if (s)
        s->count = count;
    return s;
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

/* Publish @next in place of the current snapshot. Called with lock held. */
static void publish_locked(struct vmio_bus *bus, struct snapshot *next)
{
    struct snapshot *old = atomic_exchange(&bus->current, next);
    old->retired_gen = atomic_fetch_add(&bus->gen, 1) + 1;
    old->next_retired = bus->retired;
    bus->retired = old;
    reclaim_locked(bus);
}

/* Index of the first range whose base is > addr (upper bound). */
static unsigned upper_bound(const struct snapshot *s, uint64_t addr)
{
    unsigned lo = 0, hi = s->count;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (s->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
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
    unsigned pos = upper_bound(cur, base);
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
    unsigned pos = upper_bound(cur, base);
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
    const struct snapshot *s = atomic_load_explicit(&bus->current, memory_order_acquire);
    unsigned pos = upper_bound(s, addr);
    if (pos == 0 || width == 0)
        return NULL;
    const struct vmio_bus_range *r = &s->ranges[pos - 1];
    /* Whole access inside: addr - base + width <= len, written to avoid overflow. */
    uint64_t off = addr - r->base;
    if (off >= r->len || width > r->len - off)
        return NULL;
    return r;
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
    /*
     * Only this reader's thread writes seen_gen; writers read it under their
     * lock. Any snapshot this reader loads after this point was current at or
     * after generation seen_gen, so every snapshot retired at or before it is
     * no longer reachable from this reader.
     */
    uint64_t gen = atomic_load(&reader->bus->gen);
    /* Skip the store (and the cache-line write) when nothing was published. */
    if (atomic_load_explicit(&reader->seen_gen, memory_order_relaxed) != gen)
        atomic_store(&reader->seen_gen, gen);
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
