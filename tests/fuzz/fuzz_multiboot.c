/*
 * libFuzzer target: the multiboot loader on arbitrary image bytes, loaded
 * into one small VM that is reused across inputs (the loader only writes
 * guest RAM). Needs /dev/kvm; without it the target exits 77 (skip) so the
 * corpus replay in `make check` skips cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmio/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vmio_vm *vm;
    if (!vm) {
        struct vmio_vm_options o = {.mem_size = 8 << 20};
        struct vmio_error err = {0};
        if (vmio_vm_create(&o, &vm, &err) < 0) {
            fprintf(stderr, "SKIP: %s\n", err.msg);
            exit(77);
        }
    }
    struct vmio_boot_info info;
    struct vmio_error err;
    vmio_multiboot_load(vm, data, size, "console=ttyS0", &info, &err);
    return 0;
}
