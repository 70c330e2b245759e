/* SPDX-License-Identifier: MIT */
/* json_test.c — the CLI's JSON writer (tools/json.c) on its own: string
 * escapes (every control char, every kind of malformed UTF-8), numbers
 * (round trip, non-finite as null), nesting and separators.
 *
 * Prints "ok"/"not ok" per check and "N passed, N failed"; exits 1 on a
 * failure. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int passed, failed;

static void check(int cond, const char *what, const char *got)
{
    if (cond) {
        passed++;
    } else {
        failed++;
        printf("not ok - %s: got [%s]\n", what, got ? got : "");
    }
}

/* The text json_write_string gives for n bytes of s. */
static char *escaped(const char *s, size_t n)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    json_write_string(f, s, n);
    fclose(f);
    return buf;
}

static void expect_string(const char *in, size_t n, const char *want, const char *what)
{
    char *got = escaped(in, n);
    check(strcmp(got, want) == 0, what, got);
    free(got);
}

/* xorshift64*, for reproducible random doubles */
static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int main(void)
{
    /* ---- strings ---- */
    expect_string("plain", 5, "\"plain\"", "ASCII as is");
    expect_string("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"", "quote and backslash escaped");
    expect_string("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"", "named control escapes");
    for (int c = 0; c < 0x20; c++) {
        char in[1] = { (char)c }, want[16], what[64];
        const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f" : NULL;
        if (named)
            snprintf(want, sizeof want, "\"%s\"", named);
        else
            snprintf(want, sizeof want, "\"\\u%04x\"", c);
        snprintf(what, sizeof what, "control char 0x%02x escaped", c);
        expect_string(in, 1, want, what);
    }
    expect_string("\x7f", 1, "\"\x7f\"", "DEL is not a control char in JSON");
    expect_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                  "well-formed 2-, 3- and 4-byte UTF-8 copied");
    expect_string("\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"", "U+2028/U+2029 escaped");
    expect_string("\xff", 1, "\"\\ufffd\"", "0xff is never UTF-8");
    expect_string("\x80z", 2, "\"\\ufffdz\"", "stray continuation byte");
    expect_string("\xc3z", 2, "\"\\ufffdz\"", "lead byte without continuation");
    expect_string("\xc3", 1, "\"\\ufffd\"", "lead byte at the end (truncated)");
    expect_string("\xe2\x82", 2, "\"\\ufffd\\ufffd\"", "truncated 3-byte sequence");
    expect_string("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"", "overlong 2-byte form");
    expect_string("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"", "overlong 3-byte form");
    expect_string("\xf0\x80\x80\xaf", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "overlong 4-byte form");
    expect_string("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"", "UTF-16 surrogate");
    expect_string("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "past U+10FFFF");
    expect_string("\xf5\x80", 2, "\"\\ufffd\\ufffd\"", "0xf5 lead byte");
    expect_string("a\0b", 3, "\"a\\u0000b\"", "embedded NUL (json_string_n)");

    /* ---- numbers ---- */
    char buf[64];
    json_format_number(buf, sizeof buf, 1e-6);
    check(strcmp(buf, "1e-06") == 0, "1e-6 shortest", buf);
    json_format_number(buf, sizeof buf, 0.1);
    check(strcmp(buf, "0.1") == 0, "0.1 shortest", buf);
    json_format_number(buf, sizeof buf, -0.0);
    check(strcmp(buf, "0") == 0, "-0 as 0", buf);
    json_format_number(buf, sizeof buf, NAN);
    check(strcmp(buf, "null") == 0, "NaN as null", buf);
    json_format_number(buf, sizeof buf, INFINITY);
    check(strcmp(buf, "null") == 0, "+Inf as null", buf);
    json_format_number(buf, sizeof buf, -INFINITY);
    check(strcmp(buf, "null") == 0, "-Inf as null", buf);
    json_format_number(buf, sizeof buf, 4.9406564584124654e-324);
    check(strtod(buf, NULL) == 4.9406564584124654e-324, "the smallest subnormal round-trips", buf);
    json_format_number(buf, sizeof buf, 1.7976931348623157e308);
    check(strtod(buf, NULL) == 1.7976931348623157e308, "DBL_MAX round-trips", buf);
    uint64_t s = 88172645463325252ULL;
    int bad = 0;
    for (int k = 0; k < 100000; k++) {
        uint64_t bits = next(&s);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        json_format_number(buf, sizeof buf, v);
        if (strtod(buf, NULL) != v || strchr(buf, 'n') || strchr(buf, 'i'))
            bad++;
        /* JSON grammar: no leading '+', no bare '.', an exponent has digits */
        if (buf[0] == '+' || buf[0] == '.' || (buf[0] == '-' && buf[1] == '.'))
            bad++;
    }
    snprintf(buf, sizeof buf, "%d bad", bad);
    check(bad == 0, "100000 random doubles round-trip as JSON numbers", buf);

    /* ---- structure ---- */
    char *doc = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&doc, &size);
    json_writer w;
    json_init(&w, f);
    json_begin_object(&w);
    json_key_string(&w, "a", "x");
    json_key(&w, "b");
    json_begin_array(&w);
    json_int(&w, INT64_MIN);
    json_uint(&w, UINT64_MAX);
    json_begin_object(&w);
    json_end_object(&w);
    json_begin_array(&w);
    json_end_array(&w);
    json_null(&w);
    json_bool(&w, true);
    json_number(&w, NAN);
    json_string(&w, NULL);
    json_end_array(&w);
    json_key(&w, "c\n");
    json_begin_object(&w);
    json_key_bool(&w, "d", false);
    json_key_int(&w, "e", -1);
    json_key_number(&w, "f", 2.5);
    json_end_object(&w);
    json_end_object(&w);
    fclose(f);
    const char *want = "{\"a\": \"x\", \"b\": [-9223372036854775808, 18446744073709551615, {}, [], null, true, null, "
                       "null], \"c\\n\": {\"d\": false, \"e\": -1, \"f\": 2.5}}\n";
    check(strcmp(doc, want) == 0, "nesting, separators, one line per document", doc);
    free(doc);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
