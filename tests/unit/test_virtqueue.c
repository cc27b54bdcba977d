/*
 * Split virtqueue tests (vmio/virtqueue.h) with hostile rings, no KVM: the
 * guest memory is three host buffers (RAM at 0x10000, adjacent RAM at
 * 0x20000, ROM at 0x30000, nothing elsewhere) and the test writes the rings
 * as a driver would, or as a broken or malicious one would. Checked: setup
 * refusals (size, alignment, rings outside RAM or in ROM), a good chain's
 * segments, every per-chain rule (head and next indices, loops, chain
 * length, the available index running ahead, readable after writable,
 * indirect tables: feature, nesting, NEXT, length, placement, loops and
 * indices inside them, buffers outside RAM, wrapping, in ROM, crossing two
 * regions, zero lengths, too many segments), the used ring, interrupt
 * suppression with and without EVENT_IDX, notification suppression, unpop,
 * and the iovec helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "vmio/virtqueue.h"

#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000ULL
#define RAM2_GPA 0x20000ULL /* adjacent to RAM */
#define RAM2_SIZE 0x1000ULL
#define ROM_GPA 0x30000ULL
#define ROM_SIZE 0x1000ULL

#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define BUF 0x14000ULL
#define QSIZE 8

static uint8_t *ram, *ram2, *rom;
static struct vmio_guest_mem *mem;

static int setup(void **state)
{
    (void)state;
    ram = aligned_alloc(4096, RAM_SIZE);
    ram2 = aligned_alloc(4096, RAM2_SIZE);
    rom = aligned_alloc(4096, ROM_SIZE);
    memset(ram, 0, RAM_SIZE);
    memset(ram2, 0, RAM2_SIZE);
    memset(rom, 0, ROM_SIZE);
    assert_int_equal(vmio_guest_mem_create(&mem, NULL), 0);
    struct vmio_mem_region r[] = {
        {.gpa = RAM_GPA, .size = RAM_SIZE, .host = ram, .name = "ram"},
        {.gpa = RAM2_GPA, .size = RAM2_SIZE, .host = ram2, .name = "ram2"},
        {.gpa = ROM_GPA, .size = ROM_SIZE, .host = rom, .readonly = true, .name = "rom"},
    };
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(vmio_guest_mem_add(mem, &r[i], NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vmio_guest_mem_destroy(mem);
    free(ram);
    free(ram2);
    free(rom);
    return 0;
}

static uint8_t *host(uint64_t gpa)
{
    return vmio_guest_mem_to_host(mem, gpa, 1);
}

static void w16(uint64_t gpa, uint16_t v)
{
    memcpy(host(gpa), &v, 2);
}

static uint16_t r16(uint64_t gpa)
{
    uint16_t v;
    memcpy(&v, host(gpa), 2);
    return v;
}

static uint32_t r32(uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, host(gpa), 4);
    return v;
}

/* Descriptor @i of the table at @table. */
static void desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                    uint16_t next)
{
    uint8_t *p = host(table + 16ull * i);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    desc_at(DESC, i, addr, len, flags, next);
}

/* Make chain @head available in the next avail slot (the driver side). */
static void make_avail(uint16_t head)
{
    uint16_t idx = r16(AVAIL + 2);
    w16(AVAIL + 4 + 2 * (idx % QSIZE), head);
    w16(AVAIL + 2, (uint16_t)(idx + 1));
}

/* A fresh queue of QSIZE entries, rings zeroed, @indirect / @event_idx negotiated. */
static void fresh(struct vmio_virtq *q, bool indirect, bool event_idx)
{
    memset(ram, 0, RAM_SIZE);
    struct vmio_virtq_config c = {.size = QSIZE,
                                  .desc = DESC,
                                  .avail = AVAIL,
                                  .used = USED,
                                  .indirect = indirect,
                                  .event_idx = event_idx};
    struct vmio_error err = {0};
    if (vmio_virtq_init(q, mem, &c, &err) != 0)
        fail_msg("vmio_virtq_init: %s", err.msg);
}

