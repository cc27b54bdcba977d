/*
 * vmio: the command-line entry point; dispatches to a subcommand.
 * Process-wide signal dispositions belong to the program, not to libvmio:
 * SIGPIPE is ignored here, so a reader that goes away (`vmio run ... |
 * head`) is an EPIPE that vmio reports, never a silent death; and a terminal
 * in raw mode is restored on fatal signals (vmio_chardev_terminal_signals()).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vmio/chardev.h"

int cli_check(int argc, char **argv); /* cmd_check.c */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vmio <command> [options]\n"
            "\n"
            "commands:\n"
            "  run [options] [IMAGE]   run a multiboot image (default: the built-in demo guest)\n"
            "  check CONFIG.toml       validate a VM config; print its memory and port map\n"
            "  decode ARCH [options]   decode a trapping instruction (x86-64, arm64, riscv64)\n"
            "  version                 print the version\n"
            "\n"
            "`vmio run --help` lists the run options.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    vmio_chardev_terminal_signals(true); /* a raw terminal is restored on any fatal signal */
    if (argc < 2) {
        usage(stderr);
        return VMIO_STATUS_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "decode") == 0)
        return cli_decode(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("vmio %s\n", VMIO_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "vmio: unknown command '%s'\n", cmd);
    usage(stderr);
    return VMIO_STATUS_USAGE;
}
