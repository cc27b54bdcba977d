/*
 * Exit trace lines and the decoded guest instruction behind an MMIO read
 * (see trace.h).
 *
 * Invariants: guest memory is only read through the guest-memory object
 * (vmio_guest_mem_to_host(): bounds-checked, RAM only), each span within one
 * 4 KiB guest page; every failure becomes text. The per-vCPU cache is only
 * consulted with the bytes just fetched, so it can never return the decode
 * of bytes the guest no longer has. Nothing here runs unless tracing is on
 * or an unclaimed access is being reported.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace.h"

#define PAGE_SIZE_4K 4096u
#define EFER_LMA (1ULL << 10)

void vmio_insn_cache_init(struct vmio_insn_cache *c)
{
    c->uncached = 0;
    vmio_x86_cache_init(&c->cache, c->slots, VMIO_INSN_CACHE_SLOTS);
}

/* Page-table reads for vmio_x86_translate(): little-endian, bounds-checked by the object. */
static int read_phys(void *ctx, uint64_t gpa, unsigned len, uint64_t *value)
{
    const struct vmio_guest_mem *mem = ctx;
    if (len > 8)
        return -1;
    const uint8_t *p = vmio_guest_mem_to_host(mem, gpa, len);
    if (!p)
        return -1;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    *value = v;
    return 0;
}

/* Translate @la; on failure describe it in @why and return false. */
static bool translate(const struct vmio_x86_paging *pg, const struct vmio_guest_mem *mem,
                      uint64_t la, uint64_t *gpa, char *why, size_t size)
{
    int rc = vmio_x86_translate(pg, la, read_phys, (void *)mem, gpa);
    if (rc == VMIO_DECODE_OK)
        return true;
    snprintf(why, size, "linear 0x%" PRIx64 " %s", la,
             rc == VMIO_DECODE_UNSUPPORTED ? "uses 5-level paging (not supported)"
                                           : "is not mapped by the guest's page tables");
    return false;
}

void vmio_insn_fetch(struct vmio_insn_cache *c, const struct vmio_x86_sregs *s, uint64_t rip,
                     const struct vmio_guest_mem *mem, struct vmio_insn_view *out)
{
    memset(out, 0, sizeof(*out));
    enum vmio_x86_mode mode =
        vmio_x86_mode_from_cs((s->efer & EFER_LMA) != 0, s->cs.l != 0, s->cs.db != 0);
    uint64_t wrap = mode == VMIO_X86_MODE_64 ? ~0ULL : 0xffffffffULL;
    uint64_t ip = mode == VMIO_X86_MODE_16 ? rip & 0xffff : rip & wrap;
    uint64_t la = mode == VMIO_X86_MODE_64 ? ip : (s->cs.base + ip) & wrap;
    struct vmio_x86_paging pg = {.cr0 = s->cr0, .cr3 = s->cr3, .cr4 = s->cr4, .efer = s->efer};
    uint64_t gpa;
    if (!translate(&pg, mem, la, &gpa, out->why, sizeof(out->why)))
        return;
    out->gpa = gpa;
    unsigned n1 = PAGE_SIZE_4K - (unsigned)(la & (PAGE_SIZE_4K - 1));
    if (n1 > VMIO_X86_MAX_INSN)
        n1 = VMIO_X86_MAX_INSN;
    const uint8_t *p = vmio_guest_mem_to_host(mem, gpa, n1);
    if (!p) {
        snprintf(out->why, sizeof(out->why), "code at gpa 0x%" PRIx64 " is not guest RAM", gpa);
        return;
    }
    memcpy(out->bytes, p, n1);
    unsigned n = n1;
    char why2[sizeof(out->why)] = ""; /* why the second page could not be read */
    if (n1 < VMIO_X86_MAX_INSN) {     /* the bytes run into the next page: translate it too */
        uint64_t gpa2;
        unsigned n2 = VMIO_X86_MAX_INSN - n1;
        if (translate(&pg, mem, (la + n1) & wrap, &gpa2, why2, sizeof(why2))) {
            const uint8_t *p2 = vmio_guest_mem_to_host(mem, gpa2, n2);
            if (p2) {
                memcpy(out->bytes + n1, p2, n2);
                n += n2;
            } else {
                snprintf(why2, sizeof(why2), "code at gpa 0x%" PRIx64 " is not guest RAM", gpa2);
            }
        }
    }
    out->nbytes = (uint8_t)n;

    const struct vmio_x86_insn *hit =
        c ? vmio_x86_cache_lookup(&c->cache, gpa, mode, out->bytes, n) : NULL;
    if (hit) {
        out->insn = *hit;
    } else {
        int rc = vmio_x86_decode(out->bytes, n, mode, &out->insn);
        if (rc != VMIO_DECODE_OK) {
            if (rc == VMIO_DECODE_TRUNCATED && why2[0])
                snprintf(out->why, sizeof(out->why), "instruction crosses a page: %s", why2);
            else
                snprintf(out->why, sizeof(out->why), "%s: %s",
                         vmio_decode_status_name((enum vmio_decode_status)rc),
                         out->insn.reason ? out->insn.reason : "?");
            return;
        }
        if (c && vmio_x86_cache_insert(&c->cache, gpa, &out->insn, out->bytes) != VMIO_DECODE_OK)
            c->uncached++;
    }
    out->ok = true;
    out->nbytes = out->insn.len;
}

