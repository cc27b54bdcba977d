/*
 * virtio-blk (see vmio/virtio_blk.h): requests from one queue, answered from
 * a raw image with positioned vectored I/O on the I/O thread.
 *
 * Invariants:
 *   - The image descriptor, capacity, the probed capabilities and the config
 *     bytes are fixed at creation (zero_range may only go from true to false,
 *     on the I/O thread), so config reads on vCPU threads need no lock.
 *   - A request is answered only when it has a status byte; every byte
 *     offset into the image is computed from a sector range checked against
 *     the capacity without overflow, so no host I/O ever reaches outside
 *     [0, capacity * 512).
 *   - Data moves between the image and the chain's host segments (guest RAM,
 *     checked by the queue) and nowhere else.
 *   - Counters are atomics: written on the I/O thread, read anywhere.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmio/virtio_blk.h"

#define ZERO_CHUNK (64u << 10)

struct blk_counters {
    atomic_uint_fast64_t requests, reads, writes, flushes, discards, write_zeroes, get_ids;
    atomic_uint_fast64_t unsupported, io_errors, host_errors, bytes_read, bytes_written;
    atomic_uint_fast64_t syscalls, batches, max_batch;
};

struct blk {
    struct vmio_virtio_device vdev; /* first */
    char name[48];
    char path[256];
    FILE *log;
    int fd;
    bool ro;
    bool punch;        /* FALLOC_FL_PUNCH_HOLE works on the image */
    bool zero_range;   /* FALLOC_FL_ZERO_RANGE may work (cleared at the first refusal) */
    uint64_t capacity; /* sectors */
    uint64_t features; /* negotiated (activate) */
    uint8_t config[VMIO_VIRTIO_BLK_CFG_SIZE];
    uint8_t serial[VMIO_VIRTIO_BLK_ID_BYTES];
    struct vmio_virtq_chain chain;
    struct iovec data[VMIO_VIRTIO_CHAIN_SEGMENTS];
    atomic_bool logged_host_error;
    struct blk_counters n;
};

static const struct vmio_virtio_device_ops blk_ops;

static struct blk *to_blk(struct vmio_virtio_device *d)
{
    return (struct blk *)d;
}

static void count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- host I/O ---- */

/* Log the first host I/O failure of the disk (later ones are only counted). */
static void host_error(struct blk *b, const char *what, uint64_t sector, uint64_t len, int e)
{
    count(&b->n.host_errors, 1);
    if (atomic_exchange(&b->logged_host_error, true))
        return;
    fprintf(b->log,
            "vmio: %s (%s): %s of %" PRIu64 " bytes at sector %" PRIu64
            " failed: %s; the guest gets VIRTIO_BLK_S_IOERR (further failures are only "
            "counted)\n",
            b->name, b->path, what, len, sector, strerror(e));
    fflush(b->log);
}

/*
 * Move all of @iov (@n segments, @len bytes) from (@write: to) the image at
 * byte @off, retrying short transfers and EINTR. Returns 0 or -errno (-EIO
 * for a read that meets the end of the file).
 */
