/*
 * `vmio decode arm64 --esr ESR [--insn WORD]`: decode an AArch64 trap and print
 * the access as one JSON object on stdout (exit 0), or an error on stderr
 * (exit 2). With only --insn, the word is decoded as an ISV=0 load/store.
 * Invariants: output keys are stable (access, width, reg, reg_width,
 * sign_extend, then reg2 / writeback / sysreg only where they apply).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vmio/decode.h"

/* Parses an unsigned number (0x... hex, or decimal) no larger than @max. */
static const char *wb_name(uint8_t wb)
{
    return wb == VMIO_ARM64_WB_PRE ? "pre" : "post";
}

/*
 * cli_decode_arm64 - @argv[0] is the arch name, then --esr VALUE and/or
 * --insn VALUE. Returns 0 after printing one JSON object, 2 on bad usage or a
 * decode error (message on stderr).
 */
int cli_decode_arm64(int argc, char **argv)
{
    uint64_t esr = 0, insn64 = 0;
    bool have_esr = false, have_insn = false;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--esr") == 0) {
            if (cli_parse_u64(val, UINT64_MAX, &esr)) {
                fprintf(stderr, "vmio decode arm64: --esr needs a number\n");
                return 2;
            }
            have_esr = true;
            i++;
        } else if (strcmp(opt, "--insn") == 0) {
            if (cli_parse_u64(val, UINT32_MAX, &insn64)) {
                fprintf(stderr, "vmio decode arm64: --insn needs a 32-bit number\n");
                return 2;
            }
            have_insn = true;
            i++;
        } else {
            fprintf(stderr,
                    "vmio decode arm64: unknown option '%s'\n"
                    "usage: vmio decode arm64 --esr ESR [--insn WORD]\n",
                    opt);
            return 2;
        }
    }
    if (!have_esr && !have_insn) {
        fprintf(stderr, "usage: vmio decode arm64 --esr ESR [--insn WORD]\n");
        return 2;
    }

    uint32_t insn = (uint32_t)insn64;
    struct vmio_arm64_access d;
    int rc = have_esr ? vmio_arm64_decode_esr(esr, have_insn ? &insn : NULL, &d)
                      : vmio_arm64_decode_insn(insn, &d);
    if (rc == VMIO_DECODE_TRUNCATED && have_esr && !have_insn) {
        fprintf(stderr, "vmio decode arm64: ESR has ISV=0: --insn WORD is required\n");
        return 2;
    }
    if (rc != VMIO_DECODE_OK) {
        fprintf(stderr, "vmio decode arm64: %s: %s\n", vmio_decode_status_name(rc),
                d.reason ? d.reason : "?");
        return 2;
    }

    const struct vmio_access *a = &d.access;
    printf("{\"access\":\"%s\",\"width\":%u,\"reg\":%u,\"reg_width\":%u,\"sign_extend\":%s",
           a->dir == VMIO_WRITE ? "write" : "read", a->width, a->reg, a->reg_width,
           a->sign_extend ? "true" : "false");
    if (d.reg2 != VMIO_REG_NONE)
        printf(",\"reg2\":%u", d.reg2);
    if (d.wb != VMIO_ARM64_WB_NONE)
        printf(",\"writeback\":{\"mode\":\"%s\",\"base\":%u,\"offset\":%" PRId64 "}", wb_name(d.wb),
               d.base, d.offset);
    if (a->space == VMIO_SPACE_SYSREG)
        printf(",\"sysreg\":{\"op0\":%u,\"op1\":%u,\"crn\":%u,\"crm\":%u,\"op2\":%u,\"id\":%u}",
               d.sysreg.op0, d.sysreg.op1, d.sysreg.crn, d.sysreg.crm, d.sysreg.op2, d.sysreg.id);
    printf("}\n");
    return 0;
}
