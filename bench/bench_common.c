/*
 * Shared helpers of vmio's benchmarks (see bench_common.h).
 * Invariants: no allocation on any timed path; helpers used between timed
 * sections only.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

void bench_thread_cpu(struct bench_cpu *out)
{
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    getrusage(RUSAGE_THREAD, &ru);
    out->user_ns = tv_ns(&ru.ru_utime);
    out->sys_ns = tv_ns(&ru.ru_stime);
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    out->total_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_min(const double *v, size_t n)
{
    double m = n ? v[0] : 0;
    for (size_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

double bench_max(const double *v, size_t n)
{
    double m = n ? v[0] : 0;
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

FILE *bench_json_open(int *argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < *argc) {
            path = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) * sizeof(argv[0]));
            *argc -= 2;
            break;
        }
    }
    if (!path)
        path = getenv("VMIO_BENCH_JSON");
    if (!path || !*path)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        perror(path);
    return f;
}

void bench_json_close(FILE *f)
{
    if (f && f != stdout)
        fclose(f);
    else if (f)
        fflush(f);
}

void bench_json_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

void bench_json_doubles(FILE *f, const double *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        bench_json_number(f, v[i]);
    }
    fputc(']', f);
}

static int sum_read(struct vmio_device *dev, struct vmio_io *io, uint64_t *value)
{
    uint64_t offset = io->offset;
    (void)dev;
    *value = offset;
    return 0;
}

static int sum_write(struct vmio_device *dev, struct vmio_io *io, uint64_t value)
{
    (void)io;
    vmio_container_of(dev, struct bench_sum_dev, dev)->sum += value;
    return 0;
}

static void sum_destroy(struct vmio_device *dev)
{
    free(vmio_container_of(dev, struct bench_sum_dev, dev));
}

const struct vmio_device_ops bench_sum_ops = {
    .read = sum_read, .write = sum_write, .destroy = sum_destroy};

int bench_load_guest(struct vmio_vm *vm, struct vmio_vcpu *vcpu, const uint8_t *code, size_t len,
                     uint64_t rax)
{
    uint8_t *host = vmio_vm_gpa_to_host(vm, BENCH_GUEST_ENTRY, len);
    if (!host)
        return -EFAULT;
    memcpy(host, code, len);
    struct vmio_x86_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = BENCH_GUEST_ENTRY;
    r.rflags = 0x2;
    r.gpr[VMIO_X86_RAX] = rax;
    return vmio_vcpu_set_regs(vcpu, &r);
}
