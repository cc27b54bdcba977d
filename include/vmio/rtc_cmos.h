/*
 * The PC's CMOS real-time clock, a Motorola MC146818 at I/O ports 0x70
 * (index) and 0x71 (data), interrupting on ISA IRQ 8. docs/devices/rtc-cmos.md
 * describes the registers, the timing model and what is not modelled.
 *
 * Register it on the PIO bus at VMIO_RTC_CMOS_PORT_BASE with length
 * VMIO_RTC_CMOS_PORT_COUNT. Offset 0 is the index port (bits 6-0 select a
 * register; bit 7 is the NMI mask, kept and readable with
 * vmio_rtc_cmos_nmi_masked(); reads of the port return 0xff), offset 1 the data
 * port. A 16-bit access at offset 0 is an index write/read followed by a
 * data one.
 *
 * Time comes from an injectable struct vmio_clock: the guest's wall clock
 * is the clock's realtime at creation, then advances with its monotonic
 * time (so host clock steps do not reach the guest), plus the offset the
 * guest sets by writing the time registers. Nothing runs on its own: the
 * update-in-progress bit, the interrupt flags of register C and the IRQ
 * line are computed from the clock at each access, at vmio_rtc_cmos_poll(), and
 * vmio_rtc_cmos_next_event() tells a host timer when to call it.
 *
 * Concurrency: every entry point takes the device's mutex. The irq
 * callback is called with it held: it must not call back into the device.
 */
#ifndef VMIO_RTC_CMOS_H
#define VMIO_RTC_CMOS_H

#include <stdint.h>

#include "vmio/clock.h"
#include "vmio/device.h"
#include "vmio/error.h"

#define VMIO_RTC_CMOS_PORT_BASE 0x70
#define VMIO_RTC_CMOS_PORT_COUNT 2
#define VMIO_RTC_CMOS_IRQ 8 /* ISA IRQ 8, GSI 8 in KVM's default routing */

/* Register indices. */
#define VMIO_RTC_SECONDS 0x00
#define VMIO_RTC_SECONDS_ALARM 0x01
#define VMIO_RTC_MINUTES 0x02
#define VMIO_RTC_MINUTES_ALARM 0x03
#define VMIO_RTC_HOURS 0x04
#define VMIO_RTC_HOURS_ALARM 0x05
#define VMIO_RTC_DAY_OF_WEEK 0x06 /* 1 = Sunday .. 7 */
#define VMIO_RTC_DAY_OF_MONTH 0x07
#define VMIO_RTC_MONTH 0x08
#define VMIO_RTC_YEAR 0x09 /* 0..99 */
#define VMIO_RTC_REG_A 0x0a
#define VMIO_RTC_REG_B 0x0b
#define VMIO_RTC_REG_C 0x0c
#define VMIO_RTC_REG_D 0x0d
#define VMIO_RTC_CENTURY 0x32 /* IBM PC/AT convention (ACPI FADT "century" names it) */
#define VMIO_RTC_CMOS_SIZE 128

/* Register A */
#define VMIO_RTC_A_UIP 0x80     /* update in progress (read-only) */
#define VMIO_RTC_A_DV_MASK 0x70 /* divider: 0x20 = 32.768 kHz time base, running */
#define VMIO_RTC_A_DV_32K 0x20
#define VMIO_RTC_A_RS_MASK 0x0f /* periodic rate select; 0 = off */
/* Register B */
#define VMIO_RTC_B_SET 0x80  /* freeze updates so the guest can set the time */
#define VMIO_RTC_B_PIE 0x40  /* periodic interrupt enable */
#define VMIO_RTC_B_AIE 0x20  /* alarm interrupt enable */
#define VMIO_RTC_B_UIE 0x10  /* update-ended interrupt enable */
#define VMIO_RTC_B_SQWE 0x08 /* square wave (no pin here: stored only) */
#define VMIO_RTC_B_DM 0x04   /* 1 = binary, 0 = BCD */
#define VMIO_RTC_B_24H 0x02  /* 1 = 24-hour, 0 = 12-hour with bit 7 of the hour = PM */
#define VMIO_RTC_B_DSE 0x01  /* daylight saving (stored only) */
/* Register C (read-only, cleared by reading) */
#define VMIO_RTC_C_IRQF 0x80
#define VMIO_RTC_C_PF 0x40
#define VMIO_RTC_C_AF 0x20
#define VMIO_RTC_C_UF 0x10
/* Register D (read-only) */
#define VMIO_RTC_D_VRT 0x80 /* valid RAM and time: the battery is fine */

