/*
 * A flattened device tree (DTB, devicetree specification v0.4, version 17)
 * writer: the AArch64 machine describes itself to its guest with one
 * (src/machine/arm64_fdt.c), built at run time.
 *
 * Use: vmio_fdt_init() on a caller-owned buffer, then nodes and properties in
 * document order (vmio_fdt_begin_node() / vmio_fdt_prop*() /
 * vmio_fdt_end_node(), the root node first), then vmio_fdt_finish(), which
 * lays out header, memory-reservation map, structure and strings blocks in
 * the buffer and returns the blob's size.
 *
 * Errors are sticky: the first failure is kept, later calls do nothing and
 * return it, and vmio_fdt_finish() reports it, so a builder can make its
 * calls in a row and check once. No allocation: the strings block lives in
 * the writer (VMIO_FDT_STRINGS_MAX bytes, names shared between properties).
 * Pure: no OS call; the same calls give the same bytes.
 */
#ifndef VMIO_FDT_H
#define VMIO_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

#define VMIO_FDT_MAGIC 0xd00dfeedu
#define VMIO_FDT_STRINGS_MAX 2048
#define VMIO_FDT_DEPTH_MAX 8

struct vmio_fdt {
    uint8_t *buf; /* the caller's buffer; the structure block is written from FDT_STRUCT_OFF */
    size_t size;
    size_t pos; /* end of the structure block so far */
    char strings[VMIO_FDT_STRINGS_MAX];
    size_t strings_len;
    unsigned depth;
    int error; /* the first error (negative errno), or 0 */
    struct vmio_error *err;
};

/*
 * vmio_fdt_init - start a tree in @buf (@size bytes, caller-owned, must
 * outlive the writer). @err (may be NULL) receives the first error's words.
 * Returns 0, or -ENOSPC when @size cannot hold even an empty tree.
 */
int vmio_fdt_init(struct vmio_fdt *f, void *buf, size_t size, struct vmio_error *err);

/*
 * vmio_fdt_begin_node - open node @name ("" for the root, which must be the
 * first and only top-level node; else "name" or "name@unit", 1..31
 * characters of the specification's node-name set). Errors: -EINVAL (bad
 * name, a second root, deeper than VMIO_FDT_DEPTH_MAX), -ENOSPC.
 */
int vmio_fdt_begin_node(struct vmio_fdt *f, const char *name);

/* vmio_fdt_end_node - close the innermost open node. Errors: -EINVAL (none open), -ENOSPC. */
int vmio_fdt_end_node(struct vmio_fdt *f);

/*
 * vmio_fdt_prop - property @name (1..31 characters of the property-name set)
 * with the @len bytes at @val (copied; @val may be NULL when @len is 0) in
 * the open node. Errors: -EINVAL (bad name, no open node), -ENOSPC (buffer
 * or strings block full).
 */
int vmio_fdt_prop(struct vmio_fdt *f, const char *name, const void *val, size_t len);

/* Property helpers: one big-endian cell, two cells (a 64-bit value), a string
 * (with its NUL), @n cells, an empty property. Errors: as vmio_fdt_prop(). */
int vmio_fdt_prop_u32(struct vmio_fdt *f, const char *name, uint32_t v);
int vmio_fdt_prop_u64(struct vmio_fdt *f, const char *name, uint64_t v);
int vmio_fdt_prop_string(struct vmio_fdt *f, const char *name, const char *s);
int vmio_fdt_prop_cells(struct vmio_fdt *f, const char *name, const uint32_t *cells, size_t n);
int vmio_fdt_prop_empty(struct vmio_fdt *f, const char *name);

/*
 * vmio_fdt_finish - close the tree (every node must be closed) and write the
 * header, an empty memory-reservation map and the strings block; *@size
 * receives the blob's total size (the header's totalsize). Returns 0, the
 * first error of the build, -EINVAL (nodes still open, no root) or -ENOSPC.
 */
int vmio_fdt_finish(struct vmio_fdt *f, size_t *size);

#endif
