/*
 * exit_bench: what vmio's run loop costs per guest exit, measured against a
 * bare KVM_RUN loop (bare_kvm.c) running the very same guest code in the
 * same process, interleaved run by run.
 *
 * The guest is a hand-assembled 32-bit protected-mode blob (paging off, CPL0)
 * that performs N accesses to a trivial device and then halts:
 *   pio_out:    mov ecx,N; mov dx,PORT; mov al,1; 1: out dx,al; dec ecx; jnz 1b; hlt
 *   pio_in:     ... 1: in al,dx ...
 *   mmio_write: mov ecx,N; mov ebx,MMIO; mov al,1; 1: mov [ebx],al; dec ecx; jnz 1b; hlt
 *   mmio_read:  ... 1: mov al,[ebx] ...
 * Variants: "bare" (the comparator: switch on the exit reason, range check,
 * add, inline), "vmio-timing-off" and "vmio-timing-on" (vmio_vm_create, the
 * same trivial device on the PIO and MMIO buses, vmio_vcpu_run, with
 * vmio_vm_set_timing() off or on).
 *
 * Reported per exit (N accesses + the final HLT): wall time, CPU time of
 * this thread (CLOCK_THREAD_CPUTIME_ID) and its user part (getrusage),
 * medians over REPS runs, and vmio/bare ratios. Wall and CPU ratios are the
 * medians of per-repetition ratios (each repetition runs all variants back
 * to back in rotating order, so machine noise hits them alike). The kernel
 * splits user from system time by tick sampling, so the user-CPU ratio is
 * taken over the totals of all repetitions. vmio's own handling
 * time per access (its stats, timing on) is reported as well.
 *
 * Usage: exit_bench [--exits N] [--reps R] [--json PATH]
 *        exit_bench --only bare|vmio-timing-off|vmio-timing-on --exits N
 *   (--only: one pio_out run of that variant and nothing else, no output:
 *   bench/exit_insns.py --kvm counts its instructions under callgrind)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bare_kvm.h"
#include "bench_common.h"
#include "vmio/boot.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define GUEST_MEM (2u << 20)
#define GUEST_ENTRY BENCH_GUEST_ENTRY
#define DEV_PORT 0x7000u
#define DEV_MMIO 0xd0000000u
#define MAX_REPS 64

enum kase { PIO_OUT, PIO_IN, MMIO_WRITE, MMIO_READ, NCASES };
static const char *const case_names[] = {"pio_out", "pio_in", "mmio_write", "mmio_read"};

enum variant { V_BARE, V_VMIO_OFF, V_VMIO_ON, NVARIANTS };
static const char *const variant_names[] = {"bare", "vmio-timing-off", "vmio-timing-on"};

/* Assemble the guest for @k doing @n accesses into @p; returns its length. */
static size_t build_guest(uint8_t *p, enum kase k, uint32_t n)
{
    size_t i = 0;
    p[i++] = 0xb9; /* mov ecx, imm32 */
    memcpy(p + i, &n, 4);
    i += 4;
    if (k == PIO_OUT || k == PIO_IN) {
        uint16_t port = DEV_PORT;
        p[i++] = 0x66; /* mov dx, imm16 */
        p[i++] = 0xba;
        memcpy(p + i, &port, 2);
        i += 2;
    } else {
        uint32_t addr = DEV_MMIO;
        p[i++] = 0xbb; /* mov ebx, imm32 */
        memcpy(p + i, &addr, 4);
        i += 4;
    }
    p[i++] = 0xb0; /* mov al, 1 */
    p[i++] = 0x01;
    size_t loop = i;
    switch (k) {
    case PIO_OUT:
        p[i++] = 0xee; /* out dx, al */
        break;
    case PIO_IN:
        p[i++] = 0xec; /* in al, dx */
        break;
    case MMIO_WRITE:
        p[i++] = 0x88; /* mov [ebx], al */
        p[i++] = 0x03;
        break;
    default:
        p[i++] = 0x8a; /* mov al, [ebx] */
        p[i++] = 0x03;
        break;
    }
    p[i++] = 0x49; /* dec ecx */
    p[i++] = 0x75; /* jnz loop */
    p[i] = (uint8_t)(int8_t)((int)loop - (int)(i + 1));
    i++;
    p[i++] = 0xf4; /* hlt */
    p[i++] = 0xeb; /* jmp hlt (never reached: the run stops at the HLT exit) */
    p[i++] = 0xfd;
    return i;
}