/* Alarm registers with both top bits set match any value ("don't care"). */
#define VMIO_RTC_ALARM_DONT_CARE 0xc0

/* Reset values: 32.768 kHz, 1024 Hz periodic rate; BCD, 24-hour. */
#define VMIO_RTC_REG_A_RESET 0x26
#define VMIO_RTC_REG_B_RESET 0x02

/*
 * The update-in-progress window: UIP reads 1 during the 244 us before an
 * update cycle and the 1984 us of the cycle; the time registers change at
 * its end. vmio places the window just before each second boundary of the
 * guest's clock and changes the registers at the boundary, so a guest that
 * reads UIP = 0 has at least 2228 us before the registers change (the chip
 * promises 244 us), and one that reads UIP = 1 sees it clear at the change.
 */
#define VMIO_RTC_CMOS_UIP_NS 2228000ULL

/* Interrupt line callback: @level 1 (asserted) or 0; only on changes. */
typedef void (*vmio_rtc_cmos_irq_fn)(void *opaque, int level);

struct vmio_rtc_cmos_config {
    const char *name;               /* for errors, stats and traces; copied; non-empty */
    const struct vmio_clock *clock; /* NULL: vmio_clock_system(); must outlive the device */
    uint64_t ram_below_4g;          /* bytes of RAM from address 0 up to the 4 GiB hole */
    uint64_t ram_above_4g;          /* bytes of RAM from 4 GiB up */
    vmio_rtc_cmos_irq_fn irq;       /* IRQ 8, or NULL */
    void *irq_opaque;               /* passed to @irq */
};

/*
 * vmio_rtc_cmos_create - an RTC in its power-on state (A = 0x26, B = 0x02, C = 0,
 * D = 0x80, the time of @cfg->clock, the CMOS memory-size bytes a BIOS
 * writes: 0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d, with the AT checksum
 * at 0x2e-0x2f, and the century at 0x32).
 * Errors: -EINVAL for NULL @cfg or @out or an empty name; -ENOMEM.
 * Ownership: the caller owns *@out and releases it with
 * (*out)->ops->destroy(*out) (vmio_vm_destroy() does it for a device added
 * to a VM) once no vCPU can access it.
 */
int vmio_rtc_cmos_create(const struct vmio_rtc_cmos_config *cfg, struct vmio_device **out,
                         struct vmio_error *err);

/* vmio_rtc_cmos_is - whether @dev was made by vmio_rtc_cmos_create(); the functions below check it.
 */
int vmio_rtc_cmos_is(const struct vmio_device *dev);

/*
 * vmio_rtc_cmos_poll - bring the interrupt flags and the IRQ line up to the
 * clock's present, as a guest access would (for a host timer armed with
 * vmio_rtc_cmos_next_event()). Returns the line's level (0/1), -EINVAL for a
 * device that is not an RTC.
 */
int vmio_rtc_cmos_poll(struct vmio_device *dev);

/*
 * vmio_rtc_cmos_next_event - when the IRQ line will next rise if nobody touches
 * the RTC: *@mono_ns receives that time on the clock's monotonic timeline.
 * Returns 1 when there is such a time, 0 when none (no enabled interrupt
 * source, updates frozen, or the line is already high until register C is
 * read), -EINVAL for a device that is not an RTC.
 */
int vmio_rtc_cmos_next_event(struct vmio_device *dev, uint64_t *mono_ns);

/* vmio_rtc_cmos_nmi_masked - bit 7 of the last index written (1: NMIs masked), -EINVAL if not an
 * RTC. */
int vmio_rtc_cmos_nmi_masked(struct vmio_device *dev);

/* vmio_rtc_cmos_irq_level - current level of the IRQ line (0/1; 0 for another device). */
int vmio_rtc_cmos_irq_level(struct vmio_device *dev);

#endif
