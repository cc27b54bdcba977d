/*
 * Split virtqueues (see vmio/virtqueue.h): the only code that reads a
 * driver's rings and descriptors.
 *
 * Invariants:
 *   - q->desc, q->avail and q->used point into one RAM region each, checked
 *     at init for the whole ring, aligned as the spec requires both as
 *     guest-physical addresses and as host pointers (the 16- and 32-bit
 *     fields are then read and written as aligned atomics); they are NULL
 *     until a successful init, and pop refuses to work on such a queue.
 *   - A descriptor is copied once into a local struct; only the copy is
 *     checked and used.
 *   - Every host pointer handed out comes from vmio_guest_mem_find() for
 *     a span that lies inside one RAM region; spans are split at region
 *     boundaries, never extended past them.
 *   - Indices into a ring are taken modulo its power-of-two size before any
 *     pointer arithmetic; indices into a descriptor table are checked
 *     against its length first.
 *   - The walk of one chain terminates: each buffer descriptor counts
 *     against the queue size (and, inside an indirect table, the table
 *     length), and an indirect descriptor can only be followed once (no
 *     nesting, no NEXT).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/virtqueue.h"

#define DESC_SIZE 16u

/* One descriptor, copied out of guest memory and converted from little-endian. */
struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

/* Aligned 16-bit field the guest writes concurrently: an atomic load. */
static uint16_t ld16(const uint8_t *p, int order)
{
    return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void st16(uint8_t *p, uint16_t v, int order)
{
    __atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

/*
 * Store @v with a full barrier after it (an exchange: a locked instruction on
 * x86), so that later loads of what the driver wrote cannot be satisfied
 * before the store is visible. Used instead of a separate fence (which
 * ThreadSanitizer cannot model).
 */
static void st16_full(uint8_t *p, uint16_t v)
{
    (void)__atomic_exchange_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_SEQ_CST);
}

static void st32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
    const uint8_t *p = table + (size_t)i * DESC_SIZE;
    uint64_t a;
    uint32_t l;
    uint16_t f, n;
    memcpy(&a, p, 8);
    memcpy(&l, p + 8, 4);
    memcpy(&f, p + 12, 2);
    memcpy(&n, p + 14, 2);
    d->addr = le64toh(a);
    d->len = le32toh(l);
    d->flags = le16toh(f);
    d->next = le16toh(n);
}

/*
 * The host view of ring @what at [@gpa, @gpa + @len) into *@out: aligned to
 * @align (as an address and as a host pointer), inside one RAM region,
 * writable when @writable. Errors: -EINVAL, -EFAULT, described.
 */
static int map_ring(const struct vmio_guest_mem *mem, const char *what, uint64_t gpa, uint64_t len,
                    unsigned align, bool writable, uint8_t **out, struct vmio_error *err)
{
    if (gpa & (align - 1))
        return vmio_error_set(err, -EINVAL, "the %s at 0x%" PRIx64 " is not %u-byte aligned", what,
                              gpa, align);
    const struct vmio_mem_region *r = vmio_guest_mem_find(mem, gpa, len);
    if (!r)
        return vmio_error_set(err, -EFAULT,
                              "the %s at 0x%" PRIx64 " (0x%" PRIx64 " bytes) is not in guest RAM",
                              what, gpa, len);
    if (writable && r->readonly)
        return vmio_error_set(err, -EFAULT, "the %s at 0x%" PRIx64 " is in read-only memory (%s)",
                              what, gpa, r->name);
    uint8_t *host = (uint8_t *)r->host + (gpa - r->gpa);
    if ((uintptr_t)host & (align - 1))
        return vmio_error_set(err, -EINVAL, "the %s at 0x%" PRIx64 " is misaligned in host memory",
                              what, gpa);
    *out = host;
    return 0;
}

int vmio_virtq_init(struct vmio_virtq *q, const struct vmio_guest_mem *mem,
                    const struct vmio_virtq_config *cfg, struct vmio_error *err)
{
    memset(q, 0, sizeof(*q));
    q->mem = mem;
    q->cfg = *cfg;
    uint32_t n = cfg->size;
    if (n == 0 || n > VMIO_VIRTQ_MAX_SIZE || (n & (n - 1)))
        return vmio_error_set(err, -EINVAL, "queue size %u is not a power of two from 1 to %u", n,
                              VMIO_VIRTQ_MAX_SIZE);
    uint8_t *desc, *avail, *used;
    int rc = map_ring(mem, "descriptor table", cfg->desc, (uint64_t)n * DESC_SIZE, 16, false, &desc,
                      err);
    if (rc == 0)
        rc = map_ring(mem, "available ring", cfg->avail, 6 + 2ull * n, 2, false, &avail, err);
    if (rc == 0)
        rc = map_ring(mem, "used ring", cfg->used, 6 + 8ull * n, 4, true, &used, err);
    if (rc < 0)
        return rc;
    q->size = (uint16_t)n;     /* n <= 32768 */
    q->signalled_valid = true; /* used index 0 was "signalled": no interrupt before a push */
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    return 0;
}

