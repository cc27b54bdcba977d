/*
 * bench_loop: the benchmark guest of bench/start_bench.c. With an empty
 * command line it exits at once (vmio's start-to-exit floor); with
 * "exits=N" it first makes N one-byte port writes to testdev's ECHO register
 * (N I/O exits through the whole vmio command). It prints nothing, so the
 * serial port adds no exits, and always exits with code 0 through the
 * debug-exit port (vmio's status 1).
 * Invariants: reads only the multiboot command line (flags bit 2), bounded
 * to 256 characters; a malformed number counts as 0.
 */
#include "guest.h"

#define MBI_FLAG_CMDLINE (1u << 2)

static uint32_t parse_exits(uint32_t mb_info)
{
    if (!mb_info)
        return 0;
    const volatile uint32_t *mbi = (const volatile uint32_t *)(uintptr_t)mb_info;
    if (!(mbi[0] & MBI_FLAG_CMDLINE) || !mbi[4])
        return 0;
    const char *s = (const char *)(uintptr_t)mbi[4];
    static const char key[] = "exits=";
    for (unsigned i = 0; i < 256 && s[i]; i++) {
        unsigned k = 0;
        while (key[k] && s[i + k] == key[k])
            k++;
        if (key[k])
            continue;
        uint32_t n = 0;
        for (const char *p = s + i + k; *p >= '0' && *p <= '9' && n < 100000000u; p++)
            n = n * 10 + (uint32_t)(*p - '0');
        return n;
    }
    return 0;
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_magic;
    uint32_t n = parse_exits(mb_info);
    for (uint32_t i = 0; i < n; i++)
        outb(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_ECHO, (uint8_t)i);
    return 0;
}