struct vmio_side {
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu;
};

static int vmio_side_create(struct vmio_side *s)
{
    struct vmio_error err = {0};
    struct vmio_vm_options opts = {.mem_size = GUEST_MEM, .unclaimed = VMIO_UNCLAIMED_IGNORE};
    int rc = vmio_vm_create(&opts, &s->vm, &err);
    if (rc < 0)
        goto fail;
    static const struct {
        enum vmio_space space;
        uint64_t base, len;
    } windows[] = {{VMIO_SPACE_PIO, DEV_PORT, 0x100}, {VMIO_SPACE_MMIO, DEV_MMIO, 0x1000}};
    for (unsigned i = 0; i < 2; i++) {
        struct bench_sum_dev *d = calloc(1, sizeof(*d));
        if (!d) {
            rc = vmio_error_set(&err, -ENOMEM, "out of memory");
            goto fail;
        }
        d->dev = (struct vmio_device){.name = "bench-sum", .ops = &bench_sum_ops};
        rc = vmio_vm_add_device(s->vm, windows[i].space, &d->dev, windows[i].base, windows[i].len,
                                &err);
        if (rc < 0) {
            free(d);
            goto fail;
        }
    }
    if ((rc = vmio_vcpu_create(s->vm, 0, &s->vcpu, &err)) < 0)
        goto fail;
    struct vmio_boot_info info = {.entry = GUEST_ENTRY};
    if ((rc = vmio_x86_setup_multiboot(s->vcpu, &info, &err)) < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "exit_bench: vmio: %s\n", err.msg);
    vmio_vcpu_destroy(s->vcpu);
    vmio_vm_destroy(s->vm);
    s->vcpu = NULL;
    s->vm = NULL;
    return rc;
}

static const struct vmio_stat_counter *stat_counter(struct vmio_vcpu *vcpu, enum kase k)
{
    static const enum vmio_stat_kind kinds[] = {VMIO_STAT_PIO_OUT, VMIO_STAT_PIO_IN,
                                                VMIO_STAT_MMIO_WRITE, VMIO_STAT_MMIO_READ};
    static struct vmio_stats st; /* one benchmark thread */
    vmio_vcpu_stats(vcpu, &st);
    return &st.kind[kinds[k]];
}

/* One sample: per-exit wall/user/sys ns and the exit count it was divided by. */
struct sample {
    double wall, user, sys, cpu; /* cpu: CLOCK_THREAD_CPUTIME_ID, exact */
    double handle;               /* vmio's own handling time per access (timing on), else 0 */
    uint64_t exits;
    uint64_t user_ns_total;
};

static int run_vmio(struct vmio_side *s, enum kase k, const uint8_t *code, size_t len, uint32_t n,
                    bool timing, struct sample *out)
{
    int rc = bench_load_guest(s->vm, s->vcpu, code, len, 0);
    if (rc < 0)
        return rc;
    vmio_vm_set_timing(s->vm, timing);
    struct vmio_stat_counter before = *stat_counter(s->vcpu, k);
    struct vmio_exit e;
    struct bench_cpu c0, c1;
    bench_thread_cpu(&c0);
    uint64_t t0 = bench_now_ns();
    rc = vmio_vcpu_run(s->vcpu, &e);
    uint64_t t1 = bench_now_ns();
    bench_thread_cpu(&c1);
    if (rc < 0 || e.reason != VMIO_EXIT_HLT) {
        char buf[256];
        vmio_exit_describe(&e, buf, sizeof(buf));
        fprintf(stderr, "exit_bench: vmio stopped with %s (rc %d)\n", buf, rc);
        return rc < 0 ? rc : -EIO;
    }
    uint64_t accesses = stat_counter(s->vcpu, k)->count - before.count;
    if (accesses != n) {
        fprintf(stderr, "exit_bench: vmio saw %" PRIu64 " accesses, expected %u\n", accesses, n);
        return -EIO;
    }
    out->exits = accesses + 1; /* the final HLT */
    out->handle = (double)(stat_counter(s->vcpu, k)->ns - before.ns) / (double)accesses;
    out->wall = (double)(t1 - t0) / (double)out->exits;
    out->user_ns_total = c1.user_ns - c0.user_ns;
    out->user = (double)out->user_ns_total / (double)out->exits;
    out->sys = (double)(c1.sys_ns - c0.sys_ns) / (double)out->exits;
    out->cpu = (double)(c1.total_ns - c0.total_ns) / (double)out->exits;
    return 0;
}

