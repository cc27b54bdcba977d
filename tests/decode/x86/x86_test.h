/*
 * Shared by the x86 decoder tests: the assembled vector table
 * (x86_vectors.h, generated from vectors.txt by gen_x86_vectors.py) and
 * helpers to look a vector up by its assembly text and decode it.
 */
#ifndef VMIO_TEST_X86_H
#define VMIO_TEST_X86_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmio/decode.h"

struct x86_vector {
    const char *text;
    int line;
    uint8_t bytes[15];
    uint8_t len;
    int mode;
    int rc;
    int dir;
    int width;
    const char *reg;
    int sx;
    const char *op;
    int has_imm;
    uint64_t imm;
    int str, rep, rd, wr;
    const char *base, *index;
    int scale;
    int64_t disp;
    int rip;
    int seg, ovr, asz, lock;
};

#include "x86_vectors.h"

#define NVEC (sizeof(x86_vectors) / sizeof(x86_vectors[0]))

/* The vector whose assembly is exactly @text (fails the test if none). */
static inline const struct x86_vector *find(const char *text)
{
    for (size_t i = 0; i < NVEC; i++)
        if (strcmp(x86_vectors[i].text, text) == 0)
            return &x86_vectors[i];
    fail_msg("no vector '%s'", text);
    return NULL;
}

/* Decodes the vector @text into *@d (must succeed); returns the vector. */
static inline const struct x86_vector *decode_vec(const char *text, struct vmio_x86_insn *d)
{
    const struct x86_vector *v = find(text);
    int rc = vmio_x86_decode(v->bytes, v->len, (enum vmio_x86_mode)v->mode, d);
    if (rc != VMIO_DECODE_OK)
        fail_msg("'%s': %s", text, d->reason);
    return v;
}

#endif
