/*
 * Flattened device tree writer (include/vmio/fdt.h).
 *
 * Layout of the finished blob: the 40-byte header, the memory-reservation
 * map (one terminating all-zero entry: 16 bytes), the structure block
 * (FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE tokens, each item padded to 4
 * bytes, FDT_END last), then the strings block. The structure block is
 * written in place while the tree is built, so finishing only appends the
 * strings and writes the header.
 *
 * Invariants: nothing is ever written past f->size (every write checks the
 * space it needs first, in size_t arithmetic that cannot wrap for the
 * lengths accepted); the first error sticks and later calls change nothing;
 * names are checked against the specification's character sets, so a blob
 * this writer finishes is one dtc and Linux accept.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vmio/fdt.h"

#define FDT_HEADER_SIZE 40
#define FDT_RSVMAP_SIZE 16
#define FDT_STRUCT_OFF (FDT_HEADER_SIZE + FDT_RSVMAP_SIZE)
#define FDT_VERSION 17
#define FDT_LAST_COMP_VERSION 16
#define FDT_NAME_MAX 31
#define FDT_PROP_MAX (1u << 20) /* no property vmio writes comes near this */

enum { FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_END = 9 };

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int set_error(struct vmio_fdt *f, int code, const char *what)
{
    if (!f->error) {
        f->error = code;
        vmio_error_set(f->err, code, "device tree: %s", what);
    }
    return f->error;
}

/* Room for @n more bytes of structure block (plus the final FDT_END token)? */
static int need(struct vmio_fdt *f, size_t n)
{
    if (f->error)
        return f->error;
    if (n > f->size || f->size - n < f->pos + 4)
        return set_error(f, -ENOSPC, "the blob does not fit its buffer");
    return 0;
}

static void put32(struct vmio_fdt *f, uint32_t v)
{
    be32(f->buf + f->pos, v);
    f->pos += 4;
}

