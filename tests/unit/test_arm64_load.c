/*
 * The AArch64 loader (vmio_arm64_load()) on plain guest memory, no KVM: an
 * Image at RAM base + text_offset (and a pre-3.17 Image with image_size 0),
 * an ELF64 by its program headers (bss zeroed), initrd and device tree at
 * the top of RAM without overlap (the tree's chosen node names the initrd),
 * and every refusal of a hostile file: unknown formats, a big-endian Image,
 * an Image or segment larger than RAM, offsets past the file, wrapping
 * addresses, an ELF for another machine, an entry outside RAM, an initrd
 * that does not fit. Nothing is written for a refused file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/arm64_virt.h"
#include "vmio/guest_mem.h"

#define RAM_SIZE (16u << 20)

static uint8_t *ram;
static struct vmio_guest_mem *mem;
static struct vmio_arm64_machine m;

static int setup(void **state)
{
    (void)state;
    ram = calloc(1, RAM_SIZE);
    if (!ram || vmio_guest_mem_create(&mem, NULL) < 0)
        return -1;
    struct vmio_mem_region r = {.gpa = VMIO_ARM64_RAM_BASE,
                                .size = RAM_SIZE,
                                .host = ram,
                                .kind = VMIO_MEM_RAM,
                                .name = "ram"};
    return vmio_guest_mem_add(mem, &r, NULL);
}

static int teardown(void **state)
{
    (void)state;
    vmio_guest_mem_destroy(mem);
    free(ram);
    return 0;
}

static void reset(void)
{
    memset(ram, 0, RAM_SIZE);
    m = (struct vmio_arm64_machine){
        .ram_base = VMIO_ARM64_RAM_BASE, .ram_size = RAM_SIZE, .cpus = 2, .gic_version = 3};
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* An Image header: text_offset, image_size, flags; magic at 56. */
static void image(uint8_t *img, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
    memset(img, 0, 64);
    put64(img + 8, text_offset);
    put64(img + 16, image_size);
    put64(img + 24, flags);
    memcpy(img + 56, "ARM\x64", 4);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool ram_has(const void *needle, size_t n, uint64_t from, uint64_t len)
{
    const uint8_t *h = ram + (from - VMIO_ARM64_RAM_BASE);
    for (uint64_t i = 0; i + n <= len; i++)
        if (memcmp(h + i, needle, n) == 0)
            return true;
    return false;
}

static void test_image(void **state)
{
    (void)state;
    reset();
    static uint8_t img[4096];
    image(img, 0x80000, 0x300000, 0);
    img[100] = 0x5a;
    static const uint8_t initrd[] = "initrd-bytes";
    struct vmio_arm64_boot b = {.image = img,
                                .image_size = sizeof(img),
                                .initrd = initrd,
                                .initrd_size = sizeof(initrd),
                                .cmdline = "console=ttyAMA0"};
    struct vmio_arm64_entry e;
    struct vmio_error err = {0};
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), 0);
    assert_true(e.linux_image);
    assert_int_equal(e.pc, VMIO_ARM64_RAM_BASE + 0x80000);
    assert_int_equal(e.kernel_end, VMIO_ARM64_RAM_BASE + 0x80000 + 0x300000);
    assert_int_equal(ram[0x80000 + 100], 0x5a);
    /* the tree: at a 2 MiB boundary, below the end, whole; magic and size in its header */
    assert_int_equal(e.dtb & 0x1fffff, 0);
    assert_true(e.dtb + e.dtb_size <= VMIO_ARM64_RAM_BASE + RAM_SIZE);
    assert_int_equal(be32(ram + (e.dtb - VMIO_ARM64_RAM_BASE)), 0xd00dfeed);
    assert_int_equal(be32(ram + (e.dtb - VMIO_ARM64_RAM_BASE) + 4), e.dtb_size);
    /* the initrd: page aligned, below the tree, above the kernel, named by the tree */
    assert_int_equal(m.initrd_start & 0xfff, 0);
    assert_true(m.initrd_start >= e.kernel_end);
    assert_true(m.initrd_start + m.initrd_size <= e.dtb);
    assert_memory_equal(ram + (m.initrd_start - VMIO_ARM64_RAM_BASE), initrd, sizeof(initrd));
    assert_true(ram_has("console=ttyAMA0", 15, e.dtb, e.dtb_size));
}

