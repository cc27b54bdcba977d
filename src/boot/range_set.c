/*
 * Sets of inclusive address ranges (see range_set.h).
 *
 * Overflow rules kept by every function: an end is always computed as
 * lo + (len - 1) after checking len - 1 <= UINT64_MAX - lo, and aligning up
 * checks for room before adding, so no expression here wraps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "boot/range_set.h"

void vmio_range_set_free(struct range_set *s)
{
    free(s->r);
    s->r = NULL;
    s->n = s->cap = 0;
}

int vmio_range_set_add(struct range_set *s, uint64_t lo, uint64_t hi)
{
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 8;
        if (cap < s->cap)
            return -ENOMEM;
        struct range *nr = realloc(s->r, (size_t)cap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        s->r = nr;
        s->cap = cap;
    }
    s->r[s->n++] = (struct range){lo, hi};
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

void vmio_range_set_normalize(struct range_set *s)
{
    if (s->n < 2)
        return;
    qsort(s->r, s->n, sizeof(s->r[0]), cmp_range);
    unsigned k = 0;
    for (unsigned i = 1; i < s->n; i++) {
        struct range *cur = &s->r[k];
        /* overlap or touch: the next starts at most one past the current end */
        if (cur->hi == UINT64_MAX || s->r[i].lo <= cur->hi + 1) {
            if (s->r[i].hi > cur->hi)
                cur->hi = s->r[i].hi;
        } else {
            s->r[++k] = s->r[i];
        }
    }
    s->n = k + 1;
}

int vmio_range_set_remove(struct range_set *s, uint64_t lo, uint64_t hi)
{
    unsigned n = s->n;
    for (unsigned i = 0; i < n; i++) {
        struct range c = s->r[i];
        if (hi < c.lo || lo > c.hi)
            continue;
        /* Keep the part below [lo, hi] in place (or mark the slot empty), push the part above. */
        if (c.lo < lo) {
            s->r[i].hi = lo - 1;
        } else {
            s->r[i].lo = 1;
            s->r[i].hi = 0; /* empty marker: lo > hi */
        }
        if (c.hi > hi && vmio_range_set_add(s, hi + 1, c.hi) < 0)
            return -ENOMEM;
    }
    unsigned k = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (s->r[i].lo <= s->r[i].hi)
            s->r[k++] = s->r[i];
    s->n = k;
    vmio_range_set_normalize(s);
    return 0;
}

bool vmio_range_set_contains(const struct range_set *s, uint64_t lo, uint64_t hi)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->r[i].lo <= lo && hi <= s->r[i].hi)
            return true;
    return false;
}

/* Round @v up to @align (a power of two); false when that passes 2^64 - 1. */
static bool align_up(uint64_t v, uint64_t align, uint64_t *out)
{
    uint64_t mask = align - 1;
    if (v > UINT64_MAX - mask)
        return false;
    *out = (v + mask) & ~mask;
    return true;
}

bool vmio_range_set_lowest_fit(const struct range_set *s, uint64_t min, uint64_t len,
                               uint64_t align, uint64_t *out)
{
    for (unsigned i = 0; i < s->n; i++) {
        uint64_t start = s->r[i].lo > min ? s->r[i].lo : min, a;
        if (start > s->r[i].hi || !align_up(start, align, &a) || a > s->r[i].hi)
            continue;
        if (len - 1 <= s->r[i].hi - a) {
            *out = a;
            return true;
        }
    }
    return false;
}

bool vmio_range_set_highest_fit(const struct range_set *s, uint64_t max, uint64_t len,
                                uint64_t align, uint64_t *out)
{
    for (unsigned i = s->n; i-- > 0;) {
        uint64_t lo = s->r[i].lo, hi = s->r[i].hi < max ? s->r[i].hi : max;
        if (hi < lo || len - 1 > hi - lo)
            continue;
        uint64_t a = (hi - (len - 1)) & ~(align - 1); /* last start that ends by hi, aligned down */
        if (a >= lo) {
            *out = a;
            return true;
        }
    }
    return false;
}

void vmio_range_set_format(const struct range_set *s, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (s->n == 0) {
        snprintf(buf, size, "none");
        return;
    }
    size_t used = 0;
    for (unsigned i = 0; i < s->n; i++) {
        int w = snprintf(buf + used, size - used, "%s0x%" PRIx64 "-0x%" PRIx64, i ? ", " : "",
                         s->r[i].lo, s->r[i].hi);
        if (w < 0 || (size_t)w >= size - used) {
            if (size > 4)
                snprintf(buf + size - 4, 4, "...");
            return;
        }
        used += (size_t)w;
    }
}
