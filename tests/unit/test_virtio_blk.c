/*
 * virtio-blk tests (vmio/virtio_blk.h), no KVM: the model behind the
 * transport on a fake VM (virtio_harness.h), its image a memfd (tmpfs: holes
 * can be punched, ZERO_RANGE is refused, so both write-zeroes paths run) or
 * a temporary file. Requests are built in guest RAM as Linux's driver builds
 * them, and in the other layouts the spec allows.
 *
 * Checked: creation (capacity, refusals), config space and features
 * (read-write and read-only); reads and writes in several layouts against
 * the image's bytes; flush; GET_ID; discard and write-zeroes (both paths,
 * flags, limits, range); every IOERR and UNSUPP case (range, overflow,
 * alignment, read-only, unknown type, features not negotiated); requests the
 * device cannot answer (no status byte, short header) giving
 * DEVICE_NEEDS_RESET; host I/O failures giving IOERR with one log line;
 * batching (one notification, many requests, one interrupt).
 */
#include "virtio_harness.h"

#include <endian.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vmio/virtio_blk.h"

#define SECTORS 64
#define IMG_SIZE (SECTORS * 512 + 100) /* a partial sector at the end is not visible */

/* Byte @i of the image's initial pattern. */
static uint8_t pat(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 9));
}

static int make_image(void)
{
    int fd = memfd_create("vmio-test-disk", MFD_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t *b = malloc(IMG_SIZE);
    for (size_t i = 0; i < IMG_SIZE; i++)
        b[i] = pat(i);
    assert_int_equal(pwrite(fd, b, IMG_SIZE, 0), IMG_SIZE);
    free(b);
    return fd;
}

struct disk {
    struct vh h;
    int fd; /* the image (the device owns it; the test reads through a dup) */
    int peek;
    FILE *log; /* the device's host-error log */
    char *logbuf;
    size_t loglen;
};

static void disk_init(struct disk *d, bool ro)
{
    d->log = open_memstream(&d->logbuf, &d->loglen);
    d->fd = make_image();
    d->peek = dup(d->fd);
    struct vmio_virtio_device *m;
    struct vmio_error err = {0};
    struct vmio_virtio_blk_config c = {.path = "test.img",
                                       .fd = d->fd,
                                       .readonly = ro,
                                       .name = "vda",
                                       .serial = "SERIAL-0123456789abcdef",
                                       .log = d->log};
    if (vmio_virtio_blk_create(&c, &m, &err) != 0)
        fail_msg("create: %s", err.msg);
    vh_init(&d->h, m);
}

static void disk_fini(struct disk *d)
{
    vh_fini(&d->h);
    close(d->peek);
    fclose(d->log);
    free(d->logbuf);
}

static const char *disk_log(struct disk *d)
{
    fflush(d->log);
    return d->logbuf ? d->logbuf : "";
}

static struct vmio_virtio_blk_stats stats(struct disk *d)
{
    struct vmio_virtio_blk_stats s;
    assert_true(vmio_virtio_blk_stats(d->h.model, &s));
    return s;
}

/* A 16-byte request header in guest RAM. */
static uint64_t header(struct disk *d, uint32_t type, uint64_t sector)
{
    uint64_t a = vh_alloc(&d->h, 16, 0);
    uint8_t *p = vh_host(&d->h, a, 16);
    uint32_t t = htole32(type);
    uint64_t s = htole64(sector);
    memcpy(p, &t, 4);
    memcpy(p + 8, &s, 8);
    return a;
}

/* Submit @n segments on queue 0, kick, return the status byte at @status_gpa. */
static uint8_t submit(struct disk *d, const struct vh_seg *segs, unsigned n, uint64_t status_gpa,
                      uint32_t *used_len)
{
    uint16_t before = vh_used_idx(&d->h, 0);
    uint16_t head = vh_chain(&d->h, 0, segs, n);
    vh_kick(&d->h, 0);
    assert_int_equal(vh_used_idx(&d->h, 0), (uint16_t)(before + 1));
    uint32_t id, len;
    vh_used(&d->h, 0, before, &id, &len);
    assert_int_equal(id, head);
    if (used_len)
        *used_len = len;
    return *vh_host(&d->h, status_gpa, 1);
}

/* The simplest request: header, @len data bytes (writable for IN), status. */
static uint8_t simple(struct disk *d, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
                      uint32_t *used_len)
{
    uint64_t st = vh_alloc(&d->h, 1, 0xee);
    struct vh_seg s[3] = {
        {header(d, type, sector), 16, false},
        {data, len, type == VMIO_VIRTIO_BLK_T_IN || type == VMIO_VIRTIO_BLK_T_GET_ID},
        {st, 1, true}};
    if (len == 0) {
        s[1] = s[2];
        return submit(d, s, 2, st, used_len);
    }
    return submit(d, s, 3, st, used_len);
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

static uint32_t le32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

static void test_create_and_config(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_virtio_device *m;
    struct vmio_virtio_blk_config c = {.path = "/nonexistent/vmio.img", .fd = -1};
    assert_int_equal(vmio_virtio_blk_create(&c, &m, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "disk /nonexistent/vmio.img: cannot open it for reading and "
                                    "writing"));
    c.path = "/dev/null";
    c.readonly = true;
    assert_int_equal(vmio_virtio_blk_create(&c, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "neither a regular file nor a block device"));
    char path[] = "/tmp/vmio-blk-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    c.path = path;
    c.readonly = false;
    assert_int_equal(vmio_virtio_blk_create(&c, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "smaller than one 512-byte sector"));
    /* A real file by path: the serial defaults to its name. */
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
    assert_int_equal(vmio_virtio_blk_create(&c, &m, &err), 0);
    struct vh h;
    vh_init(&h, m);
    vh_start(&h, 1ULL << VMIO_VIRTIO_BLK_F_FLUSH, 1);
    uint64_t id = vh_alloc(&h, 20, 0), st = vh_alloc(&h, 1, 0xee), hd = vh_alloc(&h, 16, 0);
    uint32_t t = VMIO_VIRTIO_BLK_T_GET_ID;
    memcpy(vh_host(&h, hd, 4), &t, 4);
    struct vh_seg s[] = {{hd, 16, false}, {id, 20, true}, {st, 1, true}};
    vh_chain(&h, 0, s, 3);
    vh_kick(&h, 0);
    assert_int_equal(*vh_host(&h, st, 1), VMIO_VIRTIO_BLK_S_OK);
    assert_memory_equal(vh_host(&h, id, 20), path + 5, strlen(path + 5)); /* "vmio-blk-..." */
    assert_int_equal(*vh_host(&h, id + strlen(path + 5), 1), 0);          /* NUL-padded */
    vh_fini(&h);
    unlink(path);

    /* Config space and features of a writable disk on tmpfs. */
    struct disk d;
    disk_init(&d, false);
    assert_string_equal(d.h.dev->name, "virtio-blk vda");
    assert_int_equal(vh_rd(&d.h, VMIO_VIRTIO_MMIO_DEVICE_ID), VMIO_VIRTIO_ID_BLOCK);
    uint8_t cfg[VMIO_VIRTIO_BLK_CFG_SIZE];
    vh_config(&d.h, 0, cfg, sizeof(cfg));
    assert_int_equal(le64_at(cfg + VMIO_VIRTIO_BLK_CFG_CAPACITY), SECTORS);
    assert_int_equal(le32_at(cfg + VMIO_VIRTIO_BLK_CFG_SEG_MAX), VMIO_VIRTIO_QUEUE_MAX_SIZE - 2);
    assert_int_equal(le32_at(cfg + VMIO_VIRTIO_BLK_CFG_BLK_SIZE), 512);
    assert_int_equal(le32_at(cfg + VMIO_VIRTIO_BLK_CFG_MAX_DISCARD_SEG),
                     VMIO_VIRTIO_BLK_MAX_SEGMENTS);
    assert_int_equal(cfg[VMIO_VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP], 1); /* tmpfs punches */
    uint64_t f = vh_offered(&d.h);
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_FLUSH));
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_SEG_MAX));
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_BLK_SIZE));
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_DISCARD));
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_WRITE_ZEROES));
    assert_false(f & (1ULL << VMIO_VIRTIO_BLK_F_RO));
    disk_fini(&d);
    disk_init(&d, true);
    f = vh_offered(&d.h);
    assert_true(f & (1ULL << VMIO_VIRTIO_BLK_F_RO));
    assert_false(f & (1ULL << VMIO_VIRTIO_BLK_F_DISCARD));
    assert_false(f & (1ULL << VMIO_VIRTIO_BLK_F_WRITE_ZEROES));
    disk_fini(&d);
}

