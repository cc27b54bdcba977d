/*
 * The AML builder (vmio/aml.h): byte encodings of the ACPI 6.x AML grammar
 * (chapter 20) and of resource descriptors (section 6.4).
 *
 * Invariants:
 * - Every write goes through reserve(), which refuses anything past `cap`
 *   (ENOSPC) and does nothing once an error is recorded; so the buffer is
 *   never overrun and the first error is the one reported.
 * - An open body records where its bytes start (just after its opcode).
 *   vmio_aml_end() measures the body and inserts the length prefix there,
 *   moving the body up by the prefix's size: lengths are always exact and
 *   always in their smallest encoding, whatever the nesting.
 * - In measuring mode (buf == NULL) the same code runs without touching
 *   memory, so a measured length equals the written one.
 */
#include <errno.h>
#include <string.h>

#include "vmio/aml.h"

/* AML opcodes and prefixes (ACPI 6.x, section 20.3). */
enum {
    AML_ZERO = 0x00,
    AML_ONE = 0x01,
    AML_NAME = 0x08,
    AML_BYTE_PREFIX = 0x0A,
    AML_WORD_PREFIX = 0x0B,
    AML_DWORD_PREFIX = 0x0C,
    AML_STRING_PREFIX = 0x0D,
    AML_QWORD_PREFIX = 0x0E,
    AML_SCOPE = 0x10,
    AML_BUFFER = 0x11,
    AML_PACKAGE = 0x12,
    AML_METHOD = 0x14,
    AML_DUAL_NAME_PREFIX = 0x2E,
    AML_MULTI_NAME_PREFIX = 0x2F,
    AML_EXT_PREFIX = 0x5B,
    AML_EXT_DEVICE = 0x82,
    AML_ROOT_CHAR = 0x5C,
    AML_PARENT_PREFIX = 0x5E,
    AML_RETURN = 0xA4,
    AML_ONES = 0xFF,
};

/* Resource descriptor tags (ACPI 6.x, section 6.4). */
enum {
    RES_IRQ = 0x22,       /* small, 2 data bytes: IRQNoFlags */
    RES_IRQ_FLAGS = 0x23, /* small, 3 data bytes: IRQ with information byte */
    RES_IO = 0x47,        /* small, 7 data bytes */
    RES_FIXED_IO = 0x4B,  /* small, 3 data bytes */
    RES_END_TAG = 0x79,   /* small, 1 data byte (checksum) */
    RES_MEMORY32_FIXED = 0x86,
    RES_INTERRUPT = 0x89,
    RES_QWORD_ADDRESS = 0x8A,
};

/* What an open body is. Depth 0 (no open body) is the DSDT's own term list. */
enum frame_kind {
    FRAME_ROOT = 0,
    FRAME_SCOPE,
    FRAME_DEVICE,
    FRAME_METHOD,
    FRAME_PACKAGE,
    FRAME_RESOURCES,
};

static void fail(struct vmio_aml *a, int code, const char *what)
{
    if (a->error == 0) {
        a->error = code;
        a->error_what = what;
        a->error_at = a->len;
    }
}

/* Room for @n more bytes? Records ENOSPC (and returns false) when not. */
static bool reserve(struct vmio_aml *a, size_t n)
{
    if (a->error)
        return false;
    size_t room = a->buf ? a->cap - a->len : SIZE_MAX - a->len;
    if (n > room) {
        fail(a, -ENOSPC, "the buffer is full");
        return false;
    }
    return true;
}

static void emit(struct vmio_aml *a, const void *bytes, size_t n)
{
    if (!reserve(a, n))
        return;
    if (a->buf && n)
        memcpy(a->buf + a->len, bytes, n);
    a->len += n;
}

static void emit8(struct vmio_aml *a, uint8_t v)
{
    emit(a, &v, 1);
}

/* Insert @n bytes at offset @at, moving what follows up. */
static void insert(struct vmio_aml *a, size_t at, const uint8_t *bytes, size_t n)
{
    if (!reserve(a, n))
        return;
    if (a->buf) {
        memmove(a->buf + at + n, a->buf + at, a->len - at);
        memcpy(a->buf + at, bytes, n);
    }
    a->len += n;
}

