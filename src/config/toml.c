/*
 * TOML 1.0 reader: a single-pass recursive-descent parser over a byte buffer
 * that builds the value tree declared in vmio/toml.h (the tree and accessors
 * live in the first section of this file).
 *
 * Invariants:
 * - The whole buffer is validated as UTF-8 before parsing; afterwards the
 *   parser only has to enforce TOML's control-character rules per context.
 * - p->line/p->line_start always describe the line containing p->pos; every
 *   consumed '\n' goes through newline().
 * - The first error wins: fail() records "line L, column C: message" once and
 *   every caller propagates the negative return value unchanged.
 * - Every value carries its depth; nothing deeper than VMIO_TOML_MAX_DEPTH is
 *   created, which bounds the recursion of the parser (arrays and inline
 *   tables) and of every tree walk.
 * - Table flags implement the redefinition rules: T_DEFINED (explicit header,
 *   inline table or key = value), T_HEADER_PARENT (created as a parent by a
 *   header; a later header or dotted key may still define it, turning it
 *   into T_DEFINED or T_DOTTED), T_DOTTED (created by a dotted key: headers
 *   may pass through it but not define it), T_INLINE (immutable); arrays
 *   carry A_AOT when created by [[header]] (static arrays are closed).
 * - Multi-line strings return CRLF line ends as LF.
 * - Positions are computed while scanning forward (pos_at() caches the
 *   column on the current line), so recording them costs O(n) in total.
 * - Table lookups cannot be made to degrade by the document: tables with
 *   INDEX_MIN keys or more have an open-addressing index hashed with
 *   SipHash-1-3 under a key drawn from getrandom() once per process, so
 *   colliding keys cannot be computed in advance (an unkeyed hash such as
 *   FNV-1a with low-bit masking let a crafted file send every key to one
 *   chain); a table holds at most VMIO_TOML_MAX_TABLE_KEYS keys. The parser
 *   counts the index slots it visits per table (tab.probes, read by tests
 *   through toml_internal.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config/toml_internal.h"
#include "vmio/toml.h"

/* ---- the tree ------------------------------------------------------------- */

enum {
    T_DEFINED = 1,       /* table defined explicitly (header, inline, root) */
    T_HEADER_PARENT = 2, /* table created implicitly as the parent in a header */
    T_DOTTED = 4,        /* table created by a dotted key */
    T_INLINE = 8,        /* inline table: closed for any later addition */
    A_AOT = 16,          /* array created by [[header]]: may be appended to */
};

struct vmio_toml_value {
    enum vmio_toml_type type;
    unsigned flags;
    unsigned depth; /* root is 0; never above VMIO_TOML_MAX_DEPTH */
    struct vmio_toml_pos pos;
    union {
        struct {
            char *s;
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        struct vmio_toml_datetime dt;
        struct {
            struct vmio_toml_value **items;
            size_t n, cap;
        } arr;
        struct {
            struct vmio_toml_entry *e;
            size_t n, cap;
            uint32_t *index; /* open-addressing hash of entry numbers + 1, or NULL */
            size_t index_cap;
            const char *name; /* the key it is the value of (owned by the parent), or NULL */
            size_t name_len;
            uint64_t probes; /* index slots the parser visited (lookups and inserts) */
        } tab;
    } u;
};

/* Tables with fewer keys than this are searched linearly. */
#define INDEX_MIN 16

/*
 * The index hash: SipHash-1-3 (one compression round per 8-byte block, three
 * finalisation rounds) keyed with 128 random bits chosen once per process.
 * Keyed, a document cannot choose keys that collide; fast enough for keys of
 * a few bytes.
 */
static uint64_t hash_key[2];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
    if (getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK) == (ssize_t)sizeof(hash_key))
        return;
    /* No entropy yet (early boot): still different per process and per run. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    hash_key[0] = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    hash_key[1] = (uint64_t)(uintptr_t)&ts ^ 0x736f6d6570736575ull;
}

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13) ^ v0;                                                                    \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16) ^ v2;                                                                    \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21) ^ v0;                                                                    \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17) ^ v2;                                                                    \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

static uint64_t key_hash(const char *s, size_t len)
{
    pthread_once(&hash_key_once, hash_key_init);
    uint64_t v0 = hash_key[0] ^ 0x736f6d6570736575ull, v1 = hash_key[1] ^ 0x646f72616e646f6dull,
             v2 = hash_key[0] ^ 0x6c7967656e657261ull, v3 = hash_key[1] ^ 0x7465646279746573ull;
    const unsigned char *p = (const unsigned char *)s;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = 0;
        for (unsigned b = 0; b < 8; b++)
            m |= (uint64_t)p[i + b] << (8 * b);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t b = 0; b < (len & 7); b++)
        last |= (uint64_t)p[full + b] << (8 * b);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static void toml_value_free(struct vmio_toml_value *v)
{
    if (!v)
        return;
    if (v->type == VMIO_TOML_STRING) {
        free(v->u.str.s);
    } else if (v->type == VMIO_TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            toml_value_free(v->u.arr.items[i]);
        free(v->u.arr.items);
    } else if (v->type == VMIO_TOML_TABLE) {
        for (size_t i = 0; i < v->u.tab.n; i++) {
            free((char *)v->u.tab.e[i].key);
            toml_value_free((struct vmio_toml_value *)v->u.tab.e[i].value);
        }
        free(v->u.tab.e);
        free(v->u.tab.index);
    }
    free(v);
}

/* The entry of @key in @t, or NULL; adds the index slots visited to *@probes (may be NULL). */
static struct vmio_toml_entry *toml_table_lookup_entry(const struct vmio_toml_value *t,
                                                       const char *key, size_t len,
                                                       uint64_t *probes)
{
    const struct vmio_toml_entry *e = t->u.tab.e;
    if (t->u.tab.index) {
        size_t mask = t->u.tab.index_cap - 1;
        for (size_t i = (size_t)key_hash(key, len) & mask;; i = (i + 1) & mask) {
            uint32_t x = t->u.tab.index[i];
            if (probes)
                ++*probes;
            if (!x)
                return NULL;
            if (e[x - 1].key_len == len && memcmp(e[x - 1].key, key, len) == 0)
                return (struct vmio_toml_entry *)&e[x - 1];
        }
    }
    for (size_t i = 0; i < t->u.tab.n; i++) {
        if (e[i].key_len == len && memcmp(e[i].key, key, len) == 0)
            return (struct vmio_toml_entry *)&e[i];
    }
    return NULL;
}

/* The parser's lookup: counts its probes in @t. */
static struct vmio_toml_value *toml_table_lookup(struct vmio_toml_value *t, const char *key,
                                                 size_t len)
{
    struct vmio_toml_entry *e = toml_table_lookup_entry(t, key, len, &t->u.tab.probes);
    return e ? (struct vmio_toml_value *)e->value : NULL;
}

