/*
 * Multiboot loader tests, with no VM and no hypervisor: hand-built ELF32 and
 * a.out-kludge images, valid and malformed, loaded into a plain guest-memory
 * object over malloc'd RAM. Checks every error message, the multiboot
 * information the guest would see, segments spanning adjacent RAM regions,
 * that nothing lands outside RAM (gaps, pass-through regions, wraparound),
 * and the boot CPU state vmio_x86_setup_multiboot() gives a vCPU of the
 * fake backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/backend_fake.h"
#include "vmio/boot.h"
#include "vmio/guest_mem.h"
#include "vmio/vcpu.h"
#include "vmio/vm.h"

#define IMG_SIZE 0x3000
#define LOAD_ADDR 0x100000
#define RAM_SIZE (16u << 20)

static struct vmio_guest_mem *mem;
static uint8_t *ram; /* RAM_SIZE bytes at guest-physical 0 */

/* Guest-physical @gpa of the test RAM, checked to be inside it. */
static void *at(uint64_t gpa, uint64_t len)
{
    void *p = vmio_guest_mem_to_host(mem, gpa, len);
    assert_non_null(p);
    return p;
}

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
    ram = calloc(1, RAM_SIZE);
    struct vmio_mem_region r = {.gpa = 0, .size = RAM_SIZE, .host = ram, .name = "ram"};
    if (!ram || vmio_guest_mem_create(&mem, NULL) != 0 || vmio_guest_mem_add(mem, &r, NULL) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vmio_guest_mem_destroy(mem);
    free(ram);
    return 0;
}

static void test_valid_elf_and_info(void **state)
{
    (void)state;
    static uint8_t img[IMG_SIZE];
    make_elf(img);
    uint8_t *ram = at(LOAD_ADDR, 0x2000);
    memset(ram, 0xcc, 0x2000); /* the loader must zero the bss */
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(mem, img, IMG_SIZE, "console=ttyS0", &info, &err), 0);
    assert_int_equal(info.entry, LOAD_ADDR + 0x40);
    assert_int_equal(info.image_lo, LOAD_ADDR);
    assert_int_equal(info.image_hi, LOAD_ADDR + 0x2000);
    assert_int_equal(info.mbi_addr, LOAD_ADDR + 0x2000);
    assert_memory_equal(ram, img + 0x1000, 0x1000);
    assert_int_equal(ram[0x1000], 0);
    assert_int_equal(ram[0x1fff], 0);

    uint32_t *mbi = at(info.mbi_addr, 88);
    assert_int_equal(mbi[0] & 0x245, 0x245); /* mem, cmdline, mmap, loader name */
    assert_int_equal(mbi[1], 639);           /* below the EBDA at 0x9fc00, as QEMU reports */
    assert_int_equal(mbi[2], (16 << 10) - 1024);
    const char *cmd = at(mbi[4], 14);
    assert_string_equal(cmd, "console=ttyS0");
    const char *name = at(mbi[16], 5);
    assert_string_equal(name, "vmio");
    /* memory map: 4 entries of 24 bytes; the last one is RAM above 1 MiB */
    assert_int_equal(mbi[11], 4 * 24);
    const uint8_t *mm = at(mbi[12], mbi[11]);
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
    assert_int_equal(vmio_multiboot_load(mem, img, size, NULL, &info, &err), code);
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
    assert_int_equal(vmio_multiboot_load(mem, img, sizeof(img), NULL, &info, &err), 0);
    assert_int_equal(info.entry, 0x200020);
    assert_int_equal(info.image_hi, 0x201000);
    const uint8_t *ram = at(0x200000, 0x1000);
    assert_memory_equal(ram, img, sizeof(img));
    assert_int_equal(ram[0x200], 0);

    h[3] = 0x100000; /* header_addr below load_addr */
    memcpy(img + 0x10, h, sizeof(h));
    expect_error(img, sizeof(img), -ENOEXEC, "do not match the header's file offset");
}

/* A guest memory of two adjacent RAM regions, a gap, then a pass-through region. */
struct split_mem {
    struct vmio_guest_mem *mem;
    uint8_t *lo, *hi, *pt;
};

