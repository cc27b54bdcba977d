/*
 * Differential test of instruction lengths against GNU objdump: random byte
 * strings biased towards the opcodes and prefixes vmio decodes are decoded
 * in each mode; every one vmio accepts is written, cut to vmio's length and
 * followed by NOP padding, into a 32-byte slot of a raw file, which objdump
 * disassembles. objdump must see one instruction (after any prefixes it
 * prints on their own) of exactly vmio's length at each slot, and not call
 * it "(bad)". The padding resynchronises objdump before the next slot
 * whatever it made of the previous one.
 *
 * Every slot must be found in objdump's output: lines this test cannot parse
 * are skipped, so a change in objdump's format (or objdump failing) would
 * otherwise leave it comparing nothing and passing; it counts the slots it
 * compared and fails unless that is all of them.
 *
 * Usage: test-decode-x86-objdump OBJDUMP. Exit 0, or 1 on any difference.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmio/decode.h"

#define SLOT 32
#define PER_MODE 20000

static uint64_t rng = 0x452821e638d01377ULL;
static uint8_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

static void candidate(uint8_t b[15], enum vmio_x86_mode mode)
{
    static const uint8_t prefixes[] = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E,
                                       0x36, 0x3E, 0x26, 0x64, 0x65};
    static const uint8_t opcodes[] = {0x00, 0x01, 0x02, 0x03, 0x0A, 0x11, 0x1A, 0x23, 0x29, 0x30,
                                      0x39, 0x3B, 0x63, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                      0x87, 0x88, 0x89, 0x8A, 0x8B, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4,
                                      0xA5, 0xAA, 0xAB, 0xC6, 0xC7, 0xF6, 0xF7, 0x0F};
    for (unsigned i = 0; i < 15; i++)
        b[i] = rnd();
    unsigned pos = 0, np = rnd() % 4;
    for (unsigned i = 0; i < np; i++)
        b[pos++] = prefixes[rnd() % sizeof(prefixes)];
    if (mode == VMIO_X86_MODE_64 && (rnd() & 1))
        b[pos++] = (uint8_t)(0x40 | (rnd() & 15));
    b[pos] = opcodes[rnd() % sizeof(opcodes)];
    if (b[pos] == 0x0F)
        b[pos + 1] = (uint8_t)(0xB6 | (rnd() & 1) | ((rnd() & 1) << 3));
    if (rnd() & 1) /* mostly memory operands: mod != 3 */
        b[pos + 1 + (b[pos] == 0x0F)] &= 0xBF;
}

static bool is_prefix_only(const char *text)
{
    static const char *const names[] = {
        "rex",   "data16", "data32", "addr16", "addr32",  "cs",       "ds",
        "es",    "fs",     "gs",     "ss",     "lock",    "rep",      "repz",
        "repnz", "repe",   "repne",  "bnd",    "notrack", "xacquire", "xrelease"};
    char word[32];
    if (sscanf(text, "%31s", word) != 1)
        return false;
    if (strchr(text, ' ') && strspn(strchr(text, ' '), " ") != strlen(strchr(text, ' ')))
        return false; /* more than one word: a real instruction */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(word, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static int run_mode(const char *objdump, enum vmio_x86_mode mode, const char *machine)
{
    static uint8_t image[PER_MODE * SLOT];
    static uint8_t lens[PER_MODE];
    static uint8_t bytes[PER_MODE][15];
    unsigned n = 0;
    while (n < PER_MODE) {
        uint8_t b[15];
        struct vmio_x86_insn d;
        candidate(b, mode);
        if (vmio_x86_decode(b, 15, mode, &d) != VMIO_DECODE_OK)
            continue;
        memset(image + n * SLOT, 0x90, SLOT);
        memcpy(image + n * SLOT, b, d.len);
        memcpy(bytes[n], b, 15);
        lens[n++] = d.len;
    }
    char path[] = "/tmp/vmio-x86-objdump-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, image, sizeof(image)) != (ssize_t)sizeof(image)) {
        perror("temp file");
        return -1;
    }
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' -D -b binary -m %s --insn-width=16 '%s'", objdump, machine,
             path);
    FILE *p = popen(cmd, "r");
    if (!p) {
        unlink(path);
        return -1;
    }
    /* Walk objdump's lines: [addr, len, text] per (pseudo-)instruction. */
    unsigned slot = 0, bad = 0, compared = 0;
    unsigned long start = 0, acc = 0;
    bool in_slot = false;
    char line[512];
    while (fgets(line, sizeof(line), p)) {
        unsigned long addr;
        char *colon = strchr(line, ':');
        if (!colon || sscanf(line, " %lx:", &addr) != 1 || colon[1] != '\t')
            continue;
        char *hex = colon + 2, *tab = strchr(hex, '\t');
        if (tab)
            *tab = '\0';
        unsigned nbytes = 0;
        for (char *tok = strtok(hex, " \n"); tok; tok = strtok(NULL, " \n"))
            nbytes++;
        const char *text = tab ? tab + 1 : "";
        if (addr % SLOT == 0 && !in_slot) {
            in_slot = true;
            start = addr;
            acc = 0;
        }
        if (!in_slot)
            continue;
        acc += nbytes;
        if (is_prefix_only(text))
            continue;
        in_slot = false;
        slot = (unsigned)(start / SLOT);
        if (slot >= n)
            break;
        compared++;
        if (acc != lens[slot] || strstr(text, "(bad)")) {
            if (bad++ < 20) {
                fprintf(stderr, "%s slot %u: vmio len %u, objdump %lu:", machine, slot, lens[slot],
                        acc);
                for (unsigned i = 0; i < lens[slot]; i++)
                    fprintf(stderr, " %02x", bytes[slot][i]);
                fprintf(stderr, " -> %s", text);
            }
        }
    }
    int status = pclose(p);
    unlink(path);
    printf("%s: %u of %u instructions compared with objdump, %u differences\n", machine, compared,
           n, bad);
    if (status != 0) {
        fprintf(stderr, "%s: objdump failed (status 0x%x)\n", machine, (unsigned)status);
        return (int)bad + 1;
    }
    if (compared != n && bad == 0) {
        fprintf(stderr, "%s: only %u of %u slots found in objdump's output (format changed?)\n",
                machine, compared, n);
        return 1;
    }
    return (int)bad;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OBJDUMP\n", argv[0]);
        return 1;
    }
    int bad = 0, rc;
    if ((rc = run_mode(argv[1], VMIO_X86_MODE_64, "i386:x86-64")) < 0)
        return 1;
    bad += rc;
    if ((rc = run_mode(argv[1], VMIO_X86_MODE_32, "i386")) < 0)
        return 1;
    bad += rc;
    if ((rc = run_mode(argv[1], VMIO_X86_MODE_16, "i8086")) < 0)
        return 1;
    bad += rc;
    return bad ? 1 : 0;
}
