/*
 * The AArch64 ISV=0 emulation step (vmio_arm64_nisv_emulate(), pure): a fake
 * guest (RAM buffer, register file, a device that records every transfer)
 * runs load/store pairs, pre/post-index forms, LDPSW, SP as a base, a pair
 * split between RAM and the device, the MMU on (a 4 KiB level-1 block
 * table) and off; and the refusals: code outside RAM, unsupported
 * instructions, an address that does not match the fault, a transfer that
 * crosses a page, a device that stops the vCPU (registers untouched).
 * Instruction words were assembled with aarch64-linux-gnu-as (the comment
 * beside each is its source).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmio/arm64_nisv.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x10000u
#define DEV_BASE 0x0b000000ull
#define DEV_SIZE 0x2000u
#define CODE (RAM_BASE + 0x1000)

static uint8_t ram[RAM_SIZE];
static uint8_t dev[DEV_SIZE]; /* an echo device: what is written reads back */

struct transfer {
    int dir;
    unsigned width;
    uint64_t addr, data;
    uint8_t reg;
};
static struct transfer log_[8];
static unsigned nlog;
static int stop_at = -1; /* the device stops the vCPU at this transfer */

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
    assert_true(a->addr >= DEV_BASE && a->addr - DEV_BASE + a->width <= DEV_SIZE);
    assert_null(a->buf);
    assert_int_equal(a->count, 1);
    if ((int)nlog == stop_at) {
        x->reason = VMIO_EXIT_DEBUG_EXIT;
        return 1;
    }
    uint8_t *p = dev + (a->addr - DEV_BASE);
    if (a->dir == VMIO_WRITE) {
        for (unsigned i = 0; i < a->width; i++)
            p[i] = (uint8_t)(a->data >> (8 * i));
    } else {
        a->data = 0;
        for (unsigned i = 0; i < a->width; i++)
            a->data |= (uint64_t)p[i] << (8 * i);
    }
    log_[nlog++] = (struct transfer){a->dir, a->width, a->addr, a->data, a->reg};
    return 0;
}

static const struct vmio_arm64_nisv_ops ops = {.ram = ram_at, .device = device};

static struct vmio_arm64_nisv_cpu cpu;
static struct vmio_exit stop;
static struct vmio_arm64_nisv_result res;

/* ESR of a data abort from EL1 into EL2 with ISV = 0 (WnR as given). */
static uint64_t esr(bool write)
{
    return (0x24ull << 26) | (1ull << 25) | (write ? 1ull << 6 : 0) | 0x10; /* FSC: ext abort */
}

static void setup(uint32_t insn)
{
    memset(ram, 0, sizeof(ram));
    for (unsigned i = 0; i < DEV_SIZE; i++)
        dev[i] = (uint8_t)(0x80 + i);
    memset(&cpu, 0, sizeof(cpu));
    memset(log_, 0, sizeof(log_));
    nlog = 0;
    stop_at = -1;
    for (unsigned i = 0; i < 31; i++)
        cpu.regs.x[i] = 0x1111111111111111ull * (i % 15 + 1);
    cpu.regs.pc = CODE;
    cpu.regs.sp = RAM_BASE + 0x8000;
    memcpy(ram + (CODE - RAM_BASE), &insn, 4);
}

static int run(uint64_t esr_value, uint64_t ipa)
{
    return vmio_arm64_nisv_emulate(&cpu, esr_value, ipa, &ops, &stop, &res);
}

static uint64_t dev64(unsigned off)
{
    uint64_t v;
    memcpy(&v, dev + off, 8);
    return v;
}

static void test_ldp(void **state)
{
    (void)state;
    setup(0xa9400801); /* ldp x1, x2, [x0] */
    cpu.regs.x[0] = DEV_BASE + 0x10;
    assert_int_equal(run(esr(false), DEV_BASE + 0x10), 0);
    assert_null(res.reason);
    assert_int_equal(res.transfers, 2);
    assert_int_equal(nlog, 2);
    assert_int_equal(log_[0].addr, DEV_BASE + 0x10);
    assert_int_equal(log_[1].addr, DEV_BASE + 0x18);
    assert_int_equal(log_[0].width, 8);
    assert_int_equal(cpu.regs.x[1], dev64(0x10));
    assert_int_equal(cpu.regs.x[2], dev64(0x18));
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x10); /* no writeback */
    assert_int_equal(cpu.regs.pc, CODE + 4);
}