#define SPLIT 0x100800 /* LOAD_ADDR + 0x800: inside the file bytes of the image's segment */

static void split_init(struct split_mem *m)
{
    m->lo = calloc(1, SPLIT);
    m->hi = calloc(1, 0x200000);
    m->pt = calloc(1, 0x4000); /* big enough to hold a whole segment */
    assert_non_null(m->lo);
    assert_non_null(m->hi);
    assert_non_null(m->pt);
    assert_int_equal(vmio_guest_mem_create(&m->mem, NULL), 0);
    struct vmio_mem_region r[] = {
        {.gpa = 0, .size = SPLIT, .host = m->lo, .name = "low"},
        {.gpa = SPLIT, .size = 0x200000, .host = m->hi, .name = "high"},
        {.gpa = 0x400000,
         .size = 0x4000,
         .host = m->pt,
         .kind = VMIO_MEM_PASSTHROUGH,
         .name = "pt"},
    };
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(vmio_guest_mem_add(m->mem, &r[i], NULL), 0);
}

static void split_fini(struct split_mem *m)
{
    vmio_guest_mem_destroy(m->mem);
    free(m->lo);
    free(m->hi);
    free(m->pt);
}

/* A segment that crosses from one RAM region into the adjacent one loads whole. */
static void test_segment_across_regions(void **state)
{
    (void)state;
    struct split_mem m;
    split_init(&m);
    static uint8_t img[IMG_SIZE];
    make_elf(img);
    memset(m.hi, 0xcc, 0x2000);
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(m.mem, img, IMG_SIZE, NULL, &info, &err), 0);
    assert_memory_equal(m.lo + LOAD_ADDR, img + 0x1000, 0x800);
    assert_memory_equal(m.hi, img + 0x1800, 0x800);
    assert_int_equal(m.hi[0x800], 0); /* the bss, zeroed in the second region */
    assert_int_equal(m.hi[0x17ff], 0);
    assert_int_equal(info.mbi_addr, 0x102000); /* the info, in the second region too */
    /* The memory map lists both RAM regions, never the pass-through one. */
    uint32_t mbi[22];
    assert_int_equal(vmio_guest_mem_read(m.mem, info.mbi_addr, mbi, sizeof(mbi)), 0);
    assert_int_equal(mbi[11] % 24, 0);
    uint8_t map[8 * 24];
    assert_true(mbi[11] <= sizeof(map));
    assert_int_equal(vmio_guest_mem_read(m.mem, mbi[12], map, mbi[11]), 0);
    for (unsigned i = 0; i < mbi[11] / 24; i++) {
        uint64_t base, len;
        memcpy(&base, map + i * 24 + 4, 8);
        memcpy(&len, map + i * 24 + 12, 8);
        assert_true(base + len <= SPLIT + 0x200000);
    }
    split_fini(&m);
}

