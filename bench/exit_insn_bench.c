/*
 * exit_insn_bench: what vmio's exit path costs in user-space instructions,
 * counted exactly (the benchmark runs under valgrind's callgrind, see
 * exit_insns.py), on the scripted fake backend so the figure is the same on
 * every host.
 *
 *   exit_insn_bench vmio N [read]   vmio_vcpu_run() takes N port writes (or
 *                            reads) to a trivial device (bench_sum_ops), then
 *                            the script ends
 *   exit_insn_bench bare N [read]   the same N exits replayed by calling the
 *                            backend's vcpu_enter directly: what any VMM on this
 *                            backend pays (the fake's replay, the script's setup)
 *
 * The per-exit cost of vmio's loop is ((vmio N2 - vmio N1) - (bare N2 - bare
 * N1)) / (N2 - N1): run loop, dispatch, bus lookup, statistics with handling
 * time, kick check and reader quiescence; no backend translation (the KVM
 * figure, exit_insns.py --kvm, has that). The instruction count is the
 * measurement: this program prints nothing useful itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "vmio/backend.h"
#include "vmio/backend_fake.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define PORT 0x7000

static void die(const char *what, const struct vmio_error *err)
{
    fprintf(stderr, "exit_insn_bench: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (strcmp(argv[1], "vmio") != 0 && strcmp(argv[1], "bare") != 0) ||
        (argc == 4 && strcmp(argv[3], "read") != 0)) {
        fprintf(stderr, "usage: exit_insn_bench vmio|bare N [read]\n");
        return 2;
    }
    enum vmio_dir dir = argc == 4 ? VMIO_READ : VMIO_WRITE;
    unsigned long n = strtoul(argv[2], NULL, 10);
    struct vmio_error err = {0};
    struct vmio_fake *fake;
    if (vmio_fake_create(&fake, &err) < 0)
        die("fake", &err);
    for (unsigned long i = 0; i < n; i++)
        if (vmio_fake_push_io(fake, 0, VMIO_SPACE_PIO, dir, 1, PORT, i & 0xff) < 0)
            die("push", NULL);
    unsigned long got = 0;
    if (strcmp(argv[1], "bare") == 0) {
        struct vmio_backend_vm *bvm = NULL;
        struct vmio_backend_vcpu *bcpu = NULL;
        if (vmio_backend_vm_create(vmio_fake_backend(fake), &bvm, &err) < 0 ||
            vmio_backend_vcpu_create(bvm, 0, 1, &bcpu, &err) < 0)
            die("backend", &err);
        struct vmio_exit e;
        for (;;) {
            vmio_backend_vcpu_enter(bcpu, &e);
            if (e.reason != VMIO_EXIT_IO)
                break;
            got++;
        }
        vmio_backend_vcpu_destroy(bcpu);
        vmio_backend_vm_destroy(bvm);
    } else {
        struct vmio_vm_options o = {.mem_size = 2u << 20, .backend = vmio_fake_backend(fake)};
        struct vmio_vm *vm = NULL;
        struct vmio_vcpu *vcpu = NULL;
        struct bench_sum_dev *dev = calloc(1, sizeof(*dev));
        if (!dev)
            die("calloc", NULL);
        dev->dev = (struct vmio_device){.name = "sum", .ops = &bench_sum_ops};
        if (vmio_vm_create(&o, &vm, &err) < 0 ||
            vmio_vm_add_device(vm, VMIO_SPACE_PIO, &dev->dev, PORT, 1, &err) < 0 ||
            vmio_vcpu_create(vm, 0, &vcpu, &err) < 0)
            die("vm", &err);
        struct vmio_exit e;
        if (vmio_vcpu_run(vcpu, &e) < 0 || e.reason != VMIO_EXIT_UNKNOWN)
            die("run", NULL);
        static struct vmio_stats st;
        vmio_vcpu_stats(vcpu, &st);
        got = st.kind[dir == VMIO_WRITE ? VMIO_STAT_PIO_OUT : VMIO_STAT_PIO_IN].count;
        vmio_vcpu_destroy(vcpu);
        vmio_vm_destroy(vm);
    }
    vmio_fake_destroy(fake);
    if (got != n) {
        fprintf(stderr, "exit_insn_bench: %lu exits handled, expected %lu\n", got, n);
        return 1;
    }
    return 0;
}