static void index_insert(uint32_t *index, size_t cap, const struct vmio_toml_entry *e, uint32_t n,
                         uint64_t *probes)
{
    size_t mask = cap - 1;
    size_t i = (size_t)key_hash(e->key, e->key_len) & mask;
    ++*probes;
    while (index[i]) {
        i = (i + 1) & mask;
        ++*probes;
    }
    index[i] = n;
}

/* Rebuild the hash index so that it holds at most half-full slots. */
static int index_grow(struct vmio_toml_value *t)
{
    size_t cap = t->u.tab.index_cap ? t->u.tab.index_cap * 2 : 64;
    if (cap > UINT32_MAX)
        return -ENOMEM;
    uint32_t *index = calloc(cap, sizeof(*index));
    if (!index)
        return -ENOMEM;
    for (size_t i = 0; i < t->u.tab.n; i++)
        index_insert(index, cap, &t->u.tab.e[i], (uint32_t)(i + 1), &t->u.tab.probes);
    free(t->u.tab.index);
    t->u.tab.index = index;
    t->u.tab.index_cap = cap;
    return 0;
}

/* Append key -> v to table t; takes ownership of key (malloc'd, NUL-terminated) and v on
 * success only. The key must not be present. Returns 0 or -ENOMEM. */
static int toml_table_add(struct vmio_toml_value *t, char *key, size_t len,
                          struct vmio_toml_pos kpos, struct vmio_toml_value *v)
{
    if (t->u.tab.n == t->u.tab.cap) {
        size_t cap = t->u.tab.cap ? t->u.tab.cap * 2 : 4;
        if (cap > UINT32_MAX / 2)
            return -ENOMEM;
        struct vmio_toml_entry *ne = realloc(t->u.tab.e, cap * sizeof(*ne));
        if (!ne)
            return -ENOMEM;
        t->u.tab.e = ne;
        t->u.tab.cap = cap;
    }
    if (t->u.tab.n + 1 >= INDEX_MIN && (t->u.tab.n + 1) * 2 > t->u.tab.index_cap) {
        if (index_grow(t))
            return -ENOMEM;
    }
    struct vmio_toml_entry *e = &t->u.tab.e[t->u.tab.n];
    e->key = key;
    e->key_len = len;
    e->key_pos = kpos;
    e->value = v;
    t->u.tab.n++;
    if (t->u.tab.index)
        index_insert(t->u.tab.index, t->u.tab.index_cap, e, (uint32_t)t->u.tab.n, &t->u.tab.probes);
    return 0;
}

static int toml_array_push(struct vmio_toml_value *a, struct vmio_toml_value *v)
{
    if (a->u.arr.n == a->u.arr.cap) {
        size_t cap = a->u.arr.cap ? a->u.arr.cap * 2 : 4;
        if (cap > ((size_t)-1) / sizeof(*a->u.arr.items))
            return -ENOMEM;
        struct vmio_toml_value **ni = realloc(a->u.arr.items, cap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        a->u.arr.items = ni;
        a->u.arr.cap = cap;
    }
    a->u.arr.items[a->u.arr.n++] = v;
    return 0;
}

/* ---- public accessors ----------------------------------------------------- */

void vmio_toml_free(struct vmio_toml_value *root)
{
    toml_value_free(root);
}

enum vmio_toml_type vmio_toml_type(const struct vmio_toml_value *v)
{
    return v->type;
}

const char *vmio_toml_type_name(enum vmio_toml_type t)
{
    switch (t) {
    case VMIO_TOML_STRING:
        return "string";
    case VMIO_TOML_INTEGER:
        return "integer";
    case VMIO_TOML_FLOAT:
        return "float";
    case VMIO_TOML_BOOL:
        return "bool";
    case VMIO_TOML_DATETIME:
        return "datetime";
    case VMIO_TOML_DATETIME_LOCAL:
        return "datetime-local";
    case VMIO_TOML_DATE_LOCAL:
        return "date-local";
    case VMIO_TOML_TIME_LOCAL:
        return "time-local";
    case VMIO_TOML_ARRAY:
        return "array";
    case VMIO_TOML_TABLE:
        return "table";
    }
    return "?";
}

struct vmio_toml_pos vmio_toml_pos(const struct vmio_toml_value *v)
{
    return v->pos;
}

const struct vmio_toml_entry *vmio_toml_table_find(const struct vmio_toml_value *table,
                                                   const char *key, size_t key_len)
{
    if (!table || table->type != VMIO_TOML_TABLE || (!key && key_len))
        return NULL;
    return toml_table_lookup_entry(table, key ? key : "", key_len, NULL);
}

const struct vmio_toml_value *vmio_toml_table_get(const struct vmio_toml_value *table,
                                                  const char *key)
{
    if (!key)
        return NULL;
    const struct vmio_toml_entry *e = vmio_toml_table_find(table, key, strlen(key));
    return e ? e->value : NULL;
}

size_t vmio_toml_table_size(const struct vmio_toml_value *table)
{
    return table && table->type == VMIO_TOML_TABLE ? table->u.tab.n : 0;
}

const struct vmio_toml_entry *vmio_toml_table_entry(const struct vmio_toml_value *table, size_t i)
{
    if (!table || table->type != VMIO_TOML_TABLE || i >= table->u.tab.n)
        return NULL;
    return &table->u.tab.e[i];
}

size_t vmio_toml_array_len(const struct vmio_toml_value *array)
{
    return array && array->type == VMIO_TOML_ARRAY ? array->u.arr.n : 0;
}

const struct vmio_toml_value *vmio_toml_array_at(const struct vmio_toml_value *array, size_t i)
{
    if (!array || array->type != VMIO_TOML_ARRAY || i >= array->u.arr.n)
        return NULL;
    return array->u.arr.items[i];
}

int vmio_toml_get_int(const struct vmio_toml_value *v, int64_t *out)
{
    if (!v || v->type != VMIO_TOML_INTEGER || !out)
        return -EINVAL;
    *out = v->u.i;
    return 0;
}

int vmio_toml_get_double(const struct vmio_toml_value *v, double *out)
{
    if (!v || v->type != VMIO_TOML_FLOAT || !out)
        return -EINVAL;
    *out = v->u.f;
    return 0;
}

int vmio_toml_get_bool(const struct vmio_toml_value *v, bool *out)
{
    if (!v || v->type != VMIO_TOML_BOOL || !out)
        return -EINVAL;
    *out = v->u.b;
    return 0;
}

int vmio_toml_get_string(const struct vmio_toml_value *v, const char **out, size_t *len)
{
    if (!v || v->type != VMIO_TOML_STRING || !out)
        return -EINVAL;
    *out = v->u.str.s;
    if (len)
        *len = v->u.str.len;
    return 0;
}

int vmio_toml_get_datetime(const struct vmio_toml_value *v, struct vmio_toml_datetime *out)
{
    if (!v || !out || v->type < VMIO_TOML_DATETIME || v->type > VMIO_TOML_TIME_LOCAL)
        return -EINVAL;
    *out = v->u.dt;
    return 0;
}

struct keypart {
    char *s;
    size_t len;
    size_t off;               /* byte offset of the key part in the source */
    struct vmio_toml_pos pos; /* the same as line/column */
};

struct key {
    struct keypart *parts;
    size_t n, cap;
};

struct parser {
    const char *s;
    size_t len, pos;
    unsigned line;
    size_t line_start;
    size_t bom; /* 3 when the document starts with a UTF-8 BOM */
    /* column cache for pos_at(): column of cc_off on line cc_line */
    unsigned cc_line, cc_col;
    size_t cc_off;
    struct vmio_error *err;
    int failed;
    struct vmio_toml_value *root, *cur;
    char *buf; /* scratch buffer for decoding strings */
    size_t blen, bcap;
};

static struct vmio_toml_pos pos_at(struct parser *p, size_t off)
{
    struct vmio_toml_pos r;
    if (off >= p->line_start) {
        if (p->cc_line != p->line || p->cc_off > off || p->cc_off < p->line_start) {
            p->cc_line = p->line;
            p->cc_off = p->line_start;
            p->cc_col = 1;
        }
        while (p->cc_off < off) {
            if (((unsigned char)p->s[p->cc_off] & 0xC0) != 0x80)
                p->cc_col++;
            p->cc_off++;
        }
        r.line = p->line;
        r.column = p->cc_col;
        return r;
    }
    /* Slow path (only used for errors about earlier lines). */
    unsigned line = 1;
    size_t ls = p->bom;
    for (size_t i = p->bom; i < off; i++) {
        if (p->s[i] == '\n') {
            line++;
            ls = i + 1;
        }
    }
    unsigned col = 1;
    for (size_t i = ls; i < off; i++) {
        if (((unsigned char)p->s[i] & 0xC0) != 0x80)
            col++;
    }
    r.line = line;
    r.column = col;
    return r;
}

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, size_t off, const char *fmt,
                                                      ...)
{
    if (p->failed)
        return -EINVAL;
    p->failed = -EINVAL;
    char msg[VMIO_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct vmio_toml_pos at = pos_at(p, off);
    vmio_error_set(p->err, -EINVAL, "line %u, column %u: %s", at.line, at.column, msg);
    return -EINVAL;
}

static int oom(struct parser *p)
{
    if (!p->failed) {
        p->failed = -ENOMEM;
        vmio_error_set(p->err, -ENOMEM, "out of memory");
    }
    return -ENOMEM;
}

/* A printable rendering of a key for error messages (static per call site). */
static const char *show(const char *s, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (o + 4 >= outsz && len > o) {
        out[o++] = '.';
        out[o++] = '.';
        out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

static int peek(const struct parser *p, size_t ahead)
{
    return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static void newline(struct parser *p)
{
    /* p->pos is just past a '\n' */
    p->line++;
    p->line_start = p->pos;
}

static bool is_ctrl(int c)
{
    /* Control characters TOML forbids in strings and comments (tab is fine). */
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- UTF-8 ---------------------------------------------------------------- */

static int check_utf8(struct parser *p)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t i = 0, n = p->len;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return fail(p, i, "invalid UTF-8 byte 0x%02x", c);
        }
        if (n - i - 1 < need)
            return fail(p, i, "truncated UTF-8 sequence");
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return fail(p, i, "invalid UTF-8 sequence");
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min)
            return fail(p, i, "overlong UTF-8 sequence");
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, i, "invalid code point U+%04X in UTF-8", cp);
        i += need + 1;
    }
    return 0;
}