/* Nothing is written when a segment runs into a gap or a pass-through region, or wraps. */
static void test_segment_outside_ram(void **state)
{
    (void)state;
    struct split_mem m;
    split_init(&m);
    static uint8_t img[IMG_SIZE];
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    uint32_t u32;
    const uint32_t targets[] = {
        SPLIT + 0x200000 - 0x1000, /* the last page of RAM, then the gap */
        0x3ff000,                  /* the gap */
        0x400000,                  /* the pass-through region */
        0xfffff000,                /* far beyond everything */
    };
    for (unsigned t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        make_elf(img);
        u32 = targets[t], memcpy(img + 52 + 12, &u32, 4); /* paddr */
        memset(m.hi, 0x5a, 0x200000);
        memset(m.pt, 0x5a, 0x4000);
        assert_int_equal(vmio_multiboot_load(m.mem, img, IMG_SIZE, NULL, &info, &err), -ERANGE);
        assert_non_null(strstr(err.msg, "is not inside guest RAM"));
        for (size_t i = 0; i < 0x200000; i++)
            if (m.hi[i] != 0x5a)
                fail_msg("target 0x%x: byte 0x%zx of RAM written", targets[t], i);
        for (size_t i = 0; i < 0x4000; i++)
            assert_int_equal(m.pt[i], 0x5a);
    }
    split_fini(&m);

    /*
     * An ELF64 segment whose end wraps past 2^64 is refused, not wrapped into
     * low RAM, even when RAM ends at 2^64 and starts again at 0.
     */
    struct vmio_guest_mem *wrap;
    static uint8_t top[0x1000], low[0x2000];
    assert_int_equal(vmio_guest_mem_create(&wrap, NULL), 0);
    struct vmio_mem_region rt = {.gpa = ~0ULL - 0xfff, .size = 0x1000, .host = top};
    struct vmio_mem_region rl = {.gpa = 0, .size = sizeof(low), .host = low};
    assert_int_equal(vmio_guest_mem_add(wrap, &rt, NULL), 0);
    assert_int_equal(vmio_guest_mem_add(wrap, &rl, NULL), 0);
    uint8_t img64[0x200];
    memset(img64, 0, sizeof(img64));
    memcpy(img64,
           "\x7f"
           "ELF",
           4);
    img64[4] = 2; /* ELFCLASS64 */
    img64[5] = 1;
    uint16_t u16;
    uint64_t u64;
    u16 = 62, memcpy(img64 + 18, &u16, 2);
    u64 = 0x100000, memcpy(img64 + 24, &u64, 8); /* entry */
    u64 = 64, memcpy(img64 + 32, &u64, 8);       /* phoff */
    u16 = 56, memcpy(img64 + 54, &u16, 2);
    u16 = 1, memcpy(img64 + 56, &u16, 2);
    uint8_t *ph = img64 + 64;
    u32 = 1, memcpy(ph, &u32, 4);
    u64 = 0x100, memcpy(ph + 8, &u64, 8);                  /* offset */
    u64 = 0xfffffffffffff000ULL, memcpy(ph + 24, &u64, 8); /* paddr */
    u64 = 0x10, memcpy(ph + 32, &u64, 8);                  /* filesz */
    u64 = 0x2000, memcpy(ph + 40, &u64, 8);                /* memsz: wraps to 0x1000 */
    uint32_t hdr[3] = {VMIO_MULTIBOOT_HEADER_MAGIC, 0x3,
                       (uint32_t) - (VMIO_MULTIBOOT_HEADER_MAGIC + 3)};
    memcpy(img64 + 0x140, hdr, sizeof(hdr));
    memset(low, 0x77, sizeof(low));
    memset(top, 0x77, sizeof(top));
    assert_int_equal(vmio_multiboot_load(wrap, img64, sizeof(img64), NULL, &info, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "segment 0"));
    for (unsigned i = 0; i < sizeof(low); i++)
        assert_int_equal(low[i], 0x77);
    for (unsigned i = 0; i < sizeof(top); i++)
        assert_int_equal(top[i], 0x77);
    vmio_guest_mem_destroy(wrap);
}