static int xfer(struct blk *b, bool write, struct iovec *iov, int n, off_t off, uint64_t len)
{
    while (len > 0) {
        count(&b->n.syscalls, 1);
        ssize_t r = write ? pwritev(b->fd, iov, n, off) : preadv(b->fd, iov, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -EIO;
        len -= (uint64_t)r;
        off += r;
        while (n > 0 && (size_t)r >= iov->iov_len) { /* drop what was done */
            r -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return 0;
}

/* Write zeros over [off, off + len) with plain writes (the fallback of WRITE_ZEROES). */
static int write_zeros(struct blk *b, off_t off, uint64_t len)
{
    static const uint8_t zeros[ZERO_CHUNK];
    while (len > 0) {
        size_t take = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
        struct iovec v = {.iov_base = (void *)zeros, .iov_len = take};
        int rc = xfer(b, true, &v, 1, off, take);
        if (rc < 0)
            return rc;
        off += (off_t)take;
        len -= take;
    }
    return 0;
}

/* ---- requests ---- */

/* Whether [sector, sector + nsect) lies inside the disk (no overflow). */
static bool in_range(const struct blk *b, uint64_t sector, uint64_t nsect)
{
    return sector <= b->capacity && nsect <= b->capacity - sector;
}

/* IN / OUT of the @len data bytes at @data_off of the chain's readable (OUT) or writable (IN) part.
 */
static uint8_t rw(struct blk *b, bool write, uint64_t sector, uint64_t data_off, uint64_t len)
{
    struct vmio_virtq_chain *c = &b->chain;
    if (write && b->ro)
        return VMIO_VIRTIO_BLK_S_IOERR;
    if (len % VMIO_VIRTIO_BLK_SECTOR || !in_range(b, sector, len / VMIO_VIRTIO_BLK_SECTOR))
        return VMIO_VIRTIO_BLK_S_IOERR;
    if (len == 0)
        return VMIO_VIRTIO_BLK_S_OK;
    const struct iovec *src = write ? c->iov : c->iov + c->nread;
    unsigned nsrc = write ? c->nread : c->nwrite;
    int n = vmio_iov_slice(src, nsrc, data_off, len, b->data, VMIO_VIRTIO_CHAIN_SEGMENTS);
    if (n <= 0) /* cannot happen: the lengths came from the same segments */
        return VMIO_VIRTIO_BLK_S_IOERR;
    int rc = xfer(b, write, b->data, n, (off_t)(sector * VMIO_VIRTIO_BLK_SECTOR), len);
    if (rc < 0) {
        host_error(b, write ? "write" : "read", sector, len, -rc);
        return VMIO_VIRTIO_BLK_S_IOERR;
    }
    count(write ? &b->n.bytes_written : &b->n.bytes_read, len);
    return VMIO_VIRTIO_BLK_S_OK;
}

static uint8_t flush(struct blk *b)
{
    if (b->ro)
        return VMIO_VIRTIO_BLK_S_OK; /* nothing was written */
    count(&b->n.syscalls, 1);
    if (fdatasync(b->fd) < 0) {
        host_error(b, "flush", 0, 0, errno);
        return VMIO_VIRTIO_BLK_S_IOERR;
    }
    return VMIO_VIRTIO_BLK_S_OK;
}

/* One discard / write-zeroes range (checked). */
static int zero_range(struct blk *b, bool discard, bool unmap, uint64_t sector, uint64_t nsect)
{
    off_t off = (off_t)(sector * VMIO_VIRTIO_BLK_SECTOR);
    off_t len = (off_t)(nsect * VMIO_VIRTIO_BLK_SECTOR);
    if (len == 0)
        return 0;
    if (discard || (unmap && b->punch)) {
        count(&b->n.syscalls, 1);
        return fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0 ? -errno
                                                                                          : 0;
    }
    if (b->zero_range) {
        count(&b->n.syscalls, 1);
        if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
            return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
            return -errno;
        b->zero_range = false; /* the file system cannot: write zeros from now on */
    }
    return write_zeros(b, off, (uint64_t)len);
}

/* DISCARD or WRITE_ZEROES with @len bytes of segments at readable offset 16. */
static uint8_t discard_or_zero(struct blk *b, bool discard, uint64_t len)
{
    uint64_t feature = discard ? VMIO_VIRTIO_BLK_F_DISCARD : VMIO_VIRTIO_BLK_F_WRITE_ZEROES;
    if (!(b->features & (1ULL << feature)))
        return VMIO_VIRTIO_BLK_S_UNSUPP;
    if (b->ro)
        return VMIO_VIRTIO_BLK_S_IOERR;
    if (len == 0 || len % 16 || len / 16 > VMIO_VIRTIO_BLK_MAX_SEGMENTS)
        return VMIO_VIRTIO_BLK_S_IOERR;
    uint8_t seg[VMIO_VIRTIO_BLK_MAX_SEGMENTS * 16];
    vmio_iov_to_buf(b->chain.iov, b->chain.nread, 16, seg, len);
    /* Check every segment before changing anything. */
    for (uint64_t i = 0; i < len / 16; i++) {
        uint64_t sector;
        uint32_t nsect, flags;
        memcpy(&sector, seg + 16 * i, 8);
        memcpy(&nsect, seg + 16 * i + 8, 4);
        memcpy(&flags, seg + 16 * i + 12, 4);
        sector = le64toh(sector);
        nsect = le32toh(nsect);
        flags = le32toh(flags);
        if ((flags & ~VMIO_VIRTIO_BLK_WZ_F_UNMAP) || (discard && flags))
            return VMIO_VIRTIO_BLK_S_UNSUPP;
        if (nsect > VMIO_VIRTIO_BLK_MAX_RANGE || !in_range(b, sector, nsect))
            return VMIO_VIRTIO_BLK_S_IOERR;
    }
    for (uint64_t i = 0; i < len / 16; i++) {
        uint64_t sector;
        uint32_t nsect, flags;
        memcpy(&sector, seg + 16 * i, 8);
        memcpy(&nsect, seg + 16 * i + 8, 4);
        memcpy(&flags, seg + 16 * i + 12, 4);
        sector = le64toh(sector);
        nsect = le32toh(nsect);
        flags = le32toh(flags);
        int rc = zero_range(b, discard, flags & VMIO_VIRTIO_BLK_WZ_F_UNMAP, sector, nsect);
        if (rc < 0) {
            host_error(b, discard ? "discard" : "write-zeroes", sector,
                       (uint64_t)nsect * VMIO_VIRTIO_BLK_SECTOR, -rc);
            return VMIO_VIRTIO_BLK_S_IOERR;
        }
    }
    return VMIO_VIRTIO_BLK_S_OK;
}

/*
 * Answer the popped chain: returns the bytes written into its writable part
 * (status byte included), or -1 when it cannot be answered (the device is
 * then in DEVICE_NEEDS_RESET).
 */
static int64_t handle(struct blk *b, struct vmio_virtio_queue *q)
{
    struct vmio_virtq_chain *c = &b->chain;
    if (c->write_len < 1) {
        vmio_virtio_queue_fail(q, "request %u has no device-writable status byte", c->head);
        return -1;
    }
    if (c->read_len < 16) {
        vmio_virtio_queue_fail(q, "request %u has a %" PRIu64 "-byte header (16 needed)", c->head,
                               c->read_len);
        return -1;
    }
    uint8_t hdr[16];
    vmio_iov_to_buf(c->iov, c->nread, 0, hdr, sizeof(hdr));
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    type = le32toh(type);
    sector = le64toh(sector);
    uint64_t in_len = c->write_len - 1; /* data the device may write before the status */
    uint64_t out_len = c->read_len - 16;
    uint64_t written = 0;
    uint8_t status;
    switch (type) {
    case VMIO_VIRTIO_BLK_T_IN:
        count(&b->n.reads, 1);
        status = rw(b, false, sector, 0, in_len);
        if (status == VMIO_VIRTIO_BLK_S_OK)
            written = in_len;
        break;
    case VMIO_VIRTIO_BLK_T_OUT:
        count(&b->n.writes, 1);
        status = rw(b, true, sector, 16, out_len);
        break;
    case VMIO_VIRTIO_BLK_T_FLUSH:
        count(&b->n.flushes, 1);
        status = flush(b);
        break;
    case VMIO_VIRTIO_BLK_T_GET_ID:
        count(&b->n.get_ids, 1);
        written = in_len < sizeof(b->serial) ? in_len : sizeof(b->serial);
        vmio_iov_from_buf(c->iov + c->nread, c->nwrite, 0, b->serial, written);
        status = VMIO_VIRTIO_BLK_S_OK;
        break;
    case VMIO_VIRTIO_BLK_T_DISCARD:
        count(&b->n.discards, 1);
        status = discard_or_zero(b, true, out_len);
        break;
    case VMIO_VIRTIO_BLK_T_WRITE_ZEROES:
        count(&b->n.write_zeroes, 1);
        status = discard_or_zero(b, false, out_len);
        break;
    default:
        status = VMIO_VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (status == VMIO_VIRTIO_BLK_S_UNSUPP)
        count(&b->n.unsupported, 1);
    else if (status == VMIO_VIRTIO_BLK_S_IOERR)
        count(&b->n.io_errors, 1);
    vmio_iov_from_buf(c->iov + c->nread, c->nwrite, c->write_len - 1, &status, 1);
    return (int64_t)written + 1;
}

static void blk_notify(struct vmio_virtio_device *d, struct vmio_virtio_queue *q)
{
    struct blk *b = to_blk(d);
    uint64_t n = 0;
    while (vmio_virtio_queue_pop(q, &b->chain) == 1) {
        int64_t used = handle(b, q);
        if (used < 0)
            return;
        vmio_virtio_queue_push(q, b->chain.head, used > UINT32_MAX ? UINT32_MAX : (uint32_t)used);
        n++;
    }
    if (n == 0)
        return;
    count(&b->n.requests, n);
    count(&b->n.batches, 1);
    uint64_t max = atomic_load_explicit(&b->n.max_batch, memory_order_relaxed);
    while (n > max && !atomic_compare_exchange_weak(&b->n.max_batch, &max, n))
        ;
}

static void blk_config_read(struct vmio_virtio_device *d, uint32_t off, void *buf, unsigned len)
{
    memcpy(buf, to_blk(d)->config + off, len); /* the transport bounds off + len */
}

static int blk_activate(struct vmio_virtio_device *d, uint64_t features)
{
    to_blk(d)->features = features;
    return 0;
}

static void blk_reset(struct vmio_virtio_device *d)
{
    to_blk(d)->features = 0;
}

static void blk_destroy(struct vmio_virtio_device *d)
{
    struct blk *b = to_blk(d);
    if (b->fd >= 0)
        close(b->fd);
    vmio_virtq_chain_free(&b->chain);
    free(b);
}

static const struct vmio_virtio_device_ops blk_ops = {
    .config_read = blk_config_read,
    .activate = blk_activate,
    .reset = blk_reset,
    .queue_notify = blk_notify,
    .destroy = blk_destroy,
};

/* ---- creation ---- */

static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

/*
 * Does the image's file system punch holes? Probed past the end of the file
 * (KEEP_SIZE), where it changes nothing; only regular files.
 */
static bool probe_punch(int fd, const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return false;
    off_t past = (st->st_size + 2 * 4096) & ~(off_t)4095;
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, past, 4096) == 0;
}

int vmio_virtio_blk_create(const struct vmio_virtio_blk_config *cfg,
                           struct vmio_virtio_device **out, struct vmio_error *err)
{
    const char *path = cfg->path ? cfg->path : "(descriptor)";
    int fd = cfg->fd;
    if (fd < 0)
        fd = open(path, (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return vmio_error_set(err, -errno, "disk %s: cannot open it%s: %s", path,
                              cfg->readonly ? " for reading" : " for reading and writing",
                              strerror(errno));
    struct stat st;
    uint64_t bytes = 0;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = vmio_error_set(err, -errno, "disk %s: fstat: %s", path, strerror(errno));
    else if (S_ISREG(st.st_mode))
        bytes = (uint64_t)st.st_size;
    else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
            rc = vmio_error_set(err, -errno, "disk %s: BLKGETSIZE64: %s", path, strerror(errno));
    } else
        rc = vmio_error_set(err, -EINVAL, "disk %s is neither a regular file nor a block device",
                            path);
    if (rc == 0 && bytes < VMIO_VIRTIO_BLK_SECTOR)
        rc = vmio_error_set(err, -EINVAL, "disk %s is smaller than one 512-byte sector", path);
    struct blk *b = rc == 0 ? calloc(1, sizeof(*b)) : NULL;
    if (rc == 0 && (!b || vmio_virtq_chain_init(&b->chain, VMIO_VIRTIO_CHAIN_SEGMENTS) < 0))
        rc = vmio_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        if (b)
            free(b);
        close(fd);
        return rc;
    }
    b->fd = fd;
    b->log = cfg->log ? cfg->log : stderr;
    b->ro = cfg->readonly;
    b->capacity = bytes / VMIO_VIRTIO_BLK_SECTOR;
    b->punch = !b->ro && probe_punch(fd, &st);
    b->zero_range = S_ISREG(st.st_mode);
    snprintf(b->name, sizeof(b->name), "virtio-blk %s", cfg->name ? cfg->name : "vd");
    snprintf(b->path, sizeof(b->path), "%s", path);
    const char *serial = cfg->serial;
    if (!serial) {
        serial = strrchr(path, '/');
        serial = serial ? serial + 1 : path;
    }
    strncpy((char *)b->serial, serial, sizeof(b->serial)); /* NUL-padded, not terminated at 20 */

    uint64_t f = (1ULL << VMIO_VIRTIO_BLK_F_SEG_MAX) | (1ULL << VMIO_VIRTIO_BLK_F_BLK_SIZE) |
                 (1ULL << VMIO_VIRTIO_BLK_F_FLUSH);
    if (b->ro)
        f |= 1ULL << VMIO_VIRTIO_BLK_F_RO;
    else
        f |= 1ULL << VMIO_VIRTIO_BLK_F_WRITE_ZEROES;
    if (b->punch)
        f |= 1ULL << VMIO_VIRTIO_BLK_F_DISCARD;
    put64(b->config + VMIO_VIRTIO_BLK_CFG_CAPACITY, b->capacity);
    /* Room for the header and the status byte in a full-size chain. */
    put32(b->config + VMIO_VIRTIO_BLK_CFG_SEG_MAX, VMIO_VIRTIO_QUEUE_MAX_SIZE - 2);
    put32(b->config + VMIO_VIRTIO_BLK_CFG_BLK_SIZE, VMIO_VIRTIO_BLK_SECTOR);
    put32(b->config + VMIO_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VMIO_VIRTIO_BLK_MAX_RANGE);
    put32(b->config + VMIO_VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VMIO_VIRTIO_BLK_MAX_SEGMENTS);
    put32(b->config + VMIO_VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, 8); /* 4 KiB */
    put32(b->config + VMIO_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, VMIO_VIRTIO_BLK_MAX_RANGE);
    put32(b->config + VMIO_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, VMIO_VIRTIO_BLK_MAX_SEGMENTS);
    b->config[VMIO_VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = b->punch;

    b->vdev = (struct vmio_virtio_device){.ops = &blk_ops,
                                          .name = b->name,
                                          .device_id = VMIO_VIRTIO_ID_BLOCK,
                                          .features = f,
                                          .num_queues = 1,
                                          .config_size = VMIO_VIRTIO_BLK_CFG_SIZE};
    *out = &b->vdev;
    return 0;
}

bool vmio_virtio_blk_stats(struct vmio_virtio_device *d, struct vmio_virtio_blk_stats *out)
{
    if (!d || d->ops != &blk_ops)
        return false;
    struct blk_counters *n = &to_blk(d)->n;
    *out = (struct vmio_virtio_blk_stats){
        .requests = atomic_load(&n->requests),
        .reads = atomic_load(&n->reads),
        .writes = atomic_load(&n->writes),
        .flushes = atomic_load(&n->flushes),
        .discards = atomic_load(&n->discards),
        .write_zeroes = atomic_load(&n->write_zeroes),
        .get_ids = atomic_load(&n->get_ids),
        .unsupported = atomic_load(&n->unsupported),
        .io_errors = atomic_load(&n->io_errors),
        .host_errors = atomic_load(&n->host_errors),
        .bytes_read = atomic_load(&n->bytes_read),
        .bytes_written = atomic_load(&n->bytes_written),
        .syscalls = atomic_load(&n->syscalls),
        .batches = atomic_load(&n->batches),
        .max_batch = atomic_load(&n->max_batch),
    };
    return true;
}
