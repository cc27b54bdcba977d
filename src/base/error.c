/* vmio_error: recording an error code with a formatted message. */
#include <stdarg.h>
#include <stdio.h>

#include "vmio/error.h"

int vmio_error_set(struct vmio_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void vmio_error_clear(struct vmio_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
