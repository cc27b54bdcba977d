/*
 * virtio-console tests (vmio/virtio_console.h), no KVM: the model behind the
 * transport on a fake VM (virtio_harness.h), on a memory chardev (input fed
 * by the test, then the receive queue kicked) and on a pipe (input noticed
 * by the I/O thread on its own). Checked: identity and config space; guest
 * output reaches the chardev in order, used length 0; input goes into
 * receive buffers, split across them, kept while the guest has none and
 * delivered when one comes; a reset drops what was pending; counters.
 */
#include "virtio_harness.h"

#include <sched.h>

#include "vmio/chardev.h"
#include "vmio/virtio_console.h"

#define RX VMIO_VIRTIO_CONSOLE_RX
#define TX VMIO_VIRTIO_CONSOLE_TX

struct con {
    struct vh h;
    struct vmio_chardev *cd;
};

static void con_init(struct con *c, struct vmio_chardev *cd)
{
    c->cd = cd;
    struct vmio_iothread *io;
    /* The harness makes its own I/O thread; the model needs it at creation. */
    memset(&c->h, 0, sizeof(c->h));
    fake_vm_init(&c->h.m, VMIO_UNCLAIMED_STRICT, true);
    assert_int_equal(vmio_iothread_create("t-con", &io, NULL), 0);
    c->h.io = io;
    struct vmio_virtio_device *m;
    struct vmio_virtio_console_config cc = {.chardev = cd, .io = io};
    struct vmio_error err = {0};
    assert_int_equal(vmio_virtio_console_create(&cc, &m, &err), 0);
    struct vmio_virtio_mmio_config t = {
        .base = VH_BASE, .gsi = VH_GSI, .io = io, .log = c->h.m.log};
    if (vmio_virtio_mmio_attach(c->h.m.vm, m, &t, &c->h.dev, &err) != 0)
        fail_msg("attach: %s", err.msg);
    c->h.model = m;
    c->h.heap = VH_HEAP;
    assert_int_equal(vmio_iothread_start(io, NULL), 0);
}

static void con_fini(struct con *c)
{
    vh_fini(&c->h);
    vmio_chardev_close(c->cd);
}

/* A receive buffer of @len bytes; returns its address. */
static uint64_t rx_buf(struct con *c, uint32_t len)
{
    uint64_t a = vh_alloc(&c->h, len, 0);
    struct vh_seg s[] = {{a, len, true}};
    vh_chain(&c->h, RX, s, 1);
    return a;
}

