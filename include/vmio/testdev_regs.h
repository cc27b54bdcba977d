/*
 * Register layout of vmio's "testdev", shared by the device model
 * (src/devices/testdev.c) and the freestanding test guests. Only #defines:
 * safe to include from guest code.
 *
 * The same register file answers in the MMIO window and the port window, by
 * offset. Every register is 8 bytes wide and accepts any access of width 1,
 * 2, 4 or 8 that lies inside it: an access at register offset k of width w
 * reads or writes bytes k..k+w-1 of the 64-bit register (little-endian).
 * Accesses that straddle two registers, or fall outside the ones listed,
 * read as all-ones and are ignored on write (and counted in BAD).
 */
#ifndef VMIO_TESTDEV_REGS_H
#define VMIO_TESTDEV_REGS_H

#define VMIO_TESTDEV_MMIO_BASE 0xd0000000ULL /* guest-physical */
#define VMIO_TESTDEV_MMIO_SIZE 0x1000
#define VMIO_TESTDEV_PIO_BASE 0x7000 /* I/O port */
#define VMIO_TESTDEV_PIO_SIZE 0x100
/*
 * The MMIO window's status page: word i (offset 8 * i) holds the register at
 * offset 8 * i as of the last access (LOG_POP: the oldest entry, not popped).
 * Guest reads there are plain memory reads (no exit); writes reach the
 * registers at the same offsets, through exits.
 */
#define VMIO_TESTDEV_STATUS_BASE 0xd0010000ULL
#define VMIO_TESTDEV_STATUS_SIZE 0x1000
/*
 * The same registers as x86 MSRs: register at offset 8 * i is MSR
 * VMIO_TESTDEV_MSR_BASE + i (an index no CPU or hypervisor defines). RDMSR/WRMSR
 * move the whole 64-bit register.
 */
#define VMIO_TESTDEV_MSR_BASE 0x564d4900u
#define VMIO_TESTDEV_MSR_COUNT (VMIO_TESTDEV_END / 8)

/* Read/write scratch: reads return what was written, byte for byte. */
#define VMIO_TESTDEV_ECHO 0x00
/* Read-only pattern: byte i of the register reads as 0x11 * (i + 1). */
#define VMIO_TESTDEV_PATTERN 0x08
#define VMIO_TESTDEV_PATTERN_VALUE 0x8877665544332211ULL
/* Read-only: number of reads of this window before this one. */
#define VMIO_TESTDEV_READS 0x10
/* Read-only: number of writes to this window; any write to READS resets both. */
#define VMIO_TESTDEV_WRITES 0x18
/*
 * Read-only: description of the previous access to this window:
 * bits 0-11 offset, bits 16-19 width, bit 24 set for a write.
 */
#define VMIO_TESTDEV_LAST 0x20
/* Adder: a write adds the written (zero-extended) value; a read returns the sum. */
#define VMIO_TESTDEV_SUM 0x28
/*
 * Log FIFO (64 entries): each write to LOG_PUSH appends (value, width);
 * each read of LOG_POP removes the oldest entry and returns its value (all-ones
 * when empty); LOG_LEN reads the number of entries; any write to LOG_LEN
 * empties it. Used to check that string I/O elements arrive in order.
 */
#define VMIO_TESTDEV_LOG_PUSH 0x30
#define VMIO_TESTDEV_LOG_POP 0x38
#define VMIO_TESTDEV_LOG_LEN 0x40
#define VMIO_TESTDEV_LOG_DEPTH 64
/* Read-only: accesses that were rejected (straddling or outside). */
#define VMIO_TESTDEV_BAD 0x48
/*
 * A deliberately slow register: a write of v makes that write's handling
 * take v milliseconds (at most VMIO_TESTDEV_DELAY_MAX_MS), for the stall
 * watchdog; reads return the last v.
 */
#define VMIO_TESTDEV_DELAY 0x50
#define VMIO_TESTDEV_DELAY_MAX_MS 10000
/*
 * The write buffer: every write inside [VMIO_TESTDEV_WBUF, VMIO_TESTDEV_WBUF_END) (cut
 * short by a smaller window, as the 256-port one) stores its bytes there (reads give them back) and folds
 * (offset, width, value) into WBUF_HASH, so the hash says whether the device
 * saw the guest's writes in the guest's order. vmio lets KVM buffer these
 * writes (coalesced MMIO and PIO): a burst costs a few exits, not one each.
 * WBUF_HASH (read) is FNV-1a 64 over, per write, the bytes of offset (2,
 * little-endian), width (1) and value (8, little-endian); any write to
 * WBUF_COUNT resets both. WBUF_COUNT (read): writes to the buffer.
 */
#define VMIO_TESTDEV_WBUF_HASH 0x58
#define VMIO_TESTDEV_WBUF_COUNT 0x60
#define VMIO_TESTDEV_WBUF 0x80
/* The buffer ends before the window does: offsets from here on are no register
 * (BAD), and the last page bytes stay free for "across the window end" tests,
 * which KVM splits at the page boundary into two accesses. */
#define VMIO_TESTDEV_WBUF_END 0x800
#define VMIO_TESTDEV_WBUF_HASH_SEED 0xcbf29ce484222325ULL
#define VMIO_TESTDEV_WBUF_HASH_PRIME 0x100000001b3ULL
/*
 * A doorbell: a write of any value rings it; RINGS (read) counts the rings
 * the device has seen, a write to RINGS resets it. `vmio run` registers the
 * 4-byte DOORBELL as an ioeventfd (vmio/doorbell.h): a ring costs no exit,
 * and RINGS catches up on the I/O thread, so a guest polls it.
 */
#define VMIO_TESTDEV_DOORBELL 0x68
#define VMIO_TESTDEV_RINGS 0x70
/* First offset past the register file. */
#define VMIO_TESTDEV_END 0x78

/* Debug-exit (QEMU isa-debug-exit compatible) and debug console ports. */
#define VMIO_DEBUG_EXIT_PORT 0xf4
#define VMIO_DEBUGCON_PORT 0xe9
#define VMIO_COM1_PORT 0x3f8

#endif
