/*
 * decode_x86_bench: cost of the x86 MMIO path's pure parts, in ns per
 * operation: decoding an instruction, decode + emulate (flags, register
 * injection), effective address, decode-cache lookups (trusting the
 * invalidation invariant, and verifying the bytes) and page invalidation.
 * Prints a table, then one JSON object (bench_json_open(): --json PATH,
 * $VMIO_BENCH_JSON or stdout). Never decides pass or fail; exits non-zero
 * only if a sample instruction does not decode as its comment says.
 *
 * Then a workload: a trace of MMIO exits whose instructions come from a
 * skewed set of sites (a driver's few hot register accesses and a long tail),
 * with a guest page write every WRITE_EVERY exits invalidating one code page,
 * decoded once per exit with and without the cache, for several cache sizes:
 * the hit ratio and the speedup of the decode step.
 *
 * Invariants: each case runs REPS times over a ring of sample instructions;
 * the median ns/op is reported. A volatile sink keeps the work observable.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench_common.h"
#include "vmio/decode.h"

#define REPS 7
#define ITERS 2000000u

static volatile uint64_t sink;

/* Samples, as GNU as encodes them (objdump of the listed instruction). */
struct sample {
    const char *text;
    uint8_t len;
    uint8_t bytes[15];
    uint8_t width;
};
static const struct sample samples[] = {
    {"mov rax, qword ptr [rbx]", 3, {0x48, 0x8b, 0x03}, 8},
    {"mov dword ptr [rbx], eax", 2, {0x89, 0x03}, 4},
    {"mov ax, word ptr [rbx+0x4]", 4, {0x66, 0x8b, 0x43, 0x04}, 2},
    {"mov eax, dword ptr [rcx*4+0x100]", 7, {0x8b, 0x04, 0x8d, 0x00, 0x01, 0x00, 0x00}, 4},
    {"test dword ptr [rbx], 0x5", 6, {0xf7, 0x03, 0x05, 0x00, 0x00, 0x00}, 4},
    {"movzx ax, byte ptr [rbx]", 4, {0x66, 0x0f, 0xb6, 0x03}, 1},
    {"rep movs qword ptr es:[rdi], qword ptr ds:[rsi]", 3, {0xf3, 0x48, 0xa5}, 8},
    {"mov eax, dword ptr gs:0x10", 8, {0x65, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00}, 4},
};
#define NS (sizeof(samples) / sizeof(samples[0]))

static struct vmio_x86_insn decoded[NS];
static struct vmio_x86_cache_entry slots[256];

typedef void (*bench_fn)(unsigned i);

static void b_decode(unsigned i)
{
    struct vmio_x86_insn d;
    const struct sample *s = &samples[i % NS];
    sink += (uint64_t)vmio_x86_decode(s->bytes, s->len, VMIO_X86_MODE_64, &d) + d.len;
}

static void b_emulate(unsigned i)
{
    struct vmio_x86_regs r = {.rip = 0x100000, .rflags = 2};
    r.gpr[VMIO_X86_RCX] = 2;
    struct vmio_x86_effect e;
    sink += (uint64_t)vmio_x86_emulate(&decoded[i % NS], &r, i, &e) + e.value + r.rflags;
}

static void b_decode_emulate(unsigned i)
{
    struct vmio_x86_insn d;
    const struct sample *s = &samples[i % NS];
    struct vmio_x86_regs r = {.rip = 0x100000, .rflags = 2};
    r.gpr[VMIO_X86_RCX] = 2;
    struct vmio_x86_effect e;
    vmio_x86_decode(s->bytes, s->len, VMIO_X86_MODE_64, &d);
    sink += (uint64_t)vmio_x86_emulate(&d, &r, i, &e) + e.value;
}

