/* riscv trap decoder (placeholder: being written). See vmio/decode.h. */
#ifndef VMIO_DECODE_RISCV_H
#define VMIO_DECODE_RISCV_H
#endif
