/*
 * Reading guest images, config files and kernel headers from the host, with
 * a size cap.
 *
 * Invariant: only regular files are read, and opening never blocks. Every
 * path comes from the command line or a config file, so it may name a FIFO
 * (open(2) would wait for a writer forever), a device (/dev/zero never ends,
 * a tty waits for input) or a directory. Files are opened with O_NONBLOCK,
 * which makes opening a FIFO return at once, then checked with fstat() on
 * the open descriptor (no window between a check and the open) and refused
 * unless regular; reads of a regular file are not affected by O_NONBLOCK.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmio/file.h"

/* What a non-regular file is, for the refusal. */
static const char *file_type(mode_t m)
{
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

int vmio_open_regular(const char *path, struct stat *st, struct vmio_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return vmio_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, st) < 0) {
        int e = errno;
        close(fd);
        return vmio_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return vmio_error_set(err, -EINVAL,
                              "%s: %s, not a regular file (vmio reads images and "
                              "configs only from regular files)",
                              path, file_type(st->st_mode));
    }
    return fd;
}

/* Read up to @n bytes at the start of @fd into @buf; *@got receives how many. */
static int read_all(int fd, const char *path, uint8_t *buf, size_t n, size_t *got,
                    struct vmio_error *err)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vmio_error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

int vmio_read_file(const char *path, size_t max, uint8_t **data, size_t *size,
                   struct vmio_error *err)
{
    struct stat st;
    int fd = vmio_open_regular(path, &st, err);
    if (fd < 0)
        return fd;
    int rc = 0;
    if ((uint64_t)st.st_size > max)
        rc = vmio_error_set(err, -EFBIG, "%s: %lld bytes is larger than the %zu-byte limit", path,
                            (long long)st.st_size, max);
    size_t n = (size_t)st.st_size;
    uint8_t *buf = rc == 0 ? malloc(n ? n : 1) : NULL;
    if (rc == 0 && !buf)
        rc = vmio_error_set(err, -ENOMEM, "%s: out of memory", path);
    size_t got = 0;
    if (rc == 0)
        rc = read_all(fd, path, buf, n, &got, err);
    if (rc == 0 && got != n)
        rc = vmio_error_set(err, -EIO, "%s: short read (%zu of %zu bytes; did it change?)", path,
                            got, n);
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *size = n;
    return 0;
}

int vmio_read_file_head(const char *path, uint8_t *buf, size_t len, size_t *got,
                        struct vmio_error *err)
{
    struct stat st;
    int fd = vmio_open_regular(path, &st, err);
    if (fd < 0)
        return fd;
    int rc = read_all(fd, path, buf, len, got, err);
    close(fd);
    return rc;
}
