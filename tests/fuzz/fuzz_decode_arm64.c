/*
 * libFuzzer target: the AArch64 trap decoder (ESR syndromes, instruction
 * words, MSR/MRS ISS) and its emulation. Bytes 0-7: ESR_EL2; 8-11: the
 * instruction word at the faulting PC (also decoded on its own); bit 0 of
 * byte 12 (when present): whether the word was fetched (a syndrome without
 * ISV needs it); the rest seeds the registers and the loaded data.
 * Properties (a failure traps; the replay in `make check` fails on it):
 * decoding is deterministic and total (an error always has a reason); a
 * decoded access has width 1, 2, 4 or 8, a register 0-31, length 2 or 4; a
 * sysreg trap is a SYSREG access of width 8; address computation, store
 * data and emulation work on any register file and leave it alone when they
 * refuse.
 */
#include <stdint.h>
#include <string.h>

#include "vmio/decode.h"
#include "vmio/decode_arm64.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static uint64_t mix(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void exercise(const struct vmio_arm64_access *a, uint64_t *seed)
{
    unsigned w = a->access.width;
    CHECK(w == 1 || w == 2 || w == 4 || w == 8 || w == 16);
    CHECK(a->access.reg <= 31);
    CHECK(a->len == 2 || a->len == 4);
    struct vmio_arm64_regs r;
    for (unsigned i = 0; i < 31; i++)
        r.x[i] = mix(seed);
    r.sp = mix(seed);
    r.pc = mix(seed);
    uint64_t addr;
    if (vmio_arm64_address(a, &r, &addr) != VMIO_DECODE_OK)
        CHECK(a->base == VMIO_REG_NONE || a->access.space == VMIO_SPACE_SYSREG);
    uint64_t data[2] = {mix(seed), mix(seed)};
    (void)vmio_arm64_store_data(a, &r, data);
    struct vmio_arm64_regs before = r;
    if (vmio_arm64_emulate(a, &r, data) != VMIO_DECODE_OK)
        CHECK(memcmp(&before, &r, sizeof(r)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    uint64_t esr;
    uint32_t insn;
    memcpy(&esr, data, 8);
    memcpy(&insn, data + 8, 4);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    seed |= 1;

    struct vmio_arm64_access a, b;
    const uint32_t *fetched = size > 12 && !(data[12] & 1) ? NULL : &insn;
    int rc = vmio_arm64_decode_esr(esr, fetched, &a);
    CHECK(vmio_arm64_decode_esr(esr, fetched, &b) == rc);
    CHECK(rc != VMIO_DECODE_OK || b.access.width == a.access.width);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc == VMIO_DECODE_OK)
        exercise(&a, &seed);

    rc = vmio_arm64_decode_insn(insn, &a);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc == VMIO_DECODE_OK) {
        CHECK(a.len == 4 && a.base <= 31);
        exercise(&a, &seed);
    }

    rc = vmio_arm64_decode_sysreg((uint32_t)esr & 0x1ffffff, &a);
    CHECK(rc == VMIO_DECODE_OK && a.access.space == VMIO_SPACE_SYSREG && a.access.width == 8);
    exercise(&a, &seed);
    return 0;
}