static void test_read_write_layouts(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, false);
    vh_start(&d.h, 1ULL << VMIO_VIRTIO_BLK_F_FLUSH, 1);
    /* Linux's layout: header, data, status, each its own descriptor. */
    uint64_t data = vh_alloc(&d.h, 1024, 0);
    uint32_t used;
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, 3, data, 1024, &used), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1025);
    for (size_t i = 0; i < 1024; i++)
        if (vh_host(&d.h, data, 1024)[i] != pat(3 * 512 + i))
            fail_msg("byte %zu of the read differs", i);
    /* Data split over three descriptors, the last data bytes and the status in one. */
    uint64_t a = vh_alloc(&d.h, 100, 0), b = vh_alloc(&d.h, 312, 0), c = vh_alloc(&d.h, 101, 0);
    struct vh_seg s[] = {{header(&d, VMIO_VIRTIO_BLK_T_IN, 60), 16, false},
                         {a, 100, true},
                         {b, 312, true},
                         {c, 101, true}};
    assert_int_equal(submit(&d, s, 4, c + 100, &used), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(used, 513);
    assert_int_equal(vh_host(&d.h, a, 1)[0], pat(60 * 512));
    assert_int_equal(vh_host(&d.h, b, 1)[0], pat(60 * 512 + 100));
    assert_int_equal(vh_host(&d.h, c, 100)[99], pat(60 * 512 + 511));

    /* A write with the header and the data in one readable descriptor. */
    uint64_t w = vh_alloc(&d.h, 16 + 512, 0);
    uint8_t *wp = vh_host(&d.h, w, 16 + 512);
    uint32_t type = VMIO_VIRTIO_BLK_T_OUT;
    uint64_t sector = 5;
    memcpy(wp, &type, 4);
    memcpy(wp + 8, &sector, 8);
    for (int i = 0; i < 512; i++)
        wp[16 + i] = (uint8_t)(0xa0 ^ i);
    uint64_t st = vh_alloc(&d.h, 1, 0xee);
    struct vh_seg ws[] = {{w, 16 + 512, false}, {st, 1, true}};
    assert_int_equal(submit(&d, ws, 2, st, &used), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    uint8_t back[512];
    assert_int_equal(pread(d.peek, back, 512, 5 * 512), 512);
    assert_memory_equal(back, wp + 16, 512);
    /* The last sector is writable; a header split in two works too. */
    uint64_t h1 = vh_alloc(&d.h, 8, 0), h2 = vh_alloc(&d.h, 8, 0);
    memcpy(vh_host(&d.h, h1, 4), &type, 4);
    sector = SECTORS - 1;
    memcpy(vh_host(&d.h, h2, 8), &sector, 8);
    uint64_t wd = vh_alloc(&d.h, 512, 0x5c);
    struct vh_seg ws2[] = {{h1, 8, false}, {h2, 8, false}, {wd, 512, false}, {st, 1, true}};
    assert_int_equal(submit(&d, ws2, 4, st, NULL), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(pread(d.peek, back, 512, (SECTORS - 1) * 512), 512);
    assert_int_equal(back[0], 0x5c);
    assert_int_equal(back[511], 0x5c);
    /* The partial sector past the capacity is untouched. */
    assert_int_equal(pread(d.peek, back, 100, SECTORS * 512), 100);
    assert_int_equal(back[0], pat(SECTORS * 512));
    /* Flush; zero-length reads and writes are fine. */
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, SECTORS, 0, 0, NULL), VMIO_VIRTIO_BLK_S_OK);
    /* GET_ID: 20 bytes, not NUL-terminated when the serial fills them. */
    uint64_t id = vh_alloc(&d.h, 20, 0);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_GET_ID, 0, id, 20, &used), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(used, 21);
    assert_memory_equal(vh_host(&d.h, id, 20), "SERIAL-0123456789abc", 20);
    struct vmio_virtio_blk_stats s2 = stats(&d);
    assert_int_equal(s2.reads, 3);
    assert_int_equal(s2.writes, 2);
    assert_int_equal(s2.flushes, 1);
    assert_int_equal(s2.get_ids, 1);
    assert_int_equal(s2.bytes_read, 1024 + 512);
    assert_int_equal(s2.bytes_written, 1024);
    assert_int_equal(s2.io_errors, 0);
    disk_fini(&d);
}