/* Copy @len bytes and zero-pad to 4. Space was checked by need(). */
static void put_padded(struct vmio_fdt *f, const void *p, size_t len)
{
    if (len)
        memcpy(f->buf + f->pos, p, len);
    f->pos += len;
    while (f->pos & 3)
        f->buf[f->pos++] = 0;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* Node names: [A-Za-z0-9,._+-]+ with an optional "@unit" of the same set. */
static bool valid_node_name(const char *s)
{
    size_t n = strnlen(s, FDT_NAME_MAX + 1);
    if (n == 0 || n > FDT_NAME_MAX)
        return false;
    bool at = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == ',' || c == '.' || c == '_' || c == '+' || c == '-';
        if (c == '@' && !at && i > 0 && i + 1 < n) {
            at = true;
            continue;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* Property names: [A-Za-z0-9,._+?#-]+. */
static bool valid_prop_name(const char *s)
{
    size_t n = strnlen(s, FDT_NAME_MAX + 1);
    if (n == 0 || n > FDT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ',' || c == '.' || c == '_' || c == '+' || c == '?' || c == '#' || c == '-'))
            return false;
    }
    return true;
}

int vmio_fdt_init(struct vmio_fdt *f, void *buf, size_t size, struct vmio_error *err)
{
    memset(f, 0, sizeof(*f));
    f->buf = buf;
    f->size = size;
    f->pos = FDT_STRUCT_OFF;
    f->err = err;
    if (!buf || size < FDT_STRUCT_OFF + 4)
        return set_error(f, -ENOSPC, "the buffer cannot hold a header");
    return 0;
}

int vmio_fdt_begin_node(struct vmio_fdt *f, const char *name)
{
    if (f->error)
        return f->error;
    bool root = name[0] == '\0';
    bool first = f->pos == FDT_STRUCT_OFF;
    if (root != first || (!root && f->depth == 0))
        return set_error(f, -EINVAL, "the root node must come first, and only once");
    if (!root && !valid_node_name(name))
        return set_error(f, -EINVAL, "invalid node name");
    if (f->depth >= VMIO_FDT_DEPTH_MAX)
        return set_error(f, -EINVAL, "nodes nested too deep");
    size_t len = strlen(name) + 1;
    int rc = need(f, 4 + pad4(len));
    if (rc)
        return rc;
    put32(f, FDT_BEGIN_NODE);
    put_padded(f, name, len);
    f->depth++;
    return 0;
}

int vmio_fdt_end_node(struct vmio_fdt *f)
{
    if (f->error)
        return f->error;
    if (f->depth == 0)
        return set_error(f, -EINVAL, "end of a node that is not open");
    int rc = need(f, 4);
    if (rc)
        return rc;
    put32(f, FDT_END_NODE);
    f->depth--;
    return 0;
}

/* Offset of @name in the strings block, adding it when new; -1 when full. */
static long string_offset(struct vmio_fdt *f, const char *name)
{
    size_t len = strlen(name) + 1;
    for (size_t off = 0; off < f->strings_len;) {
        size_t l = strlen(f->strings + off) + 1;
        if (l == len && memcmp(f->strings + off, name, len) == 0)
            return (long)off;
        off += l;
    }
    if (len > sizeof(f->strings) - f->strings_len)
        return -1;
    memcpy(f->strings + f->strings_len, name, len);
    f->strings_len += len;
    return (long)(f->strings_len - len);
}

int vmio_fdt_prop(struct vmio_fdt *f, const char *name, const void *val, size_t len)
{
    if (f->error)
        return f->error;
    if (f->depth == 0)
        return set_error(f, -EINVAL, "a property outside any node");
    if (!valid_prop_name(name))
        return set_error(f, -EINVAL, "invalid property name");
    if (len > FDT_PROP_MAX || (len && !val))
        return set_error(f, -EINVAL, "property value too large");
    int rc = need(f, 12 + pad4(len));
    if (rc)
        return rc;
    long off = string_offset(f, name);
    if (off < 0)
        return set_error(f, -ENOSPC, "the strings block is full");
    put32(f, FDT_PROP);
    put32(f, (uint32_t)len);
    put32(f, (uint32_t)off);
    put_padded(f, val, len);
    return 0;
}

int vmio_fdt_prop_u32(struct vmio_fdt *f, const char *name, uint32_t v)
{
    uint8_t b[4];
    be32(b, v);
    return vmio_fdt_prop(f, name, b, sizeof(b));
}

int vmio_fdt_prop_u64(struct vmio_fdt *f, const char *name, uint64_t v)
{
    uint8_t b[8];
    be32(b, (uint32_t)(v >> 32));
    be32(b + 4, (uint32_t)v);
    return vmio_fdt_prop(f, name, b, sizeof(b));
}

int vmio_fdt_prop_string(struct vmio_fdt *f, const char *name, const char *s)
{
    return vmio_fdt_prop(f, name, s, strlen(s) + 1);
}

int vmio_fdt_prop_cells(struct vmio_fdt *f, const char *name, const uint32_t *cells, size_t n)
{
    uint8_t b[64 * 4];
    if (n > 64)
        return set_error(f, -EINVAL, "more than 64 cells in one property");
    for (size_t i = 0; i < n; i++)
        be32(b + 4 * i, cells[i]);
    return vmio_fdt_prop(f, name, b, 4 * n);
}

int vmio_fdt_prop_empty(struct vmio_fdt *f, const char *name)
{
    return vmio_fdt_prop(f, name, NULL, 0);
}

int vmio_fdt_finish(struct vmio_fdt *f, size_t *size)
{
    if (f->error)
        return f->error;
    if (f->pos == FDT_STRUCT_OFF || f->depth != 0)
        return set_error(f, -EINVAL, "the tree is empty or has nodes still open");
    int rc = need(f, 4);
    if (rc)
        return rc;
    put32(f, FDT_END);
    size_t struct_size = f->pos - FDT_STRUCT_OFF;
    if (f->strings_len > f->size - f->pos)
        return set_error(f, -ENOSPC, "the blob does not fit its buffer");
    memcpy(f->buf + f->pos, f->strings, f->strings_len);
    size_t total = f->pos + f->strings_len;
    uint8_t *h = f->buf;
    be32(h + 0, VMIO_FDT_MAGIC);
    be32(h + 4, (uint32_t)total);
    be32(h + 8, FDT_STRUCT_OFF);                     /* off_dt_struct */
    be32(h + 12, (uint32_t)f->pos);                  /* off_dt_strings */
    be32(h + 16, FDT_HEADER_SIZE);                   /* off_mem_rsvmap */
    be32(h + 20, FDT_VERSION);                       /* version */
    be32(h + 24, FDT_LAST_COMP_VERSION);             /* last_comp_version */
    be32(h + 28, 0);                                 /* boot_cpuid_phys */
    be32(h + 32, (uint32_t)f->strings_len);          /* size_dt_strings */
    be32(h + 36, (uint32_t)struct_size);             /* size_dt_struct */
    memset(h + FDT_HEADER_SIZE, 0, FDT_RSVMAP_SIZE); /* the map's terminating entry */
    *size = total;
    return 0;
}