static void put_le(uint8_t *out, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

void vmio_aml_init(struct vmio_aml *a, void *buf, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->buf = buf;
    a->cap = buf ? cap : 0;
}

int vmio_aml_finish(const struct vmio_aml *a, size_t *len, struct vmio_error *err)
{
    int code = a->error;
    const char *what = a->error_what;
    size_t at = a->error_at;
    if (code == 0 && a->operand_pending) {
        code = -EINVAL;
        what = "a Name or Return has no operand";
        at = a->len;
    }
    if (code == 0 && a->depth > 0) {
        code = -EINVAL;
        what = "a Scope, Device, Method, Package or ResourceTemplate is still open";
        at = a->len;
    }
    if (code)
        return vmio_error_set(err, code, "aml: %s (at byte %zu)", what, at);
    if (len)
        *len = a->len;
    return 0;
}

/* ---- Encodings ---- */

/* Largest value a PkgLength of i + 1 bytes holds: 6, 12, 20, 28 bits. */
static const uint32_t pkglength_limit[4] = {0x3F, 0xFFF, 0xFFFFF, 0xFFFFFFF};

static void pkglength_write(uint32_t value, unsigned n, uint8_t out[4])
{
    if (n == 1) {
        out[0] = (uint8_t)value;
        return;
    }
    /* Lead byte: count of following bytes in bits 7:6, low nibble of the value. */
    out[0] = (uint8_t)(((n - 1) << 6) | (value & 0x0F));
    for (unsigned i = 1; i < n; i++)
        out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
}

int vmio_aml_pkglength(uint32_t value, uint8_t out[4])
{
    for (unsigned n = 1; n <= 4; n++) {
        if (value <= pkglength_limit[n - 1]) {
            pkglength_write(value, n, out);
            return (int)n;
        }
    }
    return -E2BIG;
}

int vmio_aml_pkglength_for_body(size_t body, uint8_t out[4])
{
    for (unsigned n = 1; n <= 4; n++) {
        if (body <= pkglength_limit[n - 1] - n) {
            pkglength_write((uint32_t)(body + n), n, out);
            return (int)n;
        }
    }
    return -E2BIG;
}

int vmio_aml_integer_encode(uint64_t value, uint8_t out[9])
{
    if (value == 0) {
        out[0] = AML_ZERO;
        return 1;
    }
    if (value == 1) {
        out[0] = AML_ONE;
        return 1;
    }
    if (value == UINT64_MAX) {
        out[0] = AML_ONES;
        return 1;
    }
    unsigned bytes;
    if (value <= 0xFF) {
        out[0] = AML_BYTE_PREFIX;
        bytes = 1;
    } else if (value <= 0xFFFF) {
        out[0] = AML_WORD_PREFIX;
        bytes = 2;
    } else if (value <= 0xFFFFFFFF) {
        out[0] = AML_DWORD_PREFIX;
        bytes = 4;
    } else {
        out[0] = AML_QWORD_PREFIX;
        bytes = 8;
    }
    put_le(out + 1, value, bytes);
    return (int)bytes + 1;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vmio_aml_eisa_id_value(const char *id, uint32_t *out)
{
    if (!id || !out || strlen(id) != 7)
        return -EINVAL;
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) {
        if (id[i] < 'A' || id[i] > 'Z')
            return -EINVAL;
        v = (v << 5) | (uint32_t)(id[i] - 'A' + 1); /* 'A' is 1: 5 bits each */
    }
    for (int i = 3; i < 7; i++) {
        int d = hex_digit(id[i]);
        if (d < 0)
            return -EINVAL;
        v = (v << 4) | (uint32_t)d;
    }
    /* The id is stored most significant byte first: swap for a little-endian DWord. */
    *out = ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24);
    return 0;
}

/* ---- Names ---- */

static bool lead_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
    return lead_name_char(c) || (c >= '0' && c <= '9');
}