/* Pop expecting -EIO with a message containing @what. */
static void expect_bad(struct vmio_virtq *q, struct vmio_virtq_chain *c, const char *what)
{
    struct vmio_error err = {0};
    uint16_t last = q->last_avail;
    assert_int_equal(vmio_virtq_pop(q, c, &err), -EIO);
    if (!strstr(err.msg, what))
        fail_msg("expected '%s' in '%s'", what, err.msg);
    assert_int_equal(q->last_avail, last); /* not consumed */
}

static void test_init_refusals(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_error err = {0};
    struct vmio_virtq_config c = {.size = QSIZE, .desc = DESC, .avail = AVAIL, .used = USED};
    assert_int_equal(vmio_virtq_init(&q, mem, &c, &err), 0);
    const uint16_t bad_sizes[] = {0, 3, 12, 255};
    for (unsigned i = 0; i < 4; i++) {
        c.size = bad_sizes[i];
        assert_int_equal(vmio_virtq_init(&q, mem, &c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a power of two"));
    }
    c.size = QSIZE;
    struct {
        uint64_t desc, avail, used;
        int rc;
        const char *msg;
    } cases[] = {
        {DESC + 8, AVAIL, USED, -EINVAL, "descriptor table at 0x10008 is not 16-byte aligned"},
        {DESC, AVAIL + 1, USED, -EINVAL, "available ring at 0x11001 is not 2-byte aligned"},
        {DESC, AVAIL, USED + 2, -EINVAL, "used ring at 0x12002 is not 4-byte aligned"},
        {0x40000, AVAIL, USED, -EFAULT, "descriptor table at 0x40000"},
        {DESC, 0x50000, USED, -EFAULT, "available ring at 0x50000"},
        {DESC, AVAIL, ROM_GPA, -EFAULT, "used ring at 0x30000 is in read-only memory (rom)"},
        /* The last 16 bytes of the adjacent RAM: a table of 8 needs 128, crossing the end. */
        {RAM2_GPA + RAM2_SIZE - 16, AVAIL, USED, -EFAULT, "not in guest RAM"},
        /* A ring across two adjacent regions is refused too (one region each). */
        {RAM_GPA + RAM_SIZE - 64, AVAIL, USED, -EFAULT, "not in guest RAM"},
        {0xfffffffffffffff0ULL, AVAIL, USED, -EFAULT, "descriptor table"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c.desc = cases[i].desc;
        c.avail = cases[i].avail;
        c.used = cases[i].used;
        memset(&err, 0, sizeof(err));
        assert_int_equal(vmio_virtq_init(&q, mem, &c, &err), cases[i].rc);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %u: expected '%s' in '%s'", i, cases[i].msg, err.msg);
        /* A refused queue never pops. */
        struct vmio_virtq_chain ch;
        assert_int_equal(vmio_virtq_chain_init(&ch, 4), 0);
        assert_int_equal(vmio_virtq_pop(&q, &ch, NULL), -EIO);
        assert_false(vmio_virtq_has_avail(&q));
        vmio_virtq_chain_free(&ch);
    }
    /* The largest size is fine when it fits. */
    c = (struct vmio_virtq_config){
        .size = 2048, .desc = RAM_GPA, .avail = RAM_GPA + 0x8000, .used = RAM_GPA + 0xa000};
    assert_int_equal(vmio_virtq_init(&q, mem, &c, NULL), 0);
    struct vmio_virtq_chain ch;
    assert_int_equal(vmio_virtq_chain_init(&ch, 0), -EINVAL);
    vmio_virtq_chain_free(NULL);
}

static void test_good_chain_and_used_ring(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_virtq_chain c;
    assert_int_equal(vmio_virtq_chain_init(&c, 16), 0);
    fresh(&q, false, false);
    assert_false(vmio_virtq_has_avail(&q));
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 0);
    desc(5, BUF, 16, VMIO_VIRTQ_DESC_F_NEXT, 2);
    desc(2, BUF + 0x100, 512, VMIO_VIRTQ_DESC_F_NEXT, 7);
    desc(7, BUF + 0x400, 0, VMIO_VIRTQ_DESC_F_NEXT | VMIO_VIRTQ_DESC_F_WRITE, 0); /* empty */
    desc(0, BUF + 0x500, 1, VMIO_VIRTQ_DESC_F_WRITE, 0);
    make_avail(5);
    assert_true(vmio_virtq_has_avail(&q));
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(c.head, 5);
    assert_int_equal(c.nread, 2);
    assert_int_equal(c.nwrite, 1);
    assert_int_equal(c.read_len, 528);
    assert_int_equal(c.write_len, 1);
    assert_int_equal(c.ndesc, 4);
    assert_ptr_equal(c.iov[0].iov_base, host(BUF));
    assert_int_equal(c.iov[0].iov_len, 16);
    assert_ptr_equal(c.iov[1].iov_base, host(BUF + 0x100));
    assert_ptr_equal(c.iov[2].iov_base, host(BUF + 0x500));
    assert_false(vmio_virtq_has_avail(&q));
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 0);

    vmio_virtq_push(&q, 5, 1);
    assert_int_equal(r16(USED + 2), 1);
    assert_int_equal(r32(USED + 4), 5);
    assert_int_equal(r32(USED + 8), 1);
    assert_true(vmio_virtq_needs_interrupt(&q));
    assert_false(vmio_virtq_needs_interrupt(&q)); /* nothing new pushed */

    /* unpop: the same chain again. */
    desc(3, BUF, 8, 0, 0);
    make_avail(3);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    vmio_virtq_unpop(&q);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(c.head, 3);
    assert_int_equal(c.nwrite, 0);

    /* Indices wrap at 65536 like the driver's. */
    for (unsigned i = 0; i < 70000; i++) {
        make_avail(3);
        assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
        vmio_virtq_push(&q, 3, 0);
    }
    assert_int_equal(r16(USED + 2), (uint16_t)70001);
    vmio_virtq_chain_free(&c);
}

static void test_index_rules(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_virtq_chain c;
    assert_int_equal(vmio_virtq_chain_init(&c, 16), 0);

    fresh(&q, false, false);
    make_avail(8); /* head == size */
    expect_bad(&q, &c, "names descriptor 8, beyond the queue size 8");

    fresh(&q, false, false);
    make_avail(0xffff);
    expect_bad(&q, &c, "names descriptor 65535");

    fresh(&q, false, false);
    desc(1, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 8);
    make_avail(1);
    expect_bad(&q, &c, "descriptor 1: next 8 is beyond the table's 8 entries");

    fresh(&q, false, false); /* a loop 0 -> 1 -> 0 */
    desc(0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc(1, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 0);
    make_avail(0);
    expect_bad(&q, &c, "more than 8 buffers");

    fresh(&q, false, false); /* a self-loop */
    desc(4, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 4);
    make_avail(4);
    expect_bad(&q, &c, "more than 8 buffers");

    fresh(&q, false, false); /* every descriptor once, then the chain goes on */
    for (unsigned i = 0; i < QSIZE; i++)
        desc(i, BUF, 1, VMIO_VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
    make_avail(0);
    expect_bad(&q, &c, "more than 8 buffers");
    /* Exactly the queue size is fine. */
    desc(QSIZE - 1, BUF, 1, 0, 0);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(c.ndesc, QSIZE);

    fresh(&q, false, false); /* the driver claims more than the ring holds */
    desc(0, BUF, 4, 0, 0);
    w16(AVAIL + 2, QSIZE + 1);
    expect_bad(&q, &c, "9 entries ahead of the device's 0, more than the 8");
    w16(AVAIL + 2, QSIZE); /* exactly full is fine */
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);

    fresh(&q, false, false); /* readable after writable */
    desc(0, BUF, 4, VMIO_VIRTQ_DESC_F_WRITE | VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc(1, BUF + 8, 4, 0, 0);
    make_avail(0);
    expect_bad(&q, &c, "device-readable descriptor 1 follows a device-writable one");
    vmio_virtq_chain_free(&c);
}

static void test_buffer_rules(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_virtq_chain c;
    assert_int_equal(vmio_virtq_chain_init(&c, 16), 0);
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        const char *msg;
    } bad[] = {
        {0x40000, 4, 0, "buffer byte 0x40000 is not in guest RAM"},
        {RAM2_GPA + RAM2_SIZE - 2, 4, 0, "buffer byte 0x21000 is not in guest RAM"},
        {RAM_GPA - 1, 2, 0, "buffer byte 0xffff is not in guest RAM"},
        {0xfffffffffffffff0ULL, 0x20, 0, "wraps around the address space"},
        {ROM_GPA, 4, VMIO_VIRTQ_DESC_F_WRITE, "in read-only memory (rom)"},
        {0x0, 0xffffffff, 0, "not in guest RAM"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fresh(&q, false, false);
        desc(0, bad[i].addr, bad[i].len, bad[i].flags, 0);
        make_avail(0);
        expect_bad(&q, &c, bad[i].msg);
    }
    /* Reading ROM is fine; a buffer across the two adjacent RAM regions is two segments. */
    fresh(&q, false, false);
    desc(0, ROM_GPA + 8, 8, VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc(1, RAM2_GPA - 0x10, 0x20, VMIO_VIRTQ_DESC_F_WRITE, 0);
    make_avail(0);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(c.nread, 1);
    assert_int_equal(c.nwrite, 2);
    assert_ptr_equal(c.iov[1].iov_base, ram + RAM_SIZE - 0x10);
    assert_int_equal(c.iov[1].iov_len, 0x10);
    assert_ptr_equal(c.iov[2].iov_base, ram2);
    assert_int_equal(c.iov[2].iov_len, 0x10);
    assert_int_equal(c.write_len, 0x20);
    /* No room for the segments: -ENOSPC, nothing consumed. */
    struct vmio_virtq_chain small;
    assert_int_equal(vmio_virtq_chain_init(&small, 2), 0);
    make_avail(0);
    struct vmio_error err = {0};
    assert_int_equal(vmio_virtq_pop(&q, &small, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "more than 2 host segments"));
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    vmio_virtq_chain_free(&small);
    vmio_virtq_chain_free(&c);
}

#define TABLE 0x13000ULL

static void test_indirect_rules(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_virtq_chain c;
    assert_int_equal(vmio_virtq_chain_init(&c, 64), 0);

    fresh(&q, false, false); /* not negotiated */
    desc(0, TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    expect_bad(&q, &c, "VIRTIO_F_INDIRECT_DESC was not negotiated");

    fresh(&q, true, false); /* a good one: a direct buffer, then a table of 3 */
    desc(0, BUF, 16, VMIO_VIRTQ_DESC_F_NEXT, 6);
    desc(6, TABLE, 48, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    desc_at(TABLE, 0, BUF + 0x100, 100, VMIO_VIRTQ_DESC_F_NEXT, 2);
    desc_at(TABLE, 2, BUF + 0x200, 200, VMIO_VIRTQ_DESC_F_NEXT | VMIO_VIRTQ_DESC_F_WRITE, 1);
    desc_at(TABLE, 1, BUF + 0x300, 1, VMIO_VIRTQ_DESC_F_WRITE, 0);
    make_avail(0);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(c.head, 0);
    assert_int_equal(c.nread, 2);
    assert_int_equal(c.nwrite, 2);
    assert_int_equal(c.read_len, 116);
    assert_int_equal(c.write_len, 201);
    assert_ptr_equal(c.iov[3].iov_base, host(BUF + 0x300));

    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        const char *msg;
    } bad[] = {
        {TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT | VMIO_VIRTQ_DESC_F_NEXT, "both INDIRECT and NEXT"},
        {TABLE, 0, VMIO_VIRTQ_DESC_F_INDIRECT, "length 0 is not a non-zero multiple of 16"},
        {TABLE, 24, VMIO_VIRTQ_DESC_F_INDIRECT, "length 24 is not"},
        {0x40000, 32, VMIO_VIRTQ_DESC_F_INDIRECT, "indirect table 0x40000 + 0x20 is not in guest"},
        {RAM_GPA + RAM_SIZE - 16, 32, VMIO_VIRTQ_DESC_F_INDIRECT, "is not in guest RAM"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fresh(&q, true, false);
        desc(0, bad[i].addr, bad[i].len, bad[i].flags, 1);
        desc_at(TABLE, 0, BUF, 4, 0, 0);
        make_avail(0);
        expect_bad(&q, &c, bad[i].msg);
    }

    fresh(&q, true, false); /* nested */
    desc(0, TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    desc_at(TABLE, 0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc_at(TABLE, 1, TABLE + 0x100, 16, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    make_avail(0);
    expect_bad(&q, &c, "itself indirect (nested tables are not allowed)");

    fresh(&q, true, false); /* a loop inside the table */
    desc(0, TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    desc_at(TABLE, 0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 1);
    desc_at(TABLE, 1, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 0);
    make_avail(0);
    expect_bad(&q, &c, "loops inside its indirect table");

    fresh(&q, true, false); /* next beyond the table */
    desc(0, TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    desc_at(TABLE, 0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT, 2);
    make_avail(0);
    expect_bad(&q, &c, "indirect descriptor 0: next 2 is beyond the table's 2 entries");

    fresh(&q, true, false); /* a big table: still at most `size` buffers in the chain */
    desc(0, TABLE, 16 * 16, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    for (unsigned i = 0; i < 16; i++)
        desc_at(TABLE, i, BUF, 1, i < 15 ? VMIO_VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    make_avail(0);
    expect_bad(&q, &c, "more than 8 buffers");

    fresh(&q, true, false); /* readable after writable inside the table */
    desc(0, TABLE, 32, VMIO_VIRTQ_DESC_F_INDIRECT, 0);
    desc_at(TABLE, 0, BUF, 4, VMIO_VIRTQ_DESC_F_NEXT | VMIO_VIRTQ_DESC_F_WRITE, 1);
    desc_at(TABLE, 1, BUF, 4, 0, 0);
    make_avail(0);
    expect_bad(&q, &c, "device-readable indirect descriptor 1 follows");
    vmio_virtq_chain_free(&c);
}

static void test_interrupt_suppression(void **state)
{
    (void)state;
    struct vmio_virtq q;
    /* Without EVENT_IDX: the driver's NO_INTERRUPT flag. */
    fresh(&q, false, false);
    w16(AVAIL, VMIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
    vmio_virtq_push(&q, 0, 0);
    assert_false(vmio_virtq_needs_interrupt(&q));
    w16(AVAIL, 0);
    vmio_virtq_push(&q, 0, 0);
    assert_true(vmio_virtq_needs_interrupt(&q));

    /* With EVENT_IDX: used_event (after the avail ring) says when; the flag is ignored. */
    fresh(&q, false, true);
    const uint64_t used_event = AVAIL + 4 + 2 * QSIZE;
    w16(AVAIL, VMIO_VIRTQ_AVAIL_F_NO_INTERRUPT);
    w16(used_event, 0);
    assert_false(vmio_virtq_needs_interrupt(&q)); /* nothing pushed yet */
    vmio_virtq_push(&q, 0, 0);                    /* used 1: passes used_event 0 */
    assert_true(vmio_virtq_needs_interrupt(&q));
    w16(used_event, 2);        /* "interrupt when the used index passes 2" */
    vmio_virtq_push(&q, 0, 0); /* used 2 */
    assert_false(vmio_virtq_needs_interrupt(&q));
    vmio_virtq_push(&q, 0, 0); /* used 3: crossed */
    assert_true(vmio_virtq_needs_interrupt(&q));
    w16(used_event, 3);
    vmio_virtq_push(&q, 0, 0); /* 4 */
    vmio_virtq_push(&q, 0, 0); /* 5: 3 was passed within (3, 5] */
    assert_true(vmio_virtq_needs_interrupt(&q));
    w16(used_event, 10);
    vmio_virtq_push(&q, 0, 0);
    assert_false(vmio_virtq_needs_interrupt(&q));
}

static void test_notify_suppression(void **state)
{
    (void)state;
    struct vmio_virtq q;
    struct vmio_virtq_chain c;
    assert_int_equal(vmio_virtq_chain_init(&c, 4), 0);
    fresh(&q, false, false);
    vmio_virtq_set_notify(&q, false);
    assert_int_equal(r16(USED), VMIO_VIRTQ_USED_F_NO_NOTIFY);
    vmio_virtq_set_notify(&q, true);
    assert_int_equal(r16(USED), 0);

    fresh(&q, false, true);
    const uint64_t avail_event = USED + 4 + 8 * QSIZE;
    w16(avail_event, 0x5555);
    vmio_virtq_set_notify(&q, false); /* nothing to write with EVENT_IDX */
    assert_int_equal(r16(avail_event), 0x5555);
    assert_int_equal(r16(USED), 0);
    desc(0, BUF, 4, 0, 0);
    make_avail(0);
    make_avail(0);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    assert_int_equal(vmio_virtq_pop(&q, &c, NULL), 1);
    vmio_virtq_set_notify(&q, true); /* "notify me when you make entry 2 available" */
    assert_int_equal(r16(avail_event), 2);
    vmio_virtq_chain_free(&c);
}

static void test_iov_helpers(void **state)
{
    (void)state;
    uint8_t a[3] = {1, 2, 3}, b[1] = {0}, c[4] = {4, 5, 6, 7};
    struct iovec v[] = {{a, 3}, {b, 0}, {c, 4}};
    uint8_t out[8];
    memset(out, 0, sizeof(out));
    assert_int_equal(vmio_iov_to_buf(v, 3, 2, out, 4), 4);
    assert_memory_equal(out, ((uint8_t[]){3, 4, 5, 6}), 4);
    assert_int_equal(vmio_iov_to_buf(v, 3, 5, out, 8), 2); /* cut at the end */
    assert_int_equal(vmio_iov_to_buf(v, 3, 99, out, 8), 0);
    const uint8_t in[] = {9, 9, 9};
    assert_int_equal(vmio_iov_from_buf(v, 3, 1, in, 3), 3);
    assert_memory_equal(a, ((uint8_t[]){1, 9, 9}), 3);
    assert_int_equal(c[0], 9);
    assert_int_equal(c[1], 5);
    struct iovec s[4];
    assert_int_equal(vmio_iov_slice(v, 3, 1, 4, s, 4), 2);
    assert_ptr_equal(s[0].iov_base, a + 1);
    assert_int_equal(s[0].iov_len, 2);
    assert_ptr_equal(s[1].iov_base, c);
    assert_int_equal(s[1].iov_len, 2);
    assert_int_equal(vmio_iov_slice(v, 3, 1, 4, s, 1), -ENOSPC);
    assert_int_equal(vmio_iov_slice(v, 3, 0, 100, s, 4), 2); /* cut at the end */
    assert_int_equal(s[1].iov_len, 4);
    assert_int_equal(vmio_iov_slice(v, 3, 7, 1, s, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_refusals),      cmocka_unit_test(test_good_chain_and_used_ring),
        cmocka_unit_test(test_index_rules),        cmocka_unit_test(test_buffer_rules),
        cmocka_unit_test(test_indirect_rules),     cmocka_unit_test(test_interrupt_suppression),
        cmocka_unit_test(test_notify_suppression), cmocka_unit_test(test_iov_helpers),
    };
    return cmocka_run_group_tests_name("virtqueue", tests, setup, teardown);
}
