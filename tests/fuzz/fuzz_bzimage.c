/*
 * libFuzzer target: the Linux boot path on arbitrary image bytes. Each input
 * is parsed as a bzImage; an accepted one is laid out and loaded (zero page,
 * e820, GDT, page tables, kernel copy) into a 32 MiB malloc'd guest through
 * a gpa-to-host callback that refuses anything outside it, with an initrd
 * cut from the input's tail and each entry mode. The same bytes are also
 * read as e820 entries for vmio_e820_build() and vmio_e820_pc(). Needs no
 * KVM. Crashes, sanitizer reports and writes outside the guest buffer are
 * the failures.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/linux_boot.h"

#define GUEST_SIZE (32u << 20)

static uint8_t *guest;

static void *gpa_to_host(void *ctx, uint64_t gpa, uint64_t len)
{
    (void)ctx;
    if (len == 0 || gpa >= GUEST_SIZE || len > GUEST_SIZE - gpa)
        return NULL;
    return guest + gpa;
}

static void fuzz_e820(const uint8_t *data, size_t size)
{
    struct vmio_e820_entry in[64];
    unsigned n = 0;
    for (size_t off = 0; off + 20 <= size && n < 64; off += 20, n++) {
        memcpy(&in[n].addr, data + off, 8);
        memcpy(&in[n].size, data + off + 8, 8);
        memcpy(&in[n].type, data + off + 16, 4);
        in[n].type = in[n].type % 6;
    }
    static struct vmio_e820_map map;
    vmio_e820_build(in, n, &map, NULL);
    struct vmio_gpa_range ram[] = {{0, GUEST_SIZE}, {1ULL << 32, 1ULL << 30}};
    vmio_e820_pc(ram, 2, in, n, &map, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!guest) {
        guest = malloc(GUEST_SIZE);
        if (!guest)
            abort();
    }
    vmio_bzimage_detect(data, size);
    fuzz_e820(data, size);
    struct vmio_bzimage bz;
    if (vmio_bzimage_parse(data, size, &bz, NULL) < 0)
        return 0;
    size_t tail = size > 64 ? 64 : size;
    struct vmio_gpa_range ram[] = {{0, GUEST_SIZE}};
    struct vmio_gpa_range reserved[] = {{GUEST_SIZE - 0x10000, 0x10000}};
    static const enum vmio_linux_entry_mode modes[] = {VMIO_LINUX_ENTRY_AUTO, VMIO_LINUX_ENTRY_32,
                                                       VMIO_LINUX_ENTRY_64};
    for (unsigned m = 0; m < 3; m++) {
        struct vmio_linux_boot b = {.image = data,
                                    .image_size = size,
                                    .initrd = data + size - tail,
                                    .initrd_size = tail,
                                    .cmdline = "console=ttyS0",
                                    .ram = ram,
                                    .ram_count = 1,
                                    .reserved = reserved,
                                    .reserved_count = 1,
                                    .acpi_rsdp = 0xf0000,
                                    .mode = modes[m]};
        struct vmio_linux_layout lay;
        if (vmio_linux_load(&b, gpa_to_host, NULL, &lay, NULL) == 0) {
            struct vmio_x86_regs regs;
            struct vmio_x86_sregs sregs;
            vmio_linux_entry_state(&lay, &regs, &sregs);
        }
    }
    return 0;
}
