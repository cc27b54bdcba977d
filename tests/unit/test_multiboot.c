/*
 * Multiboot loader tests: hand-built ELF32 and a.out-kludge images, valid and
 * malformed, loaded into a real VM's RAM (needs /dev/kvm: the whole file is
 * skipped with status 77 without it). Checks every error message and the
 * multiboot information the guest would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/boot.h"

#define IMG_SIZE 0x3000
#define LOAD_ADDR 0x100000

static struct vmio_vm *vm;

/* Build an ELF32 with one PT_LOAD of 0x1000 file bytes (+0x1000 bss) at LOAD_ADDR. */
static void make_elf(uint8_t *img)
{
    memset(img, 0, IMG_SIZE);
    memcpy(img,
           "\x7f"
           "ELF",
           4);
    img[4] = 1; /* ELFCLASS32 */
    img[5] = 1; /* little-endian */
    img[6] = 1;
    uint16_t u16;
    uint32_t u32;
    u16 = 2, memcpy(img + 16, &u16, 2);                /* ET_EXEC */
    u16 = 3, memcpy(img + 18, &u16, 2);                /* EM_386 */
    u32 = LOAD_ADDR + 0x40, memcpy(img + 24, &u32, 4); /* entry */
    u32 = 52, memcpy(img + 28, &u32, 4);               /* phoff */
    u16 = 32, memcpy(img + 42, &u16, 2);               /* phentsize */
    u16 = 1, memcpy(img + 44, &u16, 2);                /* phnum */
    uint8_t *ph = img + 52;
    u32 = 1, memcpy(ph, &u32, 4);             /* PT_LOAD */
    u32 = 0x1000, memcpy(ph + 4, &u32, 4);    /* offset */
    u32 = LOAD_ADDR, memcpy(ph + 8, &u32, 4); /* vaddr */
    memcpy(ph + 12, &u32, 4);                 /* paddr */
    u32 = 0x1000, memcpy(ph + 16, &u32, 4);   /* filesz */
    u32 = 0x2000, memcpy(ph + 20, &u32, 4);   /* memsz */
    /* multiboot header at file offset 0x1000 (inside the first 8 KiB) */
    uint32_t hdr[3] = {VMIO_MULTIBOOT_HEADER_MAGIC, 0x3,
                       (uint32_t) - (VMIO_MULTIBOOT_HEADER_MAGIC + 3)};
    memcpy(img + 0x1000, hdr, sizeof(hdr));
    memset(img + 0x1040, 0xf4, 16); /* "code" */
}

static int setup(void **state)
{
    (void)state;
    struct vmio_vm_options o = {.mem_size = 16 << 20};
    return vmio_vm_create(&o, &vm, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    vmio_vm_destroy(vm);
    return 0;
}

static void test_valid_elf_and_info(void **state)
{
    (void)state;
    static uint8_t img[IMG_SIZE];
    make_elf(img);
    uint8_t *ram = vmio_vm_gpa_to_host(vm, LOAD_ADDR, 0x2000);
    memset(ram, 0xcc, 0x2000); /* the loader must zero the bss */
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(vm, img, IMG_SIZE, "console=ttyS0", &info, &err), 0);
    assert_int_equal(info.entry, LOAD_ADDR + 0x40);
    assert_int_equal(info.image_lo, LOAD_ADDR);
    assert_int_equal(info.image_hi, LOAD_ADDR + 0x2000);
    assert_int_equal(info.mbi_addr, LOAD_ADDR + 0x2000);
    assert_memory_equal(ram, img + 0x1000, 0x1000);
    assert_int_equal(ram[0x1000], 0);
    assert_int_equal(ram[0x1fff], 0);

    uint32_t *mbi = vmio_vm_gpa_to_host(vm, info.mbi_addr, 88);
    assert_int_equal(mbi[0] & 0x245, 0x245); /* mem, cmdline, mmap, loader name */
    assert_int_equal(mbi[1], 639);           /* below the EBDA at 0x9fc00, as QEMU reports */
    assert_int_equal(mbi[2], (16 << 10) - 1024);
    const char *cmd = vmio_vm_gpa_to_host(vm, mbi[4], 14);
    assert_string_equal(cmd, "console=ttyS0");
    const char *name = vmio_vm_gpa_to_host(vm, mbi[16], 5);
    assert_string_equal(name, "vmio");
    /* memory map: 4 entries of 24 bytes; the last one is RAM above 1 MiB */
    assert_int_equal(mbi[11], 4 * 24);
    const uint8_t *mm = vmio_vm_gpa_to_host(vm, mbi[12], mbi[11]);
    uint64_t base, len;
    uint32_t type;
    memcpy(&base, mm + 3 * 24 + 4, 8);
    memcpy(&len, mm + 3 * 24 + 12, 8);
    memcpy(&type, mm + 3 * 24 + 20, 4);
    assert_int_equal(base, 0x100000);
    assert_int_equal(len, (16 << 20) - 0x100000);
    assert_int_equal(type, 1);
}