static void b_address(unsigned i)
{
    static const uint64_t seg[VMIO_X86_NSEG] = {0, 0, 0, 0, 0x10000, 0x20000};
    struct vmio_x86_regs r = {.rip = 0x100000};
    r.gpr[VMIO_X86_RBX] = 0xd0000000 + i;
    r.gpr[VMIO_X86_RCX] = i;
    const struct vmio_x86_insn *d = &decoded[i % NS];
    sink += vmio_x86_linear_address(d, &d->mem, &r, seg);
}

static struct vmio_x86_cache cache;

static void b_cache_trust(unsigned i)
{
    sink += (uintptr_t)vmio_x86_cache_lookup(&cache, 0x100000 + (i % NS) * 16, VMIO_X86_MODE_64,
                                             NULL, 0);
}

static void b_cache_verify(unsigned i)
{
    const struct sample *s = &samples[i % NS];
    sink += (uintptr_t)vmio_x86_cache_lookup(&cache, 0x100000 + (i % NS) * 16, VMIO_X86_MODE_64,
                                             s->bytes, s->len);
}

static void b_invalidate(unsigned i)
{
    sink += vmio_x86_cache_invalidate_page(&cache, 0x900000 + (uint64_t)i * 4096);
}

/* ---- workload: skewed MMIO sites, page writes, with and without the cache ---- */

#define SITES 1024        /* distinct MMIO instruction addresses */
#define TRACE_LEN 200000u /* exits per run */
#define WRITE_EVERY 5000u /* a code page written every this many exits */

static uint64_t trace_gpa[TRACE_LEN];
static uint8_t trace_sample[TRACE_LEN];

/* 80% of exits from 16 hot sites, the rest uniform over all SITES. */
static void make_trace(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (unsigned i = 0; i < TRACE_LEN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned site = (x % 100) < 80 ? (unsigned)((x >> 8) % 16) : (unsigned)((x >> 8) % SITES);
        /* 64 sites per 4 KiB code page; each site runs one of the samples */
        trace_gpa[i] = 0x200000 + (uint64_t)(site / 64) * 4096 + (site % 64) * 32;
        trace_sample[i] = (uint8_t)(site % NS);
    }
}

static double run_trace(struct vmio_x86_cache *c)
{
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < TRACE_LEN; i++) {
        const struct sample *s = &samples[trace_sample[i]];
        if (c && i % WRITE_EVERY == WRITE_EVERY - 1)
            vmio_x86_cache_invalidate_page(c, trace_gpa[i]);
        const struct vmio_x86_insn *d =
            c ? vmio_x86_cache_lookup(c, trace_gpa[i], VMIO_X86_MODE_64, NULL, 0) : NULL;
        struct vmio_x86_insn fresh;
        if (!d) {
            vmio_x86_decode(s->bytes, s->len, VMIO_X86_MODE_64, &fresh);
            if (c)
                vmio_x86_cache_insert(c, trace_gpa[i], &fresh, s->bytes);
            d = &fresh;
        }
        sink += d->len;
    }
    return (double)(bench_now_ns() - t0) / TRACE_LEN;
}

