/*
 * virtio-rng tests (vmio/virtio_rng.h), no KVM: the model behind the
 * transport on a fake VM (virtio_harness.h). Checked: identity (device ID,
 * no features of its own, no config space); the writable buffers of a chain
 * are filled (readable ones untouched) and the used length is what was
 * written; one chain gets at most VMIO_VIRTIO_RNG_MAX_CHAIN bytes; a chain
 * with nothing writable gets 0; counters.
 */
#include "virtio_harness.h"

#include "vmio/virtio_rng.h"

/* Whether @len bytes at @p are all @b. */
static bool all(const uint8_t *p, size_t len, uint8_t b)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != b)
            return false;
    return true;
}

static void test_rng(void **state)
{
    (void)state;
    struct vmio_virtio_device *m;
    assert_int_equal(vmio_virtio_rng_create(&m, NULL), 0);
    struct vh h;
    vh_init(&h, m);
    assert_string_equal(h.dev->name, "virtio-rng");
    assert_int_equal(vh_rd(&h, VMIO_VIRTIO_MMIO_DEVICE_ID), VMIO_VIRTIO_ID_RNG);
    assert_int_equal(vh_offered(&h) & 0xffffff, 0);
    uint64_t v = 1;
    assert_int_equal(vmio_device_read(h.dev, VMIO_VIRTIO_MMIO_CONFIG, 4, &v), 0);
    assert_int_equal(v, 0);
    vh_start(&h, 0, 1);

    /* A readable buffer (ignored), then two writable ones. */
    uint64_t r = vh_alloc(&h, 32, 0x55), a = vh_alloc(&h, 16, 0), b = vh_alloc(&h, 48, 0);
    struct vh_seg s[] = {{r, 32, false}, {a, 16, true}, {b, 48, true}};
    uint16_t head = vh_chain(&h, 0, s, 3);
    vh_kick(&h, 0);
    assert_int_equal(vh_used_idx(&h, 0), 1);
    uint32_t id, len;
    vh_used(&h, 0, 0, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 64);
    assert_true(all(vh_host(&h, r, 32), 32, 0x55));
    /* 64 random bytes are all zero with probability 2^-512. */
    assert_false(all(vh_host(&h, a, 16), 16, 0) && all(vh_host(&h, b, 48), 48, 0));

    /* A huge request gets the cap; the rest of the buffer is untouched. */
    const uint32_t big = VMIO_VIRTIO_RNG_MAX_CHAIN + 4096;
    uint64_t g = vh_alloc(&h, big, 0);
    struct vh_seg sg[] = {{g, big, true}};
    vh_chain(&h, 0, sg, 1);
    vh_kick(&h, 0);
    vh_used(&h, 0, 1, &id, &len);
    assert_int_equal(len, VMIO_VIRTIO_RNG_MAX_CHAIN);
    assert_true(all(vh_host(&h, g + VMIO_VIRTIO_RNG_MAX_CHAIN, 4096), 4096, 0));
    assert_false(all(vh_host(&h, g + VMIO_VIRTIO_RNG_MAX_CHAIN - 64, 64), 64, 0));

    /* Nothing writable: returned with 0 bytes. */
    struct vh_seg ro[] = {{r, 8, false}};
    vh_chain(&h, 0, ro, 1);
    vh_kick(&h, 0);
    vh_used(&h, 0, 2, &id, &len);
    assert_int_equal(len, 0);

    struct vmio_virtio_rng_stats st;
    assert_true(vmio_virtio_rng_stats(m, &st));
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.bytes, 64 + VMIO_VIRTIO_RNG_MAX_CHAIN);
    assert_int_equal(st.host_errors, 0);
    assert_false(vmio_virtio_rng_stats(NULL, &st));
    vh_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
    };
    return cmocka_run_group_tests_name("virtio_rng", tests, NULL, NULL);
}