/* Load a corrupted copy and check the error code and a phrase of the message. */
static void expect_error(const uint8_t *img, size_t size, int code, const char *phrase)
{
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(vm, img, size, NULL, &info, &err), code);
    if (!strstr(err.msg, phrase))
        fail_msg("message '%s' lacks '%s'", err.msg, phrase);
}

static void test_malformed_images(void **state)
{
    (void)state;
    static uint8_t img[IMG_SIZE];
    uint32_t u32;

    make_elf(img);
    img[0x1008] ^= 1; /* bad checksum: no header at all */
    expect_error(img, IMG_SIZE, -ENOEXEC, "no multiboot header");

    make_elf(img);
    expect_error(img, 0x800, -ENOEXEC, "no multiboot header"); /* header cut off */

    make_elf(img);
    u32 = 0x2fff, memcpy(img + 52 + 4, &u32, 4); /* segment runs past the file */
    expect_error(img, IMG_SIZE, -ENOEXEC, "segment 0: file bytes 0x2fff+0x1000 lie beyond");

    make_elf(img);
    u32 = 0x3000, memcpy(img + 52 + 16, &u32, 4); /* filesz > memsz */
    expect_error(img, IMG_SIZE, -ENOEXEC, "exceeds memory size");

    make_elf(img);
    u32 = 0x0ff00000, memcpy(img + 52 + 12, &u32, 4); /* beyond 16 MiB of RAM */
    expect_error(img, IMG_SIZE, -ERANGE, "is not inside guest RAM");

    make_elf(img);
    u32 = 0xfffff000, memcpy(img + 28, &u32, 4); /* phoff past the end */
    expect_error(img, IMG_SIZE, -ENOEXEC, "program headers at 0xfffff000");

    make_elf(img);
    u32 = 0x5000, memcpy(img + 24, &u32, 4); /* entry outside the image */
    expect_error(img, IMG_SIZE, -ENOEXEC, "entry point 0x5000 is outside");

    make_elf(img);
    img[18] = 40; /* EM_ARM */
    expect_error(img, IMG_SIZE, -ENOEXEC, "ELF machine 40");

    make_elf(img);
    uint32_t video[3] = {VMIO_MULTIBOOT_HEADER_MAGIC, 0x4,
                         (uint32_t) - (VMIO_MULTIBOOT_HEADER_MAGIC + 4)};
    memcpy(img + 0x1000, video, sizeof(video));
    expect_error(img, IMG_SIZE, -ENOTSUP, "video mode");

    expect_error(img, 0, -ENOEXEC, "no multiboot header");
}

/* An a.out-kludge image: the header's address fields say where to load. */
static void test_aout_kludge(void **state)
{
    (void)state;
    static uint8_t img[0x200];
    memset(img, 0x90, sizeof(img));
    uint32_t flags = 0x10003;
    uint32_t h[8] = {VMIO_MULTIBOOT_HEADER_MAGIC,
                     flags,
                     (uint32_t) - (VMIO_MULTIBOOT_HEADER_MAGIC + flags),
                     0x200010 /* header_addr */,
                     0x200000 /* load_addr */,
                     0 /* to EOF */,
                     0x201000 /* bss_end */,
                     0x200020 /* entry */};
    memcpy(img + 0x10, h, sizeof(h));
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(vm, img, sizeof(img), NULL, &info, &err), 0);
    assert_int_equal(info.entry, 0x200020);
    assert_int_equal(info.image_hi, 0x201000);
    const uint8_t *ram = vmio_vm_gpa_to_host(vm, 0x200000, 0x1000);
    assert_memory_equal(ram, img, sizeof(img));
    assert_int_equal(ram[0x200], 0);

    h[3] = 0x100000; /* header_addr below load_addr */
    memcpy(img + 0x10, h, sizeof(h));
    expect_error(img, sizeof(img), -ENOEXEC, "do not match the header's file offset");
}

int main(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        printf("SKIP: /dev/kvm is not available\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_elf_and_info),
        cmocka_unit_test(test_malformed_images),
        cmocka_unit_test(test_aout_kludge),
    };
    return cmocka_run_group_tests_name("multiboot", tests, setup, teardown);
}
