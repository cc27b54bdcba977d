/*
 * A small AML (ACPI Machine Language) builder: the byte encodings a VMM's
 * DSDT needs, written into a caller-supplied buffer.
 *
 * Encodings follow the ACPI 6.x specification, chapter 20 (AML grammar) and
 * section 6.4 (resource descriptors). What it can express: names (NameSeg,
 * root `\`, parent `^`, dual and multi name prefixes), integer constants in
 * their smallest encoding, strings, buffers, packages, Scope, Device, Name,
 * Method with a simple body (Return of a term), the compressed EISA ids of
 * _HID, and resource templates (IO, FixedIO, IRQ, IRQNoFlags, Memory32Fixed,
 * the extended Interrupt descriptor, QWord memory, End Tag).
 *
 * Invariants the builder keeps:
 * - Nothing is ever written past `cap` bytes of the buffer.
 * - Errors are sticky: the first failure (buffer full, malformed name, a
 *   term where the grammar does not allow one, nesting too deep, a
 *   length out of range) is recorded and every later call does nothing.
 *   The caller checks once, with vmio_aml_finish(). No call aborts.
 * - Bodies whose length is only known at their end (Scope, Device, Method,
 *   Package, resource templates) are opened by one call and closed by
 *   vmio_aml_end(); the builder then inserts the PkgLength (and a Package's
 *   element count, a Buffer's size) in front of the body, in its smallest
 *   encoding. The caller never computes a length.
 * - The grammar is checked as far as a builder can: object declarations
 *   (Name, Scope, Device, Method, Return) only in term lists, data terms
 *   only as a Package element or as the operand of Name / Return (exactly
 *   one), resource descriptors only inside a resource template.
 *
 * Integers are 64-bit (a DSDT with revision 2 or more): Ones is 2^64 - 1.
 *
 * Measuring: a builder initialised with a NULL buffer writes nothing, has
 * no capacity limit and only counts, so the caller can learn the exact size
 * of a build before doing it for real.
 */
#ifndef VMIO_AML_H
#define VMIO_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

/* Deepest nesting of open bodies (Scope inside Device inside ...). */
#define VMIO_AML_MAX_DEPTH 16

/* Largest value a PkgLength can encode (4 bytes: 28 bits). */
#define VMIO_AML_PKGLENGTH_MAX 0x0FFFFFFFu

/* A Package's NumElements is one byte (larger packages need VarPackage). */
#define VMIO_AML_PACKAGE_MAX_ELEMENTS 255u

/* Flags of vmio_aml_irq() and vmio_aml_interrupt(). Level and active-high are 0. */
#define VMIO_AML_IRQ_EDGE (1u << 0)       /* edge-triggered (else level) */
#define VMIO_AML_IRQ_ACTIVE_LOW (1u << 1) /* active-low (else active-high) */
#define VMIO_AML_IRQ_SHARED (1u << 2)     /* shared (else exclusive) */
#define VMIO_AML_IRQ_WAKE (1u << 3)       /* wake capable */

/* Cacheability of vmio_aml_qword_memory() (the descriptor's MEM field). */
enum vmio_aml_mem_cache {
    VMIO_AML_MEM_NON_CACHEABLE = 0,
    VMIO_AML_MEM_CACHEABLE = 1,
    VMIO_AML_MEM_WRITE_COMBINING = 2,
    VMIO_AML_MEM_PREFETCHABLE = 3,
};

/* One open body. Internal to the builder; callers never touch it. */
struct vmio_aml_frame {
    size_t start;      /* offset of the first body byte (after the opcode) */
    uint32_t elements; /* Package: elements added so far */
    uint8_t kind;      /* which construct is open */
};

/*
 * The builder. Initialise with vmio_aml_init(); fields are read-only for
 * callers (len is the number of bytes written so far).
 */
struct vmio_aml {
    uint8_t *buf;           /* NULL when measuring */
    size_t cap;             /* capacity of buf in bytes */
    size_t len;             /* bytes written (or counted) so far */
    int error;              /* 0, or the first failure's -errno */
    const char *error_what; /* static text naming the first failure */
    size_t error_at;        /* len when the first failure happened */
    bool operand_pending;   /* a Name or Return waits for its operand */
    unsigned depth;         /* number of open bodies */
    struct vmio_aml_frame frames[VMIO_AML_MAX_DEPTH];
};

