/*
 * e820 map builder (see vmio/e820.h).
 *
 * Ranges are handled internally as inclusive [lo, hi] so that a range
 * ending at 2^64 - 1 needs no special case and no end computation can wrap.
 * vmio_e820_build() sorts a copy of its input by start address and sweeps
 * it once, keeping one open "run" (the union of the same-type entries merged
 * so far): since runs are closed in address order, any overlap of a new
 * entry with an earlier one is an overlap with the open run, so a single
 * comparison finds every conflict.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/e820.h"

struct span {
    uint64_t lo, hi; /* inclusive */
    uint32_t type;
};

const char *vmio_e820_type_name(uint32_t type)
{
    switch (type) {
    case VMIO_E820_RAM:
        return "RAM";
    case VMIO_E820_RESERVED:
        return "reserved";
    case VMIO_E820_ACPI:
        return "ACPI";
    case VMIO_E820_NVS:
        return "NVS";
    }
    return "?";
}

static bool known_type(uint32_t type)
{
    return type >= VMIO_E820_RAM && type <= VMIO_E820_NVS;
}

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return x->type < y->type ? -1 : x->type > y->type;
}

/* Turn entry @i of @in into a span, or explain why it is not one. */
static int to_span(const struct vmio_e820_entry *e, unsigned i, struct span *s,
                   struct vmio_error *err)
{
    if (e->size == 0)
        return vmio_error_set(err, -EINVAL, "e820 entry %u at 0x%" PRIx64 " has size 0", i,
                              e->addr);
    if (e->size - 1 > UINT64_MAX - e->addr)
        return vmio_error_set(err, -EINVAL,
                              "e820 entry %u: 0x%" PRIx64 " + 0x%" PRIx64
                              " wraps past the end of the address space",
                              i, e->addr, e->size);
    if (!known_type(e->type))
        return vmio_error_set(err, -EINVAL, "e820 entry %u at 0x%" PRIx64 " has unknown type %u", i,
                              e->addr, e->type);
    *s = (struct span){.lo = e->addr, .hi = e->addr + (e->size - 1), .type = e->type};
    return 0;
}

/* Append @run to @out if there is room; always count it in *@needed. */
static void emit(struct vmio_e820_map *out, const struct span *run, unsigned *needed)
{
    unsigned k = (*needed)++;
    if (k < VMIO_E820_MAX_ENTRIES)
        out->entries[k] = (struct vmio_e820_entry){
            .addr = run->lo, .size = run->hi - run->lo + 1, .type = run->type};
}

/*
 * The sweep over sorted spans. A span of size 2^64 (lo 0, hi max) cannot be
 * represented in an entry's size field: it is refused by to_span() already
 * (size is at most 2^64 - 1), and merging can only produce it from spans that
 * cover everything, which then have size 2^64 - 1 + 1: that case is refused
 * here too.
 */
static int sweep(struct span *s, unsigned n, struct vmio_e820_map *out, struct vmio_error *err)
{
    unsigned needed = 0;
    if (n == 0) {
        out->count = 0;
        return 0;
    }
    struct span run = s[0];
    for (unsigned i = 1; i < n; i++) {
        const struct span *e = &s[i];
        if (e->lo <= run.hi) { /* overlap */
            if (e->type != run.type)
                return vmio_error_set(err, -EINVAL,
                                      "e820: 0x%" PRIx64 "-0x%" PRIx64 " (%s) overlaps 0x%" PRIx64
                                      "-0x%" PRIx64 " (%s)",
                                      e->lo, e->hi, vmio_e820_type_name(e->type), run.lo, run.hi,
                                      vmio_e820_type_name(run.type));
            if (e->hi > run.hi)
                run.hi = e->hi;
            continue;
        }
        if (e->lo == run.hi + 1 && e->type == run.type) { /* touching: merge */
            run.hi = e->hi;
            continue;
        }
        emit(out, &run, &needed);
        run = *e;
    }
    if (run.lo == 0 && run.hi == UINT64_MAX)
        return vmio_error_set(err, -EINVAL, "e820: one range covers all 2^64 bytes");
    emit(out, &run, &needed);
    if (needed > VMIO_E820_MAX_ENTRIES)
        return vmio_error_set(err, -E2BIG, "e820 map needs %u entries; the zero page holds %u",
                              needed, VMIO_E820_MAX_ENTRIES);
    out->count = needed;
    return 0;
}

int vmio_e820_build(const struct vmio_e820_entry *in, unsigned n, struct vmio_e820_map *out,
                    struct vmio_error *err)
{
    if (!out || (n > 0 && !in))
        return vmio_error_set(err, -EINVAL, "e820: NULL argument");
    struct span *s = calloc(n ? n : 1, sizeof(*s));
    if (!s)
        return vmio_error_set(err, -ENOMEM, "e820: out of memory for %u entries", n);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = to_span(&in[i], i, &s[i], err);
    if (rc == 0) {
        qsort(s, n, sizeof(*s), cmp_span);
        struct vmio_e820_map m;
        m.count = 0;
        rc = sweep(s, n, &m, err);
        if (rc == 0) {
            out->count = m.count;
            memcpy(out->entries, m.entries, m.count * sizeof(m.entries[0]));
        }
    }
    free(s);
    return rc;
}

