/*
 * What `vmio run` tells about a run on every architecture
 * (src/cli/run_observe.c): statistics at its end, the stall watchdog while
 * it runs. Messages go to stderr, naming the option.
 */
#ifndef VMIO_CLI_RUN_OBSERVE_H
#define VMIO_CLI_RUN_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "vmio/vm.h"

/*
 * cli_check_output_file - whether @path (the argument of option @opt) can be
 * written at the end of the run: an existing regular file we may write, or
 * a new file in a folder we may write. Returns 0, or -EINVAL after a message
 * (a FIFO or a device would block or misbehave at the final open).
 */
int cli_check_output_file(const char *opt, const char *path);

/*
 * cli_write_stats - @vm's statistics to stderr as a table (@print) and as
 * JSON to @json_path (NULL: none; opened without blocking). Call after the
 * vCPUs are destroyed or stopped, for exact figures. Failures are reported,
 * never fatal.
 */
void cli_write_stats(struct vmio_vm *vm, bool print, const char *json_path);

/*
 * cli_parse_stall_timeout - --stall-timeout MS (0-3600000; 0: no watchdog)
 * into *@ns. cli_parse_on_stall - --on-stall log|exit into *@exit_on_stall.
 * Both return 0, or -EINVAL after a message.
 */
int cli_parse_stall_timeout(const char *arg, uint64_t *ns);
int cli_parse_on_stall(const char *arg, bool *exit_on_stall);

/*
 * cli_watchdog_start - the stall watchdog on @vm with a timeout of
 * @stall_ns (0: none): each stall logged once on stderr, and with
 * @exit_on_stall the process then ends with VMIO_STATUS_STALLED. A watchdog
 * that cannot start is reported and the run goes on without it. Stop it
 * with vmio_vm_watchdog_stop().
 */
void cli_watchdog_start(struct vmio_vm *vm, uint64_t stall_ns, bool exit_on_stall);

#endif