static void test_errors(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, false);
    vh_start(&d.h, 0, 1); /* no FLUSH, DISCARD, WRITE_ZEROES negotiated */
    uint64_t data = vh_alloc(&d.h, 1024, 0x11);
    /* Out of range, overflowing, misaligned. */
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, SECTORS, data, 512, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, SECTORS - 1, data, 1024, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_OUT, ~0ULL, data, 512, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_OUT, (~0ULL) / 512, data, 512, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, 0, data, 511, NULL), VMIO_VIRTIO_BLK_S_IOERR);
    /* Nothing was written by the refused writes. */
    uint8_t back[512];
    assert_int_equal(pread(d.peek, back, 512, (SECTORS - 1) * 512), 512);
    assert_int_equal(back[0], pat((SECTORS - 1) * 512));
    /* Unknown type, and features that were not negotiated. */
    uint32_t used;
    assert_int_equal(simple(&d, 99, 0, 0, 0, &used), VMIO_VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(used, 1);
    uint64_t seg = vh_alloc(&d.h, 16, 0);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_DISCARD, 0, seg, 16, NULL),
                     VMIO_VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, NULL),
                     VMIO_VIRTIO_BLK_S_UNSUPP);
    struct vmio_virtio_blk_stats s = stats(&d);
    assert_int_equal(s.io_errors, 5);
    assert_int_equal(s.unsupported, 3);
    assert_int_equal(s.host_errors, 0);
    assert_false(vh_rd(&d.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);

    /* Requests the device cannot answer: DEVICE_NEEDS_RESET. */
    struct vh_seg no_status[] = {{header(&d, VMIO_VIRTIO_BLK_T_IN, 0), 16, false},
                                 {data, 512, false}};
    vh_chain(&d.h, 0, no_status, 2);
    vh_kick(&d.h, 0);
    assert_true(vh_rd(&d.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_non_null(strstr(fake_vm_log(&d.h.m), "has no device-writable status byte"));
    vh_start(&d.h, 0, 1);
    uint64_t st = vh_alloc(&d.h, 1, 0xee);
    struct vh_seg short_hdr[] = {{header(&d, VMIO_VIRTIO_BLK_T_IN, 0), 15, false}, {st, 1, true}};
    vh_chain(&d.h, 0, short_hdr, 2);
    vh_kick(&d.h, 0);
    assert_true(vh_rd(&d.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    assert_non_null(strstr(fake_vm_log(&d.h.m), "has a 15-byte header (16 needed)"));
    assert_int_equal(*vh_host(&d.h, st, 1), 0xee);
    disk_fini(&d);
}

static void test_read_only(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, true);
    vh_start(&d.h, (1ULL << VMIO_VIRTIO_BLK_F_RO) | (1ULL << VMIO_VIRTIO_BLK_F_FLUSH), 1);
    uint64_t data = vh_alloc(&d.h, 512, 0x77);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_OUT, 0, data, 512, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    uint8_t back[512];
    assert_int_equal(pread(d.peek, back, 512, 0), 512);
    assert_int_equal(back[1], pat(1));
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, 1, data, 512, NULL), VMIO_VIRTIO_BLK_S_OK);
    assert_int_equal(vh_host(&d.h, data, 1)[0], pat(512));
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VMIO_VIRTIO_BLK_S_OK);
    /* A driver cannot ask for WRITE_ZEROES on a read-only disk: it is not offered. */
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_STATUS, 0);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_STATUS, 3);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, 1u << VMIO_VIRTIO_BLK_F_WRITE_ZEROES);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_DRIVER_FEATURES, 1);
    vh_wr(&d.h, VMIO_VIRTIO_MMIO_STATUS, 0xb);
    assert_int_equal(vh_rd(&d.h, VMIO_VIRTIO_MMIO_STATUS), 3);
    disk_fini(&d);
}

