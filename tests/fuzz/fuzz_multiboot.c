/*
 * libFuzzer target: the multiboot loader on arbitrary image bytes, loaded
 * into a plain guest-memory object (no VM, no hypervisor) that is reused
 * across inputs: 8 MiB of RAM from 0 split into two adjacent regions (so
 * segments cross a region boundary), a gap, a pass-through page the loader
 * must never write, and a read-only ROM region just below 4 GiB. The
 * pass-through page is checked after every input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmio/boot.h"
#include "vmio/guest_mem.h"

#define LOW_SIZE (3u << 20)
#define HIGH_SIZE (5u << 20)
#define PT_GPA 0x1000000u
#define ROM_GPA 0xffff0000u

static uint8_t pt[4096];

static struct vmio_guest_mem *make_mem(void)
{
    struct vmio_guest_mem *mem;
    uint8_t *low = calloc(1, LOW_SIZE), *high = calloc(1, HIGH_SIZE), *rom = calloc(1, 0x10000);
    struct vmio_error err = {0};
    if (!low || !high || !rom || vmio_guest_mem_create(&mem, &err) < 0) {
        fprintf(stderr, "fuzz_multiboot: out of memory\n");
        exit(1);
    }
    struct vmio_mem_region r[] = {
        {.gpa = 0, .size = LOW_SIZE, .host = low, .name = "low"},
        {.gpa = LOW_SIZE, .size = HIGH_SIZE, .host = high, .name = "high"},
        {.gpa = PT_GPA, .size = sizeof(pt), .host = pt, .kind = VMIO_MEM_PASSTHROUGH, .name = "pt"},
        {.gpa = ROM_GPA, .size = 0x10000, .host = rom, .readonly = true, .name = "rom"},
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        if (vmio_guest_mem_add(mem, &r[i], &err) < 0) {
            fprintf(stderr, "fuzz_multiboot: %s\n", err.msg);
            exit(1);
        }
    }
    return mem; /* kept for the whole run, like the buffers behind it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vmio_guest_mem *mem;
    if (!mem)
        mem = make_mem();
    struct vmio_boot_info info;
    struct vmio_error err;
    vmio_multiboot_load(mem, data, size, "console=ttyS0", &info, &err);
    for (size_t i = 0; i < sizeof(pt); i++)
        if (pt[i])
            abort(); /* the loader wrote a pass-through region */
    return 0;
}