int vmio_virtq_chain_init(struct vmio_virtq_chain *c, unsigned cap)
{
    memset(c, 0, sizeof(*c));
    if (cap == 0)
        return -EINVAL;
    c->iov = calloc(cap, sizeof(*c->iov));
    if (!c->iov)
        return -ENOMEM;
    c->cap = cap;
    return 0;
}

void vmio_virtq_chain_free(struct vmio_virtq_chain *c)
{
    if (!c)
        return;
    free(c->iov);
    c->iov = NULL;
    c->cap = 0;
}

bool vmio_virtq_has_avail(struct vmio_virtq *q)
{
    return q->avail && ld16(q->avail + 2, __ATOMIC_ACQUIRE) != q->last_avail;
}

/* Append the host segments of buffer [@addr, @addr + @len) to @c. */
static int map_buf(struct vmio_virtq *q, struct vmio_virtq_chain *c, uint32_t di, uint64_t addr,
                   uint32_t len, bool writable, struct vmio_error *err)
{
    if (len == 0)
        return 0;
    if (addr + (len - 1) < addr)
        return vmio_error_set(err, -EIO,
                              "descriptor %u: buffer 0x%" PRIx64 " + 0x%x wraps around the "
                              "address space",
                              di, addr, len);
    while (len > 0) {
        const struct vmio_mem_region *r = vmio_guest_mem_find(q->mem, addr, 1);
        if (!r)
            return vmio_error_set(err, -EIO,
                                  "descriptor %u: buffer byte 0x%" PRIx64 " is not in guest RAM",
                                  di, addr);
        if (writable && r->readonly)
            return vmio_error_set(err, -EIO,
                                  "descriptor %u: device-writable buffer at 0x%" PRIx64
                                  " is in read-only memory (%s)",
                                  di, addr, r->name);
        uint64_t room = (r->gpa + (r->size - 1) - addr) + 1; /* >= 1, no wrap: size < 2^64 */
        uint32_t take = room < len ? (uint32_t)room : len;
        unsigned k = c->nread + c->nwrite;
        if (k == c->cap)
            return vmio_error_set(err, -ENOSPC,
                                  "descriptor %u: the chain needs more than %u host segments", di,
                                  c->cap);
        c->iov[k].iov_base = (uint8_t *)r->host + (addr - r->gpa);
        c->iov[k].iov_len = take;
        if (writable) {
            c->nwrite++;
            c->write_len += take;
        } else {
            c->nread++;
            c->read_len += take;
        }
        addr += take; /* cannot wrap: checked above */
        len -= take;
    }
    return 0;
}

int vmio_virtq_pop(struct vmio_virtq *q, struct vmio_virtq_chain *c, struct vmio_error *err)
{
    if (!q->desc)
        return vmio_error_set(err, -EIO, "the queue is not set up");
    uint16_t avail_idx = ld16(q->avail + 2, __ATOMIC_ACQUIRE);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->size)
        return vmio_error_set(err, -EIO,
                              "the available index %u is %u entries ahead of the device's %u, "
                              "more than the %u the queue holds",
                              avail_idx, pending, q->last_avail, q->size);
    uint16_t slot = q->last_avail & (uint16_t)(q->size - 1);
    uint16_t head = rd16(q->avail + 4 + 2u * slot);
    if (head >= q->size)
        return vmio_error_set(err, -EIO,
                              "available ring entry %u names descriptor %u, beyond the queue "
                              "size %u",
                              slot, head, q->size);
    c->head = head;
    c->nread = c->nwrite = 0;
    c->read_len = c->write_len = 0;
    c->ndesc = 0;

    const uint8_t *table = q->desc;
    uint32_t tlen = q->size;
    uint32_t i = head;
    bool in_indirect = false, writing = false;
    unsigned walked = 0; /* buffers walked in the current table */
    for (;;) {
        struct desc d;
        read_desc(table, i, &d);
        if (d.flags & VMIO_VIRTQ_DESC_F_INDIRECT) {
            if (!q->cfg.indirect)
                return vmio_error_set(err, -EIO,
                                      "descriptor %u is indirect but VIRTIO_F_INDIRECT_DESC was "
                                      "not negotiated",
                                      i);
            if (in_indirect)
                return vmio_error_set(err, -EIO,
                                      "entry %u of the indirect table of chain %u is itself "
                                      "indirect (nested tables are not allowed)",
                                      i, head);
            if (d.flags & VMIO_VIRTQ_DESC_F_NEXT)
                return vmio_error_set(err, -EIO, "descriptor %u is both INDIRECT and NEXT", i);
            if (d.len == 0 || d.len % DESC_SIZE)
                return vmio_error_set(err, -EIO,
                                      "descriptor %u: indirect table length %u is not a non-zero "
                                      "multiple of %u",
                                      i, d.len, DESC_SIZE);
            table = vmio_guest_mem_to_host(q->mem, d.addr, d.len);
            if (!table)
                return vmio_error_set(err, -EIO,
                                      "descriptor %u: indirect table 0x%" PRIx64
                                      " + 0x%x is not in guest RAM",
                                      i, d.addr, d.len);
            tlen = d.len / DESC_SIZE;
            in_indirect = true;
            walked = 0;
            i = 0;
            continue;
        }
        if (++c->ndesc > q->size)
            return vmio_error_set(err, -EIO,
                                  "chain %u has more than %u buffers (the queue size): a loop or "
                                  "an over-long chain",
                                  head, q->size);
        if (++walked > tlen)
            return vmio_error_set(err, -EIO, "chain %u loops inside its indirect table", head);
        bool w = (d.flags & VMIO_VIRTQ_DESC_F_WRITE) != 0;
        if (!w && writing)
            return vmio_error_set(err, -EIO,
                                  "chain %u: device-readable %sdescriptor %u follows a "
                                  "device-writable one",
                                  head, in_indirect ? "indirect " : "", i);
        writing = writing || w;
        int rc = map_buf(q, c, i, d.addr, d.len, w, err);
        if (rc < 0)
            return rc;
        if (!(d.flags & VMIO_VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= tlen)
            return vmio_error_set(err, -EIO,
                                  "%sdescriptor %u: next %u is beyond the table's %u entries",
                                  in_indirect ? "indirect " : "", i, d.next, tlen);
        i = d.next;
    }
    q->last_avail++;
    return 1;
}