static int run_bare(struct bare_vm *b, const uint8_t *code, size_t len, uint32_t n,
                    struct sample *out)
{
    memcpy(bare_vm_mem(b) + GUEST_ENTRY, code, len);
    int rc = bare_vm_reset(b, GUEST_ENTRY);
    if (rc < 0)
        return rc;
    struct bare_result res;
    struct bench_cpu c0, c1;
    bench_thread_cpu(&c0);
    uint64_t t0 = bench_now_ns();
    rc = bare_vm_run(b, &res);
    uint64_t t1 = bench_now_ns();
    bench_thread_cpu(&c1);
    if (rc < 0)
        return rc;
    if (res.accesses != n) {
        fprintf(stderr, "exit_bench: bare loop saw %" PRIu64 " accesses, expected %u\n",
                res.accesses, n);
        return -EIO;
    }
    out->exits = res.exits;
    out->handle = 0;
    out->wall = (double)(t1 - t0) / (double)out->exits;
    out->user_ns_total = c1.user_ns - c0.user_ns;
    out->user = (double)out->user_ns_total / (double)out->exits;
    out->sys = (double)(c1.sys_ns - c0.sys_ns) / (double)out->exits;
    out->cpu = (double)(c1.total_ns - c0.total_ns) / (double)out->exits;
    return 0;
}

static struct sample samples[NCASES][NVARIANTS][MAX_REPS];

struct summary {
    double wall_med, wall_min, wall_max, user_med, sys_med, cpu_med, handle_med;
    double cpu_ratio;           /* median over reps of this variant's cpu / bare's cpu */
    double user_total_per_exit; /* sum of user ns over all reps / sum of exits */
    double wall_ratio;          /* median over reps of this variant's wall / bare's wall */
    double wall_delta;          /* median over reps of this variant's wall - bare's wall, ns */
    double min_ratio;           /* this variant's fastest run / bare's fastest run */
    double user_ratio;          /* user_total_per_exit / bare's */
};

static void summarize(enum kase k, int reps, struct summary out[NVARIANTS])
{
    for (int v = 0; v < NVARIANTS; v++) {
        double w[MAX_REPS], u[MAX_REPS], sy[MAX_REPS], ratio[MAX_REPS], delta[MAX_REPS];
        double h[MAX_REPS], cpu[MAX_REPS], cratio[MAX_REPS];
        uint64_t utot = 0, etot = 0;
        for (int r = 0; r < reps; r++) {
            const struct sample *s = &samples[k][v][r];
            w[r] = s->wall;
            u[r] = s->user;
            sy[r] = s->sys;
            h[r] = s->handle;
            cpu[r] = s->cpu;
            cratio[r] = s->cpu / samples[k][V_BARE][r].cpu;
            ratio[r] = s->wall / samples[k][V_BARE][r].wall;
            delta[r] = s->wall - samples[k][V_BARE][r].wall;
            utot += s->user_ns_total;
            etot += s->exits;
        }
        out[v].wall_min = bench_min(w, (size_t)reps);
        out[v].wall_max = bench_max(w, (size_t)reps);
        out[v].wall_med = bench_median(w, (size_t)reps);
        out[v].user_med = bench_median(u, (size_t)reps);
        out[v].sys_med = bench_median(sy, (size_t)reps);
        out[v].handle_med = bench_median(h, (size_t)reps);
        out[v].cpu_med = bench_median(cpu, (size_t)reps);
        out[v].cpu_ratio = bench_median(cratio, (size_t)reps);
        out[v].user_total_per_exit = (double)utot / (double)etot;
        out[v].wall_ratio = bench_median(ratio, (size_t)reps);
        out[v].wall_delta = bench_median(delta, (size_t)reps);
    }
    for (int v = 0; v < NVARIANTS; v++) {
        out[v].user_ratio = out[v].user_total_per_exit / out[V_BARE].user_total_per_exit;
        out[v].min_ratio = out[v].wall_min / out[V_BARE].wall_min;
    }
}

