/* Stand-ins for decoder front ends that are not built into this vmio. */
#include <stdio.h>

#include "cli/cli.h"

#define MISSING(fn, arch)                                                                          \
    int fn(int argc, char **argv)                                                                  \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fprintf(stderr, "vmio decode: the %s decoder is not built into this vmio\n", arch);       \
        return 2;                                                                                  \
    }
#ifdef VMIO_NO_DECODE_X86
MISSING(cli_decode_x86, "x86-64")
#endif
#ifdef VMIO_NO_DECODE_ARM64
MISSING(cli_decode_arm64, "arm64")
#endif
#ifdef VMIO_NO_DECODE_RISCV
MISSING(cli_decode_riscv, "riscv64")
#endif
typedef int decode_missing_unused;
