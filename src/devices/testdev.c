/*
 * testdev: a device whose every register has a known answer at every width,
 * so guests and host tests can check that accesses arrive with the right
 * offset, width, direction, data and order. Layout: vmio/testdev_regs.h.
 *
 * Invariant: registers are 8-byte aligned slots; an access is accepted only
 * when it lies entirely inside one slot below VMIO_TESTDEV_END. Everything else
 * is counted in BAD and answered with all-ones (reads) or dropped (writes).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "vmio/devices.h"
#include "vmio/doorbell.h"
#include "vmio/testdev_regs.h"

struct testdev {
    struct vmio_device dev;
    pthread_mutex_t lock;
    uint64_t echo, sum, reads, writes, last, bad, delay;
    uint64_t wbuf_hash, wbuf_count;
    uint8_t wbuf[VMIO_TESTDEV_WBUF_END - VMIO_TESTDEV_WBUF];
    uint64_t log_value[VMIO_TESTDEV_LOG_DEPTH];
    unsigned log_head, log_len;
    volatile uint64_t *page; /* status page (vmio_testdev_attach_page()), or NULL */
    size_t page_words;
    uint64_t rings;             /* doorbell rings seen */
    struct vmio_doorbell *bell; /* owned (vmio_testdev_attach_doorbell()), or NULL */
};

/* The register at 8-byte slot @off (the value a read of all 8 bytes gives), lock held. */
static uint64_t reg_value(const struct testdev *t, uint64_t off)
{
    switch (off) {
    case VMIO_TESTDEV_ECHO:
        return t->echo;
    case VMIO_TESTDEV_PATTERN:
        return VMIO_TESTDEV_PATTERN_VALUE;
    case VMIO_TESTDEV_READS:
        return t->reads;
    case VMIO_TESTDEV_WRITES:
        return t->writes;
    case VMIO_TESTDEV_LAST:
        return t->last;
    case VMIO_TESTDEV_SUM:
        return t->sum;
    case VMIO_TESTDEV_LOG_POP: /* what a pop would return, without popping */
        return t->log_len ? t->log_value[t->log_head] : ~0ULL;
    case VMIO_TESTDEV_LOG_LEN:
        return t->log_len;
    case VMIO_TESTDEV_BAD:
        return t->bad;
    case VMIO_TESTDEV_RINGS:
        return t->rings;
    case VMIO_TESTDEV_DELAY:
        return t->delay;
    case VMIO_TESTDEV_WBUF_HASH:
        return t->wbuf_hash;
    case VMIO_TESTDEV_WBUF_COUNT:
        return t->wbuf_count;
    default:
        return 0;
    }
}

/* Fold @n little-endian bytes of @v into the FNV-1a hash @h. */
static uint64_t fnv_bytes(uint64_t h, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        h = (h ^ ((v >> (8 * i)) & 0xff)) * VMIO_TESTDEV_WBUF_HASH_PRIME;
    return h;
}

/* A write wholly inside the write buffer (in_wbuf()), lock held. */
static void wbuf_write(struct testdev *t, uint64_t offset, unsigned width, uint64_t value)
{
    uint64_t at = offset - VMIO_TESTDEV_WBUF;
    for (unsigned i = 0; i < width; i++)
        t->wbuf[at + i] = (uint8_t)(value >> (8 * i));
    uint64_t h = t->wbuf_count ? t->wbuf_hash : VMIO_TESTDEV_WBUF_HASH_SEED;
    h = fnv_bytes(h, offset, 2);
    h = fnv_bytes(h, width, 1);
    t->wbuf_hash = fnv_bytes(h, value, 8);
    t->wbuf_count++;
}

/* Mirror the registers into the status page after a change, lock held. */
static void sync_page(struct testdev *t)
{
    for (size_t i = 0; t->page && i < t->page_words && i < VMIO_TESTDEV_END / 8; i++)
        t->page[i] = reg_value(t, i * 8);
}

static struct testdev *to_testdev(struct vmio_device *dev)
{
    return vmio_container_of(dev, struct testdev, dev);
}

/* Bytes [k, k+w) of @reg, shifted down. */
static uint64_t reg_slice(uint64_t reg, unsigned k, unsigned width)
{
    return (reg >> (8 * k)) & vmio_width_mask(width);
}

/* @reg with bytes [k, k+w) replaced by the low bytes of @value. */
static uint64_t reg_merge(uint64_t reg, unsigned k, unsigned width, uint64_t value)
{
    uint64_t mask = vmio_width_mask(width) << (8 * k);
    return (reg & ~mask) | ((value << (8 * k)) & mask);
}

/* Whether an access lies wholly inside the write buffer. */
static bool in_wbuf(uint64_t offset, unsigned width)
{
    return offset >= VMIO_TESTDEV_WBUF && offset < VMIO_TESTDEV_WBUF_END &&
           offset + width <= VMIO_TESTDEV_WBUF_END;
}

static bool slot_ok(uint64_t offset, unsigned width)
{
    return offset < VMIO_TESTDEV_END && (offset & 7) + width <= 8;
}

static void note_access(struct testdev *t, uint64_t offset, unsigned width, bool write)
{
    t->last = (offset & 0xfff) | ((uint64_t)(width & 0xf) << 16) | ((uint64_t)write << 24);
}