/* --only: one pio_out run of one variant (for instruction counting), status 0 on success. */
static int run_only(const char *variant, uint32_t n)
{
    uint8_t code[64];
    size_t len = build_guest(code, PIO_OUT, n);
    struct sample s;
    if (strcmp(variant, "bare") == 0) {
        struct bare_vm *bare = NULL;
        if (bare_vm_create(&bare, GUEST_MEM, DEV_PORT, DEV_MMIO) < 0)
            return 1;
        int rc = run_bare(bare, code, len, n, &s);
        bare_vm_destroy(bare);
        return rc < 0;
    }
    bool timing = strcmp(variant, "vmio-timing-on") == 0;
    if (!timing && strcmp(variant, "vmio-timing-off") != 0) {
        fprintf(stderr, "exit_bench: --only %s: expected bare, vmio-timing-off or vmio-timing-on\n",
                variant);
        return 2;
    }
    struct vmio_side vs = {0};
    if (vmio_side_create(&vs) < 0)
        return 1;
    int rc = run_vmio(&vs, PIO_OUT, code, len, n, timing, &s);
    vmio_vcpu_destroy(vs.vcpu);
    vmio_vm_destroy(vs.vm);
    return rc < 0;
}

static void json_skip(FILE *json, const char *why)
{
    printf("\n== Per-exit cost: skipped (%s) ==\n", why);
    fprintf(json, "{\"benchmark\": \"exit_cost\", \"skipped\": \"%s\"}\n", why);
}