static double run(bench_fn fn, unsigned iters, double *samples_ns)
{
    for (unsigned rep = 0; rep < REPS; rep++) {
        uint64_t t0 = bench_now_ns();
        for (unsigned i = 0; i < iters; i++)
            fn(i);
        samples_ns[rep] = (double)(bench_now_ns() - t0) / iters;
    }
    return bench_median(samples_ns, REPS);
}

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    for (size_t i = 0; i < NS; i++) {
        const struct sample *s = &samples[i];
        if (vmio_x86_decode(s->bytes, s->len, VMIO_X86_MODE_64, &decoded[i]) != VMIO_DECODE_OK ||
            decoded[i].len != s->len || decoded[i].access.width != s->width) {
            fprintf(stderr, "decode_x86_bench: sample '%s' does not decode\n", s->text);
            return 1;
        }
    }
    vmio_x86_cache_init(&cache, slots, 256);
    for (size_t i = 0; i < NS; i++)
        vmio_x86_cache_insert(&cache, 0x100000 + i * 16, &decoded[i], samples[i].bytes);

    struct {
        const char *name;
        bench_fn fn;
        unsigned iters;
        double ns;
    } cases[] = {
        {"decode", b_decode, ITERS, 0},
        {"emulate", b_emulate, ITERS, 0},
        {"decode_emulate", b_decode_emulate, ITERS, 0},
        {"linear_address", b_address, ITERS, 0},
        {"cache_hit_trusted", b_cache_trust, ITERS, 0},
        {"cache_hit_verified", b_cache_verify, ITERS, 0},
        {"cache_invalidate_page_256", b_invalidate, ITERS / 20, 0},
    };
    const size_t nc = sizeof(cases) / sizeof(cases[0]);
    double v[REPS];
    printf("x86 MMIO decode path (%zu sample instructions, median of %d runs)\n", NS, REPS);
    printf("%-28s %10s\n", "case", "ns/op");
    for (size_t c = 0; c < nc; c++) {
        cases[c].ns = run(cases[c].fn, cases[c].iters, v);
        printf("%-28s %10.2f\n", cases[c].name, cases[c].ns);
    }
    printf("cache: %llu hits, %llu misses\n", (unsigned long long)cache.hits,
           (unsigned long long)cache.misses);

    make_trace();
    static struct vmio_x86_cache_entry wslots[4096];
    static const uint32_t sizes[] = {64, 256, 1024, 4096};
    enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };
    double nocache[REPS], with[NSIZES][REPS], ratio[NSIZES];
    for (unsigned rep = 0; rep < REPS; rep++)
        nocache[rep] = run_trace(NULL);
    double base = bench_median(nocache, REPS);
    printf("\nworkload: %u exits over %u sites (80%% from 16 hot), a code page written every "
           "%u exits\n",
           TRACE_LEN, SITES, WRITE_EVERY);
    printf("%-12s %10s %10s %10s\n", "cache slots", "hit ratio", "ns/exit", "speedup");
    printf("%-12s %10s %10.2f %10s\n", "none", "-", base, "1.00x");
    for (unsigned k = 0; k < NSIZES; k++) {
        struct vmio_x86_cache wc;
        uint64_t hits = 0, lookups = 0;
        for (unsigned rep = 0; rep < REPS; rep++) {
            vmio_x86_cache_init(&wc, wslots, sizes[k]); /* cold at every run */
            with[k][rep] = run_trace(&wc);
            hits += wc.hits;
            lookups += wc.hits + wc.misses;
        }
        ratio[k] = lookups ? (double)hits / (double)lookups : 0;
        double ns = bench_median(with[k], REPS);
        printf("%-12u %9.1f%% %10.2f %9.2fx\n", sizes[k], 100.0 * ratio[k], ns, base / ns);
        with[k][0] = ns;
    }

    fprintf(json, "{\"bench\":\"decode_x86\",\"unit\":\"ns/op\",\"samples\":%zu,\"cases\":{", NS);
    for (size_t c = 0; c < nc; c++) {
        fprintf(json, "%s\"%s\":", c ? "," : "", cases[c].name);
        bench_json_number(json, cases[c].ns);
    }
    fprintf(json, "},\"workload\":{\"exits\":%u,\"sites\":%u,\"nocache_ns\":", TRACE_LEN, SITES);
    bench_json_number(json, base);
    fprintf(json, ",\"caches\":[");
    for (unsigned k = 0; k < NSIZES; k++) {
        fprintf(json, "%s{\"slots\":%u,\"hit_ratio\":", k ? "," : "", sizes[k]);
        bench_json_number(json, ratio[k]);
        fprintf(json, ",\"ns\":");
        bench_json_number(json, with[k][0]);
        fprintf(json, ",\"speedup\":");
        bench_json_number(json, base / with[k][0]);
        fprintf(json, "}");
    }
    fprintf(json, "]}}\n");
    bench_json_close(json);
    return 0;
}
