/*
 * What the exit-cache unit test (test_exit_cache.c) and the exit_path fuzz
 * target (tests/fuzz/fuzz_exit_path.c) share: two recording devices on a VM
 * of the fake backend, a decoder from 16 bytes to one scripted access, and
 * the comparison of a warm run (a whole script in one vmio_vcpu_run(), so
 * repeated accesses take the exit cache's fast path) with a cold one (one
 * access per run: every run starts with an empty cache, so the general path
 * takes each). No test framework here: functions return codes, the callers
 * assert (cmocka) or trap (libFuzzer).
 *
 * Layout: device A at MMIO [ES_MMIO, +ES_LEN) and ports [ES_PIO, +0x10),
 * device B right after A at MMIO [ES_MMIO + ES_LEN, +ES_LEN) and on one
 * spare port (ES_PIO + 0x100) a test may remove while the vCPU sleeps.
 */
#ifndef VMIO_TEST_EXIT_SCRIPT_H
#define VMIO_TEST_EXIT_SCRIPT_H

#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/backend_fake.h"
#include "vmio/clock.h"
#include "vmio/device.h"
#include "vmio/stats.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define ES_MMIO 0xc0000000ULL
#define ES_PIO 0x6000
#define ES_LEN 0x100
#define ES_MAX_CALLS 8192
#define ES_STEP_BYTES 16

struct es_call {
    uint8_t space, dir, width;
    uint64_t base, offset, value;
};

/* Records every call; reads answer a value that depends on the call; time moves per call. */
struct es_rec {
    struct vmio_device dev;
    struct vmio_manual_clock *clk;
    struct es_call calls[ES_MAX_CALLS];
    unsigned n;
    int write_ret;            /* returned by writes of stop_value */
    bool bare_stop;           /* VMIO_DEVICE_STOP without vmio_io_stop() (a device bug) */
    uint64_t stop_value;      /* 0: none */
    sem_t *entered, *release; /* non-NULL: block in the call numbered block_at */
    unsigned block_at;
};

static inline void es_rec_note(struct es_rec *r, const struct vmio_io *io, uint8_t dir,
                               uint64_t value)
{
    if (r->n < ES_MAX_CALLS)
        r->calls[r->n] = (struct es_call){(uint8_t)io->space, dir,        (uint8_t)io->width,
                                          io->base,           io->offset, value};
    r->n++;
    /* Deterministic handling times, 0 included (histogram bucket 0). */
    vmio_manual_clock_advance(r->clk, (io->offset % 5) * 300 + io->width * (r->n % 3));
    if (r->entered && r->n == r->block_at) {
        sem_post(r->entered);
        sem_wait(r->release);
    }
}

static inline int es_rec_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    struct es_rec *r = (struct es_rec *)dev;
    /* All eight bytes set, so a wrong width mask or store shows. */
    *value = 0xa1b2c3d4e5f60718ULL ^ (io->offset << 8) ^ ((uint64_t)r->n << 32) ^ io->base;
    es_rec_note(r, io, VMIO_READ, *value);
    return 0;
}

static inline int es_rec_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    struct es_rec *r = (struct es_rec *)dev;
    es_rec_note(r, io, VMIO_WRITE, value);
    if (value == 0x77) /* a careless device: a stop reason set, then no stop */
        (void)vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value);
    if (r->stop_value && value == r->stop_value) {
        if (r->write_ret == VMIO_DEVICE_STOP && !r->bare_stop)
            return vmio_io_stop(io, VMIO_EXIT_DEBUG_EXIT, value);
        return r->write_ret;
    }
    return 0;
}

static const struct vmio_device_ops es_rec_ops = {.read = es_rec_read, .write = es_rec_write};

/*
 * es_add_devices - devices A and B (calloc'd into *@a and *@b, timed on
 * @clk) on @vm's buses as in the layout above. Returns 0 or a negative
 * errno (then nothing is left to free but what *@a and *@b hold).
 */
static inline int es_add_devices(struct vmio_vm *vm, struct vmio_manual_clock *clk,
                                 struct es_rec **a, struct es_rec **b, struct vmio_error *err)
{
    *a = calloc(1, sizeof(**a));
    *b = calloc(1, sizeof(**b));
    if (!*a || !*b)
        return -ENOMEM;
    (*a)->dev = (struct vmio_device){.name = "rec-a", .ops = &es_rec_ops};
    (*b)->dev = (struct vmio_device){.name = "rec-b", .ops = &es_rec_ops};
    (*a)->clk = (*b)->clk = clk;
    int rc = vmio_vm_add_device(vm, VMIO_SPACE_MMIO, &(*a)->dev, ES_MMIO, ES_LEN, err);
    if (rc == 0)
        rc = vmio_vm_add_device(vm, VMIO_SPACE_PIO, &(*a)->dev, ES_PIO, 0x10, err);
    if (rc == 0)
        rc = vmio_vm_add_device(vm, VMIO_SPACE_MMIO, &(*b)->dev, ES_MMIO + ES_LEN, ES_LEN, err);
    if (rc == 0)
        rc = vmio_vm_add_device(vm, VMIO_SPACE_PIO, &(*b)->dev, ES_PIO + 0x100, 1, err);
    return rc;
}

