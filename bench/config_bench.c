/*
 * config_bench: how the config path scales with hostile input (no KVM).
 *
 *   memmap   vmio_memmap_build() on N inputs in two layouts that made the old
 *            builder quadratic or worse: "comb" (N/2 touching one-page
 *            mappings that all merge into one, a device window between each
 *            two) and "zebra" (N/2 mappings that cannot merge, a window in
 *            each). Time per build and the build's own step count
 *            (vmio_memmap_work()), for N = 1024 .. VMIO_MEMMAP_MAX_ENTRIES.
 *   config   vmio_config_parse() (TOML, schema, memory map) of a config at
 *            the caps: 4096 entries in each of memory_regions, emu_devices,
 *            passthrough_devices and passthrough_addresses, comb layout.
 *   toml     vmio_toml_parse() of one table of 16384 keys chosen to collide
 *            under the old unkeyed FNV-1a index (low 15 bits), against as
 *            many ordinary keys: time and index probes.
 *
 * The point is the shape: time per input should grow like log N, and the
 * colliding keys should cost what ordinary keys cost. Each cell is the
 * median of REPS runs. Output: tables on stdout and one JSON object.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "config/toml_internal.h"
#include "vmio/config.h"
#include "vmio/memmap.h"
#include "vmio/toml.h"

#define REPS 7
#define CAP 4096 /* entries per config list */
#define TOML_KEYS 16384
#define NSIZES 5

static const char *const layout_names[] = {"comb", "zebra"};

static struct vmio_memmap *build_layout(unsigned layout, size_t n)
{
    struct vmio_memmap *mm = NULL;
    if (vmio_memmap_new(&mm) < 0)
        return NULL;
    char name[32];
    for (size_t i = 0; i < n / 2; i++) {
        uint64_t g = 0x100000000ULL + i * 0x2000;
        const char *backing = layout == 0 ? "/dev/mem" : (i % 2 ? "shm:odd" : "shm:even");
        snprintf(name, sizeof(name), "pt-%zu", i);
        vmio_memmap_add_passthrough(mm, g, 0x2000, backing, g, false, name, NULL);
        snprintf(name, sizeof(name), "dev-%zu", i);
        vmio_memmap_add_device(mm, VMIO_SPACE_MMIO, g + 0x1000, 0x50, name, NULL);
    }
    return mm;
}

static double time_memmap(unsigned layout, size_t n, uint64_t *work)
{
    double t[REPS];
    for (unsigned r = 0; r < REPS; r++) {
        struct vmio_memmap *mm = build_layout(layout, n);
        if (!mm)
            exit(1);
        uint64_t t0 = bench_now_ns();
        if (vmio_memmap_build(mm, NULL) < 0) {
            fprintf(stderr, "config_bench: the %s map of %zu inputs did not build\n",
                    layout_names[layout], n);
            exit(1);
        }
        t[r] = (double)(bench_now_ns() - t0);
        *work = vmio_memmap_work(mm);
        vmio_memmap_free(mm);
    }
    return bench_median(t, REPS);
}

/* Append to a growing buffer; exits when out of memory (a benchmark cannot go on). */
struct buf {
    char *s;
    size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap ? b->cap * 2 : 1 << 16;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            exit(1);
    }
}