/* A discard / write-zeroes request with @n segments {sector, count, flags}. */
static uint8_t zero_req(struct disk *d, uint32_t type, const uint64_t (*segs)[3], unsigned n)
{
    uint64_t a = vh_alloc(&d->h, 16ull * n, 0);
    uint8_t *p = vh_host(&d->h, a, 16ull * n);
    for (unsigned i = 0; i < n; i++) {
        uint64_t s = htole64(segs[i][0]);
        uint32_t c = htole32((uint32_t)segs[i][1]), f = htole32((uint32_t)segs[i][2]);
        memcpy(p + 16 * i, &s, 8);
        memcpy(p + 16 * i + 8, &c, 4);
        memcpy(p + 16 * i + 12, &f, 4);
    }
    return simple(d, type, 0, a, 16 * n, NULL);
}

/* Whether sectors [first, first + n) of the image read as zeros. */
static bool zeroed(struct disk *d, uint64_t first, uint64_t n)
{
    uint8_t b[512];
    for (uint64_t s = first; s < first + n; s++) {
        assert_int_equal(pread(d->peek, b, 512, (off_t)(s * 512)), 512);
        for (int i = 0; i < 512; i++)
            if (b[i])
                return false;
    }
    return true;
}

static void test_discard_and_write_zeroes(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, false);
    vh_start(&d.h, (1ULL << VMIO_VIRTIO_BLK_F_DISCARD) | (1ULL << VMIO_VIRTIO_BLK_F_WRITE_ZEROES),
             1);
    /* Write-zeroes without unmap: ZERO_RANGE is refused by tmpfs, zeros are written. */
    const uint64_t wz[][3] = {{2, 3, 0}, {10, 1, 0}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_WRITE_ZEROES, wz, 2), VMIO_VIRTIO_BLK_S_OK);
    assert_true(zeroed(&d, 2, 3));
    assert_true(zeroed(&d, 10, 1));
    assert_false(zeroed(&d, 1, 1));
    assert_false(zeroed(&d, 5, 1));
    /* With unmap: a hole is punched (it reads as zeros). */
    const uint64_t wzu[][3] = {{16, 8, VMIO_VIRTIO_BLK_WZ_F_UNMAP}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_WRITE_ZEROES, wzu, 1), VMIO_VIRTIO_BLK_S_OK);
    assert_true(zeroed(&d, 16, 8));
    assert_false(zeroed(&d, 24, 1));
    /* Discard punches too. */
    const uint64_t dc[][3] = {{32, 8, 0}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_DISCARD, dc, 1), VMIO_VIRTIO_BLK_S_OK);
    assert_true(zeroed(&d, 32, 8));
    /* Refusals, each checked before anything changes. */
    const uint64_t unmap_discard[][3] = {{40, 1, VMIO_VIRTIO_BLK_WZ_F_UNMAP}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_DISCARD, unmap_discard, 1),
                     VMIO_VIRTIO_BLK_S_UNSUPP);
    const uint64_t unknown_flag[][3] = {{40, 1, 0}, {41, 1, 2}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_WRITE_ZEROES, unknown_flag, 2),
                     VMIO_VIRTIO_BLK_S_UNSUPP);
    assert_false(zeroed(&d, 40, 1));
    const uint64_t out_of_range[][3] = {{44, 1, 0}, {SECTORS - 1, 2, 0}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_WRITE_ZEROES, out_of_range, 2),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_false(zeroed(&d, 44, 1));
    const uint64_t too_big[][3] = {{0, VMIO_VIRTIO_BLK_MAX_RANGE + 1, 0}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_DISCARD, too_big, 1), VMIO_VIRTIO_BLK_S_IOERR);
    const uint64_t wrap[][3] = {{~0ULL - 1, 4, 0}};
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_DISCARD, wrap, 1), VMIO_VIRTIO_BLK_S_IOERR);
    uint64_t many[VMIO_VIRTIO_BLK_MAX_SEGMENTS + 1][3];
    for (unsigned i = 0; i <= VMIO_VIRTIO_BLK_MAX_SEGMENTS; i++) {
        many[i][0] = i;
        many[i][1] = 1;
        many[i][2] = 0;
    }
    assert_int_equal(zero_req(&d, VMIO_VIRTIO_BLK_T_DISCARD, (const uint64_t(*)[3])many,
                              VMIO_VIRTIO_BLK_MAX_SEGMENTS + 1),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_false(zeroed(&d, 0, 1));
    uint64_t odd = vh_alloc(&d.h, 20, 0);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_DISCARD, 0, odd, 20, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_DISCARD, 0, 0, 0, NULL), VMIO_VIRTIO_BLK_S_IOERR);
    struct vmio_virtio_blk_stats s = stats(&d);
    assert_int_equal(s.discards, 7);
    assert_int_equal(s.write_zeroes, 4);
    disk_fini(&d);
}

