/*
 * virtio-blk (virtio 1.2, 5.2): a raw disk image behind one request queue.
 *
 * Requests: IN (read), OUT (write), FLUSH (fdatasync(2)), GET_ID (the serial,
 * 20 bytes, NUL-padded), DISCARD (fallocate PUNCH_HOLE, offered only when a
 * probe shows the image's file system supports it) and WRITE_ZEROES
 * (PUNCH_HOLE when the driver allows unmapping and holes work, else
 * ZERO_RANGE, else plain zero writes: always offered on a writable disk).
 * Config space: capacity in 512-byte sectors, seg_max, blk_size (512), the
 * discard and write-zeroes limits. Offered: SEG_MAX, BLK_SIZE, FLUSH,
 * DISCARD (see above), WRITE_ZEROES (writable disks), RO (read-only disks).
 *
 * Every request is guest data and is checked: a header of 16 readable
 * bytes and a status byte (the last writable byte) or the device cannot
 * answer it at all (DEVICE_NEEDS_RESET); a data length that is a multiple of
 * 512; a sector range inside the disk (no overflow); discard/write-zeroes
 * segments within the advertised limits, with no unknown flag. Answers:
 * VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR (out of range, misaligned, a write to
 * a read-only disk, any host I/O error: the VM keeps running, the first
 * host error is logged), VIRTIO_BLK_S_UNSUPP (unknown request type, a
 * feature that was not negotiated, an unknown flag, unmap on a discard).
 *
 * Performance: each notification pops every available request and answers
 * them all before one interrupt decision (batching, and with EVENT_IDX the
 * driver is not asked to notify again while the device still works through
 * the ring); a read or write moves the whole chain's data with one
 * preadv(2)/pwritev(2) straight between the image and guest RAM (no bounce
 * buffer, no copy). All on the I/O thread. docs/virtio.md has the
 * measurements.
 */
#ifndef VMIO_VIRTIO_BLK_H
#define VMIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/error.h"
#include "vmio/virtio.h"

/* Feature bits (5.2.3). */
#define VMIO_VIRTIO_BLK_F_SIZE_MAX 1
#define VMIO_VIRTIO_BLK_F_SEG_MAX 2
#define VMIO_VIRTIO_BLK_F_RO 5
#define VMIO_VIRTIO_BLK_F_BLK_SIZE 6
#define VMIO_VIRTIO_BLK_F_FLUSH 9
#define VMIO_VIRTIO_BLK_F_DISCARD 13
#define VMIO_VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VMIO_VIRTIO_BLK_T_IN 0
#define VMIO_VIRTIO_BLK_T_OUT 1
#define VMIO_VIRTIO_BLK_T_FLUSH 4
#define VMIO_VIRTIO_BLK_T_GET_ID 8
#define VMIO_VIRTIO_BLK_T_DISCARD 11
#define VMIO_VIRTIO_BLK_T_WRITE_ZEROES 13
#define VMIO_VIRTIO_BLK_S_OK 0
#define VMIO_VIRTIO_BLK_S_IOERR 1
#define VMIO_VIRTIO_BLK_S_UNSUPP 2
#define VMIO_VIRTIO_BLK_WZ_F_UNMAP 1u /* discard / write-zeroes segment flag */
#define VMIO_VIRTIO_BLK_ID_BYTES 20

/* Config space offsets (struct vmio_virtio_blk_config). */
#define VMIO_VIRTIO_BLK_CFG_CAPACITY 0
#define VMIO_VIRTIO_BLK_CFG_SEG_MAX 12
#define VMIO_VIRTIO_BLK_CFG_BLK_SIZE 20
#define VMIO_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VMIO_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VMIO_VIRTIO_BLK_CFG_DISCARD_ALIGNMENT 44
#define VMIO_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48
#define VMIO_VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG 52
#define VMIO_VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP 56
#define VMIO_VIRTIO_BLK_CFG_SIZE 60

#define VMIO_VIRTIO_BLK_SECTOR 512u
#define VMIO_VIRTIO_BLK_MAX_SEGMENTS 32u    /* discard / write-zeroes segments per request */
#define VMIO_VIRTIO_BLK_MAX_RANGE 0x400000u /* sectors per discard / write-zeroes segment */

struct vmio_virtio_blk_config {
    const char *path;   /* the raw image; also names it in messages */
    int fd;             /* >= 0: use this open descriptor instead of opening path (the
                           device owns it from then on, also on failure); -1: open path */
    bool readonly;      /* opened O_RDONLY; writes get IOERR; VIRTIO_BLK_F_RO offered */
    const char *name;   /* "vda": in the device's name ("virtio-blk vda"); NULL: "vd" */
    const char *serial; /* GET_ID's answer (at most 20 bytes kept); NULL: the image's file name */
    FILE *log;          /* where the first host I/O failure is reported; NULL: stderr */
};

/*
 * vmio_virtio_blk_create - a virtio-blk model for the image cfg->path (or
 * cfg->fd) in *@out, ready for vmio_virtio_mmio_attach(), which then owns it.
 * The capacity is the image's size in whole 512-byte sectors (a regular file
 * or a block device); a trailing partial sector is not visible.
 * Errors: -errno of open(2)/fstat(2) (the message names the path); -EINVAL
 * for something that is neither a regular file nor a block device, or an
 * image smaller than one sector; -ENOMEM.
 */
int vmio_virtio_blk_create(const struct vmio_virtio_blk_config *cfg,
                           struct vmio_virtio_device **out, struct vmio_error *err);

/* What a disk did (counted on the I/O thread; exact once it is stopped). */
struct vmio_virtio_blk_stats {
    uint64_t requests; /* chains answered */
    uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
    uint64_t unsupported; /* answered VIRTIO_BLK_S_UNSUPP */
    uint64_t io_errors;   /* answered VIRTIO_BLK_S_IOERR */
    uint64_t host_errors; /* of them, host I/O failures */
    uint64_t bytes_read, bytes_written;
    uint64_t syscalls;  /* host I/O system calls (preadv, pwritev, fdatasync, fallocate) */
    uint64_t batches;   /* notifications that found at least one request */
    uint64_t max_batch; /* most requests answered in one notification */
};

/*
 * vmio_virtio_blk_stats - @d's counters into *@out; false (and *@out
 * untouched) when @d is not a virtio-blk model.
 */
bool vmio_virtio_blk_stats(struct vmio_virtio_device *d, struct vmio_virtio_blk_stats *out);

#endif