static int buf_put(struct parser *p, const char *s, size_t n)
{
    if (p->bcap - p->blen < n + 1) {
        size_t cap = p->bcap ? p->bcap : 64;
        while (cap - p->blen < n + 1) {
            if (cap > ((size_t)-1) / 2)
                return oom(p);
            cap *= 2;
        }
        char *nb = realloc(p->buf, cap);
        if (!nb)
            return oom(p);
        p->buf = nb;
        p->bcap = cap;
    }
    memcpy(p->buf + p->blen, s, n);
    p->blen += n;
    p->buf[p->blen] = '\0';
    return 0;
}

static int buf_utf8(struct parser *p, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    return buf_put(p, b, n);
}

/* ---- whitespace, comments, line ends -------------------------------------- */

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

/* At '#': consume the comment up to (not including) the line end. */
static int skip_comment(struct parser *p)
{
    p->pos++;
    while (p->pos < p->len) {
        int c = (unsigned char)p->s[p->pos];
        if (c == '\n')
            return 0;
        if (c == '\r') {
            if (peek(p, 1) == '\n')
                return 0;
            return fail(p, p->pos, "carriage return not followed by newline in comment");
        }
        if (is_ctrl(c))
            return fail(p, p->pos, "control character 0x%02x not allowed in comment", c);
        p->pos++;
    }
    return 0;
}

/* Consume a line end if there is one; returns 1 if consumed, 0 if not. */
static int eat_newline(struct parser *p)
{
    if (peek(p, 0) == '\n') {
        p->pos++;
        newline(p);
        return 1;
    }
    if (peek(p, 0) == '\r' && peek(p, 1) == '\n') {
        p->pos += 2;
        newline(p);
        return 1;
    }
    return 0;
}

/* Skip whitespace, comments and newlines (inside arrays). */
static int skip_ws_nl(struct parser *p)
{
    for (;;) {
        skip_ws(p);
        if (peek(p, 0) == '#') {
            int r = skip_comment(p);
            if (r)
                return r;
        }
        if (!eat_newline(p))
            return 0;
    }
}

/* After a key/value pair or header: whitespace, optional comment, line end. */
static int expect_eol(struct parser *p, const char *after)
{
    skip_ws(p);
    if (peek(p, 0) == '#') {
        int r = skip_comment(p);
        if (r)
            return r;
    }
    if (p->pos >= p->len || eat_newline(p))
        return 0;
    if (peek(p, 0) == '\r')
        return fail(p, p->pos, "carriage return not followed by newline");
    return fail(p, p->pos, "expected newline or end of input after %s", after);
}