static void test_host_errors(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, false);
    vh_start(&d.h, 1ULL << VMIO_VIRTIO_BLK_F_FLUSH, 1);
    /* Swap the image for a directory under the device: every host I/O fails. */
    int dir = open("/", O_RDONLY | O_DIRECTORY);
    assert_true(dir >= 0);
    assert_int_equal(dup2(dir, d.fd), d.fd);
    close(dir);
    uint64_t data = vh_alloc(&d.h, 512, 0);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_IN, 0, data, 512, NULL), VMIO_VIRTIO_BLK_S_IOERR);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_OUT, 0, data, 512, NULL),
                     VMIO_VIRTIO_BLK_S_IOERR);
    struct vmio_virtio_blk_stats s = stats(&d);
    assert_int_equal(s.host_errors, 2);
    assert_int_equal(s.io_errors, 2);
    /* One line, for the first failure. */
    assert_string_equal(disk_log(&d), "vmio: virtio-blk vda (test.img): read of 512 bytes at "
                                      "sector 0 failed: Is a directory; the guest gets "
                                      "VIRTIO_BLK_S_IOERR (further failures are only counted)\n");
    /* The device carries on: not broken, answers the next request. */
    assert_false(vh_rd(&d.h, VMIO_VIRTIO_MMIO_STATUS) & VMIO_VIRTIO_STATUS_NEEDS_RESET);
    uint64_t id = vh_alloc(&d.h, 20, 0);
    assert_int_equal(simple(&d, VMIO_VIRTIO_BLK_T_GET_ID, 0, id, 20, NULL), VMIO_VIRTIO_BLK_S_OK);
    disk_fini(&d);
}

