/*
 * Guest memory as vmio's host code sees it: a set of regions (RAM, ROM,
 * pass-through), each a guest-physical range backed by a host range, and
 * the translation from a guest-physical span to a host pointer.
 *
 * This is THE check every guest-supplied (or file-supplied) guest-physical
 * pointer goes through: a span translates only when all of it lies inside
 * one translatable region, and every end-address computation is checked
 * for wraparound. Loaders (multiboot, raw kernels, dtb, ramdisk) and the
 * trace decoder take this object, not a VM, so they run and are fuzzed with
 * no hypervisor at all; a VM owns one (vmio_vm_memory()).
 *
 * Invariants: regions never overlap, are non-empty, do not wrap around the
 * 64-bit address space and are kept in address order. Pass-through regions
 * are listed but never translated: what lies behind them is the host's
 * (device registers through /dev/mem, where a read has side effects), so
 * vmio itself never reads or writes them. The object describes host memory,
 * it never owns it: whoever added a region keeps its host range mapped
 * until the region is removed or the object destroyed.
 *
 * Threads: lookups and copies may run on any number of threads at once (they
 * only read the region table); adding or removing regions must not race
 * with anything else on the same object (a VM fixes its memory before its
 * vCPUs run).
 */
#ifndef VMIO_GUEST_MEM_H
#define VMIO_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

struct vmio_guest_mem;

/* What backs a region. */
enum vmio_mem_kind {
    VMIO_MEM_RAM = 0,         /* memory vmio owns and reads/writes (ROM: RAM with readonly) */
    VMIO_MEM_PASSTHROUGH = 1, /* host memory mapped into the guest; never translated */
};

/* One region as the guest sees it. */
struct vmio_mem_region {
    uint64_t gpa;  /* first guest-physical address */
    uint64_t size; /* bytes, > 0; gpa + size - 1 does not wrap */
    void *host;    /* host address of the first byte */
    bool readonly; /* guest writes exit (ROM, read-only pass-through); host writes still land */
    enum vmio_mem_kind kind;
    const char *name; /* for listings and messages; the object keeps its own copy */
};

/*
 * vmio_guest_mem_create - an empty guest memory in *@out (owned by the caller,
 * freed with vmio_guest_mem_destroy()). Errors: -ENOMEM.
 */
int vmio_guest_mem_create(struct vmio_guest_mem **out, struct vmio_error *err);

/* vmio_guest_mem_destroy - free @mem (may be NULL); the host ranges are untouched. */
void vmio_guest_mem_destroy(struct vmio_guest_mem *mem);

/*
 * vmio_guest_mem_add - add the region *@r (copied, name included; a NULL name
 * becomes "(unnamed)").
 * Errors: -EINVAL for a size of 0, a range that wraps past 2^64, a NULL host
 * pointer, a host range that wraps, or an unknown kind; -EBUSY when it
 * overlaps a region already there (the message names both); -ENOMEM.
 * On error @mem is unchanged.
 */
int vmio_guest_mem_add(struct vmio_guest_mem *mem, const struct vmio_mem_region *r,
                       struct vmio_error *err);

/*
 * vmio_guest_mem_remove - remove the region that starts at @gpa.
 * Errors: -ENOENT when no region starts there.
 */
int vmio_guest_mem_remove(struct vmio_guest_mem *mem, uint64_t gpa);

/*
 * vmio_guest_mem_count / vmio_guest_mem_at - the regions in address order,
 * pass-through ones included; NULL for @i >= count. The pointer is valid
 * until the next add or remove.
 */
unsigned vmio_guest_mem_count(const struct vmio_guest_mem *mem);
const struct vmio_mem_region *vmio_guest_mem_at(const struct vmio_guest_mem *mem, unsigned i);

/*
 * vmio_guest_mem_find - the RAM region (never a pass-through one) that holds
 * all of guest-physical [@gpa, @gpa + @len), or NULL: when any byte of the
 * span lies outside it, when the span wraps past 2^64, or when @len is 0 and
 * @gpa itself is not inside a RAM region.
 */
const struct vmio_mem_region *vmio_guest_mem_find(const struct vmio_guest_mem *mem, uint64_t gpa,
                                                  uint64_t len);

/*
 * vmio_guest_mem_to_host - host pointer for guest-physical [@gpa, @gpa + @len)
 * when vmio_guest_mem_find() finds a region for it, else NULL. The pointer
 * covers exactly @len bytes; it ignores the readonly flag (callers that act
 * for the guest check it with vmio_guest_mem_find()).
 */
void *vmio_guest_mem_to_host(const struct vmio_guest_mem *mem, uint64_t gpa, uint64_t len);

/*
 * vmio_guest_mem_read - copy guest-physical [@gpa, @gpa + @len) into @dst.
 * vmio_guest_mem_write - copy @len bytes of @src to guest-physical @gpa
 * (host writes: read-only RAM, i.e. ROM, is written too, as a loader must).
 * vmio_guest_mem_fill - set guest-physical [@gpa, @gpa + @len) to @byte.
 * The span may cross from one RAM region into the next when they are
 * adjacent. Errors: -EFAULT when any byte of it is not RAM (a gap, a
 * pass-through region, beyond the last region) or the span wraps; then
 * nothing is copied. @len 0 always succeeds.
 */
int vmio_guest_mem_read(const struct vmio_guest_mem *mem, uint64_t gpa, void *dst, size_t len);
int vmio_guest_mem_write(const struct vmio_guest_mem *mem, uint64_t gpa, const void *src,
                         size_t len);
int vmio_guest_mem_fill(const struct vmio_guest_mem *mem, uint64_t gpa, int byte, size_t len);

#endif
