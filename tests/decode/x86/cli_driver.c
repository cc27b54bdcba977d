/*
 * Test driver for the `vmio decode x86-64` front end without the rest of
 * vmio: `cli_driver x86-64 --bytes "..."` behaves as `vmio decode x86-64 ...`.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_decode_x86(argc - 1, argv + 1);
}
