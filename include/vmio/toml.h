/*
 * vmio TOML 1.0 reader.
 *
 * Parses a complete TOML 1.0 document from a memory buffer into an immutable
 * tree of values. The tree is owned by the caller and released with one call
 * to vmio_toml_free(); every pointer obtained from an accessor (values, keys,
 * strings, table entries) points into the tree and stays valid until then.
 *
 * Invariants: the parser keeps no global state and allocates only with
 * malloc/free; it never crashes on any input (malformed UTF-8, NUL bytes,
 * huge numbers, deep nesting): every problem becomes an error value of the
 * form "line L, column C: <what was expected>". Nesting (tables, arrays,
 * inline tables, dotted key components) is bounded by VMIO_TOML_MAX_DEPTH so
 * that neither the parser nor the tree walkers can overflow the stack.
 * Lines and columns are 1-based; columns count Unicode code points.
 *
 * Accessors are total: passing NULL or a value of the wrong type returns
 * NULL / 0 / -EINVAL instead of crashing.
 */
#ifndef VMIO_TOML_H
#define VMIO_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

/* Maximum nesting depth of the tree (root table is depth 0). */
#define VMIO_TOML_MAX_DEPTH 128

/*
 * Maximum number of keys in one table (inline tables and [[array]] elements
 * included): one more is an error naming the table and the line of the key.
 */
#define VMIO_TOML_MAX_TABLE_KEYS 16384

enum vmio_toml_type {
    VMIO_TOML_STRING,
    VMIO_TOML_INTEGER,
    VMIO_TOML_FLOAT,
    VMIO_TOML_BOOL,
    VMIO_TOML_DATETIME,       /* offset date-time: date, time and UTC offset */
    VMIO_TOML_DATETIME_LOCAL, /* local date-time: date and time, no offset */
    VMIO_TOML_DATE_LOCAL,     /* local date */
    VMIO_TOML_TIME_LOCAL,     /* local time */
    VMIO_TOML_ARRAY,
    VMIO_TOML_TABLE,
};

/* A source position: 1-based line and column (column in code points). */
struct vmio_toml_pos {
    unsigned line;
    unsigned column;
};

/*
 * A date, time or date-time. Which fields are meaningful depends on the
 * value's type: dates fill year/month/day, times fill hour..nanosecond,
 * offset date-times also fill offset_minutes (0 for 'Z').
 */
struct vmio_toml_datetime {
    int year, month, day;     /* 0001-9999, 1-12, 1-31 */
    int hour, minute, second; /* 0-23, 0-59, 0-60 (leap second) */
    uint32_t nanosecond;      /* fraction of the second, truncated to ns */
    int frac_digits;          /* digits written in the source, capped at 9 */
    int offset_minutes;       /* UTC offset, -1439..1439 */
    bool has_date, has_time, has_offset;
};

/* An opaque value in the tree (a table, array, string, number, ...). */
struct vmio_toml_value;

/* One key of a table, in document order. Read-only; owned by the tree. */
struct vmio_toml_entry {
    const char *key;              /* NUL-terminated, but may contain NUL bytes */
    size_t key_len;               /* length in bytes, without the terminator */
    struct vmio_toml_pos key_pos; /* where the key was first written */
    const struct vmio_toml_value *value;
};

/*
 * vmio_toml_parse - parse a TOML document.
 * @buf:  the document; need not be NUL-terminated; a NUL byte inside the
 *        first @len bytes is an error (TOML forbids it).
 * @len:  length of @buf in bytes.
 * @out:  on success receives the root table; the caller owns it and must
 *        release it with vmio_toml_free(). Set to NULL on failure.
 * @err:  optional; on failure receives "line L, column C: message".
 * Returns 0, -EINVAL for a malformed document (syntax, encoding, redefinition,
 * out-of-range number or date, nesting deeper than VMIO_TOML_MAX_DEPTH) or
 * -ENOMEM when allocation fails. Nothing is retained from @buf.
 */
int vmio_toml_parse(const char *buf, size_t len, struct vmio_toml_value **out,
                    struct vmio_error *err);

