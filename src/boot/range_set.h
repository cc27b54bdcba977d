/*
 * A set of guest-physical addresses as a list of inclusive ranges [lo, hi],
 * for boot-time placement (internal to src/boot).
 *
 * Inclusive bounds mean a range may end at 2^64 - 1 and no end computation
 * wraps. After vmio_range_set_normalize() (which every operation below that
 * needs it calls itself) the ranges are sorted, disjoint and never touch.
 * Allocation failures are reported once, as -ENOMEM, by the operation that
 * hit them.
 */
#ifndef VMIO_RANGE_SET_H
#define VMIO_RANGE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
    uint64_t lo, hi; /* inclusive; lo <= hi */
};

struct range_set {
    struct range *r;
    unsigned n, cap;
};

/* vmio_range_set_free - release @s's storage; @s is then empty and reusable. */
void vmio_range_set_free(struct range_set *s);

/* vmio_range_set_add - add [lo, hi] (lo <= hi). Returns 0 or -ENOMEM. */
int vmio_range_set_add(struct range_set *s, uint64_t lo, uint64_t hi);

/* vmio_range_set_normalize - sort and merge overlapping or touching ranges. */
void vmio_range_set_normalize(struct range_set *s);

/* vmio_range_set_remove - take [lo, hi] out of @s (ranges may split). Returns 0 or -ENOMEM. */
int vmio_range_set_remove(struct range_set *s, uint64_t lo, uint64_t hi);

/* vmio_range_set_contains - whether all of [lo, hi] lies inside one range of @s (normalized). */
bool vmio_range_set_contains(const struct range_set *s, uint64_t lo, uint64_t hi);

/*
 * vmio_range_set_lowest_fit - the lowest address a, a multiple of @align (a power
 * of two), with [a, a + len - 1] inside one range of @s (normalized) and
 * a >= @min. @len > 0. Returns true and sets *@out, or false.
 */
bool vmio_range_set_lowest_fit(const struct range_set *s, uint64_t min, uint64_t len,
                               uint64_t align, uint64_t *out);

/*
 * vmio_range_set_highest_fit - the highest address a, a multiple of @align (a
 * power of two), with [a, a + len - 1] inside one range of @s (normalized)
 * and a + len - 1 <= @max. @len > 0. Returns true and sets *@out, or false.
 */
bool vmio_range_set_highest_fit(const struct range_set *s, uint64_t max, uint64_t len,
                                uint64_t align, uint64_t *out);

/*
 * vmio_range_set_format - "0x0-0x9fbff, 0x100000-0x3ffffff" into @buf (@size
 * bytes, always NUL-terminated; "none" when empty; cut with "..." when long).
 */
void vmio_range_set_format(const struct range_set *s, char *buf, size_t size);

#endif
