/*
 * The guest-physical memory map builder: alignment, merging and carving of
 * pass-through mappings and the conflict checks between RAM, pass-through
 * mappings and emulated device windows (rules in include/vmio/memmap.h and
 * docs/config.md).
 *
 * Invariants: ranges are handled as [first, last] (inclusive) so that a
 * range ending at 2^64 - 1 never overflows; every string an entry points to
 * is a private copy owned by that entry (entries never share strings), so
 * freeing is entry by entry; vmio_memmap_build() works on copies and only
 * replaces the inputs when it succeeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/memmap.h"

#define PAGE_MASK ((uint64_t)VMIO_PAGE_SIZE - 1)

struct vmio_memmap {
    struct vmio_mm_entry *e;
    size_t n, cap;
    bool built;
};

/* A growable list of entries; each entry owns its strings. */
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

static void entry_release(struct vmio_mm_entry *e)
{
    free((char *)e->owner);
    free((char *)e->backing);
    free((char *)e->carved_from);
    e->owner = e->backing = e->carved_from = NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* Deep copy of @src into *@dst. Errors: -ENOMEM (then *@dst holds nothing). */
static int entry_copy(struct vmio_mm_entry *dst, const struct vmio_mm_entry *src)
{
    bool oom = false;
    *dst = *src;
    dst->owner = dup_or_null(src->owner, &oom);
    dst->backing = dup_or_null(src->backing, &oom);
    dst->carved_from = dup_or_null(src->carved_from, &oom);
    if (oom) {
        entry_release(dst);
        return -ENOMEM;
    }
    return 0;
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        entry_release(&l->e[i]);
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

/* Append @e, taking ownership of its strings (also on failure: they are freed). */
static int list_take(struct list *l, struct vmio_mm_entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct vmio_mm_entry *grown = realloc(l->e, cap * sizeof(*grown));
        if (!grown) {
            entry_release(e);
            return -ENOMEM;
        }
        l->e = grown;
        l->cap = cap;
    }
    l->e[l->n++] = *e;
    return 0;
}

/* Append a deep copy of @e. */
static int list_copy(struct list *l, const struct vmio_mm_entry *e)
{
    struct vmio_mm_entry c;
    if (entry_copy(&c, e) < 0)
        return -ENOMEM;
    return list_take(l, &c);
}

static int cmp_entry(const void *a, const void *b)
{
    const struct vmio_mm_entry *x = a, *y = b;
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

static void list_sort(struct list *l)
{
    if (l->n > 1)
        qsort(l->e, l->n, sizeof(l->e[0]), cmp_entry);
}

int vmio_memmap_new(struct vmio_memmap **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void vmio_memmap_free(struct vmio_memmap *mm)
{
    if (!mm)
        return;
    struct list l = {.e = mm->e, .n = mm->n, .cap = mm->cap};
    list_free(&l);
    free(mm);
}

static int add_entry(struct vmio_memmap *mm, const struct vmio_mm_entry *e, struct vmio_error *err)
{
    if (mm->built)
        return vmio_error_set(err, -EALREADY, "%s: the memory map is already built", e->owner);
    struct list l = {.e = mm->e, .n = mm->n, .cap = mm->cap};
    int rc = list_copy(&l, e);
    mm->e = l.e;
    mm->n = l.n;
    mm->cap = l.cap;
    if (rc < 0)
        return vmio_error_set(err, rc, "out of memory");
    return 0;
}

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

/* Common checks of a new range; @what names it in messages. */
static int check_range(const char *what, const char *owner, uint64_t gpa, uint64_t size,
                       struct vmio_error *err)
{
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

int vmio_memmap_add_ram(struct vmio_memmap *mm, uint64_t gpa, uint64_t size, bool readonly,
                        const char *owner, struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_range("RAM", owner, gpa, size, err);
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
    return add_entry(mm, &e, err);
}

int vmio_memmap_add_passthrough(struct vmio_memmap *mm, uint64_t gpa, uint64_t size,
                                const char *backing, uint64_t src, bool readonly, const char *owner,
                                struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_range("pass-through", owner, gpa, size, err);
    if (rc < 0)
        return rc;
    if (!backing || !*backing)
        return vmio_error_set(err, -EINVAL, "pass-through '%s' has no backing", owner);
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
    return add_entry(mm, &e, err);
}

int vmio_memmap_add_device(struct vmio_memmap *mm, enum vmio_space space, uint64_t gpa,
                           uint64_t size, const char *owner, struct vmio_error *err)
{
    owner = owner ? owner : "(unnamed)";
    int rc = check_range("device", owner, gpa, size, err);
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
    return add_entry(mm, &e, err);
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

/* Step 1: align a pass-through mapping outward to whole pages. */
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

static bool mergeable(const struct vmio_mm_entry *a, const struct vmio_mm_entry *b)
{
    return strcmp(a->backing, b->backing) == 0 && a->gpa - a->src == b->gpa - b->src &&
           a->readonly == b->readonly;
}

/* Join owner names "a+b" into @a (skipping a name already present). */
static int join_owner(struct vmio_mm_entry *a, const char *name)
{
    size_t la = strlen(a->owner), ln = strlen(name);
    /* already listed? (exact element match) */
    const char *p = a->owner;
    while (p) {
        const char *end = strchr(p, '+');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == ln && strncmp(p, name, ln) == 0)
            return 0;
        p = end ? end + 1 : NULL;
    }
    char *j = malloc(la + ln + 2);
    if (!j)
        return -ENOMEM;
    memcpy(j, a->owner, la);
    j[la] = '+';
    memcpy(j + la + 1, name, ln + 1);
    free((char *)a->owner);
    a->owner = j;
    return 0;
}

/* Step 2: merge sorted, aligned pass-through mappings into @out. */
static int merge_passthrough(struct list *pt, struct list *out, struct vmio_error *err)
{
    list_sort(pt);
    for (size_t i = 0; i < pt->n; i++) {
        struct vmio_mm_entry *e = &pt->e[i];
        struct vmio_mm_entry *cur = out->n ? &out->e[out->n - 1] : NULL;
        if (cur) {
            uint64_t cl = last_of(cur);
            bool touch_or_overlap = cl == UINT64_MAX || e->gpa <= cl + 1;
            if (touch_or_overlap && mergeable(cur, e)) {
                uint64_t el = last_of(e);
                if (el > cl)
                    cur->size = el - cur->gpa + 1;
                if (join_owner(cur, e->owner) < 0)
                    return vmio_error_set(err, -ENOMEM, "out of memory");
                continue;
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
        if (list_copy(out, e) < 0)
            return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* Step 3: cut the page-aligned hole of MMIO device window @dev out of @pt. */
static int carve(struct list *pt, struct vmio_mm_entry *dev, struct vmio_error *err)
{
    uint64_t h0 = dev->gpa & ~PAGE_MASK, h1 = last_of(dev) | PAGE_MASK;
    struct list out = {0};
    int rc = 0;
    for (size_t i = 0; i < pt->n && rc == 0; i++) {
        struct vmio_mm_entry *m = &pt->e[i];
        uint64_t m0 = m->gpa, m1 = last_of(m);
        if (!overlaps(m0, m1, h0, h1)) {
            rc = list_copy(&out, m);
            continue;
        }
        if (!dev->carved_from) {
            dev->carved_from = strdup(m->owner);
            rc = dev->carved_from ? 0 : -ENOMEM;
        } else if (strcmp(dev->carved_from, m->owner) != 0) {
            struct vmio_mm_entry tmp = {.owner = dev->carved_from};
            rc = join_owner(&tmp, m->owner);
            dev->carved_from = tmp.owner;
        }
        dev->hole_gpa = h0;
        dev->hole_size = h1 - h0 + 1;
        if (rc == 0 && m0 < h0) {
            struct vmio_mm_entry left;
            rc = entry_copy(&left, m);
            if (rc == 0) {
                left.size = h0 - m0;
                rc = list_take(&out, &left);
            }
        }
        if (rc == 0 && m1 > h1) {
            struct vmio_mm_entry right;
            rc = entry_copy(&right, m);
            if (rc == 0) {
                right.gpa = h1 + 1;
                right.size = m1 - h1;
                right.src = m->src + (h1 + 1 - m0);
                rc = list_take(&out, &right);
            }
        }
    }
    if (rc < 0) {
        list_free(&out);
        return vmio_error_set(err, rc, "out of memory");
    }
    list_free(pt);
    *pt = out;
    return 0;
}

int vmio_memmap_build(struct vmio_memmap *mm, struct vmio_error *err)
{
    if (mm->built)
        return vmio_error_set(err, -EALREADY, "the memory map is already built");
    struct list ram = {0}, pt = {0}, merged = {0}, dev = {0}, all = {0};
    int rc = 0;
    for (size_t i = 0; i < mm->n && rc == 0; i++) {
        const struct vmio_mm_entry *e = &mm->e[i];
        struct list *to = e->kind == VMIO_MM_RAM           ? &ram
                          : e->kind == VMIO_MM_PASSTHROUGH ? &pt
                                                           : &dev;
        rc = list_copy(to, e);
    }
    if (rc < 0) {
        rc = vmio_error_set(err, rc, "out of memory");
        goto out;
    }

    /* 1 and 2: align and merge the pass-through mappings. */
    for (size_t i = 0; i < pt.n && rc == 0; i++)
        rc = align_passthrough(&pt.e[i], err);
    if (rc == 0)
        rc = merge_passthrough(&pt, &merged, err);
    if (rc < 0)
        goto out;

    /* 4: RAM against RAM, pass-through and MMIO device windows. */
    list_sort(&ram);
    list_sort(&dev);
    for (size_t i = 0; i < ram.n; i++) {
        const struct vmio_mm_entry *r = &ram.e[i];
        if (i + 1 < ram.n &&
            overlaps(r->gpa, last_of(r), ram.e[i + 1].gpa, last_of(&ram.e[i + 1]))) {
            rc = conflict(r, &ram.e[i + 1], "", err);
            goto out;
        }
        for (size_t j = 0; j < merged.n; j++)
            if (overlaps(r->gpa, last_of(r), merged.e[j].gpa, last_of(&merged.e[j]))) {
                rc = conflict(r, &merged.e[j], "", err);
                goto out;
            }
        for (size_t j = 0; j < dev.n; j++)
            if (dev.e[j].space == VMIO_SPACE_MMIO &&
                overlaps(r->gpa, last_of(r), dev.e[j].gpa, last_of(&dev.e[j]))) {
                rc = conflict(&dev.e[j], r, " (a device window inside RAM would never exit)", err);
                goto out;
            }
    }
    /* Device windows against each other, per space (sorted: neighbours suffice). */
    for (size_t i = 0; i + 1 < dev.n; i++) {
        const struct vmio_mm_entry *a = &dev.e[i], *b = &dev.e[i + 1];
        if (a->space == b->space && overlaps(a->gpa, last_of(a), b->gpa, last_of(b))) {
            rc = conflict(a, b, "", err);
            goto out;
        }
    }

    /* 3: carve MMIO device windows out of the pass-through mappings. */
    for (size_t i = 0; i < dev.n && rc == 0; i++)
        if (dev.e[i].space == VMIO_SPACE_MMIO)
            rc = carve(&merged, &dev.e[i], err);
    if (rc < 0)
        goto out;

    /* The final, sorted list: RAM, pass-through, devices (MMIO then ports). */
    struct list *parts[] = {&ram, &merged, &dev};
    for (unsigned p = 0; p < 3 && rc == 0; p++)
        for (size_t i = 0; i < parts[p]->n && rc == 0; i++)
            rc = list_copy(&all, &parts[p]->e[i]);
    if (rc < 0) {
        rc = vmio_error_set(err, rc, "out of memory");
        goto out;
    }
    list_sort(&all);
    struct list old = {.e = mm->e, .n = mm->n, .cap = mm->cap};
    list_free(&old);
    mm->e = all.e;
    mm->n = all.n;
    mm->cap = all.cap;
    all = (struct list){0};
    mm->built = true;
out:
    list_free(&ram);
    list_free(&pt);
    list_free(&merged);
    list_free(&dev);
    list_free(&all);
    return rc;
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