static void test_stp_pre_index(void **state)
{
    (void)state;
    setup(0xa9811003); /* stp x3, x4, [x0, #16]! */
    cpu.regs.x[0] = DEV_BASE;
    cpu.regs.x[3] = 0x0123456789abcdefull;
    cpu.regs.x[4] = 0xfedcba9876543210ull;
    /* the fault may name either transfer: here the second */
    assert_int_equal(run(esr(true), DEV_BASE + 0x18 + 3), 0);
    assert_int_equal(nlog, 2);
    assert_int_equal(log_[0].dir, VMIO_WRITE);
    assert_int_equal(dev64(0x10), 0x0123456789abcdefull);
    assert_int_equal(dev64(0x18), 0xfedcba9876543210ull);
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x10);
    assert_int_equal(cpu.regs.pc, CODE + 4);
}

static void test_post_index_and_writeback_forms(void **state)
{
    (void)state;
    setup(0xf8408405); /* ldr x5, [x0], #8 */
    cpu.regs.x[0] = DEV_BASE + 0x20;
    assert_int_equal(run(esr(false), DEV_BASE + 0x20), 0);
    assert_int_equal(cpu.regs.x[5], dev64(0x20));
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x28);

    setup(0xb8004c06); /* str w6, [x0, #4]! */
    cpu.regs.x[0] = DEV_BASE + 0x30;
    cpu.regs.x[6] = 0xaaaaaaaa5eadbeefull;
    assert_int_equal(run(esr(true), DEV_BASE + 0x34), 0);
    assert_int_equal(log_[0].width, 4);
    assert_int_equal(log_[0].data, 0x5eadbeef);
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x34);

    setup(0x78802c0e); /* ldrsh x14, [x0, #2]! */
    cpu.regs.x[0] = DEV_BASE + 0x40;
    dev[0x42] = 0x34;
    dev[0x43] = 0x92;
    assert_int_equal(run(esr(false), DEV_BASE + 0x42), 0);
    assert_int_equal(cpu.regs.x[14], 0xffffffffffff9234ull);
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x42);

    setup(0xa8bf341f); /* stp xzr, x13, [x0], #-16 */
    cpu.regs.x[0] = DEV_BASE + 0x50;
    assert_int_equal(run(esr(true), DEV_BASE + 0x50), 0);
    assert_int_equal(dev64(0x50), 0); /* XZR stores 0 */
    assert_int_equal(dev64(0x58), cpu.regs.x[13]);
    assert_int_equal(cpu.regs.x[0], DEV_BASE + 0x40);
}

static void test_ldpsw_w_pairs_and_sp(void **state)
{
    (void)state;
    setup(0x69402c0a); /* ldpsw x10, x11, [x0] */
    cpu.regs.x[0] = DEV_BASE + 0x60;
    assert_int_equal(run(esr(false), DEV_BASE + 0x60), 0);
    assert_int_equal(log_[0].width, 4);
    assert_int_equal(cpu.regs.x[10], 0xffffffffe3e2e1e0ull); /* bytes 0xe0.. sign-extended */
    assert_int_equal(cpu.regs.x[11], 0xffffffffe7e6e5e4ull);

    setup(0x297f2127); /* ldp w7, w8, [x9, #-8] */
    cpu.regs.x[9] = DEV_BASE + 0x10;
    assert_int_equal(run(esr(false), DEV_BASE + 0x8), 0);
    assert_int_equal(cpu.regs.x[7], 0x8b8a8988ull); /* W destination: upper half zero */
    assert_int_equal(cpu.regs.x[8], 0x8f8e8d8cull);

    setup(0xf8408fec); /* ldr x12, [sp, #8]! */
    cpu.regs.sp = DEV_BASE + 0x70;
    assert_int_equal(run(esr(false), DEV_BASE + 0x78), 0);
    assert_int_equal(cpu.regs.x[12], dev64(0x78));
    assert_int_equal(cpu.regs.sp, DEV_BASE + 0x78);
}

