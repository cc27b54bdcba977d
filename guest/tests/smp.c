/*
 * smp: two vCPUs touching devices at the same time. Needs a second CPU with
 * a local APIC: `vmio run --cpus 2` (the runner's VMIO_ARGS), or QEMU's
 * microvm with -smp 2.
 *
 * The bootstrap processor (vCPU 0, APIC ID 0) starts the application
 * processor (APIC ID 1) with INIT-SIPI-SIPI through the runtime's real-mode
 * trampoline (ap_start()); then both CPUs, concurrently:
 *   - add 1 to testdev's SUM register K times through MMIO (each an exit),
 *   - push LOGN values tagged with their CPU into testdev's LOG FIFO
 *     through port I/O (each an exit; LOGN * 2 fits the FIFO's 64 entries),
 *   - increment a counter in RAM K times with LOCK INC (no exits).
 * The AP reports its APIC ID and sets a "done" flag in RAM; the BSP waits
 * for it (bounded), then checks SUM == 2K, the RAM counter == 2K, and that
 * the log holds exactly the 2 * LOGN pushed values, each once, and each
 * CPU's values in the order that CPU pushed them (the interleaving between
 * the CPUs is not checked: it depends on scheduling). Only the BSP prints.
 * Without testdev (QEMU) the testdev parts print SKIP lines.
 */
#include "guest.h"

#define K 1000u  /* SUM additions and RAM increments per CPU */
#define LOGN 32u /* log pushes per CPU */
#define TAG_BSP 0xb5000000u
#define TAG_AP 0xa9000000u
#define AP_APIC_ID 1u
/* TSC cycles to wait for the AP: to reach long mode, then to finish (seconds at most). */
#define AP_START_CYCLES (2ULL << 30)
#define AP_DONE_CYCLES (8ULL << 30)

static volatile uint32_t ram_counter;
static volatile uint32_t ap_go, ap_done, ap_apic;
static int have_testdev;
static uint8_t ap_stack[8192] __attribute__((aligned(16)));

/* What each CPU does concurrently; @tag marks its log entries. */
static void work(uint32_t tag)
{
    for (uint32_t i = 0; i < K; i++) {
        if (have_testdev) {
            mmio_write32(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_SUM, 1);
            if (i < LOGN)
                outl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_PUSH, tag | i);
        }
        atomic_inc32(&ram_counter);
    }
}

static void ap_main(void *arg)
{
    (void)arg;
    atomic_store32(&ap_apic, lapic_id());
    spin_wait_nonzero(&ap_go, AP_START_CYCLES); /* start together with the BSP */
    work(TAG_AP);
    atomic_store32(&ap_done, 1);
}

/* Pop the whole log and check it is exactly both CPUs' values, each in its order. */
static void check_log(void)
{
    check_eq("log holds both CPUs' entries", inl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_LEN),
             2 * LOGN);
    uint32_t next_bsp = 0, next_ap = 0, bad = 0;
    for (uint32_t n = 0; n < 2 * LOGN; n++) {
        uint32_t v = inl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_POP);
        if (v == (TAG_BSP | next_bsp))
            next_bsp++;
        else if (v == (TAG_AP | next_ap))
            next_ap++;
        else
            bad++;
    }
    check_eq("BSP log entries, in order", next_bsp, LOGN);
    check_eq("AP log entries, in order", next_ap, LOGN);
    check_eq("unexpected log entries", bad, 0);
    check_eq("log empty afterwards", inl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_LEN), 0);
}

int guest_main(uint32_t mb_magic, uint32_t mb_info)
{
    (void)mb_info;
    serial_init();
    gprint("smp: two CPUs on the I/O path\n");
    check_eq("multiboot magic", mb_magic, MULTIBOOT_BOOTLOADER_MAGIC);
    have_testdev = testdev_present();
    if (have_testdev) {
        outl(VMIO_TESTDEV_PIO_BASE + VMIO_TESTDEV_LOG_LEN, 0); /* empty the log */
        check_eq("SUM starts at 0", mmio_read64(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_SUM), 0);
    } else {
        test_skip("testdev not present");
    }
    check_eq("BSP APIC ID", lapic_id(), 0);
    if (!check_eq("AP started",
                  (uint64_t)ap_start(AP_APIC_ID, ap_main, 0, ap_stack + sizeof(ap_stack),
                                     AP_START_CYCLES),
                  0))
        return test_summary("smp");
    atomic_store32(&ap_go, 1);
    work(TAG_BSP);
    if (!check_eq("AP finished", spin_wait_nonzero(&ap_done, AP_DONE_CYCLES), 1))
        return test_summary("smp");
    check_eq("AP APIC ID", atomic_load32(&ap_apic), AP_APIC_ID);
    check_eqf(atomic_load32(&ram_counter), 2 * K, "RAM counter (LOCK INC) == 2 x %u", K);
    if (have_testdev) {
        check_eqf(mmio_read64(VMIO_TESTDEV_MMIO_BASE + VMIO_TESTDEV_SUM), 2 * K,
                  "testdev SUM (MMIO adds from both CPUs) == 2 x %u", K);
        check_log();
    } else {
        test_skip("testdev SUM and LOG (testdev not present)");
    }
    return test_summary("smp");
}
