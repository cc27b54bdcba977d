/* Names of decoder status values (see vmio/decode.h). */
#include "vmio/decode.h"

const char *vmio_decode_status_name(int status)
{
    switch (status) {
    case VMIO_DECODE_OK:
        return "ok";
    case VMIO_DECODE_TRUNCATED:
        return "truncated";
    case VMIO_DECODE_INVALID:
        return "invalid";
    case VMIO_DECODE_UNSUPPORTED:
        return "unsupported";
    default:
        return "unknown";
    }
}