/*
 * vmio_aml_init - start a build.
 * @a:   the builder (caller-owned storage; no allocation is made).
 * @buf: where the AML goes, or NULL to only measure (then @cap is ignored).
 * @cap: size of @buf in bytes.
 * The builder borrows @buf until the caller stops using @a.
 */
void vmio_aml_init(struct vmio_aml *a, void *buf, size_t cap);

/*
 * vmio_aml_finish - check a build and report its length.
 * @a:   the builder.
 * @len: receives the number of bytes written (may be NULL).
 * @err: optional message naming the first failure and its byte offset.
 * Returns 0, or the first failure: -ENOSPC (the buffer is full), -EINVAL (a
 * malformed name or string, a term where the grammar allows none, a Name
 * or Return without operand, vmio_aml_end() with nothing open, bodies
 * still open at finish, nesting deeper than VMIO_AML_MAX_DEPTH, a Package of
 * more than 255 elements, a resource value out of range), -E2BIG (a body
 * longer than a PkgLength can say).
 */
int vmio_aml_finish(const struct vmio_aml *a, size_t *len, struct vmio_error *err);

/*
 * vmio_aml_pkglength - encode @value as a PkgLength in its smallest form.
 * @value: the PkgLength value (which counts its own encoding bytes).
 * @out:   receives 1 to 4 bytes.
 * Returns the number of bytes, or -E2BIG if @value > VMIO_AML_PKGLENGTH_MAX.
 */
int vmio_aml_pkglength(uint32_t value, uint8_t out[4]);

/*
 * vmio_aml_pkglength_for_body - the PkgLength in front of a @body-byte body:
 * its value is @body plus its own length, in the smallest form that holds it.
 * @out receives 1 to 4 bytes. Returns their number, or -E2BIG.
 */
int vmio_aml_pkglength_for_body(size_t body, uint8_t out[4]);

/*
 * vmio_aml_integer_encode - the smallest encoding of @value as a
 * ComputationalData integer: ZeroOp, OneOp, OnesOp (2^64 - 1), or a
 * Byte/Word/DWord/QWord prefix and its little-endian bytes.
 * @out receives 1 to 9 bytes. Returns their number.
 */
int vmio_aml_integer_encode(uint64_t value, uint8_t out[9]);

/*
 * vmio_aml_eisa_id_value - the 32-bit compressed EISA id of @id, as _HID
 * holds it ("PNP0501" -> 0x0105D041): three upper-case letters and four
 * upper-case hexadecimal digits.
 * Returns 0, or -EINVAL for a NULL or malformed @id (then *@out is untouched).
 */
int vmio_aml_eisa_id_value(const char *id, uint32_t *out);

/* ---- Data terms: a Package element, or the operand of Name / Return ---- */

/* vmio_aml_integer - @value in its smallest encoding (vmio_aml_integer_encode). */
void vmio_aml_integer(struct vmio_aml *a, uint64_t value);

/* vmio_aml_string - a String of ASCII characters 0x01..0x7F (others: -EINVAL). */
void vmio_aml_string(struct vmio_aml *a, const char *s);

/* vmio_aml_eisa_id - the DWord integer of a compressed EISA id (for _HID/_CID). */
void vmio_aml_eisa_id(struct vmio_aml *a, const char *id);

/*
 * vmio_aml_name_ref - a reference to the object at @path (a NameString).
 * Path syntax, as in ASL: an optional `\` or one or more `^`, then NameSegs
 * separated by `.`. A NameSeg is 1 to 4 characters, the first `A`-`Z` or
 * `_`, the others also `0`-`9`; shorter segments are padded with `_`.
 * "\" alone is the root. Anything else is -EINVAL.
 */
void vmio_aml_name_ref(struct vmio_aml *a, const char *path);

