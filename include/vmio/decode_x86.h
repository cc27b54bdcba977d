/* x86 trap decoder (placeholder: being written). See vmio/decode.h. */
#ifndef VMIO_DECODE_X86_H
#define VMIO_DECODE_X86_H
#endif
