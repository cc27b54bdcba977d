/*
 * toml-decoder: the toml-test decoder protocol on top of vmio's TOML reader.
 *
 * Reads a TOML document from stdin. On success prints the document as
 * toml-test's tagged JSON on stdout ({"type":"integer","value":"42"} for every
 * scalar, objects for tables, arrays for arrays) and exits 0; on an invalid
 * document prints the parser's error to stderr and exits 1. Tree depth is
 * bounded by VMIO_TOML_MAX_DEPTH, so the recursive printer is bounded too.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmio/toml.h"

static void put_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        case '\b':
            fputs("\\b", stdout);
            break;
        case '\f':
            fputs("\\f", stdout);
            break;
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

static void put_datetime(const struct vmio_toml_datetime *dt)
{
    if (dt->has_date)
        printf("%04d-%02d-%02d", dt->year, dt->month, dt->day);
    if (dt->has_date && dt->has_time)
        putchar('T');
    if (dt->has_time) {
        printf("%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
        if (dt->frac_digits > 0) {
            char frac[16];
            snprintf(frac, sizeof(frac), "%09u", (unsigned)dt->nanosecond);
            frac[dt->frac_digits] = '\0';
            printf(".%s", frac);
        }
    }
    if (dt->has_offset) {
        if (dt->offset_minutes == 0) {
            putchar('Z');
        } else {
            int m = dt->offset_minutes < 0 ? -dt->offset_minutes : dt->offset_minutes;
            printf("%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', m / 60, m % 60);
        }
    }
}

static void put_value(const struct vmio_toml_value *v)
{
    enum vmio_toml_type t = vmio_toml_type(v);
    if (t == VMIO_TOML_TABLE) {
        putchar('{');
        for (size_t i = 0; i < vmio_toml_table_size(v); i++) {
            const struct vmio_toml_entry *e = vmio_toml_table_entry(v, i);
            if (i)
                putchar(',');
            put_json_string(e->key, e->key_len);
            putchar(':');
            put_value(e->value);
        }
        putchar('}');
        return;
    }
    if (t == VMIO_TOML_ARRAY) {
        putchar('[');
        for (size_t i = 0; i < vmio_toml_array_len(v); i++) {
            if (i)
                putchar(',');
            put_value(vmio_toml_array_at(v, i));
        }
        putchar(']');
        return;
    }
    printf("{\"type\":\"%s\",\"value\":", vmio_toml_type_name(t));
    switch (t) {
    case VMIO_TOML_STRING: {
        const char *s;
        size_t len;
        vmio_toml_get_string(v, &s, &len);
        put_json_string(s, len);
        break;
    }
    case VMIO_TOML_INTEGER: {
        int64_t i;
        vmio_toml_get_int(v, &i);
        printf("\"%" PRId64 "\"", i);
        break;
    }
    case VMIO_TOML_FLOAT: {
        double d;
        vmio_toml_get_double(v, &d);
        if (isnan(d))
            fputs("\"nan\"", stdout);
        else if (isinf(d))
            fputs(d < 0 ? "\"-inf\"" : "\"inf\"", stdout);
        else
            printf("\"%.17g\"", d);
        break;
    }
    case VMIO_TOML_BOOL: {
        bool b;
        vmio_toml_get_bool(v, &b);
        fputs(b ? "\"true\"" : "\"false\"", stdout);
        break;
    }
    default: {
        struct vmio_toml_datetime dt;
        vmio_toml_get_datetime(v, &dt);
        putchar('"');
        put_datetime(&dt);
        putchar('"');
        break;
    }
    }
    putchar('}');
}

int main(void)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "toml-decoder: out of memory\n");
        return 2;
    }
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                fprintf(stderr, "toml-decoder: out of memory\n");
                free(buf);
                return 2;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, stdin);
        if (n == 0)
            break;
        len += n;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "toml-decoder: error reading stdin\n");
        free(buf);
        return 2;
    }
    struct vmio_toml_value *root;
    struct vmio_error err = {0};
    if (vmio_toml_parse(buf, len, &root, &err) < 0) {
        fprintf(stderr, "toml-decoder: %s\n", err.msg);
        free(buf);
        return 1;
    }
    put_value(root);
    putchar('\n');
    vmio_toml_free(root);
    free(buf);
    return fflush(stdout) == 0 ? 0 : 2;
}