/* vmio_aml_buffer_data - a Buffer holding the @n bytes at @data. */
void vmio_aml_buffer_data(struct vmio_aml *a, const void *data, size_t n);

/* vmio_aml_package - open a Package; add its elements, then vmio_aml_end(). */
void vmio_aml_package(struct vmio_aml *a);

/* ---- Term list items: at the top level or in Scope / Device / Method ---- */

/* vmio_aml_name - Name(@path, operand): the next data term is the object. */
void vmio_aml_name(struct vmio_aml *a, const char *path);

/* vmio_aml_scope - open Scope(@path); close with vmio_aml_end(). */
void vmio_aml_scope(struct vmio_aml *a, const char *path);

/* vmio_aml_device - open Device(@path); close with vmio_aml_end(). */
void vmio_aml_device(struct vmio_aml *a, const char *path);

/*
 * vmio_aml_method - open Method(@path, @nargs, Serialized or NotSerialized)
 * with sync level 0; @nargs is 0..7 (else -EINVAL). Close with vmio_aml_end().
 */
void vmio_aml_method(struct vmio_aml *a, const char *path, unsigned nargs, bool serialized);

/* vmio_aml_return - Return(operand): the next data term is the value returned. */
void vmio_aml_return(struct vmio_aml *a);

/* vmio_aml_end - close the innermost open body (and write its lengths). */
void vmio_aml_end(struct vmio_aml *a);

/* ---- Resource templates (the value of _CRS) ---- */

/*
 * vmio_aml_resource_template - open a ResourceTemplate (a data term: a
 * Buffer of resource descriptors). vmio_aml_end() appends the End Tag
 * (checksum 0, "valid") and closes it.
 */
void vmio_aml_resource_template(struct vmio_aml *a);

/*
 * vmio_aml_io - IO(Decode16, @min, @max, @align, @len): a port range a
 * device may be placed in; for a fixed device @min == @max.
 * -EINVAL if @min > @max or @max + @len - 1 passes 0xFFFF (with @len > 0).
 */
void vmio_aml_io(struct vmio_aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);

/* vmio_aml_fixed_io - FixedIO(@base, @len); @base is 10-bit (<= 0x3FF, else -EINVAL). */
void vmio_aml_fixed_io(struct vmio_aml *a, uint16_t base, uint8_t len);

/* vmio_aml_irq_noflags - IRQNoFlags(){...}: ISA IRQs in @mask (bit n = IRQ n; non-zero). */
void vmio_aml_irq_noflags(struct vmio_aml *a, uint16_t mask);

/*
 * vmio_aml_irq - IRQ(mode, polarity, sharing[, wake]){...}: ISA IRQs in
 * @mask (non-zero) with VMIO_AML_IRQ_* @flags. The descriptor's
 * "ActiveHigh, Level" combination is not an ISA one but is encodable.
 */
void vmio_aml_irq(struct vmio_aml *a, uint16_t mask, unsigned flags);

/* vmio_aml_memory32_fixed - Memory32Fixed(ReadWrite|ReadOnly, @base, @size). */
void vmio_aml_memory32_fixed(struct vmio_aml *a, uint32_t base, uint32_t size, bool writable);

/*
 * vmio_aml_interrupt - the extended Interrupt descriptor,
 * Interrupt(ResourceConsumer, mode, polarity, sharing[, wake]){@gsis}:
 * @n (1..255) GSIs at @gsis with VMIO_AML_IRQ_* @flags. -EINVAL otherwise.
 */
void vmio_aml_interrupt(struct vmio_aml *a, unsigned flags, const uint32_t *gsis, unsigned n);

/*
 * vmio_aml_qword_memory - QWordMemory(ResourceConsumer, PosDecode,
 * MinFixed, MaxFixed, @cache, ReadWrite|ReadOnly, granularity 0, @base,
 * @base + @size - 1, translation 0, @size). -EINVAL for @size 0 or a range
 * that wraps past 2^64.
 */
void vmio_aml_qword_memory(struct vmio_aml *a, uint64_t base, uint64_t size,
                           enum vmio_aml_mem_cache cache, bool writable);

#endif
