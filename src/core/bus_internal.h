/*
 * The bus's data structures and its hot-path reader operations, inline for
 * the run loop and the dispatcher (internal to src/core; bus.c has the rest
 * and the design: immutable snapshots, generations, quiescent readers, the
 * Eytzinger search, the remembered range).
 */
#ifndef VMIO_CORE_BUS_INTERNAL_H
#define VMIO_CORE_BUS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmio/bus.h"

struct snapshot {
    unsigned count;
    uint64_t gen;                  /* the bus generation that made it current */
    struct snapshot *next_retired; /* writer-only: retired list link */
    uint64_t retired_gen;          /* writer-only: generation that replaced it */
    uint64_t *ekeys;               /* [1..count]: range bases in Eytzinger order */
    uint32_t *eidx;                /* [1..count]: position of ekeys[k] in ranges[] */
    struct vmio_bus_range ranges[];
};

struct vmio_bus_reader {
    _Atomic uint64_t seen_gen; /* last generation this reader observed while holding nothing */
    struct vmio_bus *bus;
    struct vmio_bus_reader *next;
    /* The last range found, valid while its snapshot's gen == seen_gen (owner thread only). */
    const struct vmio_bus_range *last;
    uint64_t last_gen;
    /* Under the bus lock (vmio_bus_reader_notify()): *notify |= notify_bit at each publication. */
    _Atomic unsigned *notify;
    unsigned notify_bit;
    /* Keep readers on their own cache lines: each vCPU writes only its own. */
    char pad[64 - 2 * sizeof(uint64_t) - 4 * sizeof(void *) - sizeof(unsigned)];
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

/*
 * vmio_bus_reader_notify - after each publication on its bus (the new
 * generation already current), set @bit in *@word (release), so the
 * reader's thread learns with one load of a word it owns that it should
 * quiesce, instead of polling the bus. @word outlives the reader; NULL
 * turns it off.
 */
void vmio_bus_reader_notify(struct vmio_bus_reader *reader, _Atomic unsigned *word, unsigned bit);

/* Index in ranges[] of the first range whose base is > addr (upper bound), or count. */
static inline unsigned bus_upper_bound(const struct snapshot *s, uint64_t addr)
{
    const uint64_t *keys = s->ekeys;
    unsigned n = s->count, k = 1;
    while (k <= n) {
        __builtin_prefetch(keys + 16 * k); /* four levels down: one cache line of keys */
        k = 2 * k + (keys[k] <= addr);
    }
    /* The path went right (past keys <= addr) then left once at the answer: undo it. */
    k >>= __builtin_ffs((int)~k);
    return k ? s->eidx[k] : n;
}

/* Whole access inside @r: addr - base + width <= len, written to avoid overflow. */
static inline bool bus_inside(const struct vmio_bus_range *r, uint64_t addr, uint64_t width)
{
    uint64_t off = addr - r->base;
    return off < r->len && width <= r->len - off; /* callers have width > 0 */
}

/* The range of snapshot @s holding [addr, addr + width), or NULL. */
static inline const struct vmio_bus_range *bus_search(const struct snapshot *s, uint64_t addr,
                                                      uint64_t width)
{
    unsigned pos = bus_upper_bound(s, addr);
    if (pos == 0)
        return NULL;
    const struct vmio_bus_range *r = &s->ranges[pos - 1];
    return bus_inside(r, addr, width) ? r : NULL;
}

/* vmio_bus_reader_lookup(), inline. */
static inline const struct vmio_bus_range *bus_reader_lookup(struct vmio_bus_reader *reader,
                                                             uint64_t addr, uint64_t width)
{
    uint64_t seen = atomic_load_explicit(&reader->seen_gen, memory_order_relaxed);
    if (reader->last_gen == seen && bus_inside(reader->last, addr, width))
        return reader->last;
    const struct snapshot *s = atomic_load_explicit(&reader->bus->current, memory_order_acquire);
    const struct vmio_bus_range *r = bus_search(s, addr, width);
    if (r) {
        reader->last = r;
        reader->last_gen = s->gen;
    }
    return r;
}

/* vmio_bus_reader_quiesce(), inline. */
static inline void bus_reader_quiesce(struct vmio_bus_reader *reader)
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

/*
 * bus_reader_offline - @reader's thread holds no range and will not look up
 * before its next bus_reader_quiesce() (a vCPU outside vmio_vcpu_run()):
 * writers and vmio_bus_synchronize() need not wait for it.
 */
static inline void bus_reader_offline(struct vmio_bus_reader *reader)
{
    atomic_store(&reader->seen_gen, UINT64_MAX);
}

#endif
