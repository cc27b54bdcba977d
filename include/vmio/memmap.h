/*
 * The guest-physical memory map builder (pure: no KVM, no I/O besides the
 * optional listing stream).
 *
 * A VM's address space is described by three kinds of input:
 *   - RAM regions (memory vmio allocates; page-aligned, never overlapping
 *     anything else);
 *   - pass-through mappings (host memory mapped straight into the guest:
 *     guest accesses never exit). Each says what backs it (a backing name
 *     such as "/dev/mem", "file:/path" or "shm:name") and the address of
 *     its first byte inside that backing ("source address": base_hpa for
 *     /dev/mem, an offset for a file or shared-memory object);
 *   - emulated device windows (never mapped, so every access exits to the
 *     device), in the MMIO space or the I/O-port space.
 *
 * vmio_memmap_build() turns them into the final map:
 *   1. each pass-through mapping is aligned outward to 4 KiB: the start is
 *      rounded down and the end up, so an unaligned base keeps its tail; the
 *      source address moves with the start (it must have the same offset
 *      within a page as the guest address, or the mapping is impossible);
 *   2. pass-through mappings that overlap or touch are merged when they have
 *      the same backing, the same guest-to-source delta and the same access
 *      (read-only or not); touching mappings that cannot be merged stay
 *      separate, overlapping ones are an error naming both;
 *   3. every MMIO device window that overlaps a pass-through mapping is
 *      carved out of it: the hole is the window aligned outward to 4 KiB (a
 *      KVM slot covers whole pages), so the rest of the window's first and
 *      last pages is unmapped too (accesses there exit and, claimed by no
 *      device, follow the unclaimed-access policy). A hole at either end
 *      shrinks the mapping, one in the middle splits it in two;
 *   4. any other conflict is an error naming both sides: RAM vs RAM, RAM vs
 *      pass-through, RAM vs MMIO device window, device vs device in the same
 *      space.
 *
 * Invariants after a successful build: entries are sorted (MMIO space by
 * address, then the port space by port); RAM, pass-through mappings and
 * MMIO device windows never overlap each other (pass-through mappings may
 * touch); every RAM and pass-through entry is 4 KiB aligned, has a size
 * above 0 and ends at or below 2^64 - 1 (a merge that would cover the whole
 * address space, or wrap its source range, is refused). Every string in an
 * entry is owned by the map and lives until vmio_memmap_free().
 *
 * Bounded work (the inputs come from config files): a map holds at most
 * VMIO_MEMMAP_MAX_ENTRIES inputs, names at most VMIO_MEMMAP_NAME_MAX bytes
 * and backings VMIO_MEMMAP_BACKING_MAX; joined names (merged mappings,
 * "carved out of") show at most VMIO_MEMMAP_JOIN_SHOWN names and then
 * "+N more". vmio_memmap_build() sorts once and sweeps: O(N log N) time and
 * O(N) memory for N inputs, whatever their layout (vmio_memmap_work()
 * measures it; tests/unit/test_memmap.c bounds it, bench/memmap_bench.c
 * times it).
 */
#ifndef VMIO_MEMMAP_H
#define VMIO_MEMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/bus.h"
#include "vmio/error.h"

#define VMIO_PAGE_SIZE ((uint64_t)0x1000)

/* At most this many inputs (RAM, pass-through, device windows) in one map. */
#define VMIO_MEMMAP_MAX_ENTRIES 16384
/* Longest owner name, in bytes without the terminator. */
#define VMIO_MEMMAP_NAME_MAX 128
/* Longest backing string ("file:" + an absolute path), without the terminator. */
#define VMIO_MEMMAP_BACKING_MAX 4100
/* Names a joined owner shows before "+N more". */
#define VMIO_MEMMAP_JOIN_SHOWN 4

enum vmio_mm_kind {
    VMIO_MM_RAM = 0,     /* guest RAM vmio allocates */
    VMIO_MM_PASSTHROUGH, /* host memory mapped into the guest, no exits */
    VMIO_MM_DEVICE,      /* emulated device window: exits to its device */
};

/* One entry of the built map (or one input before vmio_memmap_build()). */
struct vmio_mm_entry {
    enum vmio_mm_kind kind;
    enum vmio_space space; /* VMIO_SPACE_PIO only for device port windows */
    uint64_t gpa;          /* first guest-physical address (or port) */
    uint64_t size;         /* bytes (or ports); never 0 */
    bool readonly;         /* RAM and pass-through: guest writes exit (KVM read-only slot) */
    const char *owner;     /* who asked for it; merged mappings join names with '+'
                              (at most VMIO_MEMMAP_JOIN_SHOWN, then "+N more") */
    /* Pass-through only. */
    const char *backing; /* "/dev/mem", "file:PATH", "shm:NAME", ... */
    uint64_t src;        /* source address of @gpa inside the backing */
    /* Device windows only: the page-aligned hole carved for it, if any. */
    uint64_t hole_gpa, hole_size; /* hole_size 0: nothing was carved */
    const char *carved_from;      /* owners of the mappings the hole was cut from (joined) */
};

