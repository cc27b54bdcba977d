/*
 * The system clock and the manual test clock (see vmio/clock.h).
 *
 * The manual clock's fields are read and written with relaxed atomics so a
 * reader on another thread (a device, the input pump) never sees a torn value.
 */
#include <time.h>

#include "vmio/clock.h"

static uint64_t system_monotonic_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t system_realtime_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

static const struct vmio_clock system_clock = {
    .monotonic_ns = system_monotonic_ns,
    .realtime_ns = system_realtime_ns,
    .ctx = NULL,
};

const struct vmio_clock *vmio_clock_system(void)
{
    return &system_clock;
}

static uint64_t manual_monotonic_ns(void *ctx)
{
    struct vmio_manual_clock *m = ctx;
    return __atomic_load_n(&m->mono_ns, __ATOMIC_RELAXED);
}

static int64_t manual_realtime_ns(void *ctx)
{
    struct vmio_manual_clock *m = ctx;
    return __atomic_load_n(&m->real_ns, __ATOMIC_RELAXED);
}

void vmio_manual_clock_init(struct vmio_manual_clock *m, uint64_t mono_ns, int64_t real_ns)
{
    m->clock = (struct vmio_clock){
        .monotonic_ns = manual_monotonic_ns,
        .realtime_ns = manual_realtime_ns,
        .ctx = m,
    };
    __atomic_store_n(&m->mono_ns, mono_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&m->real_ns, real_ns, __ATOMIC_RELAXED);
}

void vmio_manual_clock_advance(struct vmio_manual_clock *m, uint64_t ns)
{
    __atomic_fetch_add(&m->mono_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->real_ns, (int64_t)ns, __ATOMIC_RELAXED);
}

uint64_t vmio_clock_now(const struct vmio_clock *clock)
{
    if (!clock) /* the default, on the exit hot path: a direct call */
        return system_monotonic_ns(NULL);
    return clock->monotonic_ns(clock->ctx);
}
