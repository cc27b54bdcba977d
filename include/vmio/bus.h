/*
 * Address buses: map address ranges to devices.
 *
 * One bus instance serves one address space (MMIO: 64-bit guest-physical
 * addresses; PIO: 16-bit ports). Registration rejects any overlap with an
 * error naming both devices. Lookup is a binary search over an immutable,
 * sorted snapshot: vCPU threads never take a lock. Registration copies the
 * snapshot, inserts, and publishes the new one atomically; old snapshots are
 * freed once every reader has passed a quiescent point (see
 * vmio_bus_reader_quiesce()).
 *
 * An access is claimed only when it lies entirely inside one device's range:
 * an access that straddles two devices, or that runs off the end of one, is
 * unclaimed.
 */
#ifndef VMIO_BUS_H
#define VMIO_BUS_H

#include <stdint.h>

#include "vmio/bus_range.h"
#include "vmio/device.h"
#include "vmio/error.h"
#include "vmio/exit.h"

struct vmio_bus;

/* Per-vCPU reader registration used to decide when old snapshots can be freed. */
struct vmio_bus_reader;

/*
 * vmio_bus_new - create an empty bus for @space.
 * @name: for error messages ("mmio", "pio"); copied.
 * Returns the bus, or NULL when out of memory. Free with vmio_bus_free().
 */
struct vmio_bus *vmio_bus_new(enum vmio_space space, const char *name);

/*
 * vmio_bus_free - free @bus (may be NULL) and every snapshot. Does not destroy
 * the devices. No reader may use the bus any more.
 */
void vmio_bus_free(struct vmio_bus *bus);

/*
 * vmio_bus_register - make @dev own [@base, @base + @len).
 * Errors: -EINVAL for len 0, a range that wraps, or a PIO range above 0xffff;
 * -EEXIST when the range overlaps a registered one (the message names both
 * devices and both ranges); -ENOMEM. The bus does not own @dev; it must
 * outlive its registration. Thread-safe against lookups and other
 * registrations.
 */
int vmio_bus_register(struct vmio_bus *bus, struct vmio_device *dev, uint64_t base, uint64_t len,
                      struct vmio_error *err);

/*
 * vmio_bus_unregister - remove the range that starts at @base and belongs to
 * @dev. Errors: -ENOENT if there is no such range. After return, new lookups
 * no longer find it; a vCPU that looked it up earlier may still be finishing
 * one access (and, with its remembered range, make that one access after
 * the return): call vmio_bus_synchronize() (or use vmio_vm_remove_device())
 * before freeing what the device's callbacks use.
 */
int vmio_bus_unregister(struct vmio_bus *bus, struct vmio_device *dev, uint64_t base,
                        struct vmio_error *err);

/*
 * vmio_bus_synchronize - wait until every reader of @bus has quiesced since
 * the call began: no range unregistered before it is in use by a reader, or
 * will be. Readers quiesce before every guest entry, so a vCPU inside the
 * guest (even halted there) must be made to leave it: @nudge(@ctx) is called
 * about every millisecond while some reader lags (vmio_vm_remove_device()
 * signals the vCPU threads; NULL: just wait). Never from a reader's own
 * thread (a vCPU's device callback): it would wait for itself.
 */
void vmio_bus_synchronize(struct vmio_bus *bus, void (*nudge)(void *ctx), void *ctx);

/*
 * vmio_bus_lookup - find the range that contains all of [@addr, @addr + @width).
 * Returns NULL when no single range contains the whole access. Lock-free and
 * runs under no reader: the returned pointer stays valid only until the
 * next registration change, so use it where registrations cannot change
 * meanwhile (setup, listings, a stopped VM). vCPU threads look up through
 * their own reader (vmio_bus_reader_lookup()), whose result stays valid
 * until the reader's next quiesce whatever registrations happen.
 */
const struct vmio_bus_range *vmio_bus_lookup(const struct vmio_bus *bus, uint64_t addr,
                                             uint64_t width);

/* vmio_bus_count - number of registered ranges. */
unsigned vmio_bus_count(const struct vmio_bus *bus);

/*
 * vmio_bus_range_at - the @i-th range in address order (0 <= i < count), or
 * NULL. For listings; same lifetime rule as vmio_bus_lookup().
 */
const struct vmio_bus_range *vmio_bus_range_at(const struct vmio_bus *bus, unsigned i);

/* vmio_bus_space / vmio_bus_name - what the bus was created with. */
enum vmio_space vmio_bus_space(const struct vmio_bus *bus);
const char *vmio_bus_name(const struct vmio_bus *bus);

/*
 * vmio_bus_reader_add - register a reader (one per vCPU thread). Returns NULL
 * when out of memory. Readers call vmio_bus_reader_quiesce() whenever they
 * hold no range pointer (the run loop does so before each guest entry).
 */
struct vmio_bus_reader *vmio_bus_reader_add(struct vmio_bus *bus);

/*
 * vmio_bus_retired_count - snapshots replaced by a registration and not yet
 * freed because some reader may still hold them (it has not quiesced since).
 * Diagnostics and tests: with every reader quiescing it stays at most 1
 * after a registration; with none registered it is 0.
 */
unsigned vmio_bus_retired_count(struct vmio_bus *bus);
void vmio_bus_reader_quiesce(struct vmio_bus_reader *reader);
void vmio_bus_reader_remove(struct vmio_bus *bus, struct vmio_bus_reader *reader);

/*
 * vmio_bus_reader_lookup - vmio_bus_lookup() on @reader's bus, by @reader's
 * thread only, remembering the range found: the next lookup inside the same
 * range needs no search while no registration has been published since the
 * reader's last quiesce. Same result and lifetime rule as vmio_bus_lookup().
 */
const struct vmio_bus_range *vmio_bus_reader_lookup(struct vmio_bus_reader *reader, uint64_t addr,
                                                    uint64_t width);

#endif