/*
 * Check @path (syntax in vmio/aml.h); on success store its prefix length and
 * segment count and return the size of its NameString, else return 0.
 */
static size_t name_parse(const char *path, size_t *prefix, unsigned *segs)
{
    if (!path || !*path)
        return 0;
    const char *p = path;
    *prefix = 0;
    *segs = 0;
    if (*p == '\\') {
        *prefix = 1;
        p++;
    } else {
        while (*p == '^') {
            (*prefix)++;
            p++;
        }
    }
    while (*p) {
        if (!lead_name_char(*p))
            return 0;
        size_t n = 1;
        while (p[n] && p[n] != '.') {
            if (n >= 4 || !name_char(p[n]))
                return 0;
            n++;
        }
        if (++*segs > 255)
            return 0;
        p += n;
        if (*p == '.' && *++p == '\0')
            return 0; /* a trailing dot */
    }
    switch (*segs) {
    case 0:
        return *prefix + 1; /* NullName */
    case 1:
        return *prefix + 4;
    case 2:
        return *prefix + 1 + 8;
    default:
        return *prefix + 2 + 4 * (size_t)*segs;
    }
}

/* Write @path's NameString, or record -EINVAL for a malformed one. */
static void name_emit(struct vmio_aml *a, const char *path)
{
    size_t prefix;
    unsigned segs;
    size_t size = name_parse(path, &prefix, &segs);
    if (size == 0) {
        fail(a, -EINVAL, "a malformed name path");
        return;
    }
    if (!reserve(a, size))
        return;
    const char *p = path + prefix; /* a prefix is `\` or `^`s: one byte each */
    for (size_t i = 0; i < prefix; i++)
        emit8(a, (uint8_t)path[i]);
    if (segs == 0)
        emit8(a, AML_ZERO);
    else if (segs == 2)
        emit8(a, AML_DUAL_NAME_PREFIX);
    else if (segs > 2) {
        emit8(a, AML_MULTI_NAME_PREFIX);
        emit8(a, (uint8_t)segs);
    }
    for (unsigned s = 0; s < segs; s++) {
        uint8_t seg[4] = {'_', '_', '_', '_'};
        size_t n = 0;
        while (p[n] && p[n] != '.')
            n++;
        memcpy(seg, p, n);
        emit(a, seg, 4);
        p += n + (p[n] == '.');
    }
}

/* Check @path before a declaration writes its opcode, so a bad name writes nothing. */
static bool name_ok(struct vmio_aml *a, const char *path)
{
    size_t prefix;
    unsigned segs;
    if (a->error)
        return false;
    if (name_parse(path, &prefix, &segs) == 0) {
        fail(a, -EINVAL, "a malformed name path");
        return false;
    }
    return true;
}

/* ---- Grammar context ---- */

static enum frame_kind current(const struct vmio_aml *a)
{
    return a->depth ? (enum frame_kind)a->frames[a->depth - 1].kind : FRAME_ROOT;
}

/* Before Name, Scope, Device, Method: only in a term list. */
static bool begin_declaration(struct vmio_aml *a)
{
    if (a->error)
        return false;
    if (a->operand_pending) {
        fail(a, -EINVAL, "a Name or Return has no operand");
        return false;
    }
    enum frame_kind k = current(a);
    if (k == FRAME_PACKAGE || k == FRAME_RESOURCES) {
        fail(a, -EINVAL, "a declaration inside a Package or ResourceTemplate");
        return false;
    }
    return true;
}

/* Before a data term: the operand of Name/Return, or a Package element. */
static bool begin_data(struct vmio_aml *a)
{
    if (a->error)
        return false;
    if (a->operand_pending) {
        a->operand_pending = false;
        return true;
    }
    if (current(a) == FRAME_PACKAGE) {
        a->frames[a->depth - 1].elements++;
        return true;
    }
    fail(a, -EINVAL, "a data term outside a Package and not after Name or Return");
    return false;
}

