/*
 * What `vmio run` does the same on every architecture (cmd_run.c for x86-64,
 * cmd_run_arm64.c for AArch64): sizes on the command line, confining a
 * thread to its system-call filter, and starting the UART's input thread.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

/* Parse "64M", "1G", "65536K", "1048576" into bytes. */
int cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || s[0] == '-')
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case '\0':
        break;
    default:
        return -EINVAL;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/*
 * Confine the calling thread to @profile. A build without filters
 * (-ENOTSUP: no libseccomp, a sanitizer build) says so once and runs
 * unconfined; any other failure stops the run.
 */
int cli_confine(enum vmio_seccomp_profile profile, struct vmio_error *err)
{
    static atomic_int told;
    struct vmio_error e = {0};
    int rc = vmio_seccomp_install(profile, &e);
    if (rc == -ENOTSUP) {
        if (!atomic_exchange(&told, 1))
            fprintf(stderr, "vmio: no system-call filters: %s\n", e.msg);
        return 0;
    }
    if (rc < 0 && err)
        *err = e;
    return rc;
}

int cli_confine_io(void *ctx, struct vmio_error *err)
{
    (void)ctx;
    return cli_confine(VMIO_SECCOMP_IOTHREAD, err);
}

/* The UART input thread could not be confined: say so, it runs on. */
static void input_unconfined(void *ctx, const struct vmio_error *err)
{
    (void)ctx;
    fprintf(stderr, "vmio: UART input thread runs without its system-call filter: %s\n", err->msg);
}

struct vmio_uart_input *
cli_uart_input_start(int (*start)(struct vmio_device *uart, struct vmio_chardev *cd,
                                  const struct vmio_uart_input_options *opts,
                                  struct vmio_uart_input **out, struct vmio_error *err),
                     struct vmio_device *uart, struct vmio_chardev *cd, bool confine)
{
    struct vmio_uart_input_options io = {.thread_init = confine ? cli_confine_io : NULL,
                                         .init_failed = input_unconfined};
    struct vmio_uart_input *input = NULL;
    struct vmio_error err = {0};
    if (start(uart, cd, &io, &input, &err) < 0)
        fprintf(stderr,
                "vmio: no input thread (%s): host input reaches the guest only when it "
                "reads the UART\n",
                err.msg);
    return input;
}
