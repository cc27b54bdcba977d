/*
 * Unit tests for the TOML reader's API (vmio/toml.h): accessors, document
 * order, source positions, exact error messages, the nesting limit and the
 * handling of hostile input (NUL bytes, bad UTF-8, wrong-type access).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/toml_internal.h"
#include "vmio/toml.h"

static struct vmio_toml_value *parse_ok(const char *doc)
{
    struct vmio_toml_value *root = NULL;
    struct vmio_error err = {0};
    int r = vmio_toml_parse(doc, strlen(doc), &root, &err);
    if (r)
        fail_msg("unexpected parse error %d: %s", r, err.msg);
    assert_non_null(root);
    return root;
}

/* Parse @doc (of @len bytes), expect failure with exactly @msg. */
static void expect_error_n(const char *doc, size_t len, const char *msg)
{
    struct vmio_toml_value *root = (struct vmio_toml_value *)1;
    struct vmio_error err = {0};
    int r = vmio_toml_parse(doc, len, &root, &err);
    assert_int_equal(r, -EINVAL);
    assert_null(root);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, msg);
}

static void expect_error(const char *doc, const char *msg)
{
    expect_error_n(doc, strlen(doc), msg);
}

static void test_scalars(void **state)
{
    (void)state;
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t len;
    struct vmio_toml_value *root = parse_ok("i = -16\n"
                                            "j = 0x7fff_ffff_ffff_ffff\n"
                                            "k = -9223372036854775808\n"
                                            "f = 6.02e23\n"
                                            "n = -nan\n"
                                            "b = true\n"
                                            "s = \"caf\\u00e9\\n\"\n"
                                            "z = \"a\\u0000b\"\n");
    assert_int_equal(vmio_toml_get_int(vmio_toml_table_get(root, "i"), &i), 0);
    assert_int_equal(i, -16);
    assert_int_equal(vmio_toml_get_int(vmio_toml_table_get(root, "j"), &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(vmio_toml_get_int(vmio_toml_table_get(root, "k"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(vmio_toml_get_double(vmio_toml_table_get(root, "f"), &d), 0);
    assert_true(d == 6.02e23);
    assert_int_equal(vmio_toml_get_double(vmio_toml_table_get(root, "n"), &d), 0);
    assert_true(isnan(d));
    assert_int_equal(vmio_toml_get_bool(vmio_toml_table_get(root, "b"), &b), 0);
    assert_true(b);
    assert_int_equal(vmio_toml_get_string(vmio_toml_table_get(root, "s"), &s, &len), 0);
    assert_int_equal(len, 6);
    assert_string_equal(s, "caf\xc3\xa9\n");
    assert_int_equal(vmio_toml_get_string(vmio_toml_table_get(root, "z"), &s, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 4);

    /* wrong types and NULLs are refused, not converted */
    assert_int_equal(vmio_toml_get_double(vmio_toml_table_get(root, "i"), &d), -EINVAL);
    assert_int_equal(vmio_toml_get_int(vmio_toml_table_get(root, "f"), &i), -EINVAL);
    assert_int_equal(vmio_toml_get_string(vmio_toml_table_get(root, "b"), &s, NULL), -EINVAL);
    assert_int_equal(vmio_toml_get_bool(NULL, &b), -EINVAL);
    assert_null(vmio_toml_table_get(root, "missing"));
    assert_null(vmio_toml_table_get(vmio_toml_table_get(root, "i"), "x"));
    assert_null(vmio_toml_table_get(NULL, "x"));
    assert_int_equal(vmio_toml_array_len(root), 0);
    assert_null(vmio_toml_array_at(root, 0));
    assert_int_equal(vmio_toml_type(vmio_toml_table_get(root, "s")), VMIO_TOML_STRING);
    assert_string_equal(vmio_toml_type_name(VMIO_TOML_DATETIME_LOCAL), "datetime-local");
    vmio_toml_free(root);
}

static void test_datetimes(void **state)
{
    (void)state;
    struct vmio_toml_value *root = parse_ok("odt = 1979-05-27T00:32:00.999999-07:30\n"
                                            "ldt = 2024-02-29 07:32:00\n"
                                            "ld = 1979-05-27\n"
                                            "lt = 00:32:00.5\n");
    struct vmio_toml_datetime dt;
    const struct vmio_toml_value *v = vmio_toml_table_get(root, "odt");
    assert_int_equal(vmio_toml_type(v), VMIO_TOML_DATETIME);
    assert_int_equal(vmio_toml_get_datetime(v, &dt), 0);
    assert_int_equal(dt.year, 1979);
    assert_int_equal(dt.month, 5);
    assert_int_equal(dt.day, 27);
    assert_int_equal(dt.hour, 0);
    assert_int_equal(dt.minute, 32);
    assert_int_equal(dt.nanosecond, 999999000);
    assert_int_equal(dt.frac_digits, 6);
    assert_int_equal(dt.offset_minutes, -450);
    assert_true(dt.has_date && dt.has_time && dt.has_offset);
    v = vmio_toml_table_get(root, "ldt");
    assert_int_equal(vmio_toml_type(v), VMIO_TOML_DATETIME_LOCAL);
    assert_int_equal(vmio_toml_get_datetime(v, &dt), 0);
    assert_int_equal(dt.day, 29);
    assert_false(dt.has_offset);
    v = vmio_toml_table_get(root, "ld");
    assert_int_equal(vmio_toml_type(v), VMIO_TOML_DATE_LOCAL);
    assert_int_equal(vmio_toml_get_datetime(v, &dt), 0);
    assert_false(dt.has_time);
    v = vmio_toml_table_get(root, "lt");
    assert_int_equal(vmio_toml_type(v), VMIO_TOML_TIME_LOCAL);
    assert_int_equal(vmio_toml_get_datetime(v, &dt), 0);
    assert_false(dt.has_date);
    assert_int_equal(dt.nanosecond, 500000000);
    int64_t i;
    assert_int_equal(vmio_toml_get_int(v, &i), -EINVAL);
    vmio_toml_free(root);
}

static void test_tables_order_positions(void **state)
{
    (void)state;
    const char *doc = "# vm config\n"
                      "name = \"demo\"\n"
                      "\n"
                      "[machine]\n"
                      "  memory = 64\n"
                      "  cpu.count = 2\n"
                      "  \"quoted key\" = [1, 2, [3]]\n"
                      "[[device]]\n"
                      "kind = \"uart\"\n"
                      "[[device]]\n"
                      "kind = 'testdev'\n"
                      "inline = { a = 1, b.c = 2 }\n";
    struct vmio_toml_value *root = parse_ok(doc);
    assert_int_equal(vmio_toml_table_size(root), 3);
    const char *order[] = {"name", "machine", "device"};
    for (size_t i = 0; i < 3; i++) {
        const struct vmio_toml_entry *e = vmio_toml_table_entry(root, i);
        assert_non_null(e);
        assert_string_equal(e->key, order[i]);
    }
    assert_null(vmio_toml_table_entry(root, 3));

    const struct vmio_toml_entry *e = vmio_toml_table_find(root, "name", 4);
    assert_int_equal(e->key_pos.line, 2);
    assert_int_equal(e->key_pos.column, 1);
    assert_int_equal(vmio_toml_pos(e->value).line, 2);
    assert_int_equal(vmio_toml_pos(e->value).column, 8);

    const struct vmio_toml_value *m = vmio_toml_table_get(root, "machine");
    assert_int_equal(vmio_toml_type(m), VMIO_TOML_TABLE);
    assert_int_equal(vmio_toml_pos(m).line, 4);
    assert_int_equal(vmio_toml_pos(m).column, 1);
    const char *morder[] = {"memory", "cpu", "quoted key"};
    unsigned mcol[] = {3, 3, 3};
    for (size_t i = 0; i < 3; i++) {
        e = vmio_toml_table_entry(m, i);
        assert_string_equal(e->key, morder[i]);
        assert_int_equal(e->key_pos.line, 5 + i);
        assert_int_equal(e->key_pos.column, mcol[i]);
    }
    const struct vmio_toml_value *cpu = vmio_toml_table_get(m, "cpu");
    e = vmio_toml_table_find(cpu, "count", 5);
    assert_int_equal(e->key_pos.line, 6);
    assert_int_equal(e->key_pos.column, 7);
    assert_int_equal(vmio_toml_pos(e->value).column, 15);

    const struct vmio_toml_value *a = vmio_toml_table_get(m, "quoted key");
    assert_int_equal(vmio_toml_array_len(a), 3);
    assert_int_equal(vmio_toml_pos(vmio_toml_array_at(a, 1)).column, 22);
    assert_int_equal(vmio_toml_array_len(vmio_toml_array_at(a, 2)), 1);
    assert_null(vmio_toml_array_at(a, 3));

    const struct vmio_toml_value *dev = vmio_toml_table_get(root, "device");
    assert_int_equal(vmio_toml_type(dev), VMIO_TOML_ARRAY);
    assert_int_equal(vmio_toml_array_len(dev), 2);
    const struct vmio_toml_value *d1 = vmio_toml_array_at(dev, 1);
    assert_int_equal(vmio_toml_pos(d1).line, 10);
    const char *s;
    assert_int_equal(vmio_toml_get_string(vmio_toml_table_get(d1, "kind"), &s, NULL), 0);
    assert_string_equal(s, "testdev");
    const struct vmio_toml_value *in = vmio_toml_table_get(d1, "inline");
    assert_int_equal(vmio_toml_table_size(in), 2);
    e = vmio_toml_table_find(vmio_toml_table_get(in, "b"), "c", 1);
    assert_int_equal(e->key_pos.line, 12);
    assert_int_equal(e->key_pos.column, 21);
    vmio_toml_free(root);
}

static void test_implicit_tables(void **state)
{
    (void)state;
    struct vmio_toml_value *root = parse_ok("[x.y.z]\n"
                                            "[x]\n"
                                            "y.w = 1\n"
                                            "  [x.y.v]\n");
    const struct vmio_toml_entry *e = vmio_toml_table_find(root, "x", 1);
    assert_int_equal(e->key_pos.line, 1);
    assert_int_equal(e->key_pos.column, 2);
    /* x was created implicitly by [x.y.z] and defined by [x] on line 2 */
    assert_int_equal(vmio_toml_pos(e->value).line, 2);
    const struct vmio_toml_value *y = vmio_toml_table_get(e->value, "y");
    assert_int_equal(vmio_toml_pos(y).line, 1);
    assert_int_equal(vmio_toml_pos(y).column, 4);
    assert_int_equal(vmio_toml_table_size(y), 3);
    assert_string_equal(vmio_toml_table_entry(y, 0)->key, "z");
    assert_string_equal(vmio_toml_table_entry(y, 1)->key, "w");
    assert_string_equal(vmio_toml_table_entry(y, 2)->key, "v");
    assert_int_equal(vmio_toml_pos(vmio_toml_table_get(y, "v")).line, 4);
    assert_int_equal(vmio_toml_pos(vmio_toml_table_get(y, "v")).column, 3);
    vmio_toml_free(root);
}

static void test_columns_count_code_points(void **state)
{
    (void)state;
    struct vmio_toml_value *root = parse_ok("\xef\xbb\xbf"
                                            "a = \"\xc3\xa9\xc3\xa9\" # \xe2\x82\xac\n"
                                            "\"\xc3\xa9\" = 1\n");
    const struct vmio_toml_entry *e = vmio_toml_table_find(root, "a", 1);
    assert_int_equal(e->key_pos.column, 1);
    e = vmio_toml_table_find(root, "\xc3\xa9", 2);
    assert_non_null(e);
    assert_int_equal(e->key_pos.line, 2);
    assert_int_equal(vmio_toml_pos(e->value).column, 7);
    vmio_toml_free(root);
    expect_error("a = \"\xc3\xa9\xc3\xa9\" x\n",
                 "line 1, column 10: expected newline or end of input after a value");
}

static void test_crlf(void **state)
{
    (void)state;
    struct vmio_toml_value *root = parse_ok("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\nc = 2\r\n");
    const char *s;
    assert_int_equal(vmio_toml_get_string(vmio_toml_table_get(root, "b"), &s, NULL), 0);
    assert_string_equal(s, "x\ny"); /* newlines in strings are normalised */
    assert_int_equal(vmio_toml_table_find(root, "c", 1)->key_pos.line, 4);
    vmio_toml_free(root);
    expect_error("a = 1\rb = 2\n", "line 1, column 6: carriage return not followed by newline");
}

static void test_error_messages(void **state)
{
    (void)state;
    expect_error("a = 1\nb = 2\nname \"x\"\n", "line 3, column 6: expected '=' after key");
    expect_error("a = 1\na = 2\n", "line 2, column 1: duplicate key 'a'");
    expect_error("[t]\nx = 1\n[t]\n", "line 3, column 1: table 't' is already defined");
    expect_error("a = {x = 1}\n[a]\n",
                 "line 2, column 1: table 'a' is already defined as an inline table");
    expect_error("a = {x = 1}\na.y = 2\n",
                 "line 2, column 1: key 'a' is already defined as an inline table");
    expect_error("[a.b]\n[a]\nb.c = 1\n",
                 "line 3, column 1: cannot add to table 'b' with a dotted key: it was defined by "
                 "a [table] header");
    expect_error("a = []\n[[a]]\n",
                 "line 2, column 1: cannot define [[a]]: key is already defined as an array");
    expect_error("a = 1\n[a.b]\n", "line 2, column 2: key 'a' is already defined as an integer");
    expect_error("a.b = 1\n[a]\n", "line 2, column 1: table 'a' is already defined by dotted keys");
    expect_error("[[a]]\n[a]\n",
                 "line 2, column 1: cannot define table [a]: key is already defined as an array of "
                 "tables");
    expect_error("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n",
                 "line 4, column 1: table 'b' is already defined by dotted keys");
    expect_error("x = 0x\n", "line 1, column 7: expected a digit in hexadecimal integer");
    expect_error("x = 9223372036854775808\n", "line 1, column 5: integer does not fit in 64 bits");
    expect_error("x = 1__0\n", "line 1, column 6: '_' must be between digits");
    expect_error("x = 012\n", "line 1, column 5: leading zeros are not allowed in numbers");
    expect_error("d = 2023-02-29\n", "line 1, column 13: day 29 out of range for 2023-02");
    expect_error("t = 24:00:00\n", "line 1, column 5: hour 24 out of range (00-23)");
    expect_error("s = \"abc\n", "line 1, column 5: unterminated string (expected '\"' before end "
                                "of line)");
    expect_error("s = \"\\x41\"\n", "line 1, column 6: invalid escape sequence '\\x'");
    expect_error("s = \"\\uD800\"\n",
                 "line 1, column 6: escape '\\u' is not a Unicode scalar value");
    expect_error("a = [1 2]\n", "line 1, column 8: expected ',' or ']' after an array element");
    expect_error("a = {x = 1,}\n", "line 1, column 12: trailing comma not allowed in inline table");
    expect_error("a = \n", "line 1, column 5: unexpected end of line, expected a value");
    expect_error("[a\n", "line 1, column 3: expected ']' to close the [table] header");
    expect_error("a = 1 # bell \x07\n", "line 1, column 14: control character 0x07 not allowed "
                                        "in comment");
    expect_error("a = \"\xff\"\n", "line 1, column 6: invalid UTF-8 byte 0xff");
    expect_error("a = \"\xed\xa0\x80\"\n", "line 1, column 6: invalid code point U+D800 in UTF-8");
    expect_error_n("a = 1\0\n", 7,
                   "line 1, column 6: expected newline or end of input after a "
                   "value");
    expect_error_n("a = \"x\0\"\n", 9,
                   "line 1, column 7: control character 0x00 not allowed in "
                   "string");
}

static void test_depth_limit(void **state)
{
    (void)state;
    char doc[1024];
    /* VMIO_TOML_MAX_DEPTH nested arrays are fine: the root is depth 0, the
     * value of 'a' depth 1, so the innermost array is at depth 128. */
    size_t n = 0;
    n += (size_t)snprintf(doc, sizeof(doc), "a = ");
    for (int i = 0; i < VMIO_TOML_MAX_DEPTH; i++)
        doc[n++] = '[';
    for (int i = 0; i < VMIO_TOML_MAX_DEPTH; i++)
        doc[n++] = ']';
    doc[n] = '\0';
    vmio_toml_free(parse_ok(doc));

    /* one more level is refused */
    n = (size_t)snprintf(doc, sizeof(doc), "a = ");
    for (int i = 0; i < VMIO_TOML_MAX_DEPTH + 1; i++)
        doc[n++] = '[';
    for (int i = 0; i < VMIO_TOML_MAX_DEPTH + 1; i++)
        doc[n++] = ']';
    doc[n] = '\0';
    expect_error(doc, "line 1, column 133: nesting deeper than 128 levels");

    /* a huge unclosed nesting never overflows the stack */
    size_t big = 1000000;
    char *deep = malloc(big + 5);
    assert_non_null(deep);
    memcpy(deep, "a = ", 4);
    memset(deep + 4, '{', big);
    deep[big + 4] = '\0';
    struct vmio_toml_value *root;
    assert_int_equal(vmio_toml_parse(deep, big + 4, &root, NULL), -EINVAL);
    memset(deep + 4, '[', big);
    assert_int_equal(vmio_toml_parse(deep, big + 4, &root, NULL), -EINVAL);
    free(deep);

    /* dotted keys count too */
    n = 0;
    for (int i = 0; i < VMIO_TOML_MAX_DEPTH + 1; i++) {
        doc[n++] = 'k';
        doc[n++] = '.';
    }
    memcpy(doc + n - 1, " = 1", 5);
    expect_error(doc, "line 1, column 257: key has more than 128 parts");
}

static void test_large_table(void **state)
{
    (void)state;
    size_t cap = 200000, n = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(doc + n, cap - n, "key%d = %d\n", i, i);
    struct vmio_toml_value *root;
    assert_int_equal(vmio_toml_parse(doc, n, &root, NULL), 0);
    assert_int_equal(vmio_toml_table_size(root), 5000);
    for (int i = 0; i < 5000; i += 7) {
        char k[16];
        int64_t v;
        snprintf(k, sizeof(k), "key%d", i);
        assert_int_equal(vmio_toml_get_int(vmio_toml_table_get(root, k), &v), 0);
        assert_int_equal(v, i);
        assert_int_equal(vmio_toml_table_find(root, k, strlen(k))->key_pos.line, i + 1);
    }
    assert_string_equal(vmio_toml_table_entry(root, 4999)->key, "key4999");
    vmio_toml_free(root);
    /* duplicate detection also works through the hash index */
    n += (size_t)snprintf(doc + n, cap - n, "key1234 = 0\n");
    struct vmio_error err;
    assert_int_equal(vmio_toml_parse(doc, n, &root, &err), -EINVAL);
    assert_string_equal(err.msg, "line 5001, column 1: duplicate key 'key1234'");
    free(doc);
}

/* The unkeyed hash the table index used to have: 64-bit FNV-1a. */
static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/*
 * @n keys that all fall in one slot of a 2^@bits-slot index under FNV-1a
 * with low-bit masking (so also in one slot of every smaller index), written
 * as "KEY = 1" lines into a new document under [t]. Found by search, as an
 * attacker would: about 2^@bits candidates per key.
 */
static char *colliding_doc(unsigned n, unsigned bits, size_t *len)
{
    size_t cap = 64 + (size_t)n * 24;
    char *doc = malloc(cap);
    assert_non_null(doc);
    size_t off = (size_t)snprintf(doc, cap, "[t]\n");
    uint64_t mask = (1ull << bits) - 1, want = fnv1a("c0", 2) & mask;
    unsigned found = 0;
    char key[24];
    for (uint64_t i = 0; found < n; i++) {
        int kl = snprintf(key, sizeof(key), "c%" PRIx64, i);
        if ((fnv1a(key, (size_t)kl) & mask) != want)
            continue;
        off += (size_t)snprintf(doc + off, cap - off, "%s = 1\n", key);
        found++;
    }
    *len = off;
    return doc;
}

static void test_colliding_keys_do_not_degrade(void **state)
{
    (void)state;
    /* 2000 keys: the index grows to 4096 slots (12 bits); all collide there. */
    unsigned n = 2000;
    size_t len;
    char *doc = colliding_doc(n, 12, &len);
    struct vmio_toml_value *root = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_toml_parse(doc, len, &root, &err), 0);
    const struct vmio_toml_value *t = vmio_toml_table_get(root, "t");
    assert_int_equal(vmio_toml_table_size(t), n);
    /*
     * Each key is looked up once (duplicate check) and inserted once, plus
     * the rebuilds as the index doubles: a few slots per key at most half
     * full. Under the old hash every key probed the whole chain before it:
     * n^2 / 2 = 2,000,000 slots.
     */
    uint64_t probes = vmio_toml__table_probes(t);
    if (probes > 16ull * n)
        fail_msg("%u colliding keys took %" PRIu64 " index probes", n, probes);
    /* Every key is still found. */
    const struct vmio_toml_entry *e = vmio_toml_table_entry(t, n - 1);
    assert_ptr_equal(vmio_toml_table_find(t, e->key, e->key_len), e);
    vmio_toml_free(root);
    free(doc);
}

static void test_keys_per_table_capped(void **state)
{
    (void)state;
    unsigned n = VMIO_TOML_MAX_TABLE_KEYS;
    size_t cap = 64 + (size_t)(n + 1) * 16, len = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    len += (size_t)snprintf(doc + len, cap - len, "x = 0\n[[servers]]\n");
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "k%u = 1\n", i);
    struct vmio_toml_value *root = NULL;
    struct vmio_error err = {0};
    assert_int_equal(vmio_toml_parse(doc, len, &root, &err), 0); /* exactly the cap */
    vmio_toml_free(root);
    len += (size_t)snprintf(doc + len, cap - len, "one_more = 1\n");
    expect_error_n(doc, len,
                   "line 16387, column 1: table 'servers' (defined at line 2) has more than "
                   "16384 keys");
    /* The same for the root table, a [table] and an inline table. */
    len = 0;
    for (unsigned i = 0; i <= n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "k%u = 1\n", i);
    expect_error_n(doc, len,
                   "line 16385, column 1: the root table (defined at line 1) has more "
                   "than 16384 keys");
    len = (size_t)snprintf(doc, cap, "a = [{");
    for (unsigned i = 0; i <= n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%sk%u = 1", i ? ", " : "", i);
    len += (size_t)snprintf(doc + len, cap - len, "}]\n");
    struct vmio_toml_value *r2 = (struct vmio_toml_value *)1;
    assert_int_equal(vmio_toml_parse(doc, len, &r2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "an inline table in an array (defined at line 1) has more "
                                    "than 16384 keys"));
    free(doc);
}

static void test_empty_and_args(void **state)
{
    (void)state;
    struct vmio_toml_value *root;
    assert_int_equal(vmio_toml_parse("", 0, &root, NULL), 0);
    assert_int_equal(vmio_toml_table_size(root), 0);
    assert_int_equal(vmio_toml_pos(root).line, 1);
    vmio_toml_free(root);
    assert_int_equal(vmio_toml_parse(NULL, 0, &root, NULL), 0);
    vmio_toml_free(root);
    assert_int_equal(vmio_toml_parse(NULL, 3, &root, NULL), -EINVAL);
    assert_int_equal(vmio_toml_parse("a=1", 3, NULL, NULL), -EINVAL);
    vmio_toml_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_tables_order_positions),
        cmocka_unit_test(test_implicit_tables),
        cmocka_unit_test(test_columns_count_code_points),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_large_table),
        cmocka_unit_test(test_empty_and_args),
        cmocka_unit_test(test_colliding_keys_do_not_degrade),
        cmocka_unit_test(test_keys_per_table_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