/* Before a resource descriptor: only inside a resource template. */
static bool begin_resource(struct vmio_aml *a)
{
    if (a->error)
        return false;
    if (current(a) != FRAME_RESOURCES) {
        fail(a, -EINVAL, "a resource descriptor outside a ResourceTemplate");
        return false;
    }
    return true;
}

/* Open a body of @kind starting at the current position. */
static void push(struct vmio_aml *a, enum frame_kind kind)
{
    if (a->error)
        return;
    if (a->depth >= VMIO_AML_MAX_DEPTH) {
        fail(a, -EINVAL, "nesting deeper than VMIO_AML_MAX_DEPTH");
        return;
    }
    a->frames[a->depth].start = a->len;
    a->frames[a->depth].elements = 0;
    a->frames[a->depth].kind = (uint8_t)kind;
    a->depth++;
}

void vmio_aml_end(struct vmio_aml *a)
{
    if (a->error)
        return;
    if (a->operand_pending) {
        fail(a, -EINVAL, "a Name or Return has no operand");
        return;
    }
    if (a->depth == 0) {
        fail(a, -EINVAL, "vmio_aml_end() with nothing open");
        return;
    }
    struct vmio_aml_frame *f = &a->frames[a->depth - 1];
    if (f->kind == FRAME_RESOURCES) {
        const uint8_t end_tag[2] = {RES_END_TAG, 0x00}; /* checksum 0: "valid" */
        emit(a, end_tag, sizeof(end_tag));
        if (a->error)
            return;
    }
    size_t body = a->len - f->start;
    uint8_t prefix[4 + 9];
    int n;
    size_t extra = 0;
    uint8_t tail[9];
    if (f->kind == FRAME_PACKAGE) {
        if (f->elements > VMIO_AML_PACKAGE_MAX_ELEMENTS) {
            fail(a, -EINVAL, "a Package of more than 255 elements");
            return;
        }
        tail[0] = (uint8_t)f->elements; /* NumElements */
        extra = 1;
    } else if (f->kind == FRAME_RESOURCES) {
        extra = (size_t)vmio_aml_integer_encode(body, tail); /* BufferSize */
    }
    if (body > SIZE_MAX - extra || (n = vmio_aml_pkglength_for_body(body + extra, prefix)) < 0) {
        fail(a, -E2BIG, "a body longer than a PkgLength can encode");
        return;
    }
    memcpy(prefix + n, tail, extra);
    insert(a, f->start, prefix, (size_t)n + extra);
    if (!a->error)
        a->depth--;
}

/* ---- Data terms ---- */

void vmio_aml_integer(struct vmio_aml *a, uint64_t value)
{
    uint8_t enc[9];
    int n = vmio_aml_integer_encode(value, enc);
    if (begin_data(a))
        emit(a, enc, (size_t)n);
}

void vmio_aml_string(struct vmio_aml *a, const char *s)
{
    if (!s) {
        fail(a, -EINVAL, "a NULL string");
        return;
    }
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] > 0x7F) {
            fail(a, -EINVAL, "a string with a non-ASCII character");
            return;
        }
    }
    if (!begin_data(a) || n > SIZE_MAX - 2 || !reserve(a, n + 2))
        return;
    emit8(a, AML_STRING_PREFIX);
    emit(a, s, n + 1); /* with its NUL */
}

void vmio_aml_eisa_id(struct vmio_aml *a, const char *id)
{
    uint32_t v;
    if (vmio_aml_eisa_id_value(id, &v) != 0) {
        fail(a, -EINVAL, "a malformed EISA id");
        return;
    }
    uint8_t enc[5] = {AML_DWORD_PREFIX}; /* always a DWord, as _HID expects */
    put_le(enc + 1, v, 4);
    if (begin_data(a))
        emit(a, enc, sizeof(enc));
}

void vmio_aml_name_ref(struct vmio_aml *a, const char *path)
{
    if (begin_data(a))
        name_emit(a, path);
}

