/*
 * Guest memory regions and the one guest-physical -> host translation (see
 * vmio/guest_mem.h).
 *
 * Invariants: `regions` is sorted by gpa, non-overlapping, every region
 * non-empty and non-wrapping (in guest and host address space), and every
 * region owns its name. All end computations use "last byte" (start + size
 * - 1), which cannot overflow for a non-wrapping region, so a span check is
 * never fooled by arithmetic that wraps. Copies check the whole span before
 * touching a byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/guest_mem.h"

struct vmio_guest_mem {
    struct vmio_mem_region *regions; /* sorted by gpa; names owned */
    unsigned n;
};

int vmio_guest_mem_create(struct vmio_guest_mem **out, struct vmio_error *err)
{
    struct vmio_guest_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return vmio_error_set(err, -ENOMEM, "out of memory");
    *out = m;
    return 0;
}

void vmio_guest_mem_destroy(struct vmio_guest_mem *mem)
{
    if (!mem)
        return;
    for (unsigned i = 0; i < mem->n; i++)
        free((char *)mem->regions[i].name);
    free(mem->regions);
    free(mem);
}

static uint64_t last_byte(const struct vmio_mem_region *r)
{
    return r->gpa + (r->size - 1);
}

/* Index of the last region with gpa <= @addr, or -1. */
static int floor_index(const struct vmio_guest_mem *m, uint64_t addr)
{
    int lo = 0, hi = (int)m->n - 1, found = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->regions[mid].gpa <= addr) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

int vmio_guest_mem_add(struct vmio_guest_mem *mem, const struct vmio_mem_region *r,
                       struct vmio_error *err)
{
    const char *name = r->name ? r->name : "(unnamed)";
    if (r->size == 0 || r->gpa + (r->size - 1) < r->gpa)
        return vmio_error_set(err, -EINVAL,
                              "memory region %s at 0x%" PRIx64 " with size 0x%" PRIx64
                              " is empty or wraps past the end of the address space",
                              name, r->gpa, r->size);
    uintptr_t host = (uintptr_t)r->host;
    if (!host || host + (uintptr_t)(r->size - 1) < host)
        return vmio_error_set(err, -EINVAL,
                              "memory region %s at 0x%" PRIx64 ": host range %p + 0x%" PRIx64
                              " is NULL or wraps",
                              name, r->gpa, r->host, r->size);
    if (r->kind != VMIO_MEM_RAM && r->kind != VMIO_MEM_PASSTHROUGH)
        return vmio_error_set(err, -EINVAL, "memory region %s: unknown kind %d", name,
                              (int)r->kind);
    /*
     * Only the last region starting at or below our last byte can overlap: any
     * earlier overlapping one would put that region's start inside our range.
     */
    uint64_t last = last_byte(r);
    int below = floor_index(mem, last);
    if (below >= 0 && r->gpa <= last_byte(&mem->regions[below])) {
        const struct vmio_mem_region *o = &mem->regions[below];
        return vmio_error_set(err, -EBUSY,
                              "memory region %s at 0x%" PRIx64 "-0x%" PRIx64
                              " overlaps region %s at 0x%" PRIx64 "-0x%" PRIx64,
                              name, r->gpa, last, o->name, o->gpa, last_byte(o));
    }
    char *copy = strdup(name);
    struct vmio_mem_region *grown =
        copy ? realloc(mem->regions, (mem->n + 1) * sizeof(*grown)) : NULL;
    if (!grown) {
        free(copy);
        return vmio_error_set(err, -ENOMEM, "out of memory");
    }
    mem->regions = grown;
    unsigned at = (unsigned)(floor_index(mem, r->gpa) + 1);
    memmove(&mem->regions[at + 1], &mem->regions[at], (mem->n - at) * sizeof(*grown));
    mem->regions[at] = *r;
    mem->regions[at].name = copy;
    mem->n++;
    return 0;
}