/* ---- strings -------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* At '\\' inside a basic string: decode one escape into the scratch buffer. */
static int parse_escape(struct parser *p)
{
    size_t at = p->pos;
    int c = peek(p, 1);
    char out;
    switch (c) {
    case 'b':
        out = '\b';
        break;
    case 't':
        out = '\t';
        break;
    case 'n':
        out = '\n';
        break;
    case 'f':
        out = '\f';
        break;
    case 'r':
        out = '\r';
        break;
    case '"':
        out = '"';
        break;
    case '\\':
        out = '\\';
        break;
    case 'u':
    case 'U': {
        int nd = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 0; i < nd; i++) {
            int h = hexval(peek(p, 2 + (size_t)i));
            if (h < 0)
                return fail(p, at, "expected %d hex digits after '\\%c'", nd, c);
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, at, "escape '\\%c' is not a Unicode scalar value", c);
        p->pos += 2 + (size_t)nd;
        return buf_utf8(p, cp);
    }
    default:
        if (c < 0)
            return fail(p, at, "unterminated escape sequence");
        if (c >= 0x20 && c < 0x7f)
            return fail(p, at, "invalid escape sequence '\\%c'", c);
        return fail(p, at, "invalid escape sequence");
    }
    p->pos += 2;
    return buf_put(p, &out, 1);
}

/* Single-line basic string at '"'; result in the scratch buffer. */
static int parse_basic(struct parser *p)
{
    size_t start = p->pos;
    p->pos++;
    p->blen = 0;
    for (;;) {
        int c = peek(p, 0);
        if (c < 0 || c == '\n' || (c == '\r' && peek(p, 1) == '\n'))
            return fail(p, start, "unterminated string (expected '\"' before end of line)");
        if (c == '"') {
            p->pos++;
            return buf_put(p, "", 0);
        }
        if (c == '\\') {
            int r = parse_escape(p);
            if (r)
                return r;
            continue;
        }
        if (is_ctrl(c))
            return fail(p, p->pos, "control character 0x%02x not allowed in string", c);
        size_t run = p->pos;
        while (p->pos < p->len) {
            int d = (unsigned char)p->s[p->pos];
            if (d == '"' || d == '\\' || is_ctrl(d))
                break;
            p->pos++;
        }
        int r = buf_put(p, p->s + run, p->pos - run);
        if (r)
            return r;
    }
}

/* Single-line literal string at '\''. */
static int parse_literal(struct parser *p)
{
    size_t start = p->pos;
    p->pos++;
    size_t run = p->pos;
    for (;;) {
        int c = peek(p, 0);
        if (c < 0 || c == '\n' || (c == '\r' && peek(p, 1) == '\n'))
            return fail(p, start,
                        "unterminated literal string (expected \"'\" before end of line)");
        if (c == '\'')
            break;
        if (is_ctrl(c))
            return fail(p, p->pos, "control character 0x%02x not allowed in string", c);
        p->pos++;
    }
    p->blen = 0;
    int r = buf_put(p, p->s + run, p->pos - run);
    p->pos++;
    return r;
}

/* Multi-line string at the opening triple quote (q is '"' or '\''). */
static int parse_multiline(struct parser *p, char q)
{
    size_t start = p->pos;
    p->pos += 3;
    p->blen = 0;
    int r = buf_put(p, "", 0);
    if (r)
        return r;
    eat_newline(p); /* a newline right after the delimiter is trimmed */
    for (;;) {
        int c = peek(p, 0);
        if (c < 0)
            return fail(p, start, "unterminated multi-line string (expected %c%c%c)", q, q, q);
        if (c == q) {
            size_t n = 0;
            while (peek(p, n) == q)
                n++;
            if (n >= 3) {
                if (n > 5)
                    return fail(p, p->pos + 5, "too many quotes at the end of a multi-line string");
                r = buf_put(p, p->s + p->pos, n - 3);
                p->pos += n;
                return r;
            }
            r = buf_put(p, p->s + p->pos, n);
            if (r)
                return r;
            p->pos += n;
            continue;
        }
        if (c == '\n' || (c == '\r' && peek(p, 1) == '\n')) {
            /* CRLF is normalised to LF, as the spec allows */
            eat_newline(p);
            r = buf_put(p, "\n", 1);
            if (r)
                return r;
            continue;
        }
        if (c == '\\' && q == '"') {
            /* line-ending backslash: \ ws* newline (ws|newline)* is removed */
            size_t k = 1;
            while (peek(p, k) == ' ' || peek(p, k) == '\t')
                k++;
            int e = peek(p, k);
            if (e == '\n' || (e == '\r' && peek(p, k + 1) == '\n')) {
                p->pos += k;
                for (;;) {
                    skip_ws(p);
                    if (!eat_newline(p))
                        break;
                }
                continue;
            }
            r = parse_escape(p);
            if (r)
                return r;
            continue;
        }
        if (is_ctrl(c))
            return fail(p, p->pos, "control character 0x%02x not allowed in string", c);
        size_t run = p->pos;
        while (p->pos < p->len) {
            int d = (unsigned char)p->s[p->pos];
            if (d == q || (d == '\\' && q == '"') || is_ctrl(d))
                break;
            p->pos++;
        }
        r = buf_put(p, p->s + run, p->pos - run);
        if (r)
            return r;
    }
}

/* ---- keys ----------------------------------------------------------------- */

static void key_free(struct key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->parts[i].s);
    free(k->parts);
    k->parts = NULL;
    k->n = k->cap = 0;
}

static int key_push(struct parser *p, struct key *k, const char *s, size_t len, size_t off)
{
    if (k->n >= VMIO_TOML_MAX_DEPTH)
        return fail(p, off, "key has more than %d parts", VMIO_TOML_MAX_DEPTH);
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4;
        struct keypart *np = realloc(k->parts, cap * sizeof(*np));
        if (!np)
            return oom(p);
        k->parts = np;
        k->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return oom(p);
    memcpy(c, s, len);
    c[len] = '\0';
    k->parts[k->n].s = c;
    k->parts[k->n].len = len;
    k->parts[k->n].off = off;
    k->parts[k->n].pos = pos_at(p, off);
    k->n++;
    return 0;
}

/* Parse a (possibly dotted) key; leading whitespace must already be skipped. */
static int parse_key(struct parser *p, struct key *k, const char *ctx)
{
    for (;;) {
        size_t off = p->pos;
        int c = peek(p, 0);
        int r;
        if (c == '"') {
            if (peek(p, 1) == '"' && peek(p, 2) == '"')
                return fail(p, off, "multi-line strings cannot be keys");
            r = parse_basic(p);
            if (!r)
                r = key_push(p, k, p->buf, p->blen, off);
        } else if (c == '\'') {
            if (peek(p, 1) == '\'' && peek(p, 2) == '\'')
                return fail(p, off, "multi-line strings cannot be keys");
            r = parse_literal(p);
            if (!r)
                r = key_push(p, k, p->buf, p->blen, off);
        } else if (is_bare(c)) {
            while (is_bare(peek(p, 0)))
                p->pos++;
            r = key_push(p, k, p->s + off, p->pos - off, off);
        } else if (c < 0) {
            return fail(p, off, "unexpected end of input, expected a key%s", ctx);
        } else if (c == '\n' || c == '\r') {
            return fail(p, off, "unexpected end of line, expected a key%s", ctx);
        } else if (c == '=' && k->n == 0) {
            return fail(p, off, "expected a key before '='");
        } else {
            return fail(p, off, "expected a key%s", ctx);
        }
        if (r)
            return r;
        skip_ws(p);
        if (peek(p, 0) != '.')
            return 0;
        p->pos++;
        skip_ws(p);
    }
}