/*
 * es_step - the access that @p (ES_STEP_BYTES) describes: mostly ones a
 * cache can serve (runs on one address), and every kind it must refuse:
 * string port I/O (elements in @elems, 32 bytes), widths 3, 5, 6, 7,
 * accesses across the A/B boundary and past B's end, ports past A's window.
 */
static inline struct vmio_fake_step es_step(const uint8_t p[ES_STEP_BYTES], uint8_t elems[32])
{
    static const uint8_t mmio_widths[] = {1, 2, 4, 8, 1, 2, 4, 8, 3, 5, 6, 7};
    static const uint8_t pio_widths[] = {1, 2, 4};
    struct vmio_fake_step st = {.kind = VMIO_FAKE_IO};
    struct vmio_access *a = &st.access;
    a->dir = p[0] & 1;
    a->count = 1;
    memcpy(&a->data, p + 8, 8);
    if ((p[0] >> 1) % 4 == 0) { /* ports, sometimes string I/O, sometimes past the window */
        a->space = VMIO_SPACE_PIO;
        a->width = pio_widths[p[1] % 3];
        a->addr = ES_PIO + p[2] % 0x14;
        if (p[3] % 8 == 0) {
            a->count = 2 + p[4] % 3;
            for (unsigned i = 0; i < a->count * a->width; i++)
                elems[i] = p[8 + i % 8] ^ (uint8_t)i;
            a->buf = elems;
        }
    } else { /* A, B, their boundary, and past B */
        a->space = VMIO_SPACE_MMIO;
        a->width = mmio_widths[p[1] % sizeof(mmio_widths)];
        unsigned where = p[2] % 16, at = p[3];
        a->addr = where < 6    ? ES_MMIO + at % ES_LEN
                  : where < 10 ? ES_MMIO + ES_LEN + at % ES_LEN
                  : where < 13 ? ES_MMIO + ES_LEN - 1 - at % 8
                               : ES_MMIO + 2 * ES_LEN - 4 + at % 8;
        if (p[4] % 8 < 5) /* runs of the same address: the common case */
            a->addr = ES_MMIO + 0x40;
    }
    return st;
}

/* The completion bytes of @steps steps of @fake's vCPU 0, concatenated into @out; -1 on error. */
static inline long es_completions(struct vmio_fake *fake, unsigned steps, uint8_t *out, size_t size)
{
    size_t len = 0;
    for (unsigned i = 0; i < steps; i++) {
        int n = vmio_fake_completion(fake, 0, i, out + len, size - len);
        if (n < 0)
            return -1;
        len += (size_t)n;
    }
    return (long)len;
}

/* One side of a comparison: a fake, its vCPU 0 and the two devices. */
struct es_side {
    struct vmio_fake *fake;
    struct vmio_vcpu *vcpu;
    struct es_rec *a, *b;
    unsigned runs; /* vmio_vcpu_run() calls it took (each ends with one exit of kind other) */
};

/*
 * es_differs - 0 when @w and @c ran the same @steps steps alike: the same
 * device calls in the same order, the same completion bytes, the same
 * statistics to the histogram bucket (but for the "other" exits that end
 * each run); else a code naming the first difference (1 calls, 2 A's
 * calls, 3 B's calls, 4 completions, 5 a kind's counters, 6 a device's,
 * 7 out of memory or an unreadable completion).
 */
static inline int es_differs(const struct es_side *w, const struct es_side *c, unsigned steps)
{
    if (w->a->n != c->a->n || w->b->n != c->b->n)
        return 1;
    if (memcmp(w->a->calls, c->a->calls, sizeof(w->a->calls)) != 0)
        return 2;
    if (memcmp(w->b->calls, c->b->calls, sizeof(w->b->calls)) != 0)
        return 3;
    size_t size = (size_t)steps * 32;
    uint8_t *cw = malloc(size ? size : 1), *cc = malloc(size ? size : 1);
    struct vmio_stats *sw = calloc(1, sizeof(*sw)), *sc = calloc(1, sizeof(*sc));
    int rc = 0;
    long lw = cw && cc && sw && sc ? es_completions(w->fake, steps, cw, size) : -1;
    long lc = lw >= 0 ? es_completions(c->fake, steps, cc, size) : -1;
    if (lw < 0 || lc < 0)
        rc = 7;
    else if (lw != lc || memcmp(cw, cc, (size_t)lw) != 0)
        rc = 4;
    if (rc == 0) {
        vmio_vcpu_stats(w->vcpu, sw);
        vmio_vcpu_stats(c->vcpu, sc);
        if (sw->kind[VMIO_STAT_OTHER].count != w->runs ||
            sc->kind[VMIO_STAT_OTHER].count != c->runs)
            rc = 5;
        sc->kind[VMIO_STAT_OTHER] = sw->kind[VMIO_STAT_OTHER];
        for (unsigned k = 0; rc == 0 && k < VMIO_STAT_NKINDS; k++)
            if (memcmp(&sw->kind[k], &sc->kind[k], sizeof(sw->kind[k])) != 0)
                rc = 5;
        for (unsigned d = 0; rc == 0 && d < VMIO_STATS_MAX_DEVICES; d++)
            if (memcmp(&sw->device[d], &sc->device[d], sizeof(sw->device[d])) != 0)
                rc = 6;
    }
    free(cw);
    free(cc);
    free(sw);
    free(sc);
    return rc;
}

#endif