int main(int argc, char **argv)
{
    FILE *json = bench_json_open(&argc, argv);
    if (!json)
        return 1;
    uint32_t n = 20000;
    int reps = 15;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--exits") == 0)
            n = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    if (only)
        return run_only(only, n);
    if (n < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: exit_bench [--exits N>0] [--reps 1..%d] [--json PATH]\n", MAX_REPS);
        return 2;
    }
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        json_skip(json, "no accessible /dev/kvm");
        bench_json_close(json);
        return 0;
    }

    struct bare_vm *bare = NULL;
    struct vmio_side vs = {0};
    if (bare_vm_create(&bare, GUEST_MEM, DEV_PORT, DEV_MMIO) < 0 || vmio_side_create(&vs) < 0)
        return 1;

    uint64_t t_start = bench_now_ns();
    for (int k = 0; k < NCASES; k++) {
        uint8_t code[64];
        size_t len = build_guest(code, (enum kase)k, n);
        struct sample warm;
        /* Warm-up (page faults, first-entry costs), then interleaved repetitions. */
        if (run_bare(bare, code, len, n, &warm) < 0 ||
            run_vmio(&vs, (enum kase)k, code, len, n, false, &warm) < 0 ||
            run_vmio(&vs, (enum kase)k, code, len, n, true, &warm) < 0)
            return 1;
        for (int r = 0; r < reps; r++) {
            for (int j = 0; j < NVARIANTS; j++) {
                int v = (r + j) % NVARIANTS; /* rotate which variant goes first */
                struct sample *s = &samples[k][v][r];
                int rc = v == V_BARE ? run_bare(bare, code, len, n, s)
                                     : run_vmio(&vs, (enum kase)k, code, len, n, v == V_VMIO_ON, s);
                if (rc < 0)
                    return 1;
            }
        }
    }
    double elapsed_s = (double)(bench_now_ns() - t_start) / 1e9;
    vmio_vcpu_destroy(vs.vcpu);
    vmio_vm_destroy(vs.vm);
    bare_vm_destroy(bare);

    struct summary sum[NCASES][NVARIANTS];
    for (int k = 0; k < NCASES; k++)
        summarize((enum kase)k, reps, sum[k]);

    printf("\n== Per-exit cost: vmio run loop vs a bare KVM_RUN loop ==\n");
    printf("%u accesses + 1 HLT per run, median of %d interleaved runs per variant (%.1f s)\n", n,
           reps, elapsed_s);
    printf("%-10s %-15s %8s %13s %9s %7s %7s | %7s %8s | %6s %9s\n", "case", "variant", "wall ns",
           "(min..max)", "wall/bare", "+ns", "min/min", "cpu ns", "cpu/bare", "user", "user/bare");
    for (int k = 0; k < NCASES; k++) {
        for (int v = 0; v < NVARIANTS; v++) {
            const struct summary *s = &sum[k][v];
            char range[40];
            snprintf(range, sizeof(range), "%.0f..%.0f", s->wall_min, s->wall_max);
            printf("%-10s %-15s %8.0f %13s %9.4f %+7.0f %7.4f | %7.0f %8.4f | %6.0f %9.2f\n",
                   v ? "" : case_names[k], variant_names[v], s->wall_med, range, s->wall_ratio,
                   s->wall_delta, s->min_ratio, s->cpu_med, s->cpu_ratio, s->user_total_per_exit,
                   s->user_ratio);
        }
    }
    printf(
        "All figures in ns per exit. wall/bare, +ns: median of per-run ratios and differences\n"
        "against the bare run next to it (vmio's goal: wall/bare <= 1.02); min/min: fastest run\n"
        "against fastest run. cpu: CPU time of this thread (exact, and not inflated while the\n"
        "thread waits for a CPU), cpu/bare: median of per-run ratios. user: user CPU of all\n"
        "runs / their exits (the user/system split is tick-sampled; guest time counts as user).\n");
    /* Pooled over every case: more ticks, so the least noisy user-CPU comparison. */
    double pooled[NVARIANTS];
    for (int v = 0; v < NVARIANTS; v++) {
        uint64_t utot = 0, etot = 0;
        for (int k = 0; k < NCASES; k++) {
            for (int r = 0; r < reps; r++) {
                utot += samples[k][v][r].user_ns_total;
                etot += samples[k][v][r].exits;
            }
        }
        pooled[v] = (double)utot / (double)etot;
    }
    printf("user CPU per exit, all cases pooled: bare %.1f ns, vmio-timing-off %.1f ns (x%.2f), "
           "vmio-timing-on %.1f ns (x%.2f)\n",
           pooled[V_BARE], pooled[V_VMIO_OFF], pooled[V_VMIO_OFF] / pooled[V_BARE],
           pooled[V_VMIO_ON], pooled[V_VMIO_ON] / pooled[V_BARE]);
    printf("vmio's own handling time per access (stats, timing on):");
    for (int k = 0; k < NCASES; k++)
        printf(" %s %.0f ns%s", case_names[k], sum[k][V_VMIO_ON].handle_med,
               k + 1 < NCASES ? "," : "\n");

    fprintf(json,
            "{\"benchmark\": \"exit_cost\", \"accesses_per_run\": %u, \"reps\": %d, "
            "\"unit\": \"ns_per_exit\", \"cases\": [",
            n, reps);
    for (int k = 0; k < NCASES; k++) {
        fprintf(json, "%s\n  {\"case\": \"%s\", \"variants\": [", k ? "," : "", case_names[k]);
        for (int v = 0; v < NVARIANTS; v++) {
            const struct summary *s = &sum[k][v];
            double w[MAX_REPS];
            for (int r = 0; r < reps; r++)
                w[r] = samples[k][v][r].wall;
            fprintf(json,
                    "%s\n    {\"variant\": \"%s\", \"exits_per_run\": %" PRIu64
                    ", \"wall_ns_per_exit\": ",
                    v ? "," : "", variant_names[v], samples[k][v][0].exits);
            bench_json_number(json, s->wall_med);
            fputs(", \"wall_samples\": ", json);
            bench_json_doubles(json, w, (size_t)reps);
            fputs(", \"user_ns_per_exit\": ", json);
            bench_json_number(json, s->user_total_per_exit);
            fputs(", \"user_ns_per_exit_median\": ", json);
            bench_json_number(json, s->user_med);
            fputs(", \"sys_ns_per_exit\": ", json);
            bench_json_number(json, s->sys_med);
            fputs(", \"cpu_ns_per_exit\": ", json);
            bench_json_number(json, s->cpu_med);
            fputs(", \"cpu_ratio_vs_bare\": ", json);
            bench_json_number(json, s->cpu_ratio);
            fputs(", \"wall_ratio_vs_bare\": ", json);
            bench_json_number(json, s->wall_ratio);
            fputs(", \"wall_delta_ns_vs_bare\": ", json);
            bench_json_number(json, s->wall_delta);
            fputs(", \"min_ratio_vs_bare\": ", json);
            bench_json_number(json, s->min_ratio);
            fputs(", \"user_ratio_vs_bare\": ", json);
            bench_json_number(json, s->user_ratio);
            if (v == V_VMIO_ON) {
                fputs(", \"vmio_handle_ns_per_access\": ", json);
                bench_json_number(json, s->handle_med);
            }
            fputc('}', json);
        }
        fputs("]}", json);
    }
    fputs("],\n \"user_ns_per_exit_pooled\": {", json);
    for (int v = 0; v < NVARIANTS; v++) {
        fprintf(json, "%s\"%s\": ", v ? ", " : "", variant_names[v]);
        bench_json_number(json, pooled[v]);
    }
    fputs("}}\n", json);
    bench_json_close(json);
    return 0;
}
