/*
 * A UART's input thread: host input reaches a guest that sleeps until a
 * receive interrupt (src/devices/uart_input.c).
 *
 * vmio's UART models (16550, PL011) pull host input only when the guest
 * reads their receive or status registers; a guest with an interrupt
 * controller may instead sleep until a receive interrupt, which would then
 * never come. This thread waits on the chardev's input and, when bytes
 * arrive, calls the UART's poll function, which pulls them in under the
 * UART's lock and raises its interrupt. It never spins and ends by itself
 * when the input ends. Each model has its own start function that checks
 * the device is one of its own (vmio_uart16550_input_start(),
 * vmio_pl011_input_start()); vmio_uart_input_start() is the general form.
 */
#ifndef VMIO_UART_INPUT_H
#define VMIO_UART_INPUT_H

#include "vmio/chardev.h"
#include "vmio/device.h"
#include "vmio/error.h"

struct vmio_uart_input;

/* Optional hooks of the input thread; all-zero means none. */
struct vmio_uart_input_options {
    /* thread_init - called first on the new thread (e.g. a seccomp filter). */
    int (*thread_init)(void *ctx, struct vmio_error *err);
    /* init_failed - told when thread_init failed; the thread runs on regardless. */
    void (*init_failed)(void *ctx, const struct vmio_error *err);
    void *ctx;
};

/*
 * vmio_uart_input_start - start an input thread that calls @poll(@uart)
 * whenever @cd has input.
 * @uart: the UART (not owned; must outlive the thread).
 * @poll: pulls the chardev's available input into @uart, thread-safe
 *        against vCPU threads (takes the UART's lock), never blocking.
 * @cd:   the chardev the UART reads; must have input (not owned).
 * @opts: hooks, or NULL.
 * @out:  receives the handle; stop it with vmio_uart_input_stop().
 * Errors: -EINVAL (no UART, no poll function, no input, NULL @out),
 * -ENOMEM, the errno of pthread_create().
 */
int vmio_uart_input_start(struct vmio_device *uart, void (*poll)(struct vmio_device *uart),
                          struct vmio_chardev *cd, const struct vmio_uart_input_options *opts,
                          struct vmio_uart_input **out, struct vmio_error *err);

/*
 * vmio_uart_input_stop - stop and join the input thread (within about 20 ms)
 * and free @in. NULL is a no-op. Call it before destroying the UART.
 */
void vmio_uart_input_stop(struct vmio_uart_input *in);

#endif