static void config_at_caps(struct buf *b)
{
    put(b, "[kernel]\nkernel_path = \"k.elf\"\nmemory_regions = [\n");
    for (size_t i = 0; i < CAP; i++)
        put(b, "[0x%zx, 0x1000, 3, 0],\n", i * 0x2000);
    put(b, "]\n[devices]\npassthrough_devices = [\n");
    for (size_t i = 0; i < CAP; i++)
        put(b, "[\"pt%zu\", 0x%llx, 0x%llx, 0x2000],\n", i, 0x100000000ULL + i * 0x2000,
            0x100000000ULL + i * 0x2000);
    put(b, "]\nemu_devices = [\n");
    for (size_t i = 0; i < CAP; i++)
        put(b, "[\"td%zu\", 0x%llx, 0x50, 0, 0xf0],\n", i, 0x100001000ULL + i * 0x2000);
    put(b, "]\npassthrough_addresses = [\n");
    for (size_t i = 0; i < CAP; i++)
        put(b, "[0x%llx, 0x800],\n", 0x200000000ULL + i * 0x2000);
    put(b, "]\n");
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* One [t] table of TOML_KEYS keys; @colliding: all equal in FNV-1a's low 15 bits. */
static void toml_keys(struct buf *b, bool colliding)
{
    put(b, "[t]\n");
    uint64_t mask = (1ull << 15) - 1, want = fnv1a("c0", 2) & mask;
    char key[24];
    unsigned found = 0;
    for (uint64_t i = 0; found < TOML_KEYS; i++) {
        int kl = snprintf(key, sizeof(key), "c%" PRIx64, i);
        if (colliding && (fnv1a(key, (size_t)kl) & mask) != want)
            continue;
        put(b, "%s = 1\n", key);
        found++;
    }
}

static double time_toml(const struct buf *b, uint64_t *probes)
{
    double t[REPS];
    for (unsigned r = 0; r < REPS; r++) {
        struct vmio_toml_value *root = NULL;
        uint64_t t0 = bench_now_ns();
        if (vmio_toml_parse(b->s, b->len, &root, NULL) < 0)
            exit(1);
        t[r] = (double)(bench_now_ns() - t0);
        *probes = vmio_toml__table_probes(vmio_toml_table_get(root, "t"));
        vmio_toml_free(root);
    }
    return bench_median(t, REPS);
}

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    static const size_t sizes[NSIZES] = {1024, 2048, 4096, 8192, VMIO_MEMMAP_MAX_ENTRIES};
    double ns[2][NSIZES];
    uint64_t work[2][NSIZES];
    printf("memmap build (vmio_memmap_build), median of %d\n", REPS);
    printf("%-7s %8s %12s %12s %14s %12s\n", "layout", "inputs", "us/build", "ns/input", "steps",
           "steps/input");
    for (unsigned l = 0; l < 2; l++)
        for (unsigned i = 0; i < NSIZES; i++) {
            ns[l][i] = time_memmap(l, sizes[i], &work[l][i]);
            printf("%-7s %8zu %12.1f %12.1f %14" PRIu64 " %12.2f\n", layout_names[l], sizes[i],
                   ns[l][i] / 1e3, ns[l][i] / (double)sizes[i], work[l][i],
                   (double)work[l][i] / (double)sizes[i]);
        }

    struct buf cfgdoc = {0};
    config_at_caps(&cfgdoc);
    double tc[REPS];
    size_t entries = 0;
    for (unsigned r = 0; r < REPS; r++) {
        struct vmio_config *cfg = NULL;
        struct vmio_error err = {0};
        uint64_t t0 = bench_now_ns();
        if (vmio_config_parse(cfgdoc.s, cfgdoc.len, "bench/caps.toml", &cfg, &err) < 0) {
            fprintf(stderr, "config_bench: %s\n", err.msg);
            return 1;
        }
        tc[r] = (double)(bench_now_ns() - t0);
        entries = vmio_memmap_count(cfg->memmap);
        vmio_config_free(cfg);
    }
    double cfg_ms = bench_median(tc, REPS) / 1e6;
    printf("\nconfig at the caps (%d entries in each of 4 lists, %zu bytes): %.1f ms to load, "
           "%zu map entries\n",
           CAP, cfgdoc.len, cfg_ms, entries);

    struct buf plain = {0}, evil = {0};
    toml_keys(&plain, false);
    toml_keys(&evil, true);
    uint64_t pp = 0, pe = 0;
    double tp = time_toml(&plain, &pp), te = time_toml(&evil, &pe);
    printf("\nTOML table of %d keys          ms/parse   index probes\n", TOML_KEYS);
    printf("ordinary keys                %9.2f %14" PRIu64 "\n", tp / 1e6, pp);
    printf("FNV-1a-colliding keys        %9.2f %14" PRIu64 "\n", te / 1e6, pe);

    fprintf(json, "{\"memmap\": {");
    for (unsigned l = 0; l < 2; l++) {
        fprintf(json, "%s\"%s\": [", l ? ", " : "", layout_names[l]);
        for (unsigned i = 0; i < NSIZES; i++) {
            fprintf(json, "%s{\"inputs\": %zu, \"ns_per_build\": ", i ? ", " : "", sizes[i]);
            bench_json_number(json, ns[l][i]);
            fprintf(json, ", \"steps\": %" PRIu64 "}", work[l][i]);
        }
        fprintf(json, "]");
    }
    fprintf(json, "}, \"config_at_caps\": {\"bytes\": %zu, \"ms_to_load\": ", cfgdoc.len);
    bench_json_number(json, cfg_ms);
    fprintf(json, ", \"map_entries\": %zu}, \"toml_table\": {\"keys\": %d, \"plain_ms\": ", entries,
            TOML_KEYS);
    bench_json_number(json, tp / 1e6);
    fprintf(json, ", \"plain_probes\": %" PRIu64 ", \"colliding_ms\": ", pp);
    bench_json_number(json, te / 1e6);
    fprintf(json, ", \"colliding_probes\": %" PRIu64 "}}\n", pe);
    bench_json_close(json);
    free(cfgdoc.s);
    free(plain.s);
    free(evil.s);
    return 0;
}
