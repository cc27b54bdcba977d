/*
 * demo: the built-in guest `vmio run` boots when given no image.
 * Shows a newcomer what vmio does, in readable lines: serial output, port and
 * MMIO accesses to testdev at each width, a string I/O transfer, an unclaimed
 * access, then exit code 0. Kept to a few hundred device accesses so it
 * finishes well under a second even when every instruction is emulated.
 * Under QEMU (no testdev) it prints what it would show and skips those parts.
 */
#include "guest.h"

#define MMIO VMIO_TESTDEV_MMIO_BASE
#define PIO VMIO_TESTDEV_PIO_BASE

static void show_mmio(void)
{
    static const unsigned widths[] = {1, 2, 4, 8};
    gprint("\n[2] MMIO: each access to 0x%lx is a KVM exit that vmio decodes\n", (uint64_t)MMIO);
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i];
        uint64_t v = mmio_read(MMIO + VMIO_TESTDEV_PATTERN, w);
        gprint("    read  %u byte%s PATTERN      -> 0x%0*lx\n", w, w > 1 ? "s" : " ", (int)(2 * w),
               v);
    }
    mmio_write64(MMIO + VMIO_TESTDEV_ECHO, 0);
    mmio_write32(MMIO + VMIO_TESTDEV_ECHO + 4, 0xcafef00d);
    uint64_t last = mmio_read64(MMIO + VMIO_TESTDEV_LAST);
    gprint("    write 4 bytes ECHO+4 <- 0xcafef00d\n");
    gprint("    testdev's LAST register saw it as: offset 0x%lx, %lu bytes, %s\n", last & 0xfff,
           (last >> 16) & 0xf, (last >> 24) & 1 ? "write" : "read");
    gprint("    read  8 bytes ECHO         -> 0x%016lx\n", mmio_read64(MMIO + VMIO_TESTDEV_ECHO));
}

static void show_pio(void)
{
    gprint("\n[3] Port I/O: in/out on ports 0x%x..0x%x\n", PIO, PIO + VMIO_TESTDEV_PIO_SIZE - 1);
    outl(PIO + VMIO_TESTDEV_ECHO, 0x12345678);
    gprint("    outl ECHO <- 0x12345678\n");
    gprint("    inb  ECHO -> 0x%02x   inw ECHO+2 -> 0x%04x   inl ECHO -> 0x%08x\n",
           inb(PIO + VMIO_TESTDEV_ECHO), inw(PIO + VMIO_TESTDEV_ECHO + 2),
           inl(PIO + VMIO_TESTDEV_ECHO));
    outb(PIO + VMIO_TESTDEV_READS, 0); /* reset the counters */
    for (int i = 0; i < 3; i++)
        (void)inb(PIO + VMIO_TESTDEV_PATTERN);
    gprint("    after 3 reads, READS counter -> %u\n", inl(PIO + VMIO_TESTDEV_READS));
}

static void show_string_io(void)
{
    static const uint16_t words[6] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666};
    gprint("\n[4] String I/O: one 'rep outsw' of 6 words into the LOG FIFO\n");
    outb(PIO + VMIO_TESTDEV_LOG_LEN, 0);
    outsw(PIO + VMIO_TESTDEV_LOG_PUSH, words, 6);
    unsigned len = inl(PIO + VMIO_TESTDEV_LOG_LEN);
    gprint("    LOG_LEN -> %u; popped:", len);
    for (unsigned i = 0; i < len && i < 8; i++)
        gprint(" 0x%04x", (unsigned)inw(PIO + VMIO_TESTDEV_LOG_POP));
    gprint("\n");
}

static void show_unclaimed(void)
{
    gprint("\n[5] Unclaimed: nobody owns MMIO 0xe0000000 or port 0x7100\n");
    gprint("    read 4 bytes at 0xe0000000 -> 0x%08x (vmio: all-ones, like an empty bus)\n",
           mmio_read32(0xe0000000ULL));
    gprint("    inb port 0x7100            -> 0x%02x\n", inb(PIO + VMIO_TESTDEV_PIO_SIZE));
    gprint("    (vmio --unhandled strict would stop here and report the access)\n");
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    gprint("Hello from the vmio demo guest!\n\n");
    gprint("[1] Serial: this text is written one byte at a time to the 16550 UART\n"
           "    at port 0x3f8; each 'outb' exits to the VMM, which prints it.\n"
           "    Booted by multiboot (magic 0x%x), now in 64-bit long mode.\n",
           mb_magic);
    /* Multiboot info: flags bit 0 means mem_lower/mem_upper (KiB) are valid. */
    const volatile uint32_t *info = (const volatile uint32_t *)(uintptr_t)mb_info;
    if (mb_magic == MULTIBOOT_BOOTLOADER_MAGIC && mb_info && (info[0] & 1))
        gprint("    Memory from the multiboot info: %u KiB low, %u KiB above 1 MiB.\n", info[1],
               info[2]);
    if (testdev_present()) {
        show_mmio();
        show_pio();
        show_string_io();
    } else {
        gprint("\nSKIP testdev not present (PATTERN at 0x%lx did not read 0x%lx)\n",
               (uint64_t)MMIO + VMIO_TESTDEV_PATTERN, (uint64_t)VMIO_TESTDEV_PATTERN_VALUE);
    }
    show_unclaimed();
    gprint("\n[6] Exit: writing 0 to port 0xf4 (debug-exit); vmio exits with status 1.\n");
    gprint("Try: vmio run --stats   (counts every exit by kind)\n");
    return 0;
}
