/* `vmio decode ARCH ...`: hand the arguments to the decoder front end for ARCH. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_decode(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: vmio decode x86-64 --bytes \"HEX BYTES\"\n"
                        "       vmio decode arm64 --esr ESR [--insn WORD]\n"
                        "       vmio decode riscv64 --insn WORD\n");
        return 2;
    }
    const char *arch = argv[1];
    if (strcmp(arch, "x86-64") == 0 || strcmp(arch, "x86_64") == 0)
        return cli_decode_x86(argc - 1, argv + 1);
    if (strcmp(arch, "arm64") == 0 || strcmp(arch, "aarch64") == 0)
        return cli_decode_arm64(argc - 1, argv + 1);
    if (strcmp(arch, "riscv64") == 0)
        return cli_decode_riscv(argc - 1, argv + 1);
    fprintf(stderr, "vmio decode: unknown architecture '%s' (x86-64, arm64, riscv64)\n", arch);
    return 2;
}