/*
 * 4 KiB pages, 39-bit VA: VA 0x1000 -> RAM_BASE + 0x3000, VA 0x2000 -> DEV_BASE, the
 * code's GiB (VA 0x4000_0000) flat through a level-1 block.
 */
static void map_split_pages(void)
{
    uint64_t l1 = RAM_BASE + 0x4000, l2 = RAM_BASE + 0x5000, l3 = RAM_BASE + 0x6000;
    uint64_t e[] = {l2 | 3, 0x40000000ull | 1, l3 | 3, (RAM_BASE + 0x3000) | 3, DEV_BASE | 3};
    memcpy(ram + 0x4000, &e[0], 8);
    memcpy(ram + 0x4008, &e[1], 8);
    memcpy(ram + 0x5000, &e[2], 8);
    memcpy(ram + 0x6008, &e[3], 8);
    memcpy(ram + 0x6010, &e[4], 8);
    cpu.mmu = (struct vmio_arm64_mmu){.sctlr = 1, .tcr = 25 /* T0SZ */, .ttbr0 = l1};
}

/* A pair whose first half is RAM and second half the device. */
static void test_pair_split_ram_device(void **state)
{
    (void)state;
    setup(0xa9400801); /* ldp x1, x2, [x0] */
    map_split_pages();
    uint64_t word = 0x0706050403020100ull;
    memcpy(ram + 0x3ff8, &word, 8);
    cpu.regs.x[0] = 0x1ff8;
    assert_int_equal(run(esr(false), DEV_BASE), 0);
    assert_int_equal(res.pa[0], RAM_BASE + 0x3ff8);
    assert_int_equal(res.pa[1], DEV_BASE);
    assert_int_equal(nlog, 1); /* only the device half reached the device */
    assert_int_equal(cpu.regs.x[1], word);
    assert_int_equal(cpu.regs.x[2], dev64(0));

    setup(0xa9811003); /* stp x3, x4, [x0, #16]!: both halves, RAM written too */
    map_split_pages();
    cpu.regs.x[0] = 0x1fe8;
    assert_int_equal(run(esr(true), DEV_BASE), 0);
    memcpy(&word, ram + 0x3ff8, 8);
    assert_int_equal(word, cpu.regs.x[3]);
    assert_int_equal(dev64(0), cpu.regs.x[4]);
    assert_int_equal(cpu.regs.x[0], 0x1ff8);

    setup(0xf8408405); /* ldr x5, [x0], #8 with its 8 bytes across the two pages */
    map_split_pages();
    cpu.regs.x[0] = 0x1ffc;
    assert_int_equal(run(esr(false), DEV_BASE), VMIO_DECODE_UNSUPPORTED);
    assert_string_equal(res.reason, "a transfer crosses a page boundary");
    assert_int_equal(nlog, 0);
}