static void test_batching(void **state)
{
    (void)state;
    struct disk d;
    disk_init(&d, false);
    vh_start(&d.h, 0, 1);
    uint64_t st[8], data[8];
    for (unsigned i = 0; i < 8; i++) {
        st[i] = vh_alloc(&d.h, 1, 0xee);
        data[i] = vh_alloc(&d.h, 512, 0);
        struct vh_seg s[] = {{header(&d, VMIO_VIRTIO_BLK_T_IN, i), 16, false},
                             {data[i], 512, true},
                             {st[i], 1, true}};
        vh_chain(&d.h, 0, s, 3);
    }
    struct vmio_virtio_mmio_stats before;
    vmio_virtio_mmio_stats(d.h.dev, &before);
    vh_kick(&d.h, 0);
    assert_int_equal(vh_used_idx(&d.h, 0), 8);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(*vh_host(&d.h, st[i], 1), VMIO_VIRTIO_BLK_S_OK);
        assert_int_equal(vh_host(&d.h, data[i], 1)[0], pat(i * 512));
    }
    struct vmio_virtio_blk_stats s = stats(&d);
    assert_int_equal(s.requests, 8);
    assert_int_equal(s.max_batch, 8);
    assert_int_equal(s.syscalls, 8);
    struct vmio_virtio_mmio_stats after;
    vmio_virtio_mmio_stats(d.h.dev, &after);
    assert_int_equal(after.interrupts - before.interrupts, 1);
    disk_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_config),
        cmocka_unit_test(test_read_write_layouts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_discard_and_write_zeroes),
        cmocka_unit_test(test_host_errors),
        cmocka_unit_test(test_batching),
    };
    return cmocka_run_group_tests_name("virtio_blk", tests, NULL, NULL);
}
