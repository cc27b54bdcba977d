/*
 * `vmio decode riscv64 --insn WORD` or `--htinst VALUE`: decode an RV64
 * load/store and print the access as one JSON object on stdout (exit 0), or
 * an error on stderr (exit 2).
 * Invariants: output keys are stable (access, width, reg, sign_extend, len,
 * then transformed / addr_offset for --htinst).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vmio/decode.h"

/*
 * cli_decode_riscv - @argv[0] is the arch name, then --insn WORD (a 16- or
 * 32-bit instruction) or --htinst VALUE (a transformed instruction). Returns
 * 0 after printing one JSON object, 2 on bad usage or a decode error.
 */
int cli_decode_riscv(int argc, char **argv)
{
    uint64_t value = 0;
    int mode = 0; /* 1: --insn, 2: --htinst */
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i];
        int m = strcmp(opt, "--insn") == 0 ? 1 : strcmp(opt, "--htinst") == 0 ? 2 : 0;
        if (!m || mode) {
            fprintf(stderr,
                    "vmio decode riscv64: %s '%s'\n"
                    "usage: vmio decode riscv64 --insn WORD | --htinst VALUE\n",
                    m ? "only one of --insn/--htinst, got" : "unknown option", opt);
            return 2;
        }
        if (cli_parse_u64(i + 1 < argc ? argv[i + 1] : NULL, m == 1 ? UINT32_MAX : UINT64_MAX,
                          &value)) {
            fprintf(stderr, "vmio decode riscv64: %s needs a number\n", opt);
            return 2;
        }
        mode = m;
    }
    if (!mode) {
        fprintf(stderr, "usage: vmio decode riscv64 --insn WORD | --htinst VALUE\n");
        return 2;
    }
    struct vmio_riscv_access d;
    int rc = mode == 1 ? vmio_riscv_decode_insn((uint32_t)value, &d)
                       : vmio_riscv_decode_htinst(value, &d);
    if (rc != VMIO_DECODE_OK) {
        fprintf(stderr, "vmio decode riscv64: %s: %s\n", vmio_decode_status_name(rc),
                d.reason ? d.reason : "?");
        return 2;
    }
    const struct vmio_access *a = &d.access;
    printf("{\"access\":\"%s\",\"width\":%u,\"reg\":%u,\"sign_extend\":%s,\"len\":%u",
           a->dir == VMIO_WRITE ? "write" : "read", a->width, a->reg,
           a->sign_extend ? "true" : "false", d.len);
    if (d.transformed)
        printf(",\"transformed\":true,\"addr_offset\":%u", d.addr_offset);
    printf("}\n");
    return 0;
}
