/*
 * Trap decoders: pure functions from an architecture's trap information
 * (instruction bytes, syndrome registers) to the arch-neutral
 * `struct vmio_access`, plus the arch-specific extras an emulator needs.
 *
 * Everything declared here is portable C with no OS or KVM header, no
 * allocation and no global state, so a bare-metal hypervisor can reuse it.
 * Errors are negative status values with a static reason string.
 */
#ifndef VMIO_DECODE_H
#define VMIO_DECODE_H

#include "vmio/exit.h"

enum vmio_decode_status {
    VMIO_DECODE_OK = 0,
    VMIO_DECODE_TRUNCATED = -1,   /* fewer bytes than the instruction needs */
    VMIO_DECODE_INVALID = -2,     /* not a valid encoding (or not a memory access) */
    VMIO_DECODE_UNSUPPORTED = -3, /* valid, but not an instruction vmio emulates */
};

/* vmio_decode_status_name - "ok", "truncated", "invalid" or "unsupported". */
const char *vmio_decode_status_name(int status);

#include "vmio/decode_x86.h"
#include "vmio/decode_arm64.h"
#include "vmio/decode_riscv.h"

#endif
