/*
 * libFuzzer target: vmio's AArch64 parts that take guest- or file-supplied
 * values: the stage-1 walk (tables and TCR/TTBR from the input), the ISV=0
 * emulation step (instruction, registers, tables and the fault's IPA from
 * the input, an echo device behind it), the loader (the input as an Image
 * or ELF, with an initrd) and the device tree of a machine described by the
 * input. Layout: bytes 0-63 control values (MMU, registers' seed, ESR ISS,
 * IPA, machine; byte 12 bit 0: every X register at the device's 0x10), the
 * rest is guest RAM at 0x40000000 and the loader's file.
 * Properties (a failure traps; `make check` replays the corpus): a walk that
 * succeeds names level 0-3 and a granule of 4/16/64 KiB, and the identity
 * with the MMU off; an emulation step returns 0, 1 or a decode error, leaves
 * the registers alone unless it returns 0, and then advances the PC by 4;
 * every device transfer stays inside the echo device and has width 1-8; a
 * load that succeeds puts the entry and a tree with the right magic inside
 * RAM; a tree that builds has its size in its header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/arm64_nisv.h"
#include "vmio/arm64_virt.h"
#include "vmio/guest_mem.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (4u << 20)
#define DEV_BASE 0x0b000000ull
#define DEV_SIZE 0x1000u

static uint8_t ram[RAM_SIZE];
static uint8_t dev[DEV_SIZE];

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t mix(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int read_desc(void *ctx, uint64_t gpa, uint64_t *v)
{
    (void)ctx;
    if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE - 8)
        return -1;
    memcpy(v, ram + (gpa - RAM_BASE), 8);
    return 0;
}

static void *ram_at(void *ctx, uint64_t gpa, uint64_t len, bool write)
{
    (void)ctx;
    (void)write;
    if (gpa < RAM_BASE || len > RAM_SIZE || gpa - RAM_BASE > RAM_SIZE - len)
        return NULL;
    return ram + (gpa - RAM_BASE);
}

static int device(void *ctx, struct vmio_exit *x)
{
    (void)ctx;
    struct vmio_access *a = &x->access;
    CHECK(a->width >= 1 && a->width <= 8 && a->count == 1 && !a->buf);
    if (a->addr < DEV_BASE || a->addr - DEV_BASE > DEV_SIZE - a->width) {
        a->data = ~0ull; /* unclaimed: all-ones, as the dispatcher's ignore policy */
        return 0;
    }
    uint8_t *p = dev + (a->addr - DEV_BASE);
    if (a->dir == VMIO_WRITE)
        memcpy(p, &a->data, a->width);
    else {
        a->data = 0;
        memcpy(&a->data, p, a->width);
    }
    return 0;
}

static void walk(const struct vmio_arm64_mmu *mmu, uint64_t va)
{
    struct vmio_arm64_walk w;
    int rc = vmio_arm64_translate(mmu, va, read_desc, NULL, &w);
    CHECK(rc == VMIO_DECODE_OK || rc == VMIO_DECODE_INVALID || rc == VMIO_DECODE_UNSUPPORTED);
    if (rc != VMIO_DECODE_OK) {
        CHECK(w.reason != NULL);
        return;
    }
    CHECK(w.reason == NULL && w.level <= 3);
    if (!(mmu->sctlr & 1))
        CHECK(w.pa == va);
    else
        CHECK(w.granule == 12 || w.granule == 14 || w.granule == 16);
}

static void emulate(const uint8_t *c, uint64_t seed)
{
    struct vmio_arm64_nisv_cpu cpu;
    for (int i = 0; i < 31; i++) {
        uint64_t r = mix(&seed);
        /* half the registers point near the device or RAM, so accesses can hit */
        cpu.regs.x[i] = (r & 1) ? DEV_BASE + (r >> 8) % DEV_SIZE : RAM_BASE + (r >> 8) % RAM_SIZE;
    }
    cpu.regs.sp = DEV_BASE + (mix(&seed) % DEV_SIZE);
    if (c[12] & 1) /* every base at one device address: the seeds' accesses hit the fault */
        for (int i = 0; i < 31; i++)
            cpu.regs.x[i] = DEV_BASE + 0x10;
    cpu.regs.pc = RAM_BASE + (le64(c + 24) % RAM_SIZE);
    cpu.mmu = (struct vmio_arm64_mmu){
        .sctlr = c[0] & 1, .tcr = le64(c + 8), .ttbr0 = le64(c + 16), .ttbr1 = le64(c + 40)};
    uint64_t esr = (0x24ull << 26) | (1ull << 25) | (le64(c + 32) & 0xffffffull & ~(1ull << 24));
    uint64_t ipa = (c[1] & 1) ? DEV_BASE + le64(c + 48) % DEV_SIZE : le64(c + 48);
    struct vmio_arm64_nisv_cpu before = cpu;
    struct vmio_arm64_nisv_ops ops = {.ram = ram_at, .device = device};
    struct vmio_exit stop;
    struct vmio_arm64_nisv_result res;
    int rc = vmio_arm64_nisv_emulate(&cpu, esr, ipa, &ops, &stop, &res);
    CHECK(rc == 0 || rc == 1 || rc == VMIO_DECODE_INVALID || rc == VMIO_DECODE_UNSUPPORTED ||
          rc == VMIO_DECODE_TRUNCATED);
    if (rc == 0)
        CHECK(cpu.regs.pc == before.regs.pc + 4 && res.transfers >= 1 && res.transfers <= 2);
    else
        CHECK(memcmp(&cpu, &before, sizeof(cpu)) == 0 && (rc == 1 || res.reason));
}

