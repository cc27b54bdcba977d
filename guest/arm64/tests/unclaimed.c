/*
 * unclaimed: loads and stores where no device is (UNCLAIMED_BASE), each
 * width. Under vmio (--unhandled ignore) reads give all-ones and writes are
 * dropped; under QEMU the same accesses abort (caught by the probe). The
 * output says which happened, so each VMM has its own expected file.
 */
#include "guest.h"

int guest_main(void)
{
    gprint("unclaimed: accesses at 0x%lx\n", (uint64_t)UNCLAIMED_BASE);
    static const unsigned widths[] = {1, 2, 4, 8};
    for (unsigned i = 0; i < 4; i++) {
        unsigned w = widths[i];
        probe_begin();
        uint64_t v = mmio_read(UNCLAIMED_BASE + 8 * i, w);
        unsigned faults = probe_end();
        if (faults)
            gprint("read width %u: abort\n", w);
        else
            check_eqf(v, w == 8 ? ~0ull : (1ull << (8 * w)) - 1, "read width %u is all-ones", w);
        probe_begin();
        mmio_write(UNCLAIMED_BASE + 8 * i, w, 0x5a);
        faults = probe_end();
        gprint("write width %u: %s\n", w, faults ? "abort" : "dropped");
    }
    return test_summary("unclaimed");
}
