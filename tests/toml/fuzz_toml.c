/*
 * libFuzzer target for the TOML reader: parses arbitrary bytes and, when the
 * document is accepted, walks the whole tree through the public accessors.
 * Invariant checked: the parser never crashes, leaks or reads out of bounds,
 * an accepted document yields a table root, a rejected one yields an error
 * message starting with "line " (or "out of memory").
 * Built with clang -fsanitize=fuzzer by fuzz.sh; replay_corpus.c provides a
 * main() so the same code replays the corpus in `meson test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/toml.h"

static size_t walk(const struct vmio_toml_value *v)
{
    size_t n = 1;
    struct vmio_toml_pos pos = vmio_toml_pos(v);
    if (pos.line == 0 || pos.column == 0)
        abort();
    switch (vmio_toml_type(v)) {
    case VMIO_TOML_TABLE:
        for (size_t i = 0; i < vmio_toml_table_size(v); i++) {
            const struct vmio_toml_entry *e = vmio_toml_table_entry(v, i);
            if (!e || vmio_toml_table_find(v, e->key, e->key_len) != e)
                abort();
            n += walk(e->value);
        }
        break;
    case VMIO_TOML_ARRAY:
        for (size_t i = 0; i < vmio_toml_array_len(v); i++)
            n += walk(vmio_toml_array_at(v, i));
        break;
    case VMIO_TOML_STRING: {
        const char *s;
        size_t len;
        if (vmio_toml_get_string(v, &s, &len) || s[len] != '\0')
            abort();
        break;
    }
    default: {
        int64_t i;
        double d;
        bool b;
        struct vmio_toml_datetime dt;
        if (vmio_toml_get_int(v, &i) && vmio_toml_get_double(v, &d) && vmio_toml_get_bool(v, &b) &&
            vmio_toml_get_datetime(v, &dt))
            abort();
        break;
    }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vmio_toml_value *root;
    struct vmio_error err = {0};
    if (vmio_toml_parse((const char *)data, size, &root, &err) == 0) {
        if (vmio_toml_type(root) != VMIO_TOML_TABLE)
            abort();
        walk(root);
        vmio_toml_free(root);
    } else if (strncmp(err.msg, "line ", 5) != 0 && strcmp(err.msg, "out of memory") != 0) {
        abort();
    }
    return 0;
}