void vmio_virtq_unpop(struct vmio_virtq *q)
{
    q->last_avail--;
}

void vmio_virtq_push(struct vmio_virtq *q, uint16_t head, uint32_t len)
{
    if (!q->used)
        return;
    uint8_t *e = q->used + 4 + 8u * (q->used_idx & (uint16_t)(q->size - 1));
    st32(e, head);
    st32(e + 4, len);
    q->used_idx++;
    st16(q->used + 2, q->used_idx, __ATOMIC_RELEASE);
}

bool vmio_virtq_needs_interrupt(struct vmio_virtq *q)
{
    if (!q->used)
        return false;
    /* The used index must be visible before the driver's suppression state is read. */
    st16_full(q->used + 2, q->used_idx);
    uint16_t old = q->signalled_used, now = q->used_idx;
    bool valid = q->signalled_valid;
    q->signalled_used = now;
    q->signalled_valid = true;
    if (valid && old == now)
        return false;
    if (!q->cfg.event_idx)
        return !(ld16(q->avail, __ATOMIC_RELAXED) & VMIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
    if (!valid)
        return true;
    uint16_t event = ld16(q->avail + 4 + 2u * q->size, __ATOMIC_RELAXED); /* used_event */
    /* The spec's vring_need_event(): did the index step past `event` in (old, now]? */
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void vmio_virtq_set_notify(struct vmio_virtq *q, bool on)
{
    if (!q->used)
        return;
    /* Turning notifications on ends with a full barrier (st16_full). */
    if (q->cfg.event_idx) {
        if (on)
            st16_full(q->used + 4 + 8u * q->size, q->last_avail); /* avail_event */
    } else if (on) {
        st16_full(q->used, 0);
    } else {
        st16(q->used, VMIO_VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
    }
}

/* ---- iovec helpers ---- */

size_t vmio_iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        size_t take = iov[i].iov_len - offset;
        if (take > len - done)
            take = len - done;
        memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + offset, take);
        done += take;
        offset = 0;
    }
    return done;
}

size_t vmio_iov_from_buf(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
                         size_t len)
{
    size_t done = 0;
    for (unsigned i = 0; i < n && done < len; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        size_t take = iov[i].iov_len - offset;
        if (take > len - done)
            take = len - done;
        memcpy((uint8_t *)iov[i].iov_base + offset, (const uint8_t *)buf + done, take);
        done += take;
        offset = 0;
    }
    return done;
}

int vmio_iov_slice(const struct iovec *iov, unsigned n, size_t offset, size_t len,
                   struct iovec *out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n && len > 0; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        size_t take = iov[i].iov_len - offset;
        if (take > len)
            take = len;
        if (k == max)
            return -ENOSPC;
        out[k].iov_base = (uint8_t *)iov[i].iov_base + offset;
        out[k].iov_len = take;
        k++;
        len -= take;
        offset = 0;
    }
    return (int)k;
}