static const char *size_word(unsigned width)
{
    switch (width) {
    case 1:
        return "byte";
    case 2:
        return "word";
    case 4:
        return "dword";
    case 8:
        return "qword";
    default:
        return "?";
    }
}

/* Append to a bounded buffer; *len tracks the length the full text needs. */
struct sbuf {
    char *buf;
    size_t size;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void put(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->size ? b->size - b->len : 0;
    int n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

static void put_hex(struct sbuf *b, uint64_t v, bool sign)
{
    if (sign && (int64_t)v < 0)
        put(b, "-0x%" PRIx64, -v);
    else
        put(b, "%s0x%" PRIx64, sign ? "+" : "", v);
}

/* "fs:" for a memory operand with a segment override, else nothing. */
static void put_seg(struct sbuf *b, const struct vmio_x86_mem *m)
{
    static const char *const segs[VMIO_X86_NSEG] = {"es", "cs", "ss", "ds", "fs", "gs"};
    if (m->seg_override && m->seg < VMIO_X86_NSEG)
        put(b, "%s:", segs[m->seg]);
}

/* "dword [fs:rbx+rcx*4-0x8]" */
static void put_mem(struct sbuf *b, unsigned width, const struct vmio_x86_mem *m)
{
    put(b, "%s [", size_word(width));
    put_seg(b, m);
    uint64_t amask = m->addr_size >= 8 ? ~0ULL : (1ULL << (8 * m->addr_size)) - 1;
    bool any = false;
    if (m->rip_relative) {
        put(b, "%s", m->addr_size == 4 ? "eip" : "rip");
        any = true;
    }
    if (m->base != VMIO_REG_NONE) {
        put(b, "%s", vmio_x86_reg_name(m->base, m->addr_size, false));
        any = true;
    }
    if (m->index != VMIO_REG_NONE) {
        put(b, "%s%s", any ? "+" : "", vmio_x86_reg_name(m->index, m->addr_size, false));
        if (m->scale > 1)
            put(b, "*%u", m->scale);
        any = true;
    }
    if (!any)
        put_hex(b, (uint64_t)m->disp & amask, false);
    else if (m->disp)
        put_hex(b, (uint64_t)m->disp, true);
    put(b, "]");
}

int vmio_insn_format(const struct vmio_x86_insn *in, char *buf, size_t size)
{
    struct sbuf b = {.buf = buf, .size = size, .len = 0};
    if (size)
        buf[0] = '\0';
    const struct vmio_access *a = &in->access;
    unsigned rw = a->reg_width ? a->reg_width : a->width;
    const char *reg = a->reg != VMIO_REG_NONE ? vmio_x86_reg_name(a->reg, rw, in->high_byte) : NULL;
    if (in->lock)
        put(&b, "lock ");
    if (in->rep)
        put(&b, "rep ");
    put(&b, "%s ", vmio_x86_op_name((enum vmio_x86_op)in->op));
    switch (in->op) {
    case VMIO_X86_OP_MOVS:
        put_mem(&b, a->width, &in->mem2);
        put(&b, ", [");
        put_seg(&b, &in->mem);
        put(&b, "%s]", vmio_x86_reg_name(in->mem.base, in->mem.addr_size, false));
        break;
    case VMIO_X86_OP_STOS:
        put_mem(&b, a->width, &in->mem);
        put(&b, ", %s", reg ? reg : "?");
        break;
    default:
        if (reg &&
            (a->dir == VMIO_READ && (in->op == VMIO_X86_OP_MOV || in->op == VMIO_X86_OP_MOVZX ||
                                     in->op == VMIO_X86_OP_MOVSX || in->reg_dest))) {
            put(&b, "%s, ", reg); /* register destination: op reg, [m] */
            put_mem(&b, a->width, &in->mem);
        } else {
            put_mem(&b, a->width, &in->mem);
            if (reg)
                put(&b, ", %s", reg);
            else if (in->has_imm)
                put(&b, ", 0x%" PRIx64, in->imm);
        }
        break;
    }
    return (int)b.len;
}

int vmio_insn_describe(const struct vmio_insn_view *v, char *buf, size_t size)
{
    struct sbuf b = {.buf = buf, .size = size, .len = 0};
    if (size)
        buf[0] = '\0';
    if (v->ok) {
        char text[128];
        vmio_insn_format(&v->insn, text, sizeof(text));
        put(&b, " insn \"%s\" (", text);
    } else {
        put(&b, " insn ? (%s)", v->why);
        if (!v->nbytes)
            return (int)b.len;
        put(&b, " (");
    }
    for (unsigned i = 0; i < v->nbytes && i < VMIO_X86_MAX_INSN; i++)
        put(&b, "%s%02x", i ? " " : "", v->bytes[i]);
    put(&b, ")");
    return (int)b.len;
}

void vmio_trace_exit_insn(struct vmio_insn_cache **cache, const struct vmio_guest_mem *mem,
                          const struct vmio_trace_regs *regs, const struct vmio_exit *e, char *buf,
                          size_t size)
{
    if (e->access.dir == VMIO_WRITE) {
        snprintf(buf, size, " insn -");
        return;
    }
    if (!*cache) {
        *cache = malloc(sizeof(**cache));
        if (*cache)
            vmio_insn_cache_init(*cache);
    }
    struct vmio_x86_sregs s;
    int rc = regs->get_sregs(regs->ctx, &s);
    if (rc < 0) {
        snprintf(buf, size, " insn ? (cannot read the segment registers: %s)", strerror(-rc));
        return;
    }
    uint64_t rip = e->ip;
    if (!rip) { /* 0 may be real: ask (without sync regs e->ip is 0 until filled) */
        struct vmio_x86_regs r;
        rc = regs->get_regs(regs->ctx, &r);
        if (rc < 0) {
            snprintf(buf, size, " insn ? (cannot read RIP: %s)", strerror(-rc));
            return;
        }
        rip = r.rip;
    }
    struct vmio_insn_view v;
    vmio_insn_fetch(*cache, &s, rip, mem, &v);
    vmio_insn_describe(&v, buf, size);
}

bool vmio_trace_allow(struct vmio_ratelimit *limit, FILE *out)
{
    uint64_t suppressed = 0;
    if (!limit)
        return true;
    if (!vmio_ratelimit_allow(limit, &suppressed))
        return false;
    if (suppressed)
        fprintf(out,
                "vmio-trace: %" PRIu64 " lines suppressed (a terminal shows at most %d per "
                "second; --trace 2>FILE keeps every line)\n",
                suppressed, VMIO_TRACE_TTY_BURST);
    return true;
}

void vmio_trace_exit(FILE *out, unsigned cpu, uint64_t n, const struct vmio_exit *e,
                     const char *dev, const char *insn)
{
    const struct vmio_access *a = &e->access;
    uint64_t value = a->count == 1 ? a->data : 0; /* string I/O: see the elements' device */
    fprintf(out,
            "vmio-trace: cpu%u #%" PRIu64 " %s %s 0x%" PRIx64 " w%u x%" PRIu32 " val 0x%" PRIx64
            " dev %s rip 0x%" PRIx64 "%s\n",
            cpu, n, vmio_space_name(a->space), a->dir == VMIO_WRITE ? "write" : "read", a->addr,
            a->width, a->count, value, dev ? dev : "-", e->ip, insn ? insn : "");
}

void vmio_trace_cache_stats(FILE *out, unsigned cpu, const struct vmio_insn_cache *c)
{
    if (!c)
        return;
    fprintf(out,
            "vmio-trace: cpu%u insn-cache hits %" PRIu64 " misses %" PRIu64 " stale %" PRIu64
            " uncached %" PRIu64 "\n",
            cpu, c->cache.hits, c->cache.misses, c->cache.stale, c->uncached);
}
