/*
 * `vmio decode x86-64 --bytes "48 8b 03" [--mode 64|32|16]`: decode one
 * instruction with the x86 MMIO decoder and print exactly one JSON object on
 * stdout, e.g.
 *   {"access":"read","width":8,"reg":"rax","sign_extend":false,"len":3}
 * plus "imm":"0x.." for immediate forms, "string":true / "rep":true for
 * MOVS/STOS and "op":"add" (etc.) for ALU and XCHG forms. Register names are
 * the instruction's ("ah", "r8d", ...); "reg" is null when there is none.
 * Errors (bad arguments, undecodable bytes) go to stderr with status 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vmio/decode.h"

static int usage(void)
{
    fprintf(stderr, "usage: vmio decode x86-64 --bytes \"HEX BYTES\" [--mode 64|32|16]\n");
    return 2;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parses "48 8b 03", "488b03", "0x48,0x8b,0x03" or "\x48\x8b\x03" into @out
 * (at most @cap bytes). Returns the byte count, or -1 on a syntax error or
 * too many bytes.
 */
static int parse_hex(const char *s, uint8_t *out, int cap)
{
    int n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == ',' || *s == ':' || *s == '\n') {
            s++;
            continue;
        }
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
            s += 2;
        else if (s[0] == '\\' && s[1] == 'x')
            s += 2;
        int hi = hexval(s[0]);
        int lo = hi >= 0 ? hexval(s[1]) : -1;
        if (hi < 0 || lo < 0 || n >= cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    return n;
}

int cli_decode_x86(int argc, char **argv)
{
    const char *hex = NULL;
    enum vmio_x86_mode mode = VMIO_X86_MODE_64;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
            hex = argv[++i];
        } else if (strncmp(argv[i], "--bytes=", 8) == 0) {
            hex = argv[i] + 8;
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "64") == 0)
                mode = VMIO_X86_MODE_64;
            else if (strcmp(m, "32") == 0)
                mode = VMIO_X86_MODE_32;
            else if (strcmp(m, "16") == 0)
                mode = VMIO_X86_MODE_16;
            else
                return usage();
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "vmio decode x86-64: unknown argument '%s'\n", argv[i]);
            return usage();
        }
    }
    if (!hex)
        return usage();
    uint8_t bytes[VMIO_X86_MAX_INSN];
    int n = parse_hex(hex, bytes, (int)sizeof(bytes));
    if (n < 0) {
        fprintf(stderr,
                "vmio decode x86-64: --bytes wants up to 15 hex bytes, e.g. \"48 8b 03\"\n");
        return 2;
    }
    struct vmio_x86_insn d;
    int rc = vmio_x86_decode(bytes, (size_t)n, mode, &d);
    if (rc != VMIO_DECODE_OK) {
        fprintf(stderr, "vmio decode x86-64: %s: %s\n", vmio_decode_status_name(rc), d.reason);
        return 2;
    }
    const struct vmio_access *a = &d.access;
    printf("{\"access\":\"%s\",\"width\":%u,", a->dir == VMIO_READ ? "read" : "write",
           (unsigned)a->width);
    if (a->reg == VMIO_REG_NONE)
        printf("\"reg\":null,");
    else
        printf("\"reg\":\"%s\",", vmio_x86_reg_name(a->reg, a->reg_width, d.high_byte));
    printf("\"sign_extend\":%s,\"len\":%u", a->sign_extend ? "true" : "false", (unsigned)d.len);
    if (d.has_imm)
        printf(",\"imm\":\"0x%llx\"", (unsigned long long)d.imm);
    if (d.string)
        printf(",\"string\":true");
    if (d.rep)
        printf(",\"rep\":true");
    if (d.op >= VMIO_X86_OP_ADD && d.op <= VMIO_X86_OP_XCHG)
        printf(",\"op\":\"%s\"", vmio_x86_op_name((enum vmio_x86_op)d.op));
    printf("}\n");
    return 0;
}