/* ROM is listed as reserved; mem_lower/mem_upper count writable RAM only. */
static void test_rom_in_memory_map(void **state)
{
    (void)state;
    struct vmio_guest_mem *g;
    uint8_t *low = calloc(1, 0x200000), *rom = calloc(1, 0x10000);
    assert_non_null(low);
    assert_non_null(rom);
    assert_int_equal(vmio_guest_mem_create(&g, NULL), 0);
    struct vmio_mem_region r1 = {.gpa = 0, .size = 0x200000, .host = low, .name = "ram"};
    struct vmio_mem_region r2 = {/* right after the RAM: still not counted as RAM */
                                 .gpa = 0x200000,
                                 .size = 0x10000,
                                 .host = rom,
                                 .readonly = true,
                                 .name = "rom"};
    assert_int_equal(vmio_guest_mem_add(g, &r1, NULL), 0);
    assert_int_equal(vmio_guest_mem_add(g, &r2, NULL), 0);
    static uint8_t img[IMG_SIZE];
    make_elf(img);
    struct vmio_boot_info info;
    struct vmio_error err = {0};
    assert_int_equal(vmio_multiboot_load(g, img, IMG_SIZE, NULL, &info, &err), 0);
    uint32_t mbi[22];
    assert_int_equal(vmio_guest_mem_read(g, info.mbi_addr, mbi, sizeof(mbi)), 0);
    assert_int_equal(mbi[1], 639);
    assert_int_equal(mbi[2], 1024); /* 1 MiB above 1 MiB; the ROM does not count */
    uint8_t map[8 * 24];
    assert_int_equal(mbi[11], 5 * 24); /* 4 for low RAM (legacy areas carved), 1 for the ROM */
    assert_int_equal(vmio_guest_mem_read(g, mbi[12], map, mbi[11]), 0);
    uint64_t base;
    uint32_t type;
    memcpy(&base, map + 4 * 24 + 4, 8);
    memcpy(&type, map + 4 * 24 + 20, 4);
    assert_int_equal(base, 0x200000);
    assert_int_equal(type, 2);
    vmio_guest_mem_destroy(g);
    free(low);
    free(rom);
}

/* The multiboot CPU state, on a vCPU of the fake backend; register errors are described. */
static void test_x86_setup(void **state)
{
    (void)state;
    struct vmio_fake *fake;
    assert_int_equal(vmio_fake_create(&fake, NULL), 0);
    struct vmio_vm_options o = {.mem_size = 4u << 20, .backend = vmio_fake_backend(fake)};
    struct vmio_vm *vm;
    struct vmio_vcpu *vcpu;
    struct vmio_error err = {0};
    assert_int_equal(vmio_vm_create(&o, &vm, &err), 0);
    assert_int_equal(vmio_vcpu_create(vm, 0, &vcpu, &err), 0);
    struct vmio_boot_info boot = {.entry = 0x100040, .mbi_addr = 0x102000};
    assert_int_equal(vmio_x86_setup_multiboot(vcpu, &boot, &err), 0);
    struct vmio_x86_regs r;
    struct vmio_x86_sregs s;
    assert_int_equal(vmio_fake_get_regs(fake, 0, &r), 0);
    assert_int_equal(vmio_fake_get_sregs(fake, 0, &s), 0);
    assert_int_equal(r.rip, 0x100040);
    assert_int_equal(r.gpr[VMIO_X86_RAX], VMIO_MULTIBOOT_BOOT_MAGIC);
    assert_int_equal(r.gpr[VMIO_X86_RBX], 0x102000);
    assert_int_equal(r.rflags, 0x2);
    assert_int_equal(s.cr0 & 0x80000001, 1); /* PE on, PG off */
    assert_int_equal(s.cs.base, 0);
    assert_int_equal(s.cs.limit, 0xffffffff);
    assert_int_equal(s.cs.db, 1);
    assert_int_equal(s.cs.l, 0);
    assert_int_equal(s.ds.type, 0x3);
    assert_int_equal(s.efer, 0);

    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_SET_SREGS, -EIO), 0);
    assert_int_equal(vmio_x86_setup_multiboot(vcpu, &boot, &err), -EIO);
    assert_non_null(strstr(err.msg, "segment registers (multiboot state)"));
    assert_int_equal(vmio_fake_fail(fake, VMIO_FAKE_OP_SET_REGS, -EPERM), 0);
    assert_int_equal(vmio_x86_setup_multiboot(vcpu, &boot, &err), -EPERM);
    assert_non_null(strstr(err.msg, "setting the registers (multiboot state)"));
    vmio_vcpu_destroy(vcpu);
    vmio_vm_destroy(vm);
    vmio_fake_destroy(fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_elf_and_info),  cmocka_unit_test(test_malformed_images),
        cmocka_unit_test(test_aout_kludge),         cmocka_unit_test(test_segment_across_regions),
        cmocka_unit_test(test_segment_outside_ram), cmocka_unit_test(test_rom_in_memory_map),
        cmocka_unit_test(test_x86_setup),
    };
    return cmocka_run_group_tests_name("multiboot", tests, setup, teardown);
}