void vmio_aml_buffer_data(struct vmio_aml *a, const void *data, size_t n)
{
    if (n && !data) {
        fail(a, -EINVAL, "a NULL buffer");
        return;
    }
    uint8_t size[9], pkg[4];
    size_t k = (size_t)vmio_aml_integer_encode(n, size);
    int p = n <= SIZE_MAX - k ? vmio_aml_pkglength_for_body(n + k, pkg) : -E2BIG;
    if (p < 0) {
        fail(a, -E2BIG, "a body longer than a PkgLength can encode");
        return;
    }
    if (!begin_data(a) || !reserve(a, 1 + (size_t)p + k + n))
        return;
    emit8(a, AML_BUFFER);
    emit(a, pkg, (size_t)p);
    emit(a, size, k);
    emit(a, data, n);
}

void vmio_aml_package(struct vmio_aml *a)
{
    if (!begin_data(a))
        return;
    emit8(a, AML_PACKAGE);
    push(a, FRAME_PACKAGE);
}

void vmio_aml_resource_template(struct vmio_aml *a)
{
    if (!begin_data(a))
        return;
    emit8(a, AML_BUFFER);
    push(a, FRAME_RESOURCES);
}

/* ---- Term list items ---- */

void vmio_aml_name(struct vmio_aml *a, const char *path)
{
    if (!name_ok(a, path) || !begin_declaration(a))
        return;
    emit8(a, AML_NAME);
    name_emit(a, path);
    if (!a->error)
        a->operand_pending = true;
}

void vmio_aml_scope(struct vmio_aml *a, const char *path)
{
    if (!name_ok(a, path) || !begin_declaration(a))
        return;
    emit8(a, AML_SCOPE);
    push(a, FRAME_SCOPE);
    name_emit(a, path);
}

void vmio_aml_device(struct vmio_aml *a, const char *path)
{
    if (!name_ok(a, path) || !begin_declaration(a))
        return;
    const uint8_t op[2] = {AML_EXT_PREFIX, AML_EXT_DEVICE};
    emit(a, op, sizeof(op));
    push(a, FRAME_DEVICE);
    name_emit(a, path);
}

void vmio_aml_method(struct vmio_aml *a, const char *path, unsigned nargs, bool serialized)
{
    if (nargs > 7) {
        fail(a, -EINVAL, "a Method with more than 7 arguments");
        return;
    }
    if (!name_ok(a, path) || !begin_declaration(a))
        return;
    emit8(a, AML_METHOD);
    push(a, FRAME_METHOD);
    name_emit(a, path);
    emit8(a, (uint8_t)(nargs | (serialized ? 0x08 : 0))); /* MethodFlags, SyncLevel 0 */
}

void vmio_aml_return(struct vmio_aml *a)
{
    if (!begin_declaration(a))
        return;
    if (current(a) != FRAME_METHOD) {
        fail(a, -EINVAL, "a Return outside a Method");
        return;
    }
    emit8(a, AML_RETURN);
    if (!a->error)
        a->operand_pending = true;
}

/* ---- Resource descriptors ---- */