struct vmio_memmap;

/*
 * vmio_memmap_new - an empty map builder. *@out is owned by the caller
 * (vmio_memmap_free()). Errors: -ENOMEM.
 */
int vmio_memmap_new(struct vmio_memmap **out);

/* vmio_memmap_free - free @mm (may be NULL) and every string in it. */
void vmio_memmap_free(struct vmio_memmap *mm);

/*
 * vmio_memmap_add_ram - add guest RAM [@gpa, @gpa + @size) named @owner
 * (copied). Errors: -EINVAL when @size is 0, the range wraps past 2^64, or
 * @gpa or @size is not a multiple of 4 KiB (the message names @owner);
 * -ENAMETOOLONG for an @owner longer than VMIO_MEMMAP_NAME_MAX; -ENOSPC
 * past VMIO_MEMMAP_MAX_ENTRIES inputs; -EALREADY after vmio_memmap_build();
 * -ENOMEM. The same last four apply to every vmio_memmap_add_*().
 */
int vmio_memmap_add_ram(struct vmio_memmap *mm, uint64_t gpa, uint64_t size, bool readonly,
                        const char *owner, struct vmio_error *err);

/*
 * vmio_memmap_add_passthrough - add a pass-through mapping of
 * [@gpa, @gpa + @size) backed by @backing (copied; compared as a string to
 * decide what can be merged) from source address @src. @owner is copied.
 * Errors: -EINVAL for a zero size, a range that wraps (guest or source
 * side), an empty @backing; -ENAMETOOLONG for a @backing longer than
 * VMIO_MEMMAP_BACKING_MAX; those of vmio_memmap_add_ram(). Alignment
 * problems are found by vmio_memmap_build().
 */
int vmio_memmap_add_passthrough(struct vmio_memmap *mm, uint64_t gpa, uint64_t size,
                                const char *backing, uint64_t src, bool readonly, const char *owner,
                                struct vmio_error *err);

/*
 * vmio_memmap_add_device - add an emulated device window in @space (MMIO:
 * guest-physical addresses; PIO: ports, which must end at or below 0x10000).
 * @owner is copied. Errors: -EINVAL for a zero size, a wrapping range or a
 * port window beyond 0xffff; those of vmio_memmap_add_ram().
 */
int vmio_memmap_add_device(struct vmio_memmap *mm, enum vmio_space space, uint64_t gpa,
                           uint64_t size, const char *owner, struct vmio_error *err);

/*
 * vmio_memmap_build - align, merge, carve and check (see the file comment).
 * Call once, after every add. On error the map is unchanged and @err names
 * both sides of the conflict with their ranges:
 *   -EINVAL  a pass-through mapping whose guest address and source address
 *            differ in their offset within a 4 KiB page, or one that covers
 *            the whole 64-bit address space once aligned and merged;
 *   -EBUSY   an overlap that is neither a merge nor a carve.
 * -ENOMEM when out of memory; -EALREADY when called twice.
 */
int vmio_memmap_build(struct vmio_memmap *mm, struct vmio_error *err);

/*
 * vmio_memmap_work - the elementary steps (comparisons made by sorting and
 * searching, entries visited by the sweeps) the last vmio_memmap_build() of
 * @mm took, successful or not; 0 before any build. A machine-independent
 * measure of its cost: it grows as N log N for N inputs, whatever their
 * layout, which tests assert instead of timing the build.
 */
uint64_t vmio_memmap_work(const struct vmio_memmap *mm);

/* vmio_memmap_count / vmio_memmap_at - the entries in order (inputs before build). */
size_t vmio_memmap_count(const struct vmio_memmap *mm);
const struct vmio_mm_entry *vmio_memmap_at(const struct vmio_memmap *mm, size_t i);

/*
 * vmio_memmap_print - write the listing to @out: a "memory map" section with
 * one line per RAM region, pass-through mapping and MMIO device window in
 * address order (range, size, kind, owner, and backing / carve details), then
 * a "port map" section for port windows. The exact format is shown in
 * docs/config.md and checked by tests/unit/test_memmap.c.
 */
void vmio_memmap_print(const struct vmio_memmap *mm, FILE *out);

/*
 * vmio_size_format - @size as the largest unit that divides it exactly
 * ("64 MiB", "6 KiB", "16 B") into @buf (@len bytes, at least 24). Returns @buf.
 */
char *vmio_size_format(uint64_t size, char *buf, size_t len);

#endif
