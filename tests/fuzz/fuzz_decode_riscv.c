/*
 * libFuzzer target: the RISC-V trap decoder (instruction bytes of either
 * length, instruction words, htinst/mtinst values) and its emulation.
 * Byte 0: how many of bytes 1-4 are fetched (0-4); bytes 1-4: the
 * instruction (also decoded as a word); bytes 5-12: htinst; the rest seeds
 * the registers and the loaded data.
 * Properties (a failure traps; the replay in `make check` fails on it):
 * decoding is deterministic and total (an error always has a reason); a
 * decoded access has width 1, 2, 4 or 8, register 0-31, length 2 or 4 and
 * never more than the bytes fetched; address computation, store data and
 * emulation work on any register file and leave it alone when they refuse.
 */
#include <stdint.h>
#include <string.h>

#include "vmio/decode.h"
#include "vmio/decode_riscv.h"

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

static void exercise(const struct vmio_riscv_access *a, uint64_t *seed)
{
    unsigned w = a->access.width;
    CHECK(w == 1 || w == 2 || w == 4 || w == 8);
    CHECK(a->access.reg <= 31);
    CHECK(a->len == 2 || a->len == 4);
    struct vmio_riscv_regs r;
    for (unsigned i = 0; i < 32; i++)
        r.x[i] = mix(seed);
    r.pc = mix(seed);
    uint64_t addr;
    (void)vmio_riscv_address(a, &r, &addr);
    uint64_t data = mix(seed);
    (void)vmio_riscv_store_data(a, &r, &data);
    struct vmio_riscv_regs before = r;
    if (vmio_riscv_emulate(a, &r, &data) != VMIO_DECODE_OK)
        CHECK(memcmp(&before, &r, sizeof(r)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 13)
        return 0;
    size_t fetched = data[0] % 5;
    uint32_t insn;
    uint64_t htinst;
    memcpy(&insn, data + 1, 4);
    memcpy(&htinst, data + 5, 8);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    seed |= 1;

    struct vmio_riscv_access a, b;
    int rc = vmio_riscv_decode_bytes(data + 1, fetched, &a);
    CHECK(vmio_riscv_decode_bytes(data + 1, fetched, &b) == rc);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc == VMIO_DECODE_OK) {
        CHECK(a.len <= fetched);
        exercise(&a, &seed);
    }
    rc = vmio_riscv_decode_insn(insn, &a);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc == VMIO_DECODE_OK)
        exercise(&a, &seed);
    rc = vmio_riscv_decode_htinst(htinst, &a);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc == VMIO_DECODE_OK)
        exercise(&a, &seed);
    return 0;
}
