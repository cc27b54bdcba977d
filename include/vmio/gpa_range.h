/*
 * A span of guest-physical addresses, as boot-time layout code exchanges
 * them (RAM regions, reserved ranges). Plain data.
 *
 * Invariant expected by every consumer: size > 0 and gpa + size - 1 does not
 * wrap past 2^64 - 1; consumers check it and refuse (with an error naming the
 * range) anything else, since ranges may come from a config file.
 */
#ifndef VMIO_GPA_RANGE_H
#define VMIO_GPA_RANGE_H

#include <stdint.h>

struct vmio_gpa_range {
    uint64_t gpa;  /* first byte */
    uint64_t size; /* bytes; never 0 */
};

#endif