/* ---- tree building -------------------------------------------------------- */

/* A new value of type @t at @depth, defined at @off (line/column @pos, or computed from @off
 * when @pos is NULL; @off is used for the error when @depth is too deep). */
static struct vmio_toml_value *new_value(struct parser *p, enum vmio_toml_type t, unsigned depth,
                                         size_t off, const struct vmio_toml_pos *pos)
{
    if (depth > VMIO_TOML_MAX_DEPTH) {
        fail(p, off, "nesting deeper than %d levels", VMIO_TOML_MAX_DEPTH);
        return NULL;
    }
    struct vmio_toml_value *v = calloc(1, sizeof(*v));
    if (!v) {
        oom(p);
        return NULL;
    }
    v->type = t;
    v->depth = depth;
    v->pos = pos ? *pos : pos_at(p, off);
    return v;
}

/* "table 'name'", "the root table" or "an inline table in an array", for messages. */
static const char *table_name(const struct vmio_toml_value *t, char *out, size_t outsz)
{
    char sb[80];
    if (t->depth == 0)
        snprintf(out, outsz, "the root table");
    else if (t->u.tab.name)
        snprintf(out, outsz, "table '%s'", show(t->u.tab.name, t->u.tab.name_len, sb, sizeof(sb)));
    else
        snprintf(out, outsz, "an inline table in an array");
    return out;
}

/* Add @v under key part @kp of @t; takes ownership of @v (and frees it on error). */
static int add(struct parser *p, struct vmio_toml_value *t, struct keypart *kp,
               struct vmio_toml_value *v)
{
    if (t->u.tab.n >= VMIO_TOML_MAX_TABLE_KEYS) {
        char tn[112];
        toml_value_free(v);
        return fail(p, kp->off, "%s (defined at line %u) has more than %d keys",
                    table_name(t, tn, sizeof(tn)), t->pos.line, VMIO_TOML_MAX_TABLE_KEYS);
    }
    int r = toml_table_add(t, kp->s, kp->len, kp->pos, v);
    if (r) {
        toml_value_free(v);
        return oom(p);
    }
    if (v->type == VMIO_TOML_TABLE) {
        v->u.tab.name = kp->s;
        v->u.tab.name_len = kp->len;
    }
    kp->s = NULL; /* now owned by the table */
    return 0;
}

static const char *what(const struct vmio_toml_value *v)
{
    if (v->type == VMIO_TOML_TABLE)
        return (v->flags & T_INLINE) ? "an inline table" : "a table";
    if (v->type == VMIO_TOML_ARRAY)
        return (v->flags & A_AOT) ? "an array of tables" : "an array";
    switch (v->type) {
    case VMIO_TOML_STRING:
        return "a string";
    case VMIO_TOML_INTEGER:
        return "an integer";
    case VMIO_TOML_FLOAT:
        return "a float";
    case VMIO_TOML_BOOL:
        return "a boolean";
    default:
        return "a date/time";
    }
}

/*
 * Walk the first n-1 parts of @k from @t for a header; creates missing tables.
 * Returns the parent table of the last part or NULL on error.
 */
static struct vmio_toml_value *walk_header(struct parser *p, struct vmio_toml_value *t,
                                           struct key *k)
{
    char sb[80];
    for (size_t i = 0; i + 1 < k->n; i++) {
        struct keypart *kp = &k->parts[i];
        struct vmio_toml_value *c = toml_table_lookup(t, kp->s, kp->len);
        if (!c) {
            c = new_value(p, VMIO_TOML_TABLE, t->depth + 1, kp->off, &kp->pos);
            if (!c)
                return NULL;
            c->flags = T_HEADER_PARENT;
            if (add(p, t, kp, c))
                return NULL;
        } else if (c->type == VMIO_TOML_ARRAY && (c->flags & A_AOT)) {
            c = c->u.arr.items[c->u.arr.n - 1];
        } else if (c->type != VMIO_TOML_TABLE || (c->flags & T_INLINE)) {
            fail(p, kp->off, "key '%s' is already defined as %s",
                 show(kp->s, kp->len, sb, sizeof(sb)), what(c));
            return NULL;
        }
        t = c;
    }
    return t;
}

/* Walk the dotted prefix of a key/value key from @t; creates dotted tables. */
static struct vmio_toml_value *walk_dotted(struct parser *p, struct vmio_toml_value *t,
                                           struct key *k)
{
    char sb[80];
    for (size_t i = 0; i + 1 < k->n; i++) {
        struct keypart *kp = &k->parts[i];
        struct vmio_toml_value *c = toml_table_lookup(t, kp->s, kp->len);
        if (!c) {
            c = new_value(p, VMIO_TOML_TABLE, t->depth + 1, kp->off, &kp->pos);
            if (!c)
                return NULL;
            c->flags = T_DOTTED;
            if (add(p, t, kp, c))
                return NULL;
        } else if (c->type == VMIO_TOML_TABLE && c->flags == T_HEADER_PARENT) {
            /* implicitly created by a header ([a.b.c] makes a.b): dotted keys may
             * define it, and then it counts as defined by dotted keys */
            c->flags = T_DOTTED;
        } else if (c->type != VMIO_TOML_TABLE || !(c->flags & T_DOTTED) || (c->flags & T_INLINE)) {
            const char *sk = show(kp->s, kp->len, sb, sizeof(sb));
            if (c->type == VMIO_TOML_TABLE && !(c->flags & T_INLINE))
                fail(p, kp->off,
                     "cannot add to table '%s' with a dotted key: it was defined by "
                     "a [table] header",
                     sk);
            else
                fail(p, kp->off, "key '%s' is already defined as %s", sk, what(c));
            return NULL;
        }
        t = c;
    }
    return t;
}

/* ---- values --------------------------------------------------------------- */

static int parse_value(struct parser *p, unsigned depth, struct vmio_toml_value **out);

