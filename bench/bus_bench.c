/*
 * bus_bench: cost of one bus lookup (vmio_bus_lookup) and of one whole
 * dispatch (vmio_dispatch: lookup + trivial device write) in ns per access,
 * with 1, 16, 256 and 4096 devices registered on an MMIO bus, for a
 * sequential address pattern (walks the devices in address order) and a
 * random one (xorshift over devices and offsets). No KVM is involved.
 *
 * The point is the shape: a binary search over the sorted snapshot should
 * grow by a roughly constant step per doubling of the device count
 * (O(log n)), not linearly. Each cell is the median of REPS timed loops of
 * ITERS accesses; an empty loop over the same address array is reported as
 * the floor and is not subtracted.
 *
 * Output: a table on stdout and one JSON object (see bench_common.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "vmio/bus.h"
#include "vmio/dispatch.h"

#define REPS 9
#define ITERS (1u << 19)
#define NADDR 16384u /* power of two: the address array is indexed with & (NADDR - 1) */
#define DEV_BASE 0x100000000ULL
#define DEV_STRIDE 0x2000ULL /* a gap between neighbours, as on a real bus */
#define DEV_LEN 0x1000ULL

static const unsigned sizes[] = {1, 16, 256, 4096};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

enum pattern { PAT_SEQ, PAT_RAND, NPATTERNS };
static const char *const pattern_names[] = {"sequential", "random"};

enum op { OP_FLOOR, OP_LOOKUP, OP_DISPATCH, NOPS };
static const char *const op_names[] = {"floor", "lookup", "dispatch"};

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fill_addrs(uint64_t *addrs, unsigned ndev, enum pattern p)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (unsigned i = 0; i < NADDR; i++) {
        uint64_t dev, off;
        if (p == PAT_SEQ) {
            dev = i % ndev;
            off = (uint64_t)(i / ndev % (DEV_LEN / 8)) * 8;
        } else {
            dev = xorshift64(&seed) % ndev;
            off = xorshift64(&seed) % (DEV_LEN / 8) * 8;
        }
        addrs[i] = DEV_BASE + dev * DEV_STRIDE + off;
    }
}

/* Volatile sinks keep the compiler from dropping the timed work. */
static volatile uintptr_t sink;

static double time_loop(enum op op, const struct vmio_bus *bus, const struct vmio_dispatcher *d,
                        const uint64_t *addrs)
{
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    switch (op) {
    case OP_FLOOR:
        for (unsigned i = 0; i < ITERS; i++) {
            acc += (uintptr_t)addrs[i & (NADDR - 1)];
            __asm__ volatile("" : "+r"(acc));
        }
        break;
    case OP_LOOKUP:
        for (unsigned i = 0; i < ITERS; i++)
            acc += (uintptr_t)vmio_bus_lookup(bus, addrs[i & (NADDR - 1)], 4);
        break;
    case OP_DISPATCH: {
        struct vmio_exit e;
        memset(&e, 0, sizeof(e));
        e.reason = VMIO_EXIT_IO;
        e.access = (struct vmio_access){.space = VMIO_SPACE_MMIO,
                                        .dir = VMIO_WRITE,
                                        .width = 4,
                                        .reg = VMIO_REG_NONE,
                                        .count = 1};
        for (unsigned i = 0; i < ITERS; i++) {
            e.access.addr = addrs[i & (NADDR - 1)];
            e.access.data = i;
            acc += (uintptr_t)vmio_dispatch(d, &e, NULL);
        }
        break;
    }
    default:
        break;
    }
    uint64_t dt = bench_now_ns() - t0;
    sink = acc;
    return (double)dt / ITERS;
}

/* results[size][pattern][op]: median ns per access; reps kept for the JSON. */
static double results[NSIZES][NPATTERNS][NOPS];
static double samples[NSIZES][NPATTERNS][NOPS][REPS];

/* One bus per device count, with its devices and both address patterns. */
struct setup {
    struct vmio_bus *bus;
    struct bench_sum_dev *devs;
    struct vmio_dispatcher d;
    uint64_t *addrs[NPATTERNS];
};

