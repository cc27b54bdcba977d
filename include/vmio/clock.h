/*
 * Clocks as an input.
 *
 * Behaviour that depends on time (input-poll throttling, output flush age,
 * handling-time statistics, the RTC's wall clock, watchdogs) reads time
 * through a `struct vmio_clock`, never by calling clock_gettime() directly,
 * so that tests can drive time by hand and no test asserts on elapsed real
 * time. vmio_clock_system() is the real one; vmio_manual_clock_init() makes
 * one whose time only moves when the test says so.
 *
 * Invariant: monotonic_ns never goes backwards for one clock object.
 */
#ifndef VMIO_CLOCK_H
#define VMIO_CLOCK_H

#include <stdint.h>

struct vmio_clock {
    /* monotonic_ns - nanoseconds on a monotonic timeline (arbitrary origin). */
    uint64_t (*monotonic_ns)(void *ctx);
    /* realtime_ns - nanoseconds since the Unix epoch (UTC), as CLOCK_REALTIME. */
    int64_t (*realtime_ns)(void *ctx);
    void *ctx;
};

/*
 * vmio_clock_system - the host's clocks (CLOCK_MONOTONIC, CLOCK_REALTIME).
 * Returns a static object; never NULL; thread-safe.
 */
const struct vmio_clock *vmio_clock_system(void);

/*
 * A clock for tests: time stands still until vmio_manual_clock_advance()
 * moves it. Not thread-safe against concurrent advances (tests advance from
 * one thread; readers on other threads see a torn value never, since each
 * field is one aligned 64-bit word read atomically).
 */
struct vmio_manual_clock {
    struct vmio_clock clock; /* hand &m->clock to the code under test */
    uint64_t mono_ns;
    int64_t real_ns;
};

/* vmio_manual_clock_init - @m starts at monotonic @mono_ns and realtime @real_ns. */
void vmio_manual_clock_init(struct vmio_manual_clock *m, uint64_t mono_ns, int64_t real_ns);

/* vmio_manual_clock_advance - move both timelines of @m forward by @ns. */
void vmio_manual_clock_advance(struct vmio_manual_clock *m, uint64_t ns);

/*
 * vmio_clock_now - @clock's monotonic time; @clock NULL means the system
 * clock (read with a direct call: the per-exit statistics use this).
 */
uint64_t vmio_clock_now(const struct vmio_clock *clock);

#endif
