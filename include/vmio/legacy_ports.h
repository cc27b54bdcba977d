/*
 * The small PC platform ports a stock Linux kernel touches besides the RTC:
 * the POST/delay port 0x80, System Control Port A (0x92) and a minimal
 * i8042 keyboard controller (0x60 data, 0x64 status/command) that exists so
 * the guest can reset the machine. docs/devices/legacy-ports.md says what
 * each answers and why.
 *
 * Each is a normal vmio device for the PIO bus; the constructors say where
 * to register it. Resets reach the machine through a vmio_power_fn
 * (vmio/power.h), called from the vCPU thread that made the access, after
 * the device has released its own lock.
 */
#ifndef VMIO_LEGACY_PORTS_H
#define VMIO_LEGACY_PORTS_H

#include <stdint.h>

#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/power.h"

#define VMIO_PORT80 0x80
#define VMIO_PORT92 0x92
#define VMIO_I8042_DATA 0x60
#define VMIO_I8042_COMMAND 0x64

/* ---- port 0x80 ---- */

/*
 * vmio_port80_create - the POST-code / I/O-delay port: register it at 0x80,
 * length 1. Writes are accepted and dropped (the last byte and a count are
 * kept for diagnostics); reads return all-ones at the access width, as
 * QEMU's port does. Lock-free: Linux writes it for every I/O delay.
 * Errors: -EINVAL for an empty @name or NULL @out; -ENOMEM.
 * Ownership: the caller owns *@out (destroy with (*out)->ops->destroy()).
 */
int vmio_port80_create(const char *name, struct vmio_device **out, struct vmio_error *err);

/*
 * vmio_port80_get - the last byte written (*@last; 0 before any write) and
 * the number of writes (*@writes); either pointer may be NULL.
 * Errors: -EINVAL when @dev is not a port-0x80 device.
 */
int vmio_port80_get(struct vmio_device *dev, uint8_t *last, uint64_t *writes);

/* ---- port 0x92 ---- */

#define VMIO_PORT92_RESET 0x01 /* write 1: fast reset (one-shot; reads back 0) */
#define VMIO_PORT92_A20 0x02   /* A20 gate: reads back as written; starts at 1 */

/*
 * vmio_port92_create - System Control Port A: register it at 0x92, length
 * 1. Every write stores bits 7-1 (read back as written; bit 1, the A20
 * gate, has no effect: A20 is always on under KVM) and, when bit 0 is set,
 * calls @power(@ctx, VMIO_POWER_RESET) (@power may be NULL). Reads return
 * the stored bits with bit 0 clear; the power-on value is 0x02.
 * Errors: -EINVAL for an empty @name or NULL @out; -ENOMEM.
 * Ownership: as vmio_port80_create().
 */
int vmio_port92_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **out,
                       struct vmio_error *err);

/* ---- i8042 ---- */

/* Status register bits (reads of port 0x64). */
#define VMIO_I8042_STR_OBF 0x01     /* output buffer full: a byte waits at 0x60 */
#define VMIO_I8042_STR_IBF 0x02     /* input buffer full: never (commands complete at once) */
#define VMIO_I8042_STR_SYS 0x04     /* system flag (CTR bit 2) */
#define VMIO_I8042_STR_CMD 0x08     /* last byte written went to 0x64 (a command) */
#define VMIO_I8042_STR_UNLOCK 0x10  /* keyboard not inhibited by the key lock */
#define VMIO_I8042_STR_AUXDATA 0x20 /* the waiting byte came from the auxiliary port */

/* Controller command byte (CTR) bits. */
#define VMIO_I8042_CTR_KBDINT 0x01
#define VMIO_I8042_CTR_AUXINT 0x02
#define VMIO_I8042_CTR_SYS 0x04
#define VMIO_I8042_CTR_KBDDIS 0x10
#define VMIO_I8042_CTR_AUXDIS 0x20
#define VMIO_I8042_CTR_XLATE 0x40
#define VMIO_I8042_CTR_RESET 0x45 /* keyboard interrupt, system flag, translation */

/*
 * vmio_i8042_create - a minimal i8042 with nothing plugged into either
 * port: two devices that share one controller, *@data for port 0x60 and
 * *@command for port 0x64 (register each with length 1). Command 0xfe (and
 * every pulse command 0xf0-0xfe with bit 0 clear), or an output-port write
 * (0xd1) with bit 0 clear, calls @power(@ctx, VMIO_POWER_RESET) (@power may
 * be NULL). The controller commands it answers are listed in
 * docs/devices/legacy-ports.md; others are accepted and ignored, and bytes
 * meant for a keyboard or mouse are dropped, so a polling guest never waits
 * on a busy controller (IBF is never set). No interrupt line is driven.
 * @name is the base of the devices' names ("<name>-data", "<name>-cmd").
 * Errors: -EINVAL for an empty @name or NULL @data/@command; -ENOMEM.
 * Ownership: the caller owns both devices and destroys each once
 * ((*dev)->ops->destroy(*dev), or vmio_vm_destroy() for devices added to a
 * VM); the shared controller is freed with the second.
 */
int vmio_i8042_create(const char *name, vmio_power_fn power, void *ctx, struct vmio_device **data,
                      struct vmio_device **command, struct vmio_error *err);

#endif
