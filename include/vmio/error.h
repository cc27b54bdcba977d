/*
 * vmio error values.
 *
 * Every fallible vmio function returns an int: 0 on success or a negative
 * errno value on failure. Functions that can explain a failure also take an
 * optional `struct vmio_error *`; when it is non-NULL they fill it with a
 * message that says what went wrong and where (device names, addresses, file
 * and line). The message is owned by the caller's struct: no allocation.
 */
#ifndef VMIO_ERROR_H
#define VMIO_ERROR_H

#include <stddef.h>

#define VMIO_ERROR_MSG_MAX 512

struct vmio_error {
    int code;                     /* negative errno, 0 when no error was recorded */
    char msg[VMIO_ERROR_MSG_MAX]; /* NUL-terminated human-readable message */
};

/*
 * vmio_error_set - record an error.
 * @err:  where to record it; may be NULL (then only the code is returned).
 * @code: negative errno value describing the class of failure.
 * @fmt:  printf-style message; truncated to fit VMIO_ERROR_MSG_MAX.
 * Returns @code, so callers can write `return vmio_error_set(err, -EINVAL, ...)`.
 */
int vmio_error_set(struct vmio_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * vmio_error_clear - reset @err (may be NULL) to "no error".
 */
void vmio_error_clear(struct vmio_error *err);

#endif
