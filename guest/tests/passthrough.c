/*
 * passthrough: reads and writes memory passed through from a host backing
 * object (configs/passthrough.toml, tests/config/run_passthrough.py), with a
 * testdev window carved out of the middle of the mapping.
 *
 * Layout (guest-physical, fixed; the config must match):
 *   0xe0000000  page 0 of the mapping: header (below), written by the guest
 *   0xe0001000  testdev window carved out of the mapping (every access exits)
 *   0xe0002000  page 2: the guest fills it with a pattern the host checks
 *   0xe0003000  page 3: the host puts HOST_MAGIC here before the run
 * Header (64-bit words at 0xe0000000): [0] GUEST_MAGIC once the guest is
 * done, [1] run counter (incremented by every run), [2] handshake flag.
 *
 * The kernel command line selects a role: "role=a" and "role=b" are two VMs
 * sharing one backing object, running at the same time: A sets the flag to
 * 1 and waits for 2, B waits for 1 and sets 2 (each wait is bounded). With
 * no role the guest runs alone.
 *
 * Invariants: the only MMIO accesses that exit are exactly three testdev
 * accesses (one write, two reads), so the host can check that none of the
 * thousands of pass-through accesses exited (--stats-json); every other exit
 * is port I/O (COM1, debug-exit).
 */
#include "guest.h"

#define PT_BASE 0xe0000000ULL
#define PT_CARVED 0xe0001000ULL
#define PT_FILL 0xe0002000ULL
#define PT_HOST 0xe0003000ULL

#define GUEST_MAGIC 0x4b4f545345554721ULL /* "!GUESTOK" little-endian */
#define HOST_MAGIC 0x6f74736f48213231ULL  /* "12!Hosto" little-endian */
#define WAIT_LIMIT 4000000000ULL          /* spins before a handshake gives up */

static uint64_t fill_value(unsigned i)
{
    return 0x0101010101010101ULL * (i & 0xff) ^ ((uint64_t)i << 32);
}

/* The multiboot command line (flags bit 2), or "". */
static const char *cmdline(uint32_t mb_magic, uint32_t mb_info)
{
    if (mb_magic != MULTIBOOT_BOOTLOADER_MAGIC || mb_info == 0)
        return "";
    const volatile uint32_t *mbi = (const volatile uint32_t *)(uintptr_t)mb_info;
    if (!(mbi[0] & 0x4) || mbi[4] == 0)
        return "";
    return (const char *)(uintptr_t)mbi[4];
}

static char role_of(const char *s)
{
    for (; *s; s++)
        if (s[0] == 'r' && s[1] == 'o' && s[2] == 'l' && s[3] == 'e' && s[4] == '=')
            return s[5];
    return 0;
}

/* Spin until *@p == @want; returns 1 on success, 0 after WAIT_LIMIT reads. */
static int wait_for(volatile uint64_t *p, uint64_t want)
{
    for (uint64_t i = 0; i < WAIT_LIMIT; i++) {
        if (*p == want)
            return 1;
        __asm__ volatile("pause");
    }
    return 0;
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    volatile uint64_t *hdr = (volatile uint64_t *)PT_BASE;
    volatile uint64_t *fill = (volatile uint64_t *)PT_FILL;
    volatile uint64_t *host = (volatile uint64_t *)PT_HOST;
    char role = role_of(cmdline(mb_magic, mb_info));
    gprint("passthrough: role %c\n", role ? role : '-');

    /* Host -> guest: data put in the backing object before the run. */
    check_eq("host data visible at 0xe0003000", host[0], HOST_MAGIC);

    /* Two VMs at once: a handshake through the shared object. */
    if (role == 'a') {
        hdr[2] = 1;
        check_true("role a: saw role b's write", wait_for(&hdr[2], 2));
    } else if (role == 'b') {
        check_true("role b: saw role a's write", wait_for(&hdr[2], 1));
        hdr[2] = 2;
    }

    /* Guest -> host: a page of pattern, read back here, checked by the host. */
    for (unsigned i = 0; i < 512; i++)
        fill[i] = fill_value(i);
    unsigned bad = 0;
    for (unsigned i = 0; i < 512; i++)
        bad += fill[i] != fill_value(i);
    check_eq("page 0xe0002000 reads back", bad, 0);

    /* The carved window still exits to its device. */
    mmio_write64(PT_CARVED + VMIO_TESTDEV_ECHO, 0x1122334455667788ULL);
    check_eq("carved testdev ECHO", mmio_read64(PT_CARVED + VMIO_TESTDEV_ECHO),
             0x1122334455667788ULL);
    check_eq("carved testdev PATTERN", mmio_read64(PT_CARVED + VMIO_TESTDEV_PATTERN),
             VMIO_TESTDEV_PATTERN_VALUE);

    /* The run counter: atomic, since two VMs may increment it at once. */
    uint64_t run = __atomic_add_fetch(&hdr[1], 1, __ATOMIC_SEQ_CST);
    gprint("passthrough: run %lu\n", (unsigned long)run);
    hdr[0] = GUEST_MAGIC;
    return test_summary("passthrough");
}
