/*
 * exitcode: prints a line, writes a line to the debug console (port 0xe9),
 * and exits with code 0x2a through the debug-exit port, so the VMM's exit
 * status must be (0x2a << 1) | 1 = 85.
 * Invariants: makes no checks that could change the exit code; the debugcon
 * read-back value is printed for information only (Bochs convention: 0xe9).
 */
#include "guest.h"

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_info;
    gprint("exitcode: multiboot magic 0x%x\n", mb_magic);
    debugcon_puts("exitcode: hello from the debug console (port 0xe9)\n");
    gprint("INFO debugcon port 0xe9 reads 0x%02x\n", inb(VMIO_DEBUGCON_PORT));
    gprint("exitcode: writing 0x2a to port 0xf4, expect exit status 85\n");
    guest_exit(0x2a);
}
