/* arm64 trap decoder (placeholder: being written). See vmio/decode.h. */
#ifndef VMIO_DECODE_ARM64_H
#define VMIO_DECODE_ARM64_H
#endif
