/* Reading a whole image or config file into memory, with a size cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmio/boot.h"

int vmio_read_file(const char *path, size_t max, uint8_t **data, size_t *size,
                   struct vmio_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vmio_error_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) < 0) {
        rc = vmio_error_set(err, -errno, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = vmio_error_set(err, -EINVAL, "%s: not a regular file", path);
    } else if ((uint64_t)st.st_size > max) {
        rc = vmio_error_set(err, -EFBIG, "%s: %lld bytes is larger than the %zu-byte limit", path,
                            (long long)st.st_size, max);
    }
    if (rc < 0) {
        fclose(f);
        return rc;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return vmio_error_set(err, -ENOMEM, "%s: out of memory", path);
    }
    if (fread(buf, 1, n, f) != n) {
        rc = vmio_error_set(err, -EIO, "%s: short read", path);
        free(buf);
        fclose(f);
        return rc;
    }
    fclose(f);
    *data = buf;
    *size = n;
    return 0;
}