/* ---- the PC map ---- */

struct list {
    struct vmio_e820_entry *e;
    unsigned n, cap;
};

static int push_entry(struct list *l, const struct vmio_e820_entry *e)
{
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 16;
        if (cap < l->cap)
            return -ENOMEM;
        struct vmio_e820_entry *ne = realloc(l->e, (size_t)cap * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        l->e = ne;
        l->cap = cap;
    }
    l->e[l->n++] = *e;
    return 0;
}

/* Append [lo, hi] (lo <= hi, and not all of the 2^64 addresses) of @type. */
static int push(struct list *l, uint64_t lo, uint64_t hi, uint32_t type)
{
    struct vmio_e820_entry e = {.addr = lo, .size = hi - lo + 1, .type = type};
    return push_entry(l, &e);
}

/* Add RAM [lo, hi] minus the legacy window [EBDA, 1 MiB). */
static int push_ram(struct list *l, uint64_t lo, uint64_t hi)
{
    int rc = 0;
    if (lo < VMIO_E820_EBDA_START)
        rc = push(l, lo, hi < VMIO_E820_EBDA_START ? hi : VMIO_E820_EBDA_START - 1, VMIO_E820_RAM);
    if (rc == 0 && hi >= VMIO_E820_HIGH_START)
        rc = push(l, lo > VMIO_E820_HIGH_START ? lo : VMIO_E820_HIGH_START, hi, VMIO_E820_RAM);
    return rc;
}

/* Remove [lo, hi] from every entry of @l (entries may split in two). */
static int carve(struct list *l, uint64_t lo, uint64_t hi)
{
    unsigned n = l->n;
    for (unsigned i = 0; i < n; i++) {
        struct vmio_e820_entry *e = &l->e[i];
        if (e->size == 0)
            continue;
        uint64_t elo = e->addr, ehi = e->addr + (e->size - 1);
        if (hi < elo || lo > ehi)
            continue;
        e->size = 0; /* removed; the pieces outside [lo, hi] come back below */
        uint32_t type = e->type;
        if (elo < lo && push(l, elo, lo - 1, type) < 0)
            return -ENOMEM;
        if (ehi > hi && push(l, hi + 1, ehi, type) < 0)
            return -ENOMEM;
    }
    /* Drop the removed entries. */
    unsigned k = 0;
    for (unsigned i = 0; i < l->n; i++)
        if (l->e[i].size)
            l->e[k++] = l->e[i];
    l->n = k;
    return 0;
}

int vmio_e820_pc(const struct vmio_gpa_range *ram, unsigned n_ram,
                 const struct vmio_e820_entry *extra, unsigned n_extra, struct vmio_e820_map *out,
                 struct vmio_error *err)
{
    if (!out || (n_ram && !ram) || (n_extra && !extra))
        return vmio_error_set(err, -EINVAL, "e820: NULL argument");
    struct span tmp;
    for (unsigned i = 0; i < n_extra; i++) {
        int rc = to_span(&extra[i], i, &tmp, err);
        if (rc < 0)
            return rc;
    }
    struct list base = {0};
    int rc = 0;
    for (unsigned i = 0; i < n_ram && rc == 0; i++) {
        const struct vmio_gpa_range *r = &ram[i];
        if (r->size == 0 || r->size - 1 > UINT64_MAX - r->gpa) {
            rc = vmio_error_set(
                err, -EINVAL, "RAM range %u (0x%" PRIx64 ", size 0x%" PRIx64 ") is empty or wraps",
                i, r->gpa, r->size);
            break;
        }
        if (push_ram(&base, r->gpa, r->gpa + (r->size - 1)) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0 &&
        (push(&base, VMIO_E820_EBDA_START, VMIO_E820_VGA_START - 1, VMIO_E820_RESERVED) < 0 ||
         push(&base, VMIO_E820_BIOS_START, VMIO_E820_HIGH_START - 1, VMIO_E820_RESERVED) < 0))
        rc = -ENOMEM;
    /* Extras that are not RAM win over the base layer (all were validated above). */
    for (unsigned i = 0; i < n_extra && rc == 0; i++) {
        const struct vmio_e820_entry *x = &extra[i];
        if (x->type == VMIO_E820_RAM)
            continue;
        if (carve(&base, x->addr, x->addr + (x->size - 1)) < 0)
            rc = -ENOMEM;
    }
    for (unsigned i = 0; i < n_extra && rc == 0; i++)
        if (push_entry(&base, &extra[i]) < 0)
            rc = -ENOMEM;
    if (rc == -ENOMEM)
        vmio_error_set(err, rc, "e820: out of memory");
    if (rc == 0)
        rc = vmio_e820_build(base.e, base.n, out, err);
    free(base.e);
    return rc;
}