/* Digits (of radix 2, 8, 10 or 16) with single underscores between them. */
static int digits(struct parser *p, int radix, const char *what_)
{
    int c = peek(p, 0);
    int dv = hexval(c);
    if (dv < 0 || dv >= radix) {
        if (c == '_')
            return fail(p, p->pos, "'_' must be between digits");
        return fail(p, p->pos, "expected a digit in %s", what_);
    }
    for (;;) {
        c = peek(p, 0);
        dv = hexval(c);
        if (dv >= 0 && dv < radix) {
            int r = buf_put(p, p->s + p->pos, 1);
            if (r)
                return r;
            p->pos++;
        } else if (c == '_') {
            int n = hexval(peek(p, 1));
            if (n < 0 || n >= radix)
                return fail(p, p->pos, "'_' must be between digits");
            p->pos++;
        } else {
            return 0;
        }
    }
}

static int parse_number(struct parser *p, struct vmio_toml_value *v)
{
    size_t start = p->pos;
    int sign = 0;
    if (peek(p, 0) == '+' || peek(p, 0) == '-') {
        sign = peek(p, 0);
        p->pos++;
    }
    if (p->pos + 3 <= p->len &&
        (memcmp(p->s + p->pos, "inf", 3) == 0 || memcmp(p->s + p->pos, "nan", 3) == 0)) {
        bool nan = p->s[p->pos] == 'n';
        p->pos += 3;
        v->type = VMIO_TOML_FLOAT;
        v->u.f = nan ? NAN : INFINITY;
        if (sign == '-')
            v->u.f = -v->u.f;
        return 0;
    }
    p->blen = 0;
    int r;
    if (peek(p, 0) == '0' && (peek(p, 1) == 'x' || peek(p, 1) == 'o' || peek(p, 1) == 'b')) {
        int radix = peek(p, 1) == 'x' ? 16 : peek(p, 1) == 'o' ? 8 : 2;
        if (sign)
            return fail(p, start,
                        "a sign is not allowed on hexadecimal, octal or binary "
                        "integers");
        p->pos += 2;
        r = digits(p, radix,
                   radix == 16  ? "hexadecimal integer"
                   : radix == 8 ? "octal integer"
                                : "binary integer");
        if (r)
            return r;
        uint64_t m = 0;
        for (size_t i = 0; i < p->blen; i++) {
            uint64_t d = (uint64_t)hexval((unsigned char)p->buf[i]);
            if (m > ((uint64_t)INT64_MAX - d) / (uint64_t)radix)
                return fail(p, start, "integer does not fit in 64 bits");
            m = m * (uint64_t)radix + d;
        }
        v->type = VMIO_TOML_INTEGER;
        v->u.i = (int64_t)m;
        return 0;
    }
    if (!is_digit(peek(p, 0)))
        return fail(p, p->pos, "expected a value");
    if (peek(p, 0) == '0' && (is_digit(peek(p, 1)) || peek(p, 1) == '_'))
        return fail(p, start, "leading zeros are not allowed in numbers");
    if (sign)
        buf_put(p, sign == '-' ? "-" : "+", 1);
    size_t intend;
    r = digits(p, 10, "number");
    if (r)
        return r;
    intend = p->blen;
    bool is_float = false;
    if (peek(p, 0) == '.') {
        is_float = true;
        p->pos++;
        if ((r = buf_put(p, ".", 1)) || (r = digits(p, 10, "the fraction of a float")))
            return r;
    }
    if (peek(p, 0) == 'e' || peek(p, 0) == 'E') {
        is_float = true;
        p->pos++;
        if ((r = buf_put(p, "e", 1)))
            return r;
        if (peek(p, 0) == '+' || peek(p, 0) == '-') {
            if ((r = buf_put(p, p->s + p->pos, 1)))
                return r;
            p->pos++;
        }
        if ((r = digits(p, 10, "the exponent of a float")))
            return r;
    }
    if (p->failed)
        return p->failed;
    if (is_float) {
        char *end;
        errno = 0;
        double d = strtod(p->buf, &end);
        if (end != p->buf + p->blen)
            return fail(p, start, "invalid float");
        if (errno == ERANGE && isinf(d))
            return fail(p, start, "float out of range");
        v->type = VMIO_TOML_FLOAT;
        v->u.f = d;
        return 0;
    }
    uint64_t m = 0;
    for (size_t i = sign ? 1 : 0; i < intend; i++) {
        uint64_t d = (uint64_t)(p->buf[i] - '0');
        if (m > (UINT64_MAX - d) / 10)
            return fail(p, start, "integer does not fit in 64 bits");
        m = m * 10 + d;
    }
    if (sign == '-') {
        if (m > (uint64_t)INT64_MAX + 1)
            return fail(p, start, "integer does not fit in 64 bits");
        v->u.i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return fail(p, start, "integer does not fit in 64 bits");
        v->u.i = (int64_t)m;
    }
    v->type = VMIO_TOML_INTEGER;
    return 0;
}

/* Exactly n decimal digits. */
static int fixed_digits(struct parser *p, int n, int *out, const char *what_)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        int c = peek(p, (size_t)i);
        if (!is_digit(c))
            return fail(p, p->pos + (size_t)i, "expected %d digits for the %s", n, what_);
        v = v * 10 + (c - '0');
    }
    p->pos += (size_t)n;
    *out = v;
    return 0;
}

