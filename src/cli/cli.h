/*
 * The vmio command's subcommands. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand or, for decoders, the arch) and
 * returns the process exit status.
 */
#ifndef VMIO_CLI_H
#define VMIO_CLI_H

#include <stdint.h>

#include "vmio/seccomp.h"
#include "vmio/uart_input.h"

/* Exit statuses of `vmio run` besides the debug-exit's odd (v << 1) | 1. */
enum {
    VMIO_STATUS_OK = 0,         /* guest halted or powered off */
    VMIO_STATUS_USAGE = 2,      /* bad arguments, config or image */
    VMIO_STATUS_UNCLAIMED = 4,  /* strict policy stopped on an unclaimed access */
    VMIO_STATUS_GUEST_DEAD = 6, /* shutdown/triple fault, KVM internal error, entry failure */
    VMIO_STATUS_HOST = 8,       /* host failure (KVM, memory, device backend) */
    VMIO_STATUS_STALLED = 10,   /* --on-stall exit: a device handler did not return */
};

int cli_run(int argc, char **argv);
int cli_decode(int argc, char **argv);
int cli_decode_x86(int argc, char **argv);
int cli_decode_arm64(int argc, char **argv);
int cli_decode_riscv(int argc, char **argv);

/*
 * cli_parse_u64 - parse @s (decimal, 0x hex or 0 octal; no sign) into *@out.
 * Errors: -EINVAL when @s is NULL, empty, negative, has trailing characters
 * or exceeds @max.
 */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* run_common.c, shared by both `vmio run`s: */

/*
 * cli_parse_size - parse a size like "64M", "1G", "65536K", "2MiB" or
 * "1048576" into bytes. Errors: -EINVAL (malformed, negative, overflow).
 */
int cli_parse_size(const char *s, uint64_t *out);

/*
 * cli_confine - install the system-call filter @profile on this thread. A
 * build without filters (-ENOTSUP: no libseccomp, a sanitizer build) says so
 * once per process on stderr and returns 0 (the run goes on unconfined);
 * any other failure returns -errno with the message in *@err (may be NULL).
 */
int cli_confine(enum vmio_seccomp_profile profile, struct vmio_error *err);

/* cli_confine_io - cli_confine(VMIO_SECCOMP_IOTHREAD), as a thread_init (@ctx unused). */
int cli_confine_io(void *ctx, struct vmio_error *err);

/*
 * cli_uart_input_start - a UART's input thread (vmio/uart_input.h) through
 * @start (vmio_uart16550_input_start or vmio_pl011_input_start) for @uart on
 * @cd, under the I/O-thread filter when @confine. Any failure is reported on
 * stderr and the run goes on without it (guest reads still poll the input);
 * returns the thread, or NULL. Stop it with vmio_uart_input_stop().
 */
struct vmio_uart_input *
cli_uart_input_start(int (*start)(struct vmio_device *uart, struct vmio_chardev *cd,
                                  const struct vmio_uart_input_options *opts,
                                  struct vmio_uart_input **out, struct vmio_error *err),
                     struct vmio_device *uart, struct vmio_chardev *cd, bool confine);

#endif