static int setup_create(struct setup *s, unsigned ndev)
{
    memset(s, 0, sizeof(*s));
    s->bus = vmio_bus_new(VMIO_SPACE_MMIO, "bench");
    s->devs = calloc(ndev, sizeof(*s->devs));
    for (int p = 0; p < NPATTERNS; p++)
        s->addrs[p] = calloc(NADDR, sizeof(uint64_t));
    if (!s->bus || !s->devs || !s->addrs[PAT_SEQ] || !s->addrs[PAT_RAND]) {
        fprintf(stderr, "bus_bench: out of memory\n");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < ndev; i++) {
        struct vmio_error err = {0};
        s->devs[i].dev = (struct vmio_device){.name = "bench-sum", .ops = &bench_sum_ops, .id = i};
        int rc =
            vmio_bus_register(s->bus, &s->devs[i].dev, DEV_BASE + i * DEV_STRIDE, DEV_LEN, &err);
        if (rc < 0) {
            fprintf(stderr, "bus_bench: %s\n", err.msg);
            return rc;
        }
    }
    s->d = (struct vmio_dispatcher){.mmio = s->bus, .policy = VMIO_UNCLAIMED_IGNORE};
    for (int p = 0; p < NPATTERNS; p++) {
        fill_addrs(s->addrs[p], ndev, (enum pattern)p);
        for (unsigned i = 0; i < NADDR; i++) { /* the setup must hit, or the numbers lie */
            if (!vmio_bus_lookup(s->bus, s->addrs[p][i], 4)) {
                fprintf(stderr, "bus_bench: address 0x%" PRIx64 " missed\n", s->addrs[p][i]);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static void setup_destroy(struct setup *s)
{
    vmio_bus_free(s->bus);
    free(s->devs);
    for (int p = 0; p < NPATTERNS; p++)
        free(s->addrs[p]);
}

/*
 * Every repetition measures every (size, pattern, op) cell once, so slow
 * phases of this shared machine spread over all cells instead of landing on
 * whichever cell happened to run then.
 */
static int run_all(void)
{
    static struct setup setups[NSIZES];
    int rc = 0;
    for (unsigned si = 0; si < NSIZES && rc == 0; si++)
        rc = setup_create(&setups[si], sizes[si]);
    for (int r = -1; r < REPS && rc == 0; r++) { /* r == -1: warm-up, not recorded */
        for (unsigned si = 0; si < NSIZES; si++) {
            struct setup *s = &setups[si];
            for (int p = 0; p < NPATTERNS; p++) {
                for (int op = 0; op < NOPS; op++) {
                    double ns = time_loop((enum op)op, s->bus, &s->d, s->addrs[p]);
                    if (r >= 0)
                        samples[si][p][op][r] = ns;
                }
            }
        }
    }
    for (unsigned si = 0; si < NSIZES; si++) {
        for (int p = 0; p < NPATTERNS; p++) {
            for (int op = 0; op < NOPS; op++) {
                double tmp[REPS];
                memcpy(tmp, samples[si][p][op], sizeof(tmp));
                results[si][p][op] = bench_median(tmp, REPS);
            }
        }
        setup_destroy(&setups[si]);
    }
    return rc;
}

/* Least-squares slope of @y against log2(n): ns per doubling of the device count. */
static double slope_per_doubling(int p, int op)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (unsigned i = 0; i < NSIZES; i++) {
        double x = log2((double)sizes[i]), y = results[i][p][op];
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double n = NSIZES;
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    if (run_all() < 0)
        return 1;

    printf("\n== Bus dispatch (no KVM): ns per access, median of %d x %u accesses ==\n", REPS,
           ITERS);
    printf("%8s %6s | %10s %10s | %10s %10s | %8s\n", "devices", "log2n", "lookup-seq",
           "lookup-rnd", "disp-seq", "disp-rnd", "floor");
    for (unsigned si = 0; si < NSIZES; si++) {
        printf("%8u %6.0f | %10.1f %10.1f | %10.1f %10.1f | %8.2f\n", sizes[si],
               log2((double)sizes[si]), results[si][PAT_SEQ][OP_LOOKUP],
               results[si][PAT_RAND][OP_LOOKUP], results[si][PAT_SEQ][OP_DISPATCH],
               results[si][PAT_RAND][OP_DISPATCH], results[si][PAT_RAND][OP_FLOOR]);
    }
    printf("ns per doubling of devices (least squares over log2 n):\n");
    for (int p = 0; p < NPATTERNS; p++) {
        printf("  %-10s lookup %+.2f ns, dispatch %+.2f ns; 4096 vs 1 device: lookup x%.2f\n",
               pattern_names[p], slope_per_doubling(p, OP_LOOKUP),
               slope_per_doubling(p, OP_DISPATCH),
               results[NSIZES - 1][p][OP_LOOKUP] / results[0][p][OP_LOOKUP]);
    }
    printf("(linear growth would make 4096 devices ~4096x slower than 1; a binary search adds\n"
           " a near-constant step per doubling, i.e. 12 steps from 1 to 4096)\n");

    fprintf(json,
            "{\"benchmark\": \"bus_dispatch\", \"unit\": \"ns_per_access\", "
            "\"reps\": %d, \"iters\": %u, \"results\": [",
            REPS, ITERS);
    for (unsigned si = 0; si < NSIZES; si++) {
        for (int p = 0; p < NPATTERNS; p++) {
            for (int op = 0; op < NOPS; op++) {
                fprintf(json,
                        "%s\n  {\"devices\": %u, \"pattern\": \"%s\", \"op\": \"%s\", "
                        "\"median\": ",
                        si + p + op ? "," : "", sizes[si], pattern_names[p], op_names[op]);
                bench_json_number(json, results[si][p][op]);
                fputs(", \"samples\": ", json);
                bench_json_doubles(json, samples[si][p][op], REPS);
                fputc('}', json);
            }
        }
    }
    fputs("],\n \"ns_per_doubling\": {", json);
    for (int p = 0; p < NPATTERNS; p++) {
        fprintf(json, "%s\"%s\": {\"lookup\": ", p ? ", " : "", pattern_names[p]);
        bench_json_number(json, slope_per_doubling(p, OP_LOOKUP));
        fputs(", \"dispatch\": ", json);
        bench_json_number(json, slope_per_doubling(p, OP_DISPATCH));
        fputc('}', json);
    }
    fputs("}}\n", json);
    bench_json_close(json);
    return 0;
}