int vmio_guest_mem_remove(struct vmio_guest_mem *mem, uint64_t gpa)
{
    int i = floor_index(mem, gpa);
    if (i < 0 || mem->regions[i].gpa != gpa)
        return -ENOENT;
    free((char *)mem->regions[i].name);
    memmove(&mem->regions[i], &mem->regions[i + 1],
            (mem->n - (unsigned)i - 1) * sizeof(*mem->regions));
    mem->n--;
    return 0;
}

unsigned vmio_guest_mem_count(const struct vmio_guest_mem *mem)
{
    return mem->n;
}

const struct vmio_mem_region *vmio_guest_mem_at(const struct vmio_guest_mem *mem, unsigned i)
{
    return i < mem->n ? &mem->regions[i] : NULL;
}

const struct vmio_mem_region *vmio_guest_mem_find(const struct vmio_guest_mem *mem, uint64_t gpa,
                                                  uint64_t len)
{
    uint64_t last = len ? gpa + (len - 1) : gpa;
    if (last < gpa)
        return NULL; /* wraps */
    int i = floor_index(mem, gpa);
    if (i < 0)
        return NULL;
    const struct vmio_mem_region *r = &mem->regions[i];
    if (r->kind != VMIO_MEM_RAM || last > last_byte(r))
        return NULL;
    return r;
}

void *vmio_guest_mem_to_host(const struct vmio_guest_mem *mem, uint64_t gpa, uint64_t len)
{
    const struct vmio_mem_region *r = vmio_guest_mem_find(mem, gpa, len);
    return r ? (uint8_t *)r->host + (gpa - r->gpa) : NULL;
}

/*
 * Walk [gpa, gpa + len) region by region. With @op NULL only check that
 * every byte is RAM; otherwise call op(host, offset_in_span, chunk, ctx) per
 * region-sized chunk. Returns 0 or -EFAULT.
 */
typedef void (*chunk_fn)(uint8_t *host, size_t off, size_t n, void *ctx);

static int walk(const struct vmio_guest_mem *mem, uint64_t gpa, size_t len, chunk_fn op, void *ctx)
{
    if (len == 0)
        return 0;
    if (gpa + (uint64_t)(len - 1) < gpa)
        return -EFAULT;
    size_t done = 0;
    while (done < len) {
        uint64_t at = gpa + done;
        const struct vmio_mem_region *r = vmio_guest_mem_find(mem, at, 1);
        if (!r)
            return -EFAULT;
        uint64_t room = last_byte(r) - at; /* bytes after @at in the region */
        size_t n = len - done;
        if ((uint64_t)(n - 1) > room)
            n = (size_t)room + 1;
        if (op)
            op((uint8_t *)r->host + (at - r->gpa), done, n, ctx);
        done += n;
    }
    return 0;
}

static void copy_out(uint8_t *host, size_t off, size_t n, void *ctx)
{
    memcpy((uint8_t *)ctx + off, host, n);
}

static void copy_in(uint8_t *host, size_t off, size_t n, void *ctx)
{
    memcpy(host, (const uint8_t *)ctx + off, n);
}

static void fill(uint8_t *host, size_t off, size_t n, void *ctx)
{
    (void)off;
    memset(host, *(const int *)ctx, n);
}

int vmio_guest_mem_read(const struct vmio_guest_mem *mem, uint64_t gpa, void *dst, size_t len)
{
    int rc = walk(mem, gpa, len, NULL, NULL);
    return rc ? rc : walk(mem, gpa, len, copy_out, dst);
}

int vmio_guest_mem_write(const struct vmio_guest_mem *mem, uint64_t gpa, const void *src,
                         size_t len)
{
    int rc = walk(mem, gpa, len, NULL, NULL);
    return rc ? rc : walk(mem, gpa, len, copy_in, (void *)src);
}

int vmio_guest_mem_fill(const struct vmio_guest_mem *mem, uint64_t gpa, int byte, size_t len)
{
    int rc = walk(mem, gpa, len, NULL, NULL);
    return rc ? rc : walk(mem, gpa, len, fill, &byte);
}