static void test_mmu_on(void **state)
{
    (void)state;
    setup(0xa9400801); /* ldp x1, x2, [x0] */
    /* 4 KiB granule, 39-bit VA, level-1 table at RAM_BASE + 0x4000:
     * VA 0x0000_0000_xxxx (GiB 0) -> PA 0 (1 GiB block: the device's GiB),
     * VA 0x4000_0000 (GiB 1) -> PA 0x4000_0000 (RAM, where the code is),
     * VA 0x7f_c000_0000 (last GiB) -> PA 0 as well. */
    uint64_t l1 = RAM_BASE + 0x4000;
    uint64_t d0 = 0x0ull | 1, d1 = 0x40000000ull | 1;
    memcpy(ram + 0x4000, &d0, 8);
    memcpy(ram + 0x4008, &d1, 8);
    memcpy(ram + 0x4000 + 511 * 8, &d0, 8);
    cpu.mmu = (struct vmio_arm64_mmu){.sctlr = 1, .tcr = 25 /* T0SZ */, .ttbr0 = l1};
    cpu.regs.x[0] = 0x7fc0000000ull + DEV_BASE + 0x10;
    assert_int_equal(run(esr(false), DEV_BASE + 0x10), 0);
    assert_int_equal(log_[0].addr, DEV_BASE + 0x10);
    assert_int_equal(cpu.regs.x[1], dev64(0x10));
    /* the code itself unmapped: refused */
    setup(0xa9400801);
    memcpy(ram + 0x4000, &d0, 8);
    cpu.mmu = (struct vmio_arm64_mmu){.sctlr = 1, .tcr = 25, .ttbr0 = l1};
    cpu.regs.x[0] = DEV_BASE;
    assert_int_equal(run(esr(false), DEV_BASE), VMIO_DECODE_INVALID);
    assert_string_equal(res.reason, "invalid descriptor (translation fault)");
}

static void test_refusals_leave_registers(void **state)
{
    (void)state;
    struct vmio_arm64_nisv_cpu before;

    setup(0x4c407000); /* ld1 {v0.16b}, [x0] */
    cpu.regs.x[0] = DEV_BASE;
    before = cpu;
    assert_int_equal(run(esr(false), DEV_BASE), VMIO_DECODE_UNSUPPORTED);
    assert_non_null(res.reason);
    assert_memory_equal(&cpu, &before, sizeof(cpu));

    setup(0xa9400801); /* ldp x1, x2, [x0], but the fault is elsewhere */
    cpu.regs.x[0] = DEV_BASE;
    before = cpu;
    assert_int_equal(run(esr(false), DEV_BASE + 0x40), VMIO_DECODE_INVALID);
    assert_string_equal(res.reason, "the instruction's address does not match the faulting IPA");
    assert_int_equal(nlog, 0);
    assert_memory_equal(&cpu, &before, sizeof(cpu));

    setup(0xa9400801); /* the PC outside RAM */
    cpu.regs.pc = 0x1000;
    assert_int_equal(run(esr(false), DEV_BASE), VMIO_DECODE_INVALID);
    assert_string_equal(res.reason, "the instruction is not in guest RAM");
    setup(0xa9400801);
    cpu.regs.pc = CODE + 2;
    assert_int_equal(run(esr(false), DEV_BASE), VMIO_DECODE_INVALID);

    setup(0xf8408405); /* ldr x5, [x0], #8 across a 4 KiB page, MMU on */
    uint64_t d0 = 0x0ull | 1, d1 = 0x40000000ull | 1;
    memcpy(ram + 0x4000, &d0, 8);
    memcpy(ram + 0x4008, &d1, 8);
    cpu.mmu = (struct vmio_arm64_mmu){.sctlr = 1, .tcr = 25, .ttbr0 = RAM_BASE + 0x4000};
    cpu.regs.x[0] = DEV_BASE + 0xffc;
    assert_int_equal(run(esr(false), DEV_BASE + 0xffc), 0); /* a 1 GiB block: no page edge */
    assert_int_equal(log_[0].addr, DEV_BASE + 0xffc);

    setup(0xa9811003); /* stp x3, x4, [x0, #16]! stopped by the device at the 2nd transfer */
    cpu.regs.x[0] = DEV_BASE;
    before = cpu;
    stop_at = 1;
    assert_int_equal(run(esr(true), DEV_BASE + 0x10), 1);
    assert_int_equal(stop.reason, VMIO_EXIT_DEBUG_EXIT);
    assert_memory_equal(&cpu, &before, sizeof(cpu));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ldp),
        cmocka_unit_test(test_stp_pre_index),
        cmocka_unit_test(test_post_index_and_writeback_forms),
        cmocka_unit_test(test_ldpsw_w_pairs_and_sp),
        cmocka_unit_test(test_pair_split_ram_device),
        cmocka_unit_test(test_mmu_on),
        cmocka_unit_test(test_refusals_leave_registers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
