/*
 * Power events: how a platform device (ACPI sleep/reset registers, the i8042
 * reset line, port 0x92's fast reset) tells its machine that the guest asked
 * to power off or reset.
 *
 * A device model takes a vmio_power_fn and its context at creation and calls
 * it from the vCPU thread that made the access; the machine that wired it
 * decides what happens (vmio run: stop every vCPU and exit with status 0).
 * The callback must not block and must not call back into the device.
 */
#ifndef VMIO_POWER_H
#define VMIO_POWER_H

enum vmio_power_event {
    VMIO_POWER_OFF = 1,   /* the guest asked to be switched off (ACPI S5, ...) */
    VMIO_POWER_RESET = 2, /* the guest asked for a system reset */
};

typedef void (*vmio_power_fn)(void *ctx, enum vmio_power_event event);

/* vmio_power_event_name - "poweroff" or "reset" (static; "?" for others). */
const char *vmio_power_event_name(enum vmio_power_event event);

#endif
