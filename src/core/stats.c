/*
 * Exit statistics: summing per-vCPU counters and printing them as a table or
 * as JSON. Nothing here runs on the exit hot path.
 */
#include <inttypes.h>
#include <string.h>

#include "core/vm_internal.h"

static const char *const kind_names[VMIO_STAT_NKINDS] = {
    [VMIO_STAT_MMIO_READ] = "mmio_read",
    [VMIO_STAT_MMIO_WRITE] = "mmio_write",
    [VMIO_STAT_PIO_IN] = "pio_in",
    [VMIO_STAT_PIO_OUT] = "pio_out",
    [VMIO_STAT_SYSREG_READ] = "sysreg_read",
    [VMIO_STAT_SYSREG_WRITE] = "sysreg_write",
    [VMIO_STAT_COALESCED_WRITE] = "coalesced_write",
    [VMIO_STAT_UNCLAIMED_READ] = "unclaimed_read",
    [VMIO_STAT_UNCLAIMED_WRITE] = "unclaimed_write",
    [VMIO_STAT_HLT] = "hlt",
    [VMIO_STAT_OTHER] = "other",
};

const char *vmio_stat_kind_name(enum vmio_stat_kind kind)
{
    return (unsigned)kind < VMIO_STAT_NKINDS ? kind_names[kind] : "?";
}

static void counter_add(struct vmio_stat_counter *d, const struct vmio_stat_counter *s)
{
    d->count += s->count;
    d->elements += s->elements;
    d->ns += s->ns;
    if (s->max_ns > d->max_ns)
        d->max_ns = s->max_ns;
    for (unsigned b = 0; b < VMIO_STAT_HIST_BUCKETS; b++)
        d->hist[b] += s->hist[b];
}

void vmio_stats_add(struct vmio_stats *dst, const struct vmio_stats *src)
{
    for (unsigned i = 0; i < VMIO_STAT_NKINDS; i++)
        counter_add(&dst->kind[i], &src->kind[i]);
    for (unsigned i = 0; i < VMIO_STATS_MAX_DEVICES; i++)
        counter_add(&dst->device[i], &src->device[i]);
}

static uint64_t scale(uint64_t units, double unit_ns)
{
    double ns = (double)units * unit_ns + 0.5;
    return ns >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)ns;
}

void vmio_stats_to_ns(struct vmio_stats *s, double unit_ns)
{
    s->unit_ns = unit_ns;
    if (unit_ns == 1.0)
        return;
    for (unsigned i = 0; i < VMIO_STAT_NKINDS; i++) {
        s->kind[i].ns = scale(s->kind[i].ns, unit_ns);
        s->kind[i].max_ns = scale(s->kind[i].max_ns, unit_ns);
    }
    for (unsigned i = 0; i < VMIO_STATS_MAX_DEVICES; i++) {
        s->device[i].ns = scale(s->device[i].ns, unit_ns);
        s->device[i].max_ns = scale(s->device[i].max_ns, unit_ns);
    }
}

void vmio_vm_stats(struct vmio_vm *vm, struct vmio_stats *out)
{
    pthread_mutex_lock(&vm->lock);
    *out = vm->stats_done;
    for (unsigned i = 0; i < VMIO_MAX_VCPUS; i++)
        if (vm->vcpus[i])
            vmio_vcpu_add_raw_stats(vm->vcpus[i], out);
    pthread_mutex_unlock(&vm->lock);
    vmio_stats_to_ns(out, vmio_timing_unit_ns(&vm->clock));
}

double vmio_stat_percentile_ns(const struct vmio_stat_counter *c, double unit_ns, double p)
{
    uint64_t total = 0, seen = 0;
    for (unsigned b = 0; b < VMIO_STAT_HIST_BUCKETS; b++)
        total += c->hist[b];
    if (total == 0 || p <= 0)
        return 0.0;
    double want = (double)total * (p > 100 ? 100 : p) / 100.0;
    for (unsigned b = 0; b < VMIO_STAT_HIST_BUCKETS; b++) {
        seen += c->hist[b];
        if ((double)seen >= want) {
            double top = b == 0 ? 0.0 : (double)(1ULL << b) * unit_ns; /* times < 2^b units */
            return top < (double)c->max_ns && b + 1 < VMIO_STAT_HIST_BUCKETS ? top
                                                                             : (double)c->max_ns;
        }
    }
    return (double)c->max_ns;
}