static void test_old_image_and_refusals(void **state)
{
    (void)state;
    static uint8_t img[4096];
    struct vmio_arm64_boot b = {.image = img, .image_size = sizeof(img)};
    struct vmio_arm64_entry e;
    struct vmio_error err = {0};
    reset();
    image(img, 0x1234, 0, 0); /* image_size 0: text_offset 0x80000 by rule */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), 0);
    assert_int_equal(e.pc, VMIO_ARM64_RAM_BASE + 0x80000);
    reset();
    image(img, 0, 0x1000, 1); /* big-endian */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -ENOEXEC);
    image(img, 0, RAM_SIZE, 0); /* leaves no room for the tree */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    image(img, 0, UINT64_MAX - 10, 0); /* wraps */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    image(img, UINT64_MAX - 10, 0x1000, 0);
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    memset(img, 0, 64);
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -ENOEXEC);
    b.image_size = 3;
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -ENOEXEC);
    /* an initrd that cannot fit */
    image(img, 0, 0x1000, 0);
    static uint8_t big[RAM_SIZE];
    b = (struct vmio_arm64_boot){
        .image = img, .image_size = sizeof(img), .initrd = big, .initrd_size = sizeof(big)};
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    /* RAM that is not 2 MiB aligned */
    m.ram_base = VMIO_ARM64_RAM_BASE + 0x1000;
    b.initrd_size = 0;
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -EINVAL);
    for (size_t i = 0; i < RAM_SIZE; i++)
        assert_int_equal(ram[i], 0); /* nothing was written by any refusal */
}

/* A minimal ELF64 with one PT_LOAD: filesz 16, memsz 64 at @paddr, entry @entry. */
static size_t elf(uint8_t *f, uint16_t machine, uint64_t paddr, uint64_t entry, uint64_t off,
                  uint64_t filesz)
{
    memset(f, 0, 256);
    memcpy(f,
           "\x7f"
           "ELF",
           4);
    f[4] = 2; /* 64-bit */
    f[5] = 1; /* little-endian */
    f[6] = 1;
    put16(f + 16, 2); /* ET_EXEC */
    put16(f + 18, machine);
    put64(f + 24, entry);
    put64(f + 32, 64); /* phoff */
    put16(f + 54, 56); /* phentsize */
    put16(f + 56, 1);  /* phnum */
    uint8_t *ph = f + 64;
    ph[0] = 1; /* PT_LOAD */
    put64(ph + 8, off);
    put64(ph + 16, paddr);
    put64(ph + 24, paddr);
    put64(ph + 32, filesz);
    put64(ph + 40, 64);
    for (int i = 0; i < 16; i++)
        f[128 + i] = (uint8_t)(0xa0 + i);
    return 256;
}

static void test_elf(void **state)
{
    (void)state;
    static uint8_t f[256];
    struct vmio_arm64_entry e;
    struct vmio_error err = {0};
    reset();
    uint64_t at = VMIO_ARM64_RAM_BASE + 0x80000;
    memset(ram + 0x80000, 0xff, 64); /* bss must be zeroed over this */
    struct vmio_arm64_boot b = {.image = f, .image_size = elf(f, 183, at, at + 4, 128, 16)};
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), 0);
    assert_false(e.linux_image);
    assert_int_equal(e.pc, at + 4);
    assert_int_equal(e.kernel_end, at + 64);
    assert_int_equal(ram[0x80000], 0xa0);
    assert_int_equal(ram[0x80000 + 15], 0xaf);
    assert_int_equal(ram[0x80000 + 16], 0);
    assert_int_equal(ram[0x80000 + 63], 0);

    reset();
    b.image_size = elf(f, 62 /* x86-64 */, at, at, 128, 16);
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -ENOEXEC);
    b.image_size = elf(f, 183, 0x1000, 0x1000, 128, 16); /* below RAM */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    b.image_size = elf(f, 183, UINT64_MAX - 20, at, 128, 16); /* wraps */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -E2BIG);
    b.image_size = elf(f, 183, at, at, 250, 16); /* data past the file */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -EINVAL);
    b.image_size = elf(f, 183, at, at, UINT64_MAX - 4, 16);
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -EINVAL);
    b.image_size = elf(f, 183, at, 0x1000, 128, 16); /* entry outside RAM */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -EINVAL);
    b.image_size = elf(f, 183, at, at, 128, 16);
    put16(f + 56, 60000); /* program headers past the file */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -EINVAL);
    b.image_size = elf(f, 183, at, at, 128, 16);
    b.image_size = 63; /* truncated header */
    assert_int_equal(vmio_arm64_load(mem, &m, &b, &e, &err), -ENOEXEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_old_image_and_refusals),
        cmocka_unit_test(test_elf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