static void test_output_and_memory_input(void **state)
{
    (void)state;
    struct vmio_error err = {0};
    struct vmio_virtio_device *m;
    struct vmio_virtio_console_config bad = {0};
    assert_int_equal(vmio_virtio_console_create(&bad, &m, &err), -EINVAL);

    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_memory(NULL, 0, &cd, NULL), 0);
    struct con c;
    con_init(&c, cd);
    assert_string_equal(c.h.dev->name, "virtio-console");
    assert_int_equal(vh_rd(&c.h, VMIO_VIRTIO_MMIO_DEVICE_ID), VMIO_VIRTIO_ID_CONSOLE);
    uint8_t cfg[VMIO_VIRTIO_CONSOLE_CFG_SIZE];
    vh_config(&c.h, 0, cfg, sizeof(cfg));
    for (unsigned i = 0; i < sizeof(cfg); i++)
        assert_int_equal(cfg[i], 0);
    vh_start(&c.h, 0, 2);

    /* Output: two chains, the first in two pieces. */
    uint64_t a = vh_alloc(&c.h, 6, 0), b = vh_alloc(&c.h, 7, 0), n = vh_alloc(&c.h, 2, 0);
    memcpy(vh_host(&c.h, a, 6), "hello ", 6);
    memcpy(vh_host(&c.h, b, 7), "world\n", 6);
    memcpy(vh_host(&c.h, n, 2), "!\n", 2);
    struct vh_seg s1[] = {{a, 6, false}, {b, 6, false}};
    struct vh_seg s2[] = {{n, 2, false}};
    vh_chain(&c.h, TX, s1, 2);
    vh_chain(&c.h, TX, s2, 1);
    vh_kick(&c.h, TX);
    char out[64] = {0};
    assert_int_equal(vmio_chardev_memory_take_output(cd, out, sizeof(out)), 14);
    assert_string_equal(out, "hello world\n!\n");
    uint32_t id, len;
    vh_used(&c.h, TX, 1, &id, &len);
    assert_int_equal(len, 0);

    /* Input: fed, then split across two small buffers. */
    uint64_t r1 = rx_buf(&c, 3), r2 = rx_buf(&c, 8);
    assert_int_equal(vmio_chardev_memory_feed(cd, "abcdef", 6), 0);
    vh_kick(&c.h, RX);
    assert_int_equal(vh_used_idx(&c.h, RX), 2);
    assert_memory_equal(vh_host(&c.h, r1, 3), "abc", 3);
    assert_memory_equal(vh_host(&c.h, r2, 3), "def", 3);
    vh_used(&c.h, RX, 0, &id, &len);
    assert_int_equal(len, 3);
    vh_used(&c.h, RX, 1, &id, &len);
    assert_int_equal(len, 3);
    /* No buffer: the bytes wait in the device, then go into the next buffer. */
    assert_int_equal(vmio_chardev_memory_feed(cd, "xyz", 3), 0);
    vh_kick(&c.h, RX);
    assert_int_equal(vh_used_idx(&c.h, RX), 2);
    uint64_t r3 = rx_buf(&c, 2), r4 = rx_buf(&c, 2);
    vh_kick(&c.h, RX);
    assert_int_equal(vh_used_idx(&c.h, RX), 4);
    assert_memory_equal(vh_host(&c.h, r3, 2), "xy", 2);
    assert_memory_equal(vh_host(&c.h, r4, 1), "z", 1);
    /* Pending input is dropped by a reset. */
    assert_int_equal(vmio_chardev_memory_feed(cd, "lost", 4), 0);
    vh_kick(&c.h, RX);
    vh_start(&c.h, 0, 2);
    uint64_t r5 = rx_buf(&c, 8);
    assert_int_equal(vmio_chardev_memory_feed(cd, "kept", 4), 0);
    vh_kick(&c.h, RX);
    assert_int_equal(vh_used_idx(&c.h, RX), 1);
    assert_memory_equal(vh_host(&c.h, r5, 4), "kept", 4);

    struct vmio_virtio_console_stats st;
    assert_true(vmio_virtio_console_stats(c.h.model, &st));
    assert_int_equal(st.tx_bytes, 14);
    assert_int_equal(st.rx_bytes, 13);
    assert_int_equal(st.tx_errors, 0);
    con_fini(&c);
}

static void test_pipe_input(void **state)
{
    (void)state;
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    struct vmio_chardev *cd;
    assert_int_equal(vmio_chardev_open_stdio_fds(in[0], out[1], &cd, NULL), 0);
    struct con c;
    con_init(&c, cd);
    vh_start(&c.h, 0, 2);
    uint64_t r = rx_buf(&c, 16);
    vh_kick(&c.h, RX); /* nothing to read yet: the descriptor is watched */
    assert_int_equal(write(in[1], "typed", 5), 5);
    /* The I/O thread notices the input by itself and fills the buffer. */
    while (vh_used_idx(&c.h, RX) == 0)
        sched_yield();
    assert_memory_equal(vh_host(&c.h, r, 5), "typed", 5);
    uint32_t id, len;
    vh_used(&c.h, RX, 0, &id, &len);
    assert_int_equal(len, 5);
    /* Output goes to the pipe. */
    uint64_t o = vh_alloc(&c.h, 3, 0);
    memcpy(vh_host(&c.h, o, 3), "ok\n", 3);
    struct vh_seg s[] = {{o, 3, false}};
    vh_chain(&c.h, TX, s, 1);
    vh_kick(&c.h, TX);
    vmio_chardev_flush(cd);
    char buf[4] = {0};
    assert_int_equal(read(out[0], buf, 3), 3);
    assert_string_equal(buf, "ok\n");
    con_fini(&c);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_and_memory_input),
        cmocka_unit_test(test_pipe_input),
    };
    return cmocka_run_group_tests_name("virtio_console", tests, NULL, NULL);
}
