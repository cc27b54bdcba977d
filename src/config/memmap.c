/*
 * The guest-physical memory map builder: alignment, merging and carving of
 * pass-through mappings and the conflict checks between RAM, pass-through
 * mappings and emulated device windows (rules in include/vmio/memmap.h and
 * docs/config.md).
 *
 * Invariants:
 * - Ranges are handled as [first, last] (inclusive) so that a range ending
 *   at 2^64 - 1 never overflows; every "+ 1" past a last address is guarded
 *   by a comparison with UINT64_MAX first.
 * - Every string an entry points to lives in the map's string arena, which
 *   is freed as a whole by vmio_memmap_free(): entries may share strings
 *   (the pieces of one carved mapping share its owner), and nothing is
 *   freed entry by entry.
 * - Bounded work whatever the input (configs are untrusted): the inputs are
 *   sorted once per kind and then swept; a name is at most
 *   VMIO_MEMMAP_NAME_MAX bytes and a joined name lists at most
 *   VMIO_MEMMAP_JOIN_SHOWN names, so strings stay short and no step
 *   depends on how many inputs were merged. Total: O(N log N) time and
 *   O(N) memory for N inputs. mm->work counts the steps (comparisons in
 *   sorts and binary searches, entries visited by sweeps) so that tests can
 *   bound it without timing anything.
 * - vmio_memmap_build() works on copies of the entry structs and replaces
 *   the inputs only when it succeeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/memmap.h"

#define PAGE_MASK ((uint64_t)VMIO_PAGE_SIZE - 1)
#define ARENA_CHUNK 16384

/* A chunk of the string arena; strings are appended and never freed alone. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

struct vmio_memmap {
    struct vmio_mm_entry *e;
    size_t n, cap;
    bool built;
    uint64_t work;
    struct arena_chunk *strings;
};

/* A growable array of entry structs (their strings live in the arena). */
struct list {
    struct vmio_mm_entry *e;
    size_t n, cap;
};

static uint64_t last_of(const struct vmio_mm_entry *e)
{
    return e->gpa + (e->size - 1);
}

static bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 <= b1 && b0 <= a1;
}

/* ---- the string arena ---- */

/* A copy of @len bytes of @s plus a terminator in @mm's arena, or NULL (out of memory). */
static char *arena_dup(struct vmio_memmap *mm, const char *s, size_t len)
{
    struct arena_chunk *c = mm->strings;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = mm->strings;
        c->used = 0;
        c->cap = cap;
        mm->strings = c;
    }
    char *d = c->data + c->used;
    memcpy(d, s, len);
    d[len] = '\0';
    c->used += len + 1;
    return d;
}

/*
 * Joining names: at most VMIO_MEMMAP_JOIN_SHOWN distinct names joined with
 * '+', then "+N more" for the N further names (not deduplicated: keeping
 * every name to compare against is what made joins grow without bound).
 */
struct join {
    const char *shown[VMIO_MEMMAP_JOIN_SHOWN];
    unsigned nshown;
    uint64_t more;
};

static void join_add(struct join *j, const char *name)
{
    for (unsigned i = 0; i < j->nshown; i++)
        if (strcmp(j->shown[i], name) == 0)
            return;
    if (j->nshown < VMIO_MEMMAP_JOIN_SHOWN)
        j->shown[j->nshown++] = name;
    else
        j->more++;
}

/* The joined string in @mm's arena, or NULL (out of memory). */
static const char *join_finish(struct vmio_memmap *mm, const struct join *j)
{
    if (j->nshown == 1 && j->more == 0)
        return j->shown[0]; /* already in the arena */
    char buf[VMIO_MEMMAP_JOIN_SHOWN * (VMIO_MEMMAP_JOIN_SHOWN * (VMIO_MEMMAP_NAME_MAX + 1) + 32) +
             32];
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < j->nshown; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? "+" : "", j->shown[i]);
    if (j->more)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "+%" PRIu64 " more", j->more);
    if (off >= sizeof(buf))
        off = sizeof(buf) - 1; /* cannot happen: every part is bounded */
    return arena_dup(mm, buf, off);
}