static int testdev_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct testdev *t = to_testdev(dev);
    pthread_mutex_lock(&t->lock);
    uint64_t reg = ~0ULL;
    unsigned k = (unsigned)(offset & 7);
    if (in_wbuf(offset, width)) { /* the write buffer: its bytes, little-endian */
        uint64_t at = offset - VMIO_TESTDEV_WBUF;
        reg = 0;
        for (unsigned i = 0; i < width; i++)
            reg |= (uint64_t)t->wbuf[at + i] << (8 * i);
        k = 0;
    } else if (!slot_ok(offset, width)) {
        t->bad++;
        k = 0; /* all-ones at the access width */
    } else if ((offset & ~7ULL) == VMIO_TESTDEV_LOG_POP) {
        if (t->log_len) {
            reg = t->log_value[t->log_head];
            t->log_head = (t->log_head + 1) % VMIO_TESTDEV_LOG_DEPTH;
            t->log_len--;
        }
    } else {
        reg = reg_value(t, offset & ~7ULL); /* LOG_PUSH reads 0, as every register not listed */
    }
    *value = reg_slice(reg, k, width);
    t->reads++;
    note_access(t, offset, width, false);
    sync_page(t);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static int testdev_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    uint64_t offset = io->offset;
    unsigned width = io->width;
    struct testdev *t = to_testdev(dev);
    pthread_mutex_lock(&t->lock);
    value &= vmio_width_mask(width);
    unsigned k = (unsigned)(offset & 7);
    bool reset_counters = false, ring = false;
    uint64_t delay_ms = 0;
    if (in_wbuf(offset, width)) {
        wbuf_write(t, offset, width, value);
    } else if (!slot_ok(offset, width)) {
        t->bad++;
    } else {
        switch (offset & ~7ULL) {
        case VMIO_TESTDEV_ECHO:
            t->echo = reg_merge(t->echo, k, width, value);
            break;
        case VMIO_TESTDEV_READS:
            reset_counters = true;
            break;
        case VMIO_TESTDEV_SUM:
            t->sum += value;
            break;
        case VMIO_TESTDEV_LOG_PUSH:
            if (t->log_len < VMIO_TESTDEV_LOG_DEPTH) {
                t->log_value[(t->log_head + t->log_len) % VMIO_TESTDEV_LOG_DEPTH] = value;
                t->log_len++;
            } else {
                t->bad++; /* full: the element is refused, and that is visible */
            }
            break;
        case VMIO_TESTDEV_LOG_LEN:
            t->log_len = 0;
            t->log_head = 0;
            break;
        case VMIO_TESTDEV_WBUF_COUNT:
            t->wbuf_count = 0;
            t->wbuf_hash = 0;
            break;
        case VMIO_TESTDEV_DOORBELL:
            if (t->bell)
                ring = true; /* the doorbell counts it, on the I/O thread */
            else
                t->rings++;
            break;
        case VMIO_TESTDEV_RINGS:
            t->rings = 0;
            break;
        case VMIO_TESTDEV_DELAY:
            t->delay = reg_merge(t->delay, k, width, value);
            delay_ms = t->delay < VMIO_TESTDEV_DELAY_MAX_MS ? t->delay : VMIO_TESTDEV_DELAY_MAX_MS;
            break;
        default: /* read-only registers ignore writes */
            break;
        }
    }
    if (reset_counters) {
        t->reads = 0;
        t->writes = 0;
    } else {
        t->writes++;
    }
    note_access(t, offset, width, true);
    sync_page(t);
    pthread_mutex_unlock(&t->lock);
    if (ring)
        (void)vmio_doorbell_ring(t->bell);
    if (delay_ms) { /* slow on purpose, without the lock: other vCPUs are not held up */
        struct timespec ts = {.tv_sec = (time_t)(delay_ms / 1000),
                              .tv_nsec = (long)(delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    return 0;
}

static void testdev_destroy(struct vmio_device *dev)
{
    struct testdev *t = to_testdev(dev);
    vmio_doorbell_destroy(t->bell);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static const struct vmio_device_ops testdev_ops = {
    .read = testdev_read,
    .write = testdev_write,
    .destroy = testdev_destroy,
};

int vmio_testdev_create(const char *name, struct vmio_device **out, struct vmio_error *err)
{
    if (!out)
        return vmio_error_set(err, -EINVAL, "testdev: no result pointer");
    *out = NULL;
    struct testdev *t = calloc(1, sizeof(*t));
    if (!t)
        return vmio_error_set(err, -ENOMEM, "testdev %s: out of memory", name ? name : "");
    t->dev.name = name;
    t->dev.ops = &testdev_ops;
    pthread_mutex_init(&t->lock, NULL);
    *out = &t->dev;
    return 0;
}

int vmio_testdev_attach_page(struct vmio_device *dev, void *page, size_t size)
{
    if (dev->ops != &testdev_ops || !page || ((uintptr_t)page & 7))
        return -EINVAL;
    struct testdev *t = to_testdev(dev);
    pthread_mutex_lock(&t->lock);
    t->page = page;
    t->page_words = size / 8;
    sync_page(t);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

int vmio_testdev_attach_doorbell(struct vmio_device *dev, struct vmio_doorbell *bell)
{
    if (dev->ops != &testdev_ops || !bell)
        return -EINVAL;
    struct testdev *t = to_testdev(dev);
    pthread_mutex_lock(&t->lock);
    int rc = t->bell ? -EBUSY : 0;
    if (rc == 0)
        t->bell = bell;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void vmio_testdev_rung(void *dev, uint64_t rings)
{
    struct testdev *t = to_testdev(dev);
    pthread_mutex_lock(&t->lock);
    t->rings += rings;
    sync_page(t);
    pthread_mutex_unlock(&t->lock);
}
