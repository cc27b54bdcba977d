/*
 * x86 decode cache tests: miss then hit, key = (GPA, mode), verification
 * against current bytes (stale entries), page invalidation, page-crossing
 * instructions, eviction, counters and argument errors.
 */
#include "x86_test.h"

static void test_hit_miss(void **state)
{
    (void)state;
    struct vmio_x86_cache_entry slots[64];
    struct vmio_x86_cache c;
    struct vmio_x86_insn d;
    assert_int_equal(vmio_x86_cache_init(&c, slots, 64), VMIO_DECODE_OK);
    const struct x86_vector *v = decode_vec("add dword ptr [rbx], esi", &d);

    assert_null(vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_64, NULL, 0));
    assert_int_equal(c.misses, 1);
    assert_int_equal(vmio_x86_cache_insert(&c, 0x100000, &d, v->bytes), VMIO_DECODE_OK);
    const struct vmio_x86_insn *h = vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_64, NULL, 0);
    assert_non_null(h);
    assert_memory_equal(h, &d, sizeof(d));
    assert_int_equal(c.hits, 1);
    /* With the current bytes (and more after them): still a hit. */
    uint8_t more[15];
    memset(more, 0x90, sizeof(more));
    memcpy(more, v->bytes, v->len);
    assert_non_null(vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_64, more, sizeof(more)));
    assert_int_equal(c.hits, 2);
    /* Another address or another mode: miss. */
    assert_null(vmio_x86_cache_lookup(&c, 0x100001, VMIO_X86_MODE_64, NULL, 0));
    assert_null(vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_32, NULL, 0));
    assert_int_equal(c.misses, 3);
    /* Fewer bytes than the instruction: cannot verify, miss. */
    assert_null(vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_64, v->bytes, 1));
    assert_int_equal(c.stale, 1);
    assert_null(vmio_x86_cache_lookup(&c, 0x100000, VMIO_X86_MODE_64, NULL, 0));
}

static void test_stale_bytes(void **state)
{
    (void)state;
    struct vmio_x86_cache_entry slots[16];
    struct vmio_x86_cache c;
    struct vmio_x86_insn d, d2;
    assert_int_equal(vmio_x86_cache_init(&c, slots, 16), VMIO_DECODE_OK);
    const struct x86_vector *v = decode_vec("mov eax, dword ptr [rbx]", &d);
    const struct x86_vector *w = decode_vec("mov ecx, dword ptr [rbx]", &d2);
    assert_int_equal(vmio_x86_cache_insert(&c, 0x2000, &d, v->bytes), VMIO_DECODE_OK);
    /* The guest rewrote the instruction: the supplied bytes differ. */
    assert_null(vmio_x86_cache_lookup(&c, 0x2000, VMIO_X86_MODE_64, w->bytes, w->len));
    assert_int_equal(c.stale, 1);
    assert_int_equal(c.misses, 1);
    /* The stale entry was dropped. */
    assert_null(vmio_x86_cache_lookup(&c, 0x2000, VMIO_X86_MODE_64, NULL, 0));
    assert_int_equal(vmio_x86_cache_insert(&c, 0x2000, &d2, w->bytes), VMIO_DECODE_OK);
    const struct vmio_x86_insn *h =
        vmio_x86_cache_lookup(&c, 0x2000, VMIO_X86_MODE_64, w->bytes, w->len);
    assert_non_null(h);
    assert_int_equal(h->access.reg, VMIO_X86_RCX);
}

static void test_invalidate_page(void **state)
{
    (void)state;
    struct vmio_x86_cache_entry slots[256];
    struct vmio_x86_cache c;
    struct vmio_x86_insn d;
    assert_int_equal(vmio_x86_cache_init(&c, slots, 256), VMIO_DECODE_OK);
    const struct x86_vector *v = decode_vec("mov eax, dword ptr [rbx]", &d);
    /* 8 instructions in page 0x5000, 8 in page 0x6000. */
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(vmio_x86_cache_insert(&c, 0x5000 + i * 0x200, &d, v->bytes),
                         VMIO_DECODE_OK);
        assert_int_equal(vmio_x86_cache_insert(&c, 0x6000 + i * 0x200, &d, v->bytes),
                         VMIO_DECODE_OK);
    }
    unsigned present = 0;
    for (uint64_t i = 0; i < 8; i++)
        present += vmio_x86_cache_lookup(&c, 0x5000 + i * 0x200, VMIO_X86_MODE_64, NULL, 0) != NULL;
    unsigned dropped = vmio_x86_cache_invalidate_page(&c, 0x5abc);
    assert_int_equal(dropped, present);
    assert_int_equal(c.invalidated, present);
    for (uint64_t i = 0; i < 8; i++) {
        assert_null(vmio_x86_cache_lookup(&c, 0x5000 + i * 0x200, VMIO_X86_MODE_64, NULL, 0));
    }
    unsigned left = 0;
    for (uint64_t i = 0; i < 8; i++)
        left += vmio_x86_cache_lookup(&c, 0x6000 + i * 0x200, VMIO_X86_MODE_64, NULL, 0) != NULL;
    assert_true(left >= 1);
    assert_int_equal(vmio_x86_cache_invalidate_page(&c, 0x7000), 0);

    /* An instruction that would cross into the next page is not cached. */
    assert_int_equal(vmio_x86_cache_insert(&c, 0x7fff, &d, v->bytes), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_cache_insert(&c, 0x8000 - v->len, &d, v->bytes), VMIO_DECODE_OK);
    assert_int_equal(vmio_x86_cache_invalidate_page(&c, 0x7000), 1);

    vmio_x86_cache_clear(&c);
    for (uint64_t i = 0; i < 8; i++)
        assert_null(vmio_x86_cache_lookup(&c, 0x6000 + i * 0x200, VMIO_X86_MODE_64, NULL, 0));
}

static void test_eviction_and_errors(void **state)
{
    (void)state;
    struct vmio_x86_cache_entry slots[3];
    struct vmio_x86_cache c;
    struct vmio_x86_insn d, bad;
    assert_int_equal(vmio_x86_cache_init(&c, slots, 3), VMIO_DECODE_OK);
    assert_int_equal(c.nslots, 2);
    const struct x86_vector *v = decode_vec("mov eax, dword ptr [rbx]", &d);
    /* Many keys into two slots: every lookup of the last insert hits. */
    for (uint64_t g = 0; g < 100; g++) {
        assert_int_equal(vmio_x86_cache_insert(&c, g * 16, &d, v->bytes), VMIO_DECODE_OK);
        assert_non_null(vmio_x86_cache_lookup(&c, g * 16, VMIO_X86_MODE_64, v->bytes, v->len));
    }
    assert_int_equal(vmio_x86_decode(v->bytes, 1, VMIO_X86_MODE_64, &bad), VMIO_DECODE_TRUNCATED);
    assert_int_equal(vmio_x86_cache_insert(&c, 0, &bad, v->bytes), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_cache_insert(&c, 0, &d, NULL), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_cache_init(&c, NULL, 4), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_cache_init(&c, slots, 0), VMIO_DECODE_INVALID);
    assert_null(vmio_x86_cache_lookup(&c, 0, VMIO_X86_MODE_64, NULL, 0));
    assert_int_equal(vmio_x86_cache_insert(&c, 0, &d, v->bytes), VMIO_DECODE_INVALID);
    assert_int_equal(vmio_x86_cache_invalidate_page(&c, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss),
        cmocka_unit_test(test_stale_bytes),
        cmocka_unit_test(test_invalidate_page),
        cmocka_unit_test(test_eviction_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
