/*
 * A UART's input thread (vmio/uart_input.h): host input reaches a guest that
 * sleeps until a receive interrupt.
 *
 * This thread sleeps in poll(2) on the chardev's input
 * (vmio_chardev_wait_input()) and, when bytes arrive, asks the UART to pull
 * them (its poll function takes the UART's lock, so it is safe against vCPU
 * threads; a byte it pulls raises the interrupt from this thread). The
 * 16550's and the PL011's start functions are here too: each checks its
 * model and passes its poll function.
 *
 * Invariants: the thread never spins. When the UART cannot take more (its
 * FIFO is full until the guest reads) it waits a millisecond and retries
 * instead of polling input that stays readable; every wait is bounded
 * (INPUT_WAIT_MS) so it notices vmio_uart_input_stop() within that
 * time. It ends by itself when the input ends (guest reads still poll).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmio/chardev.h"
#include "vmio/pl011.h"
#include "vmio/uart16550.h"
#include "vmio/uart_input.h"

#define INPUT_WAIT_MS 20

struct vmio_uart_input {
    struct vmio_device *uart;
    void (*poll)(struct vmio_device *uart);
    struct vmio_chardev *cd;
    int (*thread_init)(void *ctx, struct vmio_error *err);
    void *ctx;
    void (*init_failed)(void *ctx, const struct vmio_error *err);
    atomic_bool stop;
    pthread_t thread;
};

static void *input_main(void *arg)
{
    struct vmio_uart_input *in = arg;
    const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
    struct vmio_error err = {0};
    if (in->thread_init && in->thread_init(in->ctx, &err) < 0 && in->init_failed)
        in->init_failed(in->ctx, &err);
    while (!atomic_load(&in->stop) && vmio_chardev_has_input(in->cd)) {
        int ready = vmio_chardev_wait_input(in->cd, INPUT_WAIT_MS);
        if (ready < 0)
            break; /* input is gone; guest reads still poll it */
        if (ready == 0 || atomic_load(&in->stop))
            continue;
        in->poll(in->uart);
        if (vmio_chardev_wait_input(in->cd, 0) > 0)
            nanosleep(&ms, NULL); /* still readable: the UART is full */
    }
    return NULL;
}

int vmio_uart_input_start(struct vmio_device *uart, void (*poll)(struct vmio_device *uart),
                          struct vmio_chardev *cd, const struct vmio_uart_input_options *opts,
                          struct vmio_uart_input **out, struct vmio_error *err)
{
    if (!out)
        return vmio_error_set(err, -EINVAL, "UART input: no result pointer");
    *out = NULL;
    if (!uart || !poll)
        return vmio_error_set(err, -EINVAL, "UART input: no UART or no poll function");
    if (!cd || !vmio_chardev_has_input(cd))
        return vmio_error_set(err, -EINVAL, "UART input: %s has no input to watch",
                              uart->name ? uart->name : "the UART");
    struct vmio_uart_input *in = calloc(1, sizeof(*in));
    if (!in)
        return vmio_error_set(err, -ENOMEM, "UART input: out of memory");
    in->uart = uart;
    in->poll = poll;
    in->cd = cd;
    if (opts) {
        in->thread_init = opts->thread_init;
        in->ctx = opts->ctx;
        in->init_failed = opts->init_failed;
    }
    atomic_init(&in->stop, false);
    int rc = pthread_create(&in->thread, NULL, input_main, in);
    if (rc != 0) {
        free(in);
        return vmio_error_set(err, -rc, "UART input: cannot start its thread: %s", strerror(rc));
    }
    *out = in;
    return 0;
}

void vmio_uart_input_stop(struct vmio_uart_input *in)
{
    if (!in)
        return;
    atomic_store(&in->stop, true);
    pthread_join(in->thread, NULL);
    free(in);
}

int vmio_uart16550_input_start(struct vmio_device *uart, struct vmio_chardev *cd,
                               const struct vmio_uart_input_options *opts,
                               struct vmio_uart_input **out, struct vmio_error *err)
{
    if (out)
        *out = NULL;
    if (!uart || !vmio_uart16550_is(uart))
        return vmio_error_set(err, -EINVAL, "UART input: not a 16550 UART");
    return vmio_uart_input_start(uart, vmio_uart16550_poll_input, cd, opts, out, err);
}

int vmio_pl011_input_start(struct vmio_device *uart, struct vmio_chardev *cd,
                           const struct vmio_uart_input_options *opts, struct vmio_uart_input **out,
                           struct vmio_error *err)
{
    if (out)
        *out = NULL;
    if (!uart || !vmio_pl011_is(uart))
        return vmio_error_set(err, -EINVAL, "UART input: not a PL011");
    return vmio_uart_input_start(uart, vmio_pl011_poll_input, cd, opts, out, err);
}
