/* exitcode: prints one line and exits with 0x2a: status (0x2a << 1) | 1 = 85 under vmio and QEMU.
 */
#include "guest.h"

int guest_main(void)
{
    gprint("exitcode: exiting with 0x2a\n");
    return 0x2a;
}
