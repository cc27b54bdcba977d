/*
 * libFuzzer target: the split-virtqueue parser (vmio/virtqueue.h) on guest
 * memory the input chooses. The first 9 bytes pick the queue (size 1 <<
 * (b0 % 16), INDIRECT_DESC and EVENT_IDX from b1, the three rings' offsets
 * in RAM from b2..b7, up to b8 chains); the rest is RAM's content: 64 KiB at
 * 0x10000, followed by 4 KiB of adjacent RAM at 0x20000 and, after a gap, 4
 * KiB of ROM at 0x30000, so descriptors can point inside, across, between
 * and outside regions. Each popped chain's segments are read and written
 * end to end (ASan catches any byte outside the guest buffers) and pushed
 * back; interrupt and notification suppression run in between, the iovec
 * helpers on random offsets. Needs no KVM. Crashes and sanitizer reports are
 * the failures; refusals (-EIO, -ENOSPC) are expected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/virtqueue.h"

#define RAM_GPA 0x10000ULL
#define RAM_SIZE 0x10000u
#define RAM2_GPA 0x20000ULL
#define ROM_GPA 0x30000ULL
#define SMALL 0x1000u
#define HDR 9

static uint8_t *ram, *ram2, *rom;
static struct vmio_guest_mem *mem;

static void init(void)
{
    ram = aligned_alloc(4096, RAM_SIZE);
    ram2 = aligned_alloc(4096, SMALL);
    rom = aligned_alloc(4096, SMALL);
    if (!ram || !ram2 || !rom || vmio_guest_mem_create(&mem, NULL) < 0)
        abort();
    struct vmio_mem_region r[] = {
        {.gpa = RAM_GPA, .size = RAM_SIZE, .host = ram, .name = "ram"},
        {.gpa = RAM2_GPA, .size = SMALL, .host = ram2, .name = "ram2"},
        {.gpa = ROM_GPA, .size = SMALL, .host = rom, .readonly = true, .name = "rom"},
    };
    for (unsigned i = 0; i < 3; i++)
        if (vmio_guest_mem_add(mem, &r[i], NULL) < 0)
            abort();
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mem)
        init();
    if (size < HDR)
        return 0;
    memset(ram, 0, RAM_SIZE);
    memset(ram2, 0, SMALL);
    size_t n = size - HDR;
    memcpy(ram, data + HDR, n < RAM_SIZE ? n : RAM_SIZE);
    if (n > RAM_SIZE)
        memcpy(ram2, data + HDR + RAM_SIZE, n - RAM_SIZE < SMALL ? n - RAM_SIZE : SMALL);
    memcpy(rom, ram, SMALL); /* something to read there */

    struct vmio_virtq_config c = {.size = (uint16_t)(1u << (data[0] % 16)),
                                  .desc = RAM_GPA + u16(data + 2),
                                  .avail = RAM_GPA + u16(data + 4),
                                  .used = RAM_GPA + u16(data + 6),
                                  .indirect = data[1] & 1,
                                  .event_idx = (data[1] >> 1) & 1};
    if (data[1] & 4) /* size 0 (65536) must be refused too */
        c.size = 0;
    struct vmio_virtq q;
    struct vmio_virtq_chain ch;
    if (vmio_virtq_chain_init(&ch, 64 + (data[1] >> 3)) < 0)
        abort();
    vmio_virtq_init(&q, mem, &c, NULL); /* may refuse: pops must then fail cleanly */
    unsigned max = data[8];
    for (unsigned i = 0; i < max; i++) {
        vmio_virtq_set_notify(&q, i & 1);
        if (!vmio_virtq_has_avail(&q) && i > 0)
            break;
        int rc = vmio_virtq_pop(&q, &ch, NULL);
        if (rc <= 0)
            break;
        uint64_t written = 0;
        for (unsigned k = 0; k < ch.nread + ch.nwrite; k++) {
            volatile uint8_t *p = ch.iov[k].iov_base;
            uint8_t sum = 0;
            for (size_t b = 0; b < ch.iov[k].iov_len; b++)
                sum ^= p[b];
            if (k >= ch.nread) {
                for (size_t b = 0; b < ch.iov[k].iov_len; b++)
                    p[b] = sum;
                written += ch.iov[k].iov_len;
            }
        }
        uint8_t tmp[64];
        vmio_iov_to_buf(ch.iov, ch.nread, data[1] % 32, tmp, sizeof(tmp));
        vmio_iov_from_buf(ch.iov + ch.nread, ch.nwrite, data[0] % 32, tmp, sizeof(tmp));
        struct iovec slice[8];
        vmio_iov_slice(ch.iov, ch.nread + ch.nwrite, data[2], data[3] * 16u, slice, 8);
        if (i % 3 == 2)
            vmio_virtq_unpop(&q); /* and take it again next round */
        else
            vmio_virtq_push(&q, ch.head, (uint32_t)written);
        vmio_virtq_needs_interrupt(&q);
    }
    vmio_virtq_chain_free(&ch);
    return 0;
}
