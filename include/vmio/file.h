/*
 * Reading host files that a command line or a config names: guest images,
 * initrds, kernels, configs, disk images. Every such path is untrusted, so
 * opening never blocks and only regular files are read (a FIFO, device,
 * socket or directory is refused at once, saying what it is). Host layer
 * (src/host/file.c).
 */
#ifndef VMIO_FILE_H
#define VMIO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "vmio/error.h"

/*
 * vmio_read_file - read the whole regular file @path into a new buffer
 * (*@data, *@size; free() it). Never blocks on what the path names: a FIFO,
 * device, socket or directory is refused at once (see
 * vmio_open_regular()). Errors: -errno with the path in the message;
 * -EINVAL for a file that is not regular ("PATH: a FIFO, not a regular
 * file ..."); -EFBIG for files over @max bytes; -EIO when the file shrank
 * while read; -ENOMEM.
 */
int vmio_read_file(const char *path, size_t max, uint8_t **data, size_t *size,
                   struct vmio_error *err);

/*
 * vmio_read_file_head - read the first @len bytes (fewer when the file is
 * shorter: *@got says how many) of the regular file @path into @buf.
 * Errors: as vmio_read_file().
 */
int vmio_read_file_head(const char *path, uint8_t *buf, size_t len, size_t *got,
                        struct vmio_error *err);

struct stat;

/*
 * vmio_open_regular - open @path read-only without blocking (O_NONBLOCK, so
 * a FIFO with no writer does not hang the open) and return the descriptor
 * (close-on-exec; the caller closes it) after checking with fstat() (into
 * *@st) that it is a regular file. Errors: -errno of open(2)/fstat(2);
 * -EINVAL naming what the path is when it is not a regular file. Every
 * image, initrd, kernel and config vmio reads goes through it.
 */
int vmio_open_regular(const char *path, struct stat *st, struct vmio_error *err);

#endif