/*
 * vmio_toml_free - release a tree returned by vmio_toml_parse().
 * @root: the root table (NULL is allowed and does nothing). Only the root may
 *        be freed; every pointer into the tree becomes invalid.
 */
void vmio_toml_free(struct vmio_toml_value *root);

/*
 * vmio_toml_type - the type of @v. @v must not be NULL.
 */
enum vmio_toml_type vmio_toml_type(const struct vmio_toml_value *v);

/*
 * vmio_toml_type_name - a static name for @t ("string", "integer", "float",
 * "bool", "datetime", "datetime-local", "date-local", "time-local", "array",
 * "table"); "?" for an unknown value.
 */
const char *vmio_toml_type_name(enum vmio_toml_type t);

/*
 * vmio_toml_pos - where @v was defined: the first character of a scalar, array
 * or inline table, or the '[' of the header for a table defined by a header.
 * For tables created implicitly (by a dotted key or as the parent in a
 * header) it is the position of the key that created them. The root table is
 * at line 1, column 1. @v must not be NULL.
 */
struct vmio_toml_pos vmio_toml_pos(const struct vmio_toml_value *v);

/*
 * vmio_toml_table_get - look up @key (NUL-terminated) in @table.
 * Returns the value, or NULL if @table is NULL, not a table, or lacks @key.
 */
const struct vmio_toml_value *vmio_toml_table_get(const struct vmio_toml_value *table,
                                                  const char *key);

/*
 * vmio_toml_table_find - look up a key given as bytes (may contain NUL).
 * @table: the table; @key/@key_len: the key.
 * Returns the entry (key, key position and value), or NULL if absent or if
 * @table is NULL or not a table.
 */
const struct vmio_toml_entry *vmio_toml_table_find(const struct vmio_toml_value *table,
                                                   const char *key, size_t key_len);

/*
 * vmio_toml_table_size - number of keys in @table; 0 if NULL or not a table.
 */
size_t vmio_toml_table_size(const struct vmio_toml_value *table);

/*
 * vmio_toml_table_entry - the @i-th key of @table in document order (the
 * order in which keys were first defined). Returns NULL when @i is out of
 * range or @table is NULL or not a table.
 */
const struct vmio_toml_entry *vmio_toml_table_entry(const struct vmio_toml_value *table, size_t i);

/*
 * vmio_toml_array_len - number of elements of @array; 0 if NULL or not an
 * array. Arrays of tables ([[x]]) are arrays whose elements are tables.
 */
size_t vmio_toml_array_len(const struct vmio_toml_value *array);

/*
 * vmio_toml_array_at - element @i of @array, or NULL when out of range or
 * @array is NULL or not an array.
 */
const struct vmio_toml_value *vmio_toml_array_at(const struct vmio_toml_value *array, size_t i);

/*
 * Typed getters. Each stores the value in @out and returns 0, or returns
 * -EINVAL (leaving @out untouched) when @v is NULL or has another type; there
 * is no conversion between types (an integer is not a float).
 *
 * vmio_toml_get_int:      VMIO_TOML_INTEGER.
 * vmio_toml_get_double:   VMIO_TOML_FLOAT (may be inf or nan).
 * vmio_toml_get_bool:     VMIO_TOML_BOOL.
 * vmio_toml_get_string:   VMIO_TOML_STRING; *@out points into the tree,
 *                         NUL-terminated; @len (optional) receives the length
 *                         in bytes (the string may contain NUL via \u0000).
 * vmio_toml_get_datetime: any of the four date/time types.
 */
int vmio_toml_get_int(const struct vmio_toml_value *v, int64_t *out);
int vmio_toml_get_double(const struct vmio_toml_value *v, double *out);
int vmio_toml_get_bool(const struct vmio_toml_value *v, bool *out);
int vmio_toml_get_string(const struct vmio_toml_value *v, const char **out, size_t *len);
int vmio_toml_get_datetime(const struct vmio_toml_value *v, struct vmio_toml_datetime *out);

#endif