/* ---- lists and sorting ---- */

static int list_push(struct list *l, const struct vmio_mm_entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct vmio_mm_entry *grown = realloc(l->e, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        l->e = grown;
        l->cap = cap;
    }
    l->e[l->n++] = *e;
    return 0;
}

static void list_free(struct list *l)
{
    free(l->e);
    *l = (struct list){0};
}

static int cmp_entry(const void *a, const void *b, void *work)
{
    const struct vmio_mm_entry *x = a, *y = b;
    ++*(uint64_t *)work;
    if (x->space != y->space)
        return x->space < y->space ? -1 : 1;
    if (x->gpa != y->gpa)
        return x->gpa < y->gpa ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return 0;
}

static void list_sort(struct list *l, uint64_t *work)
{
    if (l->n > 1)
        qsort_r(l->e, l->n, sizeof(l->e[0]), cmp_entry, work);
}

/* The first index i in [0, @n) with @keys[i] >= @x (@keys non-decreasing); @n when none. */
static size_t lower_bound(const uint64_t *keys, size_t n, uint64_t x, uint64_t *work)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        ++*work;
        if (keys[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- inputs ---- */

int vmio_memmap_new(struct vmio_memmap **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void vmio_memmap_free(struct vmio_memmap *mm)
{
    if (!mm)
        return;
    free(mm->e);
    while (mm->strings) {
        struct arena_chunk *next = mm->strings->next;
        free(mm->strings);
        mm->strings = next;
    }
    free(mm);
}

/* Common checks of a new input; @what names its kind in messages. */
static int check_input(struct vmio_memmap *mm, const char *what, const char *owner, uint64_t gpa,
                       uint64_t size, struct vmio_error *err)
{
    size_t len = strlen(owner);
    if (len > VMIO_MEMMAP_NAME_MAX)
        return vmio_error_set(err, -ENAMETOOLONG,
                              "%s '%.32s...' at 0x%" PRIx64 ": the name is %zu bytes long (at "
                              "most %d)",
                              what, owner, gpa, len, VMIO_MEMMAP_NAME_MAX);
    if (mm->built)
        return vmio_error_set(err, -EALREADY, "%s '%s': the memory map is already built", what,
                              owner);
    if (mm->n >= VMIO_MEMMAP_MAX_ENTRIES)
        return vmio_error_set(err, -ENOSPC,
                              "%s '%s': the memory map already has %d entries (the most it "
                              "takes)",
                              what, owner, VMIO_MEMMAP_MAX_ENTRIES);
    if (size == 0)
        return vmio_error_set(err, -EINVAL, "%s '%s' at 0x%" PRIx64 " has size 0", what, owner,
                              gpa);
    if (gpa + (size - 1) < gpa)
        return vmio_error_set(err, -EINVAL,
                              "%s '%s' at 0x%" PRIx64 " with size 0x%" PRIx64
                              " runs past the end of the address space",
                              what, owner, gpa, size);
    return 0;
}

/* Append @e (its strings not yet copied) to the inputs, copying its strings into the arena. */
static int add_entry(struct vmio_memmap *mm, struct vmio_mm_entry e, struct vmio_error *err)
{
    e.owner = arena_dup(mm, e.owner, strlen(e.owner));
    if (e.owner && e.backing)
        e.backing = arena_dup(mm, e.backing, strlen(e.backing));
    struct list l = {.e = mm->e, .n = mm->n, .cap = mm->cap};
    int rc =
        !e.owner || (e.kind == VMIO_MM_PASSTHROUGH && !e.backing) ? -ENOMEM : list_push(&l, &e);
    mm->e = l.e;
    mm->n = l.n;
    mm->cap = l.cap;
    if (rc < 0)
        return vmio_error_set(err, rc, "out of memory");
    return 0;
}

int vmio_memmap_add_ram(struct vmio_memmap *mm, uint64_t gpa, uint64_t size, bool readonly,
                        const char *owner, struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_input(mm, "RAM", owner, gpa, size, err);
    if (rc < 0)
        return rc;
    if ((gpa | size) & PAGE_MASK)
        return vmio_error_set(err, -EINVAL,
                              "RAM '%s' at 0x%" PRIx64 " with size 0x%" PRIx64
                              " is not 4 KiB aligned (address and size must be multiples of "
                              "0x1000)",
                              owner, gpa, size);
    struct vmio_mm_entry e = {.kind = VMIO_MM_RAM,
                              .space = VMIO_SPACE_MMIO,
                              .gpa = gpa,
                              .size = size,
                              .readonly = readonly,
                              .owner = owner};
    return add_entry(mm, e, err);
}

int vmio_memmap_add_passthrough(struct vmio_memmap *mm, uint64_t gpa, uint64_t size,
                                const char *backing, uint64_t src, bool readonly, const char *owner,
                                struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_input(mm, "pass-through", owner, gpa, size, err);
    if (rc < 0)
        return rc;
    if (!backing || !*backing)
        return vmio_error_set(err, -EINVAL, "pass-through '%s' has no backing", owner);
    if (strlen(backing) > VMIO_MEMMAP_BACKING_MAX)
        return vmio_error_set(err, -ENAMETOOLONG,
                              "pass-through '%s': the backing '%.40s...' is longer than %d bytes",
                              owner, backing, VMIO_MEMMAP_BACKING_MAX);
    if (src + (size - 1) < src)
        return vmio_error_set(err, -EINVAL,
                              "pass-through '%s': source 0x%" PRIx64 " with size 0x%" PRIx64
                              " runs past the end of %s",
                              owner, src, size, backing);
    struct vmio_mm_entry e = {.kind = VMIO_MM_PASSTHROUGH,
                              .space = VMIO_SPACE_MMIO,
                              .gpa = gpa,
                              .size = size,
                              .readonly = readonly,
                              .owner = owner,
                              .backing = backing,
                              .src = src};
    return add_entry(mm, e, err);
}

int vmio_memmap_add_device(struct vmio_memmap *mm, enum vmio_space space, uint64_t gpa,
                           uint64_t size, const char *owner, struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_input(mm, "device", owner, gpa, size, err);
    if (rc < 0)
        return rc;
    if (space != VMIO_SPACE_MMIO && space != VMIO_SPACE_PIO)
        return vmio_error_set(err, -EINVAL, "device '%s': unsupported address space %d", owner,
                              (int)space);
    if (space == VMIO_SPACE_PIO && (gpa > 0xffff || size > 0x10000 - gpa))
        return vmio_error_set(err, -EINVAL,
                              "device '%s': ports 0x%" PRIx64 "+0x%" PRIx64 " run past port 0xffff",
                              owner, gpa, size);
    struct vmio_mm_entry e = {
        .kind = VMIO_MM_DEVICE, .space = space, .gpa = gpa, .size = size, .owner = owner};
    return add_entry(mm, e, err);
}

/* ---- conflicts ---- */

static const char *kind_name(enum vmio_mm_kind k)
{
    switch (k) {
    case VMIO_MM_RAM:
        return "RAM";
    case VMIO_MM_PASSTHROUGH:
        return "pass-through";
    default:
        return "device";
    }
}

/* "'name' (RAM 0x1000-0x1fff)" style description of @e, for conflict messages. */
static const char *describe(const struct vmio_mm_entry *e, char *buf, size_t len)
{
    if (e->kind == VMIO_MM_PASSTHROUGH)
        snprintf(
            buf, len, "pass-through '%s' (0x%" PRIx64 "-0x%" PRIx64 " from %s at 0x%" PRIx64 "%s)",
            e->owner, e->gpa, last_of(e), e->backing, e->src, e->readonly ? ", read-only" : "");
    else if (e->kind == VMIO_MM_DEVICE && e->space == VMIO_SPACE_PIO)
        snprintf(buf, len, "device '%s' (ports 0x%" PRIx64 "-0x%" PRIx64 ")", e->owner, e->gpa,
                 last_of(e));
    else
        snprintf(buf, len, "%s '%s' (0x%" PRIx64 "-0x%" PRIx64 ")", kind_name(e->kind), e->owner,
                 e->gpa, last_of(e));
    return buf;
}

static int conflict(const struct vmio_mm_entry *a, const struct vmio_mm_entry *b, const char *why,
                    struct vmio_error *err)
{
    char da[192], db[192];
    return vmio_error_set(err, -EBUSY, "%s overlaps %s%s", describe(a, da, sizeof(da)),
                          describe(b, db, sizeof(db)), why);
}

/* ---- step 1: alignment ---- */

static int align_passthrough(struct vmio_mm_entry *e, struct vmio_error *err)
{
    uint64_t off = e->gpa & PAGE_MASK;
    if ((e->src & PAGE_MASK) != off)
        return vmio_error_set(err, -EINVAL,
                              "pass-through '%s': guest address 0x%" PRIx64
                              " and source address 0x%" PRIx64
                              " in %s differ in their offset within a 4 KiB page (0x%" PRIx64
                              " vs 0x%" PRIx64 "), so no page can map one onto the other",
                              e->owner, e->gpa, e->src, e->backing, off, e->src & PAGE_MASK);
    uint64_t first = e->gpa - off;
    uint64_t last = last_of(e) | PAGE_MASK;
    uint64_t src = e->src - off;
    if (first == 0 && last == UINT64_MAX)
        return vmio_error_set(err, -EINVAL, "pass-through '%s' covers the whole address space",
                              e->owner);
    if (src + (last - first) < src)
        return vmio_error_set(err, -EINVAL,
                              "pass-through '%s': aligned source range runs past the end of %s",
                              e->owner, e->backing);
    e->gpa = first;
    e->size = last - first + 1;
    e->src = src;
    return 0;
}

/* ---- step 2: merging ---- */

/*
 * Whether @e may be merged into @cur (sorted before it, touching or
 * overlapping it): same backing, delta and access, and the merged source
 * range must not wrap past 2^64 - 1 (two touching mappings whose sources
 * are the last and the first byte of the backing's offsets).
 */
static bool mergeable(const struct vmio_mm_entry *cur, const struct vmio_mm_entry *e)
{
    if (strcmp(cur->backing, e->backing) != 0 || cur->gpa - cur->src != e->gpa - e->src ||
        cur->readonly != e->readonly)
        return false;
    return cur->src + (cur->size - 1) != UINT64_MAX || e->gpa <= last_of(cur);
}

/* Merge the sorted, aligned mappings @pt into @out (joined owners in @mm's arena). */
static int merge_passthrough(struct vmio_memmap *mm, const struct list *pt, struct list *out,
                             struct vmio_error *err)
{
    struct join names = {0};
    for (size_t i = 0; i < pt->n; i++) {
        const struct vmio_mm_entry *e = &pt->e[i];
        struct vmio_mm_entry *cur = out->n ? &out->e[out->n - 1] : NULL;
        mm->work++;
        if (cur) {
            uint64_t cl = last_of(cur);
            bool touch_or_overlap = cl == UINT64_MAX || e->gpa <= cl + 1;
            if (touch_or_overlap && mergeable(cur, e)) {
                uint64_t el = last_of(e);
                if (el > cl) {
                    if (cur->gpa == 0 && el == UINT64_MAX) {
                        join_add(&names, e->owner);
                        const char *who = join_finish(mm, &names);
                        return vmio_error_set(err, -EINVAL,
                                              "pass-through '%s' covers the whole address space "
                                              "once merged",
                                              who ? who : cur->owner);
                    }
                    cur->size = el - cur->gpa + 1;
                }
                join_add(&names, e->owner);
                continue;
            }
            if (names.nshown) {
                cur->owner = join_finish(mm, &names);
                if (!cur->owner)
                    return vmio_error_set(err, -ENOMEM, "out of memory");
            }
            if (e->gpa <= cl) {
                const char *why = strcmp(cur->backing, e->backing) != 0
                                      ? " with a different backing: they cannot be merged"
                                  : cur->readonly != e->readonly
                                      ? " with different access (read-only vs read-write): they "
                                        "cannot be merged"
                                      : " with a different guest-to-source offset: they cannot "
                                        "be merged";
                return conflict(cur, e, why, err);
            }
        }
        if (list_push(out, e) < 0)
            return vmio_error_set(err, -ENOMEM, "out of memory");
        names = (struct join){0};
        join_add(&names, e->owner);
    }
    if (out->n && names.nshown) {
        out->e[out->n - 1].owner = join_finish(mm, &names);
        if (!out->e[out->n - 1].owner)
            return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- step 4: conflicts with RAM and between device windows ---- */

/* keys[i] = last address of @l's entry i, made non-decreasing (running maximum). */
static uint64_t *running_last(const struct list *l)
{
    uint64_t *keys = malloc((l->n ? l->n : 1) * sizeof(*keys));
    if (!keys)
        return NULL;
    uint64_t max = 0;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t last = last_of(&l->e[i]);
        max = i == 0 || last > max ? last : max;
        keys[i] = max;
    }
    return keys;
}

/*
 * The first entry of @l (sorted by address; @keys its running_last()) that
 * overlaps [a0, a1], or NULL. The first index whose running maximum reaches
 * a0 holds that maximum itself, so it is the first that may overlap; if it
 * starts after a1, every later one does too.
 */
static const struct vmio_mm_entry *first_overlap(const struct list *l, const uint64_t *keys,
                                                 uint64_t a0, uint64_t a1, uint64_t *work)
{
    size_t k = lower_bound(keys, l->n, a0, work);
    return k < l->n && l->e[k].gpa <= a1 ? &l->e[k] : NULL;
}

/* RAM against RAM, pass-through and MMIO device windows; device windows against each other. */
static int check_conflicts(struct vmio_memmap *mm, const struct list *ram,
                           const struct list *merged, const struct list *mmio,
                           const struct list *pio, struct vmio_error *err)
{
    uint64_t *kp = running_last(merged), *kd = running_last(mmio);
    int rc = kp && kd ? 0 : vmio_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < ram->n && rc == 0; i++) {
        const struct vmio_mm_entry *r = &ram->e[i], *o;
        mm->work++;
        if (i + 1 < ram->n &&
            overlaps(r->gpa, last_of(r), ram->e[i + 1].gpa, last_of(&ram->e[i + 1])))
            rc = conflict(r, &ram->e[i + 1], "", err);
        else if ((o = first_overlap(merged, kp, r->gpa, last_of(r), &mm->work)))
            rc = conflict(r, o, "", err);
        else if ((o = first_overlap(mmio, kd, r->gpa, last_of(r), &mm->work)))
            rc = conflict(o, r, " (a device window inside RAM would never exit)", err);
    }
    /* Sorted by address: if any two windows overlap, two neighbours do. */
    const struct list *spaces[] = {mmio, pio};
    for (unsigned s = 0; s < 2 && rc == 0; s++)
        for (size_t i = 0; i + 1 < spaces[s]->n && rc == 0; i++) {
            const struct vmio_mm_entry *a = &spaces[s]->e[i], *b = &spaces[s]->e[i + 1];
            mm->work++;
            if (overlaps(a->gpa, last_of(a), b->gpa, last_of(b)))
                rc = conflict(a, b, "", err);
        }
    free(kp);
    free(kd);
    return rc;
}

/* ---- step 3: carving ---- */

/* A page-aligned hole [first, last]. */
struct hole {
    uint64_t first, last;
};

/*
 * Give each MMIO window of @mmio (sorted, disjoint) its hole and the owners
 * of the mappings of @merged (sorted, disjoint) it cuts, and append to @holes
 * the union of the holes that cut anything (sorted, disjoint, not touching).
 */
static int find_holes(struct vmio_memmap *mm, struct list *mmio, const struct list *merged,
                      struct hole **holes, size_t *nholes, struct vmio_error *err)
{
    uint64_t *lasts = malloc((merged->n ? merged->n : 1) * sizeof(*lasts));
    *holes = malloc((mmio->n ? mmio->n : 1) * sizeof(**holes));
    *nholes = 0;
    if (!lasts || !*holes) {
        free(lasts);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < merged->n; i++)
        lasts[i] = last_of(&merged->e[i]);
    int rc = 0;
    for (size_t i = 0; i < mmio->n && rc == 0; i++) {
        struct vmio_mm_entry *d = &mmio->e[i];
        uint64_t h0 = d->gpa & ~PAGE_MASK, h1 = last_of(d) | PAGE_MASK;
        size_t k = lower_bound(lasts, merged->n, h0, &mm->work);
        struct join names = {0};
        /* Mappings are page-aligned and disjoint: the ones inside the hole are its own,
         * only its first and last page can be shared with other windows. */
        for (; k < merged->n && merged->e[k].gpa <= h1; k++) {
            mm->work++;
            join_add(&names, merged->e[k].owner);
        }
        if (!names.nshown)
            continue;
        d->hole_gpa = h0;
        d->hole_size = h1 - h0 + 1;
        d->carved_from = join_finish(mm, &names);
        if (!d->carved_from)
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
        struct hole *prev = *nholes ? &(*holes)[*nholes - 1] : NULL;
        if (prev && (prev->last == UINT64_MAX || h0 <= prev->last + 1))
            prev->last = h1 > prev->last ? h1 : prev->last;
        else
            (*holes)[(*nholes)++] = (struct hole){h0, h1};
    }
    free(lasts);
    return rc;
}

/* Append to @out the parts of @m outside the @n holes (sorted, disjoint), from hole *@j on. */
static int cut(struct vmio_memmap *mm, const struct vmio_mm_entry *m, const struct hole *holes,
               size_t n, size_t *j, struct list *out)
{
    uint64_t m0 = m->gpa, m1 = last_of(m);
    while (*j < n && holes[*j].last < m0) {
        mm->work++;
        (*j)++;
    }
    uint64_t cur = m0;
    for (size_t k = *j; k < n && holes[k].first <= m1; k++) {
        mm->work++;
        if (holes[k].first > cur) {
            struct vmio_mm_entry piece = *m;
            piece.gpa = cur;
            piece.size = holes[k].first - cur;
            piece.src = m->src + (cur - m0);
            if (list_push(out, &piece) < 0)
                return -ENOMEM;
        }
        if (holes[k].last >= m1)
            return 0; /* the rest is a hole */
        cur = holes[k].last + 1;
    }
    struct vmio_mm_entry piece = *m;
    piece.gpa = cur;
    piece.size = m1 - cur + 1;
    piece.src = m->src + (cur - m0);
    return list_push(out, &piece);
}

/* ---- the build ---- */

int vmio_memmap_build(struct vmio_memmap *mm, struct vmio_error *err)
{
    if (mm->built)
        return vmio_error_set(err, -EALREADY, "the memory map is already built");
    mm->work = 0;
    struct list ram = {0}, pt = {0}, merged = {0}, mmio = {0}, pio = {0}, pieces = {0}, all = {0};
    struct hole *holes = NULL;
    size_t nholes = 0;
    int rc = 0;
    for (size_t i = 0; i < mm->n && rc == 0; i++) {
        const struct vmio_mm_entry *e = &mm->e[i];
        mm->work++;
        struct list *to = e->kind == VMIO_MM_RAM           ? &ram
                          : e->kind == VMIO_MM_PASSTHROUGH ? &pt
                          : e->space == VMIO_SPACE_MMIO    ? &mmio
                                                           : &pio;
        rc = list_push(to, e);
    }
    if (rc < 0) {
        rc = vmio_error_set(err, rc, "out of memory");
        goto out;
    }

    /* 1 and 2: align and merge the pass-through mappings. */
    for (size_t i = 0; i < pt.n && rc == 0; i++)
        rc = align_passthrough(&pt.e[i], err);
    list_sort(&pt, &mm->work);
    if (rc == 0)
        rc = merge_passthrough(mm, &pt, &merged, err);
    if (rc < 0)
        goto out;

    /* 4: conflicts (before carving, so that messages name whole mappings). */
    list_sort(&ram, &mm->work);
    list_sort(&mmio, &mm->work);
    list_sort(&pio, &mm->work);
    rc = check_conflicts(mm, &ram, &merged, &mmio, &pio, err);
    if (rc < 0)
        goto out;

    /* 3: carve the MMIO device windows' holes out of the merged mappings. */
    rc = find_holes(mm, &mmio, &merged, &holes, &nholes, err);
    size_t j = 0;
    for (size_t i = 0; i < merged.n && rc == 0; i++)
        if (cut(mm, &merged.e[i], holes, nholes, &j, &pieces) < 0)
            rc = vmio_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0)
        goto out;

    /* The final, sorted list: RAM, pass-through, devices (MMIO then ports). */
    const struct list *parts[] = {&ram, &pieces, &mmio, &pio};
    for (unsigned p = 0; p < 4 && rc == 0; p++)
        for (size_t i = 0; i < parts[p]->n && rc == 0; i++)
            rc = list_push(&all, &parts[p]->e[i]);
    if (rc < 0) {
        rc = vmio_error_set(err, rc, "out of memory");
        goto out;
    }
    list_sort(&all, &mm->work);
    free(mm->e);
    mm->e = all.e;
    mm->n = all.n;
    mm->cap = all.cap;
    all = (struct list){0};
    mm->built = true;
out:
    free(holes);
    list_free(&ram);
    list_free(&pt);
    list_free(&merged);
    list_free(&mmio);
    list_free(&pio);
    list_free(&pieces);
    list_free(&all);
    return rc;
}

uint64_t vmio_memmap_work(const struct vmio_memmap *mm)
{
    return mm ? mm->work : 0;
}

size_t vmio_memmap_count(const struct vmio_memmap *mm)
{
    return mm ? mm->n : 0;
}

const struct vmio_mm_entry *vmio_memmap_at(const struct vmio_memmap *mm, size_t i)
{
    return mm && i < mm->n ? &mm->e[i] : NULL;
}

char *vmio_size_format(uint64_t size, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && size && (size & 1023) == 0) {
        size >>= 10;
        u++;
    }
    snprintf(buf, len, "%" PRIu64 " %s", size, units[u]);
    return buf;
}

void vmio_memmap_print(const struct vmio_memmap *mm, FILE *out)
{
    char sz[32];
    fprintf(out, "memory map (guest-physical):\n");
    bool any = false;
    for (size_t i = 0; i < mm->n; i++) {
        const struct vmio_mm_entry *e = &mm->e[i];
        if (e->space != VMIO_SPACE_MMIO)
            continue;
        any = true;
        const char *kind = e->kind == VMIO_MM_RAM           ? "ram"
                           : e->kind == VMIO_MM_PASSTHROUGH ? "passthrough"
                                                            : "device";
        fprintf(out, "  0x%016" PRIx64 "-0x%016" PRIx64 "  %-9s  %-11s  %s", e->gpa, last_of(e),
                vmio_size_format(e->size, sz, sizeof(sz)), kind, e->owner);
        if (e->kind == VMIO_MM_PASSTHROUGH)
            fprintf(out, " <- %s @ 0x%" PRIx64, e->backing, e->src);
        if (e->readonly)
            fprintf(out, " (read-only)");
        if (e->kind == VMIO_MM_DEVICE && e->hole_size)
            fprintf(out, " (carved 0x%" PRIx64 "-0x%" PRIx64 " out of %s)", e->hole_gpa,
                    e->hole_gpa + (e->hole_size - 1), e->carved_from);
        fputc('\n', out);
    }
    if (!any)
        fprintf(out, "  (empty)\n");
    fprintf(out, "port map:\n");
    any = false;
    for (size_t i = 0; i < mm->n; i++) {
        const struct vmio_mm_entry *e = &mm->e[i];
        if (e->space != VMIO_SPACE_PIO)
            continue;
        any = true;
        fprintf(out, "  0x%04" PRIx64 "-0x%04" PRIx64 "  %-9s  %-11s  %s\n", e->gpa, last_of(e),
                e->size == 1 ? "1 port"
                             : (snprintf(sz, sizeof(sz), "%" PRIu64 " ports", e->size), sz),
                "device", e->owner);
    }
    if (!any)
        fprintf(out, "  (empty)\n");
}
