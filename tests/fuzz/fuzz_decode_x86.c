/*
 * libFuzzer target: the x86 trap decoder and its emulation on arbitrary
 * bytes. Byte 0 picks the mode (16, 32, 64-bit); the next bytes (up to 15)
 * are the instruction; what follows seeds the registers and the value a
 * read returns.
 * Properties (a failure traps; the replay in `make check` fails on it):
 * decoding is deterministic; a decoded instruction has 1..15 bytes, no more
 * than given, and decodes the same from exactly its own bytes, while one
 * byte fewer is "truncated"; widths are 1, 2, 4 or 8 and the register width
 * at least the access width; emulating it (and computing its linear
 * address, naming its op and register) works on any register file and
 * leaves the registers alone when it refuses.
 */
#include <stdint.h>
#include <string.h>

#include "vmio/decode.h"
#include "vmio/decode_x86.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum vmio_x86_mode modes[] = {VMIO_X86_MODE_16, VMIO_X86_MODE_32,
                                               VMIO_X86_MODE_64};
    enum vmio_x86_mode mode = modes[data[0] % 3];
    const uint8_t *code = data + 1;
    size_t n = size - 1 > 15 ? 15 : size - 1;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    seed |= 1;

    struct vmio_x86_insn a, b;
    int rc = vmio_x86_decode(code, n, mode, &a);
    CHECK(vmio_x86_decode(code, n, mode, &b) == rc);
    CHECK(rc == VMIO_DECODE_OK || a.reason != NULL);
    if (rc != VMIO_DECODE_OK)
        return 0;
    CHECK(a.reason == NULL && b.len == a.len && b.op == a.op && b.access.width == a.access.width);
    CHECK(a.len >= 1 && a.len <= 15 && a.len <= n);
    unsigned w = a.access.width;
    CHECK(w == 1 || w == 2 || w == 4 || w == 8);
    CHECK(a.access.reg == VMIO_REG_NONE || a.access.reg < 16);
    CHECK(a.access.reg == VMIO_REG_NONE || a.access.reg_width == 0 || a.access.reg_width >= w);
    CHECK(vmio_x86_decode(code, a.len, mode, &b) == VMIO_DECODE_OK && b.len == a.len);
    CHECK(vmio_x86_decode(code, a.len - 1u, mode, &b) == VMIO_DECODE_TRUNCATED);
    CHECK(vmio_x86_op_name(a.op) != NULL);

    struct vmio_x86_regs r;
    for (unsigned i = 0; i < VMIO_X86_NGPR; i++)
        r.gpr[i] = mix(&seed);
    r.rip = mix(&seed);
    r.rflags = mix(&seed) | 2;
    uint64_t seg[8];
    for (unsigned i = 0; i < 8; i++)
        seg[i] = mix(&seed);
    (void)vmio_x86_linear_address(&a, &a.mem, &r, seg);
    if (a.string)
        (void)vmio_x86_linear_address(&a, &a.mem2, &r, NULL);
    (void)vmio_x86_rep_count(&a, &r);
    struct vmio_x86_regs before = r;
    struct vmio_x86_effect eff;
    int erc = vmio_x86_emulate(&a, &r, mix(&seed), &eff);
    if (erc != VMIO_DECODE_OK)
        CHECK(memcmp(&before, &r, sizeof(r)) == 0);
    else if (eff.write)
        CHECK(w == 8 || eff.value >> (8 * w) == 0);
    return 0;
}