static const char *device_name(struct vmio_vm *vm, unsigned id)
{
    if (id == VMIO_STATS_MAX_DEVICES - 1 && vm->ndevices > VMIO_STATS_MAX_DEVICES)
        return "(other devices)";
    return id < vm->ndevices && vm->devices[id]->name ? vm->devices[id]->name : "?";
}

/* Mean handling time per exit, or per access for counters of accesses without exits. */
static double mean_ns(const struct vmio_stat_counter *c)
{
    uint64_t n = c->count ? c->count : c->elements;
    return n ? (double)c->ns / (double)n : 0.0;
}

static void print_row(FILE *out, const char *name, const struct vmio_stat_counter *c)
{
    fprintf(out, "  %-20s %12" PRIu64 " %12" PRIu64 " %14.3f %10.0f\n", name, c->count, c->elements,
            (double)c->ns / 1e6, mean_ns(c));
}

static void print_device_row(FILE *out, const char *name, const struct vmio_stat_counter *c,
                             double unit_ns)
{
    fprintf(out, "  %-20s %12" PRIu64 " %12" PRIu64 " %14.3f %10.0f %10.0f %10.0f %10" PRIu64 "\n",
            name, c->count, c->elements, (double)c->ns / 1e6, mean_ns(c),
            vmio_stat_percentile_ns(c, unit_ns, 50), vmio_stat_percentile_ns(c, unit_ns, 99),
            c->max_ns);
}

void vmio_stats_print(struct vmio_vm *vm, const struct vmio_stats *s, FILE *out)
{
    const char *header = "  %-20s %12s %12s %14s %10s";
    uint64_t total = 0;
    fprintf(out, "vmio exit statistics\n");
    fprintf(out, header, "by kind", "exits", "accesses", "total ms", "mean ns");
    fputc('\n', out);
    for (unsigned i = 0; i < VMIO_STAT_NKINDS; i++) {
        total += s->kind[i].count;
        if (s->kind[i].count || s->kind[i].elements)
            print_row(out, kind_names[i], &s->kind[i]);
    }
    fprintf(out, "  %-20s %12" PRIu64 "\n", "total", total);
    fprintf(out, header, "by device", "exits", "accesses", "total ms", "mean ns");
    fprintf(out, " %10s %10s %10s\n", "p50 ns", "p99 ns", "max ns");
    unsigned n = vm->ndevices < VMIO_STATS_MAX_DEVICES ? vm->ndevices : VMIO_STATS_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++)
        print_device_row(out, device_name(vm, i), &s->device[i], s->unit_ns);
}

/* Print @s as a JSON string body, escaping what JSON requires. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_counter(FILE *out, const struct vmio_stat_counter *c)
{
    fprintf(out,
            "{\"exits\":%" PRIu64 ",\"accesses\":%" PRIu64 ",\"total_ns\":%" PRIu64
            ",\"mean_ns\":%.1f}",
            c->count, c->elements, c->ns, mean_ns(c));
}

/* A device's counter: json_counter() plus its latency percentiles and maximum. */
static void json_device_counter(FILE *out, const struct vmio_stat_counter *c, double unit_ns)
{
    fprintf(out,
            "{\"exits\":%" PRIu64 ",\"accesses\":%" PRIu64 ",\"total_ns\":%" PRIu64
            ",\"mean_ns\":%.1f,\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"max_ns\":%" PRIu64 "}",
            c->count, c->elements, c->ns, mean_ns(c), vmio_stat_percentile_ns(c, unit_ns, 50),
            vmio_stat_percentile_ns(c, unit_ns, 99), c->max_ns);
}

void vmio_stats_write_json(struct vmio_vm *vm, const struct vmio_stats *s, FILE *out)
{
    uint64_t total = 0;
    fprintf(out, "{\"by_kind\":{");
    for (unsigned i = 0; i < VMIO_STAT_NKINDS; i++) {
        total += s->kind[i].count;
        fprintf(out, "%s\"%s\":", i ? "," : "", kind_names[i]);
        json_counter(out, &s->kind[i]);
    }
    fprintf(out, "},\"total_exits\":%" PRIu64 ",\"by_device\":[", total);
    unsigned n = vm->ndevices < VMIO_STATS_MAX_DEVICES ? vm->ndevices : VMIO_STATS_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_string(out, device_name(vm, i));
        fprintf(out, ",\"stats\":");
        json_device_counter(out, &s->device[i], s->unit_ns);
        fputc('}', out);
    }
    fprintf(out, "]}\n");
}