void vmio_aml_io(struct vmio_aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
    if (min > max || (len > 0 && (uint32_t)max + len - 1 > 0xFFFF)) {
        fail(a, -EINVAL, "an IO descriptor with a range past port 0xFFFF");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t d[8] = {RES_IO, 0x01 /* Decode16 */};
    put_le(d + 2, min, 2);
    put_le(d + 4, max, 2);
    d[6] = align;
    d[7] = len;
    emit(a, d, sizeof(d));
}

void vmio_aml_fixed_io(struct vmio_aml *a, uint16_t base, uint8_t len)
{
    if (base > 0x3FF || (len > 0 && (uint32_t)base + len - 1 > 0x3FF)) {
        fail(a, -EINVAL, "a FixedIO descriptor past the 10-bit port range");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t d[4] = {RES_FIXED_IO};
    put_le(d + 1, base, 2);
    d[3] = len;
    emit(a, d, sizeof(d));
}

void vmio_aml_irq_noflags(struct vmio_aml *a, uint16_t mask)
{
    if (mask == 0) {
        fail(a, -EINVAL, "an IRQ descriptor with no IRQ");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t d[3] = {RES_IRQ};
    put_le(d + 1, mask, 2);
    emit(a, d, sizeof(d));
}

void vmio_aml_irq(struct vmio_aml *a, uint16_t mask, unsigned flags)
{
    if (mask == 0) {
        fail(a, -EINVAL, "an IRQ descriptor with no IRQ");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t info = 0;
    if (flags & VMIO_AML_IRQ_EDGE)
        info |= 0x01;
    if (flags & VMIO_AML_IRQ_ACTIVE_LOW)
        info |= 0x08;
    if (flags & VMIO_AML_IRQ_SHARED)
        info |= 0x10;
    if (flags & VMIO_AML_IRQ_WAKE)
        info |= 0x20;
    uint8_t d[4] = {RES_IRQ_FLAGS};
    put_le(d + 1, mask, 2);
    d[3] = info;
    emit(a, d, sizeof(d));
}

void vmio_aml_memory32_fixed(struct vmio_aml *a, uint32_t base, uint32_t size, bool writable)
{
    if (size == 0 || (uint64_t)base + size - 1 > 0xFFFFFFFF) {
        fail(a, -EINVAL, "a Memory32Fixed range that is empty or passes 4 GiB");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t d[12] = {RES_MEMORY32_FIXED, 9, 0};
    d[3] = writable ? 0x01 : 0x00;
    put_le(d + 4, base, 4);
    put_le(d + 8, size, 4);
    emit(a, d, sizeof(d));
}

void vmio_aml_interrupt(struct vmio_aml *a, unsigned flags, const uint32_t *gsis, unsigned n)
{
    if (n == 0 || n > 255 || !gsis) {
        fail(a, -EINVAL, "an Interrupt descriptor with no or more than 255 interrupts");
        return;
    }
    if (!begin_resource(a) || !reserve(a, 5 + 4 * (size_t)n))
        return;
    uint8_t info = 0x01; /* ResourceConsumer */
    if (flags & VMIO_AML_IRQ_EDGE)
        info |= 0x02;
    if (flags & VMIO_AML_IRQ_ACTIVE_LOW)
        info |= 0x04;
    if (flags & VMIO_AML_IRQ_SHARED)
        info |= 0x08;
    if (flags & VMIO_AML_IRQ_WAKE)
        info |= 0x10;
    uint8_t head[5] = {RES_INTERRUPT};
    put_le(head + 1, 2 + 4 * n, 2);
    head[3] = info;
    head[4] = (uint8_t)n;
    emit(a, head, sizeof(head));
    for (unsigned i = 0; i < n; i++) {
        uint8_t g[4];
        put_le(g, gsis[i], 4);
        emit(a, g, sizeof(g));
    }
}

void vmio_aml_qword_memory(struct vmio_aml *a, uint64_t base, uint64_t size,
                           enum vmio_aml_mem_cache cache, bool writable)
{
    if (size == 0 || base + (size - 1) < base) {
        fail(a, -EINVAL, "a QWordMemory range that is empty or wraps past 2^64");
        return;
    }
    if ((unsigned)cache > VMIO_AML_MEM_PREFETCHABLE) {
        fail(a, -EINVAL, "a QWordMemory cacheability out of range");
        return;
    }
    if (!begin_resource(a))
        return;
    uint8_t d[46] = {RES_QWORD_ADDRESS, 43, 0};
    d[3] = 0x00;               /* resource type: memory range */
    d[4] = 0x01 | 0x04 | 0x08; /* consumer, min fixed, max fixed, positive decode */
    d[5] = (uint8_t)((cache << 1) | (writable ? 1 : 0)); /* AddressRangeMemory, TypeStatic */
    put_le(d + 6, 0, 8);                                 /* granularity: 0 for a fixed range */
    put_le(d + 14, base, 8);                             /* minimum */
    put_le(d + 22, base + (size - 1), 8);                /* maximum */
    put_le(d + 30, 0, 8);                                /* translation offset */
    put_le(d + 38, size, 8);                             /* length */
    emit(a, d, sizeof(d));
}
