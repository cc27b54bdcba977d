/*
 * Test driver for the arm64/riscv64 `vmio decode` front ends without the rest
 * of the vmio command: `decode-cli-driver arm64|riscv64 OPTIONS...` calls
 * cli_decode_arm64() / cli_decode_riscv() with argv[0] = the arch name.
 * Used by cli_test.py; shared by the arm64 and riscv tests.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "arm64") == 0)
        return cli_decode_arm64(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "riscv64") == 0)
        return cli_decode_riscv(argc - 1, argv + 1);
    fprintf(stderr, "usage: decode-cli-driver arm64|riscv64 OPTIONS...\n");
    return 2;
}
