/*
 * Rate limits for diagnostic lines a guest can cause (unclaimed accesses
 * under the `log` policy, traces shown on a terminal): a guest that spins on
 * an unclaimed port must not flood the log, nor slow itself down writing it.
 *
 * A limit lets `burst` lines through per window of `window_ns` on its clock
 * (vmio/clock.h: the system's monotonic clock, or a manual one in tests) and
 * counts the others. The first line let through after some were suppressed
 * carries the count, so the log says "N lines suppressed" where the gap is;
 * vmio_ratelimit_take_suppressed() gives what is still unreported (for a
 * final summary).
 *
 * Thread-safe: one mutex per limit, taken only on the (rare) path that
 * prints a line, never on the path of a claimed access.
 */
#ifndef VMIO_RATELIMIT_H
#define VMIO_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmio/bus.h"
#include "vmio/clock.h"
#include "vmio/stats.h"

struct vmio_ratelimit {
    pthread_mutex_t lock;
    const struct vmio_clock *clock; /* borrowed; NULL: the system clock */
    uint64_t window_ns;
    unsigned burst;
    bool started;          /* window_start is set */
    uint64_t window_start; /* clock time the current window began */
    unsigned used;         /* lines let through in the current window */
    uint64_t suppressed;   /* lines suppressed and not yet reported */
};

/*
 * vmio_ratelimit_init - a limit of @burst lines per @window_ns on @clock
 * (borrowed; NULL = the system's monotonic clock). @burst 0 suppresses
 * everything (only counts).
 */
void vmio_ratelimit_init(struct vmio_ratelimit *rl, const struct vmio_clock *clock, unsigned burst,
                         uint64_t window_ns);

/* vmio_ratelimit_destroy - release @rl's mutex (its counts are lost). */
void vmio_ratelimit_destroy(struct vmio_ratelimit *rl);

/*
 * vmio_ratelimit_allow - whether one more line may be printed now. When it
 * may and lines were suppressed before it, *@suppressed (may be NULL)
 * receives how many (print "N lines suppressed" first) and the count
 * restarts; otherwise it receives 0. A suppressed line is counted.
 */
bool vmio_ratelimit_allow(struct vmio_ratelimit *rl, uint64_t *suppressed);

/* vmio_ratelimit_take_suppressed - the lines suppressed and not yet reported; resets them. */
uint64_t vmio_ratelimit_take_suppressed(struct vmio_ratelimit *rl);

/* The limits of the `log` policy's unclaimed-access lines. */
#define VMIO_LOG_BURST 10                /* lines per window, per source */
#define VMIO_LOG_WINDOW_NS 1000000000ull /* one second */

/*
 * The sources whose unclaimed-access lines are limited separately:
 * unclaimed[space] for accesses in no device's window of the MMIO (0) or
 * port (1) space, device[id] for accesses that start in a device's window
 * but that it cannot take (they run past its end, or have a width no device
 * has), so one misbehaving driver cannot hide the others' lines.
 */
struct vmio_log_limits {
    struct vmio_ratelimit unclaimed[2];
    struct vmio_ratelimit device[VMIO_STATS_MAX_DEVICES];
};

/* vmio_log_limits_init - every source limited to VMIO_LOG_BURST per VMIO_LOG_WINDOW_NS. */
void vmio_log_limits_init(struct vmio_log_limits *l, const struct vmio_clock *clock);

/*
 * vmio_log_limits_flush - print to @out a vmio_log_suppressed() line per
 * source with unreported suppressed lines (the end of a flood that
 * stopped), naming the device (@names[id]; NULL entries, or a NULL @names,
 * are "(unnamed)").
 */
void vmio_log_limits_flush(struct vmio_log_limits *l, FILE *out, const char *const *names,
                           unsigned nnames);

/*
 * vmio_log_suppressed - the summary line for @n suppressed unclaimed-access
 * lines of one source: in @space's gaps (@device NULL) or at @device:
 *   "vmio: 25 more unclaimed pio access lines were suppressed (at most 10 per
 *    second from one source)"
 *   "vmio: 3 more unclaimed access lines at device com1 were suppressed (...)"
 */
void vmio_log_suppressed(FILE *out, uint64_t n, enum vmio_space space, const char *device);

/* vmio_log_limits_destroy - release @l's mutexes. */
void vmio_log_limits_destroy(struct vmio_log_limits *l);

#endif
