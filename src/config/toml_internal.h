/*
 * What the TOML reader exposes to vmio's own tests and benchmarks only (not
 * installed, not part of the API): counters that let a test bound the work
 * of a parse by counting instead of timing it.
 */
#ifndef VMIO_TOML_INTERNAL_H
#define VMIO_TOML_INTERNAL_H

#include <stdint.h>

#include "vmio/toml.h"

/*
 * vmio_toml__table_probes - the hash-index slots the parser visited in table
 * @t (lookups and inserts, index rebuilds included) while building it; 0 for
 * a table with fewer keys than the index threshold, or for anything that is
 * not a table. Linear probing in an index at most half full visits a few
 * slots per key on average, whatever the keys, so a test can assert a small
 * multiple of the key count.
 */
uint64_t vmio_toml__table_probes(const struct vmio_toml_value *t);

#endif