static int expect_char(struct parser *p, char c, const char *what_)
{
    if (peek(p, 0) != (unsigned char)c)
        return fail(p, p->pos, "expected '%c' %s", c, what_);
    p->pos++;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int parse_time(struct parser *p, struct vmio_toml_datetime *dt)
{
    size_t start = p->pos;
    int r;
    if ((r = fixed_digits(p, 2, &dt->hour, "hour")) ||
        (r = expect_char(p, ':', "between hour and minute")) ||
        (r = fixed_digits(p, 2, &dt->minute, "minute")) ||
        (r = expect_char(p, ':', "between minute and second")) ||
        (r = fixed_digits(p, 2, &dt->second, "second")))
        return r;
    if (dt->hour > 23)
        return fail(p, start, "hour %02d out of range (00-23)", dt->hour);
    if (dt->minute > 59)
        return fail(p, start + 3, "minute %02d out of range (00-59)", dt->minute);
    if (dt->second > 60)
        return fail(p, start + 6, "second %02d out of range (00-60)", dt->second);
    if (peek(p, 0) == '.') {
        p->pos++;
        if (!is_digit(peek(p, 0)))
            return fail(p, p->pos, "expected digits after '.' in the time");
        uint32_t ns = 0;
        int nd = 0;
        while (is_digit(peek(p, 0))) {
            if (nd < 9) {
                ns = ns * 10 + (uint32_t)(peek(p, 0) - '0');
                nd++;
            }
            p->pos++;
        }
        dt->frac_digits = nd;
        for (int i = nd; i < 9; i++)
            ns *= 10;
        dt->nanosecond = ns;
    }
    dt->has_time = true;
    return 0;
}

static int parse_datetime(struct parser *p, struct vmio_toml_value *v)
{
    struct vmio_toml_datetime *dt = &v->u.dt;
    size_t start = p->pos;
    int r;
    if (is_digit(peek(p, 0)) && is_digit(peek(p, 1)) && peek(p, 2) == ':') {
        if ((r = parse_time(p, dt)))
            return r;
        v->type = VMIO_TOML_TIME_LOCAL;
        return 0;
    }
    if ((r = fixed_digits(p, 4, &dt->year, "year")) ||
        (r = expect_char(p, '-', "between year and month")) ||
        (r = fixed_digits(p, 2, &dt->month, "month")) ||
        (r = expect_char(p, '-', "between month and day")) ||
        (r = fixed_digits(p, 2, &dt->day, "day")))
        return r;
    if (dt->month < 1 || dt->month > 12)
        return fail(p, start + 5, "month %02d out of range (01-12)", dt->month);
    if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
        return fail(p, start + 8, "day %02d out of range for %04d-%02d", dt->day, dt->year,
                    dt->month);
    dt->has_date = true;
    int c = peek(p, 0);
    if (c == 'T' || c == 't' || (c == ' ' && is_digit(peek(p, 1)))) {
        p->pos++;
        if ((r = parse_time(p, dt)))
            return r;
        c = peek(p, 0);
        if (c == 'Z' || c == 'z') {
            p->pos++;
            dt->has_offset = true;
        } else if (c == '+' || c == '-') {
            size_t at = p->pos;
            int oh = 0, om = 0;
            p->pos++;
            if ((r = fixed_digits(p, 2, &oh, "offset hour")) ||
                (r = expect_char(p, ':', "in the UTC offset")) ||
                (r = fixed_digits(p, 2, &om, "offset minute")))
                return r;
            if (oh > 23 || om > 59)
                return fail(p, at, "UTC offset out of range");
            dt->offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
            dt->has_offset = true;
        }
        v->type = dt->has_offset ? VMIO_TOML_DATETIME : VMIO_TOML_DATETIME_LOCAL;
        return 0;
    }
    v->type = VMIO_TOML_DATE_LOCAL;
    return 0;
}

static int set_string(struct parser *p, struct vmio_toml_value *v)
{
    char *s = malloc(p->blen + 1);
    if (!s)
        return oom(p);
    memcpy(s, p->buf, p->blen);
    s[p->blen] = '\0';
    v->type = VMIO_TOML_STRING;
    v->u.str.s = s;
    v->u.str.len = p->blen;
    return 0;
}

static int parse_keyval(struct parser *p, struct vmio_toml_value *t, const char *ctx);

static int parse_array(struct parser *p, struct vmio_toml_value *v)
{
    size_t start = p->pos;
    p->pos++;
    for (;;) {
        int r = skip_ws_nl(p);
        if (r)
            return r;
        if (peek(p, 0) == ']') {
            p->pos++;
            return 0;
        }
        if (peek(p, 0) < 0)
            return fail(p, start, "unterminated array (expected ']')");
        struct vmio_toml_value *e;
        if ((r = parse_value(p, v->depth + 1, &e)))
            return r;
        if (toml_array_push(v, e)) {
            toml_value_free(e);
            return oom(p);
        }
        if ((r = skip_ws_nl(p)))
            return r;
        int c = peek(p, 0);
        if (c == ',') {
            p->pos++;
        } else if (c == ']') {
            p->pos++;
            return 0;
        } else if (c < 0) {
            return fail(p, start, "unterminated array (expected ']')");
        } else {
            return fail(p, p->pos, "expected ',' or ']' after an array element");
        }
    }
}

static int parse_inline(struct parser *p, struct vmio_toml_value *v)
{
    p->pos++;
    skip_ws(p);
    if (peek(p, 0) == '}') {
        p->pos++;
        v->flags = T_DEFINED | T_INLINE;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        int r = parse_keyval(p, v, " in inline table");
        if (r)
            return r;
        skip_ws(p);
        int c = peek(p, 0);
        if (c == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p, 0) == '}')
                return fail(p, p->pos, "trailing comma not allowed in inline table");
            continue;
        }
        if (c == '}') {
            p->pos++;
            v->flags = T_DEFINED | T_INLINE;
            return 0;
        }
        if (c < 0 || c == '\n' || c == '\r')
            return fail(p, p->pos,
                        "expected ',' or '}' in inline table (inline tables must "
                        "be on one line)");
        return fail(p, p->pos, "expected ',' or '}' after a value in inline table");
    }
}

static int parse_value(struct parser *p, unsigned depth, struct vmio_toml_value **out)
{
    size_t start = p->pos;
    *out = NULL;
    int c = peek(p, 0);
    struct vmio_toml_value *v = new_value(p,
                                          c == '['   ? VMIO_TOML_ARRAY
                                          : c == '{' ? VMIO_TOML_TABLE
                                                     : VMIO_TOML_BOOL,
                                          depth, start, NULL);
    if (!v)
        return p->failed;
    int r;
    if (c == '"') {
        if (peek(p, 1) == '"' && peek(p, 2) == '"')
            r = parse_multiline(p, '"');
        else
            r = parse_basic(p);
        if (!r)
            r = set_string(p, v);
    } else if (c == '\'') {
        if (peek(p, 1) == '\'' && peek(p, 2) == '\'')
            r = parse_multiline(p, '\'');
        else
            r = parse_literal(p);
        if (!r)
            r = set_string(p, v);
    } else if (c == 't' && p->len - p->pos >= 4 && memcmp(p->s + p->pos, "true", 4) == 0) {
        p->pos += 4;
        v->type = VMIO_TOML_BOOL;
        v->u.b = true;
        r = 0;
    } else if (c == 'f' && p->len - p->pos >= 5 && memcmp(p->s + p->pos, "false", 5) == 0) {
        p->pos += 5;
        v->type = VMIO_TOML_BOOL;
        v->u.b = false;
        r = 0;
    } else if (c == '[') {
        r = parse_array(p, v);
    } else if (c == '{') {
        r = parse_inline(p, v);
    } else if (is_digit(c) && ((is_digit(peek(p, 1)) && peek(p, 2) == ':') ||
                               (is_digit(peek(p, 1)) && is_digit(peek(p, 2)) &&
                                is_digit(peek(p, 3)) && peek(p, 4) == '-'))) {
        r = parse_datetime(p, v);
    } else if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n') {
        r = parse_number(p, v);
    } else if (c < 0) {
        r = fail(p, start, "unexpected end of input, expected a value");
    } else if (c == '\n' || c == '\r') {
        r = fail(p, start, "unexpected end of line, expected a value");
    } else {
        r = fail(p, start, "expected a value");
    }
    if (r) {
        toml_value_free(v);
        return r;
    }
    *out = v;
    return 0;
}