static void load(const uint8_t *c, const uint8_t *file, size_t n)
{
    static struct vmio_guest_mem *mem;
    if (!mem) {
        struct vmio_mem_region r = {
            .gpa = RAM_BASE, .size = RAM_SIZE, .host = ram, .kind = VMIO_MEM_RAM, .name = "ram"};
        if (vmio_guest_mem_create(&mem, NULL) < 0 || vmio_guest_mem_add(mem, &r, NULL) < 0)
            abort();
    }
    struct vmio_arm64_machine m = {.ram_base = RAM_BASE,
                                   .ram_size = RAM_SIZE,
                                   .cpus = 1 + c[2] % 8,
                                   .gic_version = 2 + (c[3] & 1)};
    struct vmio_arm64_boot b = {.image = file,
                                .image_size = n,
                                .initrd = file,
                                .initrd_size = (c[4] & 1) ? n : 0,
                                .cmdline = (c[4] & 2) ? "console=ttyAMA0" : NULL};
    struct vmio_arm64_entry e;
    if (vmio_arm64_load(mem, &m, &b, &e, NULL) != 0)
        return;
    CHECK(e.pc >= RAM_BASE && e.pc - RAM_BASE < RAM_SIZE);
    CHECK(e.dtb >= RAM_BASE && e.dtb_size <= RAM_SIZE - (e.dtb - RAM_BASE));
    CHECK(ram[e.dtb - RAM_BASE] == 0xd0 && ram[e.dtb - RAM_BASE + 3] == 0xed);
}

static void tree(const uint8_t *c)
{
    static uint8_t buf[8192];
    struct vmio_arm64_machine m = {.ram_size = le64(c + 56) % (3ull << 30),
                                   .cpus = c[5] % 70,
                                   .gic_version = c[6] % 5,
                                   .initrd_start = le64(c + 16),
                                   .initrd_size = c[7] & 1 ? le64(c + 24) : 0};
    for (unsigned i = 0; i < (c[8] & 7u); i++) {
        struct vmio_arm64_virtio_mmio s = vmio_arm64_virtio_slot((c[9] + i) % 40);
        vmio_arm64_machine_add_virtio(&m, s.base, s.size ^ (c[10] & 0x300), s.spi, NULL);
    }
    size_t size = 0;
    if (vmio_arm64_fdt_build(&m, buf, (size_t)(c[11] + 1) * 32, &size, NULL) != 0)
        return;
    CHECK(size >= 40 && buf[0] == 0xd0 &&
          ((size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7]) == size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t c[64] = {0};
    memcpy(c, data, size < 64 ? size : 64);
    const uint8_t *rest = size > 64 ? data + 64 : data;
    size_t n = size > 64 ? size - 64 : 0;
    memset(ram, 0, sizeof(ram));
    memcpy(ram, rest, n < RAM_SIZE ? n : RAM_SIZE);
    memset(dev, 0x5a, sizeof(dev));
    struct vmio_arm64_mmu mmu = {
        .sctlr = c[0] & 1, .tcr = le64(c + 8), .ttbr0 = le64(c + 16), .ttbr1 = le64(c + 40)};
    uint64_t seed = le64(c + 56) | 1;
    for (int i = 0; i < 4; i++)
        walk(&mmu, mix(&seed));
    walk(&mmu, RAM_BASE + le64(c + 24) % RAM_SIZE);
    emulate(c, seed);
    tree(c);
    load(c, rest, n); /* last: it writes over RAM */
    return 0;
}
