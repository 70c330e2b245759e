/* SPDX-License-Identifier: MIT */
/* json.h — the one JSON writer behind every `onnxgrad ... --json` output.
 *
 * A writer streams one JSON document to a FILE, keeping track of nesting
 * so that commas and ": " fall in the right places:
 *
 *     json_writer w;
 *     json_init(&w, stdout);
 *     json_begin_object(&w);
 *     json_key(&w, "name");  json_string(&w, name);
 *     json_key(&w, "shape"); json_begin_array(&w); json_int(&w, 2); json_end_array(&w);
 *     json_end_object(&w);   // the outermost close ends the line
 *
 * What it writes is always valid JSON (RFC 8259), whatever the input:
 * - Strings: '"', '\\' and every control character are escaped (\n, \t,
 *   \r, \b, \f by name, the rest as \u00XX; U+2028/U+2029 as \u2028/\u2029
 *   so the text is also valid JavaScript). Bytes that are not well-formed
 *   UTF-8 (stray continuation bytes, overlong forms, surrogates, code points
 *   past U+10FFFF, truncated sequences) each become U+FFFD, as \ufffd.
 * - Numbers: doubles in the shortest of %.15g..%.17g that reads back as the
 *   same double (round-trip precision: 1e-06 stays 1e-06, 0.1 stays 0.1).
 *   JSON has no NaN or infinity: a non-finite double is written as null
 *   (the choice documented in the README), so a strict parser accepts every
 *   output; a field whose value may be non-finite says so in its docs.
 * - Integers (int64/uint64) are written exactly.
 * The writer never fails by itself; I/O errors are left to the FILE (check
 * ferror or fflush after the document). Nesting deeper than JSON_MAX_DEPTH
 * is a programming error and is clamped (the output would be wrong, never
 * out of bounds). */
#ifndef ONNXGRAD_JSON_H
#define ONNXGRAD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    FILE *f;
    int depth;
    bool first[JSON_MAX_DEPTH + 1];  /* per level: nothing written yet */
    bool after_key;                  /* the next value follows a key */
} json_writer;

void json_init(json_writer *w, FILE *f);

void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);

/* The key of the next member of the current object. */
void json_key(json_writer *w, const char *key);

void json_string(json_writer *w, const char *s);       /* NULL writes null */
void json_string_n(json_writer *w, const char *s, size_t n);
void json_number(json_writer *w, double v);            /* non-finite: null */
void json_int(json_writer *w, int64_t v);
void json_uint(json_writer *w, uint64_t v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);

/* key + value in one call, for the common members. */
void json_key_string(json_writer *w, const char *key, const char *s);
void json_key_number(json_writer *w, const char *key, double v);
void json_key_int(json_writer *w, const char *key, int64_t v);
void json_key_bool(json_writer *w, const char *key, bool v);

/* An array of n int64s. */
void json_int_array(json_writer *w, int n, const int64_t *v);

/* The text of a string value, without the writer (for tests and one-off
 * uses): writes s escaped, with its quotes, to f. */
void json_write_string(FILE *f, const char *s, size_t n);

/* The text of a number as json_number writes it, into buf (>= 32 bytes). */
void json_format_number(char *buf, size_t size, double v);

#endif