/* key = value, added to table @t; @ctx completes "expected a key" messages. */
static int parse_keyval(struct parser *p, struct vmio_toml_value *t, const char *ctx)
{
    struct key k = {0};
    char sb[80];
    int r = parse_key(p, &k, ctx);
    if (r)
        goto out;
    skip_ws(p);
    if (peek(p, 0) != '=') {
        if (peek(p, 0) < 0 || peek(p, 0) == '\n' || peek(p, 0) == '\r')
            r = fail(p, p->pos, "expected '=' after key (got end of line)");
        else
            r = fail(p, p->pos, "expected '=' after key");
        goto out;
    }
    p->pos++;
    skip_ws(p);
    struct vmio_toml_value *parent = walk_dotted(p, t, &k);
    if (!parent) {
        r = p->failed;
        goto out;
    }
    struct keypart *last = &k.parts[k.n - 1];
    if (toml_table_lookup(parent, last->s, last->len)) {
        r = fail(p, last->off, "duplicate key '%s'", show(last->s, last->len, sb, sizeof(sb)));
        goto out;
    }
    struct vmio_toml_value *v;
    if ((r = parse_value(p, parent->depth + 1, &v)))
        goto out;
    r = add(p, parent, last, v);
out:
    key_free(&k);
    return r;
}

static int parse_header(struct parser *p)
{
    size_t start = p->pos;
    struct vmio_toml_pos hpos = pos_at(p, start);
    bool aot = peek(p, 1) == '[';
    char sb[80];
    struct key k = {0};
    p->pos += aot ? 2 : 1;
    skip_ws(p);
    int r = parse_key(p, &k, aot ? " in [[array of tables]] header" : " in [table] header");
    if (r)
        goto out;
    skip_ws(p);
    if (aot) {
        if (peek(p, 0) != ']' || peek(p, 1) != ']') {
            r = fail(p, p->pos, "expected ']]' to close the [[array of tables]] header");
            goto out;
        }
        p->pos += 2;
    } else {
        if (peek(p, 0) != ']') {
            r = fail(p, p->pos, "expected ']' to close the [table] header");
            goto out;
        }
        p->pos++;
    }
    if ((r = expect_eol(p, aot ? "[[array of tables]] header" : "[table] header")))
        goto out;

    struct vmio_toml_value *parent = walk_header(p, p->root, &k);
    if (!parent) {
        r = p->failed;
        goto out;
    }
    struct keypart *last = &k.parts[k.n - 1];
    const char *sk = show(last->s, last->len, sb, sizeof(sb));
    struct vmio_toml_value *c = toml_table_lookup(parent, last->s, last->len);
    if (aot) {
        struct vmio_toml_value *arr = c;
        /* The key string the parent owns (last->s moves to the parent when arr is new). */
        const char *aot_name = last->s;
        size_t aot_name_len = last->len;
        if (c)
            aot_name = toml_table_lookup_entry(parent, last->s, last->len, NULL)->key;
        if (!arr) {
            if (!(arr = new_value(p, VMIO_TOML_ARRAY, parent->depth + 1, last->off, &last->pos))) {
                r = p->failed;
                goto out;
            }
            arr->flags = A_AOT;
            if ((r = add(p, parent, last, arr)))
                goto out;
        } else if (arr->type != VMIO_TOML_ARRAY || !(arr->flags & A_AOT)) {
            r = fail(p, start, "cannot define [[%s]]: key is already defined as %s", sk, what(arr));
            goto out;
        }
        struct vmio_toml_value *t = new_value(p, VMIO_TOML_TABLE, arr->depth + 1, start, &hpos);
        if (!t) {
            r = p->failed;
            goto out;
        }
        t->flags = T_DEFINED;
        t->u.tab.name = aot_name; /* the elements of [[x]] are named x */
        t->u.tab.name_len = aot_name_len;
        if (toml_array_push(arr, t)) {
            toml_value_free(t);
            r = oom(p);
            goto out;
        }
        p->cur = t;
    } else {
        if (!c) {
            if (!(c = new_value(p, VMIO_TOML_TABLE, parent->depth + 1, start, &hpos))) {
                r = p->failed;
                goto out;
            }
            c->flags = T_DEFINED;
            if ((r = add(p, parent, last, c)))
                goto out;
        } else if (c->type == VMIO_TOML_TABLE && c->flags == T_HEADER_PARENT) {
            c->flags = T_DEFINED;
            c->pos = hpos;
        } else if (c->type == VMIO_TOML_TABLE) {
            r = fail(p, start, "table '%s' is already defined%s", sk,
                     (c->flags & T_INLINE)   ? " as an inline table"
                     : (c->flags & T_DOTTED) ? " by dotted keys"
                                             : "");
            goto out;
        } else {
            r = fail(p, start, "cannot define table [%s]: key is already defined as %s", sk,
                     what(c));
            goto out;
        }
        p->cur = c;
    }
out:
    key_free(&k);
    return r;
}

int vmio_toml_parse(const char *buf, size_t len, struct vmio_toml_value **out,
                    struct vmio_error *err)
{
    struct parser p = {0};
    if (out)
        *out = NULL;
    if (!out || (!buf && len))
        return vmio_error_set(err, -EINVAL, "vmio_toml_parse: invalid arguments");
    p.s = buf ? buf : "";
    p.len = len;
    p.line = 1;
    p.err = err;
    int r = check_utf8(&p);
    if (r)
        return r;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        p.bom = 3;
        p.pos = p.line_start = 3;
    }
    p.root = calloc(1, sizeof(*p.root));
    if (!p.root)
        return oom(&p);
    p.root->type = VMIO_TOML_TABLE;
    p.root->flags = T_DEFINED;
    p.root->pos.line = 1;
    p.root->pos.column = 1;
    p.cur = p.root;
    while (!r) {
        skip_ws(&p);
        int c = peek(&p, 0);
        if (c < 0)
            break;
        if (c == '#') {
            r = skip_comment(&p);
            if (!r && p.pos < p.len && !eat_newline(&p))
                r = fail(&p, p.pos, "expected newline after comment");
        } else if (c == '\n' || c == '\r') {
            if (!eat_newline(&p))
                r = fail(&p, p.pos, "carriage return not followed by newline");
        } else if (c == '[') {
            r = parse_header(&p);
        } else {
            r = parse_keyval(&p, p.cur, "");
            if (!r)
                r = expect_eol(&p, "a value");
        }
    }
    free(p.buf);
    if (r) {
        toml_value_free(p.root);
        return r;
    }
    *out = p.root;
    return 0;
}

uint64_t vmio_toml__table_probes(const struct vmio_toml_value *t)
{
    return t && t->type == VMIO_TOML_TABLE ? t->u.tab.probes : 0;
}
